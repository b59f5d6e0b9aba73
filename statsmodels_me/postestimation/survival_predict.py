"""``predict`` after ``mestreg`` (Stata's [ME] mestreg postestimation).

Survival statistics at each row's exit time ``_t``: ``mean`` and ``median`` survival time,
``survival`` S(t), ``hazard`` h(t), ``density`` f(t) and ``distribution`` F(t) = 1 - S(t),
from the family object of the fitted distribution
(:mod:`statsmodels_me.families.survival`).  Conditionally they are evaluated at the linear
predictor with the random effects at their empirical Bayes means or modes (or at zero,
``fixedonly``).  Marginally (Stata's ``marginal``) the random effects are integrated out
over their fitted normal distribution: z_i'b is N(0, z_i' Sigma z_i) whatever the levels, so
every marginal function is a one-dimensional Gauss-Hermite integral per row:
S_m(t) = E S(t | b), f_m(t) = E f(t | b), F_m = 1 - S_m, h_m = f_m / S_m,
mean_m = E mean(b) (= int S_m), and median_m solves S_m(t) = 1/2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me._kernels.quadrature import gh_grid
from statsmodels_me.families import COMMON_STATISTICS
from statsmodels_me.postestimation import meglm_predict, newdata
from statsmodels_me.spec.errors import DataError, SpecificationError

SURVIVAL_STATISTICS = ("mean", "median", "survival", "hazard", "density", "distribution")
#: statistics evaluated at a time (the new data must hold the time variable)
TIMED_STATISTICS = ("survival", "hazard", "density", "distribution")
MARGINAL_POINTS = 30


def is_marginal(conditional) -> bool:
    """Whether ``conditional`` asks for the marginal prediction (False or "marginal")."""
    return conditional is False or conditional == "marginal"


def linear_predictor(results, conditional, ebmodes, nooffset):
    """(xb, eta) of the estimation rows; eta is None for marginal predictions."""
    xb = meglm_predict.predict(results, "xb", nooffset=nooffset).to_numpy()
    if is_marginal(conditional):
        if ebmodes:
            raise SpecificationError("predict: ebmodes=True conflicts with marginal "
                                     "predictions")
        return xb, None
    eta = meglm_predict.predict(results, "eta", conditional, ebmodes, nooffset=nooffset)
    return xb, eta.to_numpy()


def random_effect_sd(results):
    """sd of z_i'b per row under the fitted random-effects distribution."""
    model = results.model
    theta = model.split_params(results.params_internal)[2]
    ZL = model.random_effects_exog() @ model.cov.cholesky(theta)
    return np.sqrt(np.einsum("ij,ij->i", ZL, ZL))


def normal_nodes(points=MARGINAL_POINTS):
    """Probabilists' Gauss-Hermite nodes and weights (summing to one) of N(0, 1)."""
    nodes, logw = gh_grid(points, 1)
    return nodes[:, 0], np.exp(logw)


def _marginal_median(family, xb, sd, aux, nodes, w):
    """Solve sum_k w_k S(t | xb + sd x_k) = 1/2 by bisection on log t, bracketed by the
    conditional medians at the extreme nodes (S_m lies between the smallest and the largest
    of the S_k)."""
    meds = np.array([family.median_time(xb + sd * x, aux) for x in nodes])
    lo, hi = np.log(np.min(meds, axis=0)), np.log(np.max(meds, axis=0))
    finite = np.isfinite(hi)
    hi = np.where(finite, hi, lo + 50.0)

    def s_marg(logt):
        t = np.exp(logt)
        return sum(wk * family.survival(t, xb + sd * x, aux) for x, wk in zip(nodes, w))
    never = ~finite & (s_marg(hi) > 0.5)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = s_marg(mid) > 0.5
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        if np.all(hi - lo < 1e-13 * np.maximum(1.0, np.abs(hi))):
            break
    return np.where(never, np.inf, np.exp(0.5 * (lo + hi)))


def survival_statistic(family, statistic, t, eta, aux):
    """One statistic of :data:`SURVIVAL_STATISTICS` at times ``t`` and linear predictor
    ``eta``, conditional on the random effects in ``eta``."""
    if statistic == "mean":
        return family.mean_time(eta, aux)
    if statistic == "median":
        return family.median_time(eta, aux)
    if statistic == "survival":
        return family.survival(t, eta, aux)
    if statistic == "hazard":
        return family.hazard(t, eta, aux)
    if statistic == "density":
        return family.density(t, eta, aux)
    return family.cdf(t, eta, (), aux)


def marginal_statistic(family, statistic, t, xb, sd, aux, points=MARGINAL_POINTS):
    """One statistic of :data:`SURVIVAL_STATISTICS` of the marginal distribution (random
    effects integrated out; see the module docstring)."""
    nodes, w = normal_nodes(points)
    if statistic == "median":
        return _marginal_median(family, xb, sd, aux, nodes, w)

    def expect(stat):
        return sum(wk * survival_statistic(family, stat, t, xb + sd * x, aux)
                   for x, wk in zip(nodes, w))
    if statistic in ("mean", "survival", "density"):
        return expect(statistic)
    if statistic == "distribution":
        return 1.0 - expect("survival")
    return expect("density") / expect("survival")


def predict(results, statistic="mean", conditional=True, ebmodes=False, nooffset=False):
    """Predictions after ``mestreg`` (Stata's ``predict``).

    Parameters
    ----------
    statistic : str
        ``mean`` (mean survival time, the default), ``median`` (median survival time),
        ``survival`` (S(t) at the row's exit time ``_t``, not conditional on the entry time),
        ``hazard``, ``density``, ``distribution`` (1 - S(t)), ``xb``, ``eta``, ``reffects``,
        ``reses``.
    conditional : bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        As for :func:`statsmodels_me.postestimation.meglm_predict.predict`: the random
        effects at their empirical Bayes means (default), modes or zero, or integrated out
        (``False``/``"marginal"``, Stata's ``marginal``) over their fitted distribution by
        30-point Gauss-Hermite quadrature.
    ebmodes : bool
        Same as ``conditional="ebmodes"``.
    nooffset : bool
        Leave ``offset()``/``exposure()`` out of the linear predictor.

    Returns
    -------
    pandas.Series or pandas.DataFrame indexed like the estimation sample.
    """
    if statistic in COMMON_STATISTICS:
        return meglm_predict.predict(results, statistic, conditional, ebmodes, None,
                                     nooffset)
    if statistic not in SURVIVAL_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}' after mestreg; "
                                 "expected one of "
                                 f"{', '.join(SURVIVAL_STATISTICS + COMMON_STATISTICS)}")
    model = results.model
    family = model.family_object
    aux = model.split_params(results.params_internal)[1]
    t = np.abs(np.asarray(model.design.endog, float))
    xb, eta = linear_predictor(results, conditional, ebmodes, nooffset)
    if eta is None:
        vals = marginal_statistic(family, statistic, t, xb, random_effect_sd(results), aux)
    else:
        vals = survival_statistic(family, statistic, t, eta, aux)
    return pd.Series(vals, index=model.design.row_index, name=statistic)


def new_data_conditional(conditional, ebmodes):
    """``conditional`` of :mod:`statsmodels_me.postestimation.newdata` from ``predict``'s
    ``conditional`` and ``ebmodes`` arguments."""
    if not ebmodes:
        return conditional
    if conditional in (None, True, "ebmodes"):
        return "ebmodes"
    raise SpecificationError(f"predict: ebmodes=True conflicts with "
                             f"conditional={conditional!r}")


def refuse_reses(statistic):
    """``reses`` needs the posterior of the estimation sample's groups only."""
    if statistic == "reses":
        raise SpecificationError("predict reses: not available with data= (use predict() "
                                 "on the estimation sample)")


def new_times(model, data, statistic):
    """The exit times of the new rows (NaN where missing).

    Raises
    ------
    DataError
        The time variable the model was fitted with is not in ``data``, or is negative.
    """
    name = getattr(model, "survival_variables", {}).get("time")
    if name is None or name not in data.columns:
        raise DataError(f"predict {statistic} with data=: the new data need the time "
                        f"variable{'' if name is None else f' {name!r}'} (the statistic is "
                        "evaluated at each row's time)")
    t = pd.to_numeric(data[name], errors="coerce").to_numpy(dtype=float)
    if np.any(t < 0):
        raise DataError(f"predict {statistic} with data=: time variable {name!r} has "
                        f"{int(np.sum(t < 0))} negative value(s)")
    return t


def predict_new(results, statistic="mean", data=None, conditional=True, ebmodes=False,
                nooffset=False, new_groups="zero"):
    """Predictions after ``mestreg`` on new rows.

    Parameters
    ----------
    statistic : str
        As :func:`predict` but ``reses``; ``survival``, ``hazard``, ``density`` and
        ``distribution`` are evaluated at the time variable the model was fitted with (a
        column of ``data``; rows with it missing are NaN).
    data : pandas.DataFrame
        New rows with the covariates, grouping and offset variables; not modified.
    conditional : bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        Rows of groups of the estimation sample get the groups' empirical Bayes means (or
        modes) of the random effects; rows of other groups the fixed portion (see
        ``new_groups``); ``fixedonly`` sets every random effect to zero; marginal
        predictions integrate over the fitted random-effects distribution as :func:`predict`.
    ebmodes, nooffset : bool
    new_groups : {"zero", "error"}
        Groups the fit never saw: random effects zero, or a DataError.

    Returns
    -------
    pandas.Series (DataFrame for ``reffects``) indexed like ``data``; NaN on rows with a
    missing covariate.
    """
    if statistic not in SURVIVAL_STATISTICS + COMMON_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}' after mestreg; "
                                 "expected one of "
                                 f"{', '.join(SURVIVAL_STATISTICS + COMMON_STATISTICS)}")
    refuse_reses(statistic)
    conditional = new_data_conditional(conditional, ebmodes)
    if statistic in COMMON_STATISTICS:
        return newdata.predict_new(results, statistic, data, conditional, new_groups, None,
                                   nooffset)
    model = results.model
    family = model.family_object
    aux = model.split_params(results.params_internal)[1]
    lin = newdata.NewLinearPredictor(results, data, conditional, new_groups, nooffset)
    ok = lin.rows.complete.copy()
    t = None
    if statistic in TIMED_STATISTICS:
        t = new_times(model, data, statistic)
        ok &= ~np.isnan(t)
        t = t[ok]
    vals = np.full(len(ok), np.nan)
    if lin.eta is None:
        vals[ok] = marginal_statistic(family, statistic, t, lin.xb[ok], lin.sd[ok], aux)
    else:
        vals[ok] = survival_statistic(family, statistic, t, lin.eta[ok], aux)
    return pd.Series(vals, index=lin.rows.index, name=statistic)


def get_prediction(results, statistic=None, data=None, conditional=None, new_groups="zero",
                   nooffset=False):
    """Predictions with standard errors and confidence intervals on new rows after
    ``mestreg``: ``xb`` or ``eta`` (the default), as
    :func:`statsmodels_me.postestimation.newdata.get_prediction` (the fixed effects'
    uncertainty; predicted random effects taken as known)."""
    statistic = statistic or "eta"
    if statistic not in ("xb", "eta"):
        raise SpecificationError(f"get_prediction: statistic '{statistic}' has no standard "
                                 "error after mestreg; use xb or eta")
    return newdata.get_prediction(results, statistic, data, conditional=conditional,
                                  new_groups=new_groups, nooffset=nooffset)
