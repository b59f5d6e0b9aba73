"""Stata's ``e(b)`` layout of the parameters: omitted and base columns in their places.

``params`` holds the estimated parameters only. Stata's ``e(b)`` also lists every column
dropped because of collinearity (``o.w2``, ``2o.block``) and, for factor variables, the base
levels (``0b.urban``), each with the value 0 and no standard error (its row of ``e(V)`` is
zero). :func:`eb_names` gives that layout from the design's ``full_names``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def eb_names(design, param_names, k_fe):
    """Every name of Stata's ``e(b)``: the fixed part in ``design.full_names`` order (with
    omitted and base columns), then the remaining parameters.

    Columns of the design that are not parameters (the constant of an ordinal model) are
    left out; without a usable ``full_names`` the layout is ``param_names``.
    """
    fe = list(param_names[:k_fe])
    full = list(getattr(design, "full_names", None) or [])
    kept = set(getattr(design, "exog_names", None) or [])
    if not full or [n for n in full if n in fe] != fe:
        return list(param_names)
    return [n for n in full if n in fe or n not in kept] + list(param_names[k_fe:])


def eb_series(values, param_names, names, fill):
    """``values`` (one per parameter) laid out on the e(b) ``names``; entries that are not
    parameters get ``fill``."""
    s = pd.Series(np.asarray(values, float), index=list(param_names))
    out = pd.Series(fill, index=pd.Index(names, name="e(b)"), dtype=float)
    out.loc[s.index] = s.to_numpy()
    return out
