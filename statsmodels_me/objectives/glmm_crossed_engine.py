"""Laplace approximation for GLMMs whose random effects are not nested (crossed designs).

With b = Lambda u, u ~ N(0, I), and eta = X beta + offset + Z Lambda u, the Laplace
approximation to the marginal log likelihood is (Tierney & Kadane 1986; Bates et al. 2015,
JSS 67(1), section 5 for the penalized iteratively reweighted least squares)

    l(beta, theta) ~= sum_i log f(y_i | eta_i(u^)) - |u^|^2 / 2 - log|H(u^)| / 2,
    H(u) = Lambda' Z' W(u) Z Lambda + I,   W = diag(-d^2 log f / d eta^2),

where u^ maximizes the penalized log likelihood. H has the structure of the linear mixed
model's system: the term with most random effects is block-diagonal (one q x q block per
group) and the remaining terms form a small dense block, so H is factored by block
elimination with a dense Schur complement. The Newton iterations for u^, the factorization
and the pieces of the gradient run in one compiled kernel
(:class:`statsmodels_me._kernels.crossed_kernels.CrossedSystem`) that works from the
terms' group codes: no n x n or n x (all effects) matrix is formed.

The gradient is analytic. At the mode the penalized likelihood needs no mode response
(envelope theorem); log|H| depends on a parameter through Lambda and through the weights
w_i = -l''(eta_i), which change by -l'''_i d eta_i, d eta including the mode's response
(implicit differentiation of the mode equation Lambda' Z' l' = u). With the leverages
h_i = z_i' H^-1 z_i (z_i: row i of Z Lambda), s = H^-1 Lambda' Z' (l''' h) and
c_i = l'_i + (l'''_i h_i + l''_i (Z Lambda s)_i) / 2,

    d l / d beta = X' c,
    d l / d lambda_k[a, b] = sum_i Z_k[i, a] (u_kgb c_i + l''_i (H^-1 z_i)_kgb + l'_i s_kgb / 2)

(g: the group of observation i in term k); the second uses
d log|H| = 2 tr(H^-1 Lambda' Z' W Z dLambda) + sum_i h_i dw_i.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._kernels.crossed_kernels import (
    CrossedSystem,
    factor_gradient,
    factor_response,
)
from statsmodels_me.families.registry import (
    FAMILY_CODES,
    get_family,
    link_code,
    n_aux,
    obs_constant,
    response_arrays,
)
from statsmodels_me.objectives.glmm_crossed_posterior import inverse_blocks
from statsmodels_me.spec.errors import DataError


class CrossedLaplaceGLMM:
    """Laplace log likelihood of a GLMM with arbitrary (crossed or nested) random-effects terms.

    Parameters
    ----------
    endog, exog : ndarray
    terms : list of statsmodels_me.terms.RETerm
        Random-effects terms (codes, Z, and the map from theta to the term's factor).
    family, link : str
        Engine family names as in ``statsmodels_me.families.registry``.
    trials, offset : ndarray, optional
    weights : ndarray (n,), optional
        Observation weights multiplying each conditional log density (fweight, iweight,
        pweight); the Laplace approximation is that of the weighted log likelihood.
    """

    def __init__(self, endog, exog, terms, family, link=None, trials=None, offset=None,
                 weights=None):
        fam, link = get_family(family, link)
        self.family, self.link = family, link
        y, t, off = response_arrays(family, endog, trials, offset)
        self.y, self.t, self.offset = (np.ascontiguousarray(v) for v in (y, t, off))
        self.X = np.ascontiguousarray(exog, float)
        n = len(self.y)
        self.weights = None if weights is None else np.ascontiguousarray(weights, float)
        self._fam, self._link = FAMILY_CODES[fam.name], link_code(link)
        self.k_aux = n_aux(family, self.y)
        self.terms = list(terms)
        self._Z = [np.ascontiguousarray(t.Z, float) for t in self.terms]
        self._codes = [np.ascontiguousarray(t.codes, np.int64) for t in self.terms]
        if not self.terms:
            raise DataError("a crossed GLMM needs at least one random-effects term")
        order = sorted(range(len(self.terms)), key=lambda k: -self.terms[k].size)
        self.first, self.rest = order[0], order[1:]
        sizes = [t.size for t in self.terms]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.r = int(self.offsets[-1])
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        # the dense block: every rest term's effects, in rest order (start in u2, column in
        # the per-observation dense rows)
        cols, pos, col = [], 0, 0
        self._pos2, self._col2 = {}, {}
        for k in self.rest:
            t = self.terms[k]
            cols.append(pos + t.codes[:, None] * t.q + np.arange(t.q)[None, :])
            self._pos2[k], self._col2[k] = pos, col
            pos += t.size
            col += t.q
        self.m2 = pos
        self._idx2 = np.hstack(cols) if cols else np.zeros((n, 0), int)
        self._zl2x = np.hstack([np.zeros(self._idx2.shape), self.X])
        t1 = self.terms[self.first]
        self._sys = CrossedSystem(self._fam, self._link, self.y, self.t, t1.codes, self._idx2,
                                  t1.n_groups, t1.q, self.m2, self.m2, weights=self.weights)
        self._sys_beta = None
        self._u1 = np.zeros(t1.size)
        self._u2 = np.zeros(self.m2)
        self._lams = None
        self._const = None
        # the last modes (and their factors) the next searches are predicted from
        self._last = self._last_joint = None

    # -- Z Lambda ------------------------------------------------------------------------------
    def _set_theta(self, theta):
        theta = np.asarray(theta, float)
        self._set_lams([t.cholesky(theta[t.theta_index]) for t in self.terms])

    def _set_lams(self, lams):
        """Use the given relative factors (one q_k x q_k array per term)."""
        lams = [np.asarray(lam, float) for lam in lams]
        if self._lams is not None and all(np.array_equal(a, b)
                                          for a, b in zip(lams, self._lams)):
            return
        self._lams = lams
        self._z1 = self._Z[self.first] @ lams[self.first]
        # the dense columns, with the fixed effects after them for the nAGQ=0 system
        for k in self.rest:
            c = self._col2[k]
            self._zl2x[:, c:c + self.terms[k].q] = self._Z[k] @ lams[k]
        self._zl2 = self._zl2x[:, :self._idx2.shape[1]]
        self._sys.set_values(self._z1, self._zl2)
        if self._sys_beta is not None:
            self._sys_beta.set_values(self._z1, self._zl2x)

    @property
    def _u(self):
        """The last mode over all random effects, in term order."""
        out = np.empty(self.r)
        out[self.offsets[self.first]:self.offsets[self.first + 1]] = self._u1
        for k in self.rest:
            size = self.terms[k].size
            out[self.offsets[k]:self.offsets[k + 1]] = self._u2[self._pos2[k]:
                                                                self._pos2[k] + size]
        return out

    @property
    def warm_start(self):
        """The mode the next search starts from (copies of both parts)."""
        return self._u1.copy(), self._u2.copy()

    @warm_start.setter
    def warm_start(self, value):
        self._u1, self._u2 = (np.array(v, float) for v in value)
        self._last = self._last_joint = None

    def _term_u(self, k, u1, u2):
        """Term k's part of (u1, u2) as (n_groups, q)."""
        t = self.terms[k]
        v = u1 if k == self.first else u2[self._pos2[k]:self._pos2[k] + t.size]
        return v.reshape(t.n_groups, t.q)

    def _constant(self, aux):
        """Sum over observations of the eta-free part of log f, and its aux gradient."""
        key = tuple(aux)
        if self._const is None or self._const[0] != key:
            c, dc = obs_constant(self.family, self.y, self.t, aux)
            if self.weights is None:
                self._const = (key, float(c.sum()), dc.sum(0))
            else:
                w = self.weights
                self._const = (key, float(np.sum(w * c, where=w != 0)),
                               (w[:, None] * dc).sum(0, where=(w != 0)[:, None]))
        return self._const[1], self._const[2]

    # -- public --------------------------------------------------------------------------------
    def loglike(self, beta, aux, theta=None, lams=None):
        """Laplace approximation to the marginal log likelihood at (beta, aux, theta).

        ``lams`` (one factor per term) may be given instead of ``theta``. The mode search
        starts from the previous call's mode moved by its first-order response to the
        change of beta and the factors (``mode_response``), within the square of the
        change of the new mode.
        """
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        beta = np.asarray(beta, float)
        if lams is None:
            theta = np.asarray(theta, float)
            lams = [t.cholesky(theta[t.theta_index]) for t in self.terms]
        lams = [np.asarray(lam, float) for lam in lams]
        u1, u2 = self._u1.copy(), self._u2.copy()
        last = self._last
        if last is not None:
            dlams = [a - b for a, b in zip(lams, last[1])]
            if np.any(beta != last[0]) or any(d.any() for d in dlams):
                du1, du2 = self.mode_response(beta - last[0], dlams)
                u1 += du1
                u2 += du2
        self._set_lams(lams)
        self._last_joint = None
        eta0 = self.X @ beta + self.offset
        obj, logdet, _ = self._sys.mode(eta0, aux, u1, u2)
        self._last = None
        if not (np.isfinite(obj) and np.isfinite(logdet)):
            return -np.inf
        self._u1, self._u2 = u1, u2
        self._last = (beta.copy(), [lam.copy() for lam in self._lams])
        return float(obj + self._constant(aux)[0] - 0.5 * logdet)

    def gradient(self, beta, aux, lams):
        """Log likelihood and its analytic gradient at term factors ``lams``.

        Returns
        -------
        llf : float
        g_beta : ndarray (p,)
        g_aux : ndarray (k_aux,)
        g_lams : list of ndarray
            d llf / d lams[k][a, b] for every entry (the caller keeps the ones it uses).
        """
        beta = np.asarray(beta, float)
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        llf = self.loglike(beta, aux, lams=lams)
        if not np.isfinite(llf):
            return llf, np.zeros(len(beta)), np.zeros(len(aux)), \
                [np.zeros_like(np.asarray(lam, float)) for lam in lams]
        d1, d2, d3, h, A1, A2, s1, s2, zs, gaux = self._sys.gradient(aux)
        c = d1 + 0.5 * (d3 * h + d2 * zs)
        g_beta = self.X.T @ c
        g_aux = gaux + self._constant(aux)[1]
        g_lams = self._lams_gradient(c, d1, d2, A1, A2, s1, s2)
        return llf, g_beta, g_aux, g_lams

    def _lams_gradient(self, c, d1, d2, A1, A2, s1, s2):
        """d llf / d lams[k] from the kernel's pieces (formula in the module docstring)."""
        out = []
        for k, t in enumerate(self.terms):
            A = A1 if k == self.first else A2[:, self._col2[k]:self._col2[k] + t.q]
            out.append(factor_gradient(self._codes[k], self._Z[k],
                                       self._term_u(k, self._u1, self._u2),
                                       self._term_u(k, s1, s2), np.ascontiguousarray(A),
                                       c, d1, d2))
        return out

    def mode_response(self, dbeta, dlams, system=None):
        """First-order change of the mode (u1, u2) of the last ``loglike`` call for a
        change ``dbeta`` of beta and ``dlams`` of the term factors.

        From the mode equation Lambda' Z' l'(eta) = u: H du = Lambda' Z' (l'' deta0)
        + dLambda' Z' l', with deta0 = X dbeta + Z dLambda u (the change of eta at fixed u).
        """
        system = self._sys if system is None else system
        d1, d2 = system.derivatives()
        deta = self.X @ np.asarray(dbeta, float)
        x1 = np.zeros_like(self._u1)
        x2 = np.zeros(self.m2 if system is self._sys else self.m2 + self.X.shape[1])
        for k, dlam in enumerate(dlams):
            dlam = np.ascontiguousarray(dlam, float)
            if dlam.any():
                factor_response(self._codes[k], self._Z[k], self._term_u(k, self._u1, self._u2),
                                dlam, d1, deta, self._term_u(k, x1, x2))
        system.response(d2 * deta, x1, x2)
        return x1, x2

    def loglike_and_grad(self, beta, aux, theta, h_theta=1e-7):
        """Laplace log likelihood and its gradient in (beta, aux, theta).

        The theta part chains the analytic gradient in the term factors with central
        differences of the (cheap) map from theta to the factors.
        """
        theta = np.asarray(theta, float)
        lams = [t.cholesky(theta[t.theta_index]) for t in self.terms]
        llf, gb, ga, gl = self.gradient(beta, aux, lams)
        gt = np.zeros(len(theta))
        for k, t in enumerate(self.terms):
            for j, i in enumerate(t.theta_index):
                tp, tm = theta[t.theta_index].copy(), theta[t.theta_index].copy()
                tp[j] += h_theta
                tm[j] -= h_theta
                dlam = (t.cholesky(tp) - t.cholesky(tm)) / (2 * h_theta)
                gt[i] += np.sum(np.tril(gl[k]) * dlam)
        return llf, np.concatenate([gb, ga, gt])

    def loglike_profiled_beta(self, aux, theta, beta0):
        """Laplace-type criterion with beta in the penalized mode (lme4's nAGQ=0 stage).

        Returns the criterion and the joint-mode beta; used for starting values only.
        """
        theta = np.asarray(theta, float)
        lams = [t.cholesky(theta[t.theta_index]) for t in self.terms]
        return self.profiled_beta_gradient(aux, lams, beta0, gradient=False)[:2]

    def profiled_beta_gradient(self, aux, lams, beta0, gradient=True, step_tol=1e-6):
        """The nAGQ=0 criterion at term factors ``lams``, the joint-mode beta, and the
        criterion's gradient in the factors' entries.

        The criterion is max over (u, beta) of the penalized log likelihood minus
        log|H_u| / 2 (H_u: the random effects' part of the system). Its gradient is the
        formula of the module docstring with the mode's response taken over (u, beta)
        jointly.

        Returns
        -------
        crit : float
        beta : ndarray (p,)
        g_lams : list of ndarray or None
        """
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        p = self.X.shape[1]
        if self._sys_beta is None:
            n = len(self.y)
            t1 = self.terms[self.first]
            idx = np.hstack([self._idx2, np.broadcast_to(self.m2 + np.arange(p), (n, p))])
            self._sys_beta = CrossedSystem(self._fam, self._link, self.y, self.t, t1.codes,
                                           idx, t1.n_groups, t1.q, self.m2 + p, self.m2, p,
                                           weights=self.weights)
            self._lams = None
        lams = [np.asarray(lam, float) for lam in lams]
        u1 = self._u1.copy()
        v2 = np.concatenate([self._u2, np.asarray(beta0, float)])
        last = self._last_joint
        if last is not None and any((a != b).any() for a, b in zip(lams, last)):
            # the joint mode's first-order response (beta0 is the last joint beta)
            du1, dv2 = self.mode_response(np.zeros(p), [a - b for a, b in zip(lams, last)],
                                          self._sys_beta)
            u1 += du1
            v2 += dv2
        self._set_lams(lams)
        self._last = self._last_joint = None
        obj, logdet, _ = self._sys_beta.mode(self.offset, aux, u1, v2, wmin=1e-12,
                                             step_tol=step_tol)
        if not (np.isfinite(obj) and np.isfinite(logdet)):
            return -np.inf, np.asarray(beta0, float), None
        self._u1, self._u2 = u1, v2[:self.m2].copy()
        self._last_joint = [lam.copy() for lam in lams]
        crit = float(obj + self._constant(aux)[0] - 0.5 * logdet)
        if not gradient:
            return crit, v2[self.m2:].copy(), None
        d1, d2, d3, h, A1, A2, s1, s2, zs, _ = self._sys_beta.gradient(aux)
        c = d1 + 0.5 * (d3 * h + d2 * zs)
        return crit, v2[self.m2:].copy(), self._lams_gradient(c, d1, d2, A1, A2, s1, s2)

    def modes(self, beta, aux, theta=None, lams=None):
        """Conditional modes of the random effects b = Lambda u^, one (G, q) array per term."""
        self.loglike(beta, aux, theta, lams=lams)
        return [self._term_u(k, self._u1, self._u2) @ lam.T
                for k, lam in enumerate(self._lams)]

    def posterior_covariances(self, beta, aux, theta=None, lams=None):
        """Covariances of b = Lambda u under the Laplace approximation's normal posterior
        u | y ~ N(u^, H^-1) at the modes: the diagonal blocks of Lambda H^-1 Lambda', one
        (G, q, q) array per term (:func:`~statsmodels_me.objectives.glmm_crossed_posterior.
        inverse_blocks`)."""
        self.loglike(beta, aux, theta, lams=lams)
        _, d2 = self._sys.derivatives()
        t1 = self.terms[self.first]
        first, dense = inverse_blocks(t1.codes, self._z1, t1.n_groups, self._idx2, self._zl2,
                                      self.m2, -d2)
        out = []
        for k, (t, lam) in enumerate(zip(self.terms, self._lams)):
            if k == self.first:
                blocks = first
            else:
                idx = self._pos2[k] + np.arange(t.size).reshape(t.n_groups, t.q)
                blocks = dense[idx[:, :, None], idx[:, None, :]]
            out.append(lam @ blocks @ lam.T)
        return out
