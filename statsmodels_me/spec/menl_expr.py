"""The expression language of ``menl``: parse into an AST, evaluate with exact derivatives.

An expression such as ``({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))`` is parsed into nodes
(:class:`Num`, :class:`Var`, :class:`Param`, :class:`RandomEffect`, :class:`Unary`,
:class:`Binary`, :class:`Call`); user text is never passed to ``eval``. Evaluation is
vectorized over the rows of a data frame and forward-mode differentiated: every node returns
its value and its partial derivatives with respect to the fixed-effects parameters and the
random effects, obtained by the chain rule on the tree (exact analytic derivatives).

The environment passed to ``evaluate`` provides ``column(name)``, ``param_index(name)``,
``beta``, ``re_index(name)``, ``re_values(a)`` and ``derivatives`` (False: values only).

Brace groups (``{b1}``, ``{b1=18}``, ``{U1[id]}``, ``{phi1:}``, ``{lc: x1 U0[id]}``) are
turned into nodes by :mod:`statsmodels_me.spec.menl`, which passes a callback
``brace(content)`` to :func:`parse_expression`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from statsmodels_me.spec.errors import SpecificationError

__all__ = ["Num", "Var", "Param", "RandomEffect", "Unary", "Binary", "Call", "Value",
           "parse_expression", "split_braces", "FUNCTIONS"]


class Value:
    """A value and its partial derivatives: ``d[key]`` is an array (per row) or a scalar.

    Keys are ``("b", j)`` for fixed-effects parameter ``j`` and ``("u", a)`` for random
    effect ``a``.
    """

    __slots__ = ("v", "d")

    def __init__(self, v, d=None):
        self.v = v
        self.d = d or {}

    def scaled(self, c):
        return {k: c * g for k, g in self.d.items()}


def _combine(a, ca, b, cb):
    """Derivatives of ``f`` with ``df = ca * da + cb * db``."""
    out = {k: ca * g for k, g in a.d.items()}
    for k, g in b.d.items():
        out[k] = out[k] + cb * g if k in out else cb * g
    return out


@dataclass(frozen=True)
class Num:
    value: float

    def evaluate(self, env):
        return Value(self.value)

    def names(self):
        return set()

    def __str__(self):
        return f"{self.value:g}"


@dataclass(frozen=True)
class Var:
    """A variable of the data."""

    name: str

    def evaluate(self, env):
        return Value(env.column(self.name))

    def names(self):
        return {("var", self.name)}

    def __str__(self):
        return self.name


@dataclass(frozen=True)
class Param:
    """A fixed-effects parameter: ``{b1}`` (name ``b1``) or a coefficient ``phi1:x1``."""

    name: str

    def evaluate(self, env):
        j = env.param_index(self.name)
        return Value(env.beta[j], {("b", j): 1.0} if env.derivatives else None)

    def names(self):
        return {("param", self.name)}

    def __str__(self):
        return "{" + self.name + "}"


@dataclass(frozen=True)
class RandomEffect:
    """A random effect ``{U1[id]}``; ``path`` lists the grouping variables outermost first."""

    name: str
    path: tuple

    def evaluate(self, env):
        a = env.re_index(self.name)
        return Value(env.re_values(a), {("u", a): 1.0} if env.derivatives else None)

    def names(self):
        return {("re", self.name, self.path)}

    def __str__(self):
        return "{" + f"{self.name}[{'>'.join(self.path)}]" + "}"


@dataclass(frozen=True)
class Unary:
    op: str
    arg: object

    def evaluate(self, env):
        a = self.arg.evaluate(env)
        return Value(-a.v, a.scaled(-1.0))

    def names(self):
        return self.arg.names()

    def __str__(self):
        return f"-({self.arg})"


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object

    def evaluate(self, env):
        a, b = self.left.evaluate(env), self.right.evaluate(env)
        op = self.op
        if op == "+":
            return Value(a.v + b.v, _combine(a, 1.0, b, 1.0))
        if op == "-":
            return Value(a.v - b.v, _combine(a, 1.0, b, -1.0))
        if op == "*":
            return Value(a.v * b.v, _combine(a, b.v, b, a.v))
        if op == "/":
            q = a.v / b.v
            return Value(q, _combine(a, 1.0 / b.v, b, -q / b.v))
        # a ^ b = exp(b log a): d = b a^(b-1) da + a^b log(a) db
        with np.errstate(divide="ignore", invalid="ignore"):
            p = a.v ** b.v
            da = b.v * a.v ** (b.v - 1.0) if a.d else 0.0
            db = p * np.log(a.v) if b.d else 0.0
        return Value(p, _combine(a, da, b, db))

    def names(self):
        return self.left.names() | self.right.names()

    def __str__(self):
        return f"({self.left}{self.op}{self.right})"


def _invlogit(x):
    return 1.0 / (1.0 + np.exp(-x))


# name -> (function, derivative as a function of (x, f(x)))
FUNCTIONS = {
    "exp": (np.exp, lambda x, f: f),
    "ln": (np.log, lambda x, f: 1.0 / x),
    "log": (np.log, lambda x, f: 1.0 / x),
    "log10": (np.log10, lambda x, f: 1.0 / (x * np.log(10.0))),
    "sqrt": (np.sqrt, lambda x, f: 0.5 / f),
    "abs": (np.abs, lambda x, f: np.sign(x)),
    "sin": (np.sin, lambda x, f: np.cos(x)),
    "cos": (np.cos, lambda x, f: -np.sin(x)),
    "tan": (np.tan, lambda x, f: 1.0 + f * f),
    "atan": (np.arctan, lambda x, f: 1.0 / (1.0 + x * x)),
    "invlogit": (_invlogit, lambda x, f: f * (1.0 - f)),
    "logit": (lambda x: np.log(x / (1.0 - x)), lambda x, f: 1.0 / (x * (1.0 - x))),
}


@dataclass(frozen=True)
class Call:
    func: str
    arg: object

    def evaluate(self, env):
        a = self.arg.evaluate(env)
        fn, deriv = FUNCTIONS[self.func]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            f = fn(a.v)
            d = a.scaled(deriv(a.v, f)) if a.d else {}
        return Value(f, d)

    def names(self):
        return self.arg.names()

    def __str__(self):
        return f"{self.func}({self.arg})"


def split_braces(text):
    """Replace every ``{...}`` group by a placeholder ``\\x00k\\x00``; return text and groups.

    Raises
    ------
    SpecificationError
        For unbalanced or nested braces, quoting the text.
    """
    out, groups, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "}":
            raise SpecificationError(f"menl: unbalanced braces: '}}' without '{{' in {text!r}")
        if ch == "{":
            j = text.find("}", i + 1)
            inner = text.find("{", i + 1)
            if j < 0 or (0 <= inner < j):
                raise SpecificationError(f"menl: unbalanced braces: '{{' at "
                                         f"{text[i:i + 20]!r} is not closed in {text!r}")
            out.append(f"\x00{len(groups)}\x00")
            groups.append(text[i + 1:j])
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), groups


_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<brace>\x00\d+\x00)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>[-+*/^(),]))")


def _tokens(text, original):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].strip()[:20].replace("\x00", "")
            raise SpecificationError(f"menl: cannot read {bad!r} in the expression {original!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens, brace, original):
        self.toks = tokens
        self.i = 0
        self.brace = brace
        self.original = original

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, what):
        raise SpecificationError(f"menl: {what} in the expression {self.original!r}")

    def expect(self, value):
        kind, tok = self.take()
        if tok != value:
            self.fail(f"expected {value!r} but found {tok!r}" if tok else f"missing {value!r}")

    def expr(self):
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = Binary(op, node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = Binary(op, node, self.unary())
        return node

    def unary(self):
        if self.peek()[1] in ("-", "+"):
            op = self.take()[1]
            arg = self.unary()
            return Unary("-", arg) if op == "-" else arg
        return self.power()

    def power(self):
        # Stata: ^ binds tighter than unary minus and is left-associative
        node = self.atom()
        while self.peek()[1] == "^":
            self.take()
            if self.peek()[1] in ("-", "+"):
                op = self.take()[1]
                rhs = self.atom()
                rhs = Unary("-", rhs) if op == "-" else rhs
            else:
                rhs = self.atom()
            node = Binary("^", node, rhs)
        return node

    def atom(self):
        kind, tok = self.take()
        if kind == "num":
            return Num(float(tok))
        if kind == "brace":
            return self.brace(int(tok.strip("\x00")))
        if kind == "name":
            if self.peek()[1] == "(":
                if tok not in FUNCTIONS:
                    self.fail(f"unknown function {tok!r} (known: {', '.join(sorted(FUNCTIONS))})")
                self.take()
                arg = self.expr()
                if self.peek()[1] == ",":
                    self.fail(f"function {tok!r} takes one argument")
                self.expect(")")
                return Call(tok, arg)
            return Var(tok)
        if tok == "(":
            node = self.expr()
            self.expect(")")
            return node
        if tok is None:
            self.fail("unexpected end")
        self.fail(f"unexpected {tok!r}")


def parse_expression(text, brace):
    """Parse a ``menl`` expression.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))"``.
    brace : callable
        ``brace(content) -> node`` for the content of each ``{...}`` group.

    Returns
    -------
    node
        The root of the AST.

    Raises
    ------
    SpecificationError
        Unbalanced braces or parentheses, unknown functions, stray characters; the message
        quotes the expression.
    """
    body, groups = split_braces(text)
    if not body.strip():
        raise SpecificationError(f"menl: empty expression {text!r}")
    parser = _Parser(_tokens(body, text), lambda k: brace(groups[k]), text)
    node = parser.expr()
    if parser.i != len(parser.toks):
        kind, tok = parser.peek()
        what = "unbalanced parentheses: ')'" if tok == ")" else repr(tok)
        parser.fail(f"unexpected {what}")
    return node
