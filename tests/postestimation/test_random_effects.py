"""``res.random_effects`` is labelled by the groups on every results object.

One random-effects term: a DataFrame indexed by the group labels; several: a dict ``level ->
DataFrame``. The values are checked against predictions computed here from the fitted
parameters: the closed-form BLUP of a random intercept, the GLS BLUP ``G Z' V^-1 (y - X b)``
of a nested model, and the empirical Bayes means of a random-intercept logit by 200-point
Gauss-Hermite quadrature. Group labels are deliberately out of the data's order, so a
positional index would put the values on the wrong groups.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import special

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


@pytest.fixture(scope="module")
def pig_relabelled():
    pig = load("pig")
    # string labels in reverse order of the pigs: label "p48" is pig 1
    return pig.assign(id=[f"p{49 - i:02d}" for i in pig["id"]])


def test_mixed_one_level_blups_by_label(pig_relabelled):
    pig = pig_relabelled
    res = smf.mixed("weight week || id:", data=pig).fit()
    re = res.random_effects
    assert isinstance(re, pd.DataFrame) and list(re.columns) == ["_cons"]
    assert re.index.name == "id" and set(re.index) == set(pig["id"])
    b, s2u, s2e = (res.params[k] for k in ("_cons", "/var(_cons[id])", "/var(e.weight)"))
    r = pig["weight"] - res.params["week"] * pig["week"] - b
    grp = r.groupby(pig["id"])
    # ML BLUP of a random intercept: s2u n_g / (s2u n_g + s2e) times the mean residual
    want = s2u * grp.size() / (s2u * grp.size() + s2e) * grp.mean()
    np.testing.assert_allclose(re["_cons"].loc[want.index], want, rtol=1e-8, atol=1e-10)
    # pig 1 (label "p48") has lme4's first BLUP (ranef(lmer(weight ~ week + (1 | id), pig,
    # REML = FALSE))$id[1, 1], R 4.2.2, lme4 1.1.31)
    assert abs(re.loc["p48", "_cons"] - -1.683104731890) < 1e-6


def test_mixed_nested_blups_by_label():
    tv = load("tvsfpors")
    keep = tv["school"].isin(sorted(tv["school"].unique())[:8])
    df = tv[keep].reset_index(drop=True)
    res = smf.mixed("thk prethk || school: || class:", data=df).fit()
    re = res.random_effects
    assert list(re) == ["school", "school>class"]
    assert re["school>class"].index.names == ["school", "class"]
    p = res.params
    X = np.column_stack([df["prethk"], np.ones(len(df))])
    r = df["thk"].to_numpy() - X @ p[["prethk", "_cons"]].to_numpy()
    Zs = pd.get_dummies(df["school"]).astype(float)
    Zc = pd.get_dummies(df["school"].astype(str) + "/" + df["class"].astype(str)).astype(float)
    vs, vc, ve = p["/var(_cons[school])"], p["/var(_cons[school>class])"], p["/var(e.thk)"]
    V = vs * Zs.to_numpy() @ Zs.to_numpy().T + vc * Zc.to_numpy() @ Zc.to_numpy().T \
        + ve * np.eye(len(df))
    w = np.linalg.solve(V, r)
    want_s = pd.Series(vs * Zs.to_numpy().T @ w, index=Zs.columns)
    want_c = pd.Series(vc * Zc.to_numpy().T @ w, index=Zc.columns)
    np.testing.assert_allclose(re["school"]["_cons"].loc[want_s.index], want_s, rtol=1e-6,
                               atol=1e-9)
    got_c = re["school>class"]["_cons"]
    np.testing.assert_allclose([got_c.loc[tuple(int(v) for v in k.split("/"))]
                                for k in want_c.index], want_c, rtol=1e-6, atol=1e-9)


def test_melogit_eb_means_by_label():
    ban = load("bangladesh")
    # district labels shuffled: position no longer tells the district
    perm = np.random.default_rng(0).permutation(ban["district"].unique())
    mapping = dict(zip(sorted(ban["district"].unique()), perm))
    df = ban.assign(district=ban["district"].map(mapping))
    res = smf.melogit("c_use urban age || district:", data=df).fit()
    re = res.random_effects
    assert isinstance(re, pd.DataFrame) and re.index.name == "district"
    p = res.params
    eta = (p["urban"] * df["urban"] + p["age"] * df["age"] + p["_cons"]).to_numpy()
    y = df["c_use"].to_numpy()
    sd = np.sqrt(p["/var(_cons[district])"])
    nodes, weights = special.roots_hermite(200)
    u = np.sqrt(2) * sd * nodes
    for label in perm[:12]:
        rows = (df["district"] == label).to_numpy()
        e = eta[rows][:, None] + u[None, :]
        loglik = (y[rows][:, None] * e - np.logaddexp(0, e)).sum(axis=0)
        w = weights * np.exp(loglik - loglik.max())
        # E(u | y) = int u f(y|u) phi(u) du / int f(y|u) phi(u) du
        assert abs(re.loc[label, "_cons"] - (w @ u) / w.sum()) < 1e-6


def _spread(frame, keys):
    """Look each row's group up in a labelled frame: rows x effects."""
    return frame.loc[pd.MultiIndex.from_frame(keys) if keys.shape[1] > 1
                     else keys.iloc[:, 0]].to_numpy()


@pytest.mark.parametrize("command", ["melogit", "mepoisson"])
def test_meglm_nested_and_crossed_labels_match_predict(command):
    tv = load("tvsfpors")
    df = tv.assign(y=(tv["thk"] > 2).astype(int) if command == "melogit" else tv["thk"])
    nested = getattr(smf, command)("y prethk || school: || class:", data=df).fit()
    re = nested.random_effects
    rows = nested.predict("reffects")
    np.testing.assert_allclose(_spread(re["school"], df[["school"]])[:, 0],
                               rows["_cons[school]"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_spread(re["school>class"], df[["school", "class"]])[:, 0],
                               rows["_cons[school>class]"], rtol=0, atol=1e-12)
    crossed = getattr(smf, command)("y prethk || _all: R.school || class:", data=df).fit()
    re = crossed.random_effects
    assert list(re) == ["_all: R.school", "class"] and re["_all: R.school"].index.name == \
        "school"
    rows = crossed.predict("reffects")
    np.testing.assert_allclose(_spread(re["_all: R.school"], df[["school"]])[:, 0],
                               rows.iloc[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_spread(re["class"], df[["class"]])[:, 0], rows.iloc[:, 1],
                               rtol=0, atol=1e-12)


def test_mixed_r_term_within_a_level_is_labelled_by_both():
    tv = load("tvsfpors")
    res = smf.mixed("thk prethk || school: R.tv", data=tv).fit()
    re = res.random_effects
    assert isinstance(re, pd.DataFrame) and re.index.names == ["school", "tv"]
    assert list(re.columns) == ["R.tv"]
    np.testing.assert_allclose(_spread(re, tv[["school", "tv"]])[:, 0],
                               res.predict("reffects").iloc[:, 0], rtol=0, atol=1e-12)


def test_metobit_random_slope_labels_match_predict():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(40), 6)
    x = rng.normal(size=g.size)
    ys = 1 + 0.5 * x + rng.normal(0, 0.7, 40)[g] + rng.normal(0, 0.3, 40)[g] * x \
        + rng.normal(size=g.size)
    df = pd.DataFrame({"y": np.clip(ys, 0, None), "x": x,
                       "id": np.array([f"g{39 - k}" for k in range(40)])[g]})
    res = smf.metobit("y x || id: x, ll(0)", data=df).fit()
    re = res.random_effects
    assert list(re.columns) == ["x", "_cons"] and re.index.name == "id"
    np.testing.assert_allclose(_spread(re, df[["id"]]),
                               res.predict("reffects")[["x[id]", "_cons[id]"]], rtol=0,
                               atol=1e-12)
