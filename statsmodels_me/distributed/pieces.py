"""What a worker does with one partition: build its design and objective, keep them, and
answer the driver's evaluations.

Nothing here imports dask: these functions run inside dask tasks on pandas partitions.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.glmm_kernels import glm_score_info
from statsmodels_me.design import build_design
from statsmodels_me.design.build import estimation_sample
from statsmodels_me.design.new_rows import new_rows
from statsmodels_me.distributed.group_counts import group_counts
from statsmodels_me.distributed.scores import (
    distinct_values,
    partition_products,
    top_cluster_values,
)
from statsmodels_me.inference.sandwich import parse_vce
from statsmodels_me.objectives.glmm_choose import glmm_objective


def cluster_summary(pdf, top):
    """Number of distinct top-level ids of a partition, the smallest and the largest."""
    ids = pdf[top]
    if len(ids) == 0:
        return 0, None, None
    return int(ids.nunique()), ids.min(), ids.max()


def sample_summary(pdf, spec, column=None):
    """``(rows, n_missing, infinite, values)`` of a partition's estimation sample
    (:func:`~statsmodels_me.design.build.estimation_sample`): the rows it keeps, the
    selected rows dropped for missing values, the infinite values per variable, and the
    distinct values of ``column`` there (None without ``column``)."""
    mask, n_missing, infinite = estimation_sample(spec, pdf)
    values = None if column is None else pd_unique(pdf[column][mask])
    return int(mask.sum()), n_missing, infinite, values


def partition_summary(pdf, top, spec, column=None):
    """:func:`cluster_summary` and :func:`sample_summary` of a partition (one pass)."""
    return cluster_summary(pdf, top), sample_summary(pdf, spec, column)


def template_rows(pdf, top, k_clusters, columns, spec):
    """Rows of the first ``k_clusters`` top-level clusters of a partition's estimation
    sample plus one cluster holding each distinct value of every column in ``columns``
    (the ordinal response, the factor variables) there: a small sample from which the
    driver builds a template model with every category and every factor level of the
    estimation sample."""
    if len(pdf):
        pdf = pdf[estimation_sample(spec, pdf)[0]]
    ids = list(pd_unique(pdf[top])[:k_clusters])
    for col in columns:
        if col in pdf.columns:
            ids += list(pdf.drop_duplicates(col)[top])
    return pdf[pdf[top].isin(ids)]


def template_columns(design, template, pdf, names):
    """The fixed-effects columns ``names`` of a partition's ``design``: its own, or, with a
    ``template`` design, the partition's rows coded with the template's levels and
    columns (:func:`~statsmodels_me.design.new_rows.new_rows`), so a partition
    missing a level, or holding only some, gives the whole data's columns."""
    if template is None:
        keep = [list(design.exog_names).index(n) for n in names]
        return design.exog[:, keep]
    return new_rows(template, pdf.loc[design.row_index]).exog(names)


def pd_unique(series):
    """Distinct values in order of appearance."""
    return series.drop_duplicates().to_numpy()


class PartitionFit:
    """The design and objectives of one partition, kept on its worker.

    Parameters
    ----------
    pdf : pandas.DataFrame
        The partition (whole top-level clusters).
    spec : ModelSpec
    family : Family
        The family object (the driver's model decides it, link included).
    categories : ndarray or None
        Ordinal outcomes: the categories of the whole data (responses are recoded to their
        positions in it).
    intmethod, intpoints, kind : as :func:`~statsmodels_me.objectives.glmm_choose.glmm_objective`.
    template : Design, optional
        The driver's template design: the partition takes its fixed-effects columns from
        it (:func:`template_columns`).
    rows : optional
        The command's encoding of the rows (``metobit``, ``meintreg``, ``mestreg``:
        :class:`~statsmodels_me.distributed.encoded_rows.EncodedRows`): the partition's
        design becomes ``rows.encode(design, pdf, family)`` and its facts carry
        ``rows.facts(y, t)``.
    """

    def __init__(self, pdf, spec, family, categories, intmethod, intpoints, kind,
                 template=None, rows=None):
        d = build_design(spec, pdf)
        if rows is not None:
            d = rows.encode(d, pdf, family)
        self.rows = rows
        names = list(d.exog_names if template is None else template.exog_names)
        if not family.has_constant and "_cons" in names:
            names.remove("_cons")
        X, y = template_columns(d, template, pdf, names), d.endog
        if categories is not None:
            y = np.searchsorted(categories, y).astype(float)
        self.exog_names = names
        self.family = family
        self.n_obs = len(y)
        self.group_counts = [group_counts(lev) for lev in d.levels]
        self.objectives = {}
        self.objectives["main"], _ = glmm_objective(d, family, family.link, y, X, intmethod,
                                                    intpoints, kind)
        self.cluster_values = None
        vce = parse_vce(spec.options.get("vce"), spec.command)
        if vce.kind == "cluster":
            top = d.levels[0]
            by_code = top_cluster_values(d, top.codes, top.label, vce.variable)
            # in the order of the objective's per-cluster rows
            self.cluster_values = by_code[self.objectives["main"].cluster_order(top.n_groups)]

    # -- facts for the driver's checks -----------------------------------------------------
    def facts(self, n_categories):
        """Names, counts and moments the driver reduces: the global checks and starts
        (from the engine's arrays, as the in-memory fit reads them)."""
        e = self.objectives["main"].engine
        y, X, tt = e.endog, e.exog, e.trials
        with np.errstate(divide="ignore", invalid="ignore"):
            # encoded rows (censored, survival) have no rate: their starts come from `rows`
            sum_rate = float((y / tt).sum())
        return {
            "names": self.exog_names,
            "n": self.n_obs,
            "sum_rate": sum_rate,
            "rows": None if self.rows is None else self.rows.facts(y, tt),
            "varying": self._varying_rows(y, tt),
            "cum_counts": None if n_categories is None else
            np.array([(y <= k).sum() for k in range(n_categories - 1)], float),
            "x_sum": X.sum(0), "x_sumsq": (X * X).sum(0),
            "max_cluster": int(np.diff(e.ptr).max()),
            "groups": self.group_counts,
        }

    @staticmethod
    def _varying_rows(y, t):
        """``(y, trials)`` of the first row with y == 0, y != 0, y == t and y != t (those
        that exist): together over the partitions they vary exactly when the whole outcome
        does, for :meth:`Family.check_outcome_varies`."""
        rows = []
        for mask in (y == 0, y != 0, y == t, y != t):
            hit = np.flatnonzero(mask)
            if len(hit):
                rows.append(hit[0])
        return y[rows], t[rows]

    # -- evaluations ---------------------------------------------------------------------
    def engine_call(self, key, method, args):
        """``objectives[key].engine.<method>(*args)``."""
        return getattr(self.objectives[key].engine, method)(*args)

    def new_laplace(self, key, new_key):
        """Keep ``objectives[key].laplace()`` as ``objectives[new_key]``."""
        self.objectives[new_key] = self.objectives[key].laplace()
        return new_key

    def cluster_value_set(self):
        """Distinct values of the ``vce(cluster)`` variable in the partition."""
        return distinct_values(self.cluster_values)

    def score_products(self, x, free, shared):
        """The partition's part of the sandwich's meat on the coordinates ``free`` at ``x``
        (:func:`~statsmodels_me.distributed.scores.partition_products`)."""
        _, scores = self.objectives["main"].contributions(np.asarray(x, float))
        return partition_products(scores[:, free], self.cluster_values, shared)

    def glm_score_info(self, beta):
        """GLM log likelihood, score and information of the fixed-effects model at ``beta``
        (the terms of :func:`~statsmodels_me.models.glm_newton.glm_newton`), with the
        observation constant added."""
        e, fam = self.objectives["main"].engine, self.family
        y, t, off = fam.response_arrays(e.endog, e.trials, e.offset)
        X = np.ascontiguousarray(e.exog, float)
        y, t, off = (np.ascontiguousarray(a, float) for a in (y, t, off))
        p = X.shape[1]
        g, info = np.empty(p), np.empty((p, p))
        ll = glm_score_info(fam.code, fam.link_code, y, t, off, X,
                            np.ascontiguousarray(beta, float), np.zeros(0), g, info)
        const = float(fam.obs_constant(y, t, np.zeros(0))[0].sum())
        return float(ll), const, g, info


def build(pdf, spec, family, categories, intmethod, intpoints, kind, template=None,
          rows=None):
    """A :class:`PartitionFit` of ``pdf`` (the task that persists it on its worker)."""
    return PartitionFit(pdf, spec, family, categories, intmethod, intpoints, kind, template,
                        rows)


def call(piece, method, *args):
    """``piece.<method>(*args)`` (the task of every evaluation)."""
    return getattr(piece, method)(*args)
