"""Observation weights with crossed random effects (Laplace over all random effects).

Data: tests/models/data/crossed_small.csv (386 rows, 40 x 12 crossed factors a and b; see
test_glmm_crossed_engine.py), with weights drawn by ``_data`` (f: integers 1-3, iw: uniform
0.5-2 rounded to 3 decimals). References:

- lme4 1.1.31 (R 4.x), whose ``weights=`` multiply each row's log density for the Poisson
  family (any weights: Stata's iweights) and, for 0/1 outcomes, for the binomial family
  (integer weights: fweights), on the data written to cw.csv by ``_data``::

      library(lme4); d <- read.csv("cw.csv")
      ctl <- glmerControl(optimizer="bobyqa", optCtrl=list(rhoend=1e-10, maxfun=1e5),
                          tolPwrss=1e-10)
      m1 <- glmer(y ~ x + (1|a) + (1|b), data=d, family=binomial, weights=f, nAGQ=1,
                  control=ctl)
      m2 <- glmer(cnt ~ x + (1|a) + (1|b), data=d, family=poisson, weights=iw, nAGQ=1,
                  control=ctl)
      logLik(m); fixef(m); as.data.frame(VarCorr(m)); sqrt(diag(vcov(m)))

- an independent dense Laplace approximation of the weighted log likelihood
  sum_i w_i log f(y_i | eta_i) (numpy/scipy: dense Z, the mode by scipy, log|H| by slogdet);
- frequency weights are replicated rows: the same likelihood and gradient at any parameter,
  for every family;
- the analytic gradient against central differences of the weighted likelihood.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from _crossed_reference import DATA
from scipy import optimize, special

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import SpecificationError

CROSSED = "|| _all: R.a || _all: R.b"

# glmer printouts (see the module docstring): llf, (x, _cons), (var a, var b), SEs (x, _cons)
LME4 = {
    "melogit": {"llf": -466.323959034989, "beta": [0.741044967403, -0.342186956978],
                "var": [0.914690773175, 0.184790054301], "se": [0.09670707299, 0.21413474842]},
    "mepoisson": {"llf": -707.747454019132, "beta": [0.464064944063, 0.131440802610],
                  "var": [0.2438775194196, 0.0485711751552],
                  "se": [0.03938928724, 0.11170876736]},
}


def _data():
    df = pd.read_csv(DATA)
    rng = np.random.default_rng(3)
    df["f"] = rng.integers(1, 4, len(df))
    df["iw"] = np.round(rng.uniform(0.5, 2.0, len(df)), 3)
    df["yo"] = df["y"] + (df["cnt"] > 1)
    return df


def _model(cmd, text, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(smf, cmd)(text, data, **kw)


def _replicate_rows(df, col):
    return df.loc[df.index.repeat(df[col])].reset_index(drop=True)


@pytest.mark.parametrize("cmd, text, weight", [
    ("melogit", f"y x [fw=f] {CROSSED}", "f"),
    ("mepoisson", f"cnt x [iw=iw] {CROSSED}", "iw"),
])
def test_fit_matches_glmer_with_weights(cmd, text, weight):
    df = _data()
    res = _model(cmd, text, df).fit()
    assert res.converged
    # the comparison model without random effects is the weighted GLM (statsmodels)
    glm = sm.GLM(df["y" if cmd == "melogit" else "cnt"], sm.add_constant(df["x"]),
                 family=sm.families.Binomial() if cmd == "melogit" else sm.families.Poisson(),
                 freq_weights=df[weight]).fit()
    assert res.llf_fixed == pytest.approx(glm.llf, rel=1e-10)
    ref = LME4[cmd]
    # lme4 stops its penalized least squares at tolPwrss: its log likelihood may sit a
    # little below the exact maximum
    assert res.llf >= ref["llf"] - 1e-8
    assert res.llf == pytest.approx(ref["llf"], rel=1e-9)
    np.testing.assert_allclose(res.params[["x", "_cons"]], ref["beta"], rtol=1e-5)
    np.testing.assert_allclose(res.params[["/var(R.a[_all])", "/var(R.b[_all])"]],
                               ref["var"], rtol=1e-5)
    np.testing.assert_allclose(res.bse[["x", "_cons"]], ref["se"], rtol=1e-3)
    assert res.model.vce.kind == "oim"


def _dense_laplace(family, y, w, X, a, b, beta, sds):
    """Weighted Laplace: dense Z Lambda, the mode of sum w l - |u|^2/2 by scipy (Newton
    polish), H = (Z Lambda)' diag(w (-l'')) Z Lambda + I by slogdet."""
    Z = np.hstack([np.eye(a.max() + 1)[a] * sds[0], np.eye(b.max() + 1)[b] * sds[1]])
    eta0 = X @ beta
    const = -special.gammaln(y + 1) if family == "poisson" else 0.0

    def parts(u):
        eta = eta0 + Z @ u
        if family == "bernoulli":
            mu = special.expit(eta)
            return y * eta - np.logaddexp(0, eta) + const, y - mu, mu * (1 - mu)
        mu = np.exp(eta)
        return y * eta - mu + const, y - mu, mu

    def neg(u):
        lf, d1, _ = parts(u)
        return -(w @ lf - 0.5 * u @ u), -(Z.T @ (w * d1) - u)
    u = optimize.minimize(neg, np.zeros(Z.shape[1]), jac=True, method="BFGS",
                          options={"gtol": 1e-10}).x
    for _ in range(3):
        _, d1, nd2 = parts(u)
        H = Z.T @ ((w * nd2)[:, None] * Z) + np.eye(Z.shape[1])
        u = u + np.linalg.solve(H, Z.T @ (w * d1) - u)
    lf, _, nd2 = parts(u)
    H = Z.T @ ((w * nd2)[:, None] * Z) + np.eye(Z.shape[1])
    return w @ lf - 0.5 * u @ u - 0.5 * np.linalg.slogdet(H)[1]


@pytest.mark.parametrize("cmd, family, yvar", [("melogit", "bernoulli", "y"),
                                               ("mepoisson", "poisson", "cnt")])
def test_weighted_laplace_matches_dense_computation(cmd, family, yvar):
    df = _data()
    m = _model(cmd, f"{yvar} x [iw=iw] {CROSSED}", df)
    X = np.column_stack([df["x"], np.ones(len(df))])
    for beta, sds in [([0.5, -0.2], [0.9, 0.4]), ([0.3, 0.1], [0.3, 0.8])]:
        want = _dense_laplace(family, df[yvar].to_numpy(float), df["iw"].to_numpy(), X,
                              df["a"].to_numpy(), df["b"].to_numpy(), np.array(beta),
                              np.array(sds))
        # internal vector: beta, then the Cholesky factors (the standard deviations)
        assert m.objective.value(np.array(beta + sds)) == pytest.approx(want, rel=1e-10)


# every family the crossed engine takes, a vector term, an ancillary parameter
FAMILIES = [
    ("melogit", "y ~ x + (1 + x | a) + (1 | b)", {}),
    ("meprobit", "y ~ x + (1 | a) + (1 | b)", {}),
    ("mepoisson", "cnt ~ x + (1 | a) + (1 | b)", {}),
    ("menbreg", "cnt ~ x + (1 | a) + (1 | b)", {}),
    ("meologit", "yo ~ x + (1 | a) + (1 | b)", {}),
    ("meglm", "cnt ~ x + (1 | a) + (1 | b)", {"family": "gaussian"}),
]


def _point(m, rng):
    """A parameter vector inside the model's domain: the fixed-effects start, ancillary
    parameters near their start, moderate Cholesky entries."""
    k, a = m.objective.k_fe, m.objective.k_aux
    x = 0.2 * rng.normal(size=m.objective.n_params)
    if a:
        x[k:k + a] = np.sort(rng.uniform(-0.5, 0.5, a)) if m.command == "meologit" \
            else rng.uniform(-0.3, 0.3, a)
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in m.objective.bounds])
    x[lo == 0] = rng.uniform(0.3, 0.8, int(np.sum(lo == 0)))
    return x


@pytest.mark.parametrize("cmd, text, opts", FAMILIES)
def test_fweights_are_replicated_rows_for_every_family(cmd, text, opts):
    df = _data()
    a = _model(cmd, text, df, weight=("fweight", "f"), **opts)
    b = _model(cmd, text, _replicate_rows(df, "f"), **opts)
    rng = np.random.default_rng(1)
    for _ in range(2):
        x = _point(a, rng)
        va, ga = a.objective.value_and_grad(x)
        vb, gb = b.objective.value_and_grad(x)
        assert va == pytest.approx(vb, rel=1e-10)
        np.testing.assert_allclose(ga, gb, rtol=1e-7, atol=1e-7 * np.max(np.abs(gb)))


@pytest.mark.parametrize("cmd, text, opts", FAMILIES)
def test_weighted_gradient_matches_differences(cmd, text, opts):
    m = _model(cmd, text, _data(), weight=("iweight", "iw"), **opts)
    x = _point(m, np.random.default_rng(2))
    _, g = m.objective.value_and_grad(x)
    h = 1e-5
    num = np.array([(m.objective.value(x + e) - m.objective.value(x - e)) / (2 * h)
                    for e in np.eye(len(x)) * h])
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-5 * np.max(np.abs(num)))


def test_fweight_fit_equals_replicated_fit():
    df = _data()
    a = _model("melogit", f"y x [fw=f] {CROSSED}", df).fit()
    b = _model("melogit", f"y x {CROSSED}", _replicate_rows(df, "f")).fit()
    assert a.converged and b.converged
    assert a.llf_fixed == pytest.approx(b.llf_fixed, rel=1e-10)
    assert a.llf == pytest.approx(b.llf, rel=1e-10)
    assert a.nobs == b.nobs == int(df["f"].sum())
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=1e-4)


def test_sampling_weights_with_crossed_effects_are_refused():
    # they imply vce(robust) clustered at the highest level; crossed effects have no
    # independent clusters
    df = _data()
    with pytest.raises(NotImplementedError, match=r"pweight.*crossed"):
        _model("melogit", f"y x [pw=iw] {CROSSED}", df)
    with pytest.raises(NotImplementedError, match=r"pweight.*crossed"):
        _model("melogit", "y ~ x + (1 | a) + (1 | b)", df, weight=("pweight", "iw"))


def test_level_weights_with_crossed_effects_are_refused():
    df = _data().assign(g=lambda d: 1 + d["b"] % 2)
    with pytest.raises(NotImplementedError, match="weights at higher levels with crossed"):
        _model("melogit", "y x || _all: R.a || b:, fweight(g)", df)


def test_vce_robust_with_crossed_effects_stays_an_error():
    with pytest.raises(SpecificationError, match="vce"):
        _model("melogit", f"y x [fw=f] {CROSSED}, vce(robust)", _data())
