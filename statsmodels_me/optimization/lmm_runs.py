"""The optimizer runs of ``mixed``: which method from a start, and Stata's iteration log."""
from __future__ import annotations

import numpy as np
from scipy import optimize

from statsmodels_me.optimization.lmm_polish import newton_near
from statsmodels_me.optimization.lmm_starts import submodel_start
from statsmodels_me.optimization.log_newton import applies as log_newton_applies
from statsmodels_me.optimization.log_newton import minimize_log_newton


class GradientRuns:
    """One optimizer run of an LMM objective from a start, with Stata's iteration log.

    Parameters
    ----------
    objective : LMM objective
    bounds : list of (lower, upper)
    log : list of str
        The iteration log, appended to (lines of a Newton iteration that gives up removed).
    record : OptimizationRecord
        Each run adds its stage.
    curvature : DevianceCurvature or None
    maxiter : int
    tol, ltol : float or None
        ``tolerance`` and ``ltolerance`` (None: the defaults).
    near : bool
        The start is near the optimum (a converged EM on one term): try Newton's method.
    em_start : bool
        The start came from EM (a smaller first trust region for COBYQA).
    small_dense : bool
        COBYQA is Newton-polished afterwards (final radius 1e-6 instead of 1e-9).

    Analytic-gradient objectives: Newton's method on log theta with the exact Hessian
    where the objective has one (it declines boundary estimates), else Newton's method from
    a near start (a converged EM, one term), else L-BFGS-B; a Newton iteration that gives
    up leaves no lines in the log, and L-BFGS-B restarts from the same start counting its
    own iterations. Other objectives: COBYQA (the gradient would cost 2k factorizations;
    like lme4's and MixedModels.jl's BOBYQA).
    """

    def __init__(self, objective, bounds, log, record, curvature, maxiter, tol, ltol, near,
                 em_start, small_dense):
        self.obj = objective
        self.log, self.record, self.curvature = log, record, curvature
        self.maxiter, self.tol, self.ltol = maxiter, tol, ltol
        self.near = near
        self.em_start = em_start
        self.small_dense = small_dense
        self.label = "Log restricted-likelihood" if objective.reml else "Log likelihood"
        self.iterations = 0
        self.bounds = bounds
        self._last_f = np.nan

    def _line(self, dev):
        self.iterations += 1
        self.log.append(f"Iteration {self.iterations}:  {self.label} = {-0.5 * dev:.8g}")

    def _callback(self, xk, *args):
        # the optimizer evaluated its new iterate last: log that value, not a new one
        self._line(self._last_f)

    def _newton_callback(self, xk, dev):
        self._line(dev)

    def _objective(self, theta):
        self._last_f = self.obj.deviance(theta)
        return self._last_f

    def _objective_grad(self, theta):
        out = self.obj.deviance_and_grad(theta)
        self._last_f = out[0]
        return out

    def run(self, start):
        mark = self.iterations
        if not self.obj.analytic_gradient:
            res = self._cobyqa(start)
            self.record.add_stage("COBYQA", self.iterations - mark, res.nfev)
            return res
        mark_log = len(self.log)
        res = None
        if self.obj.exact_hessian and log_newton_applies(self.bounds):
            res = minimize_log_newton(self.obj, start, self.bounds, self.maxiter,
                                      self._newton_callback,
                                      alternative=submodel_start(self.obj))
            name = "Newton (log scale, exact Hessian)"
        if res is None and self.near:
            self.near = False
            del self.log[mark_log:]
            self.iterations = mark
            res = newton_near(self.obj, self.curvature, start, self.bounds,
                              min(self.maxiter, 4), self._newton_callback)
            name = "Newton"
        if res is not None:
            self.record.add_stage(name, res.nit)
            self.record.criterion = res.message
            return res
        del self.log[mark_log:]
        self.iterations = mark
        opts = {"maxiter": self.maxiter,
                "ftol": 1e-12 if self.ltol is None else float(self.ltol),
                "gtol": 1e-7 if self.tol is None else float(self.tol), "maxls": 50}
        # ftol 1e-12: below that L-BFGS-B chases rounding noise in line searches; the
        # Newton polish after it resolves the optimum
        res = optimize.minimize(self._objective_grad, start, jac=True, method="L-BFGS-B",
                                bounds=self.bounds, callback=self._callback, options=opts)
        self.record.add_stage("L-BFGS-B", self.iterations - mark, res.nfev)
        self.record.criterion = str(res.message)
        return res

    def _cobyqa(self, start):
        # an EM start is close to the optimum: a smaller first trust region saves the
        # derivative-free method its exploration; with the Newton polish afterwards
        # (small problems) it need not resolve the optimum below 1e-6
        tr0 = 0.1 if self.em_start else 1.0
        tr1 = 1e-6 if self.small_dense else 1e-9
        res = optimize.minimize(
            self._objective, start, method="COBYQA", bounds=self.bounds,
            callback=self._callback,
            options={"maxiter": self.maxiter, "maxfev": max(500 * len(start), self.maxiter),
                     "initial_tr_radius": tr0,
                     "final_tr_radius": tr1 if self.tol is None else float(self.tol)})
        self.record.criterion = str(res.message)
        return res
