"""Bad input and hard fits in ``mixed``: clear errors and warnings naming the term.

Data are the bundled pig data with added columns, or simulated here with fixed seeds.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DataError,
    SpecificationError,
)


@pytest.fixture(scope="module")
def pig():
    d = load("pig")
    d["c"] = 2.0
    d["one"] = 1
    d["w2"] = 2.0 * d["week"]
    d["w3"] = d["week"] + 1.0
    return d


@pytest.mark.parametrize("text,named", [
    ("weight week || id: c", "'c'"),
    ("weight week || id: c, cov(unstructured)", "'c'"),
    ("weight week || id: week w2", "'w2'"),
    ("weight week || id: week w3, cov(unstructured)", "'w3'"),
    ("weight week || id: week, nocons || id: w2", "'w2'"),
])
def test_collinear_random_design(pig, text, named):
    with pytest.raises(DataError, match=f"level 'id' are collinear: {named}"):
        smf.mixed(text, data=pig)


def test_constant_slope_without_intercept_is_allowed(pig):
    # a constant covariate with noconstant is a rescaled random intercept, not collinear
    res = smf.mixed("weight week || id: c, noconstant", data=pig).fit()
    ref = smf.mixed("weight week || id:", data=pig).fit()
    assert abs(res.llf - ref.llf) < 1e-7
    assert res.params["/var(c[id])"] * 4 == pytest.approx(ref.params["/var(_cons[id])"],
                                                          rel=1e-5)


def test_level_with_one_group(pig):
    with pytest.raises(DataError, match="level 'one' has only 1 group"):
        smf.mixed("weight week || one:", data=pig)


def test_more_random_effects_than_observations():
    rng = np.random.default_rng(11)
    d = pd.DataFrame({"g": np.repeat(np.arange(40), 2), "x": rng.normal(size=80),
                      "z": rng.normal(size=80)})
    d["y"] = d["x"] + rng.normal(size=80)
    with pytest.raises(DataError, match=r"x z _cons at level 'g' number 40 groups x 3 = 120"):
        smf.mixed("y x || g: x z, cov(unstructured)", data=d)


def _no_group_effect(seed=1):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"g": np.repeat(np.arange(30), 5), "x": rng.normal(size=150)})
    d["y"] = 1.0 + d["x"] + rng.normal(size=150)
    return d


@pytest.mark.parametrize("text,named", [
    ("y x || g:", "g: var(_cons)"),
    ("y x || g: x, cov(unstructured)", "g: var(x)"),
])
def test_variance_at_zero_warns_and_returns_results(text, named):
    d = _no_group_effect()
    with pytest.warns(BoundaryWarning, match=named.replace("(", r"\(").replace(")", r"\)")):
        res = smf.mixed(text, data=d).fit()
    # the ML estimate of the group variance is exactly zero for these data: the fit equals
    # OLS (log likelihood of the linear regression, computed here by hand)
    X = np.column_stack([d["x"], np.ones(len(d))])
    beta, *_ = np.linalg.lstsq(X, d["y"], rcond=None)
    rss = float(((d["y"] - X @ beta) ** 2).sum())
    n = len(d)
    assert abs(res.llf - -0.5 * n * (1 + np.log(2 * np.pi * rss / n))) < 1e-6
    vc = res.vcomp
    zero_rows = [r for r in vc.index if r.startswith("g: var")]
    assert all(vc.loc[r, "estimate"] == 0.0 for r in zero_rows)
    assert np.isfinite(res.bse.iloc[:2]).all()
    assert np.isfinite(vc.loc["var(Residual)"]).all()


def test_singular_random_effects_covariance_is_named():
    # seed 5: var(x) and var(_cons) are positive but perfectly correlated (the Cholesky
    # factor's second diagonal is zero)
    with pytest.warns(BoundaryWarning, match=r"g: singular covariance matrix of \(x _cons\)"):
        res = smf.mixed("y x || g: x, cov(unstructured)", data=_no_group_effect(5)).fit()
    est = res.params
    corr = est["/cov(x[g],_cons[g])"] / np.sqrt(est["/var(x[g])"] * est["/var(_cons[g])"])
    assert abs(abs(corr) - 1.0) < 1e-6


def test_singular_information_warns():
    # a slope on c = +-1 (constant within group) has var(b0 + b1 c) = s0^2 + s1^2: the two
    # variances are not separately identified, so the information matrix is singular
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(40), 6)
    d = pd.DataFrame({"g": g, "c": np.where(np.arange(40) % 2 == 0, 1.0, -1.0)[g],
                      "x": rng.normal(size=240)})
    d["y"] = 0.8 * rng.normal(size=40)[g] + rng.normal(size=240)
    with pytest.warns(ConvergenceWarning, match="not negative definite"):
        res = smf.mixed("y x || g: c", data=d).fit()
    assert np.isfinite(res.llf)


def test_no_warning_on_a_regular_fit(pig):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        smf.mixed("weight week || id: week, cov(unstructured)", data=pig).fit()


def test_no_random_effects(pig):
    with pytest.raises(SpecificationError, match=r"no random-effects equation; add one"):
        smf.mixed("weight week", data=pig)


def _tiny(y):
    d = pd.DataFrame({"g": np.repeat(np.arange(10), 4), "x": np.tile([0.0, 1, 2, 3], 10)})
    d["y"] = y(d)
    return d


@pytest.mark.parametrize("y", [lambda d: np.ones(len(d)), lambda d: 1 + 2 * d["x"]])
def test_response_fit_exactly_by_fixed_effects(y):
    with pytest.raises(DataError, match="response 'y' is an exact linear function"):
        smf.mixed("y x || g:", data=_tiny(y))


@pytest.mark.filterwarnings("ignore:mixed. the Hessian")
def test_response_constant_within_groups_warns():
    d = _tiny(lambda d: d["g"].astype(float))
    with pytest.warns(ConvergenceWarning, match="residual variance is estimated at zero"):
        smf.mixed("y x || g:", data=d).fit()
