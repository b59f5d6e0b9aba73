"""The LME step of ``menl``: the linearized model ``w = X beta + Z b + e`` with one grouping level.

Random effects ``b_g ~ N(0, D)`` of group ``g`` and ``e ~ N(0, s2 I)``. With the relative
covariance factor ``Lambda`` (``D = s2 Lambda Lambda'``) and ``b_g = Lambda u_g`` the
penalized least-squares problem of Bates et al. (2015, sec. 3) separates by group: every
quantity is a sum over groups of ``q x q`` / ``q x p`` products, computed once per
linearization from the group sums of ``Z'Z``, ``Z'X`` and ``Z'w`` and batched over groups
with numpy (no ``n x n`` matrix, no Python loop over groups). The profiled deviance is their
eq. (34) (ML) and (41) (REML).

Covariance blocks: ``identity`` (one relative standard deviation for the block),
``independent`` (one per random effect), ``exchangeable`` (a relative standard deviation and
a correlation), ``unstructured`` (the lower-triangular factor, lme4's parameterization).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["CovBlock", "GroupedLME"]


@dataclass(frozen=True)
class CovBlock:
    """Random effects ``index`` (positions among the q) with one covariance ``kind``."""

    index: tuple
    kind: str

    @property
    def n_theta(self):
        m = len(self.index)
        return {"identity": 1, "independent": m, "exchangeable": 2 if m > 1 else 1,
                "unstructured": m * (m + 1) // 2}[self.kind]

    def theta_start(self):
        m = len(self.index)
        if self.kind == "unstructured":
            return np.eye(m)[np.tril_indices(m)]
        if self.kind == "exchangeable" and m > 1:
            return np.array([1.0, 0.0])
        return np.ones(self.n_theta)

    def bounds(self):
        m = len(self.index)
        if self.kind == "unstructured":
            r, c = np.tril_indices(m)
            return [(0.0, None) if i == j else (None, None) for i, j in zip(r, c)]
        if self.kind == "exchangeable" and m > 1:
            return [(0.0, None), (-1.0 / (m - 1) + 1e-6, 1.0 - 1e-6)]
        return [(0.0, None)] * self.n_theta

    def factor(self, t):
        """Lower-triangular ``m x m`` relative factor from this block's ``theta``."""
        m = len(self.index)
        if self.kind == "identity":
            return t[0] * np.eye(m)
        if self.kind == "independent":
            return np.diag(t)
        if self.kind == "unstructured":
            L = np.zeros((m, m))
            L[np.tril_indices(m)] = t
            return L
        if m == 1:
            return np.array([[t[0]]])
        R = (1.0 - t[1]) * np.eye(m) + t[1]
        return t[0] * np.linalg.cholesky(R)

    def display(self, D):
        """Display values (variances, then covariances) of this block of ``D``."""
        idx = np.asarray(self.index)
        B = D[np.ix_(idx, idx)]
        m = len(idx)
        if self.kind == "identity":
            return np.array([B[0, 0]])
        if self.kind == "independent" or m == 1:
            return np.diag(B).copy()
        if self.kind == "exchangeable":
            return np.array([B[0, 0], B[1, 0]])
        r, c = np.triu_indices(m, 1)
        return np.concatenate([np.diag(B), B[c, r]])

    def from_display(self, values):
        """The ``m x m`` covariance block from display values."""
        m = len(self.index)
        if self.kind == "identity":
            return values[0] * np.eye(m)
        if self.kind == "independent" or m == 1:
            return np.diag(values)
        if self.kind == "exchangeable":
            return np.full((m, m), values[1]) + (values[0] - values[1]) * np.eye(m)
        B = np.diag(values[:m])
        r, c = np.triu_indices(m, 1)
        B[r, c] = B[c, r] = values[m:]
        return B

    def labels(self, names):
        nm = [names[i] for i in self.index]
        m = len(nm)
        if self.kind == "identity":
            return [f"var({' '.join(nm)})"]
        if self.kind == "independent" or m == 1:
            return [f"var({n})" for n in nm]
        if self.kind == "exchangeable":
            return [f"var({' '.join(nm)})", f"cov({' '.join(nm)})"]
        r, c = np.triu_indices(m, 1)
        return [f"var({n})" for n in nm] + [f"cov({nm[i]},{nm[j]})" for i, j in zip(r, c)]


def _solve(L, rhs):
    """Batched ``L^-1 rhs`` for ``L`` of shape (G, q, q) and ``rhs`` (G, q) or (G, q, k)."""
    if rhs.ndim == 2:
        return np.linalg.solve(L, rhs[..., None])[..., 0]
    return np.linalg.solve(L, rhs)


class GroupedLME:
    """Profiled (restricted) likelihood of the linearized model, batched over groups.

    Parameters
    ----------
    codes : ndarray of int (n,)
        Group of each row, ``0 .. n_groups - 1``.
    n_groups : int
    blocks : list of CovBlock
        Covering the q random effects.
    reml : bool
    """

    def __init__(self, codes, n_groups, blocks, reml=False):
        self.codes = np.asarray(codes)
        self.order = np.argsort(self.codes, kind="stable")
        sorted_codes = self.codes[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        self.n_groups = int(n_groups)
        self.blocks = list(blocks)
        self.q = sum(len(b.index) for b in self.blocks)
        self.n_theta = sum(b.n_theta for b in self.blocks)
        self.reml = bool(reml)

    # ------------------------------------------------------------------ parameters
    def theta_start(self):
        return np.concatenate([b.theta_start() for b in self.blocks])

    def bounds(self):
        return [bd for b in self.blocks for bd in b.bounds()]

    def factor(self, theta):
        """Relative covariance factor ``Lambda`` (q x q) from ``theta``."""
        Lam = np.zeros((self.q, self.q))
        pos = 0
        for b in self.blocks:
            idx = np.asarray(b.index)
            Lam[np.ix_(idx, idx)] = b.factor(theta[pos:pos + b.n_theta])
            pos += b.n_theta
        return Lam

    def display(self, theta, s2):
        """Display values of every block (variances, covariances) and then ``s2``."""
        Lam = self.factor(theta)
        D = s2 * Lam @ Lam.T
        return np.concatenate([b.display(D) for b in self.blocks] + [[s2]])

    def covariance_from_display(self, values):
        D = np.zeros((self.q, self.q))
        pos = 0
        for b in self.blocks:
            k = b.n_theta
            idx = np.asarray(b.index)
            D[np.ix_(idx, idx)] = b.from_display(values[pos:pos + k])
            pos += k
        return D, values[pos]

    # ------------------------------------------------------------------ data
    def set_data(self, w, X, Z):
        """Group sums of the linearized model's cross products."""
        o, s = self.order, self.starts
        Zs, Xs, ws = Z[o], X[o], w[o]
        self.n, self.p = X.shape
        self.ZtZ = np.add.reduceat(Zs[:, :, None] * Zs[:, None, :], s, axis=0)
        self.ZtX = np.add.reduceat(Zs[:, :, None] * Xs[:, None, :], s, axis=0)
        self.Ztw = np.add.reduceat(Zs * ws[:, None], s, axis=0)
        self.XtX = X.T @ X
        self.Xtw = X.T @ w
        self.wtw = float(w @ w)

    # ------------------------------------------------------------------ solution
    def _chol(self, Lam):
        M = np.einsum("ba,gbc,cd->gad", Lam, self.ZtZ, Lam) + np.eye(self.q)
        return np.linalg.cholesky(M)

    def solve(self, theta):
        """Penalized least squares at ``theta``: deviance, beta, modes, ``s2``."""
        return self.solve_at(self.factor(theta))

    def solve_at(self, Lam):
        """:meth:`solve` at the relative factor ``Lam`` itself."""
        L = self._chol(Lam)
        cw = _solve(L, self.Ztw @ Lam)
        CX = _solve(L, np.einsum("ba,gbp->gap", Lam, self.ZtX))
        XVX = self.XtX - np.einsum("gqp,gqr->pr", CX, CX)
        XVw = self.Xtw - np.einsum("gqp,gq->p", CX, cw)
        beta = np.linalg.solve(XVX, XVw)
        r2 = self.wtw - float(np.sum(cw * cw)) - float(beta @ XVw)
        logdet = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        n, p = self.n, self.p
        if self.reml:
            m = n - p
            dev = logdet + np.linalg.slogdet(XVX)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
        else:
            m = n
            dev = logdet + n * (1 + np.log(2 * np.pi * r2 / n))
        u = np.linalg.solve(np.transpose(L, (0, 2, 1)), (cw - CX @ beta)[..., None])[..., 0]
        return {"deviance": float(dev), "beta": beta, "b": u @ Lam.T, "u": u,
                "s2": r2 / m, "XVX": XVX, "Lambda": Lam}

    def deviance(self, theta):
        try:
            return self.solve(theta)["deviance"]
        except np.linalg.LinAlgError:
            return np.inf

    def fit_theta(self, theta0, tol=1e-12):
        """Minimize the profiled deviance over ``theta`` from ``theta0``: L-BFGS-B, then
        Newton steps on central differences (see :meth:`_newton`)."""
        res = optimize.minimize(self.deviance, theta0, method="L-BFGS-B", bounds=self.bounds(),
                                options={"ftol": tol, "gtol": 1e-10, "maxiter": 500})
        return self._newton(res.x)

    def _newton(self, theta, maxiter=8):
        """Newton polish of an interior optimum.

        Forward-difference gradients of the deviance carry noise of order
        ``eps_machine * deviance / h``, which stops L-BFGS-B short in the flat directions of
        an overparameterized model; central differences with steps of ``1e-4`` of each
        parameter's scale have truncation error ``O(h^2)`` instead, so Newton's steps place
        ``theta`` to about 1e-7 (relative). Parameters on a bound are left alone.
        """
        bounds = self.bounds()
        free = [i for i, (lo, _) in enumerate(bounds)
                if lo is None or theta[i] - lo > 1e-4 * max(abs(theta[i]), 1.0)]
        if not free:
            return theta
        dev = self.deviance(theta)
        for _ in range(maxiter):
            g, H = self._derivatives(theta, free)
            try:
                if np.any(np.linalg.eigvalsh(H) <= 0):
                    break
                step = -np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            new = theta.copy()
            new[free] += step
            if any(lo is not None and new[i] <= lo for i, (lo, _) in enumerate(bounds)) or \
                    any(hi is not None and new[i] >= hi for i, (_, hi) in enumerate(bounds)):
                break
            new_dev = self.deviance(new)
            if not new_dev <= dev + 1e-12 * abs(dev):
                break
            theta, dev = new, new_dev
            if np.max(np.abs(step) / (np.abs(theta[free]) + 1e-3)) < 1e-9:
                break
        return theta

    def _derivatives(self, theta, free):
        h = 1e-4 * np.maximum(np.abs(theta[free]), 0.1)
        k = len(free)
        f0 = self.deviance(theta)
        g, H = np.empty(k), np.empty((k, k))

        def at(di, dj=None, si=1.0, sj=1.0):
            t = theta.copy()
            t[free[di]] += si * h[di]
            if dj is not None:
                t[free[dj]] += sj * h[dj]
            return self.deviance(t)
        for i in range(k):
            fp, fm = at(i), at(i, si=-1.0)
            g[i] = (fp - fm) / (2 * h[i])
            H[i, i] = (fp - 2 * f0 + fm) / h[i] ** 2
            for j in range(i):
                H[i, j] = H[j, i] = (at(i, j) - at(i, j, 1.0, -1.0) - at(i, j, -1.0, 1.0)
                                     + at(i, j, -1.0, -1.0)) / (4 * h[i] * h[j])
        return g, H

    # ------------------------------------------------------------------ inference
    def loglike_display(self, values, beta):
        """Log likelihood at display values ``(var/cov..., s2)``.

        ML: the log likelihood with beta held at ``beta``; REML: the restricted log
        likelihood (beta does not enter).
        """
        D, s2 = self.covariance_from_display(values)
        if s2 <= 0:
            return -np.inf
        try:
            Lam = np.linalg.cholesky(D / s2 + 1e-300 * np.eye(self.q))
            L = self._chol(Lam)
        except np.linalg.LinAlgError:
            return -np.inf
        logdet = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        if self.reml:
            cw = _solve(L, self.Ztw @ Lam)
            CX = _solve(L, np.einsum("ba,gbp->gap", Lam, self.ZtX))
            XVX = self.XtX - np.einsum("gqp,gqr->pr", CX, CX)
            XVw = self.Xtw - np.einsum("gqp,gq->p", CX, cw)
            bhat = np.linalg.solve(XVX, XVw)
            r2 = self.wtw - float(np.sum(cw * cw)) - float(bhat @ XVw)
            m = self.n - self.p
            ld_x = np.linalg.slogdet(XVX)[1] - self.p * np.log(s2)
            return -0.5 * (m * np.log(2 * np.pi * s2) + logdet + ld_x + r2 / s2)
        Zte = self.Ztw - self.ZtX @ beta
        ete = self.wtw - 2.0 * float(beta @ self.Xtw) + float(beta @ self.XtX @ beta)
        ce = _solve(L, Zte @ Lam)
        r2 = ete - float(np.sum(ce * ce))
        return -0.5 * (self.n * np.log(2 * np.pi * s2) + logdet + r2 / s2)
