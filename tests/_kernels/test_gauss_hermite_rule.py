"""The Gauss-Hermite rule beyond numpy's range: log weights from the orthonormal recurrence."""
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import roots_hermitenorm

from statsmodels_me._kernels.quadrature import gh_grid, hermite_e_rule


@pytest.mark.parametrize("n", [7, 30, 150])
def test_numpy_rule_where_it_is_finite(n):
    x, lw = hermite_e_rule(n)
    xn, wn = hermegauss(n)
    np.testing.assert_array_equal(x, xn)
    np.testing.assert_array_equal(lw, np.log(wn / np.sqrt(2 * np.pi)))


@pytest.mark.parametrize("n", [400, 500])
def test_large_rules_are_finite_and_exact_on_moments(n):
    """numpy's weights overflow here; the log weights integrate the normal moments
    E x^2 = 1, E x^4 = 3, E x^8 = 105 and match scipy's weights wherever those are
    representable (above 1e-280)."""
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(np.log(hermegauss(n)[1])))
    x, lw = hermite_e_rule(n)
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(lw))
    w = np.exp(lw)
    assert w.sum() == pytest.approx(1.0, abs=1e-13)
    for k, m in [(2, 1.0), (4, 3.0), (8, 105.0)]:
        assert (w * x ** k).sum() == pytest.approx(m, rel=1e-12)
    xs, ws = roots_hermitenorm(n)
    ws = ws / np.sqrt(2 * np.pi)
    ok = ws > 1e-280
    np.testing.assert_allclose(np.sort(x), np.sort(xs), atol=1e-12)
    order = np.argsort(x)
    np.testing.assert_allclose(lw[order][ok[np.argsort(xs)]],
                               np.log(ws[np.argsort(xs)][ok[np.argsort(xs)]]), atol=1e-11)


def test_grid_of_a_large_rule():
    nodes, logw = gh_grid(400, 1)
    assert nodes.shape == (400, 1) and np.all(np.isfinite(logw))
