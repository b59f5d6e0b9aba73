"""``mixed`` with a residual-error structure (``residuals()``): set-up, fit and results.

The covariance parameters x = (theta, theta_r) (random-effects relative Cholesky parameters,
then the residual structure's, see :mod:`statsmodels_me.covariance.residual`) maximize the
profiled (restricted) log likelihood of
:class:`~statsmodels_me.objectives.lmm_residual.ResidualLMM` (for long AR/MA series
:class:`~statsmodels_me.objectives.lmm_residual_banded.BandedResidualLMM`) by L-BFGS-B on
its analytic gradient, then Newton steps on the Hessian from central differences of that gradient.
Standard errors: the observed information of (x, log s2) with beta profiled (central
differences of the analytic gradient), mapped to the displayed parameters by the delta
method (the Jacobian by central differences).
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import optimize
from statsmodels.tools.numdiff import approx_fprime

from statsmodels_me.covariance.residual import parse_residuals, residual_structure
from statsmodels_me.inference.lrtests import lr_test_vs_fixed
from statsmodels_me.objectives.lmm_residual import ResidualLMM
from statsmodels_me.objectives.lmm_residual_banded import BandedResidualLMM, banded_eligible
from statsmodels_me.optimization.record import OptimizationRecord
from statsmodels_me.results.fit_info import VCompGroup
from statsmodels_me.spec.errors import ConvergenceWarning, SpecificationError


def residual_setup(model):
    """The (structure, objective) of ``model``'s ``residuals()`` option, or ``None`` when
    the option is absent or asks for the default (independent, homoscedastic) residuals."""
    text = model.options.get("residuals")
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    spec = parse_residuals(text)
    if spec.kind == "independent" and spec.byvar is None:
        return None
    if model.absolute:
        raise SpecificationError("mixed: residuals() cannot be combined with "
                                 "covariance(fixed())")
    design = model.design
    structure = residual_structure(spec, design)
    top, low = design.levels[0].codes, design.levels[-1].codes
    # long AR/MA series: banded whitening, linear in the series length
    kind = BandedResidualLMM if banded_eligible(structure, model.terms, top, low) \
        else ResidualLMM
    objective = kind(design.endog, design.exog, model.terms, structure, top, low,
                     reml=model.reml, bounds=model.theta_bounds())
    return structure, objective


def display_values(model, x, s2):
    """Displayed random-effects parameters, then the residual structure's, at (x, s2)."""
    obj = model.objective
    theta, theta_r = obj.split(x)
    re = model.components.display(theta, s2)[:-1]
    return np.concatenate([re, model.residual.display(theta_r, s2)])


def _jacobian_of(grad, x, eps):
    """Central differences of the vector function ``grad`` at ``x``, symmetrized."""
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = eps[i]
        H[:, i] = (grad(x + e) - grad(x - e)) / (2.0 * eps[i])
    return 0.5 * (H + H.T)


def _newton_polish(dev_grad, x, free, steps=4):
    """Newton steps in the ``free`` coordinates on the Hessian from central differences of
    the analytic gradient, each kept only if it lowers the deviance."""
    best, g = dev_grad(x)
    for _ in range(steps):
        xf = x[free]

        def sub_grad(v, base=x):
            z = base.copy()
            z[free] = v
            return dev_grad(z)[1][free]
        H = _jacobian_of(sub_grad, xf, 1e-5 * np.maximum(np.abs(xf), 1.0))
        try:
            step = np.linalg.solve(H, g[free])
        except np.linalg.LinAlgError:
            break
        trial = x.copy()
        trial[free] = xf - step
        val, g_trial = dev_grad(trial)
        if not np.isfinite(val) or val > best:
            break
        done = best - val < 1e-12 * max(abs(best), 1.0)
        x, best, g = trial, val, g_trial
        if done:
            break
    return x


def fit_with_residuals(model, start_theta=None, maxiter=None, disp=False, **kwargs):
    """Fit ``model`` (a :class:`~statsmodels_me.models.mixed.Mixed` with a residual
    structure); see the module docstring."""
    obj = model.objective
    structure = model.residual
    maxiter = int(model._option({"iterate": maxiter, **kwargs}, "iterate", 1000))
    x0 = np.concatenate([model.theta_start() if start_theta is None
                         else np.asarray(start_theta, float)[:obj.n_re],
                         structure.theta_start()])
    label = "Log restricted-likelihood" if model.reml else "Log likelihood"
    log = ["Performing gradient-based optimization:",
           f"Iteration 0:  {label} = {-0.5 * obj.deviance(x0):.8g}"]
    record = OptimizationRecord(x_initial=x0.copy())
    it = [0]

    lowest = [obj.deviance(x0)]

    def dev_grad(x):
        # where V is not positive definite (toeplitz, banded below full order), a value
        # well above the lowest so far: the line search then shortens the step by
        # interpolation (an overflowing 1e300 ends L-BFGS-B at its start)
        val, grad = obj.deviance_and_grad(x)
        if not np.isfinite(val):
            return lowest[0] + 1e3 * (1.0 + abs(lowest[0])), np.zeros(len(x))
        lowest[0] = min(lowest[0], val)
        return val, grad

    def callback(intermediate_result):
        it[0] += 1
        log.append(f"Iteration {it[0]}:  {label} = {-0.5 * intermediate_result.fun:.8g}")

    converged = False
    x = x0
    if maxiter > 0:
        # ftol 1e-12: closer, the deviance's rounding (~1e-14 relative on large data) stalls
        # the line search for many evaluations; the Newton steps below finish the optimum
        res = optimize.minimize(dev_grad, x0, method="L-BFGS-B", jac=True,
                                bounds=obj.bounds, callback=callback,
                                options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-7,
                                         "maxls": 50})
        x = res.x
        converged = res.status != 1
        record.add_stage("L-BFGS-B", it[0], res.nfev)
        record.criterion = str(res.message)
        free = _free(obj, x)
        if converged and len(free):
            x = _newton_polish(dev_grad, x, free)
    if not converged:
        msg = (f"mixed: convergence not achieved in iterate({maxiter}) iterations; the "
               f"estimates are those of the last iteration")
        record.warnings.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    log += ["", "Computing standard errors ..."]
    if disp:
        print("\n".join(log))
    return _results(model, x, converged, it[0], log, record)


def _free(obj, x):
    """Coordinates of ``x`` away from their lower bounds (zero standard deviations)."""
    return np.array([i for i, (lo, _) in enumerate(obj.bounds)
                     if not (lo is not None and abs(x[i] - lo) < 1e-6)], dtype=int)


def _cov_display(model, x, s2):
    """Covariance of the displayed parameters (delta method on the observed information
    of (x, log s2))."""
    obj = model.objective
    free = _free(obj, x)
    w0 = np.concatenate([x, [np.log(s2)]])
    keep = np.concatenate([free, [len(x)]])

    def full(v):
        w = w0.copy()
        w[keep] = v
        return w

    def nll_grad(v):
        w = full(v)
        return -obj.loglike_grad(w[:-1], np.exp(w[-1]))[keep]
    wk = w0[keep]
    H = _jacobian_of(nll_grad, wk, 1e-5 * np.maximum(np.abs(wk), 1.0))
    try:
        cov_w = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov_w = np.linalg.pinv(H)
    if not np.all(np.isfinite(cov_w)) or np.linalg.eigvalsh(H).min() <= 0:
        warnings.warn("mixed: the Hessian of the log likelihood is not negative definite "
                      "at the estimates; the standard errors of the variance components "
                      "are not reliable", ConvergenceWarning, stacklevel=4)

    def disp_of(v):
        w = full(v)
        return display_values(model, w[:-1], np.exp(w[-1]))
    J = approx_fprime(wk, disp_of, epsilon=1e-6 * np.maximum(np.abs(wk), 1.0),
                      centered=True)
    J = np.atleast_2d(J)
    return J @ cov_w @ J.T


def _results(model, x, converged, iterations, log, record):
    from statsmodels_me.results.mixed_results import MixedResults, MixedResultsWrapper
    obj = model.objective
    f = obj.factor(x)
    if f is None:
        raise SpecificationError("mixed: the residual covariance is not positive definite "
                                 "at the estimates")
    s2 = obj.sigma2(f)
    beta = f["beta"]
    params = np.concatenate([beta, display_values(model, x, s2)])
    k = len(params)
    cov = np.zeros((k, k))
    cov[:model.k_fe, :model.k_fe] = obj.cov_beta(f)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cov[model.k_fe:, model.k_fe:] = _cov_display(model, x, s2)
    llf = -0.5 * obj.deviance_from_factor(f)
    info = model._fit_info(params, cov, llf, converged, iterations, log)
    pos = model.k_fe + len(model.components.display(obj.split(x)[0], s2)) - 1
    rows = [(lab, pos + i) for i, lab in enumerate(model.residual.display_names())]
    groups = list(info.vcomp_groups) + [VCompGroup("Residual", model.residual.label, rows)]
    # every random-effects parameter counted as a variance, as mixed's own LR test
    n_var = max(obj.n_re, 1)
    lr = lr_test_vs_fixed(llf, info.llf_fixed, n_var, obj.n_theta - n_var, "linear model")
    info = dataclasses.replace(info, vcomp_groups=groups, residual=None, lr_test=lr)
    record.finish(x, llf, converged, record.criterion or "converged", None, None)
    info.optimization = record
    res = MixedResults(model, params, cov, info, theta=x, factor=f)
    return MixedResultsWrapper(res)
