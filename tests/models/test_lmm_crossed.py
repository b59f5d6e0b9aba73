"""The crossed scalar-intercept factor (lmm_crossed + its Cython kernels) against the engine's
general sparse blocked factor and against central differences of the deviance.

Data: simulated, three crossed terms (60 x 25 x 4 levels, unbalanced, some cells empty) with
one random slope term, so that A22 has off-diagonal blocks and the sparsity is irregular.
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 900
    a = rng.integers(0, 60, n)
    b = (a * 7 + rng.integers(0, 12, n)) % 25
    c = rng.integers(0, 4, n)
    x = rng.standard_normal(n)
    y = (1.0 + 0.5 * x + rng.standard_normal(60)[a] * 0.8 + rng.standard_normal(25)[b] * 0.6
         + rng.standard_normal(4)[c] * 0.4 + rng.standard_normal(n))
    return pd.DataFrame({"y": y, "x": x, "a": a, "b": b, "c": c})


FORMULAS = ["y ~ x + (1|a) + (1|b) + (1|c)", "y ~ x + (1|a) + (1|b) + (0 + x|c)"]


def _general_factor(eng, theta):
    """The engine's sparse blocked factor, which makes no use of scalar terms."""
    eng.scalar = False
    try:
        return eng.factor(theta)
    finally:
        eng.scalar = True


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("theta", [[0.8, 0.6, 0.4], [2.0, 0.05, 1.5], [0.3, 1.2, 1e-3]])
def test_factor_matches_general_path(data, formula, theta, reml):
    eng = smf.mixed(formula, data, reml=reml).engine
    assert eng.scalar and eng.analytic_gradient
    theta = np.array(theta)
    f = eng.factor(theta)
    g = _general_factor(eng, theta)
    for key in ("logdet", "logdetX", "r2"):
        assert f[key] == pytest.approx(g[key], rel=1e-12)
    np.testing.assert_allclose(f["beta"], g["beta"], rtol=1e-10)
    np.testing.assert_allclose(np.tril(f["L22"]), g["L22"], atol=1e-12)
    np.testing.assert_allclose(f["L21"].toarray(), g["L21"].toarray(), atol=1e-12)
    np.testing.assert_allclose(f["RZX2"], g["RZX2"], atol=1e-10)
    for b1, b2 in zip(eng.blups(f), eng.blups(g)):
        np.testing.assert_allclose(b1, b2, atol=1e-10)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("theta", [[0.8, 0.6, 0.4], [2.0, 0.05, 1.5]])
def test_gradient_matches_differences(data, formula, theta, reml):
    eng = smf.mixed(formula, data, reml=reml).engine
    theta = np.array(theta)
    dev, grad = eng.deviance_and_grad(theta)
    assert dev == pytest.approx(eng.deviance(theta), rel=1e-14)
    h = 1e-5
    fd = np.array([(eng.deviance(theta + h * e) - eng.deviance(theta - h * e)) / (2 * h)
                   for e in np.eye(len(theta))])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_work_buffer_does_not_leak_into_results(data):
    """Gradient evaluations reuse one buffer; a factor kept by the caller must not change."""
    eng = smf.mixed(FORMULAS[0], data).engine
    f = eng.factor(np.array([0.8, 0.6, 0.4]))
    L22 = f["L22"].copy()
    eng.deviance_and_grad(np.array([1.5, 0.2, 0.9]))
    eng.deviance_and_grad(np.array([1.5, 0.2, 0.9]))
    np.testing.assert_array_equal(f["L22"], L22)
