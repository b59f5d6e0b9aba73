"""``meglm`` and its shortcuts on a dask DataFrame.

:class:`DaskMEGLM` is the in-memory estimator (:class:`~statsmodels_me.models.meglm.MEGLM`)
built on a small template sample of whole clusters (its names, covariance structures and
display maps), whose objective is replaced at fit time by one that sums the partitions'
objectives kept on the workers (:mod:`.proxy`).  The fit runs the in-memory sequence: the
fixed-effects model, the grid of starting variances,
:class:`~statsmodels_me.models.glmm_fitting.GLMMFitter` and the observed-information
covariance.
"""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.design.build import check_variables
from statsmodels_me.distributed.categories import partition_family
from statsmodels_me.distributed.group_counts import summed_group_table
from statsmodels_me.distributed.moments import response_variance
from statsmodels_me.distributed.partitions import (
    current_client,
    factor_variables,
    persist_partitions,
    refuse_crossed,
    refuse_row_order,
    refuse_stateful_transforms,
    refuse_weights,
    sample_categories,
    sample_partitions,
    template_frame,
    top_level,
    whole_clusters,
)
from statsmodels_me.distributed.pieces import build
from statsmodels_me.distributed.predict import predict_dask, predict_frame
from statsmodels_me.distributed.proxy import PartitionMap, SummedEngine, summed_objective
from statsmodels_me.distributed.results import DataFreeResults
from statsmodels_me.distributed.robust import summed_products
from statsmodels_me.models.glmm_inference import robust_display_from_products
from statsmodels_me.models.glmm_starts import check_separation, fit_fixed
from statsmodels_me.models.meglm import MEGLM
from statsmodels_me.objectives.glmm_choose import design_kind
from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
from statsmodels_me.spec import parse
from statsmodels_me.spec.errors import ConvergenceWarning, DataError

GLMM_COMMANDS = ("meglm", "melogit", "meprobit", "mecloglog", "mepoisson", "menbreg",
                 "meologit", "meoprobit")


class DaskMEGLM(MEGLM):
    """A GLMM whose data are a dask DataFrame (built by :meth:`from_dask`).

    Parameters
    ----------
    design : Design
        The template sample's design (names, levels, structures).
    data : dask.dataframe.DataFrame, optional
        The whole data; without it (a model rebuilt from pickled results) the model cannot
        be fitted.
    """

    # the partition passes do not carry weights: refused, not ignored
    weight_types = ()
    level_weight_types = ()

    #: the commands this class fits on a dask DataFrame
    dask_commands = GLMM_COMMANDS
    #: the command's encoding of the rows on the workers (None: the response as it is)
    row_encoding = None

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 data=None, **options):
        self.command = design.spec.command
        super().__init__(design=design, **options)
        self.data_frame = data
        self.fitted_data = None
        self.template_sample = None
        self.shuffled = False
        self.factors = []
        self.group_table = None
        self.row_facts = []

    @classmethod
    def from_dask(cls, command, text, data, **options):
        """The model of ``command`` (one of :attr:`dask_commands`) on the dask DataFrame
        ``data``."""
        if command not in cls.dask_commands:
            raise NotImplementedError(f"{command} on a dask DataFrame is not implemented "
                                      f"(available: {', '.join(cls.dask_commands)})")
        spec, names = cls._parse_dask(command, text, data, options)
        refuse_weights(spec, command)
        top = top_level(spec, command)
        refuse_stateful_transforms(spec, command)
        refuse_row_order(spec, command)
        check_variables(spec, data._meta)
        factors = factor_variables(spec, data._meta)
        response = [spec.response[0]] if spec.options.get("family") == "ordinal" else []
        sample = template_frame(data, spec, top, response + factors)
        template = build_design(spec, sample)
        refuse_crossed(template, command)
        if spec.options.get("constraints"):
            raise NotImplementedError(f"{command}: constraints() on a dask DataFrame is not "
                                      "implemented; fit the pandas DataFrame")
        model = cls._template_model(template, sample, data, names)
        model.top = top
        model.template_sample = sample
        model.factors = factors
        return model

    @classmethod
    def _parse_dask(cls, command, text, data, options):
        """The specification and the variables named by keywords outside it (none here)."""
        return parse(text, command=command, **options), None

    @classmethod
    def _template_model(cls, template, sample, data, names):
        """The model built on the template sample's design."""
        return cls(design=template, data=data)

    def __reduce__(self):
        # the dask DataFrame, the client and the workers' partitions stay behind
        return _rebuilt_model, (type(self), self.design)

    def _check_outcome_varies(self):
        """Checked on the whole data at fit time (the template is a sample)."""

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, start_params=None, maxiter=500, disp=False, client=None, **kwargs):
        """Maximize the marginal log likelihood over the partitions of the dask DataFrame.

        Parameters
        ----------
        start_params, maxiter, disp : as :meth:`MEGLM.fit`.
        client : distributed.Client, optional
            Default: the current client.

        Returns
        -------
        MEGLMResults
        """
        if self.data_frame is None:
            raise DataError(f"{self.spec.command}: this model has no data to fit (rebuilt "
                            "from results)")
        client = current_client(client)
        with client.as_current():
            # every dask computation of the fit runs on this client, the default or not
            return self._fit_partitions(client, start_params, maxiter, disp, kwargs)

    def _fit_partitions(self, client, start_params, maxiter, disp, kwargs):
        """:meth:`fit` with ``client`` the current client."""
        ordinal = self.categories is not None
        ddf, self.shuffled, samples = whole_clusters(
            self.data_frame, self.spec, self.top, self.spec.command,
            self.design.endog_names[0] if ordinal else None)
        cats = sample_categories(samples) if ordinal else None
        ddf, sample_notes = sample_partitions(ddf, samples, self.spec, self.spec.command)
        self.fitted_data = ddf
        kind = design_kind(self.design)
        # every partition codes its rows with the template's levels and columns: a level
        # missing from a partition, or a column constant within it, leaves the columns whole
        template = self.design
        # an ordinal outcome's partitions take the whole data's categories and cutpoints
        family = partition_family(self.family_object, cats)
        pieces = persist_partitions(client, ddf, build, self.spec, family, cats,
                                    self.intmethod, self.intpoints, kind, template,
                                    self.row_encoding)
        self.parts = PartitionMap(client, pieces)
        self._check_whole_data(cats)
        engine = SummedEngine(self.parts, "main", self.intmethod, self.link, self.k_aux,
                              self.cov.q)
        self.objective = summed_objective(kind, engine, self.cov, self.k_fe)
        self.laplace_objective = self.objective.laplace()
        res = super().fit(start_params=start_params, maxiter=maxiter, disp=disp, **kwargs)
        info = res.info
        info.group_table = self.group_table
        # the template sample has no dropped rows: the whole data's counts come first
        info.design_notes = sample_notes + list(self.design.notes)
        if self.shuffled:
            info.notes.append(f"The data were shuffled by '{self.top}' so that every "
                              "partition holds whole clusters.")
        return self._dask_results(np.asarray(res.params), np.asarray(res.cov_params()), info)

    def _dask_results(self, params, cov, info):
        """Results whose predict() works partition by partition."""
        return MEGLMResultsWrapper(DaskMEGLMResults(self, params, cov, info))

    def _robust(self, x, H, free):
        """``vce(robust)``/``vce(cluster var)``: the sandwich of the in-memory fit with its
        meat summed over the partitions (:func:`~.robust.summed_products`)."""
        clustered = self.vce.kind == "cluster"
        B, n = summed_products(self.parts, (x, free), clustered)
        cov = robust_display_from_products(x, self.display_map, H, free, B, n)
        name = self.vce.variable if clustered else self.levels[0].label
        return cov, f"(Std. err. adjusted for {n} clusters in {name})"

    def _check_whole_data(self, cats):
        """The partitions' names agree with the template's; the whole outcome varies;
        reduced moments for the starting values."""
        facts = self.parts.map("facts", None if cats is None else len(cats))
        for i, f in enumerate(facts):
            if f["names"] != list(self._xnames):
                raise DataError(
                    f"{self.spec.command}: partition {i} gives the fixed-effects columns "
                    f"{f['names']}, the whole data {list(self._xnames)} (a factor level "
                    "missing from a partition, or a column collinear within it)")
        if cats is not None and not np.array_equal(cats, self.categories):
            raise DataError(f"{self.spec.command}: outcome categories {list(cats)} of the "
                            f"whole data differ from the sample's {list(self.categories)}")
        n = sum(f["n"] for f in facts)
        y_rep = np.concatenate([f["varying"][0] for f in facts])
        t_rep = np.concatenate([f["varying"][1] for f in facts])
        self.family_object.check_outcome_varies(y_rep, t_rep, self.design.endog_names[0])
        if self.family_object.weak_without_replicates and max(f["max_cluster"] for f in facts) <= 1:
            warnings.warn(f"{self.spec.command}: every '{self.level.label}' cluster has one "
                          "observation: with a categorical outcome the random-effects variance "
                          "is identified only through the shape of the link (weakly)",
                          ConvergenceWarning, stacklevel=4)
        mean = sum(f["x_sum"] for f in facts) / n
        var = np.maximum(sum(f["x_sumsq"] for f in facts) / n - mean ** 2, 0.0)
        self.nobs = n
        self.group_table = summed_group_table([lev.label for lev in self.levels],
                                              [f["groups"] for f in facts])
        self._moments = {
            "n": n, "sd": np.sqrt(var), "rate": sum(f["sum_rate"] for f in facts) / n,
            "cum": None if cats is None else sum(f["cum_counts"] for f in facts) / n}
        #: the partitions' sums over their encoded rows (``row_encoding.facts``), or Nones
        self.row_facts = [f["rows"] for f in facts]

    def _fit_fixed(self, lap, log):
        """The model without random effects from reduced sums: the family's starts from the
        whole data's moments, Newton's method on the partitions' summed GLM log likelihood,
        score and information."""
        m = self._moments
        beta0 = np.zeros(self.k_fe)
        if "_cons" in self._xnames:
            beta0[self._xnames.index("_cons")] = self._constant_start(m)
        z0 = np.concatenate([beta0, self._aux_start(m)])

        def summed_glm(beta):
            out = self.parts.map("glm_score_info", beta)
            return tuple(sum(o[i] for o in out) for i in range(4))
        return fit_fixed(lap, None, self.family_object, self.link, None, z0, log,
                         evaluate=summed_glm)

    def _check_separation(self, lap, z_fixed, llf_fixed):
        """:func:`check_separation` with the number of observations and the columns'
        standard deviations reduced on the workers."""
        m = self._moments
        return check_separation(lap, self.family_object, None, self._xnames, z_fixed,
                                llf_fixed, self.spec.command, self.design.endog_names[0],
                                moments=(m["n"], m["sd"]))

    def _constant_start(self, m):
        """The family's start of ``_cons`` from the whole data's mean response, reduced on
        the workers."""
        return self.family_object.constant_start(np.array([m["rate"]]))

    def _aux_start(self, m):
        """The family's ancillary start (``Family.ancillary_start``) from reduced sums:
        ordinal cutpoints at the link of the whole data's cumulative proportions, the
        gaussian log variance from the partitions' moments."""
        if self.categories is not None:
            return self.family_object.link_obj(np.clip(m["cum"], 1e-3, 1 - 1e-3))
        if self.family_object.name == "gaussian":
            # Gaussian.ancillary_start: the log of the whole response's variance
            return np.array([np.log(max(response_variance(self.parts), 1e-8))])
        return np.zeros(self.k_aux)


class DaskMEGLMResults(DataFreeResults, MEGLMResults):
    """:class:`MEGLMResults` of a fit on a dask DataFrame: :meth:`predict` is lazy; what
    else reads the data is refused by name."""

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero"):
        """Stata's ``predict`` on the fitted dask DataFrame: a dask Series (or DataFrame
        for ``reffects``/``reses``) computed partition by partition; see
        :meth:`MEGLMResults.predict`. New data (``data=``) are refused."""
        if data is not None:
            self._not_on_dask("predict(data=...)")
        data = self.model.fitted_data
        if data is None or self.model.template_sample is None:
            raise ValueError("predict: these results have no data (unpickled results keep "
                             "only the template sample)")
        kwargs = {"statistic": statistic, "conditional": conditional, "ebmodes": ebmodes,
                  "outcome": outcome, "nooffset": nooffset}
        template = self.model.design
        internal = self.params_internal
        # the result's form (name, columns) from the template sample
        meta = predict_frame(self.model.template_sample, template, self.params,
                             self.cov_params(), self.info, internal, kwargs).iloc[:0]
        return predict_dask(data, template, self.params, self.cov_params(), self.info, internal,
                            meta, kwargs)


def _rebuilt_model(cls, design):
    """A data-free model from its template design (what a pickled model becomes)."""
    return cls(design=design)
