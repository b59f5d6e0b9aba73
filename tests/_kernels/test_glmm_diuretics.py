"""The seed's example 6, alternative form: meglm lnor || trial: std, nocons with
var(std[trial]) constrained to 1 (a Gaussian GLMM with one observation per cluster).

Reference: Stata's [ME] me entry, example 6, as bundled in
statsmodels_me/datasets/seed_examples.json, id "ex6_diuretics_fixed_covariance":
llf -9.4552759 at _cons -0.5166151, var(e.lnor) 0.2377469 (mvaghermite 7 and laplace).
Data: the bundled ``statsmodels_me.datasets.load("diuretics")``.
"""
import numpy as np
import pytest

from statsmodels_me import datasets
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM


@pytest.mark.parametrize("method", ["mvaghermite", "laplace"])
def test_diuretics_loglike_at_published_estimates(method):
    d = datasets.load("diuretics")
    m = OneLevelGLMM(d.lnor, np.ones((len(d), 1)), d["std"], np.arange(len(d)), "gaussian",
                     intmethod=method)
    ll = m.loglike([-0.5166151], [np.log(0.2377469)], [[1.0]])
    assert ll == pytest.approx(-9.4552759, rel=1e-7)
