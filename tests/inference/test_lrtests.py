"""Boundary likelihood-ratio tests (Stata [ME] me, "Distribution theory for likelihood-ratio
test"); reference numbers: Stata's [ME] me entry, examples 1-8, as bundled in
statsmodels_me/datasets/seed_examples.json."""
import pytest
from scipy import stats

from statsmodels_me.covariance import BlockDiagonal, Exchangeable, Identity, Unstructured
from statsmodels_me.inference.lrtests import (
    CONSERVATIVE_NOTE,
    LRTest,
    boundary_test,
    lr_note,
    lr_test_vs_fixed,
    restricted_counts,
)
from statsmodels_me.spec.errors import SpecificationError


def test_ex1_chibar2_01():
    # seed ex1: LR test vs. linear model: chibar2(01) = 472.65  Prob >= chibar2 = 0.0000
    res = boundary_test(472.65, 1, 0)
    assert res.kind == "chibar2(01)" and res.df == 1 and res.note is None
    assert res.pvalue == pytest.approx(0.5 * stats.chi2.sf(472.65, 1))
    assert f"{res.pvalue:.4f}" == "0.0000"


def test_ex2_chibar2_p_value_from_rounded_statistic():
    # seed ex2: chibar2(01) = 0.53, Prob >= chibar2 = 0.2324. Stata computes p from the
    # unrounded statistic; 0.53 itself gives 0.5 * P(chi2_1 > 0.53) = 0.2333, and any
    # statistic that rounds to 0.53 gives p in [0.2322, 0.2344], which holds 0.2324.
    p = boundary_test(0.53, 1, 0).pvalue
    assert abs(p - 0.2324) < 0.002
    p_hi, p_lo = boundary_test(0.525, 1, 0).pvalue, boundary_test(0.535, 1, 0).pvalue
    assert p_lo <= 0.2324 <= p_hi


def test_ex3_from_log_likelihoods():
    # seed ex3: llf -140.61628, fixed-only -299.99934, printed chibar2(01) = 318.77
    t = lr_test_vs_fixed(-140.61628, -299.99934, 1, 0, "logistic model")
    assert isinstance(t, LRTest)
    assert (round(t.stat, 2), t.kind, t.versus) == (318.77, "chibar2(01)", "logistic model")
    assert lr_note(t) is None


@pytest.mark.parametrize("structures, stat, kind", [
    # seed ex4: || id: week, covariance(unstructured) -> chi2(3) = 764.58
    ([Unstructured(["week", "_cons"], "id")], 764.58, "chi2(3)"),
    # seed ex5: exchangeable children block + intercept -> chi2(3) = 44.57
    ([BlockDiagonal([Exchangeable(["1.c", "2.c", "3.c"], "district"),
                     Identity(["_cons"], "district")])], 44.57, "chi2(3)"),
    # seed ex7: two nested random intercepts -> chi2(2) = 22.13
    ([Identity(["_cons"], "school"), Identity(["_cons"], "school>class")], 22.13, "chi2(2)"),
    # seed ex8: _all: R.id || _all: R.week -> chi2(2) = 474.85
    ([Identity(["R.id"], "_all", q=48), Identity(["R.week"], "_all", q=9)], 474.85,
     "chi2(2)"),
])
def test_more_than_one_variance_is_conservative_chi2(structures, stat, kind):
    n_var, n_other = restricted_counts(structures)
    assert n_var > 1
    t = lr_test_vs_fixed(stat / 2.0, 0.0, n_var, n_other, "linear model")
    assert t.kind == kind and t.stat == pytest.approx(stat)
    assert t.pvalue == pytest.approx(stats.chi2.sf(stat, t.df))
    # the note printed under seed ex4, ex5, ex7, ex8
    assert lr_note(t) == CONSERVATIVE_NOTE
    assert CONSERVATIVE_NOTE == "LR test is conservative and provided only for reference."
    assert boundary_test(stat, n_var, n_other).note == CONSERVATIVE_NOTE


def test_mixture_with_other_restricted_parameters():
    # one variance and p = 2 other parameters: 50:50 mixture of chi2(2) and chi2(3)
    res = boundary_test(5.0, 1, 2)
    assert res.pvalue == pytest.approx(0.5 * stats.chi2.sf(5.0, 2) + 0.5 * stats.chi2.sf(5.0, 3))
    assert (res.df, res.kind) == (3, "chibar2(2,3)")


def test_negative_statistic_is_clipped():
    res = boundary_test(-1e-9, 1, 0)
    assert res.stat == 0.0 and res.pvalue == 1.0
    assert lr_test_vs_fixed(-10.0, -9.0, 2, 0, "linear model").stat == 0.0


def test_no_variance_restricted_is_plain_chi2():
    res = boundary_test(3.0, 0, 2)
    assert (res.kind, res.note) == ("chi2(2)", None)
    assert res.pvalue == pytest.approx(stats.chi2.sf(3.0, 2))


def test_boundary_test_needs_a_restriction():
    with pytest.raises(SpecificationError, match="at least one"):
        boundary_test(1.0, 0, 0)
