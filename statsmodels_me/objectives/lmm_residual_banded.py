"""The LMM profiled deviance with AR(p) or MA(q) residuals, in time linear in the series
length (``mixed``'s ``residuals(ar #)`` and ``residuals(ma #)`` on long series).

Model and deviance as :class:`~statsmodels_me.objectives.lmm_residual.ResidualLMM`:
V_i = Z_i Lambda Lambda' Z_i' + C_i per top-level group i, C_i block-diagonal over the
lowest-level groups (the series). No n_i x n_i matrix is formed. Each series' rows are
whitened by a banded operator (compiled kernel ``banded_whiten``): for an AR(p) the inverse
Cholesky factor W = L^-1 of C is lower triangular with bandwidth p (its rows are the
Durbin-Levinson prediction-error coefficients over the innovation standard deviations;
Brockwell & Davis 1991, sec. 5.2 and 8.7), for an AR(1) also with gaps in t
(coefficient rho^d on the previous row d time units before); for an MA(q) C itself has
bandwidth q in the rows of a series sorted by t (also with gaps), and L is its banded
Cholesky factor. With D_i = [Z_i X_i y_i] whitened, P_i = D_i' C_i^-1 D_i, and
S_i = I + Lambda' Z_i' C_i^-1 Z_i Lambda (Woodbury),
    log|V_i| = log|C_i| + log|S_i|,
    D_i' V_i^-1 D_i = P_i[D, D] - P_i[D, Z] H_i P_i[Z, D],   H_i = Lambda S_i^-1 Lambda',
so the deviance costs O(n b (Q + p)) for the whitening plus O(G Q^3) for the Q x Q blocks
(Q effects per top-level group).

The gradient in the random-effects parameters is sum_i < Z_i' M_i Z_i, dG > as in the dense
objective, with Z_i' M_i Z_i from the whitened blocks. In the residual parameters, with the
fixed effects at their GLS values (their derivative vanishes), the deviance depends on them
through log|C_i| and P_i only:
    d log|S_i| = < H_i, dP_i[Z, Z] >,
    d(D_i' V_i^-1 D_i) = dP_i[D, D] - E_i' dP_i[Z, D] - dP_i[D, Z] E_i + E_i' dP_i[Z, Z] E_i,
with E_i = H_i P_i[Z, D]; dP_i comes from the kernel's derivatives of the whitened data,
and those from the derivatives of the band (AR: complex-step differentiation of the band's
formulas; MA: the residual structure's key Jacobian).
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.residual_kernels import banded_whiten, segment_gram
from statsmodels_me.objectives.lmm_residual import (
    ResidualDeviance,
    check_residual_groups,
    order_error,
)

#: series at least this long (the longest top-level group) take the banded path
BANDED_MIN_ROWS = 60
#: and at most this many random effects per top-level group (the Q x Q blocks)
BANDED_MAX_EFFECTS = 24


def _series_layout(structure, top, low, order):
    """Sorted rows' position in their series, time gap to the previous row, and the
    largest lag within a series."""
    srt_low, srt_top = low[order], top[order]
    t = structure.t[order]
    n = len(order)
    first = np.ones(n, bool)
    first[1:] = (srt_low[1:] != srt_low[:-1]) | (srt_top[1:] != srt_top[:-1])
    starts = np.flatnonzero(first)
    pos = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    gap = np.zeros(n)
    gap[1:] = t[1:] - t[:-1]
    gap[first] = 0.0
    ends = np.append(starts[1:], n) - 1
    max_lag = int((t[ends] - t[starts]).max()) if n else 0
    return pos.astype(np.int64), gap, max_lag


def banded_eligible(structure, terms, top, low):
    """Whether the banded path fits: ar or ma with ``t()``, AR(p > 1) without gaps in t,
    long series and few random effects per top-level group."""
    if structure.kind not in ("ar", "ma") or structure.t is None:
        return False
    sizes = np.bincount(top)
    if sizes.max() < BANDED_MIN_ROWS or sizes.min() == 0:
        return False
    q = 0
    for t in terms:
        per_top = np.bincount(np.unique(np.stack([top, t.codes]), axis=1)[0])
        q += int(per_top.max()) * t.q
    if q > BANDED_MAX_EFFECTS:
        return False
    if structure.kind == "ar" and structure.order > 1:
        order = np.lexsort((np.arange(len(top)), structure.t, low, top))
        pos, gap, _ = _series_layout(structure, top, low, order)
        return bool(np.all(gap[pos > 0] == 1.0))
    return True


def durbin_levinson(rho, p):
    """Prediction coefficients phi[m, 1..m] and error variances v[m] of orders m = 0..p
    from the autocorrelations rho[0..p] (complex-safe)."""
    phi = np.zeros((p + 1, p + 1), rho.dtype)
    v = np.ones(p + 1, rho.dtype)
    for m in range(1, p + 1):
        a = (rho[m] - phi[m - 1, 1:m] @ rho[m - 1:0:-1]) / v[m - 1]
        phi[m, 1:m] = phi[m - 1, 1:m] - a * phi[m - 1, m - 1:0:-1]
        phi[m, m] = a
        v[m] = v[m - 1] * (1.0 - a * a)
    return phi, v


class BandedResidualLMM(ResidualDeviance):
    """Profiled deviance of an LMM with AR(p) or MA(q) residuals by banded whitening (see
    the module docstring); the interface of
    :class:`~statsmodels_me.objectives.lmm_residual.ResidualLMM`.

    Parameters
    ----------
    y, X, terms, structure, top_codes, low_codes, reml, bounds
        As :class:`~statsmodels_me.objectives.lmm_residual.ResidualLMM`; ``structure`` is
        an ``ar`` or ``ma`` structure with ``t()`` (see :func:`banded_eligible`).
    """

    def __init__(self, y, X, terms, structure, top_codes, low_codes, reml=False,
                 bounds=None):
        top, low = self._set_data(y, X, terms, structure, top_codes, low_codes, reml, bounds)
        self.order = order = check_residual_groups(self.terms, structure, top, low)
        self.pos, gap, max_lag = _series_layout(structure, top, low, order)
        if structure.order > max_lag:
            raise order_error(structure, max_lag)
        self.band_width = structure.order
        by = np.asarray(structure.by_codes) if structure.by_codes is not None \
            else np.zeros(self.n, np.int64)
        self.by = by[order].astype(np.int64)
        b = self.band_width
        lag_rows = np.arange(b + 1)
        if structure.kind == "ma":
            t = structure.t[order]
            back = np.arange(self.n)[:, None] - lag_rows[None, :]
            lag = np.where(lag_rows[None, :] <= self.pos[:, None],
                           t[:, None] - t[np.maximum(back, 0)], -1.0)
            self.valid = (lag >= 0) & (lag <= b)
            self.lag = np.where(self.valid, lag, 0).astype(np.int64)
        elif self.band_width == 1:
            combo = self.by * (int(gap.max()) + 1) + gap.astype(np.int64)
            uniq, self.template_of_row = np.unique(combo, return_inverse=True)
            self.template_by = uniq // (int(gap.max()) + 1)
            self.template_gap = (uniq % (int(gap.max()) + 1)).astype(float)
        self.keys = np.arange(b + 1, dtype=float)
        self._layout_effects(top)

    def _layout_effects(self, top):
        """Columns of the random effects within each top-level group: the top group's
        Z (n, Q) on the sorted rows, and where each term's groups sit."""
        order = self.order
        srt_top = top[order]
        self.n_top = int(top.max()) + 1 if len(top) else 0
        first = np.ones(self.n, bool)
        first[1:] = srt_top[1:] != srt_top[:-1]
        self.top_starts = np.flatnonzero(first).astype(np.int64)
        self.top_ids = srt_top[self.top_starts]
        G = self.n_top
        offset = np.zeros(G, np.int64)
        self.term_cols = []
        col_term, col_eff, col_block, col_top = [], [], [], []
        zcols = []
        blk = 0
        for k, t in enumerate(self.terms):
            codes = t.codes.astype(np.int64)
            top_of = np.zeros(t.n_groups, np.int64)
            top_of[codes] = top
            # rank of each group within its top-level group
            g_order = np.lexsort((np.arange(t.n_groups), top_of))
            counts = np.bincount(top_of, minlength=G)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            rank = np.empty(t.n_groups, np.int64)
            rank[g_order] = np.arange(t.n_groups) - np.repeat(starts, counts)
            start = offset[top_of] + rank * t.q
            self.term_cols.append((top_of, start))
            for e in range(t.q):
                col_top.append(top_of)
                col_term.append(np.full(t.n_groups, k))
                col_eff.append(np.full(t.n_groups, e))
                col_block.append(blk + np.arange(t.n_groups))
                zcols.append((codes, e, start + e))
            blk += t.n_groups
            offset += counts * t.q
        self.Q = Q = int(offset.max()) if G else 0
        # per top-level group and column: term, effect and group (block) of the column;
        # padded columns (top groups with fewer effects) have term -1
        self.col_term = np.full((G, Q), -1, np.int64)
        self.col_eff = np.zeros((G, Q), np.int64)
        self.col_block = np.full((G, Q), -1, np.int64)
        for tp, tk, te, tb, (_, _e, cols) in zip(col_top, col_term, col_eff, col_block,
                                                zcols):
            self.col_term[tp, cols] = tk
            self.col_eff[tp, cols] = te
            self.col_block[tp, cols] = tb
        Zq = np.zeros((self.n, Q))
        rows = np.arange(self.n)
        for (codes, e, cols), k in zip(zcols, [k for k, t in enumerate(self.terms)
                                                for _ in range(t.q)]):
            t = self.terms[k]
            Zq[rows, cols[codes[order]]] = t.Z[order, e]
        self.D = np.ascontiguousarray(np.hstack([Zq, self.X[order], self.y[order, None]]))
        self.same_block = (self.col_block[:, :, None] == self.col_block[:, None, :]) \
            & (self.col_block[:, :, None] >= 0)
        self.qmax = max((t.q for t in self.terms), default=1)

    # -- the band and the whitened data ----------------------------------------------------
    def _ar_band(self, table):
        """W's band (n, p + 1) from the key table (n_by, p + 1) of lags 0..p: the rows of
        a few templates (AR(1): one per by() level and gap, the first row of a series has
        gap 0; AR(p): one per by() level and position 0..p)."""
        p = self.band_width
        ratio = table[:, 0]
        rho = table / ratio[:, None]
        if p == 1:
            by, gap = self.template_by, self.template_gap
            c = rho[by, 1] ** gap
            v = np.where(gap == 0, ratio[by], ratio[by] * (1.0 - c * c))
            tmpl = np.empty((len(by), 2), table.dtype)
            tmpl[:, 0] = 1.0 / np.sqrt(v)
            tmpl[:, 1] = np.where(gap == 0, 0.0, -c * tmpl[:, 0])
            return tmpl[self.template_of_row]
        tmpl = np.zeros((len(ratio), p + 1, p + 1), table.dtype)
        for b in range(len(ratio)):
            phi, v = durbin_levinson(rho[b], p)
            sd = 1.0 / np.sqrt(ratio[b] * v)
            tmpl[b] = -phi * sd[:, None]
            tmpl[b, :, 0] = sd
        return tmpl[self.by, np.minimum(self.pos, p)]

    def _ma_band(self, table):
        return np.where(self.valid, table[self.by[:, None], self.lag], 0.0)

    def whiten(self, theta_r, D, derivatives=True):
        """The kernel's (ok, W D, d(W D), log|C|, dlog|C|) on the sorted rows of ``D``."""
        st = self.structure
        table = st.key_table(theta_r, self.keys)
        r = st.n_theta if derivatives else 0
        if st.kind == "ma":
            band = self._ma_band(table)
            dband = np.zeros((r, self.n, band.shape[1]))
            if r:
                J = st.key_jacobian(theta_r, self.keys)
                for i in range(r):
                    dband[i] = self._ma_band(J[i])
            mode = 1
        else:
            band = self._ar_band(table)
            dband = np.zeros((r, self.n, band.shape[1]))
            h = 1e-30
            for i in range(r):
                z = np.asarray(theta_r, float).astype(complex)
                z[i] += 1j * h
                dband[i] = np.imag(self._ar_band(st.key_table(z, self.keys))) / h
            mode = 0
        return banded_whiten(mode, np.ascontiguousarray(band), dband, self.pos,
                             np.ascontiguousarray(D))

    def _per_top(self, A, B):
        """sum over the sorted rows of each top-level group of A_j' B_j: (G, a, b)."""
        return segment_gram(np.ascontiguousarray(A), np.ascontiguousarray(B),
                            self.top_starts)

    def _lambda(self, theta):
        """Lambda of every top-level group, (G, Q, Q) block diagonal."""
        lams = np.zeros((max(len(self.terms), 1), self.qmax, self.qmax))
        for k, t in enumerate(self.terms):
            lams[k, :t.q, :t.q] = t.cholesky(theta[t.theta_index])
        term = np.maximum(self.col_term, 0)
        L = lams[term[:, :, None], self.col_eff[:, :, None], self.col_eff[:, None, :]]
        return np.where(self.same_block, L, 0.0)

    # -- the factor ------------------------------------------------------------------------
    def factor(self, x, derivatives=True):
        """GLS pieces at ``x`` (see the module docstring); ``None`` where C or V is not
        positive definite."""
        theta, theta_r = self.split(x)
        if not np.all(np.isfinite(x)):
            return None
        ok, Dt, dDt, logdet_c, dlogdet_c = self.whiten(theta_r, self.D, derivatives)
        if not ok or not np.isfinite(logdet_c):
            return None
        Q, p = self.Q, self.p
        P = self._per_top(Dt, Dt)
        Lam = self._lambda(theta)
        ZZ, ZD, DD = P[:, :Q, :Q], P[:, :Q, Q:], P[:, Q:, Q:]
        S = np.eye(Q)[None] + np.swapaxes(Lam, 1, 2) @ ZZ @ Lam
        try:
            R = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            return None
        logdet_s = 2.0 * np.log(np.diagonal(R, axis1=1, axis2=2)).sum()
        Sinv = np.linalg.inv(S)
        H = Lam @ Sinv @ np.swapaxes(Lam, 1, 2)
        E = H @ ZD
        gram = (DD - np.swapaxes(ZD, 1, 2) @ E).sum(axis=0)
        gram = 0.5 * (gram + gram.T)
        XtX, Xty, yty = gram[:p, :p], gram[:p, p], gram[p, p]
        try:
            RX = np.linalg.cholesky(XtX)
        except np.linalg.LinAlgError:
            return None
        beta = np.linalg.solve(XtX, Xty)
        r2 = max(yty - Xty @ beta, 1e-300)
        return {"theta": theta, "theta_r": theta_r, "beta": beta, "r2": r2,
                "logdet": logdet_c + logdet_s, "logdetX": 2.0 * np.log(np.diag(RX)).sum(),
                "XtX": XtX, "P": P, "H": H, "E": E, "Dt": Dt, "dDt": dDt,
                "dlogdet_c": dlogdet_c}

    def _z_blocks(self, f):
        """Per top-level group: Z'V^-1 Z, Z'V^-1 r (r = y - X beta) and Z'V^-1 X."""
        Q = self.Q
        P, H = f["P"], f["H"]
        ZZ, ZD = P[:, :Q, :Q], P[:, :Q, Q:]
        a = np.append(-f["beta"], 1.0)
        ZVD = ZD - ZZ @ H @ ZD
        return ZZ - ZZ @ H @ ZZ, ZVD @ a, ZVD[:, :, :self.p]

    def _term_blocks(self, M):
        """Per term: the q x q diagonal blocks of the (G, Q, Q) ``M`` of each of its groups,
        (G_k, q, q)."""
        out = []
        for t, (top_of, start) in zip(self.terms, self.term_cols):
            idx = start[:, None] + np.arange(t.q)[None, :]
            out.append(M[top_of[:, None, None], idx[:, :, None], idx[:, None, :]])
        return out

    def gradient_from_factor(self, f, coef):
        """The deviance's gradient for ``coef = m / r2``, minus twice the log likelihood's
        at s2 for ``coef = 1 / s2`` (see the module docstring)."""
        ZVZ, zw, ZVX = self._z_blocks(f)
        M = ZVZ - coef * zw[:, :, None] * zw[:, None, :]
        Ainv = np.linalg.inv(f["XtX"]) if self.reml else None
        if self.reml:
            M = M - ZVX @ Ainv @ np.swapaxes(ZVX, 1, 2)
        grad = np.zeros(self.n_theta)
        theta = f["theta"]
        for t, blocks in zip(self.terms, self._term_blocks(M)):
            th = theta[t.theta_index]
            lam = t.cholesky(th)
            dlam = t.d_cholesky(th)
            dG = dlam @ lam.T + lam @ np.swapaxes(dlam, 1, 2)
            np.add.at(grad, t.theta_index, np.einsum("kqr,qr->k", dG, blocks.sum(axis=0)))
        r = self.structure.n_theta
        if r:
            Q, p = self.Q, self.p
            Dt, dDt = f["Dt"], f["dDt"]
            H, E = f["H"], f["E"]
            a = np.append(-f["beta"], 1.0)
            for i in range(r):
                half = self._per_top(dDt[i], Dt)
                dP = half + np.swapaxes(half, 1, 2)
                dZZ, dZD, dDD = dP[:, :Q, :Q], dP[:, :Q, Q:], dP[:, Q:, Q:]
                EdZD = np.swapaxes(E, 1, 2) @ dZD
                dDv = (dDD - EdZD - np.swapaxes(EdZD, 1, 2)
                       + np.swapaxes(E, 1, 2) @ dZZ @ E).sum(axis=0)
                g = f["dlogdet_c"][i] + np.einsum("gab,gab->", H, dZZ) + coef * (a @ dDv @ a)
                if self.reml:
                    g += np.einsum("ab,ab->", Ainv, dDv[:p, :p])
                grad[self.n_re + i] = g
        return grad

    # -- postestimation ----------------------------------------------------------------------
    def blups(self, f):
        """BLUPs per term, (G_k, q_k): b = G Z' V^-1 (y - X beta)."""
        _, zw, _ = self._z_blocks(f)
        Lam = self._lambda(f["theta"])
        b = (Lam @ np.swapaxes(Lam, 1, 2) @ zw[:, :, None])[:, :, 0]
        return [b[top_of[:, None], start[:, None] + np.arange(t.q)[None, :]]
                for t, (top_of, start) in zip(self.terms, self.term_cols)]

    def blup_variances(self, f, fixed_uncertainty=False):
        """Var(b_g | y) = s2 (G - G Z_g' V^-1 Z_g G) per term and group (with
        ``fixed_uncertainty``, V^-1 replaced by P = V^-1 - V^-1 X A^-1 X' V^-1, as the
        dense objective)."""
        ZVZ, _, ZVX = self._z_blocks(f)
        if fixed_uncertainty:
            ZVZ = ZVZ - ZVX @ np.linalg.inv(f["XtX"]) @ np.swapaxes(ZVX, 1, 2)
        s2 = self.sigma2(f)
        out = []
        for G, Hk in zip(self.re_cov(f["theta"]), self._term_blocks(ZVZ)):
            out.append(s2 * (G[None] - G[None] @ Hk @ G[None]))
        return out

    def standardize(self, x, s2, resid):
        """Residuals times the inverse Cholesky factor of s2 C within each series (rows
        in ``t()`` order), as nlme's normalized residuals."""
        _, theta_r = self.split(x)
        D = np.asarray(resid, float)[self.order][:, None]
        _, Dt, _, _, _ = self.whiten(theta_r, D, derivatives=False)
        out = np.empty(self.n)
        out[self.order] = Dt[:, 0] / np.sqrt(s2)
        return out

    def marginal_cov(self, x, s2, group):
        """s2 V_i of top-level group ``group`` and its rows (in t order), dense."""
        theta, theta_r = self.split(x)
        hit = np.flatnonzero(self.top_ids == group)
        if not hit.size:
            raise ValueError(f"no top-level group {group}")
        g = int(hit[0])
        lo = self.top_starts[g]
        hi = self.top_starts[g + 1] if g + 1 < len(self.top_starts) else self.n
        rows = self.order[lo:hi]
        st = self.structure
        t_index = st.t_index if st.t_index is not None else np.zeros(self.n, np.int64)
        C = st.relative_cov(theta_r, st.t[rows][None], t_index[rows][None],
                            self.by[lo:hi][None])[0]
        series = np.cumsum(self.pos[lo:hi] == 0)
        C = np.where(series[:, None] == series[None, :], C, 0.0)
        Z = self.D[lo:hi, :self.Q]
        Lam = self._lambda(theta)[g]
        ZL = Z @ Lam
        return s2 * (ZL @ ZL.T + C), rows
