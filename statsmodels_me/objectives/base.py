"""The objective protocol: value, gradient, optional Hessian, per-cluster contributions.

An objective owns the data arrays and the compiled kernel of one engine (LMM profiled
deviance, one-level GLMM quadrature/Laplace, nested GLMM, crossed Laplace) and nothing about
how it is optimized. Estimators choose one by composition from the design; optimizers
(``statsmodels_me.optimization``) see only this protocol.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Objective(Protocol):
    """A log likelihood in an internal parameter vector ``x`` (to be maximized).

    Attributes
    ----------
    n_params : int
        Length of ``x``.
    bounds : list of (lower, upper)
        Box constraints on ``x`` (``None`` for unbounded), as scipy's L-BFGS-B takes them.
    """

    n_params: int
    bounds: list

    def value(self, x: np.ndarray) -> float:
        """Log likelihood (restricted for REML) at ``x``; ``-inf`` outside the domain."""

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log likelihood and its gradient in ``x``."""

    def hessian(self, x: np.ndarray) -> np.ndarray | None:
        """Exact Hessian in ``x`` where the engine has it, else ``None`` (the optimization
        layer then differences the gradient)."""

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per top-level cluster: log-likelihood values ``(G,)`` and scores ``(G, n_params)``
        (they sum to :meth:`value` and the gradient): the pieces of sandwich standard errors
        and of a distributed evaluation."""
