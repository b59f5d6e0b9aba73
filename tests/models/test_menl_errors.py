"""``menl`` on bad input: clear errors that name the text, warnings on non-convergence."""
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import ConvergenceWarning, DataError, SpecificationError

EX9 = "menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))"


@pytest.fixture(scope="module")
def orange():
    return load("orange")


@pytest.mark.parametrize("text, error, match", [
    (EX9.replace("age-", "agex-"), DataError, "'agex'"),
    (EX9.replace("circumf =", "girth ="), DataError, "'girth'"),
    (EX9.replace("{U1[tree]}", "{U1[tree]"), SpecificationError, "unbalanced braces"),
    (EX9.replace("{b3}))", "{b3})"), SpecificationError, "missing"),
    (EX9.replace("{b1}+", "{b1}+{U1[age]}+"), SpecificationError,
     r"U1 is used with two grouping specifications, \[age\] and \[tree\]"),
    (EX9 + ", initial(b1 200 b2 0 b3 0)", DataError, "not finite at the initial values"),
    (EX9.replace("exp(", "expp("), SpecificationError, "unknown function 'expp'"),
    (EX9 + ", rescorrelation(ar 1, t(tree))", DataError,
     "'tree' repeats a value within a group"),
    (EX9.replace("{U1[tree]}", "{U1[tree]}+{U2[age]}"), NotImplementedError,
     r"crossed levels \(\[age\], \[tree\]\)"),
    ("menl circumf = {b1}*age", NotImplementedError, "no random effects"),
])
def test_bad_input(orange, text, error, match):
    with pytest.raises(error, match=match):
        smf.menl(text, data=orange).fit()


def test_string_variable_is_a_data_error(orange):
    df = orange.assign(age=orange["age"].astype(str))
    with pytest.raises(DataError, match="'age' must be numeric"):
        smf.menl(EX9, data=df)


def test_non_convergence_warns_with_the_last_change(orange):
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations; last "
                      "relative change"):
        res = smf.menl(EX9 + ", iterate(1)", data=orange).fit()
    assert not res.converged


def test_missing_values_are_dropped_and_input_not_modified(orange):
    df = orange.copy()
    df.loc[3, "circumf"] = np.nan
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.menl(EX9, data=df).fit()
    pd.testing.assert_frame_equal(df, before)
    assert res.nobs == 34
    assert 3 not in res.predict("yhat").index


def test_constructor_needs_a_design():
    from statsmodels_me.models.menl import MENL
    with pytest.raises(SpecificationError, match="from_text"):
        MENL()


@pytest.mark.parametrize("option, error, match", [
    ("rescorrelation(ar 1, t(half))", SpecificationError,
     r"rescorrelation\(ar 1\).*t\(half\) must hold integers"),
    ("resvariance(distinct, index(one))", DataError, "only one level"),
    ("resvariance(linear zero)", DataError, "must be positive"),
    ("resvariance(power zero, noconstant)", DataError, "zero for some rows"),
    ("rescorrelation(exchangeable, group(one))", NotImplementedError,
     "span several groups of the lowest level 'tree'"),
])
def test_bad_residual_structure_data(orange, option, error, match):
    data = orange.assign(half=orange["age"] / 2 + 0.25, one=1.0, zero=0.0)
    with pytest.raises(error, match=match):
        smf.menl(EX9 + ", " + option, data=data).fit()
