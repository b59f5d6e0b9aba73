"""Simulation from a fitted model (lme4's ``simulate``) and the parametric bootstrap.

New responses draw the random effects of every group from N(0, Sigma) at the estimates (each
level's covariance from :meth:`estat_recovariance`), add them to the fixed part through the
estimation sample's covariates, and draw the response from the conditional distribution:
normal with the residual variance after ``mixed``, the family's distribution after ``meglm``.

After the censored and survival commands the draw goes through the observation scheme of
the estimation sample:

* ``metobit``: y* ~ N(eta, sigma_e^2) censored at each row's ``ll()``/``ul()``, i.e.
  max(ll, min(y*, ul)) (the fitted model's own censoring rule: y <= ll is left-censored);
* ``meintreg``: each row keeps its finite observed bounds as inspection points and reports
  the cell of y* between them: an exact row its y*; a row with bounds a < b the interval
  (a, b) when a < y* < b, (., a) when y* <= a and (b, .) when y* >= b (``.``: missing, Stata's
  infinite bound); a left- (right-) censored row at c reports (., c) or (c, .);
* ``mestreg``: the event time T solves H(T | eta) = H(t0 | eta) + E, E ~ Exp(1), through the
  family's inverse cumulative hazard: a draw from T | eta, T > t0 (delayed entry conditions
  on survival to the entry time t0, as the likelihood does).  By default the uncensored
  times are returned; ``censor=True`` applies the observed censoring times: a row censored
  at c reports (min(T, c), T <= c), a row observed to fail (its censoring time unknown)
  reports (T, 1).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from statsmodels_me.design.build import build_design
from statsmodels_me.families.censored import CensoredNormal
from statsmodels_me.families.survival import SurvivalFamily
from statsmodels_me.postestimation.newdata import fixed_names, is_glmm
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["bootstrap", "simulate"]

_DRAWS = ("gaussian", "bernoulli", "binomial", "poisson", "nbinomial_mean",
          "nbinomial_constant", "gamma", "ordinal")


def _observation_scheme(results):
    """``"censored"``, ``"interval"``, ``"survival"`` or None (the response is drawn as is)."""
    family = getattr(results.model, "family_object", None)
    if isinstance(family, SurvivalFamily):
        return "survival"
    if isinstance(family, CensoredNormal):
        return "censored" if results.model.command == "metobit" else "interval"
    return None


def _check(results):
    model = results.model
    command = getattr(model.spec, "command", None) or type(model).__name__.lower()
    if not (is_glmm(results) or command.startswith("mixed")):
        raise NotImplementedError(f"simulate is not implemented after {command}")
    if _observation_scheme(results) is not None:
        return
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


def simulate(results, nsim=1, seed=None, censor=False):
    """Responses simulated from the fitted model, lme4's ``simulate``.

    Parameters
    ----------
    nsim : int
        Number of simulated responses.
    seed : int or numpy.random.Generator, optional
    censor : bool
        After ``mestreg``: apply the observed censoring times (module docstring); without
        it the uncensored event times.

    Returns
    -------
    DataFrame
        Estimation rows by ``sim_1 ... sim_nsim``. After ``meintreg`` two columns per
        simulation, ``(sim_k, lower)`` and ``(sim_k, upper)`` named by the dependent
        variables (NaN: an infinite bound); after ``mestreg`` with ``censor=True``
        ``(sim_k, "_t")`` and ``(sim_k, "_d")`` (time and failure indicator).
    """
    _check(results)
    if int(nsim) < 1:
        raise SpecificationError(f"simulate: nsim={nsim} must be at least 1")
    scheme = _observation_scheme(results)
    if censor and scheme != "survival":
        raise SpecificationError("simulate: censor=True applies after mestreg only")
    rng = np.random.default_rng(seed)
    if scheme is not None:
        return _simulate_observed(results, int(nsim), rng, scheme, bool(censor))
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


def _simulate_observed(results, nsim, rng, scheme, censor):
    """Simulated responses after ``metobit``, ``meintreg`` and ``mestreg`` (module
    docstring)."""
    model = results.model
    design = model.design
    xb = _fixed_part(results)
    aux = model.split_params(results.params_internal)[1]
    y, t = np.asarray(design.endog, float), np.asarray(design.trials, float)
    draws = []
    for _ in range(nsim):
        eta = xb + _random_part(results, rng)
        if scheme == "survival":
            draws.append(_event_times(model.family_object, eta, aux, y, t, rng, censor))
            continue
        ystar = eta + rng.standard_normal(design.nobs) * np.sqrt(np.exp(aux[0]))
        if scheme == "censored":
            draws.append(_tobit_censor(ystar, model.limit_values))
        else:
            draws.append(_interval_cells(ystar, y, t))
    labels = [f"sim_{k + 1}" for k in range(nsim)]
    if draws[0].ndim == 1:
        return pd.DataFrame(np.column_stack(draws), index=design.row_index, columns=labels)
    names = (["_t", "_d"] if scheme == "survival"
             else list(design.spec.response[:2]))
    columns = pd.MultiIndex.from_product([labels, names])
    return pd.DataFrame(np.hstack(draws), index=design.row_index, columns=columns)


def _tobit_censor(ystar, limits):
    """max(ll, min(y*, ul)) with the rows' limits (None: no limit on that side)."""
    ll, ul = limits
    out = ystar if ll is None else np.maximum(ystar, ll)
    return out if ul is None else np.minimum(out, ul)


def _interval_cells(ystar, y, t):
    """(lower, upper) of the cell of y* between each row's finite observed bounds (encoded
    rows ``y``, ``t`` of :mod:`statsmodels_me.families.censored`); NaN for infinite."""
    exact = t == y
    a = np.where(t == -np.inf, np.nan, y)               # finite lower bound or NaN
    b = np.where(t == -np.inf, y, np.where(t == np.inf, np.nan, t))
    lower = np.where(ystar >= b, b, np.where(ystar > a, a, np.nan))
    upper = np.where(ystar <= a, a, np.where(ystar < b, b, np.nan))
    return np.column_stack([np.where(exact, ystar, lower), np.where(exact, ystar, upper)])


def _event_times(family, eta, aux, y, t0, rng, censor):
    """T | eta, T > t0 by the inverse cumulative hazard; with ``censor`` the observed
    censoring times applied (columns time, failure)."""
    H0 = np.zeros(eta.shape[0])
    entered = t0 > 0
    if np.any(entered):
        H0[entered] = family.log_hazard_cumhaz(t0[entered], eta[entered], aux)[1]
    T = family.inverse_cumhaz(H0 + rng.standard_exponential(eta.shape[0]), eta, aux)
    if not censor:
        return T
    c = np.where(y < 0, -y, np.inf)                     # censored rows: their exit time
    return np.column_stack([np.minimum(T, c), (T <= c).astype(float)])


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
    """The model refitted to a new response ``y`` (estimation rows) with the same design;
    after metobit, meintreg and mestreg ``y`` is one simulation of :func:`simulate` (two
    columns: bounds, or time and failure)."""
    model = results.model
    design = model.design
    scheme = _observation_scheme(results)
    if scheme is not None:
        return _refit_observed(results, np.asarray(y, float), scheme, **fit_kwargs)
    data = design.sample_data.copy()
    data[design.endog_names[0]] = np.asarray(y, dtype=float)
    new = type(model).class_for_design(build_design(design.spec, data))
    return new(design=build_design(design.spec, data)).fit(**fit_kwargs)


def _refit_observed(results, y, scheme, **fit_kwargs):
    """metobit, meintreg or mestreg refitted to one simulation: the sample's covariates, the
    simulated response, and the fitted model's limits (metobit; ``ll``/``ul`` without a
    value keep the fitted limit) or entry times (mestreg)."""
    model = results.model
    design = model.design
    spec = design.spec
    data = design.sample_data.copy()
    if scheme == "censored":
        data[design.endog_names[0]] = y
        options, columns = dict(spec.options), {}
        for key, values in zip(("ll", "ul"), model.limit_values):
            if isinstance(options.get(key), str):
                columns[key] = values
            elif options.get(key) is True:
                options[key] = float(values[0])
        spec = replace(spec, options=options)
    elif scheme == "interval":
        data[spec.response[0]], data[spec.response[1]] = y[:, 0], y[:, 1]
        columns = {}
    else:
        names = dict(model.survival_variables)
        values = {"time": y[:, 0], "failure": y[:, 1]}
        names.setdefault("failure", "_d")
        if "entry" in names:
            values["entry"] = np.asarray(design.trials, float)
        columns = (names, values)
    return type(model)(design=build_design(spec, data), columns=columns).fit(**fit_kwargs)


def bootstrap(results, nboot, statistic=None, seed=None, **fit_kwargs):
    """Parametric bootstrap: refit to responses simulated from the fitted model (after
    mestreg with the observed censoring times applied, ``simulate(censor=True)``).

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
    scheme = _observation_scheme(results)
    sims = simulate(results, nboot, seed, censor=scheme == "survival")
    rows = []
    for col in sims.columns.unique(level=0):
        value = stat(refit(results, sims[col].to_numpy(), **fit_kwargs))
        rows.append(pd.Series(value) if not isinstance(value, pd.Series) else value)
    return pd.DataFrame(rows).reset_index(drop=True)
