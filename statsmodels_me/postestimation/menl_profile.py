"""Profile-likelihood intervals of variance components after ``menl``.

``menl``'s log likelihood is the linearization log likelihood: the (restricted) log
likelihood of the linear mixed model obtained by linearizing the mean function at the
estimates, the objective the alternating algorithm maximizes at its fixed point (Lindstrom
and Bates 1990). Its profile in a variance component v is that objective at the fixed point
of the same algorithm with v held at a value and every other parameter free
(``model.fit_fixed``): the linearization is redone at each value of v, so the profile is a
function of v alone, equal to the maximum at the estimate. The ``1 - alpha`` interval is
``{v : 2 (ll_max - ll_p(v)) <= chi2_1(1 - alpha)}``, as after ``mixed``
(:mod:`statsmodels_me.postestimation.profile`). The intervals inherit the linearization's
approximation to the likelihood, as the Wald intervals inherit it through the observed
information.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from statsmodels_me.spec.errors import ConvergenceWarning, SpecificationError

__all__ = ["menl_profile_conf_int"]

#: stopping rules of the fits with a component held fixed: tighter than the fit's defaults,
#: so that the profile is smooth enough for root finding
_TOLERANCE, _LTOLERANCE = 1e-9, 1e-13


def _profile_function(results, name, crit):
    model = results.model
    params = np.asarray(results.params, float)
    point = results.inference_point

    def llf(v):
        fit = model.fit_fixed({name: v}, params, point, tolerance=_TOLERANCE,
                              ltolerance=_LTOLERANCE, maxiter=500)
        if not fit.converged:
            warnings.warn(f"menl profile: the fit with {name} = {v:.6g} did not converge",
                          ConvergenceWarning, stacklevel=4)
        return fit.llf
    est = params[list(results.param_names).index(name)]
    ll_max = max(float(results.llf), llf(est))

    def value(v):
        return ll_max - llf(v) - crit
    return value, ll_max


def menl_profile_conf_int(results, alpha=0.05, which=None):
    """Profile-likelihood intervals of the variance components after ``menl``.

    Parameters
    ----------
    results : MENLResults
    alpha : float
        The intervals have level ``1 - alpha``.
    which : list of str, optional
        Names of the components (default every random-effects variance and ``/var(e)``);
        random-effects covariances may be named too.

    Returns
    -------
    DataFrame
        Index: parameter names; columns ``ci_lower``, ``ci_upper``. A lower limit of a
        variance on the boundary is 0.
    """
    model = results.model
    names = list(results.param_names)
    params = np.asarray(results.params, float)
    holdable = names[results.k_fe:model.n_structure]
    which = which or [n for n in holdable if n.startswith("/var(")]
    crit = stats.chi2.ppf(1 - alpha, 1) / 2
    se = np.sqrt(np.abs(np.diag(np.asarray(results.cov_params(), float))))
    out = {}
    for name in which:
        if name not in holdable:
            raise SpecificationError(f"profile after menl: '{name}' is not a random-effects "
                                     f"variance or covariance or /var(e) "
                                     f"({', '.join(holdable)})")
        j = names.index(name)
        profile, _ = _profile_function(results, name, crit)
        est = params[j]
        step = se[j] if np.isfinite(se[j]) and se[j] > 0 else 0.0
        step = max(step, 1e-3 * abs(est), 1e-8)
        xtol = 1e-10 * max(abs(est), 1.0)
        if name.startswith("/var("):
            lo = 0.0
            if est > 0 and profile(1e-10 * max(est, 1.0)) > 0:
                a, b = est, max(est - step, est / 2)
                while profile(b) < 0 and b > 1e-10:
                    a, b = b, b / 2
                lo = optimize.brentq(profile, b, a, xtol=xtol)
        else:
            a, b = est, est - step
            while profile(b) < 0:
                a, b = b, b - 2 * (a - b)
            lo = optimize.brentq(profile, b, a, xtol=xtol)
        a, b = est, est + step
        while profile(b) < 0:
            a, b = b, b + 2 * (b - est)
        hi = optimize.brentq(profile, a, b, xtol=xtol)
        out[name] = (lo, hi)
    return pd.DataFrame.from_dict(out, orient="index", columns=["ci_lower", "ci_upper"])
