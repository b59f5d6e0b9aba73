"""``t_test_pairwise`` (Stata's ``pwcompare``): each difference equals the coefficient of the
model refitted with the other base level (ib#.), and the adjusted p-values are statsmodels'
multipletests of the z p-values."""
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from statsmodels_me import datasets
from statsmodels_me.formula import api as smf
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def fits():
    bd = datasets.load("bangladesh")
    base0 = smf.melogit("melogit c_use i.children urban || district:", data=bd).fit()
    base1 = smf.melogit("melogit c_use ib1.children urban || district:", data=bd).fit()
    return base0, base1


def test_differences_equal_the_reparametrized_fit(fits):
    base0, base1 = fits
    frame = base0.t_test_pairwise("i.children").result_frame
    assert list(frame.index) == ["1-0", "2-0", "3-0", "2-1", "3-1", "3-2"]
    for lev in (2, 3):
        row = frame.loc[f"{lev}-1"]
        assert row["coef"] == pytest.approx(base1.params[f"{lev}.children"], rel=1e-5)
        assert row["std err"] == pytest.approx(base1.bse[f"{lev}.children"], rel=1e-3)
    assert frame.loc["1-0", "coef"] == pytest.approx(base0.params["1.children"], rel=1e-12)


def test_adjusted_pvalues(fits):
    base0, _ = fits
    frame = base0.t_test_pairwise("children", method=["hs", "bonferroni"]).result_frame
    z = frame["coef"] / frame["std err"]
    p = 2 * stats.norm.sf(np.abs(z))
    np.testing.assert_allclose(frame["P>|z|"], p, rtol=1e-10)
    np.testing.assert_allclose(frame["pvalue-bonferroni"], multipletests(p, method="bonferroni")[1],
                               rtol=1e-10)
    np.testing.assert_allclose(frame["pvalue-hs"], multipletests(p, method="hs")[1], rtol=1e-10)


def test_not_a_factor(fits):
    with pytest.raises(SpecificationError, match="urban"):
        fits[0].t_test_pairwise("urban")
