"""predict(data=...) after mestreg.

* On the estimation sample, predict(data=df) gives predict() for every statistic and way of
  conditioning (to rounding: the empirical Bayes means are recomputed by threaded kernels at
  each call).
* On new rows, the expected values are computed here from the fit's estimates: xb =
  _cons + b x; the empirical Bayes mean of a known group's intercept by 400-point
  Gauss-Legendre integration of u times the group's likelihood (scipy.stats.weibull_min:
  d logpdf(t) + (1 - d) logsf(t) - logsf(t0) of its estimation rows) and the N(0,
  var(_cons)) prior; unseen groups get u = 0. The statistics then come from
  scipy.stats.weibull_min at eta = xb + u (Weibull PH: shape p, scale exp(-eta / p)), the
  marginal ones by Gauss-Legendre over the random intercept.
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
from test_mestreg import _data  # noqa: E402

STATISTICS = ("xb", "eta", "mean", "median", "survival", "hazard", "density",
              "distribution", "reffects")


@pytest.fixture(scope="module")
def res():
    return smf.mestreg("x || id:, distribution(weibull) intpoints(30)", data=_data(),
                       time="t", failure="d", entry="t0").fit()


def _law(res, eta):
    p = np.exp(res.params["/ln_p"])
    return stats.weibull_min(p, scale=np.exp(-eta / p))


def _same(a, b):
    assert a.index.equals(b.index)
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("stat", STATISTICS)
def test_estimation_sample_gives_in_sample_predict(res, stat):
    df = _data()
    for cond in (True, "ebmodes", "fixedonly", False):
        if stat in ("eta", "reffects") and cond is False:
            continue
        _same(res.predict(stat, data=df, conditional=cond), res.predict(stat, conditional=cond))


def _gl(sd):
    z, w = np.polynomial.legendre.leggauss(400)
    return 8 * sd * z, 8 * sd * w * stats.norm.pdf(8 * sd * z, 0, sd)


def _eb_mean(res, df, g):
    u, w = _gl(np.sqrt(res.params["/var(_cons[id])"]))
    rows = df[df["id"] == g]
    law = _law(res, (res.params["_cons"] + res.params["x"] * rows["x"].to_numpy())[:, None]
               + u[None, :])
    t, d, t0 = (rows[c].to_numpy()[:, None] for c in ("t", "d", "t0"))
    ll = (np.where(d == 1, law.logpdf(t), law.logsf(t)) - law.logsf(t0)).sum(axis=0)
    lik = np.exp(ll - ll.max())
    return np.sum(w * lik * u) / np.sum(w * lik)


def _new_rows():
    return pd.DataFrame({"x": [0.3, -1.2, 0.8, np.nan, 2.0, 0.1],
                         "id": [3, 7, 999, 3, 12, 4],
                         "t": [0.5, 1.5, 0.2, 1.0, 0.8, np.nan]},
                        index=pd.Index([40, 10, 30, 20, 50, 60], name="row"))


def test_new_rows_against_scipy(res):
    df, new = _data(), _new_rows()
    before = new.copy()
    xb = res.params["_cons"] + res.params["x"] * new["x"].to_numpy()
    u = np.array([_eb_mean(res, df, g) if g in set(df["id"]) else 0.0 for g in new["id"]])
    t = new["t"].to_numpy()
    law = _law(res, xb + u)
    want = {"eta": xb + u, "mean": law.mean(), "median": law.median(),
            "survival": law.sf(t), "density": law.pdf(t), "distribution": law.cdf(t),
            "hazard": law.pdf(t) / law.sf(t)}
    for stat, w in want.items():
        got = res.predict(stat, data=new)
        assert got.index.equals(new.index) and got.name == stat
        np.testing.assert_allclose(got, w, rtol=1e-9, err_msg=stat)
    # missing covariate: NaN; missing time: NaN for the timed statistics only
    assert np.isnan(res.predict("mean", data=new).loc[20])
    assert np.isnan(res.predict("survival", data=new).loc[60])
    assert np.isfinite(res.predict("median", data=new).loc[60])
    fixed = res.predict("survival", data=new, conditional="fixedonly")
    np.testing.assert_allclose(fixed, _law(res, xb).sf(t), rtol=1e-12)
    # marginal: E over u ~ N(0, var(_cons)) of S and f
    z, w = _gl(np.sqrt(res.params["/var(_cons[id])"]))
    rows = [0, 2]
    marg = {s: res.predict(s, data=new, conditional=False).to_numpy()[rows]
            for s in ("survival", "density", "hazard", "mean")}
    for k, i in enumerate(rows):
        lw = _law(res, xb[i] + z)
        S, f = np.sum(w * lw.sf(t[i])), np.sum(w * lw.pdf(t[i]))
        assert marg["survival"][k] == pytest.approx(S, rel=1e-9)
        assert marg["density"][k] == pytest.approx(f, rel=1e-9)
        assert marg["hazard"][k] == pytest.approx(f / S, rel=1e-9)
        assert marg["mean"][k] == pytest.approx(np.sum(w * lw.mean()), rel=1e-9)
    pd.testing.assert_frame_equal(new, before)


def test_time_variable_needed_only_for_timed_statistics(res):
    new = _new_rows().drop(columns="t")
    assert res.predict("mean", data=new).notna().sum() == 5
    with pytest.raises(DataError, match="time variable 't'"):
        res.predict("survival", data=new)
    bad = _new_rows().assign(t=-1.0)
    with pytest.raises(DataError, match="negative"):
        res.predict("hazard", data=bad)


def test_unseen_groups_and_bad_requests(res):
    with pytest.raises(DataError, match="'id'.*not in the estimation sample"):
        res.predict("median", data=_new_rows(), new_groups="error")
    with pytest.raises(SpecificationError, match="reses"):
        res.predict("reses", data=_new_rows())
    with pytest.raises(SpecificationError, match="unknown statistic 'mu'"):
        res.predict("mu", data=_new_rows())
    with pytest.raises(SpecificationError, match="ebmodes"):
        res.predict("mean", data=_new_rows(), conditional="fixedonly", ebmodes=True)


def test_get_prediction_of_the_linear_predictor(res):
    new = _new_rows().iloc[[0, 1, 2]]
    X = np.column_stack([new["x"], np.ones(len(new))])
    V = res.cov_params().loc[["x", "_cons"], ["x", "_cons"]].to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    pred = res.get_prediction(data=new)
    np.testing.assert_allclose(pred.predicted, res.predict("eta", data=new), rtol=1e-12)
    np.testing.assert_allclose(pred.se, se, rtol=1e-10)
    with pytest.raises(SpecificationError, match="mean.*no standard error"):
        res.get_prediction("mean", data=new)


def test_predict_data_is_predict_with_data(res):
    new = _new_rows()
    _same(res.predict_data("survival", new), res.predict("survival", data=new))
    _same(res.predict_data("mean", new, conditional="fixedonly"),
          res.predict("mean", data=new, conditional="fixedonly"))
