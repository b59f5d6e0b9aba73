"""Stata's ``menl`` syntax (statsmodels_me.spec.menl): every Quick-start form of the
specification, the define()/linear-combination rules of [ME] menl, and the errors."""
import pytest

from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.menl import parse_menl
from statsmodels_me.spec.menl_residual_spec import ResCorrelation, ResVariance


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


@pytest.mark.parametrize("option, variance, correlation, variables", [
    ("resvariance(power _yhat, noconstant)", ResVariance("power", "_yhat"), None, []),
    ("resvar(power x, nocons)", ResVariance("power", "x"), None, ["x"]),
    ("resvariance(power _yhat)", ResVariance("power", "_yhat", True), None, []),
    ("resvariance(pow x)", ResVariance("power", "x", True), None, ["x"]),
    ("resvariance(linear x)", ResVariance("linear", "x"), None, ["x"]),
    ("resvariance(exp _yhat)", ResVariance("exponential", "_yhat"), None, []),
    ("resvariance(distinct, index(k))", ResVariance("distinct", "k"), None, ["k"]),
    ("resvariance(identity)", None, None, []),
    ("rescorrelation(ar 2, t(t))", None, ResCorrelation("ar", 2, "t"), ["t"]),
    ("rescorr(ar, t(t))", None, ResCorrelation("ar", 1, "t"), ["t"]),
    ("rescorrelation(ma, t(t) group(g))", None, ResCorrelation("ma", 1, "t", "g"),
     ["t", "g"]),
    ("rescorrelation(exchangeable)", None, ResCorrelation("exchangeable"), []),
    ("rescorrelation(unstructured, index(t))", None, ResCorrelation("unstructured", None, "t"),
     ["t"]),
    ("rescorrelation(ctar1, t(t))", None, ResCorrelation("ctar1", None, "t"), ["t"]),
    ("rescorrelation(toeplitz 2, t(t) group(g))", None,
     ResCorrelation("toeplitz", 2, "t", "g"), ["t", "g"]),
    ("rescorrelation(toep 1, t(t))", None, ResCorrelation("toeplitz", 1, "t"), ["t"]),
    ("rescorrelation(banded 1, index(t))", None, ResCorrelation("banded", 1, "t"), ["t"]),
    ("rescorrelation(band, index(t))", None, ResCorrelation("banded", None, "t"), ["t"]),
    ("rescovariance(exchangeable)", None, ResCorrelation("exchangeable"), []),
    ("rescovariance(distinct, index(t))", ResVariance("distinct", "t"), None, ["t"]),
    ("rescovariance(unstructured, index(t))", None,
     ResCorrelation("unstructured", None, "t", free_variances=True), ["t"]),
])
def test_residual_structures(option, variance, correlation, variables):
    s = parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")
    assert s.resvariance == variance
    assert s.rescorrelation == correlation
    assert s.variables == variables


@pytest.mark.parametrize("option, match", [
    ("resvariance(power x, strata(g) noconstant)", "strata"),
    ("rescorrelation(ar 1, t(t) by(g))", "by"),
    ("rescorrelation(toeplitz 2, t(t) strata(g))", "strata"),
])
def test_unimplemented_residual_suboptions_are_refused_by_name(option, match):
    with pytest.raises(NotImplementedError, match=match):
        parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")


@pytest.mark.parametrize("option, match", [
    ("resvariance(cubic x)", "unknown structure 'cubic'"),
    ("resvariance(power)", "resvariance"),
    ("resvariance(linear _yhat)", "bad variable '_yhat'"),
    ("resvariance(exponential x, noconstant)", "noconstant is allowed with the power"),
    ("resvariance(distinct)", "index"),
    ("rescorrelation(ar 0, t(t))", "at least 1"),
    ("rescorrelation(ar x, t(t))", "must be an integer"),
    ("rescorrelation(ar 1)", "needs t"),
    ("rescorrelation(unstructured)", "needs index"),
    ("rescorrelation(toeplitz, t(t))", "toeplitz needs its order"),
    ("rescorrelation(ctar1 2, t(t))", "ctar1 takes no order"),
    ("rescorrelation(ctar1)", "needs t"),
    ("rescorrelation(banded 1, t(t))", "unknown suboption 't'"),
    ("rescorrelation(toeplitz 0, t(t))", "at least 1"),
    ("rescorrelation(exchangeable, t(t))", "unknown suboption 't'"),
    ("rescovariance(unstructured, index(t)) rescorrelation(ar 1, t(t))", "cannot be combined"),
])
def test_bad_residual_structures(option, match):
    with pytest.raises(SpecificationError, match=match):
        parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")


@pytest.mark.parametrize("option", ["tsorder(t)", "stddeviations"])
def test_unimplemented_options_are_refused_by_name(option):
    name = option.split("(")[0]
    with pytest.raises(NotImplementedError, match=name):
        parse_menl(f"y = {{b}}*exp({{U[id]}}), {option}")


def test_factor_variables_refused():
    with pytest.raises(NotImplementedError, match="factor variables"):
        parse_menl("y = {lc: i.x U[id]}")
