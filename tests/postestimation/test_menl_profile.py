"""Profile-likelihood intervals after ``menl`` (of the linearization log likelihood).

Two independent checks:

* A model linear in everything, where menl's linearization is exact: its intervals are those
  of ``mixed`` on the same model (a different estimator and profiler), and lme4's (R 4.2.2,
  lme4 1.1.31: ``m <- lmer(weight ~ week + (1|id), data = p, REML = FALSE)``; logLik
  -1014.92679358; ``confint(m, method = "profile", parm = c(".sig01", ".sigma"))^2``:
  var(id) 10.030057574 23.007953657, sigma^2 3.817526252 5.066533353; lme4 interpolates a
  spline through its profile, so it is compared to 1e-3).
* The orange-tree growth curve (nonlinear): the profile equation solved directly. At each
  reported limit the test computes, with its own dense implementation written below, the
  linearization fixed point of the model with var(U1) held at the limit (penalized nonlinear
  least squares by scipy, then the linearized model's log likelihood maximized over s2 with
  beta at GLS, alternated to convergence), and finds ``llf_max - chi2_1(0.95) / 2``.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.postestimation.profile import profile_conf_int
from statsmodels_me.spec.errors import SpecificationError

ORANGE = "menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))"
CRIT = stats.chi2.ppf(0.95, 1) / 2


@pytest.fixture(scope="module")
def orange_fit():
    return smf.menl(ORANGE, data=load("orange")).fit()


def _orange_mean(b, u, age, tree):
    den = 1 + np.exp(-(age - b[1]) / b[2])
    return (b[0] + u[tree]) / den, den


def _pnls(y, age, tree, beta, u, s2, v):
    """min over (beta, u) of ||y - f||^2 + (s2 / v) ||u||^2."""
    def resid(t):
        return np.concatenate([y - _orange_mean(t[:3], t[3:], age, tree)[0],
                               np.sqrt(s2 / v) * t[3:]])
    sol = optimize.least_squares(resid, np.concatenate([beta, u]), xtol=1e-15, ftol=1e-15,
                                 gtol=1e-15)
    return sol.x[:3], sol.x[3:]


def _linearized_negll(log_s2, v, X, w, ZZ):
    """Minus the log likelihood of ``w ~ N(X beta_GLS, v ZZ + s2 I)`` (dense)."""
    V = v * ZZ + np.exp(log_s2) * np.eye(len(w))
    Vi = np.linalg.inv(V)
    b = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ w)
    r = w - X @ b
    return 0.5 * (len(w) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ Vi @ r)


def _fixed_point_llf(data, v, beta, s2, iterations=200):
    """Linearization log likelihood (ML) of the orange model at the fixed point of the
    alternating algorithm with var(U1) = v, dense and direct."""
    y = data["circumf"].to_numpy(float)
    age = data["age"].to_numpy(float)
    tree = pd.factorize(data["tree"], sort=True)[0]
    u = np.zeros(tree.max() + 1)
    beta = np.asarray(beta, float)
    same = tree[:, None] == tree[None, :]
    llf = None
    for _ in range(iterations):
        beta, u = _pnls(y, age, tree, beta, u, s2, v)
        # linearize at (beta, u); maximize over s2 with beta at GLS
        f, den = _orange_mean(beta, u, age, tree)
        phi = beta[0] + u[tree]
        e = np.exp(-(age - beta[1]) / beta[2])
        X = np.column_stack([1 / den, -phi * e / den ** 2 / beta[2],
                             -phi * e * (age - beta[1]) / den ** 2 / beta[2] ** 2])
        z = 1 / den
        w = y - f + X @ beta + z * u[tree]
        ZZ = np.outer(z, z) * same
        opt = optimize.minimize_scalar(_linearized_negll, args=(v, X, w, ZZ),
                                       bracket=(np.log(s2) - 0.1, np.log(s2) + 0.1),
                                       tol=1e-12)
        new, s2 = -opt.fun, float(np.exp(opt.x))
        if llf is not None and abs(new - llf) < 1e-12:
            return new
        llf = new
    return llf


def test_orange_limits_solve_the_profile_equation(orange_fit):
    res = orange_fit
    ci = res.conf_int(method="profile")
    d = load("orange")
    beta = res.params.to_numpy()[:3]
    s2 = res.params["/var(e)"]
    v_hat = res.params["/var(U1[tree])"]
    ll_max = _fixed_point_llf(d, v_hat, beta, s2)
    # the direct computation reproduces the fit's linearization log likelihood
    assert abs(ll_max - res.llf) < 1e-7
    lo, hi = ci.loc["/var(U1[tree])", ["ci_lower", "ci_upper"]]
    assert 0 < lo < v_hat < hi
    for limit in (lo, hi):
        assert abs(_fixed_point_llf(d, limit, beta, s2) - (ll_max - CRIT)) < 1e-6, limit
    # the residual variance's interval, the other parameters free
    lo_e, hi_e = ci.loc["/var(e)", ["ci_lower", "ci_upper"]]
    for limit in (lo_e, hi_e):
        fit = res.model.fit_fixed({"/var(e)": limit}, res.params, res.inference_point)
        assert abs(fit.llf - (res.llf - CRIT)) < 1e-6
        assert fit.values[1] == limit
    # the Wald intervals are not the profile ones
    assert np.isnan(ci.loc["/b1", "ci_lower"])


def test_fixed_fit_at_the_estimates_is_the_fit(orange_fit):
    res = orange_fit
    fit = res.model.fit_fixed({"/var(U1[tree])": res.params["/var(U1[tree])"]}, res.params,
                              res.inference_point)
    assert abs(fit.llf - res.llf) < 1e-8 * abs(res.llf)
    np.testing.assert_allclose(fit.beta, res.params.to_numpy()[:3], rtol=1e-6)


def test_linear_model_matches_mixed_and_lme4():
    pig = load("pig")
    res = smf.menl("menl weight = {b0}+{b1}*week+{U0[id]}", data=pig).fit()
    mixed = smf.mixed("weight week || id:", data=pig).fit()
    assert abs(res.llf - -1014.92679358) < 1e-6 * 1014.9
    got = profile_conf_int(res)
    ref = profile_conf_int(mixed)
    pairs = {"/var(U0[id])": "/var(_cons[id])", "/var(e)": "/var(e.weight)"}
    for name, other in pairs.items():
        np.testing.assert_allclose(got.loc[name].to_numpy(), ref.loc[other].to_numpy(),
                                   rtol=1e-6)
    np.testing.assert_allclose(got.loc["/var(U0[id])"], [10.030057574, 23.007953657],
                               rtol=1e-3)
    np.testing.assert_allclose(got.loc["/var(e)"], [3.817526252, 5.066533353], rtol=1e-3)


def test_reml_profile_is_of_the_restricted_likelihood():
    pig = load("pig")
    res = smf.menl("menl weight = {b0}+{b1}*week+{U0[id]}, reml", data=pig).fit()
    mixed = smf.mixed("weight week || id:, reml", data=pig).fit()
    got = profile_conf_int(res, which=["/var(U0[id])"])
    ref = profile_conf_int(mixed, which=["/var(_cons[id])"])
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-6)


def test_bad_names_are_refused(orange_fit):
    with pytest.raises(SpecificationError, match="'/b1' is not a random-effects"):
        profile_conf_int(orange_fit, which=["/b1"])
    with pytest.raises(SpecificationError, match="cannot hold '/b2' fixed"):
        orange_fit.model.fit_fixed({"/b2": 1.0}, orange_fit.params,
                                   orange_fit.inference_point)
