"""Nested GLMM kernels (``nested_kernels`` via ``NestedGLMM``) against independent references:
brute-force nested integrals (200 x 200 Gauss-Legendre), a dense numpy joint Laplace
approximation, and the two-level engine on one-level designs."""
import numpy as np
import pytest
from scipy import optimize, special, stats

from statsmodels_me.objectives.glmm_nested_engine import NestedGLMM, nesting_order
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM
from statsmodels_me.spec.errors import DataError


def _tiny_logit(seed=2):
    """2 schools x 2 classes x 3 rows, binary outcome, shuffled rows."""
    rng = np.random.default_rng(seed)
    S, C, m = 2, 2, 3
    n = S * C * m
    school = np.repeat(np.arange(S), C * m)
    klass = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    y = (rng.random(n) < 0.5).astype(float)
    perm = rng.permutation(n)
    return y[perm], X[perm], school[perm], klass[perm]


def _brute_force(logf, eta, school, klass, s1, s2, npts=200):
    """log prod_s int phi(u) prod_c int phi(v) prod_i f_i(eta_i + s1 u + s2 v) dv du by a
    200-point Gauss-Legendre rule on [-10, 10] in each dimension (scipy.special)."""
    z, w = special.roots_legendre(npts)
    z, w = 10 * z, 10 * w * stats.norm.pdf(10 * z)
    total = 0.0
    for s in np.unique(school):
        log_outer = np.log(w)
        for c in np.unique(klass[school == s]):
            r = klass == c
            e = eta[r][None, None, :] + s1 * z[:, None, None] + s2 * z[None, :, None]
            inner = np.exp(logf(e, r).sum(-1)) @ w
            log_outer = log_outer + np.log(inner)
        total += np.log(np.exp(log_outer).sum())
    return total


def _logit_logf(y):
    def logf(e, r):
        return y[r] * e - np.log1p(np.exp(e))
    return logf


@pytest.fixture(scope="module")
def tiny():
    y, X, school, klass = _tiny_logit()
    beta, s1, s2 = np.array([0.7, -0.3]), 0.9, 1.2
    return y, X, school, klass, beta, s1, s2, _brute_force(_logit_logf(y), X @ beta, school,
                                                            klass, s1, s2)


@pytest.mark.parametrize("method,points,tol", [
    ("ghermite", 30, 1e-9), ("mvaghermite", 15, 1e-9), ("mcaghermite", 15, 1e-8),
    ("mvaghermite", 7, 5e-5), ("mcaghermite", 7, 5e-5)])
def test_quadrature_vs_brute_force(tiny, method, points, tol):
    # reference: nested Gauss-Legendre integral of the same model (_brute_force)
    y, X, school, klass, beta, s1, s2, ref = tiny
    one = np.ones((len(y), 1))
    eng = NestedGLMM(y, X, [one, one], [school, klass], "bernoulli", "logit",
                     intmethod=method, intpoints=points)
    val = eng.loglike(beta, [], np.diag([s1, s2]))
    assert abs(val - ref) < tol
    assert np.all(eng.status == 0)
    # frozen grids reproduce the adapted value at the same parameters
    assert eng.loglike(beta, [], np.diag([s1, s2]), freeze_grid=True) == pytest.approx(
        val, abs=1e-12)


def _dense_laplace(y, X, Zs, codes, beta, Ls, top):
    """Joint Laplace approximation with a dense Hessian (numpy), one top cluster at a time."""
    total = 0.0
    for t in np.unique(codes[0]):
        r = codes[0] == t
        cols = []
        for Z, c, L in zip(Zs, codes, Ls, strict=True):
            A = Z[r] @ L
            for g in np.unique(c[r]):
                cols.append(A * (c[r] == g)[:, None])
        W = np.hstack(cols)
        eta0 = X[r] @ beta

        def negg(u, W=W, eta0=eta0, r=r):
            e = eta0 + W @ u
            return -(np.sum(y[r] * e - np.log1p(np.exp(e))) - 0.5 * u @ u)

        def grad(u, W=W, eta0=eta0, r=r):
            p = 1 / (1 + np.exp(-(eta0 + W @ u)))
            return -(W.T @ (y[r] - p) - u)
        res = optimize.minimize(negg, np.zeros(W.shape[1]), jac=grad, method="BFGS",
                                options={"gtol": 1e-11})
        p = 1 / (1 + np.exp(-(eta0 + W @ res.x)))
        H = np.eye(W.shape[1]) + W.T @ (W * (p * (1 - p))[:, None])
        total += -res.fun - 0.5 * np.linalg.slogdet(H)[1]
    return total


def test_laplace_four_levels_random_slopes_vs_dense():
    # reference: dense numpy Laplace (_dense_laplace); 4 nested levels, 2 effects (slope and
    # intercept, correlated) at the second level, so the block elimination has q_k > 1 blocks
    rng = np.random.default_rng(5)
    n = 240
    l1 = rng.integers(0, 3, n)
    l2 = l1 * 3 + rng.integers(0, 3, n)
    l3 = l2 * 2 + rng.integers(0, 2, n)
    l4 = l3 * 2 + rng.integers(0, 2, n)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + x + rng.normal(size=24)[l2 % 24])))) * 1.0
    one = np.ones((n, 1))
    Zs = [one, np.column_stack([x, one]), one, one]
    codes = [l1, l2, l3, l4]
    Ls = [np.array([[0.5]]), np.array([[0.4, 0.0], [0.3, 0.7]]), np.array([[0.6]]),
          np.array([[0.3]])]
    beta = np.array([0.8, -0.2])
    eng = NestedGLMM(y, X, Zs, codes, "bernoulli", "logit", intmethod="laplace")
    from scipy.linalg import block_diag
    val = eng.loglike(beta, [], block_diag(*Ls))
    ref = _dense_laplace(y, X, Zs, codes, beta, Ls, 0)
    assert val == pytest.approx(ref, abs=1e-7)


@pytest.mark.parametrize("method", ["laplace", "ghermite", "mcaghermite", "mvaghermite"])
def test_one_level_equals_two_level_engine(method):
    # reference: the two-level engine (OneLevelGLMM) on the same data, 2 correlated effects
    rng = np.random.default_rng(1)
    G = 30
    n = G * 8
    g = np.repeat(np.arange(G), 8)
    rng.shuffle(g)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x + rng.normal(size=G)[g])))).astype(float)
    L = np.array([[0.5, 0], [0.3, 0.8]])
    b = np.array([0.4, -0.2])
    e1 = OneLevelGLMM(y, X, X, g, "bernoulli", "logit", intmethod=method, intpoints=5)
    e2 = NestedGLMM(y, X, [X], [g], "bernoulli", "logit", intmethod=method, intpoints=5)
    assert e2.loglike(b, [], L) == pytest.approx(e1.loglike(b, [], L), abs=1e-9)


def test_ordinal_three_levels_quadrature_vs_brute_force():
    # reference: nested Gauss-Legendre integral (_brute_force) of an ordered probit
    rng = np.random.default_rng(9)
    school = np.repeat([0, 1], 6)
    klass = np.repeat([0, 1, 2, 3], 3)
    x = rng.normal(size=12)
    y = rng.integers(0, 3, 12).astype(float)
    cuts = np.array([-0.4, 0.6])
    s1, s2, b = 0.5, 0.8, 0.3

    def cellp(e, yy):
        up = np.where(yy >= 2, np.inf, cuts[np.minimum(yy, 1).astype(int)])
        lo = np.where(yy <= 0, -np.inf, cuts[np.maximum(yy - 1, 0).astype(int)])
        return stats.norm.cdf(up - e) - stats.norm.cdf(lo - e)
    def logf(e, r):
        with np.errstate(divide="ignore"):  # P = 0 far in the tails, weight ~ 0 there
            return np.log(cellp(e, y[r]))
    ref = _brute_force(logf, b * x, school, klass, s1, s2)
    one = np.ones((12, 1))
    eng = NestedGLMM(y, x[:, None], [one, one], [school, klass], "ordinal", "probit",
                     intmethod="mvaghermite", intpoints=20)
    assert eng.loglike([b], cuts, np.diag([s1, s2])) == pytest.approx(ref, abs=1e-9)


def test_not_nested_raises():
    with pytest.raises(DataError, match="not nested"):
        nesting_order([np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])])


def test_zero_covariance_is_fixed_effects_model():
    # with L = 0 the marginal likelihood is the fixed-effects likelihood; gradient analytic
    y, X, school, klass = _tiny_logit()
    one = np.ones((len(y), 1))
    eng = NestedGLMM(y, X, [one, one], [school, klass], "bernoulli", "logit")
    beta = np.array([0.2, 0.1])
    p = 1 / (1 + np.exp(-X @ beta))
    llf, gb, _, _ = eng.loglike_and_grad(beta, [], np.zeros((2, 2)))
    assert llf == pytest.approx(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)), abs=1e-12)
    assert np.allclose(gb, X.T @ (y - p), atol=1e-12)


@pytest.mark.parametrize("family,link,aux", [
    ("bernoulli", "logit", []), ("poisson", "log", []), ("ordinal", "probit", [-0.5, 0.7]),
    ("nbinomial_mean", "log", [np.log(0.5)])])
def test_laplace_gradient_vs_finite_differences(family, link, aux):
    # reference: central differences of the Laplace log likelihood (step 1e-6); three levels
    # with a correlated 2 x 2 block in the middle
    from scipy.linalg import block_diag
    rng = np.random.default_rng(5)
    n = 240
    l1 = rng.integers(0, 3, n)
    l2 = l1 * 3 + rng.integers(0, 3, n)
    l3 = l2 * 2 + rng.integers(0, 2, n)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    one = np.ones((n, 1))
    y = {"bernoulli": (rng.random(n) < 0.5) * 1.0, "ordinal": rng.integers(0, 3, n) * 1.0}.get(
        family, rng.poisson(1.5, n) * 1.0)
    L = block_diag([[0.5]], [[0.4, 0.0], [0.3, 0.7]], [[0.6]])
    eng = NestedGLMM(y, X, [one, np.column_stack([x, one]), one], [l1, l2, l3], family, link,
                     intmethod="laplace")
    b, aux = np.array([0.3, 0.1]), np.array(aux, float)
    _, gb, ga, gL = eng.loglike_and_grad(b, aux, L)
    h = 1e-6

    def d(fun, k):
        return np.array([(fun(h * e) - fun(-h * e)) / (2 * h) for e in np.eye(k)])
    assert np.allclose(gb, d(lambda s: eng.loglike(b + s, aux, L), 2), atol=2e-6)
    if aux.size:
        assert np.allclose(ga, d(lambda s: eng.loglike(b, aux + s, L), aux.size), atol=2e-6)
    for a, c in [(0, 0), (1, 1), (2, 1), (2, 2), (3, 3)]:
        E = np.zeros_like(L)
        E[a, c] = h
        num = (eng.loglike(b, aux, L + E) - eng.loglike(b, aux, L - E)) / (2 * h)
        assert gL[a, c] == pytest.approx(num, abs=2e-6)
    assert gL[1, 0] == 0 and gL[3, 2] == 0  # outside the level blocks


@pytest.mark.parametrize("method", ["laplace", "mvaghermite"])
def test_two_threads_same_result(method):
    # top-level clusters are independent: OpenMP over them must not change any number
    rng = np.random.default_rng(4)
    n = 600
    l1 = rng.integers(0, 20, n)
    l2 = l1 * 4 + rng.integers(0, 4, n)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    y = rng.poisson(np.exp(0.2 + 0.3 * x)) * 1.0
    one = np.ones((n, 1))
    L = np.diag([0.4, 0.6])
    out = []
    for threads in (1, 2):
        eng = NestedGLMM(y, X, [one, one], [l1, l2], "poisson", "log", intmethod=method)
        eng.nthreads = threads
        out.append(eng.loglike_and_grad(np.array([0.3, 0.1]), [], L))
    assert out[0][0] == out[1][0]
    assert np.array_equal(out[0][1], out[1][1]) and np.array_equal(out[0][3], out[1][3])


def _brute_force_eb(y, eta, school, klass, s1, s2, npts=200):
    """Posterior means and variances of the school and class effects (b scale) by the same
    200 x 200 Gauss-Legendre rule as ``_brute_force``; dicts keyed by group code."""
    z, w = special.roots_legendre(npts)
    z, w = 10 * z, 10 * w * stats.norm.pdf(10 * z)
    means, variances = {}, {}
    for s in np.unique(school):
        classes = np.unique(klass[school == s])
        inner = {}
        for c in classes:
            r = klass == c
            e = eta[r][None, None, :] + s1 * z[:, None, None] + s2 * z[None, :, None]
            lik = np.exp((y[r] * e - np.log1p(np.exp(e))).sum(-1))  # (u, v)
            inner[c] = (lik @ w, lik @ (w * z), lik @ (w * z * z))
        marg = np.prod([inner[c][0] for c in classes], axis=0)  # prod_c I_c(u)
        tot = marg @ w
        pu = w * marg / tot
        means[("school", s)] = s1 * (pu @ z)
        variances[("school", s)] = s1 ** 2 * (pu @ z ** 2 - (pu @ z) ** 2)
        for c in classes:
            m1 = pu @ (inner[c][1] / inner[c][0])
            m2 = pu @ (inner[c][2] / inner[c][0])
            means[("class", c)] = s2 * m1
            variances[("class", c)] = s2 ** 2 * (m2 - m1 ** 2)
    return means, variances


@pytest.mark.parametrize("method,points", [("mvaghermite", 25), ("ghermite", 40)])
def test_ebmeans_vs_brute_force(tiny, method, points):
    # reference: posterior moments by nested Gauss-Legendre integration (_brute_force_eb)
    y, X, school, klass, beta, s1, s2, _ = tiny
    one = np.ones((len(y), 1))
    eng = NestedGLMM(y, X, [one, one], [school, klass], "bernoulli", "logit",
                     intmethod=method, intpoints=points)
    (ms, vs), (mc, vc) = eng.ebmeans_levels(beta, [], np.diag([s1, s2]))
    means, variances = _brute_force_eb(y, X @ beta, school, klass, s1, s2)
    for k, (m, v) in enumerate([(ms, vs), (mc, vc)]):
        lab = ("school", "class")[k]
        for g, code in enumerate(eng.group_codes(k)):
            assert m[g, 0] == pytest.approx(means[(lab, code)], abs=1e-8)
            assert v[g, 0, 0] == pytest.approx(variances[(lab, code)], abs=1e-8)


def test_ebmodes_are_the_joint_mode():
    # reference: the dense joint Laplace of _dense_laplace's construction (numpy BFGS mode)
    y, X, school, klass = _tiny_logit()
    one = np.ones((len(y), 1))
    eng = NestedGLMM(y, X, [one, one], [school, klass], "bernoulli", "logit",
                     intmethod="laplace")
    beta, L = np.array([0.7, -0.3]), np.diag([0.9, 1.2])
    (ms, vs), (mc, vc) = eng.ebmodes_levels(beta, [], L)
    for s_idx, s in enumerate(eng.group_codes(0)):
        r = school == s
        cls = list(eng.group_codes(1)[eng.parents[1] == s_idx])
        W = np.column_stack([0.9 * np.ones(r.sum())] + [1.2 * (klass[r] == c) for c in cls])

        def negg(u, W=W, r=r):
            e = X[r] @ beta + W @ u
            return -(np.sum(y[r] * e - np.log1p(np.exp(e))) - 0.5 * u @ u)
        u = optimize.minimize(negg, np.zeros(W.shape[1]), method="BFGS",
                              options={"gtol": 1e-11}).x
        p = 1 / (1 + np.exp(-(X[r] @ beta + W @ u)))
        Hinv = np.linalg.inv(np.eye(W.shape[1]) + W.T @ (W * (p * (1 - p))[:, None]))
        assert ms[s_idx, 0] == pytest.approx(0.9 * u[0], abs=1e-6)
        assert vs[s_idx, 0, 0] == pytest.approx(0.81 * Hinv[0, 0], abs=1e-8)
        for j, c in enumerate(cls):
            g = list(eng.group_codes(1)).index(c)
            assert mc[g, 0] == pytest.approx(1.2 * u[j + 1], abs=1e-6)
            assert vc[g, 0, 0] == pytest.approx(1.44 * Hinv[j + 1, j + 1], abs=1e-8)


@pytest.mark.parametrize("method", ["ghermite", "mcaghermite", "mvaghermite"])
@pytest.mark.parametrize("family,link,aux", [
    ("bernoulli", "logit", []), ("ordinal", "probit", [-0.5, 0.7]),
    ("nbinomial_mean", "log", [np.log(0.5)])])
def test_quadrature_gradient_vs_frozen_differences(method, family, link, aux):
    # reference: NestedGLMM.numerical_grad, central differences with the grids frozen
    from scipy.linalg import block_diag
    rng = np.random.default_rng(5)
    n = 240
    l1 = rng.integers(0, 3, n)
    l2 = l1 * 3 + rng.integers(0, 3, n)
    l3 = l2 * 2 + rng.integers(0, 2, n)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    one = np.ones((n, 1))
    y = {"bernoulli": (rng.random(n) < 0.5) * 1.0, "ordinal": rng.integers(0, 3, n) * 1.0}.get(
        family, rng.poisson(1.5, n) * 1.0)
    L = block_diag([[0.5]], [[0.4, 0.0], [0.3, 0.7]], [[0.6]])
    eng = NestedGLMM(y, X, [one, np.column_stack([x, one]), one], [l1, l2, l3], family, link,
                     intmethod=method, intpoints=4)
    b = np.array([0.3, 0.1])
    got, ref = eng.loglike_and_grad(b, aux, L), eng.numerical_grad(b, aux, L)
    assert got[0] == ref[0]
    for a, r in zip(got[1:], ref[1:], strict=True):
        assert np.allclose(a, r, atol=1e-7)
