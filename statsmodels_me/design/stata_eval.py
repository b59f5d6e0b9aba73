"""Evaluate a parsed Stata expression (:mod:`statsmodels_me.spec.expressions`) on a DataFrame.

Stata's rules ([U] 12.2.1 Missing values, [U] 13.2 Operators):

* numeric missing (``.``, ``.a`` ... ``.z``; NaN/NA in the data) is larger than every number,
  so ``x > 5`` is true and ``x < .`` false for a missing ``x``; ``x == .`` tests for missing;
  the extended missing values are not told apart;
* arithmetic with a missing operand, division by zero and results out of range are missing;
* ``&``, ``|``, ``!`` and ``if`` take any nonzero value as true -- missing is nonzero;
* the missing string is ``""``; ``+`` joins strings; comparing a string with a number is a
  type mismatch.

Values are whole columns: float64 arrays (NaN = missing) or object arrays of ``str``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.expressions import (
    Binary,
    Call,
    Missing,
    Num,
    Str,
    Unary,
    Var,
    parse_expression,
)

__all__ = ["evaluate_stata", "stata_truth"]


class _Evaluator:
    def __init__(self, data: pd.DataFrame, text: str):
        self.data = data
        self.text = text
        self.n = len(data)

    def fail(self, msg: str):
        raise DataError(f"{msg} in expression {self.text!r}")

    # -- operands
    def column(self, name: str) -> np.ndarray:
        n = self.n
        if name == "_n":
            return np.arange(1, n + 1, dtype=np.float64)
        if name == "_N":
            return np.full(n, float(n))
        if name not in self.data.columns:
            cols = ", ".join(map(str, list(self.data.columns)[:20]))
            self.fail(f"variable '{name}' not found (columns are: {cols})")
        col = self.data[name]
        if isinstance(col, pd.DataFrame):
            self.fail(f"variable '{name}' names more than one column")
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(col.cat.categories.dtype if len(col.cat.categories) else object)
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            return col.to_numpy(dtype=np.float64, na_value=np.nan)
        values = col.astype(object).to_numpy()
        out = np.empty(n, dtype=object)
        for k, v in enumerate(values):
            out[k] = "" if v is None or (isinstance(v, float) and np.isnan(v)) or \
                v is pd.NA else str(v)
        return out

    def eval(self, node):
        if isinstance(node, Num):
            return np.full(self.n, node.value if np.isfinite(node.value) else np.nan)
        if isinstance(node, Missing):
            return np.full(self.n, np.nan)
        if isinstance(node, Str):
            out = np.empty(self.n, dtype=object)
            out[:] = node.value
            return out
        if isinstance(node, Var):
            return self.column(node.name)
        if isinstance(node, Unary):
            value = self.numeric(self.eval(node.operand), node.op)
            if node.op == "-":
                return -value
            return (value == 0).astype(np.float64)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"not an expression node: {node!r}")

    def numeric(self, value: np.ndarray, what: str) -> np.ndarray:
        if value.dtype == object:
            self.fail(f"type mismatch: '{what}' needs numbers, got a string")
        return value

    # -- operators
    def binary(self, node: Binary) -> np.ndarray:
        left, right = self.eval(node.left), self.eval(node.right)
        op = node.op
        is_str = (left.dtype == object, right.dtype == object)
        if op in ("&", "|"):
            a, b = self.numeric(left, op) != 0, self.numeric(right, op) != 0
            return (a & b if op == "&" else a | b).astype(np.float64)
        if any(is_str):
            if not all(is_str):
                self.fail(f"type mismatch: '{op}' between a string and a number")
            if op == "+":
                return np.array([a + b for a, b in zip(left, right, strict=True)], dtype=object)
            if op not in ("==", "!=", "<", "<=", ">", ">="):
                self.fail(f"type mismatch: '{op}' does not apply to strings")
            return _compare(op, left, right)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _compare(op, _missing_high(left), _missing_high(right))
        with np.errstate(all="ignore"):
            if op == "+":
                out = left + right
            elif op == "-":
                out = left - right
            elif op == "*":
                out = left * right
            elif op == "/":
                out = left / right
            else:
                out = np.power(left, right)
        out = _finite(out)
        out[np.isnan(left) | np.isnan(right)] = np.nan     # numpy has nan ** 0 == 1
        return out

    # -- functions
    def call(self, node: Call) -> np.ndarray:
        name = node.name
        args = [self.eval(a) for a in node.args]
        if name == "missing":
            out = np.zeros(self.n, dtype=bool)
            for a in args:
                out |= (a == "") if a.dtype == object else np.isnan(a)
            return out.astype(np.float64)
        if name == "inlist":
            z, rest = args[0], args[1:]
            if any((a.dtype == object) != (z.dtype == object) for a in rest):
                self.fail("type mismatch: inlist() mixes strings and numbers")
            out = np.zeros(self.n, dtype=bool)
            for a in rest:
                out |= _compare("==", _missing_high(z), _missing_high(a)).astype(bool) \
                    if z.dtype != object else (z == a)
            return out.astype(np.float64)
        if name == "inrange":
            return self._inrange(*args)
        values = [self.numeric(a, f"{name}()") for a in args]
        with np.errstate(all="ignore"):
            return _finite(_MATH[name](*values))

    def _inrange(self, z, a, b) -> np.ndarray:
        """Stata's ordered rules: z missing -> 0; a missing and b missing -> 1; a missing ->
        z <= b; b missing -> a <= z; else a <= z <= b."""
        if len({z.dtype == object, a.dtype == object, b.dtype == object}) > 1:
            self.fail("type mismatch: inrange() mixes strings and numbers")
        if z.dtype == object:
            z_miss, a_miss, b_miss = z == "", a == "", b == ""
        else:
            z_miss, a_miss, b_miss = np.isnan(z), np.isnan(a), np.isnan(b)
        ge_a = np.array([x >= y for x, y in zip(z, a, strict=True)], dtype=bool)
        le_b = np.array([x <= y for x, y in zip(z, b, strict=True)], dtype=bool)
        out = np.where(a_miss & b_miss, True,
                       np.where(a_miss, le_b, np.where(b_miss, ge_a, ge_a & le_b)))
        return (out & ~z_miss).astype(np.float64)


def _missing_high(value: np.ndarray) -> np.ndarray:
    """Numbers with missing as +inf, so comparisons order missing above every number."""
    if value.dtype == object:
        return value
    return np.where(np.isnan(value), np.inf, value)


def _compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if op == "==":
        out = a == b
    elif op == "!=":
        out = a != b
    elif op == "<":
        out = a < b
    elif op == "<=":
        out = a <= b
    elif op == ">":
        out = a > b
    else:
        out = a >= b
    return np.asarray(out, dtype=bool).astype(np.float64)


def _finite(value: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    return np.where(np.isfinite(value), value, np.nan)


def _round(x, unit=None):
    if unit is None:
        return np.floor(x + 0.5)
    return np.floor(x / unit + 0.5) * unit


def _mod(x, y):
    return np.where(y == 0, np.nan, x - y * np.floor(x / y))


def _nan_reduce(fn):
    def reduce(*args):
        stacked = np.vstack(args)
        out = np.full(stacked.shape[1], np.nan)
        ok = ~np.all(np.isnan(stacked), axis=0)
        out[ok] = fn(stacked[:, ok], axis=0)
        return out
    return reduce


_MATH = {
    "abs": np.abs, "exp": np.exp, "ln": np.log, "log": np.log, "log10": np.log10,
    "sqrt": np.sqrt, "floor": np.floor, "ceil": np.ceil, "int": np.trunc,
    "round": _round, "mod": _mod, "min": _nan_reduce(np.nanmin), "max": _nan_reduce(np.nanmax),
}


def evaluate_stata(text: str, data: pd.DataFrame) -> np.ndarray:
    """Value of the Stata expression ``text`` on every row of ``data``.

    Parameters
    ----------
    text : str
    data : pandas.DataFrame

    Returns
    -------
    ndarray (n,)
        float64 with NaN for missing, or an object array of ``str`` for a string expression.

    Raises
    ------
    SpecificationError
        The text is not an expression (see :func:`~statsmodels_me.spec.expressions.
        parse_expression`).
    DataError
        An unknown variable or a type mismatch; the message quotes the expression.
    """
    tree = parse_expression(text)
    return _Evaluator(data, text).eval(tree)


def stata_truth(text: str, data: pd.DataFrame) -> np.ndarray:
    """Rows where the expression is true (nonzero; a missing value is nonzero, as in Stata)."""
    value = evaluate_stata(text, data)
    if value.dtype == object:
        raise DataError(f"type mismatch: the expression {text!r} is a string; 'if' needs a "
                        "number or a comparison")
    return value != 0
