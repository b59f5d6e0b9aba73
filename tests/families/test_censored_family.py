"""The censored normal family (metobit, meintreg): the kernels' log likelihood against
scipy.stats.norm, its eta-derivatives against differences, the tails without overflow,
the encoding of bounds."""
import pickle

import numpy as np
import pytest
from scipy import special, stats
from statsmodels_me._kernels.family_eval import family_eval

from statsmodels_me.families import get_family
from statsmodels_me.families.censored import censoring_counts, encode_bounds
from statsmodels_me.spec.errors import DataError

rng = np.random.default_rng(3)


def _rows():
    lo = rng.normal(0, 1, 12)
    hi = lo + rng.uniform(0.1, 2, 12)
    lo[:3] = -np.inf
    hi[3:6] = np.inf
    hi[6:9] = lo[6:9]
    return encode_bounds(lo, hi)


def _kernel(y, t, eta, aux):
    fam = get_family("censored_normal")
    v, d1, d2 = family_eval(fam.code, fam.link_code, y, t, eta, np.asarray(aux, float))
    return v + fam.obs_constant(y, t, aux)[0], d1, d2


def test_log_likelihood_against_scipy_and_closed_forms():
    y, t = _rows()
    eta, aux = rng.normal(0, 1, 12), [0.4]
    sd = np.exp(0.2)
    want = np.concatenate([
        stats.norm.logcdf(y[:3], eta[:3], sd), stats.norm.logsf(y[3:6], eta[3:6], sd),
        stats.norm.logpdf(y[6:9], eta[6:9], sd),
        np.log(stats.norm.cdf(t[9:], eta[9:], sd) - stats.norm.cdf(y[9:], eta[9:], sd))])
    np.testing.assert_allclose(_kernel(y, t, eta, aux)[0], want, rtol=1e-12)
    np.testing.assert_allclose(get_family("censored_normal").loglike_obs(y, eta, t, aux),
                               want, rtol=1e-12)


def test_eta_derivatives_against_central_differences():
    y, t = _rows()
    eta, aux, h = rng.normal(0, 1, 12), [-0.3], 1e-5
    _, d1, d2 = _kernel(y, t, eta, aux)
    vp, d1p, _ = _kernel(y, t, eta + h, aux)
    vm, d1m, _ = _kernel(y, t, eta - h, aux)
    np.testing.assert_allclose(d1, (vp - vm) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-6, atol=1e-8)


def test_extreme_censoring_stays_finite():
    """Right-censoring at 0 with eta = -40 sd: log Phi(-40) = -804.6..., its derivative
    the inverse Mills ratio ~ 40; an interval far in either tail."""
    y = np.array([0.0, 0.0, 40.0, -41.0])
    t = np.array([np.inf, -np.inf, 41.0, -40.0])
    eta = np.array([-40.0, 40.0, 0.0, 0.0])
    with np.errstate(all="raise"):
        v, d1, d2 = _kernel(y, t, eta, [0.0])
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))
    np.testing.assert_allclose(v[:2], special.log_ndtr(-40.0), rtol=1e-12)
    lp = special.log_ndtr(-40.0)
    want = lp + np.log(-np.expm1(special.log_ndtr(-41.0) - lp))
    np.testing.assert_allclose(v[2:], want, rtol=1e-10)
    np.testing.assert_allclose(d1[0], np.exp(stats.norm.logpdf(40.0) - lp), rtol=1e-10)


def test_encoding_and_counts():
    y, t = encode_bounds([-np.inf, 1.0, 2.0, 0.5], [0.0, np.inf, 2.0, 1.5])
    np.testing.assert_array_equal(y, [0.0, 1.0, 2.0, 0.5])
    np.testing.assert_array_equal(t, [-np.inf, np.inf, 2.0, 1.5])
    assert censoring_counts(y, t) == {"uncensored": 1, "left": 1, "right": 1, "interval": 1}
    with pytest.raises(DataError, match=r"1 row\(s\) have a lower bound above"):
        encode_bounds([2.0], [1.0])


def test_family_object():
    fam = get_family("censored_normal")
    assert [p.name for p in fam.ancillary(depvar="wage")] == ["/var(e.wage)"]
    assert fam.model_title == "Mixed-effects tobit regression"
    assert fam.fixed_model_name == "tobit model"
    assert pickle.loads(pickle.dumps(fam)) == fam
    with pytest.raises(DataError, match="censoring"):
        fam.response_arrays(np.zeros(3))
