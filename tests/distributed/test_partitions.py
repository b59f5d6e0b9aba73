"""What reads the rows' order or number across the whole data is refused on a dask DataFrame:
partition by partition it would select or lag other rows than the in-memory fit (which
honours each of these)."""
import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import statsmodels_me.formula.api as smf  # noqa: E402


def panel_data(G=20, m=5, seed=2):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    u = rng.normal(size=G)[g]
    y = (rng.random(G * m) < 1 / (1 + np.exp(-x - u))).astype(float)
    return pd.DataFrame({"y": y, "yc": x + u + rng.normal(size=G * m), "x": x, "g": g,
                         "t": np.tile(np.arange(m), G)})


@pytest.mark.parametrize("command", ["mixed", "melogit"])
@pytest.mark.parametrize("text, options, message", [
    ("y x in 1/50 || g:", {}, r"the range 'in 1/50' on a dask DataFrame is not implemented"),
    ("y x if _n <= 50 || g:", {}, r"_n in 'if _n <= 50' on a dask DataFrame"),
    ("y x if _n <= _N / 2 || g:", {}, r"_n/_N in 'if _n <= _N / 2'"),
    ("y L.x || g:", {"time": "t", "panel": "g"}, r"time-series operators \(time=, panel=\)"),
])
def test_row_order_refused_by_name(client, by_cluster, command, text, options, message):
    df = panel_data()
    getattr(smf, command)(text, data=df, **options).fit()
    with pytest.raises(NotImplementedError, match=f"{command}: {message}"):
        getattr(smf, command)(text, data=by_cluster(df, "g", 2), **options)


def test_if_without_row_numbers_equals_in_memory(client, by_cluster):
    df = panel_data()
    text = "yc x if x > -1 & t != 2 || g:"
    r_mem = smf.mixed(text, data=df).fit()
    r_dask = smf.mixed(text, data=by_cluster(df, "g", 2)).fit()
    assert r_dask.nobs == r_mem.nobs < len(df)
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-10)


def with_empty_partition(df, top, nparts):
    """Partitions of whole clusters and one partition without rows."""
    ids = np.array_split(np.unique(df[top]), nparts)
    parts = [dd.from_pandas(df[df[top].isin(p)], npartitions=1) for p in ids]
    return dd.concat(parts + [dd.from_pandas(df.iloc[:0], npartitions=1)])


@pytest.mark.parametrize("command, text", [("mixed", "yc x || g:"), ("melogit", "y x || g:"),
                                           ("mixed", "yc x if g < 8 || g:"),
                                           ("melogit", "y x if g >= 12 || g:")])
def test_partitions_without_estimation_rows_equal_in_memory(client, command, text):
    # an empty partition, missing values outside the template sample's clusters, and an if
    # condition leaving whole partitions without rows: the same fit and the same summary
    # (the dropped rows counted over every partition)
    df = panel_data(G=40)
    df.loc[[151, 152, 190], "x"] = np.nan
    r_mem = getattr(smf, command)(text, data=df).fit()
    r_dask = getattr(smf, command)(text, data=with_empty_partition(df, "g", 2)).fit()
    assert r_dask.nobs == r_mem.nobs
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-10)
    np.testing.assert_allclose(r_dask.params, r_mem.params, rtol=1e-7, atol=1e-10)
    s_mem, s_dask = r_mem.summary(), r_dask.summary()
    assert s_dask.design_notes() == s_mem.design_notes()
    pd.testing.assert_frame_equal(s_dask.tables[1], s_mem.tables[1])
    if "if" not in text:
        assert s_dask.design_notes()[0] == "(3 observations dropped because of missing values)"
    # predictions on the estimation sample's rows only, as in memory
    want = r_mem.predict().sort_index()
    got = r_dask.predict().compute().sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-7, atol=1e-10)


def test_ordinal_categories_of_the_estimation_sample(client, by_cluster):
    # outcome 3 occurs only in rows the if condition drops: three categories, as in memory
    df = panel_data(G=40)
    df["yo"] = df.y + (df.x > 0.5)
    df.loc[df.g >= 35, "yo"] = 3.0
    text = "yo x if g < 35 || g:"
    r_mem = smf.meologit(text, data=df).fit()
    r_dask = smf.meologit(text, data=by_cluster(df, "g", 2)).fit()
    assert list(r_dask.params.index) == list(r_mem.params.index)
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-10)


def test_missing_variables_named(client, by_cluster):
    df = panel_data()
    for text, name in (("yc x || nosuch:", "nosuch"), ("yc nosuch || g:", "nosuch")):
        with pytest.raises(Exception, match=f"variable '{name}' not found in data"):
            smf.mixed(text, data=by_cluster(df, "g", 2))


def test_no_estimation_rows_named(client, by_cluster):
    df = panel_data()
    with pytest.raises(Exception, match="no observations"):
        smf.mixed("yc x if g > 1000 || g:", data=by_cluster(df, "g", 2)).fit()
