"""Value checks of the options whose argument is a small language of its own.

``residuals()``, ``dfmethod()``, ``vce()``, ``technique()``, ``startvalues()`` and ``level()``
are read as Stata reads them ([ME] mixed, [ME] meglm, [R] maximize, [R] level), so an invalid
value is a :class:`SpecificationError` naming the option even where the option itself is not
implemented yet (then the model refuses it with ``NotImplementedError``).
"""
from __future__ import annotations

import re

from statsmodels_me.spec._scan import NAME_RE
from statsmodels_me.spec.errors import SpecificationError

#: residual structures of mixed's residuals(): name -> (minimal abbreviation, takes #)
_RESIDUAL_STRUCTURES = {"independent": (3, False), "exchangeable": (3, False),
                        "ar": (2, True), "ma": (2, True), "unstructured": (2, False),
                        "banded": (1, True), "toeplitz": (3, True), "exponential": (3, False)}
_RESIDUAL_SUBOPTIONS = {"t": 1, "by": 2, "index": 5}
_DFMETHODS = {"residual": 3, "repeated": 3, "anova": 3, "satterthwaite": 3, "kroger": 2,
              "kenwardroger": 12}
_VCE = {"oim": 3, "opg": 3, "robust": 1, "cluster": 2, "bootstrap": 4, "jackknife": 4}
_TECHNIQUES = {"nr": 2, "bhhh": 4, "dfp": 3, "bfgs": 4}
_STARTVALUES = {"zero": 4, "constantonly": 8, "fixedonly": 5, "iv": 2}


def _fail(opt: str, arg, expected: str):
    raise SpecificationError(f"option {opt}({arg}) is invalid: expected {expected}")


def _word(word: str, table: dict, opt: str, arg) -> str:
    w = word.lower()
    hits = [full for full, n in table.items()
            if full.startswith(w) and len(w) >= (n[0] if isinstance(n, tuple) else n)]
    if len(hits) != 1:
        _fail(opt, arg, "one of " + ", ".join(table))
    return hits[0]


def _split_comma(text: str) -> tuple[str, str]:
    head, _, tail = text.partition(",")
    return head.strip(), tail.strip()


def residuals_value(opt: str, arg) -> dict:
    """``residuals(rspec [, t(var) by(var)])``: kept as typed after checking it."""
    text = str(arg).strip()
    head, tail = _split_comma(text)
    words = head.split()
    if not words:
        _fail(opt, arg, "a residual structure such as independent, ar 1, exchangeable")
    kind = _word(words[0], _RESIDUAL_STRUCTURES, opt, arg)
    takes_number = _RESIDUAL_STRUCTURES[kind][1]
    rest = words[1:]
    if takes_number:
        if kind in ("ar", "ma") and (len(rest) != 1 or not rest[0].isdigit() or int(rest[0]) < 1):
            _fail(opt, arg, f"{kind} followed by a positive integer order, e.g. {kind} 1")
        if kind not in ("ar", "ma") and (len(rest) > 1 or (rest and not rest[0].isdigit())):
            _fail(opt, arg, f"{kind} optionally followed by an integer")
    elif rest:
        _fail(opt, arg, f"nothing after {kind} before the comma")
    for m in re.finditer(r"\s*([A-Za-z]+)\s*\(([^()]*)\)\s*|(\S+)", tail):
        if m.group(3) is not None:
            _fail(opt, arg, "suboptions t(var), by(var) or index(var)")
        _word(m.group(1), _RESIDUAL_SUBOPTIONS, opt, arg)
        if not NAME_RE.match(m.group(2).strip()):
            _fail(opt, arg, f"a variable name in {m.group(1)}()")
    return {opt: text}


def dfmethod_value(opt: str, arg) -> dict:
    """``dfmethod(residual | repeated | anova | satterthwaite [, dfopts] | kroger)``."""
    head, tail = _split_comma(str(arg))
    words = head.split()
    if len(words) != 1:
        _fail(opt, arg, "one of " + ", ".join(_DFMETHODS))
    kind = _word(words[0], _DFMETHODS, opt, arg)
    if tail and kind != "satterthwaite":
        _fail(opt, arg, f"no suboptions after {kind}")
    return {opt: kind if not tail else f"{kind}, {tail}"}


def vce_value(opt: str, arg) -> dict:
    """``vce(oim | opg | robust | cluster clustvar)``; gives ``("robust",)``-style tuples."""
    words = str(arg).replace(",", " ").split()
    if not words:
        _fail(opt, arg, "oim, opg, robust or cluster clustvar")
    kind = _word(words[0], _VCE, opt, arg)
    if kind == "cluster":
        if len(words) != 2 or not NAME_RE.match(words[1]):
            _fail(opt, arg, "cluster followed by one variable name")
        return {opt: (kind, words[1])}
    if len(words) != 1 and kind not in ("bootstrap", "jackknife"):
        _fail(opt, arg, f"nothing after {kind}")
    return {opt: (kind,)}


def technique_value(opt: str, arg) -> dict:
    """``technique(nr 5 bfgs 10 ...)``: algorithm names, each optionally with a count."""
    words = str(arg).split()
    if not words:
        _fail(opt, arg, "nr, bhhh, dfp or bfgs")
    out = []
    for w in words:
        if w.isdigit() and out:
            continue
        out.append(_word(w, _TECHNIQUES, opt, arg))
    return {opt: " ".join(words)}


def startvalues_value(opt: str, arg) -> dict:
    """``startvalues(zero | constantonly | fixedonly | iv [, iterate(#)])``."""
    head, tail = _split_comma(str(arg))
    words = head.split()
    if len(words) != 1:
        _fail(opt, arg, "one of " + ", ".join(_STARTVALUES))
    kind = _word(words[0], _STARTVALUES, opt, arg)
    if tail and not re.fullmatch(r"iter(?:a(?:t(?:e)?)?)?\s*\(\s*\d+\s*\)", tail):
        _fail(opt, arg, "iterate(#) as the only suboption")
    return {opt: kind if not tail else f"{kind}, {tail}"}


def level_value(opt: str, arg) -> dict:
    """``level(#)``: a confidence level in [10, 99.99] ([R] level)."""
    try:
        value = float(str(arg).strip())
    except ValueError:
        _fail(opt, arg, "a number between 10 and 99.99")
    if not 10 <= value <= 99.99:
        _fail(opt, arg, "a number between 10 and 99.99")
    return {opt: value}


def positive_float(opt: str, arg) -> dict:
    """A tolerance: a positive number."""
    try:
        value = float(str(arg).strip())
    except ValueError:
        _fail(opt, arg, "a positive number")
    if not value > 0 or value == float("inf"):
        _fail(opt, arg, "a positive number")
    return {opt: value}
