"""The crossed Laplace kernel (block-eliminated PIRLS, log|H|, analytic gradient) against a
dense computation and finite differences, on small random crossed designs with vector and
scalar terms in both the block-diagonal and the dense part.

References: the Laplace value from a dense Newton for the mode (dense Z Lambda, full H,
``np.linalg.slogdet``) and scipy.stats log densities (``reference_logpdf``); the gradient from
central differences of the engine's own log likelihood.
"""
import numpy as np
import pytest
from statsmodels_me._kernels.family_eval import family_eval

from statsmodels_me.families.registry import FAMILY_CODES, link_code, reference_logpdf
from statsmodels_me.objectives.glmm_crossed_engine import CrossedLaplaceGLMM
from statsmodels_me.terms import RETerm

CASES = [("bernoulli", "logit", []), ("bernoulli", "probit", []), ("poisson", "log", []),
         ("nbinomial_mean", "log", [-0.7])]


def _problem(family, vector_first, seed=3):
    """n = 160 observations; a q = 2 term (12 groups) and two scalar terms (9 and 5 groups).

    With ``vector_first`` the q = 2 term is the largest (block-diagonal part); otherwise a
    scalar term with 30 groups is, and the q = 2 term sits in the dense part."""
    rng = np.random.default_rng(seed)
    n = 160
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    gv = rng.integers(0, 12 if vector_first else 6, n)
    ga = rng.integers(0, 9 if vector_first else 30, n)
    gb = rng.integers(0, 5, n)

    def term(codes, Z):
        codes = np.unique(codes, return_inverse=True)[1].astype(np.int64)
        return RETerm(codes, int(codes.max()) + 1, Z, None, np.array([], int))
    terms = [term(ga, np.ones((n, 1))), term(gv, np.column_stack([np.ones(n), x])),
             term(gb, np.ones((n, 1)))]
    lams = [np.array([[0.7]]), np.array([[0.6, 0.0], [-0.2, 0.35]]), np.array([[0.45]])]
    beta = np.array([0.2, 0.5, -0.3])
    eta = X @ beta + sum(np.einsum("ia,ia->i", t.Z @ lam,
                                   rng.normal(size=(t.n_groups, t.q))[t.codes])
                         for t, lam in zip(terms, lams))
    if family == "bernoulli":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return y, X, terms, lams, beta


def _dense_laplace(family, link, y, X, terms, lams, beta, aux):
    ZL = np.hstack([np.hstack([np.eye(t.n_groups)[t.codes] * (t.Z @ lam)[:, [a]]
                               for a in range(t.q)]) for t, lam in zip(terms, lams)])
    fam, lk = FAMILY_CODES[family], link_code(link)
    aux = np.asarray(aux, float)
    u = np.zeros(ZL.shape[1])
    for _ in range(100):
        _, d1, d2 = family_eval(fam, lk, y, np.ones(len(y)), X @ beta + ZL @ u, aux)
        H = ZL.T @ (-d2[:, None] * ZL) + np.eye(len(u))
        step = np.linalg.solve(H, ZL.T @ d1 - u)
        u = u + step
        if np.max(np.abs(step)) < 1e-13:
            break
    eta = X @ beta + ZL @ u
    _, _, d2 = family_eval(fam, lk, y, np.ones(len(y)), eta, aux)
    H = ZL.T @ (-d2[:, None] * ZL) + np.eye(len(u))
    return (reference_logpdf(family, link, y, eta, aux=aux).sum() - 0.5 * u @ u
            - 0.5 * np.linalg.slogdet(H)[1])


@pytest.mark.parametrize("vector_first", [True, False])
@pytest.mark.parametrize("family,link,aux", CASES)
def test_value_matches_dense_laplace(family, link, aux, vector_first):
    y, X, terms, lams, beta = _problem(family, vector_first)
    eng = CrossedLaplaceGLMM(y, X, terms, family, link)
    want = _dense_laplace(family, link, y, X, terms, lams, beta, aux)
    assert eng.loglike(beta, aux, lams=lams) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("vector_first", [True, False])
@pytest.mark.parametrize("family,link,aux", CASES)
def test_gradient_matches_central_differences(family, link, aux, vector_first):
    y, X, terms, lams, beta = _problem(family, vector_first)
    eng = CrossedLaplaceGLMM(y, X, terms, family, link)
    aux = np.asarray(aux, float)
    llf, gb, ga, gl = eng.gradient(beta, aux, lams)
    h = 1e-5

    def central(f, x):
        out = np.empty(len(x))
        for i in range(len(x)):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            out[i] = (f(xp) - f(xm)) / (2 * h)
        return out
    np.testing.assert_allclose(gb, central(lambda b: eng.loglike(b, aux, lams=lams), beta),
                               rtol=1e-6, atol=1e-6)
    if len(aux):
        np.testing.assert_allclose(
            ga, central(lambda a: eng.loglike(beta, a, lams=lams), aux), rtol=1e-6, atol=1e-6)
    for k, lam in enumerate(lams):
        rows, cols = np.tril_indices(lam.shape[0])

        def f(v, k=k, rows=rows, cols=cols):
            trial = [m.copy() for m in lams]
            trial[k][rows, cols] = v
            return eng.loglike(beta, aux, lams=trial)
        np.testing.assert_allclose(gl[k][rows, cols], central(f, lam[rows, cols]),
                                   rtol=1e-6, atol=1e-6)


def test_gradient_at_and_near_zero_variances():
    """Lambda = 0 (the fixed-effects model, variances at the boundary): the likelihood is
    even in each factor, so its gradient there is zero, and near zero the gradient matches
    the differences (no division by lambda)."""
    y, X, terms, lams, beta = _problem("bernoulli", True)
    eng = CrossedLaplaceGLMM(y, X, terms, "bernoulli", "logit")
    zero = [np.zeros_like(lam) for lam in lams]
    llf, gb, _, gl = eng.gradient(beta, [], zero)
    eta = X @ beta
    assert llf == pytest.approx(np.sum(y * eta - np.logaddexp(0, eta)), rel=1e-12)
    np.testing.assert_allclose(gb, X.T @ (y - 1 / (1 + np.exp(-eta))), rtol=1e-10)
    for k in range(len(lams)):
        np.testing.assert_allclose(gl[k], 0.0, atol=1e-10)
        near = [m.copy() for m in zero]
        near[k][0, 0] = 1e-3
        g = eng.gradient(beta, [], near)[3][k][0, 0]
        vals = []
        for d in (1e-6, -1e-6):
            trial = [m.copy() for m in near]
            trial[k][0, 0] += d
            vals.append(eng.loglike(beta, [], lams=trial))
        assert g == pytest.approx((vals[0] - vals[1]) / 2e-6, rel=1e-4, abs=1e-6)
        assert abs(g) > 1e-3


def test_profiled_beta_stage_matches_dense_joint_mode():
    """lme4's nAGQ=0 criterion: maximize over (u, beta), log|H| of the u-part only."""
    y, X, terms, lams, beta = _problem("bernoulli", False)
    theta_terms = [RETerm(t.codes, t.n_groups, t.Z, (lambda th, lam=lam: lam),
                           np.array([k])) for k, (t, lam) in enumerate(zip(terms, lams))]
    eng = CrossedLaplaceGLMM(y, X, theta_terms, "bernoulli", "logit")
    crit, b = eng.loglike_profiled_beta([], np.zeros(3), np.zeros(3))
    # dense joint Newton over (u, beta)
    ZL = np.hstack([np.hstack([np.eye(t.n_groups)[t.codes] * (t.Z @ lam)[:, [a]]
                               for a in range(t.q)]) for t, lam in zip(terms, lams)])
    r = ZL.shape[1]
    A = np.hstack([ZL, X])
    v = np.zeros(r + X.shape[1])
    for _ in range(100):
        mu = 1 / (1 + np.exp(-A @ v))
        pen = np.concatenate([np.ones(r), np.zeros(X.shape[1])])
        H = A.T @ ((mu * (1 - mu))[:, None] * A) + np.diag(pen)
        step = np.linalg.solve(H, A.T @ (y - mu) - pen * v)
        v = v + step
        if np.max(np.abs(step)) < 1e-13:
            break
    eta = A @ v
    mu = 1 / (1 + np.exp(-eta))
    Hu = ZL.T @ ((mu * (1 - mu))[:, None] * ZL) + np.eye(r)
    want = (np.sum(y * eta - np.logaddexp(0, eta)) - 0.5 * v[:r] @ v[:r]
            - 0.5 * np.linalg.slogdet(Hu)[1])
    assert crit == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(b, v[r:], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("vector_first", [True, False])
@pytest.mark.parametrize("family,link,aux", CASES[:3])
def test_profiled_beta_gradient_matches_central_differences(family, link, aux, vector_first):
    y, X, terms, lams, _ = _problem(family, vector_first)
    eng = CrossedLaplaceGLMM(y, X, terms, family, link)
    crit, beta, gl = eng.profiled_beta_gradient(aux, lams, np.zeros(3))
    h = 1e-5
    for k, lam in enumerate(lams):
        for a, b in zip(*np.tril_indices(lam.shape[0])):
            vals = []
            for d in (h, -h):
                trial = [m.copy() for m in lams]
                trial[k][a, b] += d
                vals.append(eng.profiled_beta_gradient(aux, trial, beta, gradient=False)[0])
            assert gl[k][a, b] == pytest.approx((vals[0] - vals[1]) / (2 * h), rel=1e-6,
                                                abs=1e-6)


@pytest.mark.parametrize("vector_first", [True, False])
def test_mode_response_matches_differences_of_modes(vector_first):
    y, X, terms, lams, beta = _problem("poisson", vector_first)
    eng = CrossedLaplaceGLMM(y, X, terms, "poisson", "log")
    rng = np.random.default_rng(1)
    dbeta = rng.normal(size=3)
    dlams = [np.tril(rng.normal(size=lam.shape)) for lam in lams]
    eng.loglike(beta, [], lams=lams)
    du1, du2 = eng.mode_response(dbeta, dlams)
    h = 1e-6
    modes = []
    for s in (h, -h):
        eng.loglike(beta + s * dbeta, [], lams=[lam + s * d for lam, d in zip(lams, dlams)])
        modes.append(eng.warm_start)
    np.testing.assert_allclose(du1, (modes[0][0] - modes[1][0]) / (2 * h), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(du2, (modes[0][1] - modes[1][1]) / (2 * h), rtol=1e-5,
                               atol=1e-7)
