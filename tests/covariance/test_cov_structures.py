"""Covariance structures: shapes, PSD, boundary factors, derivatives, display round trips."""
import numpy as np
import pytest

from statsmodels_me.covariance import (
    BlockDiagonal,
    Exchangeable,
    Fixed,
    Identity,
    Independent,
    Pattern,
    Unstructured,
    psd_cholesky,
)
from statsmodels_me.spec.errors import SpecificationError

NAMES3 = ["x1", "x2", "_cons"]
BANDED = np.array([[1, np.nan, np.nan], [2, 1, np.nan], [3, 2, 1]], dtype=float)


def _cases():
    """(id, structure, interior theta, list of boundary thetas)."""
    fixed_free = np.array([[0.5, np.nan], [np.nan, 2.0]])
    return [
        ("identity1", Identity(["_cons"], "id"), [1.3], [[0.0]]),
        ("identity2", Identity(["x", "_cons"], "id"), [0.7], [[0.0]]),
        ("identityR", Identity(["R.id"], "_all", q=5), [2.0], [[0.0]]),
        ("independent", Independent(NAMES3, "id"), [0.5, 1.5, 2.0], [[0.0, 1.0, 0.0]]),
        ("exchangeable3", Exchangeable(NAMES3, "id"), [1.2, 0.3],
         [[1.2, 1.0], [1.2, -0.5], [0.0, 0.3]]),
        ("exchangeable1", Exchangeable(["_cons"], "id"), [0.8], [[0.0]]),
        ("unstructured", Unstructured(NAMES3, "id"), [1.0, 0.3, -0.4, 0.8, 0.2, 0.5],
         [[1.0, 0.3, -0.4, 0.0, 0.2, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
          [1.0, 0.3, -0.4, 0.8, 0.2, 0.0]]),
        ("pattern_banded", Pattern(NAMES3, "id", BANDED), [2.0, 0.5, 0.2], [[0.0, 0.0, 0.0]]),
        ("pattern_missing", Pattern(["a", "b"], "id", np.array([[1, np.nan], [np.nan, 1]])),
         [1.5, 0.4], [[1.5, 1.5], [0.0, 0.0]]),
        ("fixed_diag", Fixed(["1.trial", "2.trial"], "_all", np.diag([0.16, 0.12])), [], []),
        ("fixed_free", Fixed(["a", "b"], "id", fixed_free), [0.3], [[1.0], [-1.0]]),
        ("blocked", BlockDiagonal([Exchangeable(NAMES3, "d"), Identity(["_cons"], "d"),
                                   Unstructured(["w", "_cons"], "d")]),
         [1.1, 0.4, 0.6, 0.9, -0.2, 0.7], [[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    _, cov, theta, boundary = request.param
    return cov, np.asarray(theta, dtype=float), [np.asarray(b, dtype=float) for b in boundary]


def _within_bounds(cov, theta):
    for t, (lo, hi) in zip(theta, cov.theta_bounds(), strict=True):
        if lo is not None and t < lo - 1e-12:
            return False
        if hi is not None and t > hi + 1e-12:
            return False
    return True


def test_shapes(case):
    cov, theta, _ = case
    q, k = cov.q, cov.n_theta
    assert theta.size == k
    assert len(cov.theta_bounds()) == k
    assert cov.matrix(theta).shape == (q, q)
    assert cov.cholesky(theta).shape == (q, q)
    assert cov.d_matrix(theta).shape == (k, q, q)
    assert cov.display(theta).shape == (cov.n_display,)
    assert cov.display_jacobian(theta).shape == (cov.n_display, k)
    assert len(cov.display_names) == len(cov.vcomp_labels) == cov.n_display
    start = cov.theta_start()
    assert start.shape == (k,) and _within_bounds(cov, start)


def test_matrix_psd_and_cholesky(case):
    cov, theta, _ = case
    sigma = cov.matrix(theta)
    L = cov.cholesky(theta)
    np.testing.assert_allclose(sigma, sigma.T, atol=1e-14)
    assert np.linalg.eigvalsh(sigma).min() > -1e-12
    np.testing.assert_allclose(L, np.tril(L), atol=0)
    np.testing.assert_allclose(L @ L.T, sigma, atol=1e-12)


def test_boundary_cholesky(case):
    cov, _, boundary = case
    for theta in boundary:
        assert _within_bounds(cov, theta)
        L = cov.cholesky(theta)
        assert np.all(np.isfinite(L))
        assert np.all(np.diag(L) >= 0)
        np.testing.assert_allclose(L @ L.T, cov.matrix(theta), atol=1e-12)


def _fd(f, theta, h=1e-6):
    cols = []
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        cols.append((f(theta + e) - f(theta - e)) / (2 * h))
    return np.array(cols)


def test_d_matrix_vs_finite_differences(case):
    cov, theta, _ = case
    if cov.n_theta == 0:
        assert cov.d_matrix(theta).shape == (0, cov.q, cov.q)
        return
    np.testing.assert_allclose(cov.d_matrix(theta), _fd(cov.matrix, theta), atol=1e-7)


def test_display_jacobian_vs_finite_differences(case):
    cov, theta, _ = case
    scale = 2.5
    jac = cov.display_jacobian(theta, scale)
    if cov.n_theta == 0:
        np.testing.assert_array_equal(jac, np.zeros((cov.n_display, 0)))
        return
    fd = _fd(lambda t: cov.display(t, scale), theta).T
    np.testing.assert_allclose(jac, fd, atol=1e-7)


def test_display_round_trip(case):
    cov, theta, _ = case
    for scale in (1.0, 3.7):
        values = cov.display(theta, scale)
        back = cov.theta_from_display(values, scale)
        np.testing.assert_allclose(cov.display(back, scale), values, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(back, theta, atol=1e-10)


def test_theta_start_from_sigma_reproduces_structured_matrix(case):
    cov, theta, _ = case
    sigma = cov.matrix(theta)
    np.testing.assert_allclose(cov.matrix(cov.theta_start(sigma)), sigma, atol=1e-6)


def test_display_values_are_sigma_elements():
    cov = Unstructured(["week", "_cons"], "id")
    theta = np.array([0.6, -0.1, 2.5])
    L = np.array([[0.6, 0.0], [-0.1, 2.5]])
    sigma = L @ L.T
    np.testing.assert_allclose(cov.cholesky(theta), L)
    np.testing.assert_allclose(cov.display(theta, 2.0),
                               2.0 * np.array([sigma[0, 0], sigma[1, 1], sigma[0, 1]]))


def test_unstructured_theta_is_column_major_lower_triangle():
    cov = Unstructured(["a", "b", "c"], "id")
    L = cov.cholesky(np.arange(1.0, 7.0))
    np.testing.assert_array_equal(L, [[1, 0, 0], [2, 4, 0], [3, 5, 6]])
    assert cov.theta_bounds() == [(0.0, None), (None, None), (None, None), (0.0, None),
                                  (None, None), (0.0, None)]
    assert cov.theta_is_variance == [True, False, False, True, False, True]


def test_exchangeable_closed_form_cholesky_matches_numpy():
    cov = Exchangeable(["a", "b", "c", "d"], "id")
    for rho in (-0.3, 0.0, 0.45, 0.9):
        theta = np.array([1.7, rho])
        np.testing.assert_allclose(cov.cholesky(theta), np.linalg.cholesky(cov.matrix(theta)),
                                   atol=1e-12)
    assert cov.theta_bounds() == [(0.0, None), (-1.0 / 3.0, 1.0)]


def test_pattern_parameters_in_first_appearance_order():
    # lower triangle column-major: (0,0)=1 (1,0)=2 (2,0)=3 (1,1)=1 (2,1)=2 (2,2)=1
    cov = Pattern(NAMES3, "id", BANDED)
    assert cov.n_theta == 3
    np.testing.assert_allclose(cov.matrix([2.0, 0.5, 0.2]),
                               [[2.0, 0.5, 0.2], [0.5, 2.0, 0.5], [0.2, 0.5, 2.0]])
    assert cov.theta_bounds() == [(0.0, None), (None, None), (None, None)]
    assert cov.kind_label == "Pattern"
    assert cov.display_labels == ["var(x1)", "var(x2)", "var(_cons)", "cov(x1,x2)",
                                  "cov(x1,_cons)", "cov(x2,_cons)"]


def test_pattern_not_psd_gives_nan_factor_and_display_inverse_raises():
    cov = Pattern(NAMES3, "id", BANDED)
    assert np.all(np.isnan(cov.cholesky([1.0, 2.0, 0.0])))
    with pytest.raises(SpecificationError, match="positive semidefinite"):
        cov.theta_from_display([1, 1, 1, 2, 0, 2])


def test_psd_cholesky_singular_and_indefinite():
    v = np.array([1.0, 2.0, 0.0])
    L = psd_cholesky(np.outer(v, v))
    np.testing.assert_allclose(L @ L.T, np.outer(v, v), atol=1e-12)
    assert np.all(np.isnan(psd_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))))
    assert np.all(np.isnan(psd_cholesky(np.array([[np.nan, 0.0], [0.0, 1.0]]))))
    assert psd_cholesky(np.zeros((0, 0))).shape == (0, 0)


def test_fixed_diagonal_like_seed_ex6():
    # seed ex6 (meglm ... || _all: ibn.trial, nocons cov(fixed(f))): only var(#.trial) rows,
    # constrained to the diagonal of f
    f = np.diag([0.16, 0.12, 0.18])
    cov = Fixed(["1.trial", "2.trial", "3.trial"], "_all", f)
    assert cov.n_theta == 0 and cov.kind_label == "Fixed"
    assert cov.vcomp_labels == ["_all: var(1.trial)", "_all: var(2.trial)", "_all: var(3.trial)"]
    np.testing.assert_allclose(cov.display([]), [0.16, 0.12, 0.18])
    np.testing.assert_allclose(cov.cholesky([]), np.diag(np.sqrt([0.16, 0.12, 0.18])))


def test_fixed_missing_entries_are_free():
    M = np.array([[0.5, np.nan], [np.nan, 2.0]])
    cov = Fixed(["a", "b"], "id", M)
    assert cov.n_theta == 1
    np.testing.assert_allclose(cov.matrix([0.3]), [[0.5, 0.3], [0.3, 2.0]])
    assert cov.display_labels == ["var(a)", "var(b)", "cov(a,b)"]
    np.testing.assert_allclose(cov.display_jacobian([0.3]), [[0.0], [0.0], [1.0]])
    assert cov.theta_bounds() == [(None, None)]


def test_wrong_theta_length_raises():
    with pytest.raises(SpecificationError, match="expected 3"):
        Unstructured(["a", "b"], "id").matrix([1.0, 2.0])
    with pytest.raises(SpecificationError, match="expected 3 values"):
        Unstructured(["a", "b"], "id").theta_from_display([1.0])


def test_exchangeable_display_inverse_rejects_impossible_values():
    cov = Exchangeable(["a", "b", "c"], "id")
    with pytest.raises(SpecificationError, match="outside"):
        cov.theta_from_display([1, 1, 1, 1.5, 1.5, 1.5])
    with pytest.raises(SpecificationError, match="positive semidefinite"):
        cov.theta_from_display([0, 0, 0, 0.1, 0.1, 0.1])
    # starting values are clipped instead, off the singular ends of the rho range
    start = cov.theta_start(np.full((3, 3), 2.0))
    assert start[0] == pytest.approx(np.sqrt(2.0)) and start[1] < 1.0
