"""Marginal log likelihood of two-level GLMMs from the Cython integrators.

References: (1) brute-force integrals per cluster with scipy.integrate.quad / dblquad of
scipy.stats densities (``reference_logpdf``), independent of the kernels; (2) the slow numpy
implementation of the same quadrature formulas in ``statsmodels_me._kernels.quadrature``;
(3) the adaptive rules at 30 points as the accuracy yardstick for 7 points.
"""
import numpy as np
import pytest
from _glmm_testdata import COMBOS, simulate
from scipy import integrate, optimize, stats
from scipy.special import logsumexp

from statsmodels_me._kernels.quadrature import reference_cluster_loglike
from statsmodels_me.families import reference_logpdf
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM


def _engine(d, family, link, method, points):
    return OneLevelGLMM(d["endog"], d["exog"], d["Z"], d["groups"], family, link,
                        trials=d["trials"], intmethod=method, intpoints=points)


def _cluster_logdens(d, family, link, j):
    """u (q,) -> sum_i log f(y_i | eta_i(u)) for cluster j, from scipy.stats."""
    idx = d["groups"] == j
    eta0 = d["exog"][idx] @ d["beta"]
    A = d["Z"][idx] @ d["L"]
    y, t = d["endog"][idx], d["trials"][idx]

    def logdens(u):
        return reference_logpdf(family, link, y, eta0 + A @ np.atleast_1d(u), t,
                                d["aux"]).sum()
    return logdens


def _brute_force(d, family, link):
    """q = 1: adaptive scipy quad on [-12, 12] split at the mode; q = 2: a 60 x 60
    Gauss-Hermite product rule written here with numpy (independent of the kernels)."""
    total = 0.0
    q = d["Z"].shape[1]
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / np.sqrt(2 * np.pi)
    for j in range(d["groups"].max() + 1):
        f = _cluster_logdens(d, family, link, j)
        if q == 1:
            mode = optimize.minimize_scalar(lambda u, f=f: -f(u) + 0.5 * u * u,
                                            bounds=(-12, 12), method="bounded",
                                            options={"xatol": 1e-10}).x
            shift = f(mode)
            val = integrate.quad(
                lambda u, f=f, shift=shift: np.exp(f(u) - shift) * stats.norm.pdf(u),
                -12, 12, points=[mode], epsabs=0, epsrel=1e-13, limit=500)[0]
            total += shift + np.log(val)
        else:
            vals = np.array([[f(np.array([u1, u2])) for u2 in x] for u1 in x])
            total += logsumexp(vals + np.log(w)[:, None] + np.log(w)[None, :])
    return total


# gaussian-log is left out of the non-adaptive check: its posteriors are far narrower than the
# prior, where non-adaptive Gauss-Hermite does not converge at 60 points (the adaptive test below
# covers it).
@pytest.mark.parametrize("family,link", [c for c in COMBOS if c != ("gaussian", "log")])
def test_ghermite_vs_brute_force_q1(family, link):
    d = simulate(family, link, q=1, seed=11)
    ll = _engine(d, family, link, "ghermite", 60).loglike(d["beta"], d["aux"], d["L"])
    assert ll == pytest.approx(_brute_force(d, family, link), rel=1e-8)


@pytest.mark.parametrize("family,link", COMBOS)
def test_mvaghermite_vs_brute_force_q1(family, link):
    d = simulate(family, link, q=1, seed=11)
    ll = _engine(d, family, link, "mvaghermite", 30).loglike(d["beta"], d["aux"], d["L"])
    assert ll == pytest.approx(_brute_force(d, family, link), rel=1e-8)


@pytest.mark.parametrize("family,link", [
    ("gaussian", "identity"), ("bernoulli", "logit"), ("binomial", "probit"),
    ("poisson", "log"), ("nbinomial_mean", "log"), ("nbinomial_constant", "log"),
    ("gamma", "log"), ("ordinal", "logit"), ("ordinal", "cloglog")])
def test_ghermite_vs_brute_force_q2(family, link):
    d = simulate(family, link, q=2, G=3, nj=4, seed=5)
    ref = _brute_force(d, family, link)
    for method, points in [("ghermite", 50), ("mvaghermite", 20)]:
        ll = _engine(d, family, link, method, points).loglike(d["beta"], d["aux"], d["L"])
        assert ll == pytest.approx(ref, rel=1e-8), method


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", [
    ("bernoulli", "logit"), ("binomial", "cloglog"), ("poisson", "log"),
    ("gamma", "log"), ("ordinal", "probit")])
def test_kernels_match_numpy_reference(family, link, q):
    """Cython kernels reproduce the numpy reference of the same formulas."""
    d = simulate(family, link, q=q, G=4, nj=6, seed=2)
    for method, points in [("laplace", 1), ("mcaghermite", 5), ("mvaghermite", 5),
                           ("ghermite", 9)]:
        ll = _engine(d, family, link, method, points).loglike(d["beta"], d["aux"], d["L"])
        ref = sum(reference_cluster_loglike(_cluster_logdens(d, family, link, j), q, method,
                                            points)
                  for j in range(4))
        # the numpy reference finds the mode by BFGS and H by finite differences
        assert ll == pytest.approx(ref, rel=1e-7, abs=1e-7), method


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", COMBOS[::2])
def test_adaptive_7_points_close_to_30(family, link, q):
    d = simulate(family, link, q=q, G=6, nj=8, seed=7)
    args = (d["beta"], d["aux"], d["L"])
    ref = _engine(d, family, link, "mvaghermite", 30 if q == 1 else 20).loglike_clusters(*args)
    for method in ("mvaghermite", "mcaghermite"):
        # each cluster's contribution within 1e-4 (the 7-point rule's error accumulates
        # over clusters; e.g. nbinomial_constant-log, q = 1 has 1.3e-4 in total)
        got = _engine(d, family, link, method, 7).loglike_clusters(*args)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4, err_msg=method)


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family,link", COMBOS[1::3])
def test_laplace_equals_one_point_mcaghermite(family, link, q):
    """Laplace is mode-centred quadrature with one node; the kernel's generic grid path
    (method code 1 with a 1-point grid) must agree with its Laplace path (code 3)."""
    d = simulate(family, link, q=q, G=6, nj=8, seed=8)
    args = (d["beta"], d["aux"], d["L"])
    lap = _engine(d, family, link, "laplace", 1)
    mc = _engine(d, family, link, "mcaghermite", 1)
    mc._method = 1  # bypass the engine's redirection of mcaghermite(1) to the Laplace path
    assert mc.loglike(*args) == pytest.approx(lap.loglike(*args), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("method,points", [("laplace", 1), ("mvaghermite", 7),
                                           ("mcaghermite", 7), ("ghermite", 7)])
def test_zero_variance_is_the_glm_loglike(method, points):
    """With Sigma = 0 every rule returns the fixed-effects log likelihood exactly
    (reference: scipy.stats densities summed); unused cluster codes contribute 0."""
    d = simulate("binomial", "probit", q=2, G=5, nj=6, seed=9)
    d["groups"] = np.where(d["groups"] == 2, 7, d["groups"])  # codes 2, 5, 6 unused
    ref = reference_logpdf("binomial", "probit", d["endog"], d["exog"] @ d["beta"],
                           d["trials"]).sum()
    m = _engine(d, "binomial", "probit", method, points)
    assert m.loglike(d["beta"], d["aux"], np.zeros((2, 2))) == pytest.approx(ref, rel=1e-12)
    assert m.n_groups == 8


def test_one_update_per_call_converges_to_the_fixed_point():
    """maxiter = 1 (Stata-style single adaptive update per call): repeated calls at the same
    parameters approach the fixed-point value of the default iteration."""
    d = simulate("poisson", "log", q=2, G=6, nj=8, seed=3)
    args = (d["beta"], d["aux"], d["L"])
    ref = _engine(d, "poisson", "log", "mvaghermite", 7).loglike(*args)
    m = _engine(d, "poisson", "log", "mvaghermite", 7)
    m.maxiter = 1
    vals = [m.loglike(*args) for _ in range(40)]
    assert vals[-1] == pytest.approx(ref, abs=1e-9)
    assert not m.status.any()


def test_three_random_effects():
    """q = 3: the adaptive rules agree with a fine non-adaptive grid (35^3 nodes), and an
    offset is the same as shifting the linear predictor."""
    rng = np.random.default_rng(12)
    G, nj = 5, 6
    n = G * nj
    groups = np.repeat(np.arange(G), nj)
    X = np.column_stack([np.ones(n), rng.uniform(-1, 1, n)])
    Z = np.column_stack([np.ones(n), rng.uniform(-1, 1, (n, 2))])
    y = rng.poisson(np.exp(0.3 + 0.2 * X[:, 1])).astype(float)
    L = np.array([[0.5, 0, 0], [0.1, 0.3, 0], [-0.1, 0.05, 0.25]])
    beta = np.array([0.3, 0.2])

    def model(method, points, offset=None):
        return OneLevelGLMM(y, X, Z, groups, "poisson", offset=offset, intmethod=method,
                            intpoints=points)

    ref = model("ghermite", 35).loglike(beta, [], L)
    for method in ("mvaghermite", "mcaghermite"):
        assert model(method, 15).loglike(beta, [], L) == pytest.approx(ref, abs=1e-7)
        assert model(method, 9).loglike(beta, [], L) == pytest.approx(ref, abs=1e-5)
    off = rng.uniform(-0.5, 0.5, n)
    shifted = OneLevelGLMM(y, np.column_stack([X, off]), Z, groups, "poisson",
                           intmethod="laplace")
    assert model("laplace", 1, offset=off).loglike(beta, [], L) == pytest.approx(
        shifted.loglike(np.append(beta, 1.0), [], L), rel=1e-12)


@pytest.mark.parametrize("method,points", [("laplace", 1), ("mvaghermite", 7),
                                           ("mcaghermite", 7)])
def test_warm_state_does_not_change_results(method, points):
    """Results after a sequence of calls with very different L (state carried over in the b
    scale) equal those of a fresh engine."""
    d = simulate("bernoulli", "logit", q=2, G=8, nj=10, seed=6)
    m = _engine(d, "bernoulli", "logit", method, points)
    for s in (0.1, 3.0, 0.5, 1.0):
        got = m.loglike(d["beta"], d["aux"], s * d["L"])
        fresh = _engine(d, "bernoulli", "logit", method, points).loglike(
            d["beta"], d["aux"], s * d["L"])
        assert got == pytest.approx(fresh, abs=1e-9)


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("family", ["bernoulli", "binomial"])
def test_logit_grid_path_matches_numpy_reference_tightly(family, q):
    """The logit quadrature nodes skip l'' and take one log per product of factors
    1 + exp(-|eta|): ghermite (a fixed grid, the same formula as the numpy reference) agrees
    to 1e-12, and the fixed-grid gradient to central differences of it."""
    d = simulate(family, "logit", q=q, G=5, nj=12, seed=13)
    m = _engine(d, family, "logit", "ghermite", 9)
    got = m.loglike_clusters(d["beta"], d["aux"], d["L"])
    ref = [reference_cluster_loglike(_cluster_logdens(d, family, "logit", j), q, "ghermite", 9)
           for j in range(5)]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    _, gb, _, _ = m.loglike_and_grad(d["beta"], d["aux"], d["L"])
    h = 1e-6
    for i in range(2):
        e = np.eye(2)[i] * h
        fd = (m.loglike(d["beta"] + e, d["aux"], d["L"])
              - m.loglike(d["beta"] - e, d["aux"], d["L"])) / (2 * h)
        assert gb[i] == pytest.approx(fd, rel=1e-7)
