"""make_covariance / make_level_covariance: labels and e(b) names as Stata prints them."""
import numpy as np
import pytest

from statsmodels_me import datasets
from statsmodels_me.covariance import (
    BlockDiagonal,
    Exchangeable,
    Fixed,
    Identity,
    Independent,
    Pattern,
    Unstructured,
    make_covariance,
    make_level_covariance,
)
from statsmodels_me.design.design import Level, REBlock
from statsmodels_me.inference.lrtests import restricted_counts
from statsmodels_me.spec.errors import SpecificationError


def _seed(prefix):
    # Stata's printed output, bundled as statsmodels_me/datasets/seed_examples.json
    return next(e for key, e in datasets.seed_examples().items() if key.startswith(prefix))


def _block(names, covariance="independent", cov_matrix=None):
    return REBlock(names=list(names), Z=np.ones((4, len(names))), covariance=covariance,
                   cov_matrix=cov_matrix)


def _r_block(var, n_levels):
    return REBlock(names=[f"R.{var}"], Z=None, covariance="identity",
                   factor_codes=np.arange(n_levels) % n_levels,
                   factor_levels=np.arange(1, n_levels + 1))


def _level(label, blocks):
    return Level(path=tuple(label.split(">")), label=label, codes=np.zeros(4, dtype=np.int64),
                 n_groups=1, group_values=None, blocks=blocks)


def test_pig_unstructured_labels_match_seed_ex4():
    # seed ex4: mixed weight week || id: week, covariance(unstructured)
    cov = make_covariance(_block(["week", "_cons"], "unstructured"), "id")
    assert isinstance(cov, Unstructured) and cov.kind_label == "Unstructured"
    expected = [k for k in _seed("ex4")["vcomp"] if k != "var(Residual)"]
    assert cov.vcomp_labels == expected
    assert cov.display_names == ["/var(week[id])", "/var(_cons[id])", "/cov(week[id],_cons[id])"]
    assert restricted_counts([cov]) == (2, 1)  # chi2(3) in seed ex4


@pytest.mark.parametrize("kind", ["independent", "unstructured", "exchangeable", "identity"])
def test_single_random_intercept_is_identity(kind):
    # seed ex1 prints "id: Identity" for `|| id:`
    cov = make_covariance(_block(["_cons"], kind), "id")
    assert isinstance(cov, Identity) and cov.kind_label == "Identity"
    assert cov.vcomp_labels == ["id: var(_cons)"] == list(_seed("ex1")["vcomp"])[:1]
    assert cov.display_names == ["/var(_cons[id])"]


def test_pig_independent_and_identity_rows():
    ind = make_covariance(_block(["week", "_cons"], "independent"), "id")
    assert isinstance(ind, Independent) and ind.kind_label == "Independent"
    assert ind.vcomp_labels == ["id: var(week)", "id: var(_cons)"]
    ide = make_covariance(_block(["week", "_cons"], "identity"), "id")
    assert ide.vcomp_labels == ["id: var(week _cons)"] and ide.n_theta == 1
    exc = make_covariance(_block(["week", "_cons"], "exchangeable"), "id")
    assert isinstance(exc, Exchangeable) and exc.kind_label == "Exchangeable"
    assert exc.vcomp_labels == ["id: var(week)", "id: var(_cons)", "id: cov(week,_cons)"]


def test_ex5_blocked_exchangeable_plus_intercept():
    # seed ex5: || district: i.children, cov(exchangeable) || district:
    children = ["1.children", "2.children", "3.children"]
    level = _level("district", [_block(children, "exchangeable"), _block(["_cons"])])
    cov = make_level_covariance(level)
    assert isinstance(cov, BlockDiagonal) and cov.q == 4 and cov.n_theta == 3
    assert cov.vcomp_labels == list(_seed("ex5")["vcomp"])
    assert cov.display_is_variance == [True] * 4 + [False] * 3
    assert cov.display_names[4] == "/cov(1.children[district],2.children[district])"
    # ex5 printed: var .0841518 (x3), var(_cons) .1870273, cov .0616875 (x3)
    values = [0.0841518] * 3 + [0.1870273] + [0.0616875] * 3
    theta = cov.theta_from_display(values)
    np.testing.assert_allclose(cov.display(theta), values, rtol=1e-12)
    sigma = cov.matrix(theta)
    np.testing.assert_allclose(sigma[3, :3], 0.0)
    assert restricted_counts([cov]) == (2, 1)  # chi2(3) in seed ex5


def test_ex7_nested_levels_and_ex8_r_blocks():
    # seed ex7: school and school>class random intercepts
    labels = [make_covariance(_block(["_cons"]), lab).vcomp_labels[0]
              for lab in ("school", "school>class")]
    assert labels == list(_seed("ex7")["vcomp"])
    assert make_covariance(_block(["_cons"]), "school>class").display_names == \
        ["/var(_cons[school>class])"]
    # seed ex8: || _all: R.id || _all: R.week
    rid = make_covariance(_r_block("id", 48), "_all")
    rweek = make_covariance(_r_block("week", 9), "_all")
    assert (rid.q, rid.n_theta, rweek.q) == (48, 1, 9)
    assert rid.vcomp_labels + rweek.vcomp_labels == [k for k in _seed("ex8")["vcomp"]
                                                     if k != "var(Residual)"]
    assert rid.display_names == ["/var(R.id[_all])"]
    both = make_level_covariance(_level("_all", [_r_block("id", 48), _r_block("week", 9)]))
    assert both.q == 57 and both.vcomp_labels == ["_all: var(R.id)", "_all: var(R.week)"]
    np.testing.assert_allclose(np.diag(both.matrix([2.0, 0.5])), [4.0] * 48 + [0.25] * 9)
    assert restricted_counts([both]) == (2, 0)


def test_single_block_level_is_the_block():
    cov = make_level_covariance(_level("id", [_block(["week", "_cons"], "unstructured")]))
    assert isinstance(cov, Unstructured)


def test_pattern_and_fixed_from_blocks():
    p = make_covariance(_block(["a", "b"], "pattern", np.array([[1, 0], [2, 1]])), "id")
    assert isinstance(p, Pattern) and p.n_theta == 2
    f = make_covariance(_block(["a"], "fixed", np.array([[1.0]])), "id")
    assert isinstance(f, Fixed) and f.n_theta == 0


@pytest.mark.parametrize("block, message", [
    (_block(["a", "b"], "banded"), "'banded'"),
    (_block(["a", "b"], "pattern"), "needs a matrix"),
    (_block(["a", "b"], "fixed", np.eye(3)), "2 x 2"),
    (REBlock(names=["R.id"], Z=None, covariance="unstructured", factor_codes=np.zeros(3, int),
             factor_levels=np.arange(3)), "identity covariance"),
])
def test_bad_blocks_raise_specification_error(block, message):
    with pytest.raises(SpecificationError, match=message):
        make_covariance(block, "id")


def test_blocks_at_different_levels_raise():
    with pytest.raises(SpecificationError, match="different levels"):
        BlockDiagonal([Identity(["_cons"], "a"), Identity(["_cons"], "b")])
