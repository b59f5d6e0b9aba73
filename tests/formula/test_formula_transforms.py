"""Formula transforms fitted: each model equals the same model written with precomputed
columns (log likelihoods to 1e-8 relative); splines have statsmodels' own patsy columns;
offset() is exposure(); cbind() is binomial()."""
import pickle

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as sm_formula

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import DataError, SpecificationError

RTOL = 1e-8


@pytest.fixture(scope="module")
def pig():
    df = load("pig")
    df["grp"] = np.array(["a", "b", "c"])[df["id"] % 3]
    return df


def fit_pair(text_a, data_a, text_b, data_b, **kw):
    a = smf.mixed(text_a, data_a, **kw).fit()
    b = smf.mixed(text_b, data_b, **kw).fit()
    return a, b


def test_I_and_numpy_functions_equal_precomputed_columns(pig):
    pre = pig.assign(w2=pig["week"] ** 2, lw=np.log(pig["week"]), hi=(pig["week"] > 4) * 1.0)
    a, b = fit_pair("weight ~ week + I(week**2) + np.log(week) + I(week > 4) + (1 | id)", pig,
                    "weight ~ week + w2 + lw + hi + (1 | id)", pre)
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    # a boolean is a factor to patsy (and to statsmodels' formulas)
    assert a.model.param_names[:4] == ["week", "I(week ** 2)", "np.log(week)",
                                       "I(week > 4)[T.True]"]
    np.testing.assert_allclose(a.params.iloc[:4].to_numpy(), b.params.iloc[:4].to_numpy(),
                               rtol=1e-6)


def test_center_and_standardize_and_random_slope_transform(pig):
    wk = pig["week"]
    pre = pig.assign(cw=wk - wk.mean(), sw=(wk - wk.mean()) / wk.std(ddof=1),
                     w10=wk / 10)
    a, b = fit_pair("weight ~ center(week) + standardize(week):C(grp) + (1 + I(week / 10) | id)",
                    pig, "weight ~ cw + sw:C(grp) + (1 + w10 | id)", pre)
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    assert "/var(I(week / 10)[id])" in a.model.param_names


def test_sum_and_diff_contrasts_equal_their_coded_columns(pig):
    # Sum coding of levels a, b, c: a -> (1, 0), b -> (0, 1), c -> (-1, -1) (patsy's Sum)
    s1 = np.select([pig["grp"] == "a", pig["grp"] == "c"], [1.0, -1.0], 0.0)
    s2 = np.select([pig["grp"] == "b", pig["grp"] == "c"], [1.0, -1.0], 0.0)
    pre = pig.assign(s1=s1, s2=s2)
    a, b = fit_pair("weight ~ week + C(grp, Sum) + (1 | id)", pig,
                    "weight ~ week + s1 + s2 + (1 | id)", pre)
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    assert a.model.param_names[1:3] == ["C(grp, Sum)[S.a]", "C(grp, Sum)[S.b]"]
    # Diff coding spans the same space as Treatment coding: same likelihood
    c = smf.mixed("weight ~ week + C(grp, Diff) + (1 | id)", pig).fit()
    d = smf.mixed("weight ~ week + C(grp) + (1 | id)", pig).fit()
    assert c.llf == pytest.approx(d.llf, rel=RTOL)


def test_string_columns_are_factors(pig):
    a, b = fit_pair("weight ~ week + grp + (1 | id)", pig,
                    "weight ~ week + C(grp) + (1 | id)", pig)
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    assert a.model.param_names[:3] == ["week", "b.grp", "c.grp"]
    cat = pig.assign(grp=pd.Categorical(pig["grp"], categories=["c", "b", "a"]))
    e = smf.mixed("weight ~ week + grp + (1 | id)", cat).fit()
    assert e.llf == pytest.approx(b.llf, rel=RTOL)


@pytest.mark.parametrize("terms", ["bs(week, df=4)", "cr(week, df=4)", "cc(week, df=4)",
                                   "bs(week, df=3, degree=2):C(grp)"])
def test_splines_have_statsmodels_patsy_columns(pig, terms):
    model = smf.mixed(f"weight ~ {terms} + (1 | id)", pig)
    ols = sm_formula.ols(f"weight ~ {terms}", pig).fit()
    ours = dict(zip(model.param_names, model.design.exog.T, strict=False))
    theirs = dict(zip(ols.model.exog_names, ols.model.exog.T, strict=True))
    theirs["_cons"] = theirs.pop("Intercept")
    kept = [n for n in theirs if n in ours]
    # every column statsmodels builds is ours, by name, except those Stata's collinearity
    # rule drops (with a note)
    assert set(theirs) == set(kept) | set(model.design.omitted)
    for name in kept:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-12)
    # and a fit with the spline columns precomputed has the same likelihood
    spline = model.design.exog[:, :-1]
    names = [f"s{k}" for k in range(spline.shape[1])]
    pre = pig.assign(**dict(zip(names, spline.T, strict=True)))
    a = model.fit()
    b = smf.mixed(f"weight ~ {' + '.join(names)} + (1 | id)", pre).fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)


def test_stateful_transforms_keep_training_constants(pig):
    model = smf.mixed("weight ~ center(week) + bs(week, df=4) + (1 | id)", pig)
    new = pd.DataFrame({"week": [1.0, 5.0, 8.5]})
    stored = model.design.transforms["fixed"]
    # pickled and loaded, the constants are the same (rebuilt from the training columns)
    for eq in (stored, pickle.loads(pickle.dumps(stored))):
        check_new_data(eq, new, pig)
    res = pickle.loads(pickle.dumps(model.fit()))
    check_new_data(res.model.design.transforms["fixed"], new, pig)


def check_new_data(eq, new, pig):
    X = eq.transform(new).to_numpy()
    cols = eq.info.column_names
    np.testing.assert_allclose(X[:, cols.index("center(week)")],
                               new["week"] - pig["week"].mean(), rtol=1e-13)
    ref = patsy.dmatrix("bs(week, df=4)", pig)
    ref_new = patsy.build_design_matrices([ref.design_info], new)[0]
    np.testing.assert_allclose(X[:, [cols.index(f"bs(week, df=4)[{k}]") for k in range(4)]],
                               np.asarray(ref_new)[:, 1:], rtol=1e-13)


def test_offset_transform_equals_exposure():
    adm = load("admissions")
    a = smf.mepoisson("nadmitted ~ female + offset(np.log(napplied)) + (1 | department)",
                      adm).fit()
    b = smf.mepoisson("nadmitted female || department:", adm, exposure="napplied").fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-6)


def test_cbind_equals_binomial():
    adm = load("admissions").assign(nrejected=lambda d: d["napplied"] - d["nadmitted"])
    a = smf.melogit("cbind(nadmitted, nrejected) ~ female + (1 | department)", adm).fit()
    b = smf.melogit("nadmitted female || department:", adm, binomial="napplied").fit()
    assert a.llf == pytest.approx(b.llf, rel=RTOL)
    c = smf.meglm("cbind(nadmitted, nrejected) ~ female + (1 | department)", adm).fit()
    assert c.llf == pytest.approx(b.llf, rel=RTOL)
    e = smf.meglm("cbind(nadmitted, nrejected) ~ female + (1 | department)", adm,
                  family="binomial").fit()
    assert e.llf == pytest.approx(b.llf, rel=RTOL)
    with pytest.raises(SpecificationError, match="gives the trials"):
        smf.meglm("cbind(nadmitted, nrejected) ~ female + (1 | department)", adm,
                  family="binomial 5")


@pytest.mark.parametrize("text, error, fragment", [
    ("weight ~ np.log(week - 3) + (1 | id)", DataError, "np.log(week - 3)"),
    ("weight ~ bs(week, df=1) + (1 | id)", DataError, "bs(week, df=1)"),
    ("weight ~ I(grp + 1) + (1 | id)", DataError, "I(grp + 1)"),
    ("weight ~ I(nosuch) + (1 | id)", DataError, "'nosuch' not found"),
    ("weight ~ week.__add__(1) + (1 | id)", SpecificationError, "attribute access"),
])
def test_bad_transforms_are_clear_errors(pig, text, error, fragment):
    with pytest.raises(error) as err:
        smf.mixed(text, pig)
    assert fragment in str(err.value)


def test_input_data_unchanged(pig):
    before = pig.copy()
    smf.mixed("weight ~ center(week) + grp + I(week**2) + (1 + standardize(week) | id)", pig)
    pd.testing.assert_frame_equal(pig, before)
