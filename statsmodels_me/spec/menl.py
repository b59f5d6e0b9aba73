"""Stata's ``menl`` syntax -> :class:`MenlSpec`.

``menl depvar = <menlexpr> [, options]`` with the brace forms of [ME] menl: scalar parameters
``{b1}`` (start value ``{b1=18}``), random effects ``{U1[id]}`` and ``{S0[lev3>lev2]}``,
substitutable expressions ``{phi1:}`` defined by ``define(phi1: ...)``, linear combinations
``{lc: x1 U0[id]}`` / ``{phi1: U1[tree], xb}`` / ``define(lc: x1 c.x1#U1[id], noconstant)``.

Options: ``define()``, ``covariance(U1 U2, unstructured|exchangeable|identity|independent)``,
``initial()``, ``mle``/``reml``, ``iterate()``, ``tolerance()``, ``ltolerance()``, and the
within-group error structures (:mod:`.menl_residual_spec`): ``resvariance(power
varname|_yhat [, noconstant] | linear varname | exponential varname|_yhat | distinct,
index(varname))``, ``rescorrelation(ar # | ma # | toeplitz # | ctar1, t(varname) |
exchangeable | unstructured | banded #, index(varname) [group(varname)])`` and
``rescovariance(exchangeable | distinct | unstructured, index(varname))``. ``tsorder()``,
``by()``/``strata()`` of the residual structures and ``if``/``in`` are refused with
NotImplementedError naming them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from statsmodels_me.spec._scan import split_top
from statsmodels_me.spec.errors import SpecificationError, UnknownKeywordError
from statsmodels_me.spec.menl_expr import (
    Binary,
    Num,
    Param,
    RandomEffect,
    Var,
    parse_expression,
    split_braces,
)
from statsmodels_me.spec.menl_residual_spec import (
    ResCorrelation,
    ResVariance,
    parse_rescorrelation,
    parse_rescovariance,
    parse_resvariance,
)

__all__ = ["MenlSpec", "parse_menl", "COVARIANCE_KINDS"]

COVARIANCE_KINDS = ("independent", "identity", "exchangeable", "unstructured")

_NOT_IMPLEMENTED = {
    "tsorder": "tsorder", "t": "t", "if": "if", "in": "in", "stddeviations": "stddev",
    "pnlsopts": "pnlsopts", "lmeopts": "lmeopts", "emiterate": "emiter",
    "emtolerance": "emtol", "nostderr": "nostderr", "level": "level",
}
_IMPLEMENTED = {"resvariance": "resvar", "rescorrelation": "rescorr",
                "rescovariance": "rescov", "define": "def", "covariance": "cov", "initial": "init",
                "mle": "mle",
                "reml": "reml", "iterate": "iter", "tolerance": "tol", "ltolerance": "ltol",
                "variance": "var"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class MenlSpec:
    """A parsed ``menl`` model.

    Attributes
    ----------
    depvar : str
    expr : node
        The mean function with every ``{name:}`` substituted (see :mod:`.menl_expr`).
    params : list of str
        Fixed-effects parameters in Stata's ``e(b)`` order: linear-combination coefficients
        (``phi1:_cons``, ``phi1:x1``) first, then scalar parameters (``b1``).
    random_effects : list of (name, path)
        Random effects in order of appearance; ``path`` is the tuple of grouping variables.
    covariances : list of (tuple of names, kind)
        Blocks requested with ``covariance()``; the others are independent.
    initial : dict
        Start values by parameter name.
    legends : list of str
        ``"phi1: U1[tree], xb"`` lines printed above the coefficient table.
    variables : list of str
        Data variables the expression uses.
    defined : dict of str -> node
        The expression of each ``define()`` (for ``predict(parameters=...)``).
    resvariance : ResVariance or None
        The error variance function (``resvariance()``, ``rescovariance(distinct)``).
    rescorrelation : ResCorrelation or None
        The within-group error correlation (``rescorrelation()``, ``rescovariance()``).
    reml : bool
    iterate, tolerance, ltolerance : int, float, float
    text : str
    """

    depvar: str
    expr: object
    params: list
    random_effects: list
    covariances: list = field(default_factory=list)
    initial: dict = field(default_factory=dict)
    legends: list = field(default_factory=list)
    variables: list = field(default_factory=list)
    defined: dict = field(default_factory=dict)
    resvariance: ResVariance | None = None
    rescorrelation: ResCorrelation | None = None
    reml: bool = False
    iterate: int = 100
    tolerance: float = 1e-6
    ltolerance: float = 1e-7
    text: str = ""


def _options(text, original):
    """``name(args)`` and bare words of an option list, in order."""
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i:])
        if m is None:
            raise SpecificationError(f"menl: cannot read option text {text[i:i + 20]!r} in "
                                     f"{original!r}")
        name = m.group(0)
        i += len(name)
        arg = None
        if i < len(text) and text[i] == "(":
            depth, j = 0, i
            while j < len(text):
                depth += text[j] == "("
                depth -= text[j] == ")"
                if depth == 0:
                    break
                j += 1
            if depth:
                raise SpecificationError(f"menl: unbalanced parentheses in option "
                                         f"{name}({text[i + 1:]!r}")
            arg = text[i + 1:j]
            i = j + 1
        out.append((name, arg))
    return out


def _canonical(name):
    low = name.lower()
    for full, short in {**_IMPLEMENTED, **_NOT_IMPLEMENTED}.items():
        if full.startswith(low) and len(low) >= len(short):
            return full
    return None


def _parse_re(text, original):
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\[([^\]]*)\]\s*", text)
    if m is None:
        raise SpecificationError(f"menl: cannot read random effect {text.strip()!r} in "
                                 f"{original!r}; expected name[group] or name[lev3>lev2]")
    path = tuple(p.strip() for p in m.group(2).split(">"))
    if not all(_NAME.match(p) for p in path):
        raise SpecificationError(f"menl: bad grouping variable in {text.strip()!r} in "
                                 f"{original!r}")
    return m.group(1), path


class _Builder:
    """Resolves brace groups, defines and linear combinations into one AST."""

    def __init__(self, text, defines):
        self.text = text
        self.defines = defines          # name -> body text
        self.resolved = {}
        self.active = []
        self.lincomb_params = []
        self.scalar_params = []
        self.random_effects = []
        self.re_paths = {}
        self.initial = {}
        self.legends = []
        self.variables = []

    # ---------------------------------------------------------------- registration
    def _param(self, name, lincomb):
        bucket = self.lincomb_params if lincomb else self.scalar_params
        if name not in self.lincomb_params and name not in self.scalar_params:
            bucket.append(name)
        return Param(name)

    def _re(self, name, path, where):
        old = self.re_paths.get(name)
        if old is not None and old != path:
            raise SpecificationError(
                f"menl: random effect {name} is used with two grouping specifications, "
                f"[{'>'.join(old)}] and [{'>'.join(path)}], in {where!r}")
        if old is None:
            self.re_paths[name] = path
            self.random_effects.append((name, path))
        return RandomEffect(name, path)

    def _var(self, name):
        if name not in self.variables:
            self.variables.append(name)
        return Var(name)

    # ---------------------------------------------------------------- braces
    def brace(self, content):
        where = "{" + content + "}"
        if ":" in content:
            eq, rest = content.split(":", 1)
            eq = eq.strip()
            if not _NAME.match(eq):
                raise SpecificationError(f"menl: bad equation name {eq!r} in {where!r}")
            if not rest.strip():
                return self.substitute(eq, where)
            terms, opts = self._lincomb_parts(rest, where)
            if len(terms) == 1 and "xb" not in opts and "[" not in terms[0] \
                    and "#" not in terms[0]:
                name = f"{eq}:{terms[0].strip()}"
                return self._scalar(name, None, where)
            return self.lincomb(eq, rest, where)
        if "[" in content:
            name, path = _parse_re(content, where)
            return self._re(name, path, where)
        name, _, start = content.partition("=")
        return self._scalar(name.strip(), start.strip() or None, where)

    def _scalar(self, name, start, where):
        bare = name.split(":")[-1]
        if not _NAME.match(bare):
            raise SpecificationError(f"menl: bad parameter name {name!r} in {where!r}")
        if start is not None:
            try:
                self.initial[name] = float(start)
            except ValueError:
                raise SpecificationError(f"menl: start value {start!r} in {where!r} is not a "
                                         "number") from None
        return self._param(name, lincomb=":" in name)

    def substitute(self, eq, where):
        if eq in self.resolved:
            return self.resolved[eq]
        if eq not in self.defines:
            raise SpecificationError(f"menl: {where} refers to {eq!r}, which no define({eq}: "
                                     "...) option defines")
        if eq in self.active:
            raise SpecificationError(f"menl: define({eq}: ...) refers to itself through "
                                     f"{' -> '.join(self.active + [eq])}")
        self.active.append(eq)
        body = self.defines[eq]
        if "{" in body or "}" in body:
            node = parse_expression(body, self.brace)
            self.legends.append(f"{eq}: {body.strip()}")
        else:
            node = self.lincomb(eq, body, f"define({eq}: {body})")
        self.active.pop()
        self.resolved[eq] = node
        return node

    # ---------------------------------------------------------------- linear combinations
    def _lincomb_parts(self, text, where):
        parts = split_top(text, ",")
        if len(parts) > 2:
            raise SpecificationError(f"menl: too many commas in linear combination {where!r}")
        terms = _split_terms(parts[0], where)
        opts = parts[1].split() if len(parts) == 2 else []
        for o in opts:
            if o not in ("xb", "noconstant", "nocons", "noconst"):
                raise SpecificationError(f"menl: unknown linear-combination option {o!r} in "
                                         f"{where!r}; allowed: xb, noconstant")
        return terms, opts

    def lincomb(self, eq, text, where):
        terms, opts = self._lincomb_parts(text, where)
        if not terms:
            raise SpecificationError(f"menl: empty linear combination {where!r}")
        if "{" in text:
            raise SpecificationError(f"menl: braces are not allowed inside the linear "
                                     f"combination {where!r}")
        nodes = []
        constant = not any(o.startswith("nocons") for o in opts)
        for term in terms:
            nodes += self._lincomb_term(eq, term, where)
        if constant:
            nodes.append(self._param(f"{eq}:_cons", lincomb=True))
        self.legends.append(f"{eq}: {text.strip()}")
        node = nodes[0]
        for nxt in nodes[1:]:
            node = Binary("+", node, nxt)
        return node

    def _lincomb_term(self, eq, term, where):
        term = term.strip()
        if "#" in term:
            left, right = term.split("#", 1)
            var = self._covariate(left, where)
            right = right.strip()
            if right.startswith("(") and right.endswith(")"):
                res = _split_terms(right[1:-1], where)
            else:
                res = [right]
            out = []
            for r in res:
                if "[" not in r:
                    raise SpecificationError(f"menl: {term!r} in {where!r}: only c.var#RE[group] "
                                             "interactions are supported")
                name, path = _parse_re(r, where)
                out.append(Binary("*", var, self._re(name, path, where)))
            return out
        if "[" in term:
            name, path = _parse_re(term, where)
            return [self._re(name, path, where)]
        var = self._covariate(term, where)
        return [Binary("*", self._param(f"{eq}:{var.name}", lincomb=True), var)]

    def _covariate(self, text, where):
        text = text.strip()
        if re.match(r"(i|ib\d*|bn)\.", text):
            raise NotImplementedError(f"menl: factor variables ({text!r} in {where!r}) are not "
                                      "implemented; create indicator variables instead")
        if text.startswith("c."):
            text = text[2:]
        if not _NAME.match(text):
            raise SpecificationError(f"menl: cannot read variable {text!r} in {where!r}")
        return self._var(text)


def _split_terms(text, where):
    """Whitespace-separated terms; parentheses keep ``c.x1#(W1[a] S1[a>b])`` together."""
    terms, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SpecificationError(f"menl: unbalanced parentheses in {where!r}")
        if ch.isspace() and depth == 0:
            if cur:
                terms.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if depth:
        raise SpecificationError(f"menl: unbalanced parentheses in {where!r}")
    if cur:
        terms.append("".join(cur))
    return terms


def _collect_vars(node, builder):
    """Register the data variables of the expression in order of appearance."""
    if isinstance(node, Var):
        builder._var(node.name)
    for child in ("left", "right", "arg"):
        if hasattr(node, child):
            _collect_vars(getattr(node, child), builder)


def _parse_initial(text, spec_initial, original):
    tokens = text.replace("=", " ").split()
    if len(tokens) % 2:
        raise SpecificationError(f"menl: initial({text}) needs name value pairs")
    for name, value in zip(tokens[::2], tokens[1::2]):
        key = name.strip("{}").lstrip("/")
        try:
            spec_initial[key] = float(value)
        except ValueError:
            raise SpecificationError(f"menl: initial({text}): {value!r} is not a number for "
                                     f"{name!r}") from None


def _parse_covariance(arg, original):
    parts = split_top(arg, ",")
    names = parts[0].split()
    kind = parts[1].strip().lower() if len(parts) == 2 else "independent"
    full = {"ind": "independent", "id": "identity", "exc": "exchangeable",
            "un": "unstructured"}
    match = [v for k, v in full.items() if v.startswith(kind) and kind.startswith(k)]
    if not names or len(match) != 1:
        raise SpecificationError(f"menl: cannot read covariance({arg}); expected "
                                 f"covariance(U1 U2, {'|'.join(COVARIANCE_KINDS)})")
    return tuple(names), match[0]


def _setting(name, value):
    """``iterate`` (a non-negative integer) or a tolerance (a positive number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecificationError(f"menl: {name}({value}) needs a number") from None
    if name == "iterate":
        if not number.is_integer() or number < 0:
            raise SpecificationError(f"menl: iterate({value}) needs a non-negative integer")
        return int(number)
    if not 0 < number < float("inf"):
        raise SpecificationError(f"menl: {name}({value}) needs a positive number")
    return number


def parse_menl(text, **options):
    """Parse ``menl depvar = <menlexpr> [, options]``.

    Parameters
    ----------
    text : str
        The command, with or without the word ``menl``.
    **options
        ``reml=True``, ``iterate=``, ``tolerance=``, ``ltolerance=``,
        ``initial={"b1": 18}``.

    Returns
    -------
    MenlSpec

    Raises
    ------
    SpecificationError
        Text that cannot be read; the message quotes it.
    NotImplementedError
        Options of Stata's ``menl`` that are not implemented, named.
    """
    if not isinstance(text, str):
        raise SpecificationError(f"model text must be a string, got {type(text).__name__}")
    original = text
    # Stata's line continuation
    body = re.sub(r"///[^\n]*\n?", " ", text).strip()
    if body.split(None, 1)[0:1] == ["menl"]:
        body = body[4:].strip()
    # braces may hide '=' ({b1=18}) and ',' ({phi1: U1[tree], xb}): locate them outside
    masked, groups = split_braces(body)
    top = split_top(masked, ",")
    main, opt_text = top[0], ",".join(top[1:])
    if "=" not in main:
        raise SpecificationError(f"menl: expected 'depvar = expression' in {original!r}")
    lhs, rhs = main.split("=", 1)

    def unmask(s):
        return re.sub("\x00(\\d+)\x00", lambda m: "{" + groups[int(m.group(1))] + "}", s)
    depvar = lhs.strip()
    for word in (" if ", " in "):
        if word in f" {rhs} ":
            raise NotImplementedError(f"menl: '{word.strip()}' qualifiers are not implemented;"
                                      " subset the data frame instead")
    if not _NAME.match(depvar):
        raise SpecificationError(f"menl: cannot read the dependent variable {depvar!r} in "
                                 f"{original!r}")
    expr_text = unmask(rhs)
    opt_list = _options(unmask(opt_text), original)
    defines, covariances, initial = {}, [], {}
    settings = {"reml": False, "iterate": 100, "tolerance": 1e-6, "ltolerance": 1e-7,
                "resvariance": None, "rescorrelation": None, "rescovariance": None}
    for name, arg in opt_list:
        full = _canonical(name)
        if full is None:
            raise SpecificationError(f"menl: unknown option {name!r} in {original!r}")
        if full in _NOT_IMPLEMENTED:
            raise NotImplementedError(f"menl: option {full}() is not implemented")
        if full == "define":
            if arg is None or ":" not in arg:
                raise SpecificationError(f"menl: define({arg}) needs 'name: expression'")
            dname, dbody = arg.split(":", 1)
            dname = dname.strip()
            if not _NAME.match(dname) or dname in defines:
                raise SpecificationError(f"menl: bad or repeated name in define({arg})")
            defines[dname] = dbody
        elif full == "covariance":
            covariances.append(_parse_covariance(arg or "", original))
        elif full == "resvariance":
            settings["resvariance"] = parse_resvariance(arg or "")
        elif full == "rescorrelation":
            settings["rescorrelation"] = parse_rescorrelation(arg or "")
        elif full == "rescovariance":
            settings["rescovariance"] = parse_rescovariance(arg or "")
        elif full == "initial":
            _parse_initial(arg or "", initial, original)
        elif full in ("mle", "reml"):
            settings["reml"] = full == "reml"
        elif full == "variance":
            continue
        else:
            settings[full] = _setting(full, arg)
    for key, value in options.items():
        if key == "initial":
            initial.update({k.lstrip("/"): float(v) for k, v in dict(value).items()})
        elif key in settings:
            settings[key] = value if key == "reml" else _setting(key, value)
        elif key == "mle":
            settings["reml"] = not value
        elif _canonical(key) in _NOT_IMPLEMENTED:
            raise NotImplementedError(f"menl: option {key}() is not implemented")
        else:
            raise UnknownKeywordError(f"menl: unknown option {key!r}; options: "
                                      f"{', '.join(sorted(_IMPLEMENTED))}")
    builder = _Builder(original, defines)
    expr = parse_expression(expr_text, builder.brace)
    _collect_vars(expr, builder)
    resvar, rescorr = settings["resvariance"], settings["rescorrelation"]
    if settings["rescovariance"] is not None:
        if resvar is not None or rescorr is not None:
            raise SpecificationError("menl: rescovariance() cannot be combined with "
                                     "resvariance() or rescorrelation()")
        resvar, rescorr = settings["rescovariance"]
    for name in (resvar.variables() if resvar else []) + \
            (rescorr.variables() if rescorr else []):
        builder._var(name)
    unused = [d for d in defines if d not in builder.resolved]
    if unused:
        raise SpecificationError(f"menl: define({unused[0]}: ...) is not used in the expression "
                                 f"{expr_text.strip()!r}")
    initial = {**builder.initial, **initial}
    params = builder.lincomb_params + builder.scalar_params
    for name in initial:
        if name not in params:
            raise SpecificationError(f"menl: initial value for unknown parameter {name!r}; "
                                     f"parameters: {', '.join(params)}")
    re_names = [r[0] for r in builder.random_effects]
    seen = set()
    for names, kind in covariances:
        for n in names:
            if n not in re_names:
                raise SpecificationError(f"menl: covariance({' '.join(names)}, {kind}) names "
                                         f"{n!r}, which is not a random effect of the model")
            if n in seen:
                raise SpecificationError(f"menl: random effect {n} is in two covariance() "
                                         "options")
            seen.add(n)
        paths = {builder.re_paths[n] for n in names}
        if len(paths) > 1:
            raise SpecificationError(f"menl: covariance({' '.join(names)}, {kind}) mixes random "
                                     "effects of different levels")
    if isinstance(expr, Num):
        raise SpecificationError(f"menl: the expression {expr_text.strip()!r} has no parameters")
    return MenlSpec(depvar=depvar, expr=expr, params=params,
                    random_effects=builder.random_effects, covariances=covariances,
                    initial=initial, legends=builder.legends, variables=builder.variables,
                    defined=dict(builder.resolved), resvariance=resvar,
                    rescorrelation=rescorr,
                    reml=bool(settings["reml"]), iterate=int(settings["iterate"]),
                    tolerance=float(settings["tolerance"]),
                    ltolerance=float(settings["ltolerance"]), text=original)
