"""``mixed`` with ``residuals()`` against nlme (R 4.2.2, nlme 3.1).

The panel is built from integer arithmetic (no random numbers), so R rebuilds it exactly:

    i <- rep(0:39, each = 6); j <- rep(0:5, 40)
    u <- ((i * i * 13 + 7 * i) %% 29) / 29 - 0.5
    a <- ((i * i * 31 + j * j * 17 + i * j * 7 + 5 * i + 3 * j) %% 101) / 101 - 0.5
    e <- a; for (k in seq_along(e)) if (j[k] > 0) e[k] <- a[k] + 0.5 * e[k - 1]
    x <- ((i * 17 + j * 29) %% 23) / 23; sex <- i %% 2
    d <- data.frame(id = i + 1, time = j + 1, x, sex, y = 1 + 2 * x + 2 * u + e * (1 + sex))
    ctl <- lmeControl(msTol = 1e-14, tolerance = 1e-12, maxIter = 500, msMaxIter = 500,
                      niterEM = 100)

Parametrizations: nlme's sigma^2 is Stata's var(e); its corAR1 Phi and corARMA's
coefficients are Stata's rho / phi# / theta#; corExp's range r gives Stata's exponential
rho = exp(-1 / r); varIdent's ratio c gives var(e) of the second by() level = c^2 sigma^2.
Standard errors of the variance components: nlme's ``apVar`` is the covariance of
(log sd(u), the correlation's unconstrained parameter, log sigma); by the delta method
se(var(u)) = 2 var(u) sd_1, se(s2) = 2 s2 sd_3 and, for corAR1 (unconstrained
log((1 + phi) / (1 - phi))), se(rho) = (1 - rho^2) / 2 sd_2.
"""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.models.mixed import Mixed
from statsmodels_me.spec.errors import SpecificationError


def panel(G=40, T=6):
    i = np.repeat(np.arange(G), T)
    j = np.tile(np.arange(T), G)
    u = ((i * i * 13 + 7 * i) % 29) / 29 - 0.5
    a = ((i * i * 31 + j * j * 17 + i * j * 7 + 5 * i + 3 * j) % 101) / 101 - 0.5
    e = np.zeros(len(i))
    for k in range(len(i)):
        e[k] = a[k] + (0.5 * e[k - 1] if j[k] > 0 else 0.0)
    x = ((i * 17 + j * 29) % 23) / 23
    sex = i % 2
    y = 1 + 2 * x + 2 * u + e * (1 + sex)
    return pd.DataFrame({"id": i + 1, "time": j + 1, "x": x, "sex": sex, "y": y})


@pytest.fixture(scope="module")
def data():
    return panel()


def fit(data, option, reml=False):
    text = f"y x || id:, residuals({option})" + (" reml" if reml else "")
    return Mixed.from_text(text, data).fit()


# (option, reml, nlme call, llf, beta (x, _cons), variance parameters in Stata's order)
CASES = [
    ("ar 1, t(time)", False,
     "lme(y ~ x, random = ~1|id, correlation = corAR1(form = ~time|id), method = 'ML')",
     -169.921917309656, [2.0580733870039, 0.8004761231744],
     [0.2004425396835, 0.5921657441161, 0.295905961579]),
    ("ar 1, t(time)", True,
     "lme(y ~ x, random = ~1|id, correlation = corAR1(form = ~time|id), method = 'REML')",
     -172.959724915857, [2.0580307031572, 0.8004159649189],
     [0.2094445127724, 0.5899522115585, 0.2959624366949]),
    ("ma 1, t(time)", False,
     "lme(y ~ x, random = ~1|id, correlation = corARMA(form = ~time|id, q = 1), "
     "method = 'ML')",
     -167.327684537324, [2.0651128148713, 0.7874314394641],
     [0.270028898226, 0.5583244554617, 0.2193080539349]),
    ("ar 2, t(time)", False,
     "lme(y ~ x, random = ~1|id, correlation = corARMA(form = ~time|id, p = 2), "
     "method = 'ML')",
     -166.488386499881, [2.0850572601395, 0.7768963048645],
     [0.2789063215492, 0.5551822581498, -0.2786549028424, 0.216065957705]),
    ("exponential, t(time)", True,
     "lme(y ~ x, random = ~1|id, correlation = corExp(form = ~time|id), method = 'REML'); "
     "range = 1.894965999636",
     -172.959724915746, [2.0580306882445, 0.8004159675576],
     [0.2094457874497, np.exp(-1 / 1.894965999636), 0.2959621642596]),
    ("independent, by(sex)", True,
     "lme(y ~ x, random = ~1|id, weights = varIdent(form = ~1|sex), method = 'REML'); "
     "ratio = 2.096794864125",
     -168.110414502734, [2.0130873419971, 0.8038198119412],
     [0.3033163510956, 0.07241039228754, 0.07241039228754 * 2.096794864125 ** 2]),
]


@pytest.mark.parametrize("option, reml, call, llf, beta, var", CASES,
                         ids=[f"{c[0]}-{'reml' if c[1] else 'ml'}" for c in CASES])
def test_against_nlme(data, option, reml, call, llf, beta, var):
    res = fit(data, option, reml)
    assert res.llf == pytest.approx(llf, rel=1e-6, abs=0)
    # nlme's optimum is no better than ours
    assert res.llf >= llf - 1e-9
    p = np.asarray(res.params)
    np.testing.assert_allclose(p[:2], beta, rtol=1e-5)
    np.testing.assert_allclose(p[2:], var, rtol=1e-5)


def test_ar1_standard_errors(data):
    # nlme apVar sds (ML): 0.2223989973 0.2984727192 0.1162259044; vcov(m) of beta
    res = fit(data, "ar 1, t(time)")
    vu, rho, s2 = 0.2004425396835, 0.5921657441161, 0.295905961579
    want = [0.08331708591, 0.09928470469, 2 * vu * 0.2223989973,
            (1 - rho ** 2) / 2 * 0.2984727192, 2 * s2 * 0.1162259044]
    np.testing.assert_allclose(np.asarray(res.bse), want, rtol=1e-3)


def test_ar1_reml_standard_errors(data):
    # nlme apVar sds (REML): 0.2180973766 0.2978236781 0.1157193176
    res = fit(data, "ar 1, t(time)", reml=True)
    vu, rho, s2 = 0.2094445127724, 0.5899522115585, 0.2959624366949
    want = [0.0835775399, 0.1004033076, 2 * vu * 0.2180973766,
            (1 - rho ** 2) / 2 * 0.2978236781, 2 * s2 * 0.1157193176]
    np.testing.assert_allclose(np.asarray(res.bse), want, rtol=1e-3)


@pytest.mark.parametrize("reml, llf", [(False, -190.38233987215), (True, -193.216618119408)])
def test_exchangeable_llf(data, reml, llf):
    # lme(y ~ x, random = ~1|id, correlation = corCompSymm(form = ~1|id)): with a random
    # intercept the split between var(u) and rho is not identified; the likelihood is
    res = fit(data, "exchangeable", reml)
    assert res.llf == pytest.approx(llf, rel=1e-6, abs=0)


def test_output_block(data):
    res = fit(data, "ar 1, t(time)")
    assert list(res.params.index[2:]) == ["/var(_cons[id])", "/Residual:rho",
                                          "/Residual:var(e)"]
    text = str(res.summary())
    assert "Residual: AR(1)" in text


@pytest.mark.parametrize("option, match", [
    ("nonsense", r"residuals\(nonsense\) is invalid"),
    ("ar 0, t(time)", r"residuals\(ar 0, t\(time\)\) is invalid.*positive integer order"),
    ("ar, t(time)", r"residuals\(ar, t\(time\)\) is invalid.*positive integer order"),
    ("ar 1", "needs the time variable"),
    ("unstructured", "needs the time variable"),
    ("ma 0, t(time)", r"residuals\(ma 0, t\(time\)\) is invalid.*positive integer order"),
    ("ar 1.5, t(time)", r"residuals\(ar 1.5, t\(time\)\) is invalid"),
    ("toeplitz 0, t(time)", r"residuals\(toeplitz 0, t\(time\)\).*at least 1"),
    ("exponential", r"residuals\(exponential\).*needs the time variable"),
    ("banded 2", r"residuals\(banded 2\).*needs the time variable"),
    ("toeplitz 1", r"residuals\(toeplitz 1\).*needs the time variable"),
    ("ma 1", r"residuals\(ma 1\).*needs the time variable"),
    # 6 times per id: lags 1..5
    ("ar 6, t(time)", r"residuals\(ar 6, t\(time\)\).*order 6 is larger than the largest "
                      r"lag of time within a group \(5\)"),
    ("ma 7, t(time)", r"residuals\(ma 7, t\(time\)\).*larger than the largest lag"),
    ("toeplitz 6, t(time)", r"residuals\(toeplitz 6, t\(time\)\).*larger than the largest"),
    ("banded 6, t(time)", r"residuals\(banded 6, t\(time\)\).*larger than the number of "
                          r"levels of time minus one \(5\)"),
    ("ar 1, t(half)", r"t\(half\) must hold integers"),
    ("ar 1, t(id)", r"t\(id\) repeats within a lowest-level group"),
    ("ar 1, t(time) by(odd)", r"by\(odd\) must be constant within the lowest-level groups"),
    ("ar 1, t(time) index(x)", r"index\(\) suboption is not implemented"),
])
def test_invalid_option(data, option, match):
    data = data.assign(half=data["time"] + 0.5, odd=np.arange(len(data)) % 2)
    with pytest.raises(SpecificationError, match=match):
        fit(data, option)


def test_ar1_postestimation_against_nlme(data):
    # m <- lme(y ~ x, random = ~1|id, correlation = corAR1(form = ~time|id), method = "ML")
    # getVarCov(m, individuals = "1", type = "marginal"); ranef(m); fitted(m);
    # resid(m, type = "normalized")
    # (predictions compared to 1e-5 absolute on a response of scale 1: the two optima agree
    # to ~1e-5 relative in var(u), which moves the BLUPs by ~2e-6)
    res = fit(data, "ar 1, t(time)")
    V = res.estat_wcorrelation(covariance=True).to_numpy()
    np.testing.assert_allclose(V[0], [0.496348501263, 0.375667913610, 0.304205003623,
                                      0.261887116354, 0.236827913149, 0.221988711437],
                               rtol=1e-5)
    C = res.estat_wcorrelation(at={"id": 1}).to_numpy()
    np.testing.assert_allclose(C, V / np.sqrt(np.outer(np.diag(V), np.diag(V))), rtol=1e-12)
    re = res.predict("reffects").to_numpy()[::6, 0]
    np.testing.assert_allclose(re[:3], [-0.5842496792493, -0.0317885881397,
                                        -0.2240323131311], rtol=0, atol=1e-5)
    np.testing.assert_allclose(res.predict("fitted").to_numpy()[:3],
                               [0.216226443925, 0.753115153578, 1.290003863231], rtol=0,
                               atol=1e-5)
    np.testing.assert_allclose(
        res.predict("rstandard").to_numpy()[:7],
        [-1.3166595520114, -0.8195236906040, 0.3970287612681, -0.0176538981093,
         0.5486574454370, -0.6398334338103, 0.5157803852889], rtol=0, atol=1e-5)
    resid = res.predict("residuals").to_numpy()
    np.testing.assert_allclose(resid, data["y"] - res.predict("fitted").to_numpy(),
                               rtol=1e-12)


def test_wcorrelation_random_intercept(data):
    # without residuals(): the correlation of two rows of one cluster is
    # var(u) / (var(u) + var(e)) (compound symmetry)
    res = Mixed.from_text("y x || id:", data).fit()
    vu, ve = np.asarray(res.params)[2:]
    C = res.estat_wcorrelation(at=3).to_numpy()
    assert C.shape == (6, 6)
    np.testing.assert_allclose(C[0, 1:], vu / (vu + ve), rtol=1e-12)
    with pytest.raises(SpecificationError, match="no cluster"):
        res.estat_wcorrelation(at=999)


@pytest.mark.parametrize("option", ["unstructured, t(time)", "banded 5, t(time)"])
def test_unstructured_llf_against_gls(data, option):
    # gls(y ~ x, correlation = corSymm(form = ~time|id), weights = varIdent(form = ~1|time),
    #     method = "ML"): -160.572794056922. The unstructured residual covariance absorbs the
    # random intercept (their split is not identified), so the maximum is that of gls.
    # (banded 5 on 6 times is unstructured.)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(data, option)
    assert res.llf == pytest.approx(-160.572794056922, rel=1e-6, abs=0)
    assert res.llf >= -160.572794056922 - 1e-8


@pytest.mark.parametrize("reml", [False, True], ids=["ml", "reml"])
def test_reses_ar1_against_dense_algebra(data, reml):
    # the BLUP standard errors from whole-sample dense matrices at the estimates:
    # Var(b | y) = G - G Z' V^-1 Z G (ML, Stata's reses); after REML Var(b_hat - b) with
    # V^-1 replaced by P = V^-1 - V^-1 X (X' V^-1 X)^-1 X' V^-1
    res = fit(data, "ar 1, t(time)", reml)
    vu, rho, s2 = np.asarray(res.params)[2:]
    ids = data["id"].to_numpy()
    t = data["time"].to_numpy()
    same = ids[:, None] == ids[None, :]
    V = vu * same + s2 * same * rho ** np.abs(t[:, None] - t[None, :])
    Z = (ids[:, None] == np.unique(ids)[None, :]).astype(float)
    X = np.column_stack([data["x"], np.ones(len(data))])
    P = np.linalg.inv(V)
    if reml:
        VX = P @ X
        P = P - VX @ np.linalg.solve(X.T @ VX, VX.T)
    want = np.sqrt(vu - vu ** 2 * np.diag(Z.T @ P @ Z))
    got = res.predict("reses").to_numpy()[::6, 0]
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("text", ["y x || id:,", "y x || id:, reml",
                                  "y x || id: x, cov(un) reml", "y x || id: || half:,"])
def test_residual_objective_reses_equal_standard_engine(data, text):
    # with independent residuals the residual-structure algebra must give the BLUP
    # variances of the standard engines at the same estimates
    from statsmodels_me.covariance.residual import ResidualSpec, ResidualStructure
    from statsmodels_me.objectives.lmm_residual import ResidualLMM
    res = Mixed.from_text(text, data.assign(half=(data["time"] > 3).astype(int))).fit()
    m = res.model
    obj = ResidualLMM(m.design.endog, m.design.exog, m.terms,
                      ResidualStructure(ResidualSpec("independent")),
                      m.design.levels[0].codes, m.design.levels[-1].codes, reml=m.reml)
    got = obj.blup_variances(obj.factor(np.asarray(res.theta)), fixed_uncertainty=m.reml)
    for a, b in zip(got, res.blup_variances(fixed_uncertainty=m.reml)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_simulate_refused_with_residual_structure(data):
    res = fit(data, "ar 1, t(time)")
    with pytest.raises(NotImplementedError, match="only independent residuals"):
        res.simulate(2, seed=1)


@pytest.mark.parametrize("reml, llf, beta, var", [
    (False, -143.609768976051, [2.038743221922982, 0.816061582777237],
     [0.173074881329833, 0.587839349410491, 0.29311333074988]),
    (True, -146.490937269934, [2.038071992571906, 0.816069357956261],
     [0.182288929402319, 0.583754422982615, 0.292595844340221]),
], ids=["ml", "reml"])
def test_ar1_unbalanced_with_gaps_against_nlme(data, reml, llf, beta, var):
    # 192 of the 240 rows: groups of 4 to 6 times with gaps, so the lags are |t_j - t_k|,
    # not positions. R, after the panel of the module docstring:
    #   d <- d[(i * 7 + j * 3) %% 5 != 0, ]
    #   m <- lme(y ~ x, random = ~1|id, correlation = corAR1(form = ~time|id), data = d,
    #            method = "ML" / "REML", control = ctl)
    #   logLik(m); fixef(m); getVarCov(m); coef(m$modelStruct$corStruct, FALSE); m$sigma^2
    i, j = data["id"].to_numpy() - 1, data["time"].to_numpy() - 1
    sub = data[(i * 7 + j * 3) % 5 != 0]
    assert len(sub) == 192
    res = fit(sub, "ar 1, t(time)", reml)
    assert res.llf == pytest.approx(llf, rel=1e-6, abs=0)
    assert res.llf >= llf - 1e-9
    np.testing.assert_allclose(np.asarray(res.params), beta + var, rtol=1e-5)
