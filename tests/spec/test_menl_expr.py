"""The menl expression AST (statsmodels_me.spec.menl_expr): precedence as Stata's, and the
forward-mode derivatives against central differences of the values."""
import numpy as np
import pytest

from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.menl_expr import FUNCTIONS, Param, RandomEffect, parse_expression


class Env:
    """Two parameters a, b; one random effect U of two groups; one variable x."""

    def __init__(self, beta, u, derivatives=True):
        self.beta = np.asarray(beta, float)
        self.u = np.asarray(u, float)
        self.derivatives = derivatives
        self.x = np.array([0.3, 0.7, 1.1, 1.9])
        self.codes = np.array([0, 0, 1, 1])

    def column(self, name):
        assert name == "x"
        return self.x

    def param_index(self, name):
        return {"a": 0, "b": 1}[name]

    def re_index(self, name):
        return 0

    def re_values(self, a):
        return self.u[self.codes]


def brace(content):
    return RandomEffect("U", ("g",)) if "[" in content else Param(content)


@pytest.mark.parametrize("text, value", [("-2^2", -4.0), ("2^3^2", 64.0), ("2*3+4", 10.0),
                                         ("2+3*4", 14.0), ("8/4/2", 1.0), ("2^-1", 0.5),
                                         ("-(1-3)", 2.0), ("1.5e1+.5", 15.5)])
def test_precedence_as_stata(text, value):
    assert parse_expression(text, brace).evaluate(Env([0, 0], [0, 0])).v == value


EXPRESSIONS = ["({a}+{U[g]})/(1+exp(-(x-{b})/0.7))", "{a}*x^{b}+sqrt(x+{U[g]}^2)",
               "ln({a}*x)+cos({b}*x)*sin({U[g]})", "invlogit({a}+{b}*x+{U[g]})",
               "abs({a}-x)/log10(2+{b}^2)+tan({U[g]}/3)-atan({b})+logit(0.2+0*{a})"]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_derivatives_match_central_differences(text):
    node = parse_expression(text, brace)
    beta, u = np.array([1.3, 0.8]), np.array([0.2, -0.4])
    out = node.evaluate(Env(beta, u))
    h = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        num = (node.evaluate(Env(beta + e, u)).v - node.evaluate(Env(beta - e, u)).v) / (2 * h)
        got = np.broadcast_to(out.d.get(("b", j), 0.0), num.shape)
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)
    num = (node.evaluate(Env(beta, u + h)).v - node.evaluate(Env(beta, u - h)).v) / (2 * h)
    got = np.broadcast_to(out.d.get(("u", 0), 0.0), num.shape)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)


def test_values_only_mode_has_no_derivatives():
    node = parse_expression(EXPRESSIONS[0], brace)
    a = node.evaluate(Env([1.3, 0.8], [0.2, -0.4]))
    b = node.evaluate(Env([1.3, 0.8], [0.2, -0.4], derivatives=False))
    np.testing.assert_array_equal(a.v, b.v)
    assert b.d == {}


def test_every_function_is_known_to_the_parser():
    for name in FUNCTIONS:
        parse_expression(f"{name}({{a}})", brace)


@pytest.mark.parametrize("text", ["exp({a}, {b})", "({a}", "{a})", "{a} {b}", "", "x +"])
def test_malformed_expressions(text):
    with pytest.raises(SpecificationError):
        parse_expression(text, brace)
