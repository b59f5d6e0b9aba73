"""Name-based entry points of the family objects, for the engines that take family names.

Every function accepts a family name (``statsmodels_me.families.catalog.FAMILY_CLASSES``) or
a :class:`~statsmodels_me.families.base.Family` and delegates to the family object; the
family-specific answers live in the family modules.

Ancillary parameters (``aux``) per family, on the unrestricted scale the optimizer sees:

============================  =======================  =========================================
family                        aux                      meaning
============================  =======================  =========================================
gaussian                      ``[log sigma_e^2]``      log residual variance (Stata /var(e.y))
nbinomial_mean (NB2)          ``[lnalpha]``            Var(y|b) = mu (1 + alpha mu)
nbinomial_constant (NB1)      ``[lndelta]``            Var(y|b) = mu (1 + delta)
gamma                         ``[log s]``              shape 1/s, mean mu, Var(y|b) = s mu^2
ordinal                       ``cut_1 < ... < cut_K-1``  P(y <= k) = F(cut_k - eta)
bernoulli, binomial, poisson  none
============================  =======================  =========================================

Ordinal responses are integer codes 0..K-1 (the caller maps the sorted categories).
"""
from __future__ import annotations

import functools

import numpy as np

from statsmodels_me._integrate.codes import FAMILY_CODES, LINK_CODES
from statsmodels_me.families.base import Family, statsmodels_link
from statsmodels_me.families.catalog import FAMILY_CLASSES
from statsmodels_me.families.catalog import get_family as family_object
from statsmodels_me.spec.errors import DataError, SpecificationError

__all__ = ["FAMILIES", "FAMILY_CODES", "LINK_CODES", "ObsConstant", "check_endog", "get_family",
           "link_code", "n_aux", "obs_constant", "parameter_arrays", "reference_logpdf",
           "response_arrays", "statsmodels_link"]

#: every family at its default link, by engine name
FAMILIES: dict[str, Family] = {name: cls() for name, cls in FAMILY_CLASSES.items()}


@functools.lru_cache(maxsize=64)
def _family(name, link=None) -> Family:
    """The family object of a name (built once per name and link: engines look it up on
    every likelihood pass)."""
    return family_object(name, link)


def get_family(name, link: str | None = None) -> tuple[Family, str]:
    """The family object of an engine name and its (validated or default) link name.

    Raises
    ------
    SpecificationError
        Unknown family, or a link the family does not support.
    """
    fam = _family(name, link)
    return fam, fam.link


def link_code(link: str) -> int:
    """Integer code of a link name for the kernels."""
    if link not in LINK_CODES:
        raise SpecificationError(f"link '{link}' is not supported; expected one of "
                                 f"{sorted(LINK_CODES)}")
    return LINK_CODES[link]


def n_aux(name, endog=None) -> int:
    """Number of ancillary parameters (ordinal: number of categories minus one)."""
    return _family(name).n_ancillary(endog)


def check_endog(name, y, trials) -> None:
    """Raise DataError when the response is outside the family's support."""
    _family(name).check_endog(y, trials)


def response_arrays(name, endog, trials=None, offset=None):
    """Response, trials and offset as float vectors, checked for the family.

    Returns
    -------
    y, t, off : ndarray (n,)
        ``t`` is ones and ``off`` zeros when not given.
    """
    return _family(name).response_arrays(endog, trials, offset)


def parameter_arrays(beta, aux, p: int, k_aux: int):
    """Fixed effects and ancillary parameters as contiguous float vectors of the right sizes."""
    beta = np.ascontiguousarray(beta, float).ravel()
    aux = np.ascontiguousarray(aux if aux is not None else [], float).ravel()
    if beta.size != p or aux.size != k_aux:
        raise DataError(f"expected {p} coefficients and {k_aux} ancillary parameters, got "
                        f"{beta.size} and {aux.size}")
    return beta, aux


def obs_constant(name, y, trials, aux):
    """Terms of log f(y | eta) that do not depend on eta, and their aux-derivatives.

    Returns
    -------
    c : ndarray (n,)
    dc : ndarray (n, naux)
    """
    return _family(name).obs_constant(y, trials, aux)


class ObsConstant:
    """:func:`obs_constant` of fixed responses, remembered for the last ``aux``.

    The eta-free terms (``-lgamma(y + 1)`` and the like) cost a special-function call per
    observation; likelihood passes at the same ancillary parameters reuse them.
    """

    def __init__(self, name, y, trials):
        self.name, self.y, self.trials = name, y, trials
        self._key = None
        self._value = None

    def __call__(self, aux):
        """``(c, dc)`` as :func:`obs_constant` returns them (shared arrays: do not modify)."""
        aux = np.asarray(aux, float)
        key = aux.tobytes()
        if key != self._key:
            self._value = obs_constant(self.name, self.y, self.trials, aux)
            self._key = key
        return self._value


def reference_logpdf(name, link, y, eta, trials=None, aux=()):
    """log f(y | eta) from scipy.stats and statsmodels links (independent of the kernels).

    Slow but simple: for tests and the pure-Python reference quadrature.
    """
    return _family(name, link).loglike_obs(y, eta, trials, aux)
