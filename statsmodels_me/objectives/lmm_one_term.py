"""The LMM profiled deviance of a model with one random-effects term (the Cython kernel).

One grouping level with q effects per group: the factor is one q x q block per group, and
an evaluation costs O(G q^3) after the O(n) sufficient statistics, with the analytic
gradient in Lambda from the same pass (``one_term_deviance``), chained with
d Lambda / d theta.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.lmm_kernels import one_term_deviance
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_contributions import one_level_contributions
from statsmodels_me.objectives.lmm_profiled import (
    lambda_jacobian,
    loglike_s2_from_parts,
    sum_of_squares,
)


class OneTermLMM(BlockedLMM):
    """Profiled deviance of a one-term LMM with its analytic gradient.

    Parameters
    ----------
    y, X, terms, reml, bounds
        As :class:`~statsmodels_me.objectives.lmm_blocked.BlockedLMM` (one term).
    center : ndarray (p,), optional
        Least-squares coefficients of ``y`` on ``X`` (computed from the normal equations
        when not given); the deviance is evaluated on ``y - X center``.
    """

    analytic_gradient = True
    exact_hessian = False
    gls_from_kernel = True

    def __init__(self, y, X, terms, reml=False, bounds=None, center=None):
        super().__init__(y, X, terms, reml, bounds)
        if self.rest:
            raise ValueError("OneTermLMM takes exactly one random-effects term")
        # The kernel runs on y centred at the least-squares fit b0: r2 = y'y - ... then
        # cancels ||y - X b0||^2 instead of y'y, which removes the rounding noise of
        # the deviance (4e-10 -> 1e-12 on Stata's example 4) that misleads the
        # optimizer's line searches and the Newton polish near the optimum.
        b0 = (np.linalg.lstsq(self.XtX, self.Xty, rcond=None)[0] if center is None
              else np.asarray(center, dtype=float))
        r0 = y - X @ b0
        self._centered = (b0, sum_of_squares(r0), self.Xty - self.XtX @ b0,
                          np.ascontiguousarray(self.Z1ty - self.Z1tX @ b0))
        self._evals = {}

    @property
    def center(self):
        """(b0, ||y - X b0||^2): the centring least-squares fit and its residual sum of
        squares."""
        return self._centered[0], self._centered[1]

    def _kernel(self, theta, want_grad=False):
        """The kernel's outputs at ``theta`` (see ``one_term_deviance``), beta uncentred.

        The last few evaluations are kept: the optimizer, the polish and the results ask
        again for points they evaluated (keyed by Lambda).
        """
        t1 = self.terms[self.first]
        lam = np.ascontiguousarray(t1.cholesky(np.asarray(theta, float)[t1.theta_index]))
        if not np.all(np.isfinite(lam)):
            # a linear structure (pattern) outside the positive semidefinite cone
            return np.inf, None, None, np.nan, np.nan, None, None, None, None, None, None
        key = lam.tobytes()
        cache = self._evals
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

    def deviance(self, theta):
        return self._kernel(theta)[0]

    def deviance_and_grad(self, theta):
        """Deviance and its gradient: the kernel's gradient in Lambda chained with
        d Lambda / d theta."""
        theta = np.asarray(theta, dtype=float)
        t1 = self.terms[self.first]
        dev, gL, *_rest = self._kernel(theta, want_grad=True)
        grad = np.zeros(self.n_theta)
        if np.isfinite(dev):
            grad[t1.theta_index] = gL.ravel() @ lambda_jacobian(t1, theta[t1.theta_index])
        return dev, grad

    def grad_parts(self, theta):
        """Deviance, r2 and the gradients in theta of the deviance's two parts.

        The deviance is ``logdet + m (1 + log(2 pi r2 / m))`` (``logdet`` includes log|C|
        under REML), so its gradient is ``dlogdet + (m / r2) dr2``.

        Returns
        -------
        (dev, r2, dlogdet, dr2) or None
            ``None`` where the factorization fails.
        """
        theta = np.asarray(theta, dtype=float)
        out = self._kernel(theta, want_grad=True)
        if not np.isfinite(out[0]):
            return None
        t1 = self.terms[self.first]
        J = lambda_jacobian(t1, theta[t1.theta_index])
        dld = np.zeros(self.n_theta)
        dr2 = np.zeros(self.n_theta)
        dld[t1.theta_index] = out[5].ravel() @ J
        dr2[t1.theta_index] = out[6].ravel() @ J
        return out[0], out[3], dld, dr2

    def loglike_s2_and_grad(self, theta, s2):
        """Log likelihood at (theta, s2) with beta profiled, and its gradient in (theta, s2);
        ``None`` where the factorization fails."""
        theta = np.asarray(theta, float)
        dev, _, _, r2, logdetC, gld, gr2, *_ = self._kernel(theta, want_grad=True)
        if not np.isfinite(dev):
            return None
        m = self.m
        logdet = dev - m * (1.0 + np.log(2.0 * np.pi * r2 / m))
        t1 = self.terms[self.first]
        J = lambda_jacobian(t1, theta[t1.theta_index])
        dld = np.zeros(self.n_theta)
        dr2 = np.zeros(self.n_theta)
        dld[t1.theta_index] = gld.ravel() @ J
        dr2[t1.theta_index] = gr2.ravel() @ J
        return loglike_s2_from_parts(logdet, r2, dld, dr2, s2, m)

    def gls_summary(self, theta):
        """(deviance, beta, r2, C) at ``theta`` from the kernel, where ``s2 C^-1`` is the
        covariance of the GLS beta; ``None`` where the factorization fails."""
        out = self._kernel(theta)
        if not np.isfinite(out[0]):
            return None
        return out[0], out[2], out[3], out[10]

    def loglike_profile_s2(self, theta, s2, beta=None):
        if beta is not None:
            return super().loglike_profile_s2(theta, s2, beta)
        dev, _, _, r2, logdetC, *_ = self._kernel(theta)
        m = self.m
        logdet = dev - m * (1.0 + np.log(2.0 * np.pi * r2 / m)) - (logdetC if self.reml
                                                                     else 0.0)
        return -0.5 * (m * np.log(2.0 * np.pi * s2) + logdet
                       + (logdetC if self.reml else 0.0) + r2 / s2)

    def em_moments(self, theta):
        """As :meth:`BlockedLMM.em_moments`, with the sums read from the kernel's gradient
        pass."""
        theta = np.asarray(theta, dtype=float)
        t1 = self.terms[self.first]
        lam = np.ascontiguousarray(t1.cholesky(theta[t1.theta_index]))
        out = self._kernel(theta, want_grad=True)
        dev, r2 = out[0], out[3]
        if not np.isfinite(dev):
            return dev, None
        s2 = r2 / self.m
        S, T = out[7], out[8]
        if self.reml:
            T = T + out[9]
        return dev, [lam @ (S / s2 + T) @ lam.T / t1.n_groups]

    def contributions(self, theta, beta, s2):
        """Per-group log likelihood and scores in (beta, theta, s2) (ML); see
        :func:`~statsmodels_me.objectives.lmm_contributions.one_level_contributions`."""
        if self.reml:
            raise NotImplementedError(
                "mixed: per-cluster contributions are not defined for the restricted (REML) "
                "likelihood, which does not split over clusters; fit by ML")
        return one_level_contributions(self.y, self.X, self.terms[self.first],
                                       np.asarray(theta, float), np.asarray(beta, float),
                                       float(s2))
