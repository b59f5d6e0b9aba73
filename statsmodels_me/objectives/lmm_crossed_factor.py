"""Blocked Cholesky factor of a linear mixed model whose terms are all scalar intercepts.

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

import contextlib

import numpy as np
import scipy.sparse as sp

from statsmodels_me._kernels.blas_threads import single_threaded_blas
from statsmodels_me._kernels.lmm_crossed_kernels import (
    log_diag_sum,
    lower_solve,
    schur_factor,
    sym_lower_matvec,
)
from statsmodels_me.objectives.lmm_profiled import deviance_from_factor, finish_factor

# dense blocks up to this size run their LAPACK calls on one thread (see blas_threads)
SINGLE_THREAD_MAX = 2500


class CrossedScalarFactor:
    """Structure of the crossed scalar-intercept model and its factorization.

    Parameters
    ----------
    a11, z1tx, z1ty : ndarray
        First term: Z1'Z1 (diagonal, (G,)), Z1'X (G, p) and Z1'y (G,).
    A21 : sparse matrix (n2, G)
        Z2'Z1 of the other terms' effects against the first term's.
    A22 : sparse matrix (n2, n2)
        Z2'Z2 of the other terms' effects.
    Z2tX, Z2ty : ndarray
        Z2'X (n2, p) and Z2'y (n2,).
    sizes : list of int
        Number of effects of each other term, in order.
    XtX, Xty, yty, n, p, reml
        The fixed-effects cross products, the sample size and the method.
    """

    def __init__(self, a11, z1tx, z1ty, A21, A22, Z2tX, Z2ty, sizes, XtX, Xty, yty, n, p,
                 reml):
        self.a11 = np.ascontiguousarray(a11)
        self.z1tx = np.ascontiguousarray(z1tx)
        self.z1ty = np.ascontiguousarray(z1ty)
        self.G = len(self.a11)
        self.A21 = A21
        A21 = sp.csc_matrix(A21)
        A21.sum_duplicates()
        A21.sort_indices()
        self.ptr = A21.indptr.astype(np.int64)
        self.idx = A21.indices.astype(np.int32)
        self.a21 = A21.data.astype(np.float64)
        low = sp.tril(sp.coo_matrix(A22)).tocoo()
        self.a22_row = low.row.astype(np.int32)
        self.a22_col = low.col.astype(np.int32)
        self.a22 = low.data.astype(np.float64)
        self.Z2tX, self.Z2ty = Z2tX, Z2ty
        self.sizes = list(sizes)
        self.n2 = int(sum(self.sizes))
        self.owner = np.repeat(np.arange(len(self.sizes), dtype=np.int64), self.sizes)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        # right-hand sides [Z2'X | Z2'y] and [Z1'X | Z1'y], column-major for the solves
        self.z2 = np.asfortranarray(np.column_stack([Z2tX, Z2ty]))
        self.z1 = np.column_stack([self.z1tx, self.z1ty])
        self.slices = []
        pos = 0
        for size in self.sizes:
            self.slices.append(slice(pos, pos + size))
            pos += size
        self.XtX, self.Xty, self.yty = XtX, Xty, yty
        self.n, self.p, self.reml = n, p, reml
        self._work = None
        self._kept = None
        self.last_deviance = None

    def blas_scope(self):
        """Single-threaded OpenBLAS when the dense block is small (see blas_threads)."""
        if self.n2 > SINGLE_THREAD_MAX:
            return contextlib.nullcontext()
        return single_threaded_blas()

    def deviance_from(self, f):
        return deviance_from_factor(f, self.n, self.p, self.reml)

    def keep(self, f):
        """Keep a copy of the factor ``f`` (whose ``L22`` is in the work buffer) for
        :meth:`factor` at the same point: the estimate's factor, asked for again by the
        results."""
        kept = dict(f, L22=np.array(f["L22"], order="F"))
        self._kept = ((f["_lam1"], f["_d"].tobytes()), kept)

    def forget_kept(self):
        self._kept = None

    @property
    def has_kept(self):
        return self._kept is not None

    def factor(self, lams, lam1, d, work=False):
        """The blocked factor at scales ``lam1`` and ``d`` (``lams``: the per-term factors,
        kept in the result for the conditional modes) as a dict of
        :meth:`BlockedLMM.factor`'s layout.

        With ``work`` the dense block is written into a buffer reused across calls (the
        caller must not keep ``f["L22"]``).

        Raises
        ------
        numpy.linalg.LinAlgError
            When the Schur complement is not positive definite.
        """
        with self.blas_scope():
            return self._factor(lams, lam1, d, work)

    def _factor(self, lams, lam1, d, work):
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
        f = finish_factor(f, logdet, np.vstack([RZX1, RZX2]), np.concatenate([ry1, ry2]),
                          self.XtX, self.Xty, self.yty)
        self.last_deviance = (lam1, d.tobytes(), self.deviance_from(f))
        return f

    def modes(self, f):
        """Spherical conditional modes (u1, u2) of the first and the other terms."""
        beta = f["beta"]
        u2 = np.asfortranarray((f["ry2"] - f["RZX2"] @ beta)[:, None])
        lower_solve(f["L22"], u2, True)
        u2 = u2[:, 0]
        L11 = f["L11"][:, 0, 0]
        u1 = (f["ry1"][:, 0] - f["RZX1"][:, 0, :] @ beta - f["L21"].T @ u2) / L11
        return u1, u2

    def a22_times(self, x):
        out = np.empty(self.n2)
        sym_lower_matvec(self.a22_row, self.a22_col, self.a22, x, out)
        return out

    def a_times(self, top, bot):
        """Z'Z v for v = (top, bot) with columns."""
        a22 = np.column_stack([self.a22_times(np.ascontiguousarray(bot[:, j]))
                               for j in range(bot.shape[1])])
        return (self.a11[:, None] * top + self.A21.T @ bot, self.A21 @ top + a22)

    def blocks(self, top, bot):
        """Split an (n_u, p) array given as (first-term rows, other rows) by term block:
        a list of (top, bot) pairs, each zero outside its block (E_k v)."""
        out = [(top, np.zeros_like(bot))]
        for sl in self.slices:
            b = np.zeros_like(bot)
            b[sl] = bot[sl]
            out.append((np.zeros_like(top), b))
        return out

    def m_solve(self, f, top, bot):
        """M^-1 v with the blocked factor (L22 must still hold the factor)."""
        L11 = f["L11"][:, 0, 0][:, None]
        L21 = f["L21"]
        w1 = top / L11
        w2 = np.asfortranarray(bot - L21 @ w1)
        lower_solve(f["L22"], w2)
        lower_solve(f["L22"], w2, True)
        x1 = (w1 - L21.T @ w2) / L11
        return x1, np.asarray(w2)
