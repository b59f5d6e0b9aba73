"""``predict`` after ``mixed`` on a dask DataFrame: a dask Series (or DataFrame) computed
partition by partition.

Each partition holds whole top-level clusters, and the BLUPs of a nested model's groups at
the estimates are those of their top-level cluster's rows alone: b = Lambda u with
u = L^-T (r_y - R_ZX beta) from the cluster's own blocked factor (Bates et al. 2015, JSS
67(1), eq. 28) at the whole fit's beta. A partition factors its blocks of top-level clusters
(:class:`~statsmodels_me.objectives.lmm_blocked.BlockedLMM`, as
:mod:`.lmm_partition`) with the whole fit's beta, s2 and, for the REML standard errors of
the BLUPs, R_X; the statistics are :func:`~statsmodels_me.postestimation.mixed_predict.predict`'s.

Nothing here imports dask except :func:`predict_lmm_dask`, which receives the DataFrame.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.design import build_design
from statsmodels_me.distributed.lmm_partition import CLUSTERS_PER_BLOCK, partition_blocks
from statsmodels_me.distributed.pieces import template_columns
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.postestimation.mixed_predict import PREDICT_STATISTICS
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.terms import build_terms


class FittedLMM:
    """What a partition needs of the fit: the template design and the estimates.

    Parameters
    ----------
    spec : ModelSpec
    template : Design
        The driver's template design (fixed-effects columns, names).
    beta : ndarray (p,)
    theta : ndarray
    s2 : float
        Residual variance.
    cov_beta : ndarray (p, p)
        Covariance of beta (``stdp``).
    RX : ndarray (p, p) or None
        The whole data's R_X (R_X' R_X = X' V^-1 X with V relative to s2): with it
        ``reses`` adds the uncertainty of the GLS beta (after REML, as Stata).
    re_columns : list of str
        Names of the random effects (``reffects``/``reses`` columns), in term order.
    """

    def __init__(self, spec, template, beta, theta, s2, cov_beta, RX, re_columns):
        self.spec, self.template = spec, template
        self.beta = np.asarray(beta, float)
        self.theta = np.asarray(theta, float)
        self.s2 = float(s2)
        self.cov_beta = np.asarray(cov_beta, float)
        self.RX = None if RX is None else np.asarray(RX, float)
        self.re_columns = list(re_columns)


def re_columns(terms):
    """The ``reffects``/``reses`` column names of ``terms`` (those of the in-memory
    ``predict``)."""
    return [f"{n}[{t.label}]" for t in terms for n in t.names]


def _random_effects(fit, y, X, terms, statistic):
    """Per-row values of the BLUPs (``reffects``) or of their standard errors (``reses``),
    (n, sum q), block of top-level clusters by block."""
    width = sum(t.q for t in terms)
    out = np.empty((len(y), width))
    for rows, block_terms in partition_blocks(terms, CLUSTERS_PER_BLOCK):
        obj = BlockedLMM(y[rows], X[rows], block_terms)
        f = obj.blocked_factor(fit.theta)[0]
        f["beta"], f["s2"] = fit.beta, fit.s2
        if statistic == "reffects":
            vals = obj.blups(f)
        else:
            f["RX"] = fit.RX
            var = obj.blup_variances(f, fixed_uncertainty=fit.RX is not None)
            vals = [np.sqrt(np.diagonal(v, axis1=1, axis2=2)) for v in var]
        out[rows] = np.hstack([v[t.codes] for t, v in zip(block_terms, vals)])
    return out


def predict_lmm_frame(pdf, fit, statistic):
    """``predict(statistic)`` on one partition (pandas, indexed like its estimation
    sample's rows)."""
    names = fit.re_columns if statistic in ("reffects", "reses") else None
    if len(pdf) == 0:
        if names is not None:
            return pd.DataFrame(np.zeros((0, len(names))), index=pdf.index, columns=names)
        return pd.Series(np.zeros(0), index=pdf.index, dtype=float, name=statistic)
    d = build_design(fit.spec, pdf)
    X = np.asarray(template_columns(d, fit.template, pdf, list(fit.template.exog_names)),
                   float)
    idx = d.row_index
    xb = X @ fit.beta
    if statistic == "xb":
        return pd.Series(xb, index=idx, name="xb")
    if statistic == "stdp":
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, fit.cov_beta, X))
        return pd.Series(se, index=idx, name="stdp")
    y = np.asarray(d.endog, float)
    terms, _ = build_terms(d)
    if statistic in ("reffects", "reses"):
        return pd.DataFrame(_random_effects(fit, y, X, terms, statistic), index=idx,
                            columns=names)
    b = _random_effects(fit, y, X, terms, "reffects")
    Z = np.hstack([t.Z for t in terms])
    fitted = xb + np.einsum("ij,ij->i", Z, b)
    if statistic == "fitted":
        return pd.Series(fitted, index=idx, name="fitted")
    resid = y - fitted
    if statistic == "residuals":
        return pd.Series(resid, index=idx, name="residuals")
    return pd.Series(resid / np.sqrt(fit.s2), index=idx, name="rstandard")


def check_statistic(statistic):
    """Raise for a statistic ``predict`` after ``mixed`` does not have."""
    if statistic not in PREDICT_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}'; expected one of "
                                 f"{', '.join(PREDICT_STATISTICS)}")


def predict_lmm_dask(ddf, fit, statistic, meta):
    """:func:`predict_lmm_frame` over every partition of ``ddf`` (a dask Series or
    DataFrame like ``meta``)."""
    return ddf.map_partitions(predict_lmm_frame, fit, statistic, meta=meta)
