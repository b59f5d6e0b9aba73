"""Results of ``metobit``, ``meintreg`` and ``mestreg`` fitted on a dask DataFrame.

The estimates, their covariance and the header are the in-memory ones; ``predict`` is a dask
Series (a DataFrame for ``reffects``/``reses``) computed partition by partition: each
partition, holding whole top-level clusters, is the in-memory command's model of its rows
(encoded by the command, :mod:`.encoded_rows`) with the fitted parameters, and its
prediction is the in-memory results' ``predict``.  What reads the data otherwise is refused
by name (:class:`~.results.DataFreeResults`).
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.distributed.results import DataFreeResults
from statsmodels_me.results.censored_results import CensoredResults, SurvivalResults


def predict_partition(pdf, spec, rows, results_class, params, cov, info, kwargs):
    """The in-memory prediction of one partition's rows at the fitted parameters (pandas).

    Parameters
    ----------
    pdf : pandas.DataFrame
        The partition.
    spec : ModelSpec
    rows : EncodedRows
        The command's encoding (its in-memory model class and the options' variables).
    results_class : type
        :class:`CensoredResults` or :class:`SurvivalResults`.
    params, cov : ndarray
        The fitted parameters and their covariance.
    info : FitInfo
        The fit's information (the internal parameters included).
    kwargs : dict
        The arguments of ``predict``.
    """
    design = build_design(spec, pdf)
    model = rows.model_class(design=design, columns=rows.columns(design, pdf))
    return results_class(model, params, cov, info).predict(**kwargs)


def lazy_predict(results, results_class, kwargs):
    """:func:`predict_partition` over every partition of the fitted dask DataFrame; its
    form (name, columns) from the template sample."""
    model = results.model
    data = model.fitted_data
    if data is None or model.template_sample is None or model.row_encoding is None:
        raise ValueError("predict: these results have no data (unpickled results keep "
                         "only the template sample)")
    args = (model.spec, model.row_encoding, results_class, np.asarray(results.params),
            np.asarray(results.cov_params()), results.info, kwargs)
    meta = predict_partition(model.template_sample, *args).iloc[:0]
    return data.map_partitions(predict_partition, *args, meta=meta)


class DaskCensoredResults(DataFreeResults, CensoredResults):
    """:class:`CensoredResults` of a fit on a dask DataFrame: :meth:`predict` is lazy; what
    else reads the data is refused by name."""

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero", bounds=None):
        """Stata's ``predict`` after ``metobit``/``meintreg`` on the fitted dask DataFrame:
        a dask Series (a DataFrame for ``reffects``/``reses``) computed partition by
        partition; see :meth:`CensoredResults.predict`. New data (``data=``) are
        refused."""
        if data is not None:
            self._not_on_dask("predict(data=...)")
        return lazy_predict(self, CensoredResults, {
            "statistic": statistic, "conditional": conditional, "ebmodes": ebmodes,
            "outcome": outcome, "nooffset": nooffset, "bounds": bounds})


class DaskSurvivalResults(DataFreeResults, SurvivalResults):
    """:class:`SurvivalResults` of a fit on a dask DataFrame: :meth:`predict` is lazy; what
    else reads the data is refused by name."""

    def predict(self, statistic="mean", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero"):
        """Stata's ``predict`` after ``mestreg`` on the fitted dask DataFrame: a dask Series
        (a DataFrame for ``reffects``/``reses``) computed partition by partition; see
        :meth:`SurvivalResults.predict`. New data (``data=``) are refused."""
        if data is not None:
            self._not_on_dask("predict(data=...)")
        return lazy_predict(self, SurvivalResults, {
            "statistic": statistic, "conditional": conditional, "ebmodes": ebmodes,
            "outcome": outcome, "nooffset": nooffset})

    def simulate(self, nsim=1, seed=None, censor=False):
        self._not_on_dask("simulate")
