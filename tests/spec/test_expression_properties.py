"""Property tests: random ``if`` expressions agree with a row-by-row reference of Stata's rules;
random text and random formula transforms only ever raise SpecificationError or DataError; no
user text reaches ``eval``/``exec``/``compile`` (other than :func:`ast.parse`)."""
import ast
import builtins
import contextlib
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statsmodels_me.formula.api as smf
from statsmodels_me.design import build_design
from statsmodels_me.design.stata_eval import evaluate_stata
from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.errors import DataError

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

RNG = np.random.default_rng(18)
N = 24
DATA = pd.DataFrame({
    "y": RNG.normal(size=N),
    "x": np.where(np.arange(N) % 5 == 0, np.nan, np.round(RNG.normal(size=N) * 3, 1)),
    "z": RNG.integers(1, 6, size=N).astype(float),
    "s": np.array(["a", "b", "c"])[np.arange(N) % 3],
    "g": np.arange(N) % 4,
})

# import everything the front ends load lazily, so no module source is compiled during a test
smf.mixed("y ~ x + bs(z, df=3) + C(s, Sum) + (1 | g)", DATA)
build_design(parse("mixed y x if x > 1 || g:"), DATA)


@contextlib.contextmanager
def no_eval(user_text):
    """Fail when ``user_text`` reaches eval, exec or compile (except ast.parse's compile)."""
    calls = []
    saved = builtins.eval, builtins.exec, builtins.compile

    def guard(name, original):
        def wrapped(source, *args, **kwargs):
            flags = args[2] if len(args) > 2 else kwargs.get("flags", 0)
            code = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            ast_only = name == "compile" and flags & ast.PyCF_ONLY_AST
            if not ast_only and isinstance(code, str) and user_text.strip() and \
                    user_text.strip() in code:
                calls.append((name, code[:200]))
            return original(source, *args, **kwargs)
        return wrapped

    builtins.eval = guard("eval", saved[0])
    builtins.exec = guard("exec", saved[1])
    builtins.compile = guard("compile", saved[2])
    try:
        yield calls
    finally:
        builtins.eval, builtins.exec, builtins.compile = saved
    assert not calls, calls


# -- a reference evaluator of Stata expressions, one row at a time -------------------------
def _key(v):
    return math.inf if math.isnan(v) else v


def _arith(op):
    def f(a, b):
        if math.isnan(a) or math.isnan(b):
            return math.nan
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return math.nan if b == 0 else a / b
    return f


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _inrange(z, a, b):
    if math.isnan(z):
        return 0.0
    if math.isnan(a) and math.isnan(b):
        return 1.0
    if math.isnan(a):
        return float(z <= b)
    if math.isnan(b):
        return float(a <= z)
    return float(a <= z <= b)


leaves = st.one_of(
    st.sampled_from([("x", lambda r: r["x"]), ("z", lambda r: r["z"]),
                     (".", lambda r: math.nan), ("_n", lambda r: r["_n"])]),
    st.integers(-3, 6).map(lambda k: (f"({k})", lambda r, k=k: float(k))),
)


def _extend(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", "<=",
                                                  ">", ">=", "&", "|"]), children)

    def combine(t):
        (ta, fa), op, (tb, fb) = t
        if op in _CMP:
            def fn(r):
                return float(_CMP[op](_key(fa(r)), _key(fb(r))))
        elif op == "&":
            def fn(r):
                return float(fa(r) != 0 and fb(r) != 0)
        elif op == "|":
            def fn(r):
                return float(fa(r) != 0 or fb(r) != 0)
        else:
            def fn(r):
                return _arith(op)(fa(r), fb(r))
        return f"({ta} {op} {tb})", fn

    def negate(t):
        ta, fa = t
        return f"!({ta})", (lambda r, fa=fa: float(fa(r) == 0))

    def missing(t):
        ta, fa = t
        return f"missing({ta})", (lambda r, fa=fa: float(math.isnan(fa(r))))

    def inrange(t):
        (ta, fa), (tb, fb), (tc, fc) = t
        return f"inrange({ta}, {tb}, {tc})", (
            lambda r, fa=fa, fb=fb, fc=fc: _inrange(fa(r), fb(r), fc(r)))

    def inlist(t):
        (ta, fa), (tb, fb), (tc, fc) = t
        return f"inlist({ta}, {tb}, {tc})", (
            lambda r, fa=fa, fb=fb, fc=fc: float(_key(fa(r)) in (_key(fb(r)), _key(fc(r)))))

    return st.one_of(binary.map(combine), children.map(negate), children.map(missing),
                     st.tuples(children, children, children).map(inrange),
                     st.tuples(children, children, children).map(inlist))


expressions = st.recursive(leaves, _extend, max_leaves=8)


@SETTINGS
@given(expressions)
def test_if_expressions_agree_with_a_row_by_row_reference(expr):
    text, fn = expr
    rows = DATA.assign(_n=np.arange(1, N + 1, dtype=float)).to_dict("records")
    expected = np.array([fn(r) for r in rows])
    with no_eval(text):
        got = evaluate_stata(text, DATA)
    np.testing.assert_array_equal(got, expected)
    # as a qualifier: the sample is the rows where it is true among complete rows
    try:
        with no_eval(text):
            d = build_design(parse(f"mixed y x if {text} || g:"), DATA)
    except DataError as err:
        assert "selects no row" in str(err) or "no observations" in str(err)
        assert not ((expected != 0) & DATA["x"].notna().to_numpy()).any()
        return
    np.testing.assert_array_equal(d.sample.to_numpy(),
                                  (expected != 0) & DATA["x"].notna().to_numpy())


junk = st.text(alphabet=st.sampled_from(list("xzsg_.()[]{}=<>!~&|+-*/^\"', 0123456789:;@#$"
                                             "abcdefimnortu")), max_size=30)
stata_words = st.lists(st.sampled_from(
    ["x", "z", "s", "g", ".", ".a", "1", "2.5", '"a"', "==", "!=", "~=", "<", ">=", "&", "|",
     "!", "+", "-", "*", "/", "^", "(", ")", ",", "inlist(", "inrange(", "missing(", "abs(",
     "ln(", "__class__", "x.real", "import", "lambda", "eval(", "_n", "_N"]), max_size=12)


@SETTINGS
@given(st.one_of(junk, stata_words.map(" ".join)))
def test_random_if_text_raises_only_package_errors(text):
    with no_eval(text):
        try:
            build_design(parse(f"mixed y x if {text} || g:"), DATA)
        except (SpecificationError, DataError):
            pass


atoms = st.sampled_from(["x", "z", "y", "s", "2", "0.5"])


def _transform(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", ">", "&"]),
                  children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["np.log", "np.exp", "np.sqrt", "np.abs", "log", "I",
                                   "center", "standardize", "np.floor", "scale"]),
                  children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.integers(0, 6)).map(lambda t: f"bs({t[0]}, df={t[1]})"),
        st.tuples(children, st.integers(2, 5)).map(lambda t: f"cr({t[0]}, df={t[1]})"),
        st.tuples(st.sampled_from(["s", "g", "z"]),
                  st.sampled_from(["Sum", "Diff", "Helmert", "Treatment(2)", "Treatment('b')",
                                   "Poly"])).map(lambda t: f"C({t[0]}, {t[1]})"),
    )


transforms = st.recursive(atoms, _transform, max_leaves=4)
formula_junk = st.lists(st.sampled_from(
    ["I(", "np.", "x", "z", ".__class__", "__import__('os')", ")", "(", "**", "[0]",
     "lambda", ":", "bs(", "df=", "C(", "s", ",", "Sum", "exec(", "'", "+", "1"]), max_size=8)


@SETTINGS
@given(st.lists(st.one_of(transforms, transforms, formula_junk.map("".join)), min_size=1,
                max_size=3),
       st.one_of(st.none(), transforms))
def test_random_formula_transforms_raise_only_package_errors(fixed, random_slope):
    bar = "(1 | g)" if random_slope is None else f"(1 + {random_slope} | g)"
    text = f"y ~ {' + '.join(fixed)} + {bar}"
    with no_eval(fixed[0]):
        try:
            model = smf.mixed(text, DATA)
        except (SpecificationError, DataError):
            return
    assert np.isfinite(model.design.exog).all()
    assert model.design.sample.sum() == model.design.nobs
