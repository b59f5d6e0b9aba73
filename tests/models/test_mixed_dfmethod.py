"""``mixed, dfmethod()``: Satterthwaite df against lmerTest and Kenward-Roger df, adjusted
standard errors and F tests against pbkrtest, on balanced and unbalanced, nested and crossed
designs; Stata's rules on which method is allowed when.

The reference numbers were computed once with R 4.2.2, lme4, lmerTest 3.1.3 and pbkrtest
0.5.2 on the data built by the fixtures below (written to CSV with ``to_csv(index=False)``
and read with ``read.csv``), every model fitted by REML with a tight optimizer so that the
reference estimates are not limited by lme4's default tolerances::

    ctl <- lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-14,
           ftol_abs = 1e-15, xtol_rel = 1e-14, ftol_rel = 1e-15, maxeval = 100000))
    m <- lmer(<formula>, <data>, REML = TRUE, control = ctl)
    summary(m, ddf = "Satterthwaite")$coefficients[, c("df", "Std. Error")]  # lmerTest
    pbkrtest::get_Lb_ddf(m, L)              # KR df of coefficient i, L = e_i'
    sqrt(diag(as.matrix(pbkrtest::vcovAdj(m))))   # KR adjusted standard errors
    contest(m, L2, ddf = "Satterthwaite")   # lmerTest F test of two coefficients
    KRmodcomp(m, L2)$test["Ftest", c("stat", "ddf", "F.scaling")]

lme4 orders the coefficients (Intercept) first; the numbers below are in e(b) order
(covariates, then _cons). pbkrtest computes the Kenward-Roger pieces analytically and
lmerTest takes numerical derivatives (Richardson); ours are central differences with
Richardson extrapolation of log|V| and X'V^-1X, so df agree to 1e-5 relative and
standard errors to 1e-5.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

from statsmodels_me.datasets import load
from statsmodels_me.models.mixed import Mixed
from statsmodels_me.spec.errors import SpecificationError


def _pig_unbalanced():
    pig = load("pig")
    return pig[((pig["id"] * 7 + pig["week"]) % 5) != 0].reset_index(drop=True)


def _nested():
    """Three levels, unbalanced: 8 schools with 2-4 classes of 2-6 pupils; z is a school
    covariate."""
    rng = np.random.default_rng(20261203)
    rows = []
    for s in range(8):
        z = rng.normal()
        us = rng.normal(scale=1.0)
        for c in range(int(rng.integers(2, 5))):
            uc = rng.normal(scale=0.7)
            for _ in range(int(rng.integers(2, 7))):
                x = rng.normal()
                rows.append((s + 1, 10 * (s + 1) + c, x, z,
                             1 + 0.5 * x + 0.3 * z + us + uc + rng.normal()))
    return pd.DataFrame(rows, columns=["school", "klass", "x", "z", "y"]).round(6)


def _crossed():
    """Two crossed random intercepts, unbalanced (random cell counts)."""
    rng = np.random.default_rng(7)
    n = 120
    a = rng.integers(1, 9, n)
    b = rng.integers(1, 7, n)
    ua = rng.normal(size=9)
    ub = rng.normal(scale=0.8, size=7)
    x = rng.normal(size=n)
    d = pd.DataFrame({"a": a, "b": b, "x": x.round(6)})
    d["y"] = (2 + 0.4 * d["x"] + ua[a] + ub[b] + rng.normal(size=n)).round(6)
    return d


# name: (data builder, Stata text, lme4 formula in the comment)
CASES = {
    # lmer(weight ~ week + (1|id), pig)
    "pig": (lambda: load("pig"), "weight week || id:"),
    # lmer(weight ~ week + (week|id), pigu)
    "pig_unbalanced": (_pig_unbalanced, "weight week || id: week, cov(unstructured)"),
    # lmer(y ~ x + z + (1|school) + (1|school:klass), nest)
    "nested": (_nested, "y x z || school: || klass:"),
    # lmer(y ~ x + (1|a) + (1|b), crossed)
    "crossed": (_crossed, "y x || _all: R.a || b:"),
}

# e(b) order
SATTERTHWAITE = {
    "pig": ([382.9999999581, 58.5588858736], [0.0390632897264, 0.6031389807566]),
    "pig_unbalanced": ([47.0366643951, 46.6573861431], [0.090282622991, 0.415377161396]),
    "nested": ([94.38911418672, 5.92074380967, 5.90721543313],
               [0.104741014016, 0.725634043468, 0.632960301080]),
    "crossed": ([108.1530586086, 11.4666441005], [0.0937679168083, 0.5366492867003]),
}
KENWARD_ROGER = {
    "pig": ([383.0000000000, 58.5588860444], [0.0390632897264, 0.6031389807566]),
    "pig_unbalanced": ([46.9939452529, 46.9817150417], [0.090284295788, 0.415391314260]),
    "nested": ([94.71778270660, 5.87099373639, 5.85741224669],
               [0.105451120112, 0.725968587399, 0.633285286662]),
    "crossed": ([108.0193242210, 11.3157628195], [0.0941299858872, 0.5366694956963]),
}


def _fit(case, method):
    build, text = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Mixed.from_text(text + ("," if "," not in text else "")
                               + f" reml dfmethod({method})", build()).fit()


@pytest.mark.parametrize("case", list(CASES))
def test_satterthwaite_matches_lmertest(case):
    # lmerTest takes A from the observed information: Stata's suboption oim
    res = _fit(case, "satterthwaite, oim")
    df, se = SATTERTHWAITE[case]
    np.testing.assert_allclose(res.estat_df()["df"].to_numpy(), df, rtol=1e-5)
    np.testing.assert_allclose(res.bse.to_numpy()[:res.k_fe], se, rtol=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_kenward_roger_matches_pbkrtest(case):
    res = _fit(case, "kroger")
    df, se = KENWARD_ROGER[case]
    np.testing.assert_allclose(res.estat_df()["df"].to_numpy(), df, rtol=1e-5)
    # the standard errors shown are the adjusted ones
    np.testing.assert_allclose(res.bse.to_numpy()[:res.k_fe], se, rtol=1e-5)


def test_joint_f_tests_nested():
    # contest(m, rbind(c(0,1,0), c(0,0,1)), ddf = "Satterthwaite"): F 7.37031674844,
    # DenDF 9.52226715311
    res = _fit("nested", "sat, oim")
    f = res.wald_test(["x = 0", "z = 0"])
    np.testing.assert_allclose([float(f.fvalue), float(f.df_denom)],
                               [7.37031674844, 9.52226715311], rtol=1e-5)
    assert f.df_num == 2
    # KRmodcomp(m, L2): stat 6.952949444469, ddf 14.030070017523 (F.scaling 0.955289040341)
    res = _fit("nested", "kroger")
    f = res.wald_test(["x = 0", "z = 0"])
    np.testing.assert_allclose([float(f.fvalue), float(f.df_denom)],
                               [6.952949444469, 14.030070017523], rtol=1e-5)
    # the header's F test of all covariates is the same test
    np.testing.assert_allclose(res.model_ftest[0], 6.952949444469, rtol=1e-5)


def test_satterthwaite_eim_against_dense_pig():
    """Stata's default information for Satterthwaite is the expected one: A = 2 I_E^-1 with
    I_E,ij = tr(Pr G_i Pr G_j) (Pr = V^-1 - V^-1 X Phi X' V^-1, G_i = dV/d sigma_i), written
    here with the dense 432 x 432 V of the pig data at the estimates."""
    pig = load("pig")
    res = Mixed.from_text("weight week || id:, reml dfmethod(satterthwaite)", pig).fit()
    s_u, s_e = res.params.iloc[2], res.params.iloc[3]
    X = np.column_stack([pig["week"], np.ones(len(pig))])
    Z = pd.get_dummies(pig["id"]).to_numpy(float)
    G = [Z @ Z.T, np.eye(len(pig))]
    Vi = np.linalg.inv(s_u * G[0] + s_e * G[1])
    Phi = np.linalg.inv(X.T @ Vi @ X)
    Pr = Vi - Vi @ X @ Phi @ X.T @ Vi
    IE2 = np.array([[np.trace(Pr @ gi @ Pr @ gj) for gj in G] for gi in G])
    W = 2 * np.linalg.inv(IE2)
    dPhi = [Phi @ X.T @ Vi @ g @ Vi @ X @ Phi for g in G]
    expect = []
    for c in np.eye(2):
        grad = np.array([c @ d @ c for d in dPhi])
        expect.append(2 * (c @ Phi @ c) ** 2 / (grad @ W @ grad))
    np.testing.assert_allclose(res.estat_df()["df"].to_numpy(), expect, rtol=1e-6)
    np.testing.assert_allclose(res.bse.to_numpy()[:2], np.sqrt(np.diag(Phi)), rtol=1e-8)


def test_t_test_uses_contrast_df():
    # one row: the df of the coefficient itself (the KR df of x above)
    res = _fit("nested", "kroger")
    t = res.t_test("x = 0")
    np.testing.assert_allclose(float(t.df_denom[0]), 94.71778270660, rtol=1e-5)
    np.testing.assert_allclose(float(t.sd[0]), 0.105451120112, rtol=1e-5)
    assert t.distribution == "t"


def test_summary_shows_t_with_df():
    res = _fit("pig", "kroger")
    text = res.summary().as_text()
    assert "DF method: Kenward-Roger" in text
    assert "P>|t|" in text and "P>|z|" not in text
    coef = res.summary().tables[2]
    from scipy import stats
    z = coef["t"].to_numpy()
    df = res.estat_df()["df"].to_numpy()
    np.testing.assert_allclose(coef["P>|t|"], 2 * stats.t.sf(np.abs(z), df))
    half = stats.t.isf(0.025, df) * coef["std_err"].to_numpy()
    np.testing.assert_allclose(coef["ci_upper"] - coef["coef"], half)


def test_design_methods_pig():
    # pig: 432 rows, 48 pigs, week varies within pig. residual: 432 - 2; repeated
    # (between-within): _cons 48 - 1, week 432 - 48 - 1; anova: 432 - rank([X Z]) = 432 - 49
    pig = load("pig")
    for method, expect in [("residual", [430, 430]), ("repeated", [383, 47]),
                           ("anova", [383, 383])]:
        res = Mixed.from_text(f"weight week || id:, dfmethod({method})", pig).fit()
        np.testing.assert_array_equal(res.estat_df()["df"].to_numpy(), expect)
        assert res.estat_df().index.tolist() == ["week", "_cons"]


def test_anova_df_nested_against_dense_rank():
    d = _nested()
    res = Mixed.from_text("y x z || school: || klass:, dfmethod(anova)", d).fit()
    Z = pd.get_dummies(d["klass"]).to_numpy(float)
    XZ = np.column_stack([d["x"], d["z"], np.ones(len(d)), Z])
    expect = len(d) - np.linalg.matrix_rank(XZ)
    np.testing.assert_array_equal(res.estat_df()["df"].to_numpy(), expect)


@pytest.mark.parametrize("text,match", [
    ("weight week || id:, dfmethod(kroger)", r"dfmethod\(kroger\) requires REML"),
    ("weight week || id:, dfmethod(satterthwaite)", r"dfmethod\(satterthwaite\) requires"),
    ("weight week || id: week, dfmethod(repeated)", r"dfmethod\(repeated\)"),
    ("weight week || id: week, dfmethod(anova)", r"dfmethod\(anova\)"),
    ("weight week || id:, dfmethod(nonsense)", r"dfmethod\(nonsense\)"),
    ("weight week || id:, reml dfmethod(kr, oim)", r"dfmethod\(kr, oim\)"),
])
def test_refused(text, match):
    with pytest.raises(SpecificationError, match=match):
        Mixed.from_text(text, load("pig"))


def test_crossed_refuses_design_methods():
    with pytest.raises(SpecificationError, match=r"dfmethod\(anova\)"):
        Mixed.from_text("y x || _all: R.a || b:, dfmethod(anova)", _crossed())
    with pytest.raises(SpecificationError, match=r"dfmethod\(repeated\)"):
        Mixed.from_text("y x || _all: R.a || b:, dfmethod(repeated)", _crossed())


def test_estat_df_without_dfmethod():
    res = Mixed.from_text("weight week || id:", load("pig")).fit()
    with pytest.raises(SpecificationError, match="dfmethod"):
        res.estat_df()
