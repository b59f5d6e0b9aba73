"""The estimation sample of a ``menl`` model: response, variables, groups."""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError, SpecificationError

__all__ = ["MenlDesign"]


class MenlDesign:
    """A :class:`~statsmodels_me.spec.menl.MenlSpec` on the rows of a data frame.

    Rows with a missing value in the response, a variable of the expression or a grouping
    variable are dropped (casewise deletion, as Stata). The input frame is not modified.

    Attributes
    ----------
    spec : MenlSpec
    y : ndarray (n,)
    columns : dict of str -> ndarray
    codes : ndarray of int (n,)
        Group of each row at the level of the random effects.
    n_groups, nobs : int
    level_label : str
        ``tree`` or ``lev3>lev2``.
    group_values : DataFrame
        One row per group: the values of the grouping variables.
    row_index : Index
        Index of the estimation sample in the input frame.
    """

    def __init__(self, spec, data):
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"menl: data must be a pandas DataFrame, got {type(data).__name__}")
        self.spec = spec
        paths = {path for _, path in spec.random_effects}
        if not paths:
            raise NotImplementedError(
                f"menl: the expression {spec.text!r} has no random effects; models without "
                "random effects (nonlinear least squares) are not implemented")
        if len(paths) > 1:
            levels = ", ".join("[" + ">".join(p) + "]" for p in sorted(paths))
            raise NotImplementedError(
                f"menl: random effects at more than one level ({levels}) are not implemented; "
                "all random effects must share one grouping specification")
        self.path = next(iter(paths))
        self.level_label = ">".join(self.path)
        needed = [spec.depvar, *spec.variables, *self.path]
        for name in needed:
            if name not in data.columns:
                where = "the dependent variable" if name == spec.depvar else (
                    "a grouping variable" if name in self.path else "used in the expression")
                raise DataError(f"menl: variable {name!r} ({where}) not found in the data")
        for name in [spec.depvar, *spec.variables]:
            if not pd.api.types.is_numeric_dtype(data[name]) or \
                    pd.api.types.is_bool_dtype(data[name]):
                raise DataError(f"menl: variable {name!r} must be numeric")
        sub = data[list(dict.fromkeys(needed))]
        keep = sub.notna().all(axis=1).to_numpy()
        sub = sub.loc[keep]
        if len(sub) == 0:
            raise DataError("menl: no observations without missing values")
        self.row_index = sub.index
        self.y = sub[spec.depvar].to_numpy(dtype=float)
        self.columns = {v: sub[v].to_numpy(dtype=float) for v in spec.variables}
        bad = [v for v, c in [(spec.depvar, self.y), *self.columns.items()]
               if not np.all(np.isfinite(c))]
        if bad:
            raise DataError(f"menl: variable {bad[0]!r} has infinite values")
        keys = sub[list(self.path)]
        codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
        self.codes = np.asarray(codes)
        self.n_groups = len(uniques)
        self.group_values = uniques.to_frame(index=False)
        self.nobs = len(self.y)
        if self.n_groups < 2:
            raise SpecificationError(f"menl: the grouping {self.level_label!r} has only one "
                                     "group; random effects cannot be estimated")

    def group_summary(self):
        """Number of groups and min/avg/max observations per group (one row)."""
        counts = np.bincount(self.codes, minlength=self.n_groups)
        return pd.DataFrame({"groups": [self.n_groups], "min": [int(counts.min())],
                             "avg": [float(counts.mean())], "max": [int(counts.max())]},
                            index=[self.level_label])
