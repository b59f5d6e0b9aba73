"""The summary of a fit as statsmodels' ``Summary`` (``summary2``) and as LaTeX.

Built from the numbers an :class:`~statsmodels_me.results.summary.MESummary` computed (its
header items, group counts, fixed-effects and variance-component tables), so every format
shows the same values; statsmodels' ``Summary.as_latex`` escapes the labels (``_``, ``#``,
``<``, ``>``).
"""
from __future__ import annotations

from statsmodels.iolib.summary2 import Summary

__all__ = ["summary2_from", "summary_latex"]


def summary2_from(summary) -> Summary:
    """statsmodels ``Summary`` (``iolib.summary2``) of an ``MESummary``: title, header items,
    groups per level, fixed effects and variance components."""
    out = Summary()
    out.add_title(dict(summary.header).get("title") or "")
    out.add_dict({k: v for k, v in summary.header if k != "title"})
    if len(summary.groups) > 1:
        out.add_df(summary.groups, float_format="%.1f")
    out.add_df(summary.coef, float_format="%.4f")
    if len(summary.vcomp):
        out.add_df(summary.vcomp, float_format="%.4f")
    return out


def summary_latex(summary) -> str:
    """The summary as a LaTeX ``table`` (statsmodels' ``Summary.as_latex`` layout)."""
    return summary2_from(summary).as_latex()
