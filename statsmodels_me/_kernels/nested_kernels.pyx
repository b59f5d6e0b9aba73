# cython: language_level=3
"""Per-top-cluster kernels of multilevel (nested) GLMMs: joint Laplace and nested (adaptive)
Gauss-Hermite quadrature.

Levels k = 0 (outermost) .. D-1 (innermost); every row belongs to one group at every level and
rows are sorted by the full nesting path, so the groups of level k+1 inside a group of level k
form a contiguous range (``childptr``) and so do the rows of every group (``rowptr``). Group g
of level k has standardized effects u_g ~ N(0, I_{q_k}); the linear predictor of row i is
eta_i = eta0_i + sum_k a_ik' u_{g_k(i)} with a_ik = L_k' z_ik (the caller passes A = [Z_k L_k]).

Laplace (method 3): the joint mode of all effects of one top cluster by Newton's method.  The
Hessian I + sum_i w_i a_i a_i' (w_i = -l''_i) is block-arrow structured along the tree: a row
couples only the groups on its own path.  It is factored by eliminating groups from the leaves
up (each group's own block is factored and its Schur complement is added to its parent's block,
Rue & Held 2005, ch. 2), so the cost is linear in the number of groups; log|H| is the sum of the
log-determinants of the eliminated blocks.

Quadrature (methods 0-2): the nested integral
    L_g(extra) = int phi(u) prod_{children c} L_c(extra + A_k u) du   (innermost: prod_i f_i)
with a tensor Gauss-Hermite grid u = m + C z at every level (Rabe-Hesketh, Skrondal & Pickles
2005, J. Econometrics 128:301-323).  ghermite: m = 0, C = I.  mcaghermite: m = the mode of the
group's effects in the joint mode of its subtree given the outer nodes, C C' = the inverse of
the subtree Hessian's Schur complement on that group.  mvaghermite: m, C C' = posterior mean
and covariance of the group's effects given the outer nodes, computed by the quadrature itself
and iterated to a fixed point (``update``) or taken from the previous call (frozen).  Grids are
stored per group and per combination of outer node indices ("slot").

Weights (pseudo-likelihood, Rabe-Hesketh & Skrondal 2006): per-row weights w_i replace l_i by
w_i l_i, and weights w_c of the groups of an inner level k > 0 raise L_c to the power w_c
(log L_g = ... sum_c w_c log L_c); the top level's weights multiply whole contributions and are
the caller's.  The mode and curvature that adapt the grid of a group are those of its subtree
with every inner group's prior and rows counted w times (the replicated subtree).  The joint
Laplace approximation is that of the replicated subtree: an inner group of cumulative weight W
(its own and its inner ancestors' weights) stands for W copies of itself, which share the mode,
so the eliminated block built with weights is W times one copy's and log|H| counts
W (log|block| - q log W); the diagonal blocks of H^-1 on a path are W times the inverse of
the weighted block (the copies' own blocks).  For integer weights this is the Laplace
approximation of the data with the groups replicated.
"""
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from libc.math cimport INFINITY, exp, fabs, log, sqrt
from libc.stdlib cimport free, malloc

from statsmodels_me._kernels.kernel_codes cimport (
    METHOD_GHERMITE,
    METHOD_LAPLACE,
    METHOD_MCAGHERMITE,
    METHOD_MVAGHERMITE,
)
from statsmodels_me._kernels.family_math cimport (
    fam_d3,
    fam_daux,
    fam_eval,
    laplace_aux_gradient,
)
from statsmodels_me._kernels.small_dense cimport chol as _chol
from statsmodels_me._kernels.small_dense cimport chol_inverse as _chol_inverse
from statsmodels_me._kernels.small_dense cimport chol_solve as _chol_solve
from statsmodels_me._kernels.small_dense cimport lse_moments
from statsmodels_me._kernels.signal_blocks cimport signal_block

cdef enum:
    MAXLEV = 16

cdef double _FD_H = 1e-4


cdef struct NP:
    const double* y
    const double* t
    const double* eta0
    const double* A
    const double* aux
    const double* wt                 # per-row weights (NULL: none)
    const double* lw[MAXLEV]         # per-group weights of level k (NULL: none)
    int weighted                     # some wt or lw[k > 0] is given
    int naux
    int fam
    int link
    int D
    int Q
    int q[MAXLEV]
    int qoff[MAXLEV]
    const Py_ssize_t* rowptr[MAXLEV]
    const Py_ssize_t* childptr[MAXLEV]
    const Py_ssize_t* parent[MAXLEV]
    Py_ssize_t goff[MAXLEV]
    const Py_ssize_t* gidx
    int K[MAXLEV]
    const double* nodes[MAXLEV]
    const double* logw[MAXLEV]
    Py_ssize_t S[MAXLEV]
    double* center[MAXLEV]
    double* chol[MAXLEV]
    int* have[MAXLEV]
    int method
    int update
    double tol
    int maxiter
    double* umode
    double* ubak
    double* delta
    double* M
    double* b
    double* X
    double* R
    double* yv
    double* Pi
    int* status
    int want_grad
    double* rw
    double* r
    double* gS
    double* gaux
    int record
    double* post_m[MAXLEV]
    double* post_v[MAXLEV]
    double* post_w[MAXLEV]


cdef inline int _inv_chol(const double* R, int q, double* C, double* col) noexcept nogil:
    """C = lower Cholesky factor of (R R')^-1; 0 on failure."""
    _chol_inverse(R, q, C, col)
    return _chol(C, q)


# ---------------------------------------------------------------- joint mode of a subtree

cdef inline void _ranges(NP* P, int k0, Py_ssize_t g0, Py_ssize_t* lo,
                         Py_ssize_t* hi) noexcept nogil:
    cdef int l
    lo[k0] = g0
    hi[k0] = g0 + 1
    for l in range(k0, P.D - 1):
        lo[l + 1] = P.childptr[l][lo[l]]
        hi[l + 1] = P.childptr[l][hi[l]]


cdef inline double _row_eta(NP* P, int k0, Py_ssize_t i, double ex) noexcept nogil:
    cdef int l, a
    cdef double eta = ex
    cdef const double* ai
    cdef const double* ua
    for l in range(k0, P.D):
        ua = P.umode + (P.goff[l] + P.gidx[i * P.D + l]) * P.Q
        ai = P.A + i * P.Q + P.qoff[l]
        for a in range(P.q[l]):
            eta += ai[a] * ua[a]
    return eta


cdef inline double _sub_weight(NP* P, int k0, int l, Py_ssize_t g) noexcept nogil:
    """Product of the group weights of group g of level l and of its ancestors below k0."""
    cdef double w = 1.0
    cdef int m
    for m in range(l, k0, -1):
        if P.lw[m] != NULL:
            w *= P.lw[m][g]
        g = P.parent[m][g]
    return w


cdef inline double _row_weight(NP* P, int k0, Py_ssize_t i) noexcept nogil:
    """Weight of row i inside the subtree of its level-k0 group (row weight times the
    group weights of the levels below k0 on its path)."""
    cdef double w = P.wt[i] if P.wt != NULL else 1.0
    if P.weighted:
        w *= _sub_weight(P, k0, P.D - 1, P.gidx[i * P.D + P.D - 1])
    return w


cdef int _system(NP* P, int k0, const Py_ssize_t* lo, const Py_ssize_t* hi,
                 const double* extra, Py_ssize_t r0, int clip, double* obj,
                 double* logdet) noexcept nogil:
    """Objective, gradient and Hessian of the subtree's effects at ``umode``, eliminated from
    the leaves up; leaves per group the Cholesky factor of the eliminated own block (R), the
    solved gradient (yv) and M_oo^-1 M_oa (X).  Returns 0 when a block is not PD."""
    cdef int D = P.D, Q = P.Q, l, a, c, r, d, p, ql, dL, j
    cdef Py_ssize_t g, gg, pg, i, i0, i1
    cdef double val = 0.0, eta, d1, d2, w, s, cw = 1.0, lv
    cdef int weighted = P.weighted   # loop-invariant: a register, not a load per row
    cdef double* Mg
    cdef double* bg
    cdef double* Rg
    cdef double* Xg
    cdef double* yg
    cdef double* Mp
    cdef double* bp
    cdef double* u
    cdef const double* ai
    cdef double col[MAXLEV * 8]
    for l in range(k0, D):
        d = P.qoff[l] + P.q[l] - P.qoff[k0]
        p = P.qoff[l] - P.qoff[k0]
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            Mg = P.M + gg * Q * Q
            bg = P.b + gg * Q
            u = P.umode + gg * Q
            for a in range(d * d):
                Mg[a] = 0.0
            for a in range(d):
                bg[a] = 0.0
            if weighted:
                cw = _sub_weight(P, k0, l, g)
            for a in range(P.q[l]):
                Mg[(p + a) * d + p + a] = cw
                bg[p + a] = -cw * u[a]
                val -= 0.5 * cw * u[a] * u[a]
    dL = Q - P.qoff[k0]
    i0 = P.rowptr[D - 1][lo[D - 1]]
    i1 = P.rowptr[D - 1][hi[D - 1]]
    for i in range(i0, i1):
        eta = _row_eta(P, k0, i, extra[i - r0])
        lv = fam_eval(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, &d1, &d2)
        if weighted:
            cw = _row_weight(P, k0, i)
            lv *= cw
            d1 *= cw
            d2 *= cw
        val += lv
        w = -d2
        if clip and w < 0:
            w = 0.0
        ai = P.A + i * Q + P.qoff[k0]
        gg = P.goff[D - 1] + P.gidx[i * D + D - 1]
        Mg = P.M + gg * Q * Q
        bg = P.b + gg * Q
        for a in range(dL):
            bg[a] += d1 * ai[a]
            for c in range(a + 1):
                Mg[a * dL + c] += w * ai[a] * ai[c]
    obj[0] = val
    logdet[0] = 0.0
    for l in range(D - 1, k0 - 1, -1):
        d = P.qoff[l] + P.q[l] - P.qoff[k0]
        p = P.qoff[l] - P.qoff[k0]
        ql = P.q[l]
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            Mg = P.M + gg * Q * Q
            bg = P.b + gg * Q
            Rg = P.R + gg * Q * Q
            Xg = P.X + gg * Q * Q
            yg = P.yv + gg * Q
            for a in range(ql):
                for c in range(ql):
                    Rg[a * ql + c] = Mg[(p + a) * d + p + c] if c <= a else 0.0
            if not _chol(Rg, ql):
                return 0
            if weighted and l > k0:
                # W copies of one group (module docstring): W times one copy's log|block|
                cw = _sub_weight(P, k0, l, g)
                for a in range(ql):
                    logdet[0] += cw * (2.0 * log(Rg[a * ql + a]) - log(cw))
                    yg[a] = bg[p + a]
            else:
                for a in range(ql):
                    logdet[0] += 2.0 * log(Rg[a * ql + a])
                    yg[a] = bg[p + a]
            _chol_solve(Rg, ql, yg)
            for j in range(p):
                for a in range(ql):
                    col[a] = Mg[(p + a) * d + j]
                _chol_solve(Rg, ql, col)
                for a in range(ql):
                    Xg[a * p + j] = col[a]
            if l > k0:
                pg = P.parent[l][g]
                Mp = P.M + (P.goff[l - 1] + pg) * Q * Q
                bp = P.b + (P.goff[l - 1] + pg) * Q
                for r in range(p):
                    s = bg[r]
                    for a in range(ql):
                        s -= Mg[(p + a) * d + r] * yg[a]
                    bp[r] += s
                    for c in range(r + 1):
                        s = Mg[r * d + c]
                        for a in range(ql):
                            s -= Mg[(p + a) * d + r] * Xg[a * p + c]
                        Mp[r * p + c] += s
    return 1


cdef double _backsolve(NP* P, int k0, const Py_ssize_t* lo, const Py_ssize_t* hi) noexcept nogil:
    """Newton step of every subtree group into ``delta`` (top down); returns max |step|."""
    cdef int D = P.D, Q = P.Q, l, a, j, p, m, off
    cdef Py_ssize_t g, gg, h
    cdef double smax = 0.0, s
    cdef double path[MAXLEV * 8]
    cdef double* Xg
    cdef double* dg
    cdef double* ya
    for l in range(k0, D):
        p = P.qoff[l] - P.qoff[k0]
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            # steps of the ancestors within the subtree, outermost first
            h = g
            for m in range(l - 1, k0 - 1, -1):
                h = P.parent[m + 1][h]
                off = P.qoff[m] - P.qoff[k0]
                ya = P.delta + (P.goff[m] + h) * Q
                for a in range(P.q[m]):
                    path[off + a] = ya[a]
            Xg = P.X + gg * Q * Q
            dg = P.delta + gg * Q
            for a in range(P.q[l]):
                s = P.yv[gg * Q + a]
                for j in range(p):
                    s -= Xg[a * p + j] * path[j]
                dg[a] = s
                if fabs(s) > smax:
                    smax = fabs(s)
    return smax


cdef void _move(NP* P, int k0, const Py_ssize_t* lo, const Py_ssize_t* hi, double lam,
                int save) noexcept nogil:
    """umode = ubak + lam * delta over the subtree (after copying umode to ubak if save)."""
    cdef int l, a
    cdef Py_ssize_t g, gg
    for l in range(k0, P.D):
        for g in range(lo[l], hi[l]):
            gg = (P.goff[l] + g) * P.Q
            for a in range(P.q[l]):
                if save:
                    P.ubak[gg + a] = P.umode[gg + a]
                P.umode[gg + a] = P.ubak[gg + a] + lam * P.delta[gg + a]


cdef double _sub_mode(NP* P, int k0, Py_ssize_t g0, const double* extra, double* logdet,
                      int* ok) noexcept nogil:
    """Joint mode of the effects of the subtree rooted at group g0 of level k0 given
    ``extra`` (eta0 plus the outer effects; indexed from the subtree's first row).  Leaves the
    mode in ``umode`` and the factorization in R/X/yv; returns the objective at the mode."""
    cdef Py_ssize_t lo[MAXLEV]
    cdef Py_ssize_t hi[MAXLEV]
    cdef Py_ssize_t r0 = P.rowptr[k0][g0]
    cdef double obj, objn, ld, smax, lam
    cdef int it, half, accepted
    _ranges(P, k0, g0, lo, hi)
    ok[0] = 1
    if not _system(P, k0, lo, hi, extra, r0, 1, &obj, &ld):
        ok[0] = 0
        return obj
    for it in range(200):
        smax = _backsolve(P, k0, lo, hi)
        if smax < 1e-9:
            _move(P, k0, lo, hi, 1.0, 1)
            break
        lam = 1.0
        accepted = 0
        _move(P, k0, lo, hi, 0.0, 1)
        for half in range(60):
            _move(P, k0, lo, hi, lam, 0)
            if _system(P, k0, lo, hi, extra, r0, 1, &objn, &ld) and \
                    objn >= obj - 1e-13 * (1.0 + fabs(obj)):
                accepted = 1
                break
            lam *= 0.5
        if not accepted:
            _move(P, k0, lo, hi, 0.0, 0)
            break
        obj = objn
    if not _system(P, k0, lo, hi, extra, r0, 0, &obj, logdet):
        ok[0] = 0
        _system(P, k0, lo, hi, extra, r0, 1, &obj, logdet)
    return obj


# ---------------------------------------------------------------- nested quadrature

cdef inline double _zz(const double* z, int q) noexcept nogil:
    cdef double s = 0.0
    cdef int a
    for a in range(q):
        s += z[a] * z[a]
    return s


cdef inline double _fe(NP* P, Py_ssize_t i, double eta) noexcept nogil:
    cdef double d1, d2
    cdef double v = fam_eval(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, &d1, &d2)
    return v if P.wt == NULL else P.wt[i] * v




cdef double _qgrid(NP* P, int k, Py_ssize_t g, Py_ssize_t slot, const double* extra,
                   const double* m, const double* C, double* U, double* f, double* pm,
                   double* pv, double* ext, int* status) noexcept nogil:
    """Quadrature of group g of level k on the grid u = m + C z; posterior moments in pm, pv."""
    cdef int q = P.q[k], K = P.K[k], a, b, j, Q = P.Q
    cdef Py_ssize_t r0 = P.rowptr[k][g], r1 = P.rowptr[k][g + 1], i, c
    cdef double zz, uu, v, val, lse, logdet = 0.0
    cdef const double* z
    cdef const double* ai
    for a in range(q):
        logdet += log(C[a * q + a])
    for j in range(K):
        z = P.nodes[k] + j * q
        zz = 0.0
        uu = 0.0
        for a in range(q):
            v = m[a]
            for b in range(a + 1):
                v += C[a * q + b] * z[b]
            U[j * q + a] = v
            zz += z[a] * z[a]
            uu += v * v
        val = 0.0
        for i in range(r0, r1):
            ai = P.A + i * Q + P.qoff[k]
            v = extra[i - r0]
            for a in range(q):
                v += ai[a] * U[j * q + a]
            ext[i - r0] = v
        if k == P.D - 1:
            for i in range(r0, r1):
                val += _fe(P, i, ext[i - r0])
        else:
            for c in range(P.childptr[k][g], P.childptr[k][g + 1]):
                v = _qlevel(P, k + 1, c, slot * K + j, ext + (P.rowptr[k + 1][c] - r0),
                            status)
                val += v if P.lw[k + 1] == NULL else P.lw[k + 1][c] * v
        f[j] = P.logw[k][j] + 0.5 * _zz(z, q) - 0.5 * uu + val
    lse = lse_moments(f, K, U, q, pm, pv)
    if lse == -INFINITY:
        return -INFINITY
    return logdet + lse


cdef double _qlevel(NP* P, int k, Py_ssize_t g, Py_ssize_t slot, const double* extra,
                    int* status) noexcept nogil:
    """log L_g(extra) for group g of level k (see the module docstring)."""
    cdef int q = P.q[k], K = P.K[k], a, it, ok, need
    cdef Py_ssize_t r0 = P.rowptr[k][g], n = P.rowptr[k][g + 1] - r0, sidx, gg
    cdef double ll = -INFINITY, ld, diff
    cdef double* ws = <double*>malloc((6 * q * q + 3 * q + K * (q + 1) + n + 4) * sizeof(double))
    cdef double* m = ws
    cdef double* C = m + q
    cdef double* pm = C + q * q
    cdef double* pv = pm + q
    cdef double* Rn = pv + q * q
    cdef double* col = Rn + q * q
    cdef double* U = col + q
    cdef double* f = U + K * q
    cdef double* ext = f + K
    cdef double* cst
    cdef double* Cst
    if ws == NULL:
        status[0] = -1
        return -INFINITY
    sidx = g * P.S[k] + slot
    cst = P.center[k] + sidx * q
    Cst = P.chol[k] + sidx * q * q
    if P.method == METHOD_GHERMITE:
        for a in range(q * q):
            C[a] = 0.0
        for a in range(q):
            m[a] = 0.0
            C[a * q + a] = 1.0
    else:
        need = (P.method == METHOD_MCAGHERMITE and P.update) or not P.have[k][sidx]
        if need:
            _sub_mode(P, k, g, extra, &ld, &ok)
            if not ok:
                status[0] = 1
            gg = P.goff[k] + g
            for a in range(q):
                m[a] = P.umode[gg * P.Q + a]
            if not _inv_chol(P.R + gg * P.Q * P.Q, q, C, col):
                status[0] = 1
                for a in range(q * q):
                    C[a] = 0.0
                for a in range(q):
                    C[a * q + a] = 1.0
        else:
            for a in range(q):
                m[a] = cst[a]
            for a in range(q * q):
                C[a] = Cst[a]
    for it in range(P.maxiter if (P.method == METHOD_MVAGHERMITE and P.update) else 1):
        ll = _qgrid(P, k, g, slot, extra, m, C, U, f, pm, pv, ext, status)
        if P.method != METHOD_MVAGHERMITE or not P.update or ll == -INFINITY:
            break
        for a in range(q * q):
            Rn[a] = pv[a]
        if not _chol(Rn, q):
            status[0] = 2
            break
        diff = 0.0
        for a in range(q):
            diff = max(diff, fabs(pm[a] - m[a]))
        for a in range(q * q):
            diff = max(diff, fabs(Rn[a] - C[a]))
        if diff < P.tol:
            break
        if it == P.maxiter - 1:
            status[0] = 3
            break
        for a in range(q):
            m[a] = pm[a]
        for a in range(q * q):
            C[a] = Rn[a]
    if P.method != METHOD_GHERMITE:
        for a in range(q):
            cst[a] = m[a]
        for a in range(q * q):
            Cst[a] = C[a]
        P.have[k][sidx] = 1
    if P.record and ll != -INFINITY:
        # posterior moments of u_g given the outer nodes of this slot, and the posterior
        # weights of this level's nodes (for empirical Bayes means of inner levels)
        for a in range(q):
            P.post_m[k][sidx * q + a] = pm[a]
        for a in range(q * q):
            P.post_v[k][sidx * q * q + a] = pv[a]
        for a in range(K):
            P.post_w[k][sidx * K + a] = f[a]
    free(ws)
    return ll


# ---------------------------------------------------------------- exact Laplace gradient

cdef void _path_inverse(NP* P, const Py_ssize_t* lo, const Py_ssize_t* hi,
                        double* col) noexcept nogil:
    """Blocks of H^-1 over every group's path (ancestors then itself), top down from the
    leaf-up factorization (Takahashi recursion on the tree): with X_g = M_oo^-1 M_oa,
    Pi_g = [[Pi_parent, -Pi_parent X_g'], [-X_g Pi_parent, M_oo^-1 + X_g Pi_parent X_g']]."""
    cdef int D = P.D, Q = P.Q, l, a, c, j, p, d, ql
    cdef Py_ssize_t g, gg, pg
    cdef double s, cw = 1.0
    cdef double* Pg
    cdef double* Pp
    cdef double* Xg
    cdef double* Rg
    for l in range(D):
        p = P.qoff[l]
        ql = P.q[l]
        d = p + ql
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            Pg = P.Pi + gg * Q * Q
            Xg = P.X + gg * Q * Q
            Rg = P.R + gg * Q * Q
            if P.weighted and l > 0:
                # one copy's own block (module docstring): W times the weighted one's inverse
                cw = _sub_weight(P, 0, l, g)
            for c in range(ql):
                for a in range(ql):
                    col[a] = 1.0 if a == c else 0.0
                _chol_solve(Rg, ql, col)
                for a in range(ql):
                    Pg[(p + a) * d + p + c] = cw * col[a]
            if l == 0:
                continue
            pg = P.parent[l][g]
            Pp = P.Pi + (P.goff[l - 1] + pg) * Q * Q
            for a in range(p):
                for c in range(p):
                    Pg[a * d + c] = Pp[a * p + c]
            for a in range(ql):
                for c in range(p):
                    s = 0.0
                    for j in range(p):
                        s += Xg[a * p + j] * Pp[j * p + c]
                    Pg[(p + a) * d + c] = -s
                    Pg[c * d + p + a] = -s
            for a in range(ql):
                for c in range(ql):
                    s = 0.0
                    for j in range(p):
                        s -= Pg[(p + a) * d + j] * Xg[c * p + j]
                    Pg[(p + a) * d + p + c] += s


cdef void _forward(NP* P, const Py_ssize_t* lo, const Py_ssize_t* hi) noexcept nogil:
    """Leaf-up pass of a solve H x = b with the stored factors (b in ``P.b``, each group's
    vector over its path); leaves M_oo^-1 b_o in ``yv`` for ``_backsolve``."""
    cdef int D = P.D, Q = P.Q, l, a, r, p, ql
    cdef Py_ssize_t g, gg, pg
    cdef double* bg
    cdef double* bp
    cdef double* yg
    cdef double* Xg
    cdef double s
    for l in range(D - 1, -1, -1):
        p = P.qoff[l]
        ql = P.q[l]
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            bg = P.b + gg * Q
            yg = P.yv + gg * Q
            Xg = P.X + gg * Q * Q
            for a in range(ql):
                yg[a] = bg[p + a]
            _chol_solve(P.R + gg * Q * Q, ql, yg)
            if l > 0:
                pg = P.parent[l][g]
                bp = P.b + (P.goff[l - 1] + pg) * Q
                # M_ao M_oo^-1 b_o = X' b_o
                for r in range(p):
                    s = bg[r]
                    for a in range(ql):
                        s -= Xg[a * p + r] * bg[p + a]
                    bp[r] += s


cdef inline void _row_path(NP* P, Py_ssize_t i, const double* src, double* out) noexcept nogil:
    """The Q path coordinates of row i gathered from a per-group array (stride Q)."""
    cdef int l, a
    cdef const double* v
    for l in range(P.D):
        v = src + (P.goff[l] + P.gidx[i * P.D + l]) * P.Q
        for a in range(P.q[l]):
            out[P.qoff[l] + a] = v[a]


cdef void _laplace_grad(NP* P, Py_ssize_t j) noexcept nogil:
    """Exact gradient of the joint Laplace approximation of top cluster j at the mode in
    ``umode`` (factors of the exact Hessian in R/X): d/d eta0_i into r, d/d A_i into S, the
    cluster's ancillary gradient into gaux.  As in glmm_kernels (implicit derivative of the
    mode in log|H|), with h_i = v_i' H^-1 v_i from the path blocks of ``_path_inverse`` and
    omega = H^-1 sum_i h_i l3_i v_i (l3: third eta-derivative) by one more solve."""
    cdef Py_ssize_t lo[MAXLEV]
    cdef Py_ssize_t hi[MAXLEV]
    cdef int D = P.D, Q = P.Q, a, c, m, l
    cdef Py_ssize_t i, i0, i1, gg, g
    cdef double eta, d1, d2, d3, h, vw, rr, rwi
    cdef double col[MAXLEV * 8]
    cdef double Hv[MAXLEV * 8]
    cdef double u[MAXLEV * 8]
    cdef double om[MAXLEV * 8]
    cdef double tmp[64]
    cdef double auxp[64]
    cdef double acc[64]
    cdef const double* v
    cdef double* Pl
    cdef double* bg
    _ranges(P, 0, j, lo, hi)
    _path_inverse(P, lo, hi, col)
    for l in range(D):
        for g in range(lo[l], hi[l]):
            gg = P.goff[l] + g
            for a in range(Q):
                P.b[gg * Q + a] = 0.0
    i0 = P.rowptr[D - 1][lo[D - 1]]
    i1 = P.rowptr[D - 1][hi[D - 1]]
    for i in range(i0, i1):
        v = P.A + i * Q
        eta = _row_eta(P, 0, i, P.eta0[i])
        fam_eval(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, &d1, &d2)
        d3 = fam_d3(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, P.naux, _FD_H)
        if P.weighted:
            rwi = _row_weight(P, 0, i)
            d1 *= rwi
            d2 *= rwi
            d3 *= rwi
        gg = P.goff[D - 1] + P.gidx[i * D + D - 1]
        Pl = P.Pi + gg * Q * Q
        h = 0.0
        for a in range(Q):
            for c in range(Q):
                h += v[a] * Pl[a * Q + c] * v[c]
        P.rw[4 * i] = d1
        P.rw[4 * i + 1] = d2
        P.rw[4 * i + 2] = d3
        P.rw[4 * i + 3] = h
        bg = P.b + gg * Q
        for a in range(Q):
            bg[a] += h * d3 * v[a]
    _forward(P, lo, hi)
    _backsolve(P, 0, lo, hi)
    for m in range(P.naux):
        P.gaux[j * P.naux + m] = 0.0
        auxp[m] = P.aux[m]
    for i in range(i0, i1):
        v = P.A + i * Q
        d1 = P.rw[4 * i]
        d2 = P.rw[4 * i + 1]
        d3 = P.rw[4 * i + 2]
        h = P.rw[4 * i + 3]
        _row_path(P, i, P.delta, om)
        _row_path(P, i, P.umode, u)
        gg = P.goff[D - 1] + P.gidx[i * D + D - 1]
        Pl = P.Pi + gg * Q * Q
        vw = 0.0
        for a in range(Q):
            vw += v[a] * om[a]
            Hv[a] = 0.0
            for c in range(Q):
                Hv[a] += Pl[a * Q + c] * v[c]
        rr = d1 + 0.5 * h * d3 + 0.5 * d2 * vw
        P.r[i] = rr
        for a in range(Q):
            P.gS[i * Q + a] = rr * u[a] + 0.5 * d1 * om[a] + d2 * Hv[a]
        if P.naux > 0:
            eta = _row_eta(P, 0, i, P.eta0[i])
            if not P.weighted:
                laplace_aux_gradient(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, auxp, P.naux,
                                     h, vw, _FD_H, tmp, P.gaux + j * P.naux)
            else:
                # every term of the row is linear in l_i: its weight times the unweighted row
                rwi = _row_weight(P, 0, i)
                for m in range(P.naux):
                    acc[m] = 0.0
                if rwi != 0.0:
                    laplace_aux_gradient(P.fam, P.link, P.y[i], P.t[i], eta, P.aux, auxp,
                                         P.naux, h, vw, _FD_H, tmp, acc)
                for m in range(P.naux):
                    P.gaux[j * P.naux + m] += rwi * acc[m]


# ---------------------------------------------------------------- fixed-grid quadrature gradient

cdef void _qgrad(NP* P, int k, Py_ssize_t g, Py_ssize_t slot, double prob, const double* extra,
                 double* upath, Py_ssize_t top) noexcept nogil:
    """Gradient of the quadrature formula with every grid held fixed in the u scale (the
    grids and node posterior weights recorded by the value pass): d/d eta0_i = E[l'_i] and
    d/d A_i = E[l'_i u_path] over the posterior of the node paths; ancillary gradient
    E[d l_i / d aux] into the top cluster's row of gaux."""
    cdef int q = P.q[k], K = P.K[k], a, b, j, l, mm, Q = P.Q
    cdef Py_ssize_t r0 = P.rowptr[k][g], r1 = P.rowptr[k][g + 1], i, c, sidx
    cdef double pj, v, d1, d2, pw
    cdef const double* z
    cdef const double* ai
    cdef const double* m = NULL
    cdef const double* C = NULL
    cdef const double* w
    cdef double tmp[64]
    cdef double* ext = <double*>malloc((r1 - r0 + 1) * sizeof(double))
    if ext == NULL:
        return
    sidx = g * P.S[k] + slot
    if P.method != METHOD_GHERMITE:
        m = P.center[k] + sidx * q
        C = P.chol[k] + sidx * q * q
    w = P.post_w[k] + sidx * K
    for j in range(K):
        pj = prob * w[j]
        if not (pj > 0.0):
            continue
        z = P.nodes[k] + j * q
        for a in range(q):
            if P.method == METHOD_GHERMITE:
                v = z[a]
            else:
                v = m[a]
                for b in range(a + 1):
                    v += C[a * q + b] * z[b]
            upath[P.qoff[k] + a] = v
        for i in range(r0, r1):
            ai = P.A + i * Q + P.qoff[k]
            v = extra[i - r0]
            for a in range(q):
                v += ai[a] * upath[P.qoff[k] + a]
            ext[i - r0] = v
        if k == P.D - 1:
            for i in range(r0, r1):
                fam_eval(P.fam, P.link, P.y[i], P.t[i], ext[i - r0], P.aux, P.naux, &d1, &d2)
                pw = pj if P.wt == NULL else pj * P.wt[i]
                d1 *= pw
                P.r[i] += d1
                for l in range(Q):
                    P.gS[i * Q + l] += d1 * upath[l]
                if P.naux > 0:
                    fam_daux(P.fam, P.link, P.y[i], P.t[i], ext[i - r0], P.aux, P.naux, tmp)
                    for mm in range(P.naux):
                        P.gaux[top * P.naux + mm] += pw * tmp[mm]
        else:
            for c in range(P.childptr[k][g], P.childptr[k][g + 1]):
                pw = pj if P.lw[k + 1] == NULL else pj * P.lw[k + 1][c]
                _qgrad(P, k + 1, c, slot * K + j, pw, ext + (P.rowptr[k + 1][c] - r0), upath,
                       top)
    free(ext)


cdef double _top(NP* P, Py_ssize_t j) noexcept nogil:
    cdef Py_ssize_t r0 = P.rowptr[0][j]
    cdef double ld, obj
    cdef int ok
    P.status[j] = 0
    if P.method == METHOD_LAPLACE:
        obj = _sub_mode(P, 0, j, P.eta0 + r0, &ld, &ok)
        if not ok:
            P.status[j] = 1
        if P.want_grad:
            _laplace_grad(P, j)
        return obj - 0.5 * ld
    obj = _qlevel(P, 0, j, 0, P.eta0 + r0, &P.status[j])
    if P.want_grad and obj != -INFINITY:
        _qgrad_top(P, j, r0)
    return obj


cdef void _qgrad_top(NP* P, Py_ssize_t j, Py_ssize_t r0) noexcept nogil:
    cdef double* upath = <double*>malloc((P.Q + 1) * sizeof(double))
    cdef int m
    if upath == NULL:
        return
    for m in range(P.naux):
        P.gaux[j * P.naux + m] = 0.0
    _qgrad(P, 0, j, 0, 1.0, P.eta0 + r0, upath, j)
    free(upath)


def nested_pass(const double[::1] y, const double[::1] trials, const double[::1] eta0,
                const double[:, ::1] A, const double[::1] aux, int fam, int link,
                const int[::1] q, const Py_ssize_t[::1] rowptr, const Py_ssize_t[::1] rowoff,
                const Py_ssize_t[::1] childptr, const Py_ssize_t[::1] childoff,
                const Py_ssize_t[::1] parent, const Py_ssize_t[::1] parentoff,
                const Py_ssize_t[:, ::1] gidx, const int[::1] K, const double[::1] nodes,
                const Py_ssize_t[::1] nodeoff, const double[::1] logw,
                const Py_ssize_t[::1] logwoff, double[::1] center, double[::1] chol,
                int[::1] have, const Py_ssize_t[::1] coff, const Py_ssize_t[::1] Coff,
                const Py_ssize_t[::1] hoff, int method, bint update,
                double[:, ::1] umode, double[:, ::1] work, double[::1] ll, int[::1] status,
                double tol=1e-8, int maxiter=100, int nthreads=1, bint want_grad=False,
                double[:, ::1] rowwork=None, double[::1] r=None, double[:, ::1] S=None,
                double[:, ::1] gaux=None, double[::1] post_m=None, double[::1] post_v=None,
                double[::1] post_w=None, const Py_ssize_t[::1] woff=None,
                const double[::1] weights=None, const double[::1] level_weights=None,
                const Py_ssize_t[::1] lwoff=None):
    """Log likelihood contribution (variable part) of every top-level cluster.

    Parameters
    ----------
    y, trials, eta0 : (n,) rows sorted by the nesting path; eta0 = X beta + offset.
    A : (n, Q) ``[Z_0 L_0, ..., Z_{D-1} L_{D-1}]``.
    aux : ancillary parameters; fam, link: family and link codes (``kernel_codes.pxd``).
    q : (D,) effects per group of each level.
    rowptr, rowoff : per-level row boundaries of the groups, concatenated (level k starts at
        ``rowoff[k]`` and has G_k + 1 entries).
    childptr, childoff : per-level (k < D-1) boundaries of the child groups.
    parent, parentoff : per-level (k > 0) parent group of each group (level 0: unused).
    gidx : (n, D) group of every row at every level.
    K, nodes, nodeoff, logw, logwoff : per-level Gauss-Hermite grids (K_k nodes of dimension
        q_k; probabilists' nodes and log weights summing to one).
    center, chol, have : adaptive grid state per (group, outer-node slot), slots per group of
        level k: prod_{l<k} K_l; coff, Coff, hoff: where level k starts in each of them.
    method : 0 ghermite, 1 mcaghermite, 2 mvaghermite, 3 laplace.
    update : adapt the grids (False: reuse the stored ones where present).
    umode : (sum_k G_k, Q) modes (warm start in, modes out), rows in level order.
    work : (sum_k G_k, 4 Q + 4 Q^2) scratch for the elimination.
    ll, status : (G_0,) outputs.
    want_grad : also the gradient, as r = d ll / d eta0 (n,), S = d ll / d A (n, Q) and gaux
        (G_0, naux); rowwork (n, 4) is scratch.  Laplace: the exact gradient of the
        approximation.  Quadrature: the gradient of the quadrature formula with the grids
        fixed in the u scale (needs the post_* arrays; r and S must be zero on entry).
    post_m, post_v, post_w, woff : quadrature only, optional: record for every (group, slot)
        the posterior mean (offsets ``coff``) and covariance (``Coff``) of u_g given the
        slot's outer nodes and the posterior weights of its K_k nodes (offsets ``woff``).
    weights : (n,), optional
        Row weights (None or length 0: none).
    level_weights, lwoff : optional
        Weights of the groups of the inner levels k > 0 concatenated, level k's G_k entries
        starting at ``lwoff[k]`` (negative: level k has none); level 0 is the caller's.
    """
    cdef NP P
    cdef int D = q.shape[0], k, Q = A.shape[1]
    cdef Py_ssize_t G0 = rowoff[1] - rowoff[0] - 1 if D > 1 else rowptr.shape[0] - 1
    cdef Py_ssize_t j, gtot = 0, Gk, st
    cdef double dummy = 0.0
    if D > MAXLEV:
        raise ValueError(f"at most {MAXLEV} nested levels")
    P.y = &y[0]
    P.t = &trials[0]
    P.eta0 = &eta0[0]
    P.A = &A[0, 0]
    P.naux = aux.shape[0]
    P.aux = &aux[0] if P.naux > 0 else &dummy
    P.fam = fam
    P.link = link
    P.wt = NULL
    P.weighted = 0
    if weights is not None and weights.shape[0] > 0:
        if weights.shape[0] != y.shape[0]:
            raise ValueError("weights must have one entry per row")
        P.wt = &weights[0]
        P.weighted = 1
    for k in range(MAXLEV):
        P.lw[k] = NULL
    if level_weights is not None and level_weights.shape[0] > 0:
        if lwoff is None or lwoff.shape[0] != D:
            raise ValueError("level_weights needs lwoff with one offset per level")
        for k in range(1, D):
            if lwoff[k] >= 0:
                P.lw[k] = &level_weights[lwoff[k]]
                P.weighted = 1
    P.D = D
    P.Q = Q
    P.gidx = &gidx[0, 0]
    P.method = method
    P.update = update
    P.tol = tol
    P.maxiter = maxiter
    st = 1
    for k in range(D):
        P.q[k] = q[k]
        P.qoff[k] = 0 if k == 0 else P.qoff[k - 1] + q[k - 1]
        P.rowptr[k] = &rowptr[rowoff[k]]
        Gk = (rowoff[k + 1] if k + 1 < D else rowptr.shape[0]) - rowoff[k] - 1
        P.goff[k] = gtot
        gtot += Gk
        P.childptr[k] = &childptr[childoff[k]] if k < D - 1 else NULL
        P.parent[k] = &parent[parentoff[k]] if k > 0 else NULL
        P.K[k] = K[k]
        P.nodes[k] = &nodes[nodeoff[k]]
        P.logw[k] = &logw[logwoff[k]]
        P.S[k] = st
        P.center[k] = &center[coff[k]]
        P.chol[k] = &chol[Coff[k]]
        P.have[k] = &have[hoff[k]]
        if post_m is not None:
            P.post_m[k] = &post_m[coff[k]]
            P.post_v[k] = &post_v[Coff[k]]
            P.post_w[k] = &post_w[woff[k]]
        st *= K[k]
    P.umode = &umode[0, 0]
    P.ubak = &work[0, 0]
    P.delta = P.ubak + gtot * Q
    P.yv = P.delta + gtot * Q
    P.b = P.yv + gtot * Q
    P.M = P.b + gtot * Q
    P.X = P.M + gtot * Q * Q
    P.R = P.X + gtot * Q * Q
    P.Pi = P.R + gtot * Q * Q
    P.record = post_m is not None and method != METHOD_LAPLACE
    P.want_grad = want_grad
    if P.want_grad:
        if rowwork is None or r is None or S is None or gaux is None:
            raise ValueError("want_grad needs rowwork, r, S and gaux")
        if method != METHOD_LAPLACE and not P.record:
            raise ValueError("the quadrature gradient needs post_m, post_v, post_w, woff")
        if P.naux > 64 or Q > MAXLEV * 8:
            raise ValueError("too many ancillary parameters or random effects for the gradient")
        P.rw = &rowwork[0, 0]
        P.r = &r[0]
        P.gS = &S[0, 0]
        P.gaux = &gaux[0, 0] if gaux.shape[1] > 0 else &dummy
    P.status = &status[0]
    cdef Py_ssize_t start, stop
    cdef Py_ssize_t block = signal_block(G0, rowptr[rowoff[0] + G0] - rowptr[rowoff[0]],
                                         st * (Q + 1.0), nthreads)
    for start in range(0, G0, block):
        stop = min(G0, start + block)
        if nthreads > 1:
            for j in prange(start, stop, nogil=True, schedule="dynamic",
                            num_threads=nthreads):
                ll[j] = _top(&P, j)
        else:
            with nogil:
                for j in range(start, stop):
                    ll[j] = _top(&P, j)
        if stop < G0:
            PyErr_CheckSignals()  # Ctrl-C between blocks (raises KeyboardInterrupt)
