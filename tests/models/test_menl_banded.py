"""``rescorrelation(banded #, index())`` of ``menl``: nlme has no banded correlation (corSymm
cannot hold some correlations at zero), so the fit is checked by an independent computation
written out here, dense, group by group:

* the linearized model at menl's estimates (``w = y - f + X beta + Z b``, with the growth
  curve's derivatives written by hand) has log likelihood ``res.llf`` at the reported
  parameters, with ``V_g = var(U) Z_g Z_g' + s2 C`` and ``C`` the banded correlation matrix
  (correlations ``corr(e_j, e_k)`` for levels at most # apart, zero beyond);
* menl's variance parameters are a local maximum of that log likelihood (fixed effects at
  GLS: zero gradient, negative definite Hessian), and with one band scipy's search from
  elsewhere finds them again;
* penalized nonlinear least squares at those variance parameters returns menl's fixed effects
  and random effects (the fixed point of the alternating algorithm);
* the fixed effects' standard errors are ``sqrt(diag((X' V^-1 X)^-1 n / (n - p)))`` and the
  variance parameters' the inverse of the numerical Hessian of that log likelihood (fixed
  effects held at their estimates).

Model: ``weight = (a + U[id]) exp(r week)`` on the pig weights of weeks 1-4 (banded 1) and
1-6 (banded 2; on weeks 1-4 or 1-5 its maximum lies on the boundary of the positive definite
correlation matrices, where the errors cannot be whitened).
"""
import warnings

import numpy as np
import pytest
from scipy import optimize

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError

TEXT = "menl weight = ({a}+{U[id]})*exp({r}*week), rescorrelation(banded %d, index(week))"


def _pig(weeks):
    p = load("pig")
    return p[p["week"] <= weeks].reset_index(drop=True)


@pytest.fixture(scope="module")
def pig4():
    return _pig(4)


def _parts(data, beta, u):
    """Response, derivatives and working response of the linearized model."""
    y = data["weight"].to_numpy(float)
    t = data["week"].to_numpy(float)
    ids = data["id"].to_numpy()
    codes = np.unique(ids, return_inverse=True)[1]
    e = np.exp(beta[1] * t)
    f = (beta[0] + u[codes]) * e
    X = np.column_stack([e, (beta[0] + u[codes]) * t * e])
    z = e
    w = y - f + X @ beta + z * u[codes]
    return y, t, codes, X, z, w


def _corr(order, c, m):
    C = np.eye(m)
    k = 0
    for a in range(m):
        for b in range(a + 1, m):
            if b - a <= order:
                C[a, b] = C[b, a] = c[k]
                k += 1
    return C


def _loglik(v, order, X, z, w, m, beta=None):
    """ML log likelihood of the linearized model at (var(U), s2, correlations) ``v``; beta
    at GLS when None. Rows sorted by pig and week, ``m`` per pig."""
    var_u, s2, c = v[0], v[1], v[2:]
    if not np.all(np.isfinite(v)) or var_u < 0 or s2 <= 0:
        return -np.inf
    C = _corr(order, c, m)
    if np.linalg.eigvalsh(C).min() <= 0:
        return -np.inf
    Z, Xg, wg = z.reshape(-1, m), X.reshape(-1, m, 2), w.reshape(-1, m)
    V = var_u * Z[:, :, None] * Z[:, None, :] + s2 * C
    Vi = np.linalg.inv(V)
    if beta is None:
        A = np.einsum("gia,gij,gjb->ab", Xg, Vi, Xg)
        beta = np.linalg.solve(A, np.einsum("gia,gij,gj->a", Xg, Vi, wg))
    e = wg - Xg @ beta
    return -0.5 * (w.size * np.log(2 * np.pi) + np.linalg.slogdet(V)[1].sum()
                   + np.einsum("gi,gij,gj->", e, Vi, e))


@pytest.mark.parametrize("weeks, order", [(4, 1), (6, 2)])
def test_banded_against_a_direct_computation(weeks, order):
    data = _pig(weeks)
    m = weeks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(TEXT % order, data=data).fit()
    names = [f"/Residual:corr(e{a + 1},e{b + 1})" for a in range(m) for b in range(a + 1, m)
             if b - a <= order]
    assert [n for n in res.params.index if n.startswith("/Residual")] == names
    beta = res.params[["/a", "/r"]].to_numpy()
    v_hat = res.params[["/var(U[id])", "/var(e)", *names]].to_numpy()
    u = res.random_effects["U"].to_numpy()
    y, t, codes, X, z, w = _parts(data, beta, u)
    assert np.array_equal(np.lexsort((t, codes)), np.arange(len(t)))  # by pig, then week
    assert np.all(np.bincount(codes) == m)
    # 1. the reported log likelihood
    ll = _loglik(v_hat, order, X, z, w, m)
    assert abs(ll - res.llf) <= 1e-8 * abs(ll)
    # 2. the LME step's optimum: stationary (the gradient in each parameter, times its
    # scale, below 1e-4) with a negative definite Hessian
    k = len(v_hat)
    h = 1e-4 * np.maximum(np.abs(v_hat), 1e-1)

    def f(v, beta=None):
        return _loglik(v, order, X, z, w, m, beta=beta)
    grad = [(f(v_hat + h[i] * np.eye(k)[i]) - f(v_hat - h[i] * np.eye(k)[i])) / (2 * h[i])
            for i in range(k)]
    assert np.all(np.abs(grad) * np.maximum(np.abs(v_hat), 0.1) < 1e-4), grad
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            H[i, j] = (f(v_hat + ei + ej, beta) - f(v_hat + ei - ej, beta)
                       - f(v_hat - ei + ej, beta) + f(v_hat - ei - ej, beta)) / (4 * h[i] * h[j])
    assert np.linalg.eigvalsh(H).max() < 0
    if order == 1:
        # found again by scipy from elsewhere
        start = np.concatenate([[1.0, 5.0], np.zeros(len(names))])
        for _ in range(3):
            # Nelder-Mead restarted from its own result (it takes the -inf outside the
            # positive definite correlations in its stride)
            opt = optimize.minimize(lambda v: -f(v), start, method="Nelder-Mead",
                                    options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 40000,
                                             "maxfev": 40000})
            start = opt.x
        assert -opt.fun <= res.llf + 1e-7 * abs(res.llf)
        np.testing.assert_allclose(v_hat, opt.x, rtol=1e-4, atol=1e-5)
    # 3. the fixed point: PNLS at the variance parameters returns beta and the modes
    C = _corr(order, v_hat[2:], m)
    Linv = np.linalg.inv(np.linalg.cholesky(v_hat[1] * C))

    def resid(p):
        fit = (p[0] + p[2:][codes]) * np.exp(p[1] * t)
        r = (y - fit).reshape(-1, m)
        return np.concatenate([(r @ Linv.T).ravel(), p[2:] / np.sqrt(v_hat[0])])
    sol = optimize.least_squares(resid, np.concatenate([beta * 1.01, np.zeros(len(u))]),
                                 xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(sol.x[:2], beta, rtol=1e-6)
    np.testing.assert_allclose(sol.x[2:], u, atol=1e-5 * np.abs(u).max())
    # 4. standard errors
    Zg, Xg = z.reshape(-1, m), X.reshape(-1, m, 2)
    V = v_hat[0] * Zg[:, :, None] * Zg[:, None, :] + v_hat[1] * C
    A = np.einsum("gia,gij,gjb->ab", Xg, np.linalg.inv(V), Xg)
    n = len(y)
    se_beta = np.sqrt(np.diag(np.linalg.inv(A)) * n / (n - 2))
    np.testing.assert_allclose(res.bse[["/a", "/r"]], se_beta, rtol=1e-6)
    se_v = np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(res.bse[["/var(U[id])", "/var(e)", *names]], se_v, rtol=1e-3)


def test_banded_of_full_order_is_unstructured(pig4):
    un = smf.menl("menl weight = ({a}+{U[id]})*exp({r}*week), "
                  "rescorrelation(unstructured, index(week))", data=pig4).fit()
    full = smf.menl(TEXT % 3, data=pig4).fit()
    assert abs(full.llf - un.llf) <= 1e-9 * abs(un.llf)
    np.testing.assert_allclose(full.params.to_numpy(), un.params.to_numpy(), rtol=1e-6)
    assert list(full.params.index) == list(un.params.index)


def test_banded_order_above_the_levels_is_refused(pig4):
    with pytest.raises(SpecificationError, match="banded 4"):
        smf.menl(TEXT % 4, data=pig4)
