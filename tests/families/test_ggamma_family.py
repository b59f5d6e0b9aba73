"""The generalized gamma AFT family of ``mestreg, distribution(gamma)``.

References, all independent of the kernels:

- scipy.stats.gengamma (Stacy's form): with u = gamma (t / e^eta)^(kappa / sigma) ~
  Gamma(gamma, 1), gamma = kappa^-2, it is gengamma(a=gamma, c=kappa/sigma,
  scale=exp(eta) gamma^(-sigma/kappa)); scipy handles c < 0 (S = P(gamma, u));
- mpmath quadrature of the log-gamma density f_w(w) = |kappa| u^gamma e^-u / Gamma(gamma)
  for log S in the far tails and near kappa = 0, where scipy's incomplete gamma functions
  underflow or lose digits (gamma > 1e5);
- the special cases of Prentice's (1974) form: kappa = 0 is the lognormal (scipy.stats.lognorm),
  kappa = 1 the Weibull AFT model with p = 1/sigma, kappa = sigma the gamma distribution
  with shape sigma^-2 and scale exp(eta) sigma^2 (scipy.stats.gamma).
"""
import numpy as np
import pytest
from scipy import special, stats
from statsmodels_me._kernels.glmm_kernels import family_values

from statsmodels_me.families import get_family
from statsmodels_me.families.survival import encode_spells

FAM = get_family("ggamma_aft")


def _kernel(y, t0, eta, aux):
    """Value, eta-derivatives and aux-derivatives of the kernels' row log likelihood."""
    return family_values(FAM.code, FAM.link_code, y, t0, eta, np.asarray(aux, float))


def _spells(rng, n=40, spread=1.0):
    t = np.exp(rng.normal(0.2, spread, n))
    d = rng.integers(0, 2, n)
    t0 = np.where(rng.uniform(size=n) < 0.4, 0.5 * t, 0.0)
    return t, d, t0


def _gengamma(eta, aux):
    s, k = np.exp(aux[0]), aux[1]
    g = 1.0 / k ** 2
    return stats.gengamma(g, k / s, scale=np.exp(eta - s / k * np.log(g)))


def _scipy_rows(t, d, t0, eta, aux):
    law = _gengamma(eta, aux)
    out = np.where(d == 1, law.logpdf(t), law.logsf(t))
    return out - np.where(t0 > 0, law.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)


@pytest.mark.parametrize("aux", [(-0.3, 1.4), (0.1, 0.5), (-0.2, 0.05), (0.2, -0.6),
                                 (-0.5, -1.8)])
def test_row_log_likelihood_against_scipy_gengamma(aux):
    rng = np.random.default_rng(1)
    t, d, t0 = _spells(rng)
    y, e = encode_spells(t, d, t0)
    eta = rng.normal(0, 0.5, len(t))
    want = _scipy_rows(t, d, t0, eta, aux)
    np.testing.assert_allclose(_kernel(y, e, eta, aux)[0], want, rtol=1e-10)
    np.testing.assert_allclose(FAM.loglike_obs(y, eta, e, aux), want, rtol=1e-10)


def _mp_logS(w, k):
    """log S(w) with mpmath (60 digits): the regularized incomplete gamma function for
    |kappa| > 0.05, else int_w^inf f_w by quadrature on breakpoints scaled to the tail
    (mpmath's incomplete gamma fails for gamma >~ 1e8)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    if abs(k) > 0.05:
        a = 1 / mp.mpf(k) ** 2
        u = a * mp.exp(k * mp.mpf(w))
        return float(mp.log(mp.gammainc(a, u, mp.inf, regularized=True) if k > 0
                            else mp.gammainc(a, 0, u, regularized=True)))

    def logf(v):
        if k == 0:
            return -v * v / 2 - mp.log(mp.sqrt(2 * mp.pi))
        a = 1 / mp.mpf(k) ** 2
        return mp.log(abs(mp.mpf(k))) + a * mp.log(a) + a * k * v - a * mp.exp(k * v) \
            - mp.loggamma(a)
    sc = 1.0 / max(1.0, abs(w))
    pts = sorted({mp.mpf(w) + dd * sc for dd in (0, 0.25, 0.5, 1, 2, 4, 8, 16, 40, 100)}
                 | {mp.mpf(w) + 20, mp.mpf(w) + 60, mp.mpf(w) + 200})
    return float(mp.log(mp.quad(lambda v: mp.exp(logf(v)), pts)))


@pytest.mark.parametrize("k", [0.8, 0.0101, 0.0099, 3e-3, 1e-7, 0.0, -1e-4, -0.0099, -0.7])
def test_log_survival_in_the_tails_and_near_the_lognormal_limit(k):
    """Censored rows from S = 1 - 1e-15 to S = 1e-350 (w = -8 ... 40, sigma = 1): 1e-12
    relative, no underflow to -inf; on both sides of the switch to Temme's expansion."""
    ws = np.array([-8.0, -1.0, 0.0, 0.7, 3.0, 9.0, 25.0, 40.0])
    y = -np.exp(ws)
    got = _kernel(y, np.zeros_like(y), np.zeros_like(y), (0.0, k))[0]
    want = np.array([_mp_logS(w, k) for w in ws])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("k", [1.3, 0.01000001, 0.00999999, 0.0, -0.002, -0.9])
def test_derivatives_against_central_differences(k):
    """d/deta, d2/deta2, d/dlog(sigma) and d/dkappa (the kernels' five-point difference)
    against central differences of the kernels' values and first derivatives."""
    rng = np.random.default_rng(2)
    t, d, t0 = _spells(rng, 60)
    y, e = encode_spells(t, d, t0)
    eta = rng.normal(0, 0.5, len(t))
    aux = np.array([-0.2, k])
    _, d1, d2, _, da = _kernel(y, e, eta, aux)
    h = 1e-5
    vp, d1p = _kernel(y, e, eta + h, aux)[:2]
    vm, d1m = _kernel(y, e, eta - h, aux)[:2]
    np.testing.assert_allclose(d1, (vp - vm) / (2 * h), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-7, atol=1e-8)
    for j in range(2):
        step = np.eye(2)[j] * h
        fd = (_kernel(y, e, eta, aux + step)[0] - _kernel(y, e, eta, aux - step)[0]) / (2 * h)
        np.testing.assert_allclose(da[:, j], fd, rtol=1e-7, atol=1e-8)


def test_special_cases_weibull_gamma_lognormal():
    rng = np.random.default_rng(3)
    t, d, t0 = _spells(rng)
    y, e = encode_spells(t, d, t0)
    eta = rng.normal(0, 0.5, len(t))
    ls = -0.4
    # kappa = 1: Weibull AFT with ln p = -log sigma (the kernels' Weibull AFT rows)
    weib = get_family("weibull_aft")
    want = family_values(weib.code, weib.link_code, y, e, eta, np.array([-ls]))[0]
    np.testing.assert_allclose(_kernel(y, e, eta, (ls, 1.0))[0], want, rtol=1e-11)
    # kappa = sigma: gamma with shape sigma^-2 and scale exp(eta) sigma^2
    s = np.exp(ls)
    law = stats.gamma(1 / s ** 2, scale=np.exp(eta) * s ** 2)
    want = np.where(d == 1, law.logpdf(t), law.logsf(t)) - np.where(
        t0 > 0, law.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)
    np.testing.assert_allclose(_kernel(y, e, eta, (ls, s))[0], want, rtol=1e-10)
    # kappa = 0: lognormal
    law = stats.lognorm(s, scale=np.exp(eta))
    want = np.where(d == 1, law.logpdf(t), law.logsf(t)) - np.where(
        t0 > 0, law.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)
    np.testing.assert_allclose(_kernel(y, e, eta, (ls, 0.0))[0], want, rtol=1e-12)
    np.testing.assert_allclose(FAM.loglike_obs(y, eta, e, (ls, 0.0)), want, rtol=1e-12)


@pytest.mark.parametrize("aux", [(-0.3, 1.4), (0.1, 0.5), (0.2, -0.6), (-0.5, -1.8)])
def test_predict_statistics_against_scipy_gengamma(aux):
    rng = np.random.default_rng(4)
    eta = rng.normal(0, 0.5, 15)
    t = np.exp(rng.normal(0.2, 0.8, 15))
    law = _gengamma(eta, aux)
    np.testing.assert_allclose(FAM.survival(t, eta, aux), law.sf(t), rtol=1e-10)
    np.testing.assert_allclose(FAM.cdf(t, eta, (), aux), law.cdf(t), rtol=1e-10)
    np.testing.assert_allclose(FAM.density(t, eta, aux), law.pdf(t), rtol=1e-10)
    np.testing.assert_allclose(FAM.hazard(t, eta, aux), law.pdf(t) / law.sf(t), rtol=1e-10)
    np.testing.assert_allclose(FAM.median_time(eta, aux), law.median(), rtol=1e-10)
    s, k = np.exp(aux[0]), aux[1]
    if 1 / k ** 2 + s / k > 0:
        np.testing.assert_allclose(FAM.mean_time(eta, aux), law.mean(), rtol=1e-10)
    else:   # E(T) = inf (scipy returns Gamma(a + 1/c) of a negative argument here)
        assert np.all(np.isinf(FAM.mean_time(eta, aux)))


def test_mean_and_median_near_the_lognormal_limit_and_without_a_mean():
    eta = np.array([-0.3, 0.4])
    s = np.exp(-0.2)
    lognormal = stats.lognorm(s, scale=np.exp(eta))
    for k in (0.0, 1e-9, -1e-9):
        np.testing.assert_allclose(FAM.mean_time(eta, (-0.2, k)), lognormal.mean(),
                                   rtol=1e-8)
        np.testing.assert_allclose(FAM.median_time(eta, (-0.2, k)), lognormal.median(),
                                   rtol=1e-8)
    # both sides of the switch to the large-gamma expansions: the median from scipy's
    # gammaincinv, the mean exp(eta) gamma^-d Gamma(gamma + d) / Gamma(gamma) (d = sigma /
    # kappa) with mpmath (scipy.stats.gengamma overflows here)
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    for k in (0.0101, -0.0101, 0.0099, -0.0099):
        g, dd = 1 / k ** 2, s / k
        want = np.exp(eta + s * np.log(special.gammaincinv(g, 0.5) / g) / k)
        np.testing.assert_allclose(FAM.median_time(eta, (-0.2, k)), want, rtol=1e-10)
        ratio = float(mp.exp(mp.loggamma(mp.mpf(g) + dd) - mp.loggamma(g)
                             - dd * mp.log(g)))
        np.testing.assert_allclose(FAM.mean_time(eta, (-0.2, k)), np.exp(eta) * ratio,
                                   rtol=1e-10)
    # kappa < 0 with gamma + sigma / kappa <= 0: E(T) is infinite
    assert np.all(np.isinf(FAM.mean_time(eta, (0.0, -1.5))))


def test_family_object():
    assert FAM.ancillary()[0].name == "/logs" and FAM.ancillary()[1].name == "/kappa"
    assert FAM.model_title == "Mixed-effects gamma AFT regression"
    assert FAM.metric == "aft"
