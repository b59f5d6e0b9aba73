"""Random-effects terms: one type for every estimator, built once from the ``Design``.

A term is one grouping of the random effects: ``q`` effects per group, covariates ``Z``,
group ``codes``, the callable that maps theta to its relative Cholesky factor, and the
positions of its parameters in the full theta vector.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from statsmodels_me.covariance import make_covariance, make_level_covariance


@dataclass
class RETerm:
    """One random-effects term: ``q`` effects per group, covariates ``Z``, group ``codes``."""

    codes: np.ndarray          # (n,) int64, 0..G-1
    n_groups: int
    Z: np.ndarray              # (n, q)
    cholesky: object           # callable theta[theta_index] -> q x q lower factor (relative to s2)
    theta_index: np.ndarray    # positions of this term's parameters in the full theta
    names: tuple = ()          # random-effect names (["week", "_cons"], ["R.week"])
    label: str = ""            # level label ("id", "school>class", "_all")

    @property
    def q(self) -> int:
        return self.Z.shape[1]

    @property
    def size(self) -> int:
        return self.n_groups * self.q

    def sparse_Z(self) -> sp.csr_matrix:
        n, q = self.Z.shape
        rows = np.repeat(np.arange(n), q)
        cols = (self.codes[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csr_matrix((self.Z.ravel(), (rows, cols)), shape=(n, self.size))


class FirstEffectFactor:
    """Lambda of an ``R.x`` term: the 1 x 1 corner of the identity structure's factor."""

    def __init__(self, cov):
        self.cov = cov

    def __call__(self, theta):
        return self.cov.cholesky(theta)[:1, :1]


class BlockFactor:
    """Blocked-diagonal Lambda of several equations at one level (theta concatenated)."""

    def __init__(self, covs):
        self.covs = covs
        self.q = sum(c.q for c in covs)

    def __call__(self, theta):
        out = np.zeros((self.q, self.q))
        pos = tpos = 0
        for c in self.covs:
            out[pos:pos + c.q, pos:pos + c.q] = c.cholesky(theta[tpos:tpos + c.n_theta])
            pos += c.q
            tpos += c.n_theta
        return out


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


def absolute_scale_terms(terms, n_theta):
    """Terms on the absolute scale: each reads the residual variance at position
    ``n_theta`` of the parameter vector (theta, s2) and divides its factor by sqrt(s2)."""
    return [dataclasses.replace(t, cholesky=AbsoluteFactor(t.cholesky),
                                theta_index=np.append(t.theta_index, n_theta))
            for t in terms]


def term_structures(term):
    """The covariance structures behind a term's factor, in theta order."""
    chol = term.cholesky.inner if isinstance(term.cholesky, AbsoluteFactor) else term.cholesky
    return chol.covs if isinstance(chol, BlockFactor) else [chol.cov]


def build_terms(design):
    """LMM terms and the per-level covariance structures, with theta laid out level by level.

    Regular equations at one level form one term (blocked-diagonal Lambda); each ``R.x``
    equation is its own term whose groups are the (level group, x level) pairs with one
    random intercept each, which is the identity structure over the levels of x.
    """
    terms, level_covs = [], []
    tpos = 0
    for level in design.levels:
        level_covs.append(make_level_covariance(level))
        regular = []
        for block in level.blocks:
            bcov = make_covariance(block, level.label)
            idx = np.arange(tpos, tpos + bcov.n_theta)
            tpos += bcov.n_theta
            if block.factor_codes is not None:
                nlev = len(block.factor_levels)
                codes, uniq = pd.factorize(level.codes * nlev + block.factor_codes, sort=True)
                terms.append(RETerm(codes.astype(np.int64), len(uniq),
                                     np.ones((design.nobs, 1)), FirstEffectFactor(bcov), idx,
                                     tuple(block.names), level.label))
            else:
                regular.append((block, bcov, idx))
        if regular:
            Z = np.hstack([b.Z for b, _, _ in regular])
            idx = np.concatenate([i for _, _, i in regular])
            names = tuple(n for b, _, _ in regular for n in b.names)
            terms.append(RETerm(level.codes.astype(np.int64), level.n_groups, Z,
                                 BlockFactor([c for _, c, _ in regular]), idx,
                                 names, level.label))
    return terms, level_covs
