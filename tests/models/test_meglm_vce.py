"""``melogit ..., vce(robust)``/``vce(cluster var)``: the cluster sandwich checked against
one computed here from a per-district log likelihood integrated by (non-adaptive)
Gauss-Hermite quadrature in numpy, on the display scale (beta, var(_cons)), with scores and
Hessian by central differences."""
import numpy as np
import pytest

from statsmodels_me.api import MELogit
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError

POINTS = 12


def _district_loglik(data, x):
    """l_g = log int prod_i Bernoulli(y_i | expit(eta_i + u)) N(u; 0, s2) du by
    Gauss-Hermite with POINTS nodes (u = sqrt(2 s2) t)."""
    t, w = np.polynomial.hermite.hermgauss(POINTS)
    b_urban, b_age, b0, s2 = x
    eta = (b0 + b_urban * data["urban"].to_numpy(float)
           + b_age * data["age"].to_numpy(float))[:, None] + np.sqrt(2 * s2) * t[None, :]
    y = data["c_use"].to_numpy(float)[:, None]
    logp = y * eta - np.logaddexp(0.0, eta)
    codes = data["district"].to_numpy()
    _, inv = np.unique(codes, return_inverse=True)
    per = np.zeros((inv.max() + 1, POINTS))
    np.add.at(per, inv, logp)
    m = per.max(axis=1, keepdims=True)
    return (m[:, 0] + np.log((np.exp(per - m) * w).sum(axis=1) / np.sqrt(np.pi)))


def _sandwich(data, x0, cluster_of_district=None):
    k = len(x0)
    h = 1e-5 * np.maximum(np.abs(x0), 0.1)
    S = np.empty((len(np.unique(data["district"])), k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        S[:, i] = (_district_loglik(data, x0 + e) - _district_loglik(data, x0 - e)) / (2 * h[i])
    hh = 1e-3 * np.maximum(np.abs(x0), 0.1)
    H = np.empty((k, k))

    def f(z):
        return _district_loglik(data, z).sum()
    for i in range(k):
        for j in range(k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = hh[i], hh[j]
            H[i, j] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej)
                       + f(x0 - ei - ej)) / (4 * hh[i] * hh[j])
    if cluster_of_district is not None:
        cl = cluster_of_district(np.unique(data["district"]))
        S = np.array([S[cl == c].sum(axis=0) for c in np.unique(cl)])
    G = S.shape[0]
    Ainv = np.linalg.inv(-H)
    return G / (G - 1) * Ainv @ (S.T @ S) @ Ainv


@pytest.fixture(scope="module")
def bangladesh():
    return load("bangladesh")


def test_melogit_robust_matches_independent_sandwich(bangladesh):
    res = MELogit.from_text("c_use urban age || district:", bangladesh, vce="robust",
                            intmethod="ghermite", intpoints=POINTS).fit()
    V = _sandwich(bangladesh, res.params.to_numpy())
    np.testing.assert_allclose(res.cov_params().to_numpy(), V, rtol=1e-3, atol=1e-9)
    text = str(res.summary())
    assert "(Std. err. adjusted for 60 clusters in district)" in text
    assert "Robust" in text and "LR test" not in text
    assert "Log pseudolikelihood" in text


def test_melogit_cluster_variable(bangladesh):
    data = bangladesh.assign(region=(bangladesh["district"] - 1) // 6)
    res = MELogit.from_text("c_use urban age || district:", data, vce="cluster region",
                            intmethod="ghermite", intpoints=POINTS).fit()
    V = _sandwich(bangladesh, res.params.to_numpy(), lambda d: (d - 1) // 6)
    np.testing.assert_allclose(res.cov_params().to_numpy(), V, rtol=1e-3, atol=1e-9)
    with pytest.raises(SpecificationError, match="'district'.*'urban'"):
        MELogit.from_text("c_use age || district:", bangladesh, vce="cluster urban").fit()


def test_crossed_glmm_refuses_robust():
    pig = load("pig")
    pig = pig.assign(bin=(pig["weight"] > 50).astype(int))
    with pytest.raises(SpecificationError, match="crossed"):
        MELogit.from_text("bin week || _all: R.week || id:", pig, vce="robust")
