"""The nogil family math of the GLMM kernels against scipy.stats densities.

Reference: ``statsmodels_me.families.reference_logpdf`` (scipy.stats distributions with
statsmodels link inverses), an implementation independent of ``family_math.pxd``; derivatives
are checked against central finite differences of that reference.
"""
import numpy as np
import pytest
from _glmm_testdata import COMBOS, simulate
from statsmodels_me._kernels.glmm_kernels import family_values

from statsmodels_me.families import (
    FAMILY_CLASSES,
    get_family,
    obs_constant,
    reference_logpdf,
)


def _values(family, link, d, eta, aux):
    fam = get_family(family, link)  # the kernel codes come from the family object
    return family_values(fam.code, fam.link_code, d["endog"], d["trials"],
                         np.ascontiguousarray(eta), np.asarray(aux, float))


def test_every_family_and_link_is_checked_here():
    """A family added to the catalog gets its kernel math checked by the tests below."""
    assert {(n, lk) for n, cls in FAMILY_CLASSES.items() for lk in cls.links} == set(COMBOS)


@pytest.mark.parametrize("family,link", COMBOS)
def test_logdensity_and_derivatives(family, link):
    d = simulate(family, link, seed=3)
    eta = d["exog"] @ d["beta"]
    aux = d["aux"]
    l, d1, d2, d3, daux = _values(family, link, d, eta, aux)
    c, dc = obs_constant(family, d["endog"], d["trials"], aux)

    def ref(e, a=aux):
        return reference_logpdf(family, link, d["endog"], e, d["trials"], a)

    np.testing.assert_allclose(l + c, ref(eta), rtol=1e-10, atol=1e-10)
    h = 1e-5
    np.testing.assert_allclose(d1, (ref(eta + h) - ref(eta - h)) / (2 * h), rtol=1e-6, atol=1e-6)
    k = 1e-3  # second differences need a larger step than first ones (rounding ~ eps / k^2)
    np.testing.assert_allclose(d2, (ref(eta + k) - 2 * ref(eta) + ref(eta - k)) / k ** 2,
                               rtol=1e-4, atol=1e-4)
    g = 1e-4
    d2p = _values(family, link, d, eta + g, aux)[2]
    d2m = _values(family, link, d, eta - g, aux)[2]
    np.testing.assert_allclose(d3, (d2p - d2m) / (2 * g), rtol=1e-6, atol=1e-6)
    for m in range(aux.size):
        e = np.zeros(aux.size)
        e[m] = h
        fd = (ref(eta, aux + e) - ref(eta, aux - e)) / (2 * h)
        np.testing.assert_allclose(daux[:, m] + dc[:, m], fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_binary_tails_are_finite(link):
    """Extreme linear predictors keep log densities finite and derivatives bounded."""
    eta = np.array([-40.0, -12.0, 12.0, 40.0])
    for y in (0.0, 1.0):
        fam = get_family("bernoulli", link)
        l, d1, d2, _, _ = family_values(fam.code, fam.link_code,
                                        np.full(4, y), np.ones(4), eta, np.zeros(0))
        assert np.all(np.isfinite(l)) and np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))
        assert np.all(d2 <= 1e-12)
