"""lincom, nlcom, testnl, contrast and per-term Wald tests against delta-method values
written out here (analytic gradients of each expression with the fit's covariance)."""
import numpy as np
import pytest
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def res():
    return smf.mixed("c_use i.urban age i.children || district:", data=load("bangladesh")).fit()


def _bV(res):
    return res.params, res.cov_params()


def test_lincom(res):
    b, V = _bV(res)
    c = np.zeros(len(b))
    c[list(b.index).index("1.urban")] = 1.0
    c[list(b.index).index("age")] = 2.0
    out = res.lincom("1.urban + 2*age")
    assert list(out.index) == ["1.urban + 2*age"]
    assert out.iloc[0]["coef"] == pytest.approx(c @ b, rel=1e-12)
    se = np.sqrt(c @ V.to_numpy() @ c)
    assert out.iloc[0]["std_err"] == pytest.approx(se, rel=1e-12)
    assert out.iloc[0]["pvalue"] == pytest.approx(2 * stats.norm.sf(abs(c @ b) / se), rel=1e-10)
    same = res.lincom("_b[1.urban] + 2*_b[age]")
    assert same.iloc[0]["coef"] == pytest.approx(c @ b, rel=1e-12)
    with pytest.raises(SpecificationError, match="nlcom"):
        res.lincom("exp(age)")


def test_nlcom_ratio_and_icc(res):
    b, V = _bV(res)
    names = list(b.index)
    Vn = V.to_numpy()
    out = res.nlcom({"ratio": "_b[1.children]/_b[2.children]",
                     "icc": "_b[/var(_cons[district])] / (_b[/var(_cons[district])] "
                            "+ _b[/var(e.c_use)])"})
    b1, b2 = b["1.children"], b["2.children"]
    g = np.zeros(len(b))
    g[names.index("1.children")] = 1 / b2
    g[names.index("2.children")] = -b1 / b2 ** 2
    assert out.loc["ratio", "coef"] == pytest.approx(b1 / b2, rel=1e-12)
    assert out.loc["ratio", "std_err"] == pytest.approx(np.sqrt(g @ Vn @ g), rel=1e-8)
    u, e = b["/var(_cons[district])"], b["/var(e.c_use)"]
    h = np.zeros(len(b))
    h[names.index("/var(_cons[district])")] = e / (u + e) ** 2
    h[names.index("/var(e.c_use)")] = -u / (u + e) ** 2
    assert out.loc["icc", "coef"] == pytest.approx(u / (u + e), rel=1e-12)
    assert out.loc["icc", "std_err"] == pytest.approx(np.sqrt(h @ Vn @ h), rel=1e-8)
    ex = res.nlcom("exp(_b[age])")
    assert ex.iloc[0]["std_err"] == pytest.approx(np.exp(b["age"]) * np.sqrt(V.loc["age", "age"]),
                                                  rel=1e-8)


def test_testnl_joint(res):
    b, V = _bV(res)
    names = list(b.index)
    Vn = V.to_numpy()
    t = res.testnl(["_b[1.children] / _b[2.children] = 1", "age = 0"])
    b1, b2 = b["1.children"], b["2.children"]
    r = np.array([b1 / b2 - 1, b["age"]])
    J = np.zeros((2, len(b)))
    J[0, names.index("1.children")] = 1 / b2
    J[0, names.index("2.children")] = -b1 / b2 ** 2
    J[1, names.index("age")] = 1
    chi2 = r @ np.linalg.solve(J @ Vn @ J.T, r)
    assert float(t.statistic) == pytest.approx(chi2, rel=1e-7)
    assert int(t.df_denom) == 2
    assert float(t.pvalue) == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-6)


def test_contrast_and_wald_test_terms(res):
    b, V = _bV(res)
    cols = ["1.children", "2.children", "3.children"]
    bb, VV = b[cols].to_numpy(), V.loc[cols, cols].to_numpy()
    chi2 = bb @ np.linalg.solve(VV, bb)
    table, joint = res.contrast("children")
    assert list(table.index) == ["(1 vs 0) children", "(2 vs 0) children",
                                 "(3 vs 0) children"]
    np.testing.assert_allclose(table["coef"], bb, rtol=1e-10)
    np.testing.assert_allclose(table["std_err"], np.sqrt(np.diag(VV)), rtol=1e-7)
    assert float(joint.statistic) == pytest.approx(chi2, rel=1e-7)
    terms = res.wald_test_terms()
    assert list(terms.index) == ["i.urban", "age", "i.children"]
    assert terms.loc["i.children", "df"] == 3
    assert terms.loc["i.children", "chi2"] == pytest.approx(chi2, rel=1e-10)
    assert terms.loc["age", "chi2"] == pytest.approx(b["age"] ** 2 / V.loc["age", "age"],
                                                     rel=1e-10)


def test_expressions_are_parsed_not_evaluated(res):
    for text in ("__import__('os')", "age.real", "open(age)", "nosuch + age", "age = 1"):
        with pytest.raises(SpecificationError):
            res.nlcom(text)
    with pytest.raises(SpecificationError, match="nosuch"):
        res.nlcom("_b[nosuch]")
    with pytest.raises(SpecificationError, match="factor"):
        res.contrast("age")
