"""Weights in the GLMM kernels (``glmm_kernels.cluster_pass``, ``nested_kernels.nested_pass``)
through their engines, against exact identities: integer observation weights equal the rows
repeated, integer group weights equal the groups repeated as new groups -- log likelihood,
gradient and per-cluster values for every integration method, to rounding (1e-10).  Unit
weights equal no weights (the weighted code path against the unweighted one)."""
import numpy as np
import pytest

from statsmodels_me.objectives.glmm_nested_engine import NestedGLMM
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM

METHODS = ["laplace", "mvaghermite", "mcaghermite", "ghermite"]
FAMILIES = [("bernoulli", []), ("poisson", []), ("nbinomial_mean", [-0.5])]


def _response(rng, family, eta):
    if family == "bernoulli":
        return (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(float)
    return rng.poisson(np.exp(eta)).astype(float)


def _close(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-10)


def _one_level_data(seed, q):
    rng = np.random.default_rng(seed)
    G = 30
    g = np.repeat(np.arange(G), rng.integers(2, 8, size=G))
    n = g.size
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    Z = np.ones((n, 1)) if q == 1 else np.column_stack([np.ones(n), x])
    eta = 0.2 + 0.5 * x + 0.8 * rng.normal(size=G)[g]
    return rng, g, X, Z, eta


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family, aux", FAMILIES)
@pytest.mark.parametrize("q", [1, 2])
def test_one_level_weights_equal_replication(method, family, aux, q):
    rng, g, X, Z, eta = _one_level_data(q, q)
    y = _response(rng, family, eta)
    n, G = g.size, g.max() + 1
    beta = np.array([0.5, 0.2])
    L = np.array([[0.8]]) if q == 1 else np.array([[0.8, 0.0], [0.2, 0.4]])
    f = rng.integers(1, 4, size=n)
    rows = np.repeat(np.arange(n), f)
    a = OneLevelGLMM(y, X, Z, g, family, intmethod=method, intpoints=5, weights=f)
    b = OneLevelGLMM(y[rows], X[rows], Z[rows], g[rows], family, intmethod=method,
                     intpoints=5)
    _close(a.loglike_and_grad(beta, aux, L), b.loglike_and_grad(beta, aux, L))
    _close(a.loglike_and_grad_clusters(beta, aux, L), b.loglike_and_grad_clusters(beta, aux, L))
    cw = rng.integers(1, 3, size=G)
    copies = np.repeat(np.arange(G), cw)
    idx = np.concatenate([np.flatnonzero(g == j) for j in copies])
    gnew = np.repeat(np.arange(copies.size), [np.sum(g == j) for j in copies])
    c = OneLevelGLMM(y, X, Z, g, family, intmethod=method, intpoints=5, group_weights=cw[g])
    d = OneLevelGLMM(y[idx], X[idx], Z[idx], gnew, family, intmethod=method, intpoints=5)
    _close(c.loglike_and_grad(beta, aux, L), d.loglike_and_grad(beta, aux, L))


@pytest.mark.parametrize("method", METHODS)
def test_one_level_unit_weights_equal_none(method):
    rng, g, X, Z, eta = _one_level_data(7, 2)
    y = _response(rng, "bernoulli", eta)
    L = np.array([[0.8, 0.0], [0.2, 0.4]])
    a = OneLevelGLMM(y, X, Z, g, "bernoulli", intmethod=method,
                     weights=np.ones(g.size), group_weights=np.ones(g.size))
    b = OneLevelGLMM(y, X, Z, g, "bernoulli", intmethod=method)
    assert a.weighted and not b.weighted
    _close(a.loglike_and_grad([0.5, 0.2], [], L), b.loglike_and_grad([0.5, 0.2], [], L))


def _nested_data(seed):
    rng = np.random.default_rng(seed)
    A, B = 8, 3
    inner = np.repeat(np.arange(A * B), rng.integers(2, 6, size=A * B))
    top = inner // B
    n = inner.size
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    eta = 0.3 + 0.4 * x + 0.6 * rng.normal(size=A)[top] + 0.5 * rng.normal(size=A * B)[inner]
    return rng, top, inner, X, eta


def _copies(codes, weights):
    """Rows of every group repeated ``weights[group]`` times, each copy a new group."""
    idx, new = [], []
    k = 0
    for grp in range(codes.max() + 1):
        rows = np.flatnonzero(codes == grp)
        for _ in range(int(weights[grp])):
            idx.append(rows)
            new.append(np.full(rows.size, k))
            k += 1
    return np.concatenate(idx), np.concatenate(new)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family, aux", FAMILIES)
def test_nested_weights_equal_replication(method, family, aux):
    rng, top, inner, X, eta = _nested_data(3)
    y = _response(rng, family, eta)
    n = y.size
    Zs = [np.ones((n, 1)), np.ones((n, 1))]
    beta, L = np.array([0.4, 0.3]), np.diag([0.6, 0.5])

    def engine(rows, codes, **kw):
        return NestedGLMM(y[rows], X[rows], [Z[rows] for Z in Zs], codes, family,
                          intmethod=method, intpoints=5, **kw)
    every = np.arange(n)
    f = rng.integers(1, 4, size=n)
    rows = np.repeat(every, f)
    a = engine(every, [top, inner], weights=f)
    b = engine(rows, [top[rows], inner[rows]])
    _close(a.loglike_and_grad(beta, aux, L), b.loglike_and_grad(beta, aux, L))
    _close(a.loglike_and_grad_clusters(beta, aux, L), b.loglike_and_grad_clusters(beta, aux, L))
    # top-level weights: whole top clusters repeated (inner codes made distinct per copy)
    wa = rng.integers(1, 3, size=top.max() + 1)
    idx, new_top = _copies(top, wa)
    c = engine(every, [top, inner], level_weights=[wa[top], None])
    d = engine(idx, [new_top, new_top * 1000 + inner[idx]])
    _close(c.loglike_and_grad(beta, aux, L), d.loglike_and_grad(beta, aux, L))
    # inner-level weights: the groups repeated (Laplace: that of the replicated subtree)
    wb = rng.integers(1, 3, size=inner.max() + 1)
    idx, new_inner = _copies(inner, wb)
    e = engine(every, [top, inner], level_weights=[None, wb[inner]])
    h = engine(idx, [top[idx], new_inner])
    _close(e.loglike_and_grad(beta, aux, L), h.loglike_and_grad(beta, aux, L))
    _close(e.loglike_and_grad_clusters(beta, aux, L), h.loglike_and_grad_clusters(beta, aux, L))


def test_nested_fixed_part_is_weighted():
    # at L = 0 the likelihood is the weighted GLM: sum_i w_i w_a w_b l_i
    rng, top, inner, X, eta = _nested_data(4)
    y = _response(rng, "poisson", eta)
    n = y.size
    w, wa, wb = rng.uniform(0.5, 2, size=n), rng.uniform(0.5, 2, size=8), \
        rng.uniform(0.5, 2, size=24)
    e = NestedGLMM(y, X, [np.ones((n, 1))] * 2, [top, inner], "poisson", weights=w,
                   level_weights=[wa[top], wb[inner]])
    beta = np.array([0.4, 0.3])
    mu = np.exp(X @ beta)
    from scipy.special import gammaln
    expected = np.sum(w * wa[top] * wb[inner] * (y * np.log(mu) - mu - gammaln(y + 1)))
    assert e.loglike(beta, [], np.zeros((2, 2))) == pytest.approx(expected, rel=1e-12)
