"""``weighted_level_sweep`` against the same level written with dense numpy per group.

The reference integrates the level's random effects out of each group's quadratic form
directly: with S_g the group's cross products and Lambda the factor,
R_g = E - C' Lambda (I + Lambda' A Lambda)^-1 Lambda' C (Woodbury) and
log|I + Lambda' A Lambda| by ``slogdet``; the parents' sums with ``np.add.at``. The
derivatives are checked against central differences of that reference.
"""
import numpy as np
import pytest
from statsmodels_me._kernels.lmm_weighted_kernels import weighted_level_sweep


def _problem(seed=0, G=9, q=2, r=3, n_parent=4):
    rng = np.random.default_rng(seed)
    K = q + r
    D = rng.normal(size=(G, 6, K))
    S = np.ascontiguousarray(np.einsum("gik,gil->gkl", D, D))
    lam = np.tril(rng.uniform(0.3, 1.0, size=(q, q)))
    parent = rng.integers(0, n_parent, size=G).astype(np.int64)
    weight = rng.uniform(0.5, 2.0, size=G)
    logdet_in = rng.uniform(0, 1, size=G)
    return S, lam, parent, weight, logdet_in


def _reference(S, lam, parent, weight, logdet_in, n_parent):
    q = lam.shape[0]
    r = S.shape[1] - q
    R = np.zeros((n_parent, r, r))
    ld = np.zeros(n_parent)
    for g in range(S.shape[0]):
        A, C, E = S[g, :q, :q], S[g, :q, q:], S[g, q:, q:]
        T = np.eye(q) + lam.T @ A @ lam
        Rg = E - C.T @ lam @ np.linalg.solve(T, lam.T @ C)
        R[parent[g]] += weight[g] * Rg
        ld[parent[g]] += weight[g] * (logdet_in[g] + np.linalg.slogdet(T)[1])
    return R, ld


def _no_derivatives(G, K, q):
    return (np.zeros((0, G, K, K)), np.zeros((0, G)), np.zeros((0, q, q)),
            np.zeros(0, np.int64), np.zeros(0, np.int64))


def test_values_and_kept_factors():
    S, lam, parent, weight, ld_in = _problem()
    G, K = S.shape[:2]
    q = lam.shape[0]
    dS, dld, dlam, ip, op = _no_derivatives(G, K, q)
    R, ld, dR, dldo, L, B, ok = weighted_level_sweep(S, lam, ld_in, dS, dld, dlam, ip, op,
                                                     parent, weight, 4, True)
    assert ok
    R_ref, ld_ref = _reference(S, lam, parent, weight, ld_in, 4)
    np.testing.assert_allclose(R, R_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ld, ld_ref, rtol=1e-12)
    assert dR.shape == (0, 4, K - q, K - q)
    T = np.eye(q) + np.einsum("ki,gkl,lj->gij", lam, S[:, :q, :q], lam)
    np.testing.assert_allclose(L, np.linalg.cholesky(T), rtol=1e-12)
    np.testing.assert_allclose(B, np.linalg.solve(L, lam.T @ S[:, :q, q:]), rtol=1e-10,
                               atol=1e-12)


def test_not_positive_definite_is_flagged():
    S, lam, parent, weight, ld_in = _problem()
    S[3, 0, 0] = -1e6                 # A_3 indefinite: T_3 has a negative pivot
    G, K = S.shape[:2]
    out = weighted_level_sweep(S, lam, ld_in, *_no_derivatives(G, K, lam.shape[0]),
                               parent, weight, 4, False)
    assert not out[-1]


@pytest.mark.parametrize("which", ["own", "incoming", "both"])
def test_derivatives_match_differences(which):
    """d/dt of R and log|T| sums along lam(t) = lam + t dlam and S(t) = S + t dS."""
    S, lam, parent, weight, ld_in = _problem(1)
    rng = np.random.default_rng(2)
    G, K = S.shape[:2]
    q = lam.shape[0]
    dlam = np.tril(rng.normal(size=(1, q, q))) if which != "incoming" else np.zeros((1, q, q))
    D = rng.normal(size=(G, K, K))
    dSg = np.ascontiguousarray(D + np.swapaxes(D, 1, 2)) if which != "own" else np.zeros(
        (G, K, K))
    dld_in = rng.normal(size=(1, G))
    R, ld, dR, dld, *_ = weighted_level_sweep(
        S, lam, ld_in, dSg[None], dld_in, dlam, np.array([0], np.int64),
        np.array([0], np.int64), parent, weight, 4, False)
    h = 1e-6
    Rp, ldp = _reference(S + h * dSg, lam + h * dlam[0], parent, weight, ld_in + h * dld_in[0],
                         4)
    Rm, ldm = _reference(S - h * dSg, lam - h * dlam[0], parent, weight, ld_in - h * dld_in[0],
                         4)
    np.testing.assert_allclose(dR[0], (Rp - Rm) / (2 * h), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dld[0], (ldp - ldm) / (2 * h), rtol=1e-6, atol=1e-6)
