"""Newton's method on log(theta) with an exact Hessian, for relative scales bounded below by 0.

The problem supplies (see
:class:`~statsmodels_me.objectives.lmm_crossed_scalar.CrossedScalarLMM`):

- ``work_deviance(theta, need_factor=True)`` -> (deviance, handle): the objective to minimize
  and an opaque handle (the factorization) that ``deviance_grad_hess`` may reuse;
- ``deviance_grad_hess(theta, handle=None)`` -> (deviance, gradient, Hessian) or ``None``;
- ``last_step(x, f, g, cand)`` -> (theta, deviance, gradient): take a converged iteration's
  final tiny step;
- ``blas_scope()``: a context manager the iteration runs in.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult


def log_newton_step(x, g, H):
    """Newton step in phi = log(theta) and its decrement g_phi' step.

    g_phi = theta * g, H_phi = diag(theta) H diag(theta) + diag(theta * g); the direction
    comes from H_phi with its eigenvalues replaced by their absolute values (a descent
    direction away from saddles).
    """
    gl = x * g
    Hl = x[:, None] * H * x[None, :] + np.diag(gl)
    w, V = np.linalg.eigh(Hl)
    wa = np.maximum(np.abs(w), 1e-10 * max(np.abs(w).max(), 1e-300))
    step = -V @ ((V.T @ gl) / wa)
    return step, -float(gl @ step)


def _heading_to_zero(problem, x, f, g, H, dphi):
    """Whether the iteration is shrinking scales towards their bound of zero.

    Near a boundary estimate the deviance is even in theta_k, D ~ D0 + a theta_k^2, so
    the log-scale Newton step only halves theta_k per iteration, and the decrease it
    predicts, a theta_k^2 / 2, leaves the deviance above D0. When the last step shrank
    some scales (by more than 25%) while the others moved little, and the deviance with
    those scales at zero is below what the next step promises, the caller's bounded
    optimizer takes over.
    """
    shrink = dphi < -0.3
    if not shrink.any() or np.any(np.abs(dphi[~shrink]) >= 0.2):
        return False
    at0 = np.where(shrink, 0.0, x)
    return problem.work_deviance(at0)[0] <= f - 0.5 * log_newton_step(x, g, H)[1]


def applies(bounds):
    """Whether the log-scale iteration fits ``bounds`` (every theta bounded below by 0 only)."""
    return not any(b[0] != 0.0 or b[1] is not None for b in bounds)


def minimize_log_newton(problem, theta0, bounds, maxiter=200, callback=None, tol=1e-10,
                        alternative=None):
    """Minimize ``problem``'s deviance by Newton's method on phi = log(theta).

    Relative scales act multiplicatively, which keeps the steps inside the bounds and
    shortens the approach from a distant start. Steps are at most a factor e^2 per
    coordinate; backtracking until the Armijo condition holds costs one factorization per
    trial point, and the accepted point's factorization is reused for its derivatives.
    Stops when half the Newton decrement g' H^-1 g, the predicted decrease of the deviance,
    is below ``tol``. It starts from ``alternative`` (another start, e.g. from sub-model fits)
    instead of ``theta0`` when the deviance is lower there.

    Returns
    -------
    scipy.optimize.OptimizeResult or None
        ``None`` when the method does not apply (bounds other than theta >= 0) or gives up:
        a relative scale heading to zero (a boundary estimate, where the deviance is even
        and the log scale has no optimum), a failed factorization or more than 30
        iterations. ``callback(theta, deviance)`` follows each iteration.
    """
    if not applies(bounds):
        return None
    with problem.blas_scope():
        return _iterate(problem, theta0, maxiter, callback, tol, alternative)


def _iterate(problem, theta0, maxiter, callback, tol, alt):
    x = np.asarray(theta0, dtype=float).copy()
    fac = None
    if alt is not None:
        f0 = problem.work_deviance(x, False)[0] if np.all(x > 0.0) else np.inf
        # the work buffer keeps the last factor: reused when alt is the start
        f1, fac = problem.work_deviance(alt)
        if f1 < f0:
            x = alt
        else:
            fac = None
    if np.any(x <= 0.0):
        return None
    out = problem.deviance_grad_hess(x, fac)
    if out is None:
        return None
    f, g, H = out
    phi = np.log(x)
    nit = 0
    status, message = 1, "iteration limit"
    for nit in range(1, maxiter + 1):
        step, dec = log_newton_step(x, g, H)
        if nit > 30 and maxiter > 30:
            # not converging the way Newton's method does near an interior optimum
            return None
        if 0.5 * dec <= tol:
            nit -= 1
            status, message = 0, "Newton decrement below tolerance"
            x, f, g = problem.last_step(x, f, g, np.exp(phi + step))
            break
        big = np.abs(step).max()
        if big > 2.0:
            step *= 2.0 / big
            dec *= 2.0 / big
        t = 1.0
        while True:
            cand = phi + t * step
            fc, fac = problem.work_deviance(np.exp(cand))
            # (1e-13 |f|: the deviance's rounding noise, which near the optimum is
            # as large as the decrease)
            if fc <= f - 1e-4 * t * dec + 1e-13 * abs(f):
                break
            t *= 0.5
            if t < 1e-10:
                return None
        if np.any(cand < np.log(1e-4)):
            return None
        out = problem.deviance_grad_hess(np.exp(cand), fac)
        if out is None or _heading_to_zero(problem, np.exp(cand), *out, t * step):
            return None
        phi, x, (f, g, H) = cand, np.exp(cand), out
        if callback is not None:
            callback(x, f)
    return OptimizeResult(x=x, fun=f, jac=g, hess=H, nit=nit, success=status == 0,
                          status=status, message=message, converged_newton=status == 0)
