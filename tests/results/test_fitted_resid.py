"""statsmodels' ``fittedvalues`` and ``resid`` on the results, against values computed in
this file from the fit's own estimates."""
import numpy as np
import pytest
from scipy import special

from statsmodels_me import datasets
from statsmodels_me.formula import api as smf
from statsmodels_me.spec.errors import SpecificationError


def test_mixed_fitted_is_xb_plus_blup_on_the_estimation_sample():
    """BLUPs of a random intercept from the GLS formula with dense 9 x 9 blocks:
    u_j = s_u^2 1'V_j^{-1}(y_j - X_j b)."""
    pig = datasets.load("pig")
    res = smf.mixed("mixed weight week if week > 2 || id:", data=pig).fit()
    b1, b0, su2, se2 = np.asarray(res.params, float)
    sample = pig[pig["week"] > 2]
    expected = {}
    for _, g in sample.groupby("id"):
        r = g["weight"].to_numpy() - b0 - b1 * g["week"].to_numpy()
        n = len(r)
        u = su2 * np.ones(n) @ np.linalg.solve(su2 * np.ones((n, n)) + se2 * np.eye(n), r)
        for idx, w in zip(g.index, g["week"]):
            expected[idx] = b0 + b1 * w + u
    fitted = res.fittedvalues
    assert list(fitted.index) == list(sample.index)
    np.testing.assert_allclose(fitted.to_numpy(), [expected[i] for i in sample.index],
                               rtol=1e-8)
    np.testing.assert_allclose(res.resid.to_numpy(),
                               sample["weight"].to_numpy() - fitted.to_numpy(), rtol=1e-12)


def test_melogit_fitted_is_the_mean_at_the_posterior_mean_of_each_district():
    """mu = invlogit(xb + E[u_j | y_j]) (Stata's predict mu, conditional(ebmeans)); the
    posterior means by brute-force integration on a fine grid."""
    bd = datasets.load("bangladesh")
    res = smf.melogit("melogit c_use urban age || district:, intpoints(30)", data=bd).fit()
    b_urban, b_age, b0, su2 = np.asarray(res.params, float)
    xb = b0 + b_urban * bd["urban"].to_numpy() + b_age * bd["age"].to_numpy()
    y = bd["c_use"].to_numpy(float)
    grid = np.linspace(-8, 8, 4001) * np.sqrt(su2)
    expected = np.empty(len(bd))
    for _, rows in bd.groupby("district").indices.items():
        eta = xb[rows][:, None] + grid[None, :]
        logp = (y[rows][:, None] * eta - np.logaddexp(0, eta)).sum(0) - 0.5 * grid ** 2 / su2
        w = np.exp(logp - logp.max())
        expected[rows] = special.expit(xb[rows] + (w * grid).sum() / w.sum())
    np.testing.assert_allclose(res.fittedvalues.to_numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(res.resid.to_numpy(), y - expected, rtol=1e-5, atol=1e-7)


def test_ordinal_fittedvalues_are_refused_with_a_message():
    bd = datasets.load("bangladesh")
    res = smf.meologit("meologit c_use urban || district:", data=bd).fit()
    with pytest.raises(SpecificationError, match="mu"):
        _ = res.fittedvalues
