"""``predict`` after ``mixed``: linear predictions, BLUPs and their standard errors, residuals."""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.postestimation.random_effects import label_random_effects
from statsmodels_me.postestimation.scores import mixed_scores
from statsmodels_me.spec.errors import SpecificationError

PREDICT_STATISTICS = ("xb", "fitted", "reffects", "reses", "residuals", "rstandard", "stdp",
                      "scores")


def _term_columns(term):
    return [f"{n}[{term.label}]" for n in term.names]


def random_effects(results):
    """BLUPs labelled by group; see
    :func:`~statsmodels_me.postestimation.random_effects.label_random_effects`."""
    model = results.model
    return label_random_effects(model.design, [
        (term.label, term.names, term.codes, b) for term, b in zip(model.terms,
                                                                     results.blups())])


def _per_observation(model, per_group):
    """Spread per-group (G, q) arrays of each term to (n, q) rows; columns named like e(b)."""
    cols, names = [], []
    for term, vals in zip(model.terms, per_group):
        cols.append(vals[term.codes])
        names += _term_columns(term)
    return np.hstack(cols), names


def predict(results, statistic="xb"):
    """Predictions after ``mixed``, as Stata's ``predict`` computes them.

    Parameters
    ----------
    statistic : str
        ``xb`` (fixed part), ``fitted`` (xb + Z b), ``reffects`` (BLUPs, one column per random
        effect, repeated on each observation of its group), ``reses`` (their standard errors:
        the square root of Var(b | y) at the estimates after ML, of Var(b_hat - b), which
        includes the uncertainty of the fixed effects, after REML), ``residuals`` (y - fitted),
        ``rstandard`` (residuals / sigma_e), ``stdp`` (standard error of xb), ``scores``
        (ML only; :func:`~statsmodels_me.postestimation.scores.mixed_scores`).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed like the estimation sample.
    """
    if statistic not in PREDICT_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}'; expected one of "
                                 f"{', '.join(PREDICT_STATISTICS)}")
    if statistic == "scores":
        return mixed_scores(results)
    model = results.model
    design = model.design
    idx = design.row_index
    beta = np.asarray(results.params)[:model.k_fe]
    xb = design.exog @ beta
    if statistic == "xb":
        return pd.Series(xb, index=idx, name="xb")
    if statistic == "stdp":
        V = np.asarray(results.cov_params())[:model.k_fe, :model.k_fe]
        se = np.sqrt(np.einsum("ij,jk,ik->i", design.exog, V, design.exog))
        return pd.Series(se, index=idx, name="stdp")
    if statistic in ("reffects", "reses"):
        if statistic == "reffects":
            vals = results.blups()
        else:
            # Stata: after ML, Var(b | y) at the estimates (lme4's condVar); after REML,
            # Var(b_hat - b) = G - G Z' P Z G, which adds the uncertainty of beta
            var = results.blup_variances(fixed_uncertainty=model.reml)
            vals = [np.sqrt(np.diagonal(v, axis1=1, axis2=2)) for v in var]
        arr, names = _per_observation(model, vals)
        return pd.DataFrame(arr, index=idx, columns=names)
    zb = np.zeros(design.nobs)
    for term, b in zip(model.terms, results.blups()):
        zb += np.einsum("ij,ij->i", term.Z, b[term.codes])
    fitted = xb + zb
    if statistic == "fitted":
        return pd.Series(fitted, index=idx, name="fitted")
    resid = design.endog - fitted
    if statistic == "residuals":
        return pd.Series(resid, index=idx, name="residuals")
    if getattr(model, "residual", None) is not None:
        # Stata: the residuals times the inverse square root of their covariance matrix
        obj = model.objective
        s2 = obj.sigma2(results.factor())
        return pd.Series(obj.standardize(results.theta, s2, resid), index=idx,
                         name="rstandard")
    s2 = float(np.asarray(results.params)[-1])
    return pd.Series(resid / np.sqrt(s2), index=idx, name="rstandard")
