"""Option abbreviations, values, keywords and command defaults.

Abbreviations and defaults follow Stata's [ME] manual conventions as summarized in the seed
(Stata's [ME] me entry) and the family/link table of [ME] meglm.
"""
import pytest

from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.options import (
    _COVARIANCES,
    _FAMILIES,
    _INTMETHODS,
    _LINKS,
    OPTIONS,
    lookup,
    normalize_constraint,
    parse_covariance,
    tokenize_options,
)


def test_every_abbreviation_is_unambiguous():
    for opt in OPTIONS.values():
        for n in range(opt.minlen, len(opt.name) + 1):
            assert lookup(opt.name[:n]) is opt
    for table in (_COVARIANCES, _FAMILIES, _INTMETHODS, _LINKS):
        for full, n in table.items():
            for k in range(n, len(full) + 1):
                hits = [f for f, m in table.items() if f.startswith(full[:k]) and k >= m]
                assert hits == [full]


@pytest.mark.parametrize("word, full", [
    ("cov", "covariance"), ("cova", "covariance"), ("covariance", "covariance"),
    ("nocons", "noconstant"), ("nocon", "noconstant"), ("intm", "intmethod"),
    ("intp", "intpoints"), ("nocnsr", "nocnsreport"), ("baselevel", "baselevels"),
    ("iter", "iterate"), ("tol", "tolerance"), ("ltol", "ltolerance"), ("res", "residuals"),
    ("const", "constraints"), ("emiter", "emiterate"), ("dfm", "dfmethod"),
])
def test_option_abbreviations(word, full):
    assert lookup(word).name == full


@pytest.mark.parametrize("word", ["co", "no", "nocns", "i", "in", "l", "e"])
def test_too_short_abbreviations_rejected(word):
    with pytest.raises(SpecificationError, match="unknown option"):
        lookup(word)


@pytest.mark.parametrize("text, expected", [
    ("ind", ("independent", None)), ("exc", ("exchangeable", None)),
    ("exch", ("exchangeable", None)), ("id", ("identity", None)),
    ("un", ("unstructured", None)), ("uns", ("unstructured", None)),
    ("pattern(p)", ("pattern", "p")), ("fixed(f)", ("fixed", "f")), ("fix( f )", ("fixed", "f")),
])
def test_covariance_names(text, expected):
    assert parse_covariance(text) == expected


def test_tokenize_options():
    assert tokenize_options("nocons cov(fixed(f)) intm(laplace) residuals(ar 1, t(time))") == [
        ("nocons", None), ("cov", "fixed(f)"), ("intm", "laplace"),
        ("residuals", "ar 1, t(time)")]


@pytest.mark.parametrize("value, expected", [
    ("mvagh", "mvaghermite"), ("MCAGH", "mcaghermite"), ("gh", "ghermite"),
    ("Laplace", "laplace"), ("pclaplace", "pclaplace"), ("mvaghermite", "mvaghermite"),
])
def test_intmethod_values(value, expected):
    s = parse(f"melogit y x || id:, intmethod({value}) intpoints(12)")
    assert s.options["intmethod"] == expected and s.options["intpoints"] == 12


@pytest.mark.parametrize("command, family, link", [
    ("melogit", "bernoulli", "logit"), ("meprobit", "bernoulli", "probit"),
    ("mecloglog", "bernoulli", "cloglog"), ("meologit", "ordinal", "logit"),
    ("meoprobit", "ordinal", "probit"), ("mepoisson", "poisson", "log"),
    ("menbreg", "nbinomial", "log"), ("meglm", "gaussian", "identity"),
])
def test_command_family_link(command, family, link):
    s = parse(f"{command} y x || id:")
    assert (s.options["family"], s.options["link"]) == (family, link)
    assert "intmethod" not in s.options and "intpoints" not in s.options


@pytest.mark.parametrize("fam, link", [
    ("gaussian", "identity"), ("bernoulli", "logit"), ("binomial", "logit"),
    ("poisson", "log"), ("nbinomial", "log"), ("gamma", "log"), ("ordinal", "logit"),
])
def test_meglm_canonical_links(fam, link):
    assert parse(f"meglm y x || id:, family({fam})").options["link"] == link


def test_meglm_family_arguments():
    s = parse("meglm y x || id:, family(binomial n) link(probit)")
    assert s.options == {"family": "binomial", "binomial": "n", "link": "probit"}
    s = parse("meglm y x || id:, fam(nb constant)")
    assert s.options == {"family": "nbinomial", "dispersion": "constant", "link": "log"}
    assert parse("meglm y x || id:, family(binomial 5)").options["binomial"] == 5
    assert parse("menbreg y x || id:, disp(constant)").options["dispersion"] == "constant"


def test_binomial_numeric_and_probit():
    s = parse("meprobit y x || id:, binomial(10)")
    assert s.options == {"binomial": 10, "family": "binomial", "link": "probit"}


def test_mixed_reml_mle():
    assert parse("mixed y x || id:").options == {"reml": False}
    assert parse("mixed y x || id:, reml").options == {"reml": True}
    assert parse("mixed y x || id:, mle").options == {"reml": False}
    assert parse("mixed y x || id:", reml=True).options == {"reml": True}
    assert parse("mixed y x || id:, reml", reml=False).options == {"reml": False}
    assert parse("mixed y x || id:, reml", mle=True).options == {"reml": False}


def test_value_types():
    s = parse("melogit y x || id:, iterate(50) tolerance(1e-8) level(90) vce(cluster id) "
              "offset(t) startvalues(iv) nolrtest notable nogroup noheader difficult")
    o = s.options
    assert o["iterate"] == 50 and o["tolerance"] == 1e-8 and o["level"] == 90.0
    assert o["vce"] == ("cluster", "id") and o["startvalues"] == "iv"
    assert all(o[k] is True for k in ("nolrtest", "notable", "nogroup", "noheader",
                                      "difficult"))


def test_keywords_override_and_extend():
    s = parse("melogit y x || id:, intm(laplace)", intmethod="MVAGH", intpoints=7, or_=True,
              nolog=True, iterate=20)
    assert s.options["intmethod"] == "mvaghermite" and s.options["intpoints"] == 7
    assert s.options["or"] is True and s.options["nolog"] is True
    assert s.options["iterate"] == 20
    s = parse("meglm y x || id:", family="binomial", binomial="n", eform=True)
    assert s.options["family"] == "binomial" and s.options["binomial"] == "n"
    assert s.options["eform"] is True
    s = parse("melogit y x || id:, or", or_=False)
    assert "or" not in s.options


def test_keyword_noconstant_and_weight():
    s = parse("mixed y x || id:", noconstant=True, weight=("fw", "n"))
    assert s.constant is False and s.options["weight"] == ("fweight", "n")


def test_constraints_list_and_forms():
    s = parse("melogit y x || id: z", constraints=["_b[/var(z[id])] = 1",
                                                  "_b[var(_cons[id]):_cons]=_b[var(z[id]):_cons]"])
    assert s.options["constraints"] == ("/var(z[id]) = 1", "/var(_cons[id]) = /var(z[id])")
    s = parse("melogit y x || id: z, constraints(1/2)",
              constraints={1: "/var(z[id]) = 1", "2": "x = 0.5"})
    assert s.options["constraints"] == ("/var(z[id]) = 1", "x = 0.5")
    s = parse("melogit y x || id:", constraints="_b[x]=1")
    assert s.options["constraints"] == ("x = 1",)


def test_normalize_constraint():
    assert normalize_constraint("_b[/var(std[trial])] = 1") == "/var(std[trial]) = 1"
    assert normalize_constraint("_b[var(_cons[levelvar]):_cons]=16") == \
        "/var(_cons[levelvar]) = 16"
    assert normalize_constraint("_b[cov(x[id],_cons[id]):_cons] = 0") == \
        "/cov(x[id],_cons[id]) = 0"


def test_level_weights_and_collinear():
    s = parse("mixed y x [fweight=n] || school:, fweight(ns) || class:, pweight(wc) collinear")
    assert s.options["weight"] == ("fweight", "n")
    assert s.options["level_weights"] == {"school": ("fweight", "ns"),
                                          "class": ("pweight", "wc")}
    assert s.options["collinear"] is True


def test_global_options_split_from_last_equation():
    s = parse("melogit y x || id: z, nocons cov(un) || g: z, nocons cov(ind) or intp(3)")
    assert [(e.constant, e.covariance) for e in s.random] == [(False, "unstructured"),
                                                              (False, "independent")]
    assert s.options["or"] and s.options["intpoints"] == 3


def test_fixed_part_options():
    s = parse("mepoisson y x, offset(lt) noconstant || id:, irr")
    assert s.constant is False
    assert s.options == {"offset": "lt", "irr": True, "family": "poisson", "link": "log"}
    s = parse("mixed y x, reml")
    assert s.random == () and s.options == {"reml": True}
