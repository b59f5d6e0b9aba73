"""``mixed ..., vce(robust)`` and ``vce(cluster var)``: the cluster sandwich, checked against
one computed here from a per-pig multivariate-normal log likelihood (scipy) on the display
scale (beta, var(_cons), var(Residual)), with scores and Hessian by central differences."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from statsmodels_me.datasets import load
from statsmodels_me.models.mixed import Mixed
from statsmodels_me.spec.errors import SpecificationError


def _pig_sandwich(pig, params, clusters):
    """Cluster sandwich G/(G-1) A^-1 B A^-1 of the random-intercept model, computed from
    scratch: y_g ~ N(X_g b, s_u I + s_e 11')."""
    groups = [g for _, g in pig.groupby("id")]

    def per_pig(x):
        b0, b1, su, se = x[1], x[0], x[2], x[3]
        out = []
        for g in groups:
            n = len(g)
            mean = b0 + b1 * g["week"].to_numpy(float)
            V = su * np.ones((n, n)) + se * np.eye(n)
            out.append(stats.multivariate_normal.logpdf(g["weight"].to_numpy(float), mean, V))
        return np.array(out)

    x0 = np.asarray(params, float)
    h = 1e-5 * np.maximum(np.abs(x0), 1.0)
    S = np.empty((len(groups), 4))
    for i in range(4):
        e = np.zeros(4)
        e[i] = h[i]
        S[:, i] = (per_pig(x0 + e) - per_pig(x0 - e)) / (2 * h[i])
    hh = 1e-3 * np.maximum(np.abs(x0), 1.0)
    H = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.zeros(4), np.zeros(4)
            ei[i], ej[j] = hh[i], hh[j]
            H[i, j] = (per_pig(x0 + ei + ej).sum() - per_pig(x0 + ei - ej).sum()
                       - per_pig(x0 - ei + ej).sum() + per_pig(x0 - ei - ej).sum()) \
                / (4 * hh[i] * hh[j])
    ids = pig.groupby("id")["id"].first().to_numpy()
    cl = np.array([clusters[i] for i in ids])
    labels = np.unique(cl)
    S = np.array([S[cl == c].sum(axis=0) for c in labels])
    G = len(labels)
    Ainv = np.linalg.inv(-H)
    return G / (G - 1) * Ainv @ (S.T @ S) @ Ainv


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def test_robust_matches_independent_sandwich(pig):
    res = Mixed.from_text("weight week || id:", pig, vce="robust").fit()
    V = _pig_sandwich(pig, res.params.to_numpy(), {i: i for i in pig["id"].unique()})
    np.testing.assert_allclose(res.cov_params().to_numpy(), V, rtol=2e-4, atol=1e-8)
    text = str(res.summary())
    assert "(Std. err. adjusted for 48 clusters in id)" in text
    assert "Robust" in text and "LR test" not in text
    assert res.lr_test is None


def test_cluster_variable_sums_pigs_within_pens(pig):
    data = pig.assign(pen=(pig["id"] - 1) // 4)
    res = Mixed.from_text("weight week || id:", data, vce="cluster pen").fit()
    V = _pig_sandwich(pig, res.params.to_numpy(), {i: (i - 1) // 4 for i in pig["id"]})
    np.testing.assert_allclose(res.cov_params().to_numpy(), V, rtol=2e-4, atol=1e-8)
    assert "(Std. err. adjusted for 12 clusters in pen)" in str(res.summary())
    # clustering on the model's own level gives vce(robust)
    r1 = Mixed.from_text("weight week || id:", pig, vce="cluster id").fit()
    r2 = Mixed.from_text("weight week || id:", pig, vce="robust").fit()
    np.testing.assert_allclose(r1.bse, r2.bse, rtol=1e-10)


def test_cluster_variable_must_contain_the_top_level(pig):
    data = pig.assign(half=pig["week"] > 4)
    with pytest.raises(SpecificationError, match="'id'.*'half'"):
        Mixed.from_text("weight week || id:", data, vce="cluster half").fit()


def test_crossed_and_reml_refuse_robust(pig):
    with pytest.raises(SpecificationError, match="crossed"):
        Mixed.from_text("weight week || _all: R.week || id:", pig, vce="robust").fit()
    with pytest.raises(NotImplementedError, match="reml"):
        Mixed.from_text("weight week || id:", pig, vce="robust", reml=True)


def test_bad_vce_is_refused(pig):
    with pytest.raises(SpecificationError, match="vce"):
        Mixed.from_text("weight week || id:", pig, vce="sandwich")
    with pytest.raises(NotImplementedError, match="vce"):
        Mixed.from_text("weight week || id:", pig, vce="bootstrap")


def test_input_not_modified(pig):
    before = pig.copy()
    Mixed.from_text("weight week || id:", pig, vce="robust").fit()
    pd.testing.assert_frame_equal(pig, before)
