"""``estat icc``, ``estat sd``, ``estat group`` and ``estat recovariance``.

They read the results' public API only: the per-level covariance structures and the position
of their parameters (``results.re_covariances``), the display-scale parameters and their
covariance, ``results.info`` and ``results.model.design``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from statsmodels_me.spec.errors import SpecificationError


def estat_group(results):
    """Number of groups and observations per group at each level (Stata's ``estat group``):
    the fit's table (``results.info.group_table``, a fit on a dask DataFrame) or the
    design's."""
    table = results.info.group_table
    return table.copy() if table is not None else results.model.design.group_summary()


def estat_recovariance(results):
    """Estimated random-effects covariance matrix of each level: dict ``level -> DataFrame``."""
    params = np.asarray(results.params)
    out = {}
    for cov, sl in results.re_covariances:
        vals = params[sl]
        names = _display_effect_names(cov)
        mat = np.zeros((len(names), len(names)))
        for row, v in zip(cov.rows, vals):
            mat[row.i, row.j] = mat[row.j, row.i] = v
        if cov.kind_label == "Identity":
            mat = np.eye(len(names)) * vals[0]
        out[cov.level_label] = pd.DataFrame(mat, index=names, columns=names)
    return out


def _display_effect_names(cov):
    names = list(cov.names)
    if names and names[0].startswith("R.") and len(names) == 1:
        return names
    return names if len(names) == cov.q else [str(n) for n in range(cov.q)]


def estat_sd(results, alpha=0.05):
    """Variance components as standard deviations and correlations, with delta-method SEs.

    Standard deviations get log-scale intervals and correlations atanh-scale intervals, as
    Stata's ``estat sd`` prints them. Returns a DataFrame indexed by ``level: sd(x)`` /
    ``level: corr(x,y)`` and ``sd(Residual)``.
    """
    params = np.asarray(results.params)
    V = np.asarray(results.cov_params())
    z = stats.norm.ppf(1 - alpha / 2)
    rows = {}
    for cov, sl in results.re_covariances:
        idx = np.arange(sl.start, sl.stop)
        var_pos = {}
        for row, k in zip(cov.rows, idx):
            if row.is_variance:
                var_pos[row.i] = k
        for row, k in zip(cov.rows, idx):
            if row.is_variance:
                v = params[k]
                sd = np.sqrt(max(v, 0.0))
                se = np.sqrt(V[k, k]) / (2 * sd) if sd > 0 else np.nan
                lab = f"{cov.level_label}: sd({row.label[4:-1]})"
                ci = ((sd * np.exp(-z * se / sd), sd * np.exp(z * se / sd)) if sd > 0
                      else (np.nan, np.nan))
                rows[lab] = (sd, se, *ci)
            else:
                ki, kj = var_pos.get(row.i), var_pos.get(row.j)
                if ki is None or kj is None:
                    continue
                c, vi, vj = params[k], params[ki], params[kj]
                r = c / np.sqrt(vi * vj)
                g = np.zeros(len(params))
                g[k] = 1 / np.sqrt(vi * vj)
                g[ki] = -0.5 * r / vi
                g[kj] = -0.5 * r / vj
                se = float(np.sqrt(g @ V @ g))
                zr, sez = np.arctanh(r), se / (1 - r * r)
                lab = f"{cov.level_label}: corr({row.label[4:-1]})"
                rows[lab] = (r, se, np.tanh(zr - z * sez), np.tanh(zr + z * sez))
    if getattr(results.info, "residual", None):
        label, k = results.info.residual
        v = params[k]
        sd = np.sqrt(v)
        se = np.sqrt(V[k, k]) / (2 * sd)
        rows["sd(" + label[4:]] = (sd, se, sd * np.exp(-z * se / sd), sd * np.exp(z * se / sd))
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["estimate", "std_err", "ci_lower", "ci_upper"])


def estat_icc(results, alpha=0.05):
    """Intraclass correlations at each level of a random-intercept model, with CIs.

    The correlation at level k is the share of the total variance due to the random
    intercepts of level k and every level above it (Stata's ``estat icc``); for logit and
    probit GLMMs the residual variance is the latent one (pi^2/3 or 1). Intervals are computed
    on the logit scale by the delta method.
    """
    params = np.asarray(results.params)
    V = np.asarray(results.cov_params())
    z = stats.norm.ppf(1 - alpha / 2)
    slices = results.re_covariances
    for cov, _ in slices:
        if list(cov.names) != ["_cons"]:
            raise SpecificationError("estat icc: requires a random-intercept model (only "
                                     f"'_cons' at each level); level '{cov.level_label}' has "
                                     f"{', '.join(cov.names)}")
    idx = [sl.start for _, sl in slices]
    resid_idx = results.info.residual[1] if getattr(results.info, "residual", None) else None
    latent = results.latent_residual_variance
    total_g = np.zeros(len(params))
    total = 0.0
    for k in idx:
        total += params[k]
        total_g[k] = 1.0
    if resid_idx is not None:
        total += params[resid_idx]
        total_g[resid_idx] = 1.0
    elif latent is not None:
        total += latent
    else:
        raise SpecificationError("estat icc: not available for this model family")
    out = {}
    num, num_g = 0.0, np.zeros(len(params))
    for (cov, _), k in zip(slices, idx):
        num += params[k]
        num_g[k] = 1.0
        icc = num / total
        g = num_g / total - num * total_g / total ** 2
        se = float(np.sqrt(g @ V @ g))
        lg, selg = np.log(icc / (1 - icc)), se / (icc * (1 - icc))
        lo, hi = 1 / (1 + np.exp(-(lg - z * selg))), 1 / (1 + np.exp(-(lg + z * selg)))
        out[cov.level_label] = (icc, se, lo, hi)
    return pd.DataFrame.from_dict(out, orient="index",
                                  columns=["icc", "std_err", "ci_lower", "ci_upper"])
