"""Stata-layout summary of a mixed-effects fit (header, fixed effects, random effects, tests).

:class:`MESummary` computes the numbers once (as DataFrames in ``tables``) and renders them as
text in Stata's layout (``as_text``) or as HTML (``as_html``).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from statsmodels_me.families.eform import EFORM_LABELS
from statsmodels_me.inference.lrtests import lr_note
from statsmodels_me.results.formatting import fmt_count, fmt_f, fmt_g
from statsmodels_me.results.stddev_table import stddev_table
from statsmodels_me.results.summary_export import summary_latex
from statsmodels_me.spec.option_values import level_value
from statsmodels_me.spec.options import OPTIONS

LINE = 78          # Stata's output width
RIGHT_COL = 48     # where the right-hand header column starts
FE_WIDTHS = (11, 11, 9, 8, 13, 12)   # estimate, se, z, p, ci lower, ci upper
RE_WIDTHS = (11, 11, 14, 12)         # estimate, se, ci lower, ci upper

_EFORM_NOTE_STARTS = ("Estimates are transformed", "_cons estimates baseline")

#: Stata's reporting options a summary takes, as command options or as keywords
DISPLAY_OPTIONS = tuple(name for name, d in OPTIONS.items()
                        if d.use == "display" and name not in EFORM_LABELS)
#: eform keywords: ``or_=True`` (Python's spelling of Stata's ``or``), ``irr=True``, ...
_EFORM_KEYWORDS = {"or_": "or", "or": "or", "irr": "irr", "eform": "eform", "hr": "hr"}


def _display_settings(options, alpha, display):
    """Reporting settings: the command's options overridden by summary() keywords."""
    unknown = sorted(set(display) - set(DISPLAY_OPTIONS) - set(_EFORM_KEYWORDS))
    if unknown:
        raise TypeError(f"summary() got unexpected keyword(s) {', '.join(unknown)}; display "
                        f"options: {', '.join(DISPLAY_OPTIONS + ('eform', 'or_', 'irr'))}")
    settings = {k: options.get(k) for k in DISPLAY_OPTIONS}
    eform = None
    for key, value in display.items():
        if key in _EFORM_KEYWORDS:
            if value:
                eform = EFORM_LABELS[_EFORM_KEYWORDS[key]]
        else:
            settings[key] = value
    level = settings.pop("level")
    if alpha is not None and level is not None and "level" in display:
        raise TypeError("summary(): give alpha or level, not both")
    if alpha is None:
        alpha = 0.05 if level is None else 1 - level_value("level", level)["level"] / 100
    return alpha, eform, {k: bool(v) for k, v in settings.items()}


def _display_name(name):
    """``1b.id`` -> ``1.id`` and ``o.w2`` -> ``w2``: Stata's table labels of e(b) names."""
    name = re.sub(r"(^|#)o\.", r"\1", name)
    return re.sub(r"(\d+)[bo]+\.", r"\1.", name)


def _eform_title(eform, info):
    if eform is None:
        return info.eform
    if eform is True:
        return info.eform or "exp(b)"
    if eform is False:
        return None
    return str(eform)


def _is_constrained(se):
    """A standard error of exactly zero: the parameter is held fixed (Stata's "(constrained)")."""
    return se == 0


def _is_missing(se):
    """A standard error that could not be computed (Stata prints "." in its columns)."""
    return not np.isfinite(se)


def _robust_head(info, lines, se_end):
    """Under ``vce(robust)``: Stata's "(Std. err. adjusted for N clusters in id)" over the
    table and "Robust" over the standard-error column ending at ``se_end``."""
    if info.vce_note is None:
        return lines
    width = len(lines[0])
    robust = " " * lines[1].index("|") + "|"
    robust += " " * (se_end - len(robust) - len("Robust")) + "Robust"
    return [f"{info.vce_note:>{width}}", lines[0], robust] + lines[1:]


class MESummary:
    """Summary of an :class:`~statsmodels_me.results.base.MEResults`.

    Parameters
    ----------
    results : MEResults
    eform : None, bool or str
        See :meth:`MEResults.summary`.
    alpha : float, optional
        Intervals are at level ``1 - alpha`` (default: the command's ``level()``, else 95%).
    **display
        Stata's reporting options as keywords, overriding the command's: ``level``,
        ``noheader``, ``nogroup``, ``nofetable``, ``noretable``, ``notable``, ``nolrtest``,
        ``coeflegend``, ``stddeviations``, ``baselevels``, ``noomitted``; ``or_``, ``irr``
        (eform titles). Unknown keywords raise ``TypeError``.

    Attributes
    ----------
    tables : list of DataFrame
        ``[header, groups, coefficients, random effects]``: the header items (label -> value),
        the per-level group counts, the fixed-effects and ancillary rows (on the eform scale
        when requested) and the variance components.
    """

    def __init__(self, results, eform=None, alpha=None, **display):
        self.results = results
        self.info = info = results.info
        options = getattr(results.model, "options", None) or {}
        alpha, eform_kw, self.display = _display_settings(options, alpha, display)
        self.alpha = alpha
        self.eform_title = _eform_title(eform if eform is not None else eform_kw, info)
        self.level = 100 * (1 - alpha)
        self._z = stats.norm.isf(alpha / 2)
        self.coef = self._coef_table()
        self.vcomp = results.vcomp_table(alpha)
        self.vcomp_labels = None
        if self.display["stddeviations"]:
            self.vcomp_labels, self.vcomp = stddev_table(
                info, np.asarray(results.params, dtype=float),
                np.asarray(results.normalized_cov_params, dtype=float), self.vcomp, alpha)
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
        crit = np.full(len(index), self._z)
        small = getattr(res, "small_sample", None)
        if small is not None:
            # dfmethod(): t tests with each fixed effect's df (Stata's "t  P>|t|" columns)
            df = np.asarray(small.df, dtype=float)
            p[:info.k_fe] = 2 * stats.t.sf(np.abs(z[:info.k_fe]), df)
            crit[:info.k_fe] = stats.t.isf(self.alpha / 2, df)
        lo, hi = b - crit * se, b + crit * se
        est, err = b.copy(), se.copy()
        if self.eform_title is not None:
            fe = np.arange(len(index)) < info.k_fe
            est[fe] = np.exp(b[fe])
            err[fe] = est[fe] * se[fe]
            lo[fe], hi[fe] = np.exp(lo[fe]), np.exp(hi[fe])
        anc = np.arange(len(index)) >= info.k_fe
        z[anc] = np.nan
        p[anc] = np.nan
        stat = ("t", "P>|t|") if small is not None else ("z", "P>|z|")
        cols = [self.eform_title or "coef", "std_err", *stat, "ci_lower", "ci_upper"]
        return pd.DataFrame(np.column_stack([est, err, z, p, lo, hi]),
                            index=pd.Index([names[i] for i in index], name="parameter"),
                            columns=cols)

    def _group_table(self):
        if self.info.group_table is not None:
            return self.info.group_table
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
        small = getattr(res, "small_sample", None)
        if small is not None:
            df = np.asarray(small.df, dtype=float)
            items += [("DF method", small.label), ("DF: min", fmt_f(df.min(), 2)),
                      ("DF: avg", fmt_f(df.mean(), 2)), ("DF: max", fmt_f(df.max(), 2))]
        ftest = getattr(res, "model_ftest", None)
        if ftest is not None:
            F, ndf, ddf, pval = ftest
            items += [(f"F({int(ndf)}, {fmt_f(ddf, 2)})", fmt_f(F, 2)),
                      ("Prob > F", fmt_f(pval, 4))]
        elif info.wald is not None:
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
        if info.header_block:
            rows += [(left, right(label, value, ">") if label else "")
                     for left, label, value in info.header_block]
        else:
            rows += [(f"{k}: {v}", "") for k, v in info.extra_header]
        g = self.groups if not self.display["nogroup"] else self.groups.iloc[:0]
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
        if "DF method" in h:
            rows = [(f"DF method: {h['DF method']}", right("DF:           min", h["DF: min"])),
                    ("", right("avg", h["DF: avg"], ">")),
                    ("", right("max", h["DF: max"], ">"))]
            lines += [self._two_col(a, b) for a, b in rows]
        f_label = next((k for k in h if k.startswith("F(")), None)
        if f_label is not None:
            lines.append(self._two_col("", right(f_label, h[f_label])))
            lines.append(self._two_col(ll, right("Prob > F", h["Prob > F"])))
        elif info.wald is not None:
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
        if _is_missing(se):
            return f"{name:>{w}} |{fmt_g(est):>11}{'.':>11}{'.':>9}{'.':>8}{'.':>13}{'.':>12}"
        zs = fmt_f(z, 2) if np.isfinite(z) else ""
        ps = fmt_f(p, 3) if np.isfinite(p) else ""
        return (f"{name:>{w}} |{fmt_g(est):>11}{fmt_g(se):>11}{zs:>9}{ps:>8}"
                f"{fmt_g(lo):>13}{fmt_g(hi):>12}")

    def _param_name(self, idx):
        return str(list(self.results.param_names)[idx])

    def _vcomp_rows(self):
        """Rows of the vcomp table in display order (labels need not be unique)."""
        return (r for _, r in self.vcomp.iterrows())

    def _vcomp_labels(self):
        """Row labels of the vcomp table in display order (``sd()``/``corr()`` under
        ``stddeviations``)."""
        if self.vcomp_labels is not None:
            return iter(self.vcomp_labels)
        labels = [lab for g in self.info.vcomp_groups for lab, _ in g.rows]
        if self.info.residual is not None:
            labels.append(self.info.residual[0])
        return iter(labels)

    def _combined_re(self):
        """Random-effects rows inside the coefficient table (Stata's ``me`` commands)."""
        rows = []   # ("section", label) | ("row", label, est, se, z, p, lo, hi) | ("rule",)
        vc, names = self._vcomp_rows(), self._vcomp_labels()
        for group in self.info.vcomp_groups:
            rows += [("rule",), ("section", group.level_label)]
            for _, idx in group.rows:
                r, label = next(vc), next(names)
                z = p = np.nan
                if label.startswith("cov(") and not _is_constrained(r["std_err"]):
                    z = r["estimate"] / r["std_err"]
                    p = 2 * stats.norm.sf(abs(z))
                rows.append(("row", label, r["estimate"], r["std_err"], z, p,
                             r["ci_lower"], r["ci_upper"], self._param_name(idx)))
        if self.info.residual is not None:
            r = next(vc)
            rows += [("rule",), ("row", next(names), r["estimate"], r["std_err"],
                                 np.nan, np.nan, r["ci_lower"], r["ci_upper"],
                                 self._param_name(self.info.residual[1]))]
        return rows

    def _fixed_entries(self):
        """Coefficient-table entries in e(b) order: ``("row", name, values)``, plus
        ``("base", name)`` rows under ``baselevels`` and ``("omitted", name)`` rows unless
        ``noomitted`` (Stata's ``0  (base)`` and ``0  (omitted)`` lines)."""
        info = self.info
        coef_rows = list(self.coef.iterrows())
        design = getattr(self.results.model, "design", None)
        full = list(getattr(design, "full_names", None) or [])
        fe_names = [name for name, _ in coef_rows[:info.k_fe]]
        out = []
        if full and [n for n in full if n in fe_names] == fe_names:
            values = dict(coef_rows[:info.k_fe])
            for name in full:
                if name in values:
                    out.append(("row", name, values[name].to_numpy()))
                elif re.search(r"(^|[.#])o\.|^o\.|\do\.", name):
                    if not self.display["noomitted"]:
                        out.append(("omitted", _display_name(name)))
                elif self.display["baselevels"]:
                    out.append(("base", _display_name(name)))
        else:
            out = [("row", name, r.to_numpy()) for name, r in coef_rows[:info.k_fe]]
        if len(coef_rows) > info.k_fe:
            if info.k_fe:
                out.append(("rule",))
            out += [("row", name, r.to_numpy()) for name, r in coef_rows[info.k_fe:]]
        if info.exp_rows and not self.display["coeflegend"]:
            out.append(("rule",))
            for label, idx in info.exp_rows:
                b, se, _, _, lo, hi = self.coef.loc[self._param_name(idx)].to_numpy()
                out.append(("row", label, np.array([np.exp(b), np.exp(b) * se, np.nan,
                                                    np.nan, np.exp(lo), np.exp(hi)])))
        return out

    def _legend_row(self, name, w, est, legend):
        return f"{name:>{w}} |{fmt_g(est):>11}  {legend}"

    def _fe_lines(self, combined):
        depvar = self.results.model.endog_names
        if not isinstance(depvar, str):
            depvar = " ".join(map(str, depvar))
        show_fe = not self.display["nofetable"]
        extra = self._combined_re() if combined and not self.display["noretable"] else []
        entries = self._fixed_entries() if show_fe else []
        if not entries and extra and extra[0][0] == "rule":
            extra = extra[1:]
        names = [depvar] + [e[1] for e in entries if e[0] != "rule"]
        names += [r[1] for r in extra if r[0] != "rule"]
        w = max(12, max(len(str(n)) for n in names))
        cols = sum(FE_WIDTHS)
        rule = "-" * (w + 1) + "+" + "-" * cols
        legend = self.display["coeflegend"]
        title = self.eform_title or "Coefficient"
        head = f"{title:>11}" if len(title) < 10 else " " + title
        ci = f"[{self.level:g}% conf. interval]"
        top = (f"{depvar:>{w}} |{head:<12}  Legend" if legend else
               f"{depvar:>{w}} |{head:<12}{'Std. err.':>11}{self.coef.columns[2]:>7}"
               f"{self.coef.columns[3]:>9}{ci:>25}")
        out = _robust_head(self.info, ["-" * (w + 2 + cols), top, rule], w + 2 + 12 + 11)
        for e in entries:
            if e[0] == "rule":
                out.append(rule)
            elif e[0] == "base":
                out.append(f"{e[1]:>{w}} |{'0':>11}  (base)")
            elif e[0] == "omitted":
                out.append(f"{e[1]:>{w}} |{'0':>11}  (omitted)")
            elif legend:
                out.append(self._legend_row(e[1], w, e[2][0], f"_b[{e[1]}]"))
            else:
                out.append(self._fe_row(e[1], w, *e[2]))
        for r in extra:
            if r[0] == "rule":
                out.append(rule)
            elif r[0] == "section":
                out.append(f"{r[1]:<{w}} |")
            elif legend:
                out.append(self._legend_row(r[1], w, r[2], f"_b[{r[-1]}]"))
            else:
                out.append(self._fe_row(*r[1:2], w, *r[2:8]))
        out.append("-" * (w + 2 + cols))
        return out

    def _re_lines(self):
        """The separate random-effects table of ``mixed`` and ``menl``."""
        info, vc, names = self.info, self._vcomp_rows(), self._vcomp_labels()
        labels = list(self._vcomp_labels())
        labels += [f"{g.level_label}: {g.kind_label}" for g in info.vcomp_groups]
        w = max(28, max((len(s) for s in labels), default=0) + 1)
        cols = sum(RE_WIDTHS)
        rule = "-" * (w + 1) + "+" + "-" * cols
        ci = f"[{self.level:g}% conf. interval]"
        legend = self.display["coeflegend"]
        top = f"{'Random-effects parameters':^{w + 1}}|{'Estimate':>11}"
        top += "  Legend" if legend else f"{'Std. err.':>12}{ci:>25}"
        out = _robust_head(info, ["-" * (w + 2 + cols), top, rule], w + 2 + 11 + 12)

        def row(label, r, idx):
            if legend:
                return self._legend_row(label, w, r["estimate"], f"_b[{self._param_name(idx)}]")
            if _is_constrained(r["std_err"]):
                return f"{label:>{w}} |{fmt_g(r['estimate']):>11}  (constrained)"
            if _is_missing(r["std_err"]):
                return f"{label:>{w}} |{fmt_g(r['estimate']):>11}{'.':>11}{'.':>14}{'.':>12}"
            return (f"{label:>{w}} |{fmt_g(r['estimate']):>11}{fmt_g(r['std_err']):>11}"
                    f"{fmt_g(r['ci_lower']):>14}{fmt_g(r['ci_upper']):>12}")

        for k, g in enumerate(info.vcomp_groups):
            if k:
                out.append(rule)
            # mixed names a nested level by its own variable ("class: Identity")
            out.append(f"{g.level_label.split('>')[-1] + ': ' + g.kind_label:<{w}} |")
            out += [row(next(names), next(vc), idx) for _, idx in g.rows]
        if info.residual is not None:
            if info.vcomp_groups:
                out.append(rule)
            out.append(row(next(names), next(vc), info.residual[1]))
        out.append("-" * (w + 2 + cols))
        return out

    def lr_lines(self):
        """The LR-test line(s) under the tables (empty without an LR test)."""
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

    def note_lines(self):
        """The notes under the tables: the fit's notes and variances at the boundary."""
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

    def design_notes(self):
        """The design's notes (omitted collinear terms, ...), printed first as Stata does:
        the fit's (``info.design_notes``, a fit on a dask DataFrame) or the design's."""
        if self.info.design_notes is not None:
            return list(self.info.design_notes)
        design = getattr(self.results.model, "design", None)
        return list(getattr(design, "notes", None) or [])

    def as_text(self):
        """The summary as plain text in Stata's layout, as the reporting options ask."""
        d = self.display
        combined = not self.separate_re_table
        lines = self.design_notes()
        if not d["noheader"]:
            lines += self._header_text()
        has_re = bool(self.info.vcomp_groups or self.info.residual is not None)
        show_re = has_re and not d["noretable"] and not d["notable"]
        show_fe = not d["nofetable"] and not d["notable"]
        if show_fe or (combined and show_re):
            lines += [""] + self._fe_lines(combined)
        if not combined and show_re:
            lines += [""] + self._re_lines()
        lines += self.note_lines()
        if not d["nolrtest"]:
            lines += self.lr_lines()
        if lines and lines[0] == "":
            lines = lines[1:]
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
