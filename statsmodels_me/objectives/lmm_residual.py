"""The LMM profiled deviance with a residual-error structure (``mixed``'s ``residuals()``).

Model: y_i = X_i beta + Z_i b_i + e_i per top-level group i, with
Var(y_i) = s2 V_i, V_i = Z_i Lambda Lambda' Z_i' + C_i, where Lambda is the relative
random-effects factor (as in :mod:`statsmodels_me.objectives.lmm_profiled`) and C_i the
residual structure's relative covariance, block-diagonal over the lowest-level groups
(residuals are correlated within them only, as Stata's). With L_i L_i' = V_i, the
generalized least-squares quantities are sums over groups of the whitened data
L_i^-1 X_i, L_i^-1 y_i, and the profiled deviance is (Pinheiro & Bates 2000, sec. 2.2.5)
    -2 l   = sum_i log|V_i| + n (1 + log(2 pi r2 / n))
    -2 l_R = sum_i log|V_i| + log|X' V^-1 X| + (n - p)(1 + log(2 pi r2 / (n - p)))
with r2 = (y - X beta)' V^-1 (y - X beta) at the GLS beta. Each evaluation factors one
n_i x n_i matrix per top-level group (groups of equal size in one call of the compiled
kernel ``_kernels/residual_kernels.pyx``); no n x n matrix is formed. Long AR/MA series take
:class:`~statsmodels_me.objectives.lmm_residual_banded.BandedResidualLMM`, linear in n_i.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.residual_kernels import spd_inverse_gram
from statsmodels_me.objectives.lmm_profiled import DevianceObjective, residual_dof
from statsmodels_me.spec.errors import SpecificationError


class _SizeClass:
    """The top-level groups with ``s`` observations: their rows as (B, s) index arrays and
    the per-group data the objective reuses at every evaluation."""

    def __init__(self, rows, groups):
        self.rows = rows            # (B, s) row indices, sorted within group
        self.groups = groups        # (B,) top-level group ids
        self.X = self.y = self.D = self.code = None
        self.Z = []                 # per term (B, s, q)
        self.mask = []              # per term (B, s, s) 1.0 within a group of it, or None
        self.ZZ = []                # per term with q = 1: (Z Z') * mask, (B, s, s)


class ResidualDeviance(DevianceObjective):
    """What every LMM with a residual structure shares: the parameter split, the
    random-effects covariances, and the profiled deviance and log likelihood from a
    ``factor`` (a dict with ``beta``, ``r2``, ``logdet``, ``logdetX``, ``XtX``) and a
    ``gradient_from_factor``; see :class:`ResidualLMM` for the formulas."""

    analytic_gradient = True
    exact_hessian = False
    gls_from_kernel = False
    dense_block_size = 0
    center = None

    def _set_data(self, y, X, terms, structure, top_codes, low_codes, reml, bounds):
        """Store the data, the terms and the parameter layout; the group codes as int64."""
        self.y = np.asarray(y, float)
        self.X = np.asarray(X, float)
        self.n, self.p = self.X.shape
        self.terms = list(terms)
        self.structure = structure
        self.reml = reml
        self.m = residual_dof(self.n, self.p, reml)
        self.n_re = int(sum(len(t.theta_index) for t in self.terms))
        self.n_theta = self.n_re + structure.n_theta
        self.n_params = self.n_theta
        self.bounds = (list(bounds) if bounds is not None else [(None, None)] * self.n_re) \
            + structure.bounds()
        top = np.asarray(top_codes, np.int64)
        low = np.asarray(low_codes, np.int64)
        return top, low

    def split(self, x):
        x = np.asarray(x, float)
        return x[:self.n_re], x[self.n_re:]

    def re_cov(self, theta):
        """Per term: G_k / s2 = Lambda Lambda'."""
        out = []
        for t in self.terms:
            lam = t.cholesky(theta[t.theta_index])
            out.append(lam @ lam.T)
        return out

    def deviance_from_factor(self, f):
        m = self.m
        dev = f["logdet"] + m * (1.0 + np.log(2.0 * np.pi * f["r2"] / m))
        return dev + (f["logdetX"] if self.reml else 0.0)

    def deviance(self, x):
        f = self.factor(x)
        return np.inf if f is None else self.deviance_from_factor(f)

    def deviance_and_grad(self, x):
        """Profiled deviance and its gradient (``(inf, nan)`` where V is not positive
        definite)."""
        f = self.factor(x)
        if f is None:
            return np.inf, np.full(self.n_theta, np.nan)
        return (self.deviance_from_factor(f),
                self.gradient_from_factor(f, self.m / f["r2"]))

    def sigma2(self, f):
        return f["r2"] / self.m

    def cov_beta(self, f):
        return self.sigma2(f) * np.linalg.inv(f["XtX"])

    def loglike(self, x, s2, beta=None):
        """Log likelihood (restricted under REML) at (x, s2), beta profiled or given (ML)."""
        f = self.factor(x)
        if f is None:
            return -np.inf
        r2 = f["r2"]
        if beta is not None and not self.reml:
            d = np.asarray(beta, float) - f["beta"]
            r2 = r2 + d @ f["XtX"] @ d
        extra = f["logdetX"] if self.reml else 0.0
        return -0.5 * (self.m * np.log(2.0 * np.pi * s2) + f["logdet"] + extra + r2 / s2)

    def loglike_grad(self, x, s2):
        """Gradient of :meth:`loglike` (beta profiled) over (x, log s2)."""
        f = self.factor(x)
        if f is None:
            return np.full(self.n_theta + 1, np.nan)
        gx = -0.5 * self.gradient_from_factor(f, 1.0 / s2)
        return np.append(gx, -0.5 * (self.m - f["r2"] / s2))


def check_residual_groups(terms, structure, top, low):
    """Stata's requirements on the groups of a residual structure: random effects nested in
    the top level, ``t()`` not repeated and ``by()`` constant within the lowest-level
    groups. Returns the row order (top, lowest group, t, row)."""
    n = len(top)
    for t in terms:
        pairs = np.unique(np.stack([t.codes, top]), axis=1)
        if len(np.unique(pairs[0])) != pairs.shape[1]:
            raise SpecificationError(
                f"mixed: residuals() needs nested random effects; the groups of "
                f"'{t.label}' cross the top-level groups")
    tkey = structure.t if structure.t is not None else np.zeros(n)
    order = np.lexsort((np.arange(n), tkey, low, top))
    if structure.t is not None:
        srt = order
        same = (top[srt][1:] == top[srt][:-1]) & (low[srt][1:] == low[srt][:-1])
        if np.any(same & (tkey[srt][1:] == tkey[srt][:-1])):
            raise SpecificationError(
                f"mixed: residuals(): t({structure.spec.tvar}) repeats within a "
                f"lowest-level group")
    if structure.by_codes is not None:
        byc = np.asarray(structure.by_codes)
        pairs = np.unique(np.stack([low, byc]), axis=1)
        if len(np.unique(pairs[0])) != pairs.shape[1]:
            raise SpecificationError(
                f"mixed: residuals(): by({structure.spec.byvar}) must be constant "
                f"within the lowest-level groups")
    return order


def order_error(structure, max_lag):
    """The error when an ar/ma/toeplitz order exceeds the largest lag within a group."""
    st = structure
    return SpecificationError(
        f"mixed: residuals({st.spec.kind} {st.order}, t({st.spec.tvar})): the "
        f"order {st.order} is larger than the largest lag of {st.spec.tvar} "
        f"within a group ({max_lag})")


class ResidualLMM(ResidualDeviance):
    """Profiled deviance of an LMM with random-effects ``terms`` and a residual structure.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    terms : list of RETerm
        Nested in ``top_codes`` (every group of every term within one top-level group).
    structure : ResidualStructure
    top_codes, low_codes : ndarray (n,) int
        Top-level and lowest-level group of each row.
    reml : bool
    bounds : list of (lower, upper)
        Box constraints on the random-effects theta.

    Notes
    -----
    The parameter vector is ``x = (theta, theta_r)``: the random-effects relative Cholesky
    parameters, then the residual structure's (``structure.n_theta``).

    The gradient of the profiled deviance d is, with dV_i / dx_k the derivative of group
    i's relative covariance, w_i = V_i^-1 (y_i - X_i beta) and A = X' V^-1 X,
        dd / dx_k = sum_i < V_i^-1 - (m / r2) w_i w_i' - [REML] V_i^-1 X_i A^-1 X_i' V_i^-1,
                            dV_i / dx_k >
    (Frobenius product; beta's and s2's derivatives vanish at their profiled values; cf.
    Pinheiro & Bates 2000, sec. 2.2.5, and Lindstrom & Bates 1988). The derivatives of V_i
    are never formed: the random-effects part reduces to Z_i' M_i Z_i per term, the residual
    part to the sums of M_i over the keys of the structure's value table.
    """

    def __init__(self, y, X, terms, structure, top_codes, low_codes, reml=False,
                 bounds=None):
        top, low = self._set_data(y, X, terms, structure, top_codes, low_codes, reml, bounds)
        order = check_residual_groups(self.terms, structure, top, low)
        self.low = low
        sizes = np.bincount(top)
        sorted_top = top[order]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        self.classes = []
        self.n_top = len(sizes)
        for s in np.unique(sizes[sizes > 0]):
            g = np.flatnonzero(sizes == s)
            rows = order[starts[g][:, None] + np.arange(s)[None, :]]
            assert np.all(sorted_top[starts[g]] == g)
            self.classes.append(_SizeClass(rows, g))
        self.T = structure.t if structure.t is not None else np.zeros(self.n)
        self.K = structure.t_index if structure.t_index is not None \
            else np.zeros(self.n, np.int64)
        self.BY = np.asarray(structure.by_codes) if structure.by_codes is not None \
            else np.zeros(self.n, np.int64)
        self._prepare_classes()

    def _prepare_classes(self):
        """Per size class: X, y, Z and the term masks; the code of each pair of rows in
        the value table (``self.keys`` per by() level, then one zero for rows of different
        lowest-level groups)."""
        st = self.structure
        raw = []
        for cls in self.classes:
            rows = cls.rows
            cls.X, cls.y = self.X[rows], self.y[rows]
            cls.D = np.ascontiguousarray(np.concatenate([cls.X, cls.y[:, :, None]], axis=2))
            for t in self.terms:
                Z = t.Z[rows]
                c = t.codes[rows]
                same = c[:, :, None] == c[:, None, :]
                mask = None if same.all() else same.astype(float)
                cls.Z.append(Z)
                cls.mask.append(mask)
                if t.q == 1:
                    ZZ = Z[:, :, 0, None] * Z[:, None, :, 0]
                    cls.ZZ.append(ZZ if mask is None else ZZ * mask)
                else:
                    cls.ZZ.append(None)
            raw.append(st.pair_keys(self.T[rows], self.K[rows]))
        if st.integer_keys:
            top = max((int(r.max()) for r in raw if r.size), default=0)
            self.keys = np.arange(top + 1, dtype=float)
            codes = [r.astype(np.int64) for r in raw]
        else:
            flat = np.concatenate([r.ravel() for r in raw]) if raw else np.zeros(0)
            self.keys, inv = np.unique(flat, return_inverse=True)
            cuts = np.cumsum([r.size for r in raw])[:-1]
            codes = [c.reshape(r.shape) for c, r in zip(np.split(inv, cuts), raw)]
        if st.kind in ("ar", "ma", "toeplitz"):
            lags = [r[self.low[c.rows][:, :, None] == self.low[c.rows][:, None, :]]
                    for r, c in zip(raw, self.classes)]
            max_lag = int(max((lg.max() for lg in lags if lg.size), default=0))
            if st.order > max_lag:
                raise order_error(st, max_lag)
        U = len(self.keys)
        self.n_codes = st.n_by * U + 1
        for cls, code in zip(self.classes, codes):
            rows = cls.rows
            low = self.low[rows]
            code = code + self.BY[rows][:, :, None] * U
            cls.code = np.where(low[:, :, None] == low[:, None, :], code, self.n_codes - 1)

    # -- V and its factor -------------------------------------------------------------------
    def _table(self, theta_r):
        return np.append(self.structure.key_table(theta_r, self.keys).ravel(), 0.0)

    def _class_v(self, cls, Gs, table, re_only=False):
        V = np.zeros(cls.code.shape) if re_only else table[cls.code]
        for Z, mask, ZZ, G in zip(cls.Z, cls.mask, cls.ZZ, Gs):
            if ZZ is not None:
                V += G[0, 0] * ZZ
                continue
            M = (Z @ G) @ np.swapaxes(Z, 1, 2)
            V += M if mask is None else M * mask
        return V

    def class_v(self, cls, theta, theta_r, re_only=False):
        """V_i (B, s, s) of the groups of one size class (``re_only``: Z G Z' / s2, without
        the residual block)."""
        return self._class_v(cls, self.re_cov(theta), self._table(theta_r), re_only)

    def factor(self, x):
        """GLS pieces at ``x``: per class V_i^-1; beta, r2, log dets.

        Returns ``None`` where a V_i is not positive definite.
        """
        theta, theta_r = self.split(x)
        if not np.all(np.isfinite(x)):
            return None
        Gs = self.re_cov(theta)
        table = self._table(theta_r)
        gram = np.zeros((self.p + 1, self.p + 1))
        logdet = 0.0
        vinvs = []
        for cls in self.classes:
            V = self._class_v(cls, Gs, table)
            ok, ld, g = spd_inverse_gram(V, cls.D)
            if not ok:
                return None
            logdet += ld
            gram += g
            vinvs.append(V)
        XtX, Xty, yty = gram[:-1, :-1], gram[:-1, -1], gram[-1, -1]
        try:
            RX = np.linalg.cholesky(XtX)
        except np.linalg.LinAlgError:
            return None
        beta = np.linalg.solve(XtX, Xty)
        r2 = max(yty - Xty @ beta, 1e-300)
        return {"theta": theta, "theta_r": theta_r, "vinv": vinvs,
                "beta": beta, "r2": r2, "logdet": logdet,
                "logdetX": 2.0 * np.log(np.diag(RX)).sum(), "XtX": XtX}

    def gradient_from_factor(self, f, coef):
        """sum_i < V_i^-1 - coef w_i w_i' - [REML] V_i^-1 X_i A^-1 X_i' V_i^-1, dV_i / dx >
        over x (see the class notes): the deviance's gradient for coef = m / r2, minus twice
        the log likelihood's at s2 for coef = 1 / s2."""
        theta, theta_r = f["theta"], f["theta_r"]
        S = [np.zeros((t.q, t.q)) for t in self.terms]
        counts = np.zeros(self.n_codes)
        Ainv = np.linalg.inv(f["XtX"]) if self.reml else None
        for cls, Vi in zip(self.classes, f["vinv"]):
            r = cls.y - np.einsum("bjp,p->bj", cls.X, f["beta"])
            w = np.einsum("bjk,bk->bj", Vi, r)
            M = Vi - coef * w[:, :, None] * w[:, None, :]
            if self.reml:
                VX = Vi @ cls.X
                M = M - (VX @ Ainv) @ np.swapaxes(VX, 1, 2)
            counts += np.bincount(cls.code.ravel(), M.ravel(), minlength=self.n_codes)
            for k, (Z, mask, ZZ) in enumerate(zip(cls.Z, cls.mask, cls.ZZ)):
                if ZZ is not None:
                    S[k] += np.einsum("bjk,bjk->", M, ZZ)
                    continue
                MZ = (M if mask is None else M * mask) @ Z
                S[k] += np.einsum("bjq,bjr->qr", Z, MZ)
        grad = np.zeros(self.n_theta)
        for t, Sk in zip(self.terms, S):
            th = theta[t.theta_index]
            lam = t.cholesky(th)
            dlam = t.d_cholesky(th)
            dG = dlam @ lam.T + lam @ np.swapaxes(dlam, 1, 2)
            np.add.at(grad, t.theta_index, np.einsum("kqr,qr->k", dG, Sk))
        if self.structure.n_theta:
            J = self.structure.key_jacobian(theta_r, self.keys)
            grad[self.n_re:] = J.reshape(len(J), -1) @ counts[:-1]
        return grad

    # -- postestimation ---------------------------------------------------------------------
    def blups(self, f):
        """BLUPs per term, (G_k, q_k): b = G Z_i' V_i^-1 (y_i - X_i beta) (the s2 cancels)."""
        theta = f["theta"]
        out = [np.zeros((t.n_groups, t.q)) for t in self.terms]
        Gs = self.re_cov(theta)
        for cls, Vi in zip(self.classes, f["vinv"]):
            rows = cls.rows
            r = self.y[rows] - self.X[rows] @ f["beta"]
            w = np.einsum("bjk,bk->bj", Vi, r)
            for k, (t, G) in enumerate(zip(self.terms, Gs)):
                contrib = np.einsum("bjq,bj->bjq", t.Z[rows], w) @ G
                np.add.at(out[k], t.codes[rows].ravel(), contrib.reshape(-1, t.q))
        return out

    def blup_variances(self, f, fixed_uncertainty=False):
        """Var(b_g | y) = s2 (G - G Z_g' V_i^-1 Z_g G) per term and group, (G_k, q_k, q_k)
        (G relative, Z_g the rows of group g within its top-level group i); with
        ``fixed_uncertainty`` Var(b_hat_g - b_g), V_i^-1 replaced by
        P_i = V_i^-1 - V_i^-1 X_i (X' V^-1 X)^-1 X_i' V_i^-1 (the BLUPs at the GLS beta;
        Henderson 1975, Biometrics 31, eq. 11)."""
        s2 = self.sigma2(f)
        Gs = self.re_cov(f["theta"])
        H = [np.zeros((t.n_groups, t.q, t.q)) for t in self.terms]
        Ainv = np.linalg.inv(f["XtX"]) if fixed_uncertainty else None
        for cls, Vi in zip(self.classes, f["vinv"]):
            P = Vi
            if fixed_uncertainty:
                VX = Vi @ cls.X
                P = Vi - (VX @ Ainv) @ np.swapaxes(VX, 1, 2)
            for k, (t, Z, mask) in enumerate(zip(self.terms, cls.Z, cls.mask)):
                PZ = (P if mask is None else P * mask) @ Z
                outer = np.einsum("bjq,bjr->bjqr", Z, PZ).reshape(-1, t.q, t.q)
                np.add.at(H[k], t.codes[cls.rows].ravel(), outer)
        return [s2 * (G[None] - G[None] @ Hk @ G[None]) for G, Hk in zip(Gs, H)]

    def standardize(self, x, s2, resid):
        """Residuals times the inverse Cholesky factor of their covariance s2 C_i within
        each group (rows in ``t()`` order), as nlme's normalized residuals."""
        theta, theta_r = self.split(x)
        out = np.empty(self.n)
        for cls in self.classes:
            rows = cls.rows
            low = self.low[rows]
            C = self.structure.relative_cov(theta_r, self.T[rows], self.K[rows],
                                            self.BY[rows])
            C = np.where(low[:, :, None] == low[:, None, :], C, 0.0) * s2
            L = np.linalg.cholesky(C)
            out[rows] = np.linalg.solve(L, resid[rows][:, :, None])[:, :, 0]
        return out

    def marginal_cov(self, x, s2, group):
        """s2 V_i of top-level group ``group`` and its rows (in t order)."""
        theta, theta_r = self.split(x)
        for cls in self.classes:
            hit = np.flatnonzero(cls.groups == group)
            if hit.size:
                sub = _SizeClass(cls.rows[hit], cls.groups[hit])
                sub.code = cls.code[hit]
                sub.Z = [Z[hit] for Z in cls.Z]
                sub.mask = [None if mk is None else mk[hit] for mk in cls.mask]
                sub.ZZ = [None if zz is None else zz[hit] for zz in cls.ZZ]
                return s2 * self.class_v(sub, theta, theta_r)[0], sub.rows[0]
        raise ValueError(f"no top-level group {group}")
