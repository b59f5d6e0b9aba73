"""``mixed`` with AR(1) residuals on long series (20 ids x 2,000 times): the banded path.

References: the log likelihood at the estimates from the closed-form AR(1) precision
(tridiagonal, log|R| = (n - 1) log(1 - rho^2)) and the Woodbury identity for the random
intercept, written out here; and nlme 3.1 (R 4.2.2) on 10 ids x 1,000 times
(``_long_panel(10, 1000, 14)`` written to CSV and read by R; nlme took 3 minutes):
``lme(y ~ x, random = ~1 | id, correlation = corAR1(form = ~ time | id), data = d,
method = "ML", control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12,
msTol = 1e-14))``: logLik -10834.52913442, fixef (1.13922398042265, 0.49699537522864),
Phi 0.692618465595503, VarCorr variances (2.067230909893728, 0.976095229762237),
``ranef`` of ids 1-3 (-1.994333589455169, 3.175208720674894, 0.306332282038059).
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.objectives.lmm_residual_banded import BandedResidualLMM


def _long_panel(n_g=20, m=2000, seed=13):
    rng = np.random.default_rng(seed)
    rho = 0.7
    e = np.empty((n_g, m))
    e[:, 0] = rng.normal(size=n_g)
    for t in range(1, m):
        e[:, t] = rho * e[:, t - 1] + np.sqrt(1 - rho ** 2) * rng.normal(size=n_g)
    x = rng.normal(size=n_g * m)
    u = np.repeat(rng.normal(size=n_g), m)
    return pd.DataFrame({"id": np.repeat(np.arange(1, n_g + 1), m),
                         "time": np.tile(np.arange(1, m + 1), n_g),
                         "x": x, "y": 1.0 + 0.5 * x + u + e.ravel()})


@pytest.fixture(scope="module")
def long_fit():
    d = _long_panel()
    model = smf.mixed("y x || id:, residuals(ar 1, t(time))", data=d)
    return d, model, model.fit()


def _ar1_pieces(d, beta, var_u, rho, var_e):
    """ML log likelihood of y = X beta + u_id + e, e AR(1) in time within id, and the
    BLUPs u_hat = 1'C^-1 r / (1 / var_u + 1'C^-1 1) (Woodbury)."""
    r = (d["y"] - beta[1] - beta[0] * d["x"]).to_numpy().reshape(-1, 2000)
    n = r.shape[1]
    one = np.ones(n)

    def rinv_quad(a, b):
        # a' R^-1 b with R^-1 = tridiag(-rho; 1, 1 + rho^2, ..., 1 + rho^2, 1) / (1 - rho^2)
        inner = a @ b.T if a.ndim == 1 else (a * b).sum(axis=-1)
        mid = (a[..., 1:-1] * b[..., 1:-1]).sum(axis=-1)
        lag = (a[..., 1:] * b[..., :-1] + a[..., :-1] * b[..., 1:]).sum(axis=-1)
        return (inner + rho ** 2 * mid - rho * lag) / (1 - rho ** 2)
    c11 = rinv_quad(one, one) / var_e
    c1r = rinv_quad(r, np.broadcast_to(one, r.shape)) / var_e
    crr = rinv_quad(r, r) / var_e
    logdet_c = n * np.log(var_e) + (n - 1) * np.log(1 - rho ** 2)
    logdet = logdet_c + np.log(1 + var_u * c11)
    quad = crr - c1r ** 2 / (1 / var_u + c11)
    llf = -0.5 * (r.size * np.log(2 * np.pi) + r.shape[0] * logdet + quad.sum())
    return llf, c1r / (1 / var_u + c11)


def test_long_series_take_the_banded_path(long_fit):
    _, model, _ = long_fit
    assert isinstance(model.objective, BandedResidualLMM)


def test_long_series_closed_form(long_fit):
    d, _, res = long_fit
    p = res.params
    rho, var_e = p["/Residual:rho"], p["/Residual:var(e)"]
    llf, blups = _ar1_pieces(d, [p["x"], p["_cons"]], p["/var(_cons[id])"], rho, var_e)
    assert res.llf == pytest.approx(llf, rel=1e-11)
    np.testing.assert_allclose(res.random_effects.iloc[:, 0], blups, rtol=1e-9)
    # rstandard: the AR(1) innovations of the residuals, (r_t - rho r_{t-1}) /
    # sqrt(var_e (1 - rho^2)), the first of each id r_1 / sqrt(var_e)
    r = res.predict("residuals").to_numpy().reshape(-1, 2000)
    want = np.empty_like(r)
    want[:, 0] = r[:, 0] / np.sqrt(var_e)
    want[:, 1:] = (r[:, 1:] - rho * r[:, :-1]) / np.sqrt(var_e * (1 - rho ** 2))
    np.testing.assert_allclose(res.predict("rstandard").to_numpy(), want.ravel(),
                               rtol=1e-9, atol=1e-12)


def test_long_series_match_nlme():
    d = _long_panel(10, 1000, 14)
    model = smf.mixed("y x || id:, residuals(ar 1, t(time))", data=d)
    assert isinstance(model.objective, BandedResidualLMM)
    res = model.fit()
    assert res.llf == pytest.approx(-10834.52913442, rel=1e-11)
    p = res.params
    np.testing.assert_allclose(
        [p["_cons"], p["x"], p["/Residual:rho"], p["/var(_cons[id])"], p["/Residual:var(e)"]],
        [1.13922398042265, 0.49699537522864, 0.692618465595503, 2.067230909893728,
         0.976095229762237], rtol=2e-6)
    np.testing.assert_allclose(res.random_effects.iloc[:3, 0],
                               [-1.994333589455169, 3.175208720674894, 0.306332282038059],
                               rtol=2e-6)
