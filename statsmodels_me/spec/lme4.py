"""lme4-style formulas -> ModelSpec.

``y ~ x + C(g) + (1 + x | id)``: fixed terms as in patsy/R (``0 +`` / ``- 1`` drop the
intercept, ``a:b`` interaction, ``a*b`` full factorial, ``C(x)``/``factor(x)`` categorical,
``C(x, Treatment(2))`` base level), random bars ``(effects | group)`` with

* ``|`` correlated effects (``unstructured``; a single effect is ``independent``, as Stata's
  default for one random effect), ``||`` uncorrelated effects (``independent``);
* ``a/b`` nested grouping (two equations with paths ``(a,)`` and ``(a, b)``), ``a:b`` the
  grouping ``b`` within ``a`` (path ``(a, b)``); separate bars give separate paths (crossed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from statsmodels_me.spec._scan import check_balanced
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.formula_terms import transform_expression, transform_factor
from statsmodels_me.spec.model_spec import Factor, ModelSpec, REEquation, Term
from statsmodels_me.spec.options import COMMAND_FAMILY, OPTIONS, finish_spec
from statsmodels_me.spec.stata import clean_text, resolve_command, split_command
from statsmodels_me.spec.terms import full_factorial

_TOKEN_RE = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+(?:\.\d+)?)"
                       r"|(?P<op>\|\||[~+\-*:/|(),=]))")
_CALL_RE = re.compile(r"(?P<fn>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\(")
_SIMPLE_C_RE = re.compile(
    r"(?:C|factor)\(\s*(?P<var>[A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*(?:Treatment|T)\s*"
    r"(?:\(\s*(?:reference\s*=\s*)?(?P<base>-?\d+(?:\.\d+)?)\s*\))?\s*)?\)\Z")
_CBIND_RE = re.compile(r"cbind\(\s*(?P<a>[A-Za-z_][A-Za-z0-9_]*)\s*,\s*"
                       r"(?P<b>[A-Za-z_][A-Za-z0-9_]*)\s*\)\Z")


@dataclass
class _Tok:
    kind: str      # "name", "num", "op", "call" (a whole function call), "end"
    text: str
    pos: int
    fn: str = ""   # the function name of a call


def _call_end(text: str, open_pos: int) -> int:
    """Index just after the ')' matching the '(' at ``open_pos`` (quotes skipped)."""
    depth, k, quote = 0, open_pos, None
    while k < len(text):
        ch = text[k]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    raise SpecificationError(f"unbalanced '(' at position {open_pos} in formula {text!r}")


def _tokenize(text: str) -> list[_Tok]:
    toks, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        call = _CALL_RE.match(text, i)
        if call:
            end = _call_end(text, call.end() - 1)
            toks.append(_Tok("call", text[i:end], i, call.group("fn")))
            i = end
            continue
        m = _TOKEN_RE.match(text, i)
        if not m:
            raise SpecificationError(f"unexpected character {text[i]!r} at position {i} in "
                                     f"formula {text!r}")
        kind = m.lastgroup
        toks.append(_Tok(kind, m.group(kind), m.start(kind)))
        i = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


@dataclass
class _Sum:
    """Terms of a formula sum and the intercept (None: not said, True/False: said)."""

    terms: list[Term] = field(default_factory=list)
    intercept: bool | None = None
    bars: list[tuple[_Sum, list[tuple[str, ...]], bool, str]] = field(default_factory=list)
    offsets: list[str] = field(default_factory=list)


def _key(term: Term):
    return frozenset(term.factors)


def _add(terms: list[Term], new: list[Term]) -> None:
    keys = {_key(t) for t in terms}
    for t in new:
        if _key(t) not in keys:
            terms.append(t)
            keys.add(_key(t))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    # -- helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, msg: str, tok: _Tok | None = None):
        tok = tok or self.tok
        where = f"at {self.text[tok.pos:]!r}" if tok.kind != "end" else "at the end"
        raise SpecificationError(f"{msg} {where} in formula {self.text!r}")

    def accept(self, op: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == op:
            self.i += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            self.error(f"expected {op!r}")

    def name(self, what: str) -> str:
        if self.tok.kind != "name":
            self.error(f"expected {what}")
        self.i += 1
        return self.toks[self.i - 1].text

    # -- grammar
    def formula(self):
        response = self.response()
        self.expect("~")
        rhs = self.sum(allow_bars=True)
        if self.tok.kind != "end":
            self.error("unexpected text")
        return response, rhs

    def response(self) -> tuple[str, ...]:
        if self.tok.kind == "op" and self.tok.text == "~":
            self.error("missing response before '~'")
        tok = self.tok
        if tok.kind == "call":
            m = _CBIND_RE.match(tok.text)
            if tok.fn != "cbind":
                self.error(f"a transformed response {tok.text!r} is not supported; create the "
                           "variable in the data")
            if not m:
                self.error("expected cbind(variable, variable)")
            self.i += 1
            return (m.group("a"), m.group("b"))
        return (self.name("a response variable"),)

    def sum(self, allow_bars: bool) -> _Sum:
        out = _Sum()
        sign = "+"
        if self.tok.kind == "op" and self.tok.text in "+-":
            sign = self.tok.text
            self.i += 1
        while True:
            self.item(out, sign, allow_bars)
            if self.tok.kind == "op" and self.tok.text in ("+", "-"):
                sign = self.tok.text
                self.i += 1
            else:
                return out

    def item(self, out: _Sum, sign: str, allow_bars: bool) -> None:
        tok = self.tok
        if tok.kind == "num":
            if tok.text not in ("0", "1"):
                self.error(f"a number {tok.text!r} is not a term (only 0 or 1)")
            self.i += 1
            out.intercept = (tok.text == "1") == (sign == "+")
            return
        if tok.kind == "call" and tok.fn == "offset":
            if not allow_bars or sign == "-":
                self.error("offset() belongs in the fixed part, added with '+'")
            self.i += 1
            out.offsets.append(tok.text[tok.text.index("(") + 1:-1])
            return
        if tok.kind == "op" and tok.text == "(" and self._is_bar():
            if not allow_bars:
                self.error("random-effects bar not allowed here")
            if sign == "-":
                self.error("cannot subtract a random-effects bar")
            out.bars.append(self.bar())
            return
        terms = self.product()
        if sign == "+":
            _add(out.terms, terms)
        else:
            drop = {_key(t) for t in terms}
            out.terms[:] = [t for t in out.terms if _key(t) not in drop]

    def _is_bar(self) -> bool:
        depth = 0
        for tok in self.toks[self.i:]:
            if tok.kind == "op" and tok.text == "(":
                depth += 1
            elif tok.kind == "op" and tok.text == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif tok.kind == "op" and tok.text in ("|", "||") and depth == 1:
                return True
            elif tok.kind == "end":
                return False
        return False

    def bar(self):
        start = self.tok
        self.expect("(")
        effects = self.sum(allow_bars=False)
        if self.tok.kind != "op" or self.tok.text not in ("|", "||"):
            self.error("expected '|' or '||'")
        double = self.tok.text == "||"
        self.i += 1
        paths = self.grouping()
        self.expect(")")
        text = self.text[start.pos:self.toks[self.i - 1].pos + 1]
        return effects, paths, double, text

    def grouping(self) -> list[tuple[str, ...]]:
        names = [self.name("a grouping variable after '|'")]
        ops = set()
        while self.tok.kind == "op" and self.tok.text in ("/", ":"):
            ops.add(self.tok.text)
            self.i += 1
            names.append(self.name("a grouping variable"))
        if len(ops) > 1:
            self.error("mixing '/' and ':' in one grouping is not supported")
        if "/" in ops:
            return [tuple(names[:k]) for k in range(1, len(names) + 1)]
        return [tuple(names)]

    def product(self) -> list[Term]:
        groups = [self.interaction()]
        while self.accept("*"):
            groups.append(self.interaction())
        if len(groups) == 1:
            return groups[0]
        out: list[Term] = []
        _add(out, full_factorial(groups))
        return out

    def interaction(self) -> list[Term]:
        terms = self.atom()
        while self.accept(":"):
            right = self.atom()
            terms = [_merge(a, b) for a in terms for b in right]
        return terms

    def atom(self) -> list[Term]:
        tok = self.tok
        if tok.kind == "op" and tok.text == "(":
            self.i += 1
            inner = self.sum(allow_bars=False)
            self.expect(")")
            if inner.intercept is not None:
                self.error("an intercept (0/1) inside parentheses is not supported", tok)
            return inner.terms
        if tok.kind == "num":
            self.error(f"number {tok.text!r} cannot be part of an interaction")
        if tok.kind == "call":
            self.i += 1
            return [Term((self.call_factor(tok),))]
        name = self.name("a variable")
        return [Term((Factor(name, "c"),))]

    def call_factor(self, tok: _Tok) -> Factor:
        """``C(g)``/``C(g, Treatment(2))`` in Stata's coding, any other call a transform."""
        if tok.fn in ("offset", "cbind"):
            self.error(f"{tok.fn}() is not a term here", tok)
        m = _SIMPLE_C_RE.match(tok.text)
        if m:
            base = m.group("base")
            if base is not None:
                value = float(base)
                base = int(value) if "." not in base else value
            return Factor(m.group("var"), "i", base)
        try:
            return transform_factor(tok.text)
        except SpecificationError as err:
            raise SpecificationError(f"{err} (formula {self.text!r})") from None


def _merge(a: Term, b: Term) -> Term:
    factors = list(a.factors)
    for f in b.factors:
        if f not in factors:
            factors.append(f)
    return Term(tuple(factors))


def _equations(bars) -> list[REEquation]:
    out = []
    for effects, paths, double, text in bars:
        if effects.bars:
            raise SpecificationError(f"nested bars in {text!r}")
        constant = effects.intercept is not False
        if not constant and not effects.terms:
            raise SpecificationError(f"random-effects bar {text!r} has no random effects")
        n_effects = len(effects.terms) + constant
        cov = "unstructured" if (not double and n_effects > 1) else "independent"
        for path in paths:
            out.append(REEquation(level=path[-1], path=path, terms=tuple(effects.terms),
                                  constant=constant, covariance=cov))
    return out


def parse_formula(text: str, command: str | None = None, **keywords) -> ModelSpec:
    """Parse an lme4-style formula such as ``"y ~ x + (1 + x | id)"``.

    Parameters
    ----------
    text : str
        The formula; it may start with a command word (``"melogit y ~ x + (1|id)"``).
    command : str, optional
        ``mixed`` (default), ``meglm``, ``melogit``, ...
    **keywords
        Options as in :func:`statsmodels_me.spec.parse`.

    Returns
    -------
    ModelSpec
    """
    source = text
    cleaned = clean_text(text)
    word, body = split_command(cleaned)
    if word is not None and body.lstrip().startswith("~"):
        word, body = None, cleaned
    command = resolve_command(word, command)
    if command == "menl":
        raise SpecificationError("menl models use Stata's 'menl y = <expr>' syntax, not a "
                                 f"formula: {text!r}")
    check_balanced(body)
    if body.count("~") != 1:
        raise SpecificationError(f"a formula needs exactly one '~': {text!r}")
    response, rhs = _Parser(body).formula()
    random = _equations(rhs.bars)
    extra, response = _offset_and_trials(rhs.offsets, response, command, keywords, text)
    return finish_spec(command=command, response=response, fixed=tuple(rhs.terms),
                       constant=rhs.intercept is not False, random=random, typed=[],
                       keywords=keywords, syntax="formula", source=source, extra=extra)


def _offset_and_trials(offsets, response, command, keywords, text):
    """lme4's ``offset(...)`` terms and ``cbind(successes, failures)`` as command options:
    ``offset`` (a variable name or a transform) and ``binomial`` (trials = their sum)."""
    extra = {}
    binomial_commands = tuple(c for c, (fam, _) in COMMAND_FAMILY.items()
                              if fam == "bernoulli") + ("meglm",)
    if offsets:
        if command not in OPTIONS["offset"].commands:
            raise SpecificationError(f"offset() in formula {text!r} is not allowed with "
                                     f"{command}; it applies to "
                                     f"{', '.join(OPTIONS['offset'].commands)}")
        if len(offsets) > 1:
            raise SpecificationError(f"more than one offset() in formula {text!r}; add them "
                                     "inside one offset(a + b)")
        if "offset" in keywords or "exposure" in keywords:
            raise SpecificationError(f"offset() in formula {text!r} and the "
                                     f"{'offset' if 'offset' in keywords else 'exposure'}= "
                                     "keyword: give only one")
        code = offsets[0].strip()
        expr = transform_expression(code)
        extra["offset"] = code if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", code) else expr
    if len(response) == 2 and command != "meintreg":
        if command not in binomial_commands:
            raise SpecificationError(
                f"cbind({', '.join(response)}) in formula {text!r} needs a binomial model "
                f"({', '.join(binomial_commands)}), not {command}")
        family = keywords.get("family")
        if "binomial" in keywords or (isinstance(family, str) and len(family.split()) > 1):
            raise SpecificationError(f"cbind({', '.join(response)}) gives the trials; do not "
                                     "pass them with binomial= or family= as well")
        extra["binomial"] = transform_expression(f"{response[0]} + {response[1]}")
        response = response[:1]
    return extra, response
