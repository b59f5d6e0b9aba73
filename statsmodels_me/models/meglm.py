"""``meglm`` and its shortcuts: generalized linear mixed models.

The estimator builds the objective that fits the design (one grouping level, nested levels,
crossed effects: :func:`statsmodels_me.objectives.glmm_choose.glmm_objective`), starts it
from the model without random effects, maximizes it (:class:`~.glmm_fitting.GLMMFitter`)
and reports the estimates on Stata's display scale (variances and covariances) with their
observed-information covariance by the delta method (:mod:`.glmm_inference`).
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from statsmodels_me._kernels.blas_threads import single_threaded_blas
from statsmodels_me.design.weights import LEVEL_TYPES, OBSERVATION_TYPES, glmm_weights
from statsmodels_me.families import get_family
from statsmodels_me.inference.sandwich import cluster_groups, parse_vce
from statsmodels_me.models.base import MEModel
from statsmodels_me.models.glmm_convergence import diagnose_fit
from statsmodels_me.models.glmm_fitting import FitControls, GLMMFitter
from statsmodels_me.models.glmm_inference import (
    DisplayMap,
    display_covariance,
    robust_display_covariance,
)
from statsmodels_me.models.glmm_report import glmm_fit_info
from statsmodels_me.models.glmm_starts import check_separation, fit_fixed, grid_start
from statsmodels_me.objectives.glmm_choose import (
    design_kind,
    glmm_objective,
    integration,
    level_Z,
)
from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.optimization.constrained import maximize_constrained
from statsmodels_me.spec.errors import ConvergenceWarning, SpecificationError


def _family(options):
    """The family object of the options (``nbinomial`` with its dispersion)."""
    name = options.get("family", "gaussian")
    extra = {"dispersion": options.get("dispersion")} if name == "nbinomial" else {}
    return get_family(name, options.get("link"), **extra)


#: scaled gradient ``g'(-H)^-1 g`` beyond which a fit is not converged when no
#: ``nrtolerance()`` is given: about twice the log likelihood still to gain by a Newton step,
#: far above where the fitter's own criteria stop on the test suite's fits
FALSE_STOP_GRADIENT = 1e-2

class MEGLM(MEModel):
    """Generalized linear mixed model (Stata's ``meglm`` and its shortcuts).

    Parameters
    ----------
    design : Design
        Built by :meth:`from_text` (``smf.meglm``, ``smf.melogit``, ...).
    kind : {"one level", "nested", "crossed"}, optional
        The objective to use instead of the one the design calls for: ``"crossed"`` (Laplace
        over the whole random-effects vector) fits every design.
    **options
        Stata options as keywords (``intmethod``, ``intpoints``, ``family``, ``link``, ...).

    Notes
    -----
    One grouping level (any random effects and equations at it, any covariance structure)
    is integrated cluster by cluster (Laplace, mvaghermite, mcaghermite, ghermite); nested
    levels by nested Laplace or adaptive quadrature per top-level cluster; crossed effects
    (``_all: R.x``, non-nested factors) by Laplace over all random effects.

    Fitting: the fixed-effects model, a grid of starting variances (crossed: lme4's nAGQ=0
    stage), then the Laplace optimum; for the quadrature methods Newton steps on the
    quadrature likelihood with the Laplace Hessian follow (quasi-Newton if they stall).
    Standard errors come from differences of the analytic gradient (nested quadrature:
    second differences of the likelihood). The results carry the
    :class:`~statsmodels_me.optimization.OptimizationRecord` as ``optimization``.

    Hard data: an outcome that never varies or is perfectly predicted by the covariates
    (complete separation) raises :class:`~statsmodels_me.spec.errors.DataError`;
    quasi-complete separation is fitted with a ``ConvergenceWarning`` naming the diverging
    coefficients (their standard errors are NaN); a variance estimated at zero gives a
    ``BoundaryWarning`` (its standard error is reported as 0). A fit is converged only if
    its log likelihood is finite, not below the model without random effects and no variance
    runs away (:mod:`.glmm_convergence`); otherwise it is restarted once from the
    fixed-effects fit and, failing that, returned with ``converged=False`` and a
    ``ConvergenceWarning`` naming the likely cause (e.g. an outcome perfectly predicted
    within clusters, where the estimates do not exist).

    Weights (``[fweight|pweight|iweight=exp]``, ``|| id:, fweight(v)`` or ``pweight(v)``; also
    for ``metobit``, ``meintreg`` and ``mestreg``, which run on this estimator):
    each conditional log density is multiplied by its observation weight and each group's
    log likelihood contribution by its group weight, as Stata's meglm (no rescaling); with
    sampling weights the result is a pseudo-likelihood and ``vce(robust)`` clustered at the
    highest level is implied.  With crossed effects (Laplace over all random effects) the
    observation weights ``fweight`` and ``iweight``: sampling weights would need independent
    clusters for their robust standard errors, and a group weight multiplies a group's own
    likelihood contribution, which crossed groups do not have.  Under ``intmethod(laplace)``
    with weights below the highest level, the Laplace approximation is that of the data with
    every weighted group replicated (for integer weights, exactly the replicated data's).
    """

    command = "meglm"
    weight_types = OBSERVATION_TYPES
    level_weight_types = LEVEL_TYPES

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 kind=None, **options):
        super().__init__(endog, exog, groups, exog_re, design=design, **options)
        d = self.design
        fam = self.family_object = _family(self.options)
        #: the family's engine name (``nbinomial_mean``, ...); the object is ``family_object``
        self.family = fam.name
        self.link = fam.link
        yname = d.endog_names[0]
        X, xnames, y = self._prepare_outcome(d)
        self._X, self.k_fe, self._xnames = X, X.shape[1], xnames
        if fam.needs_trials and d.trials is None:
            raise SpecificationError(f"{self.spec.command}: family({fam.stata_name}) needs the "
                                     f"number of trials: {fam.stata_name}(varname|#)")
        self.vce = parse_vce(self.options.get("vce"), self.spec.command)
        self.weights = glmm_weights(d, self.spec.command)
        #: under frequency weights only, the number of copies of every row (else None)
        self.copies = None
        if self.weights.any and set(self.weights.kinds) == {"fweight"}:
            # Stata's e(N) under frequency weights: the replicated sample's size
            copies = np.ones(d.nobs)
            for w in (self.weights.observation, *self.weights.levels):
                if w is not None:
                    copies = copies * w
            self.copies = np.rint(copies).astype(np.int64)
            self.nobs = int(self.copies.sum())
        natural = design_kind(d)
        if self.weights.sampling and (d.crossed or (kind or natural) == "crossed"):
            raise NotImplementedError(
                f"{self.spec.command}: sampling weights (pweight) with crossed random effects "
                "are not implemented: they imply vce(robust) clustered at the highest level, "
                "and crossed effects have no independent clusters")
        if self.weights.sampling and not self.vce.robust:
            if self.options.get("vce") is not None:
                raise SpecificationError(f"{self.spec.command}: {self.vce.text} is not allowed "
                                         "with sampling weights (pweight); they imply "
                                         "vce(robust)")
            self.vce = parse_vce("robust", self.spec.command)
        if self.vce.robust and d.crossed:
            raise SpecificationError(
                f"{self.spec.command}: {self.vce.text} needs nested random "
                f"effects; with crossed effects the clusters are not independent")
        if kind not in (None, natural, "crossed"):
            raise SpecificationError(f"{self.spec.command}: kind='{kind}' does not fit this "
                                     f"design; use '{natural}' or 'crossed'")
        kind = kind or natural
        self.intmethod, self.intpoints = integration(self.options, kind, self.spec.command)
        self.levels = list(d.levels)
        self.level = self.levels[-1]
        self.objective, self.level_covs = glmm_objective(
            d, fam, fam.link, y, X, self.intmethod, self.intpoints, kind, self.weights)
        # the Laplace approximation ranks starting values and starts quadrature fits
        self.laplace_objective = self.objective.laplace()
        self.cov = self.objective.cov
        self._check_outcome_varies()
        self.k_aux = self.objective.k_aux
        self.n_theta = self.cov.n_theta
        ancillary = fam.ancillary(y, yname)
        self.ancillary_names = [p.name for p in ancillary if not p.residual]
        self.display_map = DisplayMap(self.k_fe, ancillary, self.cov)
        names = xnames + self.ancillary_names + list(self.cov.display_names) + \
            [p.name for p in ancillary if p.residual]
        self._set_param_names(names)

    # -- what predict reads ----------------------------------------------------------------
    def split_params(self, x):
        """Internal parameters ``x`` (``results.params_internal``) split into ``(beta,
        ancillary, theta)``: fixed effects, ancillary parameters on their internal scale
        and the elements of the random-effects Cholesky factor (``model.cov.cholesky``)."""
        return self.objective.split(np.asarray(x, float))

    @property
    def fixed_exog(self):
        """The fixed-effects design ``(n, k_fe)`` as the family takes it (ordinal outcomes:
        without ``_cons``), columns in the order of the first ``k_fe`` parameters."""
        return self._X

    def random_effects_exog(self):
        """The random-effects design ``(n, q)`` of every level side by side, columns in the
        order of ``model.cov`` (factor blocks expanded into indicator columns)."""
        return np.hstack([level_Z(lev) for lev in self.levels])

    def random_effect_parts(self, x, ebmodes=False):
        """Predicted random effects at internal parameters ``x`` (``results.params_internal``):
        list of ``(codes, Z, means, covs, names)``, see
        :meth:`~statsmodels_me.objectives.glmm_base.GLMMObjective.random_effect_parts`."""
        return self.objective.random_effect_parts(np.asarray(x, float), ebmodes)

    # -- setup helpers ---------------------------------------------------------------------
    def _prepare_outcome(self, d):
        """Fixed design and response as the family takes them (ordinal outcomes lose
        ``_cons`` and are recoded 0..K-1)."""
        X, xnames = d.exog, list(d.exog_names)
        if not self.family_object.has_constant and "_cons" in xnames:
            keep = [i for i, n in enumerate(xnames) if n != "_cons"]
            X, xnames = X[:, keep], [xnames[i] for i in keep]
        y, self.categories = self.family_object.prepare_endog(d.endog, d.endog_names[0])
        return X, xnames, y

    def _check_outcome_varies(self):
        """Outcomes that never vary have no finite MLE; one observation per cluster
        identifies the variance of binary and ordinal outcomes only weakly."""
        eng = self.objective.engine
        self.family_object.check_outcome_varies(eng.endog, eng.trials, self.design.endog_names[0])
        if self.family_object.weak_without_replicates and np.all(np.diff(eng.ptr) <= 1):
            warnings.warn(f"{self.spec.command}: every '{self.level.label}' cluster has one "
                          "observation: with a categorical outcome the random-effects variance "
                          "is identified only through the shape of the link (weakly)",
                          ConvergenceWarning, stacklevel=4)

    # -- parameter maps ------------------------------------------------------------------
    @property
    def n_internal(self):
        return self.objective.n_params

    def loglike(self, params):
        """Log likelihood at display-scale parameters (``params`` of the results)."""
        return self.objective.value(self._internal_from_display(np.asarray(params, float)))

    def _internal_from_display(self, params):
        return self.display_map.internal(params)

    # -- estimation ------------------------------------------------------------------------
    def fit(self, start_params=None, maxiter=500, disp=False, **kwargs):
        """Maximize the (approximate) marginal log likelihood.

        Parameters
        ----------
        start_params : array_like, optional
            Internal starting values (beta, ancillary, theta).
        maxiter : int
            Iterations per optimization stage.
        disp : bool
            Print Stata's iteration log.
        **kwargs
            ``iterate`` (iterations of all stages together; ``iterate=0`` returns the
            starting values, unconverged), ``tolerance`` (largest coordinate change of a
            Newton step that counts as converged), ``ltolerance`` (relative change in the log
            likelihood), ``nrtolerance`` (scaled gradient ``g'(-H)^-1 g`` the estimate must
            reach). Each defaults to the command's option of the same name; without them the
            fitter's own (tighter) criteria apply.

        Returns
        -------
        MEGLMResults

        Notes
        -----
        One-level fits run with single-threaded OpenBLAS: their BLAS calls are small, and
        with more OpenBLAS threads the idle workers spin against the OpenMP threads of the
        cluster kernel (W3 with 2 threads: 0.25 s wall against 0.145 s).
        """
        names = ("iterate", "tolerance", "ltolerance", "nrtolerance")
        self._check_fit_kwargs(kwargs, names)
        values = {k: kwargs[k] if kwargs.get(k) is not None else self.options.get(k)
                  for k in names}
        for k in names:
            if values[k] is not None and (not np.isfinite(values[k]) or values[k] < 0):
                raise SpecificationError(f"{self.spec.command}: {k}({values[k]}) must be "
                                         "a non-negative number")
        self._controls = FitControls(
            iterate=None if values["iterate"] is None else int(values["iterate"]),
            **{k: None if values[k] is None else float(values[k]) for k in names[1:]})
        blas = single_threaded_blas() if self.objective.single_threaded_blas \
            else contextlib.nullcontext()
        with blas:
            return self._fit(start_params, maxiter, disp)

    def _fit(self, start_params, maxiter, disp):
        obj, lap = self.objective, self.laplace_objective
        log, record = [], OptimizationRecord()
        constraints = self.options.get("constraints") or ()
        z_fixed, llf_fixed = self._fit_fixed(lap, log)
        if start_params is None and not constraints:
            start_params = obj.joint_start(z_fixed)
        diverging = self._check_separation(lap, z_fixed, llf_fixed)
        if start_params is not None:
            x0 = np.asarray(start_params, float)
        else:
            x0 = grid_start(lap, z_fixed, self.cov.theta_start(), log)
        record.x_initial = np.array(x0, float)
        log.append("Fitting full model:")
        if constraints:
            given = [k for k, v in vars(getattr(self, "_controls", FitControls())).items()
                     if v is not None]
            if given:
                raise NotImplementedError(f"{self.spec.command}: {given[0]}() with "
                                          "constraints() is not implemented")
            x, cov_disp, it, converged = self._fit_constrained(x0, constraints, log, maxiter,
                                                               record)
            llf = obj.value(x)
            record.finish(x, llf, converged, "constrained: Nelder-Mead polish")
        else:
            controls = getattr(self, "_controls", None) or FitControls()
            fitter = GLMMFitter(obj, maxiter, log, record, self.spec.command, diverging,
                                controls)
            if controls.iterate == 0:
                x, H, it = x0, None, 0
                fitter.criterion = "iterate(0): the starting values"
            else:
                x, H, it = fitter.run(x0)
            llf = obj.value(x)
            x, H, it, llf = self._check_optimum(fitter, x, H, it, llf, z_fixed, llf_fixed,
                                                record)
            at_x = obj.cached_value_and_grad(x)
            cov_disp, free, H = display_covariance(obj, x, self.display_map, self.param_names,
                                                   self.spec.command, diverging, H)
            record.finish(x, llf, fitter.converged, fitter.criterion,
                          None if at_x is None else at_x[1][free], H)
            self._check_nrtolerance(fitter, controls, record)
        vce_note = None
        if self.vce.robust:
            if constraints:
                raise NotImplementedError(f"{self.spec.command}: vce(robust) with "
                                          f"constraints() is not implemented")
            cov_disp, vce_note = self._robust(x, H, free)
        params = self.display_map.display(x)
        if disp:
            print("\n".join(log))
        info = glmm_fit_info(self, self._xnames, params, cov_disp, llf, llf_fixed, it, log)
        info.converged = record.converged
        if vce_note is not None:
            info.vce_note, info.lr_test = vce_note, None
            info.ll_label = "Log pseudolikelihood"
        from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
        info.optimization = record
        info.params_internal = x
        return MEGLMResultsWrapper(MEGLMResults(self, params, cov_disp, info))

    def _fit_fixed(self, lap, log):
        """The model without random effects from the family's starts: ``(z, llf)``."""
        eng = self.objective.engine
        beta0 = np.zeros(self.k_fe)
        if "_cons" in self._xnames:
            beta0[self._xnames.index("_cons")] = self.family_object.constant_start(eng.endog,
                                                                            eng.trials)
        z0 = np.concatenate([beta0, self.family_object.ancillary_start(eng.endog, eng.trials)])
        return fit_fixed(lap, self.design, self.family_object, self.link, self._X, z0, log)

    def _check_separation(self, lap, z_fixed, llf_fixed):
        """:func:`check_separation` on the data: the diverging coefficients' positions."""
        return check_separation(lap, self.family_object, self._X, self._xnames, z_fixed,
                                llf_fixed, self.spec.command, self.design.endog_names[0])

    def _check_optimum(self, fitter, x, H, it, llf, z_fixed, llf_fixed, record):
        """A fit is converged only if its log likelihood is finite, not below the model
        without random effects, and no variance runs away (:mod:`.glmm_convergence`).
        Otherwise the fit is restarted once from the fixed-effects estimates with small
        variances by quasi-Newton on the likelihood itself (glmmTMB's and Stata's remedy:
        a new start, step halving on non-finite values); the better point is kept and, if it
        still fails, the fit is reported unconverged with a ``ConvergenceWarning`` saying
        what happened and the likely cause."""
        command = self.spec.command
        diagnosis = diagnose_fit(self, x, llf, llf_fixed)
        if diagnosis and not fitter.out_of_iterations and fitter.controls.iterate != 0:
            start = np.concatenate([z_fixed, 0.25 * self.cov.theta_start()])
            x2, more = fitter.restart(start)
            llf2 = self.objective.value(x2)
            it += more
            if np.isfinite(llf2) and not llf2 <= llf:
                x, H, llf = x2, None, llf2
                diagnosis = diagnose_fit(self, x, llf, llf_fixed)
        if diagnosis:
            fitter.converged = False
            fitter.criterion = "; ".join(diagnosis.problems)
            message = diagnosis.message(command, llf, llf_fixed,
                                        None if self.intmethod == "laplace" else self.intpoints)
        elif not fitter.converged and fitter.controls.iterate is not None and (
                fitter.out_of_iterations or fitter.controls.iterate == 0):
            message = (f"{command}: convergence not achieved in iterate"
                       f"({fitter.controls.iterate}) iterations; the estimates are those of "
                       "the last iteration")
        else:
            return x, H, it, llf
        record.warnings.append(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=4)
        return x, H, it, llf

    def _check_nrtolerance(self, fitter, controls, record):
        """``nrtolerance(#)``: a fit whose scaled gradient ``g'(-H)^-1 g`` at the estimate
        exceeds it is not converged. Without the option, a scaled gradient beyond
        :data:`FALSE_STOP_GRADIENT` is: the optimizer stopped away from the maximum (e.g.
        L-BFGS-B on a relative-reduction criterion after steps through non-finite values)."""
        tol = controls.nrtolerance if controls.nrtolerance is not None else FALSE_STOP_GRADIENT
        if not record.converged or not record.scaled_gradient > tol:
            return
        record.converged = False
        limit = (f"nrtolerance({tol:g})" if controls.nrtolerance is not None else
                 f"{tol:g}: the optimizer stopped away from the maximum")
        message = (f"{self.spec.command}: convergence not achieved: the scaled gradient "
                   f"{record.scaled_gradient:.3g} exceeds {limit}")
        record.warnings.append(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _robust(self, x, H, free):
        """``vce(robust)``/``vce(cluster var)``: the cluster sandwich and the header line."""
        obj, top = self.objective, self.levels[0]
        groups, name = None, top.label
        if self.vce.kind == "cluster":
            name = self.vce.variable
            values = self.design.sample_data[name].to_numpy()
            by_code = cluster_groups(top.codes, values, top.label, name)
            groups = by_code[obj.cluster_order(top.n_groups)]
        cov, n = robust_display_covariance(obj, x, self.display_map, H, free, groups)
        return cov, f"(Std. err. adjusted for {n} clusters in {name})"

    def _fit_constrained(self, x0, constraints, log, maxiter, record):
        """Linear constraints on display-scale parameters: optimize in their null space."""
        from statsmodels_me.results.constraints import linear_constraints
        R, r = linear_constraints(list(constraints), self.param_names)
        self._check_fixed_variances(R, r, constraints)

        def to_internal(d):
            try:
                return self.display_map.internal(d)
            except (SpecificationError, ValueError, FloatingPointError):
                return None

        def on_iteration(k, value):
            log.append(f"Iteration {k}:  Log likelihood = {value:.8g}")
        out = maximize_constrained(self.objective.value, to_internal,
                                   self.display_map.display(x0), R, r,
                                   self.display_map.variance_positions(), maxiter,
                                   on_iteration=on_iteration, record=record)
        if out.singular:
            warnings.warn(f"{self.spec.command}: Hessian of the constrained problem is "
                          "singular; standard errors are unreliable", ConvergenceWarning,
                          stacklevel=3)
        return out.x, out.cov_display, out.iterations, out.converged

    def _check_fixed_variances(self, R, r, constraints):
        """A constraint fixing a variance (``_b[/var(_cons[id])] = #``) must fix it at a
        value >= 0; a variance fixed at 0 is fitted on the boundary (as Stata)."""
        R, r = np.atleast_2d(R), np.atleast_1d(r)
        texts = list(constraints.values()) if isinstance(constraints, dict) \
            else list(constraints)
        for row, value in zip(R, r, strict=True):
            hit = np.flatnonzero(np.abs(row) > 0)
            if len(hit) != 1 or hit[0] not in self.display_map.variance_positions():
                continue
            fixed = value / row[hit[0]]
            if fixed < 0:
                name = self.param_names[hit[0]]
                raise SpecificationError(
                    f"{self.spec.command}: constraints() fix {name} at {fixed:g}, but a "
                    f"variance cannot be negative (constraints: {'; '.join(map(str, texts))})")

    @property
    def latent_residual_variance(self):
        """Latent residual variance for ``estat icc`` on the latent scale (or None)."""
        return self.family_object.latent_residual_variance


class MELogit(MEGLM):
    """``melogit``: bernoulli (or ``binomial()``) family, logit link."""

    command = "melogit"


class MEProbit(MEGLM):
    """``meprobit``: bernoulli (or ``binomial()``) family, probit link."""

    command = "meprobit"


class MECloglog(MEGLM):
    """``mecloglog``: bernoulli (or ``binomial()``) family, complementary log-log link."""

    command = "mecloglog"


class MEPoisson(MEGLM):
    """``mepoisson``: Poisson family, log link."""

    command = "mepoisson"


class MENBReg(MEGLM):
    """``menbreg``: negative binomial, mean (``/lnalpha``) or constant (``/lndelta``)
    dispersion."""

    command = "menbreg"


class MEOLogit(MEGLM):
    """``meologit``: ordinal family, logit link; cutpoints ``/cut1`` ...."""

    command = "meologit"


class MEOProbit(MEGLM):
    """``meoprobit``: ordinal family, probit link."""

    command = "meoprobit"
