"""d(Cholesky)/d(theta) of every covariance structure against central differences of its
``cholesky`` (step 1e-6: truncation ~1e-12 for the smooth maps, rounding ~1e-10)."""
import numpy as np
import pytest

from statsmodels_me.covariance.blocked import BlockDiagonal
from statsmodels_me.covariance.structures import (
    Exchangeable,
    Fixed,
    Identity,
    Independent,
    Pattern,
    Unstructured,
)

NAMES3 = ["a", "b", "_cons"]


def _differences(cov, theta, h=1e-6):
    out = []
    for e in np.eye(len(theta)):
        out.append((cov.cholesky(theta + h * e) - cov.cholesky(theta - h * e)) / (2 * h))
    return np.array(out)


CASES = [
    (Identity(["_cons"], "id"), [1.3]),
    (Identity(["R.x"], "_all", q=4), [0.7]),
    (Independent(NAMES3, "id"), [0.5, 1.2, 0.3]),
    (Exchangeable(["_cons"], "id"), [0.8]),
    (Exchangeable(NAMES3, "id"), [1.4, 0.35]),
    (Exchangeable(NAMES3, "id"), [0.6, -0.3]),
    (Unstructured(NAMES3, "id"), [0.9, -0.4, 0.2, 1.1, 0.3, 0.7]),
    (Pattern(["a", "_cons"], "id", np.array([[1, 3], [3, 2]])), [2.0, 1.5, 0.4]),
    (Fixed(["a", "_cons"], "id", np.array([[1.0, np.nan], [np.nan, 2.0]])), [0.3]),
    (BlockDiagonal([Unstructured(["a", "b"], "id"), Exchangeable(["c", "d", "e"], "id")]),
     [0.9, 0.2, 0.6, 1.2, 0.25]),
]


@pytest.mark.parametrize("cov,theta", CASES, ids=lambda c: getattr(c, "kind_label", ""))
def test_d_cholesky_matches_differences(cov, theta):
    theta = np.array(theta, dtype=float)
    d = cov.d_cholesky(theta)
    assert d.shape == (cov.n_theta, cov.q, cov.q)
    np.testing.assert_allclose(d, _differences(cov, theta), rtol=1e-7, atol=1e-8)


def test_exchangeable_at_zero_variance():
    """L = s L0(rho): at s = 0 the derivative in s is L0 and the one in rho vanishes."""
    cov = Exchangeable(NAMES3, "id")
    d = cov.d_cholesky(np.array([0.0, 0.4]))
    np.testing.assert_allclose(d[0], cov.cholesky(np.array([1.0, 0.4])), rtol=1e-14)
    assert np.all(d[1] == 0.0)


def test_singular_factor_uses_one_sided_differences():
    """Pattern at a singular Sigma (correlation one): the derivative from the side inside
    the domain, where the other side has no real factor."""
    cov = Pattern(["a", "_cons"], "id", np.array([[1, 3], [3, 2]]))
    theta = np.array([1.0, 1.0, 1.0])          # Sigma = [[1, 1], [1, 1]]
    d = cov.d_cholesky(theta)
    assert np.all(np.isfinite(d))
    h = 1e-5
    for i in range(3):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        lp, lm, l0 = cov.cholesky(tp), cov.cholesky(tm), cov.cholesky(theta)
        if not np.all(np.isfinite(lm)):
            ref = (lp - l0) / h
        elif not np.all(np.isfinite(lp)):
            ref = (l0 - lm) / h
        else:
            ref = (lp - lm) / (2 * h)
        np.testing.assert_allclose(d[i], ref, rtol=1e-12, atol=1e-12)


def test_unstructured_lower_positions_follow_theta():
    cov = Unstructured(NAMES3, "id")
    rows, cols = cov.lower_positions
    theta = np.arange(1.0, 7.0)
    L = cov.cholesky(theta)
    np.testing.assert_array_equal(L[rows, cols], theta)
    assert list(zip(rows, cols)) == [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2)]
