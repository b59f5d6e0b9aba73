"""Random-effects terms: one type for every estimator, built once from the ``Design``.

A term is one grouping of the random effects: ``q`` effects per group, covariates ``Z``,
group ``codes``, its covariance structure with the callable that maps theta to its relative
Cholesky factor (and its analytic derivative), the positions of its parameters in the full
theta vector, and the names of its effects and level.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from statsmodels_me.covariance import make_level_covariance
from statsmodels_me.covariance.base import cholesky_differences
from statsmodels_me.covariance.blocked import BlockDiagonal


@dataclass
class RETerm:
    """One random-effects term: ``q`` effects per group, covariates ``Z``, group ``codes``.

    Attributes
    ----------
    codes : ndarray (n,) int64
        Group of each observation, 0..G-1.
    n_groups : int
    Z : ndarray (n, q)
    cholesky : callable
        theta[theta_index] -> q x q lower factor Lambda (relative to s2); a
        :class:`StructureFactor`, :class:`FirstEffectFactor` or :class:`AbsoluteFactor`
        for terms built here.
    theta_index : ndarray
        Positions of this term's parameters in the full theta.
    names : tuple of str
        Random-effect names (``("week", "_cons")``, ``("R.week",)``).
    label : str
        Level label (``"id"``, ``"school>class"``, ``"_all"``).
    """

    codes: np.ndarray
    n_groups: int
    Z: np.ndarray
    cholesky: object
    theta_index: np.ndarray
    names: tuple = ()
    label: str = ""

    @property
    def q(self) -> int:
        return self.Z.shape[1]

    @property
    def size(self) -> int:
        return self.n_groups * self.q

    @property
    def covariance(self):
        """The covariance structure behind the factor (``None`` for a bare callable)."""
        chol = self.cholesky.inner if isinstance(self.cholesky, AbsoluteFactor) \
            else self.cholesky
        return getattr(chol, "cov", None)

    def d_cholesky(self, theta_k):
        """d Lambda / d theta_k stacked, (len(theta_k), q, q): the structure's analytic
        derivative, or central differences of a bare callable."""
        if isinstance(self.cholesky, (StructureFactor, FirstEffectFactor, AbsoluteFactor)):
            return self.cholesky.derivative(theta_k)
        return cholesky_differences(self.cholesky, theta_k)

    def sparse_Z(self) -> sp.csr_matrix:
        n, q = self.Z.shape
        rows = np.repeat(np.arange(n), q)
        cols = (self.codes[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csr_matrix((self.Z.ravel(), (rows, cols)), shape=(n, self.size))


class StructureFactor:
    """Lambda of a term from its covariance structure (a block-diagonal composite for
    several equations at one level)."""

    def __init__(self, cov):
        self.cov = cov

    def __call__(self, theta):
        return self.cov.cholesky(theta)

    def derivative(self, theta):
        return self.cov.d_cholesky(theta)


class FirstEffectFactor:
    """Lambda of an ``R.x`` term: the 1 x 1 corner of the identity structure's factor."""

    def __init__(self, cov):
        self.cov = cov

    def __call__(self, theta):
        return self.cov.cholesky(theta)[:1, :1]

    def derivative(self, theta):
        return self.cov.d_cholesky(theta)[:, :1, :1]


class AbsoluteFactor:
    """Lambda of a structure on the absolute scale: its Cholesky factor / sqrt(s2), where
    s2, the residual variance, is the last element of the term's theta.

    Used by models with a ``covariance(fixed())`` block, where the residual variance is a
    parameter instead of being profiled out (see :func:`absolute_scale_terms`).
    """

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, theta):
        return self.inner(theta[:-1]) / np.sqrt(theta[-1])

    def derivative(self, theta):
        s2 = theta[-1]
        d_inner = self.inner.derivative(theta[:-1]) / np.sqrt(s2)
        d_s2 = -0.5 * self.inner(theta[:-1]) / s2 ** 1.5
        return np.concatenate([d_inner, d_s2[None]])


def absolute_scale_terms(terms, n_theta):
    """Terms on the absolute scale: each reads the residual variance at position
    ``n_theta`` of the parameter vector (theta, s2) and divides its factor by sqrt(s2)."""
    return [dataclasses.replace(t, cholesky=AbsoluteFactor(t.cholesky),
                                theta_index=np.append(t.theta_index, n_theta))
            for t in terms]


def term_structures(term):
    """The covariance structures behind a term's factor, in theta order."""
    cov = term.covariance
    return cov.blocks if isinstance(cov, BlockDiagonal) else [cov]


def build_terms(design):
    """LMM terms and the per-level covariance structures, with theta laid out level by level.

    Regular equations at one level form one term (block-diagonal Lambda, from a
    :class:`~statsmodels_me.covariance.blocked.BlockDiagonal` of their structures); each
    ``R.x`` equation is its own term whose groups are the (level group, x level) pairs with
    one random intercept each, which is the identity structure over the levels of x.
    """
    terms, level_covs = [], []
    tpos = 0
    for level in design.levels:
        level_cov = make_level_covariance(level)
        level_covs.append(level_cov)
        covs = level_cov.blocks if isinstance(level_cov, BlockDiagonal) else [level_cov]
        regular = []
        for block, bcov in zip(level.blocks, covs):
            idx = np.arange(tpos, tpos + bcov.n_theta)
            tpos += bcov.n_theta
            if block.factor_codes is not None and bcov.q > 1 and bcov.n_theta > 1:
                # R.x with an exchangeable covariance: one effect per level of x in each
                # group of the level, indicator columns as covariates
                lev = block.factor_levels
                Z = (block.factor_codes[:, None] == np.arange(len(lev))[None, :]).astype(float)
                var = block.names[0][2:] if block.names[0].startswith("R.") \
                    else block.names[0]
                regular.append((Z, tuple(f"{v}.{var}" for v in lev), bcov, idx))
            elif block.factor_codes is not None:
                nlev = len(block.factor_levels)
                codes, uniq = pd.factorize(level.codes * nlev + block.factor_codes, sort=True)
                terms.append(RETerm(codes.astype(np.int64), len(uniq),
                                    np.ones((design.nobs, 1)), FirstEffectFactor(bcov), idx,
                                    tuple(block.names), level.label))
            else:
                regular.append((block.Z, tuple(block.names), bcov, idx))
        if regular:
            Z = regular[0][0] if len(regular) == 1 else np.hstack([z for z, *_ in regular])
            idx = np.concatenate([i for *_, i in regular])
            names = tuple(n for _, nm, _, _ in regular for n in nm)
            cov = regular[0][2] if len(regular) == 1 else BlockDiagonal(
                [c for _, _, c, _ in regular])
            terms.append(RETerm(level.codes.astype(np.int64), level.n_groups, Z,
                                StructureFactor(cov), idx, names, level.label))
    return terms, level_covs
