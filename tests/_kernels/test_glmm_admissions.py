"""The seed's example 3 (melogit nadmitted female || department:, binomial(napplied)).

Data: the bundled ``statsmodels_me.datasets.load("admissions")``.
Reference numbers: Stata's [ME] me entry, example 3, as bundled in
statsmodels_me/datasets/seed_examples.json, id "ex3_admissions_binomial"
(Stata's printed output: llf -140.61628, OR female 1.176898, OR _cons 0.7907009,
var(_cons) 1.345383, fixed-only llf -299.99934).
"""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, stats

from statsmodels_me import datasets
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM

STATA = {"female": 1.176898, "_cons": 0.7907009, "var": 1.345383, "llf": -140.61628,
         "llf_fixed": -299.99934}
STATA_SE = {"female": 0.1310535, "_cons": 0.2057191, "var": 0.460702}


@pytest.fixture(scope="module")
def admissions():
    d = datasets.load("admissions")
    X = np.column_stack([d.female, np.ones(len(d))])
    codes = pd.factorize(d.department, sort=True)[0]
    return d, X, codes


def _model(admissions, method="mvaghermite", points=7):
    d, X, codes = admissions
    return OneLevelGLMM(d.nadmitted, X, np.ones(len(d)), codes, "binomial", "logit",
                        trials=d.napplied, intmethod=method, intpoints=points)


def test_loglike_at_published_estimates(admissions):
    m = _model(admissions)
    beta = np.log([STATA["female"], STATA["_cons"]])
    L = np.array([[np.sqrt(STATA["var"])]])
    assert m.loglike(beta, [], L) == pytest.approx(STATA["llf"], rel=1e-6)


def test_optimizer_reproduces_published_fit(admissions):
    d, X, _ = admissions
    glm = sm.GLM(np.column_stack([d.nadmitted, d.napplied - d.nadmitted]), X,
                 family=sm.families.Binomial()).fit()
    assert glm.llf == pytest.approx(STATA["llf_fixed"], rel=1e-6)
    m = _model(admissions)

    def negll(theta):
        ll, gb, _, gL = m.loglike_and_grad(theta[:2], [], [[np.exp(theta[2])]])
        # d/d log sd of L = exp(log sd)
        return -ll, -np.append(gb, gL[0, 0] * np.exp(theta[2]))

    start = np.append(glm.params, 0.0)
    res = optimize.minimize(negll, start, jac=True, method="BFGS", options={"gtol": 1e-8})
    # polish on the exact objective: the adaptive rule's gradient is the fixed-grid one
    res = optimize.minimize(lambda t: negll(t)[0], res.x, method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    beta, lnsd = res.x[:2], res.x[2]
    # The likelihood is flat at Stata's point: our optimum is 5e-8 higher in llf and differs
    # from Stata's printed estimates by at most 3e-4 standard errors (OR female 1.3e-6,
    # OR _cons 2.5e-5, var 1.1e-4 relative), i.e. within Stata's own convergence tolerance
    # (g' H^-1 g < 1e-5).  Compare in units of Stata's printed standard errors.
    se = STATA_SE
    assert abs(np.exp(beta[0]) - STATA["female"]) < 1e-3 * se["female"]
    assert abs(np.exp(beta[1]) - STATA["_cons"]) < 1e-3 * se["_cons"]
    assert abs(np.exp(2 * lnsd) - STATA["var"]) < 1e-3 * se["var"]
    assert np.exp(beta[0]) == pytest.approx(STATA["female"], rel=1e-5)
    assert -res.fun == pytest.approx(STATA["llf"], rel=1e-8)
    assert -res.fun >= STATA["llf"] - 5e-6  # printed llf is rounded to 5 decimals


def test_laplace_and_mcaghermite_close(admissions):
    """Laplace is a coarser approximation: within 0.2 of the 7-point value here; mcaghermite
    agrees with mvaghermite to 2e-4 (both 7 points)."""
    beta = np.log([STATA["female"], STATA["_cons"]])
    L = np.array([[np.sqrt(STATA["var"])]])
    mv = _model(admissions).loglike(beta, [], L)
    assert _model(admissions, "mcaghermite").loglike(beta, [], L) == pytest.approx(mv, abs=2e-4)
    assert _model(admissions, "laplace", 1).loglike(beta, [], L) == pytest.approx(mv, abs=0.2)


def test_ebmeans_and_ebmodes(admissions):
    """Posterior modes against scipy's scalar minimizer and posterior means/variances against
    scipy.integrate.quad of the cluster's posterior (independent of the kernels)."""
    d, X, codes = admissions
    m = _model(admissions, points=15)
    beta = np.log([STATA["female"], STATA["_cons"]])
    sd = np.sqrt(STATA["var"])
    L = np.array([[sd]])
    means, covs = m.ebmeans(beta, [], L)
    modes, _ = m.ebmodes(beta, [], L)
    assert means.shape == (23, 1) and covs.shape == (23, 1, 1)
    for j in (0, 3, 9):
        idx = codes == j
        y, t, eta0 = d.nadmitted[idx].values, d.napplied[idx].values, X[idx] @ beta

        def logpost(b, y=y, t=t, eta0=eta0):
            return stats.binom.logpmf(y, t, 1 / (1 + np.exp(-(eta0 + b)))).sum() \
                + stats.norm.logpdf(b, 0, sd)

        mode = optimize.minimize_scalar(lambda b, f=logpost: -f(b), bounds=(-6, 6),
                                        method="bounded", options={"xatol": 1e-10}).x
        assert modes[j, 0] == pytest.approx(mode, abs=1e-7)
        c = logpost(mode)
        k0, k1, k2 = (integrate.quad(lambda b, p=p, f=logpost, c=c: b ** p * np.exp(f(b) - c),
                                     -8, 8, points=[mode], epsabs=0, epsrel=1e-12)[0]
                      for p in (0, 1, 2))
        assert means[j, 0] == pytest.approx(k1 / k0, abs=1e-6)
        assert covs[j, 0, 0] == pytest.approx(k2 / k0 - (k1 / k0) ** 2, abs=1e-6)
    # eb calls leave the adaptive state consistent
    assert _model(admissions).loglike(beta, [], L) == pytest.approx(STATA["llf"], rel=1e-6)


def test_standard_errors_from_numerical_hessian(admissions):
    """Inverse Hessian at Stata's estimates reproduces its printed standard errors (OR scale
    by the delta method; var(_cons) = L^2).  Stata's values come from its own Hessian at its
    slightly different optimum, hence 1e-3 relative."""
    m = _model(admissions)
    beta = np.log([STATA["female"], STATA["_cons"]])
    L = np.array([[np.sqrt(STATA["var"])]])
    cov = np.linalg.inv(-m.numerical_hessian(beta, [], L))
    se = np.sqrt(np.diag(cov))
    assert STATA["female"] * se[0] == pytest.approx(STATA_SE["female"], rel=1e-3)
    assert STATA["_cons"] * se[1] == pytest.approx(STATA_SE["_cons"], rel=1e-3)
    assert 2 * L[0, 0] * se[2] == pytest.approx(STATA_SE["var"], rel=1e-3)
