"""The LMM objectives' analytic gradients against central differences of its deviance.

References are differences of the objective's own deviance (step 1e-4, where the truncation and
rounding errors are both ~1e-7 here); the deviance itself is checked against lme4 and dense
brute force in test_mixed_structures.py.
"""
import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.objectives.lmm_blocked import BlockedLMM


def _fd(fun, x, h=1e-4):
    out = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        out[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text", [
    "weight week || _all: R.id || _all: R.week",
    "weight week || _all: R.week || id:",
])
@pytest.mark.parametrize("theta", [[1.8, 0.14], [0.5, 1.3], [2.0, 1e-3]])
def test_crossed_scalar_gradient(text, theta, reml):
    model = smf.mixed(text, data=load("pig"), reml=reml)
    eng = model.objective
    assert eng.analytic_gradient
    theta = np.array(theta)
    dev, grad = eng.deviance_and_grad(theta)
    assert dev == pytest.approx(eng.deviance(theta), rel=1e-14)
    assert np.allclose(grad, _fd(eng.deviance, theta), rtol=1e-5, atol=1e-5)
    s2 = 4.3
    ll, g = eng.loglike_s2_and_grad(theta, s2)
    x = np.r_[theta, s2]
    assert ll == pytest.approx(eng.loglike_profile_s2(theta, s2), rel=1e-14)
    fd = _fd(lambda v: eng.loglike_profile_s2(v[:-1], v[-1]), x)
    assert np.allclose(g, fd, rtol=1e-5, atol=1e-5)


def test_other_multi_term_models_use_differences():
    model = smf.mixed("weight week || _all: R.week || id: week", data=load("pig"))
    assert type(model.objective) is BlockedLMM
    assert not model.objective.analytic_gradient
    assert not model.objective.exact_hessian
