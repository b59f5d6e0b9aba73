"""Which GLMM objective fits a design: one grouping level, nested levels, or crossed."""
from __future__ import annotations

import numpy as np

from statsmodels_me.covariance import BlockDiagonal, make_level_covariance
from statsmodels_me.design.work_size import check_nested_quadrature
from statsmodels_me.objectives.glmm_crossed import CrossedGLMMObjective
from statsmodels_me.objectives.glmm_levels import level_Z
from statsmodels_me.objectives.glmm_nested import NestedGLMMObjective
from statsmodels_me.objectives.glmm_nested_engine import NestedGLMM, nesting_order
from statsmodels_me.objectives.glmm_one_level import OneLevelGLMMObjective
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM
from statsmodels_me.spec.errors import DataError, SpecificationError


def design_kind(design):
    """``"one level"``, ``"nested"`` or ``"crossed"``.

    Crossed: an ``R.`` block, or several levels of which one is ``_all`` or whose groups do
    not nest in one another.
    """
    levels = design.levels
    if any(b.factor_codes is not None for lev in levels for b in lev.blocks):
        return "crossed"
    if len(levels) == 1:
        return "one level"
    if any(lev.label == "_all" for lev in levels):
        return "crossed"
    if not design.nested:
        try:
            nesting_order([lev.codes for lev in design.levels])
        except DataError:
            return "crossed"
    return "nested"


def integration(options, kind, command):
    """``(intmethod, intpoints)`` from the options: ``pclaplace`` is Laplace; crossed
    designs are integrated by Laplace only (their default)."""
    default = "laplace" if kind == "crossed" else "mvaghermite"
    method = str(options.get("intmethod") or default).lower()
    if kind == "crossed" and method not in ("laplace", "pclaplace"):
        raise SpecificationError(
            f"{command}: crossed random effects are integrated by the Laplace "
            f"approximation; intmethod({method}) is not available for them")
    if method == "pclaplace":
        method = "laplace"
    return method, int(options.get("intpoints") or (1 if method == "laplace" else 7))


def glmm_objective(design, family, link, y, X, intmethod, intpoints, kind=None, weights=None):
    """The objective of a GLMM on ``design`` and the covariance structure of each level.

    Parameters
    ----------
    design : Design
    family : Family or str
        The family object (or its engine name).
    link : str
    y, X : ndarray
        Response (ordinal: codes 0..K-1) and fixed-effects design.
    intmethod, intpoints : from :func:`integration`.
    kind : {"one level", "nested", "crossed"}, optional
        Default: :func:`design_kind`. ``"crossed"`` fits every design.
    weights : GLMMWeights, optional
        Observation and level weights (:func:`statsmodels_me.design.weights.glmm_weights`);
        with crossed effects only observation weights (a group's weight multiplies its
        integrated likelihood contribution, and crossed groups have none).

    Returns
    -------
    objective : OneLevelGLMMObjective, NestedGLMMObjective or CrossedGLMMObjective
    level_covs : list of CovarianceStructure, one per level in design order
    """
    kind = kind or design_kind(design)
    levels = list(design.levels)
    level_covs = [make_level_covariance(lev) for lev in levels]
    k_fe = X.shape[1]
    obs_w = None if weights is None else weights.observation
    level_w = [None] * len(levels) if weights is None else list(weights.levels)
    if kind == "crossed" and any(w is not None for w in level_w):
        raise NotImplementedError("weights at higher levels with crossed random effects are "
                                  "not implemented: a group's weight multiplies its "
                                  "integrated likelihood contribution, and with crossed "
                                  "effects the likelihood does not factor over groups")
    if kind == "one level":
        lev = levels[0]
        engine = OneLevelGLMM(y, X, level_Z(lev), lev.codes.astype(np.int64), family, link,
                              trials=design.trials, offset=design.offset,
                              intmethod=intmethod, intpoints=intpoints, weights=obs_w,
                              group_weights=level_w[0])
        return OneLevelGLMMObjective(engine, level_covs[0], k_fe, levels), level_covs
    cov = BlockDiagonal(level_covs, across_levels=True)
    if kind == "nested":
        if intmethod != "laplace":
            check_nested_quadrature([(lev.label, lev.n_groups, c.q)
                                     for lev, c in zip(levels, level_covs, strict=True)],
                                    intpoints, len(y))
        engine = NestedGLMM(y, X, [level_Z(lev) for lev in levels],
                            [lev.codes for lev in levels], family, link,
                            trials=design.trials, offset=design.offset,
                            intmethod=intmethod, intpoints=intpoints, weights=obs_w,
                            level_weights=level_w)
        return NestedGLMMObjective(engine, cov, k_fe, levels), level_covs
    return CrossedGLMMObjective(design, level_covs, cov, y, X, family, link, k_fe,
                                weights=obs_w), level_covs
