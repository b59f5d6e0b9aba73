"""Stata factor-variable notation (``i.`` ``ibn.`` ``b2.`` ``c.`` ``#`` ``##``) -> Terms.

Rules follow Stata's ``[U] 11.4.3 Factor variables``: a bare name is continuous, except inside
an interaction (``a#b``, ``a##b``) where it is a factor (``i.``); ``a##b##c`` expands to every
sub-interaction ordered by degree (``a b c a#b a#c b#c a#b#c``).
"""
from __future__ import annotations

import itertools
import re

from statsmodels_me.spec._scan import check_name, split_top, split_words
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.model_spec import Factor, Term

_ITEM_RE = re.compile(r"(?:(?P<prefix>[A-Za-z0-9]+)\.)?(?P<body>[A-Za-z_][A-Za-z0-9_]*|\(.*\))\Z",
                      re.S)
_BASE_RE = re.compile(r"i?b(?P<num>\d+(?:\.\d+)?)\Z")
#: Stata's time-series operators, possibly chained: L. L2. F. D. S4. LD. ...
TS_OP_RE = re.compile(r"(?:[LFDSlfds]\d*)+\Z")
#: a time-series-operated variable as the package names it: ``L.x``, ``L2D.x``
TS_VAR_RE = re.compile(r"(?P<ops>(?:[LFDS]\d*)+)\.(?P<var>[A-Za-z_][A-Za-z0-9_]*)\Z")


def ts_operators(ops: str) -> list[tuple[str, int]]:
    """``"L2D"`` -> ``[("L", 2), ("D", 1)]``."""
    return [(m.group(1).upper(), int(m.group(2) or 1))
            for m in re.finditer(r"([LFDSlfds])(\d*)", ops)]


def ts_name(ops: str, var: str) -> str:
    """Stata's name of an operated variable: upper case, no 1s (``l1.x`` -> ``L.x``)."""
    parts = ts_operators(ops)
    if any(k == 0 for _, k in parts):
        raise SpecificationError(f"time-series operator {ops}. in {ops}.{var}: the lag "
                                 "or lead must be at least 1")
    return "".join(op + (str(k) if k > 1 else "") for op, k in parts) + "." + var


_LEVEL_RE = re.compile(r"i?\d+\Z")


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def parse_prefix(prefix: str | None, default: str, token: str) -> tuple[str, object]:
    """Map a factor-variable operator to ``(kind, base)``.

    Parameters
    ----------
    prefix : str or None
        The text before the dot (``"i"``, ``"ibn"``, ``"b2"``, ``"c"``) or None for a bare name.
    default : {"c", "i"}
        Kind of a bare name (``"i"`` inside interactions).
    token : str
        The whole item, for error messages.
    """
    if prefix is None:
        return default, None
    p = prefix
    if p == "i":
        return "i", None
    if p == "c":
        return "c", None
    if p in ("ibn", "bn"):
        return "ibn", None
    m = _BASE_RE.match(p)
    if m:
        return "i", _number(m.group("num"))
    if _LEVEL_RE.match(p):
        raise SpecificationError(
            f"level selection {prefix + '.'!r} in {token!r} is not supported; use i. or ibn. "
            "with the whole factor")
    if TS_OP_RE.match(p):
        return "ts", None
    if p == "R":
        raise SpecificationError(
            f"{token!r}: R.varname is allowed only alone in a random-effects equation "
            "(levelvar: R.varname)")
    raise SpecificationError(
        f"unknown factor-variable operator {prefix + '.'!r} in {token!r}; allowed: i. ibn. "
        "b#. ib#. c.")


def _parse_item(item: str, default: str, token: str) -> list[Factor]:
    """One operand of ``#``: ``x``, ``i.x``, ``b2.x``, ``i.(a b)`` or ``(a b)``."""
    m = _ITEM_RE.match(item)
    if not m and re.match(r"i?b\(", item):
        raise SpecificationError(f"base operator in {item!r} is not supported; give the base "
                                 "level as a number, as in ib2.x")
    if not m:
        if not item:
            raise SpecificationError(f"empty operand of '#' in {token!r}")
        raise SpecificationError(f"cannot read {item!r} in {token!r} as a variable or "
                                 "factor-variable term")
    prefix, body = m.group("prefix"), m.group("body")
    if not body.startswith("("):
        kind, base = parse_prefix(prefix, default, token)
        if kind == "ts":
            return [Factor(ts_name(prefix, check_name(body)), "c")]
        return [Factor(check_name(body), kind, base)]
    inner = split_words(body[1:-1])
    if not inner:
        raise SpecificationError(f"empty variable group '()' in {token!r}")
    out: list[Factor] = []
    for word in inner:
        if prefix is not None:
            kind, base = parse_prefix(prefix, default, token)
            if kind == "ts":
                out.append(Factor(ts_name(prefix, check_name(word)), "c"))
                continue
            out.append(Factor(check_name(word), kind, base))
        else:
            if "#" in word:
                raise SpecificationError(f"interaction {word!r} inside a group in {token!r} "
                                         "is not supported")
            out.extend(_parse_item(word, default, token))
    return out


def _product(groups: list[list[Term]]) -> list[Term]:
    """Cartesian product of term alternatives, concatenating their factors."""
    return [Term(tuple(f for t in combo for f in t.factors))
            for combo in itertools.product(*groups)]


def parse_token(token: str) -> list[Term]:
    """Expand one whitespace-free varlist token into terms.

    Examples
    --------
    >>> [len(t.factors) for t in parse_token("a##b")]
    [1, 1, 2]
    """
    interaction = "#" in token
    default = "i" if interaction else "c"
    operands = split_top(token, "##")
    expanded: list[list[Term]] = []
    for op in operands:
        items = split_top(op, "#")
        if len(items) > MAX_INTERACTION:
            raise SpecificationError(f"interaction {op!r} has {len(items)} variables; at most "
                                     f"{MAX_INTERACTION} are allowed")
        factor_lists = [_parse_item(it, default, token) for it in items]
        expanded.append(_product([[Term((f,)) for f in fl] for fl in factor_lists]))
    if len(expanded) == 1:
        return expanded[0]
    return full_factorial(expanded)


def parse_varlist(text: str) -> tuple[Term, ...]:
    """Parse a Stata varlist with factor-variable notation into terms, in written order."""
    terms: list[Term] = []
    for word in split_words(text):
        terms.extend(parse_token(word))
    return tuple(terms)


#: most variables in one interaction (Stata's limit on ``#``/``##`` operands)
MAX_INTERACTION = 8
#: most terms one ``##`` (or formula ``*``) may expand to
MAX_FACTORIAL_TERMS = 4096


def full_factorial(groups: list[list[Term]]) -> list[Term]:
    """Every sub-interaction of ``groups`` ordered by degree, as Stata's ``##``.

    Raises
    ------
    SpecificationError
        More than :data:`MAX_INTERACTION` operands, or more than
        :data:`MAX_FACTORIAL_TERMS` terms, checked before anything is expanded.
    """
    if len(groups) > MAX_INTERACTION:
        raise SpecificationError(
            f"a full factorial of {len(groups)} variables would expand to "
            f"2^{len(groups)} - 1 terms; interactions may have at most {MAX_INTERACTION} "
            "variables")
    count = 1
    for g in groups:
        count *= 1 + len(g)
    if count - 1 > MAX_FACTORIAL_TERMS:
        raise SpecificationError(f"a full factorial expanding to {count - 1} terms; at most "
                                 f"{MAX_FACTORIAL_TERMS} are allowed")
    terms: list[Term] = []
    for size in range(1, len(groups) + 1):
        for subset in itertools.combinations(groups, size):
            terms.extend(_product(list(subset)))
    return terms
