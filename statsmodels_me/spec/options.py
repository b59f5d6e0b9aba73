"""Command options: Stata abbreviations, value checks, keyword overrides, command defaults.

Both front ends hand their option text (Stata) or keywords (both) to :func:`finish_spec`,
which validates everything and builds the :class:`~statsmodels_me.spec.model_spec.ModelSpec`.
Option names are matched with Stata's minimal-abbreviation rule: ``cov`` ... ``covariance``
are all ``covariance``, but ``co`` is not.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from statsmodels_me.spec._scan import NAME_RE, check_balanced, check_name
from statsmodels_me.spec.errors import SpecificationError, UnknownKeywordError
from statsmodels_me.spec.expressions import expression_variables, parse_expression
from statsmodels_me.spec.model_spec import (
    COVARIANCE_STRUCTURES,
    Expression,
    ModelSpec,
    ObsRange,
    REEquation,
)
from statsmodels_me.spec.option_values import (
    dfmethod_value,
    level_value,
    positive_float,
    residuals_value,
    startvalues_value,
    technique_value,
    vce_value,
)

#: commands of the suite, as typed in Stata
COMMANDS = ("mixed", "meglm", "melogit", "meprobit", "mecloglog", "meologit", "meoprobit",
            "mepoisson", "menbreg", "metobit", "meintreg", "mestreg", "menl")

_BINARY = ("melogit", "meprobit", "mecloglog")
_GLM = ("meglm",) + _BINARY + ("meologit", "meoprobit", "mepoisson", "menbreg")
_ME = _GLM + ("metobit", "meintreg", "mestreg")
_ALL = ("mixed",) + _ME

#: family and link of the shortcut commands (Stata's table in [ME] meglm)
COMMAND_FAMILY = {
    "melogit": ("bernoulli", "logit"), "meprobit": ("bernoulli", "probit"),
    "mecloglog": ("bernoulli", "cloglog"), "meologit": ("ordinal", "logit"),
    "meoprobit": ("ordinal", "probit"), "mepoisson": ("poisson", "log"),
    "menbreg": ("nbinomial", "log"),
}
#: meglm's default link of each family
CANONICAL_LINK = {"gaussian": "identity", "bernoulli": "logit", "binomial": "logit",
                  "poisson": "log", "nbinomial": "log", "gamma": "log", "ordinal": "logit"}


def match_word(word: str, table: Mapping[str, int], what: str) -> str:
    """Full name of ``word`` under Stata's minimal-abbreviation rule.

    Parameters
    ----------
    word : str
        What the user typed (case-insensitive).
    table : mapping
        Full name -> minimal abbreviation length.
    what : str
        What is being matched, for the error message.
    """
    w = word.strip().lower()
    hits = [full for full, n in table.items() if full.startswith(w) and len(w) >= n]
    if len(hits) == 1:
        return hits[0]
    allowed = ", ".join(f"{full}" for full in table)
    raise SpecificationError(f"unknown {what} {word!r}; allowed: {allowed}")


_INTMETHODS = {"mvaghermite": 2, "mcaghermite": 2, "ghermite": 2, "laplace": 3, "pclaplace": 2}
_LINKS = {"identity": 2, "log": 3, "logit": 5, "probit": 4, "cloglog": 4}
_FAMILIES = {"gaussian": 3, "bernoulli": 4, "binomial": 3, "poisson": 3, "nbinomial": 2,
             "gamma": 3, "ordinal": 3}
_DISPERSIONS = {"mean": 1, "constant": 1}
_PWSCALE = {"size": 4, "effective": 9, "gk": 2}
_DISTRIBUTIONS = {"exponential": 3, "gompertz": 3, "loglogistic": 4, "llogistic": 2,
                  "weibull": 4, "lognormal": 4, "lnormal": 2, "gamma": 3}
_DIST_ALIAS = {"llogistic": "loglogistic", "lnormal": "lognormal"}
_COVARIANCES = {"independent": 3, "exchangeable": 3, "identity": 2, "unstructured": 2,
                "pattern": 3, "fixed": 3}


# ---------------------------------------------------------------------------- value parsers
def _fail(opt: str, arg: Any, expected: str):
    raise SpecificationError(f"option {opt}({arg}) is invalid: expected {expected}")


def _flag(opt, arg):
    if arg is not None:
        raise SpecificationError(f"option {opt} does not take arguments; got {opt}({arg})")
    return {opt: True}


def _int(opt, arg):
    try:
        value = int(str(arg).strip())
    except ValueError:
        _fail(opt, arg, "an integer")
    if value < 0:
        _fail(opt, arg, "a non-negative integer")
    return {opt: value}


def _pos_int(opt, arg):
    value = _int(opt, arg)[opt]
    if value < 1:
        _fail(opt, arg, "a positive integer")
    return {opt: value}


def _var(opt, arg):
    text = str(arg).strip()
    if not NAME_RE.match(text):
        _fail(opt, arg, "a variable name")
    return {opt: text}


def _number_or_var(text: str, opt: str):
    text = text.strip()
    if NAME_RE.match(text):
        return text
    try:
        value = float(text)
    except ValueError:
        _fail(opt, text, "a variable name or a number")
    return int(value) if value.is_integer() else value


def _varnum(opt, arg):
    return {opt: _number_or_var(str(arg), opt)}


def _opt_varnum(opt, arg):
    return {opt: True if arg is None else _number_or_var(str(arg), opt)}


def _raw(opt, arg):
    text = str(arg).strip()
    if not text:
        _fail(opt, arg, "a non-empty argument")
    return {opt: text}


def _choice(table, what):
    def parse(opt, arg):
        return {opt: match_word(str(arg), table, what)}
    return parse


def _distribution(opt, arg):
    name = match_word(str(arg), _DISTRIBUTIONS, "distribution")
    return {opt: _DIST_ALIAS.get(name, name)}


def _family(opt, arg):
    words = str(arg).split()
    if not words:
        _fail(opt, arg, "a family name")
    fam = match_word(words[0], _FAMILIES, "family")
    out: dict[str, Any] = {"family": fam}
    rest = " ".join(words[1:])
    if fam == "binomial":
        out["binomial"] = _number_or_var(rest, "family(binomial)") if rest else 1
    elif fam == "nbinomial" and rest:
        out["dispersion"] = match_word(rest, _DISPERSIONS, "nbinomial dispersion")
    elif rest:
        _fail(opt, arg, f"no argument after family {fam}")
    return out


def _numlist(opt, arg):
    """Stata numlist of constraint numbers: ``1 2``, ``1/3``, ``1,2``."""
    nums: list[int] = []
    for piece in str(arg).replace(",", " ").split():
        m = re.fullmatch(r"(\d+)(?:/(\d+))?", piece)
        if not m:
            _fail(opt, arg, "constraint numbers such as 1 2 or 1/3")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        nums.extend(range(lo, hi + 1))
    if not nums:
        _fail(opt, arg, "at least one constraint number")
    return {opt: tuple(nums)}


def _mle(opt, arg):
    _flag(opt, arg)
    return {"reml": False}


def _covariance(opt, arg):
    cov, name = parse_covariance(str(arg))
    return {opt: (cov, name)}


# ------------------------------------------------------------------------ the option table
#: what consumes an option (``OptionDef.use``)
USES = {
    "spec": "the parser itself (model structure: constant, covariance, constraints)",
    "design": "the design builder (statsmodels_me.design)",
    "model": "the estimator (models/*.py): likelihood, family, starting values, fit controls",
    "display": "the summary (results/summary.py) and the results' reporting",
    "default": "the package's behaviour without the option: it asks for what is done anyway",
    "refused": "not implemented: a model built with it raises NotImplementedError",
}


@dataclass(frozen=True)
class OptionDef:
    """One option: full name, minimal abbreviation length, value parser, where it may appear.

    ``use`` says what consumes the option (a key of :data:`USES`); ``refused_for`` lists the
    commands whose estimator does not implement it yet (a model built with it raises
    ``NotImplementedError`` naming it), and ``accepted_values`` the values that are implemented
    where the others are refused (``vce(oim)``).
    """

    name: str
    minlen: int
    parser: Any
    scope: str = "global"          # "global", "re" (random equation) or "both"
    commands: tuple[str, ...] = _ALL
    use: str = "model"
    refused_for: tuple[str, ...] = ()
    accepted_values: tuple = ()

    @property
    def is_flag(self) -> bool:
        return self.parser in (_flag, _mle)

    def refused(self, command: str, value: Any) -> bool:
        """Whether a model of ``command`` refuses the option set to ``value``."""
        if value is False or value is None:
            return False
        if self.use == "refused" or command in self.refused_for:
            return value not in self.accepted_values
        return False


def _defs():
    mixed = ("mixed",)
    no = "refused"
    rows = [
        # random-effects equation options
        OptionDef("covariance", 3, _covariance, "re", use="spec"),
        OptionDef("noconstant", 5, _flag, "both", use="spec"),
        OptionDef("collinear", 4, _flag, "re", use=no),
        OptionDef("fweight", 7, _var, "re"),
        OptionDef("pweight", 7, _var, "re"),
        # model
        OptionDef("family", 3, _family, commands=("meglm",)),
        OptionDef("link", 4, _choice(_LINKS, "link"), commands=("meglm",)),
        OptionDef("binomial", 3, _varnum, commands=("meglm",) + _BINARY, use="design"),
        OptionDef("exposure", 3, _var, commands=("meglm", "mepoisson", "menbreg", "mestreg"),
                  use="design"),
        OptionDef("offset", 3, _var, commands=_GLM + ("mestreg",), use="design"),
        OptionDef("asis", 4, _flag, commands=("meglm",) + _BINARY, use=no),
        OptionDef("dispersion", 4, _choice(_DISPERSIONS, "dispersion"),
                  commands=("meglm", "menbreg")),
        OptionDef("ll", 2, _opt_varnum, commands=("metobit",)),
        OptionDef("ul", 2, _opt_varnum, commands=("metobit",)),
        OptionDef("distribution", 4, _distribution, commands=("mestreg",)),
        OptionDef("nohr", 4, _flag, commands=("mestreg",)),
        OptionDef("tratio", 6, _flag, commands=("mestreg",)),
        OptionDef("time", 4, _flag, commands=("mestreg",)),
        OptionDef("constraints", 5, _numlist, commands=_ME, use="spec"),
        # estimation
        OptionDef("reml", 4, _flag, commands=mixed),
        OptionDef("mle", 3, _mle, commands=mixed),
        OptionDef("residuals", 3, residuals_value, commands=mixed),
        OptionDef("pwscale", 7, _choice(_PWSCALE, "pwscale() method"), commands=mixed),
        OptionDef("dfmethod", 3, dfmethod_value, commands=mixed),
        OptionDef("intmethod", 4, _choice(_INTMETHODS, "integration method"), commands=_ME),
        OptionDef("intpoints", 4, _pos_int, commands=_ME),
        OptionDef("startvalues", 6, startvalues_value, commands=_ME, use=no),
        OptionDef("startgrid", 6, _raw, commands=_ME, use=no),
        OptionDef("noestimate", 10, _flag, commands=_ME, use=no),
        OptionDef("dnumerical", 4, _flag, commands=_ME, use=no),
        OptionDef("from", 4, _raw, use=no),
        OptionDef("vce", 3, vce_value,
                  accepted_values=(("oim",),)),
        # EM and maximization
        OptionDef("emiterate", 6, _int, commands=mixed),
        OptionDef("emtolerance", 5, positive_float, commands=mixed),
        OptionDef("emonly", 6, _flag, commands=mixed, use=no),
        OptionDef("emlog", 5, _flag, commands=mixed, use=no),
        OptionDef("emdots", 6, _flag, commands=mixed, use=no),
        OptionDef("matsqrt", 7, _flag, commands=mixed, use="default"),
        OptionDef("matlog", 6, _flag, commands=mixed, use=no),
        OptionDef("iterate", 4, _int),
        OptionDef("tolerance", 3, positive_float),
        OptionDef("ltolerance", 4, positive_float),
        OptionDef("nrtolerance", 5, positive_float, refused_for=mixed),
        OptionDef("nonrtolerance", 13, _flag, use=no),
        OptionDef("showtolerance", 8, _flag, use=no),
        OptionDef("difficult", 4, _flag, use=no),
        OptionDef("technique", 4, technique_value, use=no),
        OptionDef("nolog", 5, _flag, use="default"),
        OptionDef("log", 3, _flag, use=no),
        OptionDef("trace", 5, _flag, use=no),
        OptionDef("gradient", 4, _flag, use=no),
        OptionDef("hessian", 4, _flag, use=no),
        OptionDef("showstep", 8, _flag, use=no),
        # reporting
        OptionDef("level", 3, level_value, use="display"),
        OptionDef("or", 2, _flag, commands=("meglm", "melogit", "meologit"), use="display"),
        OptionDef("irr", 3, _flag, commands=("meglm", "mepoisson", "menbreg"), use="display"),
        OptionDef("eform", 5, _flag, commands=("meglm",), use="display"),
        OptionDef("variance", 3, _flag, commands=mixed, use="default"),
        OptionDef("stddeviations", 6, _flag, commands=mixed, use="display"),
        OptionDef("nostderr", 8, _flag, commands=mixed, use=no),
        OptionDef("noretable", 9, _flag, use="display"),
        OptionDef("nofetable", 9, _flag, use="display"),
        OptionDef("estmetric", 6, _flag, use=no),
        OptionDef("noheader", 5, _flag, use="display"),
        OptionDef("notable", 5, _flag, use="display"),
        OptionDef("nogroup", 4, _flag, use="display"),
        OptionDef("nolrtest", 4, _flag, use="display"),
        OptionDef("nocnsreport", 6, _flag, use="default"),
        OptionDef("noomitted", 6, _flag, use="display"),
        OptionDef("baselevels", 4, _flag, use="display"),
        OptionDef("allbaselevels", 7, _flag, use=no),
        OptionDef("noemptycells", 7, _flag, use=no),
        OptionDef("nofvlabel", 7, _flag, use=no),
        OptionDef("vsquish", 7, _flag, use=no),
        OptionDef("coeflegend", 5, _flag, use="display"),
        OptionDef("cformat", 7, _raw, use=no),
        OptionDef("pformat", 7, _raw, use=no),
        OptionDef("sformat", 7, _raw, use=no),
    ]
    return {d.name: d for d in rows}


OPTIONS: dict[str, OptionDef] = _defs()
#: Python keyword spellings that are not option names
KEYWORD_ALIASES = {"or_": "or", "cov": "covariance"}
#: keywords handled outside the option table
SPECIAL_KEYWORDS = ("matrices", "constraints", "covariance", "weight", "panel", "time")


def _shown(value: Any) -> str:
    if value is True:
        return ""
    if isinstance(value, tuple):
        value = " ".join(map(str, value))
    return f"({value})"


def refuse_unimplemented(spec: ModelSpec) -> None:
    """``NotImplementedError`` naming the first option of ``spec`` its command's estimator
    does not implement (see ``OptionDef.use`` and ``OptionDef.refused_for``)."""
    for key, value in spec.options.items():
        opt = OPTIONS.get(key)
        if opt is not None and opt.refused(spec.command, value):
            raise NotImplementedError(
                f"{spec.command}: option {opt.name}{_shown(value)} is not implemented yet; "
                "fit without it")


def lookup(word: str) -> OptionDef:
    """The option definition that ``word`` abbreviates, or :class:`SpecificationError`."""
    w = word.lower()
    hits = [d for d in OPTIONS.values() if d.name.startswith(w) and len(w) >= d.minlen]
    if len(hits) != 1:
        raise SpecificationError(
            f"unknown option {word!r}; allowed options: {', '.join(sorted(OPTIONS))}")
    return hits[0]


_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokenize_options(text: str) -> list[tuple[str, str | None]]:
    """Split option text into ``(word, argument-or-None)`` pairs.

    ``"nocons cov(fixed(f)) intm(laplace)"`` gives
    ``[("nocons", None), ("cov", "fixed(f)"), ("intm", "laplace")]``.
    """
    check_balanced(text)
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        m = _WORD_RE.match(text, i)
        if not m:
            raise SpecificationError(f"cannot read option text at {text[i:]!r} in {text!r}")
        word, i = m.group(), m.end()
        j = i
        while j < n and text[j].isspace():
            j += 1
        arg = None
        if j < n and text[j] == "(":
            depth, k = 0, j
            while True:
                if text[k] == "(":
                    depth += 1
                elif text[k] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            arg, i = text[j + 1:k], k + 1
        out.append((word, arg))
    return out


def parse_option(word: str, arg: str | None, command: str) -> tuple[OptionDef, dict]:
    """Resolve one typed option to its definition and the ``options`` entries it sets."""
    opt = lookup(word)
    if command not in opt.commands:
        raise SpecificationError(
            f"option {word!r} ({opt.name}) is not allowed with {command}; it applies to "
            f"{', '.join(opt.commands)}")
    if arg is None and not opt.is_flag and opt.parser is not _opt_varnum:
        raise SpecificationError(f"option {opt.name} requires an argument: {opt.name}(...)")
    return opt, opt.parser(opt.name, arg)


def parse_covariance(text: str) -> tuple[str, str | None]:
    """``"un"`` -> ``("unstructured", None)``; ``"fixed(f)"`` -> ``("fixed", "f")``."""
    text = text.strip()
    m = re.fullmatch(r"([A-Za-z]+)\s*(?:\((.*)\))?", text, re.S)
    if not m:
        raise SpecificationError(f"unknown covariance structure {text!r}; allowed: "
                                 f"{', '.join(COVARIANCE_STRUCTURES)} (pattern/fixed take a "
                                 "matrix name)")
    kind = match_word(m.group(1), _COVARIANCES, "covariance structure")
    arg = m.group(2)
    if kind in ("pattern", "fixed"):
        if arg is None or not NAME_RE.match(arg.strip()):
            raise SpecificationError(f"covariance {text!r}: {kind}() needs a matrix name, "
                                     f"as in {kind}(M)")
        return kind, arg.strip()
    if arg is not None:
        raise SpecificationError(f"covariance {text!r}: {kind} takes no argument")
    return kind, None


# --------------------------------------------------------------------------- constraints
def _strip_b(text: str) -> str:
    """Replace every ``_b[...]`` by its content (bracket-matched)."""
    out, i = [], 0
    while True:
        j = text.find("_b[", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        depth, k = 0, j + 2
        while k < len(text):
            if text[k] == "[":
                depth += 1
            elif text[k] == "]":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if k >= len(text):
            raise SpecificationError(f"constraint {text!r}: '_b[' without ']'")
        out.append(_param_name(text[j + 3:k]))
        i = k + 1


def _param_name(inner: str) -> str:
    """``var(_cons[id]):_cons`` -> ``/var(_cons[id])``; ``/var(x[id])`` unchanged."""
    inner = inner.strip()
    m = re.fullmatch(r"/?((?:var|cov)\(.*\))\s*:\s*_cons", inner)
    if m:
        return "/" + m.group(1)
    if re.match(r"(var|cov)\(", inner):
        return "/" + inner
    return inner


def normalize_constraint(text: Any) -> str:
    """A constraint in the package's parameter names, e.g. ``"/var(std[trial]) = 1"``."""
    if not isinstance(text, str) or not text.strip():
        raise SpecificationError(f"constraint {text!r} must be a non-empty string")
    check_balanced(text)
    sides = [s.strip() for s in _strip_b(text).split("=")]
    if len(sides) != 2 or not all(sides):
        raise SpecificationError(f"constraint {text!r} must have the form 'expression = "
                                 "expression'")
    return f"{sides[0]} = {sides[1]}"


def _resolve_constraints(numbers, given) -> tuple[str, ...] | None:
    if given is None:
        if numbers:
            raise SpecificationError(
                f"constraints({' '.join(map(str, numbers))}) refers to constraints that are "
                "not defined; pass constraints={1: '_b[/var(_cons[id])] = 1', ...}")
        return None
    if isinstance(given, str):
        given = [given]
    if isinstance(given, Mapping):
        try:
            table = {int(k): v for k, v in given.items()}
        except (TypeError, ValueError):
            raise SpecificationError(f"constraints keyword {given!r}: keys must be "
                                     "constraint numbers") from None
        if not numbers:
            return None      # defined but not applied, as Stata's `constraint define`
        wanted = numbers
        missing = [n for n in wanted if n not in table]
        if missing:
            raise SpecificationError(
                f"constraint {missing[0]} used in constraints() is not defined; defined: "
                f"{', '.join(map(str, sorted(table))) or 'none'}")
        return tuple(normalize_constraint(table[n]) for n in wanted)
    if numbers:
        raise SpecificationError(
            f"constraints({' '.join(map(str, numbers))}) uses constraint numbers; pass the "
            "constraints keyword as a mapping {number: text}")
    try:
        items = list(given)
    except TypeError:
        raise SpecificationError(f"constraints keyword {given!r} must be a string, a list "
                                 "of strings or a mapping {number: text}") from None
    return tuple(normalize_constraint(t) for t in items)


# ------------------------------------------------------------------------------ keywords
def _keyword_updates(key: str, value: Any, command: str) -> dict:
    name = KEYWORD_ALIASES.get(key, key)
    opt = OPTIONS.get(name)
    if opt is None:
        allowed = sorted(set(OPTIONS) | set(SPECIAL_KEYWORDS) | set(KEYWORD_ALIASES))
        raise UnknownKeywordError(f"unknown keyword {key!r}; allowed: {', '.join(allowed)}")
    if command not in opt.commands:
        raise SpecificationError(f"keyword {key!r} is not allowed with {command}; it applies "
                                 f"to {', '.join(opt.commands)}")
    if opt.is_flag:
        if not isinstance(value, bool):
            raise SpecificationError(f"keyword {key}={value!r}: expected True or False")
        if opt.name == "mle":
            return {"reml": not value}
        return {opt.name: value}
    if isinstance(value, bool) or value is None:
        if opt.parser is _opt_varnum and value is True:
            return {opt.name: True}
        raise SpecificationError(f"keyword {key}={value!r}: expected a value, not {value!r}")
    if isinstance(value, (int, float)) and opt.parser in (
            _int, _pos_int, _varnum, _opt_varnum, level_value,
            positive_float):
        if opt.parser in (_int, _pos_int):
            if not float(value).is_integer():
                raise SpecificationError(f"keyword {key}={value!r}: expected an integer")
            return opt.parser(opt.name, int(value))
        if opt.parser in (level_value, positive_float):
            return opt.parser(opt.name, value)
        return {opt.name: value}
    if not isinstance(value, str):
        raise SpecificationError(f"keyword {key}={value!r}: expected a string")
    return parse_option(opt.name, value, command)[1]


# --------------------------------------------------------------------------- the builder
def _apply_family(command: str, opts: dict) -> None:
    if command in COMMAND_FAMILY:
        fam, link = COMMAND_FAMILY[command]
        if fam == "bernoulli" and "binomial" in opts:
            fam = "binomial"
        opts["family"], opts["link"] = fam, link
    elif command == "meglm":
        fam = opts.get("family")
        if fam is None:
            fam = "binomial" if "binomial" in opts else "gaussian"
        if fam == "binomial":
            opts.setdefault("binomial", 1)
        opts["family"] = fam
        opts.setdefault("link", CANONICAL_LINK[fam])
    if opts.get("family") == "nbinomial":
        opts.setdefault("dispersion", "mean")
    if "binomial" in opts and opts.get("family") != "binomial":
        raise SpecificationError(f"binomial({opts['binomial']}) requires family binomial, "
                                 f"not {opts.get('family')}")


def _apply_covariance(random: list[REEquation], cov_kw: Any) -> list[REEquation]:
    if cov_kw is None:
        return random
    if isinstance(cov_kw, str):
        cov_kw = {eq.level: cov_kw for eq in random}
    if not isinstance(cov_kw, Mapping):
        raise SpecificationError(f"covariance keyword {cov_kw!r} must be a string or a "
                                 "mapping {level: structure}")
    levels = {eq.level for eq in random} | {">".join(eq.path) for eq in random}
    for level in cov_kw:
        if level not in levels:
            raise SpecificationError(
                f"covariance given for level {level!r}, but the model's levels are "
                f"{', '.join(sorted(levels)) or 'none'}")
    out = []
    for eq in random:
        key = ">".join(eq.path)
        key = key if key in cov_kw else eq.level
        if key in cov_kw:
            cov, name = parse_covariance(str(cov_kw[key]))
            eq = dataclasses.replace(eq, covariance=cov, cov_matrix=name)
        out.append(eq)
    return out


def finish_spec(*, command: str, response: tuple[str, ...], fixed: tuple, constant: bool,
                random: list[REEquation], typed: list[tuple[str, str | None]],
                keywords: Mapping[str, Any], syntax: str, source: str,
                extra: Mapping[str, Any] | None = None, condition: Expression | None = None,
                obs_range: ObsRange | None = None) -> ModelSpec:
    """Validate options and keywords, apply command defaults, and build the spec.

    Parameters
    ----------
    command : str
    response, fixed, constant, random
        The parsed model (``random`` equations already carry their typed covariance).
    typed : list of (word, arg)
        Global options typed in the model text (Stata syntax), in order.
    keywords : mapping
        Python keywords; they override typed options.
    syntax, source : str
    extra : mapping, optional
        Options the front end already resolved (weights, level weights).
    condition, obs_range : optional
        Stata's ``if exp`` and ``in range``.
    """
    keywords = dict(keywords)
    tsset = _tsset_keywords(keywords)
    matrices = keywords.pop("matrices", None) or {}
    if not isinstance(matrices, Mapping):
        raise SpecificationError(f"matrices keyword must be a mapping name -> array, got "
                                 f"{type(matrices).__name__}")
    constraints_kw = keywords.pop("constraints", None)
    cov_kw = keywords.pop("covariance", keywords.pop("cov", None))
    weight_kw = keywords.pop("weight", None)

    opts: dict[str, Any] = {"reml": False} if command == "mixed" else {}
    opts.update(extra or {})
    for word, arg in typed:
        opt, updates = parse_option(word, arg, command)
        if opt.scope == "re":
            raise SpecificationError(f"option {word!r} belongs to a random-effects equation")
        opts.update(updates)
    for key, value in keywords.items():
        opts.update(_keyword_updates(key, value, command))
    for key in ("binomial", "offset"):
        # lme4's cbind() and offset() terms outrank the default trials of family(binomial)
        if key in (extra or {}):
            opts[key] = extra[key]
    if weight_kw is not None:
        opts["weight"] = _weight_keyword(weight_kw)
    constant = constant and not opts.pop("noconstant", False)
    for key in [k for k, v in opts.items() if v is False and k != "reml"]:
        del opts[key]
    opts.pop("mle", None)

    numbers = opts.pop("constraints", ())
    resolved = _resolve_constraints(numbers, constraints_kw)
    if resolved:
        if command not in _ME:
            raise SpecificationError(f"constraints are not allowed with {command}")
        opts["constraints"] = resolved
    _apply_family(command, opts)

    _check_tsset(response, fixed, random, tsset)
    random = _apply_covariance(list(random), cov_kw)
    for eq in random:
        if eq.cov_matrix is not None and eq.cov_matrix not in matrices:
            raise SpecificationError(
                f"matrix {eq.cov_matrix!r} used in covariance({eq.covariance}"
                f"({eq.cov_matrix})) at level {eq.level!r} is not defined; pass "
                f"matrices={{{eq.cov_matrix!r}: array}}")
    return ModelSpec(command=command, response=tuple(response), fixed=tuple(fixed),
                     constant=constant, random=tuple(random), options=opts,
                     matrices=dict(matrices), syntax=syntax, source=source,
                     condition=condition, obs_range=obs_range, tsset=tsset)


def _check_tsset(response, fixed, random, tsset) -> None:
    """Time-series operators need the time variable (``time=``)."""
    if tsset is not None:
        return
    names = list(response) + [f.var for t in fixed for f in t.factors]
    names += [f.var for eq in random for t in eq.terms for f in t.factors]
    for name in names:
        head = name.split(".", 1)[0]
        if "." in name and re.fullmatch(r"(?:[LFDS]\d*)+", head):
            raise SpecificationError(f"time-series operator in {name!r} needs the time "
                                     "variable: pass time='t' (and panel='id' for panel "
                                     "data), as Stata's tsset")


def _tsset_keywords(keywords: dict) -> tuple[str | None, str] | None:
    """Pop ``panel=`` and ``time=`` (a variable name; ``time=True`` stays mestreg's flag)."""
    panel = keywords.pop("panel", None)
    time = keywords.get("time")
    if isinstance(time, str):
        del keywords["time"]
        check_name(time, "time variable (time=)")
    else:
        time = None
    if panel is not None:
        if not isinstance(panel, str):
            raise SpecificationError(f"panel={panel!r}: expected a variable name")
        check_name(panel, "panel variable (panel=)")
        if time is None:
            raise SpecificationError(f"panel={panel!r} needs time= as well: the time "
                                     "variable of the time-series operators")
    return None if time is None else (panel, time)


_WEIGHT_TYPES = {"fweight": 2, "pweight": 2, "aweight": 2, "iweight": 2}


def parse_weight(kind: str, expr: str) -> tuple[str, str | Expression]:
    """``("pw", "w")`` -> ``("pweight", "w")`` (Stata's ``[pweight=w]``); an expression
    (``[pw=1/p]``) gives an :class:`Expression`."""
    name = match_word(kind, _WEIGHT_TYPES, "weight type")
    text = expr.strip()
    if NAME_RE.match(text):
        return name, text
    tree = parse_expression(text)
    return name, Expression(text=text, syntax="stata", variables=expression_variables(tree))


def _weight_keyword(value: Any) -> tuple[str, str | Expression]:
    if isinstance(value, str):
        return parse_weight("pweight", value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, str) for v in value):
        return parse_weight(value[0], value[1])
    raise SpecificationError(f"weight keyword {value!r}: expected a variable name, an "
                             "expression or (type, exp), e.g. ('pweight', 'w')")
