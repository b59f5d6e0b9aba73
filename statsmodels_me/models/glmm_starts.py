"""Starting values of a GLMM: the model without random effects (Stata's "Fitting
fixed-effects model"), the separation check on it, and the grid of starting variances.

``family`` arguments are :class:`statsmodels_me.families.base.Family` objects."""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.models.glm_newton import glm_newton
from statsmodels_me.optimization.quasi_newton import maximize_unbounded
from statsmodels_me.spec.errors import ConvergenceWarning, DataError

_GRID = (0.25, 0.5, 1.0, 2.0)


def fit_fixed(objective, design, family, link, X, z0, log, evaluate=None):
    """The model without random effects: Newton's method on the GLM for the families that
    have it (``family.glm_newton``: no ancillary parameters; unweighted), else BFGS on the
    objective with ``L = 0`` (every integration method is exact there; the Laplace objective
    costs one node per cluster).

    ``evaluate``: the GLM's log likelihood, score and information from elsewhere than
    ``design`` and ``X`` (see :func:`~statsmodels_me.models.glm_newton.glm_newton`).

    Returns ``(z, llf)`` with ``z = (beta, ancillary)``.
    """
    log.append("Fitting fixed-effects model:")
    if family.glm_newton and not getattr(objective.engine, "weighted", False):
        y = t = off = None
        if evaluate is None:
            y, t, off = family.response_arrays(design.endog, design.trials, design.offset)
        out = glm_newton(family.name, link, y, t, off, X, z0, evaluate=evaluate)
        if out is not None:
            beta, llf, it = out
            log.append(f"Iteration {it}:  Log likelihood = {llf:.8g}")
            return beta, llf
    res = maximize_unbounded(objective.fixed_value_and_grad, z0, {"gtol": 1e-8, "maxiter": 500})
    log.append(f"Iteration {res.nit}:  Log likelihood = {-res.fun:.8g}")
    return res.x, -res.fun


def check_separation(objective, family, X, xnames, z_fixed, llf_fixed, command, yname,
                     moments=None):
    """Perfect prediction by the fixed effects (binary, binomial and ordinal outcomes).

    Complete separation (every observation fitted exactly) has no finite MLE and raises
    :class:`DataError`; quasi-complete separation (a subset fitted exactly, a coefficient
    diverging) gives a :class:`ConvergenceWarning` naming the coefficients.
    ``moments``: ``(n, sd)``, the number of observations and the columns' standard
    deviations, where ``X`` is not at hand (a distributed fit's reduced sums).

    Returns the positions of the diverging coefficients.
    """
    if not family.can_separate:
        return []
    k = len(xnames)
    z = np.asarray(z_fixed, float)
    n, sd = (len(objective.engine.endog), np.std(X, axis=0)) if moments is None else moments
    # a diverging coefficient leaves (almost) no curvature: the information per observation
    # about beta_j * sd_j is ~exp(-|eta|) on the perfectly predicted side
    big = []
    for j in range(k):
        if sd[j] == 0 or abs(z[j]) * sd[j] < 5.0:
            continue
        h = 1e-3 / sd[j]
        zp, zm = z.copy(), z.copy()
        zp[j] += h
        zm[j] -= h
        curv = -(objective.fixed_value_and_grad(zp)[1][j]
                 - objective.fixed_value_and_grad(zm)[1][j]) / (2 * h)
        if curv < 1e-6 * n * sd[j] ** 2:
            big.append(j)
    # the log likelihood at the fixed-effects fit: 0 means every observation fitted exactly
    if abs(llf_fixed) < 1e-6 * n:
        raise DataError(
            f"{command}: the covariates predict outcome '{yname}' perfectly (complete "
            "separation); the model has no finite maximum likelihood estimates")
    if big:
        names = ", ".join(xnames[j] for j in big)
        warnings.warn(
            f"{command}: quasi-complete separation: the coefficient(s) of {names} diverge (a "
            "covariate predicts the outcome perfectly for some observations); their standard "
            "errors are not reported", ConvergenceWarning, stacklevel=4)
    return big


def grid_start(objective, z_fixed, theta0, log):
    """The best of the fixed-effects fit with the starting covariance scaled by 0.25, 0.5, 1
    and 2 (the grid only ranks starting points: the Laplace approximation suffices)."""
    log.append("Refining starting values:")
    best = None
    for s in _GRID:
        cand = np.concatenate([z_fixed, theta0 * s])
        val = objective.value(cand)
        if best is None or val > best[0]:
            best = (val, cand)
    log.append(f"Grid node 0:  Log likelihood = {best[0]:.8g}")
    return best[1]
