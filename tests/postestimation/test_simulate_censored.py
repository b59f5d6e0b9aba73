"""``simulate`` after metobit, meintreg and mestreg.

The moments of the simulated responses are compared with the fitted model's, computed here
from the estimates alone with scipy.stats. With a random intercept u ~ N(0, s2u):

* metobit ll(0) ul(3): y* = xb + u + e is marginally N(xb, s2e + s2u), so E(y) and E(y^2) of
  y = max(0, min(y*, 3)) follow from the normal cdf and scipy's truncnorm mean and
  variance; for two rows of one group E(y_i y_j) = E_u[g_i(u) g_j(u)], g(u) = E(y | u), by
  80-point Gauss-Hermite quadrature (numpy's hermegauss).
* meintreg: each row's probability of reporting its observed pattern (the interval (a, b),
  left of a, right of c) from the marginal normal cdf; exact rows' mean and second moment.
* mestreg Weibull PH (S = exp(-exp(eta) t^p)): rows without delayed entry have
  E(T) = Gamma(1 + 1/p) exp(-xb / p) exp(s2u / (2 p^2)) and
  E(T^2) = Gamma(1 + 2/p) exp(-2 xb / p) exp(2 s2u / p^2); rows entering at t0 > 0 have
  P(T > 2 t0) = E_u[S(2 t0 | u) / S(t0 | u)] and never T <= t0; censored rows with
  ``censor=True`` fail with probability E_u[1 - S(c | u) / S(t0 | u)].
* mestreg lognormal AFT: log T = xb + u + sigma W, E(log T) = xb, E(log T^2) = xb^2 + s2u +
  sigma^2 (rows without delayed entry).

Each row's simulated mean must be within 4.5 Monte Carlo standard errors (sample standard
deviation over the draws / sqrt(nsim); for indicators sqrt(p (1 - p) / nsim) at the model's
p) of the model's value; with at most 480 rows the chance of a larger deviation under a
correct sampler is below 0.4% per check.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.postestimation.simulate import simulate
from statsmodels_me.spec.errors import SpecificationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_meintreg import _data as interval_data  # noqa: E402
from test_mestreg import _data as survival_data  # noqa: E402
from test_metobit import _data as tobit_data  # noqa: E402

NSIM = 2000
Z = 4.5


def _within(sims, want, label):
    se = sims.std(axis=1, ddof=1) / np.sqrt(sims.shape[1])
    z = (sims.mean(axis=1) - want) / se
    assert np.max(np.abs(z)) < Z, f"{label}: max |z| = {np.max(np.abs(z)):.2f}"


def _within_p(hits, p, label):
    z = (hits.mean(axis=1) - p) / np.sqrt(p * (1 - p) / hits.shape[1])
    assert np.max(np.abs(z)) < Z, f"{label}: max |z| = {np.max(np.abs(z)):.2f}"


def _clipped_moments(m, s, a, b):
    """E(y), E(y^2) of y = max(a, min(y*, b)), y* ~ N(m, s^2)."""
    al, be = (a - m) / s, (b - m) / s
    pa, pb = stats.norm.cdf(al), stats.norm.sf(be)
    law = stats.truncnorm(al, be, loc=m, scale=s)
    mid = 1 - pa - pb
    return (a * pa + mid * law.mean() + b * pb,
            a * a * pa + mid * (law.var() + law.mean() ** 2) + b * b * pb)


def _hermite(points=80):
    x, w = np.polynomial.hermite_e.hermegauss(points)
    return x, w / w.sum()


@pytest.fixture(scope="module")
def tobit():
    df = tobit_data()
    df.index = 1000 + 3 * np.arange(len(df))
    df.loc[1003, "x"] = np.nan                       # one row out of the sample
    return df, smf.metobit("y x || id:, ll(0) ul(3) intmethod(laplace)", data=df).fit()


def test_metobit_moments(tobit):
    df, res = tobit
    df = df.dropna()
    p = res.params
    s2e, s2u = p["/var(e.y)"], p["/var(_cons[id])"]
    xb = (p["_cons"] + p["x"] * df["x"]).to_numpy()
    sims = res.simulate(NSIM, seed=4)
    assert sims.shape == (len(df), NSIM) and sims.index.equals(df.index)
    assert list(sims.columns[:2]) == ["sim_1", "sim_2"]
    y = sims.to_numpy()
    assert y.min() == 0.0 and y.max() == 3.0 and np.all((y >= 0) & (y <= 3))
    m1, m2 = _clipped_moments(xb, np.sqrt(s2e + s2u), 0.0, 3.0)
    _within(y, m1, "E(y)")
    _within(y ** 2, m2, "E(y^2)")
    _within_p((y == 0).astype(float), stats.norm.cdf(-xb / np.sqrt(s2e + s2u)), "P(y = 0)")
    # within-group dependence through the shared intercept
    first = np.flatnonzero(df["id"].diff().to_numpy() != 0)
    i, j = first, first + 1
    x, w = _hermite()
    g = [_clipped_moments(xb[k][:, None] + np.sqrt(s2u) * x[None, :], np.sqrt(s2e), 0.0,
                          3.0)[0] for k in (i, j)]
    _within(y[i] * y[j], (g[0] * g[1]) @ w, "E(y_i y_j)")


def test_metobit_reproducible_and_refusals(tobit):
    res = tobit[1]
    a, b = res.simulate(3, seed=9), res.simulate(3, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), res.simulate(3, seed=10).to_numpy())
    with pytest.raises(TypeError):
        res.simulate(1, censor=True)                 # an option of mestreg's simulate only
    with pytest.raises(SpecificationError, match="censor=True"):
        simulate(res, 1, censor=True)


def _same_fit(boot_row, refit):
    np.testing.assert_allclose(boot_row.to_numpy(), refit.params.to_numpy(), rtol=1e-8)


def test_bootstrap_refits_the_simulated_responses():
    """Each replicate equals the command fitted here to that simulation."""
    df = tobit_data().assign(lim=0.0)
    text = "y x || id:, ll(lim) ul(3) intmethod(laplace)"
    res = smf.metobit(text, data=df).fit()
    boot, sims = res.bootstrap(2, seed=7), res.simulate(2, seed=7)
    assert list(boot.columns) == list(res.params.index)
    for k in range(2):
        _same_fit(boot.iloc[k], smf.metobit(text, data=df.assign(y=sims.iloc[:, k])).fit())

    df = interval_data()
    text = "ylo yhi x || id:, intmethod(laplace)"
    res = smf.meintreg(text, data=df).fit()
    boot, sims = res.bootstrap(1, seed=7), res.simulate(1, seed=7)
    new = df.assign(ylo=sims[("sim_1", "ylo")], yhi=sims[("sim_1", "yhi")])
    _same_fit(boot.iloc[0], smf.meintreg(text, data=new).fit())

    df = survival_data()
    text = "x || id:, distribution(weibull) intmethod(laplace)"
    res = smf.mestreg(text, data=df, time="t", failure="d", entry="t0").fit()
    boot, sims = res.bootstrap(1, seed=7), res.simulate(1, seed=7, censor=True)
    new = df.assign(t=sims[("sim_1", "_t")], d=sims[("sim_1", "_d")])
    _same_fit(boot.iloc[0], smf.mestreg(text, data=new, time="t", failure="d",
                                        entry="t0").fit())


def test_meintreg_reports_the_cell_of_the_observed_bounds():
    df = interval_data()
    res = smf.meintreg("ylo yhi x || id:, intmethod(laplace)", data=df).fit()
    p = res.params
    m = (p["_cons"] + p["x"] * df["x"]).to_numpy()
    sd = np.sqrt(p["/var(e.ylo)"] + p["/var(_cons[id])"])
    sims = res.simulate(NSIM, seed=2)
    assert sims.shape == (len(df), 2 * NSIM)
    assert list(sims.columns[:2]) == [("sim_1", "ylo"), ("sim_1", "yhi")]
    lo = sims.xs("ylo", axis=1, level=1).to_numpy()
    hi = sims.xs("yhi", axis=1, level=1).to_numpy()
    a, b = df["ylo"].to_numpy(), df["yhi"].to_numpy()
    exact, left, right = a == b, np.isnan(a), np.isnan(b)
    inter = ~(exact | left | right)
    assert np.all(lo[exact] == hi[exact])
    _within(lo[exact], m[exact], "exact E(y)")
    _within(lo[exact] ** 2, m[exact] ** 2 + sd ** 2, "exact E(y^2)")
    # every report is a cell between the row's own bounds
    for rows, lo_ok, hi_ok in ((inter, (lo == a[:, None]) | (lo == b[:, None]) | np.isnan(lo),
                                (hi == a[:, None]) | (hi == b[:, None]) | np.isnan(hi)),):
        assert np.all(lo_ok[rows]) and np.all(hi_ok[rows])
    cell = (lo == a[:, None]) & (hi == b[:, None])
    pr = stats.norm.cdf((b - m) / sd) - stats.norm.cdf((a - m) / sd)
    _within_p(cell[inter].astype(float), pr[inter], "P(a < y* < b)")
    _within_p(np.isnan(lo[inter]).astype(float), stats.norm.cdf((a - m) / sd)[inter],
              "P(y* <= a)")
    _within_p(np.isnan(lo[left]).astype(float), stats.norm.cdf((b - m) / sd)[left],
              "left: P(y* <= c)")
    _within_p(np.isnan(hi[right]).astype(float), stats.norm.sf((a - m) / sd)[right],
              "right: P(y* >= c)")


@pytest.fixture(scope="module")
def weibull():
    df = survival_data()
    return df, smf.mestreg("x || id:, distribution(weibull) intmethod(laplace)", data=df,
                           time="t", failure="d", entry="t0").fit()


def _weibull_ratio(p, xb, s2u, t, t0):
    """E_u[S(t | u) / S(t0 | u)] by Gauss-Hermite."""
    x, w = _hermite()
    eta = xb[:, None] + np.sqrt(s2u) * x[None, :]
    return np.exp(-np.exp(eta) * (t[:, None] ** p - t0[:, None] ** p)) @ w


def test_mestreg_weibull_event_times(weibull):
    df, res = weibull
    par = res.params
    p, s2u = np.exp(par["/ln_p"]), par["/var(_cons[id])"]
    xb = (par["_cons"] + par["x"] * df["x"]).to_numpy()
    t0 = df["t0"].to_numpy()
    sims = res.simulate(NSIM, seed=21)
    assert sims.shape == (len(df), NSIM) and sims.index.equals(df.index)
    T = sims.to_numpy()
    fresh = t0 == 0
    m1 = special.gamma(1 + 1 / p) * np.exp(-xb / p + s2u / (2 * p * p))
    m2 = special.gamma(1 + 2 / p) * np.exp(-2 * xb / p + 2 * s2u / p ** 2)
    _within(T[fresh], m1[fresh], "E(T)")
    _within(T[fresh] ** 2, m2[fresh], "E(T^2)")
    late = ~fresh
    assert np.all(T[late] > t0[late, None])
    ratio = _weibull_ratio(p, xb[late], s2u, 2 * t0[late], t0[late])
    _within_p((T[late] > 2 * t0[late, None]).astype(float), ratio, "P(T > 2 t0 | T > t0)")


def test_mestreg_observed_censoring(weibull):
    df, res = weibull
    par = res.params
    p, s2u = np.exp(par["/ln_p"]), par["/var(_cons[id])"]
    xb = (par["_cons"] + par["x"] * df["x"]).to_numpy()
    sims = res.simulate(NSIM, seed=8, censor=True)
    assert sims.shape == (len(df), 2 * NSIM)
    assert list(sims.columns[:2]) == [("sim_1", "_t"), ("sim_1", "_d")]
    time = sims.xs("_t", axis=1, level=1).to_numpy()
    fail = sims.xs("_d", axis=1, level=1).to_numpy()
    # the same seed draws the same event times; censoring only cuts them at c
    T = res.simulate(NSIM, seed=8).to_numpy()
    d, c, t0 = df["d"].to_numpy() == 1, df["t"].to_numpy(), df["t0"].to_numpy()
    np.testing.assert_array_equal(time[d], T[d])
    assert np.all(fail[d] == 1)
    np.testing.assert_array_equal(time[~d], np.minimum(T[~d], c[~d, None]))
    np.testing.assert_array_equal(fail[~d], (T[~d] <= c[~d, None]).astype(float))
    pfail = 1 - _weibull_ratio(p, xb[~d], s2u, c[~d], t0[~d])
    _within_p(fail[~d], pfail, "P(fail before c)")


def test_mestreg_lognormal_log_times_and_reproducibility():
    df = survival_data()
    res = smf.mestreg("x || id:, distribution(lognormal) intmethod(laplace)", data=df,
                      time="t", failure="d", entry="t0").fit()
    par = res.params
    s2 = np.exp(2 * par["/lnsigma"]) + par["/var(_cons[id])"]
    xb = (par["_cons"] + par["x"] * df["x"]).to_numpy()
    logT = np.log(res.simulate(NSIM, seed=3).to_numpy())
    fresh = df["t0"].to_numpy() == 0
    _within(logT[fresh], xb[fresh], "E(log T)")
    _within(logT[fresh] ** 2, xb[fresh] ** 2 + s2, "E(log T^2)")
    pd.testing.assert_frame_equal(res.simulate(2, seed=5, censor=True),
                                  res.simulate(2, seed=5, censor=True))
