"""Weighted (pseudo-)log likelihood of a nested linear mixed model (``mixed`` with weights).

Levels 1..L are nested, outermost first; level l has q_l random effects per group,
b = Lambda_l u with u ~ N(0, s2 I), and every group g has a weight w_g (one at levels
without weights); every observation has a weight w_i. The weighted log likelihood is
(Rabe-Hesketh & Skrondal 2006, JRSS A 169, eq. 3; Pfeffermann et al. 1998, JRSS B 60)

    l = sum_k w_k log int prod_j [int ... prod_i f(y_i | u)^{w_i} ... ]^{w_j} phi(u_k) du_k,

the log likelihood of the data with each observation and each group replicated by its
weight when the weights are frequency weights, the pseudo-log likelihood of survey
sampling for sampling weights.

For the Gaussian model, sum_i w_i log f(y_i | u) is quadratic in (u, beta). With S_g the
weighted cross products sum_i w_i d_i d_i' of the row d_i = [Z_i, X_i, y_i] over a group at
the innermost level, write v = (-Lambda u_g, v_r) (v_r the random effects of the outer levels,
-beta and 1 in the same layout); integrating u_g out of exp(-(u'u + v'S_g v) / (2 s2)) gives
|T_g|^{-1/2} exp(-v_r' R_g v_r / (2 s2)) with (Woodbury; the matrix determinant lemma)

    T_g = I + Lambda' S_aa Lambda,  B_g = chol(T_g)^-1 Lambda' S_ar,  R_g = S_rr - B_g' B_g,

which is again of the same form one level up: the parents' cross products are the weighted
sums sum_g w_g R_g. At the top, R over (X, y) gives the generalized least-squares beta and
r2 = (y - X beta)' V_w^-1 (y - X beta); with N = sum of the products of the weights along
each observation's path and D = sum of every group's log|T_g| times the product of the
weights on its path, the profiled deviance is

    -2 l(theta) = D + N (1 + log(2 pi r2 / N)).

Each evaluation is a batch of q_l x q_l Cholesky factors per level: linear in the groups,
no n x n matrix and no loop over groups.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from statsmodels_me._kernels.lmm_kernels import grouped_cross_products
from statsmodels_me.objectives.lmm_contributions import difference_scores
from statsmodels_me.objectives.lmm_profiled import DevianceObjective


def _t(a):
    """Transpose of each matrix of a stack (G, m, n)."""
    return np.swapaxes(a, 1, 2)


class WeightedLMM(DevianceObjective):
    """Weighted profiled log likelihood of a nested LMM (ML; see the module docstring).

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    terms : list of RETerm
        One per level, outermost first (theta is their concatenation); each level's groups
        nested in the previous level's.
    parents : list of ndarray or None
        ``parents[l]`` (l >= 1): the group, at level l - 1, of each group of level l.
    obs_weights : ndarray (n,)
        Weight of each observation (ones without observation-level weights).
    group_weights : list of ndarray
        Weight of each group of each level (ones at a level without weights).
    bounds : list of (lower, upper), optional
        Box constraints on theta.

    Attributes
    ----------
    total_weight : float
        N, the sum over observations of the product of the weights along their path (the
        number of observations of the replicated data under frequency weights).
    """

    analytic_gradient = True
    exact_hessian = False
    gls_from_kernel = False
    reml = False
    dense_block_size = 0
    #: no least-squares centring (the model's start uses its own)
    center = None

    def __init__(self, y, X, terms, parents, obs_weights, group_weights, bounds=None):
        self.y = np.asarray(y, float)
        self.X = np.asarray(X, float)
        self.n, self.p = self.X.shape
        self.terms = list(terms)
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        self.n_params = self.n_theta
        self.bounds = list(bounds) if bounds is not None else [(None, None)] * self.n_theta
        w = np.asarray(obs_weights, float)
        self.group_weights = [np.asarray(g, float) for g in group_weights]
        self._memo = {}
        self._parents = [None] + [np.asarray(parents[k], np.int64)
                                  for k in range(1, len(self.terms))]
        leaf = self.terms[-1]
        # columns: Z of the innermost level first, then outwards, then X and y, so every
        # level eliminates the leading q_l columns of its groups' cross products
        D = np.hstack([t.Z for t in reversed(self.terms)] + [self.X, self.y[:, None]])
        D = np.ascontiguousarray(D * np.sqrt(w)[:, None])
        self._leaf_cross = grouped_cross_products(
            np.ascontiguousarray(leaf.codes, dtype=np.int64), leaf.n_groups, D,
            np.zeros((self.n, 0)), np.zeros(self.n))[0]
        self._leaf_weight = np.bincount(leaf.codes, weights=w, minlength=leaf.n_groups)
        # weighted sums over the groups of level l into their parents at level l - 1
        self._up = [None] + [
            sp.csr_matrix((self.group_weights[k], (parents[k], np.arange(t.n_groups))),
                          shape=(self.terms[k - 1].n_groups, t.n_groups))
            for k, t in enumerate(self.terms) if k > 0]
        # each row's weight times those of its groups: its count in the replicated data
        row_w = w.copy()
        for t, gw in zip(self.terms, self.group_weights):
            row_w = row_w * gw[t.codes]
        self.row_weights = row_w
        self.total_weight = float(row_w.sum())

    @property
    def m(self):
        """N, the power of r2 in the profiled likelihood."""
        return self.total_weight

    # -- the recursion ---------------------------------------------------------------------
    def lambdas(self, theta):
        """Each level's relative Cholesky factor at ``theta``."""
        return [t.cholesky(theta[t.theta_index]) for t in self.terms]

    def _sweep(self, theta, keep=False, derivatives=False):
        """Integrate the random effects out level by level, innermost first.

        Returns the top-level groups' cross products R over (X, y) (G_1, p+1, p+1), their
        log-determinant sums and observation weights, before their own weights, then the
        derivatives of R and of the log-determinant sums in theta (forward mode, exact:
        with M = Lambda' S_ar and W = T^-1 M, R = S_rr - M'W gives
        dR = dS_rr - dM'W - W'dM + W'dT W and d log|T| = tr(T^-1 dT)) or ``None``, then
        with ``keep`` each level's (chol(T), B) for the conditional modes, outermost first.

        Plain sweeps are remembered (the last 64 thetas): the second differences in
        (beta, theta, s2) behind the sandwich and the standard errors visit each theta
        many times.
        """
        theta = np.asarray(theta, float)
        plain = not keep and not derivatives
        key = theta.tobytes()
        if plain and key in self._memo:
            return self._memo[key]
        out = self._sweep_levels(theta, keep, derivatives)
        if plain:
            if len(self._memo) >= 64:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = out
        return out

    def _sweep_levels(self, theta, keep, derivatives):
        lams = self.lambdas(theta)
        S = self._leaf_cross
        G0 = S.shape[0]
        logdet = np.zeros(G0)
        count = self._leaf_weight
        dS = {}                 # theta index -> dS (G, K, K), only where nonzero
        dld = {}
        kept = []
        for k in range(len(self.terms) - 1, -1, -1):
            term, lam = self.terms[k], lams[k]
            q = term.q
            A, C, E = S[:, :q, :q], S[:, :q, q:], S[:, q:, q:]
            T = lam.T @ A @ lam
            T[:, range(q), range(q)] += 1.0
            L = np.linalg.cholesky(T)
            M = lam.T @ C
            B = np.linalg.solve(L, M)
            R = E - _t(B) @ B
            logdet = logdet + 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
            if keep:
                kept.append((L, B))
            if derivatives:
                W = np.linalg.solve(_t(L), B)
                Tinv = np.linalg.inv(T)
                own = dict(zip(term.theta_index.tolist(),
                               term.d_cholesky(theta[term.theta_index])))
                new_dS, new_dld = {}, {}
                for i in sorted(set(dS) | set(own)):
                    dT = np.zeros_like(T)
                    dM = np.zeros_like(M)
                    dR = np.zeros_like(R)
                    d_ld = dld.get(i, 0.0)
                    if i in dS:
                        dA, dC = dS[i][:, :q, :q], dS[i][:, :q, q:]
                        dT += lam.T @ dA @ lam
                        dM += lam.T @ dC
                        dR += dS[i][:, q:, q:]
                    if i in own:
                        dlam = own[i]
                        dLAL = dlam.T @ A @ lam
                        dT += dLAL + _t(dLAL)
                        dM += dlam.T @ C
                    dMW = _t(dM) @ W
                    dR += _t(W) @ dT @ W - dMW - _t(dMW)
                    new_dS[i] = dR
                    new_dld[i] = d_ld + (Tinv * dT).sum(axis=(1, 2))
                dS, dld = new_dS, new_dld
            if k > 0:
                up = self._up[k]
                r = R.shape[1]
                S = np.asarray(up @ R.reshape(R.shape[0], r * r)).reshape(-1, r, r)
                logdet = up @ logdet
                count = up @ count
                for i in dS:
                    dS[i] = np.asarray(up @ dS[i].reshape(R.shape[0], r * r)).reshape(-1, r, r)
                    dld[i] = up @ dld[i]
            else:
                S = R
        derivs = (dS, dld) if derivatives else None
        return (S, logdet, count, derivs) + ((kept[::-1],) if keep else ())

    def factor(self, theta, derivatives=False):
        """The weighted GLS solution at ``theta``: dict with ``beta``, ``r2``, ``XtX``
        (X' V_w^-1 X relative to s2), ``logdet`` (D) and ``N``; with ``derivatives`` also
        ``dlogdet`` and ``dr2``, the gradients in theta of D and r2."""
        R, logdet, _, derivs = self._sweep(theta, derivatives=derivatives)
        wt = self.group_weights[0]
        S = np.tensordot(wt, R, axes=1)
        p = self.p
        XtX, Xty, yty = S[:p, :p], S[:p, p], S[p, p]
        C = np.linalg.cholesky(XtX)
        gamma = np.linalg.solve(C, Xty)
        beta = np.linalg.solve(C.T, gamma)
        r2 = max(yty - gamma @ gamma, 1e-300)
        f = {"beta": beta, "r2": r2, "XtX": XtX, "logdet": float(wt @ logdet),
             "N": self.total_weight, "theta": np.asarray(theta, float).copy()}
        if derivatives:
            dS, dld = derivs
            v = np.append(-beta, 1.0)
            f["dlogdet"] = np.zeros(self.n_theta)
            f["dr2"] = np.zeros(self.n_theta)
            for i in dS:
                f["dlogdet"][i] = wt @ dld[i]
                f["dr2"][i] = v @ np.tensordot(wt, dS[i], axes=1) @ v
        return f

    # -- the objective protocol (x = theta) -------------------------------------------------
    def deviance_from_factor(self, f):
        N = f["N"]
        return f["logdet"] + N * (1.0 + np.log(2.0 * np.pi * f["r2"] / N))

    def deviance(self, theta):
        """-2 x the profiled weighted log likelihood; ``inf`` where a factor fails."""
        try:
            dev = self.deviance_from_factor(self.factor(theta))
        except np.linalg.LinAlgError:
            return np.inf
        return dev if np.isfinite(dev) else np.inf

    def grad_parts(self, theta):
        """Deviance, r2 and the exact gradients in theta of the deviance's two parts
        (D and r2; the deviance's gradient is dD + (N / r2) dr2), or ``None`` where a
        factor fails."""
        try:
            f = self.factor(theta, derivatives=True)
        except np.linalg.LinAlgError:
            return None
        dev = self.deviance_from_factor(f)
        if not np.isfinite(dev):
            return None
        return dev, f["r2"], f["dlogdet"], f["dr2"]

    def deviance_and_grad(self, theta):
        """Deviance and its exact gradient in theta (``inf`` and zeros where a factor
        fails)."""
        at = self.grad_parts(theta)
        if at is None:
            return np.inf, np.zeros(self.n_theta)
        dev, r2, dld, dr2 = at
        return dev, dld + (self.m / r2) * dr2

    def sigma2(self, f):
        """The weighted ML residual variance r2 / N."""
        return f["r2"] / f["N"]

    def cov_beta(self, f):
        """s2 (X' V_w^-1 X)^-1: the model-based covariance of the fixed effects (the
        replicated data's under frequency weights)."""
        return self.sigma2(f) * np.linalg.inv(f["XtX"])

    def loglike_profile_s2(self, theta, s2, beta=None):
        """Weighted log likelihood at (theta, s2), beta profiled (or held at ``beta``)."""
        f = self.factor(theta)
        r2 = f["r2"]
        if beta is not None:
            d = np.asarray(beta, float) - f["beta"]
            r2 = r2 + d @ f["XtX"] @ d
        return -0.5 * (f["N"] * np.log(2.0 * np.pi * s2) + f["logdet"] + r2 / s2)

    def _top_values(self, theta, beta, s2):
        R, logdet, count, _ = self._sweep(theta)
        v = np.append(-np.asarray(beta, float), 1.0)
        quad = (R @ v) @ v
        ll = -0.5 * (count * np.log(2.0 * np.pi * s2) + logdet + quad / s2)
        return self.group_weights[0] * ll

    def contributions(self, theta, beta, s2, rel_step=1e-5):
        """Per top-level group weighted log likelihood w_k l_k and its scores in
        (beta, theta, s2) by central differences (steps ``rel_step`` of each parameter,
        floored at 1e-2 absolute); they sum to the log likelihood and its gradient."""
        p = len(beta)
        x0 = np.concatenate([beta, theta, [s2]])

        def values(x):
            return self._top_values(x[p:-1], x[:p], x[-1])

        return difference_scores(values, x0, rel_step)

    # -- random effects -------------------------------------------------------------------
    def blups(self, f):
        """Modes of the random effects b = Lambda u under the weighted likelihood at the
        factor's theta and beta, per level (arrays (G_l, q_l)), outermost first.

        Top-down: a group's mode is u = chol(T)^-T B v_r with v_r = (-b of its ancestors,
        -beta, 1), the minimizer of u'u + v'S v at the ancestors' modes.
        """
        kept = self._sweep(f["theta"], keep=True)[4]
        lams = self.lambdas(f["theta"])
        tail = np.append(-f["beta"], 1.0)
        out = []
        for k, (L, B) in enumerate(kept):
            G = L.shape[0]
            parts = [np.broadcast_to(tail, (G, len(tail)))]
            for j in range(k):
                b_j = out[j]
                codes = self._ancestor_codes(k, j)
                parts.insert(0, -b_j[codes])
            v = np.hstack(parts)
            rhs = np.einsum("gir,gr->gi", B, v)
            u = np.linalg.solve(np.transpose(L, (0, 2, 1)), rhs[:, :, None])[:, :, 0]
            out.append(u @ lams[k].T)
        return out

    def _ancestor_codes(self, k, j):
        """The group at level j (< k) of each group of level k."""
        codes = np.arange(self.terms[k].n_groups)
        for m in range(k, j, -1):
            codes = self._parents[m][codes]
        return codes

    def blup_variances(self, f, fixed_uncertainty=False):
        """Var(b_g | y) = s2 Lambda T_g^-1 Lambda' per group of a one-level model (the
        weighted likelihood's conditional variance at the estimated beta).

        Raises
        ------
        NotImplementedError
            With several levels (the conditional variances of inner levels carry those of
            their ancestors) and with ``fixed_uncertainty``.
        """
        if len(self.terms) > 1 or fixed_uncertainty:
            raise NotImplementedError(
                "mixed: standard errors of the predicted random effects (reses) after a "
                "weighted fit are implemented for two-level ML models only")
        L = self._sweep(f["theta"], keep=True)[4][0][0]
        lam = self.lambdas(f["theta"])[0]
        Linv = np.linalg.inv(L)
        Tinv = np.einsum("gji,gjk->gik", Linv, Linv)
        return [self.sigma2(f) * np.einsum("ij,gjk,lk->gil", lam, Tinv, lam)]

    def linear_loglike(self):
        """Weighted ML log likelihood of the linear regression without random effects."""
        w = self.row_weights
        Xw = self.X * w[:, None]
        beta = np.linalg.lstsq(Xw.T @ self.X, Xw.T @ self.y, rcond=None)[0]
        e = self.y - self.X @ beta
        rss = float(w @ (e * e))
        N = self.total_weight
        return -0.5 * N * (1.0 + np.log(2.0 * np.pi * rss / N))
