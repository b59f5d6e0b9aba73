"""predict(data=...) after metobit and meintreg.

* On the estimation sample, predict(data=df) gives predict() for every statistic and way of
  conditioning (to rounding: the empirical Bayes means are recomputed by threaded kernels at
  each call).
* On new rows, the expected values are computed here from the fit's estimates: xb =
  _cons + b x; the empirical Bayes mean of a known group's intercept by 400-point
  Gauss-Legendre integration of u times the group's censored normal likelihood (scipy.stats.
  norm logcdf/logsf/logpdf of its estimation rows) and the N(0, var(_cons)) prior; unseen
  groups get u = 0 (fixed portion). pr/e/ystar then come from scipy.stats.norm and truncnorm
  (as tests/models/test_metobit_predict.py), marginal ones from N(xb, var(e) + var(_cons)).
* A nested design: a new row of a known (school, class) gets both groups' EB means, a new
  class of a known school the school's only (the fit's own random_effects tables).
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import DataError, SpecificationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_meintreg import _data as interval_data  # noqa: E402
from test_metobit import _data  # noqa: E402

STATISTICS = ("xb", "eta", "mu", "pr(0,3)", "pr(.,1)", "e(0,.)", "e(x,2)", "ystar(0,3)",
              "reffects")
MODES = (True, "ebmodes", "fixedonly", False)


def _reference(stat, a, b, mean, sd):
    law = stats.norm(mean, sd)
    pr = law.cdf(b) - law.cdf(a)
    if stat == "pr":
        return pr
    e = stats.truncnorm.mean((a - mean) / sd, (b - mean) / sd, loc=mean, scale=sd)
    if stat == "e":
        return e
    with np.errstate(invalid="ignore"):
        return (np.where(np.isfinite(a), a * law.cdf(a), 0.0) + pr * e
                + np.where(np.isfinite(b), b * law.sf(b), 0.0))


@pytest.fixture(scope="module")
def res():
    return smf.metobit("y x || id:, ll(0) ul(3) intpoints(30)", data=_data()).fit()


def _same(a, b):
    assert a.index.equals(b.index)
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("stat", STATISTICS)
def test_estimation_sample_gives_in_sample_predict(res, stat):
    df = _data()
    for cond in MODES:
        if (stat == "eta" and cond is False) or (stat == "reffects" and cond is False):
            continue
        _same(res.predict(stat, data=df, conditional=cond), res.predict(stat, conditional=cond))
    _same(res.predict(stat, data=df, ebmodes=True), res.predict(stat, ebmodes=True))


def _eb_mean(res, df, g):
    """E(u_g | y_g) at the estimates, by quadrature (module docstring)."""
    p = res.params
    sd, su = np.sqrt(p["/var(e.y)"]), np.sqrt(p["/var(_cons[id])"])
    z, w = np.polynomial.legendre.leggauss(400)
    u, w = 8 * su * z, 8 * su * w * stats.norm.pdf(8 * su * z, 0, su)
    rows = df[df["id"] == g]
    e = (p["_cons"] + p["x"] * rows["x"].to_numpy())[:, None] + u[None, :]
    y = rows["y"].to_numpy()[:, None]
    ll = np.where(y <= 0, stats.norm.logcdf(0, e, sd),
                  np.where(y >= 3, stats.norm.logsf(3, e, sd), stats.norm.logpdf(y, e, sd)))
    lik = np.exp(ll.sum(axis=0) - ll.sum(axis=0).max())
    return np.sum(w * lik * u) / np.sum(w * lik)


def _new_rows():
    return pd.DataFrame({"x": [0.3, -1.2, 0.8, np.nan, 2.0, -0.4],
                         "id": [3, 7, 999, 3, 12, 1000]},
                        index=["a", "b", "c", "d", "e", "f"])


def test_new_rows_known_groups_use_eb_means_unseen_the_fixed_portion(res):
    df, new = _data(), _new_rows()
    before = new.copy()
    p = res.params
    sd = np.sqrt(p["/var(e.y)"])
    xb = p["_cons"] + p["x"] * new["x"].to_numpy()
    u = np.array([_eb_mean(res, df, g) if g in set(df["id"]) else 0.0 for g in new["id"]])
    eta = xb + u
    np.testing.assert_allclose(res.predict("xb", data=new), xb, rtol=1e-12)
    np.testing.assert_allclose(res.predict("eta", data=new), eta, rtol=1e-10)
    np.testing.assert_allclose(res.predict("mu", data=new), eta, rtol=1e-10)
    np.testing.assert_allclose(res.predict("mu", data=new, conditional="fixedonly"), xb,
                               rtol=1e-12)
    ok = ~np.isnan(xb)
    x = new["x"].to_numpy()
    for stat, a, b in (("pr", 0.0, 3.0), ("e", 0.0, np.inf), ("ystar", -np.inf, 1.0),
                       ("e", x, 2.0)):
        text = f"{stat}({'x' if np.ndim(a) else ('.' if np.isinf(a) else a)},"\
               f"{'.' if np.isinf(b) else b})"
        got = res.predict(text, data=new)
        assert got.index.equals(new.index) and got.name == stat
        want = _reference(stat, np.broadcast_to(a, eta.shape)[ok], b, eta[ok], sd)
        np.testing.assert_allclose(got.to_numpy()[ok], want, rtol=1e-9, err_msg=text)
        assert np.isnan(got["d"])
        marg = res.predict(text, data=new, conditional=False).to_numpy()
        want = _reference(stat, np.broadcast_to(a, eta.shape)[ok], b, xb[ok],
                          np.sqrt(p["/var(e.y)"] + p["/var(_cons[id])"]))
        np.testing.assert_allclose(marg[ok], want, rtol=1e-9, err_msg=f"{text} marginal")
    pd.testing.assert_frame_equal(new, before)


def test_unseen_groups_can_be_refused(res):
    with pytest.raises(DataError, match="'id'.*not in the estimation sample"):
        res.predict("pr(0,3)", data=_new_rows(), new_groups="error")
    known = _new_rows().iloc[[0, 1]]
    res.predict("pr(0,3)", data=known, new_groups="error")
    with pytest.raises(SpecificationError, match="new_groups"):
        res.predict("mu", data=known, new_groups="drop")


def test_reses_and_outcome_are_refused_on_new_data(res):
    with pytest.raises(SpecificationError, match="reses"):
        res.predict("reses", data=_new_rows())
    with pytest.raises(SpecificationError, match="outcome"):
        res.predict("mu", data=_new_rows(), outcome=1)


def test_meintreg_new_data():
    df = interval_data()
    res = smf.meintreg("ylo yhi x || id:, intmethod(laplace)", data=df).fit()
    for stat in ("mu", "pr(0,1)", "e(.,1)", "ystar(-0.5,2.5)", "reffects", "xb"):
        for cond in (True, "fixedonly", False):
            if stat == "reffects" and cond is False:
                continue
            _same(res.predict(stat, data=df, conditional=cond),
                  res.predict(stat, conditional=cond))
    new = _new_rows()
    u = res.random_effects.iloc[:, 0]
    xb = res.params["_cons"] + res.params["x"] * new["x"]
    want = xb + new["id"].map(u).fillna(0.0)
    np.testing.assert_allclose(res.predict("mu", data=new), want, rtol=1e-12)


def test_nested_design():
    rng = np.random.default_rng(3)
    S, C, m = 15, 4, 5
    school = np.repeat(np.arange(S), C * m)
    klass = np.repeat(np.arange(S * C), m) % C
    x = rng.normal(size=S * C * m)
    ys = (0.5 + 0.8 * x + rng.normal(0, 0.7, S)[school]
          + rng.normal(0, 0.5, S * C)[np.repeat(np.arange(S * C), m)]
          + rng.normal(0, 1.0, S * C * m))
    df = pd.DataFrame({"y": np.maximum(ys, 0.0), "x": x, "school": school, "class": klass})
    res = smf.metobit("y x || school: || class:, ll(0) intmethod(laplace)", data=df).fit()
    for stat in ("mu", "pr(0,.)", "ystar(0,.)", "reffects"):
        _same(res.predict(stat, data=df), res.predict(stat))
    new = pd.DataFrame({"x": [0.1, -0.5, 1.0], "school": [2, 2, 99], "class": [1, 77, 1]},
                       index=[10, 20, 30])
    effects = res.random_effects
    u_s = effects["school"].iloc[:, 0]
    u_c = effects["school>class"].iloc[:, 0]
    want = res.params["_cons"] + res.params["x"] * new["x"].to_numpy()
    want = want + np.array([u_s.loc[2] + u_c.loc[(2, 1)], u_s.loc[2], 0.0])
    got = res.predict("mu", data=new)
    assert got.index.equals(new.index)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(DataError, match="class"):
        res.predict("mu", data=new.iloc[:2], new_groups="error")


def test_get_prediction_standard_errors_from_the_fixed_effects(res):
    new = _new_rows().iloc[[0, 1, 2, 4]]
    X = np.column_stack([new["x"], np.ones(len(new))])
    V = res.cov_params().loc[["x", "_cons"], ["x", "_cons"]].to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    for stat in ("mu", "eta", "xb"):
        pred = res.get_prediction(stat, data=new)
        np.testing.assert_allclose(pred.predicted, res.predict(stat, data=new), rtol=1e-12)
        np.testing.assert_allclose(pred.se, se, rtol=1e-10)
        ci = pred.conf_int()
        np.testing.assert_allclose(ci[:, 0], pred.predicted - stats.norm.ppf(0.975) * se,
                                   rtol=1e-10)
    with pytest.raises(SpecificationError, match="pr.*no standard error"):
        res.get_prediction("pr", data=new)


def test_predict_data_is_predict_with_data(res):
    new = _new_rows()
    _same(res.predict_data("pr(0,3)", new), res.predict("pr(0,3)", data=new))
    _same(res.predict_data("ystar(0,3)", new, conditional=False),
          res.predict("ystar(0,3)", data=new, conditional=False))
