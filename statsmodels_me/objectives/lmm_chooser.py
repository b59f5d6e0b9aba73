"""Choose the LMM objective that fits the random-effects terms."""
from __future__ import annotations

from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_crossed_scalar import CrossedScalarLMM
from statsmodels_me.objectives.lmm_one_term import OneTermLMM


def lmm_objective(y, X, terms, reml=False, bounds=None, center=None):
    """The profiled-deviance objective for ``terms``.

    One term: :class:`OneTermLMM` (the Cython kernel, analytic gradient; ``center`` is its
    least-squares centring); several terms with one effect per group each:
    :class:`CrossedScalarLMM` (analytic gradient, exact Hessian); otherwise
    :class:`BlockedLMM` (blocked factor, gradient by differences).
    """
    if len(terms) == 1:
        return OneTermLMM(y, X, terms, reml, bounds, center)
    if all(t.q == 1 for t in terms):
        return CrossedScalarLMM(y, X, terms, reml, bounds)
    return BlockedLMM(y, X, terms, reml, bounds)
