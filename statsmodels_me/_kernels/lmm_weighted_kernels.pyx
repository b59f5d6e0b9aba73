# cython: language_level=3
"""One level of the weighted LMM's recursion (``objectives/lmm_weighted.py``), per group.

Every group g of the level has the weighted cross products S_g (K x K) of its rows over
[Z_l, Z of the outer levels, X, y] (the first q columns its own random effects). With
Lambda the level's relative Cholesky factor (q x q):

    T_g = I + Lambda' A_g Lambda,  M_g = Lambda' C_g,  B_g = chol(T_g)^-1 M_g,
    R_g = E_g - B_g' B_g,          log|T_g| = 2 sum log diag chol(T_g)

(A, C, E the leading q x q, q x r and trailing r x r blocks of S_g, r = K - q). The parents'
cross products are sum_g w_g R_g and their log-determinant sums sum_g w_g (ld_g + log|T_g|).
Derivatives in theta, forward mode: with W = T^-1 M,

    dT = Lambda' dA Lambda + dLambda' A Lambda + (dLambda' A Lambda)',
    dM = Lambda' dC + dLambda' C,
    dR = dE + W' dT W - dM' W - W' dM,   d log|T| = tr(T^-1 dT),

summed into the parents with the same weights. One serial pass over the groups, no GIL.
"""
from libc.math cimport log
from libc.stdlib cimport free, malloc
import numpy as np

from statsmodels_me._kernels.small_dense cimport chol, chol_inverse


def weighted_level_sweep(const double[:, :, ::1] S, const double[:, ::1] lam,
                         const double[::1] logdet_in,
                         const double[:, :, :, ::1] dS, const double[:, ::1] dld_in,
                         const double[:, :, ::1] dlam,
                         const long[::1] in_pos, const long[::1] own_pos,
                         const long[::1] parent, const double[::1] weight,
                         Py_ssize_t n_parent, bint keep=False):
    """Integrate one level's random effects out of its groups' cross products.

    Parameters
    ----------
    S : ndarray (G, K, K)
        The level's groups' weighted cross products, own random effects first.
    lam : ndarray (q, q)
        The level's relative Cholesky factor.
    logdet_in : ndarray (G,)
        Weighted log-determinant sums of each group's inner levels (zeros at the leaves).
    dS, dld_in : ndarray (n_in, G, K, K), (n_in, G)
        Derivatives of ``S`` and ``logdet_in`` in the theta entries of the inner levels.
    dlam : ndarray (n_own, q, q)
        Derivatives of ``lam`` in the level's own theta entries.
    in_pos, own_pos : ndarray (n_out,)
        For each output derivative, its row in ``dS`` and in ``dlam`` (-1: none).
    parent, weight : ndarray (G,)
        Each group's parent (in ``range(n_parent)``) and weight.
    n_parent : int
    keep : bool
        Also return each group's chol(T_g) and B_g.

    Returns
    -------
    R : ndarray (n_parent, r, r)
    logdet : ndarray (n_parent,)
    dR : ndarray (n_out, n_parent, r, r)
    dld : ndarray (n_out, n_parent)
    L, B : ndarray (G, q, q), (G, q, r), or ``None`` without ``keep``
    ok : bool
        False when some T_g is not positive definite (the outputs are then incomplete).
    """
    cdef Py_ssize_t G = S.shape[0], K = S.shape[1], q = lam.shape[0], r = K - q
    cdef Py_ssize_t n_out = in_pos.shape[0]
    cdef Py_ssize_t g, i, j, k, a, b, o, ip, op, p
    cdef double s, w, ld
    cdef int bad = 0
    out_R_arr = np.zeros((n_parent, r, r))
    out_ld_arr = np.zeros(n_parent)
    out_dR_arr = np.zeros((n_out, n_parent, r, r))
    out_dld_arr = np.zeros((n_out, n_parent))
    keep_L_arr = np.zeros((G if keep else 0, q, q))
    keep_B_arr = np.zeros((G if keep else 0, q, r))
    cdef double[:, :, ::1] out_R = out_R_arr
    cdef double[::1] out_ld = out_ld_arr
    cdef double[:, :, :, ::1] out_dR = out_dR_arr
    cdef double[:, ::1] out_dld = out_dld_arr
    cdef double[:, :, ::1] keep_L = keep_L_arr
    cdef double[:, :, ::1] keep_B = keep_B_arr
    cdef bint derivs = n_out > 0
    cdef double* AL = <double*> malloc(q * q * sizeof(double))
    cdef double* L = <double*> malloc(q * q * sizeof(double))
    cdef double* M = <double*> malloc(q * r * sizeof(double))
    cdef double* B = <double*> malloc(q * r * sizeof(double))
    cdef double* W = <double*> malloc(q * r * sizeof(double))
    cdef double* Tinv = <double*> malloc(q * q * sizeof(double))
    cdef double* col = <double*> malloc(q * sizeof(double))
    cdef double* dT = <double*> malloc(q * q * sizeof(double))
    cdef double* dM = <double*> malloc(q * r * sizeof(double))
    cdef double* dTW = <double*> malloc(q * r * sizeof(double))
    cdef double* tmp = <double*> malloc(q * q * sizeof(double))
    if G > 0 and q > 0 and (AL == NULL or L == NULL or M == NULL or B == NULL or W == NULL
                            or Tinv == NULL or col == NULL or dT == NULL or dM == NULL
                            or dTW == NULL or tmp == NULL):
        free(AL); free(L); free(M); free(B); free(W); free(Tinv); free(col); free(dT)
        free(dM); free(dTW); free(tmp)
        raise MemoryError()
    with nogil:
        for g in range(G):
            p = parent[g]
            w = weight[g]
            # A Lambda, then T = Lambda' A Lambda + I
            for i in range(q):
                for j in range(q):
                    s = 0.0
                    for k in range(q):
                        s = s + S[g, i, k] * lam[k, j]
                    AL[i * q + j] = s
            for i in range(q):
                for j in range(q):
                    s = 0.0
                    for k in range(q):
                        s = s + lam[k, i] * AL[k * q + j]
                    L[i * q + j] = s + (1.0 if i == j else 0.0)
            if not chol(L, <int> q):
                bad = 1
                break
            ld = 0.0
            for i in range(q):
                ld = ld + log(L[i * q + i])
            ld = 2.0 * ld
            # M = Lambda' C, B = L^-1 M
            for i in range(q):
                for a in range(r):
                    s = 0.0
                    for k in range(q):
                        s = s + lam[k, i] * S[g, k, q + a]
                    M[i * r + a] = s
            for a in range(r):
                for i in range(q):
                    s = M[i * r + a]
                    for k in range(i):
                        s = s - L[i * q + k] * B[k * r + a]
                    B[i * r + a] = s / L[i * q + i]
            for a in range(r):
                for b in range(r):
                    s = S[g, q + a, q + b]
                    for i in range(q):
                        s = s - B[i * r + a] * B[i * r + b]
                    out_R[p, a, b] += w * s
            out_ld[p] += w * (logdet_in[g] + ld)
            if keep:
                for i in range(q):
                    for j in range(q):
                        keep_L[g, i, j] = L[i * q + j]
                    for a in range(r):
                        keep_B[g, i, a] = B[i * r + a]
            if not derivs:
                continue
            # W = L^-T B = T^-1 M; T^-1
            for a in range(r):
                for i in range(q - 1, -1, -1):
                    s = B[i * r + a]
                    for k in range(i + 1, q):
                        s = s - L[k * q + i] * W[k * r + a]
                    W[i * r + a] = s / L[i * q + i]
            chol_inverse(L, <int> q, Tinv, col)
            for o in range(n_out):
                ip = in_pos[o]
                op = own_pos[o]
                for i in range(q * q):
                    dT[i] = 0.0
                for i in range(q * r):
                    dM[i] = 0.0
                s = 0.0
                if ip >= 0:
                    s = dld_in[ip, g]
                    # Lambda' dA Lambda (tmp = dA Lambda) and Lambda' dC
                    for i in range(q):
                        for j in range(q):
                            tmp[i * q + j] = 0.0
                            for k in range(q):
                                tmp[i * q + j] += dS[ip, g, i, k] * lam[k, j]
                    for i in range(q):
                        for j in range(q):
                            for k in range(q):
                                dT[i * q + j] += lam[k, i] * tmp[k * q + j]
                        for a in range(r):
                            for k in range(q):
                                dM[i * r + a] += lam[k, i] * dS[ip, g, k, q + a]
                if op >= 0:
                    # dLambda' A Lambda and its transpose; dLambda' C
                    for i in range(q):
                        for j in range(q):
                            tmp[i * q + j] = 0.0
                            for k in range(q):
                                tmp[i * q + j] += dlam[op, k, i] * AL[k * q + j]
                    for i in range(q):
                        for j in range(q):
                            dT[i * q + j] += tmp[i * q + j] + tmp[j * q + i]
                        for a in range(r):
                            for k in range(q):
                                dM[i * r + a] += dlam[op, k, i] * S[g, k, q + a]
                for i in range(q):
                    for j in range(q):
                        s = s + Tinv[i * q + j] * dT[i * q + j]
                out_dld[o, p] += w * s
                # dT W
                for i in range(q):
                    for a in range(r):
                        dTW[i * r + a] = 0.0
                        for k in range(q):
                            dTW[i * r + a] += dT[i * q + k] * W[k * r + a]
                for a in range(r):
                    for b in range(r):
                        s = dS[ip, g, q + a, q + b] if ip >= 0 else 0.0
                        for i in range(q):
                            s = s + (W[i * r + a] * dTW[i * r + b]
                                     - dM[i * r + a] * W[i * r + b]
                                     - W[i * r + a] * dM[i * r + b])
                        out_dR[o, p, a, b] += w * s
    free(AL); free(L); free(M); free(B); free(W); free(Tinv); free(col); free(dT)
    free(dM); free(dTW); free(tmp)
    return (out_R_arr, out_ld_arr, out_dR_arr, out_dld_arr,
            keep_L_arr if keep else None, keep_B_arr if keep else None, not bad)
