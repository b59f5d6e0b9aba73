"""``simulate`` after negative binomial (both dispersions), gamma and ordinal GLMMs (and
the lower limit of metobit).

The moments of the simulated responses are compared with the fitted model's, computed here
from the estimates alone. With a random intercept b ~ N(0, s2) and a log link, mu = exp(xb + b)
is lognormal: E(mu) = exp(xb + s2/2), E(mu^2) = exp(2 xb + 2 s2) and, for two rows of one
group, E(mu_i mu_j) = exp(xb_i + xb_j + 2 s2); then E(y) = E(mu) and

* NB2 (``/lnalpha``): E(y^2) = E(mu) + (1 + alpha) E(mu^2),
* NB1 (``/lndelta``): E(y^2) = (1 + delta) E(mu) + E(mu^2),
* gamma (``/logs``): E(y^2) = (1 + s) E(mu^2),

and E(y_i y_j) = E(mu_i mu_j) for rows of the same group. For the ordinal logit model P(y = k)
is the integral over b of F(cut_{k+1} - xb - b) - F(cut_k - xb - b), by 80-point Gauss-Hermite
quadrature.

Each row's simulated mean (of y, y^2, y_i y_j) must be within 4.5 Monte Carlo standard errors
(the sample standard deviation over the ``nsim`` draws divided by sqrt(nsim)) of the model's
value; with 240 rows (120 pairs) the chance of a larger deviation under a correct sampler is
below 0.2% per check.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import special

import statsmodels_me.formula.api as smf

NSIM = 4000
Z = 4.5


def _data():
    rng = np.random.default_rng(5)
    G, m = 30, 8
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    mu = np.exp(0.5 + 0.4 * x + rng.normal(0, 0.5, G)[g])
    lat = 0.8 * x + rng.normal(0, 0.7, G)[g] + rng.logistic(size=G * m)
    return pd.DataFrame({"x": x, "id": g, "yn": rng.negative_binomial(2, 2 / (2 + mu)),
                         "yg": rng.gamma(3, mu / 3),
                         "yo": np.digitize(lat, [-1.0, 0.5, 2.0]) + 1})


@pytest.fixture(scope="module")
def df():
    return _data()


def _within(sims, want, label):
    se = sims.std(axis=1, ddof=1) / np.sqrt(sims.shape[1])
    z = (sims.mean(axis=1) - want) / se
    assert np.max(np.abs(z)) < Z, f"{label}: max |z| = {np.max(np.abs(z)):.2f}"


def _check_log_link(res, df, second_moment):
    p = res.params
    xb = (p["x"] * df["x"] + p["_cons"]).to_numpy()
    s2 = p["/var(_cons[id])"]
    sims = res.simulate(NSIM, seed=11).to_numpy()
    assert sims.shape == (len(df), NSIM) and np.all(sims >= 0)
    e_mu, e_mu2 = np.exp(xb + s2 / 2), np.exp(2 * xb + 2 * s2)
    _within(sims, e_mu, "E(y)")
    _within(sims ** 2, second_moment(p, e_mu, e_mu2), "E(y^2)")
    i, j = np.arange(0, len(df), 8), np.arange(1, len(df), 8)   # two rows of each group
    _within(sims[i] * sims[j], np.exp(xb[i] + xb[j] + 2 * s2), "E(y_i y_j)")


def test_nbinomial_mean_dispersion(df):
    res = smf.menbreg("yn x || id:", data=df).fit()
    _check_log_link(res, df, lambda p, m1, m2: m1 + (1 + np.exp(p["/lnalpha"])) * m2)
    assert np.all(res.simulate(1, seed=1).to_numpy() % 1 == 0)


def test_nbinomial_constant_dispersion(df):
    res = smf.menbreg("yn x || id:, dispersion(constant)", data=df).fit()
    _check_log_link(res, df, lambda p, m1, m2: (1 + np.exp(p["/lndelta"])) * m1 + m2)


def test_gamma(df):
    res = smf.meglm("yg x || id:, family(gamma) link(log)", data=df).fit()
    _check_log_link(res, df, lambda p, m1, m2: (1 + np.exp(p["/logs"])) * m2)


def test_ordinal_logit(df):
    res = smf.meologit("yo x || id:", data=df).fit()
    p = res.params
    cuts = np.concatenate([[-np.inf], p[["/cut1", "/cut2", "/cut3"]].to_numpy(), [np.inf]])
    nodes, w = special.roots_hermite(80)
    b = np.sqrt(2 * p["/var(_cons[id])"]) * nodes
    eta = (p["x"] * df["x"]).to_numpy()[:, None] + b[None, :]
    cdf = special.expit(cuts[None, :, None] - eta[:, None, :])     # rows x cut x node
    prob = (np.diff(cdf, axis=1) * w).sum(axis=2) / np.sqrt(np.pi)  # rows x category
    values = np.arange(1, 5)                                        # the outcome's values
    sims = res.simulate(NSIM, seed=12).to_numpy()
    assert set(np.unique(sims)) <= set(values)
    _within(sims, prob @ values, "E(y)")
    _within(sims ** 2, prob @ values ** 2, "E(y^2)")
    _within((sims == 1).astype(float), prob[:, 0], "P(y = 1)")


def test_censored_family_lower_limit_only():
    """metobit ll(0): y = max(0, y*), P(y = 0) = Phi(-xb / sqrt(var(e) + var(_cons)))
    (moments and bootstrap in test_simulate_censored.py)."""
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(20), 5)
    df = pd.DataFrame({"y": np.clip(rng.normal(size=100) + rng.normal(size=20)[g], 0, None),
                       "x": rng.normal(size=100), "id": g})
    res = smf.metobit("y x || id:, ll(0)", data=df).fit()
    sims = res.simulate(NSIM, seed=6).to_numpy()
    assert sims.shape == (100, NSIM) and sims.min() == 0.0
    p = res.params
    xb = (p["_cons"] + p["x"] * df["x"]).to_numpy()
    sd = np.sqrt(p["/var(e.y)"] + p["/var(_cons[id])"])
    _within((sims == 0).astype(float), special.ndtr(-xb / sd), "P(y = 0)")
