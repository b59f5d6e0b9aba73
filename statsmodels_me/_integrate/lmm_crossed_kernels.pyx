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
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dtrsm
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
                   double[::1] diag_sums):
    """Turn the factor into P = S^-1 (lower triangle, in place) and return the traces of the
    inverse of the whole system M = I + Lambda A Lambda that the gradient needs.

    With C = L21 L11^-1 (column g scaled by 1 / L11_g), the blocked inverse gives
    (M^-1)_11 = L11^-2 + C' P C, (M^-1)_22 = P, so

        sum over the first term of (M^-1)_jj = sum_g 1 / L11_g^2 + sum_g c_g' P c_g,

    and ``diag_sums[k]`` receives the sum of P_rr over the effects r of term ``owner[r] = k``.

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
