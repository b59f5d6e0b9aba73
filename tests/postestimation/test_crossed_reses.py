"""``predict("reses")`` after crossed (Laplace) GLMMs: the posterior standard deviations of the
random effects under the Laplace approximation, sqrt(diag((Z'WZ + Sigma^-1)^-1)) at the
conditional modes (= Lambda (Lambda'Z'WZ Lambda + I)^-1 Lambda', W = -l''(eta)).

References:

* dense algebra in the test on the small crossed data set (52 effects): Z built from the
  group codes, W from the predicted modes, the inverse by numpy;
* lme4 (R 4.2.2, lme4 1.1.31) evaluated at our estimates (its modular functions; glmer has
  no option to skip the optimizer)::

    d <- read.csv("crossed_small.csv")                # tests/models/data
    at <- function(form, fam, theta, beta) {
      glmod <- glFormula(form, data = d, family = fam)
      devfun <- mkGlmerDevfun(glmod$fr, glmod$X, glmod$reTrms, family = fam)
      devfun <- updateGlmerDevfun(devfun, glmod$reTrms, nAGQ = 1)
      pars <- c(theta, beta)
      opt <- list(par = pars, fval = devfun(pars), conv = 0, message = "")
      m <- mkMerMod(environment(devfun), opt, glmod$reTrms, fr = glmod$fr)
      r <- ranef(m, condVar = TRUE)
      list(sqrt(attr(r$a, "postVar")[1, 1, ]), sqrt(attr(r$b, "postVar")[1, 1, ]))
    }
    at(y ~ x + (1 | a) + (1 | b), binomial(), c(0.5617472064644561, 0.2958558823932294),
       c(-0.220175250326825, 0.675376556645517))
    # a[c(1, 2, 3, 40)]: 0.417299408268710 0.434598900011776 0.432034123039164 0.438255534515804
    # b[c(1, 2, 12)]:    0.230323041355475 0.236450451322428 0.234979066376980
    at(cnt ~ x + (1 | a) + (1 | b), poisson(), c(0.4779962780606924, 0.20616293893748786),
       c(0.16498727896684068, 0.458899125109321))
    # a[c(1, 2, 3, 40)]: 0.199063975769452 0.331100648041034 0.262054538551893 0.274896646544298
    # b[c(1, 2, 12)]:    0.121789661849664 0.127605938512202 0.137654382415935

The theta and beta passed to lme4 are our estimates (printed by the tests' fits); lme4's
factor is that of its last PIRLS step, so the agreement is 1e-3 (the brief's tolerance),
while the dense algebra at our modes agrees to 1e-9.
"""
import numpy as np
import pandas as pd
import pytest
from _crossed_ref_path import CROSSED
from scipy import special

import statsmodels_me.formula.api as smf

LME4 = {
    "melogit": ([0.5617472064644561, 0.2958558823932294],
                [0.417299408268710, 0.434598900011776, 0.432034123039164, 0.438255534515804],
                [0.230323041355475, 0.236450451322428, 0.234979066376980]),
    "mepoisson": ([0.4779962780606924, 0.20616293893748786],
                  [0.199063975769452, 0.331100648041034, 0.262054538551893, 0.274896646544298],
                  [0.121789661849664, 0.127605938512202, 0.137654382415935]),
}


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(CROSSED)


def _indicator(codes):
    _, inv = np.unique(codes, return_inverse=True)
    return np.eye(inv.max() + 1)[inv]


def _dense_posterior_sd(res, blocks, weight):
    """sqrt(diag((Z'WZ + Sigma^-1)^-1)) for random intercepts: ``blocks`` are (indicator
    matrix, variance) pairs; W from eta = xb + the predicted intercepts."""
    eta = res.predict("xb").to_numpy() + res.predict("reffects").sum(axis=1).to_numpy()
    Z = np.hstack([Z for Z, _ in blocks])
    prior = np.concatenate([np.full(Z.shape[1], 1.0 / var) for Z, var in blocks])
    P = Z.T @ (weight(eta)[:, None] * Z) + np.diag(prior)
    return np.sqrt(np.diag(np.linalg.inv(P)))


@pytest.mark.parametrize("command, y", [("melogit", "y"), ("mepoisson", "cnt")])
def test_crossed_reses_against_dense_algebra_and_lme4(data, command, y):
    d = data
    res = getattr(smf, command)(f"{y} ~ x + (1 | a) + (1 | b)", data=d).fit()
    theta = res.model.split_params(res.params_internal)[2]
    np.testing.assert_allclose(theta, LME4[command][0], rtol=1e-14)
    se = res.predict("reses")
    assert list(se.columns) == ["_cons[a]", "_cons[b]"]
    Za, Zb = _indicator(d["a"]), _indicator(d["b"])
    weight = (lambda e: special.expit(e) * (1 - special.expit(e))) if command == "melogit" \
        else np.exp
    want = _dense_posterior_sd(res, [(Za, res.params["/var(_cons[a])"]),
                                        (Zb, res.params["/var(_cons[b])"])], weight)
    got_a = se["_cons[a]"].groupby(d["a"]).first().to_numpy()
    got_b = se["_cons[b]"].groupby(d["b"]).first().to_numpy()
    np.testing.assert_allclose(np.concatenate([got_a, got_b]), want, rtol=1e-9)
    np.testing.assert_allclose(got_a[[0, 1, 2, 39]], LME4[command][1], rtol=1e-3)
    np.testing.assert_allclose(got_b[[0, 1, 11]], LME4[command][2], rtol=1e-3)


@pytest.mark.parametrize("slope", ["a", "b"])
def test_crossed_reses_with_a_random_slope(data, slope):
    """Correlated intercept and slope on one factor, an intercept on the other: on ``b``
    (12 groups) the slope term is the dense part of H, on ``a`` (40 groups) the
    block-diagonal one. The posterior blocks' diagonals against dense algebra."""
    d = data
    other = "b" if slope == "a" else "a"
    res = smf.melogit(f"y ~ x + (1 + x | {slope}) + (1 | {other})", data=d).fit()
    se = res.predict("reses")
    p = res.params
    x = d["x"].to_numpy()
    Io, Is = _indicator(d[other]), _indicator(d[slope])
    ns, no = Is.shape[1], Io.shape[1]
    # columns: the other factor's intercepts, then the slopes, then the intercepts of `slope`
    Z = np.hstack([Io, Is * x[:, None], Is])
    G = np.array([[p[f"/var(x[{slope}])"], p[f"/cov(x[{slope}],_cons[{slope}])"]],
                  [p[f"/cov(x[{slope}],_cons[{slope}])"], p[f"/var(_cons[{slope}])"]]])
    prior = np.zeros((no + 2 * ns,) * 2)
    prior[:no, :no] = np.eye(no) / p[f"/var(_cons[{other}])"]
    Gi = np.linalg.inv(G)
    for j in range(ns):
        idx = [no + j, no + ns + j]
        prior[np.ix_(idx, idx)] = Gi
    re = res.predict("reffects")
    eta = res.predict("xb").to_numpy() + re[f"_cons[{other}]"].to_numpy() \
        + re[f"x[{slope}]"].to_numpy() * x + re[f"_cons[{slope}]"].to_numpy()
    mu = special.expit(eta)
    P = Z.T @ ((mu * (1 - mu))[:, None] * Z) + prior
    sd = np.sqrt(np.diag(np.linalg.inv(P)))
    # the engine stops its Newton search for the modes at steps below 1e-6, and the
    # predicted modes are those of that search: the weights agree to ~1e-8
    for col, by, want in ((f"_cons[{other}]", other, sd[:no]),
                          (f"x[{slope}]", slope, sd[no:no + ns]),
                          (f"_cons[{slope}]", slope, sd[no + ns:])):
        np.testing.assert_allclose(se[col].groupby(d[by]).first().to_numpy(), want,
                                   rtol=1e-7)
