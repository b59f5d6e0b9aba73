"""LMM-specific optimization steps on the profiled deviance: the curvature of its two parts,
the Newton polish, Newton's method from a near start, and the zero-variance rescan.

The deviance is D = logdet + m log r2 + const (``logdet`` with log|R_X|^2 under REML, m = n
or n - p), so its Hessian and the observed information of (theta, s2) are exact functions of
the Hessians of logdet and r2 and of first derivatives
(:mod:`statsmodels_me.objectives.lmm_profiled`). :class:`DevianceCurvature` computes those two
Hessians once (exactly where the objective has them, else from differences of the analytic
gradient parts) and serves both the Newton steps and the standard errors.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

from statsmodels_me.objectives.lmm_profiled import deviance_hessian
from statsmodels_me.optimization.hessian import (
    gradient_hessian,
    relative_step,
    symmetric_value_hessian,
)
from statsmodels_me.optimization.quasi_newton import (
    ZeroRescan,
    hit_limit,
    rescan_zero,
    stuck_at_zero,
)


def hessian_steps(theta, idx):
    """Difference steps for theta[idx]: 1e-5 of each parameter's scale (floored at a
    tenth of the largest |theta|)."""
    floor = 0.1 * np.abs(theta).max() if len(theta) else 1.0
    return 1e-5 * np.maximum(np.abs(theta[idx]), floor if floor > 0 else 1.0)


class DevianceCurvature:
    """Hessians in theta of the deviance's parts (log det, r2) of an analytic-gradient LMM
    objective, remembering the last central (or exact) set for the standard errors.

    Parameters
    ----------
    objective : OneTermLMM or CrossedScalarLMM
        Has ``grad_parts`` (and ``second_parts`` where ``exact_hessian``).
    """

    def __init__(self, objective):
        self.objective = objective
        self._last = None

    def second_parts(self, theta, idx, central=True):
        """``(Hld, Hr2)`` in theta[idx]: exact where the objective has them, else central
        differences of the analytic gradient parts; ``None`` where those fail.

        ``central=False`` takes forward differences from the gradient at ``theta`` (half
        the evaluations, error ~1e-5 relative): enough for a Newton step, not kept for the
        standard errors.
        """
        obj = self.objective
        exact = obj.second_parts(theta) if obj.exact_hessian else None
        if exact is not None:
            out = (exact[0][np.ix_(idx, idx)], exact[1][np.ix_(idx, idx)])
            self._last = (theta.copy(), tuple(int(i) for i in idx), out)
            return out
        k = len(idx)
        Hld, Hr2 = np.empty((k, k)), np.empty((k, k))
        p0 = None if central else obj.grad_parts(theta)
        for a, (i, h) in enumerate(zip(idx, hessian_steps(theta, idx))):
            tp, tm = theta.copy(), theta.copy()
            tp[i] += h
            tm[i] -= h
            pp = obj.grad_parts(tp)
            pm = obj.grad_parts(tm) if central else p0
            if pp is None or pm is None:
                return None
            d = 2 * h if central else h
            Hld[:, a] = (pp[2][idx] - pm[2][idx]) / d
            Hr2[:, a] = (pp[3][idx] - pm[3][idx]) / d
        out = (0.5 * (Hld + Hld.T), 0.5 * (Hr2 + Hr2.T))
        if central:
            self._last = (theta.copy(), tuple(int(i) for i in idx), out)
        return out

    def kept_parts(self, theta, idx):
        """The remembered parts when they were taken on ``idx`` within 1e-7 (relative) of
        ``theta``, else ``None``."""
        if self._last is None or self._last[1] != tuple(int(i) for i in idx):
            return None
        scale = max(float(np.abs(theta).max()) if len(theta) else 0.0, 1e-300)
        if np.abs(theta - self._last[0]).max() <= 1e-7 * scale:
            return self._last[2]
        return None

    def deviance_hessian(self, theta, idx, central=True):
        """Hessian of the deviance in theta[idx] from :meth:`second_parts`, or ``None``."""
        obj = self.objective
        at = obj.grad_parts(theta)
        parts = self.second_parts(theta, idx, central) if at is not None else None
        if parts is None:
            return None
        _, r2, _, dr2 = at
        Hld, Hr2 = parts
        return deviance_hessian(Hld, Hr2, r2, dr2[idx], obj.m)


def deviance_second_differences(objective, theta, idx):
    """Hessian of the deviance in theta[idx] from second differences (several terms)."""
    def dev_sub(sub):
        t = theta.copy()
        t[idx] = sub
        return objective.deviance(t)
    return symmetric_value_hessian(dev_sub, theta[idx], 1e-4 * np.maximum(np.abs(theta[idx]), 1e-2))


def gradient_differences(objective, best, idx):
    """Hessian of the deviance in theta[idx] from central differences of the analytic
    gradient (steps 1e-5 of each parameter, floored at 1e-2)."""
    return gradient_hessian(lambda t: objective.deviance_and_grad(t)[1], best, idx,
                            relative_step(1e-5, 1e-2))


def polish(objective, curvature, theta, bounds):
    """Newton steps on the deviance (one Hessian for every step: near the optimum it barely
    changes) to tighten the optimum beyond what the quasi-Newton stopping rule guarantees.
    Parameters at their lower bound stay there."""
    free = np.array([not (lo is not None and abs(theta[i] - lo) < 1e-7)
                     for i, (lo, _) in enumerate(bounds)], dtype=bool)
    if not free.any():
        return theta
    best = theta.copy()
    idx = np.flatnonzero(free)
    analytic = objective.analytic_gradient
    H = curvature.deviance_hessian(best, idx) if analytic else None
    if H is None:
        H = (gradient_differences(objective, best, idx) if analytic
             else deviance_second_differences(objective, best, idx))
    H = 0.5 * (H + H.T)
    fbest, g = objective.deviance_and_grad(best)
    for _ in range(3):
        try:
            step = np.linalg.solve(H, g[idx])
        except np.linalg.LinAlgError:
            break
        cand = best.copy()
        cand[idx] -= step
        for i, (lo, _) in enumerate(bounds):
            if lo is not None and cand[i] < lo:
                cand[i] = lo
        fc, gc = objective.deviance_and_grad(cand)
        # within the deviance's rounding noise (an optimum already resolved to ~1e-15,
        # a flat ridge) the gradient decides: the step must shrink it
        noise = 1e-13 * max(abs(fbest), 1.0)
        if not (fc < fbest - noise or (fc <= fbest + noise and
                                       np.linalg.norm(gc[idx]) < np.linalg.norm(g[idx]))):
            break
        done = fbest - fc < 1e-12
        best, fbest, g = cand, fc, gc
        if done:
            break
    return best


def newton_near(objective, curvature, theta0, bounds, maxiter, callback=None):
    """Newton's method on the deviance from a start near the optimum (a converged EM).

    Each iteration takes the Hessian from :meth:`DevianceCurvature.deviance_hessian`
    (forward differences at the start, central after it) and stops when half the Newton
    decrement g' H^-1 g is below 1e-10; the last (central) parts, at the estimate itself,
    serve the standard errors. Returns ``None`` (the caller runs its quasi-Newton method)
    when a parameter is within 1e-2 (relative) of its bound, the Hessian is not positive
    definite, a step does not decrease the deviance (Armijo, within its rounding noise) or
    ``maxiter`` steps do not converge.
    """
    x = np.asarray(theta0, dtype=float).copy()
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    hi = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
    idx = np.arange(len(x))
    nit = 0
    while True:
        scale = max(float(np.abs(x).max()), 1e-300)
        if np.any(x - lo < 1e-2 * scale) or np.any(hi - x < 1e-2 * scale):
            return None
        f, g = objective.deviance_and_grad(x)
        if not np.isfinite(f):
            return None
        H = curvature.deviance_hessian(x, idx, central=nit > 0)
        if H is None:
            return None
        try:
            c = np.linalg.cholesky(0.5 * (H + H.T))
        except np.linalg.LinAlgError:
            return None
        step = np.linalg.solve(c.T, np.linalg.solve(c, g))
        dec = float(g @ step)
        if 0.5 * dec <= 1e-10:
            return OptimizeResult(x=x, fun=f, jac=g, nit=nit, success=True, status=0,
                                  message="Newton decrement below tolerance",
                                  converged_newton=True)
        if nit >= maxiter:
            return None
        cand = x - step
        fc = objective.deviance_and_grad(cand)[0]
        if not fc <= f - 1e-4 * dec + 1e-13 * abs(f):
            return None
        x = cand
        nit += 1
        if callback is not None:
            callback(x, fc)


def rescan_zeros(run, deviance, res, bounds, partners):
    """Restart ``run`` where a standard deviation stuck at zero is better off positive.

    A standard deviation at exactly zero is a stationary point of the deviance (it is
    even in that parameter), so a gradient method can stall there after overshooting.
    Each such coordinate is scanned on a geometric grid
    (:func:`~statsmodels_me.optimization.quasi_newton.rescan_zero`), and the optimizer
    restarts where the deviance is lower (at most three times); a true boundary estimate
    survives the scan. ``partners`` maps an Unstructured Cholesky diagonal to the entries
    below it, whose sign is free when the diagonal is zero: both signs are scanned.

    Returns
    -------
    OptimizeResult
        The last run's result.
    """
    rescan = ZeroRescan(grid=np.geomspace(1e-3, 3.0, 15), improvement=1e-10, at_zero=1e-6,
                        partners=partners)
    theta = res.x
    for _ in range(3):
        if not stuck_at_zero(theta, bounds, rescan.at_zero) or hit_limit(res):
            break
        best, _ = rescan_zero(deviance, theta, bounds, rescan)
        if best is theta:
            break
        res = run(best)
        theta = res.x
    return res
