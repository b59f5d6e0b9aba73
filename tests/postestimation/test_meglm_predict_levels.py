"""predict after multilevel (nested) and crossed GLMMs.

References are computed in the tests: the conditional mean from the predicted random effects,
the marginal mean by scipy quadrature over z'b ~ N(0, z' Sigma z), and probabilities that must
sum to one over the outcome categories.
"""
import numpy as np
import pandas as pd
import pytest
from _crossed_ref_path import CROSSED
from scipy import integrate, special, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


@pytest.fixture(scope="module")
def crossed():
    df = pd.read_csv(CROSSED)
    return df, smf.melogit("y ~ x + (1 | a) + (1 | b)", data=df).fit()


@pytest.fixture(scope="module")
def three_level():
    return smf.meoprobit("meoprobit thk prethk cc##tv || school: || class:",
                         data=load("tvsfpors")).fit()


def test_crossed_conditional_mean_uses_both_modes(crossed):
    df, res = crossed
    re = res.predict("reffects")
    assert list(re.columns) == ["_cons[a]", "_cons[b]"]
    eta = res.predict("xb") + re.sum(axis=1)
    np.testing.assert_allclose(res.predict("mu"), special.expit(eta), rtol=1e-12)
    # one effect per level of a: constant within a
    assert re.groupby(df["a"])["_cons[a]"].nunique().max() == 1


def test_crossed_marginal_mean_by_quadrature(crossed):
    _, res = crossed
    sd = np.sqrt(res.params["/var(_cons[a])"] + res.params["/var(_cons[b])"])
    xb = res.predict("xb").to_numpy()[:5]
    want = [integrate.quad(lambda v, e=e: special.expit(e + sd * v) * stats.norm.pdf(v),
                           -12, 12, epsabs=1e-13)[0] for e in xb]
    np.testing.assert_allclose(res.predict("mu", conditional=False).to_numpy()[:5], want,
                               rtol=1e-7)


def test_three_level_effects_and_probabilities(three_level):
    res = three_level
    d = load("tvsfpors")
    re = res.predict("reffects")
    assert list(re.columns) == ["_cons[school]", "_cons[school>class]"]
    assert re.groupby(d["school"])["_cons[school]"].nunique().max() == 1
    assert re.groupby(d["class"])["_cons[school>class]"].nunique().max() == 1
    se = res.predict("reses")
    assert (se.to_numpy() > 0).all()
    # posterior sd below the prior sd
    assert (se["_cons[school]"] < np.sqrt(res.params["/var(_cons[school])"])).all()
    for cond in (True, False):
        total = sum(res.predict("pr", outcome=k, conditional=cond) for k in (1, 2, 3, 4))
        np.testing.assert_allclose(total, 1.0, rtol=1e-12)


def test_three_level_icc_on_the_latent_scale(three_level):
    """Ordered probit: residual variance 1 on the latent scale (Stata's estat icc), so
    icc(school) = s2_s / (s2_s + s2_c + 1) and icc(school>class) = (s2_s + s2_c) / (...)."""
    res = three_level
    s, c = res.params["/var(_cons[school])"], res.params["/var(_cons[school>class])"]
    icc = res.estat_icc()
    assert icc.loc["school", "icc"] == pytest.approx(s / (s + c + 1), rel=1e-12)
    assert icc.loc["school>class", "icc"] == pytest.approx((s + c) / (s + c + 1), rel=1e-12)
    assert (icc["ci_lower"] < icc["icc"]).all() and (icc["icc"] < icc["ci_upper"]).all()


def test_crossed_fixedonly_and_pr(crossed):
    """fixedonly leaves both crossed effects out; pr of a binary outcome is expit(eta)."""
    df, res = crossed
    xb = res.params["_cons"] + res.params["x"] * df["x"].to_numpy()
    np.testing.assert_allclose(res.predict("mu", conditional="fixedonly").to_numpy(),
                               special.expit(xb), rtol=1e-12)
    eta = xb + res.predict("reffects").sum(axis=1).to_numpy()
    np.testing.assert_allclose(res.predict("pr").to_numpy(), special.expit(eta), rtol=1e-12)


def test_three_level_fixedonly_probabilities(three_level):
    """Ordered probit with the random effects at zero: Phi(cut_k - xb) - Phi(cut_{k-1} - xb)
    with xb from the estimated coefficients."""
    res = three_level
    xb = res.predict("xb").to_numpy()
    cuts = np.concatenate([[-np.inf], res.params[["/cut1", "/cut2", "/cut3"]], [np.inf]])
    for k, value in enumerate((1, 2, 3, 4)):
        pr = res.predict("pr", outcome=value, conditional="fixedonly").to_numpy()
        np.testing.assert_allclose(pr, stats.norm.cdf(cuts[k + 1] - xb)
                                   - stats.norm.cdf(cuts[k] - xb), rtol=1e-10, atol=1e-15)


def test_stdp_is_the_standard_error_of_xb():
    """predict stdp after melogit: sqrt(x' V x) with V the fixed effects' block of
    cov_params, computed row by row here; and the fixed effects are the first parameters."""
    import numpy as np

    from statsmodels_me import datasets
    from statsmodels_me.formula import api as smf

    bd = datasets.load("bangladesh")
    res = smf.melogit("melogit c_use urban age || district:", data=bd).fit()
    V = res.cov_params().loc[["urban", "age", "_cons"], ["urban", "age", "_cons"]].to_numpy()
    X = np.column_stack([bd["urban"], bd["age"], np.ones(len(bd))])
    expected = [np.sqrt(x @ V @ x) for x in X[:50]]
    np.testing.assert_allclose(res.predict("stdp").to_numpy()[:50], expected, rtol=1e-10)
