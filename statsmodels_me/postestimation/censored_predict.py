"""``predict`` after ``metobit`` and ``meintreg`` (Stata's [ME] metobit postestimation).

The latent y* | b ~ N(eta, sigma_e^2).  With alpha = (a - eta) / s and beta = (b - eta) / s:

* ``pr(a,b)`` = P(a < y* < b) = Phi(beta) - Phi(alpha);
* ``e(a,b)`` = E(y* | a < y* < b) = eta + s (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha));
* ``ystar(a,b)`` = E(max(a, min(y*, b))) = a Phi(alpha) + pr(a,b) e(a,b) + b (1 - Phi(beta)).

``a = -inf`` (``.`` in Stata) and ``b = +inf`` are allowed.  Conditional predictions take
eta with the random effects at their empirical Bayes means or modes (or zero); marginal ones
(Stata's ``marginal``) use the marginal distribution of y*, N(xb, sigma_e^2 + z' Sigma z),
exactly.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import special

from statsmodels_me.families import COMMON_STATISTICS
from statsmodels_me.postestimation import meglm_predict, newdata
from statsmodels_me.postestimation.survival_predict import (
    linear_predictor,
    new_data_conditional,
    random_effect_sd,
    refuse_reses,
)
from statsmodels_me.spec.errors import SpecificationError

BOUNDED_STATISTICS = ("pr", "e", "ystar")
CENSORED_STATISTICS = ("mu",) + BOUNDED_STATISTICS


def parse_statistic(statistic, bounds):
    """``"pr(0,3)"`` or ``("pr", (0, 3))`` -> ``("pr", (a, b))``; ``.``, ``None`` and the
    empty string are the infinite bound on their side; names are variables of the data.

    Raises
    ------
    SpecificationError
        An unknown statistic, bounds on a statistic without them, or bounds missing.
    """
    m = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", str(statistic))
    if m is not None:
        if bounds is not None:
            raise SpecificationError(f"predict {statistic}: give the bounds once (in the "
                                     "statistic or as bounds=)")
        parts = m.group(2).split(",")
        if len(parts) != 2:
            raise SpecificationError(f"predict {statistic}: expected {m.group(1)}(a,b)")
        statistic, bounds = m.group(1), tuple(p.strip() for p in parts)
    if statistic not in CENSORED_STATISTICS + COMMON_STATISTICS:
        raise SpecificationError(
            f"predict: unknown statistic '{statistic}' after metobit/meintreg; expected one "
            f"of {', '.join(COMMON_STATISTICS + ('mu', 'pr(a,b)', 'e(a,b)', 'ystar(a,b)'))}")
    if statistic in BOUNDED_STATISTICS:
        if bounds is None or len(bounds) != 2:
            raise SpecificationError(f"predict {statistic}: give the bounds, e.g. "
                                     f"'{statistic}(0,.)' or bounds=(0, None)")
    elif bounds is not None:
        raise SpecificationError(f"predict {statistic}: takes no bounds")
    return statistic, bounds


def _bound(value, side, data, index):
    """A bound as a float vector over the rows of ``data`` (labelled ``index``)."""
    inf = -np.inf if side == 0 else np.inf
    if value is None or (isinstance(value, str) and value in ("", ".")):
        return np.full(len(index), inf)
    if isinstance(value, str):
        try:
            return np.full(len(index), float(value))
        except ValueError:
            pass
        if data is None or value not in data.columns:
            raise SpecificationError(f"predict: bound '{value}' is neither a number nor a "
                                     "variable of the data")
        col = data[value].to_numpy(dtype=float)
        return np.where(np.isnan(col), inf, col)
    return np.full(len(index), float(value))


def _log_interval_probability(za, zb):
    """log(Phi(zb) - Phi(za)) from the tail the interval lies in (no cancellation); NaN
    where za > zb."""
    up = za > 0
    hi, lo = np.where(up, -za, zb), np.where(up, -zb, za)
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.log_ndtr(hi) + np.log1p(-np.exp(special.log_ndtr(lo)
                                                       - special.log_ndtr(hi)))


def bounded_statistic(statistic, a, b, mean, sd):
    """``pr``, ``e`` or ``ystar`` with bounds (a, b) of y* ~ N(mean, sd^2)."""
    za, zb = (a - mean) / sd, (b - mean) / sd
    logp = _log_interval_probability(za, zb)
    if statistic == "pr":
        return np.exp(logp)
    # (phi(za) - phi(zb)) / pr, each density term relative to the interval's probability
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = (np.exp(-0.5 * za ** 2 - 0.5 * np.log(2 * np.pi) - logp)
                 - np.exp(-0.5 * zb ** 2 - 0.5 * np.log(2 * np.pi) - logp))
    cond = mean + sd * ratio
    if statistic == "e":
        return cond
    with np.errstate(invalid="ignore"):
        left = np.where(np.isfinite(a), a * special.ndtr(za), 0.0)
        right = np.where(np.isfinite(b), b * special.ndtr(-zb), 0.0)
    return left + np.exp(logp) * cond + right


def predict(results, statistic="mu", conditional=True, ebmodes=False, nooffset=False,
            bounds=None):
    """Predictions after ``metobit`` and ``meintreg`` (Stata's ``predict``).

    Parameters
    ----------
    statistic : str
        ``mu`` (E(y*), the linear prediction with the random effects; the default), ``xb``,
        ``eta``, ``reffects``, ``reses``, ``pr(a,b)``, ``e(a,b)``, ``ystar(a,b)``; ``a``
        and ``b`` are numbers, ``.`` (infinite) or variable names, in the statistic's text
        or as ``bounds=(a, b)`` (None: infinite).
    conditional : bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        As for :func:`statsmodels_me.postestimation.meglm_predict.predict`; marginal
        predictions use the marginal normal distribution of y* (module docstring).
    ebmodes, nooffset : bool

    Returns
    -------
    pandas.Series or pandas.DataFrame indexed like the estimation sample.
    """
    statistic, bounds = parse_statistic(statistic, bounds)
    if statistic in COMMON_STATISTICS:
        return meglm_predict.predict(results, statistic, conditional, ebmodes, None,
                                     nooffset)
    model = results.model
    aux = model.split_params(results.params_internal)[1]
    xb, eta = linear_predictor(results, conditional, ebmodes, nooffset)
    var_e = float(np.exp(aux[0]))
    if eta is None:
        mean, sd = xb, np.sqrt(var_e + random_effect_sd(results) ** 2)
    else:
        mean, sd = eta, np.full(len(eta), np.sqrt(var_e))
    index = model.design.row_index
    if statistic == "mu":
        return pd.Series(mean, index=index, name="mu")
    data = model.design.sample_data
    a, b = (_bound(v, side, data, index) for side, v in enumerate(bounds))
    vals = bounded_statistic(statistic, a, b, mean, sd)
    return pd.Series(vals, index=index, name=statistic)


def predict_new(results, statistic="mu", data=None, conditional=True, ebmodes=False,
                nooffset=False, bounds=None, new_groups="zero"):
    """Predictions after ``metobit`` and ``meintreg`` on new rows.

    Parameters
    ----------
    statistic : str
        As :func:`predict` but ``reses``; bounds named by a variable are read from
        ``data``.
    data : pandas.DataFrame
        New rows with the covariates, grouping and offset variables; not modified.
    conditional : bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        Rows of groups of the estimation sample get the groups' empirical Bayes means (or
        modes) of the random effects; rows of other groups the fixed portion (see
        ``new_groups``); ``fixedonly`` sets every random effect to zero; marginal
        predictions use the marginal normal distribution of y* as :func:`predict`.
    ebmodes, nooffset : bool
    bounds : tuple, optional
    new_groups : {"zero", "error"}
        Groups the fit never saw: random effects zero, or a DataError.

    Returns
    -------
    pandas.Series (DataFrame for ``reffects``) indexed like ``data``; NaN on rows with a
    missing covariate.
    """
    statistic, bounds = parse_statistic(statistic, bounds)
    refuse_reses(statistic)
    conditional = new_data_conditional(conditional, ebmodes)
    if statistic in COMMON_STATISTICS:
        return newdata.predict_new(results, statistic, data, conditional, new_groups, None,
                                   nooffset)
    aux = results.model.split_params(results.params_internal)[1]
    lin = newdata.NewLinearPredictor(results, data, conditional, new_groups, nooffset)
    var_e = float(np.exp(aux[0]))
    if lin.eta is None:
        mean, sd = lin.xb, np.sqrt(var_e + lin.sd ** 2)
    else:
        mean, sd = lin.eta, np.full(len(lin.eta), np.sqrt(var_e))
    index = lin.rows.index
    if statistic == "mu":
        return pd.Series(mean, index=index, name="mu")
    ok = lin.rows.complete
    a, b = (_bound(v, side, data, index) for side, v in enumerate(bounds))
    vals = np.full(len(index), np.nan)
    vals[ok] = bounded_statistic(statistic, a[ok], b[ok], mean[ok], sd[ok])
    return pd.Series(vals, index=index, name=statistic)


def get_prediction(results, statistic=None, data=None, conditional=None, new_groups="zero",
                   nooffset=False):
    """Predictions with standard errors and confidence intervals on new rows after
    ``metobit``/``meintreg``: ``xb``, ``eta`` or ``mu`` (the default; E(y*) = eta), as
    :func:`statsmodels_me.postestimation.newdata.get_prediction` (the fixed effects'
    uncertainty; predicted random effects taken as known)."""
    statistic = statistic or "mu"
    if statistic not in ("xb", "eta", "mu"):
        raise SpecificationError(f"get_prediction: statistic '{statistic}' has no standard "
                                 "error after metobit/meintreg; use xb, eta or mu")
    return newdata.get_prediction(results, statistic, data, conditional=conditional,
                                  new_groups=new_groups, nooffset=nooffset)
