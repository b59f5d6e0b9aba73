"""metobit against two independent references.

- The model with a random intercept: the 30-point adaptive Gauss-Hermite likelihood of
  ``_aghq_reference`` (numpy/scipy densities, its own optimizer) -- log likelihood 1e-6
  relative, estimates 1e-5, standard errors 1e-3.
- The model without random effects (the LR test's comparison model): R's survreg,

      library(survival); d <- read.csv("tob.csv")      # the data of _data() below
      lo <- ifelse(d$y <= 0, NA, d$y); hi <- ifelse(d$y >= 3, NA, d$y)
      m <- survreg(Surv(lo, hi, type="interval2") ~ x, data=d, dist="gaussian")
      logLik(m)   # -695.765887841129;  coef 0.910709916087556, 0.734597265861100;
                  # scale^2 2.18305787194606  (R 4.2.2, survival 3.4)
"""
import numpy as np
import pandas as pd
import pytest
from _aghq_reference import aghq_fit
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import DataError

SURVREG_LLF = -695.765887841129


def _data():
    rng = np.random.default_rng(42)
    G, m = 60, 8
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    u = rng.normal(0, 0.8, G)[g]
    ys = 1.0 + 0.7 * x + u + rng.normal(0, 1.2, G * m)
    return pd.DataFrame({"y": np.clip(ys, 0, 3), "x": x, "id": g})


def _tobit_rows(y, lo, hi):
    def loglike(eta, aux):
        sd = np.exp(0.5 * aux[0])
        return np.where(y <= lo, stats.norm.logcdf(lo, eta, sd),
                        np.where(y >= hi, stats.norm.logsf(hi, eta, sd),
                                 stats.norm.logpdf(y, eta, sd)))
    return loglike


@pytest.fixture(scope="module")
def fits():
    df = _data()
    res = smf.metobit("y x || id:, ll(0) ul(3) intpoints(30)", data=df).fit()
    X = np.column_stack([df["x"], np.ones(len(df))])
    z, llf, cov = aghq_fit(_tobit_rows(df["y"].to_numpy(), 0.0, 3.0), X,
                           df["id"].to_numpy(), [0.0, 0.5, 0.0, 0.0])
    return res, z, llf, cov


def test_metobit_matches_the_adaptive_quadrature_reference(fits):
    res, z, llf, cov = fits
    assert res.llf == pytest.approx(llf, rel=1e-6)
    # display: x, _cons, var(_cons), var(e.y); reference: x, _cons, log var_e, log var_u
    want = np.array([z[0], z[1], np.exp(z[3]), np.exp(z[2])])
    J = np.zeros((4, 4))
    J[0, 0] = J[1, 1] = 1
    J[2, 3], J[3, 2] = np.exp(z[3]), np.exp(z[2])
    want_se = np.sqrt(np.diag(J @ cov @ J.T))
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(res.bse.to_numpy(), want_se, rtol=1e-3)
    assert list(res.params.index) == ["x", "_cons", "/var(_cons[id])", "/var(e.y)"]


def test_metobit_fixed_model_matches_survreg(fits):
    res = fits[0]
    assert res.llf_fixed == pytest.approx(SURVREG_LLF, rel=1e-10)
    lr = res.info.lr_test
    assert lr.versus == "tobit model"
    assert lr.stat == pytest.approx(2 * (res.llf - SURVREG_LLF), rel=1e-8)


def test_metobit_header_counts_the_censored_rows(fits):
    res = fits[0]
    df = _data()
    rows = dict(res.info.extra_header)
    assert rows["Left-censored"] == str(int((df["y"] <= 0).sum()))
    assert rows["Right-censored"] == str(int((df["y"] >= 3).sum()))
    assert rows["Uncensored"] == str(int(((df["y"] > 0) & (df["y"] < 3)).sum()))
    text = str(res.summary())
    assert "Mixed-effects tobit regression" in text and "var(e.y)" in text
    # Stata's tobit header: the limits on the left of the censoring counts
    lines = text.splitlines()
    assert lines[1].split() == ["Uncensored", "=", rows["Uncensored"]]
    assert lines[2].split() == ["Limits:", "Lower", "=", "0", "Left-censored", "=",
                                rows["Left-censored"]]
    assert lines[3].split() == ["Upper", "=", "3", "Right-censored", "=",
                                rows["Right-censored"]]


def test_limits_from_variables_equal_the_constant_limits():
    df = _data().assign(lo=0.0, hi=3.0)
    a = smf.metobit("y x || id:, ll(lo) ul(hi) intmethod(laplace)", data=df).fit()
    b = smf.metobit("y x || id:, ll(0) ul(3) intmethod(laplace)", data=df).fit()
    assert a.llf == pytest.approx(b.llf, rel=1e-12)


def test_every_integration_method_agrees_with_30_point_quadrature(fits):
    """mcaghermite with 30 points reaches the mvaghermite optimum; the non-adaptive
    ghermite and Laplace are within their approximation errors of it (var(_cons) ~ 0.9:
    30 fixed nodes leave ~1e-3; Laplace with 8 rows per cluster a few tenths)."""
    df, ref = _data(), fits[0].llf
    res = smf.metobit("y x || id:, ll(0) ul(3) intmethod(mcaghermite) intpoints(30)",
                      data=df).fit()
    assert res.llf == pytest.approx(ref, rel=1e-6)
    gh = smf.metobit("y x || id:, ll(0) ul(3) intmethod(ghermite) intpoints(30)",
                     data=df).fit()
    assert abs(gh.llf - ref) < 5e-3
    lap = smf.metobit("y x || id:, ll(0) ul(3) intmethod(laplace)", data=df).fit()
    assert abs(lap.llf - ref) < 0.5


def test_ll_above_ul_is_a_data_error():
    df = _data().assign(lo=0.0, hi=3.0)
    df.loc[:4, "lo"] = 5.0
    with pytest.raises(DataError, match=r"5 row\(s\)"):
        smf.metobit("y x || id:, ll(lo) ul(hi)", data=df)
