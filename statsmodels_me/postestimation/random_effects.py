"""Predicted random effects labelled by their groups (``res.random_effects``).

Every results object returns the same shape: with one random-effects term a DataFrame
indexed by the group labels (one row per group, one column per random effect, named as in
the e(b) names: ``_cons``, ``week``, ``R.x``); with several terms a dict ``key ->
DataFrame`` in the order the levels were written. The key of a term is its level label
(``"id"``, ``"school>class"``), and ``"<level>: R.x"`` for an ``R.x`` term. Groups of a
nested level are labelled by their whole path (a MultiIndex), the groups of an ``R.x`` term
by the levels of ``x`` (and the level's group when the level is not ``_all``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _strip_level(name, label):
    suffix = f"[{label}]"
    return name[:-len(suffix)] if name.endswith(suffix) else name


def group_index(design, label, effect, codes):
    """Labels of the groups ``0..G-1`` of a term whose rows have group ``codes``.

    Parameters
    ----------
    design : Design
    label : str
        The term's level label.
    effect : str
        The term's first random-effect name (an ``R.x`` term is looked up by it).
    codes : ndarray (n,)
        Group of each estimation-sample row.

    Returns
    -------
    pandas.Index or MultiIndex
    """
    codes = np.asarray(codes)
    first = np.unique(codes, return_index=True)[1]
    levels = [lev for lev in design.levels if lev.label == label]
    if not levels:
        raise ValueError(f"random_effects: no level {label!r} in the design")
    lev = levels[0]
    if effect.startswith("R."):
        for cand in levels:
            block = next((b for b in cand.blocks if b.factor_codes is not None
                          and b.names[0] == effect), None)
            if block is not None:
                lev = cand
                break
        else:
            raise ValueError(f"random_effects: no {effect} equation at level {label!r}")
        var = effect[2:]
        inner = pd.Index(np.asarray(block.factor_levels)[block.factor_codes[first]], name=var)
        if lev.label == "_all":
            return inner
        outer = lev.group_values[lev.codes[first]]
        frame = outer.to_frame(index=False) if isinstance(outer, pd.MultiIndex) \
            else pd.DataFrame({outer.name or lev.label: np.asarray(outer)})
        frame[var] = np.asarray(inner)
        return pd.MultiIndex.from_frame(frame)
    return lev.group_values[lev.codes[first]]


def label_random_effects(design, parts):
    """Predicted random effects as DataFrames indexed by the group labels.

    Parameters
    ----------
    design : Design
    parts : list of (label, names, codes, values)
        One entry per random-effects term: level label, random-effect names (``x`` or
        ``x[label]``), group of each row (n,), predictions (G, q) in code order.

    Returns
    -------
    DataFrame or dict of DataFrame
        A DataFrame when there is one term, otherwise a dict keyed by level (see the module
        docstring).
    """
    out = {}
    for label, names, codes, values in parts:
        cols = [_strip_level(n, label) for n in names]
        key = f"{label}: {cols[0]}" if cols[0].startswith("R.") else label
        index = group_index(design, label, cols[0], codes)
        out[key] = pd.DataFrame(np.asarray(values, float), index=index, columns=cols)
    return next(iter(out.values())) if len(out) == 1 else out
