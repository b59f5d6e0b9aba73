"""``metobit``, ``meintreg`` and ``mestreg`` on a dask DataFrame equal the in-memory fits.

The reference numbers are the in-memory fits (``smf.<cmd>(text, data=pandas_frame)``) of the
same rows, computed in each test: the dask fit must reach them by the same iterations, with
the same header counts (censoring; failures and time at risk) and the same predictions.
"""
import pickle

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from _same_fit import assert_same_glmm_fit  # noqa: E402

import statsmodels_me.formula.api as smf  # noqa: E402


def assert_same_fit(r_mem, r_dask):
    assert_same_glmm_fit(r_mem, r_dask)
    # the header's counts: reduced over the partitions on dask
    assert r_dask.info.extra_header == r_mem.info.extra_header
    assert r_dask.info.header_block == r_mem.info.header_block
    assert r_dask.info.title == r_mem.info.title


def assert_same_predictions(r_mem, r_dask, statistics, conditional=True):
    for statistic in statistics:
        lazy = r_dask.predict(statistic, conditional=conditional)
        assert isinstance(lazy, dd.Series)
        got = lazy.compute().sort_index()
        want = r_mem.predict(statistic, conditional=conditional).sort_index()
        assert got.name == want.name
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6, atol=1e-10)


def tobit_data(G=60, m=6, seed=1):
    """A latent normal response with a random intercept, censored at 0 below and at 2.5
    above; ``lim``: a row-varying lower limit."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    ystar = 0.5 + x + rng.normal(size=G)[g] + rng.normal(size=G * m)
    lim = rng.uniform(-0.5, 0.5, size=G * m)
    return pd.DataFrame({"y": np.clip(ystar, 0.0, 2.5), "ylim": np.maximum(ystar, lim),
                         "x": x, "g": g, "lim": lim})


def test_metobit_numeric_limits_equal_in_memory(client, by_cluster):
    df = tobit_data()
    text = "y x || g:"
    r_mem = smf.metobit(text, data=df, ll=0, ul=2.5).fit()
    r_dask = smf.metobit(text, data=by_cluster(df, "g", 2), ll=0, ul=2.5).fit()
    assert_same_fit(r_mem, r_dask)
    assert str(r_dask.summary()) == str(r_mem.summary())
    counts = dict(r_dask.info.extra_header)
    # the counts of the whole data, not of the template sample
    assert int(counts["Left-censored"]) == int(np.sum(df.y <= 0)) > 0
    assert int(counts["Right-censored"]) == int(np.sum(df.y >= 2.5)) > 0
    assert int(counts["Uncensored"]) == int(np.sum((df.y > 0) & (df.y < 2.5)))
    assert_same_predictions(r_mem, r_dask, ("mu", "xb", "eta", "pr(0,2.5)", "ystar(0,2.5)",
                                            "e(0,.)"))
    # marginal: over the random-effects distribution; "ebmodes": at the posterior modes
    assert_same_predictions(r_mem, r_dask, ("mu", "pr(0,2.5)"), conditional="marginal")
    assert_same_predictions(r_mem, r_dask, ("mu",), conditional="ebmodes")


def test_metobit_limit_variable_shuffled_partitions_equal_in_memory(client):
    df = tobit_data(seed=4)
    text = "ylim x || g:"
    r_mem = smf.metobit(text, data=df, ll="lim", ul=2.0).fit()
    # rows in random order: clusters span partitions and must be shuffled
    ddf = dd.from_pandas(df.sample(frac=1.0, random_state=0), npartitions=3, sort=False)
    with pytest.warns(UserWarning, match="shuffled by 'g'"):
        r_dask = smf.metobit(text, data=ddf, ll="lim", ul=2.0).fit()
    assert_same_fit(r_mem, r_dask)
    assert dict(r_dask.info.extra_header)["Limits: Lower"] == "lim"
    assert "shuffled by 'g'" in str(r_dask.summary())
    assert_same_predictions(r_mem, r_dask, ("mu", "xb"))


def test_metobit_three_levels_equal_in_memory(client, by_cluster):
    # 48 regions in two partitions: the template sample (20 regions per partition) is not
    # the whole data, so the group table must be reduced over the partitions
    rng = np.random.default_rng(9)
    R, S, m = 48, 3, 4
    region = np.repeat(np.arange(R), S * m)
    site = np.repeat(np.arange(R * S), m)
    x = rng.normal(size=R * S * m)
    ystar = (0.3 + 0.8 * x + 0.7 * rng.normal(size=R)[region]
             + 0.5 * rng.normal(size=R * S)[site] + rng.normal(size=len(x)))
    df = pd.DataFrame({"y": np.maximum(ystar, 0.0), "x": x, "region": region, "site": site})
    text = "y x || region: || site:"
    r_mem = smf.metobit(text, data=df, ll=0).fit()
    r_dask = smf.metobit(text, data=by_cluster(df, "region", 2), ll=0).fit()
    assert_same_fit(r_mem, r_dask)
    assert list(r_dask.summary().tables[1]["groups"]) == [48, 144]
    assert str(r_dask.summary()) == str(r_mem.summary())
    assert_same_predictions(r_mem, r_dask, ("mu", "xb"))


def test_metobit_robust_equal_in_memory(client, by_cluster):
    df = tobit_data(seed=6)
    text = "y x || g:"
    r_mem = smf.metobit(text, data=df, ll=0, vce="robust").fit()
    r_dask = smf.metobit(text, data=by_cluster(df, "g", 3), ll=0, vce="robust").fit()
    assert_same_fit(r_mem, r_dask)
    assert r_dask.info.vce_note == r_mem.info.vce_note
    assert "adjusted for 60 clusters in g" in r_dask.info.vce_note


def intreg_data(G=60, m=6, seed=2):
    """Exact values (20%), unit intervals, left-censored below -0.5 (missing lower bound),
    right-censored above 2.5 (missing upper bound)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    ystar = 1.0 + 0.7 * x + rng.normal(0, 0.8, G)[g] + rng.normal(0, 1.2, G * m)
    lo = np.floor(ystar)
    hi = lo + 1
    lo[ystar < -0.5] = np.nan
    hi[ystar > 2.5] = np.nan
    exact = rng.uniform(size=G * m) < 0.2
    lo[exact] = hi[exact] = ystar[exact]
    return pd.DataFrame({"ylo": lo, "yhi": hi, "x": x, "g": g})


def test_meintreg_equal_in_memory(client, by_cluster):
    df = intreg_data()
    text = "ylo yhi x || g:"
    r_mem = smf.meintreg(text, data=df).fit()
    r_dask = smf.meintreg(text, data=by_cluster(df, "g", 2)).fit()
    assert_same_fit(r_mem, r_dask)
    assert str(r_dask.summary()) == str(r_mem.summary())
    counts = {k: int(v) for k, v in r_dask.info.extra_header if k != "Limits"}
    # every kind of row is present: the counts are the whole data's
    assert counts["Left-censored"] == int(df.ylo.isna().sum()) > 0
    assert counts["Right-censored"] == int(df.yhi.isna().sum()) > 0
    assert counts["Uncensored"] == int((df.ylo == df.yhi).sum()) > 0
    assert counts["Interval-cens."] == int((df.ylo < df.yhi).sum()) > 0
    assert_same_predictions(r_mem, r_dask, ("mu", "xb", "pr(0,1)"))


def survival_data(G=60, m=6, seed=3):
    """Weibull times (shape 1.5) with a random intercept in the log hazard, uniform
    censoring; ``t0``: an entry time before the exit."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    t = np.exp(0.3 + 0.5 * x + 0.5 * rng.normal(size=G)[g]) * rng.weibull(1.5, size=G * m)
    c = rng.uniform(0.5, 3.0, size=G * m)
    time = np.minimum(t, c)
    return pd.DataFrame({"t": time, "d": (t <= c).astype(float), "x": x, "g": g,
                         "t0": time * rng.uniform(0.0, 0.5, size=G * m)})


@pytest.mark.parametrize("options", [
    {"distribution": "weibull", "failure": "d"},
    {"distribution": "lognormal", "failure": "d", "entry": "t0"},
    {"distribution": "exponential", "stset": "t, failure(d) enter(t0)"},
], ids=["weibull", "lognormal-entry", "exponential-stset"])
def test_mestreg_equal_in_memory(client, by_cluster, options):
    df = survival_data()
    text = "x || g:"
    timed = {} if "stset" in options else {"time": "t"}
    r_mem = smf.mestreg(text, data=df, **timed, **options).fit()
    r_dask = smf.mestreg(text, data=by_cluster(df, "g", 2), **timed, **options).fit()
    assert_same_fit(r_mem, r_dask)
    assert str(r_dask.summary()) == str(r_mem.summary())
    header = dict(r_dask.info.extra_header)
    # the whole data's failures and time at risk, not the template sample's
    assert int(header["No. of failures"]) == int(df.d.sum())
    entry = df.t0 if "t0" in str(options) else 0.0
    assert float(header["Time at risk"]) == pytest.approx(float(np.sum(df.t - entry)),
                                                          rel=1e-5)
    assert_same_predictions(r_mem, r_dask, ("mean", "median", "survival", "hazard", "xb"))
    assert_same_predictions(r_mem, r_dask, ("mean", "survival"), conditional="marginal")


def test_mestreg_cluster_robust_equal_in_memory(client, by_cluster):
    # r: groups of 7 clusters of g; with three partitions of 20 clusters, some r groups hold
    # clusters of two partitions
    df = survival_data(seed=7).assign(r=lambda d: d.g // 7)
    text = "x || g:"
    options = {"time": "t", "failure": "d", "distribution": "weibull", "vce": "cluster r"}
    r_mem = smf.mestreg(text, data=df, **options).fit()
    r_dask = smf.mestreg(text, data=by_cluster(df, "g", 3), **options).fit()
    assert_same_fit(r_mem, r_dask)
    assert r_dask.info.vce_note == r_mem.info.vce_note
    assert "adjusted for 9 clusters in r" in r_dask.info.vce_note


def test_predict_reffects_and_refusals(client, by_cluster):
    df = survival_data(seed=5)
    text = "x || g:"
    r_mem = smf.mestreg(text, data=df, time="t", failure="d", distribution="weibull").fit()
    r_dask = smf.mestreg(text, data=by_cluster(df, "g", 2), time="t", failure="d",
                         distribution="weibull").fit()
    got = r_dask.predict("reffects")
    assert isinstance(got, dd.DataFrame)
    want = r_mem.predict("reffects")
    np.testing.assert_allclose(got.compute().sort_index().to_numpy(),
                               want.sort_index().to_numpy(), rtol=1e-6, atol=1e-10)
    assert list(got.columns) == list(want.columns)
    got = r_dask.predict("reses").compute().sort_index()
    np.testing.assert_allclose(got.to_numpy(), r_mem.predict("reses").sort_index().to_numpy(),
                               rtol=1e-5)
    with pytest.raises(NotImplementedError, match=r"mestreg: predict\(data=\.\.\.\) after "
                       "a fit on a dask DataFrame"):
        r_dask.predict("mean", data=df)
    with pytest.raises(NotImplementedError, match="mestreg: simulate after a fit on a dask"):
        r_dask.simulate(censor=True)
    with pytest.raises(NotImplementedError, match="mestreg: margins after a fit on a dask"):
        r_dask.margins()


@pytest.mark.parametrize("command, text, options", [
    ("metobit", "y x || g:", {"ll": 0}),
    ("meintreg", "ylo yhi x || g:", {}),
    ("mestreg", "x || g:", {"time": "t", "failure": "d", "distribution": "weibull"}),
])
def test_results_pickle_without_the_data(client, by_cluster, command, text, options):
    df = pd.concat([tobit_data(), intreg_data().drop(columns=["x", "g"]),
                    survival_data().drop(columns=["x", "g"])], axis=1)
    r_dask = getattr(smf, command)(text, data=by_cluster(df, "g", 2), **options).fit()
    back = pickle.loads(pickle.dumps(r_dask))
    np.testing.assert_array_equal(back.params, r_dask.params)
    assert back.llf == r_dask.llf
    assert back.info.header_block == r_dask.info.header_block
    assert back.model.data_frame is None
    # the template sample's design only (encoded as the command encodes it)
    assert len(back.model.design.endog) < len(df)
    assert str(back.summary()) == str(r_dask.summary())
    with pytest.raises(ValueError, match="these results have no data"):
        back.predict("xb")
    # and again: a rebuilt model pickles as the first did
    again = pickle.loads(pickle.dumps(back))
    assert again.llf == r_dask.llf
    assert str(again.summary()) == str(r_dask.summary())


def test_metobit_limits_without_value_equal_in_memory(client, by_cluster):
    # ll and ul alone: the smallest and the largest response of the whole data (here 0 and
    # 2.5, the clipping points), reduced over the partitions
    df = tobit_data(seed=8)
    text = "y x || g:"
    r_mem = smf.metobit(text, data=df, ll=True, ul=True).fit()
    r_dask = smf.metobit(text, data=by_cluster(df, "g", 3), ll=True, ul=True).fit()
    assert_same_fit(r_mem, r_dask)
    header = dict(r_dask.info.extra_header)
    assert (header["Limits: Lower"], header["Limits: Upper"]) == ("0", "2.5")
    assert int(header["Left-censored"]) == int(np.sum(df.y == 0)) > 0


def test_weights_refused_by_name(client, by_cluster):
    df = tobit_data(G=20)
    df["w"] = 2.0
    ddf = by_cluster(df, "g", 2)
    with pytest.raises(NotImplementedError, match=r"metobit: \[fweight=w\] weights on a "
                       "dask DataFrame are not implemented"):
        smf.metobit("y x [fw=w] || g:", data=ddf, ll=0)
    with pytest.raises(NotImplementedError, match=r"mestreg: \[pweight=w\] weights on a "
                       "dask DataFrame are not implemented"):
        smf.mestreg("x [pw=w] || g:", data=ddf, time="w", distribution="weibull")
    with pytest.raises(NotImplementedError, match=r"meintreg: pweight\(w\) weights at level "
                       "'g' on a dask DataFrame are not implemented"):
        smf.meintreg("y ylim x || g:, pweight(w)", data=ddf)
