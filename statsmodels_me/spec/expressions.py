"""Stata expressions (``if exp``, ``[pweight=exp]``) -> a syntax tree; no Python evaluation.

The grammar is Stata's ``[U] 13 Functions and expressions`` restricted to what a sample
restriction or a weight needs. Operators, from the loosest to the tightest binding::

    |            logical or
    &            logical and
    == != ~= < <= > >=   relational (left associative)
    + -          addition (string concatenation for +), subtraction
    * /          multiplication, division
    ! ~ -        logical not, negation (prefix)
    ^            power (left associative; -2^2 is -4)

Operands: numbers (``12``, ``1.5``, ``.5``, ``1e-3``), the missing values ``.`` and ``.a`` ...
``.z``, double-quoted strings, variable names, ``_n`` and ``_N`` and the functions of
:data:`FUNCTIONS`. Anything else -- attribute access, dunder names, Python keywords,
subscripts, lambda -- is a :class:`~statsmodels_me.spec.errors.SpecificationError` that quotes
the text. The tree is evaluated on data by :mod:`statsmodels_me.design.stata_eval`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from statsmodels_me.spec.errors import SpecificationError

#: function name -> (minimum, maximum) number of arguments (None: no maximum)
FUNCTIONS = {
    "inlist": (2, None), "inrange": (3, 3), "missing": (1, None), "abs": (1, 1),
    "exp": (1, 1), "ln": (1, 1), "log": (1, 1), "log10": (1, 1), "sqrt": (1, 1),
    "floor": (1, 1), "ceil": (1, 1), "int": (1, 1), "round": (1, 2), "mod": (2, 2),
    "min": (1, None), "max": (1, None),
}
#: built-in variables: the observation number and the number of observations
BUILTINS = ("_n", "_N")
#: deepest nesting of operators and calls accepted
MAX_DEPTH = 100
#: longest expression accepted, in characters
MAX_LENGTH = 5000

_TOKEN_RE = re.compile(r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<missing>\.[a-z]?(?![A-Za-z0-9_]))
  | (?P<str>"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|~=|>=|<=|[<>&|!~+\-*/^(),])
""", re.X)
_RELATIONAL = ("==", "!=", "~=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Missing:
    code: str = "."


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str            # "!" or "-"
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        m = _TOKEN_RE.match(text, i)
        if m is None:
            ch = text[i]
            hint = ""
            if ch == "=":
                hint = " (use == to compare)"
            elif ch == ".":
                hint = " (attribute access is not part of Stata's expressions)"
            elif ch == '"':
                hint = " (unterminated string)"
            raise SpecificationError(f"unexpected {ch!r} at position {i} in expression "
                                     f"{text!r}{hint}")
        kind = m.lastgroup
        tok = _Tok(kind, m.group(kind), i)
        if kind == "missing" and i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_)"):
            raise SpecificationError(f"unexpected '.' at position {i} in expression {text!r} "
                                     "(attribute access is not part of Stata's expressions)")
        if kind == "name" and "__" in tok.text:
            raise SpecificationError(f"name {tok.text!r} in expression {text!r} is not "
                                     "allowed (double underscores)")
        if kind == "num" and m.end() < n and (text[m.end()].isalpha() or text[m.end()] == "_"):
            raise SpecificationError(f"cannot read {text[i:m.end() + 1]!r} at position {i} "
                                     f"in expression {text!r}")
        toks.append(tok)
        i = m.end()
    toks.append(_Tok("end", "", n))
    return toks


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, msg: str):
        tok = self.tok
        where = f"at {self.text[tok.pos:]!r}" if tok.kind != "end" else "at the end"
        raise SpecificationError(f"{msg} {where} in expression {self.text!r}")

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self) -> _Tok:
        tok = self.tok
        self.i += 1
        return tok

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SpecificationError(f"expression nested deeper than {MAX_DEPTH} levels: "
                                     f"{self.text[:80]!r}")

    def parse(self):
        if self.tok.kind == "end":
            raise SpecificationError("empty expression")
        node = self.logical_or()
        if self.tok.kind != "end":
            self.error("unexpected text")
        return node

    def logical_or(self):
        node = self.logical_and()
        while self.is_op("|"):
            self.take()
            node = Binary("|", node, self.logical_and())
        return node

    def logical_and(self):
        node = self.relational()
        while self.is_op("&"):
            self.take()
            node = Binary("&", node, self.relational())
        return node

    def relational(self):
        node = self.additive()
        while self.is_op(*_RELATIONAL):
            op = self.take().text
            node = Binary("!=" if op == "~=" else op, node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.take().text
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.prefix()
        while self.is_op("*", "/"):
            op = self.take().text
            node = Binary(op, node, self.prefix())
        return node

    def prefix(self):
        if self.is_op("!", "~", "-", "+"):
            op = self.take().text
            self.enter()
            operand = self.prefix()
            self.depth -= 1
            if op == "+":
                return operand
            return Unary("!" if op in ("!", "~") else "-", operand)
        return self.power()

    def power(self):
        node = self.atom()
        while self.is_op("^"):
            self.take()
            if self.is_op("-", "+"):
                sign = self.take().text
                right = self.atom()
                right = Unary("-", right) if sign == "-" else right
            else:
                right = self.atom()
            node = Binary("^", node, right)
        return node

    def atom(self):
        tok = self.tok
        if tok.kind == "num":
            self.take()
            return Num(float(tok.text))
        if tok.kind == "missing":
            self.take()
            return Missing(tok.text)
        if tok.kind == "str":
            self.take()
            return Str(tok.text[1:-1])
        if tok.kind == "name":
            self.take()
            if self.is_op("("):
                return self.call(tok)
            return Var(tok.text)
        if self.is_op("("):
            self.take()
            self.enter()
            node = self.logical_or()
            self.depth -= 1
            if not self.is_op(")"):
                self.error("expected ')'")
            self.take()
            return node
        self.error("expected a number, a variable, a string or '('")

    def call(self, name_tok: _Tok):
        name = name_tok.text
        if name not in FUNCTIONS:
            raise SpecificationError(
                f"unknown function {name}() in expression {self.text!r}; allowed: "
                f"{', '.join(f'{f}()' for f in FUNCTIONS)}")
        self.take()        # "("
        self.enter()
        args = []
        if not self.is_op(")"):
            args.append(self.logical_or())
            while self.is_op(","):
                self.take()
                args.append(self.logical_or())
        if not self.is_op(")"):
            self.error(f"expected ',' or ')' in {name}()")
        self.take()
        self.depth -= 1
        lo, hi = FUNCTIONS[name]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else
                                             f"{lo} to {hi}")
            raise SpecificationError(f"{name}() takes {want} argument{'s' if hi != 1 else ''}"
                                     f", got {len(args)} in expression {self.text!r}")
        return Call(name, tuple(args))


def parse_expression(text: str):
    """Parse a Stata expression into a tree of :class:`Num`, :class:`Missing`, :class:`Str`,
    :class:`Var`, :class:`Unary`, :class:`Binary` and :class:`Call` nodes.

    Parameters
    ----------
    text : str
        For example ``"id <= 24 & !missing(x)"``.

    Raises
    ------
    SpecificationError
        The text is not a Stata expression of the supported grammar; the message quotes it.

    Examples
    --------
    >>> parse_expression("x > 5")
    Binary(op='>', left=Var(name='x'), right=Num(value=5.0))
    """
    if not isinstance(text, str):
        raise SpecificationError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SpecificationError(f"expression longer than {MAX_LENGTH} characters: "
                                 f"{text[:80]!r}...")
    return _Parser(text).parse()


def expression_variables(node) -> tuple[str, ...]:
    """Variable names used in a parsed expression, in first-use order (``_n``/``_N`` left out).
    """
    return tuple(name for name in _names(node) if name not in BUILTINS)


def expression_builtins(node) -> tuple[str, ...]:
    """The built-in variables (``_n``, ``_N``) a parsed expression reads."""
    return tuple(name for name in _names(node) if name in BUILTINS)


def _names(node) -> tuple[str, ...]:
    """Every name a parsed expression reads, in first-use order."""
    out: list[str] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, Var):
            if cur.name not in out:
                out.append(cur.name)
        elif isinstance(cur, Unary):
            stack.append(cur.operand)
        elif isinstance(cur, Binary):
            stack.extend((cur.right, cur.left))
        elif isinstance(cur, Call):
            stack.extend(reversed(cur.args))
    return tuple(out)
