"""Starting values of a distributed GLMM fit from reduced sums: the fixed-effects model by
Newton's method on summed scores and informations, the separation check on reduced moments.

They follow :mod:`statsmodels_me.models.glmm_starts` and
:func:`statsmodels_me.models.glm_newton.glm_newton` step for step, with every pass over the
data replaced by a sum over the partitions, so a fit starts where the in-memory fit starts.
"""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.optimization.quasi_newton import maximize_unbounded
from statsmodels_me.spec.errors import ConvergenceWarning, DataError


def glm_newton_summed(parts, beta0, tol=1e-12, maxiter=60):
    """:func:`~statsmodels_me.models.glm_newton.glm_newton` with the log likelihood, score
    and information summed over the partitions; same steps, same stopping rule.

    Returns ``(beta, llf, iterations)`` or None (the caller falls back to quasi-Newton).
    """
    def evaluate(b):
        out = parts.map("glm_score_info", b)
        ll = sum(o[0] for o in out)
        return (ll if np.isfinite(ll) else -np.inf), sum(o[1] for o in out), \
            sum(o[2] for o in out), sum(o[3] for o in out)

    beta = np.asarray(beta0, float).copy()
    ll, const, g, info = evaluate(beta)
    if not np.isfinite(ll):
        return None
    for it in range(1, maxiter + 1):
        try:
            R = np.linalg.cholesky(info)
        except np.linalg.LinAlgError:
            return None
        dR = np.diag(R)
        if dR.min() <= 1e-7 * dR.max():
            return None
        step = np.linalg.solve(R.T, np.linalg.solve(R, g))
        decrement = float(g @ step)
        lam = 1.0
        for _ in range(40):
            cand = beta + lam * step
            llc, _, g_c, info_c = evaluate(cand)
            if llc >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            lam *= 0.5
        else:
            return None
        beta, ll, g, info = cand, llc, g_c, info_c
        if decrement < tol:
            return beta, ll + const, it
    return None


def fit_fixed_summed(parts, objective, family, z0, log):
    """:func:`~statsmodels_me.models.glmm_starts.fit_fixed` over the partitions."""
    log.append("Fitting fixed-effects model:")
    if family.glm_newton:
        out = glm_newton_summed(parts, z0)
        if out is not None:
            beta, llf, it = out
            log.append(f"Iteration {it}:  Log likelihood = {llf:.8g}")
            return beta, llf
    res = maximize_unbounded(objective.fixed_value_and_grad, z0, {"gtol": 1e-8, "maxiter": 500})
    log.append(f"Iteration {res.nit}:  Log likelihood = {-res.fun:.8g}")
    return res.x, -res.fun


def check_separation_summed(objective, family, n, sd, xnames, z_fixed, llf_fixed, command,
                            yname):
    """:func:`~statsmodels_me.models.glmm_starts.check_separation` with the number of
    observations ``n`` and the column standard deviations ``sd`` reduced on the workers."""
    if not family.can_separate:
        return []
    z = np.asarray(z_fixed, float)
    big = []
    for j in range(len(xnames)):
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
