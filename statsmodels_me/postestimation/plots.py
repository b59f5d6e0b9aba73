"""Diagnostic plots (matplotlib, the optional extra ``statsmodels-me[plots]``).

Each function returns the matplotlib ``Figure``; matplotlib is imported when a plot is drawn,
so the package works without it.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from statsmodels_me.postestimation.newdata import is_glmm
from statsmodels_me.postestimation.profile import profile_conf_int

__all__ = ["caterpillar_plot", "margins_plot", "profile_plot", "qq_plot",
           "residual_fitted_plot"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'statsmodels-me[plots]'") from None
    return plt


def _effects(results):
    """Per-group predicted random effects and their standard errors: {column: (b, se)}."""
    design = results.model.design
    b, se = results.predict("reffects"), results.predict("reses")
    out = {}
    for level in design.levels:
        for col in b.columns:
            if not col.endswith(f"[{level.label}]"):
                continue
            first = np.unique(level.codes, return_index=True)[1]
            out[col] = (b[col].to_numpy()[first], se[col].to_numpy()[first],
                        [str(v) for v in level.group_values])
    return out


def caterpillar_plot(results, alpha=0.05, effects=None):
    """Predicted random effects of every group, sorted, with ``1 - alpha`` intervals
    (b +- z se, se from ``predict("reses")``); one panel per random effect.

    Parameters
    ----------
    effects : list of str, optional
        Columns of ``predict("reffects")`` to draw (default: all).
    """
    plt = _pyplot()
    data = _effects(results)
    cols = effects or list(data)
    q = stats.norm.ppf(1 - alpha / 2)
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 5), squeeze=False)
    for ax, col in zip(axes[0], cols):
        b, se, labels = data[col]
        order = np.argsort(b)
        y = np.arange(len(b))
        ax.errorbar(b[order], y, xerr=q * se[order], fmt="o", ms=3, lw=0.8)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(y if len(y) <= 40 else [])
        if len(y) <= 40:
            ax.set_yticklabels([labels[k] for k in order], fontsize=7)
        ax.set_title(col)
    fig.tight_layout()
    return fig


def _fitted_residuals(results):
    if is_glmm(results):
        fitted = results.predict("mu")
        resid = results.predict("pearson")
    else:
        fitted = results.predict("fitted")
        resid = results.predict("residuals")
    return fitted.to_numpy(), resid.to_numpy()


def residual_fitted_plot(results):
    """Residuals (Pearson after ``meglm``) against fitted values."""
    plt = _pyplot()
    fitted, resid = _fitted_residuals(results)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(fitted, resid, s=8, alpha=0.6)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("fitted")
    ax.set_ylabel("residual")
    return fig


def qq_plot(results, what="residuals"):
    """Normal quantile plot of the residuals (``what="residuals"``) or of the predicted
    random effects of the first random effect of each level (``what="reffects"``)."""
    plt = _pyplot()
    if what == "residuals":
        series = {"residuals": _fitted_residuals(results)[1]}
    elif what == "reffects":
        series = {col: b for col, (b, _, _) in _effects(results).items()}
    else:
        raise ValueError(f"qq_plot: what={what!r} is not 'residuals' or 'reffects'")
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 4), squeeze=False)
    for ax, (name, values) in zip(axes[0], series.items()):
        v = np.sort(values)
        p = (np.arange(1, len(v) + 1) - 0.5) / len(v)
        ax.scatter(stats.norm.ppf(p), v, s=8)
        slope, intercept = np.std(v), np.mean(v)
        xs = np.array([stats.norm.ppf(p[0]), stats.norm.ppf(p[-1])])
        ax.plot(xs, intercept + slope * xs, color="grey", lw=0.8)
        ax.set_xlabel("normal quantile")
        ax.set_title(name)
    return fig


def profile_plot(results, alpha=0.05):
    """Profile-likelihood intervals of the variance components (after ``mixed``) beside the
    Wald intervals."""
    plt = _pyplot()
    prof = profile_conf_int(results, alpha)
    params = results.params
    wald = results.conf_int(alpha)
    fig, ax = plt.subplots(figsize=(6, 1 + 0.6 * len(prof)))
    for k, name in enumerate(prof.index):
        est = float(np.asarray(params)[list(results.param_names).index(name)])
        lo, hi = prof.loc[name]
        ax.plot([lo, hi], [k, k], lw=3, color="C0", label="profile" if k == 0 else None)
        w = np.asarray(wald)[list(results.param_names).index(name)]
        ax.plot(w, [k + 0.2, k + 0.2], lw=1, color="grey", label="Wald" if k == 0 else None)
        ax.plot([est], [k], "ko")
    ax.set_yticks(range(len(prof)))
    ax.set_yticklabels(list(prof.index))
    ax.legend()
    fig.tight_layout()
    return fig


def margins_plot(frame):
    """Stata's ``marginsplot``: each row of a :func:`~.margins.margins` table as a point
    with its confidence interval, in table order."""
    plt = _pyplot()
    missing = {"margin", "ci_lower", "ci_upper"} - set(frame.columns)
    if missing:
        raise ValueError(f"margins_plot: the table lacks {', '.join(sorted(missing))}; pass "
                         "the DataFrame returned by margins()")
    x = np.arange(len(frame))
    m = frame["margin"].to_numpy()
    err = np.vstack([m - frame["ci_lower"].to_numpy(), frame["ci_upper"].to_numpy() - m])
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(frame) + 2), 4))
    ax.errorbar(x, m, yerr=err, fmt="o-", capsize=3)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i) for i in frame.index], rotation=45, ha="right")
    ax.set_ylabel("margin")
    fig.tight_layout()
    return fig
