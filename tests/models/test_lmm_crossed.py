"""The crossed scalar-intercept objective (its factor, Hessian algebra and Cython kernels)
against the general sparse blocked factor and against central differences of the deviance.

Data: simulated, three crossed terms (60 x 25 x 4 levels, unbalanced, some cells empty) with
one random slope term, so that A22 has off-diagonal blocks and the sparsity is irregular.
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_crossed_scalar import CrossedScalarLMM
from statsmodels_me.optimization.lmm_starts import submodel_start
from statsmodels_me.optimization.log_newton import minimize_log_newton


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


def _general_factor(model, theta):
    """The general blocked objective's sparse factor, which makes no use of scalar terms."""
    general = BlockedLMM(model.design.endog, model.design.exog, model.terms, model.reml)
    general.A21_dense = None                 # the sparse path
    return general, general.factor(theta)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("theta", [[0.8, 0.6, 0.4], [2.0, 0.05, 1.5], [0.3, 1.2, 1e-3]])
def test_factor_matches_general_path(data, formula, theta, reml):
    model = smf.mixed(formula, data, reml=reml)
    eng = model.objective
    assert type(eng) is CrossedScalarLMM and eng.analytic_gradient
    theta = np.array(theta)
    f = eng.factor(theta)
    general, g = _general_factor(model, theta)
    for key in ("logdet", "logdetX", "r2"):
        assert f[key] == pytest.approx(g[key], rel=1e-12)
    np.testing.assert_allclose(f["beta"], g["beta"], rtol=1e-10)
    np.testing.assert_allclose(np.tril(f["L22"]), g["L22"], atol=1e-12)
    np.testing.assert_allclose(f["L21"].toarray(), g["L21"].toarray(), atol=1e-12)
    np.testing.assert_allclose(f["RZX2"], g["RZX2"], atol=1e-10)
    for b1, b2 in zip(eng.blups(f), general.blups(g)):
        np.testing.assert_allclose(b1, b2, atol=1e-10)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("theta", [[0.8, 0.6, 0.4], [2.0, 0.05, 1.5]])
def test_gradient_matches_differences(data, formula, theta, reml):
    eng = smf.mixed(formula, data, reml=reml).objective
    theta = np.array(theta)
    dev, grad = eng.deviance_and_grad(theta)
    assert dev == pytest.approx(eng.deviance(theta), rel=1e-14)
    h = 1e-5
    fd = np.array([(eng.deviance(theta + h * e) - eng.deviance(theta - h * e)) / (2 * h)
                   for e in np.eye(len(theta))])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_work_buffer_does_not_leak_into_results(data):
    """Gradient evaluations reuse one buffer; a factor kept by the caller must not change."""
    eng = smf.mixed(FORMULAS[0], data).objective
    f = eng.factor(np.array([0.8, 0.6, 0.4]))
    L22 = f["L22"].copy()
    eng.deviance_and_grad(np.array([1.5, 0.2, 0.9]))
    eng.deviance_and_grad(np.array([1.5, 0.2, 0.9]))
    np.testing.assert_array_equal(f["L22"], L22)


def _fd_parts(eng, theta, h=1e-5):
    """Central differences of the analytic (log det, r2) gradients."""
    k = len(theta)
    H1, H2 = np.empty((k, k)), np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        _, _, a_p, b_p = eng.grad_parts(theta + e)
        _, _, a_m, b_m = eng.grad_parts(theta - e)
        H1[:, i] = (a_p - a_m) / (2 * h)
        H2[:, i] = (b_p - b_m) / (2 * h)
    return H1, H2


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("theta", [[0.8, 0.6, 0.4], [2.0, 0.05, 1.5], [0.3, 1.2, 1e-2]])
def test_exact_hessian_matches_gradient_differences(data, formula, theta, reml):
    """Both parts (log|M| [+ log|C| under REML], r2) against differences of their
    analytic gradients; the (theta, s2) Hessian against differences of its gradient."""
    eng = smf.mixed(formula, data, reml=reml).objective
    theta = np.array(theta)
    f, dld, dr2, hld, hr2 = eng.hessian_parts(theta)
    H1, H2 = _fd_parts(eng, theta)
    # the differences are accurate to ~1e-9 of the largest entry here
    np.testing.assert_allclose(hld, H1, rtol=1e-6, atol=1e-7 * np.abs(H1).max())
    np.testing.assert_allclose(hr2, H2, rtol=1e-6, atol=1e-7 * np.abs(H2).max())
    dev, g, H = eng.deviance_grad_hess(theta)
    dev0, g0 = eng.deviance_and_grad(theta)
    assert dev == pytest.approx(dev0, rel=1e-14)
    np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-12)
    s2 = 1.7
    Hs = eng.loglike_s2_hessian(theta, s2)
    x = np.r_[theta, s2]
    fd = np.empty((4, 4))
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-5
        fd[:, i] = (eng.loglike_s2_and_grad((x + e)[:-1], (x + e)[-1])[1]
                    - eng.loglike_s2_and_grad((x - e)[:-1], (x - e)[-1])[1]) / 2e-5
    np.testing.assert_allclose(Hs, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


def test_exact_hessian_not_offered_at_a_zero_scale(data):
    eng = smf.mixed(FORMULAS[0], data).objective
    assert eng.hessian_parts(np.array([0.8, 0.0, 0.4])) is None


def test_newton_reaches_the_default_optimum(data):
    model = smf.mixed(FORMULAS[0], data)
    res = model.fit()
    cr = model.objective
    start = submodel_start(cr)
    assert start is not None and np.all(start > 0)
    # the start comes from sub-models: close, not the estimate
    np.testing.assert_allclose(start, res.theta, rtol=0.5)
    for alternative in (start, None):
        out = minimize_log_newton(cr, np.array([1.0, 1.0, 1.0]), model.theta_bounds(),
                                  alternative=alternative)
        assert out.success and out.converged_newton
        np.testing.assert_allclose(out.x, res.theta, rtol=1e-6)
        assert -0.5 * out.fun == pytest.approx(res.llf, abs=1e-8)
        # the standard errors' Hessian at the final iterate is remembered
        assert cr.remembers(out.x)


def test_newton_hands_over_at_a_zero_variance(data):
    """A term without variance: the log-scale iteration gives up, the caller's bounded
    optimizer finds the boundary estimate."""
    model = smf.mixed(FORMULAS[1], data)
    assert model.fit().theta[2] == 0.0
    cr = model.objective
    calls = []
    full = cr.deviance_grad_hess
    cr.deviance_grad_hess = lambda *a: calls.append(1) or full(*a)
    assert minimize_log_newton(cr, np.ones(3), model.theta_bounds(),
                               alternative=submodel_start(cr)) is None
    # it gives up as soon as one scale shrinks alone and zero beats the next step's promise
    assert len(calls) <= 4


@pytest.mark.parametrize("reml", [False, True])
def test_fit_with_newton_matches_the_general_optimizer(data, monkeypatch, reml):
    """mixed's fit with the exact-Hessian Newton iteration and exact standard errors against
    the same fit by L-BFGS-B, the Newton polish and differences of the gradient parts."""
    fast = smf.mixed(FORMULAS[0], data, reml=reml).fit()
    assert fast.model.objective.remembers(fast.theta)
    model = smf.mixed(FORMULAS[0], data, reml=reml)
    monkeypatch.setattr(model.objective, "exact_hessian", False)
    slow = model.fit()
    assert fast.llf == pytest.approx(slow.llf, abs=1e-9)
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-6)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-5)


def test_kept_factor_at_the_estimate_equals_a_fresh_one(data):
    model = smf.mixed(FORMULAS[0], data)
    cr = model.objective
    out = minimize_log_newton(cr, np.ones(3), model.theta_bounds(),
                              alternative=submodel_start(cr))
    kept = cr.factor(out.x)
    assert cr.cf.has_kept
    cr.cf.forget_kept()
    fresh = cr.factor(out.x)
    for key in ("L22", "RZX2", "ry2", "beta", "RX"):
        np.testing.assert_array_equal(kept[key], fresh[key])
    assert kept["r2"] == fresh["r2"] and kept["logdet"] == fresh["logdet"]
