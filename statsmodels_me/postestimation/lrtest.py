"""Stata's ``lrtest``: likelihood-ratio test of two fitted models, one nested in the other.

Reads only the results' public ``llf`` and ``params``; the reference distributions (with
variances on the boundary of the parameter space) are those of
:mod:`statsmodels_me.inference.lrtests`.
"""
from __future__ import annotations

from statsmodels_me.inference.lrtests import LRTestResult, boundary_test
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["LRTestResult", "lrtest"]


def _llf(res, which):
    llf = getattr(res, "llf", None)
    if llf is None:
        raise SpecificationError(f"the {which} results have no log likelihood (llf)")
    return float(llf)


def _k(res, which):
    params = getattr(res, "params", None)
    if params is None:
        raise SpecificationError(f"the {which} results have no params")
    return len(params)


def lrtest(restricted_results, full_results, boundary: int = 0) -> LRTestResult:
    """Likelihood-ratio test of two nested fitted models (Stata's ``lrtest``).

    Parameters
    ----------
    restricted_results, full_results
        Results exposing ``llf`` and ``params``; the model with fewer parameters is taken
        as the restricted one whichever order they come in.
    boundary : int
        How many of the restricted parameters are variances set to zero (on the boundary):
        0 gives ``chi2(k)``, 1 a ``chibar2`` mixture, more a conservative ``chi2(k)``.

    Returns
    -------
    LRTestResult
    """
    llf_r, llf_f = _llf(restricted_results, "restricted"), _llf(full_results, "full")
    k_r, k_f = _k(restricted_results, "restricted"), _k(full_results, "full")
    if k_r > k_f:
        llf_r, llf_f, k_r, k_f = llf_f, llf_r, k_f, k_r
    df = k_f - k_r
    if df <= 0:
        raise SpecificationError(
            f"models are not nested: both have {k_f} parameters (lrtest needs a restricted "
            f"model with fewer parameters)")
    boundary = int(boundary)
    if not 0 <= boundary <= df:
        raise SpecificationError(
            f"boundary={boundary} must be between 0 and the {df} restricted parameters")
    return boundary_test(2.0 * (llf_f - llf_r), boundary, df - boundary)
