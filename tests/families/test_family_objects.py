"""Family objects: log densities, links, ancillary parameters, starts and the code table.

References are written out in the tests from the textbook densities (closed forms with
``gammaln``, not the scipy.stats calls the families use), central finite differences for
derivatives, and the definitions of Stata's ``meglm`` (``e(b)`` names, default links, titles).
"""
import pickle

import numpy as np
import pytest
from scipy import special

from statsmodels_me._kernels import codes
from statsmodels_me.families import (
    FAMILY_CLASSES,
    FAMILY_CODES,
    LINK_CODES,
    Family,
    get_family,
)
from statsmodels_me.spec.errors import DataError, SpecificationError

# meglm's families (the censored and survival ones have their own tests:
# test_censored_family.py, test_survival_families.py)
GLM_FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson", "nbinomial_mean",
                "nbinomial_constant", "gamma", "ordinal")
COMBOS = [(name, link) for name, cls in FAMILY_CLASSES.items() for link in cls.links
          if name in GLM_FAMILIES]
rng = np.random.default_rng(11)
ETA = np.linspace(-2.5, 2.5, 11)


def _closed_form_logpdf(name, y, mu, t, aux):
    """log f(y | mu) written from the densities' definitions."""
    lg = special.gammaln
    if name == "gaussian":
        s2 = np.exp(aux[0])
        return -0.5 * np.log(2 * np.pi * s2) - (y - mu) ** 2 / (2 * s2)
    if name in ("bernoulli", "binomial"):
        return lg(t + 1) - lg(y + 1) - lg(t - y + 1) + y * np.log(mu) + (t - y) * np.log1p(-mu)
    if name == "poisson":
        return y * np.log(mu) - mu - lg(y + 1)
    if name == "nbinomial_mean":       # size r = 1/alpha, P(success) = r / (r + mu)
        r = np.exp(-aux[0])
        return (lg(y + r) - lg(r) - lg(y + 1) + r * np.log(r / (r + mu))
                + y * np.log(mu / (r + mu)))
    if name == "nbinomial_constant":   # size mu/delta, P(success) = 1/(1 + delta)
        d = np.exp(aux[0])
        r = mu / d
        return lg(y + r) - lg(r) - lg(y + 1) - r * np.log1p(d) + y * np.log(d / (1 + d))
    if name == "gamma":                # shape k = 1/s, scale mu/k
        k = np.exp(-aux[0])
        return (k - 1) * np.log(y) - y * k / mu - lg(k) - k * np.log(mu / k)
    raise AssertionError(name)


def _data(name, n=11):
    t = np.ones(n)
    if name == "gaussian":
        y, aux = rng.normal(1.0, 2.0, n), np.array([0.3])
    elif name == "bernoulli":
        y, aux = rng.integers(0, 2, n).astype(float), np.zeros(0)
    elif name == "binomial":
        t = rng.integers(1, 6, n).astype(float)
        y, aux = np.floor(t * rng.uniform(size=n)), np.zeros(0)
    elif name == "gamma":
        y, aux = rng.gamma(2.0, 1.5, n), np.array([-0.4])
    elif name == "ordinal":
        y, aux = np.arange(n, dtype=float) % 4, np.array([-1.0, 0.2, 1.5])
    else:
        y = rng.poisson(2.0, n).astype(float)
        aux = np.array([-0.7]) if name.startswith("nbinomial") else np.zeros(0)
    return y, t, aux


def _inverse(link, eta):
    return {"identity": eta, "log": np.exp(eta), "logit": 1 / (1 + np.exp(-eta)),
            "probit": special.ndtr(eta), "cloglog": 1 - np.exp(-np.exp(eta))}[link]


@pytest.mark.parametrize("name,link", COMBOS)
def test_log_density_against_closed_forms(name, link):
    fam = get_family(name, link)
    y, t, aux = _data(name)
    eta = ETA + (3.0 if link == "identity" and name != "gaussian" else 0.0)  # mean > 0
    got = fam.loglike_obs(y, eta, t, aux)
    if name == "ordinal":
        cut = np.concatenate([[-np.inf], aux, [np.inf]])
        k = y.astype(int)
        want = np.log(_inverse(link, cut[k + 1] - eta) - _inverse(link, cut[k] - eta))
    else:
        want = _closed_form_logpdf(name, y, _inverse(link, eta), t, aux)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["poisson", "gamma", "nbinomial_mean"])
def test_identity_link_outside_the_support_is_minus_infinity(name):
    y, t, aux = _data(name, 3)
    assert np.all(get_family(name, "identity").loglike_obs(y, -np.ones(3), t, aux) == -np.inf)


@pytest.mark.parametrize("link", ["identity", "log", "logit", "probit", "cloglog"])
def test_inverse_link_and_derivatives(link):
    fam = next(cls(link) for cls in FAMILY_CLASSES.values() if link in cls.links)
    eta = ETA
    np.testing.assert_allclose(fam.inverse_link(eta), _inverse(link, eta), rtol=1e-14)
    h = 1e-5
    fd1 = (_inverse(link, eta + h) - _inverse(link, eta - h)) / (2 * h)
    np.testing.assert_allclose(fam.inverse_link_deriv(eta), fd1, rtol=1e-8, atol=1e-10)
    k = 1e-4
    fd2 = (_inverse(link, eta + k) - 2 * _inverse(link, eta) + _inverse(link, eta - k)) / k**2
    np.testing.assert_allclose(fam.inverse_link_deriv2(eta), fd2, rtol=1e-5, atol=1e-6)


def test_inverse_links_are_accurate_in_the_tails():
    """For very negative eta the cloglog probability 1 - exp(-x), x = exp(eta), is its series
    x - x^2/2 to full relative precision (1 - exp(-x) in floating point loses it), and the
    logit one is exp(eta) / (1 + exp(eta)); no overflow warnings."""
    eta = np.array([-30.0, -800.0])
    x = np.exp(eta)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(get_family("bernoulli", "cloglog").inverse_link(eta),
                                   x - x ** 2 / 2, rtol=1e-15)
        np.testing.assert_allclose(get_family("bernoulli", "logit").inverse_link(eta),
                                   np.exp(eta) / (1 + np.exp(eta)), rtol=1e-14)


@pytest.mark.parametrize("name,link", COMBOS)
def test_cdf_is_the_sum_of_the_probabilities(name, link):
    """P(Y <= y) = sum_{j <= y} f(j) for the discrete families; for the continuous ones the
    derivative of the cdf in y is the density."""
    fam = get_family(name, link)
    y, t, aux = _data(name, 5)
    eta = ETA[3:8] + (3.0 if link == "identity" and name != "gaussian" else 0.0)
    got = fam.cdf(y, eta, t, aux)
    if name in ("gaussian", "gamma"):
        h = 1e-6 * np.maximum(np.abs(y), 1)
        dens = (fam.cdf(y + h, eta, t, aux) - fam.cdf(y - h, eta, t, aux)) / (2 * h)
        np.testing.assert_allclose(dens, np.exp(fam.loglike_obs(y, eta, t, aux)), rtol=1e-6,
                                   atol=1e-10)
        return
    want = [sum(np.exp(fam.loglike_obs(np.array([j], float), eta[i:i + 1], t[i:i + 1], aux))[0]
                for j in range(int(y[i]) + 1)) for i in range(len(y))]
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("name,link", COMBOS)
def test_obs_constant_derivative_in_the_ancillary(name, link):
    fam = get_family(name, link)
    y, t, aux = _data(name)
    c, dc = fam.obs_constant(y, t, aux)
    assert c.shape == y.shape and dc.shape == (len(y), aux.size)
    for m in range(aux.size if name != "ordinal" else 0):
        e = np.zeros(aux.size)
        e[m] = 1e-6
        fd = (fam.obs_constant(y, t, aux + e)[0] - fam.obs_constant(y, t, aux - e)[0]) / 2e-6
        np.testing.assert_allclose(dc[:, m], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,names", [
    ("gaussian", ["/var(e.y)"]), ("bernoulli", []), ("binomial", []), ("poisson", []),
    ("nbinomial_mean", ["/lnalpha"]), ("nbinomial_constant", ["/lndelta"]),
    ("gamma", ["/logs"]), ("ordinal", ["/cut1", "/cut2", "/cut3"])])
def test_ancillary_names(name, names):
    fam = get_family(name)
    y = _data(name)[0]
    assert [p.name for p in fam.ancillary(y, depvar="y")] == names
    assert fam.n_ancillary(y) == len(names)


def test_gaussian_variance_is_displayed_after_the_random_effects():
    fam = get_family("gaussian")
    front, back = fam.ancillary_display(np.array([0.7]))
    assert front.size == 0 and back == pytest.approx([np.exp(0.7)], rel=1e-15)
    assert fam.ancillary_display_derivative([0.7]) == pytest.approx([np.exp(0.7)])
    assert fam.ancillary_from_display([], [np.exp(0.7)]) == pytest.approx([0.7], rel=1e-14)
    assert fam.ancillary()[0].positive


@pytest.mark.parametrize("name", ["nbinomial_mean", "ordinal"])
def test_other_ancillaries_are_displayed_as_estimated(name):
    fam = get_family(name)
    y, _, aux = _data(name)
    front, back = fam.ancillary_display(aux)
    np.testing.assert_array_equal(front, aux)
    assert back.size == 0
    np.testing.assert_array_equal(fam.ancillary_display_derivative(aux), np.ones(aux.size))
    np.testing.assert_array_equal(fam.ancillary_from_display(front, back), aux)
    assert [p.name for p in fam.ancillary_for(aux.size)] == [
        p.name for p in fam.ancillary(y)]


def test_ancillary_count_is_checked():
    with pytest.raises(SpecificationError, match="'gamma' has 1 ancillary parameter"):
        get_family("gamma").ancillary_display(np.zeros(2))


def test_ancillary_starts():
    y = np.array([0.0, 0, 1, 2, 2, 2, 3, 3])
    cum = np.array([2, 3, 6]) / 8
    np.testing.assert_allclose(get_family("ordinal", "logit").ancillary_start(y),
                               np.log(cum / (1 - cum)), rtol=1e-14)
    np.testing.assert_allclose(get_family("ordinal", "probit").ancillary_start(y),
                               special.ndtri(cum), rtol=1e-14)
    np.testing.assert_allclose(get_family("ordinal", "cloglog").ancillary_start(y),
                               np.log(-np.log1p(-cum)), rtol=1e-14)
    assert get_family("gaussian").ancillary_start(y)[0] == pytest.approx(np.log(np.var(y)))
    np.testing.assert_array_equal(get_family("nbinomial").ancillary_start(y), [0.0])


def test_constant_starts():
    y, t = np.array([0.0, 1, 1, 1]), np.ones(4)
    assert get_family("bernoulli", "logit").constant_start(y, t) == pytest.approx(np.log(3))
    assert get_family("bernoulli", "probit").constant_start(y, t) == pytest.approx(
        special.ndtri(0.75))
    assert get_family("bernoulli", "cloglog").constant_start(y, t) == pytest.approx(
        np.log(-np.log(0.25)))
    # all successes: the mean is clipped to 1 - 1e-3
    assert get_family("bernoulli").constant_start(np.ones(4), t) == pytest.approx(
        np.log(0.999 / 0.001))
    assert get_family("binomial").constant_start(np.array([1.0, 3]), np.array([2.0, 6])) \
        == pytest.approx(0.0, abs=1e-15)
    assert get_family("poisson").constant_start(np.array([2.0, 4]), None) == pytest.approx(
        np.log(3))
    assert get_family("poisson").constant_start(np.zeros(3), None) == pytest.approx(
        np.log(1e-3))
    assert get_family("gaussian").constant_start(np.array([-1.0, -3])) == -2.0


def test_outcome_checks_name_the_outcome():
    with pytest.raises(DataError, match="'c_use' is always 0"):
        get_family("bernoulli").check_outcome_varies(np.zeros(3), np.ones(3), "c_use")
    with pytest.raises(DataError, match="always a success"):
        get_family("binomial").check_outcome_varies(np.array([2.0, 3]), np.array([2.0, 3]))
    with pytest.raises(DataError, match="'n' is always 0"):
        get_family("nbinomial").check_outcome_varies(np.zeros(3), None, "n")
    get_family("gaussian").check_outcome_varies(np.zeros(3), None)  # nothing to check


def test_ordinal_categories():
    codes_, cats = get_family("ordinal").prepare_endog(np.array([4.0, 2, 2, 7]), "thk")
    np.testing.assert_array_equal(codes_, [1, 0, 0, 2])
    np.testing.assert_array_equal(cats, [2, 4, 7])
    with pytest.raises(DataError, match="'thk' has only one category"):
        get_family("ordinal").prepare_endog(np.ones(3), "thk")
    with pytest.raises(DataError, match="non-integer"):
        get_family("ordinal").prepare_endog(np.array([1.0, 1.5]), "thk")
    y, cats = get_family("poisson").prepare_endog(np.array([3.0, 1]))
    assert cats is None and list(y) == [3, 1]


def test_ordinal_probabilities_sum_to_one():
    fam = get_family("ordinal", "probit")
    aux = np.array([-1.0, 0.2, 1.5])
    total = sum(fam.probability(ETA, aux=aux, outcome=k) for k in range(4))
    np.testing.assert_allclose(total, 1.0, rtol=1e-14)
    np.testing.assert_allclose(fam.probability(ETA, aux=aux, outcome=0),
                               special.ndtr(-1.0 - ETA), rtol=1e-14)


def test_probability_and_mean():
    p = 1 / (1 + np.exp(-ETA))
    t = np.full(ETA.size, 4.0)
    np.testing.assert_allclose(get_family("binomial").probability(ETA, t), p, rtol=1e-14)
    np.testing.assert_allclose(get_family("binomial").mean(ETA, t), 4 * p, rtol=1e-14)
    np.testing.assert_allclose(get_family("poisson").probability(ETA), np.exp(ETA),
                               rtol=1e-14)
    with pytest.raises(SpecificationError, match="predict pr: not available after family "
                                                 "gamma"):
        get_family("gamma").probability(ETA)


def test_titles_and_latent_variances():
    assert (get_family("bernoulli", "cloglog").title,
            get_family("bernoulli", "cloglog").fixed_model_name) == (
        "complementary log-log", "cloglog model")
    assert get_family("ordinal", "probit").title == "oprobit"
    assert get_family("nbinomial", dispersion="constant").title == "negative binomial"
    assert (get_family("gaussian").title, get_family("gaussian").fixed_model_name) == (
        "GLM", "linear model")
    assert (get_family("gamma").title, get_family("gamma").fixed_model_name) == (
        "GLM", "fixed-effects model")
    assert get_family("poisson", "identity").title == "GLM"
    assert get_family("bernoulli").latent_residual_variance == pytest.approx(np.pi ** 2 / 3)
    assert get_family("ordinal", "probit").latent_residual_variance == 1.0
    assert get_family("poisson").latent_residual_variance is None


def test_get_family_options():
    assert get_family("nbinomial").name == "nbinomial_mean"
    fam = get_family("nbinomial", dispersion="constant")
    assert fam.name == "nbinomial_constant" and fam.stata_name == "nbinomial"
    assert get_family(fam) is fam and get_family(fam, "identity").link == "identity"
    with pytest.raises(SpecificationError, match="dispersion 'huge'"):
        get_family("nbinomial", dispersion="huge")
    with pytest.raises(SpecificationError, match="dispersion 'mean'.*'poisson'"):
        get_family("poisson", dispersion="mean")
    with pytest.raises(SpecificationError, match="unknown option.*scale"):
        get_family("poisson", scale=2)
    with pytest.raises(SpecificationError, match="'weibull'"):
        get_family("weibull")


@pytest.mark.parametrize("name,link", COMBOS)
def test_family_objects_pickle(name, link):
    fam = get_family(name, link)
    back = pickle.loads(pickle.dumps(fam))
    assert back == fam and back.link_obj.inverse(0.5) == fam.link_obj.inverse(0.5)


def test_every_family_and_link_has_one_kernel_code():
    assert set(FAMILY_CLASSES) == set(FAMILY_CODES)
    assert len(set(FAMILY_CODES.values())) == len(FAMILY_CODES)
    links = {lk for cls in FAMILY_CLASSES.values() for lk in cls.links}
    assert links == set(LINK_CODES)
    for name, cls in FAMILY_CLASSES.items():
        fam = cls()
        assert isinstance(fam, Family)
        assert (fam.code, fam.link_code) == (FAMILY_CODES[name], LINK_CODES[fam.link])


def test_generated_pxd_is_committed():
    """The kernels' enum file is what the generator writes from the code table."""
    assert codes.PXD_PATH.read_text() == codes.pxd_source()
    text = codes.pxd_source()
    assert "    FAM_NBINOMIAL_CONSTANT = 5\n" in text and "    LINK_CLOGLOG = 4\n" in text
    assert "    METHOD_LAPLACE = 3\n" in text


def test_residuals_against_statsmodels_glm_families():
    """Pearson, deviance and Anscombe residuals against statsmodels' GLM families (an
    independent implementation of McCullagh and Nelder's formulas)."""
    from statsmodels.genmod import families as smf_
    y = np.array([0.0, 1, 3, 5, 2])
    mu = np.array([0.5, 1.5, 2.5, 4.0, 2.2])
    n = np.array([1.0, 2, 4, 6, 3])
    cases = [("poisson", smf_.Poisson(), y, mu, None, ()),
             ("gamma", smf_.Gamma(), y + 0.5, mu, None, (0.1,)),
             ("nbinomial_mean", smf_.NegativeBinomial(alpha=np.exp(-0.3)), y, mu, None,
              (-0.3,)),
             ("binomial", smf_.Binomial(), y / n, mu / (n + 1), n, ())]
    for name, ref, yy, mm, t, aux in cases:
        fam = get_family(name)
        if t is not None:  # statsmodels works on proportions; ours on counts and trials
            got_p = fam.resid_pearson(yy * t, mm * t, t, aux)
            np.testing.assert_allclose(got_p, (yy - mm) / np.sqrt(mm * (1 - mm) / t),
                                       rtol=1e-12)
            got_d = fam.resid_deviance(yy * t, mm * t, t, aux)
            np.testing.assert_allclose(got_d, ref.resid_dev(yy, mm, var_weights=t),
                                       rtol=1e-10)
            continue
        np.testing.assert_allclose(fam.resid_pearson(yy, mm, t, aux),
                                   (yy - mm) / np.sqrt(ref.variance(mm)), rtol=1e-12)
        np.testing.assert_allclose(fam.resid_deviance(yy, mm, t, aux), ref.resid_dev(yy, mm),
                                   rtol=1e-10)
        np.testing.assert_allclose(fam.resid_anscombe(yy, mm, t, aux),
                                   ref.resid_anscombe(yy, mm), rtol=1e-10)
    with pytest.raises(SpecificationError, match="predict deviance: not available"):
        get_family("nbinomial", dispersion="constant").resid_deviance(y, mu)


def test_eform_labels_and_notes():
    """Stata's meglm output with or / irr / eform (the header notes under the table)."""
    from statsmodels_me.families import eform_label, eform_notes
    assert eform_label({"or": True}) == "Odds ratio"
    assert eform_label({"irr": True, "eform": True}) == "IRR"
    assert eform_label({"hr": False}) is None
    assert eform_notes("Odds ratio", True) == [
        "Estimates are transformed only in the first equation to odds ratios.",
        "_cons estimates baseline odds (conditional on zero random effects)."]
    assert eform_notes("IRR", False) == [
        "Estimates are transformed only in the first equation to incidence-rate ratios."]
    assert eform_notes("exp(b)", True)[1] == (
        "_cons estimates the baseline (conditional on zero random effects).")
    assert eform_notes(None, True) == []


def test_model_titles_and_header_rows():
    """Stata's meglm headers: melogit with binomial(n) names the trials variable; meglm with
    a family-link pair that has no command shows Family and Link."""
    assert get_family("bernoulli").model_title == "Mixed-effects logistic regression"
    assert get_family("binomial").header_rows("n") == [("Binomial variable", "n")]
    assert get_family("binomial").header_rows(5) == []
    assert get_family("gamma").model_title == "Mixed-effects GLM"
    assert get_family("gamma").header_rows() == [("Family", "gamma"), ("Link", "log")]
    assert get_family("nbinomial", "identity").header_rows() == [("Family", "nbinomial"),
                                                                 ("Link", "identity")]
    assert get_family("poisson").header_rows() == []


def test_inverse_link_derivatives_in_the_tails():
    """Closed forms at |eta| = 30 and 40: logit p' = e^-|z| / (1 + e^-|z|)^2 and
    p'' = sign(-z) p' (1 - e^-|z|) / (1 + e^-|z|); cloglog p' = exp(z - e^z) and
    p'' = p' (1 - e^z), whose series for z -> -inf are e^z (1 - e^z) and e^z (1 - 2 e^z)
    (exactly 0 where p' underflows); log: exp(z)."""
    z = np.array([-40.0, -30.0, 30.0, 40.0])
    e = np.exp(-np.abs(z))
    logit = get_family("bernoulli", "logit")
    np.testing.assert_allclose(logit.inverse_link_deriv(z), e / (1 + e) ** 2, rtol=1e-14)
    np.testing.assert_allclose(logit.inverse_link_deriv2(z),
                               -np.sign(z) * e * (1 - e) / (1 + e) ** 3, rtol=1e-14)
    cll = get_family("bernoulli", "cloglog")
    with np.errstate(over="raise", invalid="raise"):
        d1, d2 = cll.inverse_link_deriv(z), cll.inverse_link_deriv2(z)
    np.testing.assert_allclose(d1[:2], np.exp(z[:2]) * (1 - np.exp(z[:2])), rtol=1e-14)
    np.testing.assert_allclose(d2[:2], np.exp(z[:2]) * (1 - 2 * np.exp(z[:2])), rtol=1e-14)
    np.testing.assert_array_equal(d1[2:], 0.0)
    np.testing.assert_array_equal(d2[2:], 0.0)
    np.testing.assert_allclose(get_family("poisson").inverse_link_deriv2(z), np.exp(z),
                               rtol=1e-15)


@pytest.mark.parametrize("command,text,opts", [
    ("melogit", "yb x || g:", {}), ("meprobit", "yb x || g:", {}),
    ("mecloglog", "yb x || g:", {}), ("melogit", "yk x || g:", {"binomial": "n"}),
    ("mepoisson", "yk x || g:", {}), ("menbreg", "yk x || g:", {}),
    ("menbreg", "yk x || g:", {"dispersion": "constant"}), ("meologit", "yk x || g:", {}),
    ("meoprobit", "yk x || g:", {}), ("meglm", "yc x || g:", {}),
    ("meglm", "yc x || g:", {"family": "gamma"}),
    ("meglm", "yk x || g:", {"family": "nbinomial constant", "link": "identity"}),
    ("meglm", "yb x || g:", {"family": "bernoulli", "link": "probit"})])
def test_get_family_from_the_parsed_options(command, text, opts):
    """get_family(family, link, dispersion=...) on the options as the specification parser
    leaves them gives the family the estimator fits."""
    import pandas as pd

    import statsmodels_me.formula.api as smf
    g = np.repeat(np.arange(10), 4)
    d = pd.DataFrame({"g": g, "x": np.sin(np.arange(40.0)), "yb": np.arange(40) % 2,
                      "yk": np.arange(40) % 3, "n": np.full(40, 3), "yc": 1 + np.arange(40.0)})
    m = getattr(smf, command)(text, data=d, **opts)
    o = m.options
    kw = {"dispersion": o["dispersion"]} if o.get("dispersion") else {}
    fam = get_family(o["family"], o["link"], **kw)
    fitted = get_family(m.family, m.link)
    assert (fam.name, fam.link) == (fitted.name, fitted.link)
