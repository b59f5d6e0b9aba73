"""Exact second derivatives of the crossed scalar-intercept deviance's parts in lambda.

The log|M| part needs block norms of M^-1 and one product ``S^-1 W``
(:meth:`CrossedScalarHessian.logdet_hessian`); r2's Hessian follows from the envelope
theorem (:meth:`CrossedScalarHessian.r2_hessian`); under REML, log|C| adds
:meth:`CrossedScalarHessian.logdetC_hessian`. Everything here reads the factorization of
:class:`~statsmodels_me.objectives.lmm_crossed_factor.CrossedScalarFactor`.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.lmm_crossed_kernels import (
    hessian_traces,
    lower_solve,
    mirror_lower,
    symm_product,
    weighted_gram,
)
from statsmodels_me.objectives.lmm_profiled import tri


class CrossedScalarHessian:
    """Hessians in lambda of the deviance's parts, on a :class:`CrossedScalarFactor`.

    Parameters
    ----------
    factor : CrossedScalarFactor
    """

    def __init__(self, factor):
        self.factor = factor
        self._hwork = None

    def r2_hessian(self, f, lam1, d, u1, u2, zr1, zr2):
        """Hessian of the penalized residual sum of squares r2 in lambda.

        r2 = min_z phi(lambda, z) over z = (u, beta), phi = |y - X beta - Z Lambda u|^2 +
        |u|^2, so d2 r2 = phi_ll - phi_lz phi_zz^-1 phi_zl with phi_zz = 2 Mfull, the
        mixed-model matrix [[M, Lambda Z'X], [X'Z Lambda, X'X]] whose blocked factor is
        [[L, 0], [R_ZX', R_X]]. With e the residual: phi_{lk,ll} = 2 u'E_k A E_l u and
        phi_{z,lk} / 2 = h_k = [Lambda A E_k u - E_k Z'e ; X'Z E_k u], hence
        d2 r2 / dl_k dl_l = 2 u'E_k A E_l u - 2 v_k'v_l with v_k the forward solve of h_k.
        Needs the factor L22 (call before it is inverted).
        """
        fac = self.factor
        K = 1 + len(fac.sizes)
        G, n2 = fac.G, fac.n2
        L11 = f["L11"][:, 0, 0]
        top = np.empty((G, K))        # A E_k u, first-term rows
        bot = np.empty((n2, K))       # A E_k u, other rows
        hb = np.empty((fac.p, K))     # X'Z E_k u
        top[:, 0] = fac.a11 * u1
        bot[:, 0] = fac.A21 @ u1
        hb[:, 0] = fac.z1tx.T @ u1
        for j, sl in enumerate(fac.slices):
            uk = np.zeros(n2)
            uk[sl] = u2[sl]
            top[:, j + 1] = fac.A21.T @ uk
            bot[:, j + 1] = fac.a22_times(uk)
            hb[:, j + 1] = fac.Z2tX[sl].T @ u2[sl]
        uau = np.empty((K, K))
        uau[0] = u1 @ top
        for j, sl in enumerate(fac.slices):
            uau[j + 1] = u2[sl] @ bot[sl]
        ht = lam1 * top
        ht[:, 0] -= zr1
        hbot = d[:, None] * bot
        for j, sl in enumerate(fac.slices):
            hbot[sl, j + 1] -= zr2[sl]
        vt = ht / L11[:, None]
        vb = np.asfortranarray(hbot - f["L21"] @ vt)
        lower_solve(f["L22"], vb)
        rhs = hb - f["RZX1"][:, 0, :].T @ vt - f["RZX2"].T @ vb
        vx = tri(f["RX"], rhs)
        V = vt.T @ vt + vb.T @ vb + vx.T @ vx
        H = 2.0 * (uau - V)
        return 0.5 * (H + H.T)

    def logdetC_hessian(self, f, lam1, d):
        """Hessian of log|C| in lambda (REML), C = X'X - B' M^-1 B with B = Lambda Z'X.

        With T = M^-1 B, B_k = E_k Z'X (dB/dl_k), M_k = E_k A Lambda + Lambda A E_k and
        T_l = dT/dl_l = M^-1 (B_l - M_l T):
            C_k  = T' M_k T - B_k'T - T'B_k,
            C_kl = T_l' M_k T + T' M_k T_l + T' M_kl T - B_k'T_l - T_l'B_k,
        M_kl = E_k A E_l + E_l A E_k, and d2 log|C| = tr(C^-1 C_kl) - tr(C^-1 C_k C^-1 C_l).
        Every product is n_u x p (p the number of fixed effects); needs the factor L22.
        """
        fac = self.factor
        K = 1 + len(fac.sizes)
        Bt, Bb = lam1 * fac.z1tx, d[:, None] * fac.Z2tX
        Bk = fac.blocks(fac.z1tx, np.asarray(fac.Z2tX, dtype=float))
        Tt, Tb = fac.m_solve(f, Bt, Bb)
        Tk = fac.blocks(Tt, Tb)
        ATt, ATb = fac.a_times(lam1 * Tt, d[:, None] * Tb)     # A Lambda T

        def dot(u, v):
            return u[0].T @ v[0] + u[1].T @ v[1]

        def m_k(k, v):
            """M_k v = E_k A Lambda v + Lambda A E_k v."""
            av = fac.a_times(lam1 * v[0], d[:, None] * v[1])
            ek = fac.blocks(*av)[k]
            ae = fac.a_times(*fac.blocks(*v)[k])
            return (ek[0] + lam1 * ae[0], ek[1] + d[:, None] * ae[1])

        MkT = [(fac.blocks(ATt, ATb)[k][0] + lam1 * fac.a_times(*Tk[k])[0],
                fac.blocks(ATt, ATb)[k][1] + d[:, None] * fac.a_times(*Tk[k])[1])
               for k in range(K)]
        Tl = [fac.m_solve(f, Bk[k][0] - MkT[k][0], Bk[k][1] - MkT[k][1])
              for k in range(K)]
        AE = [fac.a_times(*Tk[k]) for k in range(K)]            # A E_k T
        Ck = [dot((Tt, Tb), MkT[k]) - dot(Bk[k], (Tt, Tb)) - dot((Tt, Tb), Bk[k])
              for k in range(K)]
        RXinv = tri(f["RX"], np.eye(fac.p))
        Cinv = RXinv.T @ RXinv
        H = np.empty((K, K))
        for k in range(K):
            for l in range(K):
                Mk_Tl = m_k(k, Tl[l])
                # T' M_kl T = T'E_k A E_l T + T'E_l A E_k T
                TMklT = dot(fac.blocks(Tt, Tb)[k], AE[l]) + dot(fac.blocks(Tt, Tb)[l], AE[k])
                Ckl = (dot(Tl[l], MkT[k]) + dot((Tt, Tb), Mk_Tl) + TMklT
                       - dot(Bk[k], Tl[l]) - dot(Tl[l], Bk[k]))
                H[k, l] = (np.trace(Cinv @ Ckl) - np.trace(Cinv @ Ck[k] @ Cinv @ Ck[l]))
        return 0.5 * (H + H.T)

    def logdet_hessian(self, P, L11, l21, quad, lam_b, n_b, p_b):
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
        fac = self.factor
        n2 = fac.n2
        if self._hwork is None:
            self._hwork = tuple(np.empty((n2, n2), dtype=np.float32, order="F")
                                for _ in range(3))
        W, P32, U = self._hwork
        K = len(lam_b)
        w = 1.0 / (L11 * L11)
        weighted_gram(fac.ptr, fac.idx, l21, w, W)
        mirror_lower(P)
        symm_product(P, W, P32, U)
        Rr = np.empty((K - 1, K - 1))
        R1 = np.empty(K - 1)
        trUU = hessian_traces(P, U, fac.starts, Rr, R1)
        R = np.empty((K, K))
        R[0, 0] = float((w * w).sum() + 2.0 * (w * w * quad).sum()) + trUU
        R[0, 1:] = R1
        R[1:, 0] = R1
        R[1:, 1:] = Rr
        H = -4.0 * R
        H[np.diag_indices(K)] += 2.0 * (3.0 * p_b - n_b)
        return H / np.outer(lam_b, lam_b)

    def reml_parts(self, f):
        """Per term, |T_k R_X^-T|_F^2 with T = M^-1 Lambda Z' X = L^-T R_ZX, so that
        d log|C| / d lambda_k = -(2 / lambda_k) |T_k R_X^-T|_F^2 (X' V^-1 Z Lambda = T')."""
        fac = self.factor
        L11 = f["L11"][:, 0, 0]
        T2 = np.array(f["RZX2"], order="F")      # (a copy: RZX2 is F-contiguous)
        lower_solve(f["L22"], T2, True)
        T1 = (f["RZX1"][:, 0, :] - np.asarray(f["L21"].T @ T2)) / L11[:, None]
        Q = tri(f["RX"], np.vstack([T1, T2]).T).T
        qn = (Q * Q).sum(axis=1)
        qsum = np.empty(1 + len(fac.sizes))
        qsum[0] = qn[:fac.G].sum()
        for j, sl in enumerate(fac.slices):
            qsum[j + 1] = qn[fac.G:][sl].sum()
        return qsum
