"""Laplace approximation for GLMMs whose random effects are not nested (crossed designs).

With b = Lambda u, u ~ N(0, I), and eta = X beta + offset + Z Lambda u, the Laplace
approximation to the marginal log likelihood is (Tierney & Kadane 1986; Bates et al. 2015,
JSS 67(1), section 5 for the penalized iteratively reweighted least squares)

    l(beta, theta) ~= sum_i log f(y_i | eta_i(u^)) - |u^|^2 / 2 - log|H(u^)| / 2,
    H(u) = Lambda' Z' W(u) Z Lambda + I,   W = diag(-d^2 log f / d eta^2),

where u^ maximizes the penalized log likelihood. H has the structure of the linear mixed
model's system: the term with most random effects is block-diagonal (one q x q block per
group) and the remaining terms form a small dense block, so H is factored by block
elimination with a dense Schur complement — never an n x n matrix, and never a dense matrix
over all random effects unless every term is small.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from statsmodels_me._integrate.family_eval import family_eval
from statsmodels_me.families.registry import (
    FAMILY_CODES,
    check_endog,
    get_family,
    link_code,
    n_aux,
    obs_constant,
)
from statsmodels_me.spec.errors import DataError


class CrossedLaplaceGLMM:
    """Laplace log likelihood of a GLMM with arbitrary (crossed or nested) random-effects terms.

    Parameters
    ----------
    endog, exog : ndarray
    terms : list of statsmodels_me.models.lmm_engine.LMMTerm
        Random-effects terms (codes, Z, and the map from theta to the term's relative factor).
    family, link : str
        Engine family names as in ``statsmodels_me.families.registry``.
    trials, offset : ndarray, optional
    """

    def __init__(self, endog, exog, terms, family, link=None, trials=None, offset=None):
        fam, link = get_family(family, link)
        self.family, self.link = family, link
        self.y = np.ascontiguousarray(endog, float)
        self.X = np.ascontiguousarray(exog, float)
        n = len(self.y)
        self.t = np.ones(n) if trials is None else np.ascontiguousarray(trials, float)
        self.offset = np.zeros(n) if offset is None else np.ascontiguousarray(offset, float)
        check_endog(family, self.y, self.t)
        self._fam, self._link = FAMILY_CODES[fam.name], link_code(link)
        self.k_aux = n_aux(family, self.y)
        self.terms = list(terms)
        if not self.terms:
            raise DataError("a crossed GLMM needs at least one random-effects term")
        order = sorted(range(len(self.terms)), key=lambda k: -self.terms[k].size)
        self.first, self.rest = order[0], order[1:]
        self.Zs = [t.sparse_Z() for t in self.terms]
        sizes = [t.size for t in self.terms]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.r = int(self.offsets[-1])
        self.n_theta = int(sum(len(t.theta_index) for t in self.terms))
        self._u = np.zeros(self.r)

    # -- pieces ----------------------------------------------------------------------------
    def _lambda(self, theta):
        """Sparse block-diagonal Lambda over all random effects, in term order."""
        self._lams = [t.cholesky(np.asarray(theta, float)[t.theta_index]) for t in self.terms]
        blocks = [sp.kron(sp.identity(t.n_groups, format="csr"), sp.csr_matrix(lam))
                  for t, lam in zip(self.terms, self._lams)]
        return sp.block_diag(blocks, format="csr")

    def _factor(self, ZL, w, Xw=None):
        """Block elimination of H = ZL' W ZL + I; returns a solver and log|H|.

        With ``Xw`` (the fixed-effects design) the system is augmented by the fixed effects
        with no penalty — the joint (beta, u) Newton system of lme4's nAGQ=0 stage — and the
        log-determinant covers the random-effects part only.
        """
        t1 = self.terms[self.first]
        s1 = slice(self.offsets[self.first], self.offsets[self.first + 1])
        G, q = t1.n_groups, t1.q
        lam1 = self._lams[self.first]
        Z1 = t1.Z @ lam1
        blocks = np.empty((G, q, q))
        for a in range(q):
            for b in range(a, q):
                blocks[:, a, b] = blocks[:, b, a] = np.bincount(
                    t1.codes, weights=w * Z1[:, a] * Z1[:, b], minlength=G)
        blocks[:, range(q), range(q)] += 1.0
        L11 = np.linalg.cholesky(blocks)
        logdet = 2.0 * np.log(np.diagonal(L11, axis1=1, axis2=2)).sum()
        rest = [slice(self.offsets[k], self.offsets[k + 1]) for k in self.rest]
        parts = [ZL[:, s] for s in rest]
        n_re2 = sum(s.stop - s.start for s in rest)
        if Xw is not None:
            parts.append(sp.csr_matrix(Xw))
        if parts:
            Z2 = sp.hstack(parts).tocsr()
            WZ1 = ZL[:, s1].multiply(w[:, None]).tocsr()
            H21 = (Z2.T @ WZ1).tocsr()
            H22 = (Z2.T @ Z2.multiply(w[:, None])).toarray()
            H22[range(n_re2), range(n_re2)] += 1.0
            Linv = np.linalg.inv(L11)
            Binv = sp.bsr_matrix((Linv.transpose(0, 2, 1) @ Linv, np.arange(G),
                                  np.arange(G + 1)), shape=(G * q, G * q)).tocsr()
            S = H22 - (H21 @ Binv @ H21.T).toarray()
            LS = np.linalg.cholesky(S)
            dS = np.log(np.diag(LS))
            logdet += 2.0 * dS[:n_re2].sum()
        else:
            H21 = Binv = LS = None

        def solve(rhs):
            r1 = rhs[s1].reshape(G, q)
            x1 = np.linalg.solve(blocks, r1[:, :, None])[:, :, 0].ravel()
            out = np.empty_like(rhs)
            if LS is None:
                out[s1] = x1
                return out
            r2 = np.concatenate([rhs[s] for s in rest] + ([rhs[self.r:]] if Xw is not None
                                                          else []))
            x2 = sla.cho_solve((LS, True), r2 - H21 @ x1)
            x1 = x1 - Binv @ (H21.T @ x2)
            out[s1] = x1
            pos = 0
            for s in rest:
                k = s.stop - s.start
                out[s] = x2[pos:pos + k]
                pos += k
            if Xw is not None:
                out[self.r:] = x2[pos:]
            return out
        return solve, logdet

    def _mode(self, eta0, ZL, aux, tol=1e-10, maxiter=100):
        """Penalized iteratively reweighted least squares (Newton with step halving)."""
        u = self._u.copy()
        ll, d1, d2 = family_eval(self._fam, self._link, self.y, self.t, eta0 + ZL @ u, aux)
        obj = ll.sum() - 0.5 * u @ u
        for _ in range(maxiter):
            grad = ZL.T @ d1 - u
            solve, _ = self._factor(ZL, np.maximum(-d2, 0.0))
            step = solve(grad)
            t = 1.0
            for _ in range(30):
                un = u + t * step
                lln, d1n, d2n = family_eval(self._fam, self._link, self.y, self.t,
                                            eta0 + ZL @ un, aux)
                objn = lln.sum() - 0.5 * un @ un
                if np.isfinite(objn) and objn >= obj - 1e-12 * abs(obj):
                    break
                t *= 0.5
            else:
                break
            dec = objn - obj
            u, ll, d1, d2, obj = un, lln, d1n, d2n, objn
            if abs(dec) < tol * (1.0 + abs(obj)) and np.max(np.abs(t * step)) < 1e-8:
                break
        return u, ll, d2, obj

    def _joint_mode(self, ZL, aux, beta0, tol=1e-10, maxiter=100):
        """Joint maximizer of the penalized log likelihood in (beta, u) (lme4's nAGQ=0)."""
        k = self.X.shape[1]
        v = np.concatenate([self._u, beta0])
        A = sp.hstack([ZL, sp.csr_matrix(self.X)]).tocsr()

        def evaluate(v):
            ll, d1, d2 = family_eval(self._fam, self._link, self.y, self.t,
                                     self.offset + A @ v, aux)
            return ll, d1, d2, ll.sum() - 0.5 * v[:self.r] @ v[:self.r]
        _, d1, d2, obj = evaluate(v)
        for _ in range(maxiter):
            grad = A.T @ d1
            grad[:self.r] -= v[:self.r]
            solve, _ = self._factor(ZL, np.maximum(-d2, 1e-12), Xw=self.X)
            step = solve(grad)
            t = 1.0
            for _ in range(30):
                vn = v + t * step
                _, d1n, d2n, objn = evaluate(vn)
                if np.isfinite(objn) and objn >= obj - 1e-12 * abs(obj):
                    break
                t *= 0.5
            else:
                break
            dec = objn - obj
            v, d1, d2, obj = vn, d1n, d2n, objn
            if abs(dec) < tol * (1.0 + abs(obj)) and np.max(np.abs(t * step)) < 1e-8:
                break
        return v[:self.r], v[self.r:self.r + k], d2, obj

    def loglike_profiled_beta(self, aux, theta, beta0):
        """Laplace-type criterion with beta in the penalized mode (lme4's nAGQ=0 stage).

        Returns the criterion and the joint-mode beta; used for starting values only.
        """
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        ZL = (sp.hstack(self.Zs, format="csr") @ self._lambda(theta)).tocsr()
        u, beta, d2, obj = self._joint_mode(ZL, aux, np.asarray(beta0, float))
        if not np.isfinite(obj):
            return -np.inf, beta0
        try:
            _, logdet = self._factor(ZL, -d2)
        except np.linalg.LinAlgError:
            return -np.inf, beta0
        self._u = u
        c, _ = obs_constant(self.family, self.y, self.t, aux)
        return float(obj + c.sum() - 0.5 * logdet), beta

    # -- public --------------------------------------------------------------------------------
    def loglike(self, beta, aux, theta):
        """Laplace approximation to the marginal log likelihood at (beta, aux, theta)."""
        beta = np.asarray(beta, float)
        aux = np.ascontiguousarray(aux if aux is not None else [], float)
        ZL = (sp.hstack(self.Zs, format="csr") @ self._lambda(theta)).tocsr()
        eta0 = self.X @ beta + self.offset
        u, ll, d2, obj = self._mode(eta0, ZL, aux)
        if not np.isfinite(obj):
            return -np.inf
        try:
            _, logdet = self._factor(ZL, -d2)
        except np.linalg.LinAlgError:
            return -np.inf
        self._u = u
        c, _ = obs_constant(self.family, self.y, self.t, aux)
        return float(obj + c.sum() - 0.5 * logdet)

    def modes(self, beta, aux, theta):
        """Conditional modes of the random effects b = Lambda u^, one array per term."""
        self.loglike(beta, aux, theta)
        lam = self._lambda(theta)
        b = lam @ self._u
        return [b[self.offsets[k]:self.offsets[k + 1]].reshape(t.n_groups, t.q)
                for k, t in enumerate(self.terms)]
