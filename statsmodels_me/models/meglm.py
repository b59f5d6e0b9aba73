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
from scipy import stats

from statsmodels_me._integrate.blas_threads import single_threaded_blas
from statsmodels_me.inference.lrtests import lr_test_vs_fixed
from statsmodels_me.models.base import MEModel
from statsmodels_me.models.glmm_fitting import GLMMFitter
from statsmodels_me.models.glmm_inference import DisplayMap, display_covariance
from statsmodels_me.models.glmm_starts import (
    aux_start,
    beta_start,
    check_separation,
    fit_fixed,
    grid_start,
)
from statsmodels_me.objectives.glmm_choose import (
    design_kind,
    glmm_objective,
    integration,
    level_Z,
)
from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.optimization.constrained import maximize_constrained
from statsmodels_me.results.fit_info import FitInfo, VCompGroup
from statsmodels_me.spec.errors import ConvergenceWarning, DataError, SpecificationError

_TITLES = {
    ("bernoulli", "logit"): ("logistic", "logistic model"),
    ("binomial", "logit"): ("logistic", "logistic model"),
    ("bernoulli", "probit"): ("probit", "probit model"),
    ("binomial", "probit"): ("probit", "probit model"),
    ("bernoulli", "cloglog"): ("complementary log-log", "cloglog model"),
    ("binomial", "cloglog"): ("complementary log-log", "cloglog model"),
    ("poisson", "log"): ("Poisson", "Poisson model"),
    ("nbinomial_mean", "log"): ("negative binomial", "nbinomial model"),
    ("nbinomial_constant", "log"): ("negative binomial", "nbinomial model"),
    ("ordinal", "logit"): ("ologit", "ologit model"),
    ("ordinal", "probit"): ("oprobit", "oprobit model"),
    ("ordinal", "cloglog"): ("ocloglog", "ocloglog model"),
}
_EFORM = {"or": "Odds ratio", "irr": "IRR", "eform": "exp(b)", "hr": "Haz. ratio"}


def _engine_family(options):
    fam = options.get("family", "gaussian")
    if fam == "nbinomial":
        return "nbinomial_constant" if options.get("dispersion") == "constant" \
            else "nbinomial_mean"
    return fam


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
    ``BoundaryWarning`` (its standard error is reported as 0).
    """

    command = "meglm"

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 kind=None, **options):
        super().__init__(endog, exog, groups, exog_re, design=design, **options)
        d = self.design
        self.family = _engine_family(self.options)
        X, xnames, y = self._prepare_outcome(d)
        self._X, self.k_fe, self._xnames = X, X.shape[1], xnames
        if self.family == "binomial" and d.trials is None:
            raise SpecificationError(f"{self.spec.command}: family(binomial) needs the number "
                                     "of trials: binomial(varname|#)")
        natural = design_kind(d)
        if kind not in (None, natural, "crossed"):
            raise SpecificationError(f"{self.spec.command}: kind='{kind}' does not fit this "
                                     f"design; use '{natural}' or 'crossed'")
        kind = kind or natural
        self.intmethod, self.intpoints = integration(self.options, kind, self.spec.command)
        self.levels = list(d.levels)
        self.level = self.levels[-1]
        self.objective, self.level_covs = glmm_objective(
            d, self.family, self.options.get("link"), y, X, self.intmethod, self.intpoints,
            kind)
        # the Laplace approximation ranks starting values and starts quadrature fits
        self.laplace_objective = self.objective.laplace()
        self.cov = self.objective.cov
        self.link = self.objective.engine.link
        self._check_outcome_varies()
        self.k_aux = self.objective.k_aux
        self.n_theta = self.cov.n_theta
        self.ancillary_names = self._aux_names()
        self.display_map = DisplayMap(self.k_fe, self.k_aux, self.cov,
                                      self.family == "gaussian")
        names = xnames + list(self.ancillary_names) + list(self.cov.display_names)
        if self.family == "gaussian":
            names.append(f"/var(e.{d.endog_names[0]})")
        self._set_param_names(names)

    # -- names read by predict ------------------------------------------------------------
    @property
    def engine(self):
        """The objective's numerical engine."""
        return self.objective.engine

    _level_Z = staticmethod(level_Z)

    def _split(self, x):
        return self.objective.split(x)

    # -- setup helpers ---------------------------------------------------------------------
    def _prepare_outcome(self, d):
        """Fixed design and response; ordinal outcomes lose ``_cons`` and are recoded 0..K-1."""
        X, xnames, y = d.exog, list(d.exog_names), d.endog
        self.categories = None
        if self.family != "ordinal":
            return X, xnames, y
        if "_cons" in xnames:
            keep = [i for i, n in enumerate(xnames) if n != "_cons"]
            X, xnames = X[:, keep], [xnames[i] for i in keep]
        cats = np.unique(y)
        if len(cats) < 2:
            raise DataError(f"ordinal outcome '{d.endog_names[0]}' has only one category "
                            f"({cats[0]:g}); at least two are needed")
        if not np.allclose(cats, np.round(cats)):
            raise DataError(f"ordinal outcome '{d.endog_names[0]}' has non-integer values")
        self.categories = cats
        return X, xnames, np.searchsorted(cats, y).astype(float)

    def _check_outcome_varies(self):
        """Binary, binomial and count outcomes that never vary have no finite MLE."""
        eng, yname = self.objective.engine, self.design.endog_names[0]
        y, t = eng.endog, eng.trials
        if self.family in ("bernoulli", "binomial"):
            if np.all(y == 0):
                raise DataError(f"outcome '{yname}' is always 0 (no successes); the model "
                                "cannot be fitted")
            if np.all(y == t):
                raise DataError(f"outcome '{yname}' is always a success; the model cannot be "
                                "fitted")
        elif self.family in ("poisson", "nbinomial_mean", "nbinomial_constant") \
                and np.all(y == 0):
            raise DataError(f"outcome '{yname}' is always 0; the model cannot be fitted")
        if self.family in ("bernoulli", "ordinal") and np.all(np.diff(eng.ptr) <= 1):
            warnings.warn(f"{self.spec.command}: every '{self.level.label}' cluster has one "
                          "observation: with a categorical outcome the random-effects variance "
                          "is identified only through the shape of the link (weakly)",
                          ConvergenceWarning, stacklevel=4)

    def _aux_names(self):
        if self.family == "ordinal":
            return [f"/cut{k + 1}" for k in range(len(self.categories) - 1)]
        if self.family == "nbinomial_mean":
            return ["/lnalpha"]
        if self.family == "nbinomial_constant":
            return ["/lndelta"]
        if self.family == "gamma":
            return ["/logs"]
        return []

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
        disp : bool
            Print Stata's iteration log.

        Returns
        -------
        MEGLMResults

        Notes
        -----
        One-level fits run with single-threaded OpenBLAS: their BLAS calls are small, and
        with more OpenBLAS threads the idle workers spin against the OpenMP threads of the
        cluster kernel (W3 with 2 threads: 0.25 s wall against 0.145 s).
        """
        blas = single_threaded_blas() if self.objective.single_threaded_blas \
            else contextlib.nullcontext()
        with blas:
            return self._fit(start_params, maxiter, disp)

    def _fit(self, start_params, maxiter, disp):
        obj, lap = self.objective, self.laplace_objective
        eng = obj.engine
        log, record = [], OptimizationRecord()
        constraints = self.options.get("constraints") or ()
        z0 = np.concatenate([
            beta_start(self.family, self.link, eng.endog, eng.trials, self._xnames),
            aux_start(self.family, self.link, eng.endog, self.k_aux,
                      None if self.categories is None else len(self.categories))])
        z_fixed, llf_fixed = fit_fixed(lap, self.design, self.family, self.link, self._X,
                                       z0, log)
        if start_params is None and not constraints:
            start_params = obj.joint_start(z_fixed)
        diverging = check_separation(lap, self.family, self._X, self._xnames, z_fixed,
                                     llf_fixed, self.spec.command, self.design.endog_names[0])
        if start_params is not None:
            x0 = np.asarray(start_params, float)
        else:
            x0 = grid_start(lap, z_fixed, self.cov.theta_start(), log)
        record.x_initial = np.array(x0, float)
        log.append("Fitting full model:")
        if constraints:
            x, cov_disp, it = self._fit_constrained(x0, constraints, log, maxiter, record)
            llf = obj.value(x)
        else:
            fitter = GLMMFitter(obj, maxiter, log, record, self.spec.command, diverging)
            x, H, it = fitter.run(x0)
            record.converged = fitter.converged
            llf = obj.value(x)
            cov_disp = display_covariance(obj, x, self.display_map, self.param_names,
                                          self.spec.command, diverging, H)
        params = self.display_map.display(x)
        record.finish(x, llf, record.converged, record.criterion)
        if disp:
            print("\n".join(log))
        info = self._fit_info(params, cov_disp, llf, llf_fixed, it, log)
        from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
        info.optimization = record
        res = MEGLMResults(self, params, cov_disp, info)
        res._internal = x
        return MEGLMResultsWrapper(res)

    def _fit_constrained(self, x0, constraints, log, maxiter, record):
        """Linear constraints on display-scale parameters: optimize in their null space."""
        from statsmodels_me.results.constraints import linear_constraints
        R, r = linear_constraints(list(constraints), self.param_names)

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
        return out.x, out.cov_display, out.iterations

    def _fit_info(self, params, cov, llf, llf_fixed, iterations, log):
        k = self.k_fe
        groups = []
        pos = k + (0 if self.family == "gaussian" else self.k_aux)
        for c in self.level_covs:          # one random-effects section per level
            rows = []
            for lab in c.vcomp_labels:
                rows.append((lab.split(": ", 1)[1], pos))
                pos += 1
            groups.append(VCompGroup(c.level_label, c.kind_label, rows))
        test = [i for i, n in enumerate(self._xnames) if n != "_cons"]
        wald = None
        if test:
            b = params[test]
            V = cov[np.ix_(test, test)]
            try:
                chi2 = float(b @ np.linalg.solve(V, b))
                wald = (chi2, len(test), float(stats.chi2.sf(chi2, len(test))))
            except np.linalg.LinAlgError:
                wald = None
        ttl, versus = _TITLES.get((self.family, self.link),
                                  ("GLM", "linear model" if self.family == "gaussian"
                                   else "fixed-effects model"))
        fixed_cov = self.cov.n_theta == 0
        n_var = int(sum(self.cov.theta_is_variance))
        # the two log likelihoods come from different code paths (the GLM and the GLMM
        # engine): a difference at their rounding level (a variance at zero) is no difference
        llf_lr = llf_fixed if abs(llf - llf_fixed) <= 1e-12 * max(1.0, abs(llf)) else llf
        lr = None if fixed_cov or self.options.get("constraints") else lr_test_vs_fixed(
            llf_lr, llf_fixed, n_var, self.n_theta - n_var, versus)
        eform = next((_EFORM[k] for k in ("or", "irr", "eform", "hr") if self.options.get(k)),
                     None)
        notes = []
        if eform:
            what = {"Odds ratio": "odds ratios", "IRR": "incidence-rate ratios"}.get(
                eform, "exponentiated coefficients")
            notes.append(f"Estimates are transformed only in the first equation to {what}.")
            if "_cons" in self._xnames:
                base = {"Odds ratio": "baseline odds", "IRR": "baseline incidence rate"}.get(
                    eform, "the baseline")
                notes.append(f"_cons estimates {base} (conditional on zero random effects).")
        extra = []
        if self.family == "binomial" and isinstance(self.options.get("binomial"), str):
            extra.append(("Binomial variable", self.options["binomial"]))
        if ttl == "GLM":
            extra += [("Family", self.family.split("_")[0]), ("Link", self.link)]
        residual = None
        if self.family == "gaussian":
            residual = (f"var(e.{self.design.endog_names[0]})", len(params) - 1)
        return FitInfo(
            title=f"Mixed-effects {ttl} regression" if ttl != "GLM" else "Mixed-effects GLM",
            llf=float(llf), k_fe=k, ancillary=list(range(k, k + (0 if self.family == "gaussian"
                                                                 else self.k_aux))),
            vcomp_groups=groups, residual=residual, eform=eform, wald=wald, lr_test=lr,
            llf_fixed=float(llf_fixed), intmethod=self.intmethod,
            intpoints=None if self.intmethod == "laplace" else self.intpoints,
            extra_header=extra, notes=notes, iterations=iterations, iteration_log=log)

    # latent residual variance for estat icc on the latent scale
    @property
    def latent_residual_variance(self):
        if self.family in ("bernoulli", "binomial", "ordinal"):
            return {"logit": np.pi ** 2 / 3, "probit": 1.0}.get(self.link)
        return None


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
