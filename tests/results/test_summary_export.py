"""summary().as_latex(), as_html(), as_text() and summary2(): every format carries the fit's
numbers (checked against params, bse and the variance components)."""
import re

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


@pytest.fixture(scope="module")
def res():
    return smf.meoprobit("meoprobit thk prethk cc##tv || school:", data=load("tvsfpors")).fit()


def test_latex(res):
    tex = res.summary().as_latex()
    assert tex.startswith("\\begin{table}") and tex.rstrip().endswith("\\bigskip")
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}")
    assert "1.cc\\#1.tv" in tex and "#" not in tex.replace("\\#", "")
    assert f"{res.params['prethk']:.4f}" in tex
    assert f"{res.bse['prethk']:.4f}" in tex
    for name in res.params.index[:res.k_fe]:
        assert name.replace("#", "\\#") in tex


def test_summary2_text_and_html(res):
    s2 = res.summary2()
    text, html = s2.as_text(), s2.as_html()
    coef = s2.tables[1]
    np.testing.assert_allclose(coef["coef"].to_numpy(), res.params.iloc[:len(coef)].to_numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(coef["std_err"].to_numpy(), res.bse.iloc[:len(coef)].to_numpy(),
                               rtol=1e-12)
    vc = s2.tables[2]
    np.testing.assert_allclose(vc["estimate"], res.vcomp["estimate"], rtol=1e-12)
    assert f"{res.params['prethk']:.4f}" in text and f"{res.params['prethk']:.4f}" in html
    assert re.search(r"Number of obs\s+1,600", text)
    summ = res.summary()
    assert summ.as_text() == str(summ) and "<table" in summ.as_html()
