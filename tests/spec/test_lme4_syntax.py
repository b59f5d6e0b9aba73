"""lme4-style formulas -> ModelSpec, and equality with the Stata syntax of the same model.

The Stata forms come from the seed document, Stata's [ME] me entry.
"""
import dataclasses

import numpy as np
import pytest

from statsmodels_me.spec import Factor, REEquation, SpecificationError, Term, parse


def same(a, b):
    """Specs equal apart from the front end that produced them."""
    return dataclasses.replace(a, syntax="-") == dataclasses.replace(b, syntax="-")


def c(v):
    return Term((Factor(v, "c"),))


def i(v, base=None):
    return Term((Factor(v, "i", base),))


@pytest.mark.parametrize("stata, formula, kw", [
    ("weight week || id:", "weight ~ week + (1 | id)", {}),
    ("y x || id: x, cov(un)", "y ~ x + (1 + x | id)", {}),
    ("y x || id: x, cov(un)", "y ~ x + (x | id)", {}),
    ("y x || id: x", "y ~ x + (1 + x || id)", {}),
    ("y x || id: x", "y ~ x + (x || id)", {}),
    ("y x || id: x, nocons", "y ~ x + (0 + x | id)", {}),
    ("y x || id: x, nocons", "y ~ x + (-1 + x | id)", {}),
    ("y x || id: x, nocons", "y ~ x + (x - 1 | id)", {}),
    ("y x || school: || class:", "y ~ x + (1 | school/class)", {}),
    ("y x || school: || class:", "y ~ x + (1 | school) + (1 | school:class)", {}),
    ("y x || a: x, cov(un) || b: x, cov(un) || c: x, cov(un)", "y ~ x + (1 + x | a/b/c)", {}),
    ("c_use i.urban age || district:", "c_use ~ C(urban) + age + (1|district)",
     {"command": "melogit"}),
    ("c_use i.urban age || district:", "c_use ~ factor(urban) + age + (1|district)",
     {"command": "melogit"}),
    ("y a##b || field:", "y ~ C(a)*C(b) + (1 | field)", {}),
    ("y a##b##d || field:", "y ~ C(a)*C(b)*C(d) + (1 | field)", {}),
    ("y x z c.x#c.z || id: x, covariance(unstructured)", "y ~ x*z + (1 + x | id)", {}),
    ("y x z c.x#c.z || id:", "y ~ x + z + x:z + (1 | id)", {}),
    ("y b2.g || id:", "y ~ C(g, Treatment(2)) + (1 | id)", {}),
    ("y b2.g || id:", "y ~ C(g, Treatment(reference=2)) + (1 | id)", {}),
    ("y x, noconstant || id:", "y ~ 0 + x + (1 | id)", {}),
    ("y x, noconstant || id:", "y ~ x - 1 + (1 | id)", {}),
    ("y x || id: || id: x, nocons", "y ~ x + (1 | id) + (0 + x | id)", {}),
    ("y x || id: i.g, nocons", "y ~ x + (0 + C(g) | id)", {}),
    ("y x || id:, cov(exchangeable)", "y ~ x + (1 | id)", {"covariance": {"id": "exc"}}),
    ("melogit y x || id:, or intp(9)", "y ~ x + (1|id)",
     {"command": "melogit", "or_": True, "intpoints": 9}),
    ("meglm y x || id:, family(poisson) offset(lt)", "y ~ x + (1|id)",
     {"command": "meglm", "family": "poisson", "offset": "lt"}),
    ("mixed y x || id:, reml", "mixed y ~ x + (1 | id)", {"reml": True}),
])
def test_equivalent_to_stata(stata, formula, kw):
    kw = dict(kw)
    command = kw.pop("command", None)
    a = parse(stata, command=command)
    b = parse(formula, command=command, **kw)
    assert b.syntax == "formula" and a.syntax == "stata"
    assert same(a, b), (a, b)


def test_bar_structures():
    s = parse("y ~ x + (1 + x | id) + (1 | a) + (1 | b)")
    assert s.random == (
        REEquation("id", ("id",), (c("x"),), True, "unstructured"),
        REEquation("a", ("a",)),
        REEquation("b", ("b",)),
    )


def test_crossed_bars_have_separate_paths():
    s = parse("y ~ 1 + (1 | s) + (1 | d)")
    assert [e.path for e in s.random] == [("s",), ("d",)]
    assert s.fixed == () and s.constant


def test_interaction_grouping_path():
    s = parse("y ~ x + (1 | a:b)")
    assert s.random == (REEquation("b", ("a", "b")),)


def test_three_effects_in_one_bar():
    s = parse("y ~ x + (x + z | id)")
    assert s.random[0].terms == (c("x"), c("z")) and s.random[0].constant
    assert s.random[0].covariance == "unstructured"


def test_grouped_sum_interaction():
    s = parse("y ~ (a + b):x + (1|id)")
    assert s.fixed == (Term((Factor("a"), Factor("x"))), Term((Factor("b"), Factor("x"))))


def test_duplicate_terms_collapse_and_removal():
    s = parse("y ~ x + z + x + x:z - z + (1|id)")
    assert s.fixed == (c("x"), Term((Factor("x"), Factor("z"))))


def test_meintreg_cbind():
    s = parse("cbind(lo, hi) ~ x + (1|id)", command="meintreg")
    assert s.response == ("lo", "hi")


def test_covariance_keyword_with_matrix():
    f = np.eye(2)
    s = parse("y ~ (0 + a + b | id)", covariance={"id": "fixed(f)"}, matrices={"f": f})
    assert (s.random[0].covariance, s.random[0].cov_matrix) == ("fixed", "f")


def test_covariance_keyword_string_applies_to_all():
    s = parse("y ~ (1 + x | a) + (1 + x | b)", covariance="independent")
    assert [e.covariance for e in s.random] == ["independent", "independent"]


@pytest.mark.parametrize("text, quoted", [
    ("y ~ I(x.real) + (1|id)", "attribute access '.real'"),
    ("y ~ foo(x) + (1|id)", "unknown function foo()"),
    ("log(y) ~ x + (1|id)", "transformed response 'log(y)'"),
    ("y ~ x + (1 | )", "grouping variable"),
    ("y ~ x + (0 | id)", "no random effects"),
    ("~ x", "missing response"),
    ("y ~ x ~ z", "exactly one '~'"),
    ("y ~ x + (1 | id", "unbalanced"),
    ("y ~ 2 + x", "'2'"),
    ("y ~ x + (1 | a/b:c)", "mixing"),
    ("y ~ x $ z", "'$'"),
    ("mepoisson y ~ C(g, Sum) + offset(a) + offset(b)", "more than one offset()"),
    ("y ~ x + (offset(a) | id)", "offset() belongs in the fixed part"),
    ("cbind(s, f) ~ x + (1|id)", "needs a binomial model"),
    ("y ~ x + offset(z) + (1|id)", "offset() in formula 'y ~ x + offset(z) + (1|id)' is not "
                                   "allowed with mixed"),
])
def test_formula_errors(text, quoted):
    with pytest.raises(SpecificationError) as err:
        parse(text)
    assert quoted in str(err.value)


def test_menl_is_not_a_formula():
    with pytest.raises(SpecificationError, match="menl"):
        parse("y ~ x + (1|id)", command="menl")


def test_covariance_keyword_by_path_label():
    s = parse("y ~ (1 + x | school/class)", covariance={"school>class": "exchangeable"})
    assert [e.covariance for e in s.random] == ["unstructured", "exchangeable"]
