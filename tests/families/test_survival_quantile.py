"""Quantiles of the survival families (``quantile``, ``inverse_cumhaz``) against scipy.stats'
``ppf``/``isf`` of the same laws (weibull_min, gompertz, lognorm, fisk, gengamma in the
parameterizations of the mestreg tests), for the closed forms and for the base class's
numerical inversion (bisection on the cumulative hazard) run on the same families."""
import numpy as np
import pytest
from scipy import stats

from statsmodels_me.families.survival import SURVIVAL_FAMILIES, SurvivalFamily

AUX = {"exponential": [], "weibull": [0.3], "gompertz": [0.4], "lognormal": [-0.2],
       "loglogistic": [-0.5], "gamma": [-0.3, 0.8]}
ETA = np.array([-1.3, -0.2, 0.0, 0.4, 1.1, 2.0])
P = np.array([1e-9, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9])


def _law(dist, aft, eta, aux):
    if dist in ("weibull", "exponential"):
        p = np.exp(aux[0]) if dist == "weibull" else 1.0
        return stats.weibull_min(p, scale=np.exp(eta) if aft else np.exp(-eta / p))
    if dist == "gompertz":
        return stats.gompertz(np.exp(eta) / aux[0], scale=1 / aux[0])
    if dist == "gamma":
        # Prentice's form: gamma (t / e^eta)^(kappa / sigma) ~ Gamma(gamma), gamma = kappa^-2
        s, k = np.exp(aux[0]), aux[1]
        g = 1.0 / k ** 2
        return stats.gengamma(g, k / s, scale=np.exp(eta - s / k * np.log(g)))
    if dist == "lognormal":
        return stats.lognorm(np.exp(aux[0]), scale=np.exp(eta))
    return stats.fisk(np.exp(-aux[0]), scale=np.exp(eta))


@pytest.mark.parametrize("key", list(SURVIVAL_FAMILIES), ids=lambda k: "-".join(k))
def test_quantile_is_scipys_ppf(key):
    dist, metric = key
    fam, aux = SURVIVAL_FAMILIES[key](), AUX[dist]
    law = _law(dist, metric == "aft", ETA, aux)
    for p in P:
        want = law.ppf(p) if p < 0.5 else law.isf(1 - p)
        np.testing.assert_allclose(fam.quantile(p, ETA, aux), want, rtol=1e-9,
                                   err_msg=f"p={p}")
        np.testing.assert_allclose(SurvivalFamily.quantile(fam, p, ETA, aux), want, rtol=1e-9)
        # the generic bisection run on the same family
        np.testing.assert_allclose(SurvivalFamily.inverse_cumhaz(fam, -np.log1p(-p), ETA, aux),
                                   want, rtol=1e-11)
    np.testing.assert_allclose(fam.quantile(0.5, ETA, aux), fam.median_time(ETA, aux),
                               rtol=1e-13)


@pytest.mark.parametrize("key", list(SURVIVAL_FAMILIES), ids=lambda k: "-".join(k))
def test_inverse_cumhaz_ends(key):
    fam, aux = SURVIVAL_FAMILIES[key](), AUX[key[0]]
    H = np.array([0.0, np.inf, np.nan])
    for fn in (fam.inverse_cumhaz, lambda h, e, a: SurvivalFamily.inverse_cumhaz(fam, h, e, a)):
        t = fn(H, np.zeros(3), aux)
        assert t[0] == 0 and np.isinf(t[1]) and np.isnan(t[2])


def test_gompertz_negative_gamma_never_reaches_large_cumulative_hazards():
    """gamma < 0: H(t) rises to exp(eta) / |gamma| = 2.5 at eta = 0, gamma = -0.4."""
    fam = SURVIVAL_FAMILIES[("gompertz", "ph")]()
    H = np.array([0.5, 2.4, 2.6, 10.0])
    for t in (fam.inverse_cumhaz(H, np.zeros(4), [-0.4]),
              SurvivalFamily.inverse_cumhaz(fam, H, np.zeros(4), [-0.4])):
        assert np.all(np.isinf(t[2:]))
        # exp(eta) (exp(gamma t) - 1) / gamma = H by hand
        np.testing.assert_allclose(np.expm1(-0.4 * t[:2]) / -0.4, H[:2], rtol=1e-11)
