"""Time-series operators with panel=/time=: values by time within panel (gaps give missing),
and fits equal to fits on precomputed lag columns (log likelihoods to 1e-8 relative)."""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.design import build_design
from statsmodels_me.design.timeseries import with_ts_columns
from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.errors import DataError

RTOL = 1e-8
NAN = np.nan


@pytest.fixture
def small():
    # panel 1 has a gap (t = 3 missing); rows are deliberately not sorted
    return pd.DataFrame({"p": [1, 1, 1, 1, 2, 2, 2],
                         "t": [4, 1, 2, 5, 2, 1, 3],
                         "x": [40.0, 10, 20, 50, 200, 100, 300]})


def columns(text, df, **kw):
    return with_ts_columns(parse(text, **kw), df)


def test_operator_values_by_time_within_panel(small):
    out = columns("y L.x F.x D.x L2.x F2.x S2.x LD.x D2.x || p:", small, panel="p", time="t")
    # by row: (p, t) = (1,4) (1,1) (1,2) (1,5) (2,2) (2,1) (2,3)
    np.testing.assert_array_equal(out["L.x"], [NAN, NAN, 10, 40, 100, NAN, 200])
    np.testing.assert_array_equal(out["F.x"], [50, 20, NAN, NAN, 300, 200, NAN])
    np.testing.assert_array_equal(out["D.x"], [NAN, NAN, 10, 10, 100, NAN, 100])
    np.testing.assert_array_equal(out["L2.x"], [20, NAN, NAN, NAN, NAN, NAN, 100])
    np.testing.assert_array_equal(out["F2.x"], [NAN, NAN, 40, NAN, NAN, 300, NAN])
    np.testing.assert_array_equal(out["S2.x"], [20, NAN, NAN, NAN, NAN, NAN, 200])
    # LD.x at (1,5) is D.x at (1,4) = x(4) - x(3): missing, since t = 3 is a gap
    np.testing.assert_array_equal(out["LD.x"], [NAN, NAN, NAN, NAN, NAN, NAN, 100])
    np.testing.assert_array_equal(out["D2.x"], [NAN, NAN, NAN, NAN, NAN, NAN, 0])
    assert list(small.columns) == ["p", "t", "x"]        # input untouched


def test_without_panel_time_is_global():
    df = pd.DataFrame({"t": [3, 1, 2], "x": [3.0, 1.0, 2.0], "y": [0.0, 1, 2], "g": 1})
    out = columns("y L.x || g:", df, time="t")
    np.testing.assert_array_equal(out["L.x"], [2, NAN, 1])


def test_lagged_regressor_equals_precomputed_lag():
    pig = load("pig")
    a = smf.mixed("weight L.weight week || id:", pig, panel="id", time="week").fit()
    pre = pig.assign(lw=pig.groupby("id")["weight"].shift(1))
    b = smf.mixed("weight lw week || id:", pre).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    assert a.model.param_names[:3] == ["L.weight", "week", "_cons"]
    pd.testing.assert_series_equal(a.sample, pre["lw"].notna().rename("sample"))


def test_differenced_response_with_gaps_equals_precomputed():
    pig = load("pig")
    gappy = pig[~((pig["week"] == 5) & (pig["id"] % 2 == 0))]
    a = smf.mixed("D.weight week || id: , cov(id)", gappy, panel="id", time="week").fit()
    prev = gappy.assign(week=gappy["week"] + 1)[["id", "week", "weight"]]
    merged = gappy.merge(prev, on=["id", "week"], how="left", suffixes=("", "_lag"))
    pre = gappy.assign(dw=(merged["weight"] - merged["weight_lag"]).to_numpy())
    b = smf.mixed("dw week || id: , cov(id)", pre).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    assert a.model.param_names[-1] == "/var(e.D.weight)"


def test_random_slope_on_a_lag():
    pig = load("pig")
    d = build_design(parse("weight week || id: L.week", panel="id", time="week"), pig)
    assert d.levels[0].names == ["L.week", "_cons"]
    np.testing.assert_array_equal(d.levels[0].blocks[0].Z[:, 0],
                                  pig.loc[pig["week"] > 1, "week"] - 1)


@pytest.mark.parametrize("text, kw, error, fragment", [
    ("y L.x || p:", {}, SpecificationError, "needs the time variable"),
    ("y x || p:", {"panel": "p"}, SpecificationError, "needs time= as well"),
    ("y L0.x || p:", {"time": "t"}, SpecificationError, "at least 1"),
    ("y L.x || p:", {"time": "t"}, DataError, "repeated time values"),
    ("y L.x || p:", {"time": "tt", "panel": "p"}, DataError, "time variable 'tt'"),
    ("y L.z || p:", {"time": "t", "panel": "p"}, DataError, "'z' of L.z"),
])
def test_errors(small, text, kw, error, fragment):
    with pytest.raises(error) as err:
        build_design(parse(text, **kw), small.assign(y=1.0))
    assert fragment in str(err.value)
