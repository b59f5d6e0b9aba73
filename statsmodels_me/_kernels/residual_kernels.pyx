# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-group algebra of the LMM with a residual structure (``objectives/lmm_residual.py``).

For a batch of groups of one size s with relative covariances V_b (s x s) and data
D_b = [X_b y_b] (s x k): the Cholesky factor V_b = L_b L_b', log|V_b|, the whitened Gram
matrix sum_b D_b' V_b^-1 D_b and V_b^-1 itself (overwriting V_b), in O(s^3 + s^2 k) per
group, one pass, no Python loop over groups.
"""
from libc.math cimport log, sqrt
from libc.stdlib cimport malloc, free
import numpy as np

from statsmodels_me._kernels.small_dense cimport chol


def spd_inverse_gram(double[:, :, ::1] V, const double[:, :, ::1] D):
    """Overwrite each V_b with V_b^-1; return (ok, sum_b log|V_b|, Gram (k, k)).

    ``ok`` is False (and the other results meaningless) when some V_b is not positive
    definite.
    """
    cdef Py_ssize_t B = V.shape[0], s = V.shape[1], k = D.shape[2]
    cdef Py_ssize_t b, i, j, l, c
    cdef double acc, logdet = 0.0
    cdef int ok = 1
    gram_arr = np.zeros((k, k))
    cdef double[:, ::1] gram = gram_arr
    cdef double* L = <double*>malloc(s * s * sizeof(double))
    cdef double* Li = <double*>malloc(s * s * sizeof(double))
    cdef double* W = <double*>malloc(s * k * sizeof(double))
    if L == NULL or Li == NULL or W == NULL:
        free(L); free(Li); free(W)
        raise MemoryError()
    with nogil:
        for b in range(B):
            for i in range(s):
                for j in range(s):
                    L[i * s + j] = V[b, i, j]
            if not chol(L, <int>s):
                ok = 0
                break
            for i in range(s):
                logdet += 2.0 * log(L[i * s + i])
            # Li = L^-1 (lower) by forward substitution, column by column
            for j in range(s):
                for i in range(s):
                    if i < j:
                        Li[i * s + j] = 0.0
                    elif i == j:
                        Li[i * s + i] = 1.0 / L[i * s + i]
                    else:
                        acc = 0.0
                        for l in range(j, i):
                            acc -= L[i * s + l] * Li[l * s + j]
                        Li[i * s + j] = acc / L[i * s + i]
            # W = Li D_b, Gram += W'W
            for i in range(s):
                for c in range(k):
                    acc = 0.0
                    for l in range(i + 1):
                        acc += Li[i * s + l] * D[b, l, c]
                    W[i * k + c] = acc
            for c in range(k):
                for l in range(c + 1):
                    acc = 0.0
                    for i in range(s):
                        acc += W[i * k + c] * W[i * k + l]
                    gram[c, l] += acc
            # V_b^-1 = Li' Li
            for i in range(s):
                for j in range(i + 1):
                    acc = 0.0
                    for l in range(i, s):
                        acc += Li[l * s + i] * Li[l * s + j]
                    V[b, i, j] = acc
                    V[b, j, i] = acc
    free(L)
    free(Li)
    free(W)
    for c in range(k):
        for l in range(c):
            gram[l, c] = gram[c, l]
    return bool(ok), logdet, gram_arr


def banded_whiten(int mode, const double[:, ::1] band, const double[:, :, ::1] dband,
                  const long long[::1] pos, const double[:, ::1] D):
    """Whiten the rows of ``D`` within runs of rows (series) by a banded operator, with
    directional derivatives; O(n b (k + b) r) for bandwidth b, k columns, r directions.

    Row j belongs to a series whose first row is j - pos[j]; ``band[j, l]`` (l = 0..b) is
    the operator's entry at (j, j - l), used for l <= pos[j] only.

    mode 0 (autoregressive): ``band`` is W = L^-1, lower triangular with bandwidth b, where
    L L' = C is the series' covariance (for an AR(p), W's rows are the Durbin-Levinson
    prediction-error coefficients over the innovation standard deviations); the result is
    W D, log|C| = -2 sum_j log W[j, j].

    mode 1 (moving average): ``band`` is the lower band of C itself (bandwidth b); L is its
    banded Cholesky factor (the same bandwidth) and the result is L^-1 D by banded forward
    substitution, log|C| = 2 sum_j log L[j, j].

    ``dband`` (r, n, b + 1) holds the derivatives of ``band`` along r directions; their
    images are the derivatives of the result (mode 1: d(L^-1 D) = -L^-1 dL L^-1 D, with dL
    from the forward-mode derivative of the Cholesky recursion).

    Returns (ok, Dt (n, k), dDt (r, n, k), log|C|, dlog|C| (r,)); ``ok`` is False when C
    is not positive definite (mode 1).
    """
    cdef Py_ssize_t n = D.shape[0], k = D.shape[1], b1 = band.shape[1]
    cdef Py_ssize_t r = dband.shape[0]
    cdef Py_ssize_t j, l, c, i, bj, ll
    cdef double acc, piv, logdet = 0.0
    cdef int ok = 1
    Dt_arr = np.zeros((n, k))
    dDt_arr = np.zeros((r, n, k))
    dld_arr = np.zeros(r)
    L_arr = np.zeros((n, b1))
    dL_arr = np.zeros((r, n, b1))
    cdef double[:, ::1] Dt = Dt_arr
    cdef double[:, :, ::1] dDt = dDt_arr
    cdef double[::1] dld = dld_arr
    cdef double[:, ::1] L = L_arr
    cdef double[:, :, ::1] dL = dL_arr
    with nogil:
        if mode == 0:
            for j in range(n):
                bj = pos[j] if pos[j] < b1 - 1 else b1 - 1
                logdet -= 2.0 * log(band[j, 0])
                for i in range(r):
                    dld[i] -= 2.0 * dband[i, j, 0] / band[j, 0]
                for c in range(k):
                    acc = 0.0
                    for l in range(bj + 1):
                        acc += band[j, l] * D[j - l, c]
                    Dt[j, c] = acc
                    for i in range(r):
                        acc = 0.0
                        for l in range(bj + 1):
                            acc += dband[i, j, l] * D[j - l, c]
                        dDt[i, j, c] = acc
        else:
            for j in range(n):
                bj = pos[j] if pos[j] < b1 - 1 else b1 - 1
                # L[j, l] = (C[j, l] - sum_{ll > l} L[j, ll] L[j - l, ll - l]) / L[j - l, 0]
                for l in range(bj, 0, -1):
                    acc = band[j, l]
                    for ll in range(l + 1, bj + 1):
                        acc -= L[j, ll] * L[j - l, ll - l]
                    L[j, l] = acc / L[j - l, 0]
                    for i in range(r):
                        acc = dband[i, j, l] - L[j, l] * dL[i, j - l, 0]
                        for ll in range(l + 1, bj + 1):
                            acc -= dL[i, j, ll] * L[j - l, ll - l] \
                                + L[j, ll] * dL[i, j - l, ll - l]
                        dL[i, j, l] = acc / L[j - l, 0]
                piv = band[j, 0]
                for ll in range(1, bj + 1):
                    piv -= L[j, ll] * L[j, ll]
                if not piv > 0.0:
                    ok = 0
                    break
                L[j, 0] = sqrt(piv)
                logdet += log(piv)
                for i in range(r):
                    acc = dband[i, j, 0]
                    for ll in range(1, bj + 1):
                        acc -= 2.0 * L[j, ll] * dL[i, j, ll]
                    dL[i, j, 0] = acc / (2.0 * L[j, 0])
                    dld[i] += 2.0 * dL[i, j, 0] / L[j, 0]
                for c in range(k):
                    acc = D[j, c]
                    for l in range(1, bj + 1):
                        acc -= L[j, l] * Dt[j - l, c]
                    Dt[j, c] = acc / L[j, 0]
                    for i in range(r):
                        acc = 0.0
                        for l in range(bj + 1):
                            acc -= dL[i, j, l] * Dt[j - l, c]
                        for l in range(1, bj + 1):
                            acc -= L[j, l] * dDt[i, j - l, c]
                        dDt[i, j, c] = acc / L[j, 0]
    return bool(ok), Dt_arr, dDt_arr, logdet, dld_arr


def segment_gram(const double[:, ::1] A, const double[:, ::1] B,
                 const long long[::1] starts):
    """sum_j A_j' B_j over the rows j of each segment [starts[g], starts[g + 1]) (the last
    ends at the last row): (G, a, b), O(n a b)."""
    cdef Py_ssize_t n = A.shape[0], ka = A.shape[1], kb = B.shape[1]
    cdef Py_ssize_t G = starts.shape[0], g, j, c, e, hi
    out_arr = np.zeros((G, ka, kb))
    cdef double[:, :, ::1] out = out_arr
    with nogil:
        for g in range(G):
            hi = starts[g + 1] if g + 1 < G else n
            for j in range(starts[g], hi):
                for c in range(ka):
                    for e in range(kb):
                        out[g, c, e] += A[j, c] * B[j, e]
    return out_arr
