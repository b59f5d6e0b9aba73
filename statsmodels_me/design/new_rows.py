"""Design columns of new data with the estimation sample's coding.

Prediction out of sample needs the fixed-effects columns and the random-effects covariates of
new rows exactly as the fit built them: the same factor levels (an indicator per training level;
a level the fit never saw is refused), the same columns after collinearity drops and base
levels, and formula transforms (``center(x)``, ``bs(x, df=4)``) evaluated with the constants
fitted on the estimation sample (:attr:`Design.transforms`), never refitted on the new rows.

Factor terms are expanded with every level (``ibn.``) and the columns are then picked by their
Stata names, so base levels and omitted columns come out as the fit dropped them whatever
levels the new rows hold.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from statsmodels_me.design.design import Design, Level
from statsmodels_me.design.factors import (
    CategoricalCoding,
    continuous_values,
    expand_term,
    is_numeric,
    level_label,
)
from statsmodels_me.design.formula_columns import needs_patsy
from statsmodels_me.design.formula_eval import evaluate_transform
from statsmodels_me.design.timeseries import with_ts_columns
from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import Expression, Term

__all__ = ["NewRows", "new_rows"]


class NewRows:
    """Columns of new data for one fitted :class:`Design`.

    Build with :func:`new_rows`. Rows with a missing value in a variable the model's
    right-hand side uses are not complete: every array has NaN there.

    Attributes
    ----------
    complete : ndarray (m,) bool
        Rows without missing values in the covariates, grouping and offset variables.
    index : pandas.Index
        The new data's index.
    """

    def __init__(self, design: Design, data: pd.DataFrame):
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"new data must be a pandas DataFrame, not {type(data).__name__}")
        self.design = design
        self.index = data.index
        data = with_ts_columns(design.spec, data)
        used = _rhs_variables(design)
        missing = [v for v in used if v not in data.columns]
        if missing:
            raise DataError(f"new data lack the variable(s) {', '.join(missing)} used by the "
                            f"model")
        complete = np.ones(len(data), dtype=bool)
        for var in used:
            col = data[var]
            miss = col.isna().to_numpy(dtype=bool)
            if not is_numeric(col):
                miss = miss | (col.astype("string") == "").fillna(False).to_numpy(dtype=bool)
            complete &= ~miss
        self.complete = complete
        self._rows = data.loc[complete, used] if len(used) else data.loc[complete, []]
        self._cache: dict[str, np.ndarray] = {}

    # -- public arrays ---------------------------------------------------------------------
    def exog(self, names=None) -> np.ndarray:
        """Fixed-effects columns (m, p) in the order of ``names`` (default
        ``design.exog_names``)."""
        names = list(self.design.exog_names if names is None else names)
        columns = self._equation_columns("fixed", self.design.spec.fixed)
        out = np.full((len(self.index), len(names)), np.nan)
        block = np.zeros((int(self.complete.sum()), len(names)))
        for j, name in enumerate(names):
            if name == "_cons":
                block[:, j] = 1.0
            elif name in columns:
                block[:, j] = columns[name]
            elif not _is_factor_column(name):
                raise DataError(f"fixed-effects column '{name}' cannot be built from the new "
                                "data")
        out[self.complete] = block
        return out

    def offset(self) -> np.ndarray | None:
        """``offset()`` or log ``exposure()`` on the new rows, or None without one."""
        opts = self.design.spec.options
        off, exp = opts.get("offset"), opts.get("exposure")
        if not off and not exp:
            return None
        out = np.full(len(self.index), np.nan)
        if isinstance(off, Expression):
            out[self.complete] = evaluate_transform(off.text, self._rows)
        elif off:
            out[self.complete] = continuous_values(self._rows, off)
        else:
            values = continuous_values(self._rows, exp)
            if np.any(values <= 0):
                raise DataError(f"exposure variable '{exp}' has nonpositive values in the new "
                                "data")
            out[self.complete] = np.log(values)
        return out

    def trials(self, data: pd.DataFrame) -> np.ndarray | None:
        """Binomial trials on the new rows (``binomial(var|#)``), None without them."""
        spec_n = self.design.spec.options.get("binomial")
        if spec_n is None or spec_n is False:
            return None
        if isinstance(spec_n, str):
            if spec_n not in data.columns:
                raise DataError(f"new data lack the trials variable '{spec_n}'")
            return data[spec_n].to_numpy(dtype=np.float64)
        if isinstance(spec_n, Expression):
            return evaluate_transform(spec_n.text, data)
        return np.full(len(data), float(spec_n))

    def group_codes(self, level: Level) -> np.ndarray:
        """Training group code of each new row at ``level``; -1 for groups the fit never saw
        and for incomplete rows."""
        out = np.full(len(self.index), -1, dtype=np.int64)
        if level.label == "_all":
            out[self.complete] = 0
            return out
        rows = self._rows
        if len(level.path) == 1:
            keys = pd.Index(rows[level.path[0]].to_numpy())
        else:
            keys = pd.MultiIndex.from_arrays([rows[v].to_numpy() for v in level.path])
        out[self.complete] = pd.Index(level.group_values).get_indexer(keys)
        return out

    def factor_codes(self, var: str) -> np.ndarray:
        """Training level code of ``var`` for each new row; -1 for unseen levels and for
        incomplete rows."""
        levels = self.design.factor_levels[var]
        out = np.full(len(self.index), -1, dtype=np.int64)
        out[self.complete] = pd.Index(levels).get_indexer(self._rows[var].to_numpy())
        return out

    def level_Z(self, level: Level, eq_index: int = 0) -> list[np.ndarray | None]:
        """Covariates of each block of ``level`` on the new rows (``None`` for ``R.``
        blocks), NaN on incomplete rows."""
        spec = self.design.spec
        eqs = [eq for eq in spec.random if _path_of(eq) == tuple(level.path)]
        terms = [t for eq in eqs for t in eq.terms]
        key = level.label
        columns: dict[str, np.ndarray] = {}
        for k in range(len(eqs) + 1):
            columns.update(self._equation_columns(key + "'" * k, terms))
        out = []
        for block in level.blocks:
            if block.factor_codes is not None:
                out.append(None)
                continue
            Z = np.full((len(self.index), len(block.names)), np.nan)
            vals = np.zeros((int(self.complete.sum()), len(block.names)))
            for j, name in enumerate(block.names):
                if name == "_cons":
                    vals[:, j] = 1.0
                elif name in columns:
                    vals[:, j] = columns[name]
                elif not _is_factor_column(name):
                    raise DataError(f"random-effects column '{name}' at level '{key}' cannot "
                                    "be built from the new data")
            Z[self.complete] = vals
            out.append(Z)
        return out

    # -- columns of one equation -----------------------------------------------------------
    def _equation_columns(self, key: str, terms) -> dict[str, np.ndarray]:
        rows = self._rows
        terms = self._auto_factors(terms)
        columns: dict[str, np.ndarray] = {}
        if any(needs_patsy(t) for t in terms) and key in self.design.transforms:
            frame = self.design.transforms[key].transform(rows)
            for name in frame.columns:
                columns[str(name)] = frame[name].to_numpy(dtype=np.float64)
        codings = {}
        for term in terms:
            if needs_patsy(term):
                continue
            full = Term(tuple(replace(f, kind="ibn") if f.kind in ("i", "ibn") else f
                              for f in term.factors))
            for f in full.factors:
                if f.kind == "ibn" and f.var not in codings:
                    codings[f.var] = self._coding(f.var)
            tc = expand_term(full, rows, codings)
            for j, name in enumerate(tc.names):
                columns[name] = tc.X[:, j]
        return columns

    def _coding(self, var: str) -> CategoricalCoding:
        levels = self.design.factor_levels.get(var)
        if levels is None:
            raise DataError(f"variable '{var}': no training levels recorded")
        values = self._rows[var].to_numpy()
        codes = pd.Index(levels).get_indexer(values)
        if np.any(codes < 0):
            unseen = pd.unique(values[codes < 0])[:5]
            raise DataError(f"new data: level(s) {', '.join(level_label(v) for v in unseen)} "
                            f"of '{var}' do not occur in the estimation sample (levels: "
                            f"{', '.join(level_label(v) for v in levels)})")
        return CategoricalCoding(var, codes.astype(np.int64), np.asarray(levels))

    def _auto_factors(self, terms) -> list[Term]:
        # formulas treat a string column as a factor (as the fit did)
        if self.design.spec.syntax != "formula":
            return list(terms)
        rows = self._rows
        return [Term(tuple(replace(f, kind="i") if f.kind == "c" and f.var in rows.columns
                           and not is_numeric(rows[f.var]) else f
                           for f in t.factors)) for t in terms]


def _is_factor_column(name: str) -> bool:
    """Stata names with a ``level.var`` part (indicator columns): absent means all zero."""
    return any("." in part and not part.startswith("c.") for part in name.split("#"))


def _path_of(eq) -> tuple[str, ...]:
    if eq.level == "_all" or tuple(eq.path) in ((), ("_all",)):
        return ("_all",)
    return tuple(eq.path) if eq.path else (eq.level,)


def _rhs_variables(design: Design) -> list[str]:
    """Variables the right-hand side reads: every model variable but the response."""
    spec = design.spec
    out = [v for v in spec.variables() if v not in spec.response]
    for key in ("offset", "exposure"):
        val = spec.options.get(key)
        if isinstance(val, str) and val not in out:
            out.append(val)
    return out


def new_rows(design: Design, data: pd.DataFrame) -> NewRows:
    """Columns of ``data`` coded like the estimation sample of ``design``.

    Parameters
    ----------
    design : Design
        The fitted model's design.
    data : pandas.DataFrame
        New rows holding every covariate, grouping and offset variable (the response is not
        needed). The frame is not modified.

    Returns
    -------
    NewRows

    Raises
    ------
    DataError
        A variable is missing, or a factor variable has a level the fit never saw.
    """
    return NewRows(design, data)
