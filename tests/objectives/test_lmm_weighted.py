"""The weighted LMM objective against independent computations.

- unit weights: the unweighted objective of the package (two and three levels, 1e-10);
- integer observation and group weights: the unweighted objective on the replicated data
  (rows, or whole groups, repeated), 1e-10;
- non-integer weights: the pseudo-log likelihood computed in the test with dense Gaussian
  algebra per top-level cluster (scipy's multivariate normal density), 1e-10;
- the analytic gradient against central differences of the deviance;
- the per-cluster contributions sum to the log likelihood;
- terms on the absolute scale (``covariance(fixed())``): the relative-scale value, and the
  analytic gradient (every level's share of the shared s2 entry) against differences.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import approx_fprime

from statsmodels_me.models.mixed import Mixed
from statsmodels_me.objectives.lmm_weighted import WeightedLMM
from statsmodels_me.terms.random_effects import absolute_scale_terms


def _three_level(seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(7):
        for c in range(rng.integers(2, 4)):
            for _ in range(rng.integers(1, 6)):
                rows.append((s, c))
    d = pd.DataFrame(rows, columns=["school", "cls"])
    n = len(d)
    d["x"] = rng.normal(size=n)
    u = rng.normal(size=7)[d["school"]]
    v = 0.7 * rng.normal(size=(7, 4))[d["school"], d["cls"]]
    d["y"] = 1.0 + 0.5 * d["x"] + u + v + rng.normal(size=n)
    return d


DATA = _three_level()
TEXTS = ["y x || school: x, cov(unstructured) || cls:", "y x || school: || cls:",
         "y x || school: x"]


def _weighted(model, obs_w, group_w):
    levels = model.design.levels
    return WeightedLMM(model.design.endog, model.design.exog, model.terms,
                       [lev.parent for lev in levels], obs_w, group_w, model.theta_bounds())


def _theta(model, seed=0):
    rng = np.random.default_rng(seed)
    return np.abs(rng.uniform(0.3, 1.2, size=model.n_theta))


@pytest.mark.parametrize("text", TEXTS)
def test_unit_weights_equal_the_unweighted_objective(text):
    m = Mixed.from_text(text, DATA)
    obj = _weighted(m, np.ones(len(DATA)), [np.ones(lev.n_groups) for lev in m.design.levels])
    for seed in range(3):
        th = _theta(m, seed)
        assert obj.deviance(th) == pytest.approx(m.objective.deviance(th), rel=1e-10)
        beta = np.array([0.3, 0.9])
        assert obj.loglike_profile_s2(th, 1.7, beta=beta) == pytest.approx(
            m.objective.loglike_profile_s2(th, 1.7, beta=beta), rel=1e-10)
        f, g = obj.factor(th), m.objective.factor(th)
        for a, b in zip(obj.blups(f), m.objective.blups(g)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _replicate_groups(d, col, counts):
    """Each group of ``col`` (within its parents) repeated ``counts[group]`` times, every
    copy a new group (new codes for it and, at the top, for the school)."""
    pieces = []
    for key, g in d.groupby(["school", "cls"] if col == "cls" else "school"):
        for r in range(counts[key]):
            g2 = g.copy()
            if col == "cls":
                g2["cls"] = g2["cls"] * 100 + r
            else:
                g2["school"] = g2["school"] * 100 + r
            pieces.append(g2)
    return pd.concat(pieces, ignore_index=True)


@pytest.mark.parametrize("text", TEXTS)
def test_integer_observation_weights_replicate_rows(text):
    rng = np.random.default_rng(4)
    fw = rng.integers(1, 4, size=len(DATA))
    m = Mixed.from_text(text, DATA)
    obj = _weighted(m, fw.astype(float), [np.ones(lev.n_groups) for lev in m.design.levels])
    rep = Mixed.from_text(text, DATA.loc[DATA.index.repeat(fw)])
    assert obj.total_weight == fw.sum()
    for seed in range(2):
        th = _theta(m, seed)
        assert obj.deviance(th) == pytest.approx(rep.objective.deviance(th), rel=1e-10)


@pytest.mark.parametrize("col", ["school", "cls"])
def test_integer_group_weights_replicate_groups(col):
    text = TEXTS[0]
    rng = np.random.default_rng(5)
    m = Mixed.from_text(text, DATA)
    levels = m.design.levels
    k = 0 if col == "school" else 1
    level = levels[k]
    counts_by_code = rng.integers(1, 4, size=level.n_groups)
    keys = [tuple(key) if col == "cls" else key for key in level.group_values]
    counts = {key: int(c) for key, c in zip(keys, counts_by_code)}
    group_w = [np.ones(lev.n_groups) for lev in levels]
    group_w[k] = counts_by_code.astype(float)
    obj = _weighted(m, np.ones(len(DATA)), group_w)
    rep = Mixed.from_text(text, _replicate_groups(DATA, col, counts))
    for seed in range(2):
        th = _theta(m, seed)
        assert obj.deviance(th) == pytest.approx(rep.objective.deviance(th), rel=1e-10)


def _dense_pseudo_loglike(d, beta, sig_school, sig_cls, s2, w_obs, w_cls, w_school):
    """Weighted log likelihood of the three-level model y = X beta + Z_s v + u + e with
    random school intercept and slope on x (covariance ``sig_school``) and random class
    intercept (variance ``sig_cls``), computed per school with dense matrices.

    [prod_i f(y_i | u)^{w_i}] is, in u, a Gaussian density in y with covariance s2 W^-1
    times the constant prod_i (2 pi s2)^{(1 - w_i)/2} w_i^{-1/2}; integrating u out gives
    N(y_c; mu + Z_s v, V_c) with V_c = s2 W^-1 + sig_cls 11'. Raising it to w_c is, in v, the
    density with covariance V_c / w_c times (2 pi)^{-n(w-1)/2} |V_c|^{-(w-1)/2} w^{-n/2};
    integrating v out gives N(y_s; mu, blockdiag(V_c / w_c) + Z_s sig_school Z_s').
    """
    total = 0.0
    X = np.column_stack([d["x"], np.ones(len(d))])
    mu_all = X @ beta
    for s, rows in d.groupby("school").groups.items():
        const = 0.0
        blocks = []
        idx_all = []
        for c, rows_c in d.loc[rows].groupby("cls").groups.items():
            idx = d.index.get_indexer(rows_c)
            w = w_obs[idx]
            n = len(idx)
            const += np.sum(0.5 * (1 - w) * np.log(2 * np.pi * s2) - 0.5 * np.log(w))
            V = s2 * np.diag(1 / w) + sig_cls * np.ones((n, n))
            wc = w_cls[(s, c)]
            const += (-0.5 * n * (wc - 1) * np.log(2 * np.pi)
                      - 0.5 * (wc - 1) * np.linalg.slogdet(V)[1] - 0.5 * n * np.log(wc))
            # the w_c-th power also multiplies the constant of the observation level
            const += (wc - 1) * np.sum(0.5 * (1 - w) * np.log(2 * np.pi * s2)
                                       - 0.5 * np.log(w))
            blocks.append(V / wc)
            idx_all.append(idx)
        idx = np.concatenate(idx_all)
        Zs = X[idx]
        cov = np.zeros((len(idx), len(idx)))
        pos = 0
        for B in blocks:
            cov[pos:pos + len(B), pos:pos + len(B)] = B
            pos += len(B)
        cov += Zs @ sig_school @ Zs.T
        y = d["y"].to_numpy()[idx]
        ll = stats.multivariate_normal(mu_all[idx], cov).logpdf(y) + const
        total += w_school[s] * ll
    return total


def test_pseudo_loglike_against_dense_gaussian_algebra():
    text = TEXTS[0]
    rng = np.random.default_rng(7)
    m = Mixed.from_text(text, DATA)
    levels = m.design.levels
    w_obs = rng.uniform(0.4, 3.0, size=len(DATA))
    w_school = {s: rng.uniform(0.5, 4.0) for s in sorted(DATA["school"].unique())}
    w_cls = {key: rng.uniform(0.5, 2.0) for key in
             DATA.groupby(["school", "cls"]).groups}
    group_w = [np.array([w_school[s] for s in levels[0].group_values]),
               np.array([w_cls[tuple(k)] for k in levels[1].group_values])]
    obj = _weighted(m, w_obs, group_w)
    th = _theta(m, 2)
    beta = np.array([0.4, 1.1])
    s2 = 0.8
    lam_s = m.terms[0].cholesky(th[m.terms[0].theta_index])
    lam_c = m.terms[1].cholesky(th[m.terms[1].theta_index])
    expected = _dense_pseudo_loglike(DATA, beta, s2 * lam_s @ lam_s.T,
                                     float(s2 * lam_c[0, 0] ** 2), s2, w_obs, w_cls,
                                     w_school)
    assert obj.loglike_profile_s2(th, s2, beta=beta) == pytest.approx(expected, rel=1e-10)
    values, _ = obj.contributions(th, beta, s2)
    assert values.sum() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("text", TEXTS)
def test_analytic_gradient_matches_differences(text):
    rng = np.random.default_rng(8)
    m = Mixed.from_text(text, DATA)
    group_w = [rng.uniform(0.5, 2, size=lev.n_groups) for lev in m.design.levels]
    obj = _weighted(m, rng.uniform(0.5, 2, size=len(DATA)), group_w)
    th = _theta(m, 3)
    _, g = obj.deviance_and_grad(th)
    num = approx_fprime(th, obj.deviance, 1e-6 * np.maximum(np.abs(th), 1.0))
    # forward differences of the deviance, step 1e-6: error ~1e-5 of the gradient's scale
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-4 * np.abs(g).max())
    dev, r2, dld, dr2 = obj.grad_parts(th)
    assert dev == pytest.approx(obj.deviance(th), rel=1e-14)


def test_absolute_scale_terms_share_the_residual_variance_entry():
    # covariance(fixed()) models: every factor reads s2 (the last entry); the objective's
    # vector is (theta, s2), its analytic gradient sums each level's share of the s2
    # entry, and its value at (theta, s2) is the relative-scale one at theta / sqrt(s2)
    text = TEXTS[0]
    rng = np.random.default_rng(9)
    m = Mixed.from_text(text, DATA)
    group_w = [rng.uniform(0.5, 2, size=lev.n_groups) for lev in m.design.levels]
    obs_w = rng.uniform(0.5, 2, size=len(DATA))
    levels = m.design.levels
    absolute = WeightedLMM(m.design.endog, m.design.exog,
                           absolute_scale_terms(m.terms, m.n_theta),
                           [lev.parent for lev in levels], obs_w, group_w)
    relative = _weighted(m, obs_w, group_w)
    assert absolute.n_theta == m.n_theta + 1
    th, s2 = _theta(m, 4), 1.7
    x = np.append(th * np.sqrt(s2), s2)       # Cholesky entries on the absolute scale
    assert absolute.deviance(x) == pytest.approx(relative.deviance(th), rel=1e-12)
    _, g = absolute.deviance_and_grad(x)
    num = approx_fprime(x, absolute.deviance, 1e-6 * np.maximum(np.abs(x), 1.0))
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-4 * np.abs(g).max())
