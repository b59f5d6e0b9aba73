"""``meglm`` and its shortcuts: two-level generalized linear mixed models.

The marginal likelihood is integrated cluster by cluster by the Cython kernels of
:class:`statsmodels_me.models.glmm_engine.TwoLevelGLMM` (Laplace, mode-curvature and
mean-variance adaptive Gauss-Hermite, plain Gauss-Hermite). The optimizer works on
(beta, ancillary, theta) with theta the covariance structures' parameters; results are reported
on Stata's display scale (variances and covariances) by the delta method.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from statsmodels_me._integrate.blas_threads import single_threaded_blas
from statsmodels_me.covariance import make_level_covariance
from statsmodels_me.families.registry import response_arrays
from statsmodels_me.models.base import MEModel
from statsmodels_me.models.glm_newton import glm_newton
from statsmodels_me.models.glmm_engine import TwoLevelGLMM
from statsmodels_me.optimization.constrained import maximize_constrained
from statsmodels_me.optimization.hessian import gradient_hessian, relative_step
from statsmodels_me.optimization.newton import chord_newton, lower_bounds
from statsmodels_me.optimization.quasi_newton import (
    ZeroRescan,
    maximize_bounded,
    maximize_unbounded,
)
from statsmodels_me.postestimation.lrtest import lr_test_vs_fixed
from statsmodels_me.results.fit_info import FitInfo, VCompGroup
from statsmodels_me.spec.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    SpecificationError,
)

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
    """Two-level generalized linear mixed model (Stata's ``meglm`` and its shortcuts).

    Parameters
    ----------
    design : Design
        Built by :meth:`from_text` (``smf.meglm``, ``smf.melogit``, ...).
    **options
        Stata options as keywords (``intmethod``, ``intpoints``, ``family``, ``link``, ...).

    Notes
    -----
    Models with one grouping level (any number of random effects and equations at that
    level, any covariance structure, including ``_all`` with factor indicators) are
    fitted here; designs with more levels are routed by :meth:`class_for_design`.

    Fitting: the fixed-effects model, a grid of starting variances, then the Laplace
    optimum (L-BFGS-B on the exact Laplace gradient); for the quadrature methods Newton
    steps on the quadrature likelihood with the Laplace Hessian follow (quasi-Newton if
    they stall). Standard errors come from differences of the analytic gradient.

    Hard data: an outcome that never varies or is perfectly predicted by the covariates
    (complete separation) raises :class:`~statsmodels_me.spec.errors.DataError`;
    quasi-complete separation is fitted with a ``ConvergenceWarning`` naming the diverging
    coefficients (their standard errors are NaN); a variance estimated at zero gives a
    ``BoundaryWarning`` (its standard error is reported as 0).
    """

    command = "meglm"

    @classmethod
    def class_for_design(cls, design):
        """Designs with more than one random-effects level go to the multilevel engine."""
        if len(design.levels) > 1 or any(b.factor_codes is not None
                                         for b in design.levels[0].blocks):
            try:
                from statsmodels_me.models.meglm_multilevel import multilevel_class
            except ImportError:
                return cls
            return multilevel_class(cls, design)
        return cls

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 **options):
        super().__init__(endog, exog, groups, exog_re, design=design, **options)
        d = self.design
        opts = self.options
        self.family = _engine_family(opts)
        self.link = opts.get("link")
        self._setup_levels(d)
        X, xnames, y = self._prepare_outcome(d)
        self._X, self.k_fe, self._xnames = X, X.shape[1], xnames
        if self.family == "binomial" and d.trials is None:
            raise SpecificationError(f"{self.spec.command}: family(binomial) needs the number "
                                     "of trials: binomial(varname|#)")
        self.intmethod, self.intpoints = self._integration(opts)
        self.engine = self._make_engine(y, X)
        self.link = self.engine.link
        self._check_outcome_varies()
        self.k_aux = self.engine.k_aux
        self._diverging = []
        self.ancillary_names = self._aux_names()
        yname = d.endog_names[0]
        names = xnames + [n for n in self.ancillary_names] + list(self.cov.display_names)
        if self.family == "gaussian":
            names.append(f"/var(e.{yname})")
        self._set_param_names(names)
        self.n_theta = self.cov.n_theta

    # -- setup hooks (the multilevel and crossed variants override the first and last) -----
    def _setup_levels(self, design):
        """Levels and their covariance structures (one level here)."""
        if len(design.levels) != 1:
            raise NotImplementedError(
                f"{self.spec.command}: construct multilevel GLMMs through "
                "from_text / statsmodels_me.formula.api, which routes them to their engine")
        self.levels = list(design.levels)
        self.level = self.levels[0]
        self.cov = make_level_covariance(self.level)
        self.level_covs = [self.cov]

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

    def _integration(self, opts):
        """(intmethod, intpoints) from the options; pclaplace is Laplace here."""
        method = str(opts.get("intmethod") or "mvaghermite").lower()
        if method == "pclaplace":
            method = "laplace"
        return method, int(opts.get("intpoints") or (1 if method == "laplace" else 7))

    def _make_engine(self, y, X):
        d = self.design
        return TwoLevelGLMM(y, X, self._level_Z(self.level), self.level.codes.astype(np.int64),
                            self.family, self.link, trials=d.trials, offset=d.offset,
                            intmethod=self.intmethod, intpoints=self.intpoints)

    # -- setup helpers -------------------------------------------------------------------
    def _check_outcome_varies(self):
        """Binary, binomial and count outcomes that never vary have no finite MLE."""
        eng, yname = self.engine, self.design.endog_names[0]
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

    def _check_separation(self, z_fixed, llf_fixed=None):
        """Perfect prediction by the fixed effects (binary, binomial and ordinal outcomes).

        Complete separation (every observation fitted exactly) has no finite MLE and raises
        :class:`DataError`; quasi-complete separation (a subset fitted exactly, a coefficient
        diverging) is fitted with a :class:`ConvergenceWarning` naming the coefficients, whose
        standard errors are then not reported (NaN).
        """
        if self.family not in ("bernoulli", "binomial", "ordinal"):
            return
        eng, k = self._laplace_engine(), self.k_fe  # exact with no random effects
        beta = z_fixed[:k]
        zeroL = np.zeros((eng.q, eng.q))
        # per-observation log likelihood at the fixed-effects fit: 0 means fitted exactly
        aux = z_fixed[k:]
        ll_obs = llf_fixed if llf_fixed is not None else \
            eng.loglike_and_grad(beta, aux, zeroL)[0]
        sd = np.std(self._X, axis=0)
        # a diverging coefficient leaves (almost) no curvature: the information per
        # observation about beta_j * sd_j is ~exp(-|eta|) on the perfectly predicted side
        big = []
        for j in range(k):
            if sd[j] == 0 or abs(beta[j]) * sd[j] < 5.0:
                continue
            h = 1e-3 / sd[j]
            bp, bm = beta.copy(), beta.copy()
            bp[j] += h
            bm[j] -= h
            curv = -(eng.loglike_and_grad(bp, aux, zeroL)[1][j]
                     - eng.loglike_and_grad(bm, aux, zeroL)[1][j]) / (2 * h)
            if curv < 1e-6 * len(eng.endog) * sd[j] ** 2:
                big.append(j)
        if abs(ll_obs) < 1e-6 * len(eng.endog):
            raise DataError(
                f"{self.spec.command}: the covariates predict outcome "
                f"'{self.design.endog_names[0]}' perfectly (complete separation); the model "
                "has no finite maximum likelihood estimates")
        if big:
            self._diverging = big
            names = ", ".join(self._xnames[j] for j in big)
            warnings.warn(
                f"{self.spec.command}: quasi-complete separation: the coefficient(s) of {names} "
                "diverge (a covariate predicts the outcome perfectly for some observations); "
                "their standard errors are not reported", ConvergenceWarning, stacklevel=3)

    @staticmethod
    def _level_Z(level):
        cols = []
        for b in level.blocks:
            if b.factor_codes is not None:
                ind = np.zeros((len(b.factor_codes), len(b.factor_levels)))
                ind[np.arange(len(b.factor_codes)), b.factor_codes] = 1.0
                cols.append(ind)
            else:
                cols.append(b.Z)
        return np.hstack(cols)

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

    # -- parameter maps -----------------------------------------------------------------
    @property
    def n_internal(self):
        return self.k_fe + self.k_aux + self.n_theta

    def _split(self, x):
        k, a = self.k_fe, self.k_aux
        return x[:k], x[k:k + a], x[k + a:]

    def _display(self, x):
        beta, aux, theta = self._split(x)
        disp = self.cov.display(theta)
        if self.family == "gaussian":
            return np.concatenate([beta, disp, np.exp(aux)])
        return np.concatenate([beta, aux, disp])

    def _display_jacobian(self, x):
        beta, aux, theta = self._split(x)
        k, a = self.k_fe, self.k_aux
        nd = len(self.cov.display_names)
        J = np.zeros((len(self.param_names), self.n_internal))
        J[:k, :k] = np.eye(k)
        Jc = self.cov.display_jacobian(theta)
        if self.family == "gaussian":
            J[k:k + nd, k + a:] = Jc
            J[-1, k] = np.exp(aux[0])
        else:
            J[k:k + a, k:k + a] = np.eye(a)
            J[k + a:k + a + nd, k + a:] = Jc
        return J

    def _lambda_jacobian(self, theta, h=1e-7):
        q = self.engine.q
        J = np.empty((q * q, len(theta)))
        for i in range(len(theta)):
            tp, tm = theta.copy(), theta.copy()
            tp[i] += h
            tm[i] -= h
            J[:, i] = ((self.cov.cholesky(tp) - self.cov.cholesky(tm)) / (2 * h)).ravel()
        return J

    def _L(self, theta):
        L = self.cov.cholesky(theta)
        return np.nan_to_num(L, nan=0.0) if not np.all(np.isfinite(L)) else L

    def loglike_internal(self, x):
        """Log likelihood at the internal parameters (beta, ancillary, theta)."""
        x = np.asarray(x, float)
        cached = self._cached_score(x)
        if cached is not None:
            return cached[0]
        beta, aux, theta = self._split(x)
        L = self.cov.cholesky(theta)
        if not np.all(np.isfinite(L)):
            return -np.inf
        return self.engine.loglike(beta, aux, L)

    def score_internal(self, x):
        """Log likelihood and its gradient in the internal parameters."""
        x = np.asarray(x, float)
        cached = self._cached_score(x)
        if cached is not None:
            return cached[0], cached[1].copy()
        beta, aux, theta = self._split(x)
        L = self.cov.cholesky(theta)
        if not np.all(np.isfinite(L)):
            return -np.inf, np.zeros_like(x)
        llf, gb, ga, gL = self.engine.loglike_and_grad(beta, aux, L)
        gt = gL.ravel() @ self._lambda_jacobian(theta) if self.n_theta else np.zeros(0)
        grad = np.concatenate([gb, ga, gt])
        self._last_score = (self.engine, x.copy(), llf, grad.copy())
        return llf, grad

    def _cached_score(self, x):
        """(llf, grad) of the last ``score_internal`` call when it was at ``x`` on the
        current engine (an engine pass is the unit of cost of a fit)."""
        last = getattr(self, "_last_score", None)
        if last is not None and last[0] is self.engine and np.array_equal(last[1], x):
            return last[2], last[3]
        return None

    def loglike(self, params):
        """Log likelihood at display-scale parameters (``params`` of the results)."""
        return self.loglike_internal(self._internal_from_display(np.asarray(params, float)))

    def _internal_from_display(self, params):
        k, a = self.k_fe, self.k_aux
        nd = len(self.cov.display_names)
        beta = params[:k]
        if self.family == "gaussian":
            disp, aux = params[k:k + nd], np.log(params[-1:])
        else:
            aux, disp = params[k:k + a], params[k + a:k + a + nd]
        theta = self.cov.theta_from_display(disp) if self.n_theta else np.zeros(0)
        return np.concatenate([beta, aux, theta])

    # -- estimation ------------------------------------------------------------------------
    def _aux_start(self):
        if self.family == "ordinal":
            y = self.engine.endog
            K = len(self.categories)
            cum = np.array([(y <= k).mean() for k in range(K - 1)])
            cum = np.clip(cum, 1e-3, 1 - 1e-3)
            ppf = stats.norm.ppf if self.link == "probit" else (
                lambda p: np.log(p / (1 - p)) if self.link == "logit"
                else np.log(-np.log(1 - p)))
            return ppf(cum)
        if self.family == "gaussian":
            return np.array([np.log(max(np.var(self.engine.endog), 1e-8))])
        return np.zeros(self.k_aux)

    def _fit_fixed(self, log):
        """The model without random effects (Stata's "Fitting fixed-effects model"): Newton's
        method on the GLM for families without ancillary parameters, else quasi-Newton on the
        engine with L = 0."""
        log.append("Fitting fixed-effects model:")
        z0 = np.concatenate([self._beta_start(), self._aux_start()])
        if self.k_aux == 0 and self.family != "gaussian":
            d = self.design
            y, t, off = response_arrays(self.family, d.endog, d.trials, d.offset)
            out = glm_newton(self.family, self.link, y, t, off, self._X, z0)
            if out is not None:
                beta, llf, it = out
                log.append(f"Iteration {it}:  Log likelihood = {llf:.8g}")
                return beta, llf
        # with no random effects the integrand is constant in u: every method is exact, and
        # Laplace costs one node per cluster
        eng = self._laplace_engine()
        zeroL = np.zeros((eng.q, eng.q))
        k = self.k_fe

        def value_and_grad(z):
            llf, gb, ga, _ = eng.loglike_and_grad(z[:k], z[k:], zeroL)
            return llf, np.concatenate([gb, ga])
        res = maximize_unbounded(value_and_grad, z0, {"gtol": 1e-8, "maxiter": 500})
        log.append(f"Iteration {res.nit}:  Log likelihood = {-res.fun:.8g}")
        return res.x, -res.fun

    def _beta_start(self):
        beta = np.zeros(self.k_fe)
        if "_cons" in self._xnames and self.family != "ordinal":
            y = self.engine.endog / self.engine.trials
            m = float(np.clip(y.mean(), 1e-3, None))
            j = self._xnames.index("_cons")
            if self.link == "logit":
                m = min(m, 1 - 1e-3)
                beta[j] = np.log(m / (1 - m))
            elif self.link == "probit":
                beta[j] = stats.norm.ppf(min(m, 1 - 1e-3))
            elif self.link == "cloglog":
                beta[j] = np.log(-np.log(1 - min(m, 1 - 1e-3)))
            elif self.link == "log":
                beta[j] = np.log(m)
            else:
                beta[j] = float(self.engine.endog.mean())
        return beta

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
        Two-level fits run with single-threaded OpenBLAS: their BLAS calls are small, and with
        more OpenBLAS threads the idle workers spin against the OpenMP threads of the cluster
        kernel (W3 with 2 threads: 0.25 s wall against 0.145 s).
        """
        if not isinstance(self.engine, TwoLevelGLMM):
            return self._fit(start_params, maxiter, disp)
        with single_threaded_blas():
            return self._fit(start_params, maxiter, disp)

    def _fit(self, start_params, maxiter, disp):
        log = []
        z_fixed, llf_fixed = self._fit_fixed(log)
        self._check_separation(z_fixed, llf_fixed)
        constraints = self.options.get("constraints") or ()
        bounds = [(None, None)] * (self.k_fe + self.k_aux) + list(self.cov.theta_bounds())
        if start_params is not None:
            x0 = np.asarray(start_params, float)
        else:
            t0 = self.cov.theta_start()
            best = None
            log.append("Refining starting values:")
            # the grid only ranks starting points: the Laplace approximation suffices
            full, self.engine = self.engine, self._laplace_engine()
            try:
                for s in (0.25, 0.5, 1.0, 2.0):
                    cand = np.concatenate([z_fixed, t0 * s])
                    val = self.loglike_internal(cand)
                    if best is None or val > best[0]:
                        best = (val, cand)
            finally:
                self.engine = full
            x0 = best[1]
            log.append(f"Grid node 0:  Log likelihood = {best[0]:.8g}")
        log.append("Fitting full model:")
        if constraints:
            x, cov_disp, it = self._fit_constrained(x0, constraints, log, maxiter)
        else:
            H = None  # the Hessian for the standard errors, when the fit already has it
            if self.intmethod != "laplace":
                # The Laplace approximation costs one node per cluster instead of
                # intpoints**q: optimize it first, then run Newton steps on the quadrature
                # likelihood with the Laplace Hessian (a chord method; the two Hessians
                # differ by the quadrature correction only, so few steps are needed).
                full = self.engine
                self.engine = self._laplace_engine()
                # two-level: the Laplace optimum only starts the quadrature steps (it lies
                # a few standard errors away from theirs), so L-BFGS-B stops at a relative
                # decrease of 1e-10 and the chord Hessian is a forward difference
                two_level = isinstance(self.engine, TwoLevelGLMM)
                try:
                    x0, _ = self._optimize(x0, bounds, [], maxiter, warn=False,
                                           ftol=self._POLISH_FTOL if two_level else 1e-14)
                    free = self._free(x0, bounds)
                    H0 = self._hessian_internal(x0, free, forward=two_level)
                finally:
                    self.engine = full
                # a cold start of the adaptive grids: a warm start carried over from a
                # distant parameter point can leave them stuck (wrong log likelihood)
                self.engine._warm = False
                x, it = self._chord_newton(x0, H0, free, bounds, log)
                if not self._chord_converged:
                    # the Laplace curvature is not a good enough model here: finish with the
                    # quasi-Newton optimizer on the quadrature likelihood itself
                    x, more = self._optimize(x, bounds, log, maxiter)
                    it += more
            else:
                polish = self.intmethod == "laplace" and isinstance(self.engine, TwoLevelGLMM)
                x, it = self._optimize(x0, bounds, log, maxiter,
                                       ftol=self._POLISH_FTOL if polish else 1e-14)
                if polish:
                    x, H, more = self._newton_polish(x, bounds, log, maxiter, it + 1)
                    it += more
            llf = self.loglike_internal(x)
            cov_disp = self._cov_display(x, bounds, H)
        if constraints:
            llf = self.loglike_internal(x)
        params = self._display(x)
        if disp:
            print("\n".join(log))
        info = self._fit_info(params, cov_disp, llf, llf_fixed, it, log)
        from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
        res = MEGLMResults(self, params, cov_disp, info)
        res._internal = x
        return MEGLMResultsWrapper(res)

    def _laplace_engine(self):
        """The Laplace engine on the same data (built once)."""
        if self.intmethod == "laplace":
            return self.engine
        if getattr(self, "_lap", None) is None:
            e = self.engine
            self._lap = TwoLevelGLMM(e.endog, e.exog, e.Z, e._gsorted, e.family, e.link,
                                     trials=e.trials, offset=e.offset, intmethod="laplace")
        return self._lap

    def _optimize(self, x0, bounds, log, maxiter, warn=True, ftol=1e-14):
        def on_iteration(k, value):
            log.append(f"Iteration {k}:  Log likelihood = {value:.8g}")
        rescan = ZeroRescan(grid=np.geomspace(1e-2, 3.0, 10), improvement=1e-8,
                            skip_on_limit=False,
                            restart_options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-7})
        res = maximize_bounded(self.score_internal, x0, bounds,
                               {"maxiter": maxiter, "ftol": ftol, "gtol": 1e-7, "maxls": 50},
                               on_iteration=on_iteration, rescan=rescan,
                               value=self.loglike_internal)
        if warn and not res.success:
            warnings.warn(f"{self.spec.command}: optimizer stopped without convergence: "
                          f"{res.message}", ConvergenceWarning, stacklevel=3)
        return res.x, res.nit

    # L-BFGS-B's relative-decrease tolerance before the Newton polish (two-level Laplace)
    _POLISH_FTOL = 1e-10

    def _newton_polish(self, x, bounds, log, maxiter, first=1):
        """Finish a loosely converged quasi-Newton fit with Newton steps on the Hessian from
        forward differences of the exact gradient, which the standard errors need anyway.

        Quasi-Newton iterations near the optimum make slow progress and, once the changes
        reach the rounding level of a log likelihood of large magnitude, fail line searches
        at the same point (the evaluation count then grows with the sample size).  Returns
        ``(x, H, iterations)``; ``H`` is the Hessian on the free coordinates for the standard
        errors when ``x`` is within 1e-3 standard errors of where it was computed, else None.
        """
        free = [i for i in self._free(x, bounds) if i not in self._diverging]
        if not free:
            return x, None, 0
        H = self._hessian_internal(x, free, forward=True)
        if not np.all(np.isfinite(H)) or np.linalg.eigvalsh(H).max() >= 0:
            x, more = self._optimize(x, bounds, log, maxiter)
            return x, None, more
        g = self.score_internal(x)[1][free]
        decrement = float(-g @ np.linalg.solve(H, g))
        x, it = self._chord_newton(x, H, free, bounds, log, first=first)
        if not self._chord_converged:
            x, more = self._optimize(x, bounds, log, maxiter)
            return x, None, it + more
        same = [i for i in self._free(x, bounds) if i not in self._diverging] == free
        return x, (H if decrement < 1e-6 and same else None), it

    @staticmethod
    def _free(x, bounds):
        return [i for i, (lo, _) in enumerate(bounds)
                if not (lo is not None and abs(x[i] - lo) < 1e-6)]

    def _chord_newton(self, x, H, free, bounds, log, maxit=50, first=1):
        """Newton iterations with a fixed Hessian ``H`` (on the ``free`` coordinates).

        Returns ``(x, iterations)``; ``self._chord_converged`` tells whether the Newton
        decrement fell below tolerance (or the remaining steps were at the noise floor).
        The iteration log numbers the steps from ``first``.
        """
        def on_step(it, value):
            log.append(f"Iteration {it + first - 1}:  Log likelihood = {value:.8g}")
        out = chord_newton(self.score_internal, x, H, free, lower_bounds(bounds), maxit=maxit,
                           on_step=on_step)
        self._last_score = (self.engine, out.x.copy(), out.value, out.gradient.copy())
        self._chord_converged = out.converged
        return out.x, out.iterations

    def _hessian_internal(self, x, free, forward=False):
        """Hessian on the ``free`` coordinates from differences of the analytic gradient:
        central, or forward (half the engine passes; the standard errors)."""
        return gradient_hessian(lambda z: self.score_internal(z)[1], x, free,
                                relative_step(1e-5, 1e-1), forward=forward)

    def _cov_display(self, x, bounds, H=None):
        free = [i for i in self._free(x, bounds) if i not in self._diverging]
        if H is None:
            # forward differences of the exact gradient: half the engine passes of central
            # ones, standard errors within ~1e-5 relative of them
            H = self._hessian_internal(x, free, forward=True)
        try:
            cinv = np.linalg.inv(-H)
            if np.any(np.diag(cinv) < 0):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            cinv = np.linalg.pinv(-H)
            warnings.warn(f"{self.spec.command}: Hessian is not negative definite at the "
                          "optimum (non-concave region); standard errors are unreliable",
                          ConvergenceWarning, stacklevel=3)
        cov = np.zeros((len(x), len(x)))
        cov[np.ix_(free, free)] = cinv
        at_bound = [i for i in range(len(x)) if i not in free and i not in self._diverging]
        if at_bound:
            names = [self.param_names[i] for i in at_bound if i < len(self.param_names)]
            warnings.warn(f"{self.spec.command}: variance component estimated at the boundary "
                          f"(zero); its standard error is not reported ({', '.join(names)})",
                          BoundaryWarning, stacklevel=3)
        J = self._display_jacobian(x)
        cov = J @ cov @ J.T
        for j in self._diverging:  # fixed effects: same position on both scales
            cov[j, j] = np.nan
        return cov

    def _fit_constrained(self, x0, constraints, log, maxiter):
        """Linear constraints on display-scale parameters: optimize in their null space."""
        from statsmodels_me.results.constraints import linear_constraints
        names = self.param_names
        R, r = linear_constraints(list(constraints), names)
        var_idx = [self.k_fe + (0 if self.family == "gaussian" else self.k_aux) + i
                   for i, row in enumerate(self.cov.rows) if row.is_variance]
        if self.family == "gaussian":
            var_idx.append(len(names) - 1)

        def to_internal(d):
            try:
                return self._internal_from_display(d)
            except (SpecificationError, ValueError, FloatingPointError):
                return None

        def on_iteration(k, value):
            log.append(f"Iteration {k}:  Log likelihood = {value:.8g}")
        out = maximize_constrained(self.loglike_internal, to_internal, self._display(x0), R, r,
                                   var_idx, maxiter, on_iteration=on_iteration)
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
