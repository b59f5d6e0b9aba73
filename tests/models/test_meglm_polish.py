"""Two-level Laplace fits: the loosely converged quasi-Newton fit is finished by Newton steps
on the Hessian the standard errors need; the optimum is tighter than before, the standard
errors equal those from a fresh Hessian at the optimum, and the number of engine passes does
not grow with the sample size (it did: failed line searches at the rounding level of a large
log likelihood)."""
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.models.glmm_engine import OneLevelGLMM
from statsmodels_me.models.glmm_fitting import GLMMFitter
from statsmodels_me.optimization import OptimizationRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from gen_data import glmm_logit  # noqa: E402

TEXT = "y ~ x + z + (1 + x | g)"


@contextmanager
def _counting_passes():
    """Counts the two-level engine's passes (the unit of cost of a fit) in ``count[0]``."""
    count = [0]
    orig = OneLevelGLMM._pass

    def counted(self, *a, **k):
        count[0] += 1
        return orig(self, *a, **k)
    OneLevelGLMM._pass = counted
    try:
        yield count
    finally:
        OneLevelGLMM._pass = orig


def _fit_counting(df):
    with _counting_passes() as count:
        model = smf.melogit(TEXT, df, intmethod="laplace")
        res = model.fit()
    return model, res, count[0]


@pytest.fixture(scope="module")
def fits():
    return {s: _fit_counting(glmm_logit(scale=s, seed=3)) for s in (0.05, 0.4)}


def test_optimum_is_a_newton_fixed_point(fits):
    model, res, _ = fits[0.05]
    x = res.params_internal
    llf, g = model.objective.value_and_grad(x)
    free = list(range(len(x)))
    H = model.objective.central_hessian(x, free)
    assert -g @ np.linalg.solve(H, g) < 1e-12
    assert llf == pytest.approx(res.llf, rel=1e-14)


def test_standard_errors_equal_a_fresh_hessian_at_the_optimum(fits):
    model, res, _ = fits[0.05]
    x = res.params_internal
    free = list(range(len(x)))
    H = model.objective.central_hessian(x, free)  # central differences, at the final point
    J = model.display_map.jacobian(x)
    se = np.sqrt(np.diag(J @ np.linalg.inv(-H) @ J.T))
    np.testing.assert_allclose(np.asarray(res.bse), se, rtol=1e-4)


def test_polish_finishes_a_loose_fit_in_few_passes(fits):
    """From a point where L-BFGS-B stopped early (relative decrease 1e-7), the Newton polish
    reaches the optimum of the full fit with the Hessian plus one or two engine passes."""
    model, res, _ = fits[0.4]
    fitter = GLMMFitter(model.objective, 500, [], OptimizationRecord(), "melogit")
    x0 = np.concatenate([res.params_internal[:model.k_fe], model.cov.theta_start()])
    x_loose, _ = fitter.quasi_newton(model.objective, x0, ftol=1e-7)
    with _counting_passes() as count:
        x, H, _ = fitter.newton_polish(x_loose)
    assert count[0] <= len(x) + 3
    np.testing.assert_allclose(x, res.params_internal, rtol=1e-7, atol=1e-8)


def test_engine_passes_do_not_grow_with_the_sample_size(fits):
    small, large = fits[0.05][2], fits[0.4][2]
    assert large <= small + 4, (small, large)
    assert large <= 32
