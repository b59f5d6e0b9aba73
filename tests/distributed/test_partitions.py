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
