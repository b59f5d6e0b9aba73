"""intmethod(pclaplace): the nested (Pinheiro & Chao 2006) Laplace equals the Laplace computed
over the whole random-effects vector, both by the general sparse engine (an independent code
path for the same approximation) and by a dense computation written out in this file.

The dense reference (:func:`dense_laplace`) builds Z and G for the 186 random effects of the
simulated four-level Poisson model, finds the conditional mode by Newton's method and applies
the Laplace formula

    l(beta, G) = log p(y | b) - b' G^-1 b / 2 - log det G / 2 - log det(Z' W Z + G^-1) / 2,

W = diag(exp(eta)) at the mode b (the Laplace approximation of Pinheiro & Chao 2006; the
Poisson log likelihood includes -log y!).
"""
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special

import statsmodels_me.formula.api as smf
from statsmodels_me.models.meglm import MEPoisson

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from pclaplace import simulate  # noqa: E402

TEXT = "y x || school: || klass: x, cov(un) || unit:"


@pytest.fixture(scope="module")
def data():
    return simulate(6, seed=3)


@pytest.fixture(scope="module")
def nested(data):
    return smf.mepoisson(TEXT, data=data, intmethod="pclaplace").fit()


def dense_laplace(df, params):
    """Laplace approximation of the model TEXT at ``params`` (its e(b) order: x, _cons,
    var(_cons[school]), var(x[klass]), var(_cons[klass]), cov(x,_cons[klass]),
    var(_cons[unit])), with dense matrices."""
    b_x, b_cons, v_s, v_kx, v_kc, c_k, v_u = params
    y, x = df["y"].to_numpy(float), df["x"].to_numpy(float)
    s, k, u = (df[c].to_numpy() for c in ("school", "klass", "unit"))
    n, ns, nk, nu = len(df), s.max() + 1, k.max() + 1, u.max() + 1
    rows = np.arange(n)
    Z = np.zeros((n, ns + 2 * nk + nu))
    Z[rows, s] = 1.0
    Z[rows, ns + 2 * k] = x
    Z[rows, ns + 2 * k + 1] = 1.0
    Z[rows, ns + 2 * nk + u] = 1.0
    G = np.zeros((Z.shape[1], Z.shape[1]))
    G[np.arange(ns), np.arange(ns)] = v_s
    for j in range(nk):
        G[ns + 2 * j:ns + 2 * j + 2, ns + 2 * j:ns + 2 * j + 2] = [[v_kx, c_k], [c_k, v_kc]]
    unit = ns + 2 * nk + np.arange(nu)
    G[unit, unit] = v_u
    G_inv = np.linalg.inv(G)
    offset = b_cons + b_x * x
    b = np.zeros(Z.shape[1])
    for _ in range(100):
        mu = np.exp(offset + Z @ b)
        step = np.linalg.solve(Z.T @ (Z * mu[:, None]) + G_inv, Z.T @ (y - mu) - G_inv @ b)
        b += step
        if np.max(np.abs(step)) < 1e-12:
            break
    eta = offset + Z @ b
    H = Z.T @ (Z * np.exp(eta)[:, None]) + G_inv
    loglik = np.sum(y * eta - np.exp(eta) - special.gammaln(y + 1))
    return (loglik - 0.5 * b @ G_inv @ b - 0.5 * np.linalg.slogdet(G)[1]
            - 0.5 * np.linalg.slogdet(H)[1])


def test_pclaplace_equals_general_laplace(data, nested):
    design = smf.mepoisson(TEXT, data=data, intmethod="laplace").design
    general = MEPoisson(design=design, kind="crossed").fit()
    assert nested.llf == pytest.approx(general.llf, rel=1e-9)
    np.testing.assert_allclose(nested.params, general.params, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("intmethod", ["pclaplace", "laplace"])
def test_loglike_is_the_dense_laplace_approximation(data, intmethod):
    # away from the estimates, so that the whole function is checked, not only its maximum
    params = np.array([0.4, 0.1, 0.05, 0.04, 0.03, 0.006, 0.06])
    model = smf.mepoisson(TEXT, data=data, intmethod=intmethod)
    assert model.loglike(params) == pytest.approx(dense_laplace(data, params), rel=1e-10)


def test_pclaplace_fit_maximizes_the_dense_laplace_approximation(data, nested):
    params = np.asarray(nested.params)
    assert nested.llf == pytest.approx(dense_laplace(data, params), rel=1e-10)
    # central differences of the dense approximation vanish at the estimates (at the
    # parameters of the previous test they are between 0.04 and 40)
    h = 1e-5
    grad = [(dense_laplace(data, params + h * e) - dense_laplace(data, params - h * e)) / (2 * h)
            for e in np.eye(len(params))]
    np.testing.assert_allclose(grad, 0.0, atol=1e-3)
