"""``menl`` against R's nlme 3.1 (``nlme::nlme`` and, for models linear in everything,
``nlme::lme``) on the bundled orange, pig and tvsfpors data: random effects independent and
correlated, one level and two nested levels, ML and (linear models) REML.

Reference numbers were computed once with R 4.2.2 and nlme; R is not a dependency of the
package or of its tests. The R calls are quoted above each block; every nlme call used
``control = nlmeControl(msTol=1e-12, tolerance=1e-10, pnlsTol=1e-10, msMaxIter=500,
maxIter=500, returnObject=TRUE)`` and each lme call ``lmeControl(msTol=1e-12,
tolerance=1e-12)``, on ``d <- read.csv("orange.csv"); d$tree <- factor(d$tree)`` and
``p <- read.csv("pig.csv"); p$id <- factor(p$id)``. Standard errors are those of
``summary(fit)$tTable`` (for ML nlme scales them by sqrt(N / (N - p)), as Stata's menl does).

Tolerances (issue 13): log likelihood 1e-6 relative, estimates 1e-5, standard errors 1e-3.

Not compared: nlme's REML fits of nonlinear models. nlme's final REML variance components are
not the REML optimum of its own final linearized model (``lme(w ~ 0 + X, random = pdDiag(~ 0
+ Z))`` on nlme's final pseudo-data gives ours); our REML LME step is checked below on linear
models, where menl must reproduce lme exactly.
"""
import warnings

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

LLF_REL, EST_REL, SE_REL = 1e-6, 1e-5, 1e-3

CASES = {
    # nlme(circumf ~ b1/(1+exp(-(age-b2)/b3)), data=d, fixed=b1+b2+b3~1,
    #      random=pdDiag(b1+b2~1), groups=~tree, start=c(b1=192,b2=728,b3=353), method="ML")
    "orange_diag_ml": dict(
        text="menl circumf = {phi1:}/(1+exp(-(age-{phi2:})/{b3})), define(phi1: U1[tree], xb) "
             "define(phi2: U2[tree], xb)",
        data="orange", llf=-131.5802222279,
        coef={"phi1:_cons": (190.594788142, 16.2110797844),
              "phi2:_cons": (719.607139341, 35.7765346382),
              "/b3": (342.083659723, 26.4208961647)},
        cov={"/var(U1[tree])": 1012.14886798, "/var(U2[tree])": 503.180244221,
             "/var(e)": 59.2709299011}),
    # nlme(circumf ~ b1/(1+exp(-(age-b2)/b3)), data=d, fixed=b1+b2+b3~1,
    #      random=pdSymm(b1+b2~1), groups=~tree, start=c(b1=192,b2=728,b3=353), method="ML")
    "orange_correlated_ml": dict(
        text="menl circumf = {phi1:}/(1+exp(-(age-{phi2:})/{b3})), define(phi1: U1[tree], xb) "
             "define(phi2: U2[tree], xb) covariance(U1 U2, unstructured)",
        data="orange", llf=-130.9017331750,
        coef={"phi1:_cons": (189.835490679, 17.2004212275),
              "phi2:_cons": (709.536278766, 37.2425491741),
              "/b3": (340.476503627, 25.5221950373)},
        cov={"/var(U1[tree])": 1180.09790931, "/var(U2[tree])": 1469.85064720,
             "/cov(U1[tree],U2[tree])": 1015.49984401, "/var(e)": 56.0733880592}),
    # nlme(weight ~ a*exp(r*week), data=p, fixed=a+r~1, random=pdSymm(a+r~1), groups=~id,
    #      start=c(a=20,r=0.14), method="ML")
    "pig_exponential_correlated_ml": dict(
        text="menl weight = {a:}*exp({r:}*week), define(a: U1[id], xb) define(r: U2[id], xb) "
             "covariance(U1 U2, unstructured)",
        data="pig", llf=-1141.6826190209,
        coef={"a:_cons": (26.262333155562, 0.37517706853400),
              "r:_cons": (0.121086156378, 0.00135712192829)},
        cov={"/var(U1[id])": 4.77911054734652, "/var(U2[id])": 0.000028371450397,
             "/cov(U1[id],U2[id])": -0.004904356275536, "/var(e)": 7.9837306792}),
    # t <- read.csv("tvsfpors.csv"); t$school <- factor(t$school); t$class <- factor(t$class)
    # nlme(thk ~ exp(a) + b1*prethk, data=t, fixed=a+b1~1, random=a~1|school/class,
    #      start=c(a=0.7,b1=0.2), method="ML")
    "tvsfpors_nested_ml": dict(
        text="menl thk = exp({a}+{U[school]}+{W[school>class]})+{b1}*prethk",
        data="tvsfpors", llf=-2358.4736163587,
        coef={"/a": (0.787091758841, 0.0333940282930), "/b1": (0.191342076301, 0.0211580685667)},
        cov={"/var(U[school])": 0.0127072059915, "/var(W[school>class])": 0.00993288803631,
             "/var(e)": 1.0585526957}),
    # nlme(circumf ~ b1/(1+exp(-(age-b2)/b3)), data=d, fixed=b1+b2+b3~1,
    #      random=pdIdent(b1+b2~1), groups=~tree, start=c(b1=192,b2=728,b3=353), method="ML")
    "orange_identity_ml": dict(
        text="menl circumf = {phi1:}/(1+exp(-(age-{phi2:})/{b3})), define(phi1: U1[tree], xb) "
             "define(phi2: U2[tree], xb) covariance(U1 U2, identity)",
        data="orange", llf=-131.6119594888,
        coef={"phi1:_cons": (190.303663238, 16.0920169294),
              "phi2:_cons": (717.495805372, 36.7059963224),
              "/b3": (340.753919505, 25.9385012230)},
        cov={"/var(U1[tree] U2[tree])": 1002.56882383, "/var(e)": 57.7580938283}),
    # lme(weight ~ week, random = ~ 1 | id, data=p, method="ML")
    "pig_linear_ml": dict(
        text="menl weight = {b0}+{b1}*week+{U0[id]}", data="pig", llf=-1014.9267935783,
        coef={"/b0": (19.35561342593, 0.5987932320922), "/b1": (6.20989583333, 0.0391030141565)},
        cov={"/var(U0[id])": 14.8174920144, "/var(e)": 4.3832643862}),
    # lme(weight ~ week, random = ~ 1 | id, data=p, method="REML")
    "pig_linear_reml": dict(
        text="menl weight = {b0}+{b1}*week+{U0[id]}, reml", data="pig", llf=-1016.8984222920,
        coef={"/b0": (19.35561342593, 0.6031389805048), "/b1": (6.20989583333, 0.0390632897287)},
        cov={"/var(U0[id])": 15.1418485119, "/var(e)": 4.3947089407}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_nlme(case):
    ref = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(ref["text"], data=load(ref["data"])).fit()
    assert abs(res.llf - ref["llf"]) <= LLF_REL * abs(ref["llf"]), (res.llf, ref["llf"])
    for name, (b, se) in ref["coef"].items():
        assert abs(res.params[name] - b) <= EST_REL * abs(b), (name, res.params[name], b)
        assert abs(res.bse[name] - se) <= SE_REL * se, (name, res.bse[name], se)
    for name, v in ref["cov"].items():
        assert abs(res.params[name] - v) <= EST_REL * abs(v), (name, res.params[name], v)


def test_reml_differs_from_ml_as_expected():
    # the REML residual variance of the linear model is larger by about n / (n - p)
    pig = load("pig")
    ml = smf.menl(CASES["pig_linear_ml"]["text"], data=pig).fit()
    reml = smf.menl(CASES["pig_linear_reml"]["text"], data=pig).fit()
    assert reml.info.method == "REML" and ml.info.method == "ML"
    assert reml.params["/var(e)"] > ml.params["/var(e)"]
    assert np.isclose(reml.params["/b1"], ml.params["/b1"], rtol=1e-9)


def test_reml_variance_standard_errors_equal_mixed():
    # linear model, where the linearization is exact: the observed information of the
    # restricted log likelihood is mixed's (mixed weight week || id:, reml: SE of var(_cons)
    # 3.22444674, of var(e) 0.31757458); its maximum over s2 is the REML estimate r2 / (n - p)
    pig = load("pig")
    res = smf.menl(CASES["pig_linear_reml"]["text"], data=pig).fit()
    ref = smf.mixed("weight week || id:, reml", data=pig).fit()
    assert abs(res.bse["/var(e)"] - ref.bse["/var(e.weight)"]) <= 1e-4 * ref.bse["/var(e.weight)"]
    assert abs(res.bse["/var(U0[id])"] - ref.bse["/var(_cons[id])"]) <= \
        SE_REL * ref.bse["/var(_cons[id])"]


def test_power_variance_against_nlme():
    # nlme(circumf ~ b1/(1+exp(-(age-b2)/b3)), data=d, fixed=b1+b2+b3~1, random=b1~1|tree,
    #      weights=varPower(form=~fitted(.)), start=c(b1=192,b2=728,b3=353), method="ML")
    # gives logLik -131.0381102025, b1 191.878919260 (16.1260784576), b2 725.265995154
    # (38.3445293521), b3 349.844799308 (25.4529314007), var(b1) 957.0927869, sigma2
    # 5.3872169636, power 0.265708615354.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl("menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3})), "
                       "resvariance(power _yhat, noconstant)", data=load("orange")).fit()
    assert abs(res.llf - -131.0381102025) <= LLF_REL * 131.0381102025
    for name, b, se in [("/b1", 191.878919260, 16.1260784576),
                        ("/b2", 725.265995154, 38.3445293521),
                        ("/b3", 349.844799308, 25.4529314007)]:
        assert abs(res.params[name] - b) <= EST_REL * b, (name, res.params[name])
        assert abs(res.bse[name] - se) <= SE_REL * se, (name, res.bse[name])
    assert abs(res.params["/var(U1[tree])"] - 957.0927869) <= EST_REL * 957.0927869
    # nlme's last iterate stops 1e-4 short along the flat (sigma2, delta) direction: R's
    # lme(w ~ 0 + X1 + X2 + X3, random = list(tree = pdIdent(~ 0 + Z1)),
    #     weights = varPower(form = ~ v), method = "ML")
    # on the linearized model at nlme's own fixed point as we reach it (w, X, Z, v = fitted
    # values written from our estimates) gives sigma2 5.386664183, power 0.2657199565,
    # var(Z1) 957.090961, logLik -131.038109436: our LME step, to 1e-6.
    assert abs(res.params["/var(e)"] - 5.386664183) <= EST_REL * 5.386664183
    assert abs(res.params["/Residual:delta"] - 0.2657199565) <= EST_REL * 0.2657199565
    assert abs(res.llf - -131.038109436) <= 1e-9 * 131.038109436


@pytest.mark.parametrize("reml", [False, True])
def test_linear_nested_model_equals_mixed(reml):
    # a mean function linear in everything: the linearization is exact and menl must give
    # mixed's fit (itself checked against Stata); lme's optimum of var(school) is 6e-5 short
    # of both (its log likelihood is 7e-9 lower), so mixed is the reference here
    t = load("tvsfpors")
    opt = ", reml" if reml else ""
    ref = smf.mixed("thk prethk || school: || class:" + opt, data=t).fit()
    res = smf.menl("menl thk = {b0}+{b1}*prethk+{U[school]}+{W[school>class]}" + opt,
                   data=t).fit()
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)
    pairs = {"/b0": "_cons", "/b1": "prethk", "/var(U[school])": "/var(_cons[school])",
             "/var(W[school>class])": "/var(_cons[school>class])", "/var(e)": "/var(e.thk)"}
    for mine, theirs in pairs.items():
        assert abs(res.params[mine] - ref.params[theirs]) <= 1e-6 * abs(ref.params[theirs])
    for mine, theirs in list(pairs.items())[2:]:
        if reml:
            assert abs(res.bse[mine] - ref.bse[theirs]) <= 1e-3 * ref.bse[theirs]
        else:
            # ML: menl's information holds beta fixed (Stata's menl, example 9), mixed's
            # profiles it out; the inverse of a block of the information is the smaller
            assert res.bse[mine] <= ref.bse[theirs] * (1 + 1e-6)
    # fixed effects: menl's ML standard errors carry nlme's factor sqrt(n / (n - p))
    factor = 1.0 if reml else np.sqrt(1600 / 1598)
    for mine, theirs in list(pairs.items())[:2]:
        assert abs(res.bse[mine] - factor * ref.bse[theirs]) <= 1e-6 * ref.bse[theirs]
    assert list(res.model.design.group_summary().index) == ["school", "school>class"]


# mixed's names of the same parameters, by covariance structure
MIXED_NAMES = {
    "exchangeable": {"/var(U0[id] U1[id])": "/var(week[id])",
                     "/cov(U0[id] U1[id])": "/cov(week[id],_cons[id])"},
    "identity": {"/var(U0[id] U1[id])": "/var(week _cons[id])"},
    "unstructured": {"/var(U0[id])": "/var(_cons[id])", "/var(U1[id])": "/var(week[id])",
                     "/cov(U0[id],U1[id])": "/cov(week[id],_cons[id])"},
    "independent": {"/var(U0[id])": "/var(_cons[id])", "/var(U1[id])": "/var(week[id])"},
}


@pytest.mark.parametrize("kind", sorted(MIXED_NAMES))
def test_covariance_structures_on_a_linear_random_slope_model(kind):
    # linear in everything: menl's fit is mixed's (checked against Stata), for every
    # covariance() structure, with the random slope written as c.week#U1[id]
    pig = load("pig")
    ref = smf.mixed(f"weight week || id: week, cov({kind})", data=pig).fit()
    res = smf.menl("menl weight = {lc:}, define(lc: week U0[id] c.week#U1[id]) "
                   f"covariance(U0 U1, {kind})", data=pig).fit()
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)
    pairs = {"lc:week": "week", "lc:_cons": "_cons", "/var(e)": "/var(e.weight)",
             **MIXED_NAMES[kind]}
    assert set(res.params.index) == set(pairs)
    for mine, theirs in pairs.items():
        assert abs(res.params[mine] - ref.params[theirs]) <= 1e-5 * abs(ref.params[theirs]), \
            (mine, res.params[mine], ref.params[theirs])
