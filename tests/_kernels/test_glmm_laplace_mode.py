"""The Laplace path of the two-level kernel for the canonical models (bernoulli/binomial logit,
poisson log), which finishes the mode search by a Taylor step instead of a new evaluation:
log likelihood and gradient agree to ~1e-12 with a numpy Laplace whose mode is solved to
machine precision, from cold and warm starts."""
import numpy as np
import pytest
from _glmm_testdata import simulate

from statsmodels_me.families import obs_constant
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM

CANONICAL = [("bernoulli", "logit"), ("binomial", "logit"), ("poisson", "log")]


def _l012(family, y, t, eta):
    """log f (variable part) and its first two eta-derivatives, canonical models."""
    if family == "poisson":
        mu = np.exp(eta)
        return y * eta - mu, y - mu, -mu
    mu = 1 / (1 + np.exp(-eta))
    return y * eta - t * np.logaddexp(0, eta), y - t * mu, -t * mu * (1 - mu)


def numpy_laplace(d, family, beta, L):
    """Sum over clusters of l(u^) - |u^|^2/2 - log|H|/2 (Newton to machine precision)."""
    total = 0.0
    y, t, X, Z, g = d["endog"], d["trials"], d["exog"], d["Z"], d["groups"]
    A = Z @ L
    for j in np.unique(g):
        k = g == j
        u = np.zeros(L.shape[0])
        for _ in range(100):
            eta = X[k] @ beta + A[k] @ u
            _, d1, d2 = _l012(family, y[k], t[k], eta)
            grad = A[k].T @ d1 - u
            H = np.eye(len(u)) - (A[k] * d2[:, None]).T @ A[k]
            step = np.linalg.solve(H, grad)
            u = u + step
            if np.max(np.abs(step)) < 1e-15:
                break
        eta = X[k] @ beta + A[k] @ u
        l0, _, d2 = _l012(family, y[k], t[k], eta)
        H = np.eye(len(u)) - (A[k] * d2[:, None]).T @ A[k]
        total += l0.sum() - 0.5 * u @ u - 0.5 * np.linalg.slogdet(H)[1]
    return total + obs_constant(family, y, t, [])[0].sum()


def _engine(d, family, link):
    return OneLevelGLMM(d["endog"], d["exog"], d["Z"], d["groups"], family, link,
                        trials=d["trials"], intmethod="laplace")


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", CANONICAL)
def test_laplace_matches_numpy_to_machine_precision(family, link, q):
    d = simulate(family, link, q=q, G=6, nj=9, seed=4)
    m = _engine(d, family, link)
    # a sequence of warm-started calls, then the same points on fresh engines
    for s, shift in [(1.0, 0.0), (1.3, 0.05), (0.7, -0.1), (0.7, -0.1 + 1e-7)]:
        beta, L = d["beta"] + shift, s * d["L"]
        ref = numpy_laplace(d, family, beta, L)
        assert m.loglike(beta, [], L) == pytest.approx(ref, rel=1e-13, abs=1e-11)
        assert _engine(d, family, link).loglike(beta, [], L) == pytest.approx(
            ref, rel=1e-13, abs=1e-11)


@pytest.mark.parametrize("family,link", CANONICAL)
def test_laplace_gradient_matches_differences_of_the_numpy_laplace(family, link):
    d = simulate(family, link, q=2, G=6, nj=9, seed=5)
    beta, L = d["beta"], d["L"]
    _, gb, _, gL = _engine(d, family, link).loglike_and_grad(beta, [], L)
    h = 1e-5
    for i in range(2):
        e = np.eye(2)[i] * h
        fd = (numpy_laplace(d, family, beta + e, L) - numpy_laplace(d, family, beta - e, L)) \
            / (2 * h)
        assert gb[i] == pytest.approx(fd, rel=1e-7, abs=1e-8)
    for a, b in [(0, 0), (1, 0), (1, 1)]:
        E = np.zeros((2, 2))
        E[a, b] = h
        fd = (numpy_laplace(d, family, beta, L + E) - numpy_laplace(d, family, beta, L - E)) \
            / (2 * h)
        assert gL[a, b] == pytest.approx(fd, rel=1e-7, abs=1e-8)


@pytest.mark.parametrize("family,link", CANONICAL)
def test_predicted_warm_starts_do_not_change_results(family, link):
    """The modes are predicted from the previous pass's derivatives (small moves), skipped
    for large ones, and the prediction state survives empirical Bayes calls that use a
    copy of the modes: every value equals a fresh engine's to 1e-13."""
    d = simulate(family, link, q=2, G=8, nj=7, seed=9)
    m = _engine(d, family, link)
    steps = [(0.0, 1.0), (1e-4, 1.0), (2e-4, 1.001), (1.5, 1.0), (1.5, 0.4), (1.49, 0.41)]
    for shift, s in steps:
        beta, L = d["beta"] + shift, s * d["L"]
        m.ebmodes(d["beta"], [], 2.0 * d["L"])
        got = m.loglike_and_grad(beta, [], L)
        fresh = _engine(d, family, link).loglike_and_grad(beta, [], L)
        assert got[0] == pytest.approx(fresh[0], rel=1e-13)
        np.testing.assert_allclose(got[1], fresh[1], rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(got[3], fresh[3], rtol=1e-10, atol=1e-11)
