"""Random-effects covariates and column names of a design level (``R.x`` blocks expanded)."""
from __future__ import annotations

import numpy as np


def level_Z(level):
    """Random-effects covariates of a level: its blocks' columns side by side, an ``R.x``
    block as indicator columns of the levels of x."""
    cols = []
    for b in level.blocks:
        if b.factor_codes is not None:
            ind = np.zeros((len(b.factor_codes), len(b.factor_levels)))
            ind[np.arange(len(b.factor_codes)), b.factor_codes] = 1.0
            cols.append(ind)
        else:
            cols.append(b.Z)
    return np.hstack(cols)


def effect_names(level):
    """Names of a level's random effects, ``name[level]`` (``R.x``: ``3.x[level]`` per level
    of x)."""
    names = [n for b in level.blocks for n in (
        [f"{v:g}.{b.names[0][2:]}" for v in b.factor_levels] if b.factor_codes is not None
        else b.names)]
    return [f"{n}[{level.label}]" for n in names]


def level_part(level, means, covs):
    """``(codes, Z, means, covs, names)`` of one level's predicted random effects."""
    return (level.codes, level_Z(level), means, covs, effect_names(level))
