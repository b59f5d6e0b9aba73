"""Stata command syntax -> ModelSpec, for every syntax example in the seed document.

Reference: Stata's [ME] me entry (Quick start, "Using mixed-effects commands" items 1-16,
the worked examples) and statsmodels_me/datasets/seed_examples.json (the 11 seed commands).
"""
import numpy as np
import pytest

from statsmodels_me import datasets
from statsmodels_me.spec import Factor, REEquation, Term, parse


def c(v):
    return Term((Factor(v, "c"),))


def i(v, base=None):
    return Term((Factor(v, "i", base),))


def ibn(v):
    return Term((Factor(v, "ibn"),))


def inter(*factors):
    return Term(tuple(factors))


def re(level, path=None, terms=(), constant=True, covariance="independent", cov_matrix=None,
       factor=None):
    return REEquation(level, path or (level,), tuple(terms), constant, covariance, cov_matrix,
                      factor)


# ---------------------------------------------------------------- Quick start (spec 60-170)
def test_random_intercept():
    s = parse("mixed y x || id:")
    assert s.command == "mixed" and s.response == ("y",) and s.constant
    assert s.fixed == (c("x"),)
    assert s.random == (re("id"),)
    assert s.options == {"reml": False}
    assert s.syntax == "stata" and s.source == "mixed y x || id:"


def test_three_level():
    s = parse("mixed y x || doctor: || patient:")
    assert s.random == (re("doctor"), re("patient", ("doctor", "patient")))


def test_random_slope_independent_default():
    s = parse("mixed y x || id: x")
    assert s.random == (re("id", terms=[c("x")]),)


def test_random_slope_unstructured():
    s = parse("mixed y x || id: x, covariance(unstructured)")
    assert s.random == (re("id", terms=[c("x")], covariance="unstructured"),)


def test_crossed_all_R():
    s = parse("mixed y x || _all: R.id || _all: R.week")
    assert s.random == (
        re("_all", constant=False, covariance="identity", factor="id"),
        re("_all", constant=False, covariance="identity", factor="week"),
    )


def test_crossed_efficient():
    s = parse("mixed y x || _all: R.id || week:")
    assert s.random == (re("_all", constant=False, covariance="identity", factor="id"),
                        re("week"))


def test_full_factorial_anova():
    s = parse("mixed y a##b || field:")
    a, b = Factor("a", "i"), Factor("b", "i")
    assert s.fixed == (Term((a,)), Term((b,)), Term((a, b)))
    assert s.random == (re("field",),)


def test_melogit_or():
    s = parse("melogit y x || id: , or")
    assert s.options == {"or": True, "family": "bernoulli", "link": "logit"}
    assert s.random == (re("id"),)


def test_meglm_same_model():
    s = parse("meglm y x || id: , family(bernoulli) link(logit)")
    assert s.options == {"family": "bernoulli", "link": "logit"}
    assert s.random == parse("melogit y x || id: , or").random


def test_meoprobit_three_level():
    s = parse("meoprobit y x || doctor: || patient:")
    assert s.options == {"family": "ordinal", "link": "probit"}
    assert [e.path for e in s.random] == [("doctor",), ("doctor", "patient")]


@pytest.mark.parametrize("text, expr, opts", [
    ("menl y = ({b0}+{b1}*x1+{U0[id]})/(1+exp(-(x2-{b2})/{b3}))",
     "({b0}+{b1}*x1+{U0[id]})/(1+exp(-(x2-{b2})/{b3}))", None),
    ("menl y = ({lc: x1 U0[id]})/(1+exp(-(x2-{b2})/{b3}))",
     "({lc: x1 U0[id]})/(1+exp(-(x2-{b2})/{b3}))", None),
    ("menl y = {lc:}/(1+exp(-(x2-{b2})/{b3})), define(lc: x1 U0[id])",
     "{lc:}/(1+exp(-(x2-{b2})/{b3}))", (("define", "lc: x1 U0[id]"),)),
    ("menl y = {lc:}/(1+exp(-(x2-{b2})/{b3})), ///\ndefine(lc: x1 U0[id] c.x1#U1[id]) "
     "covariance(U0 U1, unstructured)",
     "{lc:}/(1+exp(-(x2-{b2})/{b3}))",
     (("define", "lc: x1 U0[id] c.x1#U1[id]"), ("covariance", "U0 U1, unstructured"))),
    ("menl y = {lc:}/(1+exp(-(x2-{b2})/{b3})), ///\ndefine(lc: x1 U0[id] c.x1#U1[id]) ///\n"
     "covariance(U0 U1, unstructured) resvariance(power _yhat)",
     "{lc:}/(1+exp(-(x2-{b2})/{b3}))",
     (("define", "lc: x1 U0[id] c.x1#U1[id]"), ("covariance", "U0 U1, unstructured"),
      ("resvariance", "power _yhat"))),
    ("menl y = {phi1:}+{b1}*cos({b2}*x1), ///\ndefine(phi1: x1 W0[lev3] S0[lev3>lev2] ///\n"
     "c.x1#(W1[lev3] S1[lev3>lev2])) ///\ncovariance(W0 W1, unstructured) "
     "covariance(S0 S1, exchangeable)",
     "{phi1:}+{b1}*cos({b2}*x1)",
     (("define", "phi1: x1 W0[lev3] S0[lev3>lev2] c.x1#(W1[lev3] S1[lev3>lev2])"),
      ("covariance", "W0 W1, unstructured"), ("covariance", "S0 S1, exchangeable"))),
])
def test_menl_quick_start(text, expr, opts):
    s = parse(text)
    assert s.command == "menl" and s.response == ("y",)
    assert s.options["expression"] == expr
    assert s.options.get("menl_options") == opts


# ------------------------------------------- "Using mixed-effects commands" items 1-16
def test_item1_two_level_intercept():
    s = parse("melogit dep a b || lev:, intpoints(9)")
    assert s.random == (re("lev"),) and s.options["intpoints"] == 9


def test_item2_random_coefficients():
    s = parse("meprobit dep a || lev: r1 r2")
    assert s.random == (re("lev", terms=[c("r1"), c("r2")]),)
    assert s.options["link"] == "probit"


def test_item3_unstructured():
    s = parse("mepoisson dep a || lev: r1 r2, covariance(unstructured) irr")
    assert s.random[0].covariance == "unstructured"
    assert s.options == {"irr": True, "family": "poisson", "link": "log"}


def test_item4_three_level():
    s = parse("mecloglog dep a || l1: || l2:, intmethod(laplace)")
    assert s.random == (re("l1"), re("l2", ("l1", "l2")))
    assert s.options["intmethod"] == "laplace" and s.options["link"] == "cloglog"


def test_item5_R_exchangeable():
    s = parse("mixed dep a || l1: R.l2, cov(exchangeable)")
    assert s.random == (re("l1", constant=False, covariance="exchangeable", factor="l2"),)


def test_item6_higher_levels():
    s = parse("menbreg dep a || l1: || l2: || l3: || l4:")
    assert [e.path for e in s.random] == [("l1",), ("l1", "l2"), ("l1", "l2", "l3"),
                                          ("l1", "l2", "l3", "l4")]
    assert s.options == {"family": "nbinomial", "link": "log", "dispersion": "mean"}


def test_item7_two_way_crossed():
    s = parse("meologit dep a || _all: R.f1 || _all: R.f2")
    assert [(e.path, e.factor, e.covariance) for e in s.random] == [
        (("_all",), "f1", "identity"), (("_all",), "f2", "identity")]
    assert "intmethod" not in s.options and "intpoints" not in s.options


def test_item8_crossed_first_all_only():
    s = parse("mixed dep a || _all: R.f1 || f2:, reml")
    assert [e.path for e in s.random] == [("_all",), ("f2",)]
    assert s.options == {"reml": True}


def test_item9_full_factorial_random():
    s = parse("mixed dep a || _all: R.f1 || f2: || f1:")
    assert [e.path for e in s.random] == [("_all",), ("f2",), ("f2", "f1")]


def test_item10_blocked_diagonal():
    s = parse("mixed dep a || lev: r1 r2, noconstant ///\n|| lev: r3 r4, noconstant")
    assert s.random == (re("lev", terms=[c("r1"), c("r2")], constant=False),
                        re("lev", terms=[c("r3"), c("r4")], constant=False))


def test_item11_ar1_residuals():
    s = parse("mixed dep a || lev:, residuals(ar 1, t(time))")
    assert s.options == {"reml": False, "residuals": "ar 1, t(time)"}
    assert s.random == (re("lev"),)


def test_item12_weights():
    s = parse("mixed dep a [pweight=w1] || lev:, pweight(w2)")
    assert s.options["weight"] == ("pweight", "w1")
    assert s.options["level_weights"] == {"lev": ("pweight", "w2")}
    assert s.random == (re("lev"),)
    assert parse("mixed dep a [pw = w1] || lev:").options["weight"] == ("pweight", "w1")


def test_item13_constraint_on_intercept_variance():
    s = parse("melogit dep a || lev:, constraints(1)",
              constraints={1: "_b[var(_cons[lev]):_cons]=16"})
    assert s.options["constraints"] == ("/var(_cons[lev]) = 16",)


def test_item14_equal_variances():
    s = parse("melogit dep a || lev: r, constraints(1)",
              constraints={1: "_b[var(r[lev]):_cons] = _b[var(_cons[lev]):_cons]"})
    assert s.options["constraints"] == ("/var(r[lev]) = /var(_cons[lev])",)
    s2 = parse("melogit dep a || lev: r, cov(identity)")
    assert s2.random == (re("lev", terms=[c("r")], covariance="identity"),)


def test_item15_pattern():
    p = np.array([[1, 0, 0, 0], [2, 1, 0, 0], [3, 2, 1, 0], [4, 3, 2, 1]])
    s = parse("meglm dep a || lev: r1 r2 r3 r4, noconstant ///\ncovariance(pattern(p))",
              matrices={"p": p})
    assert s.random[0].covariance == "pattern" and s.random[0].cov_matrix == "p"
    assert s.random[0].constant is False
    assert s.matrices["p"] is p


def test_item16_fixed():
    f = np.diag([1.0, 2, 3, 4])
    s = parse("meglm dep a || lev: r1 r2 r3 r4, noconstant covariance(fixed(f))",
              matrices={"f": f})
    assert (s.random[0].covariance, s.random[0].cov_matrix) == ("fixed", "f")


# ------------------------------------------------------ the worked examples / seed file
def test_interaction_of_continuous_vars():
    s = parse("mixed y x z c.x#c.z || id: x, covariance(unstructured)")
    assert s.fixed == (c("x"), c("z"), inter(Factor("x"), Factor("z")))


def test_clippings_split_plot():
    s = parse("mixed chlorophyll ibn.nitrogen##ibn.thatch ibn.block, noomitted noconstant ||"
              " wpunit:, reml")
    n, t = Factor("nitrogen", "ibn"), Factor("thatch", "ibn")
    assert s.fixed == (Term((n,)), Term((t,)), Term((n, t)), ibn("block"))
    assert s.constant is False
    assert s.options == {"reml": True, "noomitted": True}
    assert s.random == (re("wpunit"),)


def test_bangladesh_blocked_exchangeable():
    s = parse("melogit c_use i.urban age i.children\n|| district: i.children, cov(exchangeable)"
              "\n|| district:, or nolog baselevel nofvlabel")
    assert s.fixed == (i("urban"), c("age"), i("children"))
    assert s.random == (re("district", terms=[i("children")], covariance="exchangeable"),
                        re("district"))
    assert s.options == {"or": True, "nolog": True, "baselevels": True, "nofvlabel": True,
                         "family": "bernoulli", "link": "logit"}


def test_diuretics_fixed_covariance():
    f = np.diag(np.arange(1.0, 10.0))
    s = parse("meglm lnor || _all: ibn.trial, nocons cov(fixed(f)) intm(laplace) nocnsreport",
              matrices={"f": f})
    assert s.fixed == () and s.constant
    assert s.random == (re("_all", terms=[ibn("trial")], constant=False, covariance="fixed",
                           cov_matrix="f"),)
    assert s.options == {"intmethod": "laplace", "nocnsreport": True, "family": "gaussian",
                         "link": "identity"}


def test_diuretics_constraint_alternative():
    s = parse("meglm lnor || trial: std, nocons constraints(1)",
              constraints={1: "_b[/var(std[trial])] = 1"})
    assert s.random == (re("trial", terms=[c("std")], constant=False),)
    assert s.options["constraints"] == ("/var(std[trial]) = 1",)


def test_admissions_binomial():
    s = parse("melogit nadmitted female || department:, binomial(napplied) or")
    assert s.options == {"binomial": "napplied", "or": True, "family": "binomial",
                         "link": "logit"}
    assert s.variables() == ["nadmitted", "female", "department", "napplied"]


def test_tvsfpors_oprobit():
    s = parse("meoprobit thk prethk cc##tv || school: || class:")
    cc, tv = Factor("cc", "i"), Factor("tv", "i")
    assert s.fixed == (c("prethk"), Term((cc,)), Term((tv,)), Term((cc, tv)))
    assert [e.path for e in s.random] == [("school",), ("school", "class")]


def test_pig_crossed_equivalent_forms():
    a = parse("mixed weight week || _all: R.id || _all: R.week")
    b = parse("mixed weight week || _all: R.week || id:")
    assert [e.factor for e in a.random] == ["id", "week"]
    assert b.random == (re("_all", constant=False, covariance="identity", factor="week"),
                        re("id"))


def _seed_commands():
    examples = list(datasets.seed_examples().values())
    out = [(e["id"], e["command"]) for e in examples]
    for e in examples:
        for k, alt in enumerate(e.get("alternatives", [])):
            out.append((f"{e['id']}_alt{k}", alt["command"]))
        eq = e.get("equivalent")
        for k, text in enumerate([eq] if isinstance(eq, str) else eq or []):
            out.append((f"{e['id']}_eq{k}", text))
    return out


@pytest.mark.parametrize("name, command", _seed_commands())
def test_seed_examples_parse(name, command):
    s = parse(command, matrices={"f": np.eye(9)}, constraints={1: "_b[/var(std[trial])] = 1"})
    assert s.command == command.split()[0]
    assert s.source == command
    if s.command != "menl":
        assert s.random, name
        for eq in s.random:
            assert eq.path[-1] == eq.level


def test_command_argument_and_text_without_command():
    a = parse("c_use i.urban age || district:", command="melogit")
    b = parse("melogit c_use i.urban age || district:")
    assert a == b
    assert parse("y x || id:").command == "mixed"


def test_factor_variable_notation():
    s = parse("mixed y i.a ibn.b b2.c ib3.d c.e i.(f g) a#b c.x#i.g x#c.z b2.a#c.x || id:")
    assert s.fixed == (
        i("a"), ibn("b"), i("c", 2), i("d", 3), c("e"), i("f"), i("g"),
        inter(Factor("a", "i"), Factor("b", "i")),
        inter(Factor("x", "c"), Factor("g", "i")),
        inter(Factor("x", "i"), Factor("z", "c")),
        inter(Factor("a", "i", 2), Factor("x", "c")),
    )


def test_three_way_factorial_order():
    s = parse("mixed y a##b##c || id:")
    names = ["#".join(f.var for f in t.factors) for t in s.fixed]
    assert names == ["a", "b", "c", "a#b", "a#c", "b#c", "a#b#c"]
    assert all(f.kind == "i" for t in s.fixed for f in t.factors)


def test_continuous_full_factorial_keeps_c():
    s = parse("mixed y c.x##c.x || id:")
    assert s.fixed == (c("x"), c("x"), inter(Factor("x"), Factor("x")))


def test_random_part_factor_notation():
    s = parse("mixed y x || id: i.g c.x#c.z, nocons")
    assert s.random[0].terms == (i("g"), inter(Factor("x"), Factor("z")))


def test_repeated_level_shares_path():
    s = parse("mixed y x || a: || b: z, nocons || b: || c:")
    assert [e.path for e in s.random] == [("a",), ("a", "b"), ("a", "b"), ("a", "b", "c")]


def test_meintreg_and_mestreg_responses():
    assert parse("meintreg lo hi x || id:").response == ("lo", "hi")
    s = parse("mestreg x || id:, distribution(weibull)")
    assert s.response == () and s.fixed == (c("x"),)
    assert s.options == {"distribution": "weibull"}


def test_stata_log_continuation_prompts():
    # the form printed in the seed's example 5 (spec lines 1161-1163)
    s = parse("melogit c_use i.urban age i.children\n> || district: i.children, cov(exchangeable)"
              "\n> || district:, or nolog baselevel nofvlabel")
    assert len(s.random) == 2 and s.options["or"]
