"""Nonlinear mixed-effects regression (Stata's ``menl``) by the linearization method."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel
from statsmodels.tools.numdiff import approx_hess3

from statsmodels_me._kernels.blas_threads import single_threaded_blas
from statsmodels_me.models.base import MEModel
from statsmodels_me.models.menl_design import MenlDesign
from statsmodels_me.models.menl_fit import alternate, nls_start
from statsmodels_me.models.menl_fixed import FixedFit, FixedLME
from statsmodels_me.models.menl_lme import CovBlock, GroupedLME, SparseLME
from statsmodels_me.models.menl_mean import MeanFunction
from statsmodels_me.models.menl_residual import (
    GroupCorrelation,
    ResidualLME,
    VarianceFunction,
    structure_covariance,
    structure_variances,
)
from statsmodels_me.results.fit_info import FitInfo, VCompGroup
from statsmodels_me.spec.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    SpecificationError,
)
from statsmodels_me.spec.menl import parse_menl

__all__ = ["MENL"]

_KIND_LABEL = {"identity": "Identity", "independent": "Independent",
               "exchangeable": "Exchangeable", "unstructured": "Unstructured"}


def _stata_name(param):
    """``e(b)`` name: scalar parameters ``/b1``, linear-combination coefficients ``phi1:x1``."""
    return param if ":" in param else f"/{param}"


class MENL(MEModel):
    """Nonlinear mixed-effects model (Stata's ``menl``) with one level of random effects.

    Parameters
    ----------
    design : MenlDesign
        Built by :meth:`from_text` (``smf.menl(text, data)``).

    Notes
    -----
    Estimation is the alternating algorithm of Lindstrom and Bates (1990) with the extensions
    of Pinheiro and Bates (1995) (:mod:`.menl_fit`); the reported log likelihood is the
    (restricted) log likelihood of the linearized model at the estimates (Stata's
    "linearization log likelihood", nlme's ``logLik``). Fixed-effects standard errors are
    those of the generalized least-squares estimator of the linearized model,
    ``s2 (X' V^-1 X)^-1``, scaled by ``n / (n - p)`` under ML (as Stata and nlme); the
    variance components' come from the observed information of the linearized model's log
    likelihood in the variances and covariances with the fixed effects held at their
    estimates (ML) or of the restricted log likelihood (REML).

    ``resvariance()``, ``rescorrelation()`` and ``rescovariance()`` give heteroskedastic
    and correlated within-group errors (:mod:`.menl_residual`); their parameters are
    ``/Residual:<name>`` (``delta``, ``_cons``, ``gamma``, ``rho``, ``phi1``, ``theta1``...),
    ``s2`` stays ``/var(e)`` (the variances of ``rescovariance(unstructured)`` are
    ``/Residual:var(e<level>)`` instead).

    Random effects may sit at nested levels (``{U1[id]}`` and ``{S1[id>visit]}``); one level
    is solved batched over groups (:class:`GroupedLME`), several by sparse algebra
    (:class:`SparseLME`). Crossed levels are refused with NotImplementedError.
    """

    command = "menl"

    def __init__(self, design=None):
        if not isinstance(design, MenlDesign):
            raise SpecificationError("menl: build the model with smf.menl(text, data) or "
                                     "MENL.from_text(text, data)")
        self.design = design
        self.spec = design.spec
        self.options = {"reml": self.spec.reml}
        self.reml = self.spec.reml
        self.re_names = [name for name, _ in self.spec.random_effects]
        self.blocks = self._blocks()
        endog = pd.Series(design.y, index=design.row_index, name=self.spec.depvar)
        exog = pd.DataFrame(np.ones((design.nobs, 1)), index=design.row_index,
                            columns=["_cons"])
        LikelihoodModel.__init__(self, endog, exog, missing="none")
        self.k_fe = len(self.spec.params)
        self.mean = MeanFunction(self.spec.expr, self.spec.params, self.re_names,
                                 design.columns, design.re_rows, design.n_re)
        names = [_stata_name(p) for p in self.spec.params]
        for block in self.blocks:
            lev = design.level_label(block.index[0])
            for lab in block.labels(self.re_names):
                kind, inner = lab.split("(", 1)
                inner = inner[:-1].replace(",", f"[{lev}],").replace(" ", f"[{lev}] ")
                names.append(f"/{kind}({inner}[{lev}])")
        self.resvariance = self.spec.resvariance
        self.rescorrelation = self.spec.rescorrelation
        self._variance, self._correlation = self._error_structure()
        free_variances = self.rescorrelation is not None and \
            self.rescorrelation.free_variances
        #: position of the residual variance s2 among the parameters (the first variance
        #: of rescovariance(unstructured))
        self.residual_index = len(names)
        if not free_variances:
            names.append("/var(e)")
        self.n_structure = len(names)
        names += [f"/Residual:{nm}" for nm in self._structure_names()]
        #: internal parameters of the error structure at the last fit
        self.structure_params = None
        self._set_param_names(names)

    @classmethod
    def from_text(cls, text, data, **options):
        """Build the model from ``menl depvar = <menlexpr> [, options]``.

        Parameters
        ----------
        text : str
            Stata's ``menl`` syntax, the word ``menl`` optional.
        data : pandas.DataFrame
        **options
            ``reml=True``, ``iterate=``, ``tolerance=``, ``ltolerance=``,
            ``initial={"b1": 18}``.
        """
        spec = parse_menl(text, **options)
        return cls(design=MenlDesign(spec, data))

    from_formula = from_text

    def _set_param_names(self, names):
        self._param_names = list(names)
        self.data.param_names = list(names)
        self.data.cov_names = list(names)

    def _blocks(self):
        """Covariance blocks level by level (outermost first): the ``covariance()`` blocks,
        then one independent block of the other effects (identity for a single effect)."""
        index = {name: a for a, name in enumerate(self.re_names)}
        blocks = []
        for lev in self.design.levels:
            used = set()
            for names, kind in self.spec.covariances:
                idx = tuple(index[n] for n in names)
                if idx[0] in lev.effects:
                    blocks.append(CovBlock(idx, kind))
                    used.update(idx)
            rest = tuple(a for a in lev.effects if a not in used)
            if rest:
                blocks.append(CovBlock(rest, "identity" if len(rest) == 1 and not used
                                       else "independent"))
        return blocks

    def _error_structure(self):
        """The variance function and the within-group correlation of the errors."""
        d = self.design
        variance = correlation = None
        if self.resvariance is not None:
            var = self.resvariance.var
            variance = VarianceFunction(self.resvariance,
                                        None if var == "_yhat" else d.columns[var])
        rc = self.rescorrelation
        if rc is not None:
            lowest = d.levels[-1]
            groups = lowest.codes
            if rc.group is not None:
                codes = pd.factorize(d.columns[rc.group], sort=True)[0]
                per_group = pd.Series(lowest.codes).groupby(codes).nunique()
                if (per_group > 1).any():
                    raise NotImplementedError(
                        f"menl: rescorrelation/rescovariance group({rc.group}): groups that "
                        f"span several groups of the lowest level {lowest.label!r} are not "
                        "implemented")
                groups = codes
            t = d.columns[rc.t] if rc.t is not None else None
            correlation = GroupCorrelation(rc, t, np.asarray(groups))
        return variance, correlation

    def _structure_names(self):
        names = self._variance.names() if self._variance is not None else []
        if self._correlation is not None:
            names += self._correlation.names()
        return names

    def _engine(self):
        d = self.design
        if len(d.levels) == 1:
            lme = GroupedLME(d.levels, self.blocks, reml=self.reml)
        else:
            lme = SparseLME(d.levels, d.re_rows, self.blocks, reml=self.reml)
        if self._variance is not None or self._correlation is not None:
            lme = ResidualLME(lme, self._variance, self._correlation)
        return lme

    def residual_covariance(self, params, yhat, rows):
        """Covariance of the errors of ``rows`` (positions in the estimation sample) at the
        fit's error-structure parameters (:attr:`structure_params`); ``yhat``: the fitted
        values (for ``_yhat``)."""
        s2 = float(np.asarray(params, float)[self.residual_index])
        return structure_covariance(self._variance, self._correlation, self.structure_params,
                                    s2, yhat, np.asarray(rows))

    def residual_variances(self, params, yhat):
        """Variance of each row's error (``yhat``: the fitted values, for ``_yhat``)."""
        s2 = float(np.asarray(params, float)[self.residual_index])
        return structure_variances(self._variance, self._correlation, self.structure_params,
                                   s2, yhat, self.design.nobs)

    # ------------------------------------------------------------------ start values
    def start_params(self):
        """Fixed-effects start values: ``initial()`` / ``{b=#}`` values, the others from a grid
        and nonlinear least squares with the random effects at zero."""
        spec, d = self.spec, self.design
        beta0 = np.array([spec.initial.get(p, np.nan) for p in spec.params])
        free = [j for j, v in enumerate(beta0) if np.isnan(v)]
        if not free:
            f, X, _ = self.mean.evaluate(beta0, np.zeros(d.n_re))
            bad = ~(np.isfinite(f) & np.isfinite(X).all(axis=1))
            if bad.any():
                vals = ", ".join(f"{p}={v:g}" for p, v in zip(spec.params, beta0))
                raise DataError(f"menl: the mean function {spec.text!r} or its derivatives are "
                                f"not finite at the initial values ({vals}) for "
                                f"{int(bad.sum())} observations")
        cands = [-1.0, 0.1, 1.0]
        for col in [d.y, *d.columns.values()]:
            cands += [float(np.mean(col)), float(np.std(col))]
        cands = sorted({c for c in cands if c != 0.0})
        beta0[free] = 0.0
        start = nls_start(self.mean, d.y, beta0, free, cands)
        if start is None:
            raise DataError(f"menl: the mean function {spec.text!r} is not finite at any start "
                            "value tried; give start values with initial() or {b=#}")
        return start

    # ------------------------------------------------------------------ fit
    def fit(self, start_params=None, maxiter=None, tolerance=None, ltolerance=None,
            disp=False):
        """Fit by the alternating PNLS / LME algorithm.

        Parameters
        ----------
        start_params : array_like, optional
            Start values of the fixed effects (default :meth:`start_params`).
        maxiter : int, optional
            Maximum alternating iterations (Stata's ``iterate()``, default 100).
        tolerance, ltolerance : float, optional
            Stopping rules: relative change in the parameters (default 1e-6) or in the
            linearization log likelihood (default 1e-7).
        disp : bool
            Print the iteration log.

        Returns
        -------
        MENLResults

        Warns
        -----
        ConvergenceWarning
            When the iteration limit is reached first; the message gives the last relative
            change in the parameters.
        """
        spec = self.spec
        beta0 = self.start_params() if start_params is None else np.asarray(start_params,
                                                                              float)
        lme = self._engine()
        label = "Linearization log restricted-likelihood" if self.reml else \
            "Linearization log likelihood"
        # small dense blocks: threaded BLAS only adds spinning workers (see blas_threads)
        with single_threaded_blas():
            out = alternate(self.mean, lme, self.design.y, beta0,
                            maxiter=maxiter or spec.iterate,
                            tolerance=tolerance or spec.tolerance,
                            ltolerance=ltolerance or spec.ltolerance, label=label)
        if disp:
            print("\n".join(out.log))
        if not out.converged:
            warnings.warn(f"menl: the alternating PNLS/LME algorithm did not converge in "
                          f"{out.iterations} iterations; last relative change in the "
                          f"parameters {out.last_change:.3g}", ConvergenceWarning,
                          stacklevel=2)
        return self._results(lme, out, label)

    def _results(self, lme, out, label):
        sol = out.solution
        n, p = self.design.nobs, self.k_fe
        cov_beta = out.s2 * np.linalg.inv(sol["XVX"])
        if not self.reml:
            cov_beta *= n / (n - p)
        disp_vals = lme.display(out.theta, out.s2)
        with single_threaded_blas():
            if isinstance(lme, ResidualLME):
                self.structure_params = np.array(out.theta[lme.k:], float)
                cov_disp = self._cov_structure(lme, out)
            else:
                cov_disp = self._cov_display(lme, disp_vals, out.beta)
        params = np.concatenate([out.beta, disp_vals])
        k = len(params)
        cov = np.zeros((k, k))
        cov[:p, :p] = cov_beta
        cov[p:, p:] = cov_disp
        groups, pos = [], p
        for block in self.blocks:
            rows = []
            for lab in block.labels(self.re_names):
                rows.append((lab, pos))
                pos += 1
            groups.append(VCompGroup(self.design.level_label(block.index[0]),
                                     _KIND_LABEL[block.kind], rows))
        method = "REML" if self.reml else "ML"
        info = FitInfo(title=f"Mixed-effects {method} nonlinear regression", llf=out.llf,
                       ll_label=label, k_fe=p, vcomp_groups=groups,
                       residual=("var(Residual)", self.residual_index),
                       ancillary=list(range(self.n_structure, k)),
                       converged=out.converged,
                       iterations=out.iterations, iteration_log=out.log, method=method,
                       notes=list(self.spec.legends))
        from statsmodels_me.results.menl_results import MENLResults, MENLResultsWrapper
        res = MENLResults(self, params, cov, info, random_effects=out.b,
                          inference_point=lme.inference_point(out.theta, out.s2))
        return MENLResultsWrapper(res)

    def _cov_structure(self, lme, out):
        """Covariance of the displayed variance components and error-structure parameters:
        the inverse observed information in the variance components and the structure's
        own parameters (:meth:`ResidualLME.loglike_display`), carried to the displayed
        values by the delta method (Jacobian by central differences)."""
        u = lme.inference_point(out.theta, out.s2)
        # the correlation parameters (atanh, logit, MA coefficients) have unit scale: steps
        # of 1e-4 of their value alone drown the Hessian in the whitening's rounding
        # (about 1e-11 of the log likelihood) when a correlation is near zero
        scale = np.zeros(len(u))
        scale[len(u) - lme.k_cor:] = 1.0
        cov_u = self._cov_display(lme, u, out.beta, scale)
        J = np.zeros((len(lme.display_from_inference(u)), len(u)))
        for j in range(len(u)):
            h = 1e-6 * max(abs(u[j]), 1e-3)
            up, dn = u.copy(), u.copy()
            up[j] += h
            dn[j] -= h
            J[:, j] = (lme.display_from_inference(up) - lme.display_from_inference(dn)) / (2 * h)
        return J @ cov_u @ J.T

    def _cov_display(self, lme, values, beta, scale=None):
        """Covariance of the display variances/covariances and residual variance: inverse of
        the observed information by central differences of :meth:`GroupedLME.loglike_display`
        (steps of 1e-4 of each value, at least of ``scale``)."""
        k = len(values)
        variances = np.abs(values)
        floor = max(float(np.median(variances)), 1e-12)
        steps = 1e-4 * np.maximum(variances, 1e-2 * floor)
        if scale is not None:
            steps = np.maximum(steps, 1e-4 * np.asarray(scale, float))
        if not np.isfinite(lme.loglike_display(values, beta)):
            warnings.warn("menl: a random-effects covariance matrix is singular at the "
                          "estimates (a variance at zero); the standard errors of the variance "
                          "components are not reported", BoundaryWarning, stacklevel=3)
            return np.full((k, k), np.nan)
        H = approx_hess3(values, lambda v: lme.loglike_display(v, beta), epsilon=steps)
        try:
            cov = np.linalg.inv(-H)
            ok = np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(-H) > 0)
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            warnings.warn("menl: the observed information of the variance components is not "
                          "positive definite; their standard errors are not reported",
                          ConvergenceWarning, stacklevel=3)
            return np.full((k, k), np.nan)
        return cov

    def fit_fixed(self, fixed, start_params, start_point, maxiter=None, tolerance=None,
                  ltolerance=None):
        """Fit with variance components held at given values (profile likelihoods).

        Parameters
        ----------
        fixed : dict
            ``e(b)`` name -> value, for random-effects variances and covariances
            (``/var(U1[tree])``, ``/cov(U1[id],U2[id])``) and ``/var(e)``.
        start_params : array_like
            Start values of the fixed effects (usually the unconstrained estimates).
        start_point : array_like
            Start values of the variance parameters in the coordinates of the observed
            information (``MENLResults.inference_point``).
        maxiter, tolerance, ltolerance
            As in :meth:`fit`.

        Returns
        -------
        FixedFit
            The linearization log likelihood at the fixed point of the alternating algorithm
            with those components fixed (see :mod:`.menl_fixed`).
        """
        p = self.k_fe
        n_core = self.n_structure - p
        allowed = {name: j - p for j, name in enumerate(self.param_names)
                   if p <= j < self.n_structure}
        coords = {}
        for name, value in dict(fixed).items():
            if name not in allowed:
                raise SpecificationError(
                    f"menl: cannot hold {name!r} fixed; allowed are the random-effects "
                    f"variances and covariances and /var(e): {', '.join(allowed)}")
            coords[allowed[name]] = float(value)
        positive = np.zeros(len(start_point), dtype=bool)
        for j, name in enumerate(self.param_names[p:self.n_structure]):
            positive[j] = name.startswith("/var(")
        lme = FixedLME(self._engine(), start_point, coords, positive,
                       s2_index=n_core - 1 if self.rescorrelation is None
                       or not self.rescorrelation.free_variances else n_core)
        spec = self.spec
        with single_threaded_blas():
            out = alternate(self.mean, lme, self.design.y, np.asarray(start_params, float)[:p],
                            maxiter=maxiter or spec.iterate,
                            tolerance=tolerance or spec.tolerance,
                            ltolerance=ltolerance or spec.ltolerance)
        return FixedFit(llf=out.llf, beta=out.beta, values=lme.display(out.theta, out.s2),
                        converged=out.converged, iterations=out.iterations)

    def loglike(self, params):
        """Not available: the linearization log likelihood depends on the estimates' path."""
        raise NotImplementedError("menl: the log likelihood of the nonlinear model is not "
                                  "computed; results.llf is the linearization log likelihood")
