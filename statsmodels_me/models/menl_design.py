"""The estimation sample of a ``menl`` model: response, variables, levels of random effects."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError, SpecificationError

__all__ = ["MenlDesign", "Level"]


@dataclass
class Level:
    """One level of random effects, e.g. ``tree`` or ``lev3>lev2``.

    ``effects`` are the positions (in the model's order of random effects) of the effects
    at this level; their values for group ``g`` sit at ``offset + g * len(effects) + k`` of
    the flat vector of all random effects.
    """

    label: str
    path: tuple
    codes: np.ndarray
    n_groups: int
    effects: list
    offset: int
    group_values: pd.DataFrame

    @property
    def size(self):
        return self.n_groups * len(self.effects)


class MenlDesign:
    """A :class:`~statsmodels_me.spec.menl.MenlSpec` on the rows of a data frame.

    Rows with a missing value in the response, a variable of the expression or a grouping
    variable are dropped (casewise deletion, as Stata). The input frame is not modified.
    Levels must be nested (``[id]`` and ``[id>visit]``); crossed levels are refused.

    Attributes
    ----------
    spec : MenlSpec
    y : ndarray (n,)
    columns : dict of str -> ndarray
    levels : list of Level
        Outermost first.
    level_of : list of int
        Level of each random effect.
    re_rows : list of ndarray of int
        For each random effect, the position of each row's value in the flat vector.
    n_re : int
        Length of the flat vector of random effects.
    nobs : int
    row_index : Index
        Index of the estimation sample in the input frame.
    sample_data : DataFrame
        The estimation sample's rows of the input frame (every column).
    """

    def __init__(self, spec, data):
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"menl: data must be a pandas DataFrame, got {type(data).__name__}")
        self.spec = spec
        paths = sorted({path for _, path in spec.random_effects}, key=lambda p: (len(p), p))
        if not paths:
            raise NotImplementedError(
                f"menl: the expression {spec.text!r} has no random effects; models without "
                "random effects (nonlinear least squares) are not implemented")
        for outer, inner in zip(paths, paths[1:]):
            if len(outer) == len(inner) or inner[:len(outer)] != outer:
                levels = ", ".join("[" + ">".join(p) + "]" for p in paths)
                raise NotImplementedError(
                    f"menl: random effects at crossed levels ({levels}) are not implemented; "
                    "levels must be nested, as [id] and [id>visit]")
        group_vars = list(paths[-1])
        needed = [spec.depvar, *spec.variables, *group_vars]
        for name in needed:
            if name not in data.columns:
                where = "the dependent variable" if name == spec.depvar else (
                    "a grouping variable" if name in group_vars else "used in the expression")
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
        self.sample_data = data.loc[keep]
        self.y = sub[spec.depvar].to_numpy(dtype=float)
        self.columns = {v: sub[v].to_numpy(dtype=float) for v in spec.variables}
        bad = [v for v, c in [(spec.depvar, self.y), *self.columns.items()]
               if not np.all(np.isfinite(c))]
        if bad:
            raise DataError(f"menl: variable {bad[0]!r} has infinite values")
        self.nobs = len(self.y)
        self._build_levels(spec, sub, paths)

    def _build_levels(self, spec, sub, paths):
        names = [name for name, _ in spec.random_effects]
        self.levels, self.level_of = [], [0] * len(names)
        offset = 0
        for i, path in enumerate(paths):
            if len(path) == 1:
                codes, uniques = pd.factorize(sub[path[0]], sort=True)
                values = pd.DataFrame({path[0]: np.asarray(uniques)})
            else:
                codes, uniques = pd.MultiIndex.from_frame(sub[list(path)]).factorize()
                values = uniques.to_frame(index=False)
            label = ">".join(path)
            if len(uniques) < 2:
                raise SpecificationError(f"menl: the grouping {label!r} has only one group; "
                                         "random effects cannot be estimated")
            effects = [a for a, (_, p) in enumerate(spec.random_effects) if p == path]
            for a in effects:
                self.level_of[a] = i
            lev = Level(label, path, np.asarray(codes), len(uniques), effects, offset, values)
            self.levels.append(lev)
            offset += lev.size
        self.n_re = offset
        self.re_rows = [None] * len(names)
        for lev in self.levels:
            q = len(lev.effects)
            for k, a in enumerate(lev.effects):
                self.re_rows[a] = lev.offset + lev.codes * q + k

    def level_label(self, effect):
        """Label of the level of random effect ``effect`` (its position)."""
        return self.levels[self.level_of[effect]].label

    def group_summary(self):
        """Number of groups and min/avg/max observations per group, one row per level."""
        rows = {}
        for lev in self.levels:
            counts = np.bincount(lev.codes, minlength=lev.n_groups)
            rows[lev.label] = {"groups": lev.n_groups, "min": int(counts.min()),
                               "avg": float(counts.mean()), "max": int(counts.max())}
        return pd.DataFrame.from_dict(rows, orient="index")
