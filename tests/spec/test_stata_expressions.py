"""Stata expressions: the parser's tree, precedence, and its refusals; if/in/weight in the
command line."""
import pytest

from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.expressions import (
    Binary,
    Call,
    Missing,
    Num,
    Str,
    Unary,
    Var,
    expression_builtins,
    expression_variables,
    parse_expression,
)
from statsmodels_me.spec.model_spec import Expression, ObsRange


def test_precedence_follows_stata():
    # [U] 13.2.5: ! binds tightest, then ^, negation, * /, + -, relational, &, |
    assert parse_expression("a | b & c") == Binary("|", Var("a"), Binary("&", Var("b"),
                                                                         Var("c")))
    assert parse_expression("!x == 1") == Binary("==", Unary("!", Var("x")), Num(1.0))
    assert parse_expression("-2^2") == Unary("-", Binary("^", Num(2.0), Num(2.0)))
    assert parse_expression("2^3^2") == Binary("^", Binary("^", Num(2.0), Num(3.0)),
                                               Num(2.0))
    assert parse_expression("a + b * c > 1") == Binary(
        ">", Binary("+", Var("a"), Binary("*", Var("b"), Var("c"))), Num(1.0))
    assert parse_expression("x ~= .") == Binary("!=", Var("x"), Missing("."))
    assert parse_expression("~(x < .a)") == Unary("!", Binary("<", Var("x"), Missing(".a")))


def test_literals_and_functions():
    assert parse_expression('name == "a b"') == Binary("==", Var("name"), Str("a b"))
    assert parse_expression(".5 + 1e-3") == Binary("+", Num(0.5), Num(0.001))
    tree = parse_expression("inlist(g, 1, 2) & inrange(x, 0, .) | missing(z, w)")
    assert expression_variables(tree) == ("g", "x", "z", "w")
    assert isinstance(tree.left.left, Call) and tree.left.left.name == "inlist"
    assert expression_variables(parse_expression("_n <= _N / 2 & y")) == ("y",)
    assert expression_builtins(parse_expression("y & _N > 2 * _n | _N")) == ("_N", "_n")
    assert expression_builtins(parse_expression('y > 0 & s == "_n"')) == ()


@pytest.mark.parametrize("text, fragment", [
    ("x.__class__", "attribute access"),
    ("x.real", "attribute access"),
    ("__import__('os')", "double underscores"),
    ("import os", "unexpected text"),
    ("lambda x: x", "unexpected"),
    ("eval(x)", "unknown function eval()"),
    ("open(x)", "unknown function open()"),
    ("x[0]", "unexpected '['"),
    ("x = 1", "use == to compare"),
    ("x >", "expected a number"),
    ("(x > 1", "expected ')'"),
    ('x == "a', "unterminated string"),
    ("inrange(x, 1)", "inrange() takes 3 arguments"),
    ("mod(x)", "mod() takes 2 arguments"),
    ("", "empty expression"),
    ("1x", "'1x'"),
    ("!" * 500 + "x", "nested deeper"),
])
def test_refusals_quote_the_text(text, fragment):
    with pytest.raises(SpecificationError) as err:
        parse_expression(text)
    assert fragment in str(err.value)


def test_if_in_and_weight_in_the_command_line():
    s = parse("mixed weight week if id <= 24 & week > 2 in 1/200 || id:")
    assert s.condition == Expression("id <= 24 & week > 2", "stata", ("id", "week"))
    assert s.obs_range == ObsRange(1, 200, "1/200")
    assert [f.var for t in s.fixed for f in t.factors] == ["week"]
    # either order, the weight anywhere among them, options after the comma
    s2 = parse("mixed weight week in 1/200 [pw=1/week] if id <= 24 & week > 2, "
               "noconstant || id:")
    assert s2.condition == s.condition and s2.obs_range == s.obs_range
    assert s2.options["weight"] == ("pweight", Expression("1/week", "stata", ("week",)))
    assert not s2.constant
    # '|' inside the if expression is Stata's "or", not an lme4 bar
    s3 = parse("melogit c_use urban if age < 0 | children == 3 || district:")
    assert s3.condition.variables == ("age", "children")
    assert s3.random[0].level == "district"


def test_ranges():
    assert parse("y x in 5 || id:").obs_range == ObsRange(5, 5, "5")
    assert parse("y x in -10/l || id:").obs_range == ObsRange(-10, "l", "-10/l")
    assert parse("y x in f/L || id:").obs_range == ObsRange("f", "l", "f/L")
    with pytest.raises(SpecificationError, match="comes after"):
        parse("y x in 10/2 || id:")
    with pytest.raises(SpecificationError, match="cannot read range 'in 1-5'"):
        parse("y x in 1-5 || id:")


def test_variable_names_starting_like_qualifiers_are_variables():
    s = parse("y index ifx || id:")
    assert [t.factors[0].var for t in s.fixed] == ["index", "ifx"]
    assert s.condition is None and s.obs_range is None


def test_weight_names_stay_names_and_keyword_takes_expressions():
    assert parse("y x [fw=n] || id:").options["weight"] == ("fweight", "n")
    assert parse("y x || id:", weight=("aw", "n/2")).options["weight"] == (
        "aweight", Expression("n/2", "stata", ("n",)))
    with pytest.raises(SpecificationError, match="unknown function f()"):
        parse("y x [pw=f(n)] || id:")
