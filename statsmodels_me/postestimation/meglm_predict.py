"""``predict`` after ``meglm`` and its shortcuts.

What each statistic means for the response comes from the model's family object
(:mod:`statsmodels_me.families`): the mean, ``pr``, densities and residuals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me._kernels.quadrature import gh_grid
from statsmodels_me.families import COMMON_STATISTICS, get_family
from statsmodels_me.postestimation.random_effects import label_random_effects
from statsmodels_me.postestimation.scores import glmm_scores
from statsmodels_me.spec.errors import SpecificationError

PREDICT_STATISTICS = COMMON_STATISTICS + ("mu", "pr", "pearson", "deviance", "anscombe",
                                          "density", "distribution", "stdp", "scores")
CONDITIONAL = ("ebmeans", "ebmodes", "fixedonly", "marginal")


def _random_parts(results, ebmodes):
    """Predicted random effects of every term: list of (codes, Z, means, covs, column names).

    ``codes`` (n,) index the rows of ``means`` (G, q); ``covs`` (G, q, q) are posterior
    covariances (crossed Laplace fits: of the Laplace approximation's normal posterior at
    the modes), or None where the model gives none.
    """
    return results.model.random_effect_parts(results.params_internal, ebmodes)


def _part_label(names):
    """Level label of a part from its column names ``x[label]``."""
    name = names[0]
    return name[name.rindex("[") + 1:-1]


def random_effects(results, ebmodes=False):
    """Empirical Bayes means (modes with ``ebmodes``; conditional modes after crossed
    Laplace fits) labelled by group; see
    :func:`~statsmodels_me.postestimation.random_effects.label_random_effects`."""
    parts = _random_parts(results, ebmodes)
    return label_random_effects(results.model.design, [
        (_part_label(names), names, codes, means) for codes, _, means, _, names in parts])


def _prediction_mode(conditional, ebmodes):
    """One of :data:`CONDITIONAL` from the ``conditional`` and ``ebmodes`` arguments."""
    if conditional is True:
        return "ebmodes" if ebmodes else "ebmeans"
    if conditional is False:
        mode = "marginal"
    elif isinstance(conditional, str) and conditional in CONDITIONAL:
        mode = conditional
    else:
        raise SpecificationError(f"predict: conditional={conditional!r} is not one of True, "
                                 f"False, {', '.join(repr(c) for c in CONDITIONAL)}")
    if ebmodes and mode != "ebmodes":
        raise SpecificationError(f"predict: ebmodes=True conflicts with "
                                 f"conditional={conditional!r}")
    return mode


def predict(results, statistic="mu", conditional=True, ebmodes=False, outcome=None,
            nooffset=False):
    """Predictions after ``meglm`` (Stata's ``predict``).

    Parameters
    ----------
    statistic : str
        ``mu`` (mean response; binomial: trials times the probability), ``pr`` (probability
        of a success per trial for binary and binomial outcomes, of ``outcome`` for ordinal
        ones; the mean for counts), ``eta`` (linear predictor with the predicted random
        effects), ``xb`` (fixed part only), ``reffects`` (empirical Bayes means of the
        random effects, or modes with ``ebmodes=True``), ``reses`` (their posterior standard
        deviations; after crossed Laplace fits those of the approximation's normal posterior
        at the modes, sqrt(diag(Lambda H^-1 Lambda')) as lme4's ``condVar``), ``pearson``,
        ``deviance`` and ``anscombe`` residuals, ``density`` and
        ``distribution`` (f(y | eta) and P(Y <= y | eta) at the observed outcome), ``stdp``
        (standard error of ``xb``: sqrt(x' V x) with V the fixed effects' covariance),
        ``scores`` (Stata's ``predict, scores``: the derivatives of the log likelihood in
        every parameter, one row per highest-level group on its last record; see
        :func:`~statsmodels_me.postestimation.scores.glmm_scores`).  Which exist depends on
        the family (``family.predict_statistics``).
    conditional : bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        ``True`` or ``"ebmeans"`` (Stata's default ``conditional(ebmeans)``) plugs in the
        empirical Bayes means of the random effects, ``"ebmodes"`` their modes,
        ``"fixedonly"`` sets them to zero (the linear predictor is ``xb``), ``False`` or
        ``"marginal"`` integrates over them (Stata's ``marginal``).
    ebmodes : bool
        Use posterior modes instead of means (same as ``conditional="ebmodes"``).
    outcome : number, optional
        For ``pr`` after ordinal models: the outcome value (default: the first category).
    nooffset : bool
        Leave ``offset()`` (or log ``exposure()``) out of the linear predictor; by default
        it is included in ``xb``, ``eta`` and everything computed from them, as in Stata.

    Returns
    -------
    pandas.Series or pandas.DataFrame indexed like the estimation sample.
    """
    if statistic not in PREDICT_STATISTICS:
        raise SpecificationError(f"predict: unknown statistic '{statistic}'; expected one of "
                                 f"{', '.join(PREDICT_STATISTICS)}")
    model = results.model
    if statistic == "scores":
        return glmm_scores(results)
    family = get_family(model.family, model.link)
    if statistic == "stdp":
        X = model.fixed_exog
        V = np.asarray(results.cov_params(), float)[:X.shape[1], :X.shape[1]]
        return pd.Series(np.sqrt(np.einsum("ij,jk,ik->i", X, V, X)),
                         index=model.design.row_index, name="stdp")
    if statistic not in COMMON_STATISTICS:
        family.check_statistic(statistic)
    mode = _prediction_mode(conditional, ebmodes)
    idx = model.design.row_index
    beta, aux, _ = model.split_params(results.params_internal)
    X, off = model.fixed_exog, model.design.offset
    off = np.zeros(len(X)) if off is None or nooffset else off
    xb = X @ beta + off
    if statistic == "xb":
        return pd.Series(xb, index=idx, name="xb")
    if statistic in ("reffects", "reses"):
        frames = []
        for codes, _, means, covs, cols in _random_parts(results, mode == "ebmodes"):
            if statistic == "reses" and covs is None:
                raise SpecificationError("predict reses: this model gives no posterior "
                                         "standard deviations of its random effects")
            vals = means if statistic == "reffects" else np.sqrt(
                np.diagonal(covs, axis1=1, axis2=2))
            frames.append(pd.DataFrame(vals[codes], index=idx, columns=cols))
        return pd.concat(frames, axis=1)
    eta = None
    if mode in ("ebmeans", "ebmodes"):
        eta = xb.copy()
        for codes, Z, means, _, _ in _random_parts(results, mode == "ebmodes"):
            eta += np.einsum("ij,ij->i", Z, means[codes])
    elif mode == "fixedonly":
        eta = xb
    if statistic == "eta":
        if eta is None:
            raise SpecificationError("predict eta: the marginal linear predictor is xb")
        return pd.Series(eta, index=idx, name="eta")
    fn, name = _response_statistic(statistic, family, model, aux, outcome)
    vals = fn(eta) if eta is not None else _marginal(results, xb, fn)
    if statistic in ("pearson", "deviance", "anscombe"):
        y, trials = _response(model)
        vals = family.residual(statistic, y, vals, trials, aux)
    return pd.Series(vals, index=idx, name=name)


def _response(model):
    """The outcome as the family sees it (ordinal: codes 0..K-1) and the trials."""
    y = np.asarray(model.design.endog, float)
    trials = model.design.trials
    trials = np.ones(len(y)) if trials is None else np.asarray(trials, float)
    if model.categories is not None:
        y = np.searchsorted(model.categories, y).astype(float)
    return y, trials


def _response_statistic(statistic, family, model, aux, outcome):
    """(function of the linear predictor, series name) of a response statistic; residuals
    are functions of the mean."""
    y, trials = _response(model)
    if statistic == "pr":
        cats = model.categories
        if cats is None:
            return (lambda e: family.probability(e, trials, aux)), "pr"
        if outcome is None:
            k = 0
        elif np.any(cats == outcome):
            k = int(np.flatnonzero(cats == outcome)[0])
        else:
            raise SpecificationError(f"predict pr: outcome({outcome}) is not one of "
                                     f"{', '.join(f'{c:g}' for c in cats)}")
        return (lambda e: family.probability(e, trials, aux, k)), f"pr{cats[k]:g}"
    if statistic == "density":
        return (lambda e: np.exp(family.loglike_obs(y, e, trials, aux))), "density"
    if statistic == "distribution":
        return (lambda e: family.cdf(y, e, trials, aux)), "distribution"
    return (lambda e: family.mean(e, trials, aux)), statistic


def _marginal(results, fixed_eta, fn, points=15):
    """E over the random effects of fn(fixed_eta + z_i'b), by Gauss-Hermite quadrature.

    z_i'b is normal with variance z_i' Sigma z_i whatever the levels (nested, crossed), so
    the marginal mean is a one-dimensional integral per observation.
    """
    model = results.model
    theta = model.split_params(results.params_internal)[2]
    L = model.cov.cholesky(theta)
    Z = model.random_effects_exog()
    sd = np.sqrt(np.einsum("ij,ij->i", Z @ L, Z @ L))
    nodes, logw = gh_grid(points, 1)
    w = np.exp(logw)
    out = np.zeros(len(fixed_eta))
    for node, wk in zip(nodes[:, 0], w):
        out += wk * fn(fixed_eta + sd * node)
    return out / w.sum()
