"""Stata's ``menl`` syntax (statsmodels_me.spec.menl): every Quick-start form of the
specification, the define()/linear-combination rules of [ME] menl, and the errors."""
import pytest

from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.menl import parse_menl


def re_names(spec):
    return [(name, path) for name, path in spec.random_effects]


def test_scalar_parameters_and_random_intercept():
    s = parse_menl("menl y = ({b0}+{b1}*x1+{U0[id]})/(1+exp(-(x2-{b2})/{b3}))")
    assert s.depvar == "y"
    assert s.params == ["b0", "b1", "b2", "b3"]
    assert re_names(s) == [("U0", ("id",))]
    assert s.variables == ["x1", "x2"]
    assert not s.reml and s.covariances == []


def test_linear_combination_in_braces_names_coefficients_by_equation():
    s = parse_menl("menl y = ({lc: x1 U0[id]})/(1+exp(-(x2-{b2})/{b3}))")
    # coefficients of the linear combination first (constant last), then scalar parameters
    assert s.params == ["lc:x1", "lc:_cons", "b2", "b3"]
    assert s.legends == ["lc: x1 U0[id]"]


def test_define_linear_combination_with_random_slope_and_covariance():
    s = parse_menl("menl y = {lc:}/(1+exp(-(x2-{b2})/{b3})), ///\n"
                   "define(lc: x1 U0[id] c.x1#U1[id]) covariance(U0 U1, unstructured)")
    assert s.params == ["lc:x1", "lc:_cons", "b2", "b3"]
    assert re_names(s) == [("U0", ("id",)), ("U1", ("id",))]
    assert s.covariances == [(("U0", "U1"), "unstructured")]
    assert "x1*{U1[id]}" in str(s.expr)


def test_define_expression_and_xb_forms_are_the_same_model():
    a = parse_menl("circumf = {phi1:}/(1+exp(-(age-{b2})/{b3})), define(phi1: {b1}+{U1[tree]})")
    b = parse_menl("circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))")
    c = parse_menl("circumf = {phi1:}/(1+exp(-(age-{b2})/{b3})), define(phi1: U1[tree], xb)")
    assert str(a.expr) == str(b.expr)
    assert a.params == b.params == ["b1", "b2", "b3"]
    assert c.params == ["phi1:_cons", "b2", "b3"]
    assert c.legends == ["phi1: U1[tree], xb"]


def test_single_term_without_xb_is_a_scalar_parameter():
    s = parse_menl("y = {phi1: x1}*exp({U1[id]})")
    assert s.params == ["phi1:x1"]
    assert s.variables == []            # a parameter named phi1:x1, not the variable x1


def test_noconstant():
    s = parse_menl("y = {lc: x1 U0[id], noconstant}*x2")
    assert s.params == ["lc:x1"]


def test_three_level_quick_start_parses():
    s = parse_menl("menl y = {phi1:}+{b1}*cos({b2}*x1), ///\n"
                   "define(phi1: x1 W0[lev3] S0[lev3>lev2] ///\n"
                   "c.x1#(W1[lev3] S1[lev3>lev2])) ///\n"
                   "covariance(W0 W1, unstructured) covariance(S0 S1, exchangeable)")
    assert re_names(s) == [("W0", ("lev3",)), ("S0", ("lev3", "lev2")), ("W1", ("lev3",)),
                           ("S1", ("lev3", "lev2"))]
    assert s.covariances == [(("W0", "W1"), "unstructured"), (("S0", "S1"), "exchangeable")]


def test_initial_values_from_braces_option_and_keyword():
    s = parse_menl("y = {b1=18}/(1+exp(-(t-{b2})/{b3}))*exp({U[id]}), initial(b2 4.5 {b3} 1.2)")
    assert s.initial == {"b1": 18.0, "b2": 4.5, "b3": 1.2}
    s = parse_menl("y = {b1}*exp({U[id]})", initial={"/b1": 3})
    assert s.initial == {"b1": 3.0}


def test_reml_mle_and_settings():
    assert parse_menl("y = {b}*exp({U[id]}), reml").reml
    assert not parse_menl("y = {b}*exp({U[id]}), reml mle").reml
    s = parse_menl("y = {b}*exp({U[id]}), iter(7) tol(1e-8) ltol(1e-9)")
    assert (s.iterate, s.tolerance, s.ltolerance) == (7, 1e-8, 1e-9)
    assert parse_menl("y = {b}*exp({U[id]})", reml=True).reml


def test_covariance_kind_abbreviations():
    s = parse_menl("y = {b}*exp({U[id]}+{V[id]}*x), cov(U V, exch)")
    assert s.covariances == [(("U", "V"), "exchangeable")]


@pytest.mark.parametrize("text, match", [
    ("y = {b1}*exp({U[id]}", "missing"),
    ("y = {b1*exp({U[id]})", "unbalanced braces"),
    ("y = b1}*exp({U[id]})", "unbalanced braces"),
    ("y = {b1}*exp({U[id]})+{U[school]}", "two grouping specifications"),
    ("y = {phi:}*x", "no define"),
    ("y = {b}*exp({U[id]}), define(phi: {a}+{V[id]})", "not used"),
    ("y = {b}*exp({U[id]}), covariance(U W, un)", "'W'"),
    ("y = {b}*exp({U[id]}), covariance(U, wrong)", "covariance"),
    ("y = {b}*exp({U[id]}), initial(c 1)", "unknown parameter 'c'"),
    ("y = {b}*exp({U[id]}), initial(b x)", "not a number"),
    ("y = {b}*foo({U[id]})", "unknown function 'foo'"),
    ("y = {b}*exp({U[id]}) $", "cannot read"),
    ("y = {b}*exp({U[id]}), bogus", "unknown option 'bogus'"),
    ("y {b}*exp({U[id]})", "depvar = expression"),
    ("y = {phi:}, define(phi: {a}*{phi:})", "refers to itself"),
    ("y = {lc: x1 U[id], xbb}", "unknown linear-combination option"),
    ("y = 3", "no parameters"),
])
def test_errors_name_the_text(text, match):
    with pytest.raises(SpecificationError, match=match):
        parse_menl(text)


def test_resvariance_power_noconstant():
    s = parse_menl("y = {b}*exp({U[id]}), resvariance(power _yhat, noconstant)")
    assert s.resvariance == ("power", "_yhat")
    s = parse_menl("y = {b}*exp({U[id]}), resvar(power x, nocons)")
    assert s.resvariance == ("power", "x") and s.variables == ["x"]


@pytest.mark.parametrize("option, match", [
    ("resvariance(power _yhat)", "with its constant"),
    ("resvariance(linear x)", "resvariance"),
    ("resvariance(exponential _yhat)", "resvariance"),
    ("resvariance(power x, strata(g) noconstant)", "resvariance"),
])
def test_other_variance_functions_refused(option, match):
    with pytest.raises(NotImplementedError, match=match):
        parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")


@pytest.mark.parametrize("option", ["rescorrelation(ar 1)",
                                    "rescovariance(unstructured)", "tsorder(t)",
                                    "stddeviations"])
def test_unimplemented_options_are_refused_by_name(option):
    name = option.split("(")[0]
    with pytest.raises(NotImplementedError, match=name):
        parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")


def test_factor_variables_refused():
    with pytest.raises(NotImplementedError, match="factor variables"):
        parse_menl("y = {lc: i.x U[id]}")
