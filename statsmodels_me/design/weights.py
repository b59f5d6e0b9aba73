"""Weights of a GLMM design: the observation weight and one weight per grouping level.

Stata's ``meglm`` ([ME] meglm, "Survey data"; Rabe-Hesketh & Skrondal 2006, J. R. Statist. Soc.
A 169:805-827) takes ``[fweight|pweight|iweight=exp]`` at the observation level and
``fweight(varname)`` / ``pweight(varname)`` at each higher level (``|| id:, pweight(wj)``).
The weights are used as given (no rescaling: ``pwscale()`` belongs to ``mixed``); a level's
weight must be constant within each of its groups.  Sampling weights (``pweight``) at any
level make the likelihood a pseudo-likelihood, with ``vce(robust)`` clustered at the highest
level implied.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statsmodels_me.spec.errors import DataError, SpecificationError

#: observation-level weight types ``meglm`` takes
OBSERVATION_TYPES = ("fweight", "pweight", "iweight")
#: weight types of the higher levels
LEVEL_TYPES = ("fweight", "pweight")


@dataclass(frozen=True)
class GLMMWeights:
    """The weights of a GLMM design.

    Attributes
    ----------
    observation : ndarray (n,) or None
        The observation weight of every row.
    levels : tuple of (ndarray (n,) or None)
        For each level of ``design.levels`` (outermost first), its group weight on every row.
    kinds : tuple of str
        The weight types given (``"fweight"``, ``"pweight"``, ``"iweight"``).
    variables : tuple of str
        The weight variables (or expressions), for messages.
    """

    observation: np.ndarray | None
    levels: tuple
    kinds: tuple
    variables: tuple

    @property
    def any(self) -> bool:
        """Whether any weight is given."""
        return self.observation is not None or any(w is not None for w in self.levels)

    @property
    def sampling(self) -> bool:
        """Whether some weight is a sampling weight (pseudo-likelihood, robust SEs)."""
        return "pweight" in self.kinds

    def inner_levels_weighted(self) -> bool:
        """Whether a level below the highest has weights."""
        return any(w is not None for w in self.levels[1:])


def glmm_weights(design, command) -> GLMMWeights:
    """Read and check the weights of ``design`` for a GLMM estimator.

    Raises
    ------
    NotImplementedError
        A weight type ``meglm`` does not take (``aweight``), or level weights with random
        effects that are not nested (crossed designs).
    SpecificationError
        A level weight named for a level the model does not have.
    DataError
        A level weight that varies within a group of its level (naming the variable).
    """
    kinds, variables = [], []
    observation = None
    if design.weight_type is not None:
        var = _shown(design.spec.options["weight"][1])
        if design.weight_type not in OBSERVATION_TYPES:
            raise NotImplementedError(
                f"{command}: [{design.weight_type}={var}] weights are not implemented "
                f"({', '.join(OBSERVATION_TYPES)} are)")
        observation = np.asarray(design.weights, float)
        kinds.append(design.weight_type)
        variables.append(var)
    given = dict(design.spec.options.get("level_weights") or {})
    levels = [None] * len(design.levels)
    if given and (design.crossed or any(lev.label == "_all" for lev in design.levels)):
        # Stata's level weights multiply a group's integrated likelihood contribution
        # (Rabe-Hesketh & Skrondal 2006); crossed groups have no contribution of their own
        raise NotImplementedError(f"{command}: weights at higher levels with crossed random "
                                  "effects are not implemented (the likelihood does not "
                                  "factor over the groups of a crossed level)")
    by_name = {lev.path[-1]: k for k, lev in enumerate(design.levels)}
    for name, (kind, values) in dict(design.level_weights).items():
        var = given[name][1] if name in given else name
        if kind not in LEVEL_TYPES:
            raise SpecificationError(f"{command}: {kind}() is not a level weight; use "
                                     "fweight() or pweight()")
        if name not in by_name:
            raise SpecificationError(f"{command}: {kind}({var}) is given at level '{name}', "
                                     "which is not a level of the model")
        k = by_name[name]
        lev = design.levels[k]
        values = np.asarray(values, float)
        _check_constant(values, lev.codes, lev.n_groups, var, lev.label)
        levels[k] = values
        kinds.append(kind)
        variables.append(var)
    return GLMMWeights(observation, tuple(levels), tuple(kinds), tuple(variables))


def _check_constant(values, codes, n_groups, var, label):
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, codes, values)
    np.maximum.at(hi, codes, values)
    bad = np.flatnonzero(lo != hi)
    if bad.size:
        raise DataError(f"weight variable '{var}' is not constant within groups of level "
                        f"'{label}' ({bad.size} groups have several values)")


def _shown(var):
    return getattr(var, "text", var)
