"""``margins`` after ``menl``: Stata's default ``predict(yhat fixedonly)``.

Every reference is written out in the test from the fit's own estimates and covariance: the
margins are averages of the logistic growth curve ``phi1 / (1 + exp(-(age - b2) / b3))`` with
the random effects at zero (or at their conditional modes), their standard errors the delta
method ``J V J'`` with ``J`` the central-difference gradient of that written-out average with
respect to the whole parameter vector ``e(b)`` and ``V`` the whole ``cov_params()``; marginal
effects are the closed-form derivative ``f (1 - f / phi1) / b3`` in age (and ``1 / (1 +
exp(...))`` times ``b4`` in x), checked against central differences of the at() margins too.
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import DataError, SpecificationError

ORANGE = "menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))"
COVARIATE = ("menl circumf = {phi1:}/(1+exp(-(age-{b2})/{b3})), "
             "define(phi1: {b1}+{b4}*x+{U1[tree]})")


@pytest.fixture(scope="module")
def orange():
    return load("orange")


@pytest.fixture(scope="module")
def fit(orange):
    return smf.menl(ORANGE, data=orange).fit()


@pytest.fixture(scope="module")
def data_x():
    d = load("orange")
    d["x"] = (d["tree"] % 2).astype(float)
    return d


@pytest.fixture(scope="module")
def fit_x(data_x):
    return smf.menl(COVARIATE, data=data_x).fit()


def _gradient(fn, params):
    """Central differences with one Richardson step, over every parameter."""
    g = np.zeros(len(params))
    for j in range(len(params)):
        h = 1e-4 * max(1.0, abs(params[j]))
        e = np.zeros(len(params))
        e[j] = 1.0
        d1 = (fn(params + h * e) - fn(params - h * e)) / (2 * h)
        d2 = (fn(params + h / 2 * e) - fn(params - h / 2 * e)) / h
        g[j] = (4 * d2 - d1) / 3
    return g


def _delta(fn, res):
    params = res.params.to_numpy()
    J = _gradient(fn, params)
    return fn(params), float(np.sqrt(J @ res.cov_params().to_numpy() @ J))


def _curve(p, age, phi1=None):
    phi1 = p[0] if phi1 is None else phi1
    return phi1 / (1 + np.exp(-(age - p[1]) / p[2]))


def test_default_margin_is_the_fixed_only_curve_averaged(fit, orange):
    m = fit.margins()
    assert list(m.index) == ["_cons"]
    assert list(m.columns) == ["margin", "std_err", "z", "pvalue", "ci_lower", "ci_upper"]
    age = orange["age"].to_numpy(float)
    est, se = _delta(lambda p: _curve(p, age).mean(), fit)
    np.testing.assert_allclose(m.loc["_cons", "margin"], est, rtol=1e-12)
    np.testing.assert_allclose(m.loc["_cons", "std_err"], se, rtol=1e-6)
    # the same as predict(yhat fixedonly) averaged
    np.testing.assert_allclose(m.loc["_cons", "margin"],
                               fit.predict("yhat", fixedonly=True).mean(), rtol=1e-12)
    # 95% interval and z as Stata's
    np.testing.assert_allclose(m.loc["_cons", "ci_upper"], est + 1.959963984540054 * se,
                               rtol=1e-6)


def test_at_values(fit):
    m = fit.margins(at={"age": [500, 1000, 1500]})
    assert list(m.index) == ["1._at", "2._at", "3._at"]
    for label, a in zip(m.index, [500, 1000, 1500]):
        est, se = _delta(lambda p, a=a: float(_curve(p, a)), fit)
        np.testing.assert_allclose(m.loc[label, "margin"], est, rtol=1e-12)
        np.testing.assert_allclose(m.loc[label, "std_err"], se, rtol=1e-6)


def test_dydx_against_closed_form_and_finite_differences(fit, orange):
    age = orange["age"].to_numpy(float)

    def slope(p):
        f = _curve(p, age)
        return float(np.mean(f * (1 - f / p[0]) / p[2]))
    m = fit.margins(dydx="age")
    assert list(m.index) == ["age"]
    est, se = _delta(slope, fit)
    np.testing.assert_allclose(m.loc["age", "margin"], est, rtol=1e-8)
    np.testing.assert_allclose(m.loc["age", "std_err"], se, rtol=1e-5)
    # at one age, the effect is the derivative of the at() margin
    h = 0.5
    at = fit.margins(at={"age": [700 - h, 700 + h]})["margin"].to_numpy()
    e700 = fit.margins(dydx="age", at={"age": 700}).loc["age", "margin"]
    np.testing.assert_allclose(e700, (at[1] - at[0]) / (2 * h), rtol=1e-6)


def test_elasticities(fit, orange):
    age = orange["age"].to_numpy(float)

    def d_age(p):
        f = _curve(p, age)
        return f, f * (1 - f / p[0]) / p[2]
    refs = {"eyex": lambda p: float(np.mean(d_age(p)[1] / d_age(p)[0] * age)),
            "dyex": lambda p: float(np.mean(d_age(p)[1] * age)),
            "eydx": lambda p: float(np.mean(d_age(p)[1] / d_age(p)[0]))}
    for kind, fn in refs.items():
        m = fit.margins(**{kind: "age"})
        est, se = _delta(fn, fit)
        np.testing.assert_allclose(m.loc["age", "margin"], est, rtol=1e-8)
        np.testing.assert_allclose(m.loc["age", "std_err"], se, rtol=1e-5)


def test_model_with_a_covariate_over_and_at(fit_x, data_x):
    m = fit_x.margins(at={"age": [500, 1000]}, over="x")
    assert list(m.index) == ["0.x#1._at", "0.x#2._at", "1.x#1._at", "1.x#2._at"]
    # parameters: /b1 /b4 /b2 /b3
    for xv in (0, 1):
        for k, a in enumerate([500, 1000]):
            est, se = _delta(lambda p, a=a, xv=xv: float(
                _curve(p[[0, 2, 3]], a, phi1=p[0] + p[1] * xv)), fit_x)
            label = f"{xv}.x#{k + 1}._at"
            np.testing.assert_allclose(m.loc[label, "margin"], est, rtol=1e-12)
            np.testing.assert_allclose(m.loc[label, "std_err"], se, rtol=1e-6)


def test_dydx_of_the_covariate(fit_x, data_x):
    age = data_x["age"].to_numpy(float)
    m = fit_x.margins(dydx=["x", "age"])
    assert list(m.index) == ["x", "age"]
    est, se = _delta(lambda p: float(np.mean(p[1] / (1 + np.exp(-(age - p[2]) / p[3])))),
                     fit_x)
    np.testing.assert_allclose(m.loc["x", "margin"], est, rtol=1e-8)
    np.testing.assert_allclose(m.loc["x", "std_err"], se, rtol=1e-5)


def test_parameters_of_a_define(fit_x):
    m = fit_x.margins(predict="parameters(phi1)", over="x")
    b1, b4 = fit_x.params["/b1"], fit_x.params["/b4"]
    V = fit_x.cov_params().loc[["/b1", "/b4"], ["/b1", "/b4"]].to_numpy()
    np.testing.assert_allclose(m["margin"], [b1, b1 + b4], rtol=1e-12)
    np.testing.assert_allclose(m["std_err"], [np.sqrt(V[0, 0]), np.sqrt(V.sum())],
                               rtol=1e-10)


def test_ebmodes_holds_the_modes(fit, orange):
    modes = fit.random_effects["U1"]
    u = modes.loc[orange["tree"]].to_numpy()
    age = orange["age"].to_numpy(float)
    m = fit.margins(conditional="ebmodes")
    est, se = _delta(lambda p: _curve(p, age, phi1=p[0] + u).mean(), fit)
    np.testing.assert_allclose(m.loc["_cons", "margin"], est, rtol=1e-12)
    np.testing.assert_allclose(m.loc["_cons", "std_err"], se, rtol=1e-6)
    np.testing.assert_allclose(est, fit.predict("yhat").mean(), rtol=1e-12)


def test_new_data_and_input_unchanged(fit):
    new = pd.DataFrame({"age": [100.0, 600.0, 1200.0], "tree": [1, 2, 99]})
    before = new.copy()
    m = fit.margins(data=new)
    p = fit.params.to_numpy()
    np.testing.assert_allclose(m.loc["_cons", "margin"], _curve(p, new["age"].to_numpy()).mean(),
                               rtol=1e-12)
    pd.testing.assert_frame_equal(new, before)


def test_margins_under_an_error_structure():
    pig = load("pig")
    res = smf.menl("menl weight = ({a}+{U[id]})*exp({r}*week), "
                   "rescorrelation(ar 1, t(week))", data=pig).fit()
    m = res.margins(at={"week": 3})
    est, se = _delta(lambda p: float(p[0] * np.exp(3 * p[1])), res)
    np.testing.assert_allclose(m.loc["_cons", "margin"], est, rtol=1e-12)
    np.testing.assert_allclose(m.loc["_cons", "std_err"], se, rtol=1e-6)


def test_refusals_name_the_option(fit, orange):
    with pytest.raises(SpecificationError, match="conditional='marginal'"):
        fit.margins(conditional="marginal")
    with pytest.raises(SpecificationError, match="predict='reffects'"):
        fit.margins(predict="reffects")
    with pytest.raises(SpecificationError, match="'phi9' is not a define"):
        fit.margins(predict="parameters(phi9)")
    with pytest.raises(SpecificationError, match="dydx\\(\\): 'tree'"):
        fit.margins(dydx="tree")
    with pytest.raises(SpecificationError, match="variables="):
        fit.margins("age")
    with pytest.raises(SpecificationError, match="asbalanced"):
        fit.margins(asbalanced=True)
    with pytest.raises(DataError, match="lack the variable"):
        fit.margins(data=pd.DataFrame({"tree": [1]}))
    with pytest.raises(DataError, match="missing values"):
        fit.margins(data=pd.DataFrame({"age": [np.nan, 1.0]}))
