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
from scipy import linalg, optimize, sparse
from scipy.sparse import linalg as splinalg

__all__ = ["CovBlock", "GroupedLME", "SparseLME", "ThetaOptimizer"]


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


class ThetaOptimizer:
    """Minimization of ``self.deviance`` over parameters with ``self.bounds()``."""

    #: Newton's steps also stop when the predicted decrease of the deviance, ``g' H^-1 g / 2``,
    #: is below this fraction of the deviance (None: only on the size of the step)
    newton_decrement_tol = None

    def fit_theta(self, theta0, tol=1e-9, warm=False):
        """Minimize the profiled deviance over ``theta`` from ``theta0``.

        Newton's steps on central differences (:meth:`_newton`); when they fail (a Hessian
        that is not positive definite, an optimum on a bound), L-BFGS-B and then Newton's
        steps again (also when ``theta0`` has a parameter on its bound, which Newton's steps
        would keep there). ``warm`` is accepted for symmetry with callers that restart from
        the previous optimum; both cases take the same path.
        """
        theta0 = np.asarray(theta0, float)
        at_bound = any(lo is not None and t - lo <= 1e-4 * max(abs(t), 1.0)
                       for t, (lo, _) in zip(theta0, self.bounds()))
        if not at_bound:
            # Newton's steps keep parameters on a bound fixed: start them only from inside
            theta, ok = self._newton(theta0, maxiter=50)
            if ok:
                return theta
        res = optimize.minimize(self.search_objective(theta0), theta0, method="L-BFGS-B",
                                bounds=self.bounds(),
                                options={"ftol": tol, "gtol": 1e-6, "maxiter": 500})
        return self._newton(res.x)[0]

    def search_objective(self, theta0):
        """What L-BFGS-B minimizes from ``theta0``: the deviance."""
        return self.deviance

    def _newton(self, theta, maxiter=8):
        """Newton's method with step halving for an interior optimum.

        Forward-difference gradients of the deviance carry noise of order
        ``eps_machine * deviance / h``, which stops quasi-Newton methods short in the flat
        directions of an overparameterized model; central differences with steps of ``1e-4``
        of each parameter (at least ``1e-6`` of the largest) have truncation error
        ``O(h^2)`` instead, so Newton's steps
        place ``theta`` to about 1e-7 (relative). Parameters on a bound are left alone.

        Returns
        -------
        theta : ndarray
        ok : bool
            Whether the steps converged (the last one below 1e-8 relative, or a step below
            1e-6 that no longer lowers the deviance).
        """
        bounds = self.bounds()
        free = [i for i, (lo, _) in enumerate(bounds)
                if lo is None or theta[i] - lo > 1e-4 * max(abs(theta[i]), 1.0)]
        if not free:
            return theta, False
        dev = self.deviance(theta)
        if not np.isfinite(dev):
            return theta, False

        def inside(t):
            # the parameters held on a bound stay there; the free ones must be strictly inside
            return all((bounds[i][0] is None or t[i] > bounds[i][0])
                       and (bounds[i][1] is None or t[i] < bounds[i][1]) for i in free)
        for _ in range(maxiter):
            g, H = self._derivatives(theta, free, dev)
            try:
                if np.any(np.linalg.eigvalsh(H) <= 0):
                    return theta, False
                step = -np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                return theta, False
            if self.newton_decrement_tol is not None and \
                    -0.5 * float(g @ step) <= self.newton_decrement_tol * max(abs(dev), 1.0):
                return theta, True
            size = float(np.max(np.abs(step) / (np.abs(theta[free]) + 1e-3)))
            scale = 1.0
            for _ in range(30):
                new = theta.copy()
                new[free] += scale * step
                if inside(new):
                    new_dev = self.deviance(new)
                    if new_dev <= dev + 1e-12 * abs(dev):
                        break
                    if size < 1e-6:
                        # no decrease from a tiny step: the optimum within the deviance's
                        # rounding
                        return theta, True
                scale *= 0.5
            else:
                return theta, False
            theta, dev = new, new_dev
            if size < 1e-8:
                return theta, True
        return theta, False

    def _derivatives(self, theta, free, f0):
        """Central-difference gradient and Hessian of the deviance (``f0`` at ``theta``)."""
        t = np.abs(theta[free])
        h = 1e-4 * np.maximum(t, max(1e-2 * float(t.max()), 1e-8))
        k = len(free)
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



class _LMEBase(ThetaOptimizer):
    """What both engines share: covariance parameters, their optimization and inference.

    Parameters
    ----------
    levels : list of Level
        The levels of random effects (``MenlDesign.levels``).
    blocks : list of CovBlock
        Covering the q random effects (positions in the model's order).
    reml : bool
    """

    def __init__(self, levels, blocks, reml=False):
        self.levels = list(levels)
        self.blocks = list(blocks)
        self.q = sum(len(b.index) for b in self.blocks)
        self.n_theta = sum(b.n_theta for b in self.blocks)
        self.n_re = sum(lev.size for lev in self.levels)
        self.reml = bool(reml)

    # ------------------------------------------------------------------ parameters
    def theta_start(self):
        return np.concatenate([b.theta_start() for b in self.blocks])

    def bounds(self):
        return [bd for b in self.blocks for bd in b.bounds()]

    def factor(self, theta):
        """Relative covariance factor ``Lambda`` (q x q, all levels) from ``theta``."""
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

    # ------------------------------------------------------------------ layout
    def _level_blocks(self, vec, Lam):
        for lev in self.levels:
            eff = np.asarray(lev.effects)
            part = vec[lev.offset:lev.offset + lev.size].reshape(lev.n_groups, len(eff))
            yield lev, part, Lam[np.ix_(eff, eff)]

    def to_b(self, Lam, u):
        """Random effects ``b = Lambda u`` (flat, level by level)."""
        out = np.empty(self.n_re)
        for lev, part, L in self._level_blocks(u, Lam):
            out[lev.offset:lev.offset + lev.size] = (part @ L.T).ravel()
        return out

    def to_u(self, Lam, b):
        """Spherical effects ``u`` with ``Lambda u = b`` (least squares when singular)."""
        out = np.empty(self.n_re)
        for lev, part, L in self._level_blocks(b, Lam):
            sol = np.linalg.lstsq(L, part.T, rcond=None)[0].T if part.any() else part
            out[lev.offset:lev.offset + lev.size] = sol.ravel()
        return out


    # ------------------------------------------------------------------ solution
    def solve(self, theta, modes=True):
        """Penalized least squares at ``theta``: deviance, beta, modes, ``s2``."""
        return self.solve_at(self.factor(theta), modes)

    def solve_at(self, Lam, modes=True):
        """:meth:`solve` at the relative factor ``Lam`` itself.

        Returns
        -------
        dict
            ``deviance`` (profiled, eq. 34 or 41 of Bates et al. 2015), ``beta`` (GLS),
            ``s2``, ``XVX`` (``X' V^-1 X`` on the relative scale), ``Lambda`` and, with
            ``modes``, the spherical and actual random effects ``u`` and ``b`` (flat).
        """
        parts = self._parts(Lam, modes=modes)
        logdet, XVX, r2 = parts["logdet"], parts["XVX"], parts["r2"]
        n, p = self.n, self.p
        if self.reml:
            m = n - p
            dev = logdet + np.linalg.slogdet(XVX)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
        else:
            m = n
            dev = logdet + n * (1 + np.log(2 * np.pi * r2 / n))
        out = {"deviance": float(dev), "beta": parts["beta"], "s2": r2 / m, "XVX": XVX,
               "Lambda": Lam}
        if modes:
            out.update(u=parts["u"], b=self.to_b(Lam, parts["u"]))
        return out

    def deviance(self, theta):
        try:
            return self.solve(theta, modes=False)["deviance"]
        except np.linalg.LinAlgError:
            return np.inf

    def set_covariate(self, yhat):
        """Fitted values at the current estimates (used by residual variance functions)."""

    def whiten(self, r):
        """Residuals ``r`` scaled to independent errors of variance ``s2``: unchanged here
        (:class:`~statsmodels_me.models.menl_residual.ResidualLME` transforms them)."""
        return r

    # ------------------------------------------------------------------ inference
    def inference_point(self, theta, s2):
        """Coordinates of the observed information and of fits with parameters held fixed:
        the display values (variances, covariances, ``s2``)."""
        return self.display(theta, s2)

    def display_from_inference(self, u):
        return np.asarray(u, float)

    def solve_inference(self, u, modes=True):
        """:meth:`solve_at` at the relative factor of the display values ``u``, with the
        deviance and ``s2`` of ``u`` itself (``s2`` not profiled)."""
        D, s2 = self.covariance_from_display(u)
        Lam = np.linalg.cholesky(D / s2 + 1e-300 * np.eye(self.q))
        sol = self.solve_at(Lam, modes)
        sol["deviance"] = -2.0 * self.loglike_display(u, None)
        sol["s2"] = float(s2)
        return sol

    def loglike_display(self, values, beta):
        """Log likelihood at display values ``(var/cov..., s2)``.

        ML: the log likelihood with beta held at ``beta`` (at its GLS estimate when None);
        REML: the restricted log likelihood (beta does not enter).
        """
        D, s2 = self.covariance_from_display(values)
        if s2 <= 0:
            return -np.inf
        try:
            Lam = np.linalg.cholesky(D / s2 + 1e-300 * np.eye(self.q))
            parts = self._parts(Lam, beta=None if self.reml else beta)
        except np.linalg.LinAlgError:
            return -np.inf
        if self.reml:
            # log|V| + log|X' V^-1 X| = n log s2 + logdet - p log s2 + log|XVX| for
            # V = s2 (I + Z Lambda Lambda' Z'): the powers of s2 sum to m = n - p
            m = self.n - self.p
            ld_x = np.linalg.slogdet(parts["XVX"])[1]
            return -0.5 * (m * np.log(2 * np.pi * s2) + parts["logdet"] + ld_x
                           + parts["r2"] / s2)
        return -0.5 * (self.n * np.log(2 * np.pi * s2) + parts["logdet"] + parts["r2"] / s2)


class GroupedLME(_LMEBase):
    """The linearized model with one level of random effects, batched over groups."""

    def __init__(self, levels, blocks, reml=False):
        super().__init__(levels, blocks, reml)
        if len(self.levels) != 1:
            raise ValueError("GroupedLME takes one level; use SparseLME")
        self.codes = self.levels[0].codes
        self.order = np.argsort(self.codes, kind="stable")
        sorted_codes = self.codes[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        self.n_groups = self.levels[0].n_groups

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

    def _parts(self, Lam, beta=None, modes=False):
        if self.q == 1:
            # one random effect: every group's factor is a scalar
            lam = Lam[0, 0]
            m = 1.0 + lam * lam * self.ZtZ[:, 0, 0]
            sl = lam / np.sqrt(m)
            cw = (sl * self.Ztw[:, 0])[:, None]
            CX = (sl[:, None] * self.ZtX[:, 0, :])[:, None, :]
            logdet = float(np.log(m).sum())
            Linv = (1.0 / np.sqrt(m))[:, None, None]
        else:
            L = self._chol(Lam)
            logdet = 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            Linv = np.linalg.inv(L)
            cw = np.einsum("gab,gb->ga", Linv, self.Ztw @ Lam)
            CX = Linv @ np.einsum("ba,gbp->gap", Lam, self.ZtX)
        XVX = self.XtX - np.einsum("gqp,gqr->pr", CX, CX)
        XVw = self.Xtw - np.einsum("gqp,gq->p", CX, cw)
        if beta is None:
            beta = np.linalg.solve(XVX, XVw)
            r2 = self.wtw - float(np.sum(cw * cw)) - float(beta @ XVw)
        else:
            ce = cw - CX @ beta
            ete = self.wtw - 2.0 * float(beta @ self.Xtw) + float(beta @ self.XtX @ beta)
            r2 = ete - float(np.sum(ce * ce))
        out = {"logdet": logdet, "XVX": XVX, "beta": beta, "r2": r2}
        if modes:
            out["u"] = np.einsum("gba,gb->ga", Linv, cw - CX @ beta).ravel()
        return out


class SparseLME(_LMEBase):
    """The linearized model with nested levels of random effects, by sparse algebra.

    ``Z`` (n x Q, Q the number of random effects over all groups of all levels) is sparse;
    the penalized system ``Lambda' Z'Z Lambda + I`` (Q x Q; Bates et al. 2015, sec. 3) is
    factored by a dense Cholesky factorization up to ``DENSE_LIMIT`` random effects and by
    SuperLU beyond.

    Parameters
    ----------
    levels : list of Level
    re_rows : list of ndarray of int
        For each random effect, the position of each row's value in the flat vector.
    blocks : list of CovBlock
    reml : bool
    """

    #: up to this many random effects (all groups) the system is factored as a dense matrix
    DENSE_LIMIT = 1000

    def __init__(self, levels, re_rows, blocks, reml=False):
        super().__init__(levels, blocks, reml)
        self.re_rows = [np.asarray(r) for r in re_rows]
        self.dense = self.n_re <= self.DENSE_LIMIT

    def set_data(self, w, X, Z):
        """Cross products of the linearized model (``Z'Z`` sparse)."""
        n = len(w)
        self.n, self.p = X.shape
        rows = np.tile(np.arange(n), self.q)
        cols = np.concatenate(self.re_rows)
        Zs = sparse.csr_matrix((Z.T.ravel(), (rows, cols)), shape=(n, self.n_re))
        self.ZtZ = (Zs.T @ Zs).toarray() if self.dense else (Zs.T @ Zs).tocsc()
        self.ZtX = np.asarray(Zs.T @ X)
        self.Ztw = np.asarray(Zs.T @ w).ravel()
        self.XtX = X.T @ X
        self.Xtw = X.T @ w
        self.wtw = float(w @ w)

    def _lambda_full(self, Lam):
        if self.dense:
            out = np.zeros((self.n_re, self.n_re))
            for lev in self.levels:
                eff = np.asarray(lev.effects)
                q = len(eff)
                blk = Lam[np.ix_(eff, eff)]
                for i in range(q):
                    for j in range(q):
                        if blk[i, j] != 0.0:
                            idx = lev.offset + np.arange(lev.n_groups) * q
                            out[idx + i, idx + j] = blk[i, j]
            return out
        parts = []
        for lev in self.levels:
            eff = np.asarray(lev.effects)
            parts.append(sparse.kron(sparse.identity(lev.n_groups),
                                     sparse.csr_matrix(Lam[np.ix_(eff, eff)])))
        return sparse.block_diag(parts, format="csc")

    def _factor_solve(self, Lf, rhs):
        """``log|A|`` and ``A^-1 rhs`` for ``A = Lf' Z'Z Lf + I``."""
        if self.dense:
            A = Lf.T @ self.ZtZ @ Lf
            A[np.diag_indices_from(A)] += 1.0
            c = linalg.cho_factor(A, lower=True)
            return 2.0 * float(np.sum(np.log(np.diag(c[0])))), linalg.cho_solve(c, rhs)
        A = (Lf.T @ self.ZtZ @ Lf + sparse.identity(self.n_re)).tocsc()
        try:
            lu = splinalg.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                               options={"SymmetricMode": True})
        except RuntimeError as exc:
            raise np.linalg.LinAlgError(str(exc)) from None
        return float(np.sum(np.log(np.abs(lu.U.diagonal())))), lu.solve(rhs)

    def _parts(self, Lam, beta=None, modes=False):
        Lf = self._lambda_full(Lam)
        LZX = np.asarray(Lf.T @ self.ZtX)
        LZw = np.asarray(Lf.T @ self.Ztw).ravel()
        p = self.p
        logdet, S = self._factor_solve(Lf, np.column_stack([LZX, LZw]))
        XVX = self.XtX - LZX.T @ S[:, :p]
        XVw = self.Xtw - LZX.T @ S[:, p]
        if beta is None:
            beta = np.linalg.solve(XVX, XVw)
            r2 = self.wtw - float(LZw @ S[:, p]) - float(beta @ XVw)
        else:
            ete = self.wtw - 2.0 * float(beta @ self.Xtw) + float(beta @ self.XtX @ beta)
            r2 = ete - float((LZw - LZX @ beta) @ (S[:, p] - S[:, :p] @ beta))
        out = {"logdet": logdet, "XVX": XVX, "beta": beta, "r2": r2}
        if modes:
            out["u"] = S[:, p] - S[:, :p] @ beta
        return out
