"""Simulation from a fitted model (lme4's ``simulate``), parametric bootstrap and profile
likelihood intervals of variance components.

New responses draw the random effects of every group from N(0, Sigma) at the estimates (each
level's covariance from :meth:`estat_recovariance`), add them to the fixed part through the
estimation sample's covariates, and draw the response from the conditional distribution:
normal with the residual variance after ``mixed``, the family's distribution after ``meglm``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from statsmodels_me.design.build import build_design
from statsmodels_me.postestimation.newdata import fixed_names, is_glmm
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["bootstrap", "profile_conf_int", "simulate"]

_DRAWS = ("gaussian", "bernoulli", "binomial", "poisson")


def _check(results):
    model = results.model
    command = model.spec.command
    if not (is_glmm(results) or command.startswith("mixed")):
        raise NotImplementedError(f"simulate is not implemented after {command}")
    if is_glmm(results) and model.family.name not in _DRAWS:
        raise NotImplementedError(f"simulate: drawing from family '{model.family.name}' is not "
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
    family = model.family if is_glmm(results) else None
    trials = design.trials if design.trials is not None else np.ones(design.nobs)
    for k in range(int(nsim)):
        eta = xb + _random_part(results, rng)
        if family is None:
            s2 = float(np.asarray(results.params)[-1])
            out[:, k] = eta + rng.standard_normal(design.nobs) * np.sqrt(s2)
        elif family.name == "gaussian":
            s2 = float(np.asarray(results.params)[-1])
            out[:, k] = family.mean(eta) + rng.standard_normal(design.nobs) * np.sqrt(s2)
        elif family.name == "poisson":
            out[:, k] = rng.poisson(family.mean(eta))
        else:
            p = family.probability(eta, trials)
            out[:, k] = rng.binomial(trials.astype(np.int64), p)
    return pd.DataFrame(out, index=design.row_index,
                        columns=[f"sim_{k + 1}" for k in range(int(nsim))])


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


def profile_conf_int(results, alpha=0.05, which=None):
    """Profile-likelihood intervals for variance components after ``mixed``.

    For each component the log likelihood is maximized over every other parameter with the
    component held fixed (through the model's ``loglike`` at display-scale parameters), and
    the interval is where 2 (ll_max - ll_profile) stays below the chi2(1) quantile.

    Parameters
    ----------
    which : list of str, optional
        Names of the components (default every ``/var(...)`` parameter).

    Returns
    -------
    DataFrame
        Index: parameter names; columns ``ci_lower``, ``ci_upper``. A lower limit on the
        boundary is 0.
    """
    model = results.model
    if is_glmm(results) or not hasattr(model, "loglike") or \
            not model.spec.command.startswith("mixed"):
        raise NotImplementedError("profile intervals are implemented after mixed")
    names = list(results.param_names)
    params = np.asarray(results.params, float)
    which = which or [n for n in names if n.startswith("/var(")]
    crit = stats.chi2.ppf(1 - alpha, 1) / 2
    ll_max = float(model.loglike(params))
    se = np.sqrt(np.diag(np.asarray(results.cov_params(), float)))
    out = {}
    for name in which:
        if name not in names:
            raise SpecificationError(f"profile: no parameter named '{name}'")
        j = names.index(name)
        others = [i for i in range(len(params)) if i != j]
        # the other variances are optimized on the log scale (they stay positive)
        is_var = np.array([names[i].startswith("/var(") for i in others])
        x0 = np.where(is_var, np.log(np.where(is_var, params[others], 1.0)), params[others])
        start = x0.copy()

        def profile(v, j=j, others=others, start=start, is_var=is_var):
            def negll(x):
                full = params.copy()
                full[j] = v
                full[others] = np.where(is_var, np.exp(np.minimum(x, 700)), x)
                try:
                    val = model.loglike(full)
                except SpecificationError:
                    return np.inf
                return -val if np.isfinite(val) else np.inf
            fit = optimize.minimize(negll, start, method="BFGS", options={"gtol": 1e-8})
            start[:] = fit.x
            return ll_max - (-fit.fun) - crit

        est, step = params[j], max(se[j], 1e-3 * abs(params[j]))
        lo = 0.0
        if est > 0 and profile(1e-10) > 0:
            a = est
            b_ = max(est - step, est / 2)
            while profile(b_) < 0 and b_ > 1e-10:
                a, b_ = b_, b_ / 2
            lo = optimize.brentq(profile, b_, a, xtol=1e-10 * max(est, 1))
        start[:] = x0
        a, b_ = est, est + step
        while profile(b_) < 0:
            a, b_ = b_, b_ + 2 * step
        hi = optimize.brentq(profile, a, b_, xtol=1e-10 * max(est, 1))
        start[:] = x0
        out[name] = (lo, hi)
    return pd.DataFrame.from_dict(out, orient="index", columns=["ci_lower", "ci_upper"])
