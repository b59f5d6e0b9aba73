"""Numerical engine of multilevel (nested) GLMMs on plain arrays: marginal log likelihood.

Level k (0 = outermost) has q_k random effects per group, b_g = L_k u_g with u_g ~ N(0, I).
The conditional model is eta = X beta + offset + sum_k Z_k b_{g_k}, with a family from
``statsmodels_me.families``.  Each top-level cluster is integrated in Cython
(``statsmodels_me._kernels.nested_kernels``): a joint Laplace approximation whose
block-arrow Hessian is eliminated from the leaves up, or nested (adaptive) Gauss-Hermite
quadrature (Rabe-Hesketh, Skrondal & Pickles 2005).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import block_diag

from statsmodels_me._kernels import glmm_kernels as _gk
from statsmodels_me._kernels import nested_kernels as _nk
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
from statsmodels_me.spec.errors import DataError, SpecificationError


def nesting_order(codes):
    """Sort rows by the nesting path and renumber the groups of every level.

    Parameters
    ----------
    codes : list of (n,) integer arrays, outermost level first.

    Returns
    -------
    order : (n,) row permutation (stable within groups).
    gidx : (n, D) group of every sorted row at every level, 0..G_k-1 in sorted order.

    Raises
    ------
    DataError
        When a group of an inner level spans several groups of the level before it.
    """
    codes = [np.asarray(c, np.int64) for c in codes]
    order = np.lexsort(tuple(c for c in codes[::-1]))
    n, D = len(order), len(codes)
    gidx = np.empty((n, D), np.intp)
    change = np.zeros(n, bool)
    for k, c in enumerate(codes):
        cs = c[order]
        change = change.copy()
        change[1:] |= cs[1:] != cs[:-1]
        if n:
            change[0] = True
        runs = np.cumsum(change) - 1
        if n and runs[-1] + 1 != len(np.unique(cs)):
            raise DataError(f"level {k + 1} is not nested in the level before it: some of "
                            "its groups occur in several outer groups")
        gidx[:, k] = runs
    return order, gidx


def _sorted_weights(weights, level_weights, order, first):
    """The weights of :class:`NestedGLMM` in its sorted row order.

    ``first[k]`` is the first sorted row of every group of level k.  Returns the row weights
    (length 0: none), the group weights of every level (None: none), the inner levels'
    weights concatenated with their offsets (``nested_pass``'s ``level_weights``, ``lwoff``)
    and the total weight of every row (None: unweighted).
    """
    n, D = len(order), len(first)
    w = np.zeros(0) if weights is None else np.asarray(weights, float)
    if w.size and w.shape != (n,):
        raise DataError(f"weights has {w.size} entries for {n} observations")
    rows = np.ascontiguousarray(w[order]) if w.size else w
    level_weights = list(level_weights or [None] * D)
    if len(level_weights) != D:
        raise DataError("level_weights needs one entry (or None) per level")
    groups = [None] * D
    tot = rows.copy() if w.size else None
    for k, lw in enumerate(level_weights):
        if lw is None:
            continue
        lw = np.asarray(lw, float)
        if lw.shape != (n,):
            raise DataError(f"level_weights[{k}] has {lw.size} entries for {n} rows")
        ws = lw[order]
        groups[k] = np.ascontiguousarray(ws[first[k]])
        tot = ws if tot is None else tot * ws
    inner = [g if k else None for k, g in enumerate(groups)]
    if not any(g is not None for g in inner):
        return rows, groups, np.zeros(0), None, tot
    sizes = [0 if g is None else len(g) for g in inner]
    starts = np.cumsum([0] + sizes)[:-1]
    flat = np.ascontiguousarray(np.concatenate([g for g in inner if g is not None]))
    offsets = np.array([st if g is not None else -1 for st, g in zip(starts, inner, strict=True)],
                       np.intp)
    return rows, groups, flat, offsets, tot


class NestedGLMM:
    """Marginal log likelihood of a GLMM with nested random effects.

    Parameters
    ----------
    endog : (n,) response; ordinal responses as codes 0..K-1.
    exog : (n, p) fixed-effects design.
    Zs : list of (n, q_k) arrays, the random-effects covariates of each level (outermost
        first).
    codes : list of (n,) integer arrays, the group of each row at each level; inner groups
        must be nested in outer ones (distinct codes across outer groups).
    family, link : as in :class:`statsmodels_me.objectives.glmm_one_level_engine.OneLevelGLMM`.
    trials, offset : optional (n,) arrays.
    intmethod : {"laplace", "ghermite", "mcaghermite", "mvaghermite"}
    intpoints : int
        Gauss-Hermite points per random effect at every level.
    weights : (n,) array, optional
        Row weights: each conditional log density is multiplied by its weight.
    level_weights : list of ((n,) array or None), optional
        Per level (outermost first), the weight of each row's group (constant within
        groups): a group's log likelihood contribution within its parent's integrand is
        multiplied by its weight (pseudo-likelihood, Rabe-Hesketh & Skrondal 2006).  With
        inner level weights the Laplace approximation is that of the data with every inner
        group replicated w times (its copies share their mode; see ``nested_kernels``),
        equal to the replicated data's for integer weights.

    Notes
    -----
    The covariance parameter is one lower-triangular ``L`` of size Q = sum q_k, block
    diagonal with the levels' Cholesky factors (entries outside the blocks are ignored).
    ``loglike_and_grad`` is exact for the Laplace approximation; for the quadrature methods it
    is the gradient with the adaptive grids held fixed (see its docstring).
    """

    def __init__(self, endog, exog, Zs, codes, family, link=None, trials=None, offset=None,
                 intmethod="mvaghermite", intpoints=7, weights=None, level_weights=None):
        fam, link = get_family(family, link)
        intpoints = check_integration(intmethod, intpoints)
        y, t, off = response_arrays(family, endog, trials, offset)
        n = y.shape[0]
        X = np.asarray(exog, float).reshape(n, -1)
        Zs = [np.asarray(Z, float).reshape(n, -1) for Z in Zs]
        if len(Zs) != len(codes) or len(Zs) < 1:
            raise DataError("one Z matrix and one code array per level are needed")
        order, gidx = nesting_order(codes)
        self.order = order
        self.family, self.link = family, link
        self.intmethod, self.intpoints = intmethod, intpoints
        self.endog = np.ascontiguousarray(y[order])
        self.exog = np.ascontiguousarray(X[order])
        self.trials = np.ascontiguousarray(t[order])
        self._constant = ObsConstant(self.family, self.endog, self.trials)
        self.offset = np.ascontiguousarray(off[order])
        self.Zs = [np.ascontiguousarray(Z[order]) for Z in Zs]
        self._codes_sorted = [np.asarray(c)[order] for c in codes]
        self.Z = np.ascontiguousarray(np.hstack(self.Zs))
        qs = [Z.shape[1] for Z in Zs]
        self._block_mask = np.tril(block_diag(*[np.ones((q, q)) for q in qs]))
        self.gidx = np.ascontiguousarray(gidx)
        self.qs = np.array([Z.shape[1] for Z in Zs], np.intc)
        self.q = int(self.qs.sum())
        self.p = X.shape[1]
        self.D = len(Zs)
        self.k_aux = n_aux(family, y)
        self._fam, self._link = FAMILY_CODES[fam.name], link_code(link)
        self._build_tree()
        self._method = METHOD_CODES[intmethod]
        if intmethod == "mcaghermite" and intpoints == 1:
            self._method = METHOD_CODES["laplace"]
        self._build_grids()
        self._set_weights(weights, level_weights, order)
        # nthreads None: the package setting (glmm_one_level_engine.set_num_threads)
        self.tol, self.maxiter, self.nthreads = 1e-8, 100, None
        self._warmed = False

    # ------------------------------------------------------------------ setup
    def _build_tree(self):
        D, gidx = self.D, self.gidx
        self.n_groups = [int(gidx[:, k].max()) + 1 if len(gidx) else 0 for k in range(D)]
        rowptr, childptr, parent = [], [], []
        for k in range(D):
            G = self.n_groups[k]
            rowptr.append(np.searchsorted(gidx[:, k], np.arange(G + 1)).astype(np.intp))
            first = rowptr[k][:-1]
            parent.append(gidx[first, k - 1] if k else np.zeros(G, np.intp))
        for k in range(D - 1):
            childptr.append(np.searchsorted(parent[k + 1], np.arange(self.n_groups[k] + 1))
                            .astype(np.intp))

        def flat(parts):
            off = np.cumsum([0] + [len(p) for p in parts])[:-1].astype(np.intp)
            arr = np.concatenate(parts).astype(np.intp) if parts else np.zeros(1, np.intp)
            return np.ascontiguousarray(arr), np.ascontiguousarray(off)

        self._rowptr, self._rowoff = flat(rowptr)
        self._childptr, self._childoff = flat(childptr or [np.zeros(1, np.intp)])
        self._parent, self._parentoff = flat(parent)
        self.parents = parent
        self.ptr = rowptr[-1]  # row boundaries of the innermost groups
        Gtot = sum(self.n_groups)
        Q = self.q
        self._umode = np.zeros((Gtot, Q))
        self._work = np.zeros((Gtot, 4 * Q + 4 * Q * Q))

    def _build_grids(self):
        D = self.D
        quad = self._method != METHOD_CODES["laplace"]
        nodes, logw, K = [], [], []
        for k in range(D):
            if quad:
                z, lw = gh_grid(self.intpoints, int(self.qs[k]))
            else:
                z, lw = np.zeros((1, int(self.qs[k]))), np.zeros(1)
            nodes.append(z.ravel())
            logw.append(lw)
            K.append(len(lw))
        self._K = np.array(K, np.intc)
        self._nodes = np.ascontiguousarray(np.concatenate(nodes))
        self._nodeoff = np.cumsum([0] + [len(z) for z in nodes])[:-1].astype(np.intp)
        self._logw = np.ascontiguousarray(np.concatenate(logw))
        self._logwoff = np.cumsum([0] + [len(w) for w in logw])[:-1].astype(np.intp)
        slots = np.concatenate([[1], np.cumprod(K)[:-1]]).astype(np.int64)
        nslot = [int(self.n_groups[k] * slots[k]) for k in range(D)]
        if quad and sum(nslot) > 5e7:
            raise SpecificationError(
                f"intpoints({self.intpoints}) with {D} levels needs adaptive grids for "
                f"{sum(nslot)} (group, outer node) pairs; use fewer points or laplace")
        qs = [int(q) for q in self.qs]
        self._hoff = np.cumsum([0] + nslot)[:-1].astype(np.intp)
        self._coff = np.cumsum([0] + [s * q for s, q in zip(nslot, qs, strict=True)])[:-1] \
            .astype(np.intp)
        self._Coff = np.cumsum([0] + [s * q * q for s, q in zip(nslot, qs, strict=True)])[:-1] \
            .astype(np.intp)
        self._center = np.zeros(max(sum(s * q for s, q in zip(nslot, qs, strict=True)), 1))
        self._chol = np.zeros(max(sum(s * q * q for s, q in zip(nslot, qs, strict=True)), 1))
        self._have = np.zeros(max(sum(nslot), 1), np.intc)
        self._status = np.zeros(max(self.n_groups[0], 1), np.intc)

    def _set_weights(self, weights, level_weights, order):
        """Sorted row weights (length 0: none), per level the group weights (G_k,) in the
        engine's group order (None: none), the inner levels' weights as the kernel takes
        them, and the total weight of every row."""
        first = [self._rowptr[self._rowoff[k]:self._rowoff[k] + self.n_groups[k]]
                 for k in range(self.D)]
        (self.weights, self.group_weights, self._lw, self._lwoff,
         self._row_weight) = _sorted_weights(weights, level_weights, order, first)
        top = self.group_weights[0]
        self._top_rows = None if top is None else top[self.gidx[:, 0]]

    @property
    def weighted(self):
        """Whether the likelihood is weighted (row or group weights)."""
        return self._row_weight is not None

    def level_weight_rows(self):
        """The group weights of every level on the engine's rows (None where a level has
        none), for an engine built on the same sorted data."""
        return [None if g is None else g[self.gidx[:, k]]
                for k, g in enumerate(self.group_weights)]

    def _weighted_constant(self, aux):
        """``obs_constant`` with the total row weights applied."""
        c, dc = self._constant(aux)
        if self._row_weight is None:
            return c, dc
        return c * self._row_weight, dc * self._row_weight[:, None]

    def _top_weighted(self, ll, grad):
        """The top level's weights on the per-cluster values and gradient pieces (in
        place)."""
        top = self.group_weights[0]
        if top is None:
            return
        ll *= top
        if grad:
            grad["r"] *= self._top_rows
            grad["S"] *= self._top_rows[:, None]
            grad["gaux"] *= top[:, None]

    # ------------------------------------------------------------------ core pass
    def _check(self, beta, aux, L):
        beta, aux = parameter_arrays(beta, aux, self.p, self.k_aux)
        L = np.asarray(L, float).reshape(self.q, self.q)
        blocks, o = [], 0
        for q in self.qs:
            blocks.append(np.tril(L[o:o + q, o:o + q]))
            o += q
        return beta, aux, block_diag(*blocks)

    def _cluster_ll(self, beta, aux, L, update=True, grad=None, post=None):
        eta0 = np.ascontiguousarray(self.exog @ beta + self.offset)
        A = np.ascontiguousarray(self.Z @ L)
        ll = np.empty(self.n_groups[0])
        extra = {}
        if post is not None:
            extra.update(post)
        if grad is not None:
            n = len(self.endog)
            grad.update(r=np.zeros(n), S=np.zeros((n, self.q)),
                        gaux=np.zeros((self.n_groups[0], self.k_aux)))
            extra.update(want_grad=True, rowwork=np.empty((n, 4)), **grad)
            if self._method != METHOD_CODES["laplace"] and post is None:
                extra.update(self._post_arrays())
        _nk.nested_pass(self.endog, self.trials, eta0, A, aux, self._fam, self._link,
                        self.qs, self._rowptr, self._rowoff, self._childptr, self._childoff,
                        self._parent, self._parentoff, self.gidx, self._K, self._nodes,
                        self._nodeoff, self._logw, self._logwoff, self._center, self._chol,
                        self._have, self._coff, self._Coff, self._hoff, self._method,
                        update, self._umode, self._work, ll, self._status, tol=self.tol,
                        maxiter=self.maxiter,
                        nthreads=self.nthreads or _gk.get_num_threads(), weights=self.weights,
                        level_weights=self._lw, lwoff=self._lwoff, **extra)
        self._warmed = True
        self._top_weighted(ll, grad)
        return ll

    @property
    def _warm(self):
        """Whether the modes and grids hold a previous pass (warm start); setting False
        restarts the next pass cold (modes at 0, grids re-adapted)."""
        return self._warmed

    @_warm.setter
    def _warm(self, value):
        if not value:
            self._umode[:] = 0.0
            self._have[:] = 0
        self._warmed = bool(value)

    def _post_arrays(self):
        """Buffers in which a quadrature pass records, per (group, slot), the posterior mean
        and covariance of u_g and the posterior weights of the group's nodes."""
        K = [int(k) for k in self._K]
        slots = np.concatenate([[1], np.cumprod(K)[:-1]]).astype(np.int64)
        sizes = [int(self.n_groups[k] * slots[k] * K[k]) for k in range(self.D)]
        return dict(post_m=np.zeros_like(self._center), post_v=np.zeros_like(self._chol),
                    post_w=np.zeros(max(sum(sizes), 1)),
                    woff=np.cumsum([0] + sizes)[:-1].astype(np.intp))

    def _fixed_values(self, beta, aux):
        """The kernel's family values at L = 0 (value, three eta-derivatives and the
        aux-derivatives per row), times the total row weights."""
        eta = np.ascontiguousarray(self.exog @ beta + self.offset)
        out = _gk.family_values(self._fam, self._link, self.endog, self.trials, eta, aux)
        if self._row_weight is None:
            return out
        w = self._row_weight
        return tuple(v * w for v in out[:4]) + (out[4] * w[:, None],)

    # ------------------------------------------------------------------ public API
    def loglike(self, beta, aux, L, freeze_grid=False):
        """Marginal log likelihood at (beta, aux, L).

        Parameters
        ----------
        beta : (p,) fixed effects.
        aux : (k_aux,) ancillary parameters.
        L : (Q, Q) block-diagonal lower Cholesky factor of the levels' covariances.
        freeze_grid : bool
            Reuse the adaptive grids of the previous call where they exist.
        """
        beta, aux, L = self._check(beta, aux, L)
        c, _ = self._weighted_constant(aux)
        if not np.any(L):
            return float(self._fixed_values(beta, aux)[0].sum() + c.sum())
        ll = self._cluster_ll(beta, aux, L, update=not freeze_grid)
        return float(ll.sum() + c.sum())

    def loglike_clusters(self, beta, aux, L):
        """Log likelihood contributions of the top-level clusters (G_0,)."""
        beta, aux, L = self._check(beta, aux, L)
        c, _ = self._weighted_constant(aux)
        return self._cluster_ll(beta, aux, L) + np.bincount(
            self.gidx[:, 0], weights=c, minlength=self.n_groups[0])

    def loglike_and_grad(self, beta, aux, L):
        """Log likelihood and its gradient in (beta, aux, lower block entries of L).

        Laplace: the exact gradient of the approximation (including the derivative of
        log|H| through the mode).  Quadrature methods: the gradient of the quadrature formula
        with the grids adapted at the given point and held fixed in the u scale (it differs
        from the derivative of the adapted likelihood by the derivative of the grids, a term
        of the order of the quadrature error; :meth:`numerical_grad` gives finite
        differences).  With ``L = 0`` (no random effects) the fixed-effects gradient.

        Returns
        -------
        llf : float
        grad_beta : (p,)
        grad_aux : (k_aux,)
        grad_L : (Q, Q) lower triangular (zero outside the level blocks).
        """
        beta, aux, L = self._check(beta, aux, L)
        gL = np.zeros((self.q, self.q))
        if not np.any(L):
            c, dc = self._weighted_constant(aux)
            lv, d1, _, _, daux = self._fixed_values(beta, aux)
            return (float(lv.sum() + c.sum()), self.exog.T @ d1,
                    daux.sum(0) + dc.sum(0), gL)
        return self._analytic_grad(beta, aux, L)

    def numerical_grad(self, beta, aux, L, h=1e-5):
        """Central finite differences (step ``h`` times max(1, |x|)) of the log likelihood
        in (beta, aux, lower block entries of L); quadrature grids adapted at the given point
        and frozen for the differences.  Returns (llf, grad_beta, grad_aux, grad_L)."""
        beta, aux, L = self._check(beta, aux, L)
        gL = np.zeros((self.q, self.q))
        llf = self.loglike(beta, aux, L)

        def f(b, a, LL):
            return self.loglike(b, a, LL, freeze_grid=True)

        def central(x, make):
            g = np.empty(x.size)
            for i in range(x.size):
                s = h * max(1.0, abs(x[i]))
                xp, xm = x.copy(), x.copy()
                xp[i] += s
                xm[i] -= s
                g[i] = (f(*make(xp)) - f(*make(xm))) / (2 * s)
            return g

        gb = central(beta, lambda b: (b, aux, L))
        ga = central(aux, lambda a: (beta, a, L)) if self.k_aux else np.zeros(0)
        idx = []
        o = 0
        for q in self.qs:
            idx += [(o + a, o + b) for a, b in zip(*np.tril_indices(q), strict=True)]
            o += q
        lv = np.array([L[a, b] for a, b in idx])

        def makeL(v):
            LL = L.copy()
            for (a, b), val in zip(idx, v, strict=True):
                LL[a, b] = val
            return beta, aux, LL
        for (a, b), g in zip(idx, central(lv, makeL), strict=True):
            gL[a, b] = g
        # frozen passes leave the stored grids as they are (adapted to the central point)
        return llf, gb, ga, gL

    def _analytic_grad(self, beta, aux, L):
        """Kernel gradient pieces d/d eta0 and d/d A chained through eta0 = X beta + offset
        and A = Z L (Laplace: exact; quadrature: grids fixed in the u scale)."""
        g = {}
        ll = self._cluster_ll(beta, aux, L, grad=g)
        c, dc = self._weighted_constant(aux)
        gL = (self.Z.T @ g["S"]) * self._block_mask
        return (float(ll.sum() + c.sum()), self.exog.T @ g["r"],
                g["gaux"].sum(0) + dc.sum(0), gL)

    def loglike_and_grad_clusters(self, beta, aux, L):
        """Per top-level cluster: log likelihoods and gradients (one pass, as
        :meth:`loglike_and_grad`).

        Returns
        -------
        values : (G_0,)
        grad_beta : (G_0, p)
        grad_aux : (G_0, k_aux)
        grad_L : (G_0, Q, Q) lower triangular, zero outside the level blocks.
        """
        beta, aux, L = self._check(beta, aux, L)
        G, top, Q = self.n_groups[0], self.gidx[:, 0], self.q
        c, dc = self._weighted_constant(aux)
        if not np.any(L):
            lv, r, _, _, daux = self._fixed_values(beta, aux)
            ll = np.bincount(top, weights=lv, minlength=G)
            gaux = np.zeros((G, self.k_aux))
            np.add.at(gaux, top, daux)
            S = np.zeros((len(self.endog), Q))
        else:
            g = {}
            ll = self._cluster_ll(beta, aux, L, grad=g)
            r, S, gaux = g["r"], g["S"], g["gaux"]
        values = ll + np.bincount(top, weights=c, minlength=G)
        gb = np.zeros((G, self.p))
        np.add.at(gb, top, self.exog * r[:, None])
        ga = gaux.copy()
        np.add.at(ga, top, dc)
        zs = np.zeros((G, Q, Q))
        np.add.at(zs, top, self.Z[:, :, None] * S[:, None, :])
        return values, gb, ga, zs * self._block_mask

    def group_codes(self, k):
        """Codes (as passed to the constructor) of the groups of level ``k``, in the order of
        the arrays returned by :meth:`ebmeans` and :meth:`ebmodes`."""
        return self._codes_sorted[k][self._rowptr[self._rowoff[k]:self._rowoff[k]
                                                  + self.n_groups[k]]]

    def ebmodes_levels(self, beta, aux, L):
        """Joint posterior modes of every level's effects and the matching blocks of the
        inverse Hessian (Laplace), on the b scale.

        Returns
        -------
        list of (means (G_k, q_k), covs (G_k, q_k, q_k)), one per level, groups in the order
        of :meth:`group_codes`.
        """
        beta, aux, L = self._check(beta, aux, L)
        saved = self._method
        self._method = METHOD_CODES["laplace"]
        try:
            self._cluster_ll(beta, aux, L, grad={})
        finally:
            self._method = saved
        Gtot, Q = self._umode.shape
        flat = self._work.ravel()
        Pi = flat[4 * Gtot * Q + 3 * Gtot * Q * Q:4 * Gtot * Q + 4 * Gtot * Q * Q].reshape(
            Gtot, Q * Q)
        out, g0, o = [], 0, 0
        for k, q in enumerate(self.qs):
            G, d = self.n_groups[k], o + q
            Lk = L[o:o + q, o:o + q]
            U = self._umode[g0:g0 + G, :q]
            V = Pi[g0:g0 + G, :d * d].reshape(G, d, d)[:, o:, o:]
            out.append((U @ Lk.T, Lk @ V @ Lk.T))
            g0 += G
            o += q
        return out

    def ebmeans_levels(self, beta, aux, L):
        """Empirical Bayes posterior means and covariances of every level's effects, on the b
        scale, by the quadrature of ``intmethod`` (Laplace: :meth:`ebmodes_levels`).

        An inner group's posterior given the outer nodes is mixed over the posterior weights
        of those nodes: E[u_c | y] = sum_s P(s | y) E[u_c | y, s] (and likewise the second
        moment), with P(s | y) the product of the normalized node weights along the path.

        Returns
        -------
        list of (means (G_k, q_k), covs (G_k, q_k, q_k)), groups in :meth:`group_codes` order.
        """
        if self._method == METHOD_CODES["laplace"]:
            return self.ebmodes_levels(beta, aux, L)
        beta, aux, L = self._check(beta, aux, L)
        post = self._post_arrays()
        self._cluster_ll(beta, aux, L, post=post)
        post_m, post_v, post_w, woff = (post[k] for k in ("post_m", "post_v", "post_w", "woff"))
        K = [int(k) for k in self._K]
        slots = np.concatenate([[1], np.cumprod(K)[:-1]]).astype(np.int64)
        out, prob, o = [], np.ones((self.n_groups[0], 1)), 0
        for k, q in enumerate(self.qs):
            G, S = self.n_groups[k], int(slots[k])
            m = post_m[self._coff[k]:self._coff[k] + G * S * q].reshape(G, S, q)
            v = post_v[self._Coff[k]:self._Coff[k] + G * S * q * q].reshape(G, S, q, q)
            mean = np.einsum("gs,gsa->ga", prob, m)
            second = np.einsum("gs,gsab->gab", prob, v + m[..., :, None] * m[..., None, :])
            cov = second - mean[:, :, None] * mean[:, None, :]
            Lk = L[o:o + q, o:o + q]
            out.append((mean @ Lk.T, Lk @ cov @ Lk.T))
            if k + 1 < self.D:
                w = post_w[woff[k]:woff[k] + G * S * K[k]].reshape(G, S * K[k])
                child = prob.repeat(K[k], axis=1) * w
                prob = child[self.parents[k + 1]]
            o += q
        return out

    def ebmeans(self, beta, aux, L):
        """The two-level engine's single-level interface: not meaningful with several
        levels (see :meth:`ebmeans_levels`)."""
        raise NotImplementedError(
            "predictions of random effects after multilevel GLMMs are not implemented yet in "
            "predict(); the engine's ebmeans_levels() / ebmodes_levels() give them per level")

    ebmodes = ebmeans

    def reset_warm_start(self):
        """Start the next pass cold: modes from 0, adaptive grids re-adapted from scratch
        (a warm start carried over from a distant parameter point can leave them stuck)."""
        self._warm = False

    @property
    def status(self):
        """Per top cluster: 0 ok, 1 mode or curvature failure, 2 posterior covariance not
        positive definite, 3 adaptation did not converge."""
        return self._status[:self.n_groups[0]].copy()
