"""Build the :class:`~statsmodels_me.design.design.Design` arrays from a ModelSpec and a DataFrame.

Steps: check the variables exist, listwise-delete rows with missing values in any used variable,
expand the fixed part with Stata's factor-variable rules (:mod:`.factors`) and drop collinear
columns (:mod:`.collinearity`), then group the random-effects equations into levels and build
their covariate blocks. Everything is vectorized over rows and groups.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import replace
from numbers import Real

import numpy as np
import pandas as pd

from statsmodels_me.design.collinearity import collinear_columns
from statsmodels_me.design.design import Design, Level, REBlock
from statsmodels_me.design.factors import (
    CategoricalCoding,
    TermColumns,
    code_categorical,
    continuous_values,
    expand_term,
    is_numeric,
    mark_omitted,
)
from statsmodels_me.design.formula_columns import formula_columns, needs_patsy
from statsmodels_me.design.formula_eval import evaluate_transform
from statsmodels_me.design.stata_eval import evaluate_stata, stata_truth
from statsmodels_me.design.timeseries import with_ts_columns
from statsmodels_me.spec.errors import DataError, SpecificationError
from statsmodels_me.spec.model_spec import Expression, ModelSpec, REEquation, Term

__all__ = ["build_design"]

#: commands whose responses may be missing by design (interval censoring: a missing lower
#: bound is -inf, a missing upper bound +inf); a row is dropped only when all are missing
_CENSORED_BY_MISSING = ("meintreg",)


def build_design(spec: ModelSpec, data: pd.DataFrame) -> Design:
    """Turn a parsed model and a data set into the arrays estimators use.

    Parameters
    ----------
    spec : ModelSpec
        Parsed model (from either front end).
    data : pandas.DataFrame
        The data; every variable in ``spec.variables()`` must be a column.

    Returns
    -------
    Design

    Raises
    ------
    DataError
        A variable is missing from ``data``, the response is a string variable, no
        observations remain, the binomial trials are smaller than the response, ...
    SpecificationError
        A random-effects equation has no random effects, or ``pattern()``/``fixed()`` lacks
        its matrix name.
    """
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    if len(data) == 0:
        raise DataError("the data have no rows")
    data, extra, select, weight_values, deleted = _selected(spec, data)
    sample, n_missing, used_rows, infinite = deleted
    notes = missing_value_notes(n_missing, infinite)
    if len(sample) == 0:
        if not select.any():
            raise DataError("no observations: no row satisfies the if/in qualifiers")
        raise DataError("no observations: every row has a missing value in one of "
                        f"{', '.join(spec.variables())}")

    codings: dict[str, CategoricalCoding] = {}
    transforms: dict = {}
    endog = _response(spec, sample)
    fixed = _fixed_part(spec, sample, codings, transforms)
    notes.extend(fixed["notes"])
    levels = _levels(spec, sample, codings, transforms)
    _check_estimable(spec, fixed["X"], levels)
    nested, crossed, nesting_note = _structure(levels)
    if nesting_note:
        notes.append(nesting_note)
    offset = _offset(spec, sample)
    trials = _trials(spec, sample, endog)
    weight_type, weights, level_weights = _weights(
        spec, sample, None if weight_values is None else weight_values[used_rows])
    residual_vars = {key: sample[var].to_numpy() for key, var in extra.items()
                     if key in ("t", "by")}

    return Design(
        spec=spec,
        endog=endog,
        endog_names=list(spec.response),
        exog=fixed["X"],
        exog_names=fixed["names"],
        levels=levels,
        nested=nested,
        crossed=crossed,
        row_index=sample.index,
        n_missing=n_missing,
        omitted=fixed["omitted"],
        notes=notes,
        offset=offset,
        trials=trials,
        base_levels=fixed["base_levels"],
        full_names=fixed["full_names"],
        nesting_note=nesting_note,
        weights=weights,
        weight_type=weight_type,
        level_weights=level_weights,
        residual_vars=residual_vars,
        sample=pd.Series(used_rows, index=data.index, name="sample"),
        transforms=transforms,
        factor_levels={var: c.levels for var, c in codings.items()},
        sample_data=sample,
    )


# -- variables and sample ------------------------------------------------------------------

def estimation_sample(spec: ModelSpec, data: pd.DataFrame):
    """The rows of ``data`` that :func:`build_design` would use, without building the
    design: ``(mask, n_missing, infinite)`` -- the boolean mask over ``data``'s rows (if
    qualifier, a weight expression's missing values, listwise deletion), the number of
    selected rows dropped for missing values and ``{variable: infinite values}``. No row
    selected is an all-False mask, not an error (a part of the data may have none)."""
    if len(data) == 0:
        return np.zeros(0, dtype=bool), 0, {}
    _, n_missing, keep, infinite = _selected(spec, data, allow_empty=True)[-1]
    return keep, n_missing, infinite


def _selected(spec: ModelSpec, data: pd.DataFrame, allow_empty=False):
    """``(data, extra, select, weight_values, deleted)``: the data with the operated
    columns (``L.x``), the variables options name, the rows the qualifiers and a weight
    expression select, that expression's values (or None) and
    :func:`_listwise_delete`'s results."""
    data = with_ts_columns(spec, data)
    extra = _extra_variables(spec)
    _check_columns(spec, data, extra)
    select = _qualifier_rows(spec, data, allow_empty)
    weight_values = _weight_expression(spec, data)
    if weight_values is not None:
        select = select & ~np.isnan(weight_values)
    return data, extra, select, weight_values, _listwise_delete(spec, data, extra, select)


def missing_value_notes(n_missing: int, infinite: dict) -> list[str]:
    """The design's notes on rows dropped for missing values and infinite values treated as
    missing (Stata's wording)."""
    notes = []
    if n_missing:
        noun = "observation" if n_missing == 1 else "observations"
        notes.append(f"({n_missing} {noun} dropped because of missing values)")
    for var, k in infinite.items():
        noun = "value" if k == 1 else "values"
        notes.append(f"note: {k} infinite {noun} of {var} treated as missing")
    return notes


#: commands fitted by quadrature over the random effects (they need at least one level)
_QUADRATURE_COMMANDS = ("meglm", "melogit", "meprobit", "mecloglog", "meologit", "meoprobit",
                        "mepoisson", "menbreg", "metobit", "meintreg", "mestreg")


def _check_estimable(spec: ModelSpec, X: np.ndarray, levels) -> None:
    """Clear errors for models the estimators cannot take: a quadrature command without a
    random-effects equation, ``mixed`` without fixed effects."""
    if spec.command in _QUADRATURE_COMMANDS and not levels:
        raise SpecificationError(
            f"{spec.command} needs a random-effects equation such as '|| id:' (Stata) or "
            "'(1 | id)' (formula); without random effects fit the model with statsmodels' GLM")
    if spec.command == "mixed" and X.shape[1] == 0:
        raise SpecificationError(
            "mixed: the model has no fixed effects (noconstant and no covariates), which is "
            "not implemented; keep the constant or add a covariate")


def _extra_variables(spec: ModelSpec) -> dict[str, str]:
    """Variables outside ``spec.variables()`` that the estimators need row by row: weights
    (``"weight"``, ``"weight:<level>"``), ``vce(cluster var)`` (``"cluster"``) and
    ``residuals(..., t(var) by(var))`` (``"t"``, ``"by"``)."""
    out = {}
    weight = spec.options.get("weight")
    if weight and isinstance(weight[1], str):
        out["weight"] = weight[1]
    for level, (_, var) in dict(spec.options.get("level_weights") or {}).items():
        out[f"weight:{level}"] = var
    vce = spec.options.get("vce")
    if isinstance(vce, tuple):
        # the option table's parsed form: ("cluster", "pen")
        vce = " ".join(vce)
    m = re.fullmatch(r"\s*cl(?:u(?:s(?:t(?:e(?:r)?)?)?)?)?\s+([A-Za-z_][A-Za-z0-9_]*)\s*",
                     vce) if isinstance(vce, str) else None
    if m:
        out["cluster"] = m.group(1)
    elif isinstance(vce, tuple) and len(vce) == 2 and vce[0] == "cluster":
        out["cluster"] = vce[1]
    residuals = spec.options.get("residuals")
    if isinstance(residuals, str):
        for key in ("t", "by"):
            m = re.search(rf"\b{key}\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", residuals)
            if m:
                out[key] = m.group(1)
    return out


def check_variables(spec: ModelSpec, data: pd.DataFrame) -> None:
    """Raise :class:`DataError` naming a variable of ``spec`` that is not a column of
    ``data`` (with the closest names); ``data`` may have no rows (a frame's empty form)."""
    _check_columns(spec, data, _extra_variables(spec))


def _check_columns(spec: ModelSpec, data: pd.DataFrame, extra: dict[str, str]) -> None:
    columns = [str(c) for c in data.columns]
    named = list(spec.response) + [f.var for t in spec.fixed for f in t.factors]
    named += [f.var for eq in spec.random for t in eq.terms for f in t.factors]
    if "_all" in named and "_all" not in data.columns:
        raise DataError("'_all' is not a variable: it names the level of crossed random "
                        "effects ('|| _all: R.id'); it cannot be a covariate or response")
    for var in list(spec.variables()) + list(extra.values()):
        if var in data.columns:
            if int((data.columns == var).sum()) > 1:
                raise DataError(f"variable '{var}' names {int((data.columns == var).sum())} "
                                "columns of the data; rename the duplicates")
            continue
        close = difflib.get_close_matches(var, columns, n=3, cutoff=0.6)
        close += [c for c in columns if c.lower() == var.lower() and c not in close]
        if close:
            hint = "closest: " + ", ".join(close)
        else:
            shown = columns[:20] + (["..."] if len(columns) > 20 else [])
            hint = "columns are: " + ", ".join(shown)
        raise DataError(f"variable '{var}' not found in data ({hint})")


def _infinite(col: pd.Series) -> np.ndarray:
    """Rows holding +inf or -inf (Stata has no infinities: they are treated as missing)."""
    if not pd.api.types.is_float_dtype(col):
        return np.zeros(len(col), dtype=bool)
    return np.isinf(col.to_numpy(dtype=np.float64, na_value=np.nan))


def _missing(col: pd.Series) -> np.ndarray:
    miss = col.isna().to_numpy(dtype=bool)
    miss = miss | _infinite(col)
    if not is_numeric(col):
        # Stata's missing string is ""
        miss = miss | (col.astype("string") == "").fillna(False).to_numpy(dtype=bool)
    return miss


def _qualifier_rows(spec: ModelSpec, data: pd.DataFrame, allow_empty=False) -> np.ndarray:
    """Rows selected by Stata's ``in range`` and ``if exp`` (all rows without them); an
    ``if`` selecting no row is an error unless ``allow_empty``."""
    n = len(data)
    select = np.ones(n, dtype=bool)
    rng = spec.obs_range
    if rng is not None:
        first = _obs_number(rng.first, n, rng.text)
        last = _obs_number(rng.last, n, rng.text)
        if first > last:
            raise DataError(f"range 'in {rng.text}': the first observation ({first}) comes "
                            f"after the last ({last}) in data with {n} rows")
        select[:] = False
        select[first - 1:last] = True
    if spec.condition is not None:
        select &= stata_truth(spec.condition.text, data)
        if not select.any() and not allow_empty:
            where = f" in {rng.text}" if rng is not None else ""
            raise DataError(f"no observations: 'if {spec.condition.text}'{where} selects no "
                            "row of the data")
    return select


def _obs_number(value, n: int, text: str) -> int:
    """1-based observation number of one end of a range (``f``, ``l``, ``-1`` = last)."""
    if value == "f":
        return 1
    if value == "l":
        return n
    k = n + 1 + value if value < 0 else value
    if not 1 <= k <= n:
        raise DataError(f"range 'in {text}': observation {value} is out of range; the data "
                        f"have {n} rows")
    return k


def _weight_expression(spec: ModelSpec, data: pd.DataFrame) -> np.ndarray | None:
    """Values of a weight given as an expression (``[pw=1/p]``) on every row, else None."""
    weight = spec.options.get("weight")
    if not weight or isinstance(weight[1], str):
        return None
    kind, expr = weight
    values = evaluate_stata(expr.text, data)
    if values.dtype == object:
        raise DataError(f"[{kind}={expr.text}]: the weight expression is a string")
    return values


def _listwise_delete(spec: ModelSpec, data: pd.DataFrame, extra: dict[str, str],
                     select: np.ndarray) -> tuple[pd.DataFrame, int, np.ndarray]:
    """The estimation sample: selected rows without a missing value in a used variable.

    Returns the sample, the number of selected rows dropped for missing values and the
    boolean mask of the rows used.
    """
    used = list(spec.variables())
    for v in extra.values():
        # one variable may serve twice ([fw=w] and fweight(w)): one column in the sample
        if v not in used:
            used.append(v)
    drop = np.zeros(len(data), dtype=bool)
    response = [v for v in spec.response if v]
    censored = spec.command in _CENSORED_BY_MISSING and len(response) > 1
    if censored:
        drop |= np.logical_and.reduce([_missing(data[v]) for v in response])
    for var in used:
        if censored and var in response:
            continue
        drop |= _missing(data[var])
    n_missing = int((drop & select).sum())
    infinite = {var: int((_infinite(data[var]) & select).sum()) for var in used}
    infinite = {var: k for var, k in infinite.items() if k}
    keep = select & ~drop
    sample = data[used] if keep.all() else data.loc[keep, used]
    return sample, n_missing, keep, infinite


def _response(spec: ModelSpec, sample: pd.DataFrame) -> np.ndarray:
    cols = []
    for var in spec.response:
        col = sample[var]
        if not is_numeric(col):
            raise DataError(f"response '{var}' is a string variable")
        cols.append(col.to_numpy(dtype=np.float64))
    if not cols:
        return np.empty((len(sample), 0))
    return cols[0] if len(cols) == 1 else np.column_stack(cols)


# -- fixed effects ---------------------------------------------------------------------------

def _auto_factors(terms, spec: ModelSpec, sample: pd.DataFrame) -> list[Term]:
    """In formulas, a bare string or categorical column is a factor, as patsy treats it."""
    if spec.syntax != "formula":
        return list(terms)
    out = []
    for term in terms:
        factors = tuple(replace(f, kind="i") if f.kind == "c" and f.var in sample.columns
                        and not is_numeric(sample[f.var]) else f for f in term.factors)
        out.append(Term(factors))
    return out


def _term_columns(terms: list[Term], sample: pd.DataFrame, codings, transforms: dict,
                  intercept: bool, key: str) -> list[TermColumns]:
    """Columns of each term: Stata's expansion, or patsy's for terms with transforms."""
    from_patsy = {}
    if any(needs_patsy(t) for t in terms):
        where = "fixed part" if key == "fixed" else f"random effects at {key}"
        from_patsy, transforms[key] = formula_columns(terms, sample, intercept, where)
    return [from_patsy[k] if k in from_patsy else expand_term(t, sample, codings)
            for k, t in enumerate(terms)]


def _fixed_part(spec: ModelSpec, sample: pd.DataFrame, codings, transforms) -> dict:
    n = len(sample)
    blocks, names, full, full_base, parts = [], [], [], [], []
    terms = _auto_factors(spec.fixed, spec, sample)
    for tc in _term_columns(terms, sample, codings, transforms, spec.constant, "fixed"):
        blocks.append(tc.X)
        names.extend(tc.names)
        full.extend(tc.full_names)
        full_base.extend(tc.is_base)
        parts.extend(tc.factor_parts)
    if spec.constant:
        blocks.append(np.ones((n, 1)))
        names.append("_cons")
        full.append("_cons")
        full_base.append(False)
        parts.append([("", "_cons")])
    X = np.hstack(blocks) if blocks else np.empty((n, 0))
    p = X.shape[1]
    # Stata never omits the constant: it is considered first
    order = ([p - 1] + list(range(p - 1))) if spec.constant else list(range(p))
    drop = collinear_columns(X, order)

    omitted, notes = [], []
    kept_full = []
    col = 0
    for name, base in zip(full, full_base, strict=True):
        if base:
            kept_full.append(name)
            continue
        if drop[col]:
            omitted.append(name)
            notes.append(f"note: {name} omitted because of collinearity.")
            kept_full.append(mark_omitted(parts[col]))
        else:
            kept_full.append(name)
        col += 1
    keep = ~drop
    return {
        "X": X if keep.all() else np.ascontiguousarray(X[:, keep]),
        "names": [nm for nm, k in zip(names, keep, strict=True) if k],
        "omitted": omitted,
        "notes": notes,
        "base_levels": [nm for nm, b in zip(full, full_base, strict=True) if b],
        "full_names": kept_full,
    }


# -- random effects --------------------------------------------------------------------------

def _path_of(eq: REEquation) -> tuple[str, ...]:
    if eq.level == "_all" or tuple(eq.path) in ((), ("_all",)):
        return ("_all",)
    return tuple(eq.path) if eq.path else (eq.level,)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of the first observation of each group, in code order."""
    if len(codes) and codes[0] == 0 and np.all(np.diff(codes) >= 0):
        # data sorted by group (the common layout): the rows where the code changes
        return np.flatnonzero(np.diff(codes, prepend=-1))
    first = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
    return first[np.argsort(codes[first], kind="stable")]


def _path_codes(sample: pd.DataFrame, path: tuple[str, ...], codings) -> np.ndarray:
    """Group codes over the tuple of path values, ordered lexicographically by the values."""
    key = None
    for var in path:
        if var not in codings:
            codings[var] = code_categorical(sample, var)
        c = codings[var]
        if key is None:
            key = c.codes
        else:
            key, _ = pd.factorize(key * len(c.levels) + c.codes, sort=True)
    return np.asarray(key, dtype=np.int64)


def _block(eq: REEquation, spec: ModelSpec, sample: pd.DataFrame, codings,
           transforms) -> REBlock:
    n = len(sample)
    if eq.factor:
        if eq.factor not in codings:
            codings[eq.factor] = code_categorical(sample, eq.factor)
        c = codings[eq.factor]
        # R. implies an identity structure; mixed also accepts cov(exchangeable)
        # ([ME] me, syntax item 5)
        cov = str(eq.covariance).lower()
        if cov == "independent":
            # the equation's default: one variance per R. block (Stata's identity)
            cov = "identity"
        if cov not in ("identity", "exchangeable"):
            raise SpecificationError(
                f"R.{eq.factor} random effects have an identity covariance (or "
                f"covariance(exchangeable)); covariance({eq.covariance}) is not allowed")
        block = REBlock(names=[f"R.{eq.factor}"], Z=None, covariance=cov,
                        factor_codes=c.codes, factor_levels=c.levels)
    else:
        cols, names = [], []
        terms = _auto_factors(eq.terms, spec, sample)
        key = ">".join(_path_of(eq))
        while key in transforms:
            key += "'"
        for tc in _term_columns(terms, sample, codings, transforms, eq.constant, key):
            cols.append(tc.X)
            names.extend(tc.names)
        if eq.constant:
            cols.append(np.ones((n, 1)))
            names.append("_cons")
        if not names:
            raise SpecificationError(
                f"random-effects equation '{eq.level}:' has no random effects: level "
                f"'{eq.level}' is repeated and its random intercept belongs to one equation; "
                "give the repeated equation variables or drop it")
        repeated = sorted({x for x in names if names.count(x) > 1})
        if repeated:
            raise SpecificationError(
                f"random-effects equation '{eq.level}:' lists {', '.join(repeated)} more than "
                "once; each random effect may appear once per equation")
        block = REBlock(names=names, Z=np.ascontiguousarray(np.hstack(cols)),
                        covariance=eq.covariance)
    if eq.cov_matrix is not None:
        block.cov_matrix = _cov_matrix(eq, spec, block.q)
    elif eq.covariance in ("pattern", "fixed"):
        raise SpecificationError(f"covariance({eq.covariance}()) at level '{eq.level}' needs a "
                                 "matrix name")
    return block


def _cov_matrix(eq: REEquation, spec: ModelSpec, q: int) -> np.ndarray:
    name = eq.cov_matrix
    if name not in spec.matrices:
        raise DataError(f"matrix '{name}' used in covariance({eq.covariance}({name})) not found")
    try:
        mat = np.asarray(spec.matrices[name], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"matrix '{name}' is not numeric") from None
    if mat.ndim != 2 or mat.shape != (q, q):
        raise DataError(f"matrix '{name}' is {'x'.join(map(str, mat.shape))}; level "
                        f"'{eq.level}' has {q} random effects, so it must be {q}x{q}")
    return mat


def _levels(spec: ModelSpec, sample: pd.DataFrame, codings, transforms) -> list[Level]:
    groups: dict[tuple[str, ...], list[REEquation]] = {}
    for eq in spec.random:
        groups.setdefault(_path_of(eq), []).append(eq)
    n = len(sample)
    levels: list[Level] = []
    for path, eqs in groups.items():
        eqs = _one_constant(eqs)
        blocks = [_block(eq, spec, sample, codings, transforms) for eq in eqs]
        if path == ("_all",):
            levels.append(Level(path=path, label="_all", codes=np.zeros(n, dtype=np.int64),
                                n_groups=1, group_values=pd.Index(["_all"]), blocks=blocks))
            continue
        codes = _path_codes(sample, path, codings)
        first = _first_rows(codes)
        if len(path) == 1:
            values = pd.Index(sample[path[0]].to_numpy()[first], name=path[0])
        else:
            values = pd.MultiIndex.from_arrays([sample[v].to_numpy()[first] for v in path],
                                               names=list(path))
        parent = None
        if levels and _extends(path, levels[-1].path):
            parent = levels[-1].codes[first]
            _check_split_groups(sample, path, levels[-1], codes, first)
        levels.append(Level(path=path, label=">".join(path), codes=codes,
                            n_groups=len(first), group_values=values, blocks=blocks,
                            parent=parent))
    return levels


def _check_split_groups(sample, path, outer, codes, first):
    """Refuse a declared nesting that splits an inner variable whose labels are global.

    ``|| school: || class:`` makes a class of two schools two groups. That is right when class
    labels restart in each school (1, 2, ... per school), but when almost every label belongs
    to one school (at most 10% do not), the few that do are taken for data errors: name them.
    """
    inner = sample[path[-1]].to_numpy()[first]
    labels, n_parents = np.unique(inner, return_counts=True)
    split = labels[n_parents > 1]
    if len(split) == 0 or len(split) > 0.1 * len(labels):
        return
    shown = []
    for lab in split[:5]:
        rows = first[inner == lab]
        outer_vals = sample[outer.path[-1]].to_numpy()[rows]
        shown.append(f"{path[-1]} {lab} in {outer.path[-1]} "
                     f"{', '.join(str(v) for v in outer_vals)}")
    more = f" (and {len(split) - 5} more)" if len(split) > 5 else ""
    raise DataError(
        f"level '{'>'.join(path)}' is declared nested in '{outer.path[-1]}', but {len(split)} of "
        f"{len(labels)} values of '{path[-1]}' occur in more than one '{outer.path[-1]}': "
        f"{'; '.join(shown)}{more}. Fix those rows, or give '{path[-1]}' labels that restart "
        f"within each '{outer.path[-1]}' if the groups really are different")


def _one_constant(eqs: list[REEquation]) -> list[REEquation]:
    """Keep the random intercept only in the last equation of a repeated level.

    Two intercepts at one level are not identified. Stata's
    ``|| district: i.children, cov(exchangeable) || district:`` gives an exchangeable block for
    the children indicators and a separate intercept ([ME] me, example 5), so the constant
    belongs to the last equation that has one.
    """
    with_cons = [k for k, eq in enumerate(eqs) if eq.constant and not eq.factor]
    if len(with_cons) < 2:
        return eqs
    return [replace(eq, constant=False) if k in with_cons[:-1] else eq
            for k, eq in enumerate(eqs)]


def _extends(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    """True when ``path`` strictly extends ``prefix`` (and neither is ``_all``)."""
    return ("_all" not in prefix and len(path) > len(prefix)
            and path[:len(prefix)] == prefix)


def _nested_in(inner: Level, outer: Level) -> bool:
    """True when each group of ``inner`` lies within one group of ``outer`` in the data."""
    pairs = pd.factorize(inner.codes * np.int64(outer.n_groups) + outer.codes)[1]
    return len(pairs) == inner.n_groups


def _structure(levels: list[Level]) -> tuple[bool, bool, str | None]:
    """Return ``nested``, ``crossed`` and a note when non-nested bars happen to nest."""
    has_all = any(lev.label == "_all" for lev in levels)
    has_r = any(b.factor_codes is not None for lev in levels for b in lev.blocks)
    nested = not has_all and all(_extends(levels[k].path, levels[k - 1].path)
                                 for k in range(1, len(levels)))
    found, unrelated = [], False
    real = [lev for lev in levels if lev.label != "_all"]
    for i, a in enumerate(real):
        for b in real[i + 1:]:
            if _extends(a.path, b.path) or _extends(b.path, a.path):
                continue
            unrelated = True
            if _nested_in(b, a):
                found.append(f"{b.label} is nested in {a.label}")
            elif _nested_in(a, b):
                found.append(f"{a.label} is nested in {b.label}")
    crossed = has_all or has_r or unrelated
    note = None
    if found:
        note = ("note: the data are nested although the random effects were specified as "
                "crossed: " + "; ".join(found))
    return nested, crossed, note


# -- weights, offset and trials ----------------------------------------------------------------

def _weight_values(sample: pd.DataFrame, kind: str, var: str) -> np.ndarray:
    return _check_weights(continuous_values(sample, var), kind, var)


def _check_weights(w: np.ndarray, kind: str, var) -> np.ndarray:
    if np.any(w < 0):
        raise DataError(f"{kind} variable '{var}' has {int(np.sum(w < 0))} negative values")
    if kind == "fweight" and np.any(w != np.round(w)):
        raise DataError(f"fweight variable '{var}' has noninteger values")
    return w


def _weights(spec: ModelSpec, sample: pd.DataFrame, expression_values: np.ndarray | None):
    """Observation-level weights and the per-level weights of ``mixed``."""
    weight_type, weights = None, None
    if spec.options.get("weight"):
        weight_type, var = spec.options["weight"]
        if expression_values is not None:
            weights = _check_weights(expression_values, weight_type, var)
        else:
            weights = _weight_values(sample, weight_type, var)
    level_weights = {level: (kind, _weight_values(sample, kind, var))
                     for level, (kind, var)
                     in dict(spec.options.get("level_weights") or {}).items()}
    return weight_type, weights, level_weights


def _offset(spec: ModelSpec, sample: pd.DataFrame) -> np.ndarray | None:
    off = spec.options.get("offset")
    exp = spec.options.get("exposure")
    if off and exp:
        raise SpecificationError("only one of offset() or exposure() can be specified")
    if isinstance(off, Expression):
        return evaluate_transform(off.text, sample)
    if off:
        return continuous_values(sample, off)
    if exp:
        values = continuous_values(sample, exp)
        if np.any(values <= 0):
            bad = int(np.sum(values <= 0))
            raise DataError(f"exposure variable '{exp}' has {bad} nonpositive values")
        return np.log(values)
    return None


def _trials(spec: ModelSpec, sample: pd.DataFrame, endog: np.ndarray) -> np.ndarray | None:
    spec_n = spec.options.get("binomial")
    if spec_n is None or spec_n is False:
        return None
    if isinstance(spec_n, Expression):
        trials = evaluate_transform(spec_n.text, sample)
        what = f"binomial({spec_n.text})"
    elif isinstance(spec_n, str):
        trials = continuous_values(sample, spec_n)
        what = f"binomial({spec_n})"
    elif isinstance(spec_n, Real) and not isinstance(spec_n, bool):
        trials = np.full(len(sample), float(spec_n))
        what = f"binomial({spec_n})"
    else:
        raise SpecificationError(f"binomial({spec_n!r}) must name a variable or give a number")
    if endog.ndim == 1:
        bad = (endog < 0) | (endog > trials)
        if bad.any():
            raise DataError(f"{what}: {int(bad.sum())} observations have a response "
                            f"'{spec.response[0]}' outside [0, trials]")
    return trials
