"""``menl`` fits with some variance components held at given values (profile likelihoods).

The alternating algorithm (:func:`~statsmodels_me.models.menl_fit.alternate`) runs unchanged;
its LME step maximizes the linearized model's (restricted) log likelihood over the other
variance parameters only, in the display coordinates of
:meth:`~statsmodels_me.models.menl_lme.GroupedLME.inference_point` (variances, covariances,
``s2`` and the error structure's own parameters), with the fixed effects at their GLS
estimates. At convergence the result is the linearization fixed point of the model with those
components fixed, and its log likelihood the linearization log likelihood there: the profile
of the objective the unconstrained fit maximizes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statsmodels_me.models.menl_lme import ThetaOptimizer

__all__ = ["FixedLME", "FixedFit"]


@dataclass
class FixedFit:
    """A fit with parameters held fixed: linearization log likelihood, fixed effects,
    display values of the variance parameters, convergence."""

    llf: float
    beta: np.ndarray
    values: np.ndarray
    converged: bool
    iterations: int


class FixedLME(ThetaOptimizer):
    """An LME engine with some coordinates of its inference point held fixed.

    Parameters
    ----------
    lme : engine
        :class:`GroupedLME`, :class:`SparseLME` or :class:`ResidualLME`.
    start : ndarray
        Inference point to start from (``MENLResults.inference_point``).
    fixed : dict of int -> float
        Coordinates of the inference point and their values.
    positive : ndarray of bool
        Coordinates that are variances (bounded below by zero; ``s2`` by a small positive
        number).
    s2_index : int
        Coordinate of ``s2``.
    """

    def __init__(self, lme, start, fixed, positive, s2_index):
        self.lme = lme
        self.newton_decrement_tol = getattr(lme, "newton_decrement_tol", None)
        self.point = np.asarray(start, float).copy()
        for j, v in fixed.items():
            self.point[j] = v
        self.free = np.array([j for j in range(len(self.point)) if j not in fixed], int)
        # the error structure's own parameters follow s2, with the engine's last bounds
        n_structure = len(self.point) - s2_index - 1
        all_bounds = lme.bounds()
        structure_bounds = all_bounds[len(all_bounds) - n_structure:] if n_structure else []
        bounds = []
        for j in self.free:
            if j == s2_index:
                bounds.append((1e-10 * self.point[j], None))
            elif j > s2_index:
                bounds.append(structure_bounds[j - s2_index - 1])
            else:
                bounds.append((0.0, None) if positive[j] else (None, None))
        self._bounds = bounds
        self.reml = lme.reml

    def full(self, x):
        u = self.point.copy()
        u[self.free] = x
        return u

    # ------------------------------------------------------------------ the engine's API
    def theta_start(self):
        return self.point[self.free].copy()

    def bounds(self):
        return list(self._bounds)

    def deviance(self, x):
        with np.errstate(all="ignore"):
            ll = self.lme.loglike_display(self.full(x), None)
        return -2.0 * ll if np.isfinite(ll) else np.inf

    def solve(self, x, modes=True):
        return self.lme.solve_inference(self.full(x), modes)

    def solve_at(self, Lam, modes=True):
        return self.lme.solve_at(Lam, modes)

    def display(self, x, s2):
        return self.lme.display_from_inference(self.full(x))

    def to_b(self, Lam, u):
        return self.lme.to_b(Lam, u)

    def to_u(self, Lam, b):
        return self.lme.to_u(Lam, b)

    def set_covariate(self, yhat):
        self.lme.set_covariate(yhat)

    def set_data(self, w, X, Z):
        self.lme.set_data(w, X, Z)

    def whiten(self, r):
        return self.lme.whiten(r)
