"""Linear hypotheses written with Stata ``e(b)`` parameter names.

statsmodels parses hypothesis strings with patsy, whose tokenizer cannot read names such as
``1.urban``, ``/cut1`` or ``/var(_cons[id])``. :func:`linear_constraints` reads the same simple
language (``"week = 0"``, ``"week"``, ``"2*week - 1.urban = 1, _cons = 0"``) while treating
every parameter name as one token, and returns the restriction matrix ``R`` and the vector
``q`` of ``R params = q``.
"""
from __future__ import annotations

import ast
import re

import numpy as np

from statsmodels_me.spec._scan import split_top
from statsmodels_me.spec.errors import SpecificationError

_PLACEHOLDER = "__p{}__"


def _name_pattern(names):
    # Longest names first so that "/var(week[id])" wins over "week"; a name must not be
    # glued to further identifier characters ("week" inside "week2" is not "week").
    alternatives = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))
    return re.compile(r"(?<![\w.])(?:" + alternatives + r")(?![\w.\[])")


def _linear_form(node, k, original):
    """Coefficient vector and constant of a linear expression AST."""
    if isinstance(node, ast.Expression):
        return _linear_form(node.body, k, original)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return np.zeros(k), float(node.value)
    if isinstance(node, ast.Name):
        m = re.fullmatch(r"__p(\d+)__", node.id)
        if m is None:
            raise SpecificationError(
                f"hypothesis {original!r}: {node.id!r} is not a parameter name")
        vec = np.zeros(k)
        vec[int(m.group(1))] = 1.0
        return vec, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        vec, const = _linear_form(node.operand, k, original)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return sign * vec, sign * const
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        lv, lc = _linear_form(node.left, k, original)
        rv, rc = _linear_form(node.right, k, original)
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        return lv + sign * rv, lc + sign * rc
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        lv, lc = _linear_form(node.left, k, original)
        rv, rc = _linear_form(node.right, k, original)
        if isinstance(node.op, ast.Div):
            if rv.any():
                raise SpecificationError(
                    f"hypothesis {original!r} is not linear in the parameters")
            return lv / rc, lc / rc
        if lv.any() and rv.any():
            raise SpecificationError(f"hypothesis {original!r} is not linear in the parameters")
        return lv * rc + rv * lc, lc * rc
    raise SpecificationError(f"cannot read hypothesis {original!r}")


def linear_constraints(hypotheses, names):
    """Restriction matrix and right-hand side from hypotheses written with parameter names.

    Parameters
    ----------
    hypotheses : str or sequence of str
        Comma-separated (or listed) linear equations in the parameters; an expression without
        ``=`` means ``= 0``.
    names : sequence of str
        Parameter names in ``params`` order.

    Returns
    -------
    R : ndarray (m, k)
    q : ndarray (m,)

    Raises
    ------
    SpecificationError
        If a hypothesis names an unknown parameter or is not linear.
    """
    names = list(names)
    k = len(names)
    if isinstance(hypotheses, str):
        hypotheses = split_top(hypotheses, ",")
    pattern = _name_pattern(names)
    index = {n: i for i, n in enumerate(names)}
    rows, rhs = [], []
    for hyp in hypotheses:
        original = hyp.strip()
        if not original:
            raise SpecificationError(f"empty hypothesis in {hypotheses!r}")
        text = pattern.sub(lambda m: " " + _PLACEHOLDER.format(index[m.group(0)]) + " ",
                           original)
        sides = text.split("=")
        if len(sides) > 2:
            raise SpecificationError(f"hypothesis {original!r} has more than one '='")
        if len(sides) == 1:
            sides.append("0")
        forms = []
        for side in sides:
            try:
                tree = ast.parse(side.strip(), mode="eval")
            except SyntaxError:
                raise SpecificationError(
                    f"cannot read hypothesis {original!r}; parameter names are "
                    f"{', '.join(names)}") from None
            forms.append(_linear_form(tree, k, original))
        (lv, lc), (rv, rc) = forms
        vec = lv - rv
        if not vec.any():
            raise SpecificationError(f"hypothesis {original!r} involves no parameter")
        rows.append(vec)
        rhs.append(rc - lc)
    return np.vstack(rows), np.asarray(rhs)
