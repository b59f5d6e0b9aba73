"""The GLMM optimization sequence: Laplace optimum, Newton polish, quadrature chord steps.

:class:`GLMMFitter` drives an objective (:mod:`statsmodels_me.objectives`) through the
optimization layer (:mod:`statsmodels_me.optimization`) and records what it did.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from statsmodels_me.models.glmm_inference import free_coordinates
from statsmodels_me.optimization.newton import ChordTolerances, chord_newton, lower_bounds
from statsmodels_me.optimization.quasi_newton import ZeroRescan, maximize_bounded
from statsmodels_me.spec.errors import ConvergenceWarning

# chord Newton on the crossed Laplace likelihood: steps per Hessian, Hessians before the
# quasi-Newton fallback
_CHORD_MAXIT = 10
_CHORD_ROUNDS = 3


@dataclass(frozen=True)
class FitControls:
    """Stata's maximization options of a GLMM fit (None: the fitter's own defaults).

    Attributes
    ----------
    iterate : int, optional
        ``iterate(#)``: the iterations of all stages together; reaching it stops the fit
        unconverged.
    tolerance : float, optional
        ``tolerance(#)``: a Newton step changing no coordinate by more has converged.
    ltolerance : float, optional
        ``ltolerance(#)``: a step changing the log likelihood by less (relative, as the
        relative reduction of L-BFGS-B) has converged.
    nrtolerance : float, optional
        ``nrtolerance(#)``: the scaled gradient ``g'(-H)^-1 g`` below which Newton steps stop;
        a fit whose final scaled gradient exceeds it is not converged.
    """

    iterate: int | None = None
    tolerance: float | None = None
    ltolerance: float | None = None
    nrtolerance: float | None = None

    def chord_tolerances(self, value_scale=1.0):
        """The thresholds of :func:`~statsmodels_me.optimization.newton.chord_newton`
        (``ltolerance`` relative to ``value_scale``, the magnitude of the log likelihood)."""
        d = ChordTolerances()
        return ChordTolerances(
            decrement=d.decrement if self.nrtolerance is None else self.nrtolerance,
            value=d.value if self.ltolerance is None else self.ltolerance * value_scale,
            step=d.step if self.tolerance is None else self.tolerance)


class GLMMFitter:
    """Maximize a GLMM objective from a start.

    Parameters
    ----------
    objective : GLMMObjective
        The likelihood being maximized. When it integrates by quadrature, its Laplace
        approximation (``objective.laplace()``) is optimized first and its Hessian drives
        chord Newton steps on the quadrature likelihood.
    maxiter : int
    log : list of str
        Stata's iteration log (appended to).
    record : OptimizationRecord
    command : str
        For warnings.
    diverging : sequence of int
        Fixed effects of a quasi-complete separation (held out of Newton steps).
    controls : FitControls, optional
        ``iterate()``, ``tolerance()``, ``ltolerance()``, ``nrtolerance()``.
    """

    def __init__(self, objective, maxiter, log, record, command, diverging=(), controls=None):
        self.objective = objective
        self.bounds = objective.bounds
        self.maxiter, self.log, self.record = maxiter, log, record
        self.command, self.diverging = command, list(diverging)
        self.controls = controls or FitControls()
        self.converged = False
        self.criterion = ""
        self.used = 0  # iterations of all stages so far

    @property
    def out_of_iterations(self):
        """Whether ``iterate()`` is used up."""
        return self.controls.iterate is not None and self.used >= self.controls.iterate

    def _stage_limit(self, limit):
        """Iterations a stage may take: ``limit``, within what ``iterate()`` leaves."""
        if self.controls.iterate is None:
            return limit
        return max(0, min(limit, self.controls.iterate - self.used))

    def _logger(self, first=1):
        def on_step(k, value):
            self.log.append(f"Iteration {k + first - 1}:  Log likelihood = {value:.8g}")
        return on_step

    # -- stages --------------------------------------------------------------------------
    def quasi_newton(self, objective, x0, log=True, warn=True, ftol=1e-14, stage="L-BFGS-B"):
        """L-BFGS-B with the rescan of standard deviations stuck at zero."""
        maxiter = self._stage_limit(self.maxiter)
        if maxiter == 0:
            self.converged, self.criterion = False, "iteration limit"
            return np.asarray(x0, float), 0
        if self.controls.ltolerance is not None:
            ftol = self.controls.ltolerance
        rescan = ZeroRescan(grid=np.geomspace(1e-2, 3.0, 10), improvement=1e-8,
                            skip_on_limit=self.controls.iterate is not None,
                            restart_options={"maxiter": maxiter,
                                             "ftol": self.controls.ltolerance or 1e-14,
                                             "gtol": 1e-7})
        res = maximize_bounded(objective.value_and_grad, x0, self.bounds,
                               {"maxiter": maxiter, "ftol": ftol, "gtol": 1e-7, "maxls": 50},
                               on_iteration=self._logger() if log else None, rescan=rescan,
                               value=objective.value, record=self.record, stage=stage)
        self.used += res.nit
        self.converged = bool(res.success)
        self.criterion = f"L-BFGS-B: {res.message}"
        if warn and not self.converged and not self.out_of_iterations:
            warnings.warn(f"{self.command}: optimizer stopped without convergence: "
                          f"{res.message}", ConvergenceWarning, stacklevel=4)
        return res.x, res.nit

    def chord(self, objective, x, H, free, maxit=50, first=1):
        """Newton steps with the fixed Hessian ``H``; returns ``(x, iterations, converged)``."""
        tolerances = start = None
        if self.controls != FitControls(iterate=self.controls.iterate):
            start = objective.value_and_grad(x)
            tolerances = self.controls.chord_tolerances(max(1.0, abs(start[0])))
        out = chord_newton(objective.value_and_grad, x, H, free, lower_bounds(self.bounds),
                           maxit=self._stage_limit(maxit), on_step=self._logger(first),
                           record=self.record, start=start, tolerances=tolerances)
        self.used += out.iterations
        objective.remember(out.x, out.value, out.gradient)  # the point returned
        self.converged = out.converged
        self.criterion = f"chord Newton: {out.criterion}"
        return out.x, out.iterations, out.converged

    def chord_rounds(self, x0, warn=True):
        """Newton steps with the Hessian at the start, refreshed when the steps stall; the
        quasi-Newton method only when the start's Hessian is not negative definite.

        A chord whose steps stop converging (the Hessian at the start too far from the
        optimum's) restarts with the Hessian where it stopped.
        """
        obj = self.objective
        x, total = x0, 0
        for _ in range(_CHORD_ROUNDS):
            if self.out_of_iterations:
                break
            free = free_coordinates(x, self.bounds)
            H = obj.step_hessian(x, free)
            if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(H) >= 0):
                break
            x, it, converged = self.chord(obj, x, H, free, maxit=_CHORD_MAXIT)
            total += it
            if converged:
                return x, total
        if total == 0:
            return self.quasi_newton(obj, x, warn=warn)
        self.converged = False
        if warn and not self.out_of_iterations:
            # e.g. an ancillary parameter running to its limit (nbinomial alpha -> 0), where
            # a quasi-Newton search would follow it into the rounding noise
            warnings.warn(f"{self.command}: Newton steps stopped without convergence",
                          ConvergenceWarning, stacklevel=4)
        return x, total

    def newton_polish(self, x, first=1):
        """Finish a loosely converged quasi-Newton fit with Newton steps on the Hessian from
        forward differences of the exact gradient, which the standard errors need anyway.

        Quasi-Newton iterations near the optimum make slow progress and, once the changes
        reach the rounding level of a log likelihood of large magnitude, fail line searches
        at the same point.  Returns ``(x, H, iterations)``; ``H`` is the Hessian on the free
        coordinates for the standard errors when ``x`` is within 1e-3 standard errors of
        where it was computed, else None.
        """
        obj = self.objective
        free = free_coordinates(x, self.bounds, self.diverging)
        if not free or self.out_of_iterations:
            return x, None, 0
        H = obj.step_hessian(x, free)
        if not np.all(np.isfinite(H)) or np.linalg.eigvalsh(H).max() >= 0:
            x, more = self.quasi_newton(obj, x)
            return x, None, more
        g = obj.value_and_grad(x)[1][free]
        decrement = float(-g @ np.linalg.solve(H, g))
        x, it, converged = self.chord(obj, x, H, free, first=first)
        if not converged:
            x, more = self.quasi_newton(obj, x)
            return x, None, it + more
        same = free_coordinates(x, self.bounds, self.diverging) == free
        return x, (H if decrement < 1e-6 and same else None), it

    def restart(self, x0):
        """Quasi-Newton on the objective itself from ``x0`` (no Laplace stage: for a
        quadrature objective the Laplace optimum may be where the approximation, not the
        likelihood, is best); non-finite values make the line search halve its steps.
        Returns ``(x, iterations)``."""
        self.objective.reset_warm_start()
        return self.quasi_newton(self.objective, x0, warn=False, stage="L-BFGS-B (restart)")

    # -- the sequence ----------------------------------------------------------------------
    def run(self, x0):
        """Maximize from ``x0``: returns ``(x, H, iterations)`` with ``H`` the Hessian for the
        standard errors when the fit already has it at ``x`` (else None)."""
        obj = self.objective
        if obj.quadrature:
            lap = obj.laplace()
            # The Laplace approximation costs one node per cluster instead of intpoints**q:
            # optimize it first, then run Newton steps on the quadrature likelihood with the
            # Laplace Hessian (a chord method; the two Hessians differ by the quadrature
            # correction only, so few steps are needed).
            x0, _ = self.quasi_newton(lap, x0, log=False, warn=False,
                                      ftol=obj.quasi_newton_ftol, stage="L-BFGS-B (Laplace)")
            free = free_coordinates(x0, self.bounds)
            H0 = lap.step_hessian(x0, free)
            # a cold start of the adaptive grids: a warm start carried over from a distant
            # parameter point can leave them stuck (wrong log likelihood)
            obj.reset_warm_start()
            x, it, converged = self.chord(obj, x0, H0, free)
            if not converged:
                # the Laplace curvature is not a good enough model here: finish with the
                # quasi-Newton optimizer on the quadrature likelihood itself
                x, more = self.quasi_newton(obj, x)
                it += more
            return x, None, it
        if obj.chord_optimizer:
            x, it = self.chord_rounds(x0)
            return x, None, it
        x, it = self.quasi_newton(obj, x0, ftol=obj.quasi_newton_ftol)
        if not obj.newton_polish:
            return x, None, it
        x, H, more = self.newton_polish(x, it + 1)
        return x, H, it + more
