"""meglm on hard data: tiny clusters, clusters without variation in the outcome, a variance
at the boundary, separation. Each fit returns finite results with a warning naming what
happened, or raises DataError; never a NaN table or a LinAlgError."""
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import BoundaryWarning, ConvergenceWarning, DataError


def binary(seed, n_groups=25, size=8, sd_u=0.0, b0=0.2, b1=0.5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = np.round(rng.normal(size=len(g)), 3)
    u = rng.normal(scale=sd_u, size=n_groups)[g] if sd_u else 0.0
    y = rng.binomial(1, 1 / (1 + np.exp(-(b0 + b1 * x + u))))
    return pd.DataFrame({"y": y, "x": x, "g": g})


def fit(fn, text, data, **opts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(text, data=data, **opts).fit()
    return res, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def finite(res):
    return np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.bse))


@pytest.mark.parametrize("intmethod", ["laplace", "mvaghermite"])
def test_variance_at_boundary_is_the_fixed_effects_logit(intmethod):
    """No group effect (seed chosen so the MLE of the variance is 0): BoundaryWarning names the
    component, the fit is the plain logit (statsmodels Logit), the LR statistic is 0."""
    d = binary(4)
    res, warned = fit(smf.melogit, "y x || g:", d, intmethod=intmethod)
    assert len(warned) == 1 and issubclass(warned[0].category, BoundaryWarning)
    assert "/var(_cons[g])" in str(warned[0].message)
    assert res.params["/var(_cons[g])"] < 1e-8
    assert finite(res)
    logit = sm.Logit(d["y"], sm.add_constant(d["x"])).fit(disp=0)
    assert res.llf == pytest.approx(logit.llf, rel=1e-9)
    assert res.params["x"] == pytest.approx(logit.params["x"], rel=1e-5)
    assert res.bse["x"] == pytest.approx(logit.bse["x"], rel=1e-4)
    assert res.lr_test.stat == pytest.approx(0.0, abs=1e-6)
    assert res.lr_test.pvalue == pytest.approx(1.0)


def test_clusters_of_size_one_binary():
    """One Bernoulli draw per cluster identifies the variance only through the shape of the
    link: a warning says so; the estimates are finite with a large standard error for the
    variance, and the fit is at least as good as the plain logit."""
    d = binary(5, n_groups=200, size=1, sd_u=1.0)
    res, warned = fit(smf.melogit, "y x || g:", d)
    assert len(warned) == 1 and "one observation" in str(warned[0].message)
    assert finite(res)
    assert res.bse["/var(_cons[g])"] > 5 * res.params["/var(_cons[g])"]
    logit = sm.Logit(d["y"], sm.add_constant(d["x"])).fit(disp=0)
    assert res.llf >= logit.llf - 1e-9


def test_clusters_of_size_one_poisson():
    """For counts, one observation per cluster identifies the variance (overdispersion)."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=300)
    y = rng.poisson(np.exp(0.5 + 0.5 * x + rng.normal(scale=0.5, size=300)))
    res, warned = fit(smf.mepoisson, "y x || g:", pd.DataFrame({"y": y, "x": x,
                                                                "g": np.arange(300)}))
    assert not warned and finite(res)
    assert 0.1 < res.params["/var(_cons[g])"] < 0.5


def test_all_zero_and_all_one_clusters():
    """Clusters whose outcome never varies pull the variance up but the MLE stays finite."""
    d = binary(7, n_groups=30, sd_u=2.0)
    d.loc[d.g < 3, "y"] = 0
    d.loc[(d.g >= 3) & (d.g < 6), "y"] = 1
    res, warned = fit(smf.melogit, "y x || g:", d)
    assert not warned and finite(res)
    assert res.params["/var(_cons[g])"] > 1.0
    re = res.predict("reffects").groupby(d.g).first().iloc[:, 0]
    assert np.all(re[:3] < 0) and np.all(re[3:6] > 0)


@pytest.mark.parametrize("value", [0, 1])
def test_outcome_without_variation_raises(value):
    d = binary(4).assign(y=value)
    with pytest.raises(DataError, match="'y' is always"):
        smf.melogit("y x || g:", data=d)


def test_count_outcome_all_zero_raises():
    d = binary(4).assign(y=0)
    with pytest.raises(DataError, match="'y' is always 0"):
        smf.mepoisson("y x || g:", data=d)


def test_complete_separation_raises():
    d = binary(4)
    d["y"] = (d["x"] > 0).astype(int)
    with pytest.raises(DataError, match="complete separation"):
        smf.melogit("y x || g:", data=d).fit()


def test_quasi_complete_separation_warns_and_names_the_coefficient():
    """z = 1 implies y = 1: the coefficient of z diverges. Its standard error is NaN (the one
    documented NaN); every other estimate and standard error is finite."""
    d = binary(4)
    rng = np.random.default_rng(11)
    d["z"] = (rng.uniform(size=len(d)) < 0.2).astype(float)
    d.loc[d.z == 1, "y"] = 1
    res, warned = fit(smf.melogit, "y x z || g:", d)
    messages = [str(w.message) for w in warned]
    assert "quasi-complete separation" in messages[0] and "of z" in messages[0]
    # the group effect is not needed here either: the variance is at the boundary
    assert [w.category for w in warned[1:]] == [BoundaryWarning]
    assert np.isnan(res.bse["z"])
    assert np.all(np.isfinite(res.params))
    assert np.all(np.isfinite(res.bse.drop("z")))
    assert res.params["z"] > 10
    res.summary()


# -- truthful convergence (issue 11, item 4) -------------------------------------------------
def _pig_binary():
    from statsmodels_me.datasets import load
    d = load("pig")
    return d.assign(bin=(d["weight"] > 50).astype(int))


#: Rscript: glm(bin ~ week, family = binomial, data = d) -> logLik -64.0178 (df = 2); with
#: family = binomial(link = "probit") the same fixed-effects model has -63.4672
PIG_FIXED = {"melogit": -64.0178, "meprobit": -63.4672}


def _pig_supremum():
    """Every pig's outcome switches once from 0 to 1 with week (within-pig separation): as the
    week coefficient goes to infinity with sd(u)/beta_week fixed, the marginal likelihood
    tends to that of a normal crossing week observed in the interval between the last 0 and
    the first 1 (interval censoring). Its maximum, computed here with scipy, is the
    supremum of the melogit/meprobit likelihood: -56.7942."""
    from scipy import optimize, stats
    d = _pig_binary()
    first_one = 10 - d.groupby("id")["bin"].sum().to_numpy()  # crossing in (first-1, first)

    def nll(p):
        m, s = p[0], np.exp(p[1])
        prob = stats.norm.cdf((first_one - m) / s) - stats.norm.cdf((first_one - 1 - m) / s)
        return -np.log(prob).sum()
    res = optimize.minimize(nll, [5.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12})
    return -res.fun


def test_pig_supremum_value():
    assert _pig_supremum() == pytest.approx(-56.794240, abs=1e-5)


@pytest.mark.parametrize("command", ["melogit", "meprobit"])
def test_pig_within_cluster_separation_is_not_converged(command):
    """`bin week || id:` on the pig data has no MLE (the variance and the week coefficient
    run away together). The fit must say so: converged False, a ConvergenceWarning naming
    the runaway variance and the within-cluster separation, a log likelihood never below
    the nested fixed-effects model's (R's glm) and never above the supremum (beyond the
    quadrature error)."""
    res, warned = fit(getattr(smf, command), "bin week || id:", _pig_binary())
    assert not res.converged and not res.optimization.converged
    text = " ".join(str(w.message) for w in warned)
    assert "convergence not achieved" in text and "/var(_cons[id]) runs away" in text
    assert "perfectly predicted within clusters" in text
    assert res.llf_fixed == pytest.approx(PIG_FIXED[command], abs=1e-4)
    assert np.isfinite(res.llf) and res.llf > res.llf_fixed
    assert res.mle_retvals["converged"] is False
    assert any("runs away" in m for m in res.optimization.warnings)


def test_pig_laplace_is_glmmtmb_false_convergence():
    """glmmTMB(bin ~ week + (1 | id), family = binomial, data = d) stops at logLik
    -42.01214, var(id) 3854 (sd 62.08), _cons -103.570, week 22.859 and reports "false
    convergence (8)". The Laplace fit reaches the same point and reports it unconverged."""
    res, warned = fit(smf.melogit, "bin week || id:", _pig_binary(), intmethod="laplace")
    assert res.llf == pytest.approx(-42.01214, abs=1e-4)
    assert res.params["/var(_cons[id])"] == pytest.approx(62.08 ** 2, rel=2e-3)
    assert res.params["week"] == pytest.approx(22.859, rel=1e-3)
    assert not res.converged
    assert any("runs away" in str(w.message) for w in warned)


def test_pig_400_points_is_finite():
    """400 points per dimension: the Gauss-Hermite weights are computed in logs (numpy's
    rule overflows beyond ~200 points), so the likelihood is finite; the fit is flagged as
    in the 7-point case and lies between the fixed-effects model and the supremum (the
    quadrature of the box-shaped posterior errs by a few 1e-3)."""
    res, warned = fit(smf.melogit, "bin week || id:", _pig_binary(), intpoints=400)
    assert np.isfinite(res.llf) and not res.converged
    assert PIG_FIXED["melogit"] < res.llf < _pig_supremum() + 0.01
    assert any("runs away" in str(w.message) for w in warned)
    assert res.lr_test is not None and res.lr_test.stat > 10
    # the Hessian is not negative definite there: no Wald test (it came out negative)
    wald = [line for line in str(res.summary()).splitlines() if "Wald chi2" in line]
    assert all(float(line.rsplit("=", 1)[1]) >= 0 for line in wald)


def test_well_posed_fit_is_converged():
    """A random-intercept logit with a real group effect passes every check."""
    res, warned = fit(smf.melogit, "y x || g:", binary(3, n_groups=40, sd_u=1.0))
    assert res.converged and not warned
    assert res.optimization.warnings == []


# -- constraints on variances ----------------------------------------------------------------
def test_variance_constrained_to_zero_is_the_logit():
    """`_b[/var(_cons[district])] = 0` fixes the variance on the boundary (as Stata): the fit
    is statsmodels' Logit."""
    from statsmodels_me.datasets import load
    d = load("bangladesh")
    res = smf.melogit("c_use urban age || district:", data=d,
                      constraints=["_b[/var(_cons[district])] = 0"]).fit()
    logit = sm.Logit(d["c_use"], sm.add_constant(d[["urban", "age"]])).fit(disp=0)
    assert res.llf == pytest.approx(logit.llf, rel=1e-10)
    assert res.params["/var(_cons[district])"] == 0.0
    for name in ("urban", "age", "const"):
        key = "_cons" if name == "const" else name
        assert res.params[key] == pytest.approx(logit.params[name], rel=1e-6)
        assert res.bse[key] == pytest.approx(logit.bse[name], rel=1e-3)


def test_variance_constrained_negative_names_the_constraint():
    from statsmodels_me.datasets import load
    from statsmodels_me.spec.errors import SpecificationError
    d = load("bangladesh")
    with pytest.raises(SpecificationError, match=r"/var\(_cons\[district\]\) at -1"):
        smf.melogit("c_use urban age || district:", data=d,
                    constraints=["_b[/var(_cons[district])] = -1"]).fit()


def test_singular_covariance_named_as_such():
    """A random slope whose correlation with the intercept goes to -1 puts a Cholesky
    diagonal at zero while both variances stay positive: the warning says the covariance
    matrix is singular, not that /var(_cons[g]) is zero."""
    rng = np.random.default_rng(3)
    G, m = 80, 8
    g = np.repeat(np.arange(G), m)
    x, z = rng.normal(size=G * m), rng.normal(size=G * m)
    u = rng.normal(size=(G, 2)) * [0.8, 0.4]
    eta = -0.3 + 0.6 * x + 0.2 * z + u[g, 0] + u[g, 1] * x
    y = (rng.random(G * m) < 1 / (1 + np.exp(-eta))).astype(float)
    d = pd.DataFrame({"y": y, "x": x, "z": z, "g": g})
    res, warned = fit(smf.melogit, "y x z || g: x, cov(unstructured)", d)
    assert [w.category for w in warned] == [BoundaryWarning]
    assert ("singular covariance matrix at /var(_cons[g]) (a correlation of -1 or 1)"
            in str(warned[0].message))
    assert res.params["/var(_cons[g])"] > 0.2
    corr = res.params["/cov(x[g],_cons[g])"] / np.sqrt(
        res.params["/var(x[g])"] * res.params["/var(_cons[g])"])
    assert corr == pytest.approx(-1.0, abs=1e-4)


def test_optimizer_stopping_away_from_the_maximum_is_not_converged():
    """Gamma with the identity link: L-BFGS-B stops on its relative-reduction criterion with
    the scaled gradient g'(-H)^-1 g at 9.2 (the log likelihood about 4.6 below a Newton step
    from there); the fit is reported unconverged, saying so, not converged=True."""
    rng = np.random.default_rng(6)
    g = np.repeat(np.arange(50), 6)
    x = rng.normal(size=300)
    eta = 0.3 + 0.5 * x + 0.6 * rng.normal(size=50)[g]
    d = pd.DataFrame({"y": rng.gamma(2.0, np.exp(eta) / 2.0), "x": x, "g": g})
    res, warned = fit(smf.meglm, "y x || g:", d, family="gamma", link="identity")
    assert not res.converged
    assert res.optimization.scaled_gradient > 1.0
    assert any("stopped away from the maximum" in str(w.message) for w in warned)
