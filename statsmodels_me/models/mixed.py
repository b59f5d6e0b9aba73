"""``mixed``: linear mixed models by ML or REML on the profiled likelihood."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats
from statsmodels.tools.numdiff import approx_hess3

from statsmodels_me.models.base import MEModel
from statsmodels_me.models.lmm_engine import LMMEngine, sum_of_squares
from statsmodels_me.postestimation.lrtest import lr_test_vs_fixed
from statsmodels_me.results.fit_info import FitInfo, VCompGroup
from statsmodels_me.spec.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    SpecificationError,
)
from statsmodels_me.terms import (
    BlockFactor,
    FirstEffectFactor,
    RelativeFactor,
    build_terms,
    unwrap_factor,
)


def _collinear_columns(Z, names, gram=None):
    """Names of columns of ``Z`` in the span of the columns before them (scaled Gram matrix;
    ``gram`` is Z'Z when the caller has it)."""
    G = Z.T @ Z if gram is None else gram
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    bad, kept = [], []
    # the intercept first, so that a constant covariate is the one reported
    order = sorted(range(Z.shape[1]), key=lambda j: names[j] != "_cons")
    for j in order:
        if d[j] == 0.0:
            bad.append(names[j])
            continue
        cols = kept + [j]
        C = G[np.ix_(cols, cols)] / np.outer(d[cols], d[cols])
        if np.linalg.eigvalsh(C)[0] <= 1e-10:
            bad.append(names[j])
        else:
            kept.append(j)
    return bad


def check_random_design(design, grams=None):
    """Refuse random-effects designs whose variances cannot be identified.

    ``grams`` optionally maps a level label to Z'Z of its covariates (the one-term engine's
    per-group sums give it without another pass over the rows).

    Raises
    ------
    DataError
        A level (other than ``_all``) with a single group, or random-effects covariates at
        one level that are collinear (a constant covariate next to the random intercept, a
        covariate that is a linear combination of the others).
    """
    for level in design.levels:
        if level.label != "_all" and level.n_groups < 2:
            raise DataError(
                f"mixed: level '{level.label}' has only {level.n_groups} group in the "
                f"estimation sample; its random-effects variance is not identified")
        blocks = [b for b in level.blocks if b.factor_codes is None]
        if not blocks:
            continue
        Z = blocks[0].Z if len(blocks) == 1 else np.hstack([b.Z for b in blocks])
        names = [n for b in blocks for n in b.names]
        bad = _collinear_columns(Z, names, (grams or {}).get(level.label))
        if bad:
            raise DataError(
                f"mixed: random effects at level '{level.label}' are collinear: "
                f"{', '.join(repr(n) for n in bad)} "
                f"{'is' if len(bad) == 1 else 'are'} constant or a linear combination of "
                f"{', '.join(repr(n) for n in names if n not in bad) or 'the others'}; "
                f"drop {'it' if len(bad) == 1 else 'them'} from '|| {level.label}:' or add "
                f"noconstant")


def least_squares(X, y):
    """Least-squares coefficients of ``y`` on ``X`` and the residual sum of squares.

    From the p x p normal equations (refined once when cond(X'X) exceeds 1e4) when
    cond(X'X) < 1e8 and the fit is not (nearly) exact; otherwise from the QR-based
    ``lstsq`` on the n x p matrix, whose accuracy the exact-fit check needs.

    Returns
    -------
    beta : ndarray (p,)
    rss : float
    """
    XtX = X.T @ X
    cond = np.linalg.cond(XtX) if XtX.size and np.all(np.isfinite(XtX)) else np.inf
    if cond < 1e8:
        beta = np.linalg.solve(XtX, X.T @ y)
        r = y - X @ beta
        if cond >= 1e4:
            # beta's relative error is ~1e-16 cond: refine once
            beta = beta + np.linalg.solve(XtX, X.T @ r)
            r = y - X @ beta
        rss = sum_of_squares(r)
        if rss > 1e-8 * sum_of_squares(y):
            return beta, rss
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return beta, sum_of_squares(r)


def check_response(design, fit=None):
    """Refuse a response that the fixed effects fit exactly (no residual variance).

    Parameters
    ----------
    design : Design
    fit : tuple, optional
        ``least_squares(design.exog, design.endog)`` when already computed.

    Raises
    ------
    DataError
        Naming the response: the likelihood is unbounded there.
    """
    X, y = design.exog, design.endog
    rss = (least_squares(X, y) if fit is None else fit)[1]
    if rss <= 1e-20 * max(sum_of_squares(y), 1e-300):
        raise DataError(
            f"mixed: the response '{design.endog_names[0]}' is an exact linear function of "
            f"the fixed effects ({' '.join(design.exog_names)}); there is no residual "
            f"variation to model")


def check_terms_identified(terms, nobs):
    """Refuse a term with at least as many random effects as observations (lme4's rule).

    Raises
    ------
    DataError
        Naming the term: its random effects and the residual variance are not separately
        identified.
    """
    for t in terms:
        if t.size >= nobs:
            raise DataError(
                f"mixed: the random effects {' '.join(t.names)} at level '{t.label}' number "
                f"{t.n_groups} groups x {t.q} = {t.size}, not fewer than the {nobs} "
                f"observations; they and the residual variance are not identified")


def _hit_limit(res):
    """Whether scipy stopped for the iteration or evaluation limit."""
    msg = str(getattr(res, "message", "")).lower()
    return "maximum" in msg or "exceed" in msg or ("limit" in msg and "radius" not in msg)


class Mixed(MEModel):
    """Linear mixed-effects model (Stata's ``mixed``), ML or REML.

    Parameters
    ----------
    endog, exog, groups, exog_re : array_like, optional
        Array input like statsmodels' MixedLM (``exog`` includes the constant column).
    design : Design, optional
        Built by :meth:`from_text`.
    **options
        ``reml=True`` for REML.

    Notes
    -----
    The covariance parameters are estimated on the profiled deviance of Bates et al.
    (2015); fixed effects come from the generalized least-squares solution and their
    covariance is s2 (X' V^-1 X)^-1. Variance-component standard errors come from the
    observed information of the log likelihood with beta profiled out, mapped to Stata's
    variance/covariance scale by the delta method.

    Starting values come from EM iterations on the BLUPs and their conditional variances
    (Stata's ``emiterate()``, default 20); one-term models and crossed or nested scalar
    intercepts are then optimized by L-BFGS-B with an analytic gradient and Newton-polished
    (crossed scalar intercepts, ML or REML, first by the engine's Newton iteration with the exact
    Hessian, :meth:`LMMEngine.newton`), other models with several terms by COBYQA (polished
    too when the dense block is small).

    A model with a ``covariance(fixed())`` block cannot profile the residual variance out
    (the fixed matrix is on the absolute scale); it is fitted on the absolute scale with the
    residual variance as a parameter (:meth:`_fit_absolute`).
    """

    command = "mixed"

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
        one_term = len(self.terms) == 1 and self.terms[0].label == self.design.levels[0].label
        if not one_term:
            check_random_design(self.design)
        check_terms_identified(self.terms, self.design.nobs)
        self.absolute = any(c.kind_label == "Fixed" for cov in self.level_covs
                            for c in getattr(cov, "blocks", [cov]))
        self._scale = {"s2": 1.0}
        if self.absolute:
            for t in self.terms:
                t.cholesky = RelativeFactor(t.cholesky, self._scale)
        self.engine = LMMEngine(self.design.endog, self.design.exog, self.terms, reml=self.reml)
        if one_term:
            # checked after the engine, whose per-group sums give Z'Z
            grams = None
            if all(b.factor_codes is None for b in self.design.levels[0].blocks):
                grams = {self.terms[0].label: self.engine.A11.sum(axis=0)}
            check_random_design(self.design, grams)
        self._ols = self._least_squares()
        check_response(self.design, self._ols)
        self.k_fe = self.design.exog.shape[1]
        yname = self.design.endog_names[0]
        names = list(self.design.exog_names)
        for cov in self.level_covs:
            names += list(cov.display_names)
        names.append(f"/var(e.{yname})")
        self._set_param_names(names)

    def _least_squares(self):
        """:func:`least_squares` of the response on the fixed effects, read off the one-term
        engine's centring (its normal equations and residual pass) when X'X is well
        conditioned and the fit is not nearly exact."""
        eng = self.engine
        if not eng.rest and np.all(np.isfinite(eng.XtX)) and np.linalg.cond(eng.XtX) < 1e4:
            b0, rss0 = eng._centered[:2]
            if rss0 > 1e-8 * eng.yty:
                return b0, rss0
        return least_squares(self.design.exog, self.design.endog)

    # -- pieces of the parameter vector ----------------------------------------------------
    def _theta_split(self, theta):
        out, pos = [], 0
        for cov in self.level_covs:
            out.append(theta[pos:pos + cov.n_theta])
            pos += cov.n_theta
        return out

    def _display(self, theta, s2):
        if self.absolute:
            return np.concatenate([c.display(t, scale=1.0) for c, t in
                                   zip(self.level_covs, self._theta_split(theta))] + [[s2]])
        return np.concatenate([c.display(t, scale=s2)
                               for c, t in zip(self.level_covs, self._theta_split(theta))]
                              + [[s2]])

    def _display_jacobian(self, theta, s2):
        """d (display params, s2) / d (theta, s2)."""
        if self.absolute:
            blocks = [c.display_jacobian(t, scale=1.0)
                      for c, t in zip(self.level_covs, self._theta_split(theta))]
            J = np.zeros((sum(b.shape[0] for b in blocks) + 1, self.engine.n_theta + 1))
            r = c0 = 0
            for b in blocks:
                J[r:r + b.shape[0], c0:c0 + b.shape[1]] = b
                r += b.shape[0]
                c0 += b.shape[1]
            J[-1, -1] = 1.0
            return J
        blocks = [c.display_jacobian(t, scale=s2)
                  for c, t in zip(self.level_covs, self._theta_split(theta))]
        nd = sum(b.shape[0] for b in blocks)
        J = np.zeros((nd + 1, self.engine.n_theta + 1))
        r = c0 = 0
        for b, cov, t in zip(blocks, self.level_covs, self._theta_split(theta)):
            J[r:r + b.shape[0], c0:c0 + b.shape[1]] = b
            J[r:r + b.shape[0], -1] = cov.display(t, scale=1.0)
            r += b.shape[0]
            c0 += b.shape[1]
        J[-1, -1] = 1.0
        return J

    def theta_start(self):
        return np.concatenate([c.theta_start() for c in self.level_covs]) \
            if self.level_covs else np.zeros(0)

    def theta_bounds(self):
        out = []
        for c in self.level_covs:
            out += list(c.theta_bounds())
        return out

    def loglike(self, params):
        """Log likelihood (restricted for REML) at a full display-scale parameter vector."""
        params = np.asarray(params, dtype=float)
        beta = params[:self.k_fe]
        s2 = params[-1]
        if self.absolute:
            self._scale["s2"] = float(s2)
            theta = self._theta_from_display(params[self.k_fe:-1], 1.0)
        else:
            theta = self._theta_from_display(params[self.k_fe:-1], s2)
        return self.engine.loglike_profile_s2(theta, s2, beta=beta)

    def _theta_from_display(self, values, s2):
        out, pos = [], 0
        for c in self.level_covs:
            k = len(c.display_names)
            out.append(c.theta_from_display(values[pos:pos + k], scale=s2))
            pos += k
        return np.concatenate(out) if out else np.zeros(0)

    # -- estimation --------------------------------------------------------------------------
    def _option(self, kwargs, name, default):
        """A fit() keyword, else the command's option (``iterate(50)``), else ``default``."""
        if kwargs.get(name) is not None:
            return kwargs[name]
        val = self.options.get(name)
        return default if val is None else val

    def _em_update(self, moments):
        """theta from per-term relative-covariance moments, projected onto each structure."""
        theta = np.zeros(self.engine.n_theta)
        for term, mom in zip(self.terms, moments):
            chol = unwrap_factor(term.cholesky)
            covs = chol.covs if isinstance(chol, BlockFactor) else [chol.cov]
            qpos = tpos = 0
            for cov in covs:
                q = mom.shape[0] if not isinstance(chol, BlockFactor) else cov.q
                if cov.n_theta:
                    sub = mom[qpos:qpos + q, qpos:qpos + q]
                    if isinstance(chol, FirstEffectFactor):
                        sub = float(sub[0, 0]) * np.eye(cov.q)
                    theta[term.theta_index[tpos:tpos + cov.n_theta]] = cov.theta_start(sub)
                qpos += q
                tpos += cov.n_theta
        return theta

    def _small_dense_block(self):
        """True for one-term models and for models whose dense second block is small."""
        eng = self.engine
        return not eng.rest or sum(eng.r2_sizes) <= 300

    def _em(self, theta0, n_iter, tol):
        """EM iterations for starting values (Stata's ``emiterate()``, default 20).

        Returns the iterate with the lowest deviance and the number of iterations run.
        """
        eng = self.engine
        if n_iter <= 0 or not self._small_dense_block():
            # the conditional variances of a large dense block cost about four deviance
            # evaluations per iteration, more than EM saves the optimizer there
            return theta0, 0
        best, fbest = theta0, np.inf
        theta, prev, done = theta0, None, 0
        for _ in range(int(n_iter)):
            dev, mom = eng.em_moments(theta)
            if not np.isfinite(dev) or mom is None:
                break
            if dev < fbest:
                best, fbest = theta, dev
            done += 1
            if prev is not None and abs(prev - dev) <= tol * max(abs(dev), 1.0):
                break
            prev = dev
            theta = self._em_update(mom)
        return best, done

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

        Warns
        -----
        ConvergenceWarning
            When the iteration limit stops the optimizer.
        """
        eng = self.engine
        if self.absolute:
            return self._fit_absolute(start_theta, maxiter, disp, **kwargs)
        label = "Log restricted-likelihood" if self.reml else "Log likelihood"
        maxiter = int(self._option({"iterate": maxiter, **kwargs}, "iterate", 1000))
        emiterate = int(self._option(kwargs, "emiterate", 20))
        emtol = float(self._option(kwargs, "emtolerance", 1e-10))
        tol = self._option(kwargs, "tolerance", None)
        ltol = self._option(kwargs, "ltolerance", None)
        theta0 = self.theta_start() if start_theta is None else np.asarray(start_theta, float)
        log = []
        em_converged = False
        if start_theta is None and emiterate > 0:
            theta0, n_em = self._em(theta0, emiterate, emtol)
            if n_em:
                log += ["Performing EM optimization ...", ""]
            em_converged = 0 < n_em < emiterate
        log.append("Performing gradient-based optimization:")
        bounds = self.theta_bounds()
        it = [0]

        last = {}

        def objective(theta):
            last["f"] = eng.deviance(theta)
            return last["f"]

        def objective_grad(theta):
            out = eng.deviance_and_grad(theta)
            last["f"] = out[0]
            return out

        def callback(xk, *args):
            # the optimizer evaluated its new iterate last: log that value, not a new one
            it[0] += 1
            log.append(f"Iteration {it[0]}:  {label} = {-0.5 * last.get('f', np.nan):.8g}")

        log.append(f"Iteration 0:  {label} = {-0.5 * eng.deviance(theta0):.8g}")
        # ftol 1e-12: below that L-BFGS-B chases rounding noise in line searches; the
        # Newton polish after it resolves the optimum
        opts = {"maxiter": maxiter, "ftol": 1e-12 if ltol is None else float(ltol),
                "gtol": 1e-7 if tol is None else float(tol), "maxls": 50}
        # an EM start is close to the optimum: a smaller first trust region saves the
        # derivative-free method its exploration; with the Newton polish afterwards
        # (small problems) it need not resolve the optimum below 1e-6
        tr0 = 0.1 if log and log[0].startswith("Performing EM") else 1.0
        tr1 = 1e-6 if self._small_dense_block() else 1e-9
        if not eng.analytic_gradient:
            # several terms (other than crossed scalar intercepts): the gradient
            # would cost 2k evaluations of the blocked factorization, so use the
            # derivative-free trust-region method (like lme4's and MixedModels.jl's BOBYQA).
            def run(start):
                return optimize.minimize(
                    objective, start, method="COBYQA", bounds=bounds, callback=callback,
                    options={"maxiter": maxiter, "maxfev": max(500 * len(start), maxiter),
                             "initial_tr_radius": tr0,
                             "final_tr_radius": tr1 if tol is None else float(tol)})
        else:
            def newton_callback(xk, dev):
                it[0] += 1
                log.append(f"Iteration {it[0]}:  {label} = {-0.5 * dev:.8g}")

            # one term, EM converged, default tolerances: the start is close, and Newton's
            # method with a Hessian from differences of the analytic gradient (the same
            # differences the standard errors need) converges in one or two steps
            near = [not eng.rest and em_converged and tol is None and ltol is None]

            def run(start):
                # the model's own Newton iteration with an exact Hessian where it has one
                # (it declines boundary estimates, REML, ...); L-BFGS-B otherwise. A Newton
                # iteration that gives up leaves no lines in the log: L-BFGS-B restarts
                # from ``start`` and counts its own iterations.
                mark = (len(log), it[0])
                res = eng.newton(start, bounds, maxiter, newton_callback)
                if res is None and near[0]:
                    near[0] = False
                    del log[mark[0]:]
                    it[0] = mark[1]
                    res = self._newton_near(start, bounds, min(maxiter, 4), newton_callback)
                if res is not None:
                    return res
                del log[mark[0]:]
                it[0] = mark[1]
                return optimize.minimize(objective_grad, start, jac=True,
                                         method="L-BFGS-B", bounds=bounds,
                                         callback=callback, options=opts)
        if maxiter <= 0:
            theta, converged = theta0, False
        else:
            theta, converged = self._optimize(run, theta0, bounds)
        if not converged:
            warnings.warn(f"mixed: convergence not achieved in iterate({maxiter}) "
                          f"iterations; the estimates are those of the last iteration",
                          ConvergenceWarning, stacklevel=2)
        log.append("")
        log.append("Computing standard errors ...")
        if disp:
            print("\n".join(log))
        return self._results(theta, converged, it[0], log)

    def _fit_absolute(self, start_theta, maxiter, disp, **kwargs):
        """Fit a model with a ``covariance(fixed())`` block.

        A covariance fixed on the absolute scale does not fit the relative
        parameterization, so every structure is taken on the absolute scale and the
        residual variance is a parameter (optimized on the log scale); the fixed effects
        are still profiled out by generalized least squares.
        """
        eng = self.engine
        label = "Log restricted-likelihood" if self.reml else "Log likelihood"
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

        def nll(x):
            self._scale["s2"] = float(np.exp(x[-1]))
            val = -eng.loglike_profile_s2(x[:-1], self._scale["s2"])
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
            x, converged = res.x, not _hit_limit(res)
        if not converged:
            warnings.warn(f"mixed: convergence not achieved in iterate({maxiter}) "
                          f"iterations; the estimates are those of the last iteration",
                          ConvergenceWarning, stacklevel=2)
        self._scale["s2"] = float(np.exp(x[-1]))
        log += ["", "Computing standard errors ..."]
        if disp:
            print("\n".join(log))
        return self._results(x[:-1], converged, it[0], log)

    def _optimize(self, run, theta0, bounds):
        """Run the optimizer, rescan standard deviations stuck at zero, polish one-term fits."""
        eng = self.engine
        res = run(theta0)
        theta = res.x
        # A standard deviation at exactly zero is a stationary point of the deviance (it is
        # even in that parameter), so a gradient method can stall there after overshooting.
        # Scan each such coordinate on a geometric grid and restart where the deviance is
        # lower; a true boundary estimate survives the scan.
        for _ in range(3):
            at_zero = [i for i, (lo, _) in enumerate(bounds)
                       if lo is not None and lo == 0.0 and theta[i] <= 1e-6]
            if not at_zero or _hit_limit(res):
                break
            best, fbest = theta, eng.deviance(theta)
            partners = self._cholesky_column_partners()
            for i in at_zero:
                # with a zero Cholesky diagonal the column below it can change sign without
                # changing Sigma; only one sign lets the covariance grow in the right direction
                for flip in ((), partners.get(i, ())) if partners.get(i) else ((),):
                    for v in np.geomspace(1e-3, 3.0, 15):
                        t2 = best.copy()
                        t2[list(flip)] *= -1.0
                        t2[i] = v
                        f2 = eng.deviance(t2)
                        if f2 < fbest - 1e-10:
                            best, fbest = t2, f2
            if best is theta:
                break
            res = run(best)
            theta = res.x
        if not _hit_limit(res) and not getattr(res, "converged_newton", False):
            if self._small_dense_block() or eng.analytic_gradient:
                # (several terms: second differences cost ~4k^2 deviance evaluations, which
                # only pays off when the dense block is small; COBYQA's own final radius
                # of 1e-9 is otherwise the precision)
                theta = self._polish(theta, bounds)
        # snap standard deviations that are numerically zero onto the bound, so the results
        # report an exact zero rather than 1e-70 with a meaningless standard error
        snapped = theta.copy()
        snapped[np.abs(snapped) <= 1e-6] = 0.0
        if (snapped != theta).any() and eng.deviance(snapped) <= eng.deviance(theta) + 1e-9:
            theta = snapped
        return theta, not _hit_limit(res)

    def _newton_near(self, theta0, bounds, maxiter, callback):
        """Newton's method on the deviance from a start near the optimum (a converged EM).

        Each iteration takes the Hessian from :meth:`_parts_hessian` (differences of the
        analytic gradient's log-det and r2 parts: forward at the start, central after it)
        and stops when half the Newton decrement g' H^-1 g is below 1e-10; the last
        (central) parts, at the estimate itself, serve the standard errors. Returns
        ``None`` (the caller runs L-BFGS-B from ``theta0``) when a parameter is within 1e-2
        (relative) of its bound, the Hessian is not positive definite, a step does not
        decrease the deviance (Armijo, within its rounding noise) or ``maxiter`` steps do
        not converge.
        """
        from scipy.optimize import OptimizeResult

        eng = self.engine
        x = np.asarray(theta0, dtype=float).copy()
        lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
        hi = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
        idx = np.arange(len(x))
        nit = 0
        while True:
            scale = max(float(np.abs(x).max()), 1e-300)
            if np.any(x - lo < 1e-2 * scale) or np.any(hi - x < 1e-2 * scale):
                return None
            out = eng.deviance_and_grad(x)
            f, g = out
            if not np.isfinite(f):
                return None
            H = self._parts_hessian(x, idx, central=nit > 0)
            if H is None:
                return None
            try:
                c = np.linalg.cholesky(0.5 * (H + H.T))
            except np.linalg.LinAlgError:
                return None
            step = np.linalg.solve(c.T, np.linalg.solve(c, g))
            dec = float(g @ step)
            if 0.5 * dec <= 1e-10:
                return OptimizeResult(x=x, fun=f, jac=g, nit=nit, success=True, status=0,
                                      message="Newton decrement below tolerance",
                                      converged_newton=True)
            if nit >= maxiter:
                return None
            cand = x - step
            fc = eng.deviance_and_grad(cand)[0]
            if not fc <= f - 1e-4 * dec + 1e-13 * abs(f):
                return None
            x = cand
            nit += 1
            if callback is not None:
                callback(x, fc)

    def _theta_labels(self, theta):
        """A label per theta element naming its random effect: ``id: var(week)``.

        A zero Cholesky diagonal whose effect still has a positive variance makes the
        covariance matrix singular rather than a variance zero, and is labelled so.
        """
        labels = [""] * self.engine.n_theta
        for term in self.terms:
            chol = unwrap_factor(term.cholesky)
            covs = chol.covs if isinstance(chol, BlockFactor) else [chol.cov]
            tpos = 0
            for cov in covs:
                li = getattr(cov, "_li", None)
                glob = term.theta_index[tpos:tpos + cov.n_theta]
                for k in range(cov.n_theta):
                    if li is not None:
                        var = np.diag(cov.matrix(theta[glob]))[li[k]]
                        eff = cov.names[li[k]]
                        lab = (f"var({eff})" if var <= 1e-12 else
                               f"singular covariance matrix of ({' '.join(cov.names)})")
                    elif cov.kind_label == "Independent":
                        lab = f"var({cov.names[k]})"
                    else:
                        lab = f"var({' '.join(cov.names)})"
                    labels[glob[k]] = f"{cov.level_label}: {lab}"
                tpos += cov.n_theta
        return labels

    def _cholesky_column_partners(self):
        """Global theta index of each Unstructured Cholesky diagonal -> the indices below it."""
        out = {}
        for term in self.terms:
            chol = unwrap_factor(term.cholesky)
            covs = chol.covs if isinstance(chol, BlockFactor) else [chol.cov]
            tpos = 0
            for cov in covs:
                li, lj = getattr(cov, "_li", None), getattr(cov, "_lj", None)
                if li is not None:
                    glob = term.theta_index[tpos:tpos + cov.n_theta]
                    for k, (i, j) in enumerate(zip(li, lj)):
                        if i == j:
                            out[int(glob[k])] = [int(glob[m]) for m in range(len(li))
                                                 if lj[m] == j and li[m] > j]
                tpos += cov.n_theta
        return out

    def _polish(self, theta, bounds):
        """Newton steps on the deviance (Hessian from differences of the gradient) to tighten
        the optimum beyond what the quasi-Newton stopping rule guarantees."""
        eng = self.engine
        free = np.array([not (lo is not None and abs(theta[i] - lo) < 1e-7)
                         for i, (lo, _) in enumerate(bounds)], dtype=bool)
        if not free.any():
            return theta
        best = theta.copy()
        idx = np.flatnonzero(free)
        # one Hessian serves every step: near the optimum it barely changes
        H = self._parts_hessian(best, idx) if eng.analytic_gradient else None
        if H is None:
            H = (self._grad_hessian(best, idx) if eng.analytic_gradient
                 else self._dev_hessian(best, idx))
        H = 0.5 * (H + H.T)
        fbest, g = eng.deviance_and_grad(best)
        for _ in range(3):
            try:
                step = np.linalg.solve(H, g[idx])
            except np.linalg.LinAlgError:
                break
            cand = best.copy()
            cand[idx] -= step
            for i, (lo, _) in enumerate(bounds):
                if lo is not None and cand[i] < lo:
                    cand[i] = lo
            fc, gc = eng.deviance_and_grad(cand)
            # within the deviance's rounding noise (an optimum already resolved to ~1e-15,
            # a flat ridge) the gradient decides: the step must shrink it
            noise = 1e-13 * max(abs(fbest), 1.0)
            if not (fc < fbest - noise or (fc <= fbest + noise and
                                           np.linalg.norm(gc[idx]) < np.linalg.norm(g[idx]))):
                break
            done = fbest - fc < 1e-12
            best, fbest, g = cand, fc, gc
            if done:
                break
        return best

    def _hessian_steps(self, theta, idx):
        """Difference steps for theta[idx]: 1e-5 of each parameter's scale (floored at a
        tenth of the largest |theta|)."""
        floor = 0.1 * np.abs(theta).max() if len(theta) else 1.0
        return 1e-5 * np.maximum(np.abs(theta[idx]), floor if floor > 0 else 1.0)

    def _second_parts(self, theta, idx, central=True):
        """Hessians in theta[idx] of the deviance's two parts, log det and r2: exact where
        the engine has them, else central differences of their analytic gradients
        (``engine.grad_parts``).

        Both the Newton polish (the deviance's Hessian) and the observed information of
        (theta, s2) are exact functions of these two matrices and of first derivatives,
        so one set of differences serves both. The result is kept on the model for
        :meth:`_cov_display`. Returns ``(Hld, Hr2)`` or ``None``.

        ``central=False`` takes forward differences from the gradient at ``theta`` (half
        the evaluations, error ~1e-5 relative): enough for a Newton step, not kept for the
        standard errors.
        """
        eng = self.engine
        exact = eng.exact_second_parts(theta)
        if exact is not None:
            out = (exact[0][np.ix_(idx, idx)], exact[1][np.ix_(idx, idx)])
            self._parts_at = (theta.copy(), tuple(int(i) for i in idx), out)
            return out
        k = len(idx)
        Hld, Hr2 = np.empty((k, k)), np.empty((k, k))
        p0 = None if central else eng.grad_parts(theta)
        for a, (i, h) in enumerate(zip(idx, self._hessian_steps(theta, idx))):
            tp, tm = theta.copy(), theta.copy()
            tp[i] += h
            tm[i] -= h
            pp = eng.grad_parts(tp)
            pm = eng.grad_parts(tm) if central else p0
            if pp is None or pm is None:
                return None
            d = 2 * h if central else h
            Hld[:, a] = (pp[2][idx] - pm[2][idx]) / d
            Hr2[:, a] = (pp[3][idx] - pm[3][idx]) / d
        out = (0.5 * (Hld + Hld.T), 0.5 * (Hr2 + Hr2.T))
        if central:
            self._parts_at = (theta.copy(), tuple(int(i) for i in idx), out)
        return out

    def _parts_hessian(self, theta, idx, central=True):
        """Hessian of the deviance in theta[idx] from :meth:`_second_parts`:
        D = logdet + m log r2 + const, so
        D'' = logdet'' + (m / r2) r2'' - (m / r2^2) r2' r2'."""
        eng = self.engine
        at = eng.grad_parts(theta)
        parts = self._second_parts(theta, idx, central) if at is not None else None
        if parts is None:
            return None
        _, r2, _, dr2 = at
        m = eng.n - eng.p if eng.reml else eng.n
        Hld, Hr2 = parts
        d = dr2[idx]
        return Hld + (m / r2) * Hr2 - (m / r2 ** 2) * np.outer(d, d)

    def _dev_hessian(self, theta, idx):
        """Hessian of the deviance in theta[idx] from second differences (several terms)."""
        eng = self.engine

        def dev_sub(sub):
            t = theta.copy()
            t[idx] = sub
            return eng.deviance(t)
        return approx_hess3(theta[idx], dev_sub,
                            epsilon=1e-4 * np.maximum(np.abs(theta[idx]), 1e-2))

    def _grad_hessian(self, best, idx):
        """Hessian of the deviance in theta[idx] from differences of the analytic gradient."""
        eng = self.engine
        H = np.empty((len(idx), len(idx)))
        for a, i in enumerate(idx):
            h = 1e-5 * max(abs(best[i]), 1e-2)
            tp, tm = best.copy(), best.copy()
            tp[i] += h
            tm[i] -= h
            gp, gm = eng.deviance_and_grad(tp)[1], eng.deviance_and_grad(tm)[1]
            H[:, a] = (gp[idx] - gm[idx]) / (2 * h)
        return H

    def _results(self, theta, converged, iterations, log):
        eng = self.engine
        summary = None if self.absolute else eng.gls_summary(theta)
        if summary is not None:
            # one term: the kernel's outputs; the blocked factor that postestimation needs
            # is built on first use (MixedResults._factor)
            dev, beta, r2, C = summary
            f = None
            s2 = r2 / (eng.n - eng.p if eng.reml else eng.n)
            cov_beta = s2 * np.linalg.inv(C)
        else:
            f = eng.factor(theta)
            if self.absolute:
                f["s2"] = self._scale["s2"]
            s2 = eng.sigma2(f)
            beta = f["beta"]
            cov_beta = eng.cov_beta(f)
        y = self.design.endog
        if s2 <= 1e-10 * max(float(np.var(y)), 1e-300):
            warnings.warn("mixed: the residual variance is estimated at zero (the random "
                          "effects reproduce the response); the likelihood is unbounded and "
                          "the estimates are not meaningful", ConvergenceWarning, stacklevel=3)
        disp_vals = self._display(theta, s2)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # difference steps may leave the parameter space in degenerate fits; the
            # Hessian check in _cov_display reports a non-finite result
            cov_disp = self._cov_display(theta, s2)
        params = np.concatenate([beta, disp_vals])
        k = len(params)
        cov = np.zeros((k, k))
        cov[:self.k_fe, :self.k_fe] = cov_beta
        cov[self.k_fe:, self.k_fe:] = cov_disp
        if self.absolute:
            llf = eng.loglike_profile_s2(theta, s2)
        else:
            llf = -0.5 * (dev if f is None else eng._deviance_from(f))
        info = self._fit_info(theta, params, cov, llf, converged, iterations, log)
        from statsmodels_me.results.mixed_results import MixedResults, MixedResultsWrapper
        res = MixedResults(self, params, cov, info)
        res._theta = theta
        if f is not None:
            res._factor = f
        return MixedResultsWrapper(res)

    def _cov_display(self, theta, s2):
        """Covariance of (display var/cov params, s2) from the observed information."""
        eng = self.engine
        x0 = np.concatenate([theta, [s2]])
        bounds = self.theta_bounds()
        at_bound = [i for i, (lo, _) in enumerate(bounds)
                    if lo is not None and abs(theta[i] - lo) < 1e-6]

        def nll(x):
            if self.absolute:
                self._scale["s2"] = x[-1]
            return -eng.loglike_profile_s2(x[:-1], x[-1])
        keep = [i for i in range(len(x0)) if i not in at_bound]
        xk = x0[keep]
        # central second differences with steps of 1e-3 of each parameter's own scale: the
        # profiled log likelihood is accurate to ~1e-12 relative, which this step balances
        # against the truncation error (checked against Stata's example 4 to 2e-4).
        scale = np.abs(xk)
        floor = 0.1 * np.abs(theta).max() if len(theta) else 1.0
        steps = 1e-3 * np.maximum(scale, floor if floor > 0 else 1.0)

        def nll_sub(sub):
            x = x0.copy()
            x[keep] = sub
            return nll(x)
        H = None if self.absolute else self._parts_information(theta, s2, keep)
        if H is None:
            H = approx_hess3(xk, nll_sub, epsilon=steps)
            if self.absolute:
                self._scale["s2"] = s2
        try:
            eig = np.linalg.eigvalsh(H) if H.size else np.ones(1)
        except np.linalg.LinAlgError:
            eig = np.array([np.nan])
        if not np.all(np.isfinite(eig)) or eig.min() <= 1e-10 * max(abs(eig).max(), 1.0):
            warnings.warn("mixed: the Hessian of the log likelihood is not negative definite "
                          "at the estimates (the information matrix is singular or not "
                          "positive definite); the standard errors of the variance "
                          "components are not reliable", ConvergenceWarning, stacklevel=3)
        try:
            cov_k = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            cov_k = np.linalg.pinv(H)
        cov_t = np.zeros((len(x0), len(x0)))
        cov_t[np.ix_(keep, keep)] = cov_k
        if at_bound:
            labels = self._theta_labels(theta)
            names = list(dict.fromkeys(labels[i] for i in at_bound))
            warnings.warn(f"mixed: variance component estimated at the boundary (zero): "
                          f"{', '.join(names)}; its standard error is not reported",
                          BoundaryWarning, stacklevel=3)
        J = self._display_jacobian(theta, s2)
        return J @ cov_t @ J.T

    def _parts_information(self, theta, s2, keep):
        """Observed information of (theta[keep], s2) for analytic-gradient models.

        With l = -(m log(2 pi s2) + logdet + r2 / s2) / 2 (beta profiled),
        -l_tt = (logdet'' + r2'' / s2) / 2, -l_ts = -r2' / (2 s2^2) and
        -l_ss = r2 / s2^3 - m / (2 s2^2); the two second-derivative matrices come from
        :meth:`_second_parts`, reused from the Newton polish when it ended within 1e-7
        (relative) of ``theta``. ``None`` for other models.
        """
        eng = self.engine
        at = eng.grad_parts(theta)
        if at is None:
            return None
        _, r2, _, dr2 = at
        idx = np.array([i for i in keep if i < eng.n_theta], dtype=int)
        parts = None
        cached = getattr(self, "_parts_at", None)
        if cached is not None and cached[1] == tuple(int(i) for i in idx):
            scale = max(float(np.abs(theta).max()) if len(theta) else 0.0, 1e-300)
            if np.abs(theta - cached[0]).max() <= 1e-7 * scale:
                parts = cached[2]
        if parts is None:
            parts = self._second_parts(theta, idx)
            if parts is None:
                return None
        Hld, Hr2 = parts
        m = eng.n - eng.p if eng.reml else eng.n
        k = len(idx)
        info = np.empty((k + 1, k + 1))
        info[:k, :k] = 0.5 * (Hld + Hr2 / s2)
        info[:k, k] = info[k, :k] = -0.5 * dr2[idx] / s2 ** 2
        info[k, k] = r2 / s2 ** 3 - 0.5 * m / s2 ** 2
        return info

    def _fit_info(self, theta, params, cov, llf, converged, iterations, log):
        eng = self.engine
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
        n_var = eng.n_theta
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
        X = self.design.exog
        n, p = X.shape
        rss = self._ols[1]
        if self.reml:
            d = n - p
            logdet = np.linalg.slogdet(X.T @ X)[1]
            return -0.5 * (d * (1 + np.log(2 * np.pi * rss / d)) + logdet)
        return -0.5 * n * (1 + np.log(2 * np.pi * rss / n))
