"""Bad specifications raise SpecificationError with a message that quotes the offending text."""
import re

import numpy as np
import pytest

from statsmodels_me.spec import SpecificationError, parse


@pytest.mark.parametrize("text, kw, fragments", [
    # unknown option, listing what is allowed
    ("mixed y x || id:, fancy", {}, ["'fancy'", "allowed options", "covariance"]),
    ("melogit y x || id:, or bogus(3)", {}, ["'bogus'", "allowed options"]),
    # unbalanced / empty ||
    ("mixed y x || id: ||", {}, ["empty random-effects equation"]),
    ("mixed y x || || id:", {}, ["empty random-effects equation"]),
    ("mixed y x ||", {}, ["empty random-effects equation"]),
    ("mixed y x | id:", {}, ["single '|'"]),
    # missing colon
    ("mixed y x || id", {}, ["missing ':'", "'id'"]),
    ("mixed y x || id x, cov(un)", {}, ["missing ':'", "'id x'"]),
    ("mixed y x || : x", {}, ["missing level variable"]),
    # parentheses
    ("melogit y x || id:, intm(laplace", {}, ["unbalanced '('", "missing ')'"]),
    ("melogit y x || id:, intm laplace)", {}, ["unbalanced ')'"]),
    # empty depvar
    ("mixed", {}, ["missing dependent variable"]),
    ("mixed || id:", {}, ["missing dependent variable"]),
    ("meintreg lo || id:", {}, ["missing dependent variable", "2 dependent variables"]),
    ("mixed i.y x || id:", {}, ["invalid dependent variable", "'i.y'"]),
    # covariance
    ("mixed y x || id: x, cov(banana)", {}, ["unknown covariance structure", "'banana'",
                                             "unstructured"]),
    ("mixed y x || id: x, cov(i)", {}, ["unknown covariance structure", "'i'"]),
    ("mixed y x || id: x, cov(fixed)", {}, ["fixed() needs a matrix name"]),
    ("mixed y x || id: x, cov(un(3))", {}, ["takes no argument"]),
    # matrix
    ("meglm y || id: a b, nocons cov(fixed(f))", {}, ["matrix 'f'", "not defined",
                                                       "matrices="]),
    ("meglm y || id: a b, nocons cov(pattern(p))", {"matrices": {"f": np.eye(2)}},
     ["matrix 'p'"]),
    # keywords
    ("mixed y x || id:", {"fancy": 1}, ["unknown keyword 'fancy'", "allowed", "reml"]),
    ("mixed y x || id:", {"reml": "yes"}, ["reml='yes'", "True or False"]),
    ("melogit y x || id:", {"intpoints": "many"}, ["intpoints(many)", "integer"]),
    ("mixed y x || id:", {"covariance": {"school": "un"}}, ["level 'school'", "id"]),
    # option values and applicability
    ("melogit y x || id:, intmethod(simpson)", {}, ["integration method 'simpson'",
                                                    "mvaghermite"]),
    ("melogit y x || id:, intpoints(2.5)", {}, ["intpoints(2.5)", "integer"]),
    ("meglm y x || id:, family(weird)", {}, ["family 'weird'", "gaussian"]),
    ("meglm y x || id:, link(tan)", {}, ["link 'tan'", "logit"]),
    ("mixed y x || id:, intmethod(laplace)", {}, ["'intmethod'", "not allowed with mixed"]),
    ("melogit y x || id:, reml", {}, ["'reml'", "not allowed with melogit"]),
    ("melogit y x || id:, family(poisson)", {}, ["not allowed with melogit"]),
    ("mixed y x || id:, or", {}, ["not allowed with mixed"]),
    ("melogit y x || id:, nolog(3)", {}, ["does not take arguments"]),
    ("melogit y x || id:, intpoints", {}, ["requires an argument"]),
    ("mixed y x || id: x, or || g:", {}, ["'or' is not allowed in random-effects equation"]),
    ("mixed y x || id:, noconstant", {}, ["has no random effects"]),
    ("mixed y x, cov(un) || id:", {}, ["belongs to a random-effects equation"]),
    # constraints
    ("melogit y x || id:, constraints(1)", {}, ["constraints(1)", "not defined"]),
    ("melogit y x || id:, constraints(2)", {"constraints": {1: "x = 1"}},
     ["constraint 2", "not defined"]),
    ("melogit y x || id:, constraints(1)", {"constraints": ["x = 1"]}, ["mapping"]),
    ("melogit y x || id:", {"constraints": ["x"]}, ["'x'", "expression = expression"]),
    ("mixed y x || id:", {"constraints": ["x = 1"]}, ["not allowed with mixed"]),
    # factor variables
    ("mixed y L.x || id:", {}, ["time-series operator in 'L.x'", "time='t'"]),
    ("mixed y i2.x || id:", {}, ["level selection", "'i2.'"]),
    ("mixed y q.x || id:", {}, ["unknown factor-variable operator", "'q.'"]),
    ("mixed y R.x || id:", {}, ["R.varname"]),
    ("mixed y x || id: R.a z", {}, ["R.varname must be alone"]),
    ("mixed y a# || id:", {}, ["empty operand", "'a#'"]),
    ("mixed y x-1 || id:", {}, ["'x-1'"]),
    ("mixed y x if x = 1 || id:", {}, ["use == to compare", "'x = 1'"]),
    ("mixed y x if || id:", {}, ["'if' qualifier without an expression"]),
    ("mixed y x in 0/5 || id:", {}, ["observation numbers start at 1"]),
    ("mixed y x if x > 1 if x < 3 || id:", {}, ["more than one 'if'"]),
    ("mixed y x [pweight] || id:", {}, ["cannot read weight"]),
    # command
    ("mixed y x || id:", {"command": "melogit"}, ["starts with command 'mixed'",
                                                   "command='melogit'"]),
    ("y x || id:", {"command": "regress"}, ["unknown command 'regress'"]),
    ("menl y + x", {}, ["menl needs 'depvar = <menlexpr>'"]),
    ("menl y = ", {}, ["empty nonlinear expression"]),
])
def test_error_messages(text, kw, fragments):
    kw = dict(kw)
    command = kw.pop("command", None)
    with pytest.raises(SpecificationError) as err:
        parse(text, command=command, **kw)
    msg = str(err.value)
    for frag in fragments:
        assert frag in msg, (frag, msg)


@pytest.mark.parametrize("bad", [None, 3, b"y x || id:", ["y"]])
def test_non_string_text(bad):
    with pytest.raises(SpecificationError, match="must be a string"):
        parse(bad)


def test_is_a_value_error():
    with pytest.raises(ValueError):
        parse("mixed y x || id")


@pytest.mark.parametrize("text, kw, fragment", [
    ("melogit y x || id:, intpoints(0)", {}, "positive integer"),
    ("melogit y x || id:", {"intpoints": 0}, "positive integer"),
    ("melogit y x || id:", {"intpoints": 2.5}, "expected an integer"),
    ("mixed y ib(last).g || id:", {}, "'ib(last).g'"),
])
def test_more_value_errors(text, kw, fragment):
    with pytest.raises(SpecificationError, match=re.escape(fragment)):
        parse(text, **kw)
