"""Linear mixed models with crossed scalar intercepts: blocked factor, exact derivatives and
a Newton optimizer.

Every term has one effect per group (``(1|s) + (1|d)``, ``_all: R.a || _all: R.b``), so
Lambda is diagonal: ``lam1`` on the first (largest) term, ``d_r`` on effect ``r`` of the
others. With M = I + Lambda Z'Z Lambda (Bates et al. 2015, JSS 67(1), eq. 18) the first
term's block is diagonal, ``L11 = sqrt(1 + lam1^2 diag(Z1'Z1))``, and the rest is the dense
Schur complement ``S = I + D A22 D - L21 L21'`` with ``L21 = D A21 lam1 L11^-1``
(MixedModels.jl's blocked Cholesky). The Cython kernels form ``S`` in place from the sparse
cross products and factor it with LAPACK; nothing of size n x n and no sparse matrix product is
built per evaluation.

Sections: the factorization; the gradient (the diagonal of M^-1 from ``S^-1``); the exact
Hessian of the (REML) deviance, whose log|M| part needs block norms of M^-1 and one product
``S^-1 W`` (:meth:`CrossedScalarFactor._logdet_hessian`); Newton's method on log(theta) with it
(:meth:`CrossedScalarFactor.newton`), started from sub-model fits. ``mixed`` uses the last two
through ``LMMEngine.newton`` and ``LMMEngine.exact_second_parts``.
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

from statsmodels_me._integrate.blas_threads import single_threaded_blas
from statsmodels_me._integrate.lmm_crossed_kernels import (
    hessian_traces,
    inverse_traces,
    log_diag_sum,
    lower_solve,
    mirror_lower,
    schur_factor,
    sym_lower_matvec,
    symm_product,
    weighted_gram,
)

# dense blocks up to this size run their LAPACK calls on one thread (see blas_threads)
SINGLE_THREAD_MAX = 2500


def _blas_scope(method):
    """Run ``method`` with single-threaded OpenBLAS when the dense block is small."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.n2 > SINGLE_THREAD_MAX:
            return method(self, *args, **kwargs)
        with single_threaded_blas():
            return method(self, *args, **kwargs)
    return wrapper


class CrossedScalarFactor:
    """Structure of the crossed scalar-intercept model, computed once per engine.

    Parameters
    ----------
    engine : LMMEngine
        Supplies the first term's sufficient statistics (``A11``, ``Z1tX``, ``Z1ty``), the
        cross products ``A21`` (sparse, rest x first) and ``Z2tX``, ``Z2ty``, and
        ``_finish`` for the fixed-effects part.
    A22 : sparse matrix
        Z2'Z2 of the other terms' effects.
    y, X : ndarray, optional
        The data, kept (not copied) for :meth:`start_values`.
    """

    def __init__(self, engine, A22, y=None, X=None):
        eng = self.engine = engine
        self._y, self._X = y, X
        self.first, self.rest = eng.first, list(eng.rest)
        self.a11 = np.ascontiguousarray(eng.A11[:, 0, 0])
        self.z1tx = np.ascontiguousarray(eng.Z1tX[:, 0, :])
        self.z1ty = np.ascontiguousarray(eng.Z1ty[:, 0])
        self.G = len(self.a11)
        A21 = sp.csc_matrix(eng.A21)
        A21.sum_duplicates()
        A21.sort_indices()
        self.ptr = A21.indptr.astype(np.int64)
        self.idx = A21.indices.astype(np.int32)
        self.a21 = A21.data.astype(np.float64)
        low = sp.tril(sp.coo_matrix(A22)).tocoo()
        self.a22_row = low.row.astype(np.int32)
        self.a22_col = low.col.astype(np.int32)
        self.a22 = low.data.astype(np.float64)
        self.sizes = [eng.terms[k].size for k in self.rest]
        self.n2 = int(sum(self.sizes))
        self.owner = np.repeat(np.arange(len(self.rest), dtype=np.int64), self.sizes)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        # right-hand sides [Z2'X | Z2'y] and [Z1'X | Z1'y], column-major for the solves
        self.z2 = np.asfortranarray(np.column_stack([eng.Z2tX, eng.Z2ty]))
        self.z1 = np.column_stack([self.z1tx, self.z1ty])
        self.slices = []
        pos = 0
        for size in self.sizes:
            self.slices.append(slice(pos, pos + size))
            pos += size
        # the exact Hessian assumes Lambda linear in theta (true of every scalar structure)
        self.linear = all(self._is_linear(eng.terms[k]) for k in [self.first] + self.rest)
        self._work = None
        self._hwork = None
        self._hcache = None
        self._last_dev = None
        self._kept = None

    @staticmethod
    def _is_linear(term):
        t = np.linspace(0.4, 1.3, len(term.theta_index))
        try:
            a, b = term.cholesky(t), term.cholesky(2.5 * t)
        except Exception:   # noqa: BLE001 - any failure: no exact Hessian
            return False
        return bool(np.allclose(2.5 * a, b, rtol=1e-13, atol=0.0))

    # -- the factorization -------------------------------------------------------------
    def scales(self, lams):
        """``lam1`` and the per-effect scales ``d`` of the other terms."""
        lam1 = float(lams[self.first][0, 0])
        d = np.array([lams[k][0, 0] for k in self.rest], dtype=float)[self.owner]
        return lam1, d

    @_blas_scope
    def factor(self, lams, work=False):
        """The blocked factor as the dict of :meth:`LMMEngine.factor`.

        With ``work`` the dense block is written into a buffer reused across calls (the
        caller must not keep ``f["L22"]``).

        Raises
        ------
        numpy.linalg.LinAlgError
            When the Schur complement is not positive definite.
        """
        lam1, d = self.scales(lams)
        n2 = self.n2
        if not work and self._kept is not None and self._kept[0] == (lam1, d.tobytes()):
            return dict(self._kept[1])
        if work:
            if self._work is None:
                self._work = np.empty((n2, n2), order="F")
            L22 = self._work
        else:
            L22 = np.empty((n2, n2), order="F")
        L11 = np.empty(self.G)
        l21 = np.empty(len(self.a21))
        info = schur_factor(lam1, d, self.a11, self.ptr, self.idx, self.a21,
                            self.a22_row, self.a22_col, self.a22, L22, L11, l21)
        if info != 0:
            raise np.linalg.LinAlgError("the Schur complement is not positive definite")
        L21 = sp.csc_matrix((l21, self.idx, self.ptr), shape=(n2, self.G))
        R1 = (lam1 / L11)[:, None] * self.z1                 # [RZX1 | ry1]
        R2 = np.asfortranarray(d[:, None] * self.z2 - L21 @ R1)
        lower_solve(L22, R2)                                  # [RZX2 | ry2]
        logdet = 2.0 * np.log(L11).sum() + 2.0 * log_diag_sum(L22)
        RZX1, ry1 = R1[:, :-1], R1[:, -1]
        RZX2, ry2 = R2[:, :-1], R2[:, -1]
        f = {"lams": lams, "L11": L11[:, None, None], "RZX1": RZX1[:, None, :],
             "ry1": ry1[:, None], "L21": L21, "L22": L22, "RZX2": RZX2, "ry2": ry2,
             "lam2": sp.diags(d).tocsr(), "_l21": l21, "_d": d, "_lam1": lam1}
        f = self.engine._finish(f, logdet, np.vstack([RZX1, RZX2]),
                                np.concatenate([ry1, ry2]))
        self._last_dev = (lam1, d.tobytes(), self.engine._deviance_from(f))
        return f

    # -- gradient ----------------------------------------------------------------------
    def modes(self, f):
        """Spherical conditional modes (u1, u2) of the first and the other terms."""
        beta = f["beta"]
        u2 = np.asfortranarray((f["ry2"] - f["RZX2"] @ beta)[:, None])
        lower_solve(f["L22"], u2, True)
        u2 = u2[:, 0]
        L11 = f["L11"][:, 0, 0]
        u1 = (f["ry1"][:, 0] - f["RZX1"][:, 0, :] @ beta - f["L21"].T @ u2) / L11
        return u1, u2

    def grad_parts(self, theta):
        """d log|M| (+ d log|C| for REML) and d r2 / d theta, as
        :meth:`LMMEngine._scalar_grad_parts`.

        With M = I + Lambda A Lambda, d log|M| / d lambda_k = (2 / lambda_k) sum_{j in k}
        (1 - (M^-1)_jj) (the diagonal of M^-1 from the blocked factor, see
        :func:`inverse_traces`); by the envelope theorem d r2 / d lambda_k =
        -2 sum_{j in k} u_j (Z' (y - X beta - Z Lambda u))_j.
        """
        cached = self._lookup(theta)
        if cached is not None:
            return cached[:3]
        return self._evaluate(theta, False)[:3]

    def second_parts(self, theta):
        """Exact Hessians (log|M| [+ log|C| for REML], r2) in theta, or ``None``; kept for
        the last point, so that the standard errors at the optimizer's final iterate cost
        nothing more."""
        try:
            out = self._cached_hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        return None if out is None else out[3:]

    def hessian_parts(self, theta, f=None):
        """:meth:`grad_parts` and the Hessians of log|M| (+ log|C| for REML) and of r2 in
        theta.

        Returns
        -------
        f, dlogdet, dr2, hlogdet, hr2 : dict, ndarray, ndarray, ndarray, ndarray
            ``None`` when the exact Hessian is not available here (a relative scale at
            zero, or a term whose Lambda is not linear in theta).
        """
        if not self.linear:
            return None
        return self._evaluate(theta, True, f)

    @_blas_scope
    def _evaluate(self, theta, hess, f=None, keep_factor=False):
        """Gradient (and Hessian) parts at ``theta``; ``f`` is this point's factor from the
        work buffer when the caller has it already; with ``keep_factor`` a copy of the factor
        is kept for :meth:`factor` at the same point."""
        eng = self.engine
        theta = np.asarray(theta, dtype=float)
        lams = eng._lambdas(theta)
        lam_b = np.array([lams[self.first][0, 0]] + [lams[k][0, 0] for k in self.rest])
        if hess and np.any(lam_b == 0.0):
            return None
        if f is None:
            f = self.factor(lams, work=True)
        lam1, d = f["_lam1"], f["_d"]
        L11 = f["L11"][:, 0, 0]
        u1, u2 = self.modes(f)
        beta = f["beta"]
        b1, b2 = lam1 * u1, d * u2
        A21 = eng.A21
        a22b2 = self._a22_times(b2)
        zr1 = self.z1ty - self.z1tx @ beta - self.a11 * b1 - A21.T @ b2
        zr2 = eng.Z2ty - eng.Z2tX @ beta - A21 @ b1 - a22b2
        qsum = self._reml_parts(f) if eng.reml else None
        hr2 = self._r2_hessian(f, lam1, d, u1, u2, zr1, zr2) if hess else None
        hC = self._logdetC_hessian(f, lam1, d) if hess and eng.reml else None
        if keep_factor:
            # the estimate's factor, asked for again by the results
            kept = dict(f, L22=np.array(f["L22"], order="F"))
            self._kept = ((lam1, d.tobytes()), kept)
        # from here on the buffer holds P = S^-1, not the factor
        L22 = f.pop("L22")
        diag2 = np.empty(len(self.rest))
        quad = np.empty(self.G)
        sum1 = inverse_traces(L22, L11, self.ptr, self.idx, f["_l21"], self.owner, diag2, quad)
        if not np.isfinite(sum1):
            raise np.linalg.LinAlgError("potri failed")
        n_b = np.array([self.G] + self.sizes, dtype=float)
        p_b = np.r_[sum1, diag2]
        g_ld = np.where(lam_b != 0.0, 2.0 * (n_b - p_b) / np.where(lam_b != 0.0, lam_b, 1.0),
                        0.0)
        if qsum is not None:
            g_ld -= np.where(lam_b != 0.0, 2.0 * qsum / np.where(lam_b != 0.0, lam_b, 1.0),
                             0.0)
        g_r2 = np.empty(len(lam_b))
        g_r2[0] = -2.0 * float(u1 @ zr1)
        for j, sl in enumerate(self.slices):
            g_r2[j + 1] = -2.0 * float(u2[sl] @ zr2[sl])
        J = self._jacobian(theta)
        dld, dr2 = g_ld @ J, g_r2 @ J
        if not hess:
            return f, dld, dr2
        hld = self._logdet_hessian(L22, L11, f["_l21"], quad, lam_b, n_b, p_b)
        if hC is not None:
            hld = hld + hC
        return f, dld, dr2, J.T @ hld @ J, J.T @ hr2 @ J

    def _jacobian(self, theta):
        """d lambda_b / d theta, one row per block (first term, then the others)."""
        eng = self.engine
        J = np.zeros((1 + len(self.rest), eng.n_theta))
        for b, k in enumerate([self.first] + self.rest):
            tk = eng.terms[k]
            if self.linear:
                # lambda = sum_i theta_i lambda(e_i): exact, where differences lose ~1e-9
                J[b, tk.theta_index] = [tk.cholesky(e)[0, 0]
                                        for e in np.eye(len(tk.theta_index))]
            else:
                J[b, tk.theta_index] = eng._lambda_jacobian(tk, theta[tk.theta_index])[0]
        return J

    def _a22_times(self, x):
        out = np.empty(self.n2)
        sym_lower_matvec(self.a22_row, self.a22_col, self.a22, x, out)
        return out

    def _r2_hessian(self, f, lam1, d, u1, u2, zr1, zr2):
        """Hessian of the penalized residual sum of squares r2 in lambda.

        r2 = min_z phi(lambda, z) over z = (u, beta), phi = |y - X beta - Z Lambda u|^2 +
        |u|^2, so d2 r2 = phi_ll - phi_lz phi_zz^-1 phi_zl with phi_zz = 2 Mfull, the
        mixed-model matrix [[M, Lambda Z'X], [X'Z Lambda, X'X]] whose blocked factor is
        [[L, 0], [R_ZX', R_X]]. With e the residual: phi_{lk,ll} = 2 u'E_k A E_l u and
        phi_{z,lk} / 2 = h_k = [Lambda A E_k u - E_k Z'e ; X'Z E_k u], hence
        d2 r2 / dl_k dl_l = 2 u'E_k A E_l u - 2 v_k'v_l with v_k the forward solve of h_k.
        Needs the factor L22 (call before it is inverted).
        """
        eng = self.engine
        K = 1 + len(self.rest)
        G, n2 = self.G, self.n2
        L11 = f["L11"][:, 0, 0]
        top = np.empty((G, K))        # A E_k u, first-term rows
        bot = np.empty((n2, K))       # A E_k u, other rows
        hb = np.empty((eng.p, K))     # X'Z E_k u
        top[:, 0] = self.a11 * u1
        bot[:, 0] = eng.A21 @ u1
        hb[:, 0] = self.z1tx.T @ u1
        for j, sl in enumerate(self.slices):
            uk = np.zeros(n2)
            uk[sl] = u2[sl]
            top[:, j + 1] = eng.A21.T @ uk
            bot[:, j + 1] = self._a22_times(uk)
            hb[:, j + 1] = eng.Z2tX[sl].T @ u2[sl]
        uau = np.empty((K, K))
        uau[0] = u1 @ top
        for j, sl in enumerate(self.slices):
            uau[j + 1] = u2[sl] @ bot[sl]
        ht = lam1 * top
        ht[:, 0] -= zr1
        hbot = d[:, None] * bot
        for j, sl in enumerate(self.slices):
            hbot[sl, j + 1] -= zr2[sl]
        vt = ht / L11[:, None]
        vb = np.asfortranarray(hbot - f["L21"] @ vt)
        lower_solve(f["L22"], vb)
        rhs = hb - f["RZX1"][:, 0, :].T @ vt - f["RZX2"].T @ vb
        from statsmodels_me.models.lmm_engine import _tri
        vx = _tri(f["RX"], rhs)
        V = vt.T @ vt + vb.T @ vb + vx.T @ vx
        H = 2.0 * (uau - V)
        return 0.5 * (H + H.T)

    # -- REML: the Hessian of log|C| ---------------------------------------------------
    def _blocks(self, top, bot):
        """Split an (n_u, p) array given as (first-term rows, other rows) by term block:
        a list of (top, bot) pairs, each zero outside its block (E_k v)."""
        out = [(top, np.zeros_like(bot))]
        for sl in self.slices:
            b = np.zeros_like(bot)
            b[sl] = bot[sl]
            out.append((np.zeros_like(top), b))
        return out

    def _a_times(self, top, bot):
        """Z'Z v for v = (top, bot) with columns."""
        eng = self.engine
        a22 = np.column_stack([self._a22_times(np.ascontiguousarray(bot[:, j]))
                               for j in range(bot.shape[1])])
        return (self.a11[:, None] * top + eng.A21.T @ bot, eng.A21 @ top + a22)

    def _m_solve(self, f, top, bot):
        """M^-1 v with the blocked factor (L22 must still hold the factor)."""
        L11 = f["L11"][:, 0, 0][:, None]
        L21 = f["L21"]
        w1 = top / L11
        w2 = np.asfortranarray(bot - L21 @ w1)
        lower_solve(f["L22"], w2)
        lower_solve(f["L22"], w2, True)
        x1 = (w1 - L21.T @ w2) / L11
        return x1, np.asarray(w2)

    def _logdetC_hessian(self, f, lam1, d):
        """Hessian of log|C| in lambda (REML), C = X'X - B' M^-1 B with B = Lambda Z'X.

        With T = M^-1 B, B_k = E_k Z'X (dB/dl_k), M_k = E_k A Lambda + Lambda A E_k and
        T_l = dT/dl_l = M^-1 (B_l - M_l T):
            C_k  = T' M_k T - B_k'T - T'B_k,
            C_kl = T_l' M_k T + T' M_k T_l + T' M_kl T - B_k'T_l - T_l'B_k,
        M_kl = E_k A E_l + E_l A E_k, and d2 log|C| = tr(C^-1 C_kl) - tr(C^-1 C_k C^-1 C_l).
        Every product is n_u x p (p the number of fixed effects); needs the factor L22.
        """
        eng = self.engine
        K = 1 + len(self.rest)
        Bt, Bb = lam1 * self.z1tx, d[:, None] * eng.Z2tX
        Bk = self._blocks(self.z1tx, np.asarray(eng.Z2tX, dtype=float))
        Tt, Tb = self._m_solve(f, Bt, Bb)
        Tk = self._blocks(Tt, Tb)
        ATt, ATb = self._a_times(lam1 * Tt, d[:, None] * Tb)     # A Lambda T

        def dot(u, v):
            return u[0].T @ v[0] + u[1].T @ v[1]

        def m_k(k, v):
            """M_k v = E_k A Lambda v + Lambda A E_k v."""
            av = self._a_times(lam1 * v[0], d[:, None] * v[1])
            ek = self._blocks(*av)[k]
            ae = self._a_times(*self._blocks(*v)[k])
            return (ek[0] + lam1 * ae[0], ek[1] + d[:, None] * ae[1])

        MkT = [(self._blocks(ATt, ATb)[k][0] + lam1 * self._a_times(*Tk[k])[0],
                self._blocks(ATt, ATb)[k][1] + d[:, None] * self._a_times(*Tk[k])[1])
               for k in range(K)]
        Tl = [self._m_solve(f, Bk[k][0] - MkT[k][0], Bk[k][1] - MkT[k][1])
              for k in range(K)]
        AE = [self._a_times(*Tk[k]) for k in range(K)]            # A E_k T
        Ck = [dot((Tt, Tb), MkT[k]) - dot(Bk[k], (Tt, Tb)) - dot((Tt, Tb), Bk[k])
              for k in range(K)]
        from statsmodels_me.models.lmm_engine import _tri
        RXinv = _tri(f["RX"], np.eye(eng.p))
        Cinv = RXinv.T @ RXinv
        H = np.empty((K, K))
        for k in range(K):
            for l in range(K):
                Mk_Tl = m_k(k, Tl[l])
                # T' M_kl T = T'E_k A E_l T + T'E_l A E_k T
                TMklT = dot(self._blocks(Tt, Tb)[k], AE[l]) + dot(self._blocks(Tt, Tb)[l], AE[k])
                Ckl = (dot(Tl[l], MkT[k]) + dot((Tt, Tb), Mk_Tl) + TMklT
                       - dot(Bk[k], Tl[l]) - dot(Tl[l], Bk[k]))
                H[k, l] = (np.trace(Cinv @ Ckl) - np.trace(Cinv @ Ck[k] @ Cinv @ Ck[l]))
        return 0.5 * (H + H.T)

    def _logdet_hessian(self, P, L11, l21, quad, lam_b, n_b, p_b):
        """Hessian of log|M| in lambda from P = S^-1 (lower triangle, overwritten).

        With K = Lambda A Lambda = M - I, M_k = (E_k K + K E_k) / lambda_k and
        M_kl = (E_k K E_l + E_l K E_k) / (lambda_k lambda_l); using K M^-1 = I - M^-1 the
        traces reduce to
            d2 log|M| / dl_k dl_l = 2 (delta_kl (3 p_k - n_k) - 2 R_kl) / (lambda_k lambda_l),
        p_k = tr(E_k M^-1), R_kl = |E_k M^-1 E_l|_F^2. From the blocked inverse
        (M^-1)_21 = -P C, (M^-1)_11 = L11^-2 + C'PC with C = L21 L11^-1 and W = C C':
        R_11 = sum L11^-4 + 2 sum_g c_g'Pc_g / L11_g^2 + tr(PWPW),
        R_1k = sum_{r in k} (PWP)_rr, R_kl (k, l > 1) = sum over the block of P_rs^2.
        """
        n2 = self.n2
        if self._hwork is None:
            self._hwork = tuple(np.empty((n2, n2), dtype=np.float32, order="F")
                                for _ in range(3))
        W, P32, U = self._hwork
        K = len(lam_b)
        w = 1.0 / (L11 * L11)
        weighted_gram(self.ptr, self.idx, l21, w, W)
        mirror_lower(P)
        symm_product(P, W, P32, U)
        Rr = np.empty((K - 1, K - 1))
        R1 = np.empty(K - 1)
        trUU = hessian_traces(P, U, self.starts, Rr, R1)
        R = np.empty((K, K))
        R[0, 0] = float((w * w).sum() + 2.0 * (w * w * quad).sum()) + trUU
        R[0, 1:] = R1
        R[1:, 0] = R1
        R[1:, 1:] = Rr
        H = -4.0 * R
        H[np.diag_indices(K)] += 2.0 * (3.0 * p_b - n_b)
        return H / np.outer(lam_b, lam_b)

    def _reml_parts(self, f):
        """Per term, |T_k R_X^-T|_F^2 with T = M^-1 Lambda Z' X = L^-T R_ZX, so that
        d log|C| / d lambda_k = -(2 / lambda_k) |T_k R_X^-T|_F^2 (X' V^-1 Z Lambda = T')."""
        from statsmodels_me.models.lmm_engine import _tri
        L11 = f["L11"][:, 0, 0]
        T2 = np.array(f["RZX2"], order="F")      # (a copy: RZX2 is F-contiguous)
        lower_solve(f["L22"], T2, True)
        T1 = (f["RZX1"][:, 0, :] - np.asarray(f["L21"].T @ T2)) / L11[:, None]
        Q = _tri(f["RX"], np.vstack([T1, T2]).T).T
        qn = (Q * Q).sum(axis=1)
        qsum = np.empty(1 + len(self.rest))
        qsum[0] = qn[:self.G].sum()
        for j, sl in enumerate(self.slices):
            qsum[j + 1] = qn[self.G:][sl].sum()
        return qsum

    # -- exact second derivatives and a Newton optimizer -----------------------------------
    def deviance_grad_hess(self, theta, f=None):
        """Deviance, its gradient and its exact Hessian in theta, or ``None`` when the exact
        Hessian is not available (see :meth:`hessian_parts`).

        D = log|M| [+ log|C|] + m log r2 + const (m = n, or n - p for REML), so
        d2 D = d2 log|M| [+ d2 log|C|] + (m / r2) d2 r2 - (m / r2^2) (d r2)(d r2)'.
        ``f``: the factor at ``theta`` in the work buffer, when the caller has it.
        """
        try:
            out = self._cached_hessian_parts(theta, f)
        except np.linalg.LinAlgError:
            return None
        if out is None:
            return None
        f, dld, dr2, hld, hr2 = out
        eng = self.engine
        n, r2 = self._m(), f["r2"]
        dev = eng._deviance_from(f)
        if not np.isfinite(dev):
            return None
        grad = dld + (n / r2) * dr2           # (n: m above)
        H = hld + (n / r2) * hr2 - (n / r2 ** 2) * np.outer(dr2, dr2)
        return dev, grad, 0.5 * (H + H.T)

    def _m(self):
        """n, or n - p under REML (the power of r2 in the profiled likelihood)."""
        eng = self.engine
        return eng.n - eng.p if eng.reml else eng.n

    def loglike_s2_hessian(self, theta, s2):
        """Exact Hessian of the (restricted) log likelihood in (theta, s2), beta profiled
        out, or ``None`` (see :meth:`hessian_parts`).

        l = -(m log(2 pi s2) + log|M| [+ log|C|] + r2 / s2) / 2, m = n (n - p for REML).
        """
        try:
            out = self._cached_hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        if out is None:
            return None
        f, dld, dr2, hld, hr2 = out
        n, r2 = self._m(), f["r2"]
        k = len(dld)
        H = np.empty((k + 1, k + 1))
        H[:k, :k] = -0.5 * (hld + hr2 / s2)
        H[:k, k] = H[k, :k] = 0.5 * dr2 / s2 ** 2
        H[k, k] = 0.5 * n / s2 ** 2 - r2 / s2 ** 3
        return 0.5 * (H + H.T)

    def _key(self, theta):
        theta = np.asarray(theta, dtype=float)
        lams = self.engine._lambdas(theta)
        return theta.tobytes() + np.array([lam[0, 0] for lam in lams]).tobytes()

    def _lookup(self, theta):
        """The remembered :meth:`hessian_parts` at ``theta``, or ``None``."""
        if self._hcache is not None and self._hcache[1] is not None \
                and self._hcache[0] == self._key(theta):
            return self._hcache[1]
        return None

    def _cached_hessian_parts(self, theta, f=None):
        """:meth:`hessian_parts`, remembering the last point (the optimizer's final
        evaluation is where the standard errors need the Hessian again)."""
        key = self._key(theta)
        if self._hcache is not None and self._hcache[0] == key:
            return self._hcache[1]
        out = self.hessian_parts(theta, f)
        self._hcache = (key, out)
        return out

    def _work_deviance(self, theta, need_factor=True):
        """Deviance and the factor in the work buffer (``inf, None`` if it fails); without
        ``need_factor``, the deviance of the last factorization when it was at ``theta``
        (the caller's log evaluates the start just before) and ``None``."""
        lams = self.engine._lambdas(np.asarray(theta, dtype=float))
        if not need_factor and self._last_dev is not None:
            lam1, d = self.scales(lams)
            if self._last_dev[:2] == (lam1, d.tobytes()):
                dev = self._last_dev[2]
                return (dev if np.isfinite(dev) else np.inf), None
        try:
            f = self.factor(lams, work=True)
        except np.linalg.LinAlgError:
            return np.inf, None
        dev = self.engine._deviance_from(f)
        return (dev, f) if np.isfinite(dev) else (np.inf, None)

    @_blas_scope
    def newton(self, theta0, bounds, maxiter=200, callback=None, tol=1e-10, own_start=True):
        """Minimize the (REML) deviance by Newton's method with the exact Hessian.

        The iteration runs in phi = log(theta) (relative scales act multiplicatively, which
        keeps the steps inside the bounds and shortens the approach from a distant start):
        g_phi = theta * g, H_phi = diag(theta) H diag(theta) + diag(theta * g). Directions
        come from H_phi with its eigenvalues replaced by their absolute values (a descent
        direction away from saddles), at most a factor e^2 per coordinate; backtracking
        until the Armijo condition holds costs one factorization per trial point, and the
        accepted point's factor is reused for its derivatives. Stops when half the Newton
        decrement g' H^-1 g, the predicted decrease of the deviance, is below ``tol``.
        With ``own_start`` it starts from :meth:`start_values` instead of ``theta0`` when
        the deviance is lower there.

        Returns
        -------
        scipy.optimize.OptimizeResult or None
            ``None`` when this method does not apply (a nonlinear Lambda, bounds
            other than theta >= 0) or gives up: a relative scale heading to zero (a boundary
            estimate, where the deviance is even and the log scale has no optimum) or a failed
            factorization. The caller then uses its general optimizer.
        """
        from scipy.optimize import OptimizeResult

        if not self.linear:
            return None
        if any(b[0] != 0.0 or b[1] is not None for b in bounds):
            return None
        x = np.asarray(theta0, dtype=float).copy()
        fac = None
        if own_start:
            alt = self.start_values()
            if alt is not None:
                f0 = self._work_deviance(x, False)[0] if np.all(x > 0.0) else np.inf
                # the work buffer keeps the last factor: reused when alt is the start
                f1, fac = self._work_deviance(alt)
                if f1 < f0:
                    x = alt
                else:
                    fac = None
        if np.any(x <= 0.0):
            return None
        out = self.deviance_grad_hess(x, fac)
        if out is None:
            return None
        f, g, H = out
        phi = np.log(x)
        nit = 0
        status, message = 1, "iteration limit"
        for nit in range(1, maxiter + 1):
            step, dec = self._log_newton_step(x, g, H)
            if nit > 30 and maxiter > 30:
                # not converging the way Newton's method does near an interior optimum
                return None
            if 0.5 * dec <= tol:
                nit -= 1
                status, message = 0, "Newton decrement below tolerance"
                x, f, g = self._last_step(x, f, g, phi + step)
                break
            big = np.abs(step).max()
            if big > 2.0:
                step *= 2.0 / big
                dec *= 2.0 / big
            t = 1.0
            while True:
                cand = phi + t * step
                fc, fac = self._work_deviance(np.exp(cand))
                # (1e-13 |f|: the deviance's rounding noise, which near the optimum is
                # as large as the decrease)
                if fc <= f - 1e-4 * t * dec + 1e-13 * abs(f):
                    break
                t *= 0.5
                if t < 1e-10:
                    return None
            if np.any(cand < np.log(1e-4)):
                return None
            out = self.deviance_grad_hess(np.exp(cand), fac)
            if out is None or self._heading_to_zero(np.exp(cand), *out, t * step):
                return None
            phi, x, (f, g, H) = cand, np.exp(cand), out
            if callback is not None:
                callback(x, f)
        return OptimizeResult(x=x, fun=f, jac=g, hess=H, nit=nit, success=status == 0,
                              status=status, message=message, converged_newton=status == 0)

    @staticmethod
    def _log_newton_step(x, g, H):
        """Newton step in phi = log(theta) and its decrement g_phi' step (see
        :meth:`newton`)."""
        gl = x * g
        Hl = x[:, None] * H * x[None, :] + np.diag(gl)
        w, V = np.linalg.eigh(Hl)
        wa = np.maximum(np.abs(w), 1e-10 * max(np.abs(w).max(), 1e-300))
        step = -V @ ((V.T @ gl) / wa)
        return step, -float(gl @ step)

    def _heading_to_zero(self, x, f, g, H, dphi):
        """Whether the iteration is shrinking scales towards their bound of zero.

        Near a boundary estimate the deviance is even in theta_k, D ~ D0 + a theta_k^2, so
        the log-scale Newton step only halves theta_k per iteration, and the decrease it
        predicts, a theta_k^2 / 2, leaves the deviance above D0. When the last step shrank
        some scales (by more than 25%) while the others moved little, and the deviance with
        those scales at zero is below what the next step promises, the caller's bounded
        optimizer takes over.
        """
        shrink = dphi < -0.3
        if not shrink.any() or np.any(np.abs(dphi[~shrink]) >= 0.2):
            return False
        at0 = np.where(shrink, 0.0, x)
        return self._work_deviance(at0)[0] <= f - 0.5 * self._log_newton_step(x, g, H)[1]

    def _last_step(self, x, f, g, phi):
        """Take the converged iteration's last Newton step to ``exp(phi)``.

        The step is below the convergence tolerance, so it changes the deviance by less than
        its rounding noise but still moves theta (by ~1e-7 relative on InstEval); the
        gradient parts are evaluated there, and the Hessian parts of ``x``, to which those
        at the new point are equal to the size of the step, are remembered for it (the
        standard errors use them). Returns the accepted ``(theta, deviance, gradient)``.
        """
        prev = self._lookup(x)
        cand = np.exp(phi)
        try:
            out = self._evaluate(cand, False, keep_factor=True)
        except np.linalg.LinAlgError:
            return x, f, g
        eng = self.engine
        fc = eng._deviance_from(out[0])
        if prev is None or not fc <= f + 1e-13 * abs(f):
            return x, f, g
        self._hcache = (self._key(cand), tuple(out) + tuple(prev[3:]))
        return cand, fc, out[1] + (self._m() / out[0]["r2"]) * out[2]

    @_blas_scope
    def start_values(self, max_dense=300):
        """Starting theta from cheaper sub-models, or ``None``.

        The first term alone and the other terms together (each by its own maximum
        likelihood fit; the others one by one when their own dense block would exceed
        ``max_dense``) give variance components sigma_k^2 = theta_k^2 s2; the residual
        variance is what they leave of the variance of the least-squares residuals, and
        theta_k = sigma_k / sigma_e. Crossed effects that the sub-models ignore are absorbed
        by their residuals, so the start is close (a few percent on InstEval) but not the
        estimate.
        """
        eng = self.engine
        if self._y is None or any(len(eng.terms[k].theta_index) != 1
                                  for k in [self.first] + self.rest):
            return None
        groups = [[self.first]]
        if sum(self.sizes) - max(self.sizes) <= max_dense:
            groups.append(list(self.rest))
        else:
            groups += [[k] for k in self.rest]
        var = np.zeros(eng.n_theta)
        for ks in groups:
            fit = self._fit_submodel(ks)
            if fit is None:
                return None
            theta_k, s2 = fit
            for k, t in zip(ks, theta_k):
                var[eng.terms[k].theta_index[0]] = t * t * s2
        X, y = self._X, self._y
        beta = np.linalg.lstsq(eng.XtX, eng.Xty, rcond=None)[0]
        resid = y - X @ beta
        total = float(resid @ resid) / len(y)
        s2e = max(total - var.sum(), 0.05 * total)
        return np.sqrt(np.maximum(var / s2e, 1e-4))

    def _fit_submodel(self, ks):
        """ML fit of the model with only the terms ``ks``: (theta per term, s2) or None."""
        import dataclasses

        from scipy import optimize

        from statsmodels_me.models.lmm_engine import LMMEngine
        eng = self.engine
        terms = [dataclasses.replace(eng.terms[k], theta_index=np.array([j]))
                 for j, k in enumerate(ks)]
        sub = LMMEngine(self._y, self._X, terms)
        if len(ks) == 1:
            res = optimize.minimize_scalar(lambda v: sub.deviance(np.array([v])),
                                           bounds=(0.0, 10.0), method="bounded",
                                           options={"xatol": 1e-3})
            x = np.array([res.x])
        else:
            res = optimize.minimize(sub.deviance_and_grad, np.full(len(ks), 0.5), jac=True,
                                    method="L-BFGS-B", bounds=[(0.0, None)] * len(ks),
                                    options={"ftol": 1e-8})
            x = res.x
        dev = sub.deviance(x)
        if not np.isfinite(dev):
            return None
        f = sub.factor(x) if sub.rest else None
        r2 = f["r2"] if f is not None else sub._one_term(x)[3]
        return x, r2 / len(self._y)
