"""predict, estat and lrtest after meglm.

References: lme4 1.1.31 (R 4.2.2) for the conditional modes and their conditional variances
(``ranef(fit, condVar=TRUE)``), and brute-force numerical integrals computed in the tests for
the empirical Bayes means and the marginal mean.
"""
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, special, stats
from statsmodels.genmod import families

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.postestimation import meglm_predict
from statsmodels_me.spec.errors import SpecificationError

BANGLA = "c_use urban age child1 child2 child3 || district:"


@pytest.fixture(scope="module")
def bangla():
    return load("bangladesh")


@pytest.fixture(scope="module")
def logit_fit(bangla):
    return smf.melogit(BANGLA, data=bangla).fit()


@pytest.fixture(scope="module")
def laplace_fit(bangla):
    return smf.melogit(BANGLA, data=bangla, intmethod="laplace").fit()


def at_point(model, display_params):
    """A results stand-in at given display-scale parameters (for predict at R's estimates)."""
    return SimpleNamespace(model=model,
                           params_internal=model._internal_from_display(
                               np.asarray(display_params)))


def per_group(frame, data):
    return frame.groupby(data["district"].to_numpy()).first()


# glmer(c_use ~ urban + age + child1 + child2 + child3 + (1 | district), binomial, nAGQ=1,
#       control=glmerControl(optimizer="bobyqa")): fixef, VarCorr, and for the districts in
# R's rows 1, 2, 3, 11, 60: ranef(fit, condVar=TRUE) (mode, postVar)
GLMER_SCALAR = dict(
    params=[0.7329732410611667, -0.0265944902195777, 1.1091457358121073, 1.3763485850995649,
            1.3451926143487083, -1.6896531866318156, 0.212365968447045],
    rows={1: (-0.722001122478, 0.0368596683862), 2: (-0.0357608134907, 0.109350407601),
          3: (0.204460296282, 0.193609288637), 11: (-0.701569638234, 0.135087699348),
          60: (-0.539210971694, 0.0786346885801)})
# the same with (1 + urban | district): ranef columns (Intercept), urban; postVar 2 x 2
GLMER_SLOPES = dict(
    params=[0.815198039151829, -0.026517457575374, 1.125567129691620, 1.368176857850328,
            1.354633655352942, -1.711655998601766, 0.641811408732297, 0.381154607436328,
            -0.394796207058038],
    rows={1: ((-0.917873283394, 0.366871493713), (0.0972115943672, -0.0980084328371,
                                                  0.1521490138629)),
          3: ((-0.0126593121908, 0.2292284365899), (0.381078215940, -0.393412948391,
                                                    0.616764058862)),
          11: ((-0.983151285607, 1.018338466725), (0.207234865005, -0.214651842266,
                                                   0.455219641100)),
          60: ((-0.536924047055, 0.180474374117), (0.122320684727, -0.125072413465,
                                                   0.274266735534))})


def test_conditional_modes_match_glmer_ranef(bangla):
    """Laplace / ebmodes: posterior modes and the inverse curvature there (lme4's condVar),
    evaluated at glmer's estimates. glmer's PIRLS stops at ~1e-6."""
    model = smf.melogit(BANGLA, data=bangla, intmethod="laplace")
    res = at_point(model, GLMER_SCALAR["params"])
    re = per_group(meglm_predict.predict(res, "reffects", ebmodes=True), bangla).iloc[:, 0]
    se = per_group(meglm_predict.predict(res, "reses", ebmodes=True), bangla).iloc[:, 0]
    levels = np.sort(bangla["district"].unique())
    for row, (mode, pvar) in GLMER_SCALAR["rows"].items():
        g = levels[row - 1]
        assert re[g] == pytest.approx(mode, abs=1e-5)
        assert se[g] ** 2 == pytest.approx(pvar, rel=1e-4)


def test_conditional_modes_match_glmer_ranef_slopes(bangla):
    model = smf.melogit(BANGLA + " urban", data=bangla, intmethod="laplace",
                        covariance="unstructured")
    res = at_point(model, GLMER_SLOPES["params"])
    means, covs = model.objective.engine.ebmodes(*_parts(model, res.params_internal))
    re = per_group(meglm_predict.predict(res, "reffects", ebmodes=True), bangla)
    assert list(re.columns) == ["urban[district]", "_cons[district]"]
    levels = np.sort(bangla["district"].unique())
    codes = {g: c for g, c in zip(bangla["district"], model.level.codes)}
    for row, ((m0, m1), (v00, v01, v11)) in GLMER_SLOPES["rows"].items():
        g = levels[row - 1]
        assert re.loc[g, "_cons[district]"] == pytest.approx(m0, abs=1e-5)
        assert re.loc[g, "urban[district]"] == pytest.approx(m1, abs=1e-5)
        # ours in (urban, _cons) order
        c = covs[codes[g]]
        assert c[1, 1] == pytest.approx(v00, rel=1e-4)
        assert c[0, 1] == pytest.approx(v01, rel=1e-4)
        assert c[0, 0] == pytest.approx(v11, rel=1e-4)


def _parts(model, internal):
    beta, aux, theta = model.split_params(internal)
    return beta, aux, model.cov.cholesky(theta)


def _posterior_moments(y, eta_fixed, var):
    """E[u | y] and sd[u | y] for one logit cluster, by adaptive scipy quadrature."""
    sd = np.sqrt(var)

    def lik(u):
        p = special.expit(eta_fixed + u)
        return np.exp(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))) * stats.norm.pdf(u, 0, sd)
    lim = 10 * sd
    m0 = integrate.quad(lik, -lim, lim, epsabs=0, epsrel=1e-12, limit=200)[0]
    m1 = integrate.quad(lambda u: u * lik(u), -lim, lim, epsabs=0, epsrel=1e-12,
                        limit=200)[0]
    m2 = integrate.quad(lambda u: u * u * lik(u), -lim, lim, epsabs=0, epsrel=1e-12,
                        limit=200)[0]
    mean = m1 / m0
    return mean, np.sqrt(m2 / m0 - mean ** 2)


def test_ebmeans_default_against_brute_force_integral(logit_fit, bangla):
    """Default reffects/reses: posterior means and standard deviations by mean-variance
    adaptive quadrature equal the integrals, to 1e-5 with the fit's 7 points (the posterior
    standard deviation carries a 3e-6 relative quadrature error) and to 1e-9 with 30 points."""
    res = logit_fit
    fine = at_point(smf.melogit(BANGLA, data=bangla, intpoints=30), res.params.to_numpy())
    re = res.predict("reffects").iloc[:, 0].to_numpy()
    se = res.predict("reses").iloc[:, 0].to_numpy()
    re30 = meglm_predict.predict(fine, "reffects").iloc[:, 0].to_numpy()
    se30 = meglm_predict.predict(fine, "reses").iloc[:, 0].to_numpy()
    xb = res.predict("xb").to_numpy()
    var = res.params["/var(_cons[district])"]
    y = bangla["c_use"].to_numpy()
    d = bangla["district"].to_numpy()
    for g in (1, 2, 11, 61):
        rows = d == g
        mean, sd = _posterior_moments(y[rows], xb[rows], var)
        assert re[rows][0] == pytest.approx(mean, abs=1e-5)
        assert se[rows][0] == pytest.approx(sd, abs=1e-5)
        assert re30[rows][0] == pytest.approx(mean, abs=1e-9)
        assert se30[rows][0] == pytest.approx(sd, abs=1e-9)


def test_mu_eta_xb_identities(logit_fit, bangla):
    res = logit_fit
    xb = res.predict("xb")
    names = ["urban", "age", "child1", "child2", "child3"]
    manual = bangla[names].to_numpy() @ res.params[names].to_numpy() + res.params["_cons"]
    np.testing.assert_allclose(xb.to_numpy(), manual, rtol=1e-12)
    re = res.predict("reffects").iloc[:, 0]
    eta = res.predict("eta")
    np.testing.assert_allclose(eta.to_numpy(), (xb + re).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu").to_numpy(), special.expit(eta.to_numpy()),
                               rtol=1e-12)
    modes = res.predict("reffects", ebmodes=True).iloc[:, 0]
    np.testing.assert_allclose(res.predict("mu", ebmodes=True).to_numpy(),
                               special.expit((xb + modes).to_numpy()), rtol=1e-12)
    # posterior means and modes differ, but little for clusters of 30 observations
    assert 0 < np.max(np.abs(modes - re)) < 0.05


def test_marginal_mean_against_brute_force_integral(logit_fit):
    """conditional=False: E over u ~ N(0, var) of invlogit(xb + u), integrated here by
    scipy quad."""
    res = logit_fit
    marg = res.predict("mu", conditional=False).to_numpy()
    xb = res.predict("xb").to_numpy()
    sd = np.sqrt(res.params["/var(_cons[district])"])
    for i in (0, 100, 1000, 1933):
        ref = integrate.quad(lambda u, e=xb[i]: special.expit(e + u) * stats.norm.pdf(u, 0, sd),
                             -12 * sd, 12 * sd, epsabs=1e-13)[0]
        assert marg[i] == pytest.approx(ref, abs=1e-9)
    with pytest.raises(SpecificationError, match="marginal linear predictor"):
        res.predict("eta", conditional=False)


@pytest.mark.parametrize("kind", ["pearson", "deviance", "anscombe"])
def test_residuals_bernoulli(logit_fit, bangla, kind):
    """Residuals at the conditional mean, against statsmodels' GLM family formulas."""
    y = bangla["c_use"].to_numpy().astype(float)
    mu = logit_fit.predict("mu").to_numpy()
    fam = families.Binomial()
    ref = {"pearson": (y - mu) / np.sqrt(fam.variance(mu)),
           "deviance": fam.resid_dev(y, mu),
           "anscombe": fam.resid_anscombe(y, mu)}[kind]
    np.testing.assert_allclose(logit_fit.predict(kind).to_numpy(), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["pearson", "deviance", "anscombe"])
def test_residuals_poisson(kind):
    rng = np.random.default_rng(3)
    import pandas as pd
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=200)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(scale=0.5, size=20)[g]))
    res = smf.mepoisson("y x || g:", data=pd.DataFrame({"y": y, "x": x, "g": g})).fit()
    mu = res.predict("mu").to_numpy()
    fam = families.Poisson()
    yf = y.astype(float)
    ref = {"pearson": (yf - mu) / np.sqrt(mu), "deviance": fam.resid_dev(yf, mu),
           "anscombe": fam.resid_anscombe(yf, mu)}[kind]
    np.testing.assert_allclose(res.predict(kind).to_numpy(), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shortcut,latent", [(smf.melogit, np.pi ** 2 / 3),
                                             (smf.meprobit, 1.0)])
def test_estat_icc_latent_scale(bangla, shortcut, latent):
    res = shortcut(BANGLA, data=bangla, intmethod="laplace").fit()
    v = res.params["/var(_cons[district])"]
    se_v = res.bse["/var(_cons[district])"]
    icc = res.estat_icc().loc["district"]
    assert icc["icc"] == pytest.approx(v / (v + latent), rel=1e-12)
    assert icc["std_err"] == pytest.approx(se_v * latent / (v + latent) ** 2, rel=1e-9)
    assert icc["ci_lower"] < icc["icc"] < icc["ci_upper"]


def test_estat_icc_needs_latent_scale(bangla):
    rng = np.random.default_rng(2)
    d = bangla.assign(n=rng.poisson(2.0, size=len(bangla)))
    res = smf.mepoisson("n urban || district:", data=d, intmethod="laplace").fit()
    with pytest.raises(SpecificationError, match="estat icc"):
        res.estat_icc()


def test_estat_sd_and_recovariance(bangla):
    res = smf.melogit(BANGLA + " urban", data=bangla, intmethod="laplace",
                      covariance="unstructured").fit()
    v1, v0 = res.params["/var(urban[district])"], res.params["/var(_cons[district])"]
    c = res.params["/cov(urban[district],_cons[district])"]
    sd = res.estat_sd()
    assert sd.loc["district: sd(urban)", "estimate"] == pytest.approx(np.sqrt(v1), rel=1e-12)
    assert sd.loc["district: sd(_cons)", "std_err"] == pytest.approx(
        res.bse["/var(_cons[district])"] / (2 * np.sqrt(v0)), rel=1e-9)
    assert sd.loc["district: corr(urban,_cons)", "estimate"] == pytest.approx(
        c / np.sqrt(v0 * v1), rel=1e-12)
    # glmmTMB 1.1.5, same model (Laplace): attr(VarCorr(fit)$cond$district, "correlation")
    assert sd.loc["district: corr(urban,_cons)", "estimate"] == pytest.approx(
        -0.798233765627, abs=1e-5)
    cov = res.estat_recovariance()["district"].to_numpy()
    np.testing.assert_allclose(cov, [[v1, c], [c, v0]], rtol=1e-12)


def test_estat_group(logit_fit, bangla):
    grp = logit_fit.estat_group().loc["district"]
    counts = bangla.groupby("district").size()
    assert grp["groups"] == 60 and grp["min"] == counts.min() and grp["max"] == counts.max()
    assert grp["avg"] == pytest.approx(counts.mean())


def test_lrtest_random_slope(laplace_fit, bangla):
    """Adding a random slope of urban with an unstructured covariance restricts one variance
    and one covariance: chibar2(1,2), p = (chi2_1 + chi2_2 tails) / 2."""
    full = smf.melogit(BANGLA + " urban", data=bangla, intmethod="laplace",
                       covariance="unstructured").fit()
    lr = full.lrtest(laplace_fit)
    stat = 2 * (full.llf - laplace_fit.llf)
    assert lr.stat == pytest.approx(stat, rel=1e-12)
    # the log likelihoods of glmmTMB 1.1.5 for the two models: -1199.50824274458 and
    # -1206.80784485038
    assert stat == pytest.approx(2 * (1206.80784485038 - 1199.50824274458), abs=1e-6)
    assert lr.kind == "chibar2(1,2)" and lr.df == 2
    assert lr.pvalue == pytest.approx(0.5 * (stats.chi2.sf(stat, 1) + stats.chi2.sf(stat, 2)))
    assert laplace_fit.lrtest(full).stat == pytest.approx(stat)
    plain = full.lrtest(laplace_fit, boundary=0)
    assert plain.kind == "chi2(2)"


def test_lrtest_refuses_different_approximations(laplace_fit, logit_fit):
    with pytest.raises(SpecificationError, match="approximated differently"):
        laplace_fit.lrtest(logit_fit)


def test_ordinal_predicted_probabilities():
    """pr after meologit: F(cut_k - eta) - F(cut_{k-1} - eta), summing to one over the
    outcomes; the marginal probabilities average the conditional ones over the random
    intercept (checked by scipy quad for one observation)."""
    tv = load("tvsfpors")
    res = smf.meologit("thk prethk cc tv || school:", data=tv, intmethod="laplace").fit()
    eta = res.predict("eta").to_numpy()
    cuts = res.params[["/cut1", "/cut2", "/cut3"]].to_numpy()
    cdf = special.expit(np.subtract.outer(cuts, eta))
    bounds = np.vstack([np.zeros_like(eta), cdf, np.ones_like(eta)])
    total = np.zeros_like(eta)
    for k, value in enumerate((1, 2, 3, 4)):
        pr = res.predict("pr", outcome=value).to_numpy()
        np.testing.assert_allclose(pr, bounds[k + 1] - bounds[k], rtol=1e-10)
        total += pr
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    xb = res.predict("xb").to_numpy()[0]
    sd = np.sqrt(res.params["/var(_cons[school])"])
    marg = res.predict("pr", outcome=1, conditional=False).to_numpy()[0]
    ref = integrate.quad(lambda u: special.expit(cuts[0] - xb - u) * stats.norm.pdf(u, 0, sd),
                         -12 * sd, 12 * sd, epsabs=1e-13)[0]
    assert marg == pytest.approx(ref, abs=1e-9)
    with pytest.raises(SpecificationError, match="outcome"):
        res.predict("pr", outcome=7)


def test_exposure_enters_xb_unless_nooffset():
    """Stata's predict includes offset()/exposure() in xb (and so in eta and mu) unless
    nooffset is given."""
    import pandas as pd
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(15), 8)
    x = rng.normal(size=120)
    t = rng.uniform(0.5, 3.0, size=120)
    y = rng.poisson(t * np.exp(0.2 + 0.4 * x + rng.normal(scale=0.4, size=15)[g]))
    d = pd.DataFrame({"y": y, "x": x, "t": t, "g": g})
    res = smf.mepoisson("y x || g:", data=d, exposure="t").fit()
    fixed = res.params["_cons"] + res.params["x"] * x
    np.testing.assert_allclose(res.predict("xb").to_numpy(), fixed + np.log(t), rtol=1e-12)
    np.testing.assert_allclose(res.predict("xb", nooffset=True).to_numpy(), fixed,
                               rtol=1e-12)
    mu = res.predict("mu").to_numpy()
    np.testing.assert_allclose(res.predict("mu", nooffset=True).to_numpy(), mu / t,
                               rtol=1e-12)
    re = res.predict("reffects").iloc[:, 0].to_numpy()
    np.testing.assert_allclose(mu, t * np.exp(fixed + re), rtol=1e-12)
    # marginal mean of a Poisson-lognormal: exp(xb + var/2)
    marg = res.predict("mu", conditional=False).to_numpy()
    np.testing.assert_allclose(marg, t * np.exp(fixed + res.params["/var(_cons[g])"] / 2),
                               rtol=1e-10)


@pytest.mark.parametrize("family", ["gamma", "nbinomial"])
@pytest.mark.parametrize("kind", ["pearson", "deviance", "anscombe"])
def test_residuals_gamma_and_negative_binomial(family, kind):
    """Against statsmodels' GLM family formulas (NB2 with the fitted alpha)."""
    import pandas as pd
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=200)
    mu0 = np.exp(0.3 + 0.4 * x + rng.normal(scale=0.4, size=20)[g])
    y = rng.gamma(2.0, mu0 / 2) if family == "gamma" else rng.poisson(rng.gamma(2.0, mu0 / 2))
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    if family == "gamma":
        res = smf.meglm("y x || g:", data=d, family="gamma", intmethod="laplace").fit()
        fam = families.Gamma(families.links.Log())
    else:
        res = smf.menbreg("y x || g:", data=d, intmethod="laplace").fit()
        fam = families.NegativeBinomial(alpha=float(np.exp(res.params["/lnalpha"])))
    mu = res.predict("mu").to_numpy()
    yf = y.astype(float)
    ref = {"pearson": (yf - mu) / np.sqrt(fam.variance(mu)),
           "deviance": fam.resid_dev(yf, mu),
           "anscombe": fam.resid_anscombe(yf, mu)}[kind]
    np.testing.assert_allclose(res.predict(kind).to_numpy(), ref, rtol=1e-9, atol=1e-12)


BANGLA_X = ["urban", "age", "child1", "child2", "child3"]


def _fixed_part(res, data, names):
    """X beta from the data columns and the estimated coefficients."""
    return res.params["_cons"] + sum(res.params[n] * data[n].to_numpy(float) for n in names)


def test_pr_after_melogit_is_the_probability(logit_fit, bangla):
    """pr after a binary model is P(y = 1 | eta) = expit(eta): with the predicted random
    effects by default, from the fixed part alone with conditional='fixedonly'."""
    eta = _fixed_part(logit_fit, bangla, BANGLA_X) \
        + logit_fit.predict("reffects").iloc[:, 0].to_numpy()
    pr = logit_fit.predict("pr")
    assert pr.name == "pr"
    np.testing.assert_allclose(pr.to_numpy(), special.expit(eta), rtol=1e-12)
    np.testing.assert_allclose(logit_fit.predict("pr", conditional="fixedonly").to_numpy(),
                               special.expit(_fixed_part(logit_fit, bangla, BANGLA_X)),
                               rtol=1e-12)


def test_fixedonly_ignores_the_random_effects(logit_fit, bangla):
    xb = _fixed_part(logit_fit, bangla, BANGLA_X)
    fixed = logit_fit.predict("mu", conditional="fixedonly").to_numpy()
    np.testing.assert_allclose(fixed, special.expit(xb), rtol=1e-12)
    # the empirical Bayes prediction differs wherever the district's effect is not zero
    assert np.max(np.abs(fixed - logit_fit.predict("mu").to_numpy())) > 0.05
    np.testing.assert_allclose(logit_fit.predict("eta", conditional="fixedonly").to_numpy(),
                               xb, rtol=1e-12)
    # conditional modes: the same as ebmodes=True
    np.testing.assert_allclose(logit_fit.predict("mu", conditional="ebmodes").to_numpy(),
                               logit_fit.predict("mu", ebmodes=True).to_numpy(), rtol=0)


def test_conditional_values_are_checked(logit_fit):
    with pytest.raises(SpecificationError, match="conditional='ebmean'"):
        logit_fit.predict("mu", conditional="ebmean")
    with pytest.raises(SpecificationError, match="ebmodes=True conflicts"):
        logit_fit.predict("mu", conditional="fixedonly", ebmodes=True)


def _poisson_fit():
    import pandas as pd
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=200)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(scale=0.5, size=20)[g]))
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    return d, smf.mepoisson("y x || g:", data=d).fit()


def test_pr_after_mepoisson_is_the_mean():
    """Stata: pr after a count model is the predicted mean; density and distribution are
    the Poisson pmf and cdf at the observed count."""
    d, res = _poisson_fit()
    re = res.predict("reffects").iloc[:, 0].to_numpy()
    mu = np.exp(res.params["_cons"] + res.params["x"] * d["x"].to_numpy() + re)
    np.testing.assert_allclose(res.predict("pr").to_numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu").to_numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu", conditional="fixedonly").to_numpy(),
                               np.exp(res.params["_cons"] + res.params["x"] * d["x"]),
                               rtol=1e-12)
    np.testing.assert_allclose(res.predict("density").to_numpy(),
                               stats.poisson.pmf(d["y"], mu), rtol=1e-10)
    np.testing.assert_allclose(res.predict("distribution").to_numpy(),
                               stats.poisson.cdf(d["y"], mu), rtol=1e-10)


def test_pr_after_binomial_is_per_trial():
    """binomial(n): mu = n p and pr = p, p = expit(eta); density is the binomial pmf."""
    import pandas as pd
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(25), 8)
    x = rng.normal(size=200)
    n = rng.integers(1, 9, size=200)
    y = rng.binomial(n, special.expit(-0.3 + 0.7 * x + rng.normal(scale=0.6, size=25)[g]))
    d = pd.DataFrame({"y": y, "x": x, "g": g, "n": n})
    res = smf.melogit("y x || g:", data=d, binomial="n", intmethod="laplace").fit()
    p = special.expit(res.params["_cons"] + res.params["x"] * x
                      + res.predict("reffects").iloc[:, 0].to_numpy())
    np.testing.assert_allclose(res.predict("pr").to_numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu").to_numpy(), n * p, rtol=1e-12)
    np.testing.assert_allclose(res.predict("density").to_numpy(), stats.binom.pmf(y, n, p),
                               rtol=1e-10)
    p0 = special.expit(res.params["_cons"] + res.params["x"] * x)
    np.testing.assert_allclose(res.predict("pr", conditional="fixedonly").to_numpy(), p0,
                               rtol=1e-12)


def test_bernoulli_density_and_distribution(logit_fit, bangla):
    y = bangla["c_use"].to_numpy(float)
    p = logit_fit.predict("pr").to_numpy()
    np.testing.assert_allclose(logit_fit.predict("density").to_numpy(),
                               np.where(y == 1, p, 1 - p), rtol=1e-12)
    np.testing.assert_allclose(logit_fit.predict("distribution").to_numpy(),
                               np.where(y == 1, 1.0, 1 - p), rtol=1e-12)


def test_statistics_the_family_does_not_have_are_refused():
    tv = load("tvsfpors")
    res = smf.meologit("thk prethk cc tv || school:", data=tv, intmethod="laplace").fit()
    with pytest.raises(SpecificationError, match="predict mu: not available after family "
                                                 "ordinal"):
        res.predict("mu")
    with pytest.raises(SpecificationError, match="unknown statistic 'prob'"):
        res.predict("prob")


def test_params_internal_splits_into_the_displayed_estimates(logit_fit):
    # reference: the displayed params (fixed effects and var(_cons[district])), which the
    # estimator computes from the same internal point through its display map
    model = logit_fit.model
    beta, aux, theta = model.split_params(logit_fit.params_internal)
    np.testing.assert_array_equal(beta, np.asarray(logit_fit.params)[:model.k_fe])
    assert len(aux) == 0
    L = model.cov.cholesky(theta)
    assert (L @ L.T)[0, 0] == pytest.approx(logit_fit.params["/var(_cons[district])"],
                                            rel=1e-12)
    Z = model.random_effects_exog()          # random intercept: a column of ones
    assert Z.shape == (len(model.fixed_exog), 1) and np.all(Z == 1)
