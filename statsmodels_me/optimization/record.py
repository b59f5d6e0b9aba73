"""What an optimization did, kept on the results (like MixedModels.jl's ``OptSummary``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class OptimizationRecord:
    """The course and outcome of one fit's optimization.

    Attributes
    ----------
    stages : list of str
        The methods run in order (``"EM"``, ``"L-BFGS-B"``, ``"Newton"``, ``"chord Newton"``,
        ``"COBYQA"``, ...).
    iterations : int
        Iterations of the gradient-based stages (the count Stata's log shows).
    evaluations : int
        Objective evaluations, every stage included (0 where not counted).
    converged : bool
        Whether the last stage met its convergence criterion.
    criterion : str
        The criterion that stopped the last stage (``"relative decrease"``,
        ``"Newton decrement"``, ``"iteration limit"``, ...).
    x_initial, x_final : ndarray
        Internal parameter vectors at the start and at the estimate.
    value : float
        The objective (log likelihood) at ``x_final``.
    scaled_gradient : float
        g' H^-1 g at the estimate (the Newton decrement; NaN when no Hessian is known).
    hessian_condition : float
        Condition number of the Hessian on the free parameters (NaN when not computed).
    warnings : list of str
        Messages of the warnings issued during the fit.
    """

    stages: list = field(default_factory=list)
    iterations: int = 0
    evaluations: int = 0
    converged: bool = False
    criterion: str = ""
    x_initial: np.ndarray | None = None
    x_final: np.ndarray | None = None
    value: float = float("nan")
    scaled_gradient: float = float("nan")
    hessian_condition: float = float("nan")
    warnings: list = field(default_factory=list)

    def add_stage(self, name, iterations=0, evaluations=0):
        """Append a stage and add its counts."""
        self.stages.append(name)
        self.iterations += int(iterations)
        self.evaluations += int(evaluations)

    def finish(self, x, value, converged, criterion, gradient=None, hessian=None):
        """Record the estimate and, when given, the Newton decrement and Hessian condition
        on the coordinates ``hessian`` covers (``gradient`` restricted to them)."""
        self.x_final = np.array(x, dtype=float, copy=True)
        self.value = float(value)
        self.converged = bool(converged)
        self.criterion = criterion
        if hessian is not None and np.size(hessian) and np.all(np.isfinite(hessian)):
            H = np.asarray(hessian, dtype=float)
            with np.errstate(all="ignore"):
                self.hessian_condition = float(np.linalg.cond(H))
                if gradient is not None:
                    try:
                        self.scaled_gradient = float(abs(gradient @ np.linalg.solve(H, gradient)))
                    except np.linalg.LinAlgError:
                        self.scaled_gradient = float("nan")
