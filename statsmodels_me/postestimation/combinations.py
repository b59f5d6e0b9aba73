"""``lincom``, ``nlcom``, ``testnl``, ``contrast`` and per-term Wald tests.

Expressions use Stata's ``e(b)`` names, either bare (``"week + 2*_cons"``,
``"1.urban - 2.children"``) or as ``_b[name]`` (``"exp(_b[week])"``,
``"_b[/var(_cons[id])] / (_b[/var(_cons[id])] + _b[/var(e.weight)])"``). The text is read by
the project's Stata expression parser (:func:`statsmodels_me.spec.expressions.parse_expression`)
after every parameter name is replaced by a placeholder, and the tree is evaluated here with
numpy: user text never reaches Python's ``eval``.

Standard errors are the delta method with the full covariance of the parameters (the
gradient by central differences with a Richardson step for ``nlcom``/``testnl``; exact
coefficients for ``lincom``).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contrast import ContrastResults, MultiCompResult, t_test_multi

from statsmodels_me.postestimation.margins import margins
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.expressions import Binary, Call, Num, Unary, Var, parse_expression

COLUMNS = ["coef", "std_err", "z", "pvalue", "ci_lower", "ci_upper"]
_FUNCTIONS = {"exp": np.exp, "ln": np.log, "log": np.log, "log10": np.log10, "sqrt": np.sqrt,
              "abs": np.abs}
_PLACEHOLDER = "bparam{}x"

__all__ = ["contrast", "lincom", "nlcom", "testnl", "wald_test_terms"]


class _Expression:
    """A scalar function of the parameter vector parsed from Stata text."""

    def __init__(self, text: str, names: list[str]):
        if not isinstance(text, str):
            raise SpecificationError(f"expression must be a string, got {type(text).__name__}")
        self.text = text
        index = {n: k for k, n in enumerate(names)}

        def bracket(name):
            name = name.strip()
            if name not in index:
                raise SpecificationError(f"_b[{name}] in {text!r}: no parameter named "
                                         f"'{name}' (parameters: {', '.join(names)})")
            return _PLACEHOLDER.format(index[name])

        work = _replace_brackets(text, bracket)
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        pattern = re.compile(r"(?<![\w.\[])(?:" + alternatives + r")(?![\w.\[])")
        work = pattern.sub(lambda m: _PLACEHOLDER.format(index[m.group(0)]), work)
        self.tree = parse_expression(work)
        self._check(self.tree)

    def _check(self, node):
        if isinstance(node, Num):
            return
        if isinstance(node, Var):
            if not re.fullmatch(_PLACEHOLDER.format(r"\d+"), node.name):
                raise SpecificationError(f"'{node.name}' in {self.text!r} is not a parameter "
                                         "name (use e(b) names, or _b[name])")
            return
        if isinstance(node, Unary) and node.op == "-":
            return self._check(node.operand)
        if isinstance(node, Binary) and node.op in "+-*/^":
            self._check(node.left)
            return self._check(node.right)
        if isinstance(node, Call) and node.name in _FUNCTIONS and len(node.args) == 1:
            return self._check(node.args[0])
        raise SpecificationError(f"{self.text!r}: only numbers, parameters, + - * / ^ and "
                                 f"{', '.join(_FUNCTIONS)} are allowed")

    def __call__(self, b):
        return float(self._eval(self.tree, b))

    def _eval(self, node, b):
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Var):
            return b[int(node.name[len("bparam"):-1])]
        if isinstance(node, Unary):
            return -self._eval(node.operand, b)
        if isinstance(node, Call):
            return _FUNCTIONS[node.name](self._eval(node.args[0], b))
        left, right = self._eval(node.left, b), self._eval(node.right, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            if node.op == "/":
                return left / right
            return left ** right


def _replace_brackets(text, fn):
    """Replace every ``_b[...]`` (brackets may nest, as in ``_b[/var(_cons[id])]``)."""
    out, i = [], 0
    while True:
        j = text.find("_b[", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        depth, k = 0, j + 2
        while k < len(text):
            depth += {"[": 1, "]": -1}.get(text[k], 0)
            if depth == 0:
                break
            k += 1
        if depth:
            raise SpecificationError(f"unbalanced brackets in {text!r}")
        out.append(fn(text[j + 3:k]))
        i = k + 1


def _gradient(f, b):
    g = np.empty(len(b))
    for j in range(len(b)):
        h = 1e-3 * max(1.0, abs(b[j]))
        e = np.zeros(len(b))
        e[j] = 1.0
        d1 = (f(b + h * e) - f(b - h * e)) / (2 * h)
        d2 = (f(b + h / 2 * e) - f(b - h / 2 * e)) / h
        g[j] = (4 * d2 - d1) / 3
    return g


def _params(results):
    return (np.asarray(results.params, dtype=float), np.asarray(results.cov_params(), float),
            list(results.param_names))


def _table(labels, est, J, V, alpha):
    se = np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    q = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame(np.column_stack([est, se, z, 2 * stats.norm.sf(np.abs(z)),
                                         est - q * se, est + q * se]),
                        index=pd.Index(labels), columns=COLUMNS)


def _named(expressions):
    if isinstance(expressions, str):
        return {expressions: expressions}
    if isinstance(expressions, dict):
        return dict(expressions)
    return {e: e for e in expressions}


def lincom(results, expression, alpha=0.05):
    """Stata's ``lincom``: a linear combination of parameters with its z test.

    Parameters
    ----------
    expression : str
        ``"week + 2*_cons"``, ``"_b[1.urban] - _b[2.children]"``.

    Returns
    -------
    DataFrame
        One row labelled by the expression; columns ``coef, std_err, z, pvalue, ci_lower,
        ci_upper``.
    """
    b, V, names = _params(results)
    f = _Expression(expression, names)
    zero = np.zeros(len(b))
    c0 = f(zero)
    g = np.array([f(np.eye(len(b))[j]) - c0 for j in range(len(b))])
    if not np.isclose(f(b), g @ b + c0, rtol=1e-10, atol=1e-12) or not np.isclose(
            f(2 * b + 1), g @ (2 * b + 1) + c0, rtol=1e-10, atol=1e-12):
        raise SpecificationError(f"lincom: {expression!r} is not linear in the parameters; "
                                 "use nlcom")
    return _table([expression], np.array([g @ b + c0]), g[None, :], V, alpha)


def nlcom(results, expressions, alpha=0.05):
    """Stata's ``nlcom``: nonlinear combinations by the delta method.

    Parameters
    ----------
    expressions : str, list of str or dict
        ``"exp(_b[week])"``; a dict names the rows (``{"ratio": "_b[x] / _b[z]"}``).

    Returns
    -------
    DataFrame
        One row per expression; ``attrs["cov"]`` holds their joint covariance.
    """
    b, V, names = _params(results)
    named = _named(expressions)
    fs = [_Expression(t, names) for t in named.values()]
    est = np.array([f(b) for f in fs])
    J = np.array([_gradient(f, b) for f in fs])
    out = _table(list(named), est, J, V, alpha)
    out.attrs["cov"] = J @ V @ J.T
    return out


def testnl(results, hypotheses):
    """Stata's ``testnl``: joint Wald test of (nonlinear) restrictions ``lhs = rhs``.

    Parameters
    ----------
    hypotheses : str or list of str
        ``"_b[x] * _b[z] = 1"``; without ``=`` the expression is tested against 0.

    Returns
    -------
    statsmodels.stats.contrast.ContrastResults
        chi2 statistic (``statistic``), ``df_denom`` restrictions and ``pvalue``, as
        statsmodels' chi2 ``wald_test``.
    """
    b, V, names = _params(results)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    fs = []
    for h in hyps:
        lhs, eq, rhs = h.partition("=")
        text = f"({lhs}) - ({rhs})" if eq else lhs
        if eq and (not lhs.strip() or not rhs.strip() or "=" in rhs):
            raise SpecificationError(f"testnl: cannot read {h!r} as 'expression = expression'")
        fs.append(_Expression(text, names))
    r = np.array([f(b) for f in fs])
    J = np.array([_gradient(f, b) for f in fs])
    return _wald(r, J @ V @ J.T)


def _wald(r, cov):
    try:
        stat = float(r @ np.linalg.solve(cov, r))
    except np.linalg.LinAlgError:
        raise SpecificationError("the restrictions' covariance is singular: the restrictions "
                                 "are not independent") from None
    df = len(r)
    # statsmodels' own chi2 Wald results: df in df_denom and distargs
    return ContrastResults(chi2=stat, statistic=stat, df_denom=df, distribution="chi2",
                           distargs=(df,))


def contrast(results, var, alpha=0.05):
    """Stata's ``contrast r.var`` on the linear predictor: each level against the base level
    (averaged over the other factors with equal weights, Stata's ``asbalanced`` default of
    ``contrast``) and the joint test that all levels are equal.

    Returns
    -------
    table : DataFrame
        Rows ``(level vs base) var``; columns as :func:`lincom`.
    joint : ContrastResults
        chi2 test with ``levels - 1`` degrees of freedom.
    """
    design = results.model.design
    if var not in design.factor_levels or not any(
            f.var == var for t in design.spec.fixed for f in t.factors):
        raise SpecificationError(f"contrast: '{var}' is not a factor variable of the fixed part")
    m = margins(results, dydx=var, predict="xb", asbalanced=True, alpha=alpha)
    J = m.attrs["jacobian"]
    V = np.asarray(results.cov_params(), float)
    levels = [lab.split(".", 1)[0] for lab in m.index]
    base = [lev for lev in design.factor_levels[var]
            if str(lev) not in levels and f"{lev:g}" not in levels]
    base_label = f"{base[0]:g}" if base and not isinstance(base[0], str) else \
        (str(base[0]) if base else "base")
    table = m.rename(columns={"margin": "coef"})
    table.index = [f"({lev} vs {base_label}) {var}" for lev in levels]
    table.attrs = {}
    return table, _wald(m["margin"].to_numpy(), J @ V @ J.T)


def _name_variables(name):
    """Variables of an ``e(b)`` fixed-effects name (``1.cc#c.x`` -> ("cc", "x"))."""
    out = []
    for part in name.split("#"):
        head, dot, var = part.partition(".")
        out.append(var if dot else head)
    return tuple(out)


def wald_test_terms(results):
    """One joint Wald (chi2) test per term of the fixed part (``testparm`` of each term).

    Returns
    -------
    DataFrame
        Index: the terms as written (``urban``, ``i.children``, ``i.cc#i.tv``); columns
        ``chi2``, ``df``, ``pvalue``.
    """
    design = results.model.design
    b, V, names = _params(results)
    fixed = names[:results.k_fe]
    rows = {}
    for term in design.spec.fixed:
        label = "#".join((f"i.{f.var}" if f.kind in ("i", "ibn") else f.var)
                         for f in term.factors)
        if any(f.kind == "formula" for f in term.factors):
            code = term.factors[0].var
            cols = [j for j, n in enumerate(fixed) if len(term.factors) == 1
                    and (n == code or n.startswith(code + "["))]
        else:
            want = tuple(f.var for f in term.factors)
            cols = [j for j, n in enumerate(fixed) if n != "_cons"
                    and _name_variables(n) == want]
        if not cols:
            continue
        res = _wald(b[cols], V[np.ix_(cols, cols)])
        rows[label] = (float(res.statistic), len(cols), float(res.pvalue))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["chi2", "df", "pvalue"])


def _level_label(level):
    return str(level) if isinstance(level, str) else f"{level:g}"


def t_test_pairwise(results, term_name, method="hs", alpha=0.05, factor_labels=None):
    """statsmodels' ``t_test_pairwise`` (Stata's ``pwcompare``): every pairwise difference
    between the levels of a factor of the fixed part, on the linear predictor, with p-values
    adjusted for multiple testing.

    Parameters
    ----------
    term_name : str
        The factor variable, as ``"children"`` or ``"i.children"``.
    method : str or list of str
        ``statsmodels.stats.multitest.multipletests`` method(s).
    alpha : float
    factor_labels : list of str, optional
        Labels of the levels in the order of the data's sorted levels.

    Returns
    -------
    statsmodels.stats.contrast.MultiCompResult
        ``result_frame`` indexed ``"b-a"`` (level b minus level a, as statsmodels), with
        ``pvalue-<method>`` and ``reject-<method>`` columns; ``contrasts`` the restriction
        matrix over all parameters; ``term_encoding_matrix`` levels x the term's columns.
    """
    design = results.model.design
    var = term_name[2:] if term_name.startswith("i.") else term_name
    if var not in design.factor_levels or not any(
            len(t.factors) == 1 and t.factors[0].var == var and t.factors[0].kind in ("i", "ibn")
            for t in design.spec.fixed):
        raise SpecificationError(f"t_test_pairwise: '{term_name}' is not a factor term "
                                 "(i.var) of the fixed part")
    levels = [_level_label(v) for v in design.factor_levels[var]]
    if factor_labels is not None:
        if len(factor_labels) != len(levels):
            raise SpecificationError(f"t_test_pairwise: factor_labels has {len(factor_labels)} "
                                     f"labels; '{var}' has {len(levels)} levels")
    names = list(results.model.exog_names)
    column = {}
    for lab in levels:
        for name in (f"{lab}.{var}", f"{lab}b.{var}", f"{lab}o.{var}"):
            if name in names:
                column[lab] = names.index(name)
    labels_out = list(factor_labels) if factor_labels is not None else levels
    rows, row_labels = [], []
    for i in range(len(levels)):
        for j in range(i + 1, len(levels)):
            row = np.zeros(len(names))
            if levels[j] in column:
                row[column[levels[j]]] += 1.0
            if levels[i] in column:
                row[column[levels[i]]] -= 1.0
            rows.append(row)
            row_labels.append(f"{labels_out[j]}-{labels_out[i]}")
    L = np.array(rows)
    frame = t_test_multi(results, L, method=method, alpha=alpha, contrast_names=row_labels)
    cols = sorted(column.values())
    encoding = np.array([[1.0 if column.get(lab) == c else 0.0 for c in cols] for lab in levels])
    return MultiCompResult(result_frame=frame, contrasts=L, term=term_name,
                           contrast_labels=row_labels, term_encoding_matrix=encoding)
