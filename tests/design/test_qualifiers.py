"""Stata's ``if``/``in`` qualifiers and weight expressions: each model equals the same model
fitted on the subset DataFrame (log likelihoods to 1e-8 relative); ``res.sample`` is
``e(sample)``."""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.design import build_design
from statsmodels_me.spec import parse
from statsmodels_me.spec.errors import DataError

RTOL = 1e-8


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def test_mixed_if_equals_subset(pig):
    a = smf.mixed("weight week if id <= 24 & week != 3 || id:", pig).fit()
    keep = (pig["id"] <= 24) & (pig["week"] != 3)
    b = smf.mixed("weight week || id:", pig[keep]).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)
    pd.testing.assert_series_equal(a.sample, keep.rename("sample"))
    assert a.nobs == keep.sum()


def test_mixed_in_equals_rows(pig):
    a = smf.mixed("weight week in 19/-10 || id: week", pig).fit()
    b = smf.mixed("weight week || id: week", pig.iloc[18:len(pig) - 9]).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    expected = np.zeros(len(pig), bool)
    expected[18:len(pig) - 9] = True
    np.testing.assert_array_equal(a.sample.to_numpy(), expected)


def test_if_with_missing_values_follows_stata(pig):
    """``week > 5`` is true where week is missing; such rows are then dropped by listwise
    deletion (they lack a used variable), the if-only variable's missing rows are kept."""
    df = pig.assign(z=np.where(pig["id"] % 4 == 0, np.nan, pig["id"]))
    df.loc[[3, 40], "week"] = np.nan
    a = smf.mixed("weight week if z > 30 || id:", df).fit()
    keep = (df["z"].isna() | (df["z"] > 30)) & df["week"].notna()
    b = smf.mixed("weight week || id:", df[keep]).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    pd.testing.assert_series_equal(a.sample, keep.rename("sample"))
    # only rows the if selects count as dropped for missing values
    d = build_design(parse("mixed weight week if z > 30 || id:"), df)
    assert d.n_missing == int((((df["z"].isna()) | (df["z"] > 30)) & df["week"].isna()).sum())


def test_sample_is_aligned_to_a_non_default_index(pig):
    df = pig.set_index(pd.Index([f"r{k}" for k in range(len(pig))]))
    a = smf.mixed("weight week if inrange(week, 2, 6) || id:", df)
    assert a.design.sample.index.equals(df.index)
    assert a.design.sample.sum() == ((df["week"] >= 2) & (df["week"] <= 6)).sum()
    assert list(a.design.row_index) == list(df.index[a.design.sample.to_numpy()])


def test_melogit_if_equals_subset():
    bang = load("bangladesh")
    text = "c_use urban age if inlist(children, 1, 2) | age < -5 || district:"
    a = smf.melogit(text, bang, intmethod="laplace").fit()
    keep = bang["children"].isin([1, 2]) | (bang["age"] < -5)
    b = smf.melogit("c_use urban age || district:", bang[keep], intmethod="laplace").fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    pd.testing.assert_series_equal(a.sample, keep.rename("sample"))


def test_mepoisson_if_equals_subset():
    adm = load("admissions")
    a = smf.mepoisson("nadmitted female if department != 3 || department:", adm,
                      exposure="napplied").fit()
    keep = adm["department"] != 3
    b = smf.mepoisson("nadmitted female || department:", adm[keep],
                      exposure="napplied").fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)


def test_qualifier_selecting_nothing_is_a_data_error(pig):
    with pytest.raises(DataError, match="'if week > 100' selects no row"):
        smf.mixed("weight week if week > 100 || id:", pig)
    with pytest.raises(DataError, match="observation 500 is out of range; the data have 432"):
        smf.mixed("weight week in 1/500 || id:", pig)
    with pytest.raises(DataError, match="'nosuch' not found .* in expression 'nosuch == 1'"):
        smf.mixed("weight week if nosuch == 1 || id:", pig)


def test_weight_expression_is_evaluated(pig):
    d = build_design(parse("mixed weight week [pw=1/week] if id > 3 || id:"), pig)
    keep = pig["id"] > 3
    np.testing.assert_allclose(d.weights, 1 / pig.loc[keep, "week"].to_numpy(), rtol=0)
    assert d.weight_type == "pweight"
    # a missing weight drops the row, as Stata's markout does
    df = pig.assign(p=np.where(pig["week"] == 2, np.nan, 1.0))
    d2 = build_design(parse("mixed weight week [fw=2*p] || id:"), df)
    assert d2.nobs == (pig["week"] != 2).sum() and np.all(d2.weights == 2.0)
    with pytest.raises(DataError, match="fweight variable '1/week' has noninteger values"):
        build_design(parse("mixed weight week [fw=1/week] || id:"), pig)


def test_weight_expression_reaches_the_fit(pig):
    # [fw=2*one] doubles every observation: the log likelihood of the replicated data
    # (each row twice), fitted here on the stacked DataFrame
    a = smf.mixed("weight week [fw=2*one] || id:", pig.assign(one=1.0)).fit()
    b = smf.mixed("weight week || id:", pd.concat([pig, pig], ignore_index=True)).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)


def test_aweights_are_refused_and_glmm_weights_taken(pig):
    with pytest.raises(NotImplementedError, match=r"\[aweight=w\] weights are not"):
        smf.mixed("weight week [aw=w] || id:", pig.assign(w=2.0))
    # meglm takes them: sampling weights (here an expression) imply vce(robust)
    m = smf.melogit("c_use urban [pw=age+20] || district:", load("bangladesh"))
    assert m.weights.kinds == ("pweight",) and m.vce.robust


def test_input_data_unchanged(pig):
    before = pig.copy()
    smf.mixed("weight week if id <= 24 in 1/300 || id:", pig)
    pd.testing.assert_frame_equal(pig, before)
