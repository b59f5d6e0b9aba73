"""Stata expression values on data, against the rules of [U] 12.2.1 and [U] 13 computed by
hand with numpy (missing is larger than every number; missing is true in logical context)."""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.design.stata_eval import evaluate_stata, stata_truth
from statsmodels_me.spec.errors import DataError

NAN = np.nan


@pytest.fixture
def df():
    return pd.DataFrame({
        "x": [1.0, 5.0, NAN, 7.0, -2.0],
        "g": pd.array([1, 2, 3, None, 2], dtype="Int64"),
        "s": ["a", "b", None, "a", ""],
        "b": [True, False, True, False, True],
    })


def values(text, df):
    return evaluate_stata(text, df)


def test_missing_is_larger_than_every_number(df):
    np.testing.assert_array_equal(values("x > 5", df), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(values("x < .", df), [1, 1, 0, 1, 1])
    np.testing.assert_array_equal(values("x == .", df), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(values("x >= .a", df), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(values("g != 2", df), [1, 0, 1, 1, 0])


def test_arithmetic_propagates_missing_and_division_by_zero_is_missing(df):
    np.testing.assert_array_equal(values("x * 2 + 1", df), [3, 11, NAN, 15, -3])
    np.testing.assert_array_equal(values("1 / (x - 1)", df), [NAN, 0.25, NAN, 1 / 6, -1 / 3])
    np.testing.assert_array_equal(values("-2^2 + x^0", df), [-3, -3, NAN, -3, -3])
    np.testing.assert_array_equal(values("(-8)^(1/3)", df), [NAN] * 5)


def test_logic_treats_missing_as_true(df):
    np.testing.assert_array_equal(values("x & 1", df), [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(values("!x", df), [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(values("!(x > 2) | b", df), [1, 0, 1, 0, 1])
    np.testing.assert_array_equal(stata_truth("x", df), [True] * 5)
    np.testing.assert_array_equal(stata_truth("x - 1", df), [False, True, True, True, True])


def test_functions(df):
    np.testing.assert_array_equal(values("inlist(g, 1, 3)", df), [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(values("inlist(x, ., 7)", df), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(values("inrange(x, 0, 6)", df), [1, 1, 0, 0, 0])
    # a missing bound is unbounded; a missing z is never in range
    np.testing.assert_array_equal(values("inrange(x, 2, .)", df), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(values("inrange(x, ., 2)", df), [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(values("inrange(x, ., .)", df), [1, 1, 0, 1, 1])
    np.testing.assert_array_equal(values("missing(x, g)", df), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(values("missing(s)", df), [0, 0, 1, 0, 1])
    np.testing.assert_allclose(values("ln(x)", df), [0, np.log(5), NAN, np.log(7), NAN])
    np.testing.assert_array_equal(values("round(x / 2)", df), [1, 3, NAN, 4, -1])
    np.testing.assert_array_equal(values("int(-x / 4)", df), [-0.0, -1, NAN, -1, 0])
    np.testing.assert_array_equal(values("mod(x, 3)", df), [1, 2, NAN, 1, 1])
    np.testing.assert_array_equal(values("max(x, g)", df), [1, 5, 3, 7, 2])
    np.testing.assert_array_equal(values("min(x, .)", df), [1, 5, NAN, 7, -2])
    np.testing.assert_array_equal(values("_n", df), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(values("_n > _N - 2", df), [0, 0, 0, 1, 1])


def test_strings(df):
    np.testing.assert_array_equal(values('s == "a"', df), [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(values('s == ""', df), [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(values('s < "b"', df), [1, 0, 1, 1, 1])
    assert list(values('s + "!"', df)) == ["a!", "b!", "!", "a!", "!"]
    np.testing.assert_array_equal(values('inlist(s, "b", "")', df), [0, 1, 1, 0, 1])


@pytest.mark.parametrize("text, fragment", [
    ('s == 1', "type mismatch"),
    ('x + "a"', "type mismatch"),
    ('s & 1', "type mismatch"),
    ('ln(s)', "type mismatch"),
    ('inlist(x, "a")', "type mismatch"),
    ("nosuch > 1", "'nosuch' not found"),
])
def test_data_errors_quote_the_expression(df, text, fragment):
    with pytest.raises(DataError) as err:
        evaluate_stata(text, df)
    assert fragment in str(err.value) and text in str(err.value)


def test_string_expression_is_not_a_condition(df):
    with pytest.raises(DataError, match="is a string"):
        stata_truth('s + "a"', df)


def test_input_is_not_modified(df):
    before = df.copy()
    evaluate_stata("x > 1 & g == 2 | s == \"a\"", df)
    pd.testing.assert_frame_equal(df, before)
