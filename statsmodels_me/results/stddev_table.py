"""Random-effects table as standard deviations and correlations (Stata's ``stddeviations``).

``sd = sqrt(var)`` with standard error ``se(var) / (2 sd)`` and the interval of the variance
square-rooted (both are Stata's log-scale interval, since ``ln sd = ln(var) / 2``);
``corr = cov / sqrt(var_a var_b)`` with its delta-method standard error from the joint
covariance of ``(cov, var_a, var_b)`` and an interval on Fisher's ``atanh`` scale, as Stata's
``mixed, stddeviations`` ([ME] mixed, Methods and formulas).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats


def _var_index(group_rows):
    """Random-effect name -> parameter index of its variance within one level."""
    out = {}
    for label, idx in group_rows:
        m = re.fullmatch(r"var\((.*)\)", label)
        if m:
            for name in m.group(1).split():
                out[name] = idx
    return out


def _sd_row(est, se, lo, hi):
    if est <= 0:
        return [max(est, 0.0) ** 0.5, np.nan, 0.0 if np.isfinite(lo) else np.nan, np.nan]
    sd = np.sqrt(est)
    return [sd, se / (2 * sd), np.sqrt(lo) if np.isfinite(lo) else np.nan,
            np.sqrt(hi) if np.isfinite(hi) else np.nan]


def _corr_row(params, cov, c_idx, a_idx, b_idx, z):
    c, va, vb = params[c_idx], params[a_idx], params[b_idx]
    if va <= 0 or vb <= 0:
        return [np.nan] * 4
    s = np.sqrt(va * vb)
    r = c / s
    grad = {c_idx: 1.0 / s}
    grad[a_idx] = grad.get(a_idx, 0.0) - r / (2 * va)
    grad[b_idx] = grad.get(b_idx, 0.0) - r / (2 * vb)
    idx = list(grad)
    g = np.array([grad[i] for i in idx])
    var_r = float(g @ cov[np.ix_(idx, idx)] @ g)
    if not np.isfinite(var_r) or var_r <= 0 or abs(r) >= 1:
        return [r, np.nan, np.nan, np.nan]
    se = np.sqrt(var_r)
    half = z * se / (1 - r * r)
    return [r, se, np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)]


def stddev_table(info, params, cov_params, vcomp, alpha):
    """The ``vcomp`` table of a fit re-expressed as standard deviations and correlations.

    Parameters
    ----------
    info : FitInfo
    params : ndarray
    cov_params : ndarray
        Covariance of the display-scale parameters.
    vcomp : DataFrame
        The variance-scale table (:func:`~statsmodels_me.results.base.vcomp_frame`), in the
        order of ``info.vcomp_groups`` then the residual.
    alpha : float

    Returns
    -------
    labels : list of str
        ``sd(...)``/``corr(...)`` labels, one per row of ``vcomp``.
    DataFrame
        Same index and columns as ``vcomp``.
    """
    params = np.asarray(params, dtype=float)
    cov = np.asarray(cov_params, dtype=float)
    z = stats.norm.isf(alpha / 2)
    labels, rows = [], []
    k = 0
    for group in info.vcomp_groups:
        var_of = _var_index(group.rows)
        for label, idx in group.rows:
            r = vcomp.iloc[k].to_numpy()
            k += 1
            m = re.fullmatch(r"cov\((.*)\)", label)
            names = re.split(r"[,\s]+", m.group(1)) if m else []
            if m and len(names) >= 2 and names[0] in var_of and names[1] in var_of:
                labels.append(f"corr({m.group(1)})")
                rows.append(_corr_row(params, cov, idx, var_of[names[0]], var_of[names[1]], z))
            elif label.startswith("var("):
                labels.append("sd(" + label[4:])
                rows.append(_sd_row(*r))
            else:
                labels.append(label)
                rows.append(list(r))
    if info.residual is not None:
        label = info.residual[0]
        labels.append("sd(" + label[4:] if label.startswith("var(") else label)
        rows.append(_sd_row(*vcomp.iloc[k].to_numpy()))
    frame = pd.DataFrame(np.array(rows, dtype=float).reshape(len(rows), 4),
                         index=vcomp.index, columns=vcomp.columns)
    return labels, frame
