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


def _per_observation(terms, per_group):
    """Spread per-group (G, q) arrays of each term to (n, q) rows; columns named like e(b)."""
    cols, names = [], []
    for term, vals in zip(terms, per_group):
        cols.append(vals[term.codes])
        names += _term_columns(term)
    return np.hstack(cols), names


RELEVEL_STATISTICS = ("fitted", "residuals", "rstandard", "reffects", "reses")
FIXEDONLY_STATISTICS = ("fitted", "residuals", "rstandard")


def level_of_terms(model):
    """Index in ``model.design.levels`` of the level of each term of ``model.terms``.

    Terms carry their level's label; where labels repeat (``|| _all: R.a || _all: R.b``)
    the level is the one whose slice of theta holds the term's parameters (theta is laid
    out level by level)."""
    levels = model.design.levels
    ends = np.cumsum([cov.n_theta for cov in model.level_covs])
    out = []
    for term in model.terms:
        hits = [i for i, lev in enumerate(levels) if lev.label == term.label]
        if len(hits) > 1 and len(term.theta_index):
            hits = [int(np.searchsorted(ends, term.theta_index[0], side="right"))]
        out.append(hits[0])
    return out


def resolve_level(model, relevel):
    """Index in ``model.design.levels`` of Stata's ``relevel(levelvar)``: the level's
    grouping variable (the last of its nesting path, ``class`` for ``school>class``), its
    full label, or ``_all``."""
    levels = model.design.levels
    name = str(relevel).strip()
    hits = [i for i, lev in enumerate(levels)
            if name in (lev.label, lev.path[-1] if lev.path else lev.label)]
    if not hits:
        known = ", ".join(lev.path[-1] if lev.path else lev.label for lev in levels)
        raise SpecificationError(f"predict: relevel({name}): {name} is not a level of the "
                                 f"model; the levels are {known}")
    if len(hits) > 1:
        raise SpecificationError(f"predict: relevel({name}): the model has {len(hits)} "
                                 f"levels named {name}; the level is ambiguous")
    return hits[0]


def _check_level_options(statistic, relevel, fixedonly):
    if relevel is not None and statistic not in RELEVEL_STATISTICS:
        raise SpecificationError(f"predict: relevel() is not allowed with {statistic}; it "
                                 f"applies to {', '.join(RELEVEL_STATISTICS)}")
    if fixedonly and statistic not in FIXEDONLY_STATISTICS:
        raise SpecificationError(f"predict: fixedonly is not allowed with {statistic}; it "
                                 f"applies to {', '.join(FIXEDONLY_STATISTICS)}")
    if fixedonly and relevel is not None:
        raise SpecificationError("predict: fixedonly and relevel() may not be combined")


def predict(results, statistic="xb", relevel=None, fixedonly=False):
    """Predictions after ``mixed``, as Stata's ``predict`` computes them.

    Parameters
    ----------
    statistic : str
        ``xb`` (fixed part), ``fitted`` (xb + Z b), ``reffects`` (BLUPs, one column per random
        effect, repeated on each observation of its group), ``reses`` (their standard errors:
        the square root of Var(b | y) at the estimates after ML, of Var(b_hat - b), which
        includes the uncertainty of the fixed effects, after REML), ``residuals`` (y - fitted),
        ``rstandard`` (residuals times the inverse square root of the residual-error
        covariance: / sigma_e, or within each group under ``residuals()``), ``stdp``
        (standard error of xb), ``scores`` (ML only; one
        column per element of Stata's ``e(b)``, whose variance parameters are log standard
        deviations and atanh correlations;
        :func:`~statsmodels_me.postestimation.scores.mixed_scores` gives them in the
        parameters of ``params`` too).
    relevel : str, optional
        Stata's ``relevel(levelvar)``, a level's grouping variable (or ``_all``). With
        ``fitted``, ``residuals`` and ``rstandard`` the random effects of the levels from
        the topmost down to and including ``levelvar`` enter (the lower levels' are set to
        zero; nlme's ``fitted(fit, level=)``); with ``reffects`` and ``reses`` only the
        columns of that level.
    fixedonly : bool
        ``fitted``, ``residuals`` and ``rstandard`` with every random effect set to zero
        (the fitted values are ``xb``; nlme's ``level = 0``).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed like the estimation sample.
    """
    if statistic not in PREDICT_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}'; expected one of "
                                 f"{', '.join(PREDICT_STATISTICS)}")
    _check_level_options(statistic, relevel, fixedonly)
    if statistic == "scores":
        return mixed_scores(results, metric="stata")
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
    term_levels = level_of_terms(model)
    chosen = None if relevel is None else resolve_level(model, relevel)
    if statistic in ("reffects", "reses"):
        if statistic == "reffects":
            vals = results.blups()
        else:
            # Stata: after ML, Var(b | y) at the estimates (lme4's condVar); after REML,
            # Var(b_hat - b) = G - G Z' P Z G, which adds the uncertainty of beta
            var = results.blup_variances(fixed_uncertainty=model.reml)
            vals = [np.sqrt(np.diagonal(v, axis1=1, axis2=2)) for v in var]
        keep = [chosen is None or lev == chosen for lev in term_levels]
        arr, names = _per_observation([t for t, k in zip(model.terms, keep) if k],
                                      [v for v, k in zip(vals, keep) if k])
        return pd.DataFrame(arr, index=idx, columns=names)
    zb = np.zeros(design.nobs)
    if not fixedonly:
        for term, lev, b in zip(model.terms, term_levels, results.blups()):
            if chosen is None or lev <= chosen:
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
