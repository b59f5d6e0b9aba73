"""Simulation from a fitted model (lme4's ``simulate``) and the parametric bootstrap.

New responses draw the random effects of every group from N(0, Sigma) at the estimates (each
level's covariance from :meth:`estat_recovariance`), add them to the fixed part through the
estimation sample's covariates, and draw the response from the conditional distribution:
normal with the residual variance after ``mixed``, the family's distribution after ``meglm``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.design.build import build_design
from statsmodels_me.postestimation.newdata import fixed_names, is_glmm
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["bootstrap", "simulate"]

_DRAWS = ("gaussian", "bernoulli", "binomial", "poisson", "nbinomial_mean",
          "nbinomial_constant", "gamma", "ordinal")


def _check(results):
    model = results.model
    command = getattr(model.spec, "command", None) or type(model).__name__.lower()
    if not (is_glmm(results) or command.startswith("mixed")):
        raise NotImplementedError(f"simulate is not implemented after {command}")
    if is_glmm(results) and model.family_object.name not in _DRAWS:
        name = model.family_object.name
        raise NotImplementedError(f"simulate: drawing from family '{name}' is not "
                                  f"implemented (available: {', '.join(_DRAWS)})")
    if not is_glmm(results):
        residuals = model.spec.options.get("residuals")
        if residuals and not str(residuals).strip().startswith("independent") or \
                not results.param_names[-1].startswith("/var(e."):
            raise NotImplementedError("simulate after mixed: only independent residuals with "
                                      "one variance are implemented")


def _random_part(results, rng):
    """One draw of z_i'b for every estimation row (b ~ N(0, Sigma) per group)."""
    design = results.model.design
    covs = results.estat_recovariance()
    zb = np.zeros(design.nobs)
    for level in design.levels:
        S = covs[level.label].to_numpy()
        pos = 0
        for block in level.blocks:
            if block.factor_codes is not None:
                sd = np.sqrt(max(S[pos, pos], 0.0))
                nlev = len(block.factor_levels)
                b = rng.standard_normal(level.n_groups * nlev) * sd
                zb += b[level.codes * nlev + block.factor_codes]
                pos += 1
                continue
            q = block.Z.shape[1]
            Sb = S[pos:pos + q, pos:pos + q]
            w, U = np.linalg.eigh(Sb)
            root = U * np.sqrt(np.clip(w, 0.0, None))
            b = rng.standard_normal((level.n_groups, q)) @ root.T
            zb += np.einsum("ij,ij->i", block.Z, b[level.codes])
            pos += q
    return zb


def _fixed_part(results):
    design = results.model.design
    names = fixed_names(results)
    cols = [design.exog_names.index(n) for n in names]
    eta = design.exog[:, cols] @ np.asarray(results.params, float)[:results.k_fe]
    if design.offset is not None:
        eta = eta + design.offset
    return eta


def simulate(results, nsim=1, seed=None):
    """Responses simulated from the fitted model, lme4's ``simulate``.

    Parameters
    ----------
    nsim : int
        Number of simulated responses.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    DataFrame
        Estimation rows by ``sim_1 ... sim_nsim``.
    """
    _check(results)
    if int(nsim) < 1:
        raise SpecificationError(f"simulate: nsim={nsim} must be at least 1")
    rng = np.random.default_rng(seed)
    model = results.model
    design = model.design
    xb = _fixed_part(results)
    out = np.empty((design.nobs, int(nsim)))
    family = model.family_object if is_glmm(results) else None
    trials = design.trials if design.trials is not None else np.ones(design.nobs)
    aux = model.split_params(results.params_internal)[1] if family is not None else None
    for k in range(int(nsim)):
        eta = xb + _random_part(results, rng)
        if family is None or family.name == "gaussian":
            s2 = float(np.asarray(results.params)[-1])
            mean = eta if family is None else family.mean(eta)
            out[:, k] = mean + rng.standard_normal(design.nobs) * np.sqrt(s2)
        else:
            out[:, k] = _draw(family, eta, trials, aux, rng, model)
    return pd.DataFrame(out, index=design.row_index,
                        columns=[f"sim_{k + 1}" for k in range(int(nsim))])


def _draw(family, eta, trials, aux, rng, model):
    """One response per row from the family's conditional distribution given ``eta``
    (internal ancillary parameters ``aux``: log alpha, log delta, log s, cutpoints); the
    gaussian family is drawn by the caller."""
    name = family.name
    if name == "poisson":
        return rng.poisson(family.mean(eta, trials, aux))
    if name in ("bernoulli", "binomial"):
        return rng.binomial(trials.astype(np.int64), family.probability(eta, trials, aux))
    if name == "nbinomial_mean":
        # NB2: size 1/alpha, probability size / (size + mu)
        mu, size = family.mean(eta, trials, aux), np.exp(-aux[0])
        return rng.negative_binomial(size, size / (size + mu))
    if name == "nbinomial_constant":
        # NB1: size mu / delta, probability 1 / (1 + delta)
        mu, delta = family.mean(eta, trials, aux), np.exp(aux[0])
        return rng.negative_binomial(mu / delta, 1.0 / (1.0 + delta))
    if name == "gamma":
        # shape 1/s, mean mu
        mu, shape = family.mean(eta, trials, aux), np.exp(-aux[0])
        return rng.gamma(shape, mu / shape)
    # ordinal: the code is the number of cutpoints with F(cut_k - eta) below a uniform draw
    cdf = family.inverse_link(np.asarray(aux, float)[None, :] - eta[:, None])
    codes = np.sum(rng.random(eta.shape[0])[:, None] > cdf, axis=1)
    return np.asarray(model.categories, float)[codes]


def refit(results, y, **fit_kwargs):
    """The model refitted to a new response ``y`` (estimation rows) with the same design."""
    model = results.model
    design = model.design
    data = design.sample_data.copy()
    data[design.endog_names[0]] = np.asarray(y, dtype=float)
    new = type(model).class_for_design(build_design(design.spec, data))
    return new(design=build_design(design.spec, data)).fit(**fit_kwargs)


def bootstrap(results, nboot, statistic=None, seed=None, **fit_kwargs):
    """Parametric bootstrap: refit to responses simulated from the fitted model.

    Parameters
    ----------
    nboot : int
    statistic : callable, optional
        ``results -> array_like`` (default: ``params``).
    seed : int or Generator, optional
    **fit_kwargs
        Passed to each refit's ``fit``.

    Returns
    -------
    DataFrame
        One row per replicate; the columns are the statistic's labels (``params`` names) or
        ``0, 1, ...``.
    """
    stat = statistic or (lambda r: r.params)
    sims = simulate(results, nboot, seed)
    rows = []
    for col in sims.columns:
        value = stat(refit(results, sims[col].to_numpy(), **fit_kwargs))
        rows.append(pd.Series(value) if not isinstance(value, pd.Series) else value)
    return pd.DataFrame(rows).reset_index(drop=True)
