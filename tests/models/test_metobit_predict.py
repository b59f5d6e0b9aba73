"""predict after metobit and meintreg against formulas computed here from the fitted
parameters: pr(a,b) from scipy.stats.norm, e(a,b) from scipy.stats.truncnorm's mean,
ystar(a,b) = a P(y* <= a) + P(a < y* < b) e(a,b) + b P(y* >= b); conditionally (random
effects at their empirical Bayes means, or zero) and marginally (400-point Gauss-Legendre
over the fitted N(0, var(_cons)) of the conditional quantities: pr and ystar are means,
e(a,b) the ratio E[pr e] / E[pr])."""
import numpy as np
import pytest
from scipy import stats
from test_meintreg import _data as interval_data
from test_metobit import _data

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import SpecificationError

BOUNDS = [(0.0, 3.0), (0.0, np.inf), (-np.inf, 1.0), (-np.inf, np.inf)]


def _stata(a, b):
    return "(" + ",".join("." if np.isinf(v) else f"{v:g}" for v in (a, b)) + ")"


def _reference(a, b, mean, sd):
    law = stats.norm(mean, sd)
    pr = law.cdf(b) - law.cdf(a)
    e = stats.truncnorm.mean((a - mean) / sd, (b - mean) / sd, loc=mean, scale=sd)
    with np.errstate(invalid="ignore"):
        ystar = (np.where(np.isfinite(a), a * law.cdf(a), 0.0) + pr * e
                 + np.where(np.isfinite(b), b * law.sf(b), 0.0))
    return {"pr": pr, "e": e, "ystar": ystar}


@pytest.fixture(scope="module")
def res():
    return smf.metobit("y x || id:, ll(0) ul(3) intmethod(laplace)", data=_data()).fit()


def test_conditional_statistics(res):
    df = _data()
    p = res.params
    xb = p["_cons"] + p["x"] * df["x"].to_numpy()
    u = res.predict("reffects").iloc[:, 0].to_numpy()
    sd = np.sqrt(p["/var(e.y)"])
    np.testing.assert_allclose(res.predict("xb"), xb, rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu"), xb + u, rtol=1e-12)
    np.testing.assert_allclose(res.predict("mu", conditional="fixedonly"), xb, rtol=1e-12)
    for cond, mean in (("ebmeans", xb + u), ("fixedonly", xb)):
        for a, b in BOUNDS:
            want = _reference(a, b, mean, sd)
            for stat in ("pr", "e", "ystar"):
                got = res.predict(stat + _stata(a, b), conditional=cond).to_numpy()
                np.testing.assert_allclose(got, want[stat], rtol=1e-9, atol=1e-13,
                                           err_msg=f"{stat}{_stata(a, b)} {cond}")
    # bounds given as a keyword and from a variable of the data
    kw = res.predict("e", bounds=(0, None)).to_numpy()
    np.testing.assert_allclose(kw, _reference(0.0, np.inf, xb + u, sd)["e"], rtol=1e-9)
    var = res.predict("pr(x,.)").to_numpy()
    np.testing.assert_allclose(var, _reference(df["x"].to_numpy(), np.inf, xb + u, sd)["pr"],
                               rtol=1e-9)


def test_marginal_statistics(res):
    df = _data()
    p = res.params
    xb = p["_cons"] + p["x"] * df["x"].to_numpy()
    sd_e, sd_u = np.sqrt(p["/var(e.y)"]), np.sqrt(p["/var(_cons[id])"])
    z, wz = np.polynomial.legendre.leggauss(400)
    z, wz = 12 * z, 12 * wz * stats.norm.pdf(12 * z)
    rows = np.arange(0, 480, 37)
    np.testing.assert_allclose(res.predict("mu", conditional=False), xb, rtol=1e-12)
    for a, b in BOUNDS:
        got = {s: res.predict(s + _stata(a, b), conditional=False).to_numpy()[rows]
               for s in ("pr", "e", "ystar")}
        for i, r in enumerate(rows):
            cond = _reference(a, b, xb[r] + sd_u * z, sd_e)
            pr = np.sum(wz * cond["pr"])
            want = {"pr": pr, "ystar": np.sum(wz * cond["ystar"]),
                    "e": np.sum(wz * cond["pr"] * cond["e"]) / pr}
            for s in want:
                assert got[s][i] == pytest.approx(want[s], rel=1e-9, abs=1e-13), \
                    (s, a, b, r)


def test_meintreg_predicts_the_same_statistics():
    res = smf.meintreg("ylo yhi x || id:, intmethod(laplace)", data=interval_data()).fit()
    df = interval_data()
    p = res.params
    eta = (p["_cons"] + p["x"] * df["x"].to_numpy()
           + res.predict("reffects").iloc[:, 0].to_numpy())
    want = _reference(-np.inf, 1.0, eta, np.sqrt(p["/var(e.ylo)"]))["ystar"]
    np.testing.assert_allclose(res.predict("ystar(.,1)"), want, rtol=1e-9)
    assert res.predict("reses").shape == (len(df), 1)


@pytest.mark.parametrize("stat,match", [
    ("pr", "give the bounds"), ("pr(0)", r"expected pr\(a,b\)"), ("mu(0,1)", "takes no bounds"),
    ("mean", "unknown statistic 'mean'"), ("pr(0,zz)", "'zz' is neither a number"),
])
def test_bad_statistics_are_refused(res, stat, match):
    with pytest.raises(SpecificationError, match=match):
        res.predict(stat)
