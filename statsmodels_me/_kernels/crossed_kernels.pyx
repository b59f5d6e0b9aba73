# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Penalized Newton (PIRLS) and Laplace pieces for GLMMs with crossed random effects.

The random effects are split in two parts (Bates et al. 2015, JSS 67(1), section 3.5 for the
block structure): the *first* term's effects, one q1-vector per group and block-diagonal in
H = (Z Lambda)' W (Z Lambda) + I, and the *dense* part of dimension m (the other terms'
effects, then optionally unpenalized columns such as the fixed effects of lme4's nAGQ=0
stage). Observation i loads the first part through ``z1[i]`` (q1 values, group ``codes[i]``)
and the dense part through ``zl2[i]`` at positions ``idx2[i]`` (c2 values); both already hold
Z Lambda. With B_g = I + sum_i w_i z1_i z1_i' = L_g L_g' and W_g = L_g^-1 H12_g,

    H = [B  H12; H21  H22],   S = H22 - sum_g W_g' W_g = R_S R_S',
    log|H| = sum_g log|B_g| + log|S|,

so one factorization costs O(n (q1 + c2)^2 + G q1 m^2 + m^3) and no n x n or
(all effects)^2 matrix is formed. The gradient pieces follow from the blocks of H^-1:
H^-1_gg = L_g^-T (I + R_g W_g') L_g^-1, H^-1_g,dense = -L_g^-T R_g, H^-1_dense = S^-1,
with R_g = W_g S^-1.

Observation weights (``weights``: Stata's fweight/iweight/pweight at the observation level)
replace l_i by w_i l_i everywhere: the eta-derivatives of log f are the weighted ones, so H, the
mode and the gradient formulas are unchanged. Without weights the loops are the unweighted
ones (no per-row weight load).
"""
import numpy as np

from libc.math cimport INFINITY, exp, fabs, isfinite, log
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, dsyrk
from scipy.linalg.cython_lapack cimport dpotrf, dpotri, dpotrs

from statsmodels_me._kernels.kernel_codes cimport (
    FAM_BERNOULLI,
    FAM_BINOMIAL,
    LINK_LOGIT,
)
from statsmodels_me._kernels.family_math cimport (
    fam_d3,
    fam_eval,
    laplace_aux_gradient,
    logistic_tail,
)
from statsmodels_me._kernels.small_dense cimport chol

cdef double _FD_H = 1e-4     # aux steps of the curvature terms (as the two-level kernels)
cdef double _D3_H = 1e-5     # eta step of the third derivative for non-canonical models


cdef class CrossedSystem:
    """Mode, log determinant and gradient pieces of the crossed Laplace approximation.

    Parameters
    ----------
    fam, link : int
        Family and link codes (``kernel_codes.pxd``).
    y, t : ndarray (n,)
        Response and trials.
    codes : ndarray of int32 (n,)
        Group of the first term for every observation.
    idx2 : ndarray of int32 (n, c2)
        Positions of every observation's dense columns, increasing along each row.
    G, q1, m, npen : int
        Groups and size of the first term; dense dimension and its penalized leading part.
    nfix : int
        Trailing dense columns that every observation has, at positions m - nfix .. m - 1
        (the fixed effects of the nAGQ=0 stage): their block is one matrix product.
    weights : ndarray (n,), optional
        Observation weights multiplying each conditional log density (None: unweighted).

    Notes
    -----
    ``set_values`` supplies ``z1`` (n, q1) and ``zl2`` (n, c2) for the current Lambda.
    ``mode`` leaves the factor of H at the mode (weights -l'') in place for ``gradient``.
    """
    cdef int fam, link, n, G, q1, c2, m, npen, factored, nfix, weighted
    cdef const double[::1] wts
    cdef object _keep
    cdef const double[::1] y, t
    cdef const int[::1] codes
    cdef const int[:, ::1] idx2
    cdef const double[:, ::1] z1, zl2
    cdef double[::1] eta, d1, d2, etan, d1n, d2n, w, Lb, W, S, Sinv, R, r1, r2, u1n, u2n, d3, T, F
    cdef double[::1] g1, g2
    cdef const double* pz1
    cdef const double* pzl2
    cdef const int* pcodes
    cdef const int* pidx
    cdef public double logdet

    def __init__(self, int fam, int link, y, t, codes, idx2, int G, int q1, int m, int npen,
                 int nfix=0, weights=None):
        self.fam, self.link = fam, link
        self.y = np.ascontiguousarray(y, float)
        self.t = np.ascontiguousarray(t, float)
        self.weighted = weights is not None
        if self.weighted:
            self.wts = np.ascontiguousarray(weights, float)
            if self.wts.shape[0] != self.y.shape[0]:
                raise ValueError("weights must have one entry per observation")
        else:
            self.wts = np.zeros(1)
        self.codes = np.ascontiguousarray(codes, np.intc)
        self.idx2 = np.ascontiguousarray(idx2, np.intc)
        if self.idx2.shape[1] > 1 and np.any(np.diff(np.asarray(self.idx2), axis=1) <= 0):
            raise ValueError("dense positions must increase along each row of idx2")
        self.n, self.c2 = self.idx2.shape[0], self.idx2.shape[1]
        self.pcodes = &self.codes[0]
        self.nfix = nfix
        if nfix and np.any(np.asarray(self.idx2)[:, self.c2 - nfix:] != np.arange(m - nfix, m)):
            raise ValueError("the last nfix dense columns must sit at positions m - nfix .. m - 1")
        self.T = np.zeros(max(self.n * nfix, 1))
        self.F = np.zeros(max(nfix * nfix, 1))
        self.pidx = &self.idx2[0, 0] if self.c2 > 0 else NULL
        self.G, self.q1, self.m, self.npen = G, q1, m, npen
        n = self.n
        self.eta, self.d1, self.d2 = np.zeros(n), np.zeros(n), np.zeros(n)
        self.etan, self.d1n, self.d2n = np.zeros(n), np.zeros(n), np.zeros(n)
        self.w, self.d3 = np.zeros(n), np.zeros(n)
        self.Lb = np.zeros(G * q1 * q1)
        self.W = np.zeros(max(G * q1 * m, 1))
        self.R = np.zeros(max(G * q1 * m, 1))
        self.S = np.zeros(max(m * m, 1))
        self.Sinv = np.zeros(max(m * m, 1))
        self.r1, self.u1n = np.zeros(G * q1), np.zeros(G * q1)
        self.r2, self.u2n = np.zeros(max(m, 1)), np.zeros(max(m, 1))
        self.g1, self.g2 = np.zeros(G * q1), np.zeros(max(m, 1))
        self.factored = 0

    def set_values(self, z1, zl2):
        """Z Lambda of the first term (n, q1) and of the dense columns (n, c2)."""
        z1 = np.ascontiguousarray(z1, float).reshape(self.n, self.q1)
        zl2 = np.ascontiguousarray(zl2, float).reshape(self.n, self.c2)
        self._keep = (z1, zl2)
        self.z1, self.zl2 = z1, zl2
        self.pz1 = &self.z1[0, 0]
        self.pzl2 = &self.zl2[0, 0] if self.c2 > 0 else NULL
        self.factored = 0

    # -- building blocks (nogil) -------------------------------------------------------------
    cdef void _predict(self, const double* eta0, const double* u1, const double* u2,
                       double* out) noexcept nogil:
        cdef Py_ssize_t i
        cdef int a, c, q1 = self.q1, c2 = self.c2
        cdef double v
        cdef const double* z1 = self.pz1
        cdef const double* zl2 = self.pzl2
        cdef const int* codes = self.pcodes
        cdef const int* idx = self.pidx
        for i in range(self.n):
            v = eta0[i] if eta0 != NULL else 0.0
            for a in range(q1):
                v += z1[i * q1 + a] * u1[codes[i] * q1 + a]
            for c in range(c2):
                v += zl2[i * c2 + c] * u2[idx[i * c2 + c]]
            out[i] = v

    cdef void _crossprod(self, const double* v, double* o1, double* o2) noexcept nogil:
        """o1, o2 = (Z Lambda)' v split in the two parts."""
        cdef Py_ssize_t i
        cdef int a, c, q1 = self.q1, c2 = self.c2, k
        cdef const double* z1 = self.pz1
        cdef const double* zl2 = self.pzl2
        cdef const int* codes = self.pcodes
        cdef const int* idx = self.pidx
        for k in range(self.G * q1):
            o1[k] = 0.0
        for k in range(self.m):
            o2[k] = 0.0
        for i in range(self.n):
            for a in range(q1):
                o1[codes[i] * q1 + a] += z1[i * q1 + a] * v[i]
            for c in range(c2):
                o2[idx[i * c2 + c]] += zl2[i * c2 + c] * v[i]

    cdef double _evaluate(self, const double* aux, int naux, const double* eta,
                          const double* u1, const double* u2, double* d1,
                          double* d2) noexcept nogil:
        """Penalized log likelihood (without the eta-free constant) and l', l''."""
        cdef Py_ssize_t i
        cdef double s = 0.0, pen = 0.0
        cdef int fam = self.fam, link = self.link
        cdef const double* y = &self.y[0]
        cdef const double* t = &self.t[0]
        if self.weighted:
            s = self._weighted_rows(aux, naux, eta, d1, d2)
        else:
            for i in range(self.n):
                s += fam_eval(fam, link, y[i], t[i], eta[i], aux, naux, &d1[i], &d2[i])
        for i in range(self.G * self.q1):
            pen += u1[i] * u1[i]
        for i in range(self.npen):
            pen += u2[i] * u2[i]
        return s - 0.5 * pen

    cdef double _weighted_rows(self, const double* aux, int naux, const double* eta,
                               double* d1, double* d2) noexcept nogil:
        """sum_i w_i log f_i and the weighted l', l'' (rows of weight 0 contribute 0)."""
        cdef Py_ssize_t i
        cdef double s = 0.0
        cdef const double* y = &self.y[0]
        cdef const double* t = &self.t[0]
        cdef const double* wt = &self.wts[0]
        for i in range(self.n):
            if wt[i] == 0.0:
                d1[i] = 0.0
                d2[i] = 0.0
                continue
            s += wt[i] * fam_eval(self.fam, self.link, y[i], t[i], eta[i], aux, naux, &d1[i],
                                  &d2[i])
            d1[i] *= wt[i]
            d2[i] *= wt[i]
        return s

    cdef void _derivs(self, const double* aux, int naux, const double* eta, double* d1,
                      double* d2) noexcept nogil:
        """l' and l'' only (the canonical logit without its logarithm)."""
        cdef Py_ssize_t i
        cdef double e, mu
        cdef const double* y = &self.y[0]
        cdef const double* t = &self.t[0]
        if self.weighted:
            self._weighted_rows(aux, naux, eta, d1, d2)
            return
        if ((self.fam == FAM_BERNOULLI or self.fam == FAM_BINOMIAL)
                and self.link == LINK_LOGIT):
            for i in range(self.n):
                mu = logistic_tail(eta[i], &e)
                d1[i] = y[i] - t[i] * mu
                d2[i] = -t[i] * mu * (1.0 - mu)
            return
        for i in range(self.n):
            fam_eval(self.fam, self.link, y[i], t[i], eta[i], aux, naux, &d1[i], &d2[i])

    cdef int _factor(self) noexcept nogil:
        """Factor H at the weights ``self.w``; sets ``self.logdet`` (penalized part)."""
        cdef Py_ssize_t i, g, k
        cdef int a, b, c, cc, r, q1 = self.q1, c2 = self.c2, m = self.m, info = 0
        cdef int K = self.G * q1
        cdef double v, wi, ld = 0.0, one = 1.0, mone = -1.0
        cdef double* Lb = &self.Lb[0]
        cdef double* W = &self.W[0]
        cdef double* S = &self.S[0]
        cdef double* Wg
        cdef double* Sr
        cdef const double* w = &self.w[0]
        cdef const double* z1 = self.pz1
        cdef const double* zi
        cdef const double* zl2 = self.pzl2
        cdef const double* zli
        cdef const int* codes = self.pcodes
        cdef const int* idx = self.pidx
        cdef const int* idi
        cdef char up = b'U', no = b'N', tr = b'T'
        cdef int nfix = self.nfix, cs = self.c2 - self.nfix, nn = self.n
        cdef double zero = 0.0
        cdef double* T = &self.T[0]
        cdef double* F = &self.F[0]
        self.factored = 0
        for k in range(K * q1):
            Lb[k] = 0.0
        for k in range(K * m):
            W[k] = 0.0
        for k in range(m * m):
            S[k] = 0.0
        for i in range(self.n):
            g = codes[i]
            wi = w[i]
            zi = z1 + i * q1
            zli = zl2 + i * c2
            idi = idx + i * c2
            for a in range(q1):
                v = wi * zi[a]
                for b in range(a + 1):
                    Lb[(g * q1 + a) * q1 + b] += v * zi[b]
            Wg = W + g * q1 * m
            for c in range(c2):
                r = idi[c]
                v = wi * zli[c]
                for a in range(q1):
                    Wg[a * m + r] += v * zi[a]
                # lower triangle only (dsyrk and dpotrf read it); positions increase
                # along an observation's dense columns; the fixed columns' own block is
                # added below by one matrix product
                Sr = S + r * m
                for cc in range(c + 1 if c < cs else cs):
                    Sr[idi[cc]] += v * zli[cc]
            for c in range(nfix):
                T[i * nfix + c] = wi * zli[cs + c]
        if nfix > 0:
            # F = Xf' diag(w) Xf, column-major: Xf' is nfix x n at zl2 + cs (ld c2)
            dgemm(&no, &tr, &nfix, &nfix, &nn, &one, &zl2[cs], &c2, T, &nfix, &zero, F,
                  &nfix)
            for a in range(nfix):
                for b in range(a + 1):
                    S[(m - nfix + a) * m + m - nfix + b] += F[a * nfix + b]
        for g in range(self.G):
            for a in range(q1):
                Lb[(g * q1 + a) * q1 + a] += 1.0
            if not chol(&Lb[g * q1 * q1], q1):
                return 0
            for a in range(q1):
                ld += 2.0 * log(Lb[(g * q1 + a) * q1 + a])
            # W_g = L_g^-1 H12_g, row by row (forward substitution)
            for a in range(q1):
                for b in range(a):
                    v = Lb[(g * q1 + a) * q1 + b]
                    for r in range(m):
                        W[(g * q1 + a) * m + r] -= v * W[(g * q1 + b) * m + r]
                v = Lb[(g * q1 + a) * q1 + a]
                for r in range(m):
                    W[(g * q1 + a) * m + r] /= v
        if m > 0:
            for r in range(self.npen):
                S[r * m + r] += 1.0
            # row-major lower triangle = column-major upper: S -= W' W
            dsyrk(&up, &no, &m, &K, &mone, W, &m, &one, S, &m)
            dpotrf(&up, &m, S, &m, &info)
            if info != 0:
                return 0
            for r in range(self.npen):
                ld += 2.0 * log(S[r * m + r])
        self.logdet = ld
        self.factored = 1
        return 1

    cdef void _solve(self, double* x1, double* x2) noexcept nogil:
        """Solve H [x1; x2] = [x1; x2] in place with the current factor."""
        cdef Py_ssize_t g
        cdef int a, b, r, q1 = self.q1, m = self.m, one = 1, info = 0
        cdef double s
        cdef double* Lb = &self.Lb[0]
        cdef double* W = &self.W[0]
        cdef char up = b'U'
        for g in range(self.G):
            for a in range(q1):
                s = x1[g * q1 + a]
                for b in range(a):
                    s -= Lb[(g * q1 + a) * q1 + b] * x1[g * q1 + b]
                x1[g * q1 + a] = s / Lb[(g * q1 + a) * q1 + a]
                for r in range(m):
                    x2[r] -= W[(g * q1 + a) * m + r] * x1[g * q1 + a]
        if m > 0:
            dpotrs(&up, &m, &one, &self.S[0], &m, x2, &m, &info)
        for g in range(self.G):
            for a in range(q1 - 1, -1, -1):
                s = x1[g * q1 + a]
                for r in range(m):
                    s -= W[(g * q1 + a) * m + r] * x2[r]
                for b in range(a + 1, q1):
                    s -= Lb[(g * q1 + b) * q1 + a] * x1[g * q1 + b]
                x1[g * q1 + a] = s / Lb[(g * q1 + a) * q1 + a]

    # -- public ------------------------------------------------------------------------------
    def mode(self, const double[::1] eta0, const double[::1] aux, double[::1] u1,
             double[::1] u2, double tol=1e-10, int maxiter=100, double wmin=0.0,
             double step_tol=1e-6):
        """Maximize the penalized log likelihood over (u1, u2) by damped Newton steps from
        the given values (updated in place), then factor H at the mode with weights -l''.

        Converged when the objective's change is below ``tol`` (relative) with steps below
        1e-8, or after a full step shorter than ``step_tol`` (Newton's quadratic convergence
        leaves an error of the order of its square).

        Returns
        -------
        obj : float
            Penalized log likelihood at the mode (no eta-free constant); -inf on failure.
        logdet : float
            log|H| of the penalized part at the mode (nan when H is not positive definite).
        iterations : int
        """
        cdef int naux = aux.shape[0], it = 0, ls, accepted, ok, done = 0, fresh = 0, clamped = 0
        cdef Py_ssize_t i, k
        cdef int K = self.G * self.q1, m = self.m
        cdef const double* ap = &aux[0] if naux > 0 else NULL
        cdef double obj, objn, t, mx, dec, quad
        cdef double* g1 = &self.g1[0]
        cdef double* g2 = &self.g2[0]
        cdef double* p1 = &u1[0] if K > 0 else NULL
        cdef double* p2 = &u2[0] if m > 0 else NULL
        cdef double* r1 = &self.r1[0]
        cdef double* r2 = &self.r2[0]
        cdef double* n1 = &self.u1n[0]
        cdef double* n2 = &self.u2n[0]
        with nogil:
            self._predict(&eta0[0], p1, p2, &self.eta[0])
            obj = self._evaluate(ap, naux, &self.eta[0], p1, p2, &self.d1[0], &self.d2[0])
            if not isfinite(obj):
                for k in range(K):
                    p1[k] = 0.0
                for k in range(m):
                    p2[k] = 0.0
                self._predict(&eta0[0], p1, p2, &self.eta[0])
                obj = self._evaluate(ap, naux, &self.eta[0], p1, p2, &self.d1[0], &self.d2[0])
            for it in range(1, maxiter + 1):
                clamped = 0
                for i in range(self.n):
                    if -self.d2[i] > wmin:
                        self.w[i] = -self.d2[i]
                    else:
                        self.w[i] = wmin
                        clamped = 1
                fresh = self._factor()
                if done or not fresh:
                    break
                self._crossprod(&self.d1[0], r1, r2)
                for k in range(K):
                    r1[k] -= p1[k]
                for k in range(self.npen):
                    r2[k] -= p2[k]
                for k in range(K):
                    g1[k] = r1[k]
                for k in range(m):
                    g2[k] = r2[k]
                self._solve(r1, r2)
                t = 1.0
                accepted = 0
                mx = 0.0
                quad = 0.0
                for k in range(K):
                    mx = max(mx, fabs(r1[k]))
                    quad += g1[k] * r1[k]
                for k in range(m):
                    mx = max(mx, fabs(r2[k]))
                    quad += g2[k] * r2[k]
                if mx < step_tol and isfinite(quad) and not clamped:
                    # a step this short: the objective's quadratic model g's - s'Hs/2 =
                    # g's/2 is exact to O(|s|^3), and only l', l'' are needed there
                    for k in range(K):
                        n1[k] = p1[k] + r1[k]
                    for k in range(m):
                        n2[k] = p2[k] + r2[k]
                    self._predict(&eta0[0], n1, n2, &self.etan[0])
                    self._derivs(ap, naux, &self.etan[0], &self.d1n[0], &self.d2n[0])
                    objn = obj + 0.5 * quad
                    accepted = 1
                for ls in range(0 if accepted else 30):
                    for k in range(K):
                        n1[k] = p1[k] + t * r1[k]
                    for k in range(m):
                        n2[k] = p2[k] + t * r2[k]
                    self._predict(&eta0[0], n1, n2, &self.etan[0])
                    objn = self._evaluate(ap, naux, &self.etan[0], n1, n2, &self.d1n[0],
                                          &self.d2n[0])
                    if isfinite(objn) and objn >= obj - 1e-12 * fabs(obj):
                        accepted = 1
                        break
                    t *= 0.5
                if not accepted:
                    break
                fresh = 0
                mx = 0.0
                for k in range(K):
                    mx = max(mx, fabs(t * r1[k]))
                    p1[k] = n1[k]
                for k in range(m):
                    mx = max(mx, fabs(t * r2[k]))
                    p2[k] = n2[k]
                for i in range(self.n):
                    self.eta[i] = self.etan[i]
                    self.d1[i] = self.d1n[i]
                    self.d2[i] = self.d2n[i]
                dec = objn - obj
                obj = objn
                # a full Newton step this short leaves an error of its square (quadratic
                # convergence): the next pass only factors H at the new point
                if (fabs(dec) < tol * (1.0 + fabs(obj)) and mx < 1e-8) or \
                        (t == 1.0 and mx < step_tol):
                    done = 1
            ok = 0
            if isfinite(obj):
                if fresh and not clamped:
                    ok = 1
                else:
                    for i in range(self.n):
                        self.w[i] = -self.d2[i]
                    ok = self._factor()
        if not isfinite(obj):
            return -INFINITY, np.nan, it
        return obj, (self.logdet if ok else np.nan), it

    def response(self, const double[::1] v, double[::1] x1, double[::1] x2):
        """x = H^-1 ((Z Lambda)' v + x) in place, with the factor of the last ``mode``.

        The mode's first-order response to a parameter change (implicit differentiation
        of Lambda' Z' l' = u) is such a solve.
        """
        if not self.factored:
            raise RuntimeError("response needs the factor of the last mode")
        cdef Py_ssize_t k
        cdef double* r1 = &self.r1[0]
        cdef double* r2 = &self.r2[0]
        with nogil:
            self._crossprod(&v[0], r1, r2)
            for k in range(self.G * self.q1):
                x1[k] += r1[k]
            for k in range(self.m):
                x2[k] += r2[k]
            self._solve(&x1[0], &x2[0] if self.m > 0 else r2)

    def derivatives(self):
        """l' and l'' at the last mode (copies)."""
        return np.array(self.d1), np.array(self.d2)

    def gradient(self, const double[::1] aux):
        """Pieces of the Laplace gradient at the last ``mode`` (whose factor must be in place).

        With unpenalized dense columns (``npen < m``), the leverages and ``A`` refer to the
        penalized part H_u of the system (whose log determinant the criterion uses) and ``s``
        to the whole system, i.e. the joint mode's response.

        Returns
        -------
        d1, d2, d3 : ndarray (n,)
            l', l'' and l''' at the mode.
        h : ndarray (n,)
            Leverages z_i' H_u^-1 z_i (z_i: observation i's row of Z Lambda).
        A1, A2 : ndarray (n, q1), (n, c2)
            H_u^-1 z_i at the observation's own first-term and dense positions (0 at
            unpenalized columns).
        s1, s2 : ndarray (G * q1,), (m,)
            s = H^-1 (Z Lambda)' (l''' h) (with the unpenalized columns' rows).
        zs : ndarray (n,)
            Z Lambda s.
        gaux : ndarray (naux,)
            Gradient in the ancillary parameters without the eta-free constant's part.
        """
        if not self.factored:
            raise RuntimeError("gradient needs the factor of the last mode")
        cdef int naux = aux.shape[0], q1 = self.q1, c2 = self.c2, m = self.m
        cdef int K = self.G * q1, info = 0, a, b, c, cc, r, mp = self.npen
        cdef bint canon = ((self.fam == FAM_BERNOULLI or self.fam == FAM_BINOMIAL)
                           and self.link == LINK_LOGIT)
        cdef Py_ssize_t i, g, k
        cdef char up = b'U', no = b'N'
        cdef double one = 1.0, zero = 0.0, v, hv, wi
        cdef bint weighted = self.weighted
        h_ = np.zeros(self.n)
        A1_ = np.zeros((self.n, q1))
        A2_ = np.zeros((self.n, c2))
        s1_ = np.zeros(K)
        s2_ = np.zeros(max(m, 1))
        zs_ = np.zeros(self.n)
        gaux_ = np.zeros(naux)
        auxp_ = np.array(aux, float) if naux else np.zeros(1)
        tmp_ = np.zeros(max(naux, 1))
        acc_ = np.zeros(max(naux, 1))
        D_ = np.zeros(max(K * q1, 1))
        x_ = np.zeros(max(q1, 1))
        cdef double[::1] h = h_, s1 = s1_, s2 = s2_, zs = zs_, gaux = gaux_, auxp = auxp_
        cdef double[::1] tmp = tmp_, D = D_, x = x_, acc = acc_
        cdef double[:, ::1] A1 = A1_, A2 = A2_
        cdef double* Lb = &self.Lb[0]
        cdef double* W = &self.W[0]
        cdef double* Rm = &self.R[0]
        cdef double* Si = &self.Sinv[0]
        cdef const double* ap = &aux[0] if naux > 0 else NULL
        with nogil:
            if mp > 0:
                # the penalized block's factor is the leading block of the whole one
                for k in range(m * m):
                    Si[k] = self.S[k]
                dpotri(&up, &mp, Si, &m, &info)
                for a in range(mp):
                    for b in range(a + 1, mp):
                        Si[a * m + b] = Si[b * m + a]
                # R = W S^-1 (row-major K x m, first mp columns), i.e. column-major
                # R' = S^-1 W'
                dgemm(&no, &no, &mp, &K, &mp, &one, Si, &m, W, &m, &zero, Rm, &m)
                # D_g = R_g W_g'
                for g in range(self.G):
                    for a in range(q1):
                        for b in range(q1):
                            v = 0.0
                            for r in range(mp):
                                v += Rm[(g * q1 + a) * m + r] * W[(g * q1 + b) * m + r]
                            D[(g * q1 + a) * q1 + b] = v
            for i in range(self.n):
                g = self.codes[i]
                # x = L_g^-1 z1_i
                for a in range(q1):
                    v = self.z1[i, a]
                    for b in range(a):
                        v -= Lb[(g * q1 + a) * q1 + b] * x[b]
                    x[a] = v / Lb[(g * q1 + a) * q1 + a]
                # A1 = L_g^-T (x + D_g x - R_g zl2s_i)
                for a in range(q1):
                    v = x[a]
                    if mp > 0:
                        for b in range(q1):
                            v += D[(g * q1 + a) * q1 + b] * x[b]
                        for c in range(c2):
                            r = self.idx2[i, c]
                            if r < mp:
                                v -= Rm[(g * q1 + a) * m + r] * self.zl2[i, c]
                    A1[i, a] = v
                for a in range(q1 - 1, -1, -1):
                    v = A1[i, a]
                    for b in range(a + 1, q1):
                        v -= Lb[(g * q1 + b) * q1 + a] * A1[i, b]
                    A1[i, a] = v / Lb[(g * q1 + a) * q1 + a]
                # A2 at r: -R_g[:, r] . x + S^-1[r, :] zl2s_i
                for cc in range(c2):
                    r = self.idx2[i, cc]
                    if r >= mp:
                        continue
                    v = 0.0
                    for a in range(q1):
                        v -= Rm[(g * q1 + a) * m + r] * x[a]
                    for c in range(c2):
                        if self.idx2[i, c] < mp:
                            v += Si[r * m + self.idx2[i, c]] * self.zl2[i, c]
                    A2[i, cc] = v
                hv = 0.0
                for a in range(q1):
                    hv += self.z1[i, a] * A1[i, a]
                for c in range(c2):
                    hv += self.zl2[i, c] * A2[i, c]
                h[i] = hv
                if weighted:
                    # w times the third derivative (the stored l', l'' are weighted: mu = (y - l'/w) / t)
                    wi = self.wts[i]
                    if wi == 0.0:
                        self.d3[i] = 0.0
                    elif canon and self.t[i] > 0:
                        self.d3[i] = self.d2[i] * (1.0 - 2.0 * (self.y[i] - self.d1[i] / wi)
                                                   / self.t[i])
                    else:
                        self.d3[i] = wi * fam_d3(self.fam, self.link, self.y[i], self.t[i],
                                                 self.eta[i], ap, naux, _D3_H)
                elif canon and self.t[i] > 0:
                    # third derivative l'' (1 - 2 mu), with mu = (y - l') / t
                    self.d3[i] = self.d2[i] * (1.0 - 2.0 * (self.y[i] - self.d1[i]) / self.t[i])
                else:
                    self.d3[i] = fam_d3(self.fam, self.link, self.y[i], self.t[i], self.eta[i],
                                        ap, naux, _D3_H)
                zs[i] = self.d3[i] * hv
            self._crossprod(&zs[0], &s1[0], &s2[0])
            self._solve(&s1[0], &s2[0])
            self._predict(NULL, &s1[0], &s2[0], &zs[0])
            if naux > 0 and not weighted:
                for i in range(self.n):
                    laplace_aux_gradient(self.fam, self.link, self.y[i], self.t[i], self.eta[i],
                                         ap, &auxp[0], naux, h[i], zs[i], _FD_H, &tmp[0],
                                         &gaux[0])
            elif naux > 0:
                # every term of an observation's row is linear in its l: w_i times the
                # unweighted row (h and zs already carry the other observations' weights)
                for i in range(self.n):
                    wi = self.wts[i]
                    if wi == 0.0:
                        continue
                    for a in range(naux):
                        acc[a] = 0.0
                    laplace_aux_gradient(self.fam, self.link, self.y[i], self.t[i], self.eta[i],
                                         ap, &auxp[0], naux, h[i], zs[i], _FD_H, &tmp[0],
                                         &acc[0])
                    for a in range(naux):
                        gaux[a] += wi * acc[a]
        return (np.asarray(self.d1).copy(), np.asarray(self.d2).copy(),
                np.asarray(self.d3).copy(), h_, A1_, A2_, s1_, s2_[:m], zs_, gaux_)


def factor_gradient(const int64_t[::1] codes, const double[:, ::1] Z, const double[:, ::1] U,
                    const double[:, ::1] S, const double[:, ::1] A, const double[::1] c,
                    const double[::1] d1, const double[::1] d2):
    """One term's gradient in the entries of its relative factor lambda (q x q):

        sum_i Z[i, a] (U[g_i, b] c_i + d2_i A[i, b] + d1_i S[g_i, b] / 2),

    with U the term's modes, S its part of H^-1 Lambda' Z' (l''' h) and A its part of
    H^-1 z_i (see ``CrossedSystem.gradient``)."""
    cdef Py_ssize_t i, g, n = Z.shape[0]
    cdef int a, b, q = Z.shape[1]
    out_ = np.zeros((q, q))
    cdef double[:, ::1] out = out_
    cdef double v
    with nogil:
        for i in range(n):
            g = codes[i]
            for b in range(q):
                v = U[g, b] * c[i] + d2[i] * A[i, b] + 0.5 * d1[i] * S[g, b]
                for a in range(q):
                    out[a, b] += Z[i, a] * v
    return out_


def factor_response(const int64_t[::1] codes, const double[:, ::1] Z, const double[:, ::1] U,
                    const double[:, ::1] dlam, const double[::1] d1, double[::1] deta,
                    double[:, ::1] x):
    """One term's part of the mode response to a change ``dlam`` of its factor: adds
    Z dlam u to ``deta`` (the change of eta at fixed u) and dlam' Z' l' to ``x``
    (the term's (G, q) block of the right-hand side)."""
    cdef Py_ssize_t i, g, n = Z.shape[0]
    cdef int a, b, q = Z.shape[1]
    cdef double v
    with nogil:
        for i in range(n):
            g = codes[i]
            for b in range(q):
                v = 0.0
                for a in range(q):
                    v += Z[i, a] * dlam[a, b]
                deta[i] += v * U[g, b]
                x[g, b] += v * d1[i]
