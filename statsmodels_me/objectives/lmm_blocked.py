"""The LMM profiled deviance on a blocked Cholesky factor, for any random-effects terms.

The terms are ordered like MixedModels.jl's blocked Cholesky: the term with the most random
effects first, kept block-diagonal (one q x q block per group, handled in batches), and
every other term in a second, dense block (Bates et al. 2015, JSS 67(1), eq. 18; the
deviance formulas are in :mod:`statsmodels_me.objectives.lmm_profiled`). This objective has
no analytic gradient (central differences of the deviance); the one-term and crossed
scalar-intercept objectives, which have one, build on its sufficient statistics and reuse its
conditional modes and variances.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from statsmodels_me._integrate.lmm_kernels import grouped_cross_products
from statsmodels_me.objectives.lmm_contributions import nested_contributions
from statsmodels_me.objectives.lmm_profiled import (
    block_diag_sparse,
    deviance_from_factor,
    finish_factor,
    loglike_from_factor,
    residual_dof,
    tri,
)


def central_deviance_gradient(deviance, theta):
    """``(deviance(theta), gradient)`` with the gradient by central differences, steps
    1e-6 of each parameter's scale (floored at 1e-6)."""
    theta = np.asarray(theta, dtype=float)
    dev = deviance(theta)
    grad = np.zeros(len(theta))
    for i in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[i]))
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        grad[i] = (deviance(tp) - deviance(tm)) / (2 * h)
    return dev, grad


class BlockedLMM:
    """Profiled deviance of a linear mixed model with any terms (blocked factor).

    Sufficient statistics are computed once; every evaluation is a factorization of
    small blocks (no n x n matrix).

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    terms : list of RETerm
        In parameter order (theta is their concatenation).
    reml : bool
    bounds : list of (lower, upper), optional
        Box constraints on theta (from the covariance structures).

    Attributes
    ----------
    analytic_gradient : bool
        Whether :meth:`deviance_and_grad` is analytic (otherwise central differences).
    exact_hessian : bool
        Whether :meth:`second_parts` gives the exact Hessians of the deviance's parts.
    dense_block_size : int
        Random effects outside the first term (the dense block of the factor).
    gls_from_kernel : bool
        Whether ``gls_summary(theta)`` gives (deviance, beta, r2, C) from the evaluation
        itself, without the blocked factor.
    y, X : ndarray
        The data (kept, not copied).
    first, rest : int, list of int
        The term with the most random effects (block-diagonal in the factor) and the others.
    """

    analytic_gradient = False
    exact_hessian = False
    gls_from_kernel = False
    # whether the general factorization's dense copies of Z2'Z2 and Z2'Z1 are kept
    general_blocks = True
    # (b0, ||y - X b0||^2) of a least-squares centring, where the objective has one
    center = None

    def __init__(self, y, X, terms, reml=False, bounds=None):
        self.n, self.p = X.shape
        self.y, self.X = y, X
        self.reml = reml
        self.terms = list(terms)
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        self.n_params = self.n_theta
        self.bounds = list(bounds) if bounds is not None else [(None, None)] * self.n_theta
        order = sorted(range(len(self.terms)), key=lambda k: -self.terms[k].size)
        self.first = order[0]
        self.rest = order[1:]
        t1 = self.terms[self.first]
        self.A11, self.Z1tX, self.Z1ty, self.XtX, self.Xty, self.yty = grouped_cross_products(
            np.ascontiguousarray(t1.codes, dtype=np.int64), t1.n_groups,
            np.ascontiguousarray(t1.Z, dtype=float), np.ascontiguousarray(X, dtype=float),
            np.ascontiguousarray(y, dtype=float))
        self.dense_block_size = int(sum(self.terms[k].size for k in self.rest))
        self.A21_dense = None
        if self.rest:
            Z1 = t1.sparse_Z()
            Z2 = sp.hstack([self.terms[k].sparse_Z() for k in self.rest]).tocsr()
            self.A21 = (Z2.T @ Z1).tocsr()
            self.A22_sparse = Z2.T @ Z2
            self.A22 = self.A22_sparse.toarray() if self.general_blocks else None
            self.Z2tX = np.asarray(Z2.T @ X)
            self.Z2ty = np.asarray(Z2.T @ y)
            # small problems (nested models with few groups) use dense blocks: building
            # sparse matrices costs more than the arithmetic there
            r2 = self.dense_block_size
            if self.general_blocks and r2 <= 600 and r2 * t1.size <= 2_000_000:
                self.A21_dense = self.A21.toarray().reshape(r2, t1.n_groups, t1.q)

    # -- the objective protocol (x = theta) ---------------------------------------------
    def value(self, theta):
        """Profiled (restricted) log likelihood, -deviance / 2."""
        return -0.5 * self.deviance(theta)

    def value_and_grad(self, theta):
        dev, grad = self.deviance_and_grad(theta)
        return -0.5 * dev, -0.5 * grad

    def hessian(self, theta):
        """Exact Hessian of the profiled log likelihood where :attr:`exact_hessian`, else
        ``None``."""
        return None

    def contributions(self, theta, beta, s2):
        """Per top-level cluster log likelihood and scores in (beta, theta, s2) (ML) of a
        nested design; see
        :func:`~statsmodels_me.objectives.lmm_contributions.nested_contributions`.

        Raises
        ------
        NotImplementedError
            Under REML (the restricted likelihood does not split over clusters) and for
            crossed designs (naming the crossing).
        """
        if self.reml:
            raise NotImplementedError(
                "mixed: per-cluster contributions are not defined for the restricted (REML) "
                "likelihood, which does not split over clusters; fit by ML")
        return nested_contributions(self.y, self.X, self.terms, np.asarray(theta, float),
                                    np.asarray(beta, float), float(s2))

    # -- deviance -----------------------------------------------------------------------
    def deviance(self, theta):
        """-2 x profiled (restricted) log likelihood; ``inf`` where the factor fails."""
        try:
            f = self.factor(theta)
        except np.linalg.LinAlgError:
            return np.inf
        dev = self.deviance_from_factor(f)
        return dev if np.isfinite(dev) else np.inf

    def deviance_and_grad(self, theta):
        """Deviance and its gradient in theta by central differences."""
        return central_deviance_gradient(self.deviance, theta)

    def deviance_from_factor(self, f):
        return deviance_from_factor(f, self.n, self.p, self.reml)

    @property
    def m(self):
        """n, or n - p under REML (the power of r2 in the profiled likelihood)."""
        return residual_dof(self.n, self.p, self.reml)

    def sigma2(self, f):
        """Residual variance: the profiled estimate, or ``f["s2"]`` when the caller set it
        (models with a covariance fixed on the absolute scale estimate it directly)."""
        if "s2" in f:
            return f["s2"]
        return f["r2"] / self.m

    def loglike_profile_s2(self, theta, s2, beta=None):
        """Log likelihood at (theta, s2), beta profiled (or held at ``beta`` when given).

        For REML this is the restricted log likelihood (beta does not enter).
        """
        return loglike_from_factor(self.factor(theta), s2, self.n, self.p, self.reml, beta)

    # -- the factorization -------------------------------------------------------------
    def lambdas(self, theta):
        """Each term's relative Cholesky factor Lambda_k at ``theta``."""
        return [t.cholesky(theta[t.theta_index]) for t in self.terms]

    def _lambda2(self, lams):
        blocks = [sp.kron(sp.identity(self.terms[k].n_groups), sp.csr_matrix(lams[k]))
                  for k in self.rest]
        return sp.block_diag(blocks).tocsr()

    def finish(self, f, logdet, RZX, ry):
        """:func:`finish_factor` with this model's X'X, X'y and y'y."""
        return finish_factor(f, logdet, RZX, ry, self.XtX, self.Xty, self.yty)

    def factor(self, theta):
        """Blocked Cholesky and the solves that every quantity below needs."""
        return self.finish(*self.blocked_factor(theta))

    def blocked_factor(self, theta):
        """The random-effects part of :meth:`factor`: ``(f, logdet, RZX, ry)`` with
        ``f`` holding the blocks (``lams``, ``L11``, ``RZX1``, ``ry1`` and, with other
        terms, ``L21``, ``L22``, ``RZX2``, ``ry2``, ``lam2``), ``logdet`` = log|L|^2,
        ``RZX`` = L^-1 Lambda' Z' X and ``ry`` = L^-1 Lambda' Z' y (stacked over the
        blocks); :meth:`finish` adds the fixed-effects part."""
        lams = self.lambdas(np.asarray(theta, dtype=float))
        lam1 = lams[self.first]
        t1 = self.terms[self.first]
        G, q = t1.n_groups, t1.q
        M11 = np.einsum("ji,gjk,kl->gil", lam1, self.A11, lam1)
        M11[:, range(q), range(q)] += 1.0
        L11 = np.linalg.cholesky(M11)
        c1X = np.einsum("ji,gjp->gip", lam1, self.Z1tX)
        c1y = self.Z1ty @ lam1
        RZX1 = np.linalg.solve(L11, c1X)
        ry1 = np.linalg.solve(L11, c1y[:, :, None])[:, :, 0]
        f = {"lams": lams, "L11": L11, "RZX1": RZX1, "ry1": ry1}
        logdet = 2.0 * np.log(np.diagonal(L11, axis1=1, axis2=2)).sum()
        RZX = RZX1.reshape(G * q, -1)
        ry = ry1.ravel()
        if self.rest and self.A21_dense is not None:
            lam2 = sla.block_diag(*[np.kron(np.eye(self.terms[k].n_groups), lams[k])
                                    for k in self.rest])
            r2 = lam2.shape[0]
            A21L = np.einsum("rgi,ij->rgj", self.A21_dense, lam1).reshape(r2, G * q)
            M21 = (lam2.T @ A21L).reshape(r2, G, q)
            L21 = np.einsum("rgi,gji->rgj", M21, np.linalg.inv(L11)).reshape(r2, G * q)
            M22 = lam2.T @ self.A22 @ lam2 + np.eye(r2) - L21 @ L21.T
            L22 = np.linalg.cholesky(M22)
            RZX2 = tri(L22, lam2.T @ self.Z2tX - L21 @ RZX)
            ry2 = tri(L22, lam2.T @ self.Z2ty - L21 @ ry)
            logdet += 2.0 * np.log(np.diag(L22)).sum()
            f.update(L21=L21, L22=L22, RZX2=RZX2, ry2=ry2, lam2=lam2)
            RZX = np.vstack([RZX, RZX2])
            ry = np.concatenate([ry, ry2])
        elif self.rest:
            lam2 = self._lambda2(lams)
            lam1_bd = block_diag_sparse(np.broadcast_to(lam1, (G, q, q)).copy())
            M21 = (lam2.T @ self.A21 @ lam1_bd).tocsr()
            L11inv_T = block_diag_sparse(np.linalg.inv(L11).transpose(0, 2, 1).copy())
            L21 = (M21 @ L11inv_T).tocsr()
            M22 = lam2.T @ self.A22 @ lam2
            M22 = np.asarray(M22) + np.eye(M22.shape[0]) - (L21 @ L21.T).toarray()
            L22 = np.linalg.cholesky(M22)
            RZX2 = tri(L22, np.asarray(lam2.T @ self.Z2tX) - L21 @ RZX)
            ry2 = tri(L22, lam2.T @ self.Z2ty - L21 @ ry)
            logdet += 2.0 * np.log(np.diag(L22)).sum()
            f.update(L21=L21, L22=L22, RZX2=RZX2, ry2=ry2, lam2=lam2)
            RZX = np.vstack([RZX, RZX2])
            ry = np.concatenate([ry, ry2])
        return f, logdet, RZX, ry

    # -- EM moments, fixed effects and random effects at a factor ----------------------------
    def em_moments(self, theta):
        """Deviance and, per term, E[b b' | y] / s2 averaged over groups, at ``theta``.

        The EM update of a term's relative covariance (Laird and Ware 1982, Biometrics 38,
        963-974; Lindstrom and Bates 1988, JASA 83, 1014-1022) is
        ``Sigma_rel <- mean_g (b_g b_g' + Var(b_g | y)) / s2`` with s2 the profiled residual
        variance at ``theta`` (both updates share their fixed point with the ML estimate;
        for REML, Var(b_g | y) includes the uncertainty of beta, and the fixed point is the
        REML estimate).

        Returns
        -------
        dev : float
            Deviance at ``theta`` (``inf`` when the factorization fails).
        moments : list of ndarray (q_k, q_k) or None
        """
        theta = np.asarray(theta, dtype=float)
        try:
            f = self.factor(theta)
        except np.linalg.LinAlgError:
            return np.inf, None
        s2 = self.sigma2(f)
        mom = []
        var = self.blup_variances(f, fixed_uncertainty=self.reml)
        for t, b, v in zip(self.terms, self.blups(f), var):
            mom.append((b.T @ b + v.sum(axis=0)) / (s2 * t.n_groups))
        return self.deviance_from_factor(f), mom

    def cov_beta(self, f):
        """Covariance of the fixed effects, s2 (X' V^-1 X)^-1 with V relative to s2."""
        RXinv = tri(f["RX"], np.eye(self.p))
        return self.sigma2(f) * (RXinv.T @ RXinv)

    def conditional_modes(self, f):
        """Spherical conditional modes u~ = L^-T (r_y - R_ZX beta), by term; b = Lambda u~."""
        beta = f["beta"]
        t1 = self.terms[self.first]
        G, q = t1.n_groups, t1.q
        rhs1 = f["ry1"] - f["RZX1"] @ beta
        out = {}
        if self.rest:
            u2 = tri(f["L22"], f["ry2"] - f["RZX2"] @ beta, transpose=True)
            rhs1 = rhs1 - (f["L21"].T @ u2).reshape(G, q)
            pos = 0
            for k in self.rest:
                size = self.terms[k].size
                out[k] = u2[pos:pos + size].reshape(self.terms[k].n_groups, self.terms[k].q)
                pos += size
        L11T = f["L11"].transpose(0, 2, 1)
        out[self.first] = np.linalg.solve(L11T, rhs1[:, :, None])[:, :, 0]
        return out

    def blups(self, f):
        """Predicted random effects b (G_k, q_k) per term, in term order."""
        u = self.conditional_modes(f)
        return [u[k] @ f["lams"][k].T for k in range(len(self.terms))]

    def blup_variances(self, f, fixed_uncertainty=False):
        """Conditional covariance of each group's b given y, per term.

        ``s2 Lambda (L L')^-1 Lambda'`` (diagonal blocks only): for the first term, when
        other terms exist, the correction L11^-T L21' L22^-T L22^-1 L21 L11^-1 is added block
        by block. With ``fixed_uncertainty`` the uncertainty of the GLS fixed effects is
        added, ``T C^-1 T'`` with ``T = (L L')^-1 Lambda' Z' X = L^-T R_ZX`` and
        ``C = R_X R_X'`` (the u-block of the inverse of the joint (u, beta) precision; equal
        to ``G - G Z' P Z G`` with ``P = V^-1 - V^-1 X (X' V^-1 X)^-1 X' V^-1``).
        """
        s2 = self.sigma2(f)
        out = [None] * len(self.terms)
        Linv1 = np.linalg.inv(f["L11"])
        P11 = Linv1.transpose(0, 2, 1) @ Linv1
        t1 = self.terms[self.first]
        G, q = t1.n_groups, t1.q
        if fixed_uncertainty:
            RXinv = tri(f["RX"], np.eye(self.p))
            Cinv = RXinv.T @ RXinv
            rhs1 = f["RZX1"]
            if self.rest:
                T2 = tri(f["L22"], f["RZX2"], transpose=True)
                rhs1 = rhs1 - np.asarray(f["L21"].T @ T2).reshape(G, q, -1)
            T1 = Linv1.transpose(0, 2, 1) @ rhs1
            P11 = P11 + T1 @ Cinv @ T1.transpose(0, 2, 1)
        if self.rest:
            L22inv = tri(f["L22"], np.eye(f["L22"].shape[0]))
            W = (f["L21"].T @ L22inv.T)                      # (G q, r2)
            W = np.asarray(W).reshape(G, q, -1)
            W = Linv1.transpose(0, 2, 1) @ W                 # L11^-T L21' L22^-T
            P11 = P11 + W @ W.transpose(0, 2, 1)
            P22 = L22inv.T @ L22inv
            pos = 0
            for k in self.rest:
                tk = self.terms[k]
                blk = np.stack([P22[pos + g * tk.q: pos + (g + 1) * tk.q,
                                    pos + g * tk.q: pos + (g + 1) * tk.q]
                                for g in range(tk.n_groups)])
                if fixed_uncertainty:
                    Tk = T2[pos:pos + tk.size].reshape(tk.n_groups, tk.q, -1)
                    blk = blk + Tk @ Cinv @ Tk.transpose(0, 2, 1)
                lam = f["lams"][k]
                out[k] = s2 * (lam @ blk @ lam.T)
                pos += tk.size
        lam = f["lams"][self.first]
        out[self.first] = s2 * (lam @ P11 @ lam.T)
        return out
