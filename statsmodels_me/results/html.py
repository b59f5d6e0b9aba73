"""HTML rendering of :class:`~statsmodels_me.results.summary.MESummary` (for notebooks)."""
from __future__ import annotations

import html

import numpy as np

from statsmodels_me.results.formatting import fmt_count, fmt_f, fmt_g


def _table(header, rows, caption=None):
    out = ['<table class="simpletable">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _num(x, kind="g"):
    if kind == "g":
        return fmt_g(x)
    return fmt_f(x, kind) if np.isfinite(x) else ""


def summary_html(summary):
    """The summary's tables as HTML: header, groups, coefficients, random effects, tests.

    Parameters
    ----------
    summary : MESummary

    Returns
    -------
    str
    """
    parts = [f"<p>{html.escape(line)}</p>" for line in summary.design_notes()]
    items = [(k, v) for k, v in summary.header if k != "title"]
    half = (len(items) + 1) // 2
    left, right = items[:half], items[half:] + [("", "")] * (2 * half - len(items))
    parts.append(_table(["", "", "", ""],
                        [(a[0], a[1], b[0], b[1]) for a, b in zip(left, right, strict=True)],
                        caption=summary.info.title))
    g = summary.groups
    if len(g) > 1:
        parts.append(_table(
            ["Group variable", "No. of groups", "Minimum", "Average", "Maximum"],
            [(lab, fmt_count(r["groups"]), fmt_count(r["min"]), fmt_f(float(r["avg"]), 1),
              fmt_count(r["max"])) for lab, r in g.iterrows()]))
    depvar = summary.results.model.endog_names
    if not isinstance(depvar, str):
        depvar = " ".join(map(str, depvar))
    ci = f"[{summary.level:g}% conf. interval]"
    rows = []
    for name, r in summary.coef.iterrows():
        est, se, z, p, lo, hi = r.to_numpy()
        rows.append((name, fmt_g(est), fmt_g(se), _num(z, 2), _num(p, 3), fmt_g(lo), fmt_g(hi)))
    parts.append(_table([depvar, summary.eform_title or "Coefficient", "Std. err.",
                         summary.coef.columns[2], summary.coef.columns[3], ci, ""], rows))
    if len(summary.vcomp):
        rows = [(name, fmt_g(r["estimate"]), fmt_g(r["std_err"]), fmt_g(r["ci_lower"]),
                 fmt_g(r["ci_upper"])) for name, r in summary.vcomp.iterrows()]
        parts.append(_table(["Random-effects parameters", "Estimate", "Std. err.", ci, ""],
                            rows))
    tail = summary.note_lines() + summary.lr_lines()
    parts += [f"<p>{html.escape(line)}</p>" for line in tail if line]
    return "\n".join(parts)
