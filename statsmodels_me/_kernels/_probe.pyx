# cython: language_level=3
"""Smallest kernel: a nogil log-sum-exp used to check that the extension build works."""
from libc.math cimport exp, log, INFINITY


cpdef double logsumexp(const double[::1] x) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef double m = -INFINITY, s = 0.0
    for i in range(n):
        if x[i] > m:
            m = x[i]
    if m == -INFINITY:
        return m
    for i in range(n):
        s += exp(x[i] - m)
    return m + log(s)
