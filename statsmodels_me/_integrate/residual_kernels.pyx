# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-group algebra of the LMM with a residual structure (``objectives/lmm_residual.py``).

For a batch of groups of one size s with relative covariances V_b (s x s) and data
D_b = [X_b y_b] (s x k): the Cholesky factor V_b = L_b L_b', log|V_b|, the whitened Gram
matrix sum_b D_b' V_b^-1 D_b and V_b^-1 itself (overwriting V_b), in O(s^3 + s^2 k) per
group, one pass, no Python loop over groups.
"""
from libc.math cimport log
from libc.stdlib cimport malloc, free
import numpy as np

from statsmodels_me._integrate.small_dense cimport chol


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
