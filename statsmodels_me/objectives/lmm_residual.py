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
n_i x n_i matrix per top-level group (groups of equal size in one batched call); no
n x n matrix is formed.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.objectives.lmm_profiled import residual_dof
from statsmodels_me.spec.errors import SpecificationError


class _SizeClass:
    """The rows of the top-level groups with ``s`` observations, as (B, s) index arrays."""

    def __init__(self, rows, groups):
        self.rows = rows            # (B, s) row indices, sorted within group
        self.groups = groups        # (B,) top-level group ids


class ResidualLMM:
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
    """

    analytic_gradient = False
    exact_hessian = False
    gls_from_kernel = False
    dense_block_size = 0
    center = None

    def __init__(self, y, X, terms, structure, top_codes, low_codes, reml=False,
                 bounds=None):
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
        for t in self.terms:
            pairs = np.unique(np.stack([t.codes, top]), axis=1)
            if len(np.unique(pairs[0])) != pairs.shape[1]:
                raise SpecificationError(
                    f"mixed: residuals() needs nested random effects; the groups of "
                    f"'{t.label}' cross the top-level groups")
        tkey = structure.t if structure.t is not None else np.zeros(self.n)
        order = np.lexsort((np.arange(self.n), tkey, low, top))
        self.low = low
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

    # -- V and its factor -------------------------------------------------------------------
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

    def class_v(self, cls, theta, theta_r, re_only=False):
        """V_i (B, s, s) of the groups of one size class (``re_only``: Z G Z' / s2 and the
        per-term pieces' sum without the residual block)."""
        rows = cls.rows
        low = self.low[rows]
        mask = low[:, :, None] == low[:, None, :]
        V = np.zeros(rows.shape + (rows.shape[1],))
        for t, G in zip(self.terms, self.re_cov(theta)):
            Zr = t.Z[rows]
            c = t.codes[rows]
            M = np.einsum("bjq,qr,bkr->bjk", Zr, G, Zr)
            V += np.where(c[:, :, None] == c[:, None, :], M, 0.0)
        if re_only:
            return V
        C = self.structure.relative_cov(theta_r, self.T[rows], self.K[rows], self.BY[rows])
        return V + np.where(mask, C, 0.0)

    def factor(self, x):
        """GLS pieces at ``x``: per class the Cholesky factors; beta, r2, log dets.

        Returns ``None`` where a V_i is not positive definite.
        """
        theta, theta_r = self.split(x)
        if not np.all(np.isfinite(x)):
            return None
        XtX = np.zeros((self.p, self.p))
        Xty = np.zeros(self.p)
        yty = 0.0
        logdet = 0.0
        chols = []
        for cls in self.classes:
            V = self.class_v(cls, theta, theta_r)
            try:
                L = np.linalg.cholesky(V)
            except np.linalg.LinAlgError:
                return None
            d = np.diagonal(L, axis1=1, axis2=2)
            if not np.all(d > 0):
                return None
            logdet += 2.0 * np.log(d).sum()
            W = np.linalg.solve(L, np.concatenate(
                [self.X[cls.rows], self.y[cls.rows][:, :, None]], axis=2))
            Xw, yw = W[:, :, :-1], W[:, :, -1]
            XtX += np.einsum("bjp,bjq->pq", Xw, Xw)
            Xty += np.einsum("bjp,bj->p", Xw, yw)
            yty += float(np.einsum("bj,bj->", yw, yw))
            chols.append(L)
        try:
            RX = np.linalg.cholesky(XtX)
        except np.linalg.LinAlgError:
            return None
        beta = np.linalg.solve(XtX, Xty)
        r2 = max(yty - Xty @ beta, 1e-300)
        return {"theta": theta, "theta_r": theta_r, "chols": chols, "beta": beta, "r2": r2,
                "logdet": logdet, "logdetX": 2.0 * np.log(np.diag(RX)).sum(), "XtX": XtX}

    # -- the profiled deviance --------------------------------------------------------------
    def deviance_from_factor(self, f):
        m = self.m
        dev = f["logdet"] + m * (1.0 + np.log(2.0 * np.pi * f["r2"] / m))
        return dev + (f["logdetX"] if self.reml else 0.0)

    def deviance(self, x):
        f = self.factor(x)
        return np.inf if f is None else self.deviance_from_factor(f)

    def value(self, x):
        return -0.5 * self.deviance(x)

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

    # -- postestimation ---------------------------------------------------------------------
    def blups(self, f):
        """BLUPs per term, (G_k, q_k): b = G Z_i' V_i^-1 (y_i - X_i beta) (the s2 cancels)."""
        theta = f["theta"]
        out = [np.zeros((t.n_groups, t.q)) for t in self.terms]
        Gs = self.re_cov(theta)
        for cls, L in zip(self.classes, f["chols"]):
            rows = cls.rows
            r = self.y[rows] - self.X[rows] @ f["beta"]
            w = np.linalg.solve(np.swapaxes(L, 1, 2),
                                np.linalg.solve(L, r[:, :, None]))[:, :, 0]
            for k, (t, G) in enumerate(zip(self.terms, Gs)):
                contrib = np.einsum("bjq,bj->bjq", t.Z[rows], w) @ G
                np.add.at(out[k], t.codes[rows].ravel(), contrib.reshape(-1, t.q))
        return out

    def blup_variances(self, f, fixed_uncertainty=False):
        raise NotImplementedError(
            "mixed: reses (standard errors of the BLUPs) after residuals() is not "
            "implemented")

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
                return s2 * self.class_v(sub, theta, theta_r)[0], sub.rows[0]
        raise ValueError(f"no top-level group {group}")
