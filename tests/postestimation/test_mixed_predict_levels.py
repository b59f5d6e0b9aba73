"""``predict`` after ``mixed`` with ``relevel()`` and ``fixedonly``.

References:

* in-test: xb + sum of Z_l b_l over the chosen levels, from the fit's own estimates and BLUPs;
* nlme 3.1 (R 4.2.2) on the three-level tvsfpors model (Stata's ``thk prethk cc##tv ||
  school: || class:``), ML:

  ``fit <- lme(thk ~ prethk + cc*tv, random = ~1 | school/class, data = d, method = "ML")``
  (logLik -2348.90984615), ``predict(fit, level = 0:2)``;
  ``fit2 <- lme(thk ~ prethk + cc*tv, random = list(school = pdDiag(~prethk), class = ~1),
  data = d, method = "ML")`` (logLik -2347.41809283; Stata's ``|| school: prethk
  || class:``), ``predict(fit2, level = 0:2)``;
* nlme on the AR(1) residuals within school > class (data of ``_ar_data`` below, written to
  CSV and read by R):
  ``lme(y ~ x + time, random = list(school = ~1, klass = pdSymm(~x)),
  correlation = corAR1(form = ~ time | school/klass), data = d, method = "ML",
  control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12, msTol = 1e-14,
  niterEM = 0))`` (logLik -426.660758872245; ours is 1.7e-7 higher), ``predict(fit2,
  level = 0:2)``. This likelihood is flat: the two optima's BLUPs differ by up to 2e-5
  relative, which is the tolerance of that comparison.
"""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import BoundaryWarning, SpecificationError

# R rows 1, 2, 3, 4, 100, 500, 1000 (0-based below); columns level 0, 1 (school), 2 (class)
ROWS = [0, 1, 2, 3, 99, 499, 999]
NLME_TV = np.array([
    [2.80919933610604, 2.88801289378063, 3.06993028186889],
    [3.24955967060504, 3.32837322827963, 3.51029061636789],
    [3.24955967060504, 3.32837322827963, 3.51029061636789],
    [3.02937950335554, 3.10819306103013, 3.29011044911839],
    [2.52190880621183, 2.57193554986028, 2.38336715032877],
    [2.44971119102846, 2.59504124480088, 2.44036373546544],
    [2.44971119102846, 2.36875765673926, 2.15637948569984]])
NLME_TV_SLOPE = np.array([
    [2.77027394781766, 2.83948789268051, 3.03780082849912],
    [3.20366452503207, 3.34209217945510, 3.54040511527370],
    [3.20366452503207, 3.34209217945510, 3.54040511527370],
    [2.98696923642486, 3.09079003606780, 3.28910297188641],
    [2.49126616271171, 2.57798773933571, 2.39228428320213],
    [2.41753461884133, 2.51847853613603, 2.38220522810476],
    [2.41753461884133, 2.33631181145417, 2.14101698133478]])
AR_ROWS = [0, 1, 56, 199, 319]
NLME_AR_SLOPE = np.array([
    [0.674559829346113, -0.256144641493976, -0.282850962762044],
    [0.227288905677053, -0.703415565163036, -0.717551471446338],
    [0.744276400076147, 0.352603736756332, 0.371134771932181],
    [1.676381517577117, 2.364143783423344, 2.483640221328893],
    [1.136036547184553, 1.572009235523454, 1.313553840565532]])


def _ar_data():
    rng = np.random.default_rng(20261203)
    rows = []
    for s in range(8):
        us = rng.normal(0, 1.0)
        for c in range(4):
            uc = rng.normal(0, 0.7)
            slope = rng.normal(0, 0.3)
            e = 0.0
            for t in range(10):
                e = 0.6 * e + rng.normal(0, 0.8)
                x = rng.normal()
                rows.append((s + 1, 10 * (s + 1) + c, t + 1, x,
                             1.0 + 0.5 * x + 0.1 * t + us + uc + slope * x + e))
    return pd.DataFrame(rows, columns=["school", "klass", "time", "x", "y"])


@pytest.fixture(scope="module")
def tv():
    return smf.mixed("thk prethk i.cc##i.tv || school: || class:", data=load("tvsfpors")).fit()


@pytest.fixture(scope="module")
def tv_slope():
    with pytest.warns(BoundaryWarning, match="var\\(_cons\\)"):
        return smf.mixed("thk prethk i.cc##i.tv || school: prethk || class:",
                         data=load("tvsfpors")).fit()


@pytest.fixture(scope="module")
def ar_slope():
    return smf.mixed("y x time || school: || klass: x, covariance(unstructured) "
                     "residuals(ar 1, t(time))", data=_ar_data()).fit()


def _by_hand(res, upto):
    """xb + sum over the terms of the first ``upto`` levels of z'b (the fit's BLUPs)."""
    model = res.model
    out = res.predict("xb").to_numpy().copy()
    labels = [lev.label for lev in model.design.levels[:upto]]
    for term, b in zip(model.terms, res.blups()):
        if term.label in labels:
            out += np.einsum("ij,ij->i", term.Z, b[term.codes])
    return out


@pytest.mark.parametrize("fixture, want", [("tv", NLME_TV), ("tv_slope", NLME_TV_SLOPE)])
def test_fitted_by_level_match_nlme(request, fixture, want):
    res = request.getfixturevalue(fixture)
    got = np.column_stack([res.predict("fitted", fixedonly=True),
                           res.predict("fitted", relevel="school"),
                           res.predict("fitted", relevel="class")])[ROWS]
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert res.llf == pytest.approx(-2348.90984615 if fixture == "tv" else -2347.41809283,
                                    rel=1e-9)
    np.testing.assert_allclose(res.predict("fitted", relevel="class"),
                               res.predict("fitted"), rtol=1e-14)


def test_fitted_and_residuals_by_level_from_blups(tv_slope):
    res = tv_slope
    y = load("tvsfpors")["thk"].to_numpy()
    for upto, kw in ((0, {"fixedonly": True}), (1, {"relevel": "school"}),
                     (2, {"relevel": "class"}), (2, {"relevel": "school>class"})):
        want = _by_hand(res, upto)
        np.testing.assert_allclose(res.predict("fitted", **kw), want, rtol=1e-13)
        np.testing.assert_allclose(res.predict("residuals", **kw), y - want, rtol=1e-11,
                                   atol=1e-12)
        s = np.sqrt(res.params["/var(e.thk)"])
        np.testing.assert_allclose(res.predict("rstandard", **kw), (y - want) / s,
                                   rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(res.predict("fitted", fixedonly=True), res.predict("xb"),
                               rtol=1e-15)


def test_reffects_and_reses_one_level(tv_slope):
    res = tv_slope
    full_re, full_se = res.predict("reffects"), res.predict("reses")
    assert list(full_re.columns) == ["prethk[school]", "_cons[school]",
                                     "_cons[school>class]"]
    for lev, cols in (("school", ["prethk[school]", "_cons[school]"]),
                      ("class", ["_cons[school>class]"])):
        re = res.predict("reffects", relevel=lev)
        se = res.predict("reses", relevel=lev)
        assert list(re.columns) == cols and list(se.columns) == cols
        pd.testing.assert_frame_equal(re, full_re[cols])
        pd.testing.assert_frame_equal(se, full_se[cols])


def test_residual_structure_fitted_by_level(ar_slope):
    res = ar_slope
    d = _ar_data()
    assert res.llf == pytest.approx(-426.660758872245, rel=1e-9)
    got = np.column_stack([res.predict("fitted", fixedonly=True),
                           res.predict("fitted", relevel="school"),
                           res.predict("fitted", relevel="klass")])
    np.testing.assert_allclose(got[AR_ROWS], NLME_AR_SLOPE, rtol=3e-5)
    for upto, kw in ((0, {"fixedonly": True}), (1, {"relevel": "school"}),
                     (2, {"relevel": "klass"})):
        want = _by_hand(res, upto)
        np.testing.assert_allclose(res.predict("fitted", **kw), want, rtol=1e-13)
        np.testing.assert_allclose(res.predict("residuals", **kw), d["y"] - want,
                                   rtol=1e-11, atol=1e-12)
    # rstandard: the level's residuals times the inverse Cholesky factor of the AR(1)
    # covariance s2 C within each class (rows in time order)
    resid = res.predict("residuals", relevel="school").to_numpy()
    rho, s2 = res.params["/Residual:rho"], res.params["/Residual:var(e)"]
    C = s2 * rho ** np.abs(np.subtract.outer(np.arange(10), np.arange(10)))
    L = np.linalg.cholesky(C)
    want = np.concatenate([np.linalg.solve(L, resid[k:k + 10])
                           for k in range(0, len(d), 10)])
    np.testing.assert_allclose(res.predict("rstandard", relevel="school"), want,
                               rtol=1e-9, atol=1e-12)


def test_level_options_refused_where_stata_refuses(tv):
    with pytest.raises(SpecificationError, match="relevel"):
        tv.predict("xb", relevel="school")
    with pytest.raises(SpecificationError, match="fixedonly"):
        tv.predict("reffects", fixedonly=True)
    with pytest.raises(SpecificationError, match="may not be combined"):
        tv.predict("fitted", relevel="school", fixedonly=True)
    with pytest.raises(SpecificationError, match="relevel\\(district\\).*school, class"):
        tv.predict("fitted", relevel="district")
    with pytest.raises(SpecificationError, match="relevel.*data="):
        tv.predict("fitted", data=load("tvsfpors").head(), relevel="school")


def test_fixedonly_on_new_data_is_xb(tv):
    new = load("tvsfpors").head(6)
    np.testing.assert_allclose(tv.predict("fitted", data=new, fixedonly=True),
                               tv.predict("xb").to_numpy()[:6], rtol=1e-13)
