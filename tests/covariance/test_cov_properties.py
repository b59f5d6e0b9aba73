"""Property tests: every theta inside the bounds gives a valid factor and a PSD matrix."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statsmodels_me.covariance import BlockDiagonal, Exchangeable, Independent, Unstructured

finite = st.floats(-5.0, 5.0, allow_nan=False)
nonneg = st.floats(0.0, 5.0, allow_nan=False)


def _check(cov, theta):
    L = cov.cholesky(theta)
    sigma = cov.matrix(theta)
    assert np.all(np.isfinite(L))
    np.testing.assert_allclose(L, np.tril(L), atol=0)
    np.testing.assert_allclose(L @ L.T, sigma, atol=1e-9 * max(1.0, np.abs(sigma).max()))
    assert np.linalg.eigvalsh(sigma).min() >= -1e-9 * max(1.0, np.abs(sigma).max())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda q: st.tuples(
    st.just(q), st.lists(nonneg, min_size=q, max_size=q),
    st.lists(finite, min_size=q * (q - 1) // 2, max_size=q * (q - 1) // 2))))
def test_unstructured_any_theta(args):
    q, diag, off = args
    cov = Unstructured([f"x{i}" for i in range(q)], "id")
    theta = np.empty(cov.n_theta)
    is_diag = np.array(cov.theta_is_variance)
    theta[is_diag] = diag
    theta[~is_diag] = off
    _check(cov, theta)
    if np.all(np.asarray(diag) > 1e-3):
        np.testing.assert_allclose(cov.theta_from_display(cov.display(theta)), theta, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), nonneg, st.floats(0.0, 1.0))
def test_exchangeable_any_theta_in_bounds(q, s, u):
    cov = Exchangeable([f"x{i}" for i in range(q)], "id")
    lo, hi = cov.theta_bounds()[1]
    _check(cov, np.array([s, lo + u * (hi - lo)]))


@settings(max_examples=30, deadline=None)
@given(st.lists(nonneg, min_size=5, max_size=5), st.floats(-0.5, 1.0))
def test_blocked_any_theta_in_bounds(sds, rho):
    cov = BlockDiagonal([Exchangeable(["a", "b", "c"], "d"), Independent(["e", "f"], "d"),
                         Unstructured(["g"], "d")])
    _check(cov, np.array([sds[0], rho, sds[1], sds[2], sds[3]]))


def test_block_diagonal_across_levels_keeps_each_levels_rows_together():
    # two levels: school (unstructured, 2 effects) and class (identity); the display is the
    # school rows in the structure's own order, then the class row; theta and L are the
    # blocks' side by side (block_diag of the structures' factors)
    from scipy.linalg import block_diag

    from statsmodels_me.covariance import Identity
    from statsmodels_me.spec.errors import SpecificationError
    school = Unstructured(["x", "_cons"], "school")
    klass = Identity(["_cons"], "school>class")
    cov = BlockDiagonal([school, klass], across_levels=True)
    theta = np.array([0.7, -0.2, 0.5, 0.3])
    assert cov.display_names == school.display_names + klass.display_names
    assert cov.vcomp_labels == school.vcomp_labels + klass.vcomp_labels
    np.testing.assert_array_equal(cov.cholesky(theta),
                                  block_diag(school.cholesky(theta[:3]),
                                             klass.cholesky(theta[3:])))
    np.testing.assert_array_equal(cov.display(theta),
                                  np.concatenate([school.display(theta[:3]),
                                                  klass.display(theta[3:])]))
    np.testing.assert_allclose(cov.theta_from_display(cov.display(theta)), theta, rtol=1e-12)
    with pytest.raises(SpecificationError, match="different levels"):
        BlockDiagonal([school, klass])


def _cholesky_differences(cov, theta, h=1e-6):
    out = []
    for k in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        tp[k] += h
        tm[k] -= h
        out.append((cov.cholesky(tp) - cov.cholesky(tm)) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize("make,theta", [
    (lambda: Unstructured(["a", "b", "c"], "g"), [0.7, 0.1, -0.2, 0.5, 0.3, 0.4]),
    (lambda: Independent(["a", "b"], "g"), [0.7, 0.3]),
    (lambda: Exchangeable(["a", "b", "c"], "g"), [0.8, 0.3]),
    (lambda: Exchangeable(["a", "b", "c"], "g"), [0.8, -0.4]),
    (lambda: BlockDiagonal([Exchangeable(["a", "b"], "g"), Independent(["c"], "g")]),
     [0.8, -0.4, 0.5]),
])
def test_d_cholesky_matches_central_differences(make, theta):
    # reference: central differences (step 1e-6) of the structure's own cholesky()
    cov = make()
    theta = np.array(theta, float)
    J = cov.d_cholesky(theta)
    assert J.shape == (cov.n_theta, cov.q, cov.q)
    np.testing.assert_allclose(J, _cholesky_differences(cov, theta), atol=1e-8)


def test_d_cholesky_on_the_boundary():
    # Exchangeable with rho = 1 has a singular factor: the closed-form derivative does not
    # apply and central differences of cholesky() are used (the factor is smooth from
    # inside the range only, so compare with the one-sided limit at rho = 1: d L / d s is
    # L / s, exactly)
    cov = Exchangeable(["a", "b"], "g")
    theta = np.array([0.8, 1.0])
    J = cov.d_cholesky(theta)
    np.testing.assert_allclose(J[0], cov.cholesky(theta) / 0.8, atol=1e-8)
