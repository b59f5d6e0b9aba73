"""Property tests: both syntaxes agree on generated models; malformed text only ever raises
SpecificationError."""
import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from statsmodels_me.spec import ModelSpec, SpecificationError, parse
from statsmodels_me.spec.options import COMMANDS

RESERVED = set(COMMANDS) | {"if", "in", "cbind", "C", "I", "factor", "R", "i", "c", "b",
                            "ibn", "_all", "_cons"}
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(
    lambda s: s not in RESERVED)


@st.composite
def models(draw):
    names = draw(st.lists(NAMES, min_size=8, max_size=8, unique=True))
    y, pool, levels_pool = names[0], names[1:4], names[4:7]
    covariates = draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
    categorical = {v: draw(st.booleans()) for v in covariates}
    n_levels = draw(st.integers(1, 3))
    equations = []
    for lev in levels_pool[:n_levels]:
        slopes = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
        constant = draw(st.booleans()) if slopes else True
        n_effects = len(slopes) + constant
        cov = draw(st.sampled_from(["independent", "unstructured"])) if n_effects > 1 \
            else "independent"
        equations.append((lev, slopes, constant, cov))
    fixed_constant = draw(st.booleans())
    command = draw(st.sampled_from(["mixed", "melogit", "mepoisson", "meglm"]))
    return y, covariates, categorical, equations, fixed_constant, command


def render_stata(y, covariates, categorical, equations, fixed_constant):
    fixed = " ".join(("i." if categorical[v] else "") + v for v in covariates)
    text = f"{y} {fixed}" + ("" if fixed_constant else ", noconstant")
    for lev, slopes, constant, cov in equations:
        opts = ([] if constant else ["nocons"]) + (["cov(un)"] if cov == "unstructured" else [])
        text += f" || {lev}: {' '.join(slopes)}" + (", " + " ".join(opts) if opts else "")
    return text


def render_formula(y, covariates, categorical, equations, fixed_constant):
    rhs = ["1" if fixed_constant else "0"]
    rhs += [f"C({v})" if categorical[v] else v for v in covariates]
    path = []
    for lev, slopes, constant, cov in equations:
        path.append(lev)
        effects = (["1"] if constant else ["0"]) + slopes
        bar = "||" if cov == "independent" else "|"
        rhs.append(f"({' + '.join(effects)} {bar} {':'.join(path)})")
    return f"{y} ~ " + " + ".join(rhs)


@settings(max_examples=200, deadline=None)
@given(models())
def test_both_syntaxes_agree(model):
    *parts, command = model
    a = parse(render_stata(*parts), command=command)
    b = parse(render_formula(*parts), command=command)
    assert dataclasses.replace(a, syntax="-") == dataclasses.replace(b, syntax="-")
    levels = [eq[0] for eq in parts[3]]
    assert [e.path for e in a.random] == [tuple(levels[:k + 1]) for k in range(len(levels))]
    assert a.constant == parts[4]


FRAGMENTS = st.sampled_from(
    ["y", "x", "id", "a", " ", "||", "|", ":", ",", "(", ")", "#", "##", "i.", "c.", "b2.",
     "R.", "_all", "~", "+", "-", "*", "/", "0", "1", "[", "]", "=", "pweight", "cov(",
     "un", "fixed(f)", "nocons", "mixed ", "melogit ", "menl ", "intm(", "laplace", "{", "}",
     "C(", "I(", "or", "///\n", "constraints(1)", "binomial(", "family(", "\t", "é"])


def _check(text):
    try:
        spec = parse(text)
    except SpecificationError:
        return
    assert isinstance(spec, ModelSpec)


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=25).map("".join))
def test_malformed_syntax_fragments_raise_specification_error(text):
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_specification_error(text):
    _check(text)
