"""Laplace approximation for GLMMs whose random effects are not nested (crossed designs).

With b = Lambda u, u ~ N(0, I), and eta = X beta + offset + Z Lambda u, the Laplace
approximation to the marginal log likelihood is (Tierney & Kadane 1986; Bates et al. 2015,
JSS 67(1), section 5 for the penalized iteratively reweighted least squares)

    l(beta, theta) ~= sum_i log f(y_i | eta_i(u^)) - |u^|^2 / 2 - log|H(u^)| / 2,
    H(u) = Lambda' Z' W(u) Z Lambda + I,   W = diag(-d^2 log f / d eta^2),

where u^ maximizes the penalized log likelihood. H has the structure of the linear mixed
model's system: the term with most random effects is block-diagonal (one q x q block per
group) and the remaining terms form a small dense block, so H is factored by block
elimination with a dense Schur complement. Every product with Z Lambda is done with the
terms' group codes (bincount), never with an n x n or n x (all effects) matrix.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from statsmodels_me._integrate.family_eval import family_eval
from statsmodels_me.families.registry import (
    FAMILY_CODES,
    get_family,
    link_code,
    n_aux,
    obs_constant,
    response_arrays,
)
from statsmodels_me.spec.errors import DataError


class _System:
    """H = ZL' W ZL + I (plus unpenalized fixed-effects columns) in block-eliminated form."""

    def __init__(self, blocks, H21, H22, n_pen):
        self.blocks = blocks                       # (G, q, q)
        self.L11 = np.linalg.cholesky(blocks)
        self.logdet = 2.0 * np.log(np.diagonal(self.L11, axis1=1, axis2=2)).sum()
        self.H21 = H21                             # (m, G, q) or None
        if H21 is not None:
            Y = np.linalg.solve(blocks, H21.transpose(1, 2, 0))      # B^-1 H12: (G, q, m)
            S = H22 - np.einsum("rgq,gqs->rs", H21, Y)
            self.Y = Y
            self.LS = np.linalg.cholesky(S)
            self.logdet += 2.0 * np.log(np.diag(self.LS)[:n_pen]).sum()
        else:
            self.LS = None

    def solve(self, r1, r2):
        """Solve H [x1; x2] = [r1; r2]; r1 (G, q), r2 (m,)."""
        x1 = np.linalg.solve(self.blocks, r1[:, :, None])[:, :, 0]
        if self.LS is None:
            return x1, None
        x2 = sla.cho_solve((self.LS, True), r2 - np.einsum("rgq,gq->r", self.H21, x1))
        x1 = x1 - np.einsum("gqr,r->gq", self.Y, x2)
        return x1, x2


class CrossedLaplaceGLMM:
    """Laplace log likelihood of a GLMM with arbitrary (crossed or nested) random-effects terms.

    Parameters
    ----------
    endog, exog : ndarray
    terms : list of statsmodels_me.models.lmm_engine.LMMTerm
        Random-effects terms (codes, Z, and the map from theta to the term's factor).
    family, link : str
        Engine family names as in ``statsmodels_me.families.registry``.
    trials, offset : ndarray, optional
    """

    def __init__(self, endog, exog, terms, family, link=None, trials=None, offset=None):
        fam, link = get_family(family, link)
        self.family, self.link = family, link
        y, t, off = response_arrays(family, endog, trials, offset)
        self.y, self.t, self.offset = (np.ascontiguousarray(v) for v in (y, t, off))
        self.X = np.ascontiguousarray(exog, float)
        n = len(self.y)
        self._fam, self._link = FAMILY_CODES[fam.name], link_code(link)
        self.k_aux = n_aux(family, self.y)
        self.terms = list(terms)
        if not self.terms:
            raise DataError("a crossed GLMM needs at least one random-effects term")
        order = sorted(range(len(self.terms)), key=lambda k: -self.terms[k].size)
        self.first, self.rest = order[0], order[1:]
        sizes = [t.size for t in self.terms]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.r = int(self.offsets[-1])
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        # columns of the dense block: every rest term's effects, in rest order
        cols, pos = [], 0
        for k in self.rest:
            t = self.terms[k]
            cols.append(pos + t.codes[:, None] * t.q + np.arange(t.q)[None, :])
            pos += t.size
        self.m2 = pos
        self._idx2 = np.hstack(cols) if cols else np.zeros((n, 0), int)
        self._u = np.zeros(self.r)

    # -- Z Lambda as an operator --------------------------------------------------------------
    def _set_theta(self, theta):
        theta = np.asarray(theta, float)
        self._set_lams([t.cholesky(theta[t.theta_index]) for t in self.terms])

    def _set_lams(self, lams):
        """Use the given relative factors (one q_k x q_k array per term)."""
        self._lams = [np.asarray(lam, float) for lam in lams]
        self._ZL = [t.Z @ lam for t, lam in zip(self.terms, self._lams)]
        self._zl2 = np.hstack([self._ZL[k] for k in self.rest]) if self.rest else \
            np.zeros((len(self.y), 0))

    def _split_u(self, u):
        return [u[self.offsets[k]:self.offsets[k + 1]].reshape(t.n_groups, t.q)
                for k, t in enumerate(self.terms)]

    def _zl_u(self, u):
        out = np.zeros(len(self.y))
        for t, ZL, U in zip(self.terms, self._ZL, self._split_u(u)):
            out += np.einsum("ia,ia->i", ZL, U[t.codes])
        return out

    def _zlt(self, v):
        """(Z Lambda)' v for an n-vector v, as a vector over all random effects."""
        parts = []
        for t, ZL in zip(self.terms, self._ZL):
            parts.append(np.column_stack([np.bincount(t.codes, weights=ZL[:, a] * v,
                                                      minlength=t.n_groups)
                                          for a in range(t.q)]).ravel())
        return np.concatenate(parts)

    def _system(self, w, extra=None):
        """Factor H = ZL' W ZL + I, optionally augmented by unpenalized columns ``extra``."""
        t1 = self.terms[self.first]
        G, q = t1.n_groups, t1.q
        Z1 = self._ZL[self.first]
        blocks = np.empty((G, q, q))
        for a in range(q):
            for b in range(a, q):
                blocks[:, a, b] = blocks[:, b, a] = np.bincount(
                    t1.codes, weights=w * Z1[:, a] * Z1[:, b], minlength=G)
        blocks[:, range(q), range(q)] += 1.0
        idx2, zl2 = self._idx2, self._zl2
        m = self.m2
        if extra is not None:
            p = extra.shape[1]
            idx2 = np.hstack([idx2, np.broadcast_to(m + np.arange(p), (len(self.y), p))])
            zl2 = np.hstack([zl2, extra])
            m += p
        if m == 0:
            return _System(blocks, None, None, 0)
        wz2 = w[:, None] * zl2
        pair = (idx2[:, :, None] * m + idx2[:, None, :]).ravel()
        H22 = np.bincount(pair, weights=(wz2[:, :, None] * zl2[:, None, :]).ravel(),
                          minlength=m * m).reshape(m, m)
        H22[range(self.m2), range(self.m2)] += 1.0
        col1 = t1.codes[:, None] * q + np.arange(q)[None, :]
        pair = (idx2[:, :, None] * (G * q) + col1[:, None, :]).ravel()
        H21 = np.bincount(pair, weights=(wz2[:, :, None] * Z1[:, None, :]).ravel(),
                          minlength=m * G * q).reshape(m, G, q)
        return _System(blocks, H21, H22, self.m2)

    def _solve_full(self, S, rhs, extra_p=0):
        """Solve with the system for a right-hand side over all effects (+ extra)."""
        t1 = self.terms[self.first]
        s1 = slice(self.offsets[self.first], self.offsets[self.first + 1])
        r1 = rhs[s1].reshape(t1.n_groups, t1.q)
        r2 = np.concatenate([rhs[self.offsets[k]:self.offsets[k + 1]] for k in self.rest]
                            + ([rhs[self.r:]] if extra_p else []))
        x1, x2 = S.solve(r1, r2)
        out = np.empty_like(rhs)
        out[s1] = x1.ravel()
        pos = 0
        for k in self.rest:
            size = self.terms[k].size
            out[self.offsets[k]:self.offsets[k + 1]] = x2[pos:pos + size]
            pos += size
        if extra_p:
            out[self.r:] = x2[pos:]
        return out

    def _eval(self, eta, aux):
        return family_eval(self._fam, self._link, self.y, self.t, eta, aux)

    # -- the mode --------------------------------------------------------------------------------
    def _newton(self, v, evaluate, gradient, system, tol=1e-10, maxiter=100):
        d1, d2, obj = evaluate(v)
        for _ in range(maxiter):
            S = system(np.maximum(-d2, 0.0))
            step = S(gradient(v, d1))
            t = 1.0
            for _ in range(30):
                vn = v + t * step
                d1n, d2n, objn = evaluate(vn)
                if np.isfinite(objn) and objn >= obj - 1e-12 * abs(obj):
                    break
                t *= 0.5
            else:
                break
            dec = objn - obj
            v, d1, d2, obj = vn, d1n, d2n, objn
            if abs(dec) < tol * (1.0 + abs(obj)) and np.max(np.abs(t * step)) < 1e-8:
                break
        return v, d2, obj

    def _mode(self, eta0, aux):
        def evaluate(u):
            ll, d1, d2 = self._eval(eta0 + self._zl_u(u), aux)
            return d1, d2, ll.sum() - 0.5 * u @ u

        def gradient(u, d1):
            return self._zlt(d1) - u

        def system(w):
            S = self._system(w)
            return lambda rhs: self._solve_full(S, rhs)
        return self._newton(self._u.copy(), evaluate, gradient, system)

    def _finish(self, u, d2, obj, aux):
        if not np.isfinite(obj):
            return -np.inf
        try:
            logdet = self._system(-d2).logdet
        except np.linalg.LinAlgError:
            return -np.inf
        self._u = u
        c, _ = obs_constant(self.family, self.y, self.t, aux)
        return float(obj + c.sum() - 0.5 * logdet)

    # -- public --------------------------------------------------------------------------------
    def loglike(self, beta, aux, theta=None, lams=None):
        """Laplace approximation to the marginal log likelihood at (beta, aux, theta).

        ``lams`` (one factor per term) may be given instead of ``theta``.
        """
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        if lams is None:
            self._set_theta(theta)
        else:
            self._set_lams(lams)
        eta0 = self.X @ np.asarray(beta, float) + self.offset
        u, d2, obj = self._mode(eta0, aux)
        return self._finish(u, d2, obj, aux)

    def loglike_profiled_beta(self, aux, theta, beta0):
        """Laplace-type criterion with beta in the penalized mode (lme4's nAGQ=0 stage).

        Returns the criterion and the joint-mode beta; used for starting values only.
        """
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        self._set_theta(theta)
        p = self.X.shape[1]

        def evaluate(v):
            ll, d1, d2 = self._eval(self.offset + self._zl_u(v[:self.r]) + self.X @ v[self.r:],
                                    aux)
            return d1, d2, ll.sum() - 0.5 * v[:self.r] @ v[:self.r]

        def gradient(v, d1):
            return np.concatenate([self._zlt(d1) - v[:self.r], self.X.T @ d1])

        def system(w):
            S = self._system(np.maximum(w, 1e-12), extra=self.X)
            return lambda rhs: self._solve_full(S, rhs, extra_p=p)
        v, d2, obj = self._newton(np.concatenate([self._u, np.asarray(beta0, float)]),
                                  evaluate, gradient, system)
        return self._finish(v[:self.r], d2, obj, aux), v[self.r:]

    def _leverages(self, S):
        """h_i = zl_i' H^-1 zl_i from the block-eliminated factor."""
        t1 = self.terms[self.first]
        a = self._ZL[self.first]
        Linv = np.linalg.inv(S.L11)
        at = np.einsum("iab,ib->ia", Linv[t1.codes], a)
        h = (at ** 2).sum(1)
        if S.LS is None:
            return h
        Ba = np.einsum("iba,ib->ia", Linv[t1.codes], at)            # B_g^-1 a_i
        V = -np.einsum("rig,ig->ir", S.H21[:, t1.codes, :], Ba)
        np.add.at(V, (np.arange(len(h))[:, None], self._idx2), self._zl2)
        W = sla.solve_triangular(S.LS, V.T, lower=True)
        return h + (W ** 2).sum(0)

    def beta_aux_gradient(self, beta, aux, lams):
        """Log likelihood with its analytic beta gradient and central-difference aux
        gradient, at given term factors ``lams``."""
        beta = np.asarray(beta, float)
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        llf = self.loglike(beta, aux, lams=lams)
        if not np.isfinite(llf):
            return llf, np.zeros(len(beta)), np.zeros(len(aux))
        g_beta = self._beta_gradient(beta, aux)
        u_keep = self._u.copy()
        g_aux = np.zeros(len(aux))
        for i in range(len(aux)):
            step = 1e-6 * max(1.0, abs(aux[i]))
            vals = []
            for sgn in (1.0, -1.0):
                v = aux.copy()
                v[i] += sgn * step
                self._u = u_keep.copy()
                vals.append(self.loglike(beta, v, lams=lams))
            g_aux[i] = (vals[0] - vals[1]) / (2 * step)
        self._u = u_keep
        self._set_lams(lams)
        return llf, g_beta, g_aux

    def scalar_lambda_gradient(self, beta, aux):
        """d llf / d lambda_k for models whose terms are all scalar (q = 1), at the mode of
        the last ``loglike`` call.

        With Lambda = diag(lambda), H = Lambda G Lambda + I (G = Z' W Z), the derivative of
        log|H| in lambda_k is 2 sum_{j in k} (1 - (H^-1)_jj) / lambda_k (from
        Lambda G = (H - I) Lambda^-1) plus the weights' change through the linear predictor,
        -sum_i d3_i h_i d eta_i, where d eta includes the mode's response
        du = H^-1 (D_k Z' d1 + Lambda Z' diag(d2) Z D_k u) (implicit differentiation);
        the penalized likelihood itself contributes (Z' d1)_k . u_k.
        """
        eta = self.X @ np.asarray(beta, float) + self.offset + self._zl_u(self._u)
        _, d1, d2 = self._eval(eta, aux)
        eps = 1e-5
        d3 = (self._eval(eta + eps, aux)[2] - self._eval(eta - eps, aux)[2]) / (2 * eps)
        S = self._system(-d2)
        h = self._leverages(S)
        # diagonal of H^-1, first term and dense block
        diag_first = 1.0 / S.blocks[:, 0, 0]
        if S.LS is not None:
            Sinv = sla.cho_solve((S.LS, True), np.eye(S.LS.shape[0]))
            Yg = S.Y[:, 0, :]                                   # B^-1 H12, (G, m)
            diag_first = diag_first + np.einsum("gr,rs,gs->g", Yg, Sinv, Yg)
            diag_rest = np.diag(Sinv)
        hinv_diag = np.empty(self.r)
        hinv_diag[self.offsets[self.first]:self.offsets[self.first + 1]] = diag_first
        pos = 0
        for k in self.rest:
            size = self.terms[k].size
            hinv_diag[self.offsets[k]:self.offsets[k + 1]] = diag_rest[pos:pos + size]
            pos += size
        U = self._split_u(self._u)
        grads = np.zeros(len(self.terms))
        for k, t in enumerate(self.terms):
            lam = self._lams[k][0, 0]
            zu = t.Z[:, 0] * U[k][t.codes, 0]                   # Z D_k u
            ztd1 = np.bincount(t.codes, weights=t.Z[:, 0] * d1, minlength=t.n_groups)
            rhs = self._zlt(d2 * zu)
            sl = slice(self.offsets[k], self.offsets[k + 1])
            rhs[sl] += ztd1
            du = self._solve_full(S, rhs)
            deta = zu + self._zl_u(du)
            trace = 0.0 if abs(lam) < 1e-12 else \
                2.0 * np.sum(1.0 - hinv_diag[sl]) / lam
            grads[k] = ztd1 @ U[k][:, 0] - 0.5 * (trace - np.sum(d3 * h * deta))
        return grads

    def _beta_gradient(self, beta, aux):
        """Analytic d llf / d beta at the current mode (see ``loglike_and_grad``)."""
        eta = self.X @ beta + self.offset + self._zl_u(self._u)
        _, d1, d2 = self._eval(eta, aux)
        eps = 1e-5
        d3 = (self._eval(eta + eps, aux)[2] - self._eval(eta - eps, aux)[2]) / (2 * eps)
        S = self._system(-d2)
        h = self._leverages(S)
        dU = np.column_stack([self._solve_full(S, self._zlt(d2 * self.X[:, j]))
                              for j in range(self.X.shape[1])])
        deta = self.X + np.column_stack([self._zl_u(dU[:, j]) for j in range(dU.shape[1])])
        return self.X.T @ d1 + 0.5 * deta.T @ (d3 * h)

    def loglike_and_grad(self, beta, aux, theta, h_theta=1e-6):
        """Laplace log likelihood and its gradient in (beta, aux, theta).

        The beta part is analytic: at the mode the penalized likelihood's own derivative is
        X' d1, and log|H| depends on beta through the weights w_i = -d2(eta_i), whose change
        d w_i = -d3_i d eta_i includes the mode's response du/dbeta = H^-1 Lambda' Z' diag(d2) X
        (implicit differentiation of the mode equation). So
        d l / d beta = X' d1 + 1/2 (X + Z Lambda du/dbeta)' (d3 * h), with h_i the leverages
        z_i' Lambda H^-1 Lambda' z_i. Ancillary and covariance parameters (few) use central
        differences.
        """
        beta = np.asarray(beta, float)
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        theta = np.asarray(theta, float)
        llf = self.loglike(beta, aux, theta)
        if not np.isfinite(llf):
            return llf, np.zeros(len(beta) + len(aux) + len(theta))
        g_beta = self._beta_gradient(beta, aux)
        u_keep = self._u.copy()
        g_other = []
        for which, vec in (("aux", aux), ("theta", theta)):
            for i in range(len(vec)):
                step = h_theta * max(1.0, abs(vec[i]))
                vals = []
                for sgn in (1.0, -1.0):
                    v = vec.copy()
                    v[i] += sgn * step
                    self._u = u_keep.copy()
                    vals.append(self.loglike(beta, v, theta) if which == "aux"
                                else self.loglike(beta, aux, v))
                g_other.append((vals[0] - vals[1]) / (2 * step))
        self._u = u_keep
        self._set_theta(theta)
        return llf, np.concatenate([g_beta, g_other])

    def modes(self, beta, aux, theta=None, lams=None):
        """Conditional modes of the random effects b = Lambda u^, one (G, q) array per term."""
        self.loglike(beta, aux, theta, lams=lams)
        return [U @ lam.T for U, lam in zip(self._split_u(self._u), self._lams)]
