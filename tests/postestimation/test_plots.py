"""Plots render headless (Agg) and draw the numbers they claim to: the caterpillar plot's
points are the groups' BLUPs sorted, with half-widths z * reses; the residual plot's points
are (fitted, residual); the QQ plot's points are (normal quantiles, sorted residuals)."""
import numpy as np
import pytest
from scipy import stats

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.datasets import load  # noqa: E402


@pytest.fixture(scope="module")
def res():
    return smf.mixed("weight week || id:", data=load("pig")).fit()


def test_caterpillar(res):
    fig = res.plot_caterpillar()
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    b = res.predict("reffects")["_cons[id]"].groupby(load("pig")["id"]).first().to_numpy()
    se = res.predict("reses")["_cons[id]"].groupby(load("pig")["id"]).first().to_numpy()
    np.testing.assert_allclose(x, np.sort(b), rtol=1e-12)
    segs = ax.collections[0].get_segments()
    widths = np.array([s[1, 0] - s[0, 0] for s in segs]) / 2
    np.testing.assert_allclose(widths, stats.norm.ppf(0.975) * se[np.argsort(b)], rtol=1e-10)
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_residuals_and_qq(res):
    fig = res.plot_residuals()
    pts = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(pts[:, 0], res.predict("fitted"), rtol=1e-12)
    np.testing.assert_allclose(pts[:, 1], res.predict("residuals"), rtol=1e-12)
    q = res.plot_qq().axes[0].collections[0].get_offsets()
    r = np.sort(res.predict("residuals").to_numpy())
    np.testing.assert_allclose(q[:, 1], r, rtol=1e-12)
    np.testing.assert_allclose(q[:, 0], stats.norm.ppf((np.arange(1, 433) - 0.5) / 432),
                               rtol=1e-12)
    assert len(res.plot_qq("reffects").axes) == 1
    with pytest.raises(ValueError, match="what"):
        res.plot_qq("nothing")


def test_profile_plot(res):
    fig = res.plot_profile()
    prof = res.conf_int(method="profile")
    line = fig.axes[0].lines[0].get_data()[0]
    np.testing.assert_allclose(line, prof.loc["/var(_cons[id])"].to_numpy(), rtol=1e-12)


def test_margins_plot(res):
    fig = res.plot_margins(at={"week": [1, 5, 9]})
    m = res.margins(at={"week": [1, 5, 9]})
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_allclose(y, m["margin"], rtol=1e-12)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1._at", "2._at", "3._at"]
    p = res.params
    np.testing.assert_allclose(y, p["_cons"] + p["week"] * np.array([1, 5, 9]), rtol=1e-10)
