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

Each evaluation is one pass of ``_kernels/lmm_weighted_kernels.pyx`` per level (a q_l x q_l
Cholesky factor per group, the weighted sums into the parents in the same pass): linear in
the groups, no n x n matrix and no Python loop over groups.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.lmm_kernels import grouped_cross_products
from statsmodels_me._kernels.lmm_weighted_kernels import weighted_level_sweep
from statsmodels_me.objectives.lmm_contributions import difference_scores
from statsmodels_me.objectives.lmm_profiled import DevianceObjective


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
        # (terms on the absolute scale share the residual variance's entry)
        self.n_theta = 1 + max((int(t.theta_index.max()) for t in self.terms
                                if len(t.theta_index)), default=-1)
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
        # each top-level group's sum of its rows' weights times those of its inner groups
        count = np.bincount(leaf.codes, weights=w, minlength=leaf.n_groups)
        for k in range(len(self.terms) - 1, 0, -1):
            count = np.bincount(self._parents[k], weights=self.group_weights[k] * count,
                                minlength=self.terms[k - 1].n_groups)
        self._top_count = count
        # the top level's groups kept apart (per-cluster contributions) or summed
        self._identity = np.arange(self.terms[0].n_groups, dtype=np.int64)
        self._ones = np.ones(self.terms[0].n_groups)
        self._zeros = np.zeros(self.terms[0].n_groups, dtype=np.int64)
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

    def _sweep(self, theta, keep=False, derivatives=False, per_group=False):
        """Integrate the random effects out level by level, innermost first.

        Returns the top-level groups' cross products R over (X, y) (G_1, p+1, p+1), their
        log-determinant sums and observation weights, before their own weights (with
        ``per_group``; otherwise their sums weighted by the top-level weights, one group
        (1, p+1, p+1)), then the
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
        key = (theta.tobytes(), per_group)
        if plain and key in self._memo:
            return self._memo[key]
        out = self._sweep_levels(theta, keep, derivatives, per_group)
        if plain:
            if len(self._memo) >= 64:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = out
        return out

    def _sweep_levels(self, theta, keep, derivatives, per_group):
        S = self._leaf_cross
        G = S.shape[0]
        logdet = np.zeros(G)
        dS = np.zeros((0, G) + S.shape[1:])
        dld = np.zeros((0, G))
        index = []             # theta entry of each row of dS and dld
        kept = []
        for k in range(len(self.terms) - 1, -1, -1):
            term = self.terms[k]
            th = theta[term.theta_index]
            lam = np.ascontiguousarray(term.cholesky(th), dtype=float)
            if derivatives:
                own = term.theta_index.tolist()
                dlam = np.ascontiguousarray(term.d_cholesky(th), dtype=float)
                out = sorted(set(index) | set(own))
                in_pos = np.array([index.index(i) if i in index else -1 for i in out],
                                  np.int64)
                own_pos = np.array([own.index(i) if i in own else -1 for i in out],
                                   np.int64)
            else:
                out = []
                dlam = np.zeros((0, term.q, term.q))
                in_pos = own_pos = np.zeros(0, np.int64)
            if k > 0:
                parent, weight = self._parents[k], self.group_weights[k]
                n_parent = self.terms[k - 1].n_groups
            elif per_group:
                parent, weight = self._identity, self._ones
                n_parent = term.n_groups
            else:
                parent, weight = self._zeros, self.group_weights[0]
                n_parent = 1
            S, logdet, dS, dld, L, B, ok = weighted_level_sweep(
                S, lam, logdet, dS, dld, dlam, in_pos, own_pos, parent, weight, n_parent,
                keep)
            if not ok:
                raise np.linalg.LinAlgError(
                    "mixed: weighted likelihood: a random-effects factor is not positive "
                    "definite")
            index = out
            if keep:
                kept.append((L, B))
        derivs = (dict(zip(index, dS)), dict(zip(index, dld))) if derivatives else None
        count = self._top_count if per_group else np.array([self.total_weight])
        return (S, logdet, count, derivs) + ((kept[::-1],) if keep else ())

    def factor(self, theta, derivatives=False):
        """The weighted GLS solution at ``theta``: dict with ``beta``, ``r2``, ``XtX``
        (X' V_w^-1 X relative to s2), ``logdet`` (D) and ``N``; with ``derivatives`` also
        ``dlogdet`` and ``dr2``, the gradients in theta of D and r2."""
        R, logdet, _, derivs = self._sweep(theta, derivatives=derivatives)
        S = R[0]
        p = self.p
        XtX, Xty, yty = S[:p, :p], S[:p, p], S[p, p]
        C = np.linalg.cholesky(XtX)
        gamma = np.linalg.solve(C, Xty)
        beta = np.linalg.solve(C.T, gamma)
        r2 = max(yty - gamma @ gamma, 1e-300)
        f = {"beta": beta, "r2": r2, "XtX": XtX, "logdet": float(logdet[0]),
             "N": self.total_weight, "theta": np.asarray(theta, float).copy()}
        if derivatives:
            dS, dld = derivs
            v = np.append(-beta, 1.0)
            f["dlogdet"] = np.zeros(self.n_theta)
            f["dr2"] = np.zeros(self.n_theta)
            for i in dS:
                f["dlogdet"][i] = dld[i][0]
                f["dr2"][i] = v @ dS[i][0] @ v
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
        """The weighted ML residual variance r2 / N, or ``f["s2"]`` when the caller set it
        (a covariance fixed on the absolute scale estimates it directly)."""
        if "s2" in f:
            return f["s2"]
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
        R, logdet, count, _ = self._sweep(theta, per_group=True)
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

    def absolute_view(self):
        """This objective as the sandwich of a ``covariance(fixed())`` model sees it: see
        :class:`AbsoluteScaleView`."""
        return AbsoluteScaleView(self)

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


class AbsoluteScaleView:
    """A weighted objective whose terms are on the absolute scale (their factors read the
    residual variance s2 as the last entry of the parameter vector), with theta and s2
    given apart, as :func:`~statsmodels_me.models.lmm_inference.robust_covariance` passes
    them: each call appends s2 to theta.

    Parameters
    ----------
    objective : WeightedLMM
    """

    def __init__(self, objective):
        self.objective = objective

    def loglike_profile_s2(self, theta, s2, beta=None):
        """Weighted log likelihood at (theta, s2), beta profiled (or held at ``beta``)."""
        return self.objective.loglike_profile_s2(np.append(theta, s2), s2, beta=beta)

    def contributions(self, theta, beta, s2, rel_step=1e-5):
        """Per top-level group weighted log likelihood and its scores in (beta, theta, s2)
        by central differences (as :meth:`WeightedLMM.contributions`); s2 moves the
        factors too."""
        p = len(beta)
        x0 = np.concatenate([beta, theta, [s2]])
        obj = self.objective

        def values(x):
            return obj._top_values(np.append(x[p:-1], x[-1]), x[:p], x[-1])

        return difference_scores(values, x0, rel_step)
