"""Prediction on new data (``res.predict(..., data=)``, ``res.get_prediction``).

References are computed here from the fit's own estimates: the BLUPs of a linear mixed model
as b = G Z' V^{-1} (y - X beta) with V = Z G Z' + s2 I built densely in the test (the data
sets are small), GLMM conditional predictions as X_new beta plus the posterior means the fit
reports for the row's group, marginal means by scipy quadrature, and standard errors as
sqrt(x' V_beta x).
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from _crossed_ref_path import CROSSED
from scipy import integrate, special, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import DataError


@pytest.fixture(scope="module")
def pig():
    return load("pig")


@pytest.fixture(scope="module")
def slope_fit(pig):
    return smf.mixed("weight week || id: week, covariance(unstructured)", data=pig).fit()


def _dense_blups(y, X, beta, Z, G, s2):
    """b = G Z' V^{-1} (y - X beta), V = Z G Z' + s2 I (Henderson; dense reference)."""
    V = Z @ G @ Z.T + s2 * np.eye(len(y))
    return G @ Z.T @ np.linalg.solve(V, y - X @ beta)


def _new_rows(pig):
    """Rows of known pigs at shifted weeks, an unseen pig, a missing week, a shuffled index."""
    new = pig.iloc[[5, 40, 3, 100]].copy()
    new["week"] = new["week"] + 0.5
    new.loc[new.index[2], "week"] = np.nan
    extra = pd.DataFrame({"id": [999], "week": [4.0], "weight": [50.0]}, index=[7777])
    new = pd.concat([new, extra])
    new.index = ["r1", "r2", "r3", "r4", "r5"]
    return new


def test_mixed_new_rows_equal_xb_plus_dense_blups(pig, slope_fit):
    res = slope_fit
    p = res.params
    beta = p[["week", "_cons"]].to_numpy()
    G = np.array([[p["/var(week[id])"], p["/cov(week[id],_cons[id])"]],
                  [p["/cov(week[id],_cons[id])"], p["/var(_cons[id])"]]])
    s2 = p["/var(e.weight)"]
    blups = {}
    for g, d in pig.groupby("id"):
        X = np.column_stack([d["week"], np.ones(len(d))])
        blups[g] = _dense_blups(d["weight"].to_numpy(), X, beta, X, G, s2)
    new = _new_rows(pig)
    before = new.copy()
    got = res.predict("fitted", data=new)
    want = []
    for _, r in new.iterrows():
        x = np.array([r["week"], 1.0])
        b = blups.get(r["id"], np.zeros(2))
        want.append(x @ beta + x @ b)
    pd.testing.assert_frame_equal(new, before)          # input never modified
    assert list(got.index) == list(new.index)
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-7)
    assert np.isnan(got["r3"]) and not np.isnan(got).drop("r3").any()
    # the unseen pig gets the fixed portion
    assert got["r5"] == pytest.approx(4.0 * beta[0] + beta[1], rel=1e-12)
    np.testing.assert_allclose(res.predict("xb", data=new).drop("r3"),
                               (new["week"] * beta[0] + beta[1]).drop("r3"), rtol=1e-12)
    re = res.predict("reffects", data=new)
    np.testing.assert_allclose(re.loc["r1", ["week[id]", "_cons[id]"]],
                               blups[new.loc["r1", "id"]], rtol=1e-6)
    resid = res.predict("residuals", data=new)
    np.testing.assert_allclose(resid.drop("r3"), (new["weight"] - got).drop("r3"), rtol=1e-12)


def test_mixed_in_sample_rows_reproduce_predict(pig, slope_fit):
    for stat in ("xb", "fitted", "stdp", "residuals", "rstandard"):
        np.testing.assert_allclose(slope_fit.predict(stat, data=pig), slope_fit.predict(stat),
                                   rtol=1e-10, atol=1e-10)


def test_new_groups_error(pig, slope_fit):
    with pytest.raises(DataError, match="not in the estimation sample"):
        slope_fit.predict("fitted", data=_new_rows(pig), new_groups="error")
    with pytest.raises(Exception, match="new_groups"):
        slope_fit.predict("fitted", data=pig, new_groups="maybe")


def test_missing_variable_named(pig, slope_fit):
    with pytest.raises(DataError, match="week"):
        slope_fit.predict("fitted", data=pig.drop(columns="week"))


def test_get_prediction_standard_errors(pig, slope_fit):
    new = _new_rows(pig)
    pr = slope_fit.get_prediction("fitted", data=new)
    frame = pr.summary_frame()
    V = slope_fit.cov_params().loc[["week", "_cons"], ["week", "_cons"]].to_numpy()
    X = np.column_stack([new["week"], np.ones(len(new))])
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    np.testing.assert_allclose(frame["mean_se"], se, rtol=1e-10)
    np.testing.assert_allclose(frame["mean"], slope_fit.predict("fitted", data=new), rtol=1e-12)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(frame["mean_ci_lower"], frame["mean"] - z * se, rtol=1e-10)
    assert list(frame.index) == list(new.index)


def test_stateful_transforms_use_training_constants(pig):
    res = smf.mixed("weight ~ center(week) + bs(week, df=4) + (1 | id)", data=pig).fit()
    late = pig[pig["week"] >= 6]
    got = res.predict("fitted", data=late)
    np.testing.assert_allclose(got, res.predict("fitted")[late.index], rtol=1e-10)
    # a naive rebuild of center(week) on the subset centres at the subset's mean instead
    p = res.params
    naive_shift = (late["week"] - late["week"].mean()) - (late["week"] - pig["week"].mean())
    assert np.all(np.abs(naive_shift * p["center(week)"]) > 1.0)
    xb = res.predict("xb", data=late)
    naive = xb + naive_shift * p["center(week)"]
    assert np.abs(naive - xb).min() > 1.0


def test_factor_levels_and_unseen_level():
    ban = load("bangladesh")
    res = smf.mixed("c_use urban age i.children || district:", data=ban).fit()
    some = ban[ban["children"].isin([0, 2])].iloc[::7]
    np.testing.assert_allclose(res.predict("fitted", data=some), res.predict("fitted")[some.index],
                               rtol=1e-10)
    bad = some.copy()
    bad["children"] = 7
    with pytest.raises(DataError, match="children"):
        res.predict("xb", data=bad)


def _nested_data():
    rng = np.random.default_rng(3)
    rows = []
    for s in range(12):
        us = rng.normal(0, 1.0)
        for c in range(3):
            uc = rng.normal(0, 0.7)
            for _ in range(6):
                x = rng.normal()
                rows.append((s, c, x, 1 + 0.5 * x + us + uc + rng.normal(0, 0.8)))
    return pd.DataFrame(rows, columns=["school", "klass", "x", "y"])


def test_nested_mixed_against_dense_blups():
    d = _nested_data()
    res = smf.mixed("y x || school: || klass:", data=d).fit()
    p = res.params
    beta = p[["x", "_cons"]].to_numpy()
    v1, v2, s2 = p["/var(_cons[school])"], p["/var(_cons[school>klass])"], p["/var(e.y)"]
    new = d.iloc[[0, 20, 50]].copy()
    new["x"] = [2.0, -1.0, 0.0]
    new = pd.concat([new, pd.DataFrame({"school": [3], "klass": [9], "x": [1.0], "y": [0.0]})])
    want = []
    for _, r in new.iterrows():
        ds = d[d["school"] == r["school"]]
        X = np.column_stack([ds["x"], np.ones(len(ds))])
        Zc = pd.get_dummies(ds["klass"]).to_numpy(float)
        Z = np.column_stack([np.ones(len(ds)), Zc])
        G = np.diag([v1] + [v2] * Zc.shape[1])
        b = _dense_blups(ds["y"].to_numpy(), X, beta, Z, G, s2)
        klasses = list(pd.get_dummies(ds["klass"]).columns)
        bc = b[1 + klasses.index(r["klass"])] if r["klass"] in klasses else 0.0
        want.append(r["x"] * beta[0] + beta[1] + b[0] + bc)
    np.testing.assert_allclose(res.predict("fitted", data=new), want, rtol=1e-7)


def test_crossed_mixed_against_dense_blups():
    d = pd.read_csv(CROSSED)
    res = smf.mixed("cnt ~ x + (1 | a) + (1 | b)", data=d).fit()
    p = res.params
    beta = p[["x", "_cons"]].to_numpy()
    Za = pd.get_dummies(d["a"]).to_numpy(float)
    Zb = pd.get_dummies(d["b"]).to_numpy(float)
    Z = np.hstack([Za, Zb])
    G = np.diag([p["/var(_cons[a])"]] * Za.shape[1] + [p["/var(_cons[b])"]] * Zb.shape[1])
    X = np.column_stack([d["x"], np.ones(len(d))])
    b = _dense_blups(d["cnt"].to_numpy(float), X, beta, Z, G, p["/var(e.cnt)"])
    ba = dict(zip(sorted(d["a"].unique()), b[:Za.shape[1]]))
    bb = dict(zip(sorted(d["b"].unique()), b[Za.shape[1]:]))
    new = pd.DataFrame({"a": [0, 5, 77], "b": [3, 99, 1], "x": [0.3, -1.0, 2.0]})
    want = [x * beta[0] + beta[1] + ba.get(a, 0.0) + bb.get(bb_, 0.0)
            for a, bb_, x in zip(new["a"], new["b"], new["x"])]
    np.testing.assert_allclose(res.predict("fitted", data=new), want, rtol=1e-6)


@pytest.fixture(scope="module")
def logit_fit():
    ban = load("bangladesh")
    return ban, smf.melogit("c_use urban age i.children || district: urban", data=ban).fit()


def test_meglm_conditional_uses_posterior_means(logit_fit):
    ban, res = logit_fit
    post = res.predict("reffects")
    by_district = post.groupby(ban.loc[post.index, "district"]).first()
    new = ban.iloc[[0, 300, 1500]].copy()
    new["age"] = [10.0, -3.0, 0.0]
    new["urban"] = [1, 0, 1]
    new = pd.concat([new, new.iloc[[0]].assign(district=999)])
    new.index = [10, 11, 12, 13]
    p = res.params
    xb = (p["urban"] * new["urban"] + p["age"] * new["age"] + p["_cons"]
          + new["children"].map({0: 0.0, 1: p["1.children"], 2: p["2.children"],
                                 3: p["3.children"]}))
    b = by_district.reindex(new["district"]).fillna(0.0).to_numpy()
    eta = xb.to_numpy() + b[:, 0] * new["urban"].to_numpy() + b[:, 1]
    np.testing.assert_allclose(res.predict("xb", data=new), xb, rtol=1e-10)
    np.testing.assert_allclose(res.predict("eta", data=new), eta, rtol=1e-10)
    np.testing.assert_allclose(res.predict("mu", data=new), special.expit(eta), rtol=1e-10)
    np.testing.assert_allclose(res.predict("mu", data=new, conditional="fixedonly"),
                               special.expit(xb), rtol=1e-10)
    # marginal: integrate over (b_urban, b_cons) ~ N(0, Sigma): z'b ~ N(0, z' Sigma z)
    # covariance(independent), Stata's default with a random slope: no covariance
    assert "/cov(urban[district],_cons[district])" not in p.index
    S = np.diag([p["/var(urban[district])"], p["/var(_cons[district])"]])
    z = np.column_stack([new["urban"], np.ones(len(new))])
    sd = np.sqrt(np.einsum("ij,jk,ik->i", z, S, z))
    want = [integrate.quad(lambda v, e=e, s=s: special.expit(e + s * v) * stats.norm.pdf(v),
                           -12, 12, epsabs=1e-13)[0] for e, s in zip(xb, sd)]
    np.testing.assert_allclose(res.predict("mu", data=new, conditional=False), want, rtol=1e-8)
    gp = res.get_prediction("mu", data=new, conditional="fixedonly").summary_frame()
    V = res.cov_params().iloc[:res.k_fe, :res.k_fe].to_numpy()
    names = list(res.params.index[:res.k_fe])
    X = np.column_stack([new["urban"], new["age"]] + [(new["children"] == k).astype(float)
                                                      for k in (1, 2, 3)] + [np.ones(len(new))])
    assert names == ["urban", "age", "1.children", "2.children", "3.children", "_cons"]
    se_eta = np.sqrt(np.einsum("ij,jk,ik->i", X, V, X))
    mu = special.expit(xb.to_numpy())
    np.testing.assert_allclose(gp["mean_se"], mu * (1 - mu) * se_eta, rtol=1e-8)
    zq = stats.norm.ppf(0.975)
    np.testing.assert_allclose(gp["mean_ci_upper"], special.expit(xb + zq * se_eta), rtol=1e-8)


def test_meglm_crossed_and_nested_reproduce_in_sample():
    d = pd.read_csv(CROSSED)
    res = smf.melogit("y ~ x + (1 | a) + (1 | b)", data=d).fit()
    np.testing.assert_allclose(res.predict("mu", data=d), res.predict("mu"), rtol=1e-10)
    new = pd.DataFrame({"a": [0, 1000], "b": [2, 2], "x": [0.5, 0.5]})
    re = res.predict("reffects")
    ba = re.groupby(d["a"])["_cons[a]"].first()
    bb = re.groupby(d["b"])["_cons[b]"].first()
    eta = res.params["x"] * 0.5 + res.params["_cons"] + bb[2] + np.array([ba[0], 0.0])
    np.testing.assert_allclose(res.predict("eta", data=new), eta, rtol=1e-10)
    tv = load("tvsfpors")
    r3 = smf.meoprobit("meoprobit thk prethk cc##tv || school: || class:", data=tv).fit()
    for outcome in (1, 3):
        np.testing.assert_allclose(r3.predict("pr", data=tv, outcome=outcome),
                                   r3.predict("pr", outcome=outcome), rtol=1e-10)


def test_factor_random_effects_and_exposure():
    d = pd.read_csv(CROSSED)
    res = smf.mixed("mixed cnt x || _all: R.a || b:", data=d).fit()
    np.testing.assert_allclose(res.predict("fitted", data=d), res.predict("fitted"),
                               rtol=1e-12)
    re = res.predict("reffects")
    ba = re.groupby(d["a"])["R.a[_all]"].first()
    bb = re.groupby(d["b"])["_cons[b]"].first()
    new = pd.DataFrame({"a": [4, 500], "b": [1, 1], "x": [0.0, 0.0]})
    want = res.params["_cons"] + bb[1] + np.array([ba[4], 0.0])
    np.testing.assert_allclose(res.predict("fitted", data=new), want, rtol=1e-10)
    pois = smf.mepoisson("mepoisson cnt x || _all: R.a || b:", data=d).fit()
    np.testing.assert_allclose(pois.predict("mu", data=d), pois.predict("mu"), rtol=1e-12)
    e = d.assign(t=1 + (d.index % 3))
    expo = smf.mepoisson("mepoisson cnt x, exposure(t) || a:", data=e).fit()
    new = e.iloc[:4].assign(t=[1.0, 2.0, 5.0, 0.5])
    eta = expo.predict("eta", data=new, nooffset=True)
    np.testing.assert_allclose(expo.predict("mu", data=new), np.exp(eta + np.log(new["t"])),
                               rtol=1e-12)
    np.testing.assert_allclose(expo.predict("mu", data=e, conditional=False),
                               expo.predict("mu", conditional=False), rtol=1e-10)


def test_menl_new_rows():
    orange = load("orange")
    res = smf.menl("menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))",
                   data=orange).fit()
    np.testing.assert_allclose(res.predict("yhat", data=orange), res.predict("yhat"),
                               rtol=1e-12)
    b1, b2, b3 = res.params.iloc[:3]
    u = res.random_effects["U1"]
    new = pd.DataFrame({"tree": [2, 99], "age": [1000.0, 500.0]}, index=["a", "b"])
    before = new.copy()
    want = [(b1 + u[2]) / (1 + np.exp(-(1000.0 - b2) / b3)),
            b1 / (1 + np.exp(-(500.0 - b2) / b3))]
    np.testing.assert_allclose(res.predict("yhat", data=new), want, rtol=1e-12)
    np.testing.assert_allclose(res.predict("yhat", data=new, fixedonly=True).iloc[0],
                               b1 / (1 + np.exp(-(1000.0 - b2) / b3)), rtol=1e-12)
    pd.testing.assert_frame_equal(new, before)
    with pytest.raises(DataError, match="not in the estimation sample"):
        res.predict("yhat", data=new, new_groups="error")


@pytest.mark.parametrize("command, statistic", [
    ("menbreg cnt x || a:", "mu"), ("meglm pos x || a:, family(gaussian)", "mu"),
    ("meglm pos x || a:, family(gamma)", "mu"), ("mecloglog y x || a:", "mu"),
    ("meologit cnt x || a:", "pr"), ("mixed pos x i.g || a:", "fitted")])
def test_every_family_reproduces_in_sample(command, statistic):
    d = pd.read_csv(CROSSED)
    d["pos"] = np.exp(0.3 * d["x"]) * (1 + d["cnt"])
    d["g"] = np.where(d["x"] > 0, "hi", "lo")
    fitter = getattr(smf, command.split()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fitter(command, data=d).fit()
    np.testing.assert_allclose(res.predict(statistic, data=d), res.predict(statistic),
                               rtol=1e-12)
    new = d.iloc[:3].copy()
    new.loc[new.index[1], "x"] = np.nan
    got = res.predict(statistic, data=new)
    assert np.isnan(got.iloc[1])
    np.testing.assert_allclose(got.iloc[[0, 2]], res.predict(statistic).iloc[[0, 2]],
                               rtol=1e-12)


def test_string_factor_in_formula():
    d = pd.read_csv(CROSSED)
    d["g"] = np.where(d["x"] > 0, "hi", "lo")
    res = smf.mixed("cnt ~ x + g + (1 | a)", data=d).fit()
    new = pd.DataFrame({"x": [0.5, 0.5], "g": ["hi", "lo"], "a": [3, 3]})
    xb = res.predict("xb", data=new)
    assert xb.iloc[1] - xb.iloc[0] == pytest.approx(res.params["lo.g"], rel=1e-12)
    with pytest.raises(DataError, match="'g'"):
        res.predict("xb", data=new.assign(g="mid"))
