"""``mixed`` with ``residuals(toeplitz #)`` and ``residuals(banded #)`` below full order against
a dense Gaussian likelihood written here.

nlme has no banded Toeplitz correlation (corARMA constrains the lags, corSymm frees all of
them), so the reference is the (restricted) log likelihood of the panel of
``test_mixed_residuals.panel`` (40 ids x 6 times) with Var(y_i) = var(u) J + R, R the
residual covariance written entry by entry from the displayed parameters (toeplitz q:
var(e) on the diagonal, var(e) rho_h at lag h <= q, 0 beyond; banded q: free var(e_t) and
cov(e_s, e_t) for |s - t| <= q, 0 beyond), the fixed effects at their GLS values, maximized
by scipy's BFGS over the displayed parameters and finished by Newton steps on differenced
Hessians. Its standard errors: the inverse of that Hessian for the variance parameters
(beta profiled), (X' V^-1 X)^-1 for the fixed effects.
"""
import numpy as np
import pytest
from scipy import optimize
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from statsmodels_me.models.mixed import Mixed
from tests.models.test_mixed_residuals import panel

G, T = 40, 6
LAG = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])


def toeplitz_cov(v, q):
    R = np.eye(T)
    for h in range(1, q + 1):
        R[LAG == h] = v[h]
    return v[0] + v[q + 1] * R


def banded_cov(v, q):
    pairs = [(a, b) for a in range(T) for b in range(a + 1, T) if b - a <= q]
    R = np.diag(v[1:1 + T])
    for (a, b), c in zip(pairs, v[1 + T:]):
        R[a, b] = R[b, a] = c
    return v[0] + R


def dense_loglik(v, cov, y, X, reml):
    """(log likelihood, GLS beta, X' V^-1 X) at the displayed parameters ``v``."""
    V = cov(v)
    try:
        L = np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        return -1e10, None, None
    Vi = np.linalg.inv(V)
    A = np.einsum("gjp,jk,gkq->pq", X, Vi, X)
    beta = np.linalg.solve(A, np.einsum("gjp,jk,gk->p", X, Vi, y))
    r = y - X @ beta
    n, p = y.size, X.shape[2]
    ll = -0.5 * (G * 2 * np.log(np.diag(L)).sum() + np.einsum("gj,jk,gk->", r, Vi, r))
    if reml:
        return ll - 0.5 * ((n - p) * np.log(2 * np.pi) + np.linalg.slogdet(A)[1]), beta, A
    return ll - 0.5 * n * np.log(2 * np.pi), beta, A


def dense_fit(cov, v0, reml):
    d = panel(G, T)
    y = d["y"].to_numpy().reshape(G, T)
    X = np.stack([d["x"].to_numpy(), np.ones(len(d))], axis=1).reshape(G, T, 2)

    def nll(v):
        return -dense_loglik(v, cov, y, X, reml)[0]
    v = optimize.minimize(nll, np.asarray(v0, float), method="BFGS",
                          options={"gtol": 1e-9, "maxiter": 5000}).x
    for _ in range(6):
        step = np.linalg.solve(approx_hess3(v, nll), approx_fprime(v, nll, centered=True))
        if nll(v - step) < nll(v):
            v = v - step
    ll, beta, A = dense_loglik(v, cov, y, X, reml)
    se = np.concatenate([np.sqrt(np.diag(np.linalg.inv(A))),
                         np.sqrt(np.diag(np.linalg.inv(approx_hess3(v, nll))))])
    return ll, np.concatenate([beta, v]), se


CASES = {
    "toeplitz 2": (lambda v: toeplitz_cov(v, 2), [0.2, 0.0, 0.0, 0.4]),
    "banded 1": (lambda v: banded_cov(v, 1), [0.2] + [0.4] * T + [0.0] * (T - 1)),
    "banded 2": (lambda v: banded_cov(v, 2), [0.2] + [0.4] * T + [0.0] * (2 * T - 3)),
}


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
@pytest.mark.parametrize("structure", list(CASES))
def test_against_dense_likelihood(structure, reml):
    cov, v0 = CASES[structure]
    llf, params, se = dense_fit(cov, v0, reml)
    res = Mixed.from_text(f"y x || id:, residuals({structure}, t(time))"
                          + (" reml" if reml else ""), panel(G, T)).fit()
    assert res.llf == pytest.approx(llf, rel=1e-6, abs=0)
    assert res.llf >= llf - 1e-8
    np.testing.assert_allclose(np.asarray(res.params), params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(res.bse), se, rtol=1e-3)
