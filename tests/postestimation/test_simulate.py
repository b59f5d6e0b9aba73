"""simulate, parametric bootstrap and profile intervals.

Simulated responses are checked against the moments the model implies (Var y = var_u + s2,
Cov within a pig = var_u, E y = xb; Bernoulli means against the quadrature marginal mean);
bootstrap replicates against fits of the same model to the simulated responses through the
formula API; profile intervals against lme4's ``confint(method = "profile")`` (quoted).
"""
import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


@pytest.fixture(scope="module")
def pig():
    return load("pig")


@pytest.fixture(scope="module")
def res(pig):
    return smf.mixed("weight week || id:", data=pig).fit()


def test_simulated_moments(pig, res):
    sims = res.simulate(4000, seed=11)
    assert sims.shape == (432, 4000) and list(sims.index) == list(pig.index)
    p = res.params
    vu, s2 = p["/var(_cons[id])"], p["/var(e.weight)"]
    Y = sims.to_numpy()
    xb = res.predict("xb").to_numpy()
    # mean over simulations of each row is xb (sd of the mean ~ sqrt(17/4000) = 0.065)
    assert np.abs(Y.mean(axis=1) - xb).max() < 0.35
    assert Y.var(axis=1).mean() == pytest.approx(vu + s2, rel=0.02)
    first, second = Y[0], Y[1]                   # two weeks of pig 1
    assert np.cov(first, second)[0, 1] == pytest.approx(vu, rel=0.08)
    assert np.cov(Y[0], Y[20])[0, 1] == pytest.approx(0.0, abs=0.08 * vu)  # different pigs
    again = res.simulate(2, seed=11)
    np.testing.assert_array_equal(again.to_numpy(), Y[:, :2])


def test_bernoulli_simulation_mean():
    ban = load("bangladesh")
    r = smf.melogit("c_use urban || district:", data=ban).fit()
    sims = r.simulate(3000, seed=5).to_numpy()
    assert set(np.unique(sims)) <= {0.0, 1.0}
    marginal = r.predict("mu", conditional=False).to_numpy()
    assert np.abs(sims.mean(axis=1) - marginal).mean() < 0.012


def test_bootstrap_refits_simulated_responses(pig, res):
    boot = res.bootstrap(2, seed=3)
    sims = res.simulate(2, seed=3)
    assert list(boot.columns) == list(res.params.index)
    for k in range(2):
        d = pig.assign(weight=sims.iloc[:, k].to_numpy())
        want = smf.mixed("weight week || id:", data=d).fit().params
        np.testing.assert_allclose(boot.iloc[k].to_numpy(), want.to_numpy(), rtol=1e-8)
    icc = res.bootstrap(2, seed=3, statistic=lambda r: [r.params["/var(_cons[id])"]])
    np.testing.assert_allclose(icc[0], boot["/var(_cons[id])"], rtol=1e-12)


def test_profile_intervals_match_lme4(res):
    # R 4.2.2: m <- lmer(weight ~ week + (1 | id), pig, REML = FALSE)
    #   confint(m, method = "profile", oldNames = FALSE)^2 (sd -> variance; profile intervals
    #   are invariant to the monotone map):
    #   sd_(Intercept)|id 10.030057574 23.007953657 ; sigma 3.817526252 5.066533353
    ci = res.conf_int(method="profile")
    np.testing.assert_allclose(ci.loc["/var(_cons[id])"], [10.030057574, 23.007953657],
                               rtol=2e-6)
    np.testing.assert_allclose(ci.loc["/var(e.weight)"], [3.817526252, 5.066533353], rtol=2e-6)
    assert ci.loc["week"].isna().all()
    wald = res.conf_int()
    np.testing.assert_allclose(wald.loc["week"].to_numpy(),
                               res.params["week"] + np.array([-1, 1]) * 1.959963984540054
                               * res.bse["week"], rtol=1e-12)
