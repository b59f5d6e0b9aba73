"""Formula transforms (``I(x**2)``, ``np.log(z)``, ``C(g, Sum)``, ``bs(t, df=4)``) -> checked
syntax trees.

A transform is Python syntax, read with :func:`ast.parse` (which parses, it does not run
anything) and accepted only when every node is in a small whitelist: numbers, strings, data
columns, arithmetic and comparison operators, and calls of the functions in
:data:`FORMULA_FUNCTIONS` or of the numpy functions in :data:`NUMPY_FUNCTIONS` (as ``np.log``,
``numpy.log`` or bare ``log``). Attribute access beyond those, subscripts, lambda, comprehension,
dunder names and everything else are a :class:`~statsmodels_me.spec.errors.SpecificationError`
that quotes the text. The design layer evaluates accepted trees with its own interpreter
(:mod:`statsmodels_me.design.formula_eval`), never with ``eval``.
"""
from __future__ import annotations

import ast

from patsy.tokens import normalize_token_spacing

from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.model_spec import Expression, Factor

#: formula functions: patsy's identity, categorical marker, contrasts and stateful transforms
FORMULA_FUNCTIONS = ("I", "C", "Treatment", "Sum", "Diff", "Helmert", "Poly", "bs", "cr",
                     "cc", "center", "standardize", "scale")
#: numpy functions callable as ``np.<name>``, ``numpy.<name>`` or ``<name>``
NUMPY_FUNCTIONS = ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "square", "abs",
                   "absolute", "sign", "floor", "ceil", "round", "sin", "cos", "tan", "arcsin",
                   "arccos", "arctan", "sinh", "cosh", "tanh", "power", "maximum", "minimum",
                   "clip", "where")
NUMPY_MODULES = ("np", "numpy")
#: longest transform accepted, in characters
MAX_LENGTH = 2000
#: deepest syntax tree accepted
MAX_DEPTH = 60

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd,
           ast.BitOr, ast.BitXor)
_UNARYOPS = (ast.UAdd, ast.USub, ast.Invert, ast.Not)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _fail(code: str, what: str):
    raise SpecificationError(f"{what} in formula term {code!r}")


def _function_name(node: ast.expr, code: str) -> str:
    """The whitelisted name a call refers to (``np.log`` -> ``"log"``)."""
    if isinstance(node, ast.Name):
        if node.id in FORMULA_FUNCTIONS or node.id in NUMPY_FUNCTIONS:
            return node.id
        _fail(code, f"unknown function {node.id}(); allowed: "
              f"{', '.join(FORMULA_FUNCTIONS)} and numpy's {', '.join(NUMPY_FUNCTIONS)}")
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id in NUMPY_MODULES:
        if node.attr in NUMPY_FUNCTIONS:
            return node.attr
        _fail(code, f"numpy function {node.value.id}.{node.attr}() is not allowed; allowed: "
              f"{', '.join(NUMPY_FUNCTIONS)}")
    _fail(code, "only named functions can be called (no attribute access)")


def _check(node: ast.AST, code: str, variables: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        _fail(code, f"expression nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool)) or isinstance(node.value, complex):
            _fail(code, f"constant {node.value!r} is not allowed")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("__") or "__" in node.id:
            _fail(code, f"name {node.id!r} is not allowed (double underscores)")
        if node.id in FORMULA_FUNCTIONS or node.id in NUMPY_FUNCTIONS or \
                node.id in NUMPY_MODULES:
            _fail(code, f"{node.id!r} is a function, not a variable")
        if node.id not in variables:
            variables.append(node.id)
        return
    if isinstance(node, ast.Call):
        name = _function_name(node.func, code)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                _fail(code, "*arguments are not allowed")
            if name in ("C",) and arg is not node.args[0] and isinstance(arg, ast.Name) \
                    and arg.id in FORMULA_FUNCTIONS:
                continue            # a contrast given by name: C(g, Sum)
            _check(arg, code, variables, depth + 1)
        for kw in node.keywords:
            if kw.arg is None:
                _fail(code, "**arguments are not allowed")
            if "__" in kw.arg:
                _fail(code, f"keyword {kw.arg!r} is not allowed (double underscores)")
            _check(kw.value, code, variables, depth + 1)
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
        _check(node.left, code, variables, depth + 1)
        _check(node.right, code, variables, depth + 1)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARYOPS):
        _check(node.operand, code, variables, depth + 1)
        return
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and \
            isinstance(node.ops[0], _CMPOPS):
        _check(node.left, code, variables, depth + 1)
        _check(node.comparators[0], code, variables, depth + 1)
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for elt in node.elts:
            _check(elt, code, variables, depth + 1)
        return
    if isinstance(node, ast.Attribute):
        _fail(code, f"attribute access '.{node.attr}' is not allowed")
    if isinstance(node, ast.Lambda):
        _fail(code, "lambda is not allowed")
    _fail(code, f"{type(node).__name__.lower()} syntax is not allowed")


def parse_transform(code: str) -> tuple[ast.Expression, str, tuple[str, ...]]:
    """Check a formula transform; return its tree, its patsy name and the columns it reads.

    Parameters
    ----------
    code : str
        For example ``"bs(t, df=4)"`` or ``"np.log(n)"``.

    Returns
    -------
    tree : ast.Expression
    name : str
        patsy's spelling (``"I(x ** 2)"``), used in the column names.
    variables : tuple of str

    Raises
    ------
    SpecificationError
        Anything outside the whitelist; the message quotes ``code``.
    """
    if not isinstance(code, str) or not code.strip():
        raise SpecificationError(f"empty formula term {code!r}")
    if len(code) > MAX_LENGTH:
        raise SpecificationError(f"formula term longer than {MAX_LENGTH} characters: "
                                 f"{code[:80]!r}...")
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise SpecificationError(f"cannot read formula term {code!r} as an expression"
                                 ) from None
    variables: list[str] = []
    _check(tree.body, code, variables, 0)
    try:
        name = normalize_token_spacing(code.strip())
    except Exception:       # patsy's tokenizer refuses what ast accepted: keep the text
        name = " ".join(code.split())
    return tree, name, tuple(variables)


def transform_factor(code: str) -> Factor:
    """A :class:`Factor` of kind ``"formula"``: ``var`` is patsy's name of the transform."""
    _, name, variables = parse_transform(code)
    return Factor(name, "formula", None, variables)


def transform_expression(code: str) -> Expression:
    """An :class:`Expression` of syntax ``"formula"`` (``offset(np.log(n))``)."""
    _, name, variables = parse_transform(code)
    return Expression(text=name, syntax="formula", variables=variables)
