"""Diagonal blocks of the inverse penalized Hessian of the crossed Laplace approximation.

At the conditional modes u^ the Laplace approximation treats u | y as normal with covariance
H^-1, H = (Z Lambda)' W (Z Lambda) + I, W = diag(-l''(eta)) (Bates et al. 2015, JSS 67(1),
section 5; lme4's ``ranef(condVar = TRUE)`` after ``glmer``). With the split of
:mod:`statsmodels_me.objectives.glmm_crossed_engine` (the largest term block-diagonal, one
q1 x q1 block B_g per group, the other terms' m effects dense) and C = B^-1 H12,

    S = H22 - H12' C,   (H^-1)_dense = S^-1,   (H^-1)_gg = B_g^-1 + C_g S^-1 C_g',

so only the G q1 x q1 blocks, the sparse H12 and C (nonzeros where a group of the first term
meets a dense effect) and the m x m Schur complement are formed, never an n x n matrix nor the
inverse of the whole H. C S^-1 is formed a slice of groups at a time.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

#: doubles of C S^-1 formed at once
_CHUNK = 1 << 22


def inverse_blocks(codes, z1, n_groups, idx2, zl2, m, w):
    """Diagonal blocks of H^-1 of the first term and the dense part of H^-1.

    Parameters
    ----------
    codes : ndarray (n,)
        Group of the first term of every observation.
    z1 : ndarray (n, q1)
        The first term's rows of Z Lambda.
    n_groups : int
        Groups of the first term.
    idx2 : ndarray (n, c2)
        Positions of every observation's dense columns (0..m-1).
    zl2 : ndarray (n, c2)
        Their values of Z Lambda.
    m : int
        Size of the dense part.
    w : ndarray (n,)
        The weights -l''(eta) at the modes.

    Returns
    -------
    first : ndarray (G, q1, q1)
        (H^-1)_gg.
    dense : ndarray (m, m)
        (H^-1)_dense = S^-1.
    """
    codes = np.asarray(codes, np.intp)
    z1 = np.asarray(z1, float)
    n, q1 = z1.shape
    G = int(n_groups)
    K = G * q1
    wz1 = w[:, None] * z1
    B = np.zeros((G, q1, q1))
    np.add.at(B, codes, wz1[:, :, None] * z1[:, None, :])
    B[:, np.arange(q1), np.arange(q1)] += 1.0
    Binv = np.linalg.inv(B)
    if m == 0:
        return Binv, np.zeros((0, 0))
    idx2 = np.asarray(idx2, np.intp)
    zl2 = np.asarray(zl2, float)
    c2 = idx2.shape[1]
    # H12: rows g q1 + a, columns idx2[i, c], values w_i z1_ia zl2_ic (duplicates summed)
    rows = (codes[:, None] * q1 + np.arange(q1)[None, :])[:, :, None]
    H12 = sparse.csr_matrix(
        ((wz1[:, :, None] * zl2[:, None, :]).ravel(),
         (np.broadcast_to(rows, (n, q1, c2)).ravel(),
          np.broadcast_to(idx2[:, None, :], (n, q1, c2)).ravel())), shape=(K, m))
    H22 = sparse.csr_matrix(
        (((w[:, None] * zl2)[:, :, None] * zl2[:, None, :]).ravel(),
         (np.broadcast_to(idx2[:, :, None], (n, c2, c2)).ravel(),
          np.broadcast_to(idx2[:, None, :], (n, c2, c2)).ravel())), shape=(m, m)).toarray()
    H22[np.arange(m), np.arange(m)] += 1.0
    blocks = np.arange(K).reshape(G, q1)
    Bd = sparse.csr_matrix((Binv.ravel(), (np.repeat(blocks, q1, axis=1).ravel(),
                                            np.tile(blocks, (1, q1)).ravel())), shape=(K, K))
    C = (Bd @ H12).tocsr()
    S = H22 - (H12.T @ C).toarray()
    Sinv = linalg.cho_solve(linalg.cho_factor(S, lower=True), np.eye(m))
    Sinv = 0.5 * (Sinv + Sinv.T)
    first = Binv.copy()
    step = max(1, _CHUNK // max(m * q1, 1))
    for g0 in range(0, G, step):
        g1 = min(G, g0 + step)
        Cg = C[g0 * q1:g1 * q1]
        CS = np.asarray(Cg @ Sinv).reshape(g1 - g0, q1, m)
        first[g0:g1] += np.einsum("gar,gbr->gab", CS, Cg.toarray().reshape(g1 - g0, q1, m))
    return first, Sinv
