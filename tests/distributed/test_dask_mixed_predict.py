"""``predict`` after ``mixed`` on a dask DataFrame equals the in-memory ``predict``.

The reference numbers are the in-memory fit's predictions on the same rows
(``smf.mixed(text, data=pandas_frame).fit().predict(statistic)``), computed in each test
and compared row by row on the index.
"""
import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.distributed.lmm_predict import (  # noqa: E402
    FittedLMM,
    predict_lmm_dask,
    predict_lmm_frame,
    re_columns,
)
from statsmodels_me.spec.errors import SpecificationError  # noqa: E402


def school_data(S=30, C=3, m=4, seed=1):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(S), C * m)
    c = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=S * C * m)
    u = rng.normal(size=(S, 2)) * [0.7, 0.3]
    y = (1 + 0.5 * x + u[s, 0] + u[s, 1] * x + 0.5 * rng.normal(size=S * C)[c]
         + rng.normal(size=len(x)))
    return pd.DataFrame({"y": y, "x": x, "s": s, "c": c})

STATISTICS = ("xb", "fitted", "residuals", "rstandard", "stdp", "reffects", "reses")


def assert_same_prediction(lazy, want, rtol, atol):
    got = lazy.compute()
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    if hasattr(want, "columns"):
        assert isinstance(lazy, dd.DataFrame)
        assert list(got.columns) == list(want.columns)
    else:
        assert isinstance(lazy, dd.Series)
        assert got.name == want.name
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol,
                               atol=atol)


@pytest.mark.parametrize("reml", [False, True])
def test_predict_one_term_equal_in_memory(client, by_cluster, reml):
    df = school_data(S=24, seed=3)
    text = "y x || s: x, cov(unstructured)"
    r_mem = smf.mixed(text, data=df, reml=reml).fit()
    # rows shuffled within partitions of whole schools
    ddf = by_cluster(df.sample(frac=1.0, random_state=2), "s", 3)
    r_dask = smf.mixed(text, data=ddf, reml=reml).fit()
    for statistic in STATISTICS:
        # the same fit (estimates equal to ~1e-10): the same predictions
        assert_same_prediction(r_dask.predict(statistic), r_mem.predict(statistic),
                               rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("reml", [False, True])
def test_predict_three_level_at_the_in_memory_estimates(client, by_cluster, reml):
    # the partitions' BLUPs at the in-memory estimates are the in-memory BLUPs: each
    # school's random effects from its own rows, at the whole fit's beta, s2 (and R_X for
    # the REML standard errors)
    df = school_data(seed=4)
    df.loc[df.index % 11 == 0, "x"] = np.nan        # rows outside the estimation sample
    text = "y x || s: x || c:"
    r_mem = smf.mixed(text, data=df, reml=reml).fit()
    ddf = by_cluster(df, "s", 2)
    model = r_mem.model
    p = model.k_fe
    params = np.asarray(r_mem.params)
    fit = FittedLMM(model.spec, model.design, params[:p], r_mem.theta, params[-1],
                    np.asarray(r_mem.cov_params())[:p, :p],
                    r_mem.factor()["RX"] if reml else None, re_columns(model.terms))
    for statistic in STATISTICS:
        meta = predict_lmm_frame(ddf._meta, fit, statistic)
        assert_same_prediction(predict_lmm_dask(ddf, fit, statistic, meta),
                               r_mem.predict(statistic), rtol=1e-9, atol=1e-11)
    # the dask fit's own predictions: its estimates agree with the in-memory ones to
    # ~1e-7 (the multi-term optimizer's tolerance), the predictions as closely
    r_dask = smf.mixed(text, data=ddf, reml=reml).fit()
    for statistic in STATISTICS:
        assert_same_prediction(r_dask.predict(statistic), r_mem.predict(statistic),
                               rtol=1e-5, atol=1e-6)


def test_predict_refusals_named(client, by_cluster):
    df = school_data(S=10)
    r_dask = smf.mixed("y x || s:", data=by_cluster(df, "s", 2)).fit()
    with pytest.raises(SpecificationError, match="unknown statistic 'mu'"):
        r_dask.predict("mu")
    with pytest.raises(NotImplementedError, match=r"predict\(data=\.\.\.\) after a fit on "
                       "a dask DataFrame"):
        r_dask.predict("xb", data=df)
