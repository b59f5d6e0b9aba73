"""Profile-likelihood intervals of variance components after one-level, nested and crossed
GLMMs.

References (R 4.2.2, lme4 1.1.31; Laplace fits with canonical links, so lme4's Laplace and
Stata's agree; profile intervals are invariant to the monotone map sd -> variance)::

    b <- read.csv("bangladesh.csv")                  # statsmodels_me.datasets.load("bangladesh")
    m <- glmer(c_use ~ urban + age + (1 | district), data = b, family = binomial, nAGQ = 1)
    logLik(m)                                         # -1250.19626968626
    confint(m, method = "profile", parm = "theta_")^2
    #   .sig01  0.0918169466936  0.370139472946
    m <- glmer(children ~ urban + age + (1 | district), data = b, family = poisson, nAGQ = 1)
    logLik(m)                                         # -2728.52234535153
    confint(m, method = "profile", parm = "theta_")^2
    #   .sig01  0                0.0151780857974

    tv <- read.csv("tvsfpors.csv"); tv$y <- as.integer(tv$thk > 2)
    m <- glmer(y ~ prethk + (1 | school) + (1 | class), data = tv, family = binomial,
               nAGQ = 1)
    logLik(m)                                         # -1037.00209716807
    confint(m, method = "profile", parm = "theta_")^2
    #   .sig01 (class)   0.0384170280558  0.361645696392
    #   .sig02 (school)  0.0944353615225  0.604637532592

    # the same classes as nested levels (lme4 expands school/class into two terms)
    m <- glmer(y ~ prethk + (1 | school/class), data = tv, family = binomial, nAGQ = 1)
    logLik(m)                                         # -1037.00209716807
    confint(m, method = "profile", parm = "theta_")^2
    #   .sig01 (class:school)  0.0384170280558266  0.361645696392128
    #   .sig02 (school)        0.0944353615225444  0.604637532592011

lme4 computes its limits by interpolating a spline through the profile; the tolerance on the
limits is 1e-3 (relative to the upper limit).
"""
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.postestimation.profile import profile_conf_int


@pytest.fixture(scope="module")
def ban():
    return load("bangladesh")


def test_melogit_laplace_matches_lme4(ban):
    res = smf.melogit("c_use urban age || district:, intmethod(laplace)", data=ban).fit()
    assert abs(res.llf - -1250.19626968626) < 1e-4
    ci = res.conf_int(method="profile")
    assert ci.loc[["urban", "age", "_cons"]].isna().all().all()
    lo, hi = ci.loc["/var(_cons[district])"]
    assert abs(lo - 0.0918169466936) < 1e-3 * 0.370139472946
    assert abs(hi - 0.370139472946) < 1e-3 * 0.370139472946


def test_mepoisson_laplace_lower_limit_on_the_boundary(ban):
    res = smf.mepoisson("children urban age || district:, intmethod(laplace)",
                        data=ban).fit()
    assert abs(res.llf - -2728.52234535153) < 1e-4
    lo, hi = res.conf_int(method="profile").loc["/var(_cons[district])"]
    assert lo == 0.0
    assert abs(hi - 0.0151780857974) < 1e-3 * 0.0151780857974


def _check_profile_equation(res, name, options=None):
    # the definition, checked with an optimizer of the test's own: at each limit the log
    # likelihood maximized over the other parameters is chi2_1(0.95) / 2 below the maximum
    lo, hi = profile_conf_int(res, which=[name]).loc[name]
    p = res.params.to_numpy()
    j = list(res.params.index).index(name)
    others = [i for i in range(len(p)) if i != j]
    target = res.llf - stats.chi2.ppf(0.95, 1) / 2
    assert 0 < lo < p[j] < hi
    for v in (lo, hi):
        def negll(x, v=v):
            full = p.copy()
            full[j], full[others] = v, x
            return -res.model.loglike(full)
        best = optimize.minimize(negll, p[others], method="Nelder-Mead",
                                 options=options or {"xatol": 1e-9, "fatol": 1e-11,
                                                     "maxiter": 20000})
        assert abs(-best.fun - target) < 1e-5


def test_limits_solve_the_profile_equation_for_an_ordinal_model(ban):
    res = smf.meologit("children urban age || district:, intmethod(laplace)",
                       data=ban).fit()
    _check_profile_equation(res, "/var(_cons[district])")


@pytest.mark.parametrize("family", ["nbinomial", "gamma"])
def test_limits_solve_the_profile_equation(family):
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=g.size)
    mu = np.exp(0.5 + 0.4 * x + rng.normal(0, 0.5, 30)[g])
    y = rng.negative_binomial(2, 2 / (2 + mu)) if family == "nbinomial" \
        else rng.gamma(3, mu / 3)
    df = pd.DataFrame({"y": y, "x": x, "id": g})
    res = smf.meglm(f"y x || id:, family({family}) link(log)", data=df).fit()
    _check_profile_equation(res, "/var(_cons[id])")


def test_melogit_crossed_laplace_matches_lme4():
    tv = load("tvsfpors")
    res = smf.melogit("y prethk || _all: R.school || class:",
                      data=tv.assign(y=(tv["thk"] > 2).astype(int))).fit()
    assert abs(res.llf - -1037.00209716807) < 2e-4
    lo, hi = profile_conf_int(res, which=["/var(_cons[class])"]).loc["/var(_cons[class])"]
    assert abs(lo - 0.0384170280558) < 1e-3 * 0.361645696392
    assert abs(hi - 0.361645696392) < 1e-3 * 0.361645696392


def test_melogit_nested_laplace_matches_lme4():
    tv = load("tvsfpors")
    res = smf.melogit("y prethk || school: || class:, intmethod(laplace)",
                      data=tv.assign(y=(tv["thk"] > 2).astype(int))).fit()
    assert abs(res.llf - -1037.00209716807) < 2e-4
    ci = res.conf_int(method="profile")
    for name, lo_want, hi_want in (
            ("/var(_cons[school])", 0.0944353615225444, 0.604637532592011),
            ("/var(_cons[school>class])", 0.0384170280558266, 0.361645696392128)):
        lo, hi = ci.loc[name]
        assert abs(lo - lo_want) < 1e-3 * hi_want
        assert abs(hi - hi_want) < 1e-3 * hi_want


def test_nested_adaptive_quadrature_limits_solve_the_profile_equation():
    """mepoisson with two nested levels by mvaghermite (7 points), the default: lme4 has no
    quadrature for several terms, so the limits are checked against the definition."""
    rng = np.random.default_rng(11)
    top, sub = np.repeat(np.arange(12), 12), np.repeat(np.arange(36), 4)
    x = rng.normal(size=top.size)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.6, 12)[top] + rng.normal(0, 0.5, 36)[sub]
    df = pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "t": top, "s": sub})
    res = smf.mepoisson("y x || t: || s:", data=df).fit()
    assert (res.model.intmethod, res.model.intpoints) == ("mvaghermite", 7)
    # stopping at changes of 1e-8 in the log likelihood: enough for the 1e-5 check, where
    # 1e-11 costs the simplex ~10^5 evaluations of the nested quadrature
    _check_profile_equation(res, "/var(_cons[t>s])",
                            {"xatol": 1e-7, "fatol": 1e-8, "maxiter": 20000})

