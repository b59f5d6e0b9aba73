"""Formula transforms on data: an interpreter for the checked trees of
:mod:`statsmodels_me.spec.formula_terms`, and the patsy factor that uses it.

:class:`TransformFactor` follows patsy's factor protocol (``memorize_passes_needed``,
``memorize_chunk``, ``memorize_finish``, ``eval``; patsy's documentation, "Factor protocol"), so
patsy's own coding rules -- categorical detection, contrasts, redundancy elimination in
interactions, column names -- apply, while the code itself is run by :func:`_interpret`, never
by ``eval``. Stateful transforms (``center``, ``standardize``, ``scale``, ``bs``, ``cr``,
``cc``) are fitted on the estimation sample, during the single memorize pass, and kept in the
factor's state: transforming new data later (patsy's ``build_design_matrices`` with the stored
``DesignInfo``) uses the training constants.
"""
from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import patsy
from patsy.builtins import C, I

from statsmodels_me.spec.errors import DataError, SpecificationError
from statsmodels_me.spec.formula_terms import NUMPY_FUNCTIONS, parse_transform

__all__ = ["TransformFactor", "evaluate_transform"]

_STATEFUL = {
    "center": patsy.center.__patsy_stateful_transform__,
    "standardize": patsy.standardize.__patsy_stateful_transform__,
    "scale": patsy.scale.__patsy_stateful_transform__,
    "bs": patsy.bs.__patsy_stateful_transform__,
    "cr": patsy.cr.__patsy_stateful_transform__,
    "cc": patsy.cc.__patsy_stateful_transform__,
}
_PLAIN = {
    "I": I,
    "C": C,
    "Treatment": patsy.Treatment, "Sum": patsy.Sum, "Diff": patsy.Diff,
    "Helmert": patsy.Helmert, "Poly": patsy.Poly,
}
_BINOPS = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power,
    ast.BitAnd: np.bitwise_and, ast.BitOr: np.bitwise_or, ast.BitXor: np.bitwise_xor,
}
_CMPOPS = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
           ast.Gt: np.greater, ast.GtE: np.greater_equal}
_UNARY = {ast.UAdd: np.positive, ast.USub: np.negative, ast.Invert: np.invert,
          ast.Not: np.logical_not}


def _column(data, name: str):
    """A data column: numeric columns as float arrays, others (strings, categoricals, bools)
    as they are, so patsy treats them as factors."""
    try:
        col = data[name]
    except (KeyError, IndexError, ValueError):
        cols = ", ".join(map(str, list(getattr(data, "columns", data))[:20]))
        raise DataError(f"variable '{name}' not found (columns are: {cols})") from None
    if isinstance(col, pd.Series):
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            return col
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(col)


def _values(x):
    return x.to_numpy() if isinstance(x, pd.Series) else x


class _Interpreter:
    """Evaluate a checked tree; ``fit=True`` fits each stateful transform on this data."""

    def __init__(self, data, transforms: dict, fit: bool):
        self.data = data
        self.transforms = transforms
        self.fit = fit
        self.calls = 0

    def eval(self, node):
        if isinstance(node, ast.Expression):
            return self.eval(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _PLAIN:           # a contrast passed by name: C(g, Sum)
                return _PLAIN[node.id]
            return _column(self.data, node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](_values(self.eval(node.left)),
                                          _values(self.eval(node.right)))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](_values(self.eval(node.operand)))
        if isinstance(node, ast.Compare):
            return _CMPOPS[type(node.ops[0])](_values(self.eval(node.left)),
                                              _values(self.eval(node.comparators[0])))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise SpecificationError(f"{type(node).__name__} is not allowed in a formula term")

    def call(self, node: ast.Call):
        key = self.calls           # call sites numbered in evaluation order
        self.calls += 1
        name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords}
        if name in _STATEFUL:
            args = [_values(a) for a in args]
            if self.fit:
                transform = _STATEFUL[name]()
                transform.memorize_chunk(*args, **kwargs)
                transform.memorize_finish()
                self.transforms[key] = transform
            return self.transforms[key].transform(*args, **kwargs)
        if name in _PLAIN:
            return _PLAIN[name](*args, **kwargs)
        if name in NUMPY_FUNCTIONS:
            return getattr(np, name)(*[_values(a) for a in args], **kwargs)
        raise SpecificationError(f"unknown function {name}()")


def _run(code: str, tree, data, transforms: dict, fit: bool):
    try:
        with np.errstate(all="ignore"):
            value = _Interpreter(data, transforms, fit).eval(tree)
    except (SpecificationError, DataError):
        raise
    except Exception as err:       # numpy / patsy refusing the arguments
        raise DataError(f"cannot evaluate formula term {code!r}: {err}") from None
    arr = _values(value)
    if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = int(bad.reshape(len(arr), -1).any(axis=1).sum()) if arr.ndim else 1
            raise DataError(f"formula term {code!r} is missing or infinite in {rows} "
                            f"row{'s' if rows != 1 else ''}")
    return value


class TransformFactor:
    """A patsy factor whose code is a checked formula transform.

    Parameters
    ----------
    code : str
        For example ``"bs(t, df=4)"``; checked by
        :func:`~statsmodels_me.spec.formula_terms.parse_transform`.
    """

    origin = None

    def __init__(self, code: str):
        self.tree, self.code, _ = parse_transform(code)

    def name(self) -> str:
        return self.code

    def __repr__(self):
        return f"TransformFactor({self.code!r})"

    def __eq__(self, other):
        return isinstance(other, TransformFactor) and other.code == self.code

    def __hash__(self):
        return hash((TransformFactor, self.code))

    def __getstate__(self):
        return {"code": self.code}

    def __setstate__(self, state):
        self.tree, self.code, _ = parse_transform(state["code"])

    # -- patsy's factor protocol
    def memorize_passes_needed(self, state, eval_env):
        state["transforms"] = {}
        return 1

    def memorize_chunk(self, state, which_pass, data):
        _run(self.code, self.tree, data, state["transforms"], fit=True)

    def memorize_finish(self, state, which_pass):
        return None

    def eval(self, memorize_state, data):
        return _run(self.code, self.tree, data, memorize_state["transforms"], fit=False)


def evaluate_transform(code: str, data: pd.DataFrame) -> np.ndarray:
    """Numeric values of one transform on ``data`` (offsets, binomial trials), float64."""
    factor = TransformFactor(code)
    state = {}
    factor.memorize_passes_needed(state, None)
    factor.memorize_chunk(state, 0, data)
    value = factor.eval(state, data)
    try:
        out = np.asarray(_values(value), dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"formula term {code!r} is not numeric") from None
    if out.ndim == 0:
        out = np.full(len(data), float(out))
    if out.shape != (len(data),):
        raise DataError(f"formula term {code!r} gives {out.shape} values for {len(data)} rows")
    return out
