"""``vce(robust)`` and ``vce(cluster var)`` on a dask DataFrame equal the in-memory sandwich.

The reference numbers are the in-memory fits of the same rows with the same ``vce()``,
computed in each test. The partitions return only the summed outer products of their
clusters' scores (and the score sums of their shares of ``vce(cluster)`` groups that span
partitions), so the meat equals the in-memory ``score_products`` of all the clusters' scores;
the Hessian and the scaling G / (G - 1) are the in-memory fit's.
"""
import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.distributed.robust import summed_products  # noqa: E402
from statsmodels_me.inference.sandwich import cluster_groups, score_products  # noqa: E402
from statsmodels_me.spec.errors import SpecificationError  # noqa: E402


def assert_same_robust(r_mem, r_dask, rtol):
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-10)
    np.testing.assert_allclose(r_dask.params, r_mem.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r_dask.bse, r_mem.bse, rtol=rtol)
    assert r_dask.info.vce_note == r_mem.info.vce_note
    assert r_dask.info.ll_label == r_mem.info.ll_label == "Log pseudolikelihood"


def logit_data(G=90, m=8, seed=7):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x, z = rng.normal(size=G * m), rng.normal(size=G * m)
    u = rng.normal(size=G)
    eta = -0.3 + 0.6 * x + 0.2 * z + 0.9 * u[g]
    y = (rng.random(G * m) < 1 / (1 + np.exp(-eta))).astype(float)
    # r: groups of 7 clusters of g; with three partitions of 30 clusters, r = 4 and r = 8
    # hold clusters of two partitions
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": g, "r": g // 7})


@pytest.mark.parametrize("vce, n", [("robust", 90), ("cluster r", 13)])
def test_two_level_logit_robust_equal_in_memory(client, by_cluster, vce, n):
    df = logit_data()
    text = "y x z || g:"
    r_mem = smf.melogit(text, data=df, vce=vce).fit()
    r_dask = smf.melogit(text, data=by_cluster(df, "g", 3), vce=vce).fit()
    assert_same_robust(r_mem, r_dask, rtol=1e-8)
    assert f"adjusted for {n} clusters" in r_dask.info.vce_note
    # not the model-based standard errors
    r_oim = smf.melogit(text, data=df).fit()
    assert np.all(np.abs(r_dask.bse / r_oim.bse - 1) > 1e-4)


def test_poisson_exposure_robust_equal_in_memory(client, by_cluster):
    rng = np.random.default_rng(5)
    G, m = 100, 6
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    expo = rng.uniform(0.5, 3.0, size=G * m)
    u = 0.5 * rng.normal(size=G)
    y = rng.poisson(expo * np.exp(0.2 + 0.4 * x + u[g])).astype(float)
    df = pd.DataFrame({"y": y, "x": x, "t": expo, "g": g})
    text = "y x || g:"
    r_mem = smf.mepoisson(text, data=df, exposure="t", vce="robust").fit()
    r_dask = smf.mepoisson(text, data=by_cluster(df, "g", 2), exposure="t",
                           vce="robust").fit()
    assert_same_robust(r_mem, r_dask, rtol=1e-8)


def school_data(S=30, C=3, m=4, seed=2):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(S), C * m)
    c = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=S * C * m)
    u = rng.normal(size=(S, 2)) * [0.7, 0.3]
    y = (1 + 0.5 * x + u[s, 0] + u[s, 1] * x + 0.5 * rng.normal(size=S * C)[c]
         + rng.normal(size=len(x)))
    return pd.DataFrame({"y": y, "x": x, "s": s, "c": c, "r": s // 4})


@pytest.mark.parametrize("text", ["y x || s: x, cov(unstructured)", "y x || s: x || c:"])
@pytest.mark.parametrize("vce", ["robust", "cluster r"])
def test_nested_mixed_robust_equal_in_memory(client, by_cluster, text, vce):
    df = school_data()
    r_mem = smf.mixed(text, data=df, vce=vce).fit()
    r_dask = smf.mixed(text, data=by_cluster(df, "s", 3), vce=vce).fit()
    # the meat: the partitions' summed products equal the in-memory clusters' scores'
    # products at the same estimates (the same per-cluster formulas, block by block)
    p = 2
    theta, beta, s2 = r_mem.theta, r_mem.params.to_numpy()[:p], r_mem.params.iloc[-1]
    _, scores = r_mem.model.objective.contributions(theta, beta, s2)
    groups = None
    if vce != "robust":
        groups = cluster_groups(df.s.to_numpy(), df.r.to_numpy(), "s", "r")
    B_mem, n_mem = score_products(scores, groups)
    B_dask, n_dask = summed_products(r_dask.model.parts, (theta, beta, s2),
                                     vce != "robust")
    np.testing.assert_allclose(B_dask, B_mem, rtol=1e-11, atol=1e-12 * np.abs(B_mem).max())
    assert n_dask == n_mem == (30 if vce == "robust" else 8)
    # the standard errors: the Hessian is by central second differences of the log
    # likelihood, whose last-digit rounding differs between the summed and the in-memory
    # evaluation; amplified by the steps (1e-3 relative) it leaves ~1e-9 relative in the
    # Hessian's entries and up to ~3e-8 in the standard errors
    assert_same_robust(r_mem, r_dask, rtol=1e-7)


def test_mixed_robust_reml_refused_as_in_memory(client, by_cluster):
    ddf = by_cluster(school_data(S=10), "s", 2)
    with pytest.raises(NotImplementedError, match="vce.robust. and vce.cluster. are not "
                       "implemented with reml"):
        smf.mixed("y x || s:", data=ddf, reml=True, vce="robust")


@pytest.mark.parametrize("command, text", [("mixed", "y x || s:"), ("melogit", "b x || s:")])
def test_cluster_variable_not_above_top_level_refused(client, by_cluster, command, text):
    df = school_data(S=12)
    df["b"] = (df.y > 1).astype(float)
    with pytest.raises(SpecificationError, match="'s' are not nested within the cluster "
                       "variable 'c'"):
        getattr(smf, command)(text, data=by_cluster(df, "s", 2), vce="cluster c").fit()


def test_three_level_poisson_cluster_robust_equal_in_memory(client, by_cluster):
    # nested levels: the partitions' per-cluster rows come in the nested objective's
    # cluster order, mapped to the cluster variable's values on each partition
    rng = np.random.default_rng(12)
    R, S, m = 24, 4, 5
    region = np.repeat(np.arange(R), S * m)
    site = np.repeat(np.arange(R * S), m)
    x = rng.normal(size=R * S * m)
    eta = 0.3 + 0.5 * x + 0.5 * rng.normal(size=R)[region] + 0.3 * rng.normal(size=R * S)[site]
    df = pd.DataFrame({"y": rng.poisson(np.exp(eta)).astype(float), "x": x,
                       "region": region, "site": site, "zone": region // 5})
    text = "y x || region: || site:"
    r_mem = smf.mepoisson(text, data=df, vce="cluster zone").fit()
    r_dask = smf.mepoisson(text, data=by_cluster(df, "region", 2), vce="cluster zone").fit()
    # the meat at the in-memory estimates: the in-memory clusters' scores, summed by zone
    x = np.asarray(r_mem.params_internal)
    free = np.arange(len(x))
    obj = r_mem.model.objective
    _, scores = obj.contributions(x)
    by_code = cluster_groups(df.region.to_numpy(), df.zone.to_numpy(), "region", "zone")
    B_mem, n_mem = score_products(scores, by_code[obj.cluster_order(R)])
    B_dask, n_dask = summed_products(r_dask.model.parts, (x, free), True)
    np.testing.assert_allclose(B_dask, B_mem, rtol=1e-11, atol=1e-12 * np.abs(B_mem).max())
    assert n_dask == n_mem == 5
    # the standard errors: the nested fit's Hessian is by differences of the summed gradient,
    # whose rounding differs from the in-memory sum's (~1e-8 relative in the SEs)
    assert_same_robust(r_mem, r_dask, rtol=1e-7)
    assert "adjusted for 5 clusters in zone" in r_dask.info.vce_note
