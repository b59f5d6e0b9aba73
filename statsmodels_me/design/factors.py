"""Stata factor-variable expansion: one :class:`~statsmodels_me.spec.model_spec.Term` to columns.

Rules (Stata's ``[U] 11.4.3 Factor variables``):

* ``c.x`` (or a bare continuous variable) is one column named ``x``; a product of continuous
  variables ``c.x#c.z`` is named ``c.x#c.z``.
* ``i.g`` gives one indicator per level of ``g`` in the estimation sample except the base level
  (the lowest, or the one chosen by ``b#.``); ``ibn.g`` gives every level. Columns are named
  ``<level>.g`` (``2.g``).
* An interaction of factor variables gives one column per combination observed in the data,
  the first factor varying slowest; combinations that involve a base level of an ``i.`` factor
  are base combinations. Categorical parts are named first, continuous parts last
  (``c.x#i.g`` gives ``2.g#c.x``), as Stata does.

Stata's ``e(b)`` also lists the base columns, with a ``b`` marker on the base parts and an
``o`` marker on the other parts (``0b.cc#1o.tv``); :func:`expand_term` returns those names
too so results tables can show the ``(base)`` rows.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import Factor, Term

__all__ = ["CategoricalCoding", "TermColumns", "code_categorical", "continuous_values",
           "expand_term", "level_label", "mark_omitted"]


def level_label(value) -> str:
    """Stata's printed form of a factor level: integer-valued numbers print as integers."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if f.is_integer():
            return str(int(f))
        return format(f, "g")
    return str(value)


def is_numeric(series: pd.Series) -> bool:
    """True for numeric or boolean columns (what Stata calls numeric variables)."""
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def describe_kind(col: pd.Series) -> str:
    """What a non-numeric column is, for error messages."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return "a datetime variable"
    if pd.api.types.is_timedelta64_dtype(col):
        return "a timedelta variable"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "a categorical variable"
    return "a string variable"


def continuous_values(data: pd.DataFrame, var: str) -> np.ndarray:
    """The values of a continuous variable as float64; other variables raise DataError."""
    col = data[var]
    if not is_numeric(col):
        hint = ("convert it to numbers (e.g. days since a date) first"
                if pd.api.types.is_datetime64_any_dtype(col)
                or pd.api.types.is_timedelta64_dtype(col)
                else f"use i.{var} for a categorical one")
        raise DataError(f"variable '{var}' is {describe_kind(col)} and cannot be used as a "
                        f"continuous covariate ({hint})")
    return col.to_numpy(dtype=np.float64)


@dataclass
class CategoricalCoding:
    """Sorted-level coding of one categorical variable in the estimation sample.

    Attributes
    ----------
    var : str
    codes : ndarray (n,) int64
        Index of each row's level in ``levels``.
    levels : ndarray
        Distinct values, sorted.
    """

    var: str
    codes: np.ndarray
    levels: np.ndarray

    @cached_property
    def labels(self) -> list[str]:
        """Printed form of each level (:func:`level_label`); levels that print alike at
        ``%g`` precision (1.0000001 and 1.0000002) get their full ``repr``."""
        labels = [level_label(v) for v in self.levels]
        if len(set(labels)) < len(labels):
            labels = [level_label(v) if float(v).is_integer() else repr(float(v))
                      for v in self.levels]
        if len(set(labels)) < len(labels):
            raise DataError(f"variable '{self.var}' has distinct levels that print alike: "
                            f"{', '.join(labels)}")
        return labels

    def base_index(self, factor: Factor) -> int | None:
        """Position of the base level of ``factor`` (``None`` for ``ibn.``)."""
        if factor.kind == "ibn":
            return None
        base = factor.base
        if base is None or base == "first":
            return 0
        if base == "last":
            return len(self.levels) - 1
        if base == "freq":
            return int(np.argmax(np.bincount(self.codes, minlength=len(self.levels))))
        label = level_label(base)
        try:
            return self.labels.index(label)
        except ValueError:
            raise DataError(f"b{label}.{self.var}: level {label} of '{self.var}' does not occur "
                            f"in the estimation sample (levels: {', '.join(self.labels)})"
                            ) from None


def code_categorical(data: pd.DataFrame, var: str) -> CategoricalCoding:
    """Factorize ``data[var]`` with sorted levels (numbers numerically, strings lexically)."""
    col = data[var]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu" and len(col):
        # non-negative integer ids of moderate range (the usual group variable): sorted
        # levels from a presence count, without hashing
        v = col.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        if lo >= 0 and hi <= 4 * len(v) + 1000:
            present = np.bincount(v, minlength=hi + 1) > 0
            remap = np.cumsum(present) - 1
            return CategoricalCoding(var, remap[v].astype(np.int64),
                                     np.flatnonzero(present).astype(v.dtype))
    if pd.api.types.is_timedelta64_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        raise DataError(f"variable '{var}' is {describe_kind(col)}; factor variables and group "
                        "variables need numbers or strings: convert it first")
    try:
        codes, uniques = pd.factorize(col, sort=True)
    except TypeError:
        raise DataError(f"variable '{var}' mixes numbers and strings; its levels cannot be "
                        f"ordered") from None
    levels = np.asarray(uniques)
    return CategoricalCoding(var, codes.astype(np.int64), levels)


@dataclass
class TermColumns:
    """Columns of one term.

    Attributes
    ----------
    X : ndarray (n, k)
    names : list of str
        Stata names of the columns of ``X``.
    full_names : list of str
        Stata ``e(b)`` names in column order including base columns (``0b.urban``).
    is_base : list of bool
        Parallel to ``full_names``; base columns are not in ``X``.
    factor_parts : list of list of str
        Parallel to ``names``: the ``level.var`` parts and ``c.var`` parts of each column (used to
        add the ``o`` markers of omitted columns).
    """

    X: np.ndarray
    names: list[str]
    full_names: list[str]
    is_base: list[bool]
    factor_parts: list[list[tuple[str, str]]]


def _continuous_name(cont: list[Factor], alone: bool) -> list[tuple[str, str]]:
    if alone and len(cont) == 1:
        return [("", cont[0].var)]
    return [("c", f.var) for f in cont]


def _join(parts: list[tuple[str, str]], markers: list[str] | None = None) -> str:
    out = []
    for k, (prefix, var) in enumerate(parts):
        m = markers[k] if markers else ""
        if prefix == "":
            out.append(f"{m}.{var}" if m else var)
        else:
            out.append(f"{prefix}{m}.{var}")
    return "#".join(out)


def mark_omitted(parts: list[tuple[str, str]]) -> str:
    """Stata ``e(b)`` name of an omitted column: ``o`` after every part (``2o.block``, ``o.x``)."""
    return _join(parts, ["o"] * len(parts))


def expand_term(term: Term, data: pd.DataFrame,
                codings: dict[str, CategoricalCoding] | None = None) -> TermColumns:
    """Columns of one fixed- or random-effects term in Stata's factor-variable notation.

    Parameters
    ----------
    term : Term
    data : DataFrame
        The estimation sample (no missing values in the term's variables).
    codings : dict, optional
        Cache of :class:`CategoricalCoding` by variable name (filled as a side effect).

    Returns
    -------
    TermColumns
    """
    codings = {} if codings is None else codings
    n = len(data)
    cat = [f for f in term.factors if f.kind in ("i", "ibn")]
    cont = [f for f in term.factors if f.kind not in ("i", "ibn")]
    prod = np.ones(n)
    for f in cont:
        prod = prod * continuous_values(data, f.var)
    if not cat:
        parts = _continuous_name(cont, alone=True)
        name = _join(parts)
        return TermColumns(prod[:, None], [name], [name], [False], [parts])

    coded = []
    for f in cat:
        if f.var not in codings:
            codings[f.var] = code_categorical(data, f.var)
        coded.append(codings[f.var])
    # mixed-radix key over the categorical parts; sorted keys are combinations with the first
    # factor varying slowest
    key = np.zeros(n, dtype=np.int64)
    for c in coded:
        key = key * len(c.levels) + c.codes
    combo_codes, combos = pd.factorize(key, sort=True)
    combos = np.asarray(combos, dtype=np.int64)
    level_idx = np.empty((len(combos), len(coded)), dtype=np.int64)
    rest = combos.copy()
    for j in range(len(coded) - 1, -1, -1):
        level_idx[:, j] = rest % len(coded[j].levels)
        rest //= len(coded[j].levels)
    bases = [c.base_index(f) for f, c in zip(cat, coded, strict=True)]
    base_part = np.column_stack([
        (level_idx[:, j] == b) if b is not None else np.zeros(len(combos), bool)
        for j, b in enumerate(bases)])
    combo_is_base = base_part.any(axis=1)

    cont_parts = [("c", f.var) for f in cont]
    names, full, is_base, fparts = [], [], [], []
    for k in range(len(combos)):
        parts = [(coded[j].labels[level_idx[k, j]], cat[j].var) for j in range(len(cat))]
        parts = parts + cont_parts
        if combo_is_base[k]:
            markers = ["b" if base_part[k, j] else "o" for j in range(len(cat))]
            markers += ["o"] * len(cont_parts)
            full.append(_join(parts, markers))
            is_base.append(True)
        else:
            nm = _join(parts)
            names.append(nm)
            full.append(nm)
            is_base.append(False)
            fparts.append(parts)
    col_of_combo = np.cumsum(~combo_is_base) - 1
    X = np.zeros((n, len(names)))
    keep_rows = ~combo_is_base[combo_codes]
    rows = np.flatnonzero(keep_rows)
    X[rows, col_of_combo[combo_codes[rows]]] = prod[rows]
    return TermColumns(X, names, full, is_base, fparts)
