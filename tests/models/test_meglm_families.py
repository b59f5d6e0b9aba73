"""Every meglm family and link at the model level against an independent fit in R.

The references were computed once with R 4.2.2 (lme4 1.1.31, glmmTMB 1.1.5,
ordinal 2022.11.16) on the same data; the R call is quoted next to each number. R is never
called from the tests. The simulated data come from :func:`simulate` (numpy's PCG64 stream,
rounded to a few decimals and written to CSV for R); a checksum guards against a change of the
random stream.

Tolerances: log likelihoods 1e-6 relative when both programs evaluate the same approximation
(Laplace = glmer nAGQ=1 / glmmTMB; mode-curvature adaptive quadrature = glmer/clmm nAGQ=7),
estimates 1e-4 (R's optimizers stop on looser criteria), standard errors 1e-3.
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


def simulate(seed=20261125, n_groups=40, size=10):
    """Two-level data with one covariate and a normal group effect (sd 0.6) for each family."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(1, n_groups + 1), size)
    n = len(g)
    x = np.round(rng.normal(size=n), 3)
    u = rng.normal(scale=0.6, size=n_groups)[g - 1]
    t = np.round(rng.uniform(0.5, 2.0, size=n), 2)
    trials = rng.integers(1, 11, size=n)
    eta = 0.3 + 0.5 * x + u
    ybin = rng.binomial(trials, 1 / (1 + np.exp(-(-0.5 + 0.8 * x + u))))
    ypois = rng.poisson(t * np.exp(eta))
    # NB2: gamma-Poisson with alpha = 0.5; NB1: gamma-Poisson with delta = 0.8
    ynb2 = rng.poisson(rng.gamma(1 / 0.5, 0.5 * np.exp(eta)))
    mu1 = np.exp(eta)
    ynb1 = rng.poisson(rng.gamma(mu1 / 0.8, 0.8))
    ygam = np.round(rng.gamma(2.0, np.exp(eta) / 2.0), 4) + 1e-4
    ygau = np.round(1.0 + 2.0 * x + u + rng.normal(size=n), 4)
    return pd.DataFrame({"g": g, "x": x, "t": t, "trials": trials, "ybin": ybin,
                         "ypois": ypois, "ynb2": ynb2, "ynb1": ynb1, "ygam": ygam,
                         "ygau": ygau})


def test_simulated_data_stream():
    """The references below were computed on exactly these data."""
    d = simulate()
    assert len(d) == 400
    sums = d[["t", "trials", "ybin", "ypois", "ynb2", "ynb1"]].sum()
    assert sums.to_dict() == pytest.approx({"t": 510.31, "trials": 2125, "ybin": 838,
                                            "ypois": 912, "ynb2": 784, "ynb1": 720})
    assert d["x"].sum() == pytest.approx(7.758, abs=1e-9)
    assert d["ygam"].sum() == pytest.approx(699.9, abs=1e-6)
    assert d["ygau"].sum() == pytest.approx(420.0251, abs=1e-6)


BANGLA = "c_use urban age child1 child2 child3 || district:"
BANGLA_X = ["_cons", "urban", "age", "child1", "child2", "child3"]  # R's order
SIM_X = ["_cons", "x"]


def _bangla():
    return load("bangladesh")


# Each case: constructor, command, data, options, the R reference, and what it compares.
#   beta/se: fixed effects in R's order (names in "x"); aux: {our name: value};
#   var: the random-intercept variance(s) {our name: value};
#   llf_same: whether R evaluates the same approximation (llf compared to 1e-6 relative).
CASES = {
    # glmer(c_use ~ urban + age + child1 + child2 + child3 + (1|district), binomial("logit"),
    #       nAGQ=7, control=glmerControl(optimizer="bobyqa")), lme4 1.1.31
    "bernoulli_logit_aghq7": dict(
        fn=smf.melogit, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="mcaghermite", intpoints=7), llf=-1206.67423506831,
        beta=[-1.6901478344542, 0.7324138309131, -0.0265998427534, 1.1093255878597,
              1.3765183935233, 1.3455945902806],
        se=[0.147726049004, 0.119481633494, 0.007887020822, 0.158012069444, 0.174799621105,
            0.179603789581],
        var={"/var(_cons[district])": 0.215497428183}),
    # glmmTMB(c_use ~ urban + age + child1 + child2 + child3 + (1|district), binomial),
    # Laplace, glmmTMB 1.1.5
    "bernoulli_logit_laplace": dict(
        fn=smf.melogit, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="laplace"), llf=-1206.80784485038,
        beta=[-1.6897146568022, 0.7329948601618, -0.0265949498637, 1.1091891928805,
              1.3764003577096, 1.3452360290119],
        se=[0.147514060639, 0.119424788392, 0.007886022841, 0.157989879102, 0.174780849506,
            0.179578806956],
        var={"/var(_cons[district])": 0.212388889469}),
    # glmer(..., binomial("probit"), nAGQ=7), lme4 1.1.31
    "bernoulli_probit_aghq7": dict(
        fn=smf.meprobit, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="mcaghermite", intpoints=7), llf=-1206.37127854571,
        beta=[-1.0285542245604, 0.4491110457297, -0.0162861627444, 0.6701795189491,
              0.8348131917740, 0.8148054773211],
        se=[0.087012710686, 0.072713052389, 0.004797693429, 0.094725322208, 0.104894420439,
            0.107364845495],
        var={"/var(_cons[district])": 0.0798404965123}),
    # glmer(..., binomial("cloglog"), nAGQ=7), lme4 1.1.31
    "bernoulli_cloglog_aghq7": dict(
        fn=smf.mecloglog, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="mcaghermite", intpoints=7), llf=-1210.04929892829,
        beta=[-1.6582974892676, 0.5185925346794, -0.0184477999965, 0.8297626751726,
              1.0273799515302, 1.0122610632603],
        se=[0.116551495751, 0.086313908856, 0.005817347928, 0.121332716894, 0.131537223325,
            0.137878130927],
        var={"/var(_cons[district])": 0.115154526475}),
    # glmmTMB(c_use ~ urban + age + child1 + child2 + child3 + (1|district),
    # binomial(link)), Laplace (exact curvature), glmmTMB 1.1.5
    "bernoulli_probit_laplace": dict(
        fn=smf.meprobit, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="laplace"), llf=-1206.3969095459,
        beta=[-1.0285070235694, 0.4491761294472, -0.0162852269046, 0.6701788280196,
              0.8348023866579, 0.8147736287769],
        se=[0.086988466444, 0.072706132362, 0.004797618922, 0.094724332141, 0.104893215479,
            0.107363597608],
        var={"/var(_cons[district])": 0.0796040192245}),
    "bernoulli_cloglog_laplace": dict(
        fn=smf.mecloglog, text=BANGLA, data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="laplace"), llf=-1210.03446481992,
        beta=[-1.6581817212517, 0.5187019542646, -0.0184453610057, 0.8297082427468,
              1.0272913682898, 1.0121259463409],
        se=[0.11650201354, 0.08629528852, 0.00581704795, 0.12132806630, 0.13153091535,
            0.13786895153],
        var={"/var(_cons[district])": 0.114639034941}),
    # glmmTMB(cbind(ybin, trials - ybin) ~ x + (1|g), binomial), Laplace, glmmTMB 1.1.5
    "binomial_trials_laplace": dict(
        fn=smf.melogit, text="ybin x || g:", data=simulate, x=SIM_X,
        opts=dict(binomial="trials", intmethod="laplace"), llf=-558.630124023931,
        beta=[-0.530153308607, 0.736878459047], se=[0.11859253252, 0.05481425547],
        var={"/var(_cons[g])": 0.458536093571}),
    # glmer(cbind(ybin, trials - ybin) ~ x + (1|g), binomial, nAGQ=7), lme4 1.1.31; glmer's
    # nAGQ > 1 deviance drops the log binomial coefficients, so its llf is not comparable
    "binomial_trials_aghq7": dict(
        fn=smf.melogit, text="ybin x || g:", data=simulate, x=SIM_X,
        opts=dict(binomial="trials", intmethod="mcaghermite", intpoints=7), llf=None,
        beta=[-0.530240825895, 0.736799583131], se=[0.11880481366, 0.05481460741],
        var={"/var(_cons[g])": 0.460526042782}),
    # glmmTMB(ypois ~ x + (1|g) + offset(log(t)), poisson), Laplace, glmmTMB 1.1.5
    "poisson_exposure_laplace": dict(
        fn=smf.mepoisson, text="ypois x || g:", data=simulate, x=SIM_X,
        opts=dict(exposure="t", intmethod="laplace"), llf=-656.415873293687,
        beta=[0.155917055853, 0.524492934022], se=[0.1321861781, 0.0367122836],
        var={"/var(_cons[g])": 0.605203946264}),
    # glmmTMB(ynb2 ~ x + (1|g), nbinom2), Laplace: Var = mu + mu^2/theta with
    # theta = sigma(fit) = exp(betad), so Stata's /lnalpha = log(1/theta) = -betad
    "nbinomial_mean_laplace": dict(
        fn=smf.menbreg, text="ynb2 x || g:", data=simulate, x=SIM_X,
        opts=dict(intmethod="laplace"), llf=-674.885294353858,
        beta=[0.231273633123, 0.504657402246], se=[0.12619462789, 0.06123400137],
        aux={"/lnalpha": -0.504258414699}, var={"/var(_cons[g])": 0.459945054531}),
    # glmmTMB(ynb1 ~ x + (1|g), nbinom1), Laplace: Var = mu (1 + phi), phi = exp(betad), the
    # same negative binomial (size mu/phi) as Stata's dispersion(constant) with delta = phi,
    # so /lndelta = betad
    "nbinomial_constant_laplace": dict(
        fn=smf.menbreg, text="ynb1 x || g:", data=simulate, x=SIM_X,
        opts=dict(intmethod="laplace", dispersion="constant"), llf=-641.580121957248,
        beta=[0.163957348844, 0.597441377094], se=[0.12652196121, 0.05014413229],
        aux={"/lndelta": -0.32921309206}, var={"/var(_cons[g])": 0.451149412285}),
    # glmmTMB(ygam ~ x + (1|g), Gamma(link="log")), Laplace: shape = exp(betad) = 1/sigma^2
    # and Var = sigma^2 mu^2, so Stata's /logs = log(sigma^2) = -betad
    "gamma_log_laplace": dict(
        fn=smf.meglm, text="ygam x || g:", data=simulate, x=SIM_X,
        opts=dict(family="gamma", link="log", intmethod="laplace"), llf=-503.823353220864,
        beta=[0.25283059410, 0.52863434243], se=[0.09703227721, 0.03963002349],
        aux={"/logs": -0.641986309318}, var={"/var(_cons[g])": 0.322412921048}),
    # lmer(ygau ~ x + (1|g), REML=FALSE), lme4 1.1.31: exact likelihood. lmer's fixed-effect
    # SEs are sigma^2 (X'V^-1 X)^-1 at the estimates, ours the inverse observed information of
    # all parameters (Stata); they agree to 1e-3 here
    "gaussian_ml": dict(
        fn=smf.meglm, text="ygau x || g:", data=simulate, x=SIM_X,
        opts={}, llf=-623.312825168699,
        beta=[1.01324164008, 1.89848465688], se=[0.11565660155, 0.05476670586],
        var={"/var(_cons[g])": 0.42188984615, "/var(e.ygau)": 1.13123002399}),
    # glmmTMB(c_use ~ urban + age + child1 + child2 + child3 + (1 + urban|district),
    # binomial), Laplace, glmmTMB 1.1.5; VarCorr(fit)$cond$district
    "bernoulli_logit_slopes_unstructured_laplace": dict(
        fn=smf.melogit, text=BANGLA + " urban", data=_bangla, x=BANGLA_X,
        opts=dict(intmethod="laplace", covariance="unstructured"), llf=-1199.50824274458,
        beta=[-1.7118488740599, 0.8152846370108, -0.0265204712232, 1.1256969058403,
              1.3683290747330, 1.3547978624136],
        se=[0.159995996265, 0.169847957167, 0.008015653063, 0.160184849922, 0.177141948131,
            0.182758518246],
        var={"/var(_cons[district])": 0.381251502483, "/var(urban[district])": 0.641936596995,
             "/cov(urban[district],_cons[district])": -0.394895281449}),
}
TVSF = "thk prethk cc tv || school:"
# clmm(thk ~ prethk + cc + tv + (1|school), link=..., nAGQ=...), ordinal 2022.11.16 (thk an
# ordered factor); clmm's thresholds are our /cut, its nAGQ > 1 is mode-curvature adaptive
for _link, _fn, _q, _llf, _coef, _se, _var in [
    ("logit", smf.meologit, 7, -2121.0697471349,
     [-0.2043738151937, 1.0373780627932, 2.2151633199884, 0.4030650187013, 0.6852489291081,
      0.0471569706153],
     [0.15351637789, 0.15448690336, 0.16204745819, 0.03887652637, 0.14718202736,
      0.14643658490], 0.0827720469781),
    ("logit", smf.meologit, 1, -2121.08906681581,
     [-0.2042274016608, 1.0374957641826, 2.2152569786848, 0.4031065187237, 0.6852248875248,
      0.0471894525291],
     [0.15337892804, 0.15434974896, 0.16191616355, 0.03887623482, 0.14698902455,
      0.14624252149], 0.0823969827741),
    ("probit", smf.meoprobit, 7, -2123.1748930522,
     [-0.1423765881749, 0.6025404785745, 1.3159497120322, 0.2364699604384, 0.3977404560469,
      0.0256505672336],
     [0.09358779937, 0.09387187870, 0.09658406215, 0.02276799341, 0.09055075634,
      0.09035189745], 0.0326458605545),
]:
    CASES[f"ordinal_{_link}_{'aghq7' if _q == 7 else 'laplace'}"] = dict(
        fn=_fn, text=TVSF, data=lambda: load("tvsfpors"),
        x=["/cut1", "/cut2", "/cut3", "prethk", "cc", "tv"],
        opts=dict(intmethod="mcaghermite", intpoints=7) if _q == 7 else dict(
            intmethod="laplace"),
        llf=_llf, beta=_coef, se=_se, var={"/var(_cons[school])": _var})


def close(ours, ref, scale, tol):
    """|ours - ref| <= tol * max(|ref|, scale): relative, but on the scale of the standard
    error for estimates near zero."""
    return abs(ours - ref) <= tol * max(abs(ref), scale)


@pytest.fixture(scope="module", params=sorted(CASES))
def case_fit(request):
    c = CASES[request.param]
    return c, c["fn"](c["text"], data=c["data"](), **c["opts"]).fit()


def test_against_r(case_fit):
    c, res = case_fit
    if c["llf"] is not None:
        assert abs(res.llf - c["llf"]) <= 1e-6 * abs(c["llf"])
    for name, b, se in zip(c["x"], c["beta"], c["se"], strict=True):
        assert close(res.params[name], b, se, 1e-4), (name, res.params[name], b)
        assert abs(res.bse[name] - se) <= 1e-3 * se, (name, res.bse[name], se)
    for name, v in {**c.get("aux", {}), **c["var"]}.items():
        assert close(res.params[name], v, res.bse[name], 1e-4), (name, res.params[name], v)
    assert np.all(np.isfinite(res.bse))


# glmer(c_use ~ urban + age + child1 + child2 + child3 + (1|district), binomial(link),
# nAGQ=q, control=glmerControl(optimizer="bobyqa")), lme4 1.1.31: (llf, fixef, variance).
# glmer's nAGQ=1 is the Laplace approximation only for the canonical logit link: for probit and
# cloglog it uses the expected (PIRLS) curvature, not the exact one (ours, glmmTMB's and
# Stata's), so those are compared with glmmTMB in CASES above.
GLMER_POINTS = {
    ("logit", 1): (-1206.80789036805, [-1.6896531866318, 0.7329732410612, -0.0265944902196,
                                       1.1091457358121, 1.3763485850996, 1.3451926143487],
                   0.212365968447),
    ("logit", 7): (-1206.67423506831, [-1.6901478344542, 0.7324138309131, -0.0265998427534,
                                       1.1093255878597, 1.3765183935233, 1.3455945902806],
                   0.215497428183),
    ("probit", 7): (-1206.37127854571, [-1.0285542245604, 0.4491110457297, -0.0162861627444,
                                        0.6701795189491, 0.8348131917740, 0.8148054773211],
                    0.0798404965123),
    ("cloglog", 7): (-1210.04929892829, [-1.6582974892676, 0.5185925346794, -0.0184477999965,
                                         0.8297626751726, 1.0273799515302, 1.0122610632603],
                     0.115154526475),
}


@pytest.mark.parametrize("link,q", sorted(GLMER_POINTS))
def test_same_approximation_as_glmer_at_its_estimates(link, q):
    """glmer's nAGQ=q > 1 is our mcaghermite with q points and (logit) nAGQ=1 our laplace: at
    glmer's estimates both programs compute the same number, to 1e-9 for the quadrature; glmer's
    Laplace value carries its PIRLS tolerance (4e-5 here), hence 1e-6 relative there."""
    llf, beta, var = GLMER_POINTS[(link, q)]
    opts = dict(intmethod="laplace") if q == 1 else dict(intmethod="mcaghermite", intpoints=q)
    model = smf.meglm(BANGLA, data=load("bangladesh"), family="bernoulli", link=link, **opts)
    params = np.array(beta[1:] + beta[:1] + [var])
    assert abs(model.loglike(params) - llf) <= (1e-6 if q == 1 else 1e-9) * abs(llf)


def test_random_slope_same_approximation_as_glmer_at_its_estimates():
    """glmer(c_use ~ urban + age + child1 + child2 + child3 + (1 + urban | district),
    binomial, nAGQ=1, control=glmerControl(optimizer="bobyqa")), lme4 1.1.31: logLik
    -1199.50841754912 at its estimates (fixef; VarCorr var(Intercept), var(urban), cov).
    Ours at that point agrees to glmer's PIRLS tolerance; our optimum is higher."""
    model = smf.melogit(BANGLA + " urban", data=load("bangladesh"), intmethod="laplace",
                        covariance="unstructured")
    params = [0.815198039151829, -0.026517457575374, 1.125567129691620, 1.368176857850328,
              1.354633655352942, -1.711655998601766, 0.641811408732297, 0.381154607436328,
              -0.394796207058038]
    llf = -1199.50841754912
    assert abs(model.loglike(params) - llf) <= 1e-6 * abs(llf)
    assert model.loglike(params) > llf  # glmer's own value is below the exact Laplace value


def test_offset_equals_exposure():
    """offset(lnt) with lnt = log(t) is exposure(t)."""
    d = simulate()
    d["lnt"] = np.log(d["t"])
    a = smf.mepoisson("ypois x || g:", data=d, exposure="t", intmethod="laplace").fit()
    b = smf.mepoisson("ypois x || g:", data=d, offset="lnt", intmethod="laplace").fit()
    assert b.llf == pytest.approx(a.llf, rel=1e-12)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-7)
    # glmmTMB(ypois ~ x + (1|g) + offset(log(t)), poisson): -656.415873293687 (CASES above)
    assert b.llf == pytest.approx(-656.415873293687, rel=1e-9)
