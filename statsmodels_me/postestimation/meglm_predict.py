"""``predict`` after ``meglm`` and its shortcuts."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from statsmodels_me._integrate.quadrature import gh_grid
from statsmodels_me.spec.errors import SpecificationError

PREDICT_STATISTICS = ("mu", "eta", "xb", "reffects", "reses", "pearson", "deviance",
                      "anscombe", "pr")


def _inverse_link(link, eta):
    if link == "identity":
        return eta
    if link == "log":
        return np.exp(eta)
    if link == "logit":
        return special.expit(eta)
    if link == "probit":
        return stats.norm.cdf(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    raise SpecificationError(f"unknown link '{link}'")


def _random_parts(results, ebmodes):
    """Predicted random effects of every term: list of (codes, Z, means, covs, column names).

    ``codes`` (n,) index the rows of ``means`` (G, q); ``covs`` (G, q, q) are posterior
    covariances, or None where the engine gives none (crossed Laplace: modes only).
    """
    model = results.model
    beta, aux, theta = model._split(results._internal)
    L = model.cov.cholesky(theta)
    eng = model.engine
    if hasattr(eng, "ebmeans_levels"):                     # nested levels
        fn = eng.ebmodes_levels if ebmodes else eng.ebmeans_levels
        out = []
        for k, (lev, (m, c)) in enumerate(zip(model.levels, fn(beta, aux, L))):
            order = eng.group_codes(k)
            means, covs = np.empty_like(m), np.empty_like(c)
            means[order], covs[order] = m, c
            out.append((lev.codes, model._level_Z(lev), means, covs,
                        [f"{n}[{lev.label}]" for n in _effect_names(lev)]))
        return out
    if hasattr(eng, "core"):                               # crossed: Laplace modes per term
        core = eng.core
        modes = core.modes(beta, aux, lams=eng.slots.lams(L))
        return [(t.codes, t.Z, b, None, [f"{n}[{t.label}]" for n in t.names])
                for t, b in zip(core.terms, modes)]
    fn = eng.ebmodes if ebmodes else eng.ebmeans
    means, covs = fn(beta, aux, L)
    return [(model.level.codes, model._level_Z(model.level), means, covs,
             [f"{n}[{model.level.label}]" for n in _effect_names(model.level)])]


def predict(results, statistic="mu", conditional=True, ebmodes=False, outcome=None,
            nooffset=False):
    """Predictions after ``meglm`` (Stata's ``predict``).

    Parameters
    ----------
    statistic : str
        ``mu`` (mean response; probability for binary outcomes), ``eta`` (linear predictor
        with the predicted random effects), ``xb`` (fixed part only), ``reffects``
        (empirical Bayes means of the random effects, or modes with ``ebmodes=True``),
        ``reses`` (their posterior standard deviations), ``pearson``, ``deviance`` and
        ``anscombe`` residuals, ``pr`` (ordinal: probability of ``outcome``).
    conditional : bool
        ``True`` (Stata's default ``conditional(ebmeans)``) plugs in the predicted random
        effects; ``False`` gives the marginal mean, integrating over the random effects
        (Stata's ``marginal``).
    ebmodes : bool
        Use posterior modes instead of means.
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
    idx = model.design.row_index
    beta, aux, theta = model._split(results._internal)
    X, off = model._X, model.design.offset
    off = np.zeros(len(X)) if off is None or nooffset else off
    xb = X @ beta + off
    if statistic == "xb":
        return pd.Series(xb, index=idx, name="xb")
    if statistic in ("reffects", "reses"):
        frames = []
        for codes, _, means, covs, cols in _random_parts(results, ebmodes):
            if statistic == "reses" and covs is None:
                raise SpecificationError("predict reses: posterior standard deviations are not "
                                         "available for crossed random effects (Laplace modes)")
            vals = means if statistic == "reffects" else np.sqrt(
                np.diagonal(covs, axis1=1, axis2=2))
            frames.append(pd.DataFrame(vals[codes], index=idx, columns=cols))
        return pd.concat(frames, axis=1)
    if conditional:
        eta = xb.copy()
        for codes, Z, means, _, _ in _random_parts(results, ebmodes):
            eta += np.einsum("ij,ij->i", Z, means[codes])
    else:
        eta = None
    if statistic == "eta":
        if eta is None:
            raise SpecificationError("predict eta: the marginal linear predictor is xb")
        return pd.Series(eta, index=idx, name="eta")
    if model.family == "ordinal":
        if statistic != "pr":
            raise SpecificationError(f"predict {statistic}: after ordinal models use 'pr' "
                                     "with outcome=")
        cats = model.categories
        k = 0 if outcome is None else int(np.flatnonzero(cats == outcome)[0]) \
            if np.any(cats == outcome) else None
        if k is None:
            raise SpecificationError(f"predict pr: outcome({outcome}) is not one of "
                                     f"{', '.join(f'{c:g}' for c in cats)}")

        def pr(e):
            cut = np.concatenate([[-np.inf], aux, [np.inf]])
            return _inverse_link(model.link, cut[k + 1] - e) - _inverse_link(model.link,
                                                                             cut[k] - e)
        vals = pr(eta) if conditional else _marginal(results, xb, pr)
        return pd.Series(vals, index=idx, name=f"pr{cats[k]:g}")
    trials = model.design.trials if model.design.trials is not None else np.ones(len(xb))
    mu = (_inverse_link(model.link, eta) if conditional else
          _marginal(results, xb, lambda e: _inverse_link(model.link, e)))
    mu = mu * trials if model.family == "binomial" else mu
    if statistic == "mu":
        return pd.Series(mu, index=idx, name="mu")
    y = model.design.endog
    return pd.Series(_residual(statistic, model.family, y, mu, trials, aux), index=idx,
                     name=statistic)


def _effect_names(level):
    return [n for b in level.blocks for n in (
        [f"{v:g}.{b.names[0][2:]}" for v in b.factor_levels] if b.factor_codes is not None
        else b.names)]


def _marginal(results, fixed_eta, fn, points=15):
    """E over the random effects of fn(fixed_eta + z_i'b), by Gauss-Hermite quadrature.

    z_i'b is normal with variance z_i' Sigma z_i whatever the levels (nested, crossed), so
    the marginal mean is a one-dimensional integral per observation.
    """
    model = results.model
    theta = model._split(results._internal)[2]
    L = model.cov.cholesky(theta)
    Z = np.hstack([model._level_Z(lev) for lev in model.levels])
    sd = np.sqrt(np.einsum("ij,ij->i", Z @ L, Z @ L))
    nodes, logw = gh_grid(points, 1)
    w = np.exp(logw)
    out = np.zeros(len(fixed_eta))
    for node, wk in zip(nodes[:, 0], w):
        out += wk * fn(fixed_eta + sd * node)
    return out / w.sum()


def _residual(kind, family, y, mu, n, aux):
    """Pearson, deviance and Anscombe residuals of the conditional GLM (McCullagh and Nelder
    1989, sec. 2.4), unscaled: the ancillary parameter enters only through the variance
    function of the negative binomial."""
    anscombe = None
    if family in ("bernoulli", "binomial"):
        var = mu * (1 - mu / n)
        dev_i = 2 * (special.xlogy(y, y / mu) + special.xlogy(n - y, (n - y) / (n - mu)))
    elif family == "poisson":
        var = mu
        dev_i = 2 * (special.xlogy(y, y / mu) - (y - mu))
        anscombe = 1.5 * (y ** (2 / 3) - mu ** (2 / 3)) / mu ** (1 / 6)
    elif family == "gaussian":
        var = np.ones_like(mu)
        dev_i = (y - mu) ** 2
        anscombe = y - mu
    elif family == "gamma":
        var = mu ** 2
        dev_i = 2 * ((y - mu) / mu - np.log(y / mu))
        anscombe = 3 * (np.cbrt(y) - np.cbrt(mu)) / np.cbrt(mu)
    elif family == "nbinomial_mean":
        alpha = float(np.exp(aux[0]))
        var = mu + alpha * mu ** 2
        dev_i = 2 * (special.xlogy(y, y / mu)
                     - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu)))
        if kind == "anscombe":
            from statsmodels.genmod.families import NegativeBinomial
            anscombe = NegativeBinomial(alpha=alpha).resid_anscombe(y, mu)
    elif family == "nbinomial_constant" and kind == "pearson":
        var = mu * (1 + float(np.exp(aux[0])))
    else:
        raise SpecificationError(f"predict {kind}: not available for family {family}")
    if kind == "pearson":
        return (y - mu) / np.sqrt(var)
    if kind == "deviance":
        return np.sign(y - mu) * np.sqrt(np.maximum(dev_i, 0))
    if anscombe is not None:
        return anscombe
    p_y, p_mu = y / n, mu / n
    ib = special.betainc(2 / 3, 2 / 3, np.clip(p_y, 0, 1)) - special.betainc(
        2 / 3, 2 / 3, np.clip(p_mu, 0, 1))
    return np.sqrt(n) * special.beta(2 / 3, 2 / 3) * ib / (p_mu * (1 - p_mu)) ** (1 / 6)
