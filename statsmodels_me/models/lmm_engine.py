"""Profiled (restricted) log likelihood of a linear mixed model without n x n matrices.

Model (Bates, Maechler, Bolker & Walker 2015, JSS 67(1), section 3):
    y = X beta + Z Lambda u + e,  u ~ N(0, s2 I),  e ~ N(0, s2 I),
so the random effects b = Lambda u have covariance s2 * Lambda Lambda'. With
L L' = Lambda' Z' Z Lambda + I, the profiled deviance is (eq. 34 / 41 there)
    -2 l(theta)   = log|L|^2 + n (1 + log(2 pi r2 / n))
    -2 l_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r2 / (n - p)))
with r2 the penalized residual sum of squares.

The random-effects terms are ordered like MixedModels.jl's blocked Cholesky: the term with the
most random effects first, kept block-diagonal (one q x q block per group, handled in batches),
and every other term in a second, dense block. A model with one grouping level has no dense
block, and the cost of an evaluation is O(G q^3) after the O(n) sufficient statistics.

Analytic gradients: the Cython kernel's for one term; for crossed/nested scalar intercepts the
diagonal of M^-1 from the blocked factor (LAPACK potri on the dense block) and the envelope
theorem for r2 (``_scalar_grad_parts``); other multi-term models use central differences.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from statsmodels_me._integrate.lmm_kernels import (
    grouped_cross_products,
    one_term_deviance,
    solve_lower,
)
from statsmodels_me.models.lmm_crossed import CrossedScalarFactor


def _tri(L, B, transpose=False):
    """Solve ``L X = B`` (``L' X = B`` with ``transpose``) for a lower-triangular ``L``.

    Small systems use the BLAS-free kernel (a threaded ``trsm`` is slow on tiny blocks).
    """
    if L.shape[0] <= 400:
        return solve_lower(np.ascontiguousarray(L), B, transpose)
    return sla.solve_triangular(L, B, lower=True, trans=1 if transpose else 0)


def sum_of_squares(v):
    """``v @ v`` for a long vector, without BLAS: OpenBLAS's threaded ``ddot`` costs a
    scheduler quantum (4-8 ms instead of 0.03 ms on 200,000 rows) when its threads wait
    for a busy core."""
    return float(np.einsum("i,i->", v, v))


def _block_diag_sparse(blocks):
    """Block-diagonal sparse matrix from a (G, q, q) array of dense blocks."""
    G, q, _ = blocks.shape
    return sp.bsr_matrix((blocks, np.arange(G), np.arange(G + 1)), shape=(G * q, G * q)).tocsr()


class LMMEngine:
    """Sufficient statistics computed once; ``evaluate(theta)`` is cheap.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    terms : list of RETerm
        In parameter order (theta is their concatenation).
    reml : bool
    center : ndarray (p,), optional
        Least-squares coefficients of ``y`` on ``X`` (computed from the normal equations
        when not given); one-term models evaluate the deviance on ``y - X center``.
    """

    def __init__(self, y, X, terms, reml=False, center=None):
        self.n, self.p = X.shape
        self.reml = reml
        self.terms = list(terms)
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        order = sorted(range(len(self.terms)), key=lambda k: -self.terms[k].size)
        self.first = order[0]
        self.rest = order[1:]
        t1 = self.terms[self.first]
        self.A11, self.Z1tX, self.Z1ty, self.XtX, self.Xty, self.yty = grouped_cross_products(
            np.ascontiguousarray(t1.codes, dtype=np.int64), t1.n_groups,
            np.ascontiguousarray(t1.Z, dtype=float), np.ascontiguousarray(X, dtype=float),
            np.ascontiguousarray(y, dtype=float))
        if not self.rest:
            # The kernel runs on y centred at the least-squares fit b0: r2 = y'y - ... then
            # cancels ||y - X b0||^2 instead of y'y, which removes the rounding noise of
            # the deviance (4e-10 -> 1e-12 on Stata's example 4) that misleads the
            # optimizer's line searches and the Newton polish near the optimum.
            b0 = (np.linalg.lstsq(self.XtX, self.Xty, rcond=None)[0] if center is None
                  else np.asarray(center, dtype=float))
            r0 = y - X @ b0
            self._centered = (b0, sum_of_squares(r0), self.Xty - self.XtX @ b0,
                              np.ascontiguousarray(self.Z1ty - self.Z1tX @ b0))
        if self.rest:
            Z1 = t1.sparse_Z()
            Z2 = sp.hstack([self.terms[k].sparse_Z() for k in self.rest]).tocsr()
            self.A21 = (Z2.T @ Z1).tocsr()
            self.A22 = (Z2.T @ Z2).toarray()
            self.Z2tX = np.asarray(Z2.T @ X)
            self.Z2ty = np.asarray(Z2.T @ y)
            self.r2_sizes = [self.terms[k].size for k in self.rest]
            # crossed scalar random intercepts (the common case: W1, `_all: R.a || _all: R.b`)
            # get a fast path: every Lambda is diagonal, so the blocks are rescaled in place.
            self.scalar = t1.q == 1 and all(self.terms[k].q == 1 for k in self.rest)
            # small problems (nested models with few groups) use dense blocks: building
            # sparse matrices costs more than the arithmetic there
            r2 = sum(self.r2_sizes)
            self.A21_dense = None
            if not self.scalar and r2 <= 600 and r2 * t1.size <= 2_000_000:
                self.A21_dense = self.A21.toarray().reshape(r2, t1.n_groups, t1.q)
            if self.scalar:
                self._crossed = CrossedScalarFactor(self, Z2.T @ Z2, y, X)

    @property
    def analytic_gradient(self):
        """Whether :meth:`deviance_and_grad` is analytic (one term, or crossed scalar terms)."""
        return not self.rest or self.scalar

    def _scalar_grad_parts(self, theta):
        """Crossed scalar random intercepts: d log|M| (+ d log|C| for REML) and d r2 / d theta.

        See :meth:`statsmodels_me.models.lmm_crossed.CrossedScalarFactor.grad_parts`.

        Returns
        -------
        f, dlogdet, dr2 : dict, ndarray (n_theta,), ndarray (n_theta,)
            ``dlogdet`` includes d log|R_X|^2 under REML.
        """
        return self._crossed.grad_parts(theta)

    # -- deviance and gradient -------------------------------------------------------------
    def _lambda_jacobian(self, term, theta_k, h=1e-5):
        """d vec(Lambda) / d theta for one term (central differences on a q x q map).

        Lambda is linear in theta for most structures (no truncation error) and smooth for
        the others (error ~h^2); h = 1e-5 keeps the rounding error near 1e-11, which the
        differences of gradients behind the standard errors divide by their own 1e-5 step
        (h = 1e-7 left 3e-4 of noise in an exchangeable structure's standard errors).
        A one-sided difference is taken where theta - h leaves the structure's domain.
        """
        q = term.q
        J = np.empty((q * q, len(theta_k)))
        for i in range(len(theta_k)):
            tp, tm = theta_k.copy(), theta_k.copy()
            tp[i] += h
            tm[i] -= h
            lp, lm = term.cholesky(tp), term.cholesky(tm)
            if np.all(np.isfinite(lm)):
                J[:, i] = ((lp - lm) / (2 * h)).ravel()
            else:
                J[:, i] = ((lp - term.cholesky(theta_k)) / h).ravel()
        return J

    def deviance_and_grad(self, theta):
        """Deviance and its gradient in theta.

        One-term models use the Cython kernel's analytic gradient in Lambda, chained with
        d Lambda / d theta; crossed scalar intercepts (ML) use :meth:`_scalar_grad_parts`;
        other models with several terms use central differences.
        """
        theta = np.asarray(theta, dtype=float)
        if not self.rest:
            t1 = self.terms[self.first]
            dev, gL, *_rest = self._one_term(theta, want_grad=True)
            grad = np.zeros(self.n_theta)
            if np.isfinite(dev):
                grad[t1.theta_index] = gL.ravel() @ self._lambda_jacobian(
                    t1, theta[t1.theta_index])
            return dev, grad
        if self.analytic_gradient:
            try:
                f, dld, dr2 = self._scalar_grad_parts(theta)
            except np.linalg.LinAlgError:
                return np.inf, np.zeros(self.n_theta)
            dev = self._deviance_from(f)
            if not np.isfinite(dev):
                return np.inf, np.zeros(self.n_theta)
            m = self.n - self.p if self.reml else self.n
            return dev, dld + (m / f["r2"]) * dr2
        dev = self.deviance(theta)
        grad = np.zeros(self.n_theta)
        for i in range(self.n_theta):
            h = 1e-6 * max(1.0, abs(theta[i]))
            tp, tm = theta.copy(), theta.copy()
            tp[i] += h
            tm[i] -= h
            grad[i] = (self.deviance(tp) - self.deviance(tm)) / (2 * h)
        return dev, grad

    # -- the factorization -------------------------------------------------------------
    def _lambdas(self, theta):
        return [t.cholesky(theta[t.theta_index]) for t in self.terms]

    def _lambda2(self, lams):
        blocks = [sp.kron(sp.identity(self.terms[k].n_groups), sp.csr_matrix(lams[k]))
                  for k in self.rest]
        return sp.block_diag(blocks).tocsr()

    def _factor_scalar(self, lams):
        """``factor`` when every term is a scalar random intercept (diagonal Lambda)."""
        return self._crossed.factor(lams)

    def _finish(self, f, logdet, RZX, ry):
        XtX = self.XtX - RZX.T @ RZX
        Xty = self.Xty - RZX.T @ ry
        RX = np.linalg.cholesky(XtX)
        gamma = _tri(RX, Xty)
        beta = _tri(RX, gamma, transpose=True)
        r2 = self.yty - ry @ ry - gamma @ gamma
        f.update(RX=RX, beta=beta, r2=max(r2, 1e-300), logdet=logdet,
                 logdetX=2.0 * np.log(np.diag(RX)).sum())
        return f

    def factor(self, theta):
        """Blocked Cholesky and the solves that every quantity below needs."""
        lams = self._lambdas(np.asarray(theta, dtype=float))
        if self.rest and self.scalar:
            return self._factor_scalar(lams)
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
            RZX2 = _tri(L22, lam2.T @ self.Z2tX - L21 @ RZX)
            ry2 = _tri(L22, lam2.T @ self.Z2ty - L21 @ ry)
            logdet += 2.0 * np.log(np.diag(L22)).sum()
            f.update(L21=L21, L22=L22, RZX2=RZX2, ry2=ry2, lam2=lam2)
            RZX = np.vstack([RZX, RZX2])
            ry = np.concatenate([ry, ry2])
        elif self.rest:
            lam2 = self._lambda2(lams)
            lam1_bd = _block_diag_sparse(np.broadcast_to(lam1, (G, q, q)).copy())
            M21 = (lam2.T @ self.A21 @ lam1_bd).tocsr()
            L11inv_T = _block_diag_sparse(np.linalg.inv(L11).transpose(0, 2, 1).copy())
            L21 = (M21 @ L11inv_T).tocsr()
            M22 = lam2.T @ self.A22 @ lam2
            M22 = np.asarray(M22) + np.eye(M22.shape[0]) - (L21 @ L21.T).toarray()
            L22 = np.linalg.cholesky(M22)
            RZX2 = _tri(L22, np.asarray(lam2.T @ self.Z2tX) - L21 @ RZX)
            ry2 = _tri(L22, lam2.T @ self.Z2ty - L21 @ ry)
            logdet += 2.0 * np.log(np.diag(L22)).sum()
            f.update(L21=L21, L22=L22, RZX2=RZX2, ry2=ry2, lam2=lam2)
            RZX = np.vstack([RZX, RZX2])
            ry = np.concatenate([ry, ry2])
        return self._finish(f, logdet, RZX, ry)

    def _one_term(self, theta, want_grad=False):
        """The kernel's outputs at ``theta`` (see ``one_term_deviance``), beta uncentred.

        The last few evaluations are kept: the optimizer, the polish and the results ask
        again for points they evaluated (keyed by Lambda, which also carries the residual
        variance of models on the absolute scale).
        """
        t1 = self.terms[self.first]
        lam = np.ascontiguousarray(t1.cholesky(np.asarray(theta, float)[t1.theta_index]))
        if not np.all(np.isfinite(lam)):
            # a linear structure (pattern) outside the positive semidefinite cone
            return np.inf, None, None, np.nan, np.nan, None, None, None, None, None, None
        key = lam.tobytes()
        cache = self.__dict__.setdefault("_evals", {})
        hit = cache.pop(key, None)
        if hit is not None and (hit[0] or not want_grad):
            cache[key] = hit        # most recently used last
            return hit[1]
        b0, yty, Xty, Zty = self._centered
        out = one_term_deviance(self.A11, self.Z1tX, Zty, lam, self.XtX, Xty, yty, self.n,
                                self.reml, want_grad)
        if out[2] is not None:
            out = out[:2] + (out[2] + b0,) + out[3:]
        if len(cache) >= 16:
            del cache[next(iter(cache))]
        cache[key] = (want_grad, out)
        return out

    def grad_parts(self, theta):
        """Deviance, r2 and the gradients of its two parts, for analytic-gradient models.

        The deviance is ``logdet + m (1 + log(2 pi r2 / m))`` (``logdet`` includes log|C|
        under REML, m = n or n - p), so its gradient is ``dlogdet + (m / r2) dr2`` and the
        log likelihood at (theta, s2) has gradient ``-(dlogdet + dr2 / s2) / 2`` in theta.

        Returns
        -------
        (dev, r2, dlogdet, dr2) or None
            ``None`` for models without an analytic gradient, or where the factorization
            fails.
        """
        theta = np.asarray(theta, dtype=float)
        if not self.rest:
            out = self._one_term(theta, want_grad=True)
            if not np.isfinite(out[0]):
                return None
            t1 = self.terms[self.first]
            J = self._lambda_jacobian(t1, theta[t1.theta_index])
            dld = np.zeros(self.n_theta)
            dr2 = np.zeros(self.n_theta)
            dld[t1.theta_index] = out[5].ravel() @ J
            dr2[t1.theta_index] = out[6].ravel() @ J
            return out[0], out[3], dld, dr2
        if not self.analytic_gradient:
            return None
        try:
            f, dld, dr2 = self._scalar_grad_parts(theta)
        except np.linalg.LinAlgError:
            return None
        dev = self._deviance_from(f)
        return (dev, f["r2"], dld, dr2) if np.isfinite(dev) else None

    def exact_second_parts(self, theta):
        """Exact Hessians in theta of the deviance's two parts (log det, r2), where the model
        has them (crossed scalar intercepts, ML or REML, ``CrossedScalarFactor.second_parts``);
        ``None`` otherwise, and the caller differentiates :meth:`grad_parts`."""
        crossed = getattr(self, "_crossed", None)
        return None if crossed is None else crossed.second_parts(theta)

    def newton(self, theta0, bounds, maxiter, callback=None):
        """A Newton optimizer with the exact Hessian, where the model has one (crossed
        scalar intercepts, ML or REML, ``CrossedScalarFactor.newton``).

        Returns
        -------
        scipy.optimize.OptimizeResult or None
            ``None`` when it does not apply or gives up (the caller's general optimizer
            takes over). ``callback(theta, deviance)`` follows each iteration.
        """
        crossed = getattr(self, "_crossed", None)
        if crossed is None:
            return None
        return crossed.newton(theta0, bounds, maxiter=maxiter, callback=callback)

    def gls_summary(self, theta):
        """One-term models: (deviance, beta, r2, C) at ``theta`` from the kernel, where
        ``s2 C^-1`` is the covariance of the GLS beta; ``None`` for other models."""
        if self.rest:
            return None
        out = self._one_term(theta)
        if not np.isfinite(out[0]):
            return None
        return out[0], out[2], out[3], out[10]

    def loglike_s2_and_grad(self, theta, s2):
        """Log likelihood at (theta, s2) with beta profiled, and its analytic gradient.

        For one-term models (the Cython kernel) and crossed scalar intercepts; ``None``
        otherwise.
        """
        if self.rest and self.analytic_gradient:
            try:
                f, dld, dr2 = self._scalar_grad_parts(theta)
            except np.linalg.LinAlgError:
                return None
            r2 = f["r2"]
            m = self.n - self.p if self.reml else self.n
            logdet = f["logdet"] + (f["logdetX"] if self.reml else 0.0)
            ll = -0.5 * (m * np.log(2.0 * np.pi * s2) + logdet + r2 / s2)
            g = np.zeros(self.n_theta + 1)
            g[:-1] = -0.5 * (dld + dr2 / s2)
            g[-1] = -0.5 * (m / s2 - r2 / s2 ** 2)
            return ll, g
        if self.rest:
            return None
        theta = np.asarray(theta, float)
        dev, _, _, r2, logdetC, gld, gr2, *_ = self._one_term(theta, want_grad=True)
        if not np.isfinite(dev):
            return None
        m = self.n - self.p if self.reml else self.n
        logdet = dev - m * (1.0 + np.log(2.0 * np.pi * r2 / m))
        ll = -0.5 * (m * np.log(2.0 * np.pi * s2) + logdet + r2 / s2)
        t1 = self.terms[self.first]
        J = self._lambda_jacobian(t1, theta[t1.theta_index])
        g = np.zeros(self.n_theta + 1)
        g[t1.theta_index] = -0.5 * ((gld + gr2 / s2).ravel() @ J)
        g[-1] = -0.5 * (m / s2 - r2 / s2 ** 2)
        return ll, g

    def em_moments(self, theta):
        """Deviance and, per term, E[b b' | y] / s2 averaged over groups, at ``theta``.

        The EM update of a term's relative covariance (Laird and Ware 1982, Biometrics 38,
        963-974; Lindstrom and Bates 1988, JASA 83, 1014-1022) is
        ``Sigma_rel <- mean_g (b_g b_g' + Var(b_g | y)) / s2`` with s2 the profiled residual
        variance at ``theta`` (both updates share their fixed point with the ML estimate;
        for REML, Var(b_g | y) includes the uncertainty of beta, and the fixed point is the
        REML estimate).
        One-term models read the sums from the Cython kernel's gradient pass.

        Returns
        -------
        dev : float
            Deviance at ``theta`` (``inf`` when the factorization fails).
        moments : list of ndarray (q_k, q_k) or None
        """
        theta = np.asarray(theta, dtype=float)
        if not self.rest:
            t1 = self.terms[self.first]
            lam = np.ascontiguousarray(t1.cholesky(theta[t1.theta_index]))
            out = self._one_term(theta, want_grad=True)
            dev, r2 = out[0], out[3]
            if not np.isfinite(dev):
                return dev, None
            s2 = r2 / (self.n - self.p if self.reml else self.n)
            S, T = out[7], out[8]
            if self.reml:
                T = T + out[9]
            return dev, [lam @ (S / s2 + T) @ lam.T / t1.n_groups]
        try:
            f = self.factor(theta)
        except np.linalg.LinAlgError:
            return np.inf, None
        s2 = self.sigma2(f)
        mom = []
        var = self.blup_variances(f, fixed_uncertainty=self.reml)
        for t, b, v in zip(self.terms, self.blups(f), var):
            mom.append((b.T @ b + v.sum(axis=0)) / (s2 * t.n_groups))
        return self._deviance_from(f), mom

    def deviance(self, theta):
        """-2 x profiled (restricted) log likelihood; ``inf`` where the factor fails."""
        if not self.rest:
            return self._one_term(theta)[0]
        try:
            f = self.factor(theta)
        except np.linalg.LinAlgError:
            return np.inf
        dev = self._deviance_from(f)
        return dev if np.isfinite(dev) else np.inf

    def _deviance_from(self, f):
        n, p = self.n, self.p
        if self.reml:
            d = n - p
            return f["logdet"] + f["logdetX"] + d * (1.0 + np.log(2.0 * np.pi * f["r2"] / d))
        return f["logdet"] + n * (1.0 + np.log(2.0 * np.pi * f["r2"] / n))

    def sigma2(self, f):
        """Residual variance: the profiled estimate, or ``f["s2"]`` when the caller set it
        (models with a covariance fixed on the absolute scale estimate it directly)."""
        if "s2" in f:
            return f["s2"]
        return f["r2"] / (self.n - self.p if self.reml else self.n)

    def loglike_profile_s2(self, theta, s2, beta=None):
        """Log likelihood at (theta, s2), beta profiled (or held at ``beta`` when given).

        For REML this is the restricted log likelihood (beta does not enter).
        """
        if not self.rest and beta is None:
            dev, _, _, r2, logdetC, *_ = self._one_term(theta)
            m = self.n - self.p if self.reml else self.n
            logdet = dev - m * (1.0 + np.log(2.0 * np.pi * r2 / m)) - (logdetC if self.reml
                                                                         else 0.0)
            return -0.5 * (m * np.log(2.0 * np.pi * s2) + logdet
                           + (logdetC if self.reml else 0.0) + r2 / s2)
        f = self.factor(theta)
        r2 = f["r2"]
        if beta is not None and not self.reml:
            d = f["RX"].T @ (np.asarray(beta) - f["beta"])
            r2 = r2 + d @ d
        n = self.n - self.p if self.reml else self.n
        extra = f["logdetX"] if self.reml else 0.0
        return -0.5 * (n * np.log(2.0 * np.pi * s2) + f["logdet"] + extra + r2 / s2)

    def cov_beta(self, f):
        """Covariance of the fixed effects, s2 (X' V^-1 X)^-1 with V relative to s2."""
        RXinv = _tri(f["RX"], np.eye(self.p))
        return self.sigma2(f) * (RXinv.T @ RXinv)

    def conditional_modes(self, f):
        """Spherical conditional modes u~ = L^-T (r_y - R_ZX beta), by term; b = Lambda u~."""
        beta = f["beta"]
        t1 = self.terms[self.first]
        G, q = t1.n_groups, t1.q
        rhs1 = f["ry1"] - f["RZX1"] @ beta
        out = {}
        if self.rest:
            u2 = _tri(f["L22"], f["ry2"] - f["RZX2"] @ beta, transpose=True)
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
            RXinv = _tri(f["RX"], np.eye(self.p))
            Cinv = RXinv.T @ RXinv
            rhs1 = f["RZX1"]
            if self.rest:
                T2 = _tri(f["L22"], f["RZX2"], transpose=True)
                rhs1 = rhs1 - np.asarray(f["L21"].T @ T2).reshape(G, q, -1)
            T1 = Linv1.transpose(0, 2, 1) @ rhs1
            P11 = P11 + T1 @ Cinv @ T1.transpose(0, 2, 1)
        if self.rest:
            L22inv = _tri(f["L22"], np.eye(f["L22"].shape[0]))
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
