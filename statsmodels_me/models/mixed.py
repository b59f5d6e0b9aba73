"""``mixed``: linear mixed models by ML or REML on the profiled likelihood."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats

from statsmodels_me.design.work_size import check_dense_block
from statsmodels_me.inference.lrtests import lr_test_vs_fixed
from statsmodels_me.inference.sandwich import cluster_groups, parse_vce
from statsmodels_me.models.base import MEModel
from statsmodels_me.models.lmm_checks import (
    check_random_design,
    check_response,
    check_terms_identified,
    least_squares,
)
from statsmodels_me.models.lmm_dfmethod import dfmethod_of, small_sample_inference
from statsmodels_me.models.lmm_inference import (
    VarianceComponents,
    covariance_of_display,
    robust_covariance,
)
from statsmodels_me.models.mixed_residual import fit_with_residuals, residual_setup
from statsmodels_me.models.mixed_weights import weighting_setup
from statsmodels_me.objectives.lmm_chooser import lmm_objective
from statsmodels_me.objectives.lmm_contributions import top_level_clusters
from statsmodels_me.objectives.lmm_profiled import deviance_hessian, sum_of_squares
from statsmodels_me.optimization.em import em_iterations
from statsmodels_me.optimization.lmm_polish import DevianceCurvature, polish, rescan_zeros
from statsmodels_me.optimization.lmm_runs import GradientRuns
from statsmodels_me.optimization.quasi_newton import hit_limit
from statsmodels_me.optimization.record import OptimizationRecord
from statsmodels_me.results.fit_info import FitInfo, VCompGroup
from statsmodels_me.spec.errors import ConvergenceWarning, DataError, SpecificationError
from statsmodels_me.terms import (
    absolute_scale_terms,
    build_terms,
    cholesky_column_partners,
    term_structures,
    theta_from_moments,
    theta_labels,
)


def _warn(record, message):
    """Issue a ConvergenceWarning from the caller of ``fit`` and keep it on the record."""
    record.warnings.append(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


class Mixed(MEModel):
    """Linear mixed-effects model (Stata's ``mixed``), ML or REML.

    Parameters
    ----------
    endog, exog, groups, exog_re : array_like, optional
        Array input like statsmodels' MixedLM (``exog`` includes the constant column).
    design : Design, optional
        Built by :meth:`from_text`.
    **options
        ``reml=True`` for REML; ``dfmethod="kroger"`` (residual, repeated, anova,
        satterthwaite, kroger) for small-sample t and F tests of the fixed effects
        (:mod:`statsmodels_me.inference.small_sample`).

    Notes
    -----
    The covariance parameters are estimated on the profiled deviance of Bates et al.
    (2015) (:mod:`statsmodels_me.objectives.lmm_profiled`); fixed effects come from the
    generalized least-squares solution and their covariance is s2 (X' V^-1 X)^-1.
    Variance-component standard errors come from the observed information of the log
    likelihood with beta profiled out, mapped to Stata's variance/covariance scale by the
    delta method (:mod:`statsmodels_me.models.lmm_inference`).

    Starting values come from EM iterations on the BLUPs and their conditional variances
    (Stata's ``emiterate()``, default 20); one-term models and crossed or nested scalar
    intercepts are then optimized by L-BFGS-B with an analytic gradient and Newton-polished
    (crossed scalar intercepts, ML or REML, first by Newton's method on log theta with the
    exact Hessian, :func:`~statsmodels_me.optimization.log_newton.minimize_log_newton`),
    other models with several terms by COBYQA (polished too when the dense block is small).

    Frequency and sampling weights (``[fw=]``, ``[pw=]``, ``fweight()``/``pweight()`` at a
    level, ``pwscale()``) replace the objective by the weighted likelihood of
    :class:`~statsmodels_me.objectives.lmm_weighted.WeightedLMM`; Stata's rules on them are
    in :mod:`statsmodels_me.models.mixed_weights`.

    A model with a ``covariance(fixed())`` block cannot profile the residual variance out
    (the fixed matrix is on the absolute scale); it is fitted on the absolute scale with the
    residual variance as a parameter (:meth:`_fit_absolute`): its objective's parameter
    vector is (theta, s2).
    """

    command = "mixed"
    weight_types = ("fweight", "pweight")
    level_weight_types = ("fweight", "pweight")

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 **options):
        super().__init__(endog, exog, groups, exog_re, design=design, **options)
        if self.design.endog.ndim != 1:
            raise DataError("mixed takes one response variable")
        self.reml = bool(self.options.get("reml", False))
        if not self.design.levels:
            raise SpecificationError(
                "mixed: no random-effects equation; add one such as '|| id:' (Stata) or "
                "'(1 | id)' (formula), or fit the linear regression with OLS")
        self.terms, self.level_covs = build_terms(self.design)
        self.vce = parse_vce(self.options.get("vce"), self.command)
        if self.vce.robust and self.reml:
            raise NotImplementedError("mixed: vce(robust) and vce(cluster) are not "
                                      "implemented with reml; fit by ML")
        one_term = len(self.terms) == 1 and self.terms[0].label == self.design.levels[0].label
        if not one_term:
            check_random_design(self.design)
        check_terms_identified(self.terms, self.design.nobs)
        self.absolute = any(cov.kind_label == "Fixed" for t in self.terms
                            for cov in term_structures(t))
        self.dfmethod, self.df_information = dfmethod_of(self)
        self.components = VarianceComponents(self.level_covs, self.absolute)
        self.n_theta = self.components.n_theta
        obj_terms = (absolute_scale_terms(self.terms, self.n_theta) if self.absolute
                     else self.terms)
        with_residuals = residual_setup(self)
        self.residual = None
        if with_residuals is not None:
            self.residual, self.objective = with_residuals
            for name, given in (("dfmethod()", self.dfmethod is not None),
                                (f"{self.vce.text}", self.vce.robust)):
                if given:
                    raise NotImplementedError(
                        f"mixed: {name} is not implemented with residuals(); fit without one "
                        "of them")
        else:
            self.objective = lmm_objective(self.design.endog, self.design.exog, obj_terms,
                                           reml=self.reml, bounds=self.theta_bounds())
            if self.objective.dense_block_size:
                check_dense_block(self.objective.dense_block_size,
                                  [self.terms[k].label for k in self.objective.rest],
                                  self.design.nested)
        if one_term and self.residual is not None:
            check_random_design(self.design)
        elif one_term:
            # checked after the objective, whose per-group sums give Z'Z
            grams = None
            if all(b.factor_codes is None for b in self.design.levels[0].blocks):
                grams = {self.terms[0].label: self.objective.A11.sum(axis=0)}
            check_random_design(self.design, grams)
        self.weighting = weighting_setup(self)
        if self.weighting is not None:
            self.objective, self.vce = self.weighting.objective, self.weighting.vce
            if self.weighting.nobs is not None:
                self.nobs = self.weighting.nobs
        self._ols = self._least_squares()
        check_response(self.design, self._ols)
        self.k_fe = self.design.exog.shape[1]
        yname = self.design.endog_names[0]
        names = list(self.design.exog_names)
        for cov in self.level_covs:
            names += list(cov.display_names)
        if self.residual is not None:
            names += [f"/Residual:{lab}" for lab in self.residual.display_names()]
        else:
            names.append(f"/var(e.{yname})")
        self._set_param_names(names)

    def _least_squares(self):
        """:func:`least_squares` of the response on the fixed effects, read off the one-term
        objective's centring (its normal equations and residual pass) when X'X is well
        conditioned and the fit is not nearly exact."""
        obj = self.objective
        center = obj.center
        if center is not None and np.all(np.isfinite(obj.XtX)) \
                and np.linalg.cond(obj.XtX) < 1e4:
            b0, rss0 = center
            if rss0 > 1e-8 * obj.yty:
                return b0, rss0
        return least_squares(self.design.exog, self.design.endog)

    # -- parameters --------------------------------------------------------------------------
    def theta_start(self):
        return np.concatenate([c.theta_start() for c in self.level_covs]) \
            if self.level_covs else np.zeros(0)

    def theta_bounds(self):
        out = []
        for c in self.level_covs:
            out += list(c.theta_bounds())
        return out

    def _internal(self, theta, s2):
        """The objective's parameter vector: theta, with s2 appended on the absolute scale."""
        return np.append(theta, s2) if self.absolute else theta

    def loglike(self, params):
        """Log likelihood (restricted for REML) at a full display-scale parameter vector."""
        params = np.asarray(params, dtype=float)
        beta = params[:self.k_fe]
        s2 = params[-1]
        theta = self.components.theta_from_display(params[self.k_fe:-1], s2)
        return self.objective.loglike_profile_s2(self._internal(theta, s2), s2, beta=beta)

    def factor_at(self, theta, s2):
        """The objective's blocked factor at the estimates (theta, s2), for postestimation."""
        f = self.objective.factor(self._internal(theta, s2))
        if self.absolute:
            f["s2"] = s2
        return f

    # -- estimation --------------------------------------------------------------------------
    def _option(self, kwargs, name, default):
        """A fit() keyword, else the command's option (``iterate(50)``), else ``default``."""
        if kwargs.get(name) is not None:
            return kwargs[name]
        val = self.options.get(name)
        return default if val is None else val

    def _small_dense_block(self):
        """True for one-term models and for models whose dense second block is small."""
        return self.objective.dense_block_size <= 300

    def _em(self, theta0, n_iter, tol):
        """EM iterations for starting values (Stata's ``emiterate()``, default 20).

        Returns the iterate with the lowest deviance and the number of iterations run.
        """
        if n_iter <= 0 or self.weighting is not None or not self._small_dense_block():
            # the conditional variances of a large dense block cost about four deviance
            # evaluations per iteration, more than EM saves the optimizer there
            return theta0, 0
        return em_iterations(self.objective.em_moments, self._em_update, theta0, n_iter, tol)

    def _em_update(self, moments):
        """theta from per-term relative-covariance moments (the EM M step)."""
        return theta_from_moments(self.terms, moments, self.n_theta)

    def fit(self, start_theta=None, maxiter=None, disp=False, **kwargs):
        """Fit by maximizing the profiled (restricted) log likelihood.

        Parameters
        ----------
        start_theta : array_like, optional
            Starting relative-covariance parameters (default: identity covariances
            refined by EM iterations).
        maxiter : int, optional
            Maximum gradient-based iterations; Stata's ``iterate(#)`` (default 1000).
        disp : bool
            Print Stata's iteration log.
        **kwargs
            ``emiterate`` (EM iterations for starting values, Stata's default 20; 0 skips),
            ``emtolerance`` (relative change in the deviance that stops EM, default 1e-10),
            ``tolerance`` (L-BFGS-B's projected-gradient tolerance / COBYQA's final
            trust-region radius), ``ltolerance`` (L-BFGS-B's relative change in the
            deviance). Each defaults to the command's option of the same name.

        Returns
        -------
        MixedResults
            ``res.optimization`` is the :class:`OptimizationRecord` of the fit.

        Warns
        -----
        ConvergenceWarning
            When the iteration limit stops the optimizer.
        """
        self._check_fit_kwargs(kwargs, ("iterate", "emiterate", "emtolerance", "tolerance",
                                        "ltolerance"))
        if self.absolute:
            return self._fit_absolute(start_theta, maxiter, disp, **kwargs)
        if self.residual is not None:
            return fit_with_residuals(self, start_theta, maxiter, disp, **kwargs)
        obj = self.objective
        maxiter = int(self._option({"iterate": maxiter, **kwargs}, "iterate", 1000))
        emiterate = int(self._option(kwargs, "emiterate", 20))
        emtol = float(self._option(kwargs, "emtolerance", 1e-10))
        tol = self._option(kwargs, "tolerance", None)
        ltol = self._option(kwargs, "ltolerance", None)
        theta0 = self.theta_start() if start_theta is None else np.asarray(start_theta, float)
        record = OptimizationRecord()
        log = []
        em_converged = False
        if start_theta is None and emiterate > 0:
            theta0, n_em = self._em(theta0, emiterate, emtol)
            if n_em:
                log += ["Performing EM optimization ...", ""]
                record.add_stage("EM", 0, n_em)
            em_converged = 0 < n_em < emiterate
        record.x_initial = np.array(theta0, dtype=float)
        log.append("Performing gradient-based optimization:")
        curvature = DevianceCurvature(obj) if obj.analytic_gradient else None
        runner = GradientRuns(obj, self.theta_bounds(), log, record, curvature, maxiter, tol,
                              ltol, near=(obj.dense_block_size == 0 and em_converged
                                          and tol is None and ltol is None),
                              em_start=bool(log) and log[0].startswith("Performing EM"),
                              small_dense=self._small_dense_block())
        runner.label = self._criterion_label()
        log.append(f"Iteration 0:  {runner.label} = {-0.5 * obj.deviance(theta0):.8g}")
        if maxiter <= 0:
            theta, converged = theta0, False
        else:
            theta, converged = self._optimize(runner.run, theta0, curvature)
        if not converged:
            _warn(record, f"mixed: convergence not achieved in iterate({maxiter}) "
                  f"iterations; the estimates are those of the last iteration")
        log.append("")
        log.append("Computing standard errors ...")
        if disp:
            print("\n".join(log))
        return self._results(theta, None, converged, runner.iterations, log, record,
                             curvature)

    def _criterion_label(self):
        """What the iteration log calls the criterion, as the header does: Stata's "Log
        pseudolikelihood" under vce(robust) (which sampling weights imply)."""
        if self.vce.robust:
            return "Log pseudolikelihood"
        return "Log restricted-likelihood" if self.reml else "Log likelihood"

    def _fit_absolute(self, start_theta, maxiter, disp, **kwargs):
        """Fit a model with a ``covariance(fixed())`` block.

        A covariance fixed on the absolute scale does not fit the relative
        parameterization, so every structure is taken on the absolute scale and the
        residual variance is a parameter (optimized on the log scale); the fixed effects
        are still profiled out by generalized least squares.
        """
        obj = self.objective
        label = self._criterion_label()
        maxiter = int(self._option({"iterate": maxiter, **kwargs}, "iterate", 1000))
        X, y = self.design.exog, self.design.endog
        resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        v0 = sum_of_squares(resid) / len(y)
        if start_theta is None:
            theta0 = np.concatenate([c.theta_start(0.5 * v0 * np.eye(c.q))
                                     for c in self.level_covs])
        else:
            theta0 = np.asarray(start_theta, float)
        x0 = np.concatenate([theta0, [np.log(0.5 * v0)]])
        bounds = self.theta_bounds() + [(None, None)]
        log = ["Performing gradient-based optimization:"]
        it = [0]
        record = OptimizationRecord(x_initial=x0.copy())

        def nll(x):
            s2 = float(np.exp(x[-1]))
            val = -obj.loglike_profile_s2(np.append(x[:-1], s2), s2)
            return val if np.isfinite(val) else 1e300

        def callback(xk, *args):
            it[0] += 1
            log.append(f"Iteration {it[0]}:  {label} = {-nll(xk):.8g}")

        log.append(f"Iteration 0:  {label} = {-nll(x0):.8g}")
        if maxiter <= 0:
            x, converged = x0, False
        else:
            res = optimize.minimize(nll, x0, method="L-BFGS-B", jac="3-point", bounds=bounds,
                                    callback=callback,
                                    options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-9,
                                             "maxls": 50})
            x, converged = res.x, not hit_limit(res)
            record.add_stage("L-BFGS-B", it[0], res.nfev)
            record.criterion = str(res.message)
        if not converged:
            _warn(record, f"mixed: convergence not achieved in iterate({maxiter}) "
                  f"iterations; the estimates are those of the last iteration")
        log += ["", "Computing standard errors ..."]
        if disp:
            print("\n".join(log))
        return self._results(x[:-1], float(np.exp(x[-1])), converged, it[0], log, record,
                             None)

    def _optimize(self, run, theta0, curvature):
        """Run the optimizer, rescan standard deviations stuck at zero, polish the result."""
        obj = self.objective
        bounds = self.theta_bounds()
        res = rescan_zeros(run, obj.deviance, run(theta0), bounds,
                           cholesky_column_partners(self.terms))
        theta = res.x
        if not hit_limit(res) and not getattr(res, "converged_newton", False):
            if self._small_dense_block() or obj.analytic_gradient:
                # (several terms: second differences cost ~4k^2 deviance evaluations, which
                # only pays off when the dense block is small; COBYQA's own final radius
                # of 1e-9 is otherwise the precision)
                theta = polish(obj, curvature, theta, bounds)
        # snap standard deviations that are numerically zero onto the bound, so the results
        # report an exact zero rather than 1e-70 with a meaningless standard error
        snapped = theta.copy()
        snapped[np.abs(snapped) <= 1e-6] = 0.0
        if (snapped != theta).any() and obj.deviance(snapped) <= obj.deviance(theta) + 1e-9:
            theta = snapped
        return theta, not hit_limit(res)

    # -- results -----------------------------------------------------------------------------
    def _results(self, theta, s2_abs, converged, iterations, log, record, curvature):
        obj = self.objective
        summary = obj.gls_summary(theta) if obj.gls_from_kernel and not self.absolute \
            else None
        if summary is not None:
            # one term: the kernel's outputs; the blocked factor that postestimation needs
            # is built on first use (MixedResults.factor)
            dev, beta, r2, C = summary
            f = None
            s2 = r2 / obj.m
            cov_beta = s2 * np.linalg.inv(C)
        else:
            f = self.factor_at(theta, s2_abs)
            s2 = obj.sigma2(f)
            beta = f["beta"]
            cov_beta = obj.cov_beta(f)
        y = self.design.endog
        if s2 <= 1e-10 * max(float(np.var(y)), 1e-300):
            _warn(record, "mixed: the residual variance is estimated at zero (the random "
                  "effects reproduce the response); the likelihood is unbounded and the "
                  "estimates are not meaningful")
        disp_vals = self.components.display(theta, s2)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # difference steps may leave the parameter space in degenerate fits; the
            # Hessian check reports a non-finite result
            cov_disp = covariance_of_display(
                obj, curvature, self.components, theta, s2, self.theta_bounds(),
                lambda t: theta_labels(self.terms, t, self.n_theta))
        params = np.concatenate([beta, disp_vals])
        k = len(params)
        cov = np.zeros((k, k))
        cov[:self.k_fe, :self.k_fe] = cov_beta
        cov[self.k_fe:, self.k_fe:] = cov_disp
        vce_note = None
        if self.vce.robust:
            cov, vce_note = self._robust(cov, theta, beta, s2)
        small = None
        if self.dfmethod is not None:
            small, cov[:self.k_fe, :self.k_fe] = small_sample_inference(
                self, self.dfmethod, params, cov, self.df_information)
        if self.absolute:
            llf = obj.loglike_profile_s2(self._internal(theta, s2), s2)
        else:
            llf = -0.5 * (dev if f is None else obj.deviance_from_factor(f))
        info = self._fit_info(params, cov, llf, converged, iterations, log)
        if vce_note is not None:
            info.vce_note, info.lr_test = vce_note, None
            info.ll_label = "Log pseudolikelihood"
        self._finish_record(record, theta, s2, llf, converged, curvature)
        from statsmodels_me.results.mixed_results import MixedResults, MixedResultsWrapper
        info.optimization = record
        res = MixedResults(self, params, cov, info, theta=theta, factor=f,
                           small_sample=small)
        return MixedResultsWrapper(res)

    def _robust(self, cov, theta, beta, s2):
        """``vce(robust)``/``vce(cluster var)``: the cluster sandwich replaces ``cov``;
        returns it with the header line naming the clusters."""
        objective = self.objective
        if self.absolute:
            if self.weighting is None:
                raise NotImplementedError("mixed: vce(robust) is not implemented with a "
                                          "covariance(fixed()) structure")
            objective = objective.absolute_view()
        codes, _ = top_level_clusters(self.terms)
        if codes is None or self.design.crossed:
            raise SpecificationError(
                f"mixed: {self.vce.text} needs nested random effects; with "
                f"crossed effects the clusters are not independent")
        top = min(self.terms, key=lambda t: t.n_groups).label
        groups, name = None, top
        if self.vce.kind == "cluster":
            name = self.vce.variable
            values = self.design.sample_data[name].to_numpy()
            groups = cluster_groups(codes, values, top, name)
        cov_r, n = robust_covariance(objective, self.components, theta, beta, s2, groups)
        return cov_r, f"(Std. err. adjusted for {n} clusters in {name})"

    def _finish_record(self, record, theta, s2, llf, converged, curvature):
        """Complete the optimization record; the Newton decrement and the Hessian's
        condition come from the curvature the standard errors used (no new evaluation)."""
        x = self._internal(theta, s2)
        g = H = None
        if curvature is not None:
            idx = np.array([i for i, (lo, _) in enumerate(self.theta_bounds())
                            if not (lo is not None and abs(theta[i] - lo) < 1e-6)], dtype=int)
            parts = curvature.kept_parts(theta, idx)
            at = self.objective.grad_parts(theta) if parts is not None else None
            if at is not None:
                _, r2, dld, dr2 = at
                m = self.objective.m
                # of the log likelihood, -deviance / 2
                g = -0.5 * (dld + (m / r2) * dr2)[idx]
                H = -0.5 * deviance_hessian(parts[0], parts[1], r2, dr2[idx], m)
        criterion = record.criterion or ("converged" if converged else "iteration limit")
        record.finish(x, llf, converged, criterion, g, H)

    def _fit_info(self, params, cov, llf, converged, iterations, log):
        k_fe = self.k_fe
        names = self.param_names
        groups, pos = [], k_fe
        for cov_s in self.level_covs:
            rows = []
            for lab in cov_s.vcomp_labels:
                rows.append((lab.split(": ", 1)[1], pos))
                pos += 1
            groups.append(VCompGroup(cov_s.level_label, cov_s.kind_label, rows))
        exog_names = self.design.exog_names
        test_idx = [i for i, n in enumerate(exog_names) if n != "_cons"]
        wald = None
        if test_idx:
            b = params[test_idx]
            V = cov[np.ix_(test_idx, test_idx)]
            chi2 = float(b @ np.linalg.solve(V, b))
            wald = (chi2, len(test_idx), float(stats.chi2.sf(chi2, len(test_idx))))
        llf0 = self._llf_linear()
        n_var = self.n_theta
        lr = lr_test_vs_fixed(llf, llf0, n_var, 0, "linear model") if n_var else None
        method = "REML" if self.reml else "ML"
        return FitInfo(
            title=f"Mixed-effects {method} regression", llf=float(llf),
            ll_label="Log restricted-likelihood" if self.reml else "Log likelihood",
            k_fe=k_fe, vcomp_groups=groups, residual=("var(Residual)", len(names) - 1),
            wald=wald, lr_test=lr, llf_fixed=llf0, converged=converged,
            iterations=iterations, iteration_log=log, method=method)

    def _llf_linear(self):
        """(Restricted) log likelihood of the linear regression without random effects."""
        if self.weighting is not None:
            return self.objective.linear_loglike()
        X = self.design.exog
        n, p = X.shape
        rss = self._ols[1]
        if self.reml:
            d = n - p
            logdet = np.linalg.slogdet(X.T @ X)[1]
            return -0.5 * (d * (1 + np.log(2 * np.pi * rss / d)) + logdet)
        return -0.5 * n * (1 + np.log(2 * np.pi * rss / n))
