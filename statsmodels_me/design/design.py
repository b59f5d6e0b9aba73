"""Design arrays built from a ModelSpec and a DataFrame (the contract every estimator reads).

Built by :func:`statsmodels_me.design.build.build_design`. Rows are the estimation sample
(listwise deletion already applied) in the data's original order; estimators that need
clusters contiguous sort by ``Level.codes`` themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statsmodels_me.spec.model_spec import ModelSpec


@dataclass
class REBlock:
    """One random-effects equation: one diagonal block of the random-effects covariance.

    Attributes
    ----------
    names : list of str
        Stata names of the random effects, covariates first and ``_cons`` last
        (``["week", "_cons"]``, ``["1.children", "2.children", "3.children"]``); for ``R.var``
        the single name ``"R.var"``.
    Z : ndarray (n, q) or None
        Covariate values of the random effects for ordinary equations (``_cons`` is a column
        of ones). ``None`` for ``R.`` blocks.
    factor_codes : ndarray (n,) int64 or None
        For ``R.var`` blocks: 0-based code of each row's level of ``var``; each level gets
        its own random effect, all with one variance (Stata's identity structure).
    factor_levels : ndarray or None
        The level values in code order (``R.`` blocks only).
    covariance : str
        Structure name from the spec (``R.`` blocks are ``"identity"``).
    cov_matrix : ndarray or None
        The ``pattern()`` / ``fixed()`` matrix, q x q.
    """

    names: list[str]
    Z: np.ndarray | None
    covariance: str
    factor_codes: np.ndarray | None = None
    factor_levels: np.ndarray | None = None
    cov_matrix: np.ndarray | None = None

    @property
    def q(self) -> int:
        """Random effects per group in this block (levels of the factor for ``R.`` blocks)."""
        if self.factor_codes is not None:
            return len(self.factor_levels)
        return self.Z.shape[1]


@dataclass
class Level:
    """One grouping level: every equation sharing one nesting path.

    Attributes
    ----------
    path : tuple of str
        Nesting path, outermost first (``("school", "class")``).
    label : str
        Stata's label, path joined by ``>`` (``"school>class"``), or ``"_all"``.
    codes : ndarray (n,) int64
        0-based group of each row; groups are distinct across the whole path (class 1 of
        school 1 and class 1 of school 2 are different groups). All zeros for ``_all``.
    n_groups : int
    group_values : pandas.Index or MultiIndex
        The path values of each group, in code order.
    parent : ndarray (n_groups,) int64 or None
        Code, in the previous level, of the group that contains each group, when this level
        is nested in the previous one; ``None`` for the first level or when not nested.
    blocks : list of REBlock
        One block per equation at this level (several give a blocked-diagonal covariance).
    """

    path: tuple[str, ...]
    label: str
    codes: np.ndarray
    n_groups: int
    group_values: Any
    blocks: list[REBlock]
    parent: np.ndarray | None = None

    @property
    def q(self) -> int:
        return sum(b.q for b in self.blocks)

    @property
    def names(self) -> list[str]:
        return [n for b in self.blocks for n in b.names]


@dataclass
class Design:
    """Everything an estimator needs, as arrays.

    Attributes
    ----------
    spec : ModelSpec
    endog : ndarray (n,) or (n, 2)
        Response (two columns for ``meintreg``).
    endog_names : list of str
    exog : ndarray (n, p)
        Fixed-effects design after collinearity drops; ``_cons`` last, like Stata.
    exog_names : list of str
        Stata names (``week``, ``1.urban``, ``1.cc#1.tv``, ``_cons``).
    levels : list of Level
        Grouping levels in the order written (outermost first).
    nested : bool
        True when every level is nested in the one before it (hierarchical model; the
        likelihood factors over groups of ``levels[0]``) and no level is ``_all``.
    crossed : bool
        True when some random effects are not nested (``R.`` terms, ``_all`` levels, or
        non-nested lme4 bars).
    row_index : pandas.Index
        Index labels of the rows used.
    n_missing : int
        Rows dropped for missing values in a used variable.
    omitted : list of str
        Fixed-effects names dropped for collinearity (or base levels).
    notes : list of str
        Messages for the user ("note: 2.block omitted because of collinearity", ...).
    offset : ndarray (n,) or None
        ``offset()`` or log of ``exposure()``.
    trials : ndarray (n,) or None
        Binomial trials (``binomial(varname|#)``).
    base_levels : list of str
        Stata ``e(b)`` names of the base columns of factor terms (``0b.urban``,
        ``0b.cc#1o.tv``); they are not columns of ``exog``.
    full_names : list of str
        Stata ``e(b)`` layout of the fixed part: every column of ``exog`` plus base columns
        (``0b.urban``) and omitted columns (``2o.block``, ``o.x``) in their places.
    nesting_note : str or None
        Set when random effects specified as crossed (separate lme4 bars) are nested in the
        data ("b is nested in a").
    weights : ndarray (n,) or None
        Observation-level weights ``[fweight|pweight|aweight|iweight = var]``.
    weight_type : str or None
        ``"fweight"``, ``"pweight"``, ... (``None`` without weights).
    level_weights : dict
        Level variable -> ``(weight_type, ndarray (n,))`` for ``mixed``'s ``|| id:, pweight(w)``
        (the row values; Stata requires them constant within each group).
    residual_vars : dict
        Row values of the variables named in ``mixed``'s ``residuals(..., t(var) by(var))``:
        keys ``"t"`` and ``"by"``.
    sample : pandas.Series of bool or None
        Stata's ``e(sample)``: True for the rows of the input data used in estimation (after
        ``if``/``in`` and listwise deletion), indexed like the input DataFrame.
    transforms : dict
        :class:`~statsmodels_me.design.formula_columns.EquationTransforms` of each equation
        that holds formula transforms: key ``"fixed"`` or the level label (``"id"``,
        ``"school>class"``). Their patsy ``DesignInfo`` (``.info``) carries the stateful
        transforms fitted on the estimation sample (``center``, ``bs``, ...);
        ``.transform(new_data)`` builds the equation's columns for new data with the same
        constants.
    factor_levels : dict
        Variable -> sorted levels (ndarray) in the estimation sample of every categorical
        variable of the model (factor terms, ``R.`` terms, grouping variables): the coding
        that new data must be read with (:mod:`statsmodels_me.design.new_rows`).
    sample_data : DataFrame or None
        The estimation sample's values of every variable the model uses (rows of
        ``row_index``): what ``margins`` averages over.
    """

    spec: ModelSpec
    endog: np.ndarray
    endog_names: list[str]
    exog: np.ndarray
    exog_names: list[str]
    levels: list[Level]
    nested: bool
    crossed: bool
    row_index: pd.Index
    n_missing: int = 0
    omitted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    offset: np.ndarray | None = None
    trials: np.ndarray | None = None
    base_levels: list[str] = field(default_factory=list)
    full_names: list[str] = field(default_factory=list)
    nesting_note: str | None = None
    weights: np.ndarray | None = None
    weight_type: str | None = None
    level_weights: dict = field(default_factory=dict)
    residual_vars: dict = field(default_factory=dict)
    sample: pd.Series | None = None
    transforms: dict = field(default_factory=dict)
    factor_levels: dict = field(default_factory=dict)
    sample_data: pd.DataFrame | None = None

    @property
    def nobs(self) -> int:
        return self.exog.shape[0]

    def group_summary(self) -> pd.DataFrame:
        """Number of groups and min/avg/max observations per group, one row per level."""
        rows = {}
        for lev in self.levels:
            counts = np.bincount(lev.codes, minlength=lev.n_groups)
            rows[lev.label] = {"groups": lev.n_groups, "min": int(counts.min()),
                               "avg": float(counts.mean()), "max": int(counts.max())}
        return pd.DataFrame.from_dict(rows, orient="index")
