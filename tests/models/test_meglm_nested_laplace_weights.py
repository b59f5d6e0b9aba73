"""Weights below the highest level under ``intmethod(laplace)`` / ``pclaplace`` (nested levels).

The Laplace approximation of a weighted multilevel likelihood is that of the data with every
weighted group replicated: an inner group of weight w stands for w copies of itself, which
share their mode. References:

- frequency weights at every level equal the model fitted on the replicated rows and groups
  (log likelihood and gradient identical at any parameter, fits to rounding);
- sampling weights: an independent dense Laplace computation of the pseudo-likelihood
  sum_j w_j log L_j written below with numpy/scipy -- per top cluster the joint mode of the
  weighted penalized log likelihood sum_i W_i l_i - u_a^2/2 - sum_c w_c v_c^2/2 by Newton on
  the dense Hessian H_s, and log|H| of the replicated subtree as
  slogdet(H_s) - sum_c log w_c + sum_c (w_c - 1) log h_c (h_c: one copy's own curvature; the
  copies' antisymmetric directions), its own optimizer, and the cluster sandwich from its
  central-difference per-cluster scores and Hessian -- log pseudolikelihood 1e-6 relative,
  estimates 1e-5, robust standard errors 1e-3.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import statsmodels_me.formula.api as smf


def _data(seed, A=15, B=3):
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(A):
        for b in range(B):
            for _ in range(rng.integers(2, 6)):
                rows.append((a, a * 10 + b))
    a_id, b_id = (np.array(c) for c in zip(*rows, strict=True))
    n = len(a_id)
    x = rng.normal(size=n)
    bs = np.unique(b_id)
    ub = dict(zip(bs, 0.5 * rng.normal(size=len(bs)), strict=True))
    eta = 0.3 + 0.4 * x + 0.6 * rng.normal(size=A)[a_id] + np.array([ub[b] for b in b_id])
    fb = dict(zip(bs, rng.integers(1, 3, size=len(bs)), strict=True))
    pb = dict(zip(bs, rng.uniform(0.5, 2.5, size=len(bs)), strict=True))
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "a": a_id, "b": b_id,
                         "f": rng.integers(1, 4, size=n), "fa": rng.integers(1, 3, size=A)[a_id],
                         "fb": [fb[b] for b in b_id], "pw": rng.uniform(0.5, 2.0, size=n),
                         "pa": rng.uniform(0.5, 3.0, size=A)[a_id],
                         "pb": [pb[b] for b in b_id]})


def _fit(text, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.mepoisson(text, data).fit()


def _replicated(df):
    """Rows repeated f times, b-groups fb times and a-groups fa times (copies: new groups)."""
    parts = []
    for (a, b), sub in df.groupby(["a", "b"], sort=True):
        for ca in range(int(sub["fa"].iloc[0])):
            for cb in range(int(sub["fb"].iloc[0])):
                parts.append(sub.assign(ra=a * 10 + ca, rb=(b * 10 + ca) * 10 + cb))
    out = pd.concat(parts, ignore_index=True)
    return out.loc[out.index.repeat(out["f"])].reset_index(drop=True)


@pytest.mark.parametrize("method", ["laplace", "pclaplace"])
def test_fweights_at_every_level_equal_replicated_data(method):
    df = _data(1)
    a = smf.mepoisson(f"y x [fw=f] || a:, fweight(fa) || b:, fweight(fb) intmethod({method})",
                      df)
    b = smf.mepoisson(f"y x || ra: || rb:, intmethod({method})", _replicated(df))
    for x in ([0.4, 0.3, 0.5, 0.4], [0.2, 0.1, 0.8, 0.2], [-0.1, 0.5, 0.3, 0.9]):
        x = np.array(x)
        va, ga = a.objective.value_and_grad(x)
        vb, gb = b.objective.value_and_grad(x)
        assert va == pytest.approx(vb, rel=1e-12)
        np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-9 * np.max(np.abs(gb)))
    ra = _fit(f"y x [fw=f] || a:, fweight(fa) || b:, fweight(fb) intmethod({method})", df)
    rb = _fit(f"y x || ra: || rb:, intmethod({method})", _replicated(df))
    assert ra.converged and rb.converged
    assert ra.llf == pytest.approx(rb.llf, rel=1e-10)
    assert ra.nobs == rb.nobs
    np.testing.assert_allclose(np.asarray(ra.params), np.asarray(rb.params), rtol=1e-7,
                               atol=1e-8)
    np.testing.assert_allclose(np.asarray(ra.bse), np.asarray(rb.bse), rtol=1e-5)


def test_weighted_gradient_matches_differences():
    m = smf.mepoisson("y x [iw=pw] || a: || b:, pweight(pb) intmethod(laplace)", _data(2))
    x = np.array([0.3, 0.2, 0.6, 0.45])
    _, g = m.objective.value_and_grad(x)
    h = 1e-6
    num = np.array([(m.objective.value(x + e) - m.objective.value(x - e)) / (2 * h)
                    for e in np.eye(len(x)) * h])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6 * np.max(np.abs(num)))


# ------------------------------------------------------------------ the dense reference

class _Reference:
    """Pseudo-likelihood of the random-intercept Poisson model y ~ x + (1|a) + (1|a:b) with
    row weights pw, b-group weights pb and a-group weights pa, by the Laplace approximation of
    the replicated subtree (module docstring), theta = (b0, b1, log sd_a, log sd_b)."""

    def __init__(self, df):
        self.clusters = []
        for _, sub in df.groupby("a", sort=True):
            bcode = pd.factorize(sub["b"], sort=True)[0]
            wc = sub.groupby("b", sort=True)["pb"].first().to_numpy()
            self.clusters.append((sub["y"].to_numpy(float), sub["x"].to_numpy(), bcode, wc,
                                  sub["pw"].to_numpy() * wc[bcode], sub["pw"].to_numpy(),
                                  float(sub["pa"].iloc[0])))

    @staticmethod
    def _cluster(theta, y, x, bcode, wc, W, pw):
        b0, b1, sa, sb = theta[0], theta[1], np.exp(theta[2]), np.exp(theta[3])
        nb = len(wc)
        Amat = np.zeros((len(y), 1 + nb))
        Amat[:, 0] = sa
        Amat[np.arange(len(y)), 1 + bcode] = sb
        prior = np.concatenate([[1.0], wc])
        const = -special.gammaln(y + 1)
        u = np.zeros(1 + nb)
        for _ in range(100):
            mu = np.exp(b0 + b1 * x + Amat @ u)
            g = Amat.T @ (W * (y - mu)) - prior * u
            H = Amat.T @ ((W * mu)[:, None] * Amat) + np.diag(prior)
            step = np.linalg.solve(H, g)
            u += step
            if np.max(np.abs(step)) < 1e-13:
                break
        eta = b0 + b1 * x + Amat @ u
        mu = np.exp(eta)
        F = W @ (y * eta - mu + const) - 0.5 * prior @ u ** 2
        H = Amat.T @ ((W * mu)[:, None] * Amat) + np.diag(prior)
        own = 1.0 + np.bincount(bcode, pw * mu, nb) * sb ** 2
        logdet = np.linalg.slogdet(H)[1] - np.log(wc).sum() + ((wc - 1) * np.log(own)).sum()
        return F - 0.5 * logdet

    def clusters_ll(self, theta):
        return np.array([c[-1] * self._cluster(theta, *c[:-1]) for c in self.clusters])

    def fit(self):
        def neg(t):
            return -self.clusters_ll(t).sum()
        z = optimize.minimize(neg, np.array([0.0, 0.0, -0.5, -0.5]), method="BFGS",
                              options={"gtol": 1e-9}).x
        for _ in range(3):
            g = np.array([(neg(z + e) - neg(z - e)) / 2e-5 for e in np.eye(4) * 1e-5])
            z = z - np.linalg.solve(_hessian(neg, z, 1e-4), g)
        scores = np.column_stack([(self.clusters_ll(z + e) - self.clusters_ll(z - e)) / 2e-5
                                  for e in np.eye(4) * 1e-5])
        A_inv = np.linalg.inv(_hessian(neg, z, 1e-4))
        G = len(self.clusters)
        V = A_inv @ (scores.T @ scores) @ A_inv * G / (G - 1.0)
        # display (x, _cons, var_a, var_b) by the delta method
        J = np.zeros((4, 4))
        J[0, 1] = J[1, 0] = 1.0
        J[2, 2], J[3, 3] = 2 * np.exp(2 * z[2]), 2 * np.exp(2 * z[3])
        est = np.array([z[1], z[0], np.exp(2 * z[2]), np.exp(2 * z[3])])
        return -neg(z), est, np.sqrt(np.diag(J @ V @ J.T))


def _hessian(f, x, h):
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                       + f(x - ei - ej)) / (4 * h * h)
    return 0.5 * (H + H.T)


def test_objective_matches_the_dense_reference():
    df = _data(3)
    m = smf.mepoisson("y x [pw=pw] || a:, pweight(pa) || b:, pweight(pb) intmethod(laplace)",
                      df)
    ref = _Reference(df)
    for theta in ([0.3, 0.4, -0.5, -0.7], [0.1, 0.2, 0.0, -0.2]):
        theta = np.array(theta)
        # internal vector: x, _cons, then the Cholesky factors (standard deviations)
        x = np.array([theta[1], theta[0], np.exp(theta[2]), np.exp(theta[3])])
        assert m.objective.value(x) == pytest.approx(ref.clusters_ll(theta).sum(), rel=1e-10)


@pytest.mark.parametrize("method", ["laplace", "pclaplace"])
def test_pweights_pseudo_likelihood_and_sandwich(method):
    df = _data(4)
    res = _fit(f"y x [pw=pw] || a:, pweight(pa) || b:, pweight(pb) intmethod({method})", df)
    llf, est, se = _Reference(df).fit()
    assert res.model.vce.robust
    assert res.llf == pytest.approx(llf, rel=1e-6)
    np.testing.assert_allclose(np.asarray(res.params), est, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(res.bse), se, rtol=1e-3)
    assert "Std. err. adjusted for 15 clusters in a" in str(res.summary())
