"""Numerical engine of GLMMs with one grouping level, on plain arrays: marginal log
likelihood and gradient.

Cluster j has random effects b_j = L u_j, u_j ~ N(0, I_q), Sigma = L L'.  The conditional model
is eta = X beta + Z b_j + offset with a family from ``statsmodels_me.families``.  The integral
over u_j is computed cluster by cluster in Cython (``statsmodels_me._kernels.glmm_kernels``).

Typical use from a model class::

    eng = OneLevelGLMM(y, X, Z, groups, "bernoulli", "logit", intmethod="mvaghermite")
    ll, g_beta, g_aux, g_L = eng.loglike_and_grad(beta, aux, L)
    g_sigma = sigma_gradient(L, g_L)          # then sum(g_sigma * dSigma/dtheta_k)
    H = eng.numerical_hessian(beta, aux, L)   # order: beta, aux, L[tril_indices(q)]

For the adaptive rules an optimizer's line search can call ``loglike(..., freeze_grid=True)``
so that the objective and the (fixed-grid) gradient belong to the same formula; re-adapt
between iterations with a normal call.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels import glmm_kernels as _k
from statsmodels_me._kernels.quadrature import METHOD_CODES, check_integration, gh_grid
from statsmodels_me.families.registry import (
    FAMILY_CODES,
    ObsConstant,
    get_family,
    link_code,
    n_aux,
    parameter_arrays,
    response_arrays,
)
from statsmodels_me.spec.errors import DataError

set_num_threads = _k.set_num_threads


def sigma_gradient(L, grad_L):
    """Gradient with respect to Sigma = L L' from the gradient with respect to its Cholesky
    factor (reverse-mode Cholesky, Murray 2016, arXiv:1602.07527).

    Parameters
    ----------
    L : (q, q) lower triangular with positive diagonal.
    grad_L : (q, q) lower triangular, d f / d L_ab.

    Returns
    -------
    G : (q, q) symmetric with df = trace(G dSigma) for symmetric dSigma, so that
        d f / d theta_k = sum(G * dSigma/dtheta_k) (e.g. with ``CovarianceStructure.d_matrix``).
    """
    L = np.asarray(L, float)
    P = np.tril(L.T @ np.tril(grad_L))
    P[np.diag_indices_from(P)] *= 0.5
    Linv = np.linalg.solve(L, np.eye(L.shape[0]))
    G = Linv.T @ P @ Linv
    return 0.5 * (G + G.T)


class OneLevelGLMM:
    """Marginal log likelihood of a GLMM with one grouping level: b_j ~ N(0, Sigma) per
    cluster j.

    Parameters
    ----------
    endog : array_like (n,)
        Response; ordinal responses as integer codes 0..K-1.
    exog : array_like (n, p)
        Fixed-effects design.
    Z : array_like (n, q)
        Random-effects covariates.
    groups : array_like of int (n,)
        Cluster codes 0..G-1 in any order.
    family : str
        "gaussian", "bernoulli", "binomial", "poisson", "nbinomial_mean",
        "nbinomial_constant", "gamma" or "ordinal".
    link : str, optional
        "identity", "log", "logit", "probit" or "cloglog"; Stata's default when None.
    trials : array_like (n,), optional
        Binomial number of trials.
    offset : array_like (n,), optional
        Added to the linear predictor (log exposure for counts).
    intmethod : {"mvaghermite", "mcaghermite", "ghermite", "laplace"}
    intpoints : int
        Gauss-Hermite points per random effect (tensor grid of intpoints**q nodes).
    weights : array_like (n,), optional
        Observation weights: each conditional log density is multiplied by its weight.
    group_weights : array_like (n,), optional
        Cluster weights, on every row (constant within clusters): each cluster's log
        likelihood contribution is multiplied by its weight (pseudo-likelihood, Rabe-Hesketh
        & Skrondal 2006).

    Notes
    -----
    Ancillary parameters ``aux`` are described in ``statsmodels_me.families.registry``.

    The gradient of the Laplace approximation is exact (including the derivative of
    log|H| through the mode).  For the quadrature methods the gradient is that of the quadrature
    formula with the grid held fixed in the standardized u scale at the values the adaptation
    produced for the current parameters; it differs from the derivative of the reported log
    likelihood only through the derivative of the adaptive centre and scale, a term of the order
    of the quadrature error.  ``numerical_grad`` gives central finite differences instead.

    Adaptive state (modes, grid centres and scales) is kept between calls and used as the
    starting point of the next call; results depend on it only at the convergence tolerance.

    Attributes ``tol`` (default 1e-8, on the change of the grid centre and Cholesky scale in
    the u scale) and ``maxiter`` (default 100) control the mvaghermite fixed-point iteration.
    ``maxiter = 1`` gives one adaptive update per call, as Stata does between optimizer
    iterations: the log likelihood is then computed on the grid adapted at the previous
    call's parameters (one quadrature pass per call instead of two or three), so it depends on
    the call history; finish with the default to report the converged value.
    """

    def __init__(self, endog, exog, Z, groups, family, link=None, trials=None, offset=None,
                 intmethod="mvaghermite", intpoints=7, weights=None, group_weights=None):
        fam, link = get_family(family, link)
        intpoints = check_integration(intmethod, intpoints)
        y, t, off = response_arrays(family, endog, trials, offset)
        X = np.asarray(exog, float)
        Zm = np.asarray(Z, float)
        g = np.asarray(groups)
        n = y.shape[0]
        if X.ndim == 1:
            X = X[:, None]
        if Zm.ndim == 1:
            Zm = Zm[:, None]
        if X.shape[0] != n or Zm.shape[0] != n or g.shape[0] != n:
            raise DataError(f"endog has {n} rows but exog has {X.shape[0]}, Z has "
                            f"{Zm.shape[0]} and groups has {g.shape[0]}")
        if n == 0:
            raise DataError("no observations: endog is empty")
        if Zm.shape[1] < 1:
            raise DataError("Z must have at least one column")
        if not np.issubdtype(g.dtype, np.integer) or (n and g.min() < 0):
            raise DataError("groups must be non-negative integer codes 0..G-1")
        order = np.argsort(g, kind="stable")
        self.order = order
        self._gsorted = np.ascontiguousarray(g[order])
        self.family, self.link = family, link
        self.intmethod, self.intpoints = intmethod, intpoints
        self.endog = np.ascontiguousarray(y[order])
        self.exog = np.ascontiguousarray(X[order])
        self.Z = np.ascontiguousarray(Zm[order])
        self.trials = np.ascontiguousarray(t[order])
        self._constant = ObsConstant(self.family, self.endog, self.trials)
        self.offset = np.ascontiguousarray(off[order])
        G = int(g.max()) + 1 if n else 0
        counts = np.bincount(g, minlength=G)
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.n_groups, self.q, self.p = G, self.Z.shape[1], self.exog.shape[1]
        self.k_aux = n_aux(family, y)
        self._fam, self._link = FAMILY_CODES[fam.name], link_code(link)
        if intmethod == "mcaghermite" and intpoints == 1:
            intmethod = "laplace"  # identical formula; use the exact Laplace gradient
        self._method = METHOD_CODES[intmethod]
        if intmethod == "laplace":
            self._nodes, self._logw = np.zeros((1, self.q)), np.zeros(1)
        else:
            self._nodes, self._logw = gh_grid(intpoints, self.q)
        q = self.q
        self._mode = np.zeros((G, q))
        self._center = np.zeros((G, q))
        self._chol = np.tile(np.eye(q), (G, 1, 1))
        self._pmean = np.zeros((G, q))
        self._pcov = np.zeros((G, q, q))
        self._status = np.zeros(G, np.intc)
        self._warm = False
        self._last_L = None
        self.tol, self.maxiter = 1e-8, 100
        self._work = (np.empty(n), np.empty((n, q)), np.empty(n), np.empty((n, q)))
        # Laplace: (l', l'', eta) per observation at the stored modes, to predict the next
        self._prev, self._pvalid = np.empty((n, 3)), np.zeros(G, np.intc)
        self._set_weights(weights, group_weights, order)

    def _set_weights(self, weights, group_weights, order):
        """Sorted observation weights (length 0: none) and the cluster weights (G,)."""
        n, G = len(order), self.n_groups
        w = np.zeros(0) if weights is None else np.asarray(weights, float)
        if w.size and w.shape != (n,):
            raise DataError(f"weights has {w.size} entries for {n} observations")
        #: observation weights in the engine's row order (length 0: unweighted)
        self.weights = np.ascontiguousarray(w[order]) if w.size else w
        self.cluster_weights = None
        if group_weights is not None:
            gw = np.asarray(group_weights, float)
            if gw.shape != (n,):
                raise DataError(f"group_weights has {gw.size} entries for {n} observations")
            cw = np.zeros(G)
            cw[self._gsorted] = gw[order]
            #: cluster weights (G,) in code order (None: unweighted)
            self.cluster_weights = cw
        # total weight of every sorted row (observation times cluster weight), for the terms
        # the kernels do not see (``obs_constant``)
        tot = self.weights if self.weights.size else None
        if self.cluster_weights is not None:
            cwr = self.cluster_weights[self._gsorted]
            tot = cwr if tot is None else tot * cwr
        self._row_weight = tot

    @property
    def group_weights_rows(self):
        """The cluster weights on every row in the engine's row order (None: none)."""
        cw = self.cluster_weights
        return None if cw is None else cw[self._gsorted]

    @property
    def weighted(self):
        """Whether the likelihood is weighted (observation or cluster weights)."""
        return self._row_weight is not None

    def _weighted_pieces(self, ll, c, dc, gaux, r, s, want_grad):
        """Apply the cluster weights to the kernel's per-cluster and per-row pieces (in
        place) and the total row weights to the constant terms; returns the weighted
        ``(c, dc)``."""
        if self._row_weight is None:
            return c, dc
        c = c * self._row_weight
        dc = dc * self._row_weight[:, None]
        cw = self.cluster_weights
        if cw is None:
            return c, dc
        ll *= cw
        if want_grad:
            cwr = cw[self._gsorted]
            r *= cwr
            s *= cwr[:, None]
            gaux *= cw[:, None]
        return c, dc

    # ------------------------------------------------------------------ core pass
    def _check(self, beta, aux, L):
        beta, aux = parameter_arrays(beta, aux, self.p, self.k_aux)
        L = np.ascontiguousarray(L, float).reshape(self.q, self.q)
        return beta, aux, np.tril(L)

    def _pass(self, beta, aux, L, want_grad, update=True, method=None, state=None,
              clusters=False):
        beta, aux, L = self._check(beta, aux, L)
        method = self._method if method is None else method
        nodes, logw = (self._nodes, self._logw) if method != 3 else (
            np.zeros((1, self.q)), np.zeros(1))
        G = self.n_groups
        # work arrays of n rows are kept between passes: fresh ones cost page faults
        eta0, A, r, s = self._work
        np.matmul(self.exog, beta, out=eta0)
        eta0 += self.offset
        np.matmul(self.Z, L, out=A)
        ll = np.empty(G)
        gaux = np.zeros((G if want_grad else 1, self.k_aux))
        mode, center, chol = state if state is not None else (
            self._mode, self._center, self._chol)
        warm = self._warm if state is None else True
        if warm and update and state is None:
            self._carry_state(L)
        prev = self._prev if state is None and method == 3 else None

        def run(warm):
            gaux[:] = 0.0
            _k.cluster_pass(self.endog, self.trials, eta0, A, aux, self._fam, self._link,
                            self.ptr, nodes, logw, method, mode, center, chol, self._pmean,
                            self._pcov, ll, r, s, gaux, self._status, warm=warm,
                            want_grad=want_grad, update=update, tol=self.tol,
                            maxiter=self.maxiter, prev=prev, pvalid=self._pvalid,
                            weights=self.weights)
        run(warm)
        if warm and update and np.any(self._status != 0):
            # a grid warm-started far from its new posterior can fail to adapt (status 1-3);
            # the cold start (mode search from u = 0) recovers it
            run(False)
        if state is None:
            self._warm = True
            self._last_L = L
        c, dc = self._constant(aux)
        c, dc = self._weighted_pieces(ll, c, dc, gaux, r, s, want_grad)
        llf = ll.sum() + c.sum()
        if not want_grad:
            return llf, ll, c
        if clusters:
            return self._cluster_gradients(ll, c, dc, gaux, r, s)
        gb = self.exog.T @ r
        gL = np.tril(self.Z.T @ s)
        ga = gaux.sum(0) + dc.sum(0)
        return llf, gb, ga, gL

    def _cluster_gradients(self, ll, c, dc, gaux, r, s):
        """Per-cluster values and gradients from one pass's per-observation pieces."""
        G, g, q = self.n_groups, self._gsorted, self.q
        values = ll + np.bincount(g, weights=c, minlength=G)
        gb = np.zeros((G, self.p))
        np.add.at(gb, g, self.exog * r[:, None])
        ga = gaux + (np.zeros((G, 0)) if not self.k_aux else
                     np.stack([np.bincount(g, weights=dc[:, j], minlength=G)
                               for j in range(self.k_aux)], axis=1))
        zs = np.zeros((G, q, q))
        np.add.at(zs, g, self.Z[:, :, None] * s[:, None, :])
        return values, gb, ga, np.tril(zs)

    def _carry_state(self, L):
        """Re-express the stored modes and grids for a new L so that they describe the same
        random effects b = L u (a much better start for Newton and the grid iteration when an
        optimizer changes the variance components)."""
        L0 = self._last_L
        if L0 is None or np.array_equal(L0, L):
            return
        d = np.abs(np.diag(L))
        if d.min() <= 1e-8 * max(d.max(), 1e-300):
            return
        T = np.linalg.solve(L, L0)  # u_new = T u_old
        self._mode[...] = self._mode @ T.T
        self._center[...] = self._center @ T.T
        if self._method == 2:
            M = T @ self._chol
            V = M @ np.swapaxes(M, 1, 2)
            try:
                self._chol[...] = np.linalg.cholesky(V)
            except np.linalg.LinAlgError:
                self._warm = False

    # ------------------------------------------------------------------ public API
    def loglike(self, beta, aux, L, freeze_grid=False):
        """Marginal log likelihood at (beta, aux, L).

        Parameters
        ----------
        beta : (p,) fixed effects.
        aux : (k_aux,) ancillary parameters.
        L : (q, q) lower Cholesky factor of Sigma (upper triangle ignored).
        freeze_grid : bool
            Reuse the adaptive grids of the previous call instead of re-adapting them.
        """
        llf = self._pass(beta, aux, L, False, update=not freeze_grid)[0]
        return float(llf)

    def loglike_clusters(self, beta, aux, L):
        """Per-cluster log likelihood contributions (G,) in cluster-code order."""
        _, ll, c = self._pass(beta, aux, L, False)
        return ll + np.bincount(self._gsorted, weights=c, minlength=self.n_groups)

    def loglike_and_grad_clusters(self, beta, aux, L):
        """Per-cluster log likelihoods and gradients (one pass, as :meth:`loglike_and_grad`).

        Returns
        -------
        values : (G,)
        grad_beta : (G, p)
        grad_aux : (G, k_aux)
        grad_L : (G, q, q) lower triangular.
        """
        return self._pass(beta, aux, L, True, clusters=True)

    def loglike_and_grad(self, beta, aux, L, freeze_grid=False):
        """Log likelihood and its gradient (see the class Notes for what is exact).

        Returns
        -------
        llf : float
        grad_beta : (p,)
        grad_aux : (k_aux,)
        grad_L : (q, q) lower triangular, d llf / d L_ab for a >= b.
        """
        llf, gb, ga, gL = self._pass(beta, aux, L, True, update=not freeze_grid)
        return float(llf), gb, ga, gL

    def numerical_grad(self, beta, aux, L, h=1e-5):
        """Central finite-difference gradient of ``loglike`` in (beta, aux, lower L)."""
        beta, aux, L = self._check(beta, aux, L)

        def f(b, a, LL):
            return self.loglike(b, a, LL)

        gb = np.array([(f(beta + h * e, aux, L) - f(beta - h * e, aux, L)) / (2 * h)
                       for e in np.eye(self.p)])
        ga = np.array([(f(beta, aux + h * e, L) - f(beta, aux - h * e, L)) / (2 * h)
                       for e in np.eye(self.k_aux)]) if self.k_aux else np.zeros(0)
        gL = np.zeros((self.q, self.q))
        for a, b in zip(*np.tril_indices(self.q), strict=True):
            E = np.zeros((self.q, self.q))
            E[a, b] = h
            gL[a, b] = (f(beta, aux, L + E) - f(beta, aux, L - E)) / (2 * h)
        return gb, ga, gL

    def numerical_hessian(self, beta, aux, L, h=1e-5):
        """Hessian of the log likelihood by central differences of the analytic gradient.

        Parameters are stacked as ``[beta, aux, L[tril_indices(q)]]`` (row-major lower
        triangle).  For the adaptive rules the grid is adapted once at (beta, aux, L) and then
        frozen, so this is the Hessian of the quadrature formula the gradient belongs to.

        Returns
        -------
        H : (k, k) symmetric matrix.
        """
        beta, aux, L = self._check(beta, aux, L)
        rows, cols = np.tril_indices(self.q)
        x0 = np.concatenate([beta, aux, L[rows, cols]])
        p, k = self.p, self.k_aux
        freeze = self._method in (1, 2)
        self._pass(beta, aux, L, False)

        def grad(x):
            LL = np.zeros((self.q, self.q))
            LL[rows, cols] = x[p + k:]
            _, gb, ga, gL = self._pass(x[:p], x[p:p + k], LL, True, update=not freeze)
            return np.concatenate([gb, ga, gL[rows, cols]])

        H = np.empty((x0.size, x0.size))
        for i in range(x0.size):
            e = np.zeros(x0.size)
            e[i] = h
            H[:, i] = (grad(x0 + e) - grad(x0 - e)) / (2 * h)
        self._pass(beta, aux, L, False)  # leave the adaptive state at (beta, aux, L)
        return 0.5 * (H + H.T)

    def ebmeans(self, beta, aux, L):
        """Empirical Bayes posterior means and covariances of b_j, computed by the quadrature
        of ``intmethod`` (Laplace: the mode and the inverse curvature).

        Returns
        -------
        means : (G, q)
        covs : (G, q, q)
        """
        beta, aux, L = self._check(beta, aux, L)
        self._pass(beta, aux, L, False)
        return self._pmean @ L.T, L @ self._pcov @ L.T

    def ebmodes(self, beta, aux, L):
        """Posterior modes of b_j and L H^-1 L' (H: curvature at the mode in the u scale)."""
        beta, aux, L = self._check(beta, aux, L)
        state = (self._mode.copy(), self._center.copy(), self._chol.copy())
        self._pass(beta, aux, L, False, method=3, state=state)
        return state[0] @ L.T, L @ self._pcov @ L.T

    @property
    def sorted_groups(self):
        """Cluster code of every row in the engine's (sorted) row order."""
        return self._gsorted

    def reset_warm_start(self):
        """Start the next pass cold: modes from 0, adaptive grids re-adapted from scratch
        (a warm start carried over from a distant parameter point can leave them stuck)."""
        self._warm = False

    @property
    def status(self):
        """Per-cluster status of the last call: 0 ok, 1 mode or curvature failure,
        2 posterior covariance not positive definite, 3 adaptation did not converge."""
        return self._status.copy()
