"""Blocked factor and analytic gradient of a linear mixed model with crossed scalar intercepts.

Every term has one effect per group (``(1|s) + (1|d)``, ``_all: R.a || _all: R.b``), so
Lambda is diagonal: ``lam1`` on the first (largest) term, ``d_r`` on effect ``r`` of the
others. With M = I + Lambda Z'Z Lambda (Bates et al. 2015, JSS 67(1), eq. 18) the first
term's block is diagonal, ``L11 = sqrt(1 + lam1^2 diag(Z1'Z1))``, and the rest is the dense
Schur complement ``S = I + D A22 D - L21 L21'`` with ``L21 = D A21 lam1 L11^-1``
(MixedModels.jl's blocked Cholesky). The Cython kernels form ``S`` in place from the sparse
cross products and factor it with LAPACK; nothing of size n x n and no sparse matrix product is
built per evaluation.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from statsmodels_me._integrate.lmm_crossed_kernels import (
    inverse_traces,
    log_diag_sum,
    lower_solve,
    schur_factor,
    sym_lower_matvec,
)


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
    """

    def __init__(self, engine, A22):
        eng = self.engine = engine
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
        # right-hand sides [Z2'X | Z2'y] and [Z1'X | Z1'y], column-major for the solves
        self.z2 = np.asfortranarray(np.column_stack([eng.Z2tX, eng.Z2ty]))
        self.z1 = np.column_stack([self.z1tx, self.z1ty])
        self._work = None

    # -- the factorization -------------------------------------------------------------
    def scales(self, lams):
        """``lam1`` and the per-effect scales ``d`` of the other terms."""
        lam1 = float(lams[self.first][0, 0])
        d = np.array([lams[k][0, 0] for k in self.rest], dtype=float)[self.owner]
        return lam1, d

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
        return self.engine._finish(f, logdet, np.vstack([RZX1, RZX2]),
                                   np.concatenate([ry1, ry2]))

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
        eng = self.engine
        theta = np.asarray(theta, dtype=float)
        lams = eng._lambdas(theta)
        f = self.factor(lams, work=True)
        lam1, d = f["_lam1"], f["_d"]
        u1, u2 = self.modes(f)
        beta = f["beta"]
        b1, b2 = lam1 * u1, d * u2
        A21 = eng.A21
        a22b2 = np.empty(self.n2)
        sym_lower_matvec(self.a22_row, self.a22_col, self.a22, b2, a22b2)
        zr1 = self.z1ty - self.z1tx @ beta - self.a11 * b1 - A21.T @ b2
        zr2 = eng.Z2ty - eng.Z2tX @ beta - A21 @ b1 - a22b2
        qsum = self._reml_parts(f) if eng.reml else None
        # from here on the buffer holds P = S^-1, not the factor
        L22 = f.pop("L22")
        diag2 = np.empty(len(self.rest))
        sum1 = inverse_traces(L22, f["L11"][:, 0, 0], self.ptr, self.idx, f["_l21"],
                              self.owner, diag2)
        if not np.isfinite(sum1):
            raise np.linalg.LinAlgError("potri failed")
        parts = [(self.first, sum1, u1, zr1)]
        pos = 0
        for j, k in enumerate(self.rest):
            size = self.sizes[j]
            parts.append((k, diag2[j], u2[pos:pos + size], zr2[pos:pos + size]))
            pos += size
        dld = np.zeros(eng.n_theta)
        dr2 = np.zeros(eng.n_theta)
        for k, dg, uk, zrk in parts:
            tk = eng.terms[k]
            lam = lams[k][0, 0]
            g_ld = 2.0 * (tk.size - dg) / lam if lam != 0.0 else 0.0
            if qsum is not None and lam != 0.0:
                g_ld -= 2.0 * qsum[k] / lam
            g_r2 = -2.0 * float(uk @ zrk)
            jac = eng._lambda_jacobian(tk, theta[tk.theta_index])[0]   # d lambda / d theta
            dld[tk.theta_index] += g_ld * jac
            dr2[tk.theta_index] += g_r2 * jac
        return f, dld, dr2

    def _reml_parts(self, f):
        """Per term, |T_k R_X^-T|_F^2 with T = M^-1 Lambda Z' X = L^-T R_ZX, so that
        d log|C| / d lambda_k = -(2 / lambda_k) |T_k R_X^-T|_F^2 (X' V^-1 Z Lambda = T')."""
        from statsmodels_me.models.lmm_engine import _tri
        L11 = f["L11"][:, 0, 0]
        T2 = np.asfortranarray(f["RZX2"])
        lower_solve(f["L22"], T2, True)
        T1 = (f["RZX1"][:, 0, :] - np.asarray(f["L21"].T @ T2)) / L11[:, None]
        Q = _tri(f["RX"], np.vstack([T1, T2]).T).T
        qn = (Q * Q).sum(axis=1)
        qsum = {self.first: float(qn[:self.G].sum())}
        pos = self.G
        for j, k in enumerate(self.rest):
            qsum[k] = float(qn[pos:pos + self.sizes[j]].sum())
            pos += self.sizes[j]
        return qsum
