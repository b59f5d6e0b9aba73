"""``metobit``, ``meintreg`` and ``mestreg`` on a dask DataFrame.

Each command is its in-memory estimator (:class:`~statsmodels_me.models.censored.METobit`,
:class:`~statsmodels_me.models.censored.MEIntreg`,
:class:`~statsmodels_me.models.survival.MEStreg`) fitted as :class:`.glmm.DaskMEGLM`: the
template sample's rows are encoded by the command itself, every partition encodes its own
rows on its worker with the command's ``encode_rows`` (:mod:`.encoded_rows`), and the header's
counts (censoring; failures and time at risk) and the family's starting values come from sums
reduced over the partitions.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from statsmodels_me.distributed.censored_results import (
    DaskCensoredResults,
    DaskSurvivalResults,
)
from statsmodels_me.distributed.encoded_rows import (
    CensoredRows,
    SurvivalRows,
    response_range,
)
from statsmodels_me.distributed.glmm import DaskMEGLM
from statsmodels_me.distributed.moments import combine_moments
from statsmodels_me.models.censored import MEIntreg, METobit
from statsmodels_me.models.survival import MEStreg, survival_column_names
from statsmodels_me.results.censored_results import (
    CensoredResultsWrapper,
    SurvivalResultsWrapper,
)
from statsmodels_me.spec import parse


class EncodedDaskModel:
    """What the three commands share on a dask DataFrame: the template model built with
    the options' columns of the template sample, the rows' encoding sent to the workers,
    pickling without the data.  Mixed in before :class:`DaskMEGLM`."""

    #: the in-memory model class whose ``encode_rows`` the partitions run
    in_memory_class = None
    #: :class:`~.encoded_rows.EncodedRows` subclass of the command
    encoding_class = None

    @classmethod
    def _template_model(cls, template, sample, data, names):
        rows = cls.encoding_class(cls.in_memory_class, names)
        columns = rows.columns(template, sample)
        model = cls(design=template, data=data, columns=columns)
        model.row_encoding = rows
        #: the template sample's design before encoding and its options' columns (what a
        #: pickled model is rebuilt from)
        model.template_design, model.template_columns = template, columns
        return model

    def __reduce__(self):
        # the dask DataFrame, the client and the workers' partitions stay behind
        return _rebuilt_model, (type(self), self.template_design, self.template_columns)


class _DaskCensoredGLMM(EncodedDaskModel):
    """``metobit``/``meintreg``: the censoring counts and the starts of the whole data."""

    encoding_class = CensoredRows

    @classmethod
    def _parse_dask(cls, command, text, data, options):
        spec = parse(text, command=command, **options)
        return spec, cls.option_variables(spec)

    def _check_whole_data(self, cats):
        super()._check_whole_data(cats)
        facts = self.row_facts
        self.censoring = {k: sum(f["counts"][k] for f in facts) for k in facts[0]["counts"]}
        n, mean, m2 = combine_moments((f["n"], f["mean"], f["m2"]) for f in facts)
        #: mean and variance of the whole data's encoded values (the family's starts)
        self.encoded_moments = (mean, m2 / n)

    def _constant_start(self, m):
        """:meth:`CensoredNormal.constant_start`: the mean of the encoded values."""
        return self.family_object.constant_start(np.array([self.encoded_moments[0]]))

    def _aux_start(self, m):
        """:meth:`CensoredNormal.ancillary_start`: the log of the encoded values' variance
        (at least 1e-8)."""
        return np.array([np.log(max(self.encoded_moments[1], 1e-8))])

    def _dask_results(self, params, cov, info):
        return CensoredResultsWrapper(DaskCensoredResults(self, params, cov, info))


class DaskMETobit(_DaskCensoredGLMM, DaskMEGLM, METobit):
    """``metobit`` on a dask DataFrame: ``ll(#|varname)`` and ``ul(#|varname)`` read on the
    workers; ``ll``/``ul`` without a value are the whole data's smallest / largest response,
    reduced over the partitions before the template is built."""

    dask_commands = ("metobit",)
    in_memory_class = METobit

    @classmethod
    def _parse_dask(cls, command, text, data, options):
        spec, names = super()._parse_dask(command, text, data, options)
        bare = [k for k in ("ll", "ul") if spec.options.get(k) is True]
        if bare:
            lo, hi = whole_response_range(data, spec)
            spec = dataclasses.replace(spec, options={
                **spec.options, **{k: lo if k == "ll" else hi for k in bare}})
        return spec, names


class DaskMEIntreg(_DaskCensoredGLMM, DaskMEGLM, MEIntreg):
    """``meintreg depvar_lower depvar_upper`` on a dask DataFrame."""

    dask_commands = ("meintreg",)
    in_memory_class = MEIntreg


class DaskMEStreg(EncodedDaskModel, DaskMEGLM, MEStreg):
    """``mestreg`` on a dask DataFrame: the survival columns (``time=``, ``failure=``,
    ``entry=`` or ``stset=``) read on the workers; the number of failures and the time at
    risk reduced over the partitions."""

    dask_commands = ("mestreg",)
    in_memory_class = MEStreg
    encoding_class = SurvivalRows

    @classmethod
    def _parse_dask(cls, command, text, data, options):
        keys = ("time", "failure", "entry", "stset")
        names = survival_column_names(*(options.pop(k, None) for k in keys), options)
        return parse(text, command=command, **options), names

    def _check_whole_data(self, cats):
        super()._check_whole_data(cats)
        facts = self.row_facts
        self.failures = sum(f["failures"] for f in facts)
        self.time_at_risk = float(sum(f["time_at_risk"] for f in facts))

    def _constant_start(self, m):
        """:meth:`SurvivalFamily.constant_start`: the log of the exponential rate, failures
        per time at risk (its negative for AFT models)."""
        rate = max(self.failures, 1) / self.time_at_risk
        return float(np.log(rate) if self.family_object.metric == "ph" else -np.log(rate))

    def _dask_results(self, params, cov, info):
        return SurvivalResultsWrapper(DaskSurvivalResults(self, params, cov, info))


def whole_response_range(ddf, spec):
    """The smallest and the largest response of the estimation sample of ``spec`` on the
    dask DataFrame ``ddf`` (:func:`~.encoded_rows.response_range` of every partition)."""
    import dask
    parts = [r for r in dask.compute(*[dask.delayed(response_range)(d, spec)
                                       for d in ddf.to_delayed()]) if r is not None]
    return min(r[0] for r in parts), max(r[1] for r in parts)


#: command -> its model class on a dask DataFrame
DASK_ENCODED_MODELS = {"metobit": DaskMETobit, "meintreg": DaskMEIntreg,
                       "mestreg": DaskMEStreg}


def _rebuilt_model(cls, design, columns):
    """A data-free model from its template design and columns (what a pickled model
    becomes)."""
    model = cls(design=design, columns=columns)
    model.template_design, model.template_columns = design, columns
    return model
