"""Newton's method for the fixed-effects GLM: agrees with statsmodels' GLM and with the
quasi-Newton fit on the GLMM engine with no random effects (the path it replaces)."""
import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels_me._integrate.glmm_kernels import family_values, glm_score_info

from statsmodels_me.families.registry import FAMILY_CODES, link_code
from statsmodels_me.models.glm_newton import glm_newton
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM

LINKS = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit(),
         "cloglog": sm.families.links.CLogLog(), "log": sm.families.links.Log()}


def data(family, link, seed=0, n=400):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.uniform(size=n), np.ones(n)])
    eta = X @ np.array([0.6, -0.4, -0.2])
    off = rng.normal(scale=0.2, size=n)
    t = np.ones(n)
    if family == "poisson":
        y = rng.poisson(np.exp(eta + off)).astype(float)
    else:
        if family == "binomial":
            t = rng.integers(1, 6, size=n).astype(float)
        mu = LINKS[link].inverse(eta + off)
        y = rng.binomial(t.astype(int), mu).astype(float)
    return y, t, off, X


CASES = [("bernoulli", "logit"), ("bernoulli", "probit"), ("bernoulli", "cloglog"),
         ("binomial", "logit"), ("binomial", "cloglog"), ("poisson", "log")]


@pytest.mark.parametrize("family,link", CASES)
def test_glm_newton_matches_statsmodels_glm(family, link):
    y, t, off, X = data(family, link)
    beta, llf, it = glm_newton(family, link, y, t, off, X, np.zeros(3))
    if family == "poisson":
        ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=off).fit(tol=1e-13)
    else:
        ref = sm.GLM(np.column_stack([y, t - y]), X, offset=off,
                     family=sm.families.Binomial(link=LINKS[link])).fit(tol=1e-13)
    # statsmodels' IRLS stops on the deviance change: its estimates are the less exact
    np.testing.assert_allclose(beta, ref.params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(llf, ref.llf, rtol=1e-12)
    assert it < 15


@pytest.mark.parametrize("family,link", CASES)
def test_glm_newton_matches_the_engine_with_no_random_effects(family, link):
    y, t, off, X = data(family, link, seed=1, n=300)
    beta, llf, _ = glm_newton(family, link, y, t, off, X, np.zeros(3))
    groups = np.arange(len(y)) % 7
    eng = OneLevelGLMM(y, X, np.ones((len(y), 1)), groups, family, link, trials=t,
                       offset=off, intmethod="laplace")
    ll, gb, _, _ = eng.loglike_and_grad(beta, [], np.zeros((1, 1)))
    np.testing.assert_allclose(ll, llf, rtol=1e-13)
    assert np.max(np.abs(gb)) < 1e-7


def test_glm_score_info_matches_the_family_derivatives():
    y, t, off, X = data("binomial", "probit", seed=2, n=50)
    beta = np.array([0.3, 0.1, -0.5])
    fam, lk = FAMILY_CODES["binomial"], link_code("probit")
    g, info = np.empty(3), np.empty((3, 3))
    ll = glm_score_info(fam, lk, y, t, off, X, beta, np.zeros(0), g, info)
    l0, d1, d2, _, _ = family_values(fam, lk, y, t, X @ beta + off, np.zeros(0))
    assert ll == pytest.approx(l0.sum(), rel=1e-14)
    np.testing.assert_allclose(g, X.T @ d1, rtol=1e-12)
    np.testing.assert_allclose(info, -(X * d2[:, None]).T @ X, rtol=1e-12)
    # and the score is the derivative of the log likelihood
    h = 1e-6
    for j in range(3):
        e = np.eye(3)[j] * h
        lp = glm_score_info(fam, lk, y, t, off, X, beta + e, np.zeros(0), np.empty(3),
                            np.empty((3, 3)))
        lm = glm_score_info(fam, lk, y, t, off, X, beta - e, np.zeros(0), np.empty(3),
                            np.empty((3, 3)))
        assert (lp - lm) / (2 * h) == pytest.approx(g[j], rel=1e-6)


def test_glm_newton_under_complete_separation_drives_the_log_likelihood_to_zero():
    """What ``MEGLM._check_separation`` detects (or a failure, for the quasi-Newton fallback)."""
    x = np.linspace(-1, 1, 40)
    X = np.column_stack([x, np.ones(40)])
    y = (x > 0).astype(float)
    out = glm_newton("bernoulli", "logit", y, np.ones(40), np.zeros(40), X, np.zeros(2))
    assert out is None or abs(out[1]) < 1e-6


def test_glm_newton_reports_failure_on_a_singular_hessian():
    X = np.column_stack([np.ones(30), np.ones(30)])
    y = np.arange(30) % 2.0
    assert glm_newton("bernoulli", "logit", y, np.ones(30), np.zeros(30), X,
                      np.zeros(2)) is None


@pytest.mark.parametrize("family,link", [("bernoulli", "logit"), ("poisson", "log")])
def test_evaluate_hook_with_summed_halves_equals_the_whole_data(family, link):
    # the hook a distributed fit uses: log likelihood, constant, score and information
    # summed over parts of the data give the whole data's Newton iterations
    from statsmodels_me.models.glm_newton import glm_evaluator
    y, t, off, X = data(family, link, seed=2, n=300)
    halves = [glm_evaluator(family, link, y[s], t[s], off[s], X[s])
              for s in (slice(0, 130), slice(130, None))]

    def summed(beta):
        out = [h(beta) for h in halves]
        return tuple(sum(o[i] for o in out) for i in range(4))
    beta, llf, it = glm_newton(family, link, y, t, off, X, np.zeros(3))
    beta_s, llf_s, it_s = glm_newton(family, link, None, None, None, None, np.zeros(3),
                                     evaluate=summed)
    np.testing.assert_allclose(beta_s, beta, rtol=1e-12)
    assert llf_s == pytest.approx(llf, rel=1e-13)
    assert it_s == it
