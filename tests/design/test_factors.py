"""Stata factor-variable expansion: names and columns (rules of Stata's [U] 11.4.3; the names
``1.urban``, ``2.children``, ``1.cc#1.tv`` are those printed in [ME] me examples 5 and 7)."""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.design.factors import expand_term, level_label
from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import Factor, Term


@pytest.fixture
def df():
    return pd.DataFrame({
        "g": [3, 1, 2, 3, 1, 2],
        "h": [0, 1, 0, 1, 0, 1],
        "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "z": [2.0, 0.5, 1.0, 1.0, 2.0, 3.0],
        "s": ["b", "a", "c", "b", "a", "c"],
        "f": [1.0, 2.0, 2.0, 1.0, 1.0, 2.0],
    })


def test_level_label():
    assert level_label(2) == "2"
    assert level_label(2.0) == "2"
    assert level_label(np.float64(3.0)) == "3"
    assert level_label(2.5) == "2.5"
    assert level_label(True) == "1"
    assert level_label("abc") == "abc"


def test_continuous(df):
    tc = expand_term(Term((Factor("x"),)), df)
    assert tc.names == ["x"]
    np.testing.assert_array_equal(tc.X[:, 0], df["x"])


def test_continuous_product(df):
    tc = expand_term(Term((Factor("x"), Factor("z"))), df)
    assert tc.names == ["c.x#c.z"]
    np.testing.assert_array_equal(tc.X[:, 0], df["x"] * df["z"])


def test_i_drops_lowest_level(df):
    tc = expand_term(Term((Factor("g", "i"),)), df)
    assert tc.names == ["2.g", "3.g"]
    assert tc.full_names == ["1b.g", "2.g", "3.g"]
    np.testing.assert_array_equal(tc.X, [[0, 1], [0, 0], [1, 0], [0, 1], [0, 0], [1, 0]])


def test_ibn_all_levels(df):
    tc = expand_term(Term((Factor("g", "ibn"),)), df)
    assert tc.names == ["1.g", "2.g", "3.g"]
    np.testing.assert_array_equal(tc.X.sum(axis=1), 1)


def test_explicit_base(df):
    tc = expand_term(Term((Factor("g", "i", base=2),)), df)
    assert tc.names == ["1.g", "3.g"]
    assert tc.full_names == ["1.g", "2b.g", "3.g"]
    tc = expand_term(Term((Factor("g", "i", base="last"),)), df)
    assert tc.names == ["1.g", "2.g"]


def test_missing_base_level(df):
    with pytest.raises(DataError, match="b7.g"):
        expand_term(Term((Factor("g", "i", base=7),)), df)


def test_float_levels_print_as_integers(df):
    assert expand_term(Term((Factor("f", "i"),)), df).names == ["2.f"]


def test_string_factor_sorted(df):
    tc = expand_term(Term((Factor("s", "i"),)), df)
    assert tc.names == ["b.s", "c.s"]
    np.testing.assert_array_equal(tc.X[:, 0], [1, 0, 0, 1, 0, 0])


def test_string_as_continuous(df):
    with pytest.raises(DataError, match="'s' is a string variable"):
        expand_term(Term((Factor("s"),)), df)


def test_interaction_of_i_factors(df):
    # only combinations of non-base levels, first factor varying slowest
    tc = expand_term(Term((Factor("g", "i"), Factor("h", "i"))), df)
    # observed combos: (3,0) (1,1) (2,0) (3,1) (1,0) (2,1); non-base (h != 0, g != 1): 2#1, 3#1
    assert tc.names == ["2.g#1.h", "3.g#1.h"]
    np.testing.assert_array_equal(tc.X, [[0, 0], [0, 0], [0, 0], [0, 1], [0, 0], [1, 0]])
    assert tc.full_names == ["1b.g#0b.h", "1b.g#1o.h", "2o.g#0b.h", "2.g#1.h", "3o.g#0b.h",
                             "3.g#1.h"]


def test_interaction_ibn(df):
    tc = expand_term(Term((Factor("h", "ibn"), Factor("g", "ibn"))), df)
    assert tc.names == ["0.h#1.g", "0.h#2.g", "0.h#3.g", "1.h#1.g", "1.h#2.g", "1.h#3.g"]
    np.testing.assert_array_equal(tc.X.sum(axis=1), 1)


def test_only_observed_combinations():
    d = pd.DataFrame({"a": [1, 1, 2], "b": [1, 2, 1]})
    tc = expand_term(Term((Factor("a", "ibn"), Factor("b", "ibn"))), d)
    assert tc.names == ["1.a#1.b", "1.a#2.b", "2.a#1.b"]


def test_continuous_by_factor_names_factor_first(df):
    for term in (Term((Factor("x"), Factor("g", "i"))), Term((Factor("g", "i"), Factor("x")))):
        tc = expand_term(term, df)
        assert tc.names == ["2.g#c.x", "3.g#c.x"]
        np.testing.assert_array_equal(tc.X[:, 0], np.where(df["g"] == 2, df["x"], 0.0))
        np.testing.assert_array_equal(tc.X[:, 1], np.where(df["g"] == 3, df["x"], 0.0))
    assert expand_term(Term((Factor("x"), Factor("g", "i"))), df).full_names[0] == "1b.g#co.x"


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("high", [1, 7, 250])
def test_integer_fast_path_matches_pandas_factorize(dtype, high):
    from statsmodels_me.design.factors import code_categorical
    v = np.random.default_rng(high).integers(0, high + 1, size=500).astype(dtype)
    df = pd.DataFrame({"g": v})
    got = code_categorical(df, "g")
    codes, uniques = pd.factorize(df["g"], sort=True)
    np.testing.assert_array_equal(got.codes, codes)
    np.testing.assert_array_equal(got.levels, np.asarray(uniques))
    assert got.levels.dtype == np.asarray(uniques).dtype
