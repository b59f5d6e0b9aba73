"""The LMM profiled deviance of crossed (or nested) scalar random intercepts, with its exact
gradient and Hessian.

Every term has one effect per group, so Lambda is diagonal and the blocked factor is
:class:`~statsmodels_me.objectives.lmm_crossed_factor.CrossedScalarFactor`. The gradient
reads the diagonal of M^-1 from the factor (LAPACK potri on the dense block) and uses the
envelope theorem for r2; the exact Hessian is
:class:`~statsmodels_me.objectives.lmm_crossed_hessian.CrossedScalarHessian`'s.
:func:`statsmodels_me.optimization.log_newton.minimize_log_newton` optimizes it with the pieces
offered here (``work_deviance``, ``deviance_grad_hess``, ``last_step``), started where
:func:`statsmodels_me.optimization.lmm_starts.submodel_start` suggests.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from statsmodels_me._kernels.lmm_crossed_kernels import inverse_traces
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_crossed_factor import CrossedScalarFactor
from statsmodels_me.objectives.lmm_crossed_hessian import CrossedScalarHessian
from statsmodels_me.objectives.lmm_one_term import OneTermLMM
from statsmodels_me.objectives.lmm_profiled import (
    deviance_grad_hess_from_parts,
    lambda_jacobian,
    loglike_s2_from_parts,
)


def linear_in_theta(term):
    """Whether the term's Lambda is linear in its theta (true of every scalar structure)."""
    t = np.linspace(0.4, 1.3, len(term.theta_index))
    try:
        a, b = term.cholesky(t), term.cholesky(2.5 * t)
    except Exception:   # noqa: BLE001 - any failure: no exact Hessian
        return False
    return bool(np.allclose(2.5 * a, b, rtol=1e-13, atol=0.0))


class CrossedScalarLMM(BlockedLMM):
    """Profiled deviance of scalar random-intercept terms (two or more), exact derivatives.

    Parameters
    ----------
    y, X, terms, reml, bounds
        As :class:`~statsmodels_me.objectives.lmm_blocked.BlockedLMM`; every term has
        ``q == 1``.

    Attributes
    ----------
    exact_hessian : bool
        True when every term's Lambda is linear in theta (the exact Hessian assumes it).
    """

    analytic_gradient = True
    general_blocks = False

    def __init__(self, y, X, terms, reml=False, bounds=None):
        super().__init__(y, X, terms, reml, bounds)
        if not self.rest or any(t.q != 1 for t in self.terms):
            raise ValueError("CrossedScalarLMM takes two or more scalar terms")
        self.sizes = [self.terms[k].size for k in self.rest]
        self.cf = CrossedScalarFactor(
            self.A11[:, 0, 0], self.Z1tX[:, 0, :], self.Z1ty[:, 0], self.A21,
            self.A22_sparse, self.Z2tX, self.Z2ty, self.sizes, self.XtX, self.Xty, self.yty,
            self.n, self.p, self.reml)
        self.hess_parts = CrossedScalarHessian(self.cf)
        order = [self.first] + self.rest
        self.exact_hessian = all(linear_in_theta(self.terms[k]) for k in order)
        self._hcache = None

    def blas_scope(self):
        return self.cf.blas_scope()

    # -- sub-models (starting values) ---------------------------------------------------
    @property
    def term_sizes(self):
        return [t.size for t in self.terms]

    def least_squares_rss(self):
        """Residual sum of squares of the least-squares fit of y on X."""
        beta = np.linalg.lstsq(self.XtX, self.Xty, rcond=None)[0]
        resid = self.y - self.X @ beta
        return float(resid @ resid)

    def submodel(self, ks):
        """The model of the same data with only the terms ``ks`` (ML, theta renumbered
        0, 1, ... in that order)."""
        terms = [dataclasses.replace(self.terms[k], theta_index=np.array([j]))
                 for j, k in enumerate(ks)]
        if len(ks) == 1:
            return OneTermLMM(self.y, self.X, terms)
        return CrossedScalarLMM(self.y, self.X, terms)

    def _scales(self, lams):
        """``lam1`` and the per-effect scales ``d`` of the other terms."""
        lam1 = float(lams[self.first][0, 0])
        d = np.array([lams[k][0, 0] for k in self.rest], dtype=float)[self.cf.owner]
        return lam1, d

    def factor(self, theta, work=False):
        """The blocked factor (see :meth:`CrossedScalarFactor.factor`)."""
        lams = self.lambdas(np.asarray(theta, dtype=float))
        lam1, d = self._scales(lams)
        return self.cf.factor(lams, lam1, d, work)

    # -- gradient ----------------------------------------------------------------------
    def grad_parts(self, theta):
        """Deviance, r2 and the gradients in theta of log|M| (+ log|C| for REML) and r2.

        With M = I + Lambda A Lambda, d log|M| / d lambda_k = (2 / lambda_k) sum_{j in k}
        (1 - (M^-1)_jj) (the diagonal of M^-1 from the blocked factor, see
        ``inverse_traces``); by the envelope theorem d r2 / d lambda_k =
        -2 sum_{j in k} u_j (Z' (y - X beta - Z Lambda u))_j.

        Returns
        -------
        (dev, r2, dlogdet, dr2) or None
            ``None`` where the factorization fails.
        """
        try:
            f, dld, dr2 = self._grad_parts(theta)
        except np.linalg.LinAlgError:
            return None
        dev = self.deviance_from_factor(f)
        return (dev, f["r2"], dld, dr2) if np.isfinite(dev) else None

    def _grad_parts(self, theta):
        cached = self._lookup(theta)
        if cached is not None:
            return cached[:3]
        return self._evaluate(theta, False)[:3]

    def deviance_and_grad(self, theta):
        theta = np.asarray(theta, dtype=float)
        try:
            f, dld, dr2 = self._grad_parts(theta)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros(self.n_theta)
        dev = self.deviance_from_factor(f)
        if not np.isfinite(dev):
            return np.inf, np.zeros(self.n_theta)
        return dev, dld + (self.m / f["r2"]) * dr2

    def loglike_s2_and_grad(self, theta, s2):
        """Log likelihood at (theta, s2) with beta profiled, and its gradient in (theta, s2);
        ``None`` where the factorization fails."""
        try:
            f, dld, dr2 = self._grad_parts(theta)
        except np.linalg.LinAlgError:
            return None
        logdet = f["logdet"] + (f["logdetX"] if self.reml else 0.0)
        return loglike_s2_from_parts(logdet, f["r2"], dld, dr2, s2, self.m)

    def _evaluate(self, theta, hess, f=None, keep_factor=False):
        with self.blas_scope():
            return self._evaluate_parts(theta, hess, f, keep_factor)

    def _evaluate_parts(self, theta, hess, f, keep_factor):
        """Gradient (and Hessian) parts at ``theta``; ``f`` is this point's factor from the
        work buffer when the caller has it already; with ``keep_factor`` a copy of the factor
        is kept for :meth:`factor` at the same point."""
        cf = self.cf
        theta = np.asarray(theta, dtype=float)
        lams = self.lambdas(theta)
        lam_b = np.array([lams[self.first][0, 0]] + [lams[k][0, 0] for k in self.rest])
        if hess and np.any(lam_b == 0.0):
            return None
        if f is None:
            f = self.factor(theta, work=True)
        lam1, d = f["_lam1"], f["_d"]
        L11 = f["L11"][:, 0, 0]
        u1, u2 = cf.modes(f)
        beta = f["beta"]
        b1, b2 = lam1 * u1, d * u2
        A21 = self.A21
        a22b2 = cf.a22_times(b2)
        zr1 = cf.z1ty - cf.z1tx @ beta - cf.a11 * b1 - A21.T @ b2
        zr2 = self.Z2ty - self.Z2tX @ beta - A21 @ b1 - a22b2
        hp = self.hess_parts
        qsum = hp.reml_parts(f) if self.reml else None
        hr2 = hp.r2_hessian(f, lam1, d, u1, u2, zr1, zr2) if hess else None
        hC = hp.logdetC_hessian(f, lam1, d) if hess and self.reml else None
        if keep_factor:
            cf.keep(f)
        # from here on the buffer holds P = S^-1, not the factor
        L22 = f.pop("L22")
        diag2 = np.empty(len(self.rest))
        quad = np.empty(cf.G)
        sum1 = inverse_traces(L22, L11, cf.ptr, cf.idx, f["_l21"], cf.owner, diag2, quad)
        if not np.isfinite(sum1):
            raise np.linalg.LinAlgError("potri failed")
        n_b = np.array([cf.G] + self.sizes, dtype=float)
        p_b = np.r_[sum1, diag2]
        g_ld = np.where(lam_b != 0.0, 2.0 * (n_b - p_b) / np.where(lam_b != 0.0, lam_b, 1.0),
                        0.0)
        if qsum is not None:
            g_ld -= np.where(lam_b != 0.0, 2.0 * qsum / np.where(lam_b != 0.0, lam_b, 1.0),
                             0.0)
        g_r2 = np.empty(len(lam_b))
        g_r2[0] = -2.0 * float(u1 @ zr1)
        for j, sl in enumerate(cf.slices):
            g_r2[j + 1] = -2.0 * float(u2[sl] @ zr2[sl])
        J = self._jacobian(theta)
        dld, dr2 = g_ld @ J, g_r2 @ J
        if not hess:
            return f, dld, dr2
        hld = hp.logdet_hessian(L22, L11, f["_l21"], quad, lam_b, n_b, p_b)
        if hC is not None:
            hld = hld + hC
        return f, dld, dr2, J.T @ hld @ J, J.T @ hr2 @ J

    def _jacobian(self, theta):
        """d lambda_b / d theta, one row per block (first term, then the others)."""
        J = np.zeros((1 + len(self.rest), self.n_theta))
        for b, k in enumerate([self.first] + self.rest):
            tk = self.terms[k]
            if self.exact_hessian:
                # lambda = sum_i theta_i lambda(e_i): exact, where differences lose ~1e-9
                J[b, tk.theta_index] = [tk.cholesky(e)[0, 0]
                                        for e in np.eye(len(tk.theta_index))]
            else:
                J[b, tk.theta_index] = lambda_jacobian(tk, theta[tk.theta_index])[0]
        return J

    # -- exact second derivatives ------------------------------------------------------
    def hessian_parts(self, theta, f=None):
        """:meth:`grad_parts`'s factor and gradients and the Hessians of log|M|
        (+ log|C| for REML) and of r2 in theta.

        Returns
        -------
        f, dlogdet, dr2, hlogdet, hr2 : dict, ndarray, ndarray, ndarray, ndarray
            ``None`` at a relative scale of zero, where the log-scale derivatives do not
            exist (or when :attr:`exact_hessian` is false).
        """
        if not self.exact_hessian:
            return None
        return self._evaluate(theta, True, f)

    def second_parts(self, theta):
        """Exact Hessians (log|M| [+ log|C| for REML], r2) in theta, or ``None``; kept for
        the last point, so that the standard errors at the optimizer's final iterate cost
        nothing more."""
        try:
            out = self._cached_hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        return None if out is None else out[3:]

    def hessian(self, theta):
        """Exact Hessian of the profiled log likelihood (-1/2 that of the deviance)."""
        out = self.deviance_grad_hess(theta)
        return None if out is None else -0.5 * out[2]

    def deviance_grad_hess(self, theta, f=None):
        """Deviance, its gradient and its exact Hessian in theta, or ``None`` when the exact
        Hessian is not available (see :meth:`hessian_parts`); ``f``: the factor at
        ``theta`` in the work buffer, when the caller has it."""
        try:
            out = self._cached_hessian_parts(theta, f)
        except np.linalg.LinAlgError:
            return None
        return deviance_grad_hess_from_parts(out, self.deviance_from_factor, self.m)

    def loglike_s2_hessian(self, theta, s2):
        """Exact Hessian of the (restricted) log likelihood in (theta, s2), beta profiled
        out, or ``None`` (see :meth:`hessian_parts`).

        l = -(m log(2 pi s2) + log|M| [+ log|C|] + r2 / s2) / 2, m = n (n - p for REML).
        """
        try:
            out = self._cached_hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        if out is None:
            return None
        f, dld, dr2, hld, hr2 = out
        m, r2 = self.m, f["r2"]
        k = len(dld)
        H = np.empty((k + 1, k + 1))
        H[:k, :k] = -0.5 * (hld + hr2 / s2)
        H[:k, k] = H[k, :k] = 0.5 * dr2 / s2 ** 2
        H[k, k] = 0.5 * m / s2 ** 2 - r2 / s2 ** 3
        return 0.5 * (H + H.T)

    def _key(self, theta):
        theta = np.asarray(theta, dtype=float)
        lams = self.lambdas(theta)
        return theta.tobytes() + np.array([lam[0, 0] for lam in lams]).tobytes()

    def remembers(self, theta):
        """Whether the Hessian parts at ``theta`` are remembered (no new evaluation)."""
        return self._lookup(theta) is not None

    def _lookup(self, theta):
        if self._hcache is not None and self._hcache[1] is not None \
                and self._hcache[0] == self._key(theta):
            return self._hcache[1]
        return None

    def _cached_hessian_parts(self, theta, f=None):
        """:meth:`hessian_parts`, remembering the last point (the optimizer's final
        evaluation is where the standard errors need the Hessian again)."""
        key = self._key(theta)
        if self._hcache is not None and self._hcache[0] == key:
            return self._hcache[1]
        out = self.hessian_parts(theta, f)
        self._hcache = (key, out)
        return out

    # -- pieces of the log-scale Newton iteration ----------------------------------------
    def work_deviance(self, theta, need_factor=True):
        """Deviance and the factor in the work buffer (``inf, None`` if it fails); without
        ``need_factor``, the deviance of the last factorization when it was at ``theta``
        (the caller's log evaluates the start just before) and ``None``."""
        if not need_factor and self.cf.last_deviance is not None:
            lam1, d = self._scales(self.lambdas(np.asarray(theta, dtype=float)))
            if self.cf.last_deviance[:2] == (lam1, d.tobytes()):
                dev = self.cf.last_deviance[2]
                return (dev if np.isfinite(dev) else np.inf), None
        try:
            f = self.factor(theta, work=True)
        except np.linalg.LinAlgError:
            return np.inf, None
        dev = self.deviance_from_factor(f)
        return (dev, f) if np.isfinite(dev) else (np.inf, None)

    def last_step(self, x, f, g, cand):
        """Take a converged iteration's last (tiny) step from ``x`` to ``cand``.

        The step is below the convergence tolerance, so it changes the deviance by less than
        its rounding noise but still moves theta (by ~1e-7 relative on InstEval); the
        gradient parts are evaluated there, and the Hessian parts of ``x``, to which those
        at the new point are equal to the size of the step, are remembered for it (the
        standard errors use them). Returns the accepted ``(theta, deviance, gradient)``.
        """
        prev = self._lookup(x)
        try:
            out = self._evaluate(cand, False, keep_factor=True)
        except np.linalg.LinAlgError:
            return x, f, g
        fc = self.deviance_from_factor(out[0])
        if prev is None or not fc <= f + 1e-13 * abs(f):
            return x, f, g
        self._hcache = (self._key(cand), tuple(out) + tuple(prev[3:]))
        return cand, fc, out[1] + (self.m / out[0]["r2"]) * out[2]
