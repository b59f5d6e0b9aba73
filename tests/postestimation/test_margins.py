"""``res.margins``: predictive margins, marginal effects, elasticities, delta-method SEs.

References: R's emmeans on the same linear mixed model fitted by lme4 (numbers quoted below),
and closed-form margins of the random-intercept logit with their delta-method standard errors
written out in the tests (analytic gradients of the average predictions).
"""
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def ban():
    return load("bangladesh")


@pytest.fixture(scope="module")
def lmm(ban):
    return smf.mixed("c_use i.urban age i.children || district:", data=ban).fit()


@pytest.fixture(scope="module")
def logit(ban):
    return smf.melogit("c_use urban age i.children || district:", data=ban).fit()


# R 4.2.2, lme4, emmeans:
#   m <- lmer(c_use ~ factor(urban) + age + factor(children) + (1 | district), data = d,
#             REML = FALSE, control = lmerControl(optimizer = "bobyqa",
#             optCtrl = list(rhobeg = 0.02, rhoend = 1e-12)))
#   e <- emmeans(m, ~ children, lmer.df = "asymptotic")      # averaged over urban
#   contrast(e, "trt.vs.ctrl", adjust = "none")
EMMEANS = {"emmean": [0.2242466, 0.4527230, 0.5109639, 0.5000094],
           "SE": [0.027778404, 0.029348151, 0.030619499, 0.025851254]}
EMMEANS_TRT = {"estimate": [0.22847642, 0.28671729, 0.27576281],
               "SE": [0.03249819, 0.03599329, 0.03610656]}


def test_asbalanced_margins_match_emmeans(lmm):
    m = lmm.margins("children", asbalanced=True)
    assert list(m.index) == ["0.children", "1.children", "2.children", "3.children"]
    assert list(m.columns) == ["margin", "std_err", "z", "pvalue", "ci_lower", "ci_upper"]
    np.testing.assert_allclose(m["margin"], EMMEANS["emmean"], atol=2e-7)
    np.testing.assert_allclose(m["std_err"], EMMEANS["SE"], rtol=2e-6)


def test_discrete_change_matches_emmeans_contrasts(lmm):
    m = lmm.margins(dydx="children")
    assert list(m.index) == ["1.children", "2.children", "3.children"]
    np.testing.assert_allclose(m["margin"], EMMEANS_TRT["estimate"], atol=2e-7)
    np.testing.assert_allclose(m["std_err"], EMMEANS_TRT["SE"], rtol=2e-6)
    np.testing.assert_allclose(m["pvalue"], 2 * stats.norm.sf(np.abs(m["z"])), rtol=1e-12)


def _logit_design(ban, res, **setting):
    d = ban.assign(**setting)
    X = np.column_stack([d["urban"], d["age"]] + [(d["children"] == k).astype(float)
                                                  for k in (1, 2, 3)] + [np.ones(len(d))])
    assert list(res.params.index[:res.k_fe]) == ["urban", "age", "1.children", "2.children",
                                                "3.children", "_cons"]
    return X


def test_logit_predictive_margins_delta_method(ban, logit):
    beta = logit.params.iloc[:logit.k_fe].to_numpy()
    V = logit.cov_params().iloc[:logit.k_fe, :logit.k_fe].to_numpy()
    m = logit.margins(at={"age": [-10, 10]})
    assert list(m.index) == ["1._at", "2._at"]
    for row, age in zip(m.itertuples(), (-10, 10)):
        X = _logit_design(ban, logit, age=age)
        p = special.expit(X @ beta)
        g = (p * (1 - p)) @ X / len(p)               # d mean(p) / d beta
        assert row.margin == pytest.approx(p.mean(), rel=1e-12)
        assert row.std_err == pytest.approx(np.sqrt(g @ V @ g), rel=1e-7)


def test_logit_average_marginal_effect_and_elasticity(ban, logit):
    beta = logit.params.iloc[:logit.k_fe].to_numpy()
    V = logit.cov_params().iloc[:logit.k_fe, :logit.k_fe].to_numpy()
    X = _logit_design(ban, logit)
    p = special.expit(X @ beta)
    b_age = beta[1]
    w = p * (1 - p)
    ame = np.mean(w * b_age)
    # d/d beta of mean(p (1 - p) b_age) = mean(p(1-p)(1-2p) b_age x) + e_age mean(p(1-p))
    g = (w * (1 - 2 * p) * b_age) @ X / len(p)
    g[1] += w.mean()
    m = logit.margins(dydx="age")
    assert m.loc["age", "margin"] == pytest.approx(ame, rel=1e-8)
    assert m.loc["age", "std_err"] == pytest.approx(np.sqrt(g @ V @ g), rel=1e-6)
    age = ban["age"].to_numpy()
    eyex = logit.margins(eyex="age").loc["age", "margin"]
    assert eyex == pytest.approx(np.mean((1 - p) * b_age * age), rel=1e-7)
    dyex = logit.margins(dyex="age").loc["age", "margin"]
    assert dyex == pytest.approx(np.mean(w * b_age * age), rel=1e-7)
    eydx = logit.margins(eydx="age").loc["age", "margin"]
    assert eydx == pytest.approx(np.mean((1 - p) * b_age), rel=1e-7)


def test_over_and_discrete_change_logit(ban, logit):
    beta = logit.params.iloc[:logit.k_fe].to_numpy()
    V = logit.cov_params().iloc[:logit.k_fe, :logit.k_fe].to_numpy()
    m = logit.margins(dydx="children", over="urban")
    assert list(m.index[:3]) == ["0.urban#1.children", "0.urban#2.children",
                                 "0.urban#3.children"]
    mask = (ban["urban"] == 1).to_numpy()
    X1 = _logit_design(ban, logit, children=2)[mask]
    X0 = _logit_design(ban, logit, children=0)[mask]
    p1, p0 = special.expit(X1 @ beta), special.expit(X0 @ beta)
    g = ((p1 * (1 - p1)) @ X1 - (p0 * (1 - p0)) @ X0) / mask.sum()
    assert m.loc["1.urban#2.children", "margin"] == pytest.approx(np.mean(p1 - p0), rel=1e-10)
    assert m.loc["1.urban#2.children", "std_err"] == pytest.approx(np.sqrt(g @ V @ g),
                                                                   rel=1e-7)


def test_xb_margin_with_random_effects_conditional(ban, lmm):
    m0 = lmm.margins(predict="xb")
    assert list(m0.index) == ["_cons"]
    assert m0.loc["_cons", "margin"] == pytest.approx(lmm.predict("xb").mean(), rel=1e-12)
    m1 = lmm.margins(predict="fitted", conditional="ebmeans")
    assert m1.loc["_cons", "margin"] == pytest.approx(lmm.predict("fitted").mean(), rel=1e-12)


def test_refusals(lmm, logit):
    with pytest.raises(SpecificationError, match="predict"):
        lmm.margins(predict="mu")
    with pytest.raises(SpecificationError, match="factor"):
        lmm.margins("age")
    with pytest.raises(SpecificationError, match="elasticities"):
        logit.margins(eyex="children")
    with pytest.raises(SpecificationError, match="nothere"):
        logit.margins(at={"nothere": 1})
    frame = logit.margins()
    assert isinstance(frame, pd.DataFrame)


def test_marginal_mean_with_variance_uncertainty(ban):
    res = smf.melogit("c_use urban || district:", data=ban).fit()
    m = res.margins(at={"urban": [0, 1]}, conditional="marginal")
    p = res.params
    b0, b1, s2 = p["_cons"], p["urban"], p["/var(_cons[district])"]
    nodes, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()

    def marg(theta, u):
        return float(np.sum(w * special.expit(theta[0] * u + theta[1]
                                              + np.sqrt(theta[2]) * nodes)))
    # every row has the same covariates once urban is set: the margin is one integral
    names = ["urban", "_cons", "/var(_cons[district])"]
    theta = p[names].to_numpy()
    V = res.cov_params().loc[names, names].to_numpy()
    for row, u in zip(m.itertuples(), (0, 1)):
        assert row.margin == pytest.approx(marg(theta, u), rel=1e-10)
        # analytic gradient: E[p(1-p)] * (u, 1) and E[p(1-p) v] / (2 sqrt(s2))
        eta = b1 * u + b0 + np.sqrt(s2) * nodes
        dens = special.expit(eta) * (1 - special.expit(eta))
        g = np.array([u * np.sum(w * dens), np.sum(w * dens),
                      np.sum(w * dens * nodes) / (2 * np.sqrt(s2))])
        assert row.std_err == pytest.approx(np.sqrt(g @ V @ g), rel=1e-6)
