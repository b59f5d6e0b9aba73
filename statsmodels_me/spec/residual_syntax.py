"""Pieces of the residual-structure options shared by ``mixed``'s ``residuals()``
(:func:`statsmodels_me.covariance.residual.parse_residuals`) and ``menl``'s
``rescorrelation()`` / ``resvariance()`` / ``rescovariance()``
(:mod:`statsmodels_me.spec.menl_residual_spec`): the order after a structure's name
(``ar 2``, ``toeplitz 3``) and the variable of a suboption (``t(time)``, ``index(occ)``).
"""
from __future__ import annotations

import re

from statsmodels_me.spec.errors import SpecificationError

__all__ = ["structure_order", "suboption_variable"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def structure_order(word, kind, where):
    """The order ``word`` typed after structure ``kind``: an integer of at least 1.

    Parameters
    ----------
    word : str
    kind : str
        The structure, for the message.
    where : str
        The option as typed, prefixed to the message (``residuals(ar x, t(t))``).

    Raises
    ------
    SpecificationError
        When ``word`` is not an integer or is below 1.
    """
    try:
        order = int(word)
    except ValueError:
        raise SpecificationError(f"{where}: the order of {kind} must be an integer, got "
                                 f"'{word}'") from None
    if order < 1:
        raise SpecificationError(f"{where}: the order of {kind} must be at least 1, got "
                                 f"{order}")
    return order


def suboption_variable(value, sub, where):
    """The one variable name of suboption ``sub`` (``t``, ``by``, ``index``, ``group``).

    Raises
    ------
    SpecificationError
        When ``value`` is not one variable name.
    """
    value = "" if value is None else str(value).strip()
    if not _NAME.fullmatch(value):
        raise SpecificationError(f"{where}: {sub}() takes one variable name, got '{value}'")
    return value
