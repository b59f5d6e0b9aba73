"""Formula transforms in lme4-style formulas: what is accepted, how it is named, what is
refused."""
import pytest

from statsmodels_me.spec import Factor, SpecificationError, Term, parse
from statsmodels_me.spec.formula_terms import parse_transform
from statsmodels_me.spec.model_spec import Expression


def test_transforms_become_formula_factors_with_patsy_names():
    s = parse("y ~ x + I(x**2) + np.log(z) + C(g, Sum) + bs(t, df=4):C(h) + (1 + center(x) | id)")
    assert s.fixed == (
        Term((Factor("x"),)),
        Term((Factor("I(x ** 2)", "formula", None, ("x",)),)),
        Term((Factor("np.log(z)", "formula", None, ("z",)),)),
        Term((Factor("C(g, Sum)", "formula", None, ("g",)),)),
        Term((Factor("bs(t, df=4)", "formula", None, ("t",)), Factor("h", "i"))),
    )
    assert s.random[0].terms == (Term((Factor("center(x)", "formula", None, ("x",)),)),)
    assert s.variables() == ["y", "x", "z", "g", "t", "h", "id"]


def test_treatment_contrast_keeps_stata_coding():
    s = parse("y ~ C(g, Treatment(2)) + C(h, Treatment(reference=3)) + C(k, Treatment('b'))")
    assert s.fixed[:2] == (Term((Factor("g", "i", 2),)), Term((Factor("h", "i", 3),)))
    assert s.fixed[2].factors[0].kind == "formula"


def test_offset_and_cbind_become_options():
    s = parse("cbind(s, f) ~ x + offset(np.log(n)) + (1|id)", command="melogit")
    assert s.response == ("s",)
    assert s.options["binomial"] == Expression("s + f", "formula", ("s", "f"))
    assert s.options["offset"] == Expression("np.log(n)", "formula", ("n",))
    assert s.options["family"] == "binomial"
    assert parse("y ~ x + offset(lt) + (1|id)", command="mepoisson").options["offset"] == "lt"
    assert parse("cbind(lo, hi) ~ x + (1|id)", command="meintreg").response == ("lo", "hi")
    with pytest.raises(SpecificationError, match="give only one"):
        parse("y ~ x + offset(lt) + (1|id)", command="mepoisson", exposure="n")


@pytest.mark.parametrize("code, fragment", [
    ("x.__class__", "attribute access '.__class__'"),
    ("np.linalg.inv(x)", "only named functions"),
    ("np.load(x)", "numpy function np.load() is not allowed"),
    ("__import__('os')", "unknown function __import__()"),
    ("__builtins__", "double underscores"),
    ("eval('1')", "unknown function eval()"),
    ("(lambda: 1)()", "only named functions"),
    ("lambda: 1", "lambda is not allowed"),
    ("[v for v in x]", "listcomp syntax is not allowed"),
    ("x[0]", "subscript syntax is not allowed"),
    ("I(*x)", "*arguments"),
    ("I(**x)", "**arguments"),
    ("import os", "cannot read formula term"),
    ("a if b else c", "ifexp syntax is not allowed"),
    ("1 < x < 2", "compare syntax is not allowed"),
    ("x and y", "boolop syntax is not allowed"),
    ("log", "'log' is a function, not a variable"),
    ("I(x, f=None)", "constant None is not allowed"),
])
def test_unsafe_transforms_are_refused(code, fragment):
    with pytest.raises(SpecificationError) as err:
        parse_transform(code)
    assert fragment in str(err.value) and repr(code) in str(err.value)


def test_refusal_inside_a_formula_names_the_formula():
    with pytest.raises(SpecificationError, match=r"'I\(x.real\)'.*formula 'y ~ I\(x.real\)'"):
        parse("y ~ I(x.real)")
