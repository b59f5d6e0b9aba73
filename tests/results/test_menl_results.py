"""Results of ``menl``: predictions recomputed by hand from the estimates, the random-effects
table and the e(b) names."""
import numpy as np
import pytest
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError

EX10 = ("menl circumf = {phi1:}/(1+exp(-(age-{phi2:})/{b3})), define(phi1: U1[tree], xb) "
        "define(phi2: U2[tree], xb)")


@pytest.fixture(scope="module")
def fitted():
    df = load("orange")
    return df, smf.menl(EX10, data=df).fit()


def by_hand(df, res, fixedonly=False):
    p = res.params
    re = res.random_effects.loc[df["tree"]].to_numpy() * (0 if fixedonly else 1)
    phi1 = p["phi1:_cons"] + re[:, 0]
    phi2 = p["phi2:_cons"] + re[:, 1]
    return phi1 / (1 + np.exp(-(df["age"].to_numpy() - phi2) / p["/b3"])), phi1, phi2


def test_yhat_and_residuals(fitted):
    df, res = fitted
    yhat, _, _ = by_hand(df, res)
    np.testing.assert_allclose(res.predict("yhat").to_numpy(), yhat, rtol=1e-12)
    np.testing.assert_allclose(res.predict("residuals").to_numpy(), df["circumf"] - yhat,
                               rtol=1e-10)
    sd = np.sqrt(res.params["/var(e)"])
    np.testing.assert_allclose(res.predict("rstandard").to_numpy(),
                               (df["circumf"] - yhat) / sd, rtol=1e-10)


def test_fixedonly_and_parameters(fitted):
    df, res = fitted
    yhat0, _, _ = by_hand(df, res, fixedonly=True)
    np.testing.assert_allclose(res.predict("yhat", fixedonly=True).to_numpy(), yhat0,
                               rtol=1e-12)
    _, phi1, phi2 = by_hand(df, res)
    got = res.predict("parameters", parameters=["phi1", "phi2"])
    np.testing.assert_allclose(got["phi1"].to_numpy(), phi1, rtol=1e-12)
    np.testing.assert_allclose(got["phi2"].to_numpy(), phi2, rtol=1e-12)
    with pytest.raises(SpecificationError, match="define"):
        res.predict("parameters", parameters="phi9")


def test_reffects_are_the_modes_by_row(fitted):
    df, res = fitted
    re = res.predict("reffects")
    np.testing.assert_array_equal(re.to_numpy(),
                                  res.random_effects.loc[df["tree"]].to_numpy())
    assert list(re.columns) == ["U1", "U2"]
    # the modes solve the penalized problem: with independent effects their mean is ~0
    assert abs(res.random_effects["U1"].mean()) < 1e-6 * res.random_effects["U1"].abs().max()


def test_names_table_and_estat(fitted):
    _, res = fitted
    assert list(res.params.index) == ["phi1:_cons", "phi2:_cons", "/b3", "/var(U1[tree])",
                                      "/var(U2[tree])", "/var(e)"]
    assert list(res.vcomp.index) == ["tree: var(U1)", "tree: var(U2)", "var(Residual)"]
    cov = res.estat_recovariance()["tree"]
    assert cov.loc["U1", "U1"] == res.params["/var(U1[tree])"]
    assert cov.loc["U1", "U2"] == 0.0
    sd = res.estat_sd()
    assert sd["tree: sd(U2)"] == pytest.approx(np.sqrt(res.params["/var(U2[tree])"]))
    with pytest.raises(SpecificationError, match="unknown statistic"):
        res.predict("xb")


def test_wcorrelation_by_hand(fitted):
    df, res = fitted
    p = res.params
    rows = np.flatnonzero(df["tree"].to_numpy() == df["tree"].iloc[0])
    # derivatives of the mean function with respect to U1 and U2 at the estimates
    _, phi1, phi2 = by_hand(df, res)
    e = np.exp(-(df["age"].to_numpy() - phi2) / p["/b3"])
    z1 = 1 / (1 + e)
    z2 = -phi1 * e / (p["/b3"] * (1 + e) ** 2)
    Z = np.column_stack([z1, z2])[rows]
    D = np.diag([p["/var(U1[tree])"], p["/var(U2[tree])"]])
    V = Z @ D @ Z.T + p["/var(e)"] * np.eye(len(rows))
    want = V / np.sqrt(np.outer(np.diag(V), np.diag(V)))
    np.testing.assert_allclose(res.estat_wcorrelation().to_numpy(), want, rtol=1e-10)


def test_lrtest_ex9_against_ex10(fitted):
    df, res10 = fitted
    res9 = smf.menl("menl circumf = {phi1:}/(1+exp(-(age-{phi2:})/{b3})), "
                    "define(phi1: U1[tree], xb) define(phi2: {phi2:_cons})", data=df).fit()
    lr = res10.lrtest(res9)
    # one variance restricted to zero: chibar2(01) of 2 (llf10 - llf9)
    assert lr.kind == "chibar2(01)"
    assert lr.stat == pytest.approx(2 * (res10.llf - res9.llf), rel=1e-12)
    assert lr.pvalue == pytest.approx(0.5 * stats.chi2.sf(lr.stat, 1), rel=1e-10)


def test_pickle_round_trip_and_t_test(fitted):
    import pickle
    _, res = fitted
    back = pickle.loads(pickle.dumps(res))
    assert back.params.equals(res.params) and back.llf == res.llf
    np.testing.assert_array_equal(back.predict("yhat").to_numpy(),
                                  res.predict("yhat").to_numpy())
    t = res.t_test("/b3 = 300")
    want = (res.params["/b3"] - 300) / res.bse["/b3"]
    assert float(np.asarray(t.tvalue).ravel()[0]) == pytest.approx(want, rel=1e-12)


def test_rstandard_with_power_variance():
    df = load("orange")
    res = smf.menl("menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3})), "
                   "resvariance(power _yhat, noconstant)", data=df).fit()
    yhat = res.predict("yhat").to_numpy()
    sd = np.sqrt(res.params["/var(e)"]) * np.abs(yhat) ** res.params["/Residual:delta"]
    np.testing.assert_allclose(res.predict("rstandard").to_numpy(),
                               (df["circumf"].to_numpy() - yhat) / sd, rtol=1e-10)
    assert res.vcomp.index[-1] == "var(Residual)"
    assert res.vcomp.loc["var(Residual)", "estimate"] == res.params["/var(e)"]
