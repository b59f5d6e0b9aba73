"""The three LMM objectives: the protocol, the deviance against a dense computation from the
marginal covariance, gradients against central differences and the exact Hessian against
differences of the analytic gradient.

Reference deviance: with V0 = I + Z Lambda Lambda' Z' (V = s2 V0), beta = GLS and
r2 = (y - X beta)' V0^-1 (y - X beta), -2 l = log|V0| + n (1 + log(2 pi r2 / n)) (ML) and
-2 l_R = log|V0| + log|X' V0^-1 X| + (n - p)(1 + log(2 pi r2 / (n - p))) (REML), built from
n x n matrices on a small sample (Harville 1977, JASA 72, 320-338; Bates et al. 2015 eq. 34, 41).
"""
import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.objectives import Objective
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_crossed_scalar import CrossedScalarLMM
from statsmodels_me.objectives.lmm_one_term import OneTermLMM

CASES = [
    ("weight week || id: week, cov(un)", OneTermLMM, [0.9, 0.05, 0.2]),
    ("weight week || id: week, cov(exchangeable)", OneTermLMM, [0.6, 0.3]),
    ("weight week || _all: R.id || _all: R.week", CrossedScalarLMM, [1.8, 0.14]),
    ("weight week || _all: R.week || id: week, cov(un)", BlockedLMM, [0.3, 0.9, 0.05, 0.2]),
]


@pytest.fixture(scope="module")
def pig():
    # a subset keeps the n x n reference small
    d = load("pig")
    return d[d["id"] <= 12].reset_index(drop=True)


def _dense_deviance(model, theta, reml):
    y, X = model.design.endog, model.design.exog
    n, p = X.shape
    Zl = np.hstack([t.sparse_Z().toarray() @ np.kron(np.eye(t.n_groups),
                                                       t.cholesky(theta[t.theta_index]))
                    for t in model.terms])
    V0 = np.eye(n) + Zl @ Zl.T
    Vi = np.linalg.inv(V0)
    C = X.T @ Vi @ X
    beta = np.linalg.solve(C, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    logdet = np.linalg.slogdet(V0)[1]
    if reml:
        m = n - p
        return logdet + np.linalg.slogdet(C)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
    return logdet + n * (1 + np.log(2 * np.pi * r2 / n))


def _central(f, x, h=1e-5):
    out = []
    for e in np.eye(len(x)):
        out.append((f(x + h * e) - f(x - h * e)) / (2 * h))
    return np.array(out).T


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text,cls,theta", CASES)
def test_objective_chosen_and_deviance_matches_dense(pig, text, cls, theta, reml):
    model = smf.mixed(text, data=pig, reml=reml)
    obj = model.objective
    assert type(obj) is cls
    assert isinstance(obj, Objective)
    assert obj.n_params == len(theta) == len(obj.bounds)
    theta = np.array(theta)
    dev = obj.deviance(theta)
    assert dev == pytest.approx(_dense_deviance(model, theta, reml), rel=1e-10)
    assert obj.value(theta) == pytest.approx(-0.5 * dev, rel=1e-14)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text,cls,theta", CASES)
def test_gradient_matches_differences(pig, text, cls, theta, reml):
    obj = smf.mixed(text, data=pig, reml=reml).objective
    theta = np.array(theta)
    val, grad = obj.value_and_grad(theta)
    assert val == pytest.approx(obj.value(theta), rel=1e-14)
    fd = _central(obj.value, theta)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
    assert obj.analytic_gradient == (cls is not BlockedLMM)


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("theta", [[1.8, 0.14], [0.5, 1.3]])
def test_crossed_exact_hessian_matches_gradient_differences(pig, theta, reml):
    obj = smf.mixed("weight week || _all: R.id || _all: R.week", data=pig,
                    reml=reml).objective
    assert obj.exact_hessian
    theta = np.array(theta)
    H = obj.hessian(theta)
    fd = _central(lambda t: obj.value_and_grad(t)[1], theta)
    np.testing.assert_allclose(H, 0.5 * (fd + fd.T), rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_objectives_without_an_exact_hessian_say_so(pig):
    for text, cls, theta in CASES:
        obj = smf.mixed(text, data=pig).objective
        if cls is not CrossedScalarLMM:
            assert not obj.exact_hessian
            assert obj.hessian(np.array(theta)) is None
