# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-group kernel for a linear mixed model with one grouping term (Bates et al. 2015, JSS 67(1)).

With relative factor Lam (Sigma_b = s2 Lam Lam'), per-group sufficient statistics
A_g = Z_g'Z_g, B_g = Z_g'X_g, c_g = Z_g'y_g, and M_g = I + Lam' A_g Lam, the profiled deviance is
    D = sum_g log|M_g| + n (1 + log(2 pi r2 / n))                       (ML)
    D = sum_g log|M_g| + log|C| + (n-p)(1 + log(2 pi r2 / (n-p)))      (REML)
where C = X'X - sum_g B_g' Lam M_g^-1 Lam' B_g and r2 the penalized residual sum of squares at
the GLS beta. Its gradient with respect to the entries of Lam (derived by the envelope theorem,
with e_g = c_g - B_g beta, w_g = M_g^-1 Lam' e_g, W_g = M_g^-1 Lam' B_g):
    dD/dLam = 2 sum_g A_g Lam M_g^-1 - (m / r2) 2 sum_g (e_g - A_g Lam w_g) w_g'
              [- 2 sum_g (B_g - A_g Lam W_g) C^-1 W_g'   (REML)]
with m = n (ML) or n - p (REML).
"""
from libc.math cimport M_PI, log
from libc.stdlib cimport malloc, free
import numpy as np
cimport numpy as cnp

from statsmodels_me._integrate.small_dense cimport chol, chol_solve_cols


def one_term_deviance(const double[:, :, ::1] A, const double[:, :, ::1] B,
                      const double[:, ::1] c, const double[:, ::1] Lam,
                      const double[:, ::1] XtX, const double[::1] Xty, double yty,
                      long n, bint reml, bint want_grad):
    """Profiled deviance (and its gradient in Lam) of a one-term linear mixed model.

    Returns
    -------
    dev : float
        ``inf`` when a factorization fails.
    grad : ndarray (q, q) or None
    beta : ndarray (p,)
    r2 : float
    logdetC : float
    grad_logdet, grad_r2 : ndarray (q, q) or None
        The gradient split into d(log|M| [+ log|C|])/dLam and d r2/dLam.
    em_S, em_T, em_U : ndarray (q, q) or None
        With ``want_grad``: sums over groups of u_g u_g', of M_g^-1 and of
        W_g C^-1 W_g' with W_g = M_g^-1 Lam' B_g (the REML term), where
        u_g = M_g^-1 Lam' (c_g - B_g beta) is the spherical conditional mode; the EM update
        of the random-effects covariance is Lam (em_S + s2 em_T) Lam' / G (Laird and Ware
        1982, Biometrics 38, 963-974, in the relative parameterization).
    """
    cdef Py_ssize_t G = A.shape[0], q = A.shape[1], p = B.shape[2]
    cdef Py_ssize_t g, i, j, k, l
    cdef double logdet = 0.0, s, r2, m
    cdef double[:, ::1] C = np.array(XtX, dtype=np.float64, copy=True)
    cdef double[::1] Xy = np.array(Xty, dtype=np.float64, copy=True)
    cdef double ytyadj = yty
    cdef double[:, ::1] grad = np.zeros((q, q))
    cdef double[:, ::1] gr2 = np.zeros((q, q))
    cdef double[:, ::1] emS = np.zeros((q, q))
    cdef double[:, ::1] emT = np.zeros((q, q))
    cdef double[:, ::1] emU = np.zeros((q, q))
    cdef double[::1] beta = np.zeros(p)
    # M_g factors and the solves M^-1 Lam' [B_g c_g] are stored for the gradient pass
    cdef double[:, :, ::1] Lf = np.empty((G, q, q))
    cdef double[:, :, ::1] W = np.empty((G, q, p + 1))   # M^-1 Lam' [B_g | c_g]
    cdef double* LB = <double*> malloc(q * (p + 1) * sizeof(double))
    cdef double* AL = <double*> malloc(q * q * sizeof(double))
    cdef double* wtmp = <double*> malloc(q * sizeof(double))
    cdef double* Cinv = NULL
    cdef int bad = 0
    with nogil:
        for g in range(G):
            # M = I + Lam' A Lam
            for i in range(q):
                for j in range(q):
                    s = 0.0
                    for k in range(q):
                        s += A[g, i, k] * Lam[k, j]
                    AL[i * q + j] = s
            for i in range(q):
                for j in range(q):
                    s = 1.0 if i == j else 0.0
                    for k in range(q):
                        s += Lam[k, i] * AL[k * q + j]
                    Lf[g, i, j] = s
            if chol(&Lf[g, 0, 0], q) == 0:
                bad = 1
                break
            for i in range(q):
                logdet += 2.0 * log(Lf[g, i, i])
            # LB = Lam' [B_g | c_g]
            for i in range(q):
                for j in range(p):
                    s = 0.0
                    for k in range(q):
                        s += Lam[k, i] * B[g, k, j]
                    LB[i * (p + 1) + j] = s
                s = 0.0
                for k in range(q):
                    s += Lam[k, i] * c[g, k]
                LB[i * (p + 1) + p] = s
            for i in range(q * (p + 1)):
                W[g, i // (p + 1), i % (p + 1)] = LB[i]
            chol_solve_cols(&Lf[g, 0, 0], &W[g, 0, 0], q, p + 1)
            for j in range(p):
                for l in range(p):
                    s = 0.0
                    for k in range(q):
                        s += LB[k * (p + 1) + j] * W[g, k, l]
                    C[j, l] -= s
                s = 0.0
                for k in range(q):
                    s += LB[k * (p + 1) + j] * W[g, k, p]
                Xy[j] -= s
            s = 0.0
            for k in range(q):
                s += LB[k * (p + 1) + p] * W[g, k, p]
            ytyadj -= s
    if bad:
        free(LB); free(AL); free(wtmp)
        return np.inf, None, None, np.nan, np.nan, None, None, None, None, None
    Carr = np.asarray(C)
    try:
        RX = np.linalg.cholesky(Carr)
    except np.linalg.LinAlgError:
        free(LB); free(AL); free(wtmp)
        return np.inf, None, None, np.nan, np.nan, None, None, None, None, None
    beta_arr = np.linalg.solve(Carr, np.asarray(Xy))
    beta = beta_arr
    r2 = ytyadj - float(beta_arr @ np.asarray(Xy))
    if r2 <= 0:
        r2 = 1e-300
    logdetC = 2.0 * float(np.log(np.diag(RX)).sum())
    m = (n - p) if reml else n
    dev = logdet + m * (1.0 + log(2.0 * M_PI * r2 / m))
    if reml:
        dev += logdetC
    if not want_grad:
        free(LB); free(AL); free(wtmp)
        return dev, None, beta_arr, r2, logdetC, None, None, None, None, None
    Cinv_arr = np.ascontiguousarray(np.linalg.inv(Carr))
    cdef double[:, ::1] Ci = Cinv_arr
    cdef double fac = m / r2
    cdef double* e = <double*> malloc(q * sizeof(double))
    cdef double* Minv = <double*> malloc(q * q * sizeof(double))
    cdef double* T = <double*> malloc(q * p * sizeof(double))
    with nogil:
        for g in range(G):
            # AL = A_g Lam
            for i in range(q):
                for j in range(q):
                    s = 0.0
                    for k in range(q):
                        s += A[g, i, k] * Lam[k, j]
                    AL[i * q + j] = s
            # M^-1 (identity solved)
            for i in range(q):
                for j in range(q):
                    Minv[i * q + j] = 1.0 if i == j else 0.0
            chol_solve_cols(&Lf[g, 0, 0], Minv, q, q)
            # w = W[:, p] - W[:, :p] beta  (= M^-1 Lam' e_g),  e = c - B beta
            for i in range(q):
                s = W[g, i, p]
                for j in range(p):
                    s -= W[g, i, j] * beta[j]
                wtmp[i] = s
                s = c[g, i]
                for j in range(p):
                    s -= B[g, i, j] * beta[j]
                e[i] = s
            for i in range(q):
                for j in range(q):
                    emS[i, j] += wtmp[i] * wtmp[j]
                    emT[i, j] += Minv[i * q + j]
                    if reml:
                        # (M^-1 Lam' B_g) C^-1 (M^-1 Lam' B_g)': the uncertainty of beta
                        s = 0.0
                        for l in range(p):
                            for k in range(p):
                                s += W[g, i, l] * Ci[l, k] * W[g, j, k]
                        emU[i, j] += s
            for i in range(q):
                # r_i = (e - A Lam w)_i
                s = e[i]
                for k in range(q):
                    s -= AL[i * q + k] * wtmp[k]
                for j in range(q):
                    # d log|M| part: 2 (A Lam M^-1)_ij;  d r2 part: -2 r_i w_j
                    gr2[i, j] -= 2.0 * s * wtmp[j]
                    for k in range(q):
                        grad[i, j] += 2.0 * AL[i * q + k] * Minv[k * q + j]
            if reml:
                # T = (B_g - A_g Lam W_g) C^-1  (q x p), then grad -= 2 T W_g'
                for i in range(q):
                    for l in range(p):
                        s = 0.0
                        for j in range(p):
                            s += (B[g, i, j] - _alw(AL, W, g, i, j, q)) * Ci[j, l]
                        T[i * p + l] = s
                for i in range(q):
                    for j in range(q):
                        s = 0.0
                        for l in range(p):
                            s += T[i * p + l] * W[g, j, l]
                        grad[i, j] -= 2.0 * s
    free(LB); free(AL); free(wtmp); free(e); free(Minv); free(T)
    gld = np.asarray(grad)
    gr2_arr = np.asarray(gr2)
    return (dev, gld + fac * gr2_arr, beta_arr, r2, logdetC, gld, gr2_arr, np.asarray(emS),
            np.asarray(emT), np.asarray(emU))


cdef inline double _alw(const double* AL, double[:, :, ::1] W, Py_ssize_t g, Py_ssize_t i,
                        Py_ssize_t j, Py_ssize_t q) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t k
    for k in range(q):
        s += AL[i * q + k] * W[g, k, j]
    return s


def solve_lower(const double[:, ::1] L, B, bint transpose=False):
    """Solve ``L X = B`` (or ``L' X = B`` with ``transpose``) for lower-triangular ``L``.

    Plain loops without BLAS: the blocks the LMM engine solves are small, and a threaded
    BLAS ``trsm`` on a busy machine costs ~10x more than the arithmetic.
    ``B`` may be 1-d or 2-d; the result has its shape.
    """
    Barr = np.array(B, dtype=np.float64, order="C", copy=True)
    one_d = Barr.ndim == 1
    if one_d:
        Barr = Barr[:, None]
    cdef double[:, ::1] X = Barr
    cdef Py_ssize_t n = L.shape[0], m = X.shape[1], i, k, c
    cdef double s
    if X.shape[0] != n:
        raise ValueError("solve_lower: shapes do not match")
    with nogil:
        if not transpose:
            for i in range(n):
                for c in range(m):
                    s = X[i, c]
                    for k in range(i):
                        s -= L[i, k] * X[k, c]
                    X[i, c] = s / L[i, i]
        else:
            for i in range(n - 1, -1, -1):
                for c in range(m):
                    s = X[i, c]
                    for k in range(i + 1, n):
                        s -= L[k, i] * X[k, c]
                    X[i, c] = s / L[i, i]
    return Barr[:, 0] if one_d else Barr


def sparse_column_quadratic(const long[::1] indptr, const int[::1] indices,
                            const double[::1] data, const double[:, ::1] S):
    """``sum_j s_j' S s_j`` over the columns ``s_j`` of a CSC matrix, for a dense symmetric
    ``S``: the trace of ``A' S A`` in O(sum_j nnz_j^2) operations."""
    cdef Py_ssize_t ncol = indptr.shape[0] - 1, j, a, b
    cdef double total = 0.0, s
    with nogil:
        for j in range(ncol):
            for a in range(indptr[j], indptr[j + 1]):
                s = 0.0
                for b in range(indptr[j], indptr[j + 1]):
                    s += S[indices[a], indices[b]] * data[b]
                total += data[a] * s
    return total
