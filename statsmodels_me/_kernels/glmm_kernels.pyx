# cython: language_level=3
"""Per-cluster kernels for two-level GLMMs: mode finding, (adaptive) Gauss-Hermite quadrature,
log-sum-exp accumulation and gradient contributions.

The random effects of cluster j are b_j = L u_j with u_j ~ N(0, I_q); the linear predictor of
observation i in cluster j is eta_i = eta0_i + a_i' u_j with a_i = L' z_i (the caller passes
A = Z L and eta0 = X beta + offset).  With nodes z_k and weights w_k of the probabilists'
Gauss-Hermite rule (sum w_k = 1) and a grid u_k = m + C z_k,

    log L_j = log|C| + logsumexp_k [log w_k + |z_k|^2 / 2 - |u_k|^2 / 2 + sum_i l_i(eta_ik)].

Methods: 0 ghermite (m = 0, C = I), 1 mcaghermite (m = mode, C C' = H^-1; Liu & Pierce 1994),
2 mvaghermite (m, C C' = posterior mean and covariance computed by the quadrature, iterated to
a fixed point; Naylor & Smith 1982; Rabe-Hesketh, Skrondal & Pickles 2005),
3 laplace (Tierney & Kadane 1986): log L_j = l(u^) - |u^|^2 / 2 - log|H| / 2.

Gradient contributions: for methods 0-2 the gradient of the quadrature formula with the grid
held fixed in the u scale (r_i = sum_k p_k l'_ik, s_i = sum_k p_k l'_ik u_k).  For laplace the
exact gradient of the Laplace approximation, including the total derivative of log|H| through
u^ (implicit function theorem); the third eta-derivative of l is analytic for the canonical
bernoulli/binomial logit and poisson log models and a central difference of the analytic l''
otherwise, and the aux-derivatives of l', l'' are central differences (step 1e-4, relative
error O(1e-8)).

Weights (pseudo-likelihood, Rabe-Hesketh & Skrondal 2006): with per-observation weights w_i
(``weights`` of length n; length 0 for none) l_i is replaced by w_i l_i in every formula above,
and so are its eta-derivatives; the canonical fast paths, which rebuild l from l' and l'', are
then not taken.  Cluster weights multiply whole contributions and are the caller's.

Adaptive state is per cluster (modes, grid centres and scales) and is read as the starting
point when ``warm``; clusters are independent, so ``prange`` over clusters (``set_num_threads``)
gives results identical to the serial loop.
"""
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from libc.math cimport INFINITY, exp, fabs, fmax, log, log1p, sqrt
from libc.stdlib cimport free, malloc

import numpy as np

from statsmodels_me._kernels.kernel_codes cimport (
    FAM_BERNOULLI,
    FAM_BINOMIAL,
    FAM_POISSON,
    LINK_LOGIT,
    METHOD_GHERMITE,
    METHOD_LAPLACE,
    METHOD_MCAGHERMITE,
    METHOD_MVAGHERMITE,
)
from statsmodels_me._kernels.family_math cimport (
    fam_canonical,
    fam_d3,
    fam_d3_from,
    fam_daux,
    fam_eval,
    laplace_aux_gradient,
    logistic_tail,
)
from statsmodels_me._kernels.small_dense cimport chol as _chol
from statsmodels_me._kernels.small_dense cimport chol_inverse as _chol_inverse
from statsmodels_me._kernels.small_dense cimport chol_solve as _chol_solve
from statsmodels_me._kernels.small_dense cimport lse_moments
from statsmodels_me._kernels.signal_blocks cimport signal_block

cdef int _num_threads = 1


def _threads_from_environment():
    """OMP_NUM_THREADS when it is a positive integer (its first entry), else 1."""
    import os
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "1").split(",")[0])
    except ValueError:
        return 1
    return n if n > 0 else 1


_num_threads = _threads_from_environment()
cdef double _FD_H = 1e-4
cdef enum:
    _STACK_DOUBLES = 4096


def set_num_threads(int n):
    """Set the number of OpenMP threads used over clusters (default: OMP_NUM_THREADS, else 1).

    Clusters are independent and the sums over them are taken afterwards in a fixed order,
    so the results do not depend on the number of threads."""
    global _num_threads
    _num_threads = n if n > 0 else 1


def get_num_threads():
    """Number of OpenMP threads used over clusters."""
    return _num_threads


cdef struct Problem:
    const double* y
    const double* t
    const double* eta0
    const double* A
    const double* aux
    const double* wt     # per-observation weights (NULL: none)
    const Py_ssize_t* ptr
    const double* nodes
    const double* logw
    int naux
    int fam
    int link
    int q
    int K
    int method
    int warm
    int want_grad
    int update
    double tol
    int maxiter
    double* prev
    int* pvalid
    int n1       # q = 2 tensor-product rule with n1 points per dimension (0: not one)


cdef struct Out:
    double* ll
    double* mode
    double* center
    double* chol
    double* pmean
    double* pcov
    double* r
    double* s
    double* gaux
    int* status


# ---------------------------------------------------------------- cluster pieces

cdef double _eval_u(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* u, double* grad,
                    double* H, double* Hc, double* store) noexcept nogil:
    """g(u) = sum_i l_i - |u|^2/2 with gradient and H = I - sum_i l''_i a_i a_i'; Hc (when
    not NULL) is H with l'' clipped at 0 (positive definite even where l is not concave).
    When store is not NULL it receives (l'_i, l''_i) per observation."""
    cdef int q = P.q, a, b
    cdef Py_ssize_t i
    cdef double eta, d1, d2, val = 0.0, w, lv
    cdef const double* ai
    cdef const double* wt = P.wt   # loop-invariant: a register, not a load per row
    for a in range(q):
        grad[a] = -u[a]
        val -= 0.5 * u[a] * u[a]
        for b in range(q):
            H[a * q + b] = 1.0 if a == b else 0.0
            if Hc != NULL:
                Hc[a * q + b] = H[a * q + b]
    for i in range(s, e):
        ai = P.A + i * q
        eta = P.eta0[i]
        for a in range(q):
            eta += ai[a] * u[a]
        lv = fam_eval(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, &d1, &d2)
        if wt != NULL:
            lv *= wt[i]
            d1 *= wt[i]
            d2 *= wt[i]
        val += lv
        if store != NULL:
            store[2 * (i - s)] = d1
            store[2 * (i - s) + 1] = d2
        w = -d2
        for a in range(q):
            grad[a] += d1 * ai[a]
            for b in range(a + 1):
                H[a * q + b] += w * ai[a] * ai[b]
                if Hc != NULL and w > 0:
                    Hc[a * q + b] += w * ai[a] * ai[b]
    for a in range(q):
        for b in range(a + 1, q):
            H[a * q + b] = H[b * q + a]
            if Hc != NULL:
                Hc[a * q + b] = Hc[b * q + a]
    return val


cdef inline void _canon_derivs(int logit, double y, double t, double eta, double* d1,
                               double* d2, double* a1) noexcept nogil:
    """l', l'' of the canonical logit (a1 = exp(-|eta|)) or poisson log (a1 = 0) model."""
    cdef double mu
    if logit:
        mu = logistic_tail(eta, a1)
        d1[0] = y - t * mu
        d2[0] = -t * mu * (1.0 - mu)
    else:
        a1[0] = 0.0
        d2[0] = -exp(eta)
        d1[0] = y + d2[0]


cdef void _eval_canon(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* u, double* grad,
                      double* H, double* D) noexcept nogil:
    """Gradient and curvature H of g(u) for the canonical models without g itself (no log):
    D receives (l'_i, l''_i) in its first 2 n_j entries and (eta_i, exp(-|eta_i|)) in the
    next 2 n_j, from which ``_value_canon`` gets g when it is needed."""
    cdef int q = P.q, a, b
    cdef Py_ssize_t i, k, nj = e - s
    cdef double* E = D + 2 * nj
    cdef int logit = P.fam != FAM_POISSON
    cdef double eta, d1, d2, a1, w, g0, g1, h00, h10, h11
    cdef const double* ai
    if q == 2:
        g0 = -u[0]
        g1 = -u[1]
        h00 = 1.0
        h10 = 0.0
        h11 = 1.0
        for i in range(s, e):
            ai = P.A + 2 * i
            eta = P.eta0[i] + ai[0] * u[0] + ai[1] * u[1]
            _canon_derivs(logit, P.y[i], P.t[i], eta, &d1, &d2, &a1)
            k = i - s
            D[2 * k] = d1
            D[2 * k + 1] = d2
            E[2 * k] = eta
            E[2 * k + 1] = a1
            g0 += d1 * ai[0]
            g1 += d1 * ai[1]
            w = -d2
            h00 += w * ai[0] * ai[0]
            h10 += w * ai[1] * ai[0]
            h11 += w * ai[1] * ai[1]
        grad[0] = g0
        grad[1] = g1
        H[0] = h00
        H[1] = h10
        H[2] = h10
        H[3] = h11
        return
    for a in range(q):
        grad[a] = -u[a]
        for b in range(q):
            H[a * q + b] = 1.0 if a == b else 0.0
    for i in range(s, e):
        ai = P.A + i * q
        eta = P.eta0[i]
        for a in range(q):
            eta += ai[a] * u[a]
        _canon_derivs(logit, P.y[i], P.t[i], eta, &d1, &d2, &a1)
        k = i - s
        D[2 * k] = d1
        D[2 * k + 1] = d2
        E[2 * k] = eta
        E[2 * k + 1] = a1
        w = -d2
        for a in range(q):
            grad[a] += d1 * ai[a]
            for b in range(a + 1):
                H[a * q + b] += w * ai[a] * ai[b]
    for a in range(q):
        for b in range(a + 1, q):
            H[a * q + b] = H[b * q + a]


cdef double _value_canon(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* u,
                         const double* D) noexcept nogil:
    """g(u) = sum_i l_i - |u|^2 / 2 from what ``_eval_canon`` stored at u: logit
    l = y eta - t (max(eta, 0) + log(1 + exp(-|eta|))), poisson log l = y eta - exp(eta)
    = y eta + l''.  For t = 1 the logarithms are taken of products of up to 512 factors
    1 + exp(-|eta|) in (1, 2] (one log instead of one log1p per observation); the rounding of
    1 + exp(-|eta|) costs at most 1.2e-16 per observation, the order of the rounding of the
    sum itself."""
    cdef int q = P.q, a, nprod = 0
    cdef Py_ssize_t i, k, nj = e - s
    cdef const double* E = D + 2 * nj
    cdef double val = 0.0, eta, prod = 1.0
    for a in range(q):
        val -= 0.5 * u[a] * u[a]
    for i in range(s, e):
        k = i - s
        eta = E[2 * k]
        if P.fam == FAM_POISSON:
            val += P.y[i] * eta + D[2 * k + 1]
        elif P.t[i] == 1.0:
            val += P.y[i] * eta - (eta if eta >= 0 else 0.0)
            prod *= 1.0 + E[2 * k + 1]
            nprod += 1
            if nprod == 512:
                val -= log(prod)
                prod = 1.0
                nprod = 0
        elif eta >= 0:
            val += P.y[i] * eta - P.t[i] * (eta + log1p(E[2 * k + 1]))
        else:
            val += P.y[i] * eta - P.t[i] * log1p(E[2 * k + 1])
    return val - log(prod)


cdef double _taylor_finish(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* step,
                           double obj, const double* grad, const double* H, double* D,
                           double* Hn, int keep) noexcept nogil:
    """g, H and (l'_i, l''_i) at u + step from their values at u (D holds the pairs at u and
    receives them at u + step) by Taylor expansion in t_i = a_i' step, for the canonical
    models (third derivative from the first two).  With |step| < 1e-6 the remainders,
    O(|step|^2) for the derivatives and O(|step|^3) for g, are below the error the Newton
    iteration leaves in the mode; this saves evaluating the family at the final mode.  With
    ``keep`` it also stores (l'_i, l''_i, eta_i) at u + step in ``P.prev`` (``_keep_mode``),
    eta_i from the value ``_eval_canon`` left in D at u."""
    cdef int q = P.q, a, b
    cdef Py_ssize_t i, k, nj = e - s
    cdef double t, d1, d2, d3, w, val = obj, h00, h10, h11
    cdef const double* ai
    cdef const double* E = D + 2 * nj
    cdef double* pr
    if q == 2:
        val += grad[0] * step[0] + grad[1] * step[1] - 0.5 * (
            step[0] * (H[0] * step[0] + H[1] * step[1])
            + step[1] * (H[2] * step[0] + H[3] * step[1]))
        h00 = 1.0
        h10 = 0.0
        h11 = 1.0
        for i in range(s, e):
            k = i - s
            ai = P.A + 2 * i
            t = ai[0] * step[0] + ai[1] * step[1]
            d1 = D[2 * k]
            d2 = D[2 * k + 1]
            d3 = fam_d3_from(P.fam, P.y[i], P.t[i], d1, d2)
            D[2 * k] = d1 + t * (d2 + 0.5 * t * d3)
            D[2 * k + 1] = d2 + t * d3
            w = -(d2 + t * d3)
            if keep:
                pr = P.prev + 3 * i
                pr[0] = D[2 * k]
                pr[1] = -w
                pr[2] = E[2 * k] + t
            h00 += w * ai[0] * ai[0]
            h10 += w * ai[1] * ai[0]
            h11 += w * ai[1] * ai[1]
        Hn[0] = h00
        Hn[1] = h10
        Hn[2] = h10
        Hn[3] = h11
        return val
    for a in range(q):
        val += grad[a] * step[a]
        for b in range(q):
            val -= 0.5 * step[a] * H[a * q + b] * step[b]
            Hn[a * q + b] = 1.0 if a == b else 0.0
    for i in range(s, e):
        ai = P.A + i * q
        t = 0.0
        for a in range(q):
            t += ai[a] * step[a]
        d1 = D[2 * (i - s)]
        d2 = D[2 * (i - s) + 1]
        d3 = fam_d3_from(P.fam, P.y[i], P.t[i], d1, d2)
        D[2 * (i - s)] = d1 + t * (d2 + 0.5 * t * d3)
        D[2 * (i - s) + 1] = d2 + t * d3
        w = -(d2 + t * d3)
        if keep:
            pr = P.prev + 3 * i
            pr[0] = D[2 * (i - s)]
            pr[1] = -w
            pr[2] = E[2 * (i - s)] + t
        for a in range(q):
            for b in range(a + 1):
                Hn[a * q + b] += w * ai[a] * ai[b]
    for a in range(q):
        for b in range(a + 1, q):
            Hn[a * q + b] = Hn[b * q + a]
    return val


cdef void _predict_mode(Problem* P, Py_ssize_t s, Py_ssize_t e, double* u,
                        double* ws) noexcept nogil:
    """Move the warm start u towards the new mode by one Newton step computed from the
    (l'_i, l''_i, eta_i) kept at the previous mode (``P.prev``) instead of evaluating the
    family: l'_i(eta) ~ l'_i + l''_i (eta - eta_i) (Taylor in the change of the linear
    predictor).  Skipped when some eta moved by more than 0.5."""
    cdef int q = P.q, a, b
    cdef Py_ssize_t i
    cdef double* grad = ws
    cdef double* H = ws + q
    cdef double eta, delta, d1, w, g0, g1, h00, h10, h11
    cdef const double* ai
    cdef const double* pr
    if q == 2:
        g0 = -u[0]
        g1 = -u[1]
        h00 = 1.0
        h10 = 0.0
        h11 = 1.0
        for i in range(s, e):
            ai = P.A + 2 * i
            pr = P.prev + 3 * i
            delta = P.eta0[i] + ai[0] * u[0] + ai[1] * u[1] - pr[2]
            if fabs(delta) > 0.5:
                return
            d1 = pr[0] + pr[1] * delta
            w = -pr[1]
            g0 += d1 * ai[0]
            g1 += d1 * ai[1]
            h00 += w * ai[0] * ai[0]
            h10 += w * ai[1] * ai[0]
            h11 += w * ai[1] * ai[1]
        grad[0] = g0
        grad[1] = g1
        H[0] = h00
        H[1] = 0.0
        H[2] = h10
        H[3] = h11
        if not _chol(H, q):
            return
        _chol_solve(H, q, grad)
        u[0] += grad[0]
        u[1] += grad[1]
        return
    for a in range(q):
        grad[a] = -u[a]
        for b in range(q):
            H[a * q + b] = 1.0 if a == b else 0.0
    for i in range(s, e):
        ai = P.A + i * q
        pr = P.prev + 3 * i
        eta = P.eta0[i]
        for a in range(q):
            eta += ai[a] * u[a]
        delta = eta - pr[2]
        if fabs(delta) > 0.5:
            return
        d1 = pr[0] + pr[1] * delta
        w = -pr[1]
        for a in range(q):
            grad[a] += d1 * ai[a]
            for b in range(a + 1):
                H[a * q + b] += w * ai[a] * ai[b]
    if not _chol(H, q):
        return
    _chol_solve(H, q, grad)
    for a in range(q):
        u[a] += grad[a]


cdef void _keep_mode(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* u,
                     const double* D) noexcept nogil:
    """Store (l'_i, l''_i, eta_i) at the mode u for ``_predict_mode`` of the next pass."""
    cdef int q = P.q, a
    cdef Py_ssize_t i
    cdef double eta
    cdef double* pr
    for i in range(s, e):
        pr = P.prev + 3 * i
        eta = P.eta0[i]
        for a in range(q):
            eta += P.A[i * q + a] * u[a]
        pr[0] = D[2 * (i - s)]
        pr[1] = D[2 * (i - s) + 1]
        pr[2] = eta


cdef double _find_mode(Problem* P, Py_ssize_t s, Py_ssize_t e, double* u, double* R,
                       double* ws, int* ok, double* D, int want_store,
                       int* stored) noexcept nogil:
    """Newton with step halving for the mode of g(u); u holds the start and returns the mode,
    R the lower Cholesky factor of the curvature H at the mode.  Returns g(u^).  Steps use the
    exact curvature where it is positive definite (quadratic convergence) and the clipped one
    elsewhere.  D (room for 4 n_j doubles) receives (l'_i, l''_i) at the mode when
    ``want_store``; ``stored`` tells whether it holds them on return (2: and ``P.prev`` was
    written by ``_taylor_finish``).

    The canonical models (concave: H >= I) take the steps without evaluating g: a step is
    accepted when it decreases |grad g|^2 enough (the Newton direction is a descent direction
    of |grad g|^2, and since H >= I, |step| <= |grad g|); g is computed once, at the last
    iterate, and the last (< 1e-6) step is applied by ``_taylor_finish``."""
    cdef int q = P.q, a, it, half, accepted, keep
    cdef int canon = P.wt == NULL and fam_canonical(P.fam, P.link)
    cdef double* grad = ws
    cdef double* H = ws + q
    cdef double* step = ws + q + q * q
    cdef double* un = step + q
    cdef double* gradn = un + q
    cdef double* Hn = gradn + q
    cdef double* Hc = Hn + q * q
    cdef double* Hcn = Hc + q * q
    cdef double obj = 0.0, objn, lam, smax, merit, meritn
    if canon:
        _eval_canon(P, s, e, u, grad, H, D)
    else:
        obj = _eval_u(P, s, e, u, grad, H, Hc, NULL)
    ok[0] = 1
    stored[0] = 0
    for it in range(200):
        for a in range(q * q):
            R[a] = H[a]
        if not _chol(R, q):
            if canon:
                # H >= I in exact arithmetic: only overflowed weights get here
                ok[0] = 0
                return _value_canon(P, s, e, u, D)
            for a in range(q * q):
                R[a] = Hc[a]
            if not _chol(R, q):
                ok[0] = 0
                return obj
        for a in range(q):
            step[a] = grad[a]
        _chol_solve(R, q, step)
        smax = 0.0
        for a in range(q):
            if fabs(step[a]) > smax:
                smax = fabs(step[a])
        if smax < 1e-6:
            # quadratic convergence: after this step the error is O(smax^2)
            if canon:
                obj = _value_canon(P, s, e, u, D)
            for a in range(q):
                u[a] += step[a]
            if canon:
                keep = P.prev != NULL and P.method == METHOD_LAPLACE
                objn = _taylor_finish(P, s, e, step, obj, grad, H, D, Hn, keep)
                for a in range(q * q):
                    R[a] = Hn[a]
                if _chol(R, q):
                    stored[0] = 2 if keep else 1
                    return objn
            break
        lam = 1.0
        accepted = 0
        merit = 0.0
        for a in range(q):
            merit += grad[a] * grad[a]
        for half in range(60):
            for a in range(q):
                un[a] = u[a] + lam * step[a]
            if canon:
                _eval_canon(P, s, e, un, gradn, Hn, D)
                meritn = 0.0
                for a in range(q):
                    meritn += gradn[a] * gradn[a]
                if meritn <= (1.0 - 1e-4 * lam) * merit:
                    accepted = 1
                    break
            else:
                objn = _eval_u(P, s, e, un, gradn, Hn, Hcn, NULL)
                if objn >= obj - 1e-13 * (1.0 + fabs(obj)):
                    accepted = 1
                    break
            lam *= 0.5
        if not accepted:
            break
        for a in range(q):
            u[a] = un[a]
            grad[a] = gradn[a]
        for a in range(q * q):
            H[a] = Hn[a]
            Hc[a] = Hcn[a]
        obj = objn
    # curvature at the mode without clipping; fall back to the clipped one if not PD
    objn = _eval_u(P, s, e, u, gradn, Hn, Hcn, D if want_store else NULL)
    stored[0] = want_store
    for a in range(q * q):
        R[a] = Hn[a]
    if not _chol(R, q):
        for a in range(q * q):
            R[a] = Hcn[a]
        if not _chol(R, q):
            ok[0] = 0
    return objn


cdef double _grid_logit(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* uk,
                        double* d1out, int stride) noexcept nogil:
    """sum_i l_i at the node u_k for the canonical logit models, without l'' and with the
    logs of products of up to 512 factors 1 + exp(-|eta|) for t = 1 (see ``_value_canon``);
    l'_i goes to d1out[(i - s) * stride] when d1out is not NULL."""
    cdef int q = P.q, a, nprod = 0
    cdef Py_ssize_t i
    cdef double val = 0.0, prod = 1.0, eta, a1, t
    cdef const double* ai
    for i in range(s, e):
        ai = P.A + i * q
        eta = P.eta0[i]
        for a in range(q):
            eta += ai[a] * uk[a]
        t = P.t[i]
        if eta >= 0:
            a1 = exp(-eta)
            val += (P.y[i] - t) * eta
        else:
            a1 = exp(eta)
            val += P.y[i] * eta
        if t == 1.0:
            prod *= 1.0 + a1
            nprod += 1
            if nprod == 512:
                val -= log(prod)
                prod = 1.0
                nprod = 0
        else:
            val -= t * log1p(a1)
        if d1out != NULL:
            d1out[(i - s) * stride] = P.y[i] - t * (1.0 / (1.0 + a1) if eta >= 0
                                                    else a1 / (1.0 + a1))
    return val - log(prod)


cdef int _grid_logit_q2(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* m,
                        const double* C, double* f, double* D1) noexcept nogil:
    """Adds sum_i l_i(eta_ik) to f[k] for every node of a q = 2 tensor-product rule, for
    the canonical logit models (D1 receives l'_ik when not NULL).

    On the grid u_k = m + C z_k with z_k = (x_a, x_b), eta_ik = eta_i(m) + c_i0 x_a + c_i1 x_b
    with c_i = C' a_i, so exp(eta_ik) = exp(eta_i(m)) exp(c_i0 x_a) exp(c_i1 x_b): 2 n1 + 1
    exponentials per observation instead of n1^2 (n1 + 1 on a symmetric rule).  l = y eta - t max(eta, 0)
    - t log(1 + exp(-|eta|)) as in ``_grid_logit``.  Returns 0 (nothing added) when some
    exponent could leave the double range; the caller then evaluates node by node.
    """
    cdef int n1 = P.n1, K = P.K, ja, jb, k, nprod = 0, sym = 1, half = P.n1 // 2
    cdef Py_ssize_t i
    cdef double xmax = 0.0, a0, a1, etam, c0, c1, ea, ba, eta, ev, av, y, t, sg
    cdef double Ea[64]
    cdef double Eb[64]
    cdef double pr[4096]
    cdef const double* x = P.nodes  # x_b of node (0, b) is nodes[2 b + 1]
    if n1 == 0 or n1 > 64:
        return 0
    for jb in range(n1):
        xmax = fmax(xmax, fabs(x[2 * jb + 1]))
        if x[2 * jb + 1] != -x[2 * (n1 - 1 - jb) + 1]:
            sym = 0
    for i in range(s, e):
        a0 = P.A[2 * i]
        a1 = P.A[2 * i + 1]
        etam = P.eta0[i] + a0 * m[0] + a1 * m[1]
        if fabs(etam) + (fabs(a0 * C[0] + a1 * C[2]) + fabs(a1 * C[3])) * xmax > 600.0:
            return 0
    for k in range(K):
        pr[k] = 1.0
    for i in range(s, e):
        a0 = P.A[2 * i]
        a1 = P.A[2 * i + 1]
        etam = P.eta0[i] + a0 * m[0] + a1 * m[1]
        c0 = a0 * C[0] + a1 * C[2]
        c1 = a1 * C[3]  # C is lower triangular
        for jb in range(n1):
            if sym and jb < half:
                continue
            Ea[jb] = exp(c0 * x[2 * jb + 1])
            Eb[jb] = exp(c1 * x[2 * jb + 1])
        if sym:
            # Gauss-Hermite nodes are symmetric (x_j = -x_{n1-1-j}): exp(-v) = 1 / exp(v)
            for jb in range(half):
                Ea[jb] = 1.0 / Ea[n1 - 1 - jb]
                Eb[jb] = 1.0 / Eb[n1 - 1 - jb]
        ev = exp(etam)
        y = P.y[i]
        t = P.t[i]
        for ja in range(n1):
            ea = ev * Ea[ja]
            ba = etam + c0 * x[2 * ja + 1]
            for jb in range(n1):
                k = ja * n1 + jb
                eta = ba + c1 * x[2 * jb + 1]
                av = ea * Eb[jb]
                # av = exp(eta); exp(-|eta|) is av or 1 / av
                sg = 1.0
                if av > 1.0:
                    av = 1.0 / av
                else:
                    sg = av
                f[k] += y * eta - t * (eta if eta > 0.0 else 0.0)  # (fmax is a libm call)
                if t == 1.0:
                    pr[k] *= 1.0 + av
                else:
                    f[k] -= t * log1p(av)
                if D1 != NULL:
                    D1[(i - s) * K + k] = y - t * sg / (1.0 + av)
        nprod += 1
        if nprod == 512:
            for k in range(K):
                f[k] -= log(pr[k])
                pr[k] = 1.0
            nprod = 0
    for k in range(K):
        f[k] -= log(pr[k])
    return 1


cdef double _grid(Problem* P, Py_ssize_t s, Py_ssize_t e, const double* m, const double* C,
                  double* U, double* f, double* D1, double* pm, double* pv) noexcept nogil:
    """Quadrature on the grid u_k = m + C z_k; fills U (K x q), posterior weights f (K),
    l'_ik in D1 (n_j x K), posterior mean pm and covariance pv.  Returns log L_j."""
    cdef int q = P.q, K = P.K, a, b, k
    cdef Py_ssize_t i, nj = e - s
    cdef double logdet = 0.0, v, eta, d1, d2, zz, uu, tot, lse
    cdef const double* z
    cdef const double* ai
    cdef const double* wt = P.wt
    cdef int logit = ((P.fam == FAM_BERNOULLI or P.fam == FAM_BINOMIAL)
                      and P.link == LINK_LOGIT and wt == NULL)
    cdef int fast = 0
    for a in range(q):
        logdet += log(C[a * q + a])
    if logit and q == 2 and P.n1 > 0:
        for k in range(K):
            f[k] = 0.0
        fast = _grid_logit_q2(P, s, e, m, C, f, D1 if P.want_grad else NULL)
    for k in range(K):
        z = P.nodes + k * q
        zz = 0.0
        uu = 0.0
        for a in range(q):
            v = m[a]
            for b in range(a + 1):
                v += C[a * q + b] * z[b]
            U[k * q + a] = v
            zz += z[a] * z[a]
            uu += v * v
        tot = P.logw[k] + 0.5 * zz - 0.5 * uu
        if logit:
            f[k] = tot + (f[k] if fast else 0.0)
            if not fast:
                f[k] += _grid_logit(P, s, e, U + k * q, D1 + k if P.want_grad else NULL, K)
            continue
        for i in range(s, e):
            ai = P.A + i * q
            eta = P.eta0[i]
            for a in range(q):
                eta += ai[a] * U[k * q + a]
            v = fam_eval(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, &d1, &d2)
            if wt != NULL:
                v *= wt[i]
                d1 *= wt[i]
            tot += v
            if P.want_grad:
                D1[(i - s) * K + k] = d1
        f[k] = tot
    lse = lse_moments(f, K, U, q, pm, pv)
    if lse == -INFINITY:
        return -INFINITY
    return logdet + lse


cdef void _grid_gradient(Problem* P, Out* O, Py_ssize_t j, Py_ssize_t s, Py_ssize_t e,
                         const double* U, const double* p, const double* D1,
                         double* tmp) noexcept nogil:
    """Fixed-grid gradient contributions r_i, s_i and the cluster's aux gradient."""
    cdef int q = P.q, K = P.K, a, k, m
    cdef Py_ssize_t i
    cdef double r, eta, w, s0, s1
    cdef const double* ai
    cdef const double* d
    for i in range(s, e):
        d = D1 + (i - s) * K
        r = 0.0
        if q == 2:
            # sums in registers (O.s may alias the inputs as far as the compiler knows)
            s0 = 0.0
            s1 = 0.0
            for k in range(K):
                w = p[k] * d[k]
                r += w
                s0 += w * U[2 * k]
                s1 += w * U[2 * k + 1]
            O.s[2 * i] = s0
            O.s[2 * i + 1] = s1
        else:
            for a in range(q):
                O.s[i * q + a] = 0.0
            for k in range(K):
                w = p[k] * d[k]
                r += w
                for a in range(q):
                    O.s[i * q + a] += w * U[k * q + a]
        O.r[i] = r
    for m in range(P.naux):
        O.gaux[j * P.naux + m] = 0.0
    if P.naux == 0:
        return
    for k in range(K):
        if p[k] == 0.0:
            continue
        for i in range(s, e):
            ai = P.A + i * q
            eta = P.eta0[i]
            for a in range(q):
                eta += ai[a] * U[k * q + a]
            fam_daux(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, tmp)
            w = p[k] if P.wt == NULL else p[k] * P.wt[i]
            for m in range(P.naux):
                O.gaux[j * P.naux + m] += w * tmp[m]


cdef void _laplace_gradient_canon2(Problem* P, Out* O, Py_ssize_t s, Py_ssize_t e,
                                   const double* u, const double* Hinv,
                                   double* D) noexcept nogil:
    """``_laplace_gradient`` for the canonical models (no ancillary parameters) with q = 2:
    D holds (l'_i, l''_i) in its first 2 n_j entries; the third derivative and the leverage
    a_i' H^-1 a_i of each observation go to the next 2 n_j."""
    cdef Py_ssize_t i, k, nj = e - s
    cdef double* E = D + 2 * nj
    cdef double h00 = Hinv[0], h01 = Hinv[1], h11 = Hinv[3]
    cdef double v0 = 0.0, v1 = 0.0, w0, w1, a0, a1, b0, b1, d1, d2, d3, h, r
    for i in range(s, e):
        k = i - s
        a0 = P.A[2 * i]
        a1 = P.A[2 * i + 1]
        d3 = fam_d3_from(P.fam, P.y[i], P.t[i], D[2 * k], D[2 * k + 1])
        h = a0 * (h00 * a0 + h01 * a1) + a1 * (h01 * a0 + h11 * a1)
        E[2 * k] = d3
        E[2 * k + 1] = h
        v0 += h * d3 * a0
        v1 += h * d3 * a1
    w0 = h00 * v0 + h01 * v1
    w1 = h01 * v0 + h11 * v1
    for i in range(s, e):
        k = i - s
        a0 = P.A[2 * i]
        a1 = P.A[2 * i + 1]
        d1 = D[2 * k]
        d2 = D[2 * k + 1]
        d3 = E[2 * k]
        h = E[2 * k + 1]
        b0 = h00 * a0 + h01 * a1
        b1 = h01 * a0 + h11 * a1
        r = d1 + 0.5 * h * d3 + 0.5 * d2 * (a0 * w0 + a1 * w1)
        O.r[i] = r
        O.s[2 * i] = r * u[0] + d2 * b0 + 0.5 * d1 * w0
        O.s[2 * i + 1] = r * u[1] + d2 * b1 + 0.5 * d1 * w1


cdef void _laplace_gradient(Problem* P, Out* O, Py_ssize_t j, Py_ssize_t s, Py_ssize_t e,
                            const double* u, const double* Hinv, double* D,
                            double* ws) noexcept nogil:
    """Exact gradient of the Laplace approximation (see module docstring); D holds
    (l'_i, l''_i) at the mode and room for l'''_i (3 doubles per observation)."""
    cdef int q = P.q, a, b, m
    cdef Py_ssize_t i
    cdef double* v = ws
    cdef double* w = ws + q
    cdef double* Ha = w + q
    cdef double* auxp = Ha + q
    cdef double* tmp = auxp + P.naux
    cdef double* acc = tmp + P.naux
    cdef double eta, d1, d2, d3, h, aw, r
    cdef const double* ai
    cdef int canon = P.wt == NULL and fam_canonical(P.fam, P.link)
    if canon and q == 2:
        _laplace_gradient_canon2(P, O, s, e, u, Hinv, D)
        return
    for a in range(q):
        v[a] = 0.0
    for m in range(P.naux):
        auxp[m] = P.aux[m]
        O.gaux[j * P.naux + m] = 0.0
    # D is filled as (l', l'') pairs; spread to triples from the end so nothing is overwritten
    for i in range(e - s - 1, -1, -1):
        D[3 * i + 1] = D[2 * i + 1]
        D[3 * i] = D[2 * i]
    for i in range(s, e):
        ai = P.A + i * q
        eta = P.eta0[i]
        for a in range(q):
            eta += ai[a] * u[a]
        if canon:
            d3 = fam_d3_from(P.fam, P.y[i], P.t[i], D[3 * (i - s)], D[3 * (i - s) + 1])
        else:
            d3 = fam_d3(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, _FD_H)
            if P.wt != NULL:
                d3 *= P.wt[i]
        D[3 * (i - s) + 2] = d3
        h = 0.0
        for a in range(q):
            for b in range(q):
                h += ai[a] * Hinv[a * q + b] * ai[b]
        for a in range(q):
            v[a] += h * d3 * ai[a]
    for a in range(q):
        w[a] = 0.0
        for b in range(q):
            w[a] += Hinv[a * q + b] * v[b]
    for i in range(s, e):
        ai = P.A + i * q
        d1 = D[3 * (i - s)]
        d2 = D[3 * (i - s) + 1]
        d3 = D[3 * (i - s) + 2]
        h = 0.0
        aw = 0.0
        for a in range(q):
            Ha[a] = 0.0
            for b in range(q):
                h += ai[a] * Hinv[a * q + b] * ai[b]
                Ha[a] += Hinv[a * q + b] * ai[b]
            aw += ai[a] * w[a]
        r = d1 + 0.5 * h * d3 + 0.5 * d2 * aw
        O.r[i] = r
        for b in range(q):
            O.s[i * q + b] = r * u[b] + d2 * Ha[b] + 0.5 * d1 * w[b]
        if P.naux > 0:
            eta = P.eta0[i]
            for a in range(q):
                eta += ai[a] * u[a]
            if P.wt == NULL:
                laplace_aux_gradient(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, auxp, P.naux,
                                     h, aw, _FD_H, tmp, O.gaux + j * P.naux)
            else:
                # every term of the row is linear in l_i: w_i times the unweighted row
                for m in range(P.naux):
                    acc[m] = 0.0
                if P.wt[i] != 0.0:
                    laplace_aux_gradient(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, auxp,
                                         P.naux, h, aw, _FD_H, tmp, acc)
                    for m in range(P.naux):
                        O.gaux[j * P.naux + m] += P.wt[i] * acc[m]


cdef void _do_cluster(Problem* P, Out* O, Py_ssize_t j) noexcept nogil:
    cdef int q = P.q, K = P.K, a, b, it, ok, stored
    cdef int predict = (P.method == METHOD_LAPLACE and P.prev != NULL and P.wt == NULL
                        and fam_canonical(P.fam, P.link))
    cdef Py_ssize_t s = P.ptr[j], e = P.ptr[j + 1], nj = e - s
    cdef Py_ssize_t size = 16 * q * q + 16 * q + K * (q + 1) + nj * (K + 3) + 4 * P.naux + 16
    # small clusters work on the (thread's own) stack: no malloc per cluster and pass
    cdef double small[_STACK_DOUBLES]
    cdef double* ws = &small[0] if size <= _STACK_DOUBLES else <double*>malloc(
        size * sizeof(double))
    cdef double* u = ws
    cdef double* R = u + q
    cdef double* Hinv = R + q * q
    cdef double* m = Hinv + q * q
    cdef double* C = m + q
    cdef double* pm = C + q * q
    cdef double* pv = pm + q
    cdef double* col = pv + q * q
    cdef double* scratch = col + q
    cdef double* U = scratch + 6 * q + 5 * q * q + 4 * P.naux + 8
    cdef double* f = U + K * q
    cdef double* D1 = f + K
    cdef double ll = 0.0, gmode, diff, llprev = 0.0
    cdef double* mo = O.mode + j * q
    cdef double* ce = O.center + j * q
    cdef double* ch = O.chol + j * q * q
    if ws == NULL:
        O.status[j] = -1
        O.ll[j] = -INFINITY
        return
    O.status[j] = 0
    ok = 1
    if (P.method == METHOD_MCAGHERMITE or P.method == METHOD_LAPLACE
            or (P.method == METHOD_MVAGHERMITE and P.update and not P.warm)):
        for a in range(q):
            u[a] = mo[a] if P.warm else 0.0
        if predict and P.warm and P.pvalid[j]:
            _predict_mode(P, s, e, u, scratch)
        gmode = _find_mode(P, s, e, u, R, scratch, &ok, D1,
                           P.method == METHOD_LAPLACE and P.want_grad, &stored)
        if predict:
            if stored == 1 and ok:
                _keep_mode(P, s, e, u, D1)
            P.pvalid[j] = stored and ok
        if not ok:
            O.status[j] = 1
        for a in range(q):
            mo[a] = u[a]
        _chol_inverse(R, q, Hinv, col)
        for a in range(q * q):
            C[a] = Hinv[a]
        if not _chol(C, q):
            O.status[j] = 1
            for a in range(q * q):
                C[a] = 0.0
            for a in range(q):
                C[a * q + a] = 1.0
        for a in range(q):
            m[a] = u[a]
    if P.method == METHOD_LAPLACE:
        ll = gmode
        for a in range(q):
            ll -= log(R[a * q + a])
        for a in range(q):
            O.pmean[j * q + a] = u[a]
            ce[a] = u[a]
        for a in range(q * q):
            O.pcov[j * q * q + a] = Hinv[a]
            ch[a] = C[a]
        if P.want_grad:
            _laplace_gradient(P, O, j, s, e, u, Hinv, D1, scratch)
        O.ll[j] = ll
        if ws != &small[0]:
            free(ws)
        return
    if P.method == METHOD_GHERMITE:
        for a in range(q):
            m[a] = 0.0
            for b in range(q):
                C[a * q + b] = 1.0 if a == b else 0.0
    elif P.method == METHOD_MVAGHERMITE and (P.warm or not P.update):
        for a in range(q):
            m[a] = ce[a]
        for a in range(q * q):
            C[a] = ch[a]
    elif P.method == METHOD_MCAGHERMITE and not P.update:
        for a in range(q):
            m[a] = ce[a]
        for a in range(q * q):
            C[a] = ch[a]
    for it in range(P.maxiter if (P.method == METHOD_MVAGHERMITE and P.update) else 1):
        ll = _grid(P, s, e, m, C, U, f, D1, pm, pv)
        if P.method != METHOD_MVAGHERMITE or not P.update:
            break
        for a in range(q * q):
            R[a] = pv[a]
        if not _chol(R, q):
            O.status[j] = 2
            break
        diff = 0.0
        for a in range(q):
            diff = max(diff, fabs(pm[a] - m[a]))
        for a in range(q * q):
            diff = max(diff, fabs(R[a] - C[a]))
        # converged when the grid stops moving, or when the log likelihood, which is
        # stationary in the grid parameters to the order of the quadrature error, stops
        # changing (the grid iteration itself can contract slowly)
        if diff < P.tol or (it > 0 and fabs(ll - llprev) < P.tol * 1e-2):
            break
        llprev = ll
        if it == P.maxiter - 1:
            if P.maxiter == 1:
                # one update per call (Stata-style): ll uses the incoming grid, the updated
                # grid is kept for the next call
                for a in range(q):
                    m[a] = pm[a]
                for a in range(q * q):
                    C[a] = R[a]
            else:
                O.status[j] = 3
            break
        for a in range(q):
            m[a] = pm[a]
        for a in range(q * q):
            C[a] = R[a]
    O.ll[j] = ll
    for a in range(q):
        ce[a] = m[a]
        O.pmean[j * q + a] = pm[a]
    for a in range(q * q):
        ch[a] = C[a]
        O.pcov[j * q * q + a] = pv[a]
    if P.want_grad:
        _grid_gradient(P, O, j, s, e, U, f, D1, scratch)
    if ws != &small[0]:
        free(ws)


def _tensor_points(nodes):
    """n1 when ``nodes`` is the q = 2 tensor-product rule of ``gh_grid`` (node k = (x[k // n1],
    x[k % n1])) with at most 64 points per dimension and 4,096 nodes, else 0."""
    nodes = np.asarray(nodes)
    K = nodes.shape[0]
    if nodes.ndim != 2 or nodes.shape[1] != 2 or K < 4:
        return 0
    n1 = int(round(K ** 0.5))
    if n1 * n1 != K or n1 > 64:
        return 0
    x = nodes[:n1, 1]
    ok = (np.array_equal(nodes[:, 0], np.repeat(x, n1))
          and np.array_equal(nodes[:, 1], np.tile(x, n1)))
    return n1 if ok else 0


def cluster_pass(const double[::1] y, const double[::1] trials, const double[::1] eta0,
                 const double[:, ::1] A, const double[::1] aux, int fam, int link,
                 const Py_ssize_t[::1] ptr, const double[:, ::1] nodes, const double[::1] logw,
                 int method, double[:, ::1] mode, double[:, ::1] center,
                 double[:, :, ::1] chol, double[:, ::1] pmean, double[:, :, ::1] pcov,
                 double[::1] ll, double[::1] r, double[:, ::1] s, double[:, ::1] gaux,
                 int[::1] status, bint warm=False, bint want_grad=False, bint update=True,
                 double tol=1e-8, int maxiter=100, double[:, ::1] prev=None,
                 int[::1] pvalid=None, const double[::1] weights=None):
    """Evaluate every cluster's log likelihood contribution (and gradient pieces).

    Parameters
    ----------
    y, trials, eta0 : (n,) arrays sorted by cluster; eta0 = X beta + offset.
    A : (n, q) array, A = Z L.
    aux : (naux,) ancillary parameters (family-specific, see ``statsmodels_me.families``).
    fam, link : int
        Family and link codes (``kernel_codes.pxd``).
    ptr : (G + 1,) cluster boundaries in the sorted arrays.
    nodes, logw : (K, q), (K,) tensor-product probabilists' Gauss-Hermite nodes and log weights.
    method : int
        0 ghermite, 1 mcaghermite, 2 mvaghermite, 3 laplace.
    mode, center, chol : in/out adaptive state per cluster (modes, grid centres, grid scales).
    pmean, pcov : out, posterior means and covariances of u per cluster.
    ll : out, (G,) log likelihood contributions.
    r, s, gaux : out, gradient pieces (only written when ``want_grad``).
    status : out, 0 ok, 1 mode/curvature failure, 2 posterior covariance not PD, 3 no fixed point.
    warm : bool
        ``mode`` / ``center`` / ``chol`` hold starting values from a previous call.
    update : bool
        If False, the stored grid (center, chol) is used as is (mcaghermite, mvaghermite).
    prev, pvalid : (n, 3) and (G,) in/out, optional
        Laplace, canonical models: (l'_i, l''_i, eta_i) at each cluster's mode and whether
        they are current, kept from pass to pass to predict the next modes (the modes
        themselves are unchanged: only the starting point of their Newton search moves).
    weights : (n,), optional
        Per-observation weights multiplying each conditional log density (and its
        derivatives); None or length 0 for none.
    """
    cdef Problem P
    cdef Out O
    cdef Py_ssize_t G = ptr.shape[0] - 1, j
    cdef double dummy = 0.0
    cdef int nthreads = _num_threads
    P.y = &y[0]
    P.t = &trials[0]
    P.eta0 = &eta0[0]
    P.A = &A[0, 0]
    P.aux = &aux[0] if aux.shape[0] > 0 else &dummy
    P.naux = aux.shape[0]
    P.wt = NULL
    if weights is not None and weights.shape[0] > 0:
        if weights.shape[0] != y.shape[0]:
            raise ValueError("weights must have one entry per observation")
        P.wt = &weights[0]
    P.ptr = &ptr[0]
    P.nodes = &nodes[0, 0]
    P.logw = &logw[0]
    P.fam = fam
    P.link = link
    P.q = A.shape[1]
    P.K = nodes.shape[0]
    P.method = method
    P.warm = warm
    P.want_grad = want_grad
    P.update = update
    P.tol = tol
    P.maxiter = maxiter
    P.prev = NULL
    P.pvalid = NULL
    P.n1 = _tensor_points(nodes)
    if prev is not None and pvalid is not None:
        if prev.shape[0] != y.shape[0] or prev.shape[1] != 3 or pvalid.shape[0] != G:
            raise ValueError("prev must be (n, 3) and pvalid (G,)")
        P.prev = &prev[0, 0]
        P.pvalid = &pvalid[0]
    O.ll = &ll[0]
    O.mode = &mode[0, 0]
    O.center = &center[0, 0]
    O.chol = &chol[0, 0, 0]
    O.pmean = &pmean[0, 0]
    O.pcov = &pcov[0, 0, 0]
    O.r = &r[0]
    O.s = &s[0, 0]
    O.gaux = &gaux[0, 0] if gaux.shape[1] > 0 else &dummy
    O.status = &status[0]
    cdef Py_ssize_t start, stop
    cdef Py_ssize_t block = signal_block(G, ptr[G] - ptr[0], P.K * (P.q + 1.0), nthreads)
    for start in range(0, G, block):
        stop = min(G, start + block)
        if nthreads > 1:
            for j in prange(start, stop, nogil=True, schedule="dynamic", chunksize=64,
                            num_threads=nthreads):
                _do_cluster(&P, &O, j)
        else:
            with nogil:
                for j in range(start, stop):
                    _do_cluster(&P, &O, j)
        if stop < G:
            PyErr_CheckSignals()  # Ctrl-C between blocks (raises KeyboardInterrupt)


def family_values(int fam, int link, const double[::1] y, const double[::1] trials,
                  const double[::1] eta, const double[::1] aux):
    """Kernel-side family math at each (y_i, eta_i), for tests and diagnostics.

    Returns
    -------
    l, d1, d2, d3 : (n,) variable part of log f and its eta-derivatives.
    daux : (n, naux) aux-derivatives of the variable part.
    """
    import numpy as np
    cdef Py_ssize_t i, n = y.shape[0]
    cdef int naux = aux.shape[0]
    cdef double dummy = 0.0
    cdef const double* ap = &aux[0] if naux > 0 else &dummy
    out = np.empty((4, n))
    daux = np.zeros((n, naux))
    cdef double[:, ::1] o = out
    cdef double[:, ::1] da = daux
    cdef double tmp[64]
    cdef int m
    if naux > 64:
        raise ValueError("at most 64 ancillary parameters")
    for i in range(n):
        o[0, i] = fam_eval(fam, link, y[i], trials[i], eta[i], ap, naux, &o[1, i], &o[2, i])
        o[3, i] = fam_d3(fam, link, y[i], trials[i], eta[i], ap, naux, _FD_H)
        if naux > 0:
            fam_daux(fam, link, y[i], trials[i], eta[i], ap, naux, tmp)
            for m in range(naux):
                da[i, m] = tmp[m]
    return out[0], out[1], out[2], out[3], daux


def glm_score_info(int fam, int link, const double[::1] y, const double[::1] trials,
                   const double[::1] offset, const double[:, ::1] X, const double[::1] beta,
                   const double[::1] aux, double[::1] grad, double[:, ::1] info):
    """GLM log likelihood (variable part), score X' l' and information -X' diag(l'') X at
    eta = X beta + offset, in one pass over the data (the fixed-effects Newton fit).

    Parameters
    ----------
    fam, link : int
        Family and link codes (``kernel_codes.pxd``).
    y, trials, offset : (n,) arrays.
    X : (n, p) C-contiguous design.
    beta : (p,) coefficients.
    aux : (naux,) ancillary parameters.
    grad : (p,) out, the score.
    info : (p, p) out, the observed information (symmetric).

    Returns
    -------
    float
        sum_i l_i (the terms free of eta, ``obs_constant``, are not included).
    """
    cdef Py_ssize_t i, n = y.shape[0], p = X.shape[1], a, b
    cdef int naux = aux.shape[0], nprod = 0
    cdef int logit1 = (fam == FAM_BERNOULLI or fam == FAM_BINOMIAL) and link == LINK_LOGIT
    cdef double dummy = 0.0, tot = 0.0, eta, d1, d2, e1, mu, prod = 1.0
    cdef const double* ap = &aux[0] if naux > 0 else &dummy
    cdef const double* xi
    cdef double* acc
    if (trials.shape[0] != n or offset.shape[0] != n or X.shape[0] != n
            or beta.shape[0] != p or grad.shape[0] != p or info.shape[0] != p
            or info.shape[1] != p):
        raise ValueError("inconsistent shapes")
    acc = <double*>malloc((p + p * p + 1) * sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        for a in range(p + p * p):
            acc[a] = 0.0
        for i in range(n):
            xi = &X[i, 0]
            eta = offset[i]
            for a in range(p):
                eta += xi[a] * beta[a]
            if logit1 and trials[i] == 1.0:
                # bernoulli logit: as fam_eval, with the logs of products of up to 512
                # factors 1 + exp(-|eta|) in (1, 2] (see _value_canon)
                mu = logistic_tail(eta, &e1)
                tot += y[i] * eta - (eta if eta >= 0 else 0.0)
                prod *= 1.0 + e1
                nprod += 1
                if nprod == 512:
                    tot -= log(prod)
                    prod = 1.0
                    nprod = 0
                d1 = y[i] - mu
                d2 = -mu * (1.0 - mu)
            else:
                tot += fam_eval(fam, link, y[i], trials[i], eta, ap, naux, &d1, &d2)
            for a in range(p):
                acc[a] += d1 * xi[a]
                for b in range(a + 1):
                    acc[p + a * p + b] -= d2 * xi[a] * xi[b]
        tot -= log(prod)
    for a in range(p):
        grad[a] = acc[a]
        for b in range(a + 1):
            info[a, b] = acc[p + a * p + b]
            info[b, a] = acc[p + a * p + b]
    free(acc)
    return tot
