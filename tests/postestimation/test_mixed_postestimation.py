"""``predict``, ``random_effects``, ``estat_*`` and ``lrtest`` after ``mixed``.

References: Stata's printed output of [ME] me examples 1 and 4 (seed_examples.json), R 4.2.2
with lme4 1.1.31 (``ranef(lmer(weight ~ week + (1 | id), pig, REML = FALSE), condVar = TRUE)``
and the same for ``(1 + week | id)``: BLUPs and ``sqrt(attr(., "postVar"))``), and hand
computations from the fitted parameters written out in each test.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def pig():
    return load("pig")


@pytest.fixture(scope="module")
def ex1(pig):
    return smf.mixed("weight week || id:", data=pig).fit()


@pytest.fixture(scope="module")
def ex4(pig):
    return smf.mixed("weight week || id: week, covariance(unstructured)", data=pig).fit()


@pytest.fixture(scope="module")
def tv_nested():
    return smf.mixed("thk prethk i.cc##i.tv || school: || class:", data=load("tvsfpors")).fit()


# -- predict ---------------------------------------------------------------------------------
def test_predict_identities(ex4, pig):
    y = pig["weight"].to_numpy()
    xb = ex4.predict("xb")
    fitted = ex4.predict("fitted")
    resid = ex4.predict("residuals")
    re = ex4.predict("reffects")
    # xb = X beta
    beta = ex4.params[["week", "_cons"]].to_numpy()
    assert np.allclose(xb, pig["week"] * beta[0] + beta[1], rtol=0, atol=1e-10)
    # fitted = xb + Z b with Z = [week, 1]
    zb = re["week[id]"].to_numpy() * pig["week"].to_numpy() + re["_cons[id]"].to_numpy()
    assert np.allclose(fitted, xb + zb, rtol=0, atol=1e-10)
    assert np.allclose(resid, y - fitted, rtol=0, atol=1e-10)
    sigma_e = np.sqrt(ex4.params["/var(e.weight)"])
    assert np.allclose(ex4.predict("rstandard"), resid / sigma_e, rtol=0, atol=1e-12)
    # stdp = sqrt(x V x') by hand
    V = np.asarray(ex4.cov_params())[:2, :2]
    X = np.column_stack([pig["week"], np.ones(len(pig))])
    want = np.sqrt(((X @ V) * X).sum(axis=1))
    assert np.allclose(ex4.predict("stdp"), want, rtol=1e-12, atol=0)


def test_predict_unknown_statistic(ex1):
    with pytest.raises(SpecificationError, match="'bogus'"):
        ex1.predict("bogus")


def test_reffects_and_reses_match_lme4_condvar_ex1(ex1, pig):
    # lme4: ranef(fit, condVar = TRUE)$id[1:5, 1] and sqrt(attr(., "postVar")[1, 1, 1:5])
    want_b = [-1.683104731890, 0.898701727679, -1.952042904761, -1.790680001038,
              -3.189158499971]
    re = ex1.random_effects
    assert np.allclose(re["_cons"].to_numpy()[:5], want_b, rtol=1e-6, atol=0)
    reses = ex1.predict("reses")["_cons[id]"]
    first = reses.groupby(pig["id"].to_numpy()).first()
    assert np.allclose(first.to_numpy(), 0.686681032287, rtol=1e-6, atol=0)


def test_reffects_and_reses_match_lme4_condvar_ex4(ex4):
    # lme4: lmer(weight ~ week + (1 + week | id), pig, REML = FALSE); ranef(condVar = TRUE)
    re = ex4.random_effects
    assert np.allclose(re["_cons"].to_numpy()[:3],
                       [0.236943737798, -1.584126757712, -3.526551746042], rtol=1e-5)
    assert np.allclose(re["week"].to_numpy()[:3],
                       [-0.395763472150, 0.510037903502, 0.320037191394], rtol=1e-5)
    reses = ex4.predict("reses")
    assert np.allclose(reses["_cons[id]"], 0.848829818846, rtol=1e-5)
    assert np.allclose(reses["week[id]"], 0.151653375479, rtol=1e-5)


def test_random_effects_nested_levels(tv_nested):
    re = tv_nested.random_effects
    assert set(re) == {"school", "school>class"}
    assert re["school"].shape == (28, 1) and re["school>class"].shape == (135, 1)
    # BLUPs of a random intercept average to ~0 over groups weighted by shrinkage
    assert abs(re["school"]["_cons"].mean()) < 0.05


# -- estat -----------------------------------------------------------------------------------
def _logit_ci(icc, se, z):
    lg, s = np.log(icc / (1 - icc)), se / (icc * (1 - icc))
    return 1 / (1 + np.exp(-(lg - z * s))), 1 / (1 + np.exp(-(lg + z * s)))


def test_estat_icc_two_level(ex1):
    out = ex1.estat_icc()
    # hand computation: icc = var(_cons) / (var(_cons) + var(e)); the printed Stata values
    # 14.81751 and 4.383264 give 0.7717
    assert abs(out.loc["id", "icc"] - 14.81751 / (14.81751 + 4.383264)) < 1e-6
    v = ex1.params[["/var(_cons[id])", "/var(e.weight)"]].to_numpy()
    V = np.asarray(ex1.cov_params())[2:, 2:]
    icc = v[0] / v.sum()
    g = np.array([v[1], -v[0]]) / v.sum() ** 2
    se = np.sqrt(g @ V @ g)
    assert abs(out.loc["id", "std_err"] - se) < 1e-10
    lo, hi = _logit_ci(icc, se, stats.norm.ppf(0.975))
    assert abs(out.loc["id", "ci_lower"] - lo) < 1e-10
    assert abs(out.loc["id", "ci_upper"] - hi) < 1e-10


def test_estat_icc_three_level(tv_nested):
    out = tv_nested.estat_icc()
    p = tv_nested.params
    s, c, e = p["/var(_cons[school])"], p["/var(_cons[school>class])"], p["/var(e.thk)"]
    # Stata: school-level icc = s / total, class-within-school icc = (s + c) / total
    assert abs(out.loc["school", "icc"] - s / (s + c + e)) < 1e-12
    assert abs(out.loc["school>class", "icc"] - (s + c) / (s + c + e)) < 1e-12
    assert (out["ci_lower"] < out["icc"]).all() and (out["icc"] < out["ci_upper"]).all()
    # delta method by hand for the class-level icc (s + c) / (s + c + e), logit-scale CI
    names = ["/var(_cons[school])", "/var(_cons[school>class])", "/var(e.thk)"]
    idx = [list(p.index).index(n) for n in names]
    V = np.asarray(tv_nested.cov_params())[np.ix_(idx, idx)]
    t = s + c + e
    g = np.array([e, e, -(s + c)]) / t ** 2
    se = np.sqrt(g @ V @ g)
    assert abs(out.loc["school>class", "std_err"] - se) < 1e-10
    lo, hi = _logit_ci((s + c) / t, se, stats.norm.ppf(0.975))
    assert abs(out.loc["school>class", "ci_lower"] - lo) < 1e-10
    assert abs(out.loc["school>class", "ci_upper"] - hi) < 1e-10


def test_estat_icc_refuses_random_slopes(ex4):
    with pytest.raises(SpecificationError, match="week"):
        ex4.estat_icc()


def test_estat_sd_ex4(ex4):
    out = ex4.estat_sd()
    # from Stata's printed example 4: corr = cov / sqrt(var(week) var(_cons))
    corr = -0.0984378 / np.sqrt(0.3715251 * 6.823363)
    assert abs(out.loc["id: corr(week,_cons)", "estimate"] - corr) < 2e-6
    assert abs(out.loc["id: sd(week)", "estimate"] - np.sqrt(0.3715251)) < 1e-6
    assert abs(out.loc["sd(Residual)", "estimate"] - np.sqrt(1.596829)) < 1e-6
    # delta method by hand: se(sd) = se(var) / (2 sd), with Stata's printed se(var(week))
    assert abs(out.loc["id: sd(week)", "std_err"] - 0.0812958 / (2 * np.sqrt(0.3715251))) \
        < 1e-3 * 0.0812958 / (2 * np.sqrt(0.3715251))
    # log-scale interval for a standard deviation: sd exp(+-z se / sd)
    sd_row = out.loc["id: sd(_cons)"]
    zq = stats.norm.ppf(0.975)
    f = np.exp(zq * sd_row["std_err"] / sd_row["estimate"])
    assert abs(sd_row["ci_lower"] - sd_row["estimate"] / f) < 1e-12
    assert abs(sd_row["ci_upper"] - sd_row["estimate"] * f) < 1e-12
    row = out.loc["id: corr(week,_cons)"]
    z = stats.norm.ppf(0.975)
    half = z * row["std_err"] / (1 - row["estimate"] ** 2)
    assert abs(row["ci_lower"] - np.tanh(np.arctanh(row["estimate"]) - half)) < 1e-12
    assert abs(row["ci_upper"] - np.tanh(np.arctanh(row["estimate"]) + half)) < 1e-12


def test_estat_group(ex1, tv_nested):
    g = ex1.estat_group()
    assert g.loc["id"].tolist() == [48, 9, 9.0, 9]
    g3 = tv_nested.estat_group()
    assert list(g3.index) == ["school", "school>class"]
    assert g3.loc["school", "groups"] == 28 and g3.loc["school>class", "groups"] == 135


def test_estat_recovariance_ex4(ex4):
    m = ex4.estat_recovariance()["id"]
    assert list(m.index) == ["week", "_cons"]
    # Stata's printed example 4
    want = np.array([[0.3715251, -0.0984378], [-0.0984378, 6.823363]])
    assert np.allclose(m.to_numpy(), want, rtol=2e-6, atol=1e-7)


# -- lrtest ----------------------------------------------------------------------------------
def test_lrtest_ex1_vs_ex4(ex1, ex4):
    # Stata's printed log likelihoods: -1014.9268 (example 1) and -868.96185 (example 4)
    want = 2 * (-868.96185 - -1014.9268)
    res = ex4.lrtest(ex1)
    assert abs(res.stat - want) < 2e-3
    # one variance (var(week)) and one covariance restricted: chibar2 mixture of chi2(1), chi2(2)
    assert res.kind == "chibar2(1,2)" and res.df == 2
    p = 0.5 * stats.chi2.sf(res.stat, 1) + 0.5 * stats.chi2.sf(res.stat, 2)
    assert res.pvalue == pytest.approx(p, rel=1e-12)
    # Stata's lrtest reference distribution (no boundary adjustment), either order
    plain = ex1.lrtest(ex4, boundary=0)
    assert plain.kind == "chi2(2)" and abs(plain.stat - want) < 2e-3


def test_lrtest_refuses_mixing_ml_and_reml(pig, ex1):
    reml = smf.mixed("weight week || id:", data=pig, reml=True).fit()
    with pytest.raises(SpecificationError, match="REML"):
        ex1.lrtest(reml)


# -- reses after REML: Var(b_hat - b) includes the fixed-effects uncertainty ------------------
def test_reses_reml_matches_stata_forum_example():
    # stats.stackexchange.com/questions/48254: Stata's `xtmixed g || id:, reml` then
    # `predict u_se, reses` gives 2.13 for every id (R's condVar, which ignores the
    # uncertainty of beta, gives 1.32); after ML Stata gives 1.32
    g = [12, 8, 22, 10, 10, 6, 8, 4, 14, 6, 2, 22, 12, 7, 24, 14, 8, 4, 5, 6, 14, 5, 5, 16]
    d = pd.DataFrame({"id": list(range(1, 13)) * 2, "g": g})
    reml = smf.mixed("g || id:", data=d, reml=True).fit().predict("reses").iloc[:, 0]
    ml = smf.mixed("g || id:", data=d).fit().predict("reses").iloc[:, 0]
    assert np.allclose(reml.round(2), 2.13) and np.allclose(ml.round(2), 1.32)


def _dense_reses(y, X, Z, Gmat, s2, reml):
    """sqrt(diag(G - G Z' P Z G)) with P = V^-1 (ML) or the REML projection, by brute force."""
    V = Z @ Gmat @ Z.T + s2 * np.eye(len(y))
    Vi = np.linalg.inv(V)
    P = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi) if reml else Vi
    return np.sqrt(np.diag(Gmat - Gmat @ Z.T @ P @ Z @ Gmat))


@pytest.mark.parametrize("reml", [False, True])
def test_reses_crossed_against_dense_computation(pig, reml):
    res = smf.mixed("weight week || _all: R.id || _all: R.week", data=pig, reml=reml).fit()
    Zid = pd.get_dummies(pig["id"]).to_numpy(float)
    Zwk = pd.get_dummies(pig["week"]).to_numpy(float)
    Z = np.hstack([Zid, Zwk])
    p = res.params
    Gmat = np.diag(np.r_[np.full(Zid.shape[1], p["/var(R.id[_all])"]),
                         np.full(Zwk.shape[1], p["/var(R.week[_all])"])])
    X = np.column_stack([pig["week"], np.ones(len(pig))])
    want = _dense_reses(pig["weight"].to_numpy(float), X, Z, Gmat, p["/var(e.weight)"], reml)
    got = res.predict("reses")
    ids, weeks = pig["id"].to_numpy(), pig["week"].to_numpy()
    first_id = np.array([np.flatnonzero(ids == v)[0] for v in np.unique(ids)])
    first_wk = np.array([np.flatnonzero(weeks == v)[0] for v in np.unique(weeks)])
    assert np.allclose(got.iloc[first_id, 0], want[:Zid.shape[1]], rtol=1e-8)
    assert np.allclose(got.iloc[first_wk, 1], want[Zid.shape[1]:], rtol=1e-8)


@pytest.mark.parametrize("reml", [False, True])
def test_reses_random_slope_against_dense_computation(pig, reml):
    res = smf.mixed("weight week || id: week, cov(un)", data=pig, reml=reml).fit()
    ids = pig["id"].to_numpy()
    D = pd.get_dummies(ids).to_numpy(float)
    week = pig["week"].to_numpy(float)
    # columns ordered (week, _cons) per id
    Z = np.hstack([np.column_stack([D[:, j] * week, D[:, j]]) for j in range(D.shape[1])])
    S = res.estat_recovariance()["id"].to_numpy()
    Gmat = np.kron(np.eye(D.shape[1]), S)
    X = np.column_stack([week, np.ones(len(pig))])
    want = _dense_reses(pig["weight"].to_numpy(float), X, Z, Gmat,
                        res.params["/var(e.weight)"], reml).reshape(-1, 2)
    got = res.predict("reses")
    first = np.array([np.flatnonzero(ids == v)[0] for v in np.unique(ids)])
    assert np.allclose(got.iloc[first].to_numpy(), want, rtol=1e-8)
