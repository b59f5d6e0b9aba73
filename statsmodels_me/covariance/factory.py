"""Build covariance structures from the design's random-effects blocks."""
from __future__ import annotations

from statsmodels_me.covariance.base import CovarianceStructure, DisplayRow, var_row
from statsmodels_me.covariance.blocked import BlockDiagonal
from statsmodels_me.covariance.structures import (
    Exchangeable,
    Fixed,
    Identity,
    Independent,
    Pattern,
    Unstructured,
)
from statsmodels_me.spec.errors import SpecificationError

_SIMPLE = {
    "identity": Identity,
    "independent": Independent,
    "exchangeable": Exchangeable,
    "unstructured": Unstructured,
}


class FactorExchangeable(Exchangeable):
    """Exchangeable covariance of an ``R.x`` block (one effect per level of x): Stata shows
    one common variance and one common covariance, ``var(R.x)`` and ``cov(R.x)``."""

    def __init__(self, names, level_label, q=None):
        super().__init__(names, level_label, q)
        name = self.names[0]
        self.rows = [var_row(name, level_label, 0),
                     DisplayRow(f"cov({name})", f"/cov({name}[{level_label}])", 0, 1)]


def make_covariance(block, level_label: str) -> CovarianceStructure:
    """The covariance structure of one random-effects equation.

    Parameters
    ----------
    block : statsmodels_me.design.design.REBlock
        Names, structure name (``covariance``) and, for ``pattern``/``fixed``, the matrix.
        An ``R.var`` block (``factor_codes`` set) is an identity over the factor's levels.
    level_label : str
        ``"id"``, ``"school>class"``, ``"_all"``.

    Returns
    -------
    CovarianceStructure
        A single random effect is always shown as ``Identity`` (Stata prints
        ``id: Identity`` for a random intercept whatever ``covariance()`` says), except for
        ``fixed()``, whose value is constrained.

    Raises
    ------
    SpecificationError
        Unknown structure, or a missing / wrongly shaped ``pattern()``/``fixed()`` matrix.
    """
    kind = str(block.covariance).lower()
    names = list(block.names)
    if getattr(block, "factor_codes", None) is not None:
        n_levels = len(block.factor_levels)
        if kind == "exchangeable" and n_levels > 1:
            return FactorExchangeable(names, level_label, q=n_levels)
        if kind not in ("identity", "exchangeable"):
            raise SpecificationError(
                f"{names[0]} random effects have an identity covariance (or "
                f"covariance(exchangeable)); "
                f"covariance({block.covariance}) is not allowed")
        return Identity(names, level_label, q=n_levels)
    if kind in ("pattern", "fixed"):
        if block.cov_matrix is None:
            raise SpecificationError(
                f"covariance({kind}()) for random effects {' '.join(names)} needs a matrix")
        cls = Pattern if kind == "pattern" else Fixed
        return cls(names, level_label, block.cov_matrix)
    if kind not in _SIMPLE:
        raise SpecificationError(
            f"unknown covariance structure '{block.covariance}'; expected one of "
            f"identity, independent, exchangeable, unstructured, pattern(), fixed()")
    if len(names) == 1:
        return Identity(names, level_label)
    return _SIMPLE[kind](names, level_label)


def make_level_covariance(level) -> CovarianceStructure:
    """The covariance of every random effect at one level.

    Parameters
    ----------
    level : statsmodels_me.design.design.Level

    Returns
    -------
    CovarianceStructure
        The block's structure when the level has one equation, else a
        :class:`~statsmodels_me.covariance.blocked.BlockDiagonal` of them.
    """
    structures = [make_covariance(b, level.label) for b in level.blocks]
    if len(structures) == 1:
        return structures[0]
    return BlockDiagonal(structures)
