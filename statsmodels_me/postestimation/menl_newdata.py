"""Predictions on new data after ``menl``: the mean function evaluated on the new rows with
the fixed effects and each row's group's conditional modes (zero for groups the fit never
saw, or an error with ``new_groups="error"``); rows with a missing variable are NaN."""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError, SpecificationError

STATISTICS = ("yhat", "residuals", "rstandard", "reffects")

__all__ = ["STATISTICS", "predict_menl", "mean_on_rows", "group_effects"]


def predict_menl(results, statistic, data, fixedonly=False, new_groups="zero"):
    """Stata's ``predict`` after ``menl`` on new rows.

    Parameters
    ----------
    statistic : {"yhat", "residuals", "rstandard", "reffects"}
        ``residuals`` and ``rstandard`` need the response in ``data``.
    data : pandas.DataFrame
        Not modified.
    fixedonly : bool
        Random effects at zero.
    new_groups : {"zero", "error"}

    Returns
    -------
    pandas.Series (DataFrame for ``reffects``) indexed like ``data``.
    """
    if statistic not in STATISTICS:
        raise SpecificationError(f"menl predict with data=: statistic '{statistic}' is not one "
                                 f"of {', '.join(STATISTICS)}")
    if new_groups not in ("zero", "error"):
        raise SpecificationError(f"new_groups={new_groups!r} is not one of 'zero', 'error'")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"new data must be a pandas DataFrame, not {type(data).__name__}")
    model = results.model
    spec = model.spec
    complete = _complete_rows(results, data)
    if statistic == "reffects":
        values = group_effects(results, data.loc[complete], fixedonly, new_groups)
        out = pd.DataFrame(np.nan, index=data.index, columns=list(model.re_names))
        out.loc[complete] = values
        return out
    mean, b = mean_on_rows(results, data.loc[complete], fixedonly, new_groups)
    beta = np.asarray(results.params, dtype=float)[:results.k_fe]
    yhat = np.full(len(data), np.nan)
    yhat[complete] = mean.value(beta, b)
    if statistic == "yhat":
        return pd.Series(yhat, index=data.index, name="yhat")
    if spec.depvar not in data.columns:
        raise DataError(f"residuals on new data need the response '{spec.depvar}'")
    resid = data[spec.depvar].to_numpy(dtype=float) - yhat
    if statistic == "rstandard":
        if spec.resvariance is not None or spec.rescorrelation is not None:
            raise NotImplementedError("menl predict(rstandard) with data=: standardized "
                                      "residuals on new data under resvariance(), "
                                      "rescorrelation() or rescovariance() are not implemented")
        resid = resid / np.sqrt(float(np.asarray(results.params)[model.residual_index]))
    return pd.Series(resid, index=data.index, name=statistic)


def _complete_rows(results, data):
    """Rows of ``data`` with every variable of the model and grouping variable present."""
    model = results.model
    paths = [v for lev in model.design.levels for v in lev.path]
    needed = list(dict.fromkeys([*model.spec.variables, *paths]))
    missing = [v for v in needed if v not in data.columns]
    if missing:
        raise DataError(f"new data lack the variable(s) {', '.join(missing)} used by the model")
    return data[needed].notna().all(axis=1).to_numpy()


def group_effects(results, rows, fixedonly=False, new_groups="zero"):
    """Random effects (m, q) of each row of ``rows``: its groups' conditional modes, zero for
    groups the fit never saw (an error with ``new_groups="error"``) and under ``fixedonly``."""
    model = results.model
    levels = model.design.levels
    modes = results.random_effects
    modes = modes if isinstance(modes, dict) else {levels[0].label: modes}
    values = np.zeros((len(rows), len(model.re_names)))
    if fixedonly and new_groups == "zero":
        return values
    for lev in levels:
        path = list(lev.path)
        keys = pd.MultiIndex.from_frame(rows[path]) if len(path) > 1 else pd.Index(rows[path[0]])
        codes = modes[lev.label].index.get_indexer(keys)
        unseen = codes < 0
        if new_groups == "error" and unseen.any():
            raise DataError(f"new data: {int(unseen.sum())} row(s) belong to groups of "
                            f"'{lev.label}' that are not in the estimation sample")
        if not fixedonly:
            values[np.ix_(~unseen, lev.effects)] = modes[lev.label].to_numpy()[codes[~unseen]]
    return values


def mean_on_rows(results, rows, fixedonly=False, new_groups="zero"):
    """The model's mean function on the rows of ``rows`` (no missing values) and the flat
    vector of their random effects (:func:`group_effects`).

    Returns
    -------
    mean : MeanFunction
        Built on ``rows``' variables; ``mean.evaluate(beta, b)`` gives values and
        derivatives.
    b : ndarray
    """
    model = results.model
    spec = model.spec
    m, q = len(rows), len(model.re_names)
    values = group_effects(results, rows, fixedonly, new_groups)
    columns = {v: rows[v].to_numpy(dtype=float) for v in spec.variables}
    # the flat vector of random effects holds effect a of new row i at a * m + i
    re_rows = [a * m + np.arange(m) for a in range(q)]
    # the model's own mean-function class, built on the new rows
    mean = type(model.mean)(spec.expr, spec.params, model.re_names, columns, re_rows, m * q)
    return mean, values.T.ravel()
