"""meintreg against two independent references.

- Random intercept: the 30-point adaptive Gauss-Hermite likelihood of ``_aghq_reference``
  (numpy/scipy, its own optimizer) -- log likelihood 1e-6 relative, estimates 1e-5, SEs 1e-3.
- Without random effects (the LR test's comparison model), R's survreg:

      library(survival); i <- read.csv("intr.csv")     # the data of _data() below
      m2 <- survreg(Surv(ylo, yhi, type="interval2") ~ x, data=i, dist="gaussian")
      logLik(m2)   # -819.311167648757;  coef 0.894468762810439, 0.873228833031045;
                   # scale^2 3.07946534813691  (R 4.2.2, survival 3.4)
"""
import numpy as np
import pandas as pd
import pytest
from _aghq_reference import aghq_fit
from scipy import special

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import BoundaryWarning, DataError

SURVREG_LLF = -819.311167648757


def _data():
    """Exact values (20%), unit intervals, left-censored below -0.5 (missing lower bound),
    right-censored above 2.5 (missing upper bound)."""
    rng = np.random.default_rng(42)
    G, m = 60, 8
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    u = rng.normal(0, 0.8, G)[g]
    ys = 1.0 + 0.7 * x + u + rng.normal(0, 1.2, G * m)
    lo = np.floor(ys)
    hi = lo + 1
    lo[ys < -0.5] = np.nan
    hi[ys > 2.5] = np.nan
    ex = rng.uniform(size=G * m) < 0.2
    lo[ex] = ys[ex]
    hi[ex] = ys[ex]
    return pd.DataFrame({"ylo": lo, "yhi": hi, "x": x, "id": g})


def _interval_rows(lo, hi):
    lo = np.where(np.isnan(lo), -np.inf, lo)
    hi = np.where(np.isnan(hi), np.inf, hi)
    exact = lo == hi

    def loglike(eta, aux):
        sd = np.exp(0.5 * aux[0])
        za, zb = (lo - eta) / sd, (hi - eta) / sd
        with np.errstate(invalid="ignore", divide="ignore"):
            cens = np.log(special.ndtr(zb) - special.ndtr(za))
        dens = -0.5 * za ** 2 - 0.5 * np.log(2 * np.pi) - np.log(sd)
        return np.where(exact, dens, cens)
    return loglike


@pytest.fixture(scope="module")
def fits():
    df = _data()
    res = smf.meintreg("ylo yhi x || id:, intpoints(30)", data=df).fit()
    X = np.column_stack([df["x"], np.ones(len(df))])
    z, llf, cov = aghq_fit(_interval_rows(df["ylo"].to_numpy(), df["yhi"].to_numpy()), X,
                           df["id"].to_numpy(), [0.0, 0.5, 0.0, 0.0])
    return res, z, llf, cov


def test_meintreg_matches_the_adaptive_quadrature_reference(fits):
    res, z, llf, cov = fits
    assert res.llf == pytest.approx(llf, rel=1e-6)
    want = np.array([z[0], z[1], np.exp(z[3]), np.exp(z[2])])
    J = np.zeros((4, 4))
    J[0, 0] = J[1, 1] = 1
    J[2, 3], J[3, 2] = np.exp(z[3]), np.exp(z[2])
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(J @ cov @ J.T)),
                               rtol=1e-3)


def test_meintreg_fixed_model_matches_survreg_and_header(fits):
    res = fits[0]
    assert res.llf_fixed == pytest.approx(SURVREG_LLF, rel=1e-10)
    assert res.info.lr_test.versus == "interval model"
    df = _data()
    rows = dict(res.info.extra_header)
    assert rows["Left-censored"] == str(int(df["ylo"].isna().sum()))
    assert rows["Right-censored"] == str(int(df["yhi"].isna().sum()))
    assert rows["Uncensored"] == str(int((df["ylo"] == df["yhi"]).sum()))
    text = str(res.summary())
    assert "Mixed-effects interval regression" in text
    # Stata's header: the four counts in the right column under Number of obs
    lines = text.splitlines()
    for line, label in zip(lines[1:5], ("Uncensored", "Left-censored", "Right-censored",
                                        "Interval-cens.")):
        assert line.split() == [label, "=", rows[label]]


def test_lower_above_upper_is_a_data_error():
    df = _data()
    rows = df.index[df["ylo"].notna() & df["yhi"].notna()][:3]
    df.loc[rows, "yhi"] = df.loc[rows, "ylo"] - 1
    with pytest.raises(DataError, match=r"3 row\(s\) have 'ylo' above 'yhi'"):
        smf.meintreg("ylo yhi x || id:", data=df)


def test_nested_levels_reduce_to_one_level_without_a_top_level_effect():
    """The data have no effect of the top level (groups of 6 clusters): the nested fit
    (nested Laplace) puts its variance at zero and equals the one-level Laplace fit."""
    df = _data().assign(sub=lambda d: d["id"] // 6)
    with pytest.warns(BoundaryWarning):
        nested = smf.meintreg("ylo yhi x || sub: || id:, intmethod(laplace)", data=df).fit()
    one = smf.meintreg("ylo yhi x || id:, intmethod(laplace)", data=df).fit()
    assert nested.params["/var(_cons[sub])"] < 1e-6
    assert nested.llf == pytest.approx(one.llf, rel=1e-8)
    np.testing.assert_allclose(nested.params[["x", "_cons", "/var(e.ylo)"]],
                               one.params[["x", "_cons", "/var(e.ylo)"]], rtol=1e-4)
