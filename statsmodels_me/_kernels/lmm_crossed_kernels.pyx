# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Kernels of the linear mixed model with crossed scalar random intercepts.

Notation of :mod:`statsmodels_me.models.lmm_crossed`: the first (largest) term's effects are
eliminated with a diagonal block ``L11 = sqrt(1 + lam1^2 a11)``; the other terms' effects
(relative scales ``d``) form the dense Schur complement

    S = I + D A22 D - L21 L21',   L21 = D A21 lam1 L11^-1,

held in a column-major (Fortran) n2 x n2 buffer whose lower triangle is used. ``A21`` is
given column-compressed by group of the first term (sorted row indices), ``A22`` by its lower
triangle in coordinate form. Every loop is O(nnz) or O(sum_g nnz_g^2); the dense work is one
LAPACK call (``dpotrf``/``dpotri``) on the whole block, called without the GIL.
"""
from libc.math cimport log, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dtrsm, ssymm
from scipy.linalg.cython_lapack cimport dpotrf, dpotri


def schur_factor(double lam1, const double[::1] d, const double[::1] a11,
                 const long[::1] ptr, const int[::1] idx, const double[::1] a21,
                 const int[::1] a22_row, const int[::1] a22_col, const double[::1] a22,
                 double[::1, :] S, double[::1] L11, double[::1] l21):
    """Form the Schur complement in ``S`` and factor it in place (lower Cholesky).

    Parameters
    ----------
    lam1 : float
        Relative scale of the first term.
    d : ndarray (n2,)
        Relative scale of each effect of the other terms.
    a11 : ndarray (G,)
        Diagonal of Z1'Z1.
    ptr, idx, a21 : ndarray
        Z2'Z1 column-compressed by first-term group (row indices sorted within a column).
    a22_row, a22_col, a22 : ndarray
        Lower triangle (row >= col) of Z2'Z2 in coordinate form.
    S : ndarray (n2, n2), Fortran order
        Output: the lower Cholesky factor L22 (the strict upper triangle is zero).
    L11 : ndarray (G,)
        Output.
    l21 : ndarray (nnz,)
        Output: the values of L21 in the layout of ``a21``.

    Returns
    -------
    info : int
        LAPACK's ``dpotrf`` info (0 on success).
    """
    cdef int n = S.shape[0], info = 0
    cdef Py_ssize_t G = a11.shape[0], g, a, b, e, ra
    cdef double s, la
    cdef double* col
    cdef double* base = &S[0, 0]
    cdef char lo = b"L"
    with nogil:
        memset(base, 0, n * n * sizeof(double))
        for e in range(a22.shape[0]):
            S[a22_row[e], a22_col[e]] = a22[e] * d[a22_row[e]] * d[a22_col[e]]
        for a in range(n):
            S[a, a] += 1.0
        for g in range(G):
            s = sqrt(1.0 + lam1 * lam1 * a11[g])
            L11[g] = s
            s = lam1 / s
            for a in range(ptr[g], ptr[g + 1]):
                l21[a] = a21[a] * d[idx[a]] * s
            # S -= l_g l_g' (lower triangle; the row indices ascend within a column)
            for a in range(ptr[g], ptr[g + 1]):
                ra = idx[a]
                la = l21[a]
                col = base + ra * n
                for b in range(a, ptr[g + 1]):
                    col[idx[b]] -= la * l21[b]
        dpotrf(&lo, &n, base, &n, &info)
    return info


def lower_solve(const double[::1, :] L, double[::1, :] B, bint transpose=False):
    """Solve ``L X = B`` (``L' X = B`` with ``transpose``) in place, ``L`` lower, both
    column-major."""
    cdef int n = L.shape[0], m = B.shape[1]
    cdef char side = b"L", uplo = b"L", diag = b"N"
    cdef char tr = b"T" if transpose else b"N"
    cdef double one = 1.0
    if B.shape[0] != n:
        raise ValueError("lower_solve: shapes differ")
    if m == 0 or n == 0:
        return
    with nogil:
        dtrsm(&side, &uplo, &tr, &diag, &n, &m, &one, <double*>&L[0, 0], &n, &B[0, 0], &n)


def log_diag_sum(const double[::1, :] L):
    """``sum_i log L_ii``."""
    cdef Py_ssize_t i
    cdef double s = 0.0
    with nogil:
        for i in range(L.shape[0]):
            s += log(L[i, i])
    return s


def inverse_traces(double[::1, :] L, const double[::1] L11, const long[::1] ptr,
                   const int[::1] idx, const double[::1] l21, const long[::1] owner,
                   double[::1] diag_sums, double[::1] quad):
    """Turn the factor into P = S^-1 (lower triangle, in place) and return the traces of the
    inverse of the whole system M = I + Lambda A Lambda that the gradient needs.

    With C = L21 L11^-1 (column g scaled by 1 / L11_g), the blocked inverse gives
    (M^-1)_11 = L11^-2 + C' P C, (M^-1)_22 = P, so

        sum over the first term of (M^-1)_jj = sum_g 1 / L11_g^2 + sum_g c_g' P c_g,

    and ``diag_sums[k]`` receives the sum of P_rr over the effects r of term ``owner[r] = k``,
    ``quad[g]`` the quadratic form l_g' P l_g of column g of L21.

    Returns
    -------
    trace1 : float
        The first sum (``nan`` when ``dpotri`` fails).
    """
    cdef int n = L.shape[0], info = 0
    cdef Py_ssize_t G = L11.shape[0], g, a, b, r
    cdef double tot = 0.0, s, w
    cdef char lo = b"L"
    with nogil:
        dpotri(&lo, &n, &L[0, 0], &n, &info)
    if info != 0:
        return float("nan")
    with nogil:
        for a in range(diag_sums.shape[0]):
            diag_sums[a] = 0.0
        for r in range(n):
            diag_sums[owner[r]] += L[r, r]
        for g in range(G):
            w = 1.0 / L11[g]
            s = 0.0
            for a in range(ptr[g], ptr[g + 1]):
                # c_a^2 P_aa + 2 sum_{b > a} c_a c_b P_ba (idx ascends: P_ba is in the lower part)
                s += 0.5 * l21[a] * l21[a] * L[idx[a], idx[a]]
                for b in range(a + 1, ptr[g + 1]):
                    s += l21[a] * l21[b] * L[idx[b], idx[a]]
            quad[g] = 2.0 * s
            tot += w * w * (1.0 + 2.0 * s)
    return tot


def sym_lower_matvec(const int[::1] row, const int[::1] col, const double[::1] val,
                     const double[::1] x, double[::1] out):
    """``out = A x`` for a symmetric A given by its lower triangle in coordinate form."""
    cdef Py_ssize_t e, i, j
    with nogil:
        for i in range(out.shape[0]):
            out[i] = 0.0
        for e in range(val.shape[0]):
            i = row[e]
            j = col[e]
            out[i] += val[e] * x[j]
            if i != j:
                out[j] += val[e] * x[i]


def weighted_gram(const long[::1] ptr, const int[::1] idx, const double[::1] l21,
                  const double[::1] w, float[::1, :] W):
    """``W = sum_g w_g l_g l_g'`` over the columns l_g of L21 (both triangles), in single
    precision: W only enters the Hessian through ``symm_product``."""
    cdef Py_ssize_t n = W.shape[0], G = w.shape[0], g, a, b, ra, i, j
    cdef double la
    cdef float* col
    cdef float* base = &W[0, 0]
    with nogil:
        memset(base, 0, n * n * sizeof(float))
        for g in range(G):
            for a in range(ptr[g], ptr[g + 1]):
                ra = idx[a]
                la = w[g] * l21[a]
                col = base + ra * n
                for b in range(a, ptr[g + 1]):
                    col[idx[b]] += <float>(la * l21[b])
        for j in range(n):
            for i in range(j + 1, n):
                base[i * n + j] = base[j * n + i]
    return W


cdef void _mirror(double* A, Py_ssize_t n) noexcept nogil:
    """Copy the lower triangle of a column-major n x n matrix onto its upper triangle."""
    cdef Py_ssize_t i, j, i0, j0
    for j0 in range(0, n, 64):
        for i0 in range(j0, n, 64):
            for j in range(j0, min(j0 + 64, n)):
                for i in range(max(i0, j + 1), min(i0 + 64, n)):
                    A[i * n + j] = A[j * n + i]


def mirror_lower(double[::1, :] A):
    """Make a column-major matrix symmetric from its lower triangle, in place."""
    with nogil:
        _mirror(&A[0, 0], A.shape[0])
    return A


def symm_product(const double[::1, :] P, const float[::1, :] W, float[::1, :] P32,
                 float[::1, :] U):
    """``U = P W`` in single precision (BLAS ``ssymm``; ``P32`` receives P's lower triangle).

    The product only forms the terms tr(PWPW) and diag(PWP) of the Hessian, whose rounding
    at ~1e-7 of their size is far below what the Hessian is used for (Newton steps and
    standard errors to 1e-5); single precision halves the cost of the largest BLAS call.
    """
    cdef int n = P.shape[0]
    cdef Py_ssize_t i, j
    cdef char side = b"L", uplo = b"L"
    cdef float one = 1.0, zero = 0.0
    with nogil:
        for j in range(n):
            for i in range(j, n):
                P32[i, j] = <float>P[i, j]
        ssymm(&side, &uplo, &n, &n, &one, &P32[0, 0], &n, <float*>&W[0, 0], &n,
              &zero, &U[0, 0], &n)
    return U


def hessian_traces(const double[::1, :] P, const float[::1, :] U, const long[::1] starts,
                   double[:, ::1] R, double[::1] R1):
    """Block sums for the Hessian of log|M| (see :mod:`statsmodels_me.models.lmm_crossed`).

    ``P`` symmetric (both triangles), ``U = P W``; the terms occupy the consecutive index
    ranges ``starts[k]:starts[k + 1]``. ``R[k, l] = sum_{r in k, s in l} P_rs^2``,
    ``R1[k] = sum_{r in k} (U P)_rr = sum_{r in k} sum_s U_rs P_rs`` (P symmetric).

    Returns
    -------
    trUU : float
        trace(U U).
    """
    cdef Py_ssize_t n = P.shape[0], K = R.shape[0], r, s, k, l, i0, j0, i, j
    cdef double t = 0.0, p, acc, acc1
    cdef double* row1 = <double*>malloc(n * sizeof(double))
    if row1 == NULL:
        raise MemoryError()
    with nogil:
        for k in range(K):
            for l in range(K):
                R[k, l] = 0.0
        for r in range(n):
            row1[r] = 0.0
        for l in range(K):
            for s in range(starts[l], starts[l + 1]):
                for k in range(K):
                    acc = 0.0
                    for r in range(starts[k], starts[k + 1]):
                        p = P[r, s]
                        acc = acc + p * p
                    R[k, l] += acc
                for r in range(n):
                    row1[r] += U[r, s] * P[r, s]
        for k in range(K):
            acc1 = 0.0
            for r in range(starts[k], starts[k + 1]):
                acc1 = acc1 + row1[r]
            R1[k] = acc1
        for j0 in range(0, n, 32):
            for i0 in range(0, n, 32):
                for j in range(j0, min(j0 + 32, n)):
                    for i in range(i0, min(i0 + 32, n)):
                        t += U[i, j] * U[j, i]
    free(row1)
    return t
