"""The results class shared by every estimator of the package.

Models fit, build a :class:`~statsmodels_me.results.fit_info.FitInfo` and return
``MEResultsWrapper(MEResults(model, params, cov_params, info))``; the wrapper gives
``params``, ``bse``, ``conf_int()`` ... pandas labels with the Stata ``e(b)`` names of
``model.exog_names``.
"""
from __future__ import annotations

import pickle
import warnings
from functools import cached_property

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModelResults, LikelihoodResultsWrapper
from statsmodels.tools.sm_exceptions import CollinearityWarning

from statsmodels_me.covariance.inference import vcomp_ci
from statsmodels_me.results.constraints import linear_constraints
from statsmodels_me.results.eb_layout import eb_names, eb_series
from statsmodels_me.results.fit_info import FitInfo
from statsmodels_me.results.pipeline_methods import PipelineMethods

VCOMP_COLUMNS = ["estimate", "std_err", "ci_lower", "ci_upper"]


def _is_variance_label(label):
    """Row labels ``var(...)`` are variances (log-scale CI); ``cov(...)`` and the residual
    structures' correlation parameters (``rho``, ``phi1``, ``theta1``, by() level first:
    ``male: rho``) are not."""
    last = label.rsplit(": ", 1)[-1]
    return not last.startswith(("cov(", "rho", "phi", "theta"))


def vcomp_frame(info, params, bse, alpha=0.05):
    """Random-effects table as a DataFrame (see :attr:`MEResults.vcomp`).

    Parameters
    ----------
    info : FitInfo
    params, bse : ndarray
    alpha : float

    Returns
    -------
    DataFrame
        Index ``"<level>: <row>"`` plus the residual row label alone; columns
        ``estimate, std_err, ci_lower, ci_upper``.
    """
    rows = [(f"{g.level_label}: {label}", idx, _is_variance_label(label))
            for g in info.vcomp_groups for label, idx in g.rows]
    if info.residual is not None:
        rows.append((info.residual[0], info.residual[1], True))
    est = np.array([float(params[idx]) for _, idx, _ in rows])
    se = np.array([float(bse[idx]) for _, idx, _ in rows])
    is_var = np.array([v for _, _, v in rows], dtype=bool)
    lo, hi = vcomp_ci(est, se, is_var, level=100 * (1 - alpha))
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    # A variance on the boundary has no log-scale interval: Stata shows 0 and a missing upper
    # limit. A component without a standard error is constrained: no interval at all.
    boundary = is_var & (est <= 0)
    lo[boundary], hi[boundary] = 0.0, np.nan
    constrained = ~np.isfinite(se) | (se <= 0)
    lo[constrained], hi[constrained] = np.nan, np.nan
    records = np.column_stack([est, se, lo, hi]) if rows else np.empty((0, 4))
    index = pd.Index([r[0] for r in rows], name="component")
    return pd.DataFrame(records, index=index, columns=VCOMP_COLUMNS, dtype=float)


class _ModelRecipe:
    """How to rebuild a model that cannot be pickled as is: its class and its Design.

    Every estimator can be built as ``cls(design=design)`` (that is what ``from_text`` does);
    options live in ``design.spec.options``. Used by :meth:`MEResults.__getstate__` when the
    model holds unpicklable objects (closures in a numerical engine, compiled kernels).
    """

    def __init__(self, cls, design):
        self.cls = cls
        self.design = design

    def rebuild(self, param_names):
        model = self.cls(design=self.design)
        if hasattr(model, "set_param_names"):
            model.set_param_names(param_names)
        if getattr(model, "data", None) is not None:
            model.data.param_names = list(param_names)
            model.data.cov_names = list(param_names)
        return model


def _model_nobs(model):
    """Estimation-sample size: ``model.nobs``, else ``model.design.nobs``, else rows of endog."""
    nobs = getattr(model, "nobs", None)
    if nobs is None and getattr(model, "design", None) is not None:
        nobs = model.design.nobs
    if nobs is None:
        nobs = np.asarray(model.endog).shape[0]
    return int(nobs)


class MEResults(PipelineMethods, LikelihoodModelResults):
    """Results of a multilevel mixed-effects fit.

    Parameters
    ----------
    model : LikelihoodModel
        The fitted model; ``model.exog_names`` lists every parameter name, ``model.design``
        is the :class:`~statsmodels_me.design.design.Design`.
    params : array_like (k,)
        Estimates on the display scale (fixed effects, ancillary, var/cov, residual var).
    cov_params : array_like (k, k)
        Their covariance.
    info : FitInfo
        Everything else the estimator reports.

    Attributes
    ----------
    info : FitInfo
    llf, llf_fixed : float
        Log likelihood of the model and of the model without random effects.
    lr_test : LRTest or None
    wald : tuple (chi2, df, pvalue) or None
    converged : bool
    method : str
    optimization : OptimizationRecord or None
    params_internal : ndarray or None
    mle_retvals : dict
    vcomp : DataFrame
        Variance components with Stata's confidence intervals.
    params_eb, bse_eb : Series
        Stata's ``e(b)`` layout: omitted (``o.w2``) and base (``0b.urban``) columns at 0
        with a NaN standard error.

    Notes
    -----
    A fixed-effects column that is a linear combination of the columns before it (Stata
    considers the constant first) is dropped from the model as Stata drops it: a
    ``statsmodels.tools.sm_exceptions.CollinearityWarning`` at fit time, Stata's note and an
    ``(omitted)`` row in ``summary()``, its ``o.`` name with the value 0 in
    :attr:`params_eb`; ``params`` and ``bse`` hold the estimated parameters only.

    Tests are z tests (``use_t=False``), as in Stata. ``t_test`` and ``wald_test`` read
    hypothesis strings with :func:`~statsmodels_me.results.constraints.linear_constraints`,
    so names such as ``1.urban`` or ``/var(_cons[id])`` can be used directly.
    ``conf_int()`` is the symmetric normal interval of every parameter; the log-scale intervals
    Stata prints for variances are in :attr:`vcomp`.
    """

    #: the ``predict`` statistic behind :attr:`fittedvalues` (set by each estimator's results)
    fitted_statistic: str | None = None

    @property
    def fittedvalues(self):
        """Fitted values of the estimation sample, as statsmodels' ``fittedvalues``: Stata's
        ``predict`` statistic :attr:`fitted_statistic` (``fitted`` after mixed, ``mu`` after
        meglm, ``yhat`` after menl), conditional on the predicted random effects."""
        if self.fitted_statistic is None:
            raise NotImplementedError(f"fittedvalues: {self.model.command or 'this model'} has "
                                      "no single fitted value per observation; use predict()")
        return self.predict(self.fitted_statistic)

    @property
    def resid(self):
        """Response residuals ``y - fittedvalues`` of the estimation sample (a Series)."""
        fitted = self.fittedvalues
        y = np.asarray(self.model.endog, float)
        if y.ndim != 1:
            raise NotImplementedError(f"resid: the response of {self.model.command} has "
                                      f"{y.shape[1]} columns; use predict()")
        return pd.Series(y - np.asarray(fitted, float), index=fitted.index, name="resid")

    def __init__(self, model, params, cov_params, info: FitInfo):
        params = np.asarray(params, dtype=float)
        cov_params = np.asarray(cov_params, dtype=float)
        k = params.shape[0]
        if cov_params.shape != (k, k):
            raise ValueError(f"cov_params has shape {cov_params.shape}, expected {(k, k)}")
        names = list(model.exog_names)
        if len(names) != k:
            raise ValueError(f"model.exog_names has {len(names)} names for {k} parameters")
        data = getattr(model, "data", None)
        if data is not None:
            # the model's data object knows only the fixed-effects columns; label everything
            data.param_names = names
            data.cov_names = names
        super().__init__(model, params, normalized_cov_params=cov_params, scale=1.0,
                         use_t=False)
        self.info = info
        self.nobs = _model_nobs(model)
        self.k_fe = int(info.k_fe)
        self.df_resid = self.nobs - self.df_modelwc
        self.df_model = info.wald[1] if info.wald is not None else max(self.k_fe - 1, 0)
        self.param_names = names
        omitted = list(getattr(getattr(model, "design", None), "omitted", None) or [])
        if omitted:
            warnings.warn(f"{', '.join(omitted)} omitted because of collinearity (not "
                          "estimated; the value 0 in params_eb, as Stata's e(b))",
                          CollinearityWarning, stacklevel=3)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.get("model")
        if model is not None and getattr(model, "design", None) is not None:
            try:
                pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, AttributeError, TypeError):
                state["model"] = _ModelRecipe(type(model), model.design)
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model"), _ModelRecipe):
            state["model"] = state["model"].rebuild(state["param_names"])
        self.__dict__.update(state)

    # ------------------------------------------------------------------ fit statistics
    @property
    def sample(self):
        """Stata's ``e(sample)``: boolean Series over the input data's index, True for the
        rows used (after ``if``/``in`` and listwise deletion); None without a design."""
        design = getattr(self.model, "design", None)
        return None if design is None else design.sample

    @property
    def llf(self):
        """Maximized log likelihood (restricted log likelihood for REML)."""
        return self.info.llf

    @property
    def llf_fixed(self):
        """Log likelihood of the model without random effects (or None)."""
        return self.info.llf_fixed

    @property
    def lr_test(self):
        """LR test against the model without random effects (:class:`LRTest` or None)."""
        return self.info.lr_test

    @property
    def wald(self):
        """Wald test of the fixed effects but the constant: ``(chi2, df, pvalue)`` or None."""
        return self.info.wald

    @property
    def converged(self):
        return self.info.converged

    @property
    def method(self):
        return self.info.method

    @property
    def optimization(self):
        """What the optimizer did (:class:`~statsmodels_me.optimization.OptimizationRecord`),
        or None when the estimator kept no record."""
        return self.info.optimization

    @property
    def params_internal(self):
        """The estimates on the estimator's internal (optimization) scale (meglm: fixed
        effects, ancillary parameters, Cholesky factor elements; ``model.split_params``
        splits them), or None when the estimator has no such scale."""
        return self.info.params_internal

    @property
    def mle_retvals(self):
        """The optimizer's outcome as statsmodels reports it: a dict.

        Always ``converged`` and ``iterations``; with an optimization record also ``fcalls``
        (objective evaluations), ``stages``, ``criterion``, ``scaled_gradient`` (g' H^-1 g at
        the estimate), ``hessian_condition`` and ``warnings``.
        """
        out = {"converged": bool(self.info.converged), "iterations": int(self.info.iterations)}
        record = self.info.optimization
        if record is not None:
            out.update(fcalls=record.evaluations, stages=list(record.stages),
                       criterion=record.criterion, scaled_gradient=record.scaled_gradient,
                       hessian_condition=record.hessian_condition,
                       warnings=list(record.warnings))
        return out

    @cached_property
    def df_modelwc(self):
        """Number of estimated parameters: the rank of ``cov_params`` as Stata counts the rank
        of ``e(V)``.

        A parameter held fixed by a constraint (or a variance at zero) has no variance and
        does not count; parameters tied by the structure (the equal variances and
        covariances of an exchangeable covariance) count once, because their rows of the
        covariance are identical. The rank is taken on the correlation scale (so parameters
        of very different magnitudes do not mask each other); a parameter whose variance is
        not finite counts as estimated.
        """
        V = np.asarray(self.normalized_cov_params, float)
        diag = np.diag(V)
        finite = np.isfinite(diag) & (diag > 0)
        n_other = int(np.sum(~np.isfinite(diag)))
        if not finite.any():
            return n_other
        d = np.sqrt(diag[finite])
        C = V[np.ix_(finite, finite)] / np.outer(d, d)
        if not np.all(np.isfinite(C)):
            return n_other + int(finite.sum())
        eig = np.linalg.eigvalsh(0.5 * (C + C.T))
        return n_other + int(np.sum(eig > 1e-10 * max(eig.max(), 1.0)))

    @cached_property
    def aic(self):
        """Akaike information criterion, Stata's ``-2 llf + 2 k``."""
        return -2.0 * self.llf + 2.0 * self.df_modelwc

    @cached_property
    def bic(self):
        """Bayesian information criterion, Stata's ``-2 llf + k ln(N)``."""
        return -2.0 * self.llf + self.df_modelwc * np.log(self.nobs)

    # ------------------------------------------------------------------ Stata's e(b) layout
    @property
    def eb_names(self):
        """Stata's ``e(b)`` names: ``param_names`` with the columns omitted because of
        collinearity (``o.w2``) and the base levels of factor variables (``0b.urban``) in
        their places."""
        return eb_names(getattr(self.model, "design", None), self.param_names, self.k_fe)

    @property
    def params_eb(self):
        """Stata's ``e(b)``: Series over :attr:`eb_names`, omitted and base columns 0.

        ``params`` holds only the estimated parameters (what ``cov_params()``, ``t_test``
        and ``predict`` use); this view adds the columns Stata lists but does not estimate.
        """
        return eb_series(self.params, self.param_names, self.eb_names, 0.0)

    @property
    def bse_eb(self):
        """Standard errors over :attr:`eb_names`; NaN for omitted and base columns (Stata
        shows ``(omitted)`` and ``(base)``)."""
        return eb_series(self.bse, self.param_names, self.eb_names, np.nan)

    # ------------------------------------------------------------------ variance components
    @cached_property
    def vcomp(self):
        """Variance components with 95% confidence intervals (see :func:`vcomp_frame`)."""
        return vcomp_frame(self.info, self.params, self.bse)

    def vcomp_table(self, alpha=0.05):
        """Variance components with ``1 - alpha`` confidence intervals."""
        return vcomp_frame(self.info, self.params, self.bse, alpha)

    # ------------------------------------------------------------------ random-effects layout
    @property
    def re_covariances(self):
        """Covariance structure of each random-effects level and where its parameters are.

        Returns
        -------
        list of (CovarianceStructure, slice)
            One pair per level, in display order; the slice selects the level's display-scale
            parameters (variances, then covariances) in ``params``, which follow the fixed
            effects and the ancillary parameters.
        """
        model = self.model
        pos = model.k_fe + len(getattr(model, "ancillary_names", []))
        out = []
        for cov in model.level_covs:
            k = len(cov.display_names)
            out.append((cov, slice(pos, pos + k)))
            pos += k
        return out

    @property
    def latent_residual_variance(self):
        """Residual variance of the latent response (pi^2/3 for logit, 1 for probit GLMMs);
        None for models without one."""
        return getattr(self.model, "latent_residual_variance", None)

    # ------------------------------------------------------------------ hypothesis tests
    def _restriction(self, r_matrix):
        if isinstance(r_matrix, str) or (
                isinstance(r_matrix, (list, tuple)) and r_matrix
                and all(isinstance(h, str) for h in r_matrix)):
            return linear_constraints(r_matrix, self.param_names)
        return r_matrix

    def t_test(self, r_matrix, cov_p=None, use_t=None):
        """z tests of linear hypotheses (``"week = 0"``, ``"week - _cons"``, or ``R``/``(R, q)``).

        See :meth:`statsmodels.base.model.LikelihoodModelResults.t_test`.
        """
        return super().t_test(self._restriction(r_matrix), cov_p=cov_p, use_t=use_t)

    def wald_test(self, r_matrix, cov_p=None, invcov=None, use_f=None, df_constraints=None,
                  scalar=True):
        """Joint chi2 test of linear hypotheses (strings with parameter names or ``R``/``(R, q)``).

        See :meth:`statsmodels.base.model.LikelihoodModelResults.wald_test`.
        """
        return super().wald_test(self._restriction(r_matrix), cov_p=cov_p, invcov=invcov,
                                 use_f=use_f, df_constraints=df_constraints, scalar=scalar)

    # ------------------------------------------------------------------ display
    def summary(self, eform=None, alpha=None, **display):
        """Stata-layout summary.

        Parameters
        ----------
        eform : None, bool or str
            ``None`` uses the model's choice (``info.eform``); ``True`` exponentiates the first
            equation with the model's title (or ``"exp(b)"``); a string is the column title;
            ``False`` shows coefficients.
        alpha : float, optional
            Confidence level of the intervals is ``1 - alpha`` (default: the command's
            ``level()``, else 95%).
        **display
            Stata's reporting options (``level=90``, ``noheader=True``, ``nogroup``,
            ``nofetable``, ``noretable``, ``notable``, ``nolrtest``, ``coeflegend``,
            ``stddeviations``, ``baselevels``, ``noomitted``, ``or_``, ``irr``); they
            override the command's options. Unknown keywords raise ``TypeError``.

        Returns
        -------
        MESummary
        """
        from statsmodels_me.results.summary import MESummary
        return MESummary(self, eform=eform, alpha=alpha, **display)

    def _repr_html_(self):
        return self.summary().as_html()


class MEResultsWrapper(LikelihoodResultsWrapper):
    """pandas-labelled view of :class:`MEResults`."""

    _attrs = {}
    _wrap_attrs = wrap.union_dicts(LikelihoodResultsWrapper._wrap_attrs, _attrs)
    _methods = {}
    _wrap_methods = wrap.union_dicts(LikelihoodResultsWrapper._wrap_methods, _methods)

    def _repr_html_(self):
        return self._results._repr_html_()


wrap.populate_wrapper(MEResultsWrapper, MEResults)
