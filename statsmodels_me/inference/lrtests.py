"""Likelihood-ratio tests with variance components on the boundary of the parameter space.

Follows "Distribution theory for likelihood-ratio test" in Stata's [ME] me:

* no variance restricted to zero: the usual ``chi2(k)``;
* one variance restricted to zero, ``p`` other restricted parameters: a 50:50 mixture of
  ``chi2(p)`` and ``chi2(p+1)`` (Self and Liang 1987, JASA 82, 605-610), labelled
  ``chibar2(01)`` for ``p = 0``;
* more than one variance restricted to zero: ``chi2(k)`` with ``k`` all restricted
  parameters, an upper bound on the tail probability (Stram and Lee 1994), flagged
  "LR test is conservative and provided only for reference."
"""
from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from statsmodels_me.spec.errors import SpecificationError

#: the note Stata prints under a test that restricts more than one variance
CONSERVATIVE_NOTE = "LR test is conservative and provided only for reference."


@dataclass
class LRTest:
    """LR test of a fitted model against the same model without random effects.

    Attributes
    ----------
    stat : float
        ``2 (llf - llf_fixed)``, clipped at 0.
    df : int
    kind : str
        ``"chibar2(01)"`` or ``"chi2(k)"``.
    pvalue : float
    versus : str
        ``"linear model"``, ``"logistic model"``, ``"ologit model"``, ... (printed after
        "LR test vs.").
    """

    stat: float
    df: int
    kind: str
    pvalue: float
    versus: str


@dataclass
class LRTestResult:
    """Outcome of :func:`boundary_test` (and of ``postestimation.lrtest.lrtest``).

    Attributes
    ----------
    stat : float
        ``2 (llf_full - llf_restricted)``, clipped at 0.
    df : int
        Restricted parameters (``p + 1`` for the mixture).
    pvalue : float
    kind : str
        ``"chi2(k)"``, ``"chibar2(01)"``, or ``"chibar2(p,p+1)"`` for a mixture with ``p > 0``.
    note : str or None
        :data:`CONSERVATIVE_NOTE` when more than one variance is restricted.
    """

    stat: float
    df: int
    pvalue: float
    kind: str
    note: str | None = None


def _chi2_sf(x: float, df: int) -> float:
    # chi2(0) is a point mass at zero
    if df == 0:
        return 1.0 if x <= 0 else 0.0
    return float(stats.chi2.sf(x, df))


def boundary_test(stat: float, n_var_restricted: int, n_other_restricted: int) -> LRTestResult:
    """Reference distribution and p-value for an LR statistic.

    Parameters
    ----------
    stat : float
        LR statistic (negative values, from rounding, are clipped at 0).
    n_var_restricted : int
        Variances set to zero in the restricted model.
    n_other_restricted : int
        Other restricted parameters (covariances, correlations, fixed effects).

    Returns
    -------
    LRTestResult
    """
    n_var = int(n_var_restricted)
    p = int(n_other_restricted)
    if n_var < 0 or p < 0 or n_var + p == 0:
        raise SpecificationError(
            f"an LR test needs at least one restricted parameter; got {n_var} variance(s) "
            f"and {p} other parameter(s)")
    stat = max(float(stat), 0.0)
    if n_var == 1:
        pvalue = 0.5 * _chi2_sf(stat, p) + 0.5 * _chi2_sf(stat, p + 1)
        kind = "chibar2(01)" if p == 0 else f"chibar2({p},{p + 1})"
        return LRTestResult(stat, p + 1, pvalue, kind)
    k = n_var + p
    note = CONSERVATIVE_NOTE if n_var > 1 else None
    return LRTestResult(stat, k, _chi2_sf(stat, k), f"chi2({k})", note)


def lr_test_vs_fixed(llf: float, llf_fixed: float, n_var_restricted: int,
                     n_other_restricted: int, versus: str) -> LRTest:
    """LR test of a mixed model against the same model without random effects.

    Parameters
    ----------
    llf, llf_fixed : float
        Log likelihoods of the mixed model and of the fixed-effects-only model.
    n_var_restricted : int
        Variance parameters of the random effects (at least 1). For a structure,
        ``sum(cov.theta_is_variance)``; see :func:`restricted_counts`.
    n_other_restricted : int
        Other random-effects parameters (covariances, correlations).
    versus : str
        ``"linear model"``, ``"logistic model"``, ... (printed after "LR test vs.").

    Returns
    -------
    LRTest
        ``kind`` ``"chibar2(01)"`` or ``"chi2(k)"``; the conservative note applies exactly
        when ``kind`` starts with ``"chi2"`` (see :func:`lr_note`).
    """
    res = boundary_test(2.0 * (llf - llf_fixed), n_var_restricted, n_other_restricted)
    return LRTest(stat=res.stat, df=res.df, kind=res.kind, pvalue=res.pvalue, versus=versus)


def lr_note(test: LRTest) -> str | None:
    """The note to print under a test against the fixed-effects model, if any.

    Every such test restricts at least one variance, so a ``chi2`` (not ``chibar2``)
    reference distribution means more than one variance and a conservative test.
    """
    return CONSERVATIVE_NOTE if test.kind.startswith("chi2(") else None


def restricted_counts(structures) -> tuple[int, int]:
    """``(n_variances, n_other)`` among the theta parameters of covariance structures.

    A variance parameter is one with lower bound 0 (standard deviations, Cholesky
    diagonals, pattern variances); the rest (Cholesky off-diagonals, correlations, pattern
    covariances) are "other".
    """
    n_var = n_other = 0
    for cov in structures:
        flags = cov.theta_is_variance
        n_var += sum(flags)
        n_other += len(flags) - sum(flags)
    return n_var, n_other
