"""statsmodels_me.inference.sandwich: vce() parsing, cluster maps and the sandwich."""
import numpy as np
import pytest

from statsmodels_me.inference.sandwich import (
    cluster_groups,
    cluster_sandwich,
    parse_vce,
    sandwich_from_products,
    score_products,
)
from statsmodels_me.spec.errors import SpecificationError


def test_parse_vce():
    assert parse_vce(None, "mixed").kind == "oim"
    assert parse_vce("oim", "mixed").robust is False
    assert parse_vce("r", "mixed").kind == "robust"
    req = parse_vce("cl school", "mixed")
    assert (req.kind, req.variable) == ("cluster", "school")
    for bad in ("bootstrap", "cluster", "cluster a b", "robust x"):
        with pytest.raises(SpecificationError, match="vce"):
            parse_vce(bad, "mixed")


def test_cluster_groups_and_nesting():
    top = np.array([0, 0, 1, 1, 2, 2])
    assert list(cluster_groups(top, ["b", "b", "a", "a", "b", "b"], "id", "pen")) == [1, 0, 1]
    with pytest.raises(SpecificationError, match="'id'.*'pen'"):
        cluster_groups(top, [1, 2, 1, 1, 2, 2], "id", "pen")


def test_sandwich_is_the_ols_cluster_robust_covariance():
    # OLS with known variance 1: the log likelihood's Hessian is -X'X and cluster g's score
    # X_g'e_g, so the sandwich is Stata's regress, vce(cluster) covariance
    # G/(G-1) (X'X)^-1 sum_g X_g'e_g e_g'X_g (X'X)^-1 (without regress's (n-1)/(n-k)).
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(40), rng.normal(size=40)])
    e = rng.normal(size=40)
    g = np.repeat(np.arange(8), 5)
    S = np.array([X[g == c].T @ e[g == c] for c in range(8)])
    cov, n = cluster_sandwich(-X.T @ X, S)
    XtXi = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[g == c].T @ e[g == c], X[g == c].T @ e[g == c]) for c in range(8))
    np.testing.assert_allclose(cov, 8 / 7 * XtXi @ meat @ XtXi, rtol=1e-12)
    assert n == 8
    # pairs of clusters summed first
    cov2, n2 = cluster_sandwich(-X.T @ X, S, groups=np.arange(8) // 2)
    S2 = S.reshape(4, 2, 2).sum(axis=1)
    np.testing.assert_allclose(cov2, 4 / 3 * XtXi @ S2.T @ S2 @ XtXi, rtol=1e-12)
    assert n2 == 4


def test_sandwich_from_summed_products_of_parts():
    # the meat summed over parts holding whole clusters (as partitions of a dask fit) gives
    # the sandwich of all the scores: B = S'S = S1'S1 + S2'S2 when S stacks S1 and S2
    rng = np.random.default_rng(1)
    S = rng.normal(size=(9, 3))
    H = -(np.eye(3) * 4 + 0.5)
    B1, n1 = score_products(S[:4])
    B2, n2 = score_products(S[4:])
    np.testing.assert_allclose(sandwich_from_products(H, B1 + B2, n1 + n2),
                               cluster_sandwich(H, S)[0], rtol=1e-13)
    Ainv = np.linalg.inv(-H)
    np.testing.assert_allclose(sandwich_from_products(H, B1 + B2, 9),
                               9 / 8 * Ainv @ S.T @ S @ Ainv, rtol=1e-12)
    with pytest.raises(SpecificationError, match="at least two clusters"):
        sandwich_from_products(H, B1, 1)
