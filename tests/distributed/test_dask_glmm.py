"""GLMM fits on a dask DataFrame equal the in-memory fits of the same data.

The reference numbers are the in-memory fits (``smf.<cmd>(text, data=pandas_frame)``) of the
same rows, computed in each test; the dask fit must reach them by the same iterations.
"""
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from _same_fit import assert_same_glmm_fit  # noqa: E402

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.spec.errors import SpecificationError  # noqa: E402


def logit_data(G=120, m=8, seed=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x, z = rng.normal(size=G * m), rng.normal(size=G * m)
    u = rng.normal(size=(G, 2)) * [0.8, 0.4]
    eta = -0.3 + 0.6 * x + 0.2 * z + u[g, 0] + u[g, 1] * x
    y = (rng.random(G * m) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": g})


def test_two_level_logit_shuffled_partitions_equal_in_memory(client):
    df = logit_data(G=80)
    text = "y x z || g: x, cov(unstructured)"
    r_mem = smf.melogit(text, data=df).fit()
    # rows in random order: clusters span partitions and must be shuffled
    ddf = dd.from_pandas(df.sample(frac=1.0, random_state=0), npartitions=3, sort=False)
    with pytest.warns(UserWarning, match="shuffled by 'g'"):
        r_dask = smf.melogit(text, data=ddf).fit()
    assert_same_glmm_fit(r_mem, r_dask)
    assert "shuffled by 'g'" in str(r_dask.summary())


def test_poisson_exposure_equal_in_memory(client, by_cluster):
    rng = np.random.default_rng(5)
    G, m = 100, 6
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    expo = rng.uniform(0.5, 3.0, size=G * m)
    u = 0.5 * rng.normal(size=G)
    y = rng.poisson(expo * np.exp(0.2 + 0.4 * x + u[g])).astype(float)
    df = pd.DataFrame({"y": y, "x": x, "t": expo, "g": g})
    text = "y x || g:"
    r_mem = smf.mepoisson(text, data=df, exposure="t").fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # whole clusters: no shuffle
        r_dask = smf.mepoisson(text, data=by_cluster(df, "g", 2), exposure="t").fit()
    assert_same_glmm_fit(r_mem, r_dask)


def test_three_level_ordinal_probit_equal_in_memory(client, by_cluster):
    rng = np.random.default_rng(11)
    R, S, m = 24, 4, 5
    region = np.repeat(np.arange(R), S * m)
    site = np.repeat(np.arange(R * S), m)
    x = rng.normal(size=R * S * m)
    eta = 0.7 * x + 0.6 * rng.normal(size=R)[region] + 0.4 * rng.normal(size=R * S)[site]
    y = np.digitize(eta + rng.normal(size=len(x)), [-0.8, 0.1, 0.9]).astype(float)
    df = pd.DataFrame({"y": y, "x": x, "region": region, "site": site})
    text = "y x || region: || site:"
    r_mem = smf.meoprobit(text, data=df).fit()
    r_dask = smf.meoprobit(text, data=by_cluster(df, "region", 2)).fit()
    assert_same_glmm_fit(r_mem, r_dask)
    assert str(r_dask.summary()) == str(r_mem.summary())


def test_crossed_levels_refused_naming_them(client):
    df = logit_data()
    df["h"] = np.arange(len(df)) % 7
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(SpecificationError, match=r"grouping levels g, h are crossed"):
        smf.melogit("y ~ x + (1 | g) + (1 | h)", data=ddf)


def test_predict_and_pickle(client, by_cluster):
    df = logit_data(G=60)
    text = "y x || g:"
    r_mem = smf.melogit(text, data=df).fit()
    ddf = by_cluster(df, "g", 2)
    r_dask = smf.melogit(text, data=ddf).fit()
    for statistic in ("mu", "xb"):
        lazy = r_dask.predict(statistic=statistic)
        assert isinstance(lazy, dd.Series)
        got = lazy.compute().sort_index()
        want = r_mem.predict(statistic=statistic).sort_index()
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6, atol=1e-10)
    # postestimation that would read the template sample, not the data, is refused
    with pytest.raises(NotImplementedError, match="melogit: margins after a fit on a dask"):
        r_dask.margins()
    with pytest.raises(NotImplementedError, match=r"melogit: predict\(data=\.\.\.\) after"):
        r_dask.predict(data=df)
    # results pickle without the data: the template sample's design only
    back = pickle.loads(pickle.dumps(r_dask))
    np.testing.assert_array_equal(back.params, r_dask.params)
    assert back.llf == r_dask.llf
    assert back.model.data_frame is None
    assert len(back.model.design.endog) < len(df)


def test_commands_not_fitted_on_dask_refused_by_name(client, by_cluster):
    # menl's nonlinear expressions are evaluated on the data: not on a dask DataFrame; the
    # message lists the commands that are
    df = logit_data(G=20)
    with pytest.raises(NotImplementedError, match=r"^menl on a dask DataFrame is not "
                       r"implemented \(available: mixed, meglm, .*metobit, meintreg, "
                       r"mestreg\)"):
        smf.menl("y = {b0} + {b1}*x", data=by_cluster(df, "g", 2))
