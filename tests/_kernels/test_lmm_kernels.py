"""The one-term LMM kernel against dense linear algebra on small random problems."""
import numpy as np
import pytest
from statsmodels_me._kernels.lmm_kernels import grouped_cross_products, one_term_deviance


def _problem(seed, G=7, q=2, p=3):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, size=G)
    codes = np.repeat(np.arange(G), sizes)
    n = len(codes)
    Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(q - 1)])
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    Lam = np.tril(rng.normal(size=(q, q))) + 1.5 * np.eye(q)
    return codes, Z, X, y, Lam


def _dense_deviance(codes, Z, X, y, Lam, reml):
    """-2 log likelihood (restricted with ``reml``) from the n x n covariance."""
    n, p = X.shape
    G = codes.max() + 1
    q = Z.shape[1]
    Zfull = np.zeros((n, G * q))
    for i, g in enumerate(codes):
        Zfull[i, g * q:(g + 1) * q] = Z[i]
    V = np.eye(n) + Zfull @ np.kron(np.eye(G), Lam @ Lam.T) @ Zfull.T
    Vi = np.linalg.inv(V)
    C = X.T @ Vi @ X
    beta = np.linalg.solve(C, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    m = n - p if reml else n
    dev = np.linalg.slogdet(V)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
    if reml:
        dev += np.linalg.slogdet(C)[1]
    return dev, beta, r2, C


def _stats(codes, Z, X, y):
    return grouped_cross_products(codes.astype(np.int64), int(codes.max()) + 1,
                                  np.ascontiguousarray(Z), np.ascontiguousarray(X), y)


def test_grouped_cross_products_match_bincount():
    codes, Z, X, y, _ = _problem(0)
    A, B, c = _stats(codes, Z, X, y)[:3]
    G = codes.max() + 1
    for i in range(Z.shape[1]):
        for j in range(Z.shape[1]):
            np.testing.assert_allclose(A[:, i, j], np.bincount(codes, Z[:, i] * Z[:, j], G))
        for j in range(X.shape[1]):
            np.testing.assert_allclose(B[:, i, j], np.bincount(codes, Z[:, i] * X[:, j], G))
        np.testing.assert_allclose(c[:, i], np.bincount(codes, Z[:, i] * y, G))


@pytest.mark.parametrize("q", [1, 2, 3])
def test_grouped_cross_products_any_row_order_and_global_sums(q):
    codes, Z, X, y, _ = _problem(11, q=q)
    A, B, c, XtX, Xty, yty = _stats(codes, Z, X, y)
    np.testing.assert_allclose(XtX, X.T @ X, rtol=1e-13)
    np.testing.assert_allclose(Xty, X.T @ y, rtol=1e-13)
    assert yty == pytest.approx(y @ y, rel=1e-13)
    perm = np.random.default_rng(0).permutation(len(y))
    A2, B2, c2 = _stats(codes[perm], np.ascontiguousarray(Z[perm]),
                        np.ascontiguousarray(X[perm]), y[perm])[:3]
    np.testing.assert_allclose(A2, A, rtol=1e-12)
    np.testing.assert_allclose(B2, B, rtol=1e-12)
    np.testing.assert_allclose(c2, c, rtol=1e-12)


def test_grouped_cross_products_refuse_bad_codes():
    codes, Z, X, y, _ = _problem(0)
    with pytest.raises(ValueError):
        grouped_cross_products(codes.astype(np.int64), int(codes.max()), Z, X, y)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("q", [1, 2, 3])
def test_one_term_deviance_matches_dense(q, reml):
    codes, Z, X, y, Lam = _problem(q, q=q)
    A, B, c = _stats(codes, Z, X, y)[:3]
    out = one_term_deviance(A, B, c, Lam, X.T @ X, X.T @ y, float(y @ y), len(y), reml, True)
    dev, beta, r2, C = _dense_deviance(codes, Z, X, y, Lam, reml)
    assert out[0] == pytest.approx(dev, rel=1e-12)
    np.testing.assert_allclose(out[2], beta, rtol=1e-10)
    assert out[3] == pytest.approx(r2, rel=1e-11)
    np.testing.assert_allclose(out[10], C, rtol=1e-11)
    # the value-only call agrees with the gradient call
    val = one_term_deviance(A, B, c, Lam, X.T @ X, X.T @ y, float(y @ y), len(y), reml, False)
    assert val[0] == out[0]


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("q", [2, 3])
def test_one_term_gradient_matches_differences(q, reml):
    codes, Z, X, y, Lam = _problem(5, q=q)
    A, B, c = _stats(codes, Z, X, y)[:3]

    def dev(L):
        return one_term_deviance(A, B, c, L, X.T @ X, X.T @ y, float(y @ y), len(y), reml,
                                 False)[0]
    grad = one_term_deviance(A, B, c, Lam, X.T @ X, X.T @ y, float(y @ y), len(y), reml,
                             True)[1]
    fd = np.zeros_like(Lam)
    h = 1e-6
    for i in range(q):
        for j in range(q):
            E = np.zeros_like(Lam)
            E[i, j] = h
            fd[i, j] = (dev(Lam + E) - dev(Lam - E)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_em_sums_match_dense_conditional_moments():
    codes, Z, X, y, Lam = _problem(7, q=2)
    A, B, c = _stats(codes, Z, X, y)[:3]
    out = one_term_deviance(A, B, c, Lam, X.T @ X, X.T @ y, float(y @ y), len(y), False, True)
    beta = out[2]
    S = np.zeros((2, 2))
    T = np.zeros((2, 2))
    for g in range(codes.max() + 1):
        rows = codes == g
        Zg = Z[rows]
        M = np.eye(2) + Lam.T @ Zg.T @ Zg @ Lam
        u = np.linalg.solve(M, Lam.T @ Zg.T @ (y[rows] - X[rows] @ beta))
        S += np.outer(u, u)
        T += np.linalg.inv(M)
    np.testing.assert_allclose(out[7], S, rtol=1e-10)
    np.testing.assert_allclose(out[8], T, rtol=1e-10)


def test_factorization_failure_is_infinite():
    codes, Z, X, y, _ = _problem(2)
    A, B, c = _stats(codes, Z, X, y)[:3]
    Lam = np.array([[np.nan, 0.0], [0.0, 1.0]])
    assert one_term_deviance(A, B, c, Lam, X.T @ X, X.T @ y, float(y @ y), len(y), False,
                             False)[0] == np.inf
