"""The checks of a GLMM optimum (statsmodels_me.models.glmm_convergence), one by one, and
their false-alarm cases."""
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.models.glmm_convergence import RUNAWAY_SD, diagnose_fit, random_part_sd


def _binary(seed=3, n_groups=40, size=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=len(g))
    u = rng.normal(size=n_groups)[g]
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.2 + 0.5 * x + u))))
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module")
def fitted():
    model = smf.melogit("y x || g:", data=_binary())
    res = model.fit()
    return model, res, res.optimization.x_final


def test_good_fit_has_no_problems(fitted):
    model, res, x = fitted
    assert not diagnose_fit(model, x, res.llf, res.llf_fixed)


def test_non_finite_likelihood(fitted):
    model, res, x = fitted
    out = diagnose_fit(model, x, -np.inf, res.llf_fixed)
    assert out.non_finite and "not finite" in out.problems[0]
    assert "intpoints(7)" in out.message("melogit", -np.inf, res.llf_fixed, 7)


def test_below_the_fixed_model(fitted):
    model, res, x = fitted
    out = diagnose_fit(model, x, res.llf_fixed - 1.0, res.llf_fixed)
    assert "below that of the model without random effects" in out.problems[0]
    # the rounding difference of a variance estimated at zero is no problem
    assert not diagnose_fit(model, x, res.llf_fixed * (1 + 1e-12), res.llf_fixed)


def test_runaway_is_measured_on_the_linear_predictor(fitted):
    """sd = sqrt(var) * max|z|: a random slope on a covariate in small units may have a
    large variance without running away."""
    model, _, x = fitted
    (name, sd), = random_part_sd(model, x)
    assert name == "/var(_cons[g])"
    theta = x[-1]
    assert sd == pytest.approx(abs(theta))  # scalar Cholesky factor: sd = |theta|
    big = x.copy()
    big[-1] = 2 * RUNAWAY_SD
    out = diagnose_fit(model, big, 0.0, -1.0)
    assert out.runaway == ["/var(_cons[g])"]


def test_gaussian_scale_is_no_runaway():
    """Identity link: the variance is in the outcome's units (here ~1e6), no alarm."""
    d = _binary()
    rng = np.random.default_rng(1)
    d["w"] = 1000.0 * (rng.normal(size=40)[d["g"]] + rng.normal(size=len(d)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.meglm("w x || g:", data=d).fit()
    assert res.converged and res.params["/var(_cons[g])"] > 1e5
