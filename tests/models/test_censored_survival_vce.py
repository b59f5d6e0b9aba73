"""``vce(robust)`` and ``vce(cluster var)`` after metobit, meintreg and mestreg: the cluster
sandwich G/(G-1) A^-1 B A^-1 checked against one computed here from the per-cluster 30-point
adaptive Gauss-Hermite log likelihoods of ``_aghq_reference`` (numpy/scipy densities), on the
display scale (beta, ancillary, var(_cons)), with per-cluster scores and the Hessian by central
differences -- 1e-3 relative."""
import numpy as np
import pytest
from _aghq_reference import aghq_cluster_loglike, numerical_hessian
from test_meintreg import _data as interval_data
from test_meintreg import _interval_rows
from test_mestreg import _data as spell_data
from test_mestreg import _scipy_rows
from test_metobit import _data as tobit_data
from test_metobit import _tobit_rows

import statsmodels_me.formula.api as smf


def _sandwich(row_loglike, X, groups, display, n_aux, super_cluster=None):
    """Cluster sandwich at display-scale parameters (beta, aux, var_u); ``super_cluster``
    maps each cluster code to the vce(cluster) variable's value."""
    display = np.asarray(display, float)

    def per_cluster(d):
        z = np.concatenate([d[:-1], [np.log(d[-1])]])
        return aghq_cluster_loglike(row_loglike, X, groups, z, n_aux)

    k = len(display)
    h = 1e-5 * np.maximum(np.abs(display), 0.1)
    S = np.column_stack([(per_cluster(display + h[i] * e) - per_cluster(display - h[i] * e))
                         / (2 * h[i]) for i, e in enumerate(np.eye(k))])
    H = numerical_hessian(lambda d: per_cluster(d).sum(), display, step=1e-4)
    if super_cluster is not None:
        S = np.array([S[super_cluster == c].sum(axis=0) for c in np.unique(super_cluster)])
    G = S.shape[0]
    Ainv = np.linalg.inv(-H)
    return G / (G - 1) * Ainv @ (S.T @ S) @ Ainv


def _check(res, V, n_clusters, name):
    np.testing.assert_allclose(res.cov_params().to_numpy(), V, rtol=1e-3, atol=1e-10)
    text = str(res.summary())
    assert f"(Std. err. adjusted for {n_clusters} clusters in {name})" in text
    assert "Log pseudolikelihood" in text and "LR test" not in text


def test_metobit_robust():
    df = tobit_data()
    res = smf.metobit("y x || id:, ll(0) ul(3) intpoints(30) vce(robust)", data=df).fit()
    # display order: x, _cons, var(_cons), var(e.y); the reference's: beta, log var_e, var_u
    p = res.params.to_numpy()
    X = np.column_stack([df["x"], np.ones(len(df))])

    def rows(eta, aux):
        return _tobit_rows(df["y"].to_numpy(), 0.0, 3.0)(eta, np.log(aux))
    order = [0, 1, 3, 2]
    V = _sandwich(rows, X, df["id"].to_numpy(), p[order], 1)
    _check(res, V[np.ix_(np.argsort(order), np.argsort(order))], 60, "id")


def test_meintreg_cluster_variable():
    df = interval_data().assign(region=lambda d: d["id"] // 4)
    res = smf.meintreg("ylo yhi x || id:, intpoints(30) vce(cluster region)", data=df).fit()
    p = res.params.to_numpy()
    X = np.column_stack([df["x"], np.ones(len(df))])
    loglike = _interval_rows(df["ylo"].to_numpy(), df["yhi"].to_numpy())

    def rows(eta, aux):
        return loglike(eta, np.log(aux))
    order = [0, 1, 3, 2]
    V = _sandwich(rows, X, df["id"].to_numpy(), p[order], 1, np.arange(60) // 4)
    _check(res, V[np.ix_(np.argsort(order), np.argsort(order))], 15, "region")


@pytest.mark.parametrize("dist,aft", [("weibull", False), ("lognormal", True)])
def test_mestreg_robust(dist, aft):
    df = spell_data()
    res = smf.mestreg(f"x || id:, distribution({dist}) intpoints(30) vce(robust)", data=df,
                      time="t", failure="d", entry="t0").fit()
    p = res.params.to_numpy()
    X = np.column_stack([df["x"], np.ones(len(df))])
    rows = _scipy_rows(dist, aft, *(df[k].to_numpy() for k in ("t", "d", "t0")))
    _check(res, _sandwich(rows, X, df["id"].to_numpy(), p, 1), 80, "id")
