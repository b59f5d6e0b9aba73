"""mestreg, distribution(gamma): the generalized gamma AFT model against references written
here with numpy/scipy only.

- Row log likelihood: d log f(t) + (1 - d) log S(t) - log S(t0) from the formulas of [ST]
  streg (Prentice's 1974 log-gamma form): w = (log t - eta) / sigma, gamma = kappa^-2,
  u = gamma exp(kappa w), log f = log|kappa| + gamma log u - u - lgamma(gamma) - log(sigma t),
  S = Q(gamma, u) for kappa > 0 and P(gamma, u) for kappa < 0 (scipy.special.gammaincc,
  gammainc).
- Random intercept: the 30-point adaptive Gauss-Hermite likelihood of ``_aghq_reference``
  maximized by its own optimizer (BFGS, Newton on central differences) -- log likelihood
  1e-6 relative, estimates 1e-5, standard errors 1e-3 (numerical Hessian) -- and a Laplace
  approximation written below, maximized the same way.
- The comparison model without random effects (``llf_fixed``): scipy.optimize on the same
  row log likelihood.
- kappa = 1 (``constraints()``) is the Weibull AFT model with ln p = -log sigma.
"""
import numpy as np
import pandas as pd
import pytest
from _aghq_reference import aghq_fit, numerical_hessian
from scipy import integrate, optimize, special

import statsmodels_me.formula.api as smf

SPELLS = ("t", "d", "t0")


def _data(seed=3, G=50, m=5, kappa=0.6, sigma=0.7):
    """Generalized gamma AFT times (u ~ Gamma(kappa^-2), w = log(kappa^2 u) / kappa), a
    random intercept (sd 0.5), uniform censoring, 30% of spells entering late at 0.3 t."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    n = G * m
    x = rng.normal(size=n)
    eta = 0.5 + 0.4 * x + rng.normal(0, 0.5, G)[g]
    gam = 1 / kappa ** 2
    w = np.log(rng.gamma(gam, 1.0, n) / gam) / kappa
    t = np.exp(eta + sigma * w)
    c = rng.uniform(1, 6, n)
    tt = np.minimum(t, c)
    t0 = np.where(rng.uniform(size=n) < 0.3, 0.3 * tt, 0.0)
    return pd.DataFrame({"t": tt, "d": (t <= c).astype(int), "t0": t0, "x": x, "id": g})


def _log_f_S(t, eta, aux):
    s, k = np.exp(aux[0]), aux[1]
    w = (np.log(t) - eta) / s
    g = 1 / k ** 2
    u = g * np.exp(k * w)
    logf = np.log(abs(k)) + g * np.log(u) - u - special.gammaln(g) - np.log(s * t)
    logS = np.log(special.gammaincc(g, u) if k > 0 else special.gammainc(g, u))
    return logf, logS


def _row_loglike(t, d, t0):
    def loglike(eta, aux):
        logf, logS = _log_f_S(t, eta, aux)
        entered = t0 > 0
        logS0 = _log_f_S(np.where(entered, t0, 1.0), eta, aux)[1]
        return np.where(d == 1, logf, logS) - np.where(entered, logS0, 0.0)
    return loglike


def _display(z):
    """Reference parameters (beta, log sigma, kappa, log var) -> Stata's display scale and
    the Jacobian of that map."""
    J = np.eye(len(z))
    J[-1, -1] = np.exp(z[-1])
    return np.concatenate([z[:-1], [np.exp(z[-1])]]), J


@pytest.fixture(scope="module")
def df():
    return _data()


@pytest.fixture(scope="module")
def reference(df):
    X = np.column_stack([df["x"], np.ones(len(df))])
    rows = _row_loglike(*(df[k].to_numpy() for k in SPELLS))
    return aghq_fit(rows, X, df["id"].to_numpy(), [0.3, 0.4, -0.3, 0.5, -1.3])


def _fit(df, opts="", **kw):
    return smf.mestreg(f"x || id:, distribution(gamma) {opts}", data=df, time="t",
                       failure="d", entry="t0", **kw).fit()


def test_random_intercept_matches_the_adaptive_quadrature_reference(df, reference):
    z, llf, cov = reference
    res = _fit(df, "intpoints(30)")
    assert list(res.params.index) == ["x", "_cons", "/logs", "/kappa", "/var(_cons[id])"]
    assert res.llf == pytest.approx(llf, rel=1e-6)
    want, J = _display(z)
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(J @ cov @ J.T)),
                               rtol=1e-3)


@pytest.mark.parametrize("method", ["mcaghermite", "ghermite"])
def test_other_quadratures_reach_the_same_optimum(df, reference, method):
    """Mode-curvature adaptive and (with 30 points and var(_cons) ~ 0.3) non-adaptive
    Gauss-Hermite quadrature agree with the adaptive reference."""
    z, llf, _ = reference
    res = _fit(df, f"intmethod({method}) intpoints(30)")
    assert res.llf == pytest.approx(llf, rel=1e-6)
    np.testing.assert_allclose(res.params.to_numpy(), _display(z)[0], rtol=1e-4, atol=1e-5)


def _laplace_loglike(rows, X, groups, params):
    """Laplace approximation of every cluster's integral: h(b) + log(2 pi)/2 -
    log(-h''(b))/2 at the mode b of the log integrand h, with h' and h'' from five-point
    differences of step 0.01 (truncation ~1e-9, rounding ~1e-11: a smooth function of the
    parameters) and a fixed number of Newton steps for the mode."""
    p = X.shape[1]
    beta, aux, lv = params[:p], params[p:p + 2], params[p + 2]
    su = np.exp(0.5 * lv)
    G = groups.max() + 1
    xb = X @ beta

    def h(b):
        return (np.bincount(groups, rows(xb + b[groups], aux), G) - 0.5 * (b / su) ** 2
                - np.log(su) - 0.5 * np.log(2 * np.pi))

    def derivatives(b, dd=1e-2):
        hm2, hm1, h0, hp1, hp2 = (h(b + j * dd) for j in (-2, -1, 0, 1, 2))
        return (h0, (8 * (hp1 - hm1) - (hp2 - hm2)) / (12 * dd),
                (-(hp2 + hm2) + 16 * (hp1 + hm1) - 30 * h0) / (12 * dd ** 2))

    b = np.zeros(G)
    for _ in range(30):
        _, h1, h2 = derivatives(b)
        b = b + np.clip(-h1 / np.minimum(h2, -1e-8), -2.0, 2.0)
    h0, _, h2 = derivatives(b)
    return float(np.sum(h0 + 0.5 * np.log(2 * np.pi) - 0.5 * np.log(-h2)))


def test_laplace_matches_a_laplace_approximation_written_here(df, reference):
    """Newton's method on the Laplace likelihood above (central-difference gradient and
    Hessian) from the adaptive-quadrature estimates."""
    X = np.column_stack([df["x"], np.ones(len(df))])
    rows = _row_loglike(*(df[k].to_numpy() for k in SPELLS))
    groups = df["id"].to_numpy()

    def f(z):
        return _laplace_loglike(rows, X, groups, z)

    z = np.array(reference[0])
    for _ in range(5):
        H = numerical_hessian(f, z, step=1e-3)
        g = np.array([(f(z + e) - f(z - e)) / 2e-4 for e in np.eye(len(z)) * 1e-4])
        z = z - np.linalg.solve(H, g)
    cov = np.linalg.inv(-numerical_hessian(f, z, step=1e-3))
    res = _fit(df, "intmethod(laplace)")
    assert res.llf == pytest.approx(f(z), rel=1e-6)
    want, J = _display(z)
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(J @ cov @ J.T)),
                               rtol=1e-3)


def test_model_without_random_effects_matches_a_direct_fit(df):
    """``llf_fixed`` (the LR test's comparison model) against scipy.optimize on the row log
    likelihood, Nelder-Mead then BFGS."""
    X = np.column_stack([df["x"], np.ones(len(df))])
    rows = _row_loglike(*(df[k].to_numpy() for k in SPELLS))

    def negll(z):
        return -float(np.sum(rows(X @ z[:2], z[2:])))

    z = optimize.minimize(negll, [0.3, 0.4, -0.3, 0.5], method="Nelder-Mead",
                          options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000}).x
    z = optimize.minimize(negll, z, method="BFGS", options={"gtol": 1e-8}).x
    res = _fit(df, "intmethod(laplace)")
    assert res.llf_fixed == pytest.approx(-negll(z), rel=1e-8)
    assert "LR test vs. gamma model" in str(res.summary())


def test_kappa_one_is_the_weibull_aft_model(df):
    """(Laplace: the constrained fits' null-space optimizer is slow with quadrature.)"""
    gamma = _fit(df, "constraints(1) intmethod(laplace)", constraints={1: "_b[/kappa] = 1"})
    weibull = smf.mestreg("x || id:, distribution(weibull) time intmethod(laplace)", data=df,
                          time="t", failure="d", entry="t0").fit()
    assert gamma.llf == pytest.approx(weibull.llf, rel=1e-9)
    assert gamma.params["/kappa"] == 1.0
    names = ["x", "_cons", "/var(_cons[id])"]
    np.testing.assert_allclose(gamma.params[names], weibull.params[names], rtol=1e-6)
    assert gamma.params["/logs"] == pytest.approx(-weibull.params["/ln_p"], rel=1e-6)


def test_header_and_predict(df):
    res = _fit(df, "intmethod(laplace)")
    text = str(res.summary())
    assert "Mixed-effects gamma AFT regression" in text
    # sigma = exp(/logs): estimate and interval exponentiated, delta-method standard error
    b, se = res.params["/logs"], res.bse["/logs"]
    row = next(line for line in text.splitlines() if line.split()[:2] == ["sigma", "|"])
    want = [np.exp(b), np.exp(b) * se, np.exp(b - 1.959963984540054 * se),
            np.exp(b + 1.959963984540054 * se)]
    np.testing.assert_allclose([float(v) for v in row.split()[2:]], want, rtol=1e-6)
    aux = res.params[["/logs", "/kappa"]].to_numpy()
    eta = res.predict("eta").to_numpy()
    t = df["t"].to_numpy()
    logf, logS = _log_f_S(t, eta, aux)
    np.testing.assert_allclose(res.predict("survival"), np.exp(logS), rtol=1e-10)
    np.testing.assert_allclose(res.predict("density"), np.exp(logf), rtol=1e-10)
    np.testing.assert_allclose(res.predict("hazard"), np.exp(logf - logS), rtol=1e-10)
    np.testing.assert_allclose(res.predict("distribution"), -np.expm1(logS), rtol=1e-9)
    # median: S(median) = 1/2 in the reference formulas
    med = res.predict("median").to_numpy()
    np.testing.assert_allclose(np.exp(_log_f_S(med, eta, aux)[1]), 0.5, rtol=1e-10)
    # mean: the integral of S over t (substituting t = e^v), by the trapezoid rule
    v = np.linspace(-12, 9, 84001)
    with np.errstate(divide="ignore"):   # S underflows to 0 far in the tail
        S = np.exp(_log_f_S(np.exp(v)[:, None], eta[None, :5], aux)[1])
    # (plus int_0^{e^-12} S dt = e^-12, S = 1 there to 1e-15)
    mean = integrate.trapezoid(S * np.exp(v)[:, None], v, axis=0) + np.exp(v[0])
    np.testing.assert_allclose(res.predict("mean").to_numpy()[:5], mean, rtol=1e-6)
