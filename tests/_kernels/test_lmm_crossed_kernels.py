"""Kernels of the crossed scalar-intercept LMM against dense numpy on a small random system."""
import numpy as np
import pytest
import scipy.sparse as sp
from statsmodels_me._kernels.lmm_crossed_kernels import (
    hessian_traces,
    inverse_traces,
    lower_solve,
    mirror_lower,
    schur_factor,
    sym_lower_matvec,
    symm_product,
    weighted_gram,
)


@pytest.fixture(scope="module")
def system():
    rng = np.random.default_rng(3)
    n, G, n2 = 400, 40, 17
    g = rng.integers(0, G, n)
    r = rng.integers(0, n2, n)
    z1 = rng.uniform(0.5, 1.5, n)
    Z1 = sp.csr_matrix((z1, (np.arange(n), g)), shape=(n, G))
    Z2 = sp.csr_matrix((np.ones(n), (np.arange(n), r)), shape=(n, n2))
    Z2 = sp.hstack([Z2, sp.csr_matrix((np.ones(n), (np.arange(n), rng.integers(0, 3, n))))])
    A11 = (Z1.T @ Z1).diagonal()
    A21 = sp.csc_matrix(Z2.T @ Z1)
    A21.sort_indices()
    A22 = (Z2.T @ Z2).toarray()
    d = np.r_[np.full(n2, 0.7), np.full(3, 1.3)]
    return A11, A21, A22, d, 0.9


def _factor(system):
    A11, A21, A22, d, lam1 = system
    n2 = A22.shape[0]
    low = sp.tril(sp.coo_matrix(A22)).tocoo()
    S = np.empty((n2, n2), order="F")
    L11 = np.empty(len(A11))
    l21 = np.empty(A21.nnz)
    info = schur_factor(lam1, d, A11, A21.indptr.astype(np.int64), A21.indices.astype(np.int32),
                        A21.data, low.row.astype(np.int32), low.col.astype(np.int32),
                        low.data, S, L11, l21)
    return info, S, L11, l21


def _dense_M(system):
    A11, A21, A22, d, lam1 = system
    G = len(A11)
    lam = np.r_[np.full(G, lam1), d]
    A = np.block([[np.diag(A11), A21.toarray().T], [A21.toarray(), A22]])
    return np.eye(len(lam)) + lam[:, None] * A * lam[None, :]


def test_schur_factor_is_the_blocked_cholesky(system):
    info, S, L11, l21 = _factor(system)
    assert info == 0
    L = np.linalg.cholesky(_dense_M(system))
    G = len(L11)
    np.testing.assert_allclose(L11, np.diag(L)[:G], rtol=1e-13)
    A21 = system[1]
    L21 = sp.csc_matrix((l21, A21.indices, A21.indptr), shape=A21.shape).toarray()
    np.testing.assert_allclose(L21, L[G:, :G], atol=1e-13)
    np.testing.assert_allclose(S, L[G:, G:], atol=1e-12)


def test_inverse_traces_and_solves(system):
    info, S, L11, l21 = _factor(system)
    Minv = np.linalg.inv(_dense_M(system))
    G = len(L11)
    B = np.asfortranarray(np.arange(2 * S.shape[0], dtype=float).reshape(-1, 2))
    X = B.copy(order="F")
    lower_solve(S, X)
    np.testing.assert_allclose(np.tril(S) @ X, B, atol=1e-10)
    X = B.copy(order="F")
    lower_solve(S, X, True)
    np.testing.assert_allclose(np.tril(S).T @ X, B, atol=1e-10)
    A21 = system[1]
    owner = np.r_[np.zeros(17), np.ones(3)].astype(np.int64)
    sums = np.empty(2)
    quad = np.empty(G)
    L21 = sp.csc_matrix((l21, A21.indices, A21.indptr), shape=A21.shape).toarray()
    P = np.linalg.inv(np.tril(S) @ np.tril(S).T)
    tr1 = inverse_traces(S, L11, A21.indptr.astype(np.int64), A21.indices.astype(np.int32),
                         l21, owner, sums, quad)
    dg = np.diag(Minv)
    assert tr1 == pytest.approx(dg[:G].sum(), rel=1e-12)
    np.testing.assert_allclose(sums, [dg[G:G + 17].sum(), dg[G + 17:].sum()], rtol=1e-12)
    np.testing.assert_allclose(quad, np.einsum("rg,rs,sg->g", L21, P, L21), rtol=1e-12)
    np.testing.assert_allclose(np.tril(S), np.tril(P), rtol=1e-12, atol=1e-15)


def test_gram_product_and_block_sums(system):
    info, S, L11, l21 = _factor(system)
    A21 = system[1]
    n2 = S.shape[0]
    L21 = sp.csc_matrix((l21, A21.indices, A21.indptr), shape=A21.shape).toarray()
    w = 1.0 / L11 ** 2
    W = np.empty((n2, n2), dtype=np.float32, order="F")
    weighted_gram(A21.indptr.astype(np.int64), A21.indices.astype(np.int32), l21, w, W)
    Wd = (L21 * w) @ L21.T
    np.testing.assert_allclose(W, Wd, rtol=1e-6, atol=1e-7)
    P = np.linalg.inv(np.tril(S) @ np.tril(S).T)
    Pl = np.asfortranarray(np.tril(P))
    mirror_lower(Pl)
    np.testing.assert_array_equal(Pl, Pl.T)
    U = np.empty((n2, n2), dtype=np.float32, order="F")
    symm_product(Pl, W, np.empty_like(U), U)
    np.testing.assert_allclose(U, P @ Wd, rtol=1e-5, atol=1e-6 * np.abs(P @ Wd).max())
    R = np.empty((2, 2))
    R1 = np.empty(2)
    t = hessian_traces(Pl, U, np.array([0, 17, 20]), R, R1)
    Ud = P @ Wd
    assert t == pytest.approx(np.trace(Ud @ Ud), rel=1e-5)
    blocks = [slice(0, 17), slice(17, 20)]
    PWP = P @ Wd @ P
    for a, sa in enumerate(blocks):
        assert R1[a] == pytest.approx(np.trace(PWP[sa, sa]), rel=1e-5)
        for b, sb in enumerate(blocks):
            assert R[a, b] == pytest.approx((P[sa, sb] ** 2).sum(), rel=1e-12)


def test_sym_lower_matvec(system):
    A22 = system[2]
    low = sp.tril(sp.coo_matrix(A22)).tocoo()
    x = np.linspace(-1, 2, A22.shape[0])
    out = np.empty_like(x)
    sym_lower_matvec(low.row.astype(np.int32), low.col.astype(np.int32), low.data, x, out)
    np.testing.assert_allclose(out, A22 @ x, rtol=1e-13)


def test_single_threaded_blas_scope_restores():
    from statsmodels_me._kernels.blas_threads import _local_setters, single_threaded_blas
    setters = _local_setters()
    before = [fn(0) for fn in setters]     # 0: the process-wide setting
    for fn, old in zip(setters, before):
        fn(old)
    with single_threaded_blas():
        inside = [fn(1) for fn in setters]
    assert all(v == 1 for v in inside)
    after = [fn(0) for fn in setters]
    for fn, old in zip(setters, after):
        fn(old)
    assert after == before
