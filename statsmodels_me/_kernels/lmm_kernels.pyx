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
from libc.math cimport M_PI, log, sqrt
from libc.stdlib cimport malloc, free
import numpy as np
cimport numpy as cnp

from statsmodels_me._kernels.small_dense cimport chol


cdef inline void _a_lam(const double[:, :, ::1] A, Py_ssize_t g, const double[:, ::1] Lam,
                        Py_ssize_t q, double* AL) noexcept nogil:
    """A_g Lam (q x q, row-major) into AL."""
    cdef Py_ssize_t i, j, k
    cdef double s
    for i in range(q):
        for j in range(q):
            s = 0.0
            for k in range(q):
                s += A[g, i, k] * Lam[k, j]
            AL[i * q + j] = s


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
    C : ndarray (p, p) or None
        X' V^-1 X relative to s2 (the Schur complement of the blocked factor), so that
        the covariance of the GLS beta is s2 C^-1.

    Notes
    -----
    With M_g = L_g L_g', the first pass forms V_g = L_g^-1 Lam' [B_g | c_g] (one triangular
    solve), so that C = X'X - sum_g V_B' V_B and the reduced X'y, y'y follow from the same
    inner products; log|M_g| is accumulated as a running product of the determinants
    (each is >= 1, since M_g - I is positive semidefinite), taking one logarithm per batch.
    """
    cdef Py_ssize_t G = A.shape[0], q = A.shape[1], p = B.shape[2]
    cdef Py_ssize_t P1 = p + 1, g, gi, i, j, k, l
    cdef Py_ssize_t store = 1 if want_grad else 0
    cdef double logdet = 0.0, detprod = 1.0, s, r2, m
    cdef double[:, ::1] C = np.array(XtX, dtype=np.float64, copy=True)
    cdef double[::1] Xy = np.array(Xty, dtype=np.float64, copy=True)
    cdef double ytyadj = yty
    cdef double[:, ::1] grad = np.zeros((q, q))
    cdef double[:, ::1] gr2 = np.zeros((q, q))
    cdef double[:, ::1] emS = np.zeros((q, q))
    cdef double[:, ::1] emT = np.zeros((q, q))
    cdef double[:, ::1] emU = np.zeros((q, q))
    cdef double[::1] beta
    # the factors L_g and V_g are kept for the gradient pass only
    cdef double[:, :, ::1] Lf = np.empty((G if want_grad else 1, q, q))
    cdef double[:, :, ::1] V = np.empty((G if want_grad else 1, q, P1))
    cdef double* AL = <double*> malloc(q * q * sizeof(double))
    cdef double* rd = <double*> malloc(q * sizeof(double))
    cdef double* L
    cdef double* Vg
    cdef int bad = 0
    # groups for the general-q loops; q = 2 (intercept and slope) has its own passes
    cdef Py_ssize_t Ggen = 0 if q == 2 else G
    with nogil:
        if q == 2:
            bad = 1 - _first_pass_q2(A, B, c, Lam, C, Xy, &ytyadj, Lf, V, store, &logdet)
        for g in range(Ggen):
            gi = g * store
            L = &Lf[gi, 0, 0]
            Vg = &V[gi, 0, 0]
            # M = I + Lam' A Lam (lower triangle), A symmetric
            _a_lam(A, g, Lam, q, AL)
            for i in range(q):
                for j in range(i + 1):
                    s = 1.0 if i == j else 0.0
                    for k in range(q):
                        s += Lam[k, i] * AL[k * q + j]
                    L[i * q + j] = s
            if chol(L, q) == 0:
                bad = 1
                break
            for i in range(q):
                rd[i] = 1.0 / L[i * q + i]
                detprod *= L[i * q + i] * L[i * q + i]
            if detprod > 1e200:
                logdet += log(detprod)
                detprod = 1.0
            # V = L^-1 Lam' [B | c], row by row (forward substitution)
            for i in range(q):
                for j in range(P1):
                    s = 0.0
                    if j < p:
                        for k in range(q):
                            s += Lam[k, i] * B[g, k, j]
                    else:
                        for k in range(q):
                            s += Lam[k, i] * c[g, k]
                    for k in range(i):
                        s -= L[i * q + k] * Vg[k * P1 + j]
                    Vg[i * P1 + j] = s * rd[i]
            # C -= V_B' V_B (upper triangle), X'y -= V_B' V_c, y'y -= V_c' V_c
            for j in range(p):
                for l in range(j, P1):
                    s = 0.0
                    for k in range(q):
                        s += Vg[k * P1 + j] * Vg[k * P1 + l]
                    if l < p:
                        C[j, l] -= s
                    else:
                        Xy[j] -= s
            s = 0.0
            for k in range(q):
                s += Vg[k * P1 + p] * Vg[k * P1 + p]
            ytyadj -= s
        if q != 2:
            logdet += log(detprod)
        for j in range(p):
            for l in range(j):
                C[j, l] = C[l, j]
    if bad:
        free(AL); free(rd)
        return np.inf, None, None, np.nan, np.nan, None, None, None, None, None, None
    Carr = np.asarray(C)
    try:
        RX = np.linalg.cholesky(Carr)
    except np.linalg.LinAlgError:
        free(AL); free(rd)
        return np.inf, None, None, np.nan, np.nan, None, None, None, None, None, None
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
        free(AL); free(rd)
        return dev, None, beta_arr, r2, logdetC, None, None, None, None, None, Carr
    Cinv_arr = np.ascontiguousarray(np.linalg.inv(Carr))
    cdef double[:, ::1] Ci = Cinv_arr
    cdef double fac = m / r2
    cdef double* e = <double*> malloc(q * sizeof(double))
    cdef double* w = <double*> malloc(q * sizeof(double))
    cdef double* Li = <double*> malloc(q * q * sizeof(double))
    cdef double* Minv = <double*> malloc(q * q * sizeof(double))
    cdef double* W = <double*> malloc(q * p * sizeof(double))
    cdef double* WC = <double*> malloc(q * p * sizeof(double))
    cdef double[::1] acc2 = np.zeros(20)
    if q == 2:
        with nogil:
            _second_pass_q2(A, B, c, Lam, Lf, V, beta, Ci, reml, &acc2[0])
        for i in range(2):
            for j in range(2):
                grad[i, j] = acc2[2 * i + j]
                gr2[i, j] = acc2[4 + 2 * i + j]
                emS[i, j] = acc2[8 + 2 * i + j]
                emT[i, j] = acc2[12 + 2 * i + j]
                emU[i, j] = acc2[16 + 2 * i + j]
    with nogil:
        for g in range(Ggen):
            L = &Lf[g, 0, 0]
            Vg = &V[g, 0, 0]
            for i in range(q):
                rd[i] = 1.0 / L[i * q + i]
            _a_lam(A, g, Lam, q, AL)
            # L^-1 (lower), then M^-1 = L^-T L^-1
            for j in range(q):
                for i in range(q):
                    if i < j:
                        Li[i * q + j] = 0.0
                        continue
                    s = 1.0 if i == j else 0.0
                    for k in range(j, i):
                        s -= L[i * q + k] * Li[k * q + j]
                    Li[i * q + j] = s * rd[i]
            for i in range(q):
                for j in range(i + 1):
                    s = 0.0
                    for k in range(i, q):
                        s += Li[k * q + i] * Li[k * q + j]
                    Minv[i * q + j] = s
                    Minv[j * q + i] = s
            # u = L^-T (V_c - V_B beta) = M^-1 Lam' e_g,  e = c - B beta
            for i in range(q):
                s = Vg[i * P1 + p]
                for j in range(p):
                    s -= Vg[i * P1 + j] * beta[j]
                e[i] = s
            for i in range(q - 1, -1, -1):
                s = e[i]
                for k in range(i + 1, q):
                    s -= L[k * q + i] * w[k]
                w[i] = s * rd[i]
            for i in range(q):
                s = c[g, i]
                for j in range(p):
                    s -= B[g, i, j] * beta[j]
                e[i] = s
            for i in range(q):
                # r_i = (e - A Lam u)_i
                s = e[i]
                for k in range(q):
                    s -= AL[i * q + k] * w[k]
                for j in range(q):
                    emS[i, j] += w[i] * w[j]
                    emT[i, j] += Minv[i * q + j]
                    # d log|M| part: 2 (A Lam M^-1)_ij;  d r2 part: -2 r_i u_j
                    gr2[i, j] -= 2.0 * s * w[j]
                    for k in range(q):
                        grad[i, j] += 2.0 * AL[i * q + k] * Minv[k * q + j]
            if reml:
                # W = M^-1 Lam' B_g = L^-T V_B;  WC = W C^-1
                for j in range(p):
                    for i in range(q - 1, -1, -1):
                        s = Vg[i * P1 + j]
                        for k in range(i + 1, q):
                            s -= L[k * q + i] * W[k * p + j]
                        W[i * p + j] = s * rd[i]
                for i in range(q):
                    for l in range(p):
                        s = 0.0
                        for j in range(p):
                            s += W[i * p + j] * Ci[j, l]
                        WC[i * p + l] = s
                for i in range(q):
                    for j in range(q):
                        # emU += W C^-1 W';  grad -= 2 (B - A Lam W) C^-1 W'
                        s = 0.0
                        for l in range(p):
                            s += W[i * p + l] * WC[j * p + l]
                        emU[i, j] += s
                        s = 0.0
                        for l in range(p):
                            s += (B[g, i, l] - _alw(AL, W, i, l, q, p)) * WC[j * p + l]
                        grad[i, j] -= 2.0 * s
    free(AL); free(rd); free(e); free(w); free(Li); free(Minv); free(W); free(WC)
    gld = np.asarray(grad)
    gr2_arr = np.asarray(gr2)
    return (dev, gld + fac * gr2_arr, beta_arr, r2, logdetC, gld, gr2_arr, np.asarray(emS),
            np.asarray(emT), np.asarray(emU), Carr)


cdef inline double _alw(const double* AL, const double* W, Py_ssize_t i, Py_ssize_t j,
                        Py_ssize_t q, Py_ssize_t p) noexcept nogil:
    """(A Lam W)_ij for row-major q x q ``AL`` and q x p ``W``."""
    cdef double s = 0.0
    cdef Py_ssize_t k
    for k in range(q):
        s += AL[i * q + k] * W[k * p + j]
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


def grouped_cross_products(const long[::1] codes, Py_ssize_t G, const double[:, ::1] Z,
                           const double[:, ::1] X, const double[::1] y):
    """Per-group sufficient statistics of a one-term LMM, and the global ones of the fixed
    part, in one pass over the rows (no BLAS: a threaded BLAS on n-long vectors waits for
    busy cores).

    Returns
    -------
    A : ndarray (G, q, q)
        ``Z_g' Z_g``.
    B : ndarray (G, q, p)
        ``Z_g' X_g``.
    c : ndarray (G, q)
        ``Z_g' y_g``.
    XtX : ndarray (p, p)
    Xty : ndarray (p,)
    yty : float
    """
    cdef Py_ssize_t n = Z.shape[0], q = Z.shape[1], p = X.shape[1], r, g, i, j
    cdef Py_ssize_t cur = -1
    cdef double zi, xi, yr, z0, z1, s00 = 0, s01 = 0, s11 = 0, c0 = 0, c1 = 0
    cdef double yy = 0.0
    cdef int bad = 0
    if X.shape[0] != n or y.shape[0] != n or codes.shape[0] != n:
        raise ValueError("grouped_cross_products: row counts differ")
    Aarr = np.zeros((G, q, q))
    Barr = np.zeros((G, q, p))
    carr = np.zeros((G, q))
    XtXarr = np.zeros((p, p))
    Xtyarr = np.zeros(p)
    cdef double[:, :, ::1] A = Aarr
    cdef double[:, :, ::1] B = Barr
    cdef double[:, ::1] c = carr
    cdef double[:, ::1] XtX = XtXarr
    cdef double[::1] Xty = Xtyarr
    with nogil:
        for r in range(n):
            g = codes[r]
            if g < 0 or g >= G:
                bad = 1
                break
            yr = y[r]
            yy += yr * yr
            for i in range(p):
                xi = X[r, i]
                Xty[i] += xi * yr
                for j in range(i, p):
                    XtX[i, j] += xi * X[r, j]
            if q == 2:
                # rows of a group are usually adjacent: keep its Z'Z and Z'y in registers
                if g != cur:
                    if cur >= 0:
                        A[cur, 0, 0] += s00
                        A[cur, 1, 0] += s01
                        A[cur, 1, 1] += s11
                        c[cur, 0] += c0
                        c[cur, 1] += c1
                    cur = g
                    s00 = s01 = s11 = c0 = c1 = 0.0
                z0 = Z[r, 0]
                z1 = Z[r, 1]
                s00 += z0 * z0
                s01 += z1 * z0
                s11 += z1 * z1
                c0 += z0 * yr
                c1 += z1 * yr
                for j in range(p):
                    xi = X[r, j]
                    B[g, 0, j] += z0 * xi
                    B[g, 1, j] += z1 * xi
            else:
                for i in range(q):
                    zi = Z[r, i]
                    for j in range(i + 1):
                        A[g, i, j] += zi * Z[r, j]
                    for j in range(p):
                        B[g, i, j] += zi * X[r, j]
                    c[g, i] += zi * yr
        if q == 2 and cur >= 0 and not bad:
            A[cur, 0, 0] += s00
            A[cur, 1, 0] += s01
            A[cur, 1, 1] += s11
            c[cur, 0] += c0
            c[cur, 1] += c1
        for g in range(G):
            for i in range(q):
                for j in range(i):
                    A[g, j, i] = A[g, i, j]
        for i in range(p):
            for j in range(i):
                XtX[i, j] = XtX[j, i]
    if bad:
        raise ValueError("grouped_cross_products: a group code is outside 0..G-1")
    return Aarr, Barr, carr, XtXarr, Xtyarr, yy


cdef inline void _a_lam_q2(const double[:, :, ::1] A, Py_ssize_t g, double l00, double l01,
                           double l10, double l11, double* al) noexcept nogil:
    """A_g Lam for q = 2 (A_g symmetric), row-major into al[0..3]."""
    cdef double a00 = A[g, 0, 0], a01 = A[g, 0, 1], a11 = A[g, 1, 1]
    al[0] = a00 * l00 + a01 * l10
    al[1] = a00 * l01 + a01 * l11
    al[2] = a01 * l00 + a11 * l10
    al[3] = a01 * l01 + a11 * l11


cdef int _first_pass_q2(const double[:, :, ::1] A, const double[:, :, ::1] B,
                        const double[:, ::1] c, const double[:, ::1] Lam, double[:, ::1] C,
                        double[::1] Xy, double* ytyadj, double[:, :, ::1] Lf,
                        double[:, :, ::1] V, Py_ssize_t store, double* logdet) noexcept nogil:
    """The first pass of ``one_term_deviance`` written out for q = 2 (random intercept and
    slope): the same arithmetic, with the 2 x 2 blocks in registers. Returns 0 when some
    M_g is not positive definite."""
    cdef Py_ssize_t G = A.shape[0], p = B.shape[2], P1 = p + 1, g, gi, j, l
    cdef double l00 = Lam[0, 0], l01 = Lam[0, 1], l10 = Lam[1, 0], l11 = Lam[1, 1]
    cdef double al[4]
    cdef double al00, al01, al10, al11, m00, m10, m11
    cdef double f00, f10, f11, r0, r1, t0, t1, v0, v1, s, det = 1.0, acc = 0.0
    cdef double* Vg
    for g in range(G):
        gi = g * store
        _a_lam_q2(A, g, l00, l01, l10, l11, al)
        al00, al01, al10, al11 = al[0], al[1], al[2], al[3]
        m00 = 1.0 + l00 * al00 + l10 * al10
        m10 = l01 * al00 + l11 * al10
        m11 = 1.0 + l01 * al01 + l11 * al11
        if not (m00 > 0):
            return 0
        f00 = sqrt(m00)
        f10 = m10 / f00
        s = m11 - f10 * f10
        if not (s > 0):
            return 0
        f11 = sqrt(s)
        Lf[gi, 0, 0] = f00
        Lf[gi, 0, 1] = 0.0
        Lf[gi, 1, 0] = f10
        Lf[gi, 1, 1] = f11
        det *= m00 * s
        if det > 1e200:
            acc += log(det)
            det = 1.0
        r0 = 1.0 / f00
        r1 = 1.0 / f11
        Vg = &V[gi, 0, 0]
        for j in range(p):
            t0 = l00 * B[g, 0, j] + l10 * B[g, 1, j]
            t1 = l01 * B[g, 0, j] + l11 * B[g, 1, j]
            v0 = t0 * r0
            Vg[j] = v0
            Vg[P1 + j] = (t1 - f10 * v0) * r1
        t0 = l00 * c[g, 0] + l10 * c[g, 1]
        t1 = l01 * c[g, 0] + l11 * c[g, 1]
        v0 = t0 * r0
        v1 = (t1 - f10 * v0) * r1
        Vg[p] = v0
        Vg[P1 + p] = v1
        for j in range(p):
            for l in range(j, p):
                C[j, l] -= Vg[j] * Vg[l] + Vg[P1 + j] * Vg[P1 + l]
            Xy[j] -= Vg[j] * v0 + Vg[P1 + j] * v1
        ytyadj[0] -= v0 * v0 + v1 * v1
    logdet[0] += acc + log(det)
    return 1


cdef void _second_pass_q2(const double[:, :, ::1] A, const double[:, :, ::1] B,
                          const double[:, ::1] c, const double[:, ::1] Lam,
                          const double[:, :, ::1] Lf, const double[:, :, ::1] V,
                          const double[::1] beta, const double[:, ::1] Ci, bint reml,
                          double* out) noexcept nogil:
    """The gradient pass of ``one_term_deviance`` written out for q = 2. ``out`` receives
    grad (log-det part), gr2, emS, emT, emU as five row-major 2 x 2 blocks (20 doubles,
    added to)."""
    cdef Py_ssize_t G = A.shape[0], p = B.shape[2], P1 = p + 1, g, j, l
    cdef double l00 = Lam[0, 0], l01 = Lam[0, 1], l10 = Lam[1, 0], l11 = Lam[1, 1]
    cdef double al[4]
    cdef double al00, al01, al10, al11, f10, i00, i11, i10
    cdef double n00, n01, n11, ev0, ev1, w0, w1, e0, e1, q0, q1, s
    cdef double W0j, W1j, x0, x1, y0, y1, b0, b1
    cdef double gd00 = 0, gd01 = 0, gd10 = 0, gd11 = 0
    cdef double gr00 = 0, gr01 = 0, gr10 = 0, gr11 = 0
    cdef double s00 = 0, s01 = 0, s11 = 0, t00 = 0, t01 = 0, t11 = 0
    cdef double u00 = 0, u01 = 0, u11 = 0
    cdef const double* Vg
    cdef double* W = <double*> malloc(2 * p * sizeof(double))
    cdef double* WC = <double*> malloc(2 * p * sizeof(double))
    for g in range(G):
        _a_lam_q2(A, g, l00, l01, l10, l11, al)
        al00, al01, al10, al11 = al[0], al[1], al[2], al[3]
        # L^-1 = [[i00, 0], [i10, i11]], M^-1 = L^-T L^-1
        i00 = 1.0 / Lf[g, 0, 0]
        i11 = 1.0 / Lf[g, 1, 1]
        f10 = Lf[g, 1, 0]
        i10 = -f10 * i00 * i11
        n00 = i00 * i00 + i10 * i10
        n01 = i10 * i11
        n11 = i11 * i11
        Vg = &V[g, 0, 0]
        ev0 = Vg[p]
        ev1 = Vg[P1 + p]
        e0 = c[g, 0]
        e1 = c[g, 1]
        for j in range(p):
            ev0 -= Vg[j] * beta[j]
            ev1 -= Vg[P1 + j] * beta[j]
            e0 -= B[g, 0, j] * beta[j]
            e1 -= B[g, 1, j] * beta[j]
        # u = L^-T ev = M^-1 Lam' e;  r = e - A Lam u
        w1 = ev1 * i11
        w0 = (ev0 - f10 * w1) * i00
        q0 = e0 - al00 * w0 - al01 * w1
        q1 = e1 - al10 * w0 - al11 * w1
        s00 += w0 * w0
        s01 += w0 * w1
        s11 += w1 * w1
        t00 += n00
        t01 += n01
        t11 += n11
        gr00 -= 2.0 * q0 * w0
        gr01 -= 2.0 * q0 * w1
        gr10 -= 2.0 * q1 * w0
        gr11 -= 2.0 * q1 * w1
        gd00 += 2.0 * (al00 * n00 + al01 * n01)
        gd01 += 2.0 * (al00 * n01 + al01 * n11)
        gd10 += 2.0 * (al10 * n00 + al11 * n01)
        gd11 += 2.0 * (al10 * n01 + al11 * n11)
        if reml:
            # W = L^-T V_B (2 x p), WC = W C^-1
            for j in range(p):
                W1j = Vg[P1 + j] * i11
                W[p + j] = W1j
                W[j] = (Vg[j] - f10 * W1j) * i00
            for l in range(p):
                x0 = 0.0
                x1 = 0.0
                for j in range(p):
                    x0 += W[j] * Ci[j, l]
                    x1 += W[p + j] * Ci[j, l]
                WC[l] = x0
                WC[p + l] = x1
            # emU += W C^-1 W';  grad -= 2 (B - A Lam W) C^-1 W'
            for l in range(p):
                W0j = W[l]
                W1j = W[p + l]
                u00 += W0j * WC[l]
                u01 += W0j * WC[p + l]
                u11 += W1j * WC[p + l]
                b0 = B[g, 0, l] - al00 * W0j - al01 * W1j
                b1 = B[g, 1, l] - al10 * W0j - al11 * W1j
                y0 = WC[l]
                y1 = WC[p + l]
                gd00 -= 2.0 * b0 * y0
                gd01 -= 2.0 * b0 * y1
                gd10 -= 2.0 * b1 * y0
                gd11 -= 2.0 * b1 * y1
    free(W)
    free(WC)
    out[0] += gd00
    out[1] += gd01
    out[2] += gd10
    out[3] += gd11
    out[4] += gr00
    out[5] += gr01
    out[6] += gr10
    out[7] += gr11
    out[8] += s00
    out[9] += s01
    out[10] += s01
    out[11] += s11
    out[12] += t00
    out[13] += t01
    out[14] += t01
    out[15] += t11
    out[16] += u00
    out[17] += u01
    out[18] += u01
    out[19] += u11
