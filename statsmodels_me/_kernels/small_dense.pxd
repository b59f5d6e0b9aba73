# cython: language_level=3
"""Small dense linear algebra on row-major q x q buffers, for per-cluster kernels (nogil)."""
from libc.math cimport INFINITY, exp, log, sqrt


cdef inline int chol(double* M, int q) noexcept nogil:
    """In-place lower Cholesky of a row-major q x q matrix (reads the lower triangle; the
    upper part is zeroed). Returns 1, or 0 when M is not positive definite."""
    cdef int i, j, k
    cdef double s
    for j in range(q):
        s = M[j * q + j]
        for k in range(j):
            s -= M[j * q + k] * M[j * q + k]
        if not (s > 0):
            return 0
        s = sqrt(s)
        M[j * q + j] = s
        for i in range(j + 1, q):
            for k in range(j):
                M[i * q + j] -= M[i * q + k] * M[j * q + k]
            M[i * q + j] /= s
        for i in range(j + 1, q):
            M[j * q + i] = 0.0
    return 1


cdef inline void chol_solve_cols(const double* R, double* b, int q, int ncol) noexcept nogil:
    """Solve (R R') X = B in place for a q x ncol row-major B, R lower."""
    cdef int i, k, c
    cdef double s
    for c in range(ncol):
        for i in range(q):
            s = b[i * ncol + c]
            for k in range(i):
                s -= R[i * q + k] * b[k * ncol + c]
            b[i * ncol + c] = s / R[i * q + i]
        for i in range(q - 1, -1, -1):
            s = b[i * ncol + c]
            for k in range(i + 1, q):
                s -= R[k * q + i] * b[k * ncol + c]
            b[i * ncol + c] = s / R[i * q + i]


cdef inline void chol_solve(const double* R, int q, double* b) noexcept nogil:
    """Solve (R R') x = b in place for one vector, R lower."""
    chol_solve_cols(R, b, q, 1)


cdef inline void chol_inverse(const double* R, int q, double* Minv, double* col) noexcept nogil:
    """Minv = (R R')^-1 (``col`` is q doubles of scratch)."""
    cdef int i, j
    for j in range(q):
        for i in range(q):
            col[i] = 1.0 if i == j else 0.0
        chol_solve(R, q, col)
        for i in range(q):
            Minv[i * q + j] = col[i]


cdef inline double lse_moments(double* f, int K, const double* U, int q, double* pm,
                               double* pv) noexcept nogil:
    """Normalize the node log-weights ``f`` (K) in place to probabilities and return their
    log-sum-exp; ``pm`` (q) and ``pv`` (q x q) receive the mean and covariance of the nodes
    ``U`` (K x q, row-major) under those probabilities. -inf when every weight is zero."""
    cdef int k, a, b
    cdef double mx = -INFINITY, tot = 0.0, v
    for k in range(K):
        if f[k] > mx:
            mx = f[k]
    if mx == -INFINITY:
        return -INFINITY
    for k in range(K):
        f[k] = exp(f[k] - mx)
        tot += f[k]
    for k in range(K):
        f[k] /= tot
    for a in range(q):
        pm[a] = 0.0
        for k in range(K):
            pm[a] += f[k] * U[k * q + a]
    for a in range(q):
        for b in range(q):
            v = 0.0
            for k in range(K):
                v += f[k] * (U[k * q + a] - pm[a]) * (U[k * q + b] - pm[b])
            pv[a * q + b] = v
    return mx + log(tot)
