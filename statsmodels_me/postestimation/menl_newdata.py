"""Predictions on new data after ``menl``: the mean function evaluated on the new rows with
the fixed effects and each row's group's conditional modes (zero for groups the fit never
saw, or an error with ``new_groups="error"``); rows with a missing variable are NaN."""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.models.menl_mean import MeanFunction
from statsmodels_me.spec.errors import DataError, SpecificationError

STATISTICS = ("yhat", "residuals", "rstandard", "reffects")

__all__ = ["STATISTICS", "predict_menl"]


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
    path = list(model.design.path)
    needed = list(dict.fromkeys([*spec.variables, *path]))
    missing = [v for v in needed if v not in data.columns]
    if missing:
        raise DataError(f"new data lack the variable(s) {', '.join(missing)} used by the model")
    complete = data[needed].notna().all(axis=1).to_numpy()
    rows = data.loc[complete]
    modes = results.random_effects
    keys = pd.MultiIndex.from_frame(rows[path]) if len(path) > 1 else pd.Index(rows[path[0]])
    codes = modes.index.get_indexer(keys)
    unseen = codes < 0
    if new_groups == "error" and unseen.any():
        raise DataError(f"new data: {int(unseen.sum())} row(s) belong to groups of "
                        f"'{model.design.level_label}' that are not in the estimation sample")
    b = np.zeros((len(rows), modes.shape[1]))
    if not fixedonly:
        b[~unseen] = modes.to_numpy()[codes[~unseen]]
    if statistic == "reffects":
        out = pd.DataFrame(np.nan, index=data.index, columns=list(modes.columns))
        out.loc[complete] = b
        return out
    columns = {v: rows[v].to_numpy(dtype=float) for v in spec.variables}
    # each new row is its own group, carrying its group's modes
    mean = MeanFunction(spec.expr, spec.params, model.re_names, columns,
                        np.arange(len(rows)), len(rows))
    beta = np.asarray(results.params, dtype=float)[:results.k_fe]
    yhat = np.full(len(data), np.nan)
    yhat[complete] = mean.value(beta, b)
    if statistic == "yhat":
        return pd.Series(yhat, index=data.index, name="yhat")
    if spec.depvar not in data.columns:
        raise DataError(f"residuals on new data need the response '{spec.depvar}'")
    resid = data[spec.depvar].to_numpy(dtype=float) - yhat
    if statistic == "rstandard":
        resid = resid / np.sqrt(float(np.asarray(results.params)[-1]))
    return pd.Series(resid, index=data.index, name=statistic)
