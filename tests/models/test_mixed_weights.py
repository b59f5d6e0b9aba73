"""``mixed`` with frequency and sampling weights.

Where each reference number comes from:
- frequency weights: the same model fitted on the replicated data (rows repeated by their
  observation weight; whole groups repeated, as new groups, by their level weight), the
  identity Stata documents for fweights;
- sampling weights: the pseudo-log likelihood of Rabe-Hesketh & Skrondal (2006, eq. 3) of a
  random-intercept model written here with numerical integration over the random intercept
  (Gauss-Legendre on a window around each cluster's mode) and maximized with scipy; the
  sandwich standard errors from that function's numerical per-cluster scores and Hessian
  (Stata's G / (G - 1) factor);
- ``pwscale()``: the fit on weights rescaled here with pandas by the rules of Stata's
  Methods and formulas;
- Stata's rules on weights (no reml, no dfmethod(), one kind of weight, pweights imply
  vce(robust)) and this implementation's limits: errors that name the option.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from statsmodels_me.datasets import load
from statsmodels_me.models.mixed import Mixed
from statsmodels_me.spec.errors import DataError, SpecificationError


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def _fit(text, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Mixed.from_text(text, data, **kw).fit()


def _three_level(seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(8):
        for c in range(rng.integers(2, 4)):
            for _ in range(rng.integers(2, 6)):
                rows.append((s, c))
    d = pd.DataFrame(rows, columns=["school", "cls"])
    n = len(d)
    d["x"] = rng.normal(size=n)
    d["y"] = (1.0 + 0.5 * d["x"] + rng.normal(size=8)[d["school"]]
              + 0.8 * rng.normal(size=(8, 4))[d["school"], d["cls"]] + rng.normal(size=n))
    return d


# -- (a) frequency weights = replicated data ------------------------------------------------

def _assert_same_fit(a, b, se_rtol=1e-6):
    assert a.llf == pytest.approx(b.llf, rel=1e-8)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-8,
                               atol=1e-8)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=se_rtol)


def test_observation_fweights_equal_replicated_rows(pig):
    fw = np.random.default_rng(3).integers(1, 4, size=len(pig))
    text = "weight week || id: week, cov(unstructured)"
    a = _fit("weight week [fw=fw] || id: week, cov(unstructured)", pig.assign(fw=fw))
    b = _fit(text, pig.loc[pig.index.repeat(fw)])
    _assert_same_fit(a, b)
    # Stata's e(N) under fweights is the replicated sample's size; so are the ICs
    assert a.nobs == b.nobs == fw.sum()
    assert a.bic == pytest.approx(b.bic, rel=1e-10)
    # LR test against the (weighted) linear regression
    assert a.info.lr_test.stat == pytest.approx(b.info.lr_test.stat, rel=1e-7)
    # the predicted random effects are the replicated fit's
    ra, rb = a.random_effects, b.random_effects          # one term: a DataFrame by pig
    np.testing.assert_allclose(ra.to_numpy(), rb.to_numpy(), rtol=1e-6, atol=1e-7)


def test_level_fweights_equal_replicated_groups(pig):
    rng = np.random.default_rng(4)
    fw2 = pd.Series(rng.integers(1, 4, size=48), index=np.arange(1, 49))
    d = pig.assign(fw2=pig["id"].map(fw2))
    a = _fit("weight week || id:, fweight(fw2)", d)
    pieces = [g.assign(id=g["id"] * 100 + r) for i, g in pig.groupby("id")
              for r in range(fw2[i])]
    b = _fit("weight week || id:", pd.concat(pieces, ignore_index=True))
    _assert_same_fit(a, b)


def test_fweights_at_two_levels_of_a_three_level_model():
    d = _three_level()
    rng = np.random.default_rng(5)
    fw = rng.integers(1, 3, size=len(d))
    cls_w = {k: int(rng.integers(1, 4)) for k in d.groupby(["school", "cls"]).groups}
    d = d.assign(fw=fw, fc=[cls_w[(s, c)] for s, c in zip(d["school"], d["cls"])])
    a = _fit("y x [fw=fw] || school: || cls:, fweight(fc)", d)
    rows = d.loc[d.index.repeat(d["fw"])]
    pieces = [g.assign(cls=g["cls"] * 100 + r) for (s, c), g in rows.groupby(["school", "cls"])
              for r in range(cls_w[(s, c)])]
    b = _fit("y x || school: || cls:", pd.concat(pieces, ignore_index=True))
    _assert_same_fit(a, b)


def test_observation_fweights_with_robust_errors_equal_replicated_rows(pig):
    # the replicated rows stay in their pig's cluster: the same sandwich
    fw = np.random.default_rng(7).integers(1, 4, size=len(pig))
    a = _fit("weight week [fw=fw] || id:, vce(robust)", pig.assign(fw=fw))
    b = _fit("weight week || id:, vce(robust)", pig.loc[pig.index.repeat(fw)])
    _assert_same_fit(a, b)
    assert a.info.vce_note == b.info.vce_note == "(Std. err. adjusted for 48 clusters in id)"


def test_fweights_of_one_change_nothing(pig):
    a = _fit("weight week [fw=one] || id:, fweight(one)", pig.assign(one=1))
    b = _fit("weight week || id:", pig)
    _assert_same_fit(a, b)


# -- (b) sampling weights: an independent pseudo-likelihood --------------------------------

def _survey(seed=11, G=30):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, size=G)
    cl = np.repeat(np.arange(G), sizes)
    n = len(cl)
    x = rng.normal(size=n)
    y = 2.0 + 0.7 * x + 1.2 * rng.normal(size=G)[cl] + rng.normal(size=n)
    w1 = rng.uniform(1.0, 4.0, size=n)
    w2 = rng.uniform(1.0, 3.0, size=G)[cl]
    return pd.DataFrame({"cl": cl, "x": x, "y": y, "w1": w1, "w2": w2})


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(200)


def _cluster_pseudo_loglike(d, beta0, beta1, tau2, s2, w1, w2_of_cluster):
    """w_j log int prod_i N(y_ij; b0 + b1 x + u, s2)^{w_i|j} N(u; 0, tau2) du per cluster,
    by Gauss-Legendre quadrature on mode +- 12 conditional sd."""
    codes = d["cl"].to_numpy()
    G = codes.max() + 1
    e = d["y"].to_numpy() - beta0 - beta1 * d["x"].to_numpy()

    def h(u):                                   # (G, k) log integrand
        r = e[:, None] - u[codes]
        lf = -0.5 * (np.log(2 * np.pi * s2) + r * r / s2)
        out = np.zeros((G, u.shape[1]))
        np.add.at(out, codes, w1[:, None] * lf)
        return out - 0.5 * (np.log(2 * np.pi * tau2) + u * u / tau2)

    # the log integrand is a parabola in u: its vertex and curvature from three points
    pts = h(np.tile([-1.0, 0.0, 1.0], (G, 1)))
    curv = pts[:, 0] - 2 * pts[:, 1] + pts[:, 2]
    mode = -(pts[:, 2] - pts[:, 0]) / (2 * curv)
    sd = 1 / np.sqrt(-curv)
    half = 12 * sd
    u = mode[:, None] + half[:, None] * _NODES[None, :]
    hu = h(u)
    top = hu.max(axis=1)
    val = top + np.log((np.exp(hu - top[:, None]) * _WEIGHTS[None, :]).sum(axis=1) * half)
    return w2_of_cluster * val


def _reference_fit(d):
    w1 = d["w1"].to_numpy()
    w2 = d.groupby("cl")["w2"].first().to_numpy()

    def per_cluster(p):
        return _cluster_pseudo_loglike(d, p[0], p[1], p[2], p[3], w1, w2)

    def nll(z):
        return -per_cluster(np.concatenate([z[:2], np.exp(z[2:])])).sum()
    res = optimize.minimize(nll, np.array([0.0, 0.0, 0.0, 0.0]), method="BFGS",
                            options={"gtol": 1e-9})
    res = optimize.minimize(nll, res.x, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000})
    p = np.concatenate([res.x[:2], np.exp(res.x[2:])])
    return p, -res.fun, per_cluster


@pytest.fixture(scope="module")
def survey():
    d = _survey()
    return d, _reference_fit(d), _fit("y x [pw=w1] || cl:, pweight(w2)", d)


def test_pweights_maximize_the_pseudo_likelihood(survey):
    d, (p_ref, llf_ref, _), res = survey
    assert res.llf == pytest.approx(llf_ref, rel=1e-6)
    # e(b): x, _cons, var(_cons), var(e)
    np.testing.assert_allclose(np.asarray(res.params)[[1, 0, 2, 3]], p_ref, rtol=1e-5)
    assert res.info.ll_label == "Log pseudolikelihood"


def test_pweighted_iteration_log_says_pseudolikelihood(survey, pig):
    # Stata names the criterion as the header does: "log pseudolikelihood" when sampling
    # weights (vce(robust)) make it one, in every iteration line; "Log likelihood" otherwise
    res = survey[2]
    its = [line for line in res.info.iteration_log if line.startswith("Iteration ")]
    assert len(its) >= 2
    assert all(line.split("=")[0].split(":", 1)[1].strip() == "Log pseudolikelihood"
               for line in its)
    assert float(its[-1].split("=")[1]) == pytest.approx(res.llf, rel=1e-7)
    fixed = _fit("y x [pw=w1] || cl:, pweight(w2) cov(fixed(F))", survey[0],
                 matrices={"F": np.array([[0.5]])})
    assert any(line.startswith("Iteration 0:  Log pseudolikelihood = ")
               for line in fixed.info.iteration_log)
    fw = _fit("weight week [fw=f] || id:", pig.assign(f=2))
    assert any(line.startswith("Iteration 0:  Log likelihood = ")
               for line in fw.info.iteration_log)
    assert not any("pseudo" in line for line in fw.info.iteration_log)


def test_pweights_sandwich_standard_errors(survey):
    d, (p_ref, _, per_cluster), res = survey
    params = np.asarray(res.params)[[1, 0, 2, 3]]
    scores = approx_fprime(params, per_cluster, epsilon=1e-5 * np.maximum(params, 1),
                           centered=True)
    H = approx_hess3(params, lambda p: per_cluster(p).sum(),
                     epsilon=1e-3 * np.maximum(params, 0.1))
    G = scores.shape[0]
    Ainv = np.linalg.inv(-H)
    V = G / (G - 1) * Ainv @ (scores.T @ scores) @ Ainv
    np.testing.assert_allclose(np.asarray(res.bse)[[1, 0, 2, 3]], np.sqrt(np.diag(V)),
                               rtol=1e-3)
    assert res.info.vce_note == f"(Std. err. adjusted for {G} clusters in cl)"


def test_observation_pweights_equal_glmmtmb_weights(survey):
    # glmmTMB's weights= multiply each observation's log density: the pseudo-likelihood
    # with level-one weights only. R (glmmTMB 1.1.5), d = the survey data written to CSV:
    #   m <- glmmTMB(y ~ x + (1|cl), data = d, weights = w1, REML = FALSE)
    #   logLik(m) -> -540.722600508; fixef(m) -> 1.8416, 0.7416;
    #   VarCorr(m) -> sd(cl) 0.91757, sd(Residual) 0.92081
    d = survey[0]
    res = _fit("y x [pw=w1] || cl:", d)
    assert res.llf == pytest.approx(-540.722600508, rel=1e-11)
    np.testing.assert_allclose(np.asarray(res.params),
                               [0.7416, 1.8416, 0.91757 ** 2, 0.92081 ** 2], rtol=2e-4)


def test_lrtest_after_pweights_is_refused(survey):
    d, _, res = survey
    smaller = _fit("y [pw=w1] || cl:, pweight(w2)", d)
    with pytest.raises(SpecificationError, match="lrtest: not valid after sampling weights"):
        res.lrtest(smaller)


def test_pweights_with_a_coarser_cluster_variable(survey):
    d, _, res = survey
    d = d.assign(region=d["cl"] // 3)
    r = _fit("y x [pw=w1] || cl:, pweight(w2) vce(cluster region)", d)
    np.testing.assert_allclose(np.asarray(r.params), np.asarray(res.params), rtol=1e-10)
    assert r.info.vce_note == f"(Std. err. adjusted for {d['region'].nunique()} clusters " \
                              "in region)"
    assert not np.allclose(np.asarray(r.bse), np.asarray(res.bse))


def _scaled(d, method):
    g = d.groupby("cl")["w1"]
    if method == "size":
        return d.assign(s1=d["w1"] * g.transform("size") / g.transform("sum"), s2=d["w2"])
    if method == "effective":
        sq = (d["w1"] ** 2).groupby(d["cl"]).transform("sum")
        return d.assign(s1=d["w1"] * g.transform("sum") / sq, s2=d["w2"])
    return d.assign(s1=1.0, s2=d["w2"] * g.transform("mean"))


@pytest.mark.parametrize("method", ["size", "effective", "gk"])
def test_pwscale_equals_the_rescaled_weights(survey, method):
    d = survey[0]
    a = _fit(f"y x [pw=w1] || cl:, pweight(w2) pwscale({method})", d)
    b = _fit("y x [pw=s1] || cl:, pweight(s2)", _scaled(d, method))
    assert a.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=1e-6)
    assert abs(a.llf - survey[2].llf) > 1e-3


def test_pwscale_without_level_weights(survey):
    d = survey[0]
    a = _fit("y x [pw=w1] || cl:, pwscale(size)", d)
    b = _fit("y x [pw=s1] || cl:", _scaled(d, "size"))
    assert a.llf == pytest.approx(b.llf, rel=1e-10)


# -- covariance(fixed()) with weights -----------------------------------------------------------

_F = {"F": np.array([[10.0, 0.5], [0.5, 0.3]])}


def test_fweights_with_a_fixed_covariance_equal_replicated_rows(pig):
    fw = np.random.default_rng(3).integers(1, 4, size=len(pig))
    a = _fit("weight week [fw=fw] || id: week, cov(fixed(F))", pig.assign(fw=fw),
             matrices=_F)
    b = _fit("weight week || id: week, cov(fixed(F))", pig.loc[pig.index.repeat(fw)],
             matrices=_F)
    _assert_same_fit(a, b)
    np.testing.assert_array_equal(np.asarray(a.params)[2:5], [10.0, 0.3, 0.5])


def test_pweights_with_a_fixed_covariance_maximize_the_pseudo_likelihood(survey):
    # the random-intercept variance held at 0.5: the reference maximizes the quadrature
    # pseudo-likelihood above over (b0, b1, s2) with tau2 = 0.5; sandwich as above
    d = survey[0]
    w1 = d["w1"].to_numpy()
    w2 = d.groupby("cl")["w2"].first().to_numpy()

    def per_cluster(p):                         # p = (x, _cons, var(e))
        return _cluster_pseudo_loglike(d, p[1], p[0], 0.5, p[2], w1, w2)

    def nll(z):
        return -per_cluster(np.array([z[0], z[1], np.exp(z[2])])).sum()
    z = optimize.minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    z = optimize.minimize(nll, z, method="Nelder-Mead",
                          options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000}).x
    p_ref = np.array([z[0], z[1], np.exp(z[2])])
    res = _fit("y x [pw=w1] || cl:, pweight(w2) cov(fixed(F))", d,
               matrices={"F": np.array([[0.5]])})
    assert res.llf == pytest.approx(-nll(z), rel=1e-6)
    params = np.asarray(res.params)
    assert params[2] == 0.5
    np.testing.assert_allclose(params[[0, 1, 3]], p_ref, rtol=1e-5)
    scores = approx_fprime(p_ref, per_cluster, epsilon=1e-5 * np.maximum(p_ref, 1),
                           centered=True)
    H = approx_hess3(p_ref, lambda p: per_cluster(p).sum(),
                     epsilon=1e-3 * np.maximum(np.abs(p_ref), 0.1))
    G = scores.shape[0]
    Ainv = np.linalg.inv(-H)
    V = G / (G - 1) * Ainv @ (scores.T @ scores) @ Ainv
    np.testing.assert_allclose(np.asarray(res.bse)[[0, 1, 3]], np.sqrt(np.diag(V)),
                               rtol=1e-3)
    assert res.bse.iloc[2] == 0
    assert res.info.vce_note == f"(Std. err. adjusted for {G} clusters in cl)"


def test_vce_robust_with_a_fixed_covariance_and_no_weights_is_still_refused(pig):
    with pytest.raises(NotImplementedError, match=r"covariance\(fixed\(\)\)"):
        _fit("weight week || id:, cov(fixed(F)) vce(robust)", pig,
             matrices={"F": np.array([[2.0]])})


# -- (c) Stata's rules and bad input ----------------------------------------------------------

@pytest.mark.parametrize("text, error, fragment", [
    ("weight week [pw=w] || id:, reml", SpecificationError, r"\[pweight=w\].*reml"),
    ("weight week [fw=f] || id:, reml", SpecificationError, r"\[fweight=f\].*reml"),
    ("weight week || id:, pweight(w) reml", SpecificationError, r"pweight\(w\).*reml"),
    ("weight week [pw=w] || id:, dfmethod(residual)", SpecificationError, "dfmethod"),
    ("weight week [pw=w] || id:, fweight(f)", SpecificationError, "fweight"),
    ("weight week || id:, pwscale(size)", SpecificationError, r"pwscale\(size\) requires"),
    ("weight week [fw=f] || id:, pwscale(gk)", SpecificationError, r"pwscale\(gk\) requires"),
    ("weight week || id:, pweight(w) pwscale(size)", SpecificationError, r"\[pweight=\]"),
    ("weight week [pw=w] || id:, pwscale(nonsense)", SpecificationError, "pwscale"),
    ("weight week [pw=w] || id:, vce(oim)", SpecificationError, r"vce\(oim\)"),
    ("weight week || id:, fweight(f) vce(robust)", NotImplementedError,
     r"vce\(robust\) with frequency weights at the highest level \(fweight\(f\)\)"),
    ("weight week [pw=w] || id:, residuals(ar 1, t(week))", NotImplementedError,
     "residuals"),
    ("weight week [pw=w] || _all: R.week || id:", NotImplementedError, "crossed"),
])
def test_rules_and_limits_name_the_option(pig, text, error, fragment):
    d = pig.assign(w=1.5 + (pig["week"] % 3), f=2)
    with pytest.raises(error, match=fragment):
        Mixed.from_text(text, d, matrices={"F": np.array([[2.0]])})


def test_pwscale_needs_two_levels():
    d = _three_level().assign(w=2.0)
    with pytest.raises(SpecificationError, match="two-level"):
        Mixed.from_text("y x [pw=w] || school: || cls:, pwscale(size)", d)


def test_negative_weights_are_data_errors(pig):
    d = pig.assign(w=np.where(pig["week"] == 3, -1.0, 1.0))
    with pytest.raises(DataError, match="pweight variable 'w' has 48 negative"):
        Mixed.from_text("weight week [pw=w] || id:", d)
    with pytest.raises(DataError, match="fweight variable 'w' has 48 negative"):
        Mixed.from_text("weight week || id:, fweight(w)", d)


def test_zero_weights_are_data_errors(pig):
    d = pig.assign(w=np.where(pig["id"] == 3, 0.0, 1.0))
    with pytest.raises(DataError, match=r"\[pweight=w\] is zero on 9 observations"):
        Mixed.from_text("weight week [pw=w] || id:", d)
    with pytest.raises(DataError, match=r"fweight\(w\) is zero on 9 observations"):
        Mixed.from_text("weight week || id:, fweight(w)", d)


def test_level_weights_must_be_constant_within_groups(pig):
    d = pig.assign(w=1.0 + pig["week"])
    with pytest.raises(DataError, match=r"pweight\(w\) is not constant within groups of "
                                        r"'id' \(48 groups"):
        Mixed.from_text("weight week || id:, pweight(w)", d)


def test_reses_after_a_weighted_multilevel_fit_is_refused():
    d = _three_level().assign(w=2.0)
    res = _fit("y x [fw=w] || school: || cls:", d.assign(w=2))
    with pytest.raises(NotImplementedError, match="reses"):
        res.predict("reses")
    assert np.all(np.isfinite(res.predict("fitted")))


def test_reses_after_one_level_fweights_equal_replicated(pig):
    fw = np.random.default_rng(6).integers(1, 4, size=len(pig))
    a = _fit("weight week [fw=fw] || id:", pig.assign(fw=fw))
    rep = pig.loc[pig.index.repeat(fw)].reset_index(drop=True)
    b = _fit("weight week || id:", rep)
    per_pig_a = a.predict("reses").groupby(pig["id"].to_numpy()).first()
    per_pig_b = b.predict("reses").groupby(rep["id"].to_numpy()).first()
    np.testing.assert_allclose(per_pig_a.to_numpy(), per_pig_b.to_numpy(), rtol=1e-6)
