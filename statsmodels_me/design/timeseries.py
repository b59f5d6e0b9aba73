"""Stata's time-series operators (``L.`` ``F.`` ``D.`` ``S.``, with orders and chains) on data
declared with a panel and a time variable, as after ``tsset panel time``.

Definitions ([TS] tsset, [U] 11.4.4): ``L#.x`` at time t is x at time t - #, ``F#.x`` is x at
t + #, ``D.x = x - L.x`` (``D2.x = D.(D.x)``), ``S#.x = x - L#.x``; operators chain
(``LD.x = L.(D.x)``). Lags are found by time value within the panel, not by row: a gap in the
time variable gives a missing value, as in Stata.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import ModelSpec
from statsmodels_me.spec.terms import TS_VAR_RE, ts_operators

__all__ = ["with_ts_columns"]


def _shift(values: np.ndarray, keys: pd.MultiIndex | pd.Index, shifted) -> np.ndarray:
    """``values`` looked up at the shifted (panel, time) keys; NaN where no row has them."""
    series = pd.Series(values, index=keys)
    return series.reindex(shifted).to_numpy(dtype=np.float64)


def _keys(panel, time, offset):
    t = time + offset
    if panel is None:
        return pd.Index(t)
    return pd.MultiIndex.from_arrays([panel, t])


def _operated(values: np.ndarray, ops: list[tuple[str, int]], panel, time) -> np.ndarray:
    keys = _keys(panel, time, 0)
    out = values
    # apply the innermost (rightmost) operator first: LD.x = L.(D.x)
    for op, k in reversed(ops):
        if op == "L":
            out = _shift(out, keys, _keys(panel, time, -k))
        elif op == "F":
            out = _shift(out, keys, _keys(panel, time, k))
        elif op == "S":
            out = out - _shift(out, keys, _keys(panel, time, -k))
        else:
            for _ in range(k):
                out = out - _shift(out, keys, _keys(panel, time, -1))
    return out


def _tsset_values(spec: ModelSpec, data: pd.DataFrame):
    panel_var, time_var = spec.tsset
    for role, var in (("panel", panel_var), ("time", time_var)):
        if var is not None and var not in data.columns:
            raise DataError(f"{role} variable '{var}' ({role}=) not found in data")
    time = data[time_var]
    if not pd.api.types.is_numeric_dtype(time):
        raise DataError(f"time variable '{time_var}' must be numeric")
    time = time.to_numpy(dtype=np.float64, na_value=np.nan)
    panel = None if panel_var is None else data[panel_var].to_numpy()
    ok = ~np.isnan(time)
    keys = _keys(None if panel is None else panel[ok], time[ok], 0)
    if keys.has_duplicates:
        where = f" within {panel_var}" if panel_var else ""
        raise DataError(f"repeated time values{where}: '{time_var}' must identify the "
                        f"observations{where} for time-series operators")
    return panel, time


def with_ts_columns(spec: ModelSpec, data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with a column for every operated variable of the model (``L.x``, ``D.y``).

    The input is not modified; without operators (or without ``time=``) it is returned as is.
    """
    if spec.tsset is None:
        return data
    wanted = [v for v in spec.variables() if TS_VAR_RE.match(v) and v not in data.columns]
    if not wanted:
        return data
    panel, time = _tsset_values(spec, data)
    ok = ~np.isnan(time)
    new = {}
    for name in wanted:
        m = TS_VAR_RE.match(name)
        var = m.group("var")
        if var not in data.columns:
            raise DataError(f"variable '{var}' of {name} not found in data")
        col = data[var]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataError(f"{name}: '{var}' is a string variable")
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        out = np.full(len(data), np.nan)
        out[ok] = _operated(values[ok], ts_operators(m.group("ops")),
                            None if panel is None else panel[ok], time[ok])
        new[name] = out
    return data.assign(**new)
