"""meglm shortcuts with nested random-effects levels (``meglm_multilevel``).

References: Stata's [ME] me example 7 (seed_examples.json, transcribed from the printed output
of that entry; bundled as statsmodels_me/datasets/
seed_examples.json), and R fits of simulated three-level data (numbers hard-coded below with
the R call and package versions).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.models.meglm import MEOProbit
from statsmodels_me.spec.errors import DataError, SpecificationError

SEED = Path(__file__).resolve().parents[2] / "statsmodels_me" / "datasets" / "seed_examples.json"


def seed(example_id):
    return next(e for e in json.loads(SEED.read_text())["examples"] if e["id"] == example_id)


def rel(a, b):
    return abs(a - b) / abs(b)


EX7_FORMULA = "thk ~ prethk + C(cc)*C(tv) + (1 | school/class)"


@pytest.fixture(scope="module", params=["stata", "formula"])
def ex7(request):
    ex = seed("ex7_tvsfpors_3level_oprobit")
    text = ex["command"] if request.param == "stata" else EX7_FORMULA
    return ex, smf.meoprobit(text, data=load("tvsfpors")).fit()


def test_example7_llf_and_header(ex7):
    ex, res = ex7
    assert isinstance(res.model, MEOProbit) and res.model.command == "meoprobit"
    assert rel(res.llf, ex["llf"]) < 1e-7
    assert rel(res.llf_fixed, ex["llf_fixed_only"]) < 1e-7
    assert res.info.intmethod == "mvaghermite" and res.info.intpoints == 7
    assert res.nobs == ex["n_obs"]
    assert res.model.objective.engine.n_groups == [ex["n_groups"]["school"],
                                                   ex["n_groups"]["class"]]


def test_example7_coefficients_and_cutpoints(ex7):
    ex, res = ex7
    assert list(res.params.index[:7]) == ["prethk", "1.cc", "1.tv", "1.cc#1.tv", "/cut1",
                                          "/cut2", "/cut3"]
    for name, (b, se) in ex["coef"].items():
        assert rel(res.params[name], b) < 1e-5, name
        assert rel(res.bse[name], se) < 1e-3, name


def test_example7_variance_components(ex7):
    ex, res = ex7
    assert list(res.params.index[7:]) == ["/var(_cons[school])", "/var(_cons[school>class])"]
    groups = res.info.vcomp_groups
    assert [(g.level_label, g.kind_label) for g in groups] == [("school", "Identity"),
                                                               ("school>class", "Identity")]
    for label, (est, se, lo, hi) in ex["vcomp"].items():
        row = res.vcomp.loc[label]
        assert rel(row["estimate"], est) < 1e-5, label
        assert rel(row["std_err"], se) < 1e-3, label
        assert rel(row["ci_lower"], lo) < 1e-3 and rel(row["ci_upper"], hi) < 1e-3, label


def test_example7_tests(ex7):
    ex, res = ex7
    assert abs(res.lr_test.stat - ex["lr_vs_fixed"]["stat"]) < 0.006
    assert res.lr_test.kind == ex["lr_vs_fixed"]["kind"]
    assert rel(res.wald[0], ex["wald_chi2"][0]) < 1e-3 and res.wald[1] == ex["wald_chi2"][1]
    text = str(res.summary())
    assert "school>class" in text and "conservative" in text


def simulate(family, n_school=30, n_class=4, n_obs=8, seed=11, class_sd=0.5):
    """Three-level data: random intercepts for schools (sd 0.7) and classes within schools.

    The CSVs given to R were written by this function (``simulate("logit", class_sd=0.9)``,
    ``simulate("poisson", n_school=20, n_class=4, n_obs=6, seed=12)``, ``to_csv(index=False)``).
    """
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_school), n_class * n_obs)
    klass = np.repeat(np.arange(n_school * n_class), n_obs)
    n = school.size
    x = rng.normal(size=n)
    u = rng.normal(scale=0.7, size=n_school)[school] + rng.normal(
        scale=class_sd, size=n_school * n_class)[klass]
    if family == "logit":
        eta = -0.3 + 0.8 * x + u
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        eta = 0.2 + 0.5 * x + u
        y = rng.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"y": y, "x": x, "school": school, "class": klass % n_class})


# R 4.x, lme4 1.1.31:
#   glmer(y ~ x + (1|school/class), data=d, family=binomial (or poisson), nAGQ=1,
#         control=glmerControl(optimizer="bobyqa", optCtrl=list(maxfun=1e5), tolPwrss=1e-13))
# (with lme4's default tolPwrss the PIRLS modes stop early and logLik is 0.003 lower for the
# logit; glmmTMB 1.1.5, glmmTMB(y ~ x + (1|school/class), family=binomial), agrees with the
# tight glmer fit: logLik -555.719336146, x 0.9404234178, var(school) 0.5923741556.)
# Standard errors (se_x, se_cons): glmmTMB 1.1.5, sqrt(diag(vcov(m)$cond)) (TMB's exact
# Hessian of the Laplace approximation; lme4's vcov conditions on the variance parameters).
GLMER = {
    "logit": dict(data=dict(family="logit", class_sd=0.9), cmd="melogit",
                  llf=-555.719336403, x=0.9404241007, cons=-0.5170599701,
                  var_school=0.5923720891, var_class=0.5727296219,
                  se_x=0.09390410267, se_cons=0.17627491709),
    "poisson": dict(data=dict(family="poisson", n_school=20, n_class=4, n_obs=6, seed=12),
                    cmd="mepoisson", llf=-796.926587089, x=0.4956636782, cons=0.3865886045,
                    var_school=0.2369902220, var_class=0.1763522308,
                    se_x=0.03572944522, se_cons=0.12604954012),
}


@pytest.mark.parametrize("case", ["logit", "poisson"])
def test_three_level_laplace_vs_glmer(case):
    ref = GLMER[case]
    d = simulate(**ref["data"])
    res = getattr(smf, ref["cmd"])("y ~ x + (1 | school/class)", d, intmethod="laplace").fit()
    assert res.info.intmethod == "laplace"
    assert res.llf == pytest.approx(ref["llf"], abs=2e-6)
    # glmer's optimizer (bobyqa) stops at ~1e-6 relative
    assert rel(res.params["x"], ref["x"]) < 2e-5
    assert rel(res.params["_cons"], ref["cons"]) < 2e-5
    assert rel(res.params["/var(_cons[school])"], ref["var_school"]) < 5e-5
    assert rel(res.params["/var(_cons[school>class])"], ref["var_class"]) < 5e-5
    assert rel(res.bse["x"], ref["se_x"]) < 1e-3
    assert rel(res.bse["_cons"], ref["se_cons"]) < 1e-3


def test_stata_syntax_nested_levels_name_paths():
    d = simulate("poisson", n_school=20, n_class=4, n_obs=6, seed=12)
    m = smf.mepoisson("y x || school: || class:", d, intmethod="laplace")
    assert m.param_names[-2:] == ["/var(_cons[school])", "/var(_cons[school>class])"]


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": rng.integers(0, 2, 200).astype(float), "x": rng.normal(size=200),
                         "a": rng.integers(0, 10, 200), "b": rng.integers(0, 10, 200)})


@pytest.mark.parametrize("text", ["y ~ x + (1|a) + (1|b)", "y x || _all: R.a || b:",
                                  "y x || a: || _all: R.b"])
def test_crossed_designs_are_not_nested(small, text):
    # the design is routed to the crossed objective; the model stays the shortcut's class
    from statsmodels_me.design import build_design
    from statsmodels_me.models.meglm import MELogit
    from statsmodels_me.objectives.glmm_choose import design_kind
    from statsmodels_me.objectives.glmm_crossed import CrossedGLMMObjective
    from statsmodels_me.spec import parse
    design = build_design(parse(text, command="melogit"), small)
    assert design_kind(design) == "crossed"
    model = smf.melogit(text, small)
    assert type(model) is MELogit
    assert isinstance(model.objective, CrossedGLMMObjective)
    with pytest.raises(SpecificationError, match="kind='nested' does not fit"):
        MELogit(design=design, kind="nested")


def test_ordinal_outcome_checks():
    d = load("tvsfpors")
    one = d.assign(thk=1)
    with pytest.raises(DataError, match="only one category"):
        smf.meoprobit("thk prethk || school: || class:", one)
    frac = d.assign(thk=d["thk"] + 0.5 * (d["thk"] == 2))
    with pytest.raises(DataError, match="non-integer"):
        smf.meoprobit("thk prethk || school: || class:", frac)


def simulate4(seed=21):
    """Four levels a > b > c > rows: 12 x 3 x 3 groups, 4 rows each, random slope at b."""
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(12), 36)
    b = np.repeat(np.arange(36), 12)
    c = np.repeat(np.arange(108), 4)
    x = rng.normal(size=a.size)
    u = (rng.normal(scale=0.5, size=12)[a] + rng.normal(scale=0.4, size=36)[b]
         + rng.normal(scale=0.3, size=108)[c] + rng.normal(scale=0.3, size=36)[b] * x)
    y = rng.poisson(np.exp(0.3 + 0.4 * x + u)).astype(float)
    return pd.DataFrame({"y": y, "x": x, "a": a, "b": b % 3, "c": c % 3})


def test_four_levels_random_slope_laplace_vs_glmmtmb():
    # reference: R 4.2.2, glmmTMB 1.1.5 on simulate4().to_csv(index=False):
    #   glmmTMB(y ~ x + (1|a) + (1 + x|a:b) + (1|a:b:c), data=d, family=poisson)
    #   logLik -679.430159727; fixef, sqrt(diag(vcov(m)$cond)); VarCorr(m)$cond
    res = smf.mepoisson("y x || a: || b: x, cov(unstr) || c:", simulate4(),
                        intmethod="laplace").fit()
    assert res.llf == pytest.approx(-679.430159727, abs=2e-6)
    ref = {"x": 0.3289117579, "_cons": 0.1923712209, "/var(_cons[a])": 0.1425252506,
           "/var(x[a>b])": 0.06045400981, "/var(_cons[a>b])": 0.17574107231,
           "/cov(x[a>b],_cons[a>b])": 0.02032967894, "/var(_cons[a>b>c])": 0.08278598891}
    assert list(res.params.index) == list(ref)
    for name, val in ref.items():
        assert rel(res.params[name], val) < 5e-5, name  # both optimizers stop at ~1e-5
    assert rel(res.bse["x"], 0.07053004709) < 1e-3
    assert rel(res.bse["_cons"], 0.14205503181) < 1e-3
    assert [g.level_label for g in res.info.vcomp_groups] == ["a", "a>b", "a>b>c"]


def test_example7_laplace_vs_clmm():
    # reference: R 4.2.2, ordinal 2022.11.16 on the same data (cls = interaction(school, class)):
    #   clmm(factor(thk) ~ prethk + cc*tv + (1|school) + (1|cls), data=d, link="probit",
    #        nAGQ=1, control=clmm.control(gradTol=1e-8))
    #   logLik -2116.71258425; coef(m); VarCorr(m); sqrt(diag(vcov(m)))
    res = smf.meoprobit("thk prethk cc##tv || school: || class:", load("tvsfpors"),
                        intmethod="laplace").fit()
    assert res.llf == pytest.approx(-2116.71258425, abs=2e-6)
    ref = {"prethk": (0.23884232216, 0.02314412168), "1.cc": (0.52550989311, 0.12853782284),
           "1.tv": (0.14561077121, 0.12553585717), "1.cc#1.tv": (-0.24270246829, 0.18113520185),
           "/cut1": (-0.07458954889, 0.10295026898), "/cut2": (0.68630139010, 0.10345274556),
           "/cut3": (1.41365956864, 0.10646107797), "/var(_cons[school])": (0.01864002836, None),
           "/var(_cons[school>class])": (0.05186285786, None)}
    for name, (b, se) in ref.items():
        # same optimum (llf equal to 1e-9); both optimizers stop within ~1e-5 of it
        assert abs(res.params[name] - b) < 1e-5, name
        if se is not None:
            assert rel(res.bse[name], se) < 1e-3, name


def test_predict_uses_every_level():
    d = simulate("poisson", n_school=20, n_class=4, n_obs=6, seed=12)
    res = smf.mepoisson("y x || school: || class:", d, intmethod="laplace").fit()
    assert np.allclose(res.predict("xb"), res.params["x"] * d["x"] + res.params["_cons"])
    re = res.predict("reffects")
    assert list(re.columns) == ["_cons[school]", "_cons[school>class]"]
    np.testing.assert_allclose(res.predict("mu"), np.exp(res.predict("xb") + re.sum(axis=1)),
                               rtol=1e-12)


@pytest.mark.parametrize("intmethod", ["mvaghermite", "laplace"])
def test_gaussian_three_levels_equals_mixed(intmethod):
    # reference: the exact ML fit of the same linear mixed model by ``mixed`` (the posterior of
    # the effects is Gaussian, so Laplace and adaptive quadrature are exact)
    d = simulate("poisson", n_school=20, n_class=4, n_obs=6, seed=12)
    d["yc"] = np.log1p(d["y"]) + 0.3 * d["x"]
    lmm = smf.mixed("yc x || school: || class:", d).fit()
    res = smf.meglm("yc x || school: || class:", d, intmethod=intmethod).fit()
    assert res.llf == pytest.approx(lmm.llf, abs=1e-7)
    assert list(res.params.index) == list(lmm.params.index)
    assert np.allclose(res.params, lmm.params, rtol=2e-5, atol=1e-7)
    # variance-component SEs (observed information in both); the fixed-effect SEs of mixed
    # use the expected (block-diagonal) information, so they are not compared
    var = [n for n in lmm.params.index if n.startswith("/var")]
    assert np.allclose(res.bse[var], lmm.bse[var], rtol=1e-3)
