"""Lindstrom and Bates (1990) alternating algorithm with Pinheiro and Bates (1995) extensions.

Given the relative covariance factor ``Lambda``, the PNLS step minimizes
``||y - f(beta, b)||^2 + sum_g ||u_g||^2`` over ``beta`` and ``b_g = Lambda u_g`` by
Gauss-Newton with step halving; every Gauss-Newton step is the penalized least-squares
solution of the model linearized at the current estimates
(:meth:`GroupedLME.solve`). The LME step linearizes ``f`` at the PNLS estimates,
``w = y - f + X beta + Z b`` (Lindstrom and Bates 1990, eq. 3.2; X, Z the derivatives of ``f``
with respect to the fixed and random effects), and maximizes the (restricted) likelihood of
``w = X beta + Z b + e`` over the covariance parameters. The two alternate until the
relative change in the parameters (fixed effects, variances and covariances, residual
variance; Stata's ``mreldif``) is at most ``tolerance`` and the relative change in the
linearization log likelihood at most ``ltolerance`` (the criteria and defaults of Stata's
``menl``). Both are required: the alternation converges linearly, and in the flat directions
of an overparameterized model the log likelihood settles long before the variances do.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from statsmodels_me.spec.errors import DataError

__all__ = ["AlternatingResult", "alternate", "nls_start", "pnls"]


def mreldif(a, b):
    """Stata's ``mreldif``: ``max |a - b| / (|b| + 1)``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / (np.abs(b) + 1.0))) if a.size else 0.0


def nls_start(mean, y, beta0, free, candidates, max_grid=4096):
    """Fixed-effects start values: a grid over ``candidates`` for the ``free`` parameters
    (coordinate-wise when the grid exceeds ``max_grid`` points), then nonlinear least squares
    with the random effects at zero from the best points.

    Parameters
    ----------
    mean : MeanFunction
    y : ndarray
    beta0 : ndarray
        Start values; entries ``free`` are replaced.
    free : list of int
        Parameters without a user start value.
    candidates : list of float
        Values tried for every free parameter.

    Returns
    -------
    ndarray or None
        None when no start gives a finite mean function.
    """
    b0 = np.zeros(mean.n_re)
    beta0 = np.asarray(beta0, float).copy()

    def sse(beta):
        r = y - mean.value(beta, b0)
        with np.errstate(all="ignore"):
            return float(r @ r) if np.all(np.isfinite(r)) else np.inf

    starts = []
    if free and len(candidates) ** len(free) <= max_grid:
        scored = []
        for combo in itertools.product(candidates, repeat=len(free)):
            beta = beta0.copy()
            beta[free] = combo
            scored.append((sse(beta), beta))
        scored.sort(key=lambda t: t[0])
        starts = [beta for s, beta in scored[:5] if np.isfinite(s)]
    elif free:
        # too many combinations: coordinate-wise search, two sweeps from all ones
        beta = beta0.copy()
        beta[free] = 1.0
        for _ in range(2):
            for j in free:
                trial = []
                for c in candidates:
                    t = beta.copy()
                    t[j] = c
                    trial.append((sse(t), c))
                best_s, best_c = min(trial, key=lambda t: t[0])
                if np.isfinite(best_s):
                    beta[j] = best_c
        starts = [beta] if np.isfinite(sse(beta)) else []
    elif np.isfinite(sse(beta0)):
        starts = [beta0]
    best = None

    def resid(beta):
        with np.errstate(all="ignore"):
            f, X, _ = mean.evaluate(beta, b0)
        return y - f, X

    for beta in starts:
        try:
            sol = optimize.least_squares(lambda t: resid(t)[0], beta,
                                         jac=lambda t: -resid(t)[1], method="lm",
                                         xtol=1e-10, ftol=1e-10)
        except (ValueError, np.linalg.LinAlgError):
            continue
        s = float(sol.fun @ sol.fun)
        if np.isfinite(s) and (best is None or s < best[0]):
            best = (s, sol.x)
    return None if best is None else best[1]


def linearize(mean, y, beta, b):
    """Derivatives and working response ``w = y - f + X beta + Z b`` at ``(beta, b)``.

    Raises
    ------
    DataError
        When the mean function or its derivatives are not finite there.
    """
    f, X, Z = mean.evaluate(beta, b)
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(X)) and np.all(np.isfinite(Z))):
        bad = int(np.sum(~(np.isfinite(f) & np.isfinite(X).all(1) & np.isfinite(Z).all(1))))
        vals = ", ".join(f"{v:.6g}" for v in beta)
        raise DataError(f"menl: the mean function or its derivatives are not finite for {bad} "
                        f"observations at the parameters ({vals}); give other initial values")
    zb = sum(Z[:, a] * b[rows] for a, rows in enumerate(mean.re_rows))
    return f, X, Z, y - f + X @ beta + zb


def pnls(mean, lme, y, Lam, beta, b, maxiter=100, tol=1e-10):
    """Penalized nonlinear least squares at the relative factor ``Lam``.

    Returns
    -------
    beta, b : ndarray
    """
    u = lme.to_u(Lam, b)
    b = lme.to_b(Lam, u)
    # a residual variance function is held at the fitted values of the start of the step
    lme.set_covariate(mean.value(beta, b))

    def objective(beta, u, b):
        with np.errstate(all="ignore"):
            r = lme.whiten(y - mean.value(beta, b))
            s = float(r @ r) + float(np.sum(u * u))
        return s if np.isfinite(s) else np.inf

    obj = objective(beta, u, b)
    for _ in range(maxiter):
        f, X, Z, w = linearize(mean, y, beta, b)
        lme.set_data(w, X, Z)
        sol = lme.solve_at(Lam)
        d_beta, d_u = sol["beta"] - beta, sol["u"] - u
        step = 1.0
        for _ in range(30):
            nb, nu = beta + step * d_beta, u + step * d_u
            nbv = lme.to_b(Lam, nu)
            new = objective(nb, nu, nbv)
            if new <= obj:
                break
            step *= 0.5
        else:
            break
        change, moved = obj - new, mreldif(nb, beta)
        beta, u, b, obj = nb, nu, nbv, new
        if change <= tol * (obj + tol) and moved <= 1e-8:
            break
    return beta, b


@dataclass
class AlternatingResult:
    beta: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    s2: float
    llf: float
    converged: bool
    iterations: int
    last_change: float
    log: list = field(default_factory=list)
    solution: dict = field(default_factory=dict)


def _lme_step(mean, lme, y, beta, b, theta, warm=True):
    f, X, Z, w = linearize(mean, y, beta, b)
    lme.set_covariate(f)
    lme.set_data(w, X, Z)
    theta = lme.fit_theta(theta, warm=warm)
    sol = lme.solve(theta)
    return theta, sol


def alternate(mean, lme, y, beta0, maxiter=100, tolerance=1e-6, ltolerance=1e-7,
              label="Linearization log likelihood"):
    """Alternate PNLS and LME steps from ``beta0`` (random effects at zero).

    Returns
    -------
    AlternatingResult
        ``llf`` is the (restricted) log likelihood of the last linearized model.
    """
    b = np.zeros(mean.n_re)
    beta = np.asarray(beta0, float)
    theta, sol = _lme_step(mean, lme, y, beta, b, lme.theta_start(), warm=False)
    llf = -0.5 * sol["deviance"]
    params = np.concatenate([beta, lme.display(theta, sol["s2"])])
    log, converged, change, it = [], False, np.inf, 0
    for it in range(1, maxiter + 1):
        beta, b = pnls(mean, lme, y, sol["Lambda"], beta, b)
        theta, sol = _lme_step(mean, lme, y, beta, b, theta)
        new_llf = -0.5 * sol["deviance"]
        new_params = np.concatenate([beta, lme.display(theta, sol["s2"])])
        change = mreldif(new_params, params)
        lchange = abs(new_llf - llf) / (abs(llf) + 1e-300)
        log.append(f"Iteration {it}: {label} = {new_llf:.8g}")
        params, llf = new_params, new_llf
        if change <= tolerance and lchange <= ltolerance:
            converged = True
            break
    return AlternatingResult(beta=sol["beta"], b=sol["b"], theta=theta, s2=float(sol["s2"]),
                             llf=float(llf), converged=converged, iterations=it,
                             last_change=float(change), log=log, solution=sol)
