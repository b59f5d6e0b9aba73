"""``mixed`` on a dask DataFrame: nested linear mixed models fitted partition by partition.

:class:`DaskMixed` is the in-memory estimator (:class:`~statsmodels_me.models.mixed.Mixed`)
built on a small template sample of whole clusters (names, covariance structures, display
maps), whose objective is replaced at fit time by
:class:`~statsmodels_me.distributed.lmm_objective.SummedLMM`: each worker keeps the blocked
objective of its partitions, and every deviance (gradient, EM moments) is a map over them and
a sum on the driver.  The fit runs the in-memory sequence (EM, the optimizer runs, the
polish, the observed information).
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.design.build import check_variables
from statsmodels_me.distributed.group_counts import summed_group_table
from statsmodels_me.distributed.lmm_objective import SummedLMM
from statsmodels_me.distributed.lmm_partition import build_lmm
from statsmodels_me.distributed.lmm_predict import (
    FittedLMM,
    check_statistic,
    predict_lmm_dask,
    predict_lmm_frame,
    re_columns,
)
from statsmodels_me.distributed.lmm_scalar import SummedScalarLMM
from statsmodels_me.distributed.partitions import (
    current_client,
    factor_variables,
    persist_partitions,
    refuse_crossed,
    refuse_row_order,
    refuse_stateful_transforms,
    refuse_weights,
    sample_partitions,
    template_frame,
    top_level,
    whole_clusters,
)
from statsmodels_me.distributed.proxy import PartitionMap
from statsmodels_me.distributed.results import DataFreeResults
from statsmodels_me.distributed.robust import summed_products
from statsmodels_me.models.lmm_inference import robust_from_products
from statsmodels_me.models.mixed import Mixed
from statsmodels_me.objectives.lmm_crossed_scalar import linear_in_theta
from statsmodels_me.results.mixed_results import MixedResults, MixedResultsWrapper
from statsmodels_me.spec import parse
from statsmodels_me.spec.errors import DataError


def _refuse_options(spec):
    """Options of ``mixed`` not implemented on a dask DataFrame, refused by name."""
    refuse_weights(spec, "mixed")
    named = [("residuals()", spec.options.get("residuals")),
             ("dfmethod()", spec.options.get("dfmethod")),
             ("constraints()", spec.options.get("constraints"))]
    for name, given in named:
        if given:
            raise NotImplementedError(f"mixed: {name} on a dask DataFrame is not "
                                      "implemented; fit the pandas DataFrame")


class DaskMixed(Mixed):
    """A linear mixed model whose data are a dask DataFrame (built by :meth:`from_dask`).

    Parameters
    ----------
    design : Design
        The template sample's design.
    data : dask.dataframe.DataFrame, optional
        The whole data; without it (a model rebuilt from pickled results) the model cannot
        be fitted.
    """

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 data=None, **options):
        super().__init__(design=design, **options)
        if self.absolute:
            raise NotImplementedError("mixed: covariance(fixed()) on a dask DataFrame is not "
                                      "implemented; fit the pandas DataFrame")
        self.data_frame = data
        self.fitted_data = None
        self.top = None
        self.factors = []
        self.shuffled = False
        self.group_table = None
        self.nobs = None
        self._XtX = None
        self.parts = None

    @classmethod
    def from_dask(cls, text, data, **options):
        """The ``mixed`` model of ``text`` on the dask DataFrame ``data``."""
        spec = parse(text, command="mixed", **options)
        _refuse_options(spec)
        top = top_level(spec, "mixed")
        refuse_stateful_transforms(spec, "mixed")
        refuse_row_order(spec, "mixed")
        check_variables(spec, data._meta)
        factors = factor_variables(spec, data._meta)
        template = build_design(spec, template_frame(data, spec, top, factors))
        refuse_crossed(template, "mixed")
        model = cls(design=template, data=data)
        model.top = top
        model.factors = factors
        return model

    def __reduce__(self):
        # the dask DataFrame, the client and the workers' partitions stay behind
        return _rebuilt_model, (type(self), self.design)

    def fit(self, start_theta=None, maxiter=None, disp=False, client=None, **kwargs):
        """Fit by maximizing the profiled (restricted) log likelihood summed over the
        partitions of the dask DataFrame.

        Parameters
        ----------
        start_theta, maxiter, disp, **kwargs : as :meth:`Mixed.fit`.
        client : distributed.Client, optional
            Default: the current client.

        Returns
        -------
        MixedResults
        """
        if self.data_frame is None:
            raise DataError("mixed: this model has no data to fit (rebuilt from results)")
        client = current_client(client)
        with client.as_current():
            # every dask computation of the fit runs on this client, the default or not
            return self._fit_partitions(client, start_theta, maxiter, disp, kwargs)

    def _fit_partitions(self, client, start_theta, maxiter, disp, kwargs):
        """:meth:`fit` with ``client`` the current client."""
        ddf, self.shuffled, samples = whole_clusters(self.data_frame, self.spec, self.top,
                                                     "mixed")
        ddf, sample_notes = sample_partitions(ddf, samples, self.spec, "mixed")
        self.fitted_data = ddf
        # every partition codes its rows with the template's levels and columns: a level
        # missing from a partition, or a column constant within it, leaves the columns whole
        template = self.design
        self.parts = PartitionMap(client, persist_partitions(client, ddf, build_lmm,
                                                             self.spec, template))
        self.objective = self._summed_objective(self.parts)
        res = super().fit(start_theta=start_theta, maxiter=maxiter, disp=disp, **kwargs)
        info = res.info
        info.group_table = self.group_table
        # the template sample has no dropped rows: the whole data's counts come first
        info.design_notes = sample_notes + list(self.design.notes)
        if self.shuffled:
            info.notes.append(f"The data were shuffled by '{self.top}' so that every "
                              "partition holds whole clusters.")
        return MixedResultsWrapper(DaskMixedResults(
            self, np.asarray(res.params), np.asarray(res.cov_params()), info,
            theta=res.theta))

    def _summed_objective(self, parts):
        """Check the partitions against the template, reduce the cross-products and centre
        every partition at the whole data's least squares."""
        facts = [f for f in parts.map("facts") if f is not None]
        names = list(self.design.exog_names)
        for i, f in enumerate(facts):
            if f["names"] != names:
                raise DataError(
                    f"mixed: partition {i} gives the fixed-effects columns {f['names']}, the "
                    f"whole data {names} (a factor level missing from a partition, or a "
                    "column collinear within it)")
        n = sum(f["n"] for f in facts)
        XtX = sum(f["XtX"] for f in facts)
        Xty = sum(f["Xty"] for f in facts)
        yty = sum(f["yty"] for f in facts)
        b0 = np.linalg.lstsq(XtX, Xty, rcond=None)[0]
        rss = float(sum(r for r in parts.map("center", b0) if r is not None))
        if rss <= 1e-20 * max(yty, 1e-300):
            raise DataError(
                f"mixed: the response '{self.design.endog_names[0]}' is an exact linear "
                f"function of the fixed effects ({' '.join(names)}); there is no residual "
                "variation to model")
        self.nobs, self._XtX, self._ols = n, XtX, (b0, rss)
        self.group_table = summed_group_table([lev.label for lev in self.design.levels],
                                              [f["level_counts"] for f in facts])
        counts = [sum(f["groups"][k] for f in facts) for k in range(len(self.terms))]
        sizes = [g * t.q for g, t in zip(counts, self.terms)]
        first = sorted(range(len(sizes)), key=lambda k: -sizes[k])[0]
        dense = sum(sizes) - sizes[first]
        # the in-memory objective's kind (lmm_chooser): several scalar terms with the exact
        # Hessian (Lambda linear in theta), else an analytic gradient for one term and
        # for scalar terms, central differences otherwise
        scalar = len(self.terms) > 1 and all(t.q == 1 for t in self.terms)
        if scalar and all(linear_in_theta(t) for t in self.terms):
            return SummedScalarLMM(parts, n, len(names), b0, counts, self.n_theta, self.reml,
                                   self.theta_bounds(), dense, self.terms, rss=rss)
        analytic = len(self.terms) == 1 or scalar
        return SummedLMM(parts, n, len(names), b0, counts, self.n_theta, self.reml,
                         self.theta_bounds(), analytic, dense, rss=rss)

    def _robust(self, cov, theta, beta, s2):
        """``vce(robust)``/``vce(cluster var)``: the in-memory sandwich with its meat summed
        over the partitions (:func:`~.robust.summed_products`)."""
        clustered = self.vce.kind == "cluster"
        B, n = summed_products(self.parts, (theta, beta, s2), clustered)
        cov_r = robust_from_products(self.objective, self.components, theta, beta, s2, B, n)
        top = min(self.terms, key=lambda t: t.n_groups).label
        name = self.vce.variable if clustered else top
        return cov_r, f"(Std. err. adjusted for {n} clusters in {name})"

    def _llf_linear(self):
        """(Restricted) log likelihood of the linear regression, from the reduced sums."""
        n, p = self.nobs, self._XtX.shape[0]
        rss = self._ols[1]
        if self.reml:
            d = n - p
            return -0.5 * (d * (1 + np.log(2 * np.pi * rss / d))
                           + np.linalg.slogdet(self._XtX)[1])
        return -0.5 * n * (1 + np.log(2 * np.pi * rss / n))


class DaskMixedResults(DataFreeResults, MixedResults):
    """:class:`MixedResults` of a fit on a dask DataFrame: the estimates, their covariance,
    tests and ``estat icc/sd/recovariance``; what reads the data is refused by name."""

    def predict(self, statistic="xb", data=None, **kwargs):
        """Stata's ``predict`` after ``mixed`` on the fitted dask DataFrame: a dask Series
        (a DataFrame for ``reffects``/``reses``) computed partition by partition
        (:mod:`~statsmodels_me.distributed.lmm_predict`); see :meth:`MixedResults.predict`.
        New data (``data=``) are refused."""
        if data is not None:
            self._not_on_dask("predict(data=...)")
        if kwargs:
            self._not_on_dask(f"predict({', '.join(f'{k}=...' for k in kwargs)})")
        check_statistic(statistic)
        model = self.model
        if model.fitted_data is None:
            raise ValueError("predict: these results have no data (unpickled results keep "
                             "only the template sample)")
        p = model.k_fe
        params = np.asarray(self.params)
        s2 = float(params[-1])
        RX = None
        if statistic == "reses" and model.reml:
            RX = self.factor()["RX"]
        fit = FittedLMM(model.spec, model.design, params[:p], self.theta, s2,
                        np.asarray(self.cov_params())[:p, :p], RX, re_columns(model.terms))
        data = model.fitted_data
        meta = predict_lmm_frame(data._meta, fit, statistic)
        return predict_lmm_dask(data, fit, statistic, meta)

    def estat_wcorrelation(self, at=None, covariance=False):
        self._not_on_dask("estat wcorrelation")


def _rebuilt_model(cls, design):
    """A data-free model from its template design (what a pickled model becomes)."""
    return cls(design=design)
