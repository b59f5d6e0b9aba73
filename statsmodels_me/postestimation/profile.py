"""Profile-likelihood confidence intervals of variance components (lme4's
``confint(fit, method = "profile")``).

For a variance component v the profile log likelihood is ``ll_p(v) = max ll(v, rest)`` over
every other parameter (fixed effects, ancillary parameters, the other variance components and
covariances); the ``1 - alpha`` interval is ``{v : 2 (ll_max - ll_p(v)) <= chi2_1(1 - alpha)}``,
its limits found by root finding on ``ll_p``. The log likelihood is the model's own
(``model.loglike`` at display-scale parameters): restricted after REML ``mixed``, the Laplace
or quadrature approximation the GLMM was fitted with. Intervals are invariant to monotone
maps, so those of standard deviations are the square roots of these.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from statsmodels_me.postestimation.menl_profile import menl_profile_conf_int
from statsmodels_me.postestimation.newdata import is_glmm
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["profile_conf_int"]

#: numerical failures of a log likelihood evaluated far from the estimates (a covariance
#: matrix that is not positive definite, an overflow): the point is outside the model
_OUTSIDE = (SpecificationError, ValueError, ArithmeticError, np.linalg.LinAlgError)


def _check(results):
    model = results.model
    command = getattr(model.spec, "command", None) or type(model).__name__.lower()
    if not (is_glmm(results) or command.startswith("mixed")) or \
            not hasattr(model, "loglike"):
        raise NotImplementedError(f"conf_int(method='profile') is not implemented after "
                                  f"{command}")


def _loglike(model, full):
    try:
        val = float(model.loglike(full))
    except _OUTSIDE:
        return -np.inf
    return val if np.isfinite(val) else -np.inf


def _display_gradient(model, params):
    """``full -> (ll, d ll / d full)`` from a GLMM objective's analytic gradient in its
    internal parameters x, mapped to the display parameters by g_d = J^-T g_x
    (J = d display / d x, square for the identity, independent and unstructured
    structures); None where the model has no such map."""
    dmap = getattr(model, "display_map", None)
    obj = getattr(model, "objective", None)
    if dmap is None or not hasattr(obj, "value_and_grad"):
        return None
    try:
        J = dmap.jacobian(dmap.internal(params))
    except _OUTSIDE:
        return None
    if J.shape[0] != J.shape[1]:
        return None

    def fn(full):
        x = dmap.internal(full)
        val, g = obj.value_and_grad(x)
        return float(val), np.linalg.solve(dmap.jacobian(x).T, np.asarray(g, float))
    return fn


def _profile_function(model, params, names, j, crit, ll_max):
    """``v -> ll_max - ll_p(v) - crit`` for parameter ``j``: zero at the interval's limits.

    The other variances are optimized on the log scale (they stay positive); each call
    starts from the optimum of the previous one (consecutive calls are close). GLMMs use
    their objective's analytic gradient (:func:`_display_gradient`), other models
    differences of the log likelihood.
    """
    others = [i for i in range(len(params)) if i != j]
    is_var = np.array([names[i].startswith("/var(") for i in others], dtype=bool)
    x0 = np.where(is_var, np.log(np.where(is_var, np.maximum(params[others], 1e-300), 1.0)),
                  params[others])
    start = x0.copy()
    gradient = _display_gradient(model, params)

    def to_full(v, x):
        full = params.copy()
        full[j] = v
        full[others] = np.where(is_var, np.exp(np.minimum(x, 700.0)), x)
        return full

    def negll_and_grad(v, x):
        full = to_full(v, x)
        try:
            with np.errstate(all="ignore"):
                val, g = gradient(full)
        except _OUTSIDE:
            return np.inf, np.zeros_like(x)
        g = g[others] * np.where(is_var, full[others], 1.0)
        if not (np.isfinite(val) and np.all(np.isfinite(g))):
            return np.inf, np.zeros_like(x)
        return -val, -g

    def value(v):
        if not others:
            return ll_max - _loglike(model, to_full(v, start)) - crit
        if gradient is not None:
            fit = optimize.minimize(lambda x: negll_and_grad(v, x), start, jac=True,
                                    method="BFGS", options={"gtol": 1e-7})
        else:
            fit = optimize.minimize(lambda x: -_loglike(model, to_full(v, x)), start,
                                    method="BFGS", options={"gtol": 1e-7})
        if np.isfinite(fit.fun):
            start[:] = fit.x
        return ll_max + fit.fun - crit

    def reset():
        start[:] = x0
    return value, reset


def profile_conf_int(results, alpha=0.05, which=None):
    """Profile-likelihood intervals of variance components after ``mixed``, after
    ``meglm`` (every family and shortcut, metobit/meintreg/mestreg) with one grouping level,
    nested levels or crossed effects (Laplace), on the likelihood the model was fitted with,
    and after ``menl`` (of the linearization log likelihood;
    :mod:`statsmodels_me.postestimation.menl_profile`).

    Parameters
    ----------
    results : results of ``mixed`` or ``meglm``
    alpha : float
        The intervals have level ``1 - alpha``.
    which : list of str, optional
        Names of the components (default every ``/var(...)`` parameter).

    Returns
    -------
    DataFrame
        Index: parameter names; columns ``ci_lower``, ``ci_upper``. A lower limit on the
        boundary is 0.

    Raises
    ------
    NotImplementedError
        After commands without a likelihood to profile.
    """
    if getattr(results.model, "command", None) == "menl":
        return menl_profile_conf_int(results, alpha, which)
    _check(results)
    model = results.model
    names = list(results.param_names)
    params = np.asarray(results.params, float)
    which = which or [n for n in names if n.startswith("/var(")]
    crit = stats.chi2.ppf(1 - alpha, 1) / 2
    ll_max = float(model.loglike(params))
    se = np.sqrt(np.abs(np.diag(np.asarray(results.cov_params(), float))))
    out = {}
    for name in which:
        if name not in names:
            raise SpecificationError(f"profile: no parameter named '{name}'")
        j = names.index(name)
        profile, reset = _profile_function(model, params, names, j, crit, ll_max)
        est = params[j]
        step = se[j] if np.isfinite(se[j]) and se[j] > 0 else 0.0
        step = max(step, 1e-3 * abs(est), 1e-8)
        lo = 0.0
        if est > 0 and profile(1e-10 * max(est, 1.0)) > 0:
            a, b = est, max(est - step, est / 2)
            while profile(b) < 0 and b > 1e-10:
                a, b = b, b / 2
            lo = optimize.brentq(profile, b, a, xtol=1e-10 * max(est, 1.0))
        reset()
        a, b = est, est + step
        while profile(b) < 0:
            a, b = b, b + 2 * (b - est)
        hi = optimize.brentq(profile, a, b, xtol=1e-10 * max(est, 1.0))
        reset()
        out[name] = (lo, hi)
    return pd.DataFrame.from_dict(out, orient="index", columns=["ci_lower", "ci_upper"])
