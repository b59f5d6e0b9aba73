"""Newton's method for the fixed-effects GLM (the model without random effects).

Families without ancillary parameters (bernoulli, binomial, poisson): the log likelihood, the
score X' l' and the Hessian X' diag(l'') X (observed, not expected, information: exact Newton
for every link) come from the GLMM kernels' family math in one pass over the data.  Used by
``MEGLM._fit_fixed`` (Stata's "Fitting fixed-effects model").
"""
from __future__ import annotations

import numpy as np

from statsmodels_me._integrate.glmm_kernels import glm_score_info
from statsmodels_me.families.registry import FAMILY_CODES, link_code, obs_constant


def glm_newton(family, link, y, trials, offset, X, beta0, tol=1e-12, maxiter=60,
               evaluate=None):
    """Maximize the GLM log likelihood by Newton's method with step halving.

    Parameters
    ----------
    family, link : str
        Engine family name (no ancillary parameters) and link name.
    y, trials, offset : (n,) float arrays.
    X : (n, p) fixed-effects design.
    beta0 : (p,) start.
    tol : float
        Stop when the Newton decrement g' (-H)^-1 g (twice the predicted increase of the log
        likelihood) falls below ``tol``; that last step is taken.
    maxiter : int
    evaluate : callable, optional
        ``beta -> (ll, constant, g, info)``: the log likelihood without the observations'
        constant, that constant, the score and the information, from elsewhere than the
        arrays (sums over the partitions of a distributed fit); ``family``, ``link``, ``y``,
        ``trials``, ``offset`` and ``X`` are then not used.

    Returns
    -------
    (beta, llf, iterations) or None
        None when the Hessian is not negative definite, a step cannot increase the log
        likelihood or ``maxiter`` is reached (a non-concave start, collinear columns): the
        caller falls back to a quasi-Newton method.  Under separation the diverging
        coefficients stop where the decrement falls below ``tol`` (the caller's separation
        check names them).
    """
    if evaluate is None:
        evaluate = glm_evaluator(family, link, y, trials, offset, X)
    beta = np.ascontiguousarray(beta0, float).copy()
    ll, const, g, info = evaluate(beta)
    ll = ll if np.isfinite(ll) else -np.inf
    if not np.isfinite(ll):
        return None
    for it in range(1, maxiter + 1):
        try:
            R = np.linalg.cholesky(info)
        except np.linalg.LinAlgError:
            return None
        dR = np.diag(R)
        if dR.min() <= 1e-7 * dR.max():  # numerically singular (collinear columns)
            return None
        step = np.linalg.solve(R.T, np.linalg.solve(R, g))
        decrement = float(g @ step)
        lam = 1.0
        for _ in range(40):
            cand = beta + lam * step
            llc, _, g_c, info_c = evaluate(cand)
            llc = llc if np.isfinite(llc) else -np.inf
            if llc >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            lam *= 0.5
        else:
            return None
        beta, ll, g, info = cand, llc, g_c, info_c
        if decrement < tol:
            return beta, ll + const, it
    return None


def glm_evaluator(family, link, y, trials, offset, X):
    """``beta -> (ll, constant, g, info)`` of the GLM on the arrays (one kernel pass per
    call; the constant of the observations computed once)."""
    fam, lk = FAMILY_CODES[family], link_code(link)
    X = np.ascontiguousarray(X, float)
    y, t, off = (np.ascontiguousarray(a, float) for a in (y, trials, offset))
    noaux = np.zeros(0)
    const = float(obs_constant(family, y, t, noaux)[0].sum())
    p = X.shape[1]

    def evaluate(b):
        g, info = np.empty(p), np.empty((p, p))
        ll = glm_score_info(fam, lk, y, t, off, X, np.ascontiguousarray(b, float), noaux, g,
                            info)
        return ll, const, g, info
    return evaluate
