# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Vectorized conditional log density and its eta-derivatives for whole-data-set algorithms
(the sparse Laplace of crossed GLMMs), built on the nogil family math of family_math.pxd."""
import numpy as np
from statsmodels_me._kernels.family_math cimport fam_eval


def family_eval(int fam, int link, const double[::1] y, const double[::1] t,
                const double[::1] eta, const double[::1] aux):
    """Variable part of log f(y_i | eta_i) with first and second eta-derivatives.

    Returns
    -------
    logf, d1, d2 : ndarray (n,)
        The eta-free constant is not included (see families.registry.obs_constant).
    """
    cdef Py_ssize_t i, n = y.shape[0]
    cdef int naux = aux.shape[0]
    out = np.empty((3, n))
    cdef double[:, ::1] o = out
    cdef const double* ap = &aux[0] if naux > 0 else NULL
    with nogil:
        for i in range(n):
            o[0, i] = fam_eval(fam, link, y[i], t[i], eta[i], ap, naux, &o[1, i], &o[2, i])
    return out[0], out[1], out[2]
