"""``|| id: R.g, cov(exchangeable)`` (Quick-start item 5).

An exchangeable covariance over the levels of g within id is the nested model
``|| id: || g:``: var(R.g) = var(u_id) + var(u_id>g) and cov(R.g) = var(u_id). The nested fit
is nlme's (R 4.2.2), on the panel of test_mixed_residuals.py with

    d$g <- as.integer(d$x > 0.5) + d$time %% 3
    d$y <- d$y + 0.8 * (((d$id * 7 + d$g * 11) %% 13) / 13 - 0.5)
    lme(y ~ x, random = ~1|id/g, data = d, method = meth,
        control = lmeControl(msTol = 1e-14, tolerance = 1e-12))
"""
import numpy as np
import pytest

from statsmodels_me.models.mixed import Mixed
from tests.models.test_mixed_residuals import panel


@pytest.fixture(scope="module")
def data():
    d = panel()
    d["g"] = (d["x"] > 0.5).astype(int) + d["time"] % 3
    d["y"] = d["y"] + 0.8 * (((d["id"] * 7 + d["g"] * 11) % 13) / 13 - 0.5)
    return d


# method: llf, (x, _cons), VarCorr: var(id), var(id/g), sigma^2
NLME = {
    False: (-209.775640001142, [2.0578911385938, 0.7510192257853],
            [0.31256767, 0.01919773, 0.21921824]),
    True: (-212.49674968773, [2.0579190903771, 0.7509258461419],
           [0.32164644, 0.01892268, 0.22055456]),
}


@pytest.mark.parametrize("reml", [False, True])
def test_exchangeable_factor_is_nested_intercepts(data, reml):
    res = Mixed.from_text("y x || id: R.g, cov(exchangeable)", data, reml=reml).fit()
    llf, beta, (v_id, v_idg, s2) = NLME[reml]
    assert list(res.params.index[2:]) == ["/var(R.g[id])", "/cov(R.g[id])", "/var(e.y)"]
    assert res.llf == pytest.approx(llf, rel=1e-6, abs=0)
    p = np.asarray(res.params)
    np.testing.assert_allclose(p[:2], beta, rtol=1e-5)
    np.testing.assert_allclose(p[2:], [v_id + v_idg, v_id, s2], rtol=1e-5)
    # the standard error of cov(R.g) is that of var(u_id) in the nested fit
    nested = Mixed.from_text("y x || id: || g:", data, reml=reml).fit()
    assert res.bse.iloc[3] == pytest.approx(nested.bse.iloc[2], rel=1e-3)

