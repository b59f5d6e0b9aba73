"""Stata command syntax -> ModelSpec.

``[cmd] depvar [indepvars] [weight] [, fe_options] || levelvar: [varlist] [, re_options]
|| ... [, options]`` as in Stata's [ME] me entry. Options typed after the last random
equation's comma are split: ``covariance() noconstant collinear fweight() pweight()`` belong
to that equation, everything else is a command option.
"""
from __future__ import annotations

import re
from typing import Any

from statsmodels_me.spec._scan import (
    check_balanced,
    check_name,
    depth_map,
    find_top,
    split_first,
    split_top,
    split_words,
)
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.expressions import expression_variables, parse_expression
from statsmodels_me.spec.model_spec import Expression, ModelSpec, ObsRange, REEquation
from statsmodels_me.spec.options import (
    COMMANDS,
    OPTIONS,
    SPECIAL_KEYWORDS,
    finish_spec,
    lookup,
    parse_option,
    parse_weight,
    tokenize_options,
)
from statsmodels_me.spec.terms import TS_OP_RE, parse_varlist, ts_name


def clean_text(text: Any) -> str:
    """Join ``///`` continuation lines (and ``>`` prompts of a log) and flatten whitespace."""
    if not isinstance(text, str):
        raise SpecificationError(f"model text must be a string, got {type(text).__name__}")
    text = re.sub(r"///[^\n]*(\n|\Z)", " ", text)
    text = re.sub(r"\n\s*> ", " ", text)      # continuation prompt of a Stata log
    text = " ".join(text.split())
    return text.lstrip(". ") if text.startswith(". ") else text


def resolve_command(word: str | None, command: str | None) -> str:
    """The command from the text's first word and/or the ``command`` argument."""
    if command is not None:
        if not isinstance(command, str) or command.lower() not in COMMANDS:
            raise SpecificationError(f"unknown command {command!r}; allowed: "
                                     f"{', '.join(COMMANDS)}")
        command = command.lower()
        if word is not None and word != command:
            raise SpecificationError(f"the model text starts with command {word!r} but "
                                     f"command={command!r} was given")
    return word or command or "mixed"


def split_command(text: str) -> tuple[str | None, str]:
    """``"mixed y x || id:"`` -> ``("mixed", "y x || id:")``; no command word -> None."""
    parts = text.split(None, 1)
    if parts and parts[0] in COMMANDS:
        return parts[0], parts[1] if len(parts) > 1 else ""
    return None, text


def parse_stata(text: str, command: str | None = None, **keywords) -> ModelSpec:
    """Parse a Stata mixed-effects command line.

    Parameters
    ----------
    text : str
        For example ``"melogit c_use i.urban age || district:, or"`` or, without the command
        word, ``"c_use i.urban age || district:, or"``.
    command : str, optional
        The command when the text does not start with one.
    **keywords
        Options as Python keywords (``reml=True``, ``intpoints=7``, ``or_=True``,
        ``covariance={"id": "unstructured"}``, ``matrices=``, ``constraints=``).

    Returns
    -------
    ModelSpec
    """
    source = text
    word, body = split_command(clean_text(text))
    command = resolve_command(word, command)
    if command == "menl":
        return _parse_menl(body, keywords, source)
    check_balanced(body)
    pieces = split_top(body, "||")
    fe_main, fe_opts = split_first(pieces[0], ",")
    fe_main, condition, obs_range = split_qualifiers(fe_main)
    _reject_single_bar(" , ".join([fe_main, fe_opts or ""] + pieces[1:]))
    response, fixed, weight = _parse_fixed(fe_main, command)
    extra: dict[str, Any] = {}
    if weight is not None:
        extra["weight"] = weight
    constant = True
    typed: list[tuple[str, str | None]] = []
    for w, arg in tokenize_options(fe_opts or ""):
        if lookup(w).name == "noconstant":
            parse_option(w, arg, command)
            constant = False
        else:
            typed.append((w, arg))
    random = []
    level_weights: dict[str, tuple[str, str]] = {}
    for k, eq_text in enumerate(pieces[1:]):
        last = k == len(pieces) - 2
        eq, glob, eq_extra = _parse_equation(eq_text, command, last)
        random.append(eq)
        typed.extend(glob)
        if "weight" in eq_extra:
            level_weights[eq.level] = eq_extra["weight"]
        if eq_extra.get("collinear"):
            extra["collinear"] = True
    if level_weights:
        extra["level_weights"] = level_weights
    return finish_spec(command=command, response=response, fixed=fixed, constant=constant,
                       random=_with_paths(random), typed=typed, keywords=keywords,
                       syntax="stata", source=source, extra=extra, condition=condition,
                       obs_range=obs_range)


_QUALIFIER_RE = re.compile(r"(?<![A-Za-z0-9_.#~])(if|in)(?=[\s(]|\Z)")
_RANGE_RE = re.compile(r"\s*(-?\d+|[fFlL])\s*(?:/\s*(-?\d+|[fFlL])\s*)?\Z")


def _mask_strings(text: str) -> str:
    """``text`` with the inside of double-quoted strings blanked (same length)."""
    return re.sub(r'"[^"]*"', lambda m: '"' + "_" * (len(m.group()) - 2) + '"', text)


def split_qualifiers(text: str) -> tuple[str, Expression | None, ObsRange | None]:
    """``"y x if id <= 24 in 1/100 [pw=w]"`` -> ``("y x  [pw=w]", if-expression, in-range)``.

    ``if`` and ``in`` may come in either order, each at most once; the weight (``[...]``) may
    stand before, between or after them.
    """
    masked = _mask_strings(text)
    depth = depth_map(masked)
    hits = [m for m in _QUALIFIER_RE.finditer(masked) if depth[m.start()] == 0]
    if not hits:
        return text, None, None
    words = [m.group(1) for m in hits]
    for w in ("if", "in"):
        if words.count(w) > 1:
            raise SpecificationError(f"more than one '{w}' qualifier in {text.strip()!r}")
    head = text[:hits[0].start()]
    condition = obs_range = None
    weight = ""
    for k, m in enumerate(hits):
        end = hits[k + 1].start() if k + 1 < len(hits) else len(text)
        part = text[m.end():end]
        lb = find_top(part, "[")
        if lb >= 0:
            weight, part = part[lb:], part[:lb]
        part = part.strip()
        if not part:
            raise SpecificationError(f"'{m.group(1)}' qualifier without "
                                     f"{'an expression' if m.group(1) == 'if' else 'a range'} "
                                     f"in {text.strip()!r}")
        if m.group(1) == "if":
            condition = stata_expression(part)
        else:
            obs_range = parse_range(part)
    return f"{head} {weight}", condition, obs_range


def stata_expression(text: str) -> Expression:
    """A Stata expression, parsed to check it, with the variables it reads."""
    tree = parse_expression(text)
    return Expression(text=text, syntax="stata", variables=expression_variables(tree))


def parse_range(text: str) -> ObsRange:
    """Stata's range ``#``, ``#/#``, ``f/l``, ``-10/l`` -> :class:`ObsRange`."""
    m = _RANGE_RE.match(text)
    if not m:
        raise SpecificationError(f"cannot read range 'in {text}': expected #, #/#, f/l or "
                                 "negative numbers counting from the end (-10/l)")
    ends = []
    for g in (m.group(1), m.group(2) if m.group(2) is not None else m.group(1)):
        if g.lower() in ("f", "l"):
            ends.append(g.lower())
        else:
            if int(g) == 0:
                raise SpecificationError(f"range 'in {text}': observation numbers start at 1")
            ends.append(int(g))
    first, last = ends
    if isinstance(first, int) and isinstance(last, int) and (first > 0) == (last > 0) \
            and first > last:
        raise SpecificationError(f"range 'in {text}': the first observation comes after the "
                                 "last")
    return ObsRange(first=first, last=last, text=text.strip())


def _reject_single_bar(text: str) -> None:
    stripped = text.replace("||", "  ")
    i = find_top(stripped, "|")
    if i >= 0:
        raise SpecificationError(
            f"single '|' in {text!r}: Stata syntax separates random-effects equations with "
            "'||' (lme4-style bars need a formula with '~')")


def _parse_fixed(text: str, command: str):
    """``depvar [indepvars] [weight]`` -> response, terms, weight."""
    weight = None
    lb = find_top(text, "[")
    if lb >= 0:
        rb = text.index("]", lb)
        wtext = text[lb + 1:rb]
        m = re.fullmatch(r"\s*([A-Za-z]+)\s*=\s*(.+?)\s*", wtext)
        if not m:
            raise SpecificationError(f"cannot read weight [{wtext}]; expected "
                                     "[pweight=exp] or [fweight=exp]")
        weight = parse_weight(m.group(1), m.group(2))
        text = text[:lb] + " " + text[rb + 1:]
        if find_top(text, "[") >= 0:
            raise SpecificationError(f"more than one weight in {text!r}")
    words = split_words(text)
    n_dep = {"meintreg": 2, "mestreg": 0}.get(command, 1)
    if len(words) < n_dep:
        raise SpecificationError(
            f"missing dependent variable in {text.strip()!r}: {command} needs {n_dep} "
            f"dependent variable{'s' if n_dep > 1 else ''} first")
    response = tuple(_dependent(w) for w in words[:n_dep])
    fixed = parse_varlist(" ".join(words[n_dep:]))
    return response, fixed, weight


def _dependent(word: str) -> str:
    """A dependent variable, possibly with a time-series operator (``D.y``)."""
    if "." in word:
        ops, var = word.split(".", 1)
        if TS_OP_RE.match(ops):
            return ts_name(ops, check_name(var, "dependent variable"))
    return check_name(word, "dependent variable")


def _parse_equation(text: str, command: str, last: bool):
    """``levelvar: [varlist] [, re_options]`` -> (REEquation without path, global options,
    ``{"weight": (type, var), "collinear": True}`` as typed)."""
    body, opt_text = split_first(text, ",")
    if not body.strip():
        raise SpecificationError(
            f"empty random-effects equation {('||' + text).strip()!r}: expected "
            "'|| levelvar: [varlist]'")
    colon = find_top(body, ":")
    if colon < 0:
        raise SpecificationError(f"missing ':' after the level variable in random-effects "
                                 f"equation {body.strip()!r}; write '|| levelvar: [varlist]'")
    level = body[:colon].strip()
    if not level:
        raise SpecificationError(f"missing level variable before ':' in {body.strip()!r}")
    check_name(level, "level variable")
    varlist = body[colon + 1:]
    words = split_words(varlist)
    factor = None
    if any(w.startswith("R.") for w in words):
        if len(words) != 1:
            raise SpecificationError(f"R.varname must be alone in its equation: "
                                     f"{body.strip()!r}")
        factor = check_name(words[0][2:], "R. factor variable")
        terms: tuple = ()
    else:
        terms = parse_varlist(varlist)
    constant = factor is None
    covariance, cov_matrix = ("identity" if factor else "independent"), None
    glob: list[tuple[str, str | None]] = []
    eq_extra: dict[str, Any] = {}
    for w, arg in tokenize_options(opt_text or ""):
        opt = lookup(w)
        if opt.scope == "global":
            if not last:
                raise SpecificationError(
                    f"option {w!r} is not allowed in random-effects equation "
                    f"{body.strip()!r}; command options go after the last equation")
            glob.append((w, arg))
            continue
        _, updates = parse_option(w, arg, command)
        if opt.name == "covariance":
            covariance, cov_matrix = updates["covariance"]
        elif opt.name == "noconstant":
            constant = False
        elif opt.name == "collinear":
            eq_extra["collinear"] = True
        else:
            eq_extra["weight"] = (opt.name, updates[opt.name])
    if factor is not None and covariance not in ("identity", "exchangeable"):
        raise SpecificationError(
            f"R.{factor} random effects have an identity covariance (or "
            f"covariance(exchangeable)); covariance({covariance}) is not allowed")
    if factor is None and not constant and not terms:
        raise SpecificationError(f"random-effects equation {body.strip()!r} has no random "
                                 "effects (noconstant and no variables)")
    eq = REEquation(level=level, path=(level,), terms=terms, constant=constant,
                    covariance=covariance, cov_matrix=cov_matrix, factor=factor)
    return eq, glob, eq_extra


def _with_paths(random: list[REEquation]) -> list[REEquation]:
    """Nesting paths: each new level is nested in every distinct level before it."""
    import dataclasses

    distinct: list[str] = []
    out = []
    for eq in random:
        if eq.level == "_all":
            path: tuple[str, ...] = ("_all",)
        elif eq.level in distinct:
            path = tuple(distinct[:distinct.index(eq.level) + 1])
        else:
            distinct.append(eq.level)
            path = tuple(distinct)
        out.append(dataclasses.replace(eq, path=path))
    return out


def _parse_menl(body: str, keywords: dict, source: str) -> ModelSpec:
    """``menl depvar = <expr> [, options]``: the expression is stored, not parsed."""
    check_balanced(body)
    main, opt_text = split_first(body, ",")
    eq = find_top(main, "=")
    if eq < 0:
        raise SpecificationError(f"menl needs 'depvar = <menlexpr>', got {body!r}")
    response = check_name(main[:eq].strip(), "dependent variable")
    expression = main[eq + 1:].strip()
    if not expression:
        raise SpecificationError(f"empty nonlinear expression after '=' in {body!r}")
    options: dict[str, Any] = {"expression": expression}
    if opt_text is not None:
        options["menl_options"] = tuple(tokenize_options(opt_text))
    allowed = set(OPTIONS) | set(SPECIAL_KEYWORDS) | {"or_"}
    for key, value in keywords.items():
        if key not in allowed:
            raise SpecificationError(f"unknown keyword {key!r}; allowed: "
                                     f"{', '.join(sorted(allowed))}")
        options[key] = value
    matrices = options.pop("matrices", None) or {}
    return ModelSpec(command="menl", response=(response,), options=options,
                     matrices=dict(matrices), syntax="stata", source=source)
