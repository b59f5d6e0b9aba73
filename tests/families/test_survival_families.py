"""The survival families of mestreg: the kernels' log likelihood of a spell against the
scipy/numpy densities of the family objects and against closed forms of [ST] streg, its
eta-derivatives, delayed entry as conditioning on survival to t0."""
import pickle

import numpy as np
import pytest
from scipy import stats
from statsmodels_me._kernels.family_eval import family_eval

from statsmodels_me.families import get_family
from statsmodels_me.families.survival import SURVIVAL_FAMILIES, encode_spells

rng = np.random.default_rng(5)
AUX = {"exponential_ph": [], "exponential_aft": [], "weibull_ph": [0.3], "weibull_aft": [-0.2],
       "gompertz_ph": [0.15], "lognormal_aft": [0.2], "loglogistic_aft": [-0.4],
       "ggamma_aft": [-0.3, 0.7]}
NAMES = [cls.name for cls in SURVIVAL_FAMILIES.values()]


def _spells(n=12):
    t = rng.exponential(2.0, n) + 0.2
    d = rng.integers(0, 2, n)
    t0 = np.where(rng.uniform(size=n) < 0.5, 0.4 * t, 0.0)
    return t, d, t0


def _kernel(name, y, t0, eta, aux):
    fam = get_family(name)
    v, d1, d2 = family_eval(fam.code, fam.link_code, y, t0, eta, np.asarray(aux, float))
    return v + fam.obs_constant(y, t0, aux)[0], d1, d2


def _closed_form(name, t, d, t0, eta, aux):
    """d log f(t) + (1 - d) log S(t) - log S(t0) from scipy.stats distributions."""
    if name.startswith("exponential") or name.startswith("weibull"):
        p = np.exp(aux[0]) if aux else 1.0
        # PH: S = exp(-e^eta t^p); AFT: S = exp(-(t e^-eta)^p): scale of scipy's weibull_min
        scale = np.exp(-eta / p) if name.endswith("ph") else np.exp(eta)
        dist = stats.weibull_min(p, scale=scale)
    elif name == "gompertz_ph":
        g = aux[0]
        c = np.exp(eta) / g   # scipy gompertz: S = exp(-c (e^{x} - 1)), x = g t
        dist = stats.gompertz(c, scale=1 / g)
    elif name == "lognormal_aft":
        dist = stats.lognorm(np.exp(aux[0]), scale=np.exp(eta))
    elif name == "ggamma_aft":
        # u = gamma (t / e^eta)^(kappa / sigma) ~ Gamma(gamma), gamma = kappa^-2
        s, k = np.exp(aux[0]), aux[1]
        dist = stats.gengamma(1 / k ** 2, k / s, scale=np.exp(eta + 2 * s / k * np.log(k)))
    else:
        dist = stats.fisk(1 / np.exp(aux[0]), scale=np.exp(eta))
    out = np.where(d == 1, dist.logpdf(t), dist.logsf(t))
    return out - np.where(t0 > 0, dist.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_spell_log_likelihood_against_scipy(name):
    t, d, t0 = _spells()
    y, e = encode_spells(t, d, t0)
    eta = rng.normal(0, 0.5, len(t))
    want = _closed_form(name, t, d, t0, eta, AUX[name])
    np.testing.assert_allclose(_kernel(name, y, e, eta, AUX[name])[0], want, rtol=1e-10)
    np.testing.assert_allclose(get_family(name).loglike_obs(y, eta, e, AUX[name]), want,
                               rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_eta_derivatives_against_central_differences(name):
    t, d, t0 = _spells()
    y, e = encode_spells(t, d, t0)
    eta, h = rng.normal(0, 0.5, len(t)), 1e-5
    _, d1, d2 = _kernel(name, y, e, eta, AUX[name])
    vp, d1p, _ = _kernel(name, y, e, eta + h, AUX[name])
    vm, d1m, _ = _kernel(name, y, e, eta - h, AUX[name])
    np.testing.assert_allclose(d1, (vp - vm) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_family_objects(name):
    fam = get_family(name)
    assert pickle.loads(pickle.dumps(fam)) == fam
    assert fam.model_title.startswith("Mixed-effects ") and fam.model_title.endswith(
        "regression")
    assert len(fam.ancillary()) == len(AUX[name])


def test_spells_need_entry_before_exit():
    from statsmodels_me.spec.errors import DataError
    with pytest.raises(DataError, match="entry < exit"):
        get_family("weibull_ph").response_arrays(np.array([1.0, -2.0]), np.array([0.0, 2.0]))
