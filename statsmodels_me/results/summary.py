"""Stata-layout summary of a mixed-effects fit (header, fixed effects, random effects, tests).

:class:`MESummary` computes the numbers once (as DataFrames in ``tables``) and renders them as
text in Stata's layout (``as_text``) or as HTML (``as_html``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from statsmodels_me.inference.lrtests import lr_note
from statsmodels_me.results.formatting import fmt_count, fmt_f, fmt_g
from statsmodels_me.results.summary_export import summary_latex

LINE = 78          # Stata's output width
RIGHT_COL = 48     # where the right-hand header column starts
FE_WIDTHS = (11, 11, 9, 8, 13, 12)   # estimate, se, z, p, ci lower, ci upper
RE_WIDTHS = (11, 11, 14, 12)         # estimate, se, ci lower, ci upper

_EFORM_NOTE_STARTS = ("Estimates are transformed", "_cons estimates baseline")


def _eform_title(eform, info):
    if eform is None:
        return info.eform
    if eform is True:
        return info.eform or "exp(b)"
    if eform is False:
        return None
    return str(eform)


def _is_constrained(se):
    return not np.isfinite(se) or se == 0


class MESummary:
    """Summary of an :class:`~statsmodels_me.results.base.MEResults`.

    Parameters
    ----------
    results : MEResults
    eform : None, bool or str
        See :meth:`MEResults.summary`.
    alpha : float
        Intervals are at level ``1 - alpha``.

    Attributes
    ----------
    tables : list of DataFrame
        ``[header, groups, coefficients, random effects]``: the header items (label -> value),
        the per-level group counts, the fixed-effects and ancillary rows (on the eform scale
        when requested) and the variance components.
    """

    def __init__(self, results, eform=None, alpha=0.05):
        self.results = results
        self.info = info = results.info
        self.alpha = alpha
        self.eform_title = _eform_title(eform, info)
        self.level = 100 * (1 - alpha)
        self._z = stats.norm.isf(alpha / 2)
        self.coef = self._coef_table()
        self.vcomp = results.vcomp_table(alpha)
        self.groups = self._group_table()
        self.header = self._header_items()
        self.tables = [
            pd.DataFrame({"value": [v for _, v in self.header]},
                         index=pd.Index([k for k, _ in self.header], name="item")),
            self.groups,
            self.coef,
            self.vcomp,
        ]

    # ------------------------------------------------------------------ numbers
    def _coef_table(self):
        res, info = self.results, self.info
        params = np.asarray(res.params, dtype=float)
        bse = np.sqrt(np.diag(np.asarray(res.normalized_cov_params, dtype=float)))
        names = list(res.param_names)
        index = list(range(info.k_fe)) + list(info.ancillary)
        b, se = params[index], bse[index]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, b / se, np.nan)
        p = 2 * stats.norm.sf(np.abs(z))
        lo, hi = b - self._z * se, b + self._z * se
        est, err = b.copy(), se.copy()
        if self.eform_title is not None:
            fe = np.arange(len(index)) < info.k_fe
            est[fe] = np.exp(b[fe])
            err[fe] = est[fe] * se[fe]
            lo[fe], hi[fe] = np.exp(lo[fe]), np.exp(hi[fe])
        anc = np.arange(len(index)) >= info.k_fe
        z[anc] = np.nan
        p[anc] = np.nan
        cols = [self.eform_title or "coef", "std_err", "z", "P>|z|", "ci_lower", "ci_upper"]
        return pd.DataFrame(np.column_stack([est, err, z, p, lo, hi]),
                            index=pd.Index([names[i] for i in index], name="parameter"),
                            columns=cols)

    def _group_table(self):
        design = getattr(self.results.model, "design", None)
        if design is None:
            return pd.DataFrame(columns=["groups", "min", "avg", "max"])
        return design.group_summary()

    def _header_items(self):
        res, info = self.results, self.info
        items = [("title", info.title), ("Number of obs", fmt_count(res.nobs))]
        items += [(k, str(v)) for k, v in info.extra_header]
        g = self.groups
        if len(g) == 1:
            items += [("Group variable", str(g.index[0])),
                      ("Number of groups", fmt_count(g["groups"].iloc[0])),
                      ("Obs per group: min", fmt_count(g["min"].iloc[0])),
                      ("Obs per group: avg", fmt_f(float(g["avg"].iloc[0]), 1)),
                      ("Obs per group: max", fmt_count(g["max"].iloc[0]))]
        if info.intmethod:
            items.append(("Integration method", info.intmethod))
            if info.intpoints and info.intmethod != "laplace":
                items.append(("Integration pts.", str(info.intpoints)))
        if info.wald is not None:
            chi2, df, pval = info.wald
            items += [(f"Wald chi2({int(df)})", fmt_f(chi2, 2)), ("Prob > chi2", fmt_f(pval, 4))]
        items.append((info.ll_label, fmt_g(info.llf, 8)))
        return items

    # ------------------------------------------------------------------ text
    def _header_text(self):
        info, h = self.info, dict(self.header)
        rows = []   # (left text, right text)

        def right(label, value, align="<"):
            return f"{label:{align}17} = {value:>10}"

        rows.append((info.title, right("Number of obs", h["Number of obs"])))
        rows += [(f"{k}: {v}", "") for k, v in info.extra_header]
        g = self.groups
        if len(g) == 1:
            rows.append((f"Group variable: {h['Group variable']}",
                         right("Number of groups", h["Number of groups"])))
            rows.append(("", "Obs per group:"))
            rows += [("", right(k, h[f"Obs per group: {k}"], ">")) for k in ("min", "avg", "max")]
        lines = [self._two_col(a, b) for a, b in rows]
        if len(g) > 1:
            lines += [""] + self._group_lines()
        if info.intmethod:
            pts = h.get("Integration pts.")
            lines += ["", self._two_col(f"Integration method: {info.intmethod}",
                                        right("Integration pts.", pts) if pts else "")]
        ll = f"{info.ll_label} = {h[info.ll_label]}"
        lines.append("")   # Stata: blank before the test block in GLMM (quadrature) output
        if not info.intmethod:
            lines.pop()
        if info.wald is not None:
            chi2_label = f"Wald chi2({int(info.wald[1])})"
            lines.append(self._two_col("", right(chi2_label, h[chi2_label])))
            lines.append(self._two_col(ll, right("Prob > chi2", h["Prob > chi2"])))
        else:
            lines.append(ll)
        return lines

    @staticmethod
    def _two_col(left, right):
        if not right:
            return left
        if len(left) >= RIGHT_COL:
            return left + "\n" + " " * RIGHT_COL + right
        return left.ljust(RIGHT_COL) + right

    def _group_lines(self):
        g = self.groups
        labels = [str(i).split(">")[-1] for i in g.index]
        w = max(15, max(len(s) for s in labels) + 1)
        cols = 44
        out = ["-" * (w + 2 + cols),
               f"{'':{w}} |{'No. of':>11}       Observations per group",
               f"{'Group variable':>{w}} |{'groups':>11}{'Minimum':>11}{'Average':>11}"
               f"{'Maximum':>11}",
               "-" * (w + 1) + "+" + "-" * cols]
        for lab, (_, r) in zip(labels, g.iterrows(), strict=True):
            out.append(f"{lab:>{w}} |{fmt_count(r['groups']):>11}{fmt_count(r['min']):>11}"
                       f"{fmt_f(float(r['avg']), 1):>11}{fmt_count(r['max']):>11}")
        out.append("-" * (w + 2 + cols))
        return out

    def _fe_row(self, name, w, est, se, z, p, lo, hi):
        if _is_constrained(se):
            return f"{name:>{w}} |{fmt_g(est):>11}  (constrained)"
        zs = fmt_f(z, 2) if np.isfinite(z) else ""
        ps = fmt_f(p, 3) if np.isfinite(p) else ""
        return (f"{name:>{w}} |{fmt_g(est):>11}{fmt_g(se):>11}{zs:>9}{ps:>8}"
                f"{fmt_g(lo):>13}{fmt_g(hi):>12}")

    def _vcomp_rows(self):
        """Rows of the vcomp table in display order (labels need not be unique)."""
        return (r for _, r in self.vcomp.iterrows())

    def _combined_re(self):
        """Random-effects rows inside the coefficient table (Stata's ``me`` commands)."""
        rows = []   # ("section", label) | ("row", label, est, se, z, p, lo, hi) | ("rule",)
        vc = self._vcomp_rows()
        for group in self.info.vcomp_groups:
            rows += [("rule",), ("section", group.level_label)]
            for label, _ in group.rows:
                r = next(vc)
                z = p = np.nan
                if label.startswith("cov(") and not _is_constrained(r["std_err"]):
                    z = r["estimate"] / r["std_err"]
                    p = 2 * stats.norm.sf(abs(z))
                rows.append(("row", label, r["estimate"], r["std_err"], z, p,
                             r["ci_lower"], r["ci_upper"]))
        if self.info.residual is not None:
            r = next(vc)
            rows += [("rule",), ("row", self.info.residual[0], r["estimate"], r["std_err"],
                                 np.nan, np.nan, r["ci_lower"], r["ci_upper"])]
        return rows

    def _fe_lines(self, combined):
        info = self.info
        depvar = self.results.model.endog_names
        if not isinstance(depvar, str):
            depvar = " ".join(map(str, depvar))
        extra = self._combined_re() if combined else []
        names = [depvar, *self.coef.index] + [r[1] for r in extra if r[0] != "rule"]
        w = max(12, max(len(str(n)) for n in names))
        cols = sum(FE_WIDTHS)
        title = self.eform_title or "Coefficient"
        head = f"{title:>11}" if len(title) < 10 else " " + title
        ci = f"[{self.level:g}% conf. interval]"
        out = ["-" * (w + 2 + cols),
               f"{depvar:>{w}} |{head:<12}{'Std. err.':>11}{'z':>7}{'P>|z|':>9}{ci:>25}",
               "-" * (w + 1) + "+" + "-" * cols]
        for i, (name, r) in enumerate(self.coef.iterrows()):
            if i == info.k_fe and i > 0:
                out.append("-" * (w + 1) + "+" + "-" * cols)
            out.append(self._fe_row(name, w, *r.to_numpy()))
        for r in extra:
            if r[0] == "rule":
                out.append("-" * (w + 1) + "+" + "-" * cols)
            elif r[0] == "section":
                out.append(f"{r[1]:<{w}} |")
            else:
                out.append(self._fe_row(*r[1:2], w, *r[2:]))
        out.append("-" * (w + 2 + cols))
        return out

    def _re_lines(self):
        """The separate random-effects table of ``mixed`` and ``menl``."""
        info, vc = self.info, self._vcomp_rows()
        labels = [lab for g in info.vcomp_groups for lab, _ in g.rows]
        labels += [f"{g.level_label}: {g.kind_label}" for g in info.vcomp_groups]
        if info.residual is not None:
            labels.append(info.residual[0])
        w = max(28, max((len(s) for s in labels), default=0) + 1)
        cols = sum(RE_WIDTHS)
        rule = "-" * (w + 1) + "+" + "-" * cols
        ci = f"[{self.level:g}% conf. interval]"
        out = ["-" * (w + 2 + cols),
               f"{'Random-effects parameters':^{w + 1}}|{'Estimate':>11}{'Std. err.':>12}{ci:>25}",
               rule]

        def row(label, r):
            if _is_constrained(r["std_err"]):
                return f"{label:>{w}} |{fmt_g(r['estimate']):>11}  (constrained)"
            return (f"{label:>{w}} |{fmt_g(r['estimate']):>11}{fmt_g(r['std_err']):>11}"
                    f"{fmt_g(r['ci_lower']):>14}{fmt_g(r['ci_upper']):>12}")

        for k, g in enumerate(info.vcomp_groups):
            if k:
                out.append(rule)
            # mixed names a nested level by its own variable ("class: Identity")
            out.append(f"{g.level_label.split('>')[-1] + ': ' + g.kind_label:<{w}} |")
            out += [row(lab, next(vc)) for lab, _ in g.rows]
        if info.residual is not None:
            if info.vcomp_groups:
                out.append(rule)
            out.append(row(info.residual[0], next(vc)))
        out.append("-" * (w + 2 + cols))
        return out

    def _lr_lines(self):
        lr = self.info.lr_test
        if lr is None:
            return []
        left = f"LR test vs. {lr.versus}: {lr.kind} = {fmt_f(lr.stat, 2)}"
        if lr.kind.startswith("chibar2"):
            right = f"Prob >= chibar2 = {fmt_f(lr.pvalue, 4)}"
        else:
            right = f"Prob > chi2 = {fmt_f(lr.pvalue, 4)}"
        gap = max(LINE - len(left) - len(right), 2)
        out = [left + " " * gap + right]
        note = lr_note(lr)
        if note is not None:
            out.append("Note: " + note)
        return out

    def _note_lines(self):
        notes = self.info.notes
        if self.eform_title is None:
            # the model's eform notes do not apply when coefficients are shown
            notes = [n for n in notes if not n.startswith(_EFORM_NOTE_STARTS)]
        out = [n if n.lower().startswith("note") else f"Note: {n}" for n in notes]
        vc = self.vcomp
        at_zero = [name for name, r in vc.iterrows()
                   if r["estimate"] <= 0 and r["std_err"] > 0 and r["ci_lower"] == 0]
        if at_zero:
            out.append(f"Note: {', '.join(at_zero)} estimated at the boundary (zero); the "
                       "log-scale confidence interval is not defined.")
        return out

    @property
    def separate_re_table(self):
        """Whether random effects get their own table (``mixed``, ``menl``: no quadrature)."""
        return self.info.intmethod is None

    def as_text(self):
        """The summary as plain text in Stata's layout."""
        combined = not self.separate_re_table
        lines = self._header_text() + [""] + self._fe_lines(combined)
        if not combined and (self.info.vcomp_groups or self.info.residual is not None):
            lines += [""] + self._re_lines()
        lines += self._note_lines()
        lines += self._lr_lines()
        return "\n".join(lines)

    def as_html(self):
        """The summary as HTML (tables plus the test line and notes)."""
        from statsmodels_me.results.html import summary_html
        return summary_html(self)

    def as_latex(self):
        """The summary as a LaTeX table (see :mod:`statsmodels_me.results.summary_export`)."""
        return summary_latex(self)

    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return self.as_text()

    def _repr_html_(self):
        return self.as_html()
