"""Gradients of the GLMM engine against central finite differences of its own log likelihood.

Laplace and ghermite gradients are exact derivatives of the reported log likelihood.  For the
adaptive rules the gradient is that of the quadrature formula with the grid fixed in the u scale,
so it is compared with finite differences taken with ``freeze_grid=True``.
"""
import numpy as np
import pytest
from _glmm_testdata import COMBOS, simulate

from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM


def _engine(d, family, link, method, points):
    return OneLevelGLMM(d["endog"], d["exog"], d["Z"], d["groups"], family, link,
                        trials=d["trials"], intmethod=method, intpoints=points)


def _fd(m, beta, aux, L, freeze, h=1e-5):
    def f(b, a, LL):
        return m.loglike(b, a, LL, freeze_grid=freeze)

    gb = [(f(beta + h * e, aux, L) - f(beta - h * e, aux, L)) / (2 * h)
          for e in np.eye(beta.size)]
    ga = [(f(beta, aux + h * e, L) - f(beta, aux - h * e, L)) / (2 * h)
          for e in np.eye(aux.size)]
    gL = np.zeros_like(L)
    for a, b in zip(*np.tril_indices(L.shape[0]), strict=True):
        E = np.zeros_like(L)
        E[a, b] = h
        gL[a, b] = (f(beta, aux, L + E) - f(beta, aux, L - E)) / (2 * h)
    return np.array(gb), np.array(ga), gL


def _check(m, d, freeze):
    beta, aux, L = d["beta"], d["aux"], d["L"]
    ll, gb, ga, gL = m.loglike_and_grad(beta, aux, L)
    fb, fa, fL = _fd(m, beta, aux, L, freeze)
    np.testing.assert_allclose(gb, fb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ga, fa, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gL, fL, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", COMBOS)
def test_laplace_gradient_exact(family, link, q):
    d = simulate(family, link, q=q, G=6, nj=8, seed=4)
    _check(_engine(d, family, link, "laplace", 1), d, freeze=False)


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", COMBOS[::3])
def test_ghermite_gradient_exact(family, link, q):
    d = simulate(family, link, q=q, G=6, nj=8, seed=4)
    _check(_engine(d, family, link, "ghermite", 9), d, freeze=False)


@pytest.mark.parametrize("method", ["mvaghermite", "mcaghermite"])
@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", COMBOS[1::3])
def test_adaptive_gradient_fixed_grid(family, link, q, method):
    d = simulate(family, link, q=q, G=6, nj=8, seed=4)
    m = _engine(d, family, link, method, 5)
    m.loglike(d["beta"], d["aux"], d["L"])  # adapt the grid at these parameters
    _check(m, d, freeze=True)


def test_adaptive_gradient_close_to_total_derivative():
    """With the grid re-adapted at every evaluation the fixed-grid gradient differs from the
    finite-difference derivative only by a term of the order of the quadrature error."""
    d = simulate("bernoulli", "logit", q=2, G=6, nj=8, seed=4)
    m = _engine(d, "bernoulli", "logit", "mvaghermite", 7)
    ll, gb, ga, gL = m.loglike_and_grad(d["beta"], d["aux"], d["L"])
    fb, _, fL = _fd(m, d["beta"], d["aux"], d["L"], freeze=False)
    np.testing.assert_allclose(gb, fb, atol=1e-3)
    np.testing.assert_allclose(gL, fL, atol=1e-3)


def test_sigma_gradient_chain_rule():
    """d llf / d Sigma from the Cholesky-factor gradient matches finite differences of
    llf(chol(Sigma)) (Laplace, q = 2)."""
    from statsmodels_me.objectives.glmm_one_level_engine import sigma_gradient

    d = simulate("poisson", "log", q=2, G=6, nj=8, seed=4)
    m = _engine(d, "poisson", "log", "laplace", 1)
    S = d["L"] @ d["L"].T
    _, _, _, gL = m.loglike_and_grad(d["beta"], d["aux"], d["L"])
    G = sigma_gradient(d["L"], gL)
    h = 1e-6
    for a, b in [(0, 0), (1, 0), (1, 1)]:
        E = np.zeros((2, 2))
        E[a, b] = E[b, a] = h
        fd = (m.loglike(d["beta"], d["aux"], np.linalg.cholesky(S + E))
              - m.loglike(d["beta"], d["aux"], np.linalg.cholesky(S - E))) / (2 * h)
        assert np.sum(G * (E / h)) == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("method", ["laplace", "ghermite"])
def test_gradient_three_random_effects(method):
    rng = np.random.default_rng(5)
    G, nj = 6, 8
    n = G * nj
    d = dict(groups=np.repeat(np.arange(G), nj), exog=np.column_stack([np.ones(n),
             rng.uniform(-1, 1, n)]), Z=np.column_stack([np.ones(n), rng.uniform(-1, 1, (n, 2))]),
             trials=np.ones(n), beta=np.array([0.1, 0.4]), aux=np.zeros(0),
             L=np.array([[0.5, 0, 0], [0.1, 0.3, 0], [-0.1, 0.05, 0.25]]))
    d["endog"] = rng.binomial(1, 0.5, n).astype(float)
    _check(_engine(d, "bernoulli", "cloglog", method, 5), d, freeze=False)


def test_numerical_hessian_matches_second_differences():
    """Laplace: the Hessian from differences of the exact gradient agrees with second
    differences of the log likelihood itself."""
    d = simulate("poisson", "log", q=2, G=6, nj=8, seed=4)
    m = _engine(d, "poisson", "log", "laplace", 1)
    H = m.numerical_hessian(d["beta"], d["aux"], d["L"])
    rows, cols = np.tril_indices(2)
    x0 = np.concatenate([d["beta"], d["L"][rows, cols]])

    def f(x):
        LL = np.zeros((2, 2))
        LL[rows, cols] = x[2:]
        return m.loglike(x[:2], [], LL)

    h = 1e-3
    E = np.eye(x0.size) * h
    for i, j in [(0, 0), (0, 1), (1, 3), (2, 4), (4, 4)]:
        fd = (f(x0 + E[i] + E[j]) - f(x0 + E[i] - E[j]) - f(x0 - E[i] + E[j])
              + f(x0 - E[i] - E[j])) / (4 * h * h)
        assert H[i, j] == pytest.approx(fd, rel=1e-4, abs=1e-4)


def test_warm_start_from_a_distant_covariance_recovers():
    """A grid warm-started at a far-away covariance (q = 4, bangladesh example-5 design) used
    to stay stuck (status 2 in three districts, llf -1274.48 instead of -1206.10); the engine
    now redoes such a pass from a cold start. Reference: a fresh engine at the same point."""
    import statsmodels_me.formula.api as smf
    from statsmodels_me.datasets import load
    from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM

    m = smf.melogit("melogit c_use i.urban age i.children || district: i.children, "
                    "cov(exchangeable) || district:", data=load("bangladesh"))
    e = m.objective.engine

    def fresh():
        return OneLevelGLMM(e.endog, e.exog, e.Z, e._gsorted, "bernoulli", "logit",
                            intmethod="mvaghermite", intpoints=7)
    beta = np.array([0.74368, -0.026822, 1.08875, 1.364653, 1.330398, -1.681993])
    L = m.cov.cholesky(np.array([0.27461247, 0.81544459, 0.42911321]))
    want = fresh().loglike(beta, [], L)
    eng = fresh()
    eng.loglike(beta, [], m.cov.cholesky(2 * m.cov.theta_start()))
    assert eng.loglike(beta, [], L) == pytest.approx(want, rel=1e-10)
    assert not np.any(eng.status)
