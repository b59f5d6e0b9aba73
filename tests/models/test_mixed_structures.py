"""``mixed`` beyond the seed examples: covariance structures, nested and crossed levels.

Reference numbers: R 4.2.2 with lme4 1.1.31 (``lmer(..., REML=, control=lmerControl(
optimizer="bobyqa"))``; ``logLik``, ``fixef``, ``as.data.frame(VarCorr(fit))$vcov``) and nlme
3.1.162 (``lme(..., random=list(id=pdIdent(~week)) / pdCompSymm(~week), method=,
control=lmeControl(tolerance=1e-10, msTol=1e-12))``; ``logLik``, ``fixef``, ``getVarCov``,
``sigma^2``), run on the bundled pig and tvsfpors data and on tests/models/data/lmm_nested4.csv
(simulated: 8 a > 3 b > 3 c > 4 obs, random intercepts at a, b, c and slopes on x at a, b).
Each R call is written next to its numbers.

Tolerances are set by the reference optimizers' accuracy: log likelihoods to 2e-6 absolute,
fixed effects to 1e-6 relative, variances to 1e-4 relative (bobyqa and nlme stop when the
deviance changes by ~1e-8, which moves a variance by up to ~1e-5 relative), covariances to
1e-4 of sqrt(var_i var_j) (their correlation to 1e-4).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def frames():
    pig = load("pig")
    pig["grp"] = (pig["week"] - 1) // 3
    return {"pig": pig, "tv": load("tvsfpors"),
            "n4": pd.read_csv(DATA / "lmm_nested4.csv")}


P_EXCH = {"P": np.array([[1.0, np.nan], [2.0, 1.0]])}

# key: (Stata syntax, data, options, {"ML": (llf, {param: value}), "REML": ...})
CASES = {
    # nlme: lme(weight ~ week, random = list(id = pdIdent(~week)), data = pig, method = m)
    "identity": ("weight week || id: week, cov(identity)", "pig", {}, {
        "ML": (-904.249478508, {"week": 6.20989583333, "_cons": 19.35561342593,
                                "/var(week _cons[id])": 2.73408920646,
                                "/var(e.weight)": 1.65980922953}),
        "REML": (-905.119866276, {"week": 6.20989583333, "_cons": 19.35561342593,
                                  "/var(week _cons[id])": 2.82437059035,
                                  "/var(e.weight)": 1.65643998038})}),
    # nlme: lme(weight ~ week, random = list(id = pdCompSymm(~week)), data = pig, method = m)
    "exchangeable": ("weight week || id: week, cov(exchangeable)", "pig", {}, {
        "ML": (-904.243370113, {"/var(week[id])": 2.7394188031, "/var(_cons[id])": 2.7394188031,
                                "/cov(week[id],_cons[id])": -0.0449442654229,
                                "/var(e.weight)": 1.6593019169}),
        "REML": (-905.112808677, {"/var(week[id])": 2.83006657108,
                                  "/var(_cons[id])": 2.83006657108,
                                  "/cov(week[id],_cons[id])": -0.050377251063,
                                  "/var(e.weight)": 1.65592832641})}),
    # pattern(P) with equal variances and a free covariance is the exchangeable structure:
    # same nlme pdCompSymm fits as above
    "pattern": ("weight week || id: week, cov(pattern(P))", "pig", {"matrices": P_EXCH}, {
        "ML": (-904.243370113, {"/var(week[id])": 2.7394188031, "/var(_cons[id])": 2.7394188031,
                                "/cov(week[id],_cons[id])": -0.0449442654229,
                                "/var(e.weight)": 1.6593019169}),
        "REML": (-905.112808677, {"/var(week[id])": 2.83006657108,
                                  "/var(_cons[id])": 2.83006657108,
                                  "/cov(week[id],_cons[id])": -0.050377251063,
                                  "/var(e.weight)": 1.65592832641})}),
    # lme4: lmer(weight ~ week + (week || id), data = pig, REML = r)
    "independent": ("weight week || id: week, cov(independent)", "pig", {}, {
        "ML": (-869.038250456, {"week": 6.20989583333, "_cons": 19.35561342592,
                                "/var(week[id])": 0.368066342824,
                                "/var(_cons[id])": 6.756356529024,
                                "/var(e.weight)": 1.59881155549}),
        "REML": (-870.514734846, {"/var(week[id])": 0.376440011298,
                                  "/var(_cons[id])": 6.917592240331,
                                  "/var(e.weight)": 1.598784301331})}),
    # blocked diagonal at one level: the same lme4 fits as "independent"
    "blocked": ("weight week || id: week, nocons || id:", "pig", {}, {
        "ML": (-869.038250456, {"/var(week[id])": 0.368066342824,
                                "/var(_cons[id])": 6.756356529024,
                                "/var(e.weight)": 1.59881155549}),
        "REML": (-870.514734846, {"/var(week[id])": 0.376440011298,
                                  "/var(_cons[id])": 6.917592240331,
                                  "/var(e.weight)": 1.598784301331})}),
    # lme4: lmer(weight ~ 0 + week + (1 | id), data = pig, REML = r)
    "noconstant": ("weight week, noconstant || id:", "pig", {}, {
        "ML": (-1092.52683166, {"week": 6.22811610393, "/var(_cons[id])": 385.93860577752,
                                "/var(e.weight)": 4.38575427281}),
        "REML": (-1094.85319775, {"week": 6.22816190591, "/var(_cons[id])": 385.9665390945,
                                  "/var(e.weight)": 4.3971636723})}),
    # grp = (week - 1) %/% 3 in {0, 1, 2}; g1, g2 its indicators;
    # lme4: lmer(weight ~ week + (1|id) + (0+g1|id) + (0+g2|id), data = pig, REML = r)
    "factor_re": ("weight week || id: i.grp", "pig", {}, {
        "ML": (-918.183147162, {"week": 6.28382149832, "_cons": 19.23881711094,
                                "/var(1.grp[id])": 2.61122019442,
                                "/var(2.grp[id])": 12.15046669935,
                                "/var(_cons[id])": 8.52084967017,
                                "/var(e.weight)": 1.737800888}),
        "REML": (-920.161910183, {"week": 6.28397054603, "_cons": 19.23857760901,
                                  "/var(1.grp[id])": 2.62244144697,
                                  "/var(2.grp[id])": 12.22074991031,
                                  "/var(_cons[id])": 8.70827556561,
                                  "/var(e.weight)": 1.74130922537})}),
    # three effects (1.grp 2.grp _cons), exchangeable; nlme: lme(weight ~ week,
    # random = list(id = pdCompSymm(~ g1 + g2)), data = pig, method = "ML")
    "exchangeable3": ("weight week || id: i.grp, cov(exchangeable)", "pig", {}, {
        "ML": (-910.470116888, {"/var(1.grp[id])": 7.561623, "/var(_cons[id])": 7.561623,
                                "/cov(1.grp[id],2.grp[id])": 4.414304,
                                "/cov(2.grp[id],_cons[id])": 4.414304,
                                "/var(e.weight)": 1.7535175141})}),
    # lme4: lmer(weight ~ week + (1 + g1 + g2 | id), data = pig, REML = FALSE)
    "unstructured3": ("weight week || id: i.grp, cov(unstructured)", "pig", {}, {
        "ML": (-887.725329313, {"/var(_cons[id])": 7.31413070031,
                                "/var(1.grp[id])": 2.77030140397,
                                "/var(2.grp[id])": 13.57746385942,
                                "/cov(1.grp[id],_cons[id])": 3.52878270087,
                                "/cov(2.grp[id],_cons[id])": 4.73240267511,
                                "/cov(1.grp[id],2.grp[id])": 5.36457317641,
                                "/var(e.weight)": 1.73430216077})}),
    # lme4: lmer(thk ~ prethk + cc*tv + (1 | school/class), data = tvsfpors, REML = r)
    "nested3": ("thk prethk i.cc##i.tv || school: || class:", "tv", {}, {
        "ML": (-2348.90984615, {"prethk": 0.220180091115, "1.cc": 0.507470435215,
                                "1.tv": 0.147982274088, "1.cc#1.tv": -0.235754411408,
                                "_cons": 1.861368463936,
                                "/var(_cons[school])": 0.0190436283668,
                                "/var(_cons[school>class])": 0.0471505888815,
                                "/var(e.thk)": 1.0570792038192}),
        "REML": (-2357.77790396, {"prethk": 0.218603919746, "1.cc": 0.512967261379,
                                  "1.tv": 0.154388185649, "1.cc#1.tv": -0.249761039084,
                                  "_cons": 1.86442494779,
                                  "/var(_cons[school])": 0.0293544507956,
                                  "/var(_cons[school>class])": 0.0474087314072,
                                  "/var(e.thk)": 1.0572017013367})}),
    # lme4: lmer(y ~ x + (1 | a/b/c), data = lmm_nested4, REML = r)
    "nested4": ("y x || a: || b: || c:", "n4", {}, {
        "ML": (-461.299137224, {"x": 0.445662093389, "_cons": 1.041675646267,
                                "/var(_cons[a])": 0.934972513997,
                                "/var(_cons[a>b])": 0.644141775316,
                                "/var(_cons[a>b>c])": 0.35714185749,
                                "/var(e.y)": 0.980670489656}),
        "REML": (-463.199229499, {"x": 0.445723051414, "_cons": 1.041678687019,
                                  "/var(_cons[a])": 1.108748281824,
                                  "/var(_cons[a>b])": 0.643978414425,
                                  "/var(_cons[a>b>c])": 0.357332322651,
                                  "/var(e.y)": 0.984767070574})}),
    # lme4: lmer(y ~ x + (x || a) + (x || a:b), data = lmm_nested4, REML = r)
    "slopes2": ("y x || a: x || b: x", "n4", {}, {
        "ML": (-425.990755588, {"x": 0.396269231293, "_cons": 1.067650469234,
                                "/var(x[a])": 0.165423592228, "/var(_cons[a])": 1.078112703736,
                                "/var(x[a>b])": 0.306037435418,
                                "/var(_cons[a>b])": 0.668397881244,
                                "/var(e.y)": 0.733678762694}),
        "REML": (-426.648681065, {"/var(x[a])": 0.206627927092,
                                  "/var(_cons[a])": 1.268215517979,
                                  "/var(x[a>b])": 0.306985070743,
                                  "/var(_cons[a>b])": 0.667549197267,
                                  "/var(e.y)": 0.733575717223})}),
    # lme4: lmer(y ~ x + (1 + x | a) + (1 + x | a:b), data = lmm_nested4, REML = r)
    "slopes2un": ("y x || a: x, cov(un) || b: x, cov(un)", "n4", {}, {
        "ML": (-425.235762782, {"x": 0.395111091272, "_cons": 1.067932364851,
                                "/var(x[a])": 0.1657335864038,
                                "/var(_cons[a])": 1.0786334944062,
                                "/cov(x[a],_cons[a])": -0.1841415704203,
                                "/var(x[a>b])": 0.309108280925,
                                "/var(_cons[a>b])": 0.6696868995513,
                                "/cov(x[a>b],_cons[a>b])": -0.0900631632497,
                                "/var(e.y)": 0.7329549044523}),
        "REML": (-425.95456533, {"/var(x[a])": 0.2069775628127,
                                 "/var(_cons[a])": 1.2689139723338,
                                 "/cov(x[a],_cons[a])": -0.2147003332965,
                                 "/var(x[a>b])": 0.3099406400058,
                                 "/var(_cons[a>b])": 0.6686093493662,
                                 "/cov(x[a>b],_cons[a>b])": -0.0904187328262,
                                 "/var(e.y)": 0.7329072441638})}),
    # lme4: lmer(weight ~ week + (1 | week) + (1 + week | id), data = pig, REML = r)
    "crossed_slope": ("weight week || _all: R.week || id: week, cov(un)", "pig", {}, {
        "ML": (-856.897779071, {"/var(R.week[_all])": 0.156715507765,
                                "/var(week[id])": 0.376001827501,
                                "/var(_cons[id])": 6.963129266744,
                                "/cov(week[id],_cons[id])": -0.120110256416,
                                "/var(e.weight)": 1.425988964993}),
        "REML": (-858.072436344, {"/var(R.week[_all])": 0.171216518241,
                                  "/var(week[id])": 0.382849320546,
                                  "/var(_cons[id])": 7.076828678862,
                                  "/cov(week[id],_cons[id])": -0.117631542297,
                                  "/var(e.weight)": 1.425613060114})}),
    # lme4: lmer(weight ~ week + (1 | week) + (1 | id), data = pig, REML = TRUE)
    # (the ML fit is Stata's example 8, tested in test_mixed_seed.py)
    "crossed": ("weight week || _all: R.id || _all: R.week", "pig", {}, {
        "REML": (-1015.42140968, {"/var(R.id[_all])": 15.152708018517,
                                  "/var(R.week[_all])": 0.111396131091,
                                  "/var(e.weight)": 4.296982744054})}),
    # lme4: lmer(weight ~ week + (1 + week | id), data = pig, REML = TRUE)
    "ex4_reml": ("weight week || id: week, cov(un)", "pig", {}, {
        "REML": (-870.435617263, {"/var(week[id])": 0.379995659299,
                                  "/var(_cons[id])": 6.98646323563,
                                  "/cov(week[id],_cons[id])": -0.10336295608,
                                  "/var(e.weight)": 1.596829554389})}),
}

PARAMS = [(k, m) for k, (_, _, _, refs) in CASES.items() for m in refs]


@pytest.mark.parametrize("key,method", PARAMS, ids=[f"{k}-{m}" for k, m in PARAMS])
def test_against_r(frames, key, method):
    text, data, opts, refs = CASES[key]
    llf, values = refs[method]
    res = smf.mixed(text, data=frames[data], reml=(method == "REML"), **opts).fit()
    assert abs(res.llf - llf) <= 2e-6, (res.llf, llf)
    k_fe = res.model.k_fe
    for name, want in values.items():
        got = float(res.params[name])
        if list(res.params.index).index(name) < k_fe:
            tol = 1e-6 * abs(want)
        elif name.startswith("/cov("):
            # a covariance is resolved on the scale of its variances (the correlation to
            # 1e-4), not relative to itself: in the exchangeable REML fit cov = -0.05 next
            # to variances of 2.8, and deviance changes below 1e-12 move it by 4e-6
            a, b = name[5:-1].split(",")
            sd = np.sqrt(res.params[f"/var({a})"] * res.params[f"/var({b})"])
            tol = 1e-4 * max(abs(want), sd)
        else:
            tol = 1e-4 * abs(want)
        assert abs(got - want) <= tol, (name, got, want)
    assert res.info.converged


def _dense_loglike(res):
    """Exact Gaussian marginal log likelihood with dense V = Z G Z' + s2 I at the estimates.

    Independent of the engine: builds V from the per-observation random-effects design
    of each level (one dummy column per group and effect) and the fitted covariances.
    """
    model = res.model
    d = model.design
    n = d.nobs
    V = float(res.params.iloc[-1]) * np.eye(n)
    pos = model.k_fe
    for lev, cov in zip(d.levels, model.level_covs):
        k = cov.n_display
        theta = cov.theta_from_display(np.asarray(res.params.iloc[pos:pos + k]))
        pos += k
        Sigma = cov.matrix(theta)
        Z = np.hstack([b.Z for b in lev.blocks])
        for g in range(lev.n_groups):
            rows = lev.codes == g
            Zg = Z[rows]
            V[np.ix_(rows, rows)] += Zg @ Sigma @ Zg.T
    r = d.endog - d.exog @ np.asarray(res.params.iloc[:model.k_fe])
    sign, logdet = np.linalg.slogdet(V)
    return -0.5 * (n * np.log(2 * np.pi) + logdet + r @ np.linalg.solve(V, r))


@pytest.mark.parametrize("text,data", [
    ("weight week || id: week, cov(exchangeable)", "pig"),
    ("weight week || id: week, cov(identity)", "pig"),
    ("y x || a: x, cov(un) || b: x", "n4"),
])
def test_llf_equals_dense_marginal_likelihood(frames, text, data):
    # brute force: the reported ML log likelihood is the dense marginal likelihood at the
    # reported estimates (no profiling, no Cholesky blocks)
    res = smf.mixed(text, data=frames[data]).fit()
    assert abs(res.llf - _dense_loglike(res)) <= 1e-7 * abs(res.llf)


def test_dense_likelihood_maximum_for_exchangeable(frames):
    # brute force: maximize the dense marginal likelihood of the exchangeable model over
    # (beta, log var, atanh-scaled corr, log s2) with scipy, independently of the engine
    from scipy import optimize
    pig = frames["pig"]
    res = smf.mixed("weight week || id: week, cov(exchangeable)", data=pig).fit()
    y = pig["weight"].to_numpy(float)
    X = np.column_stack([pig["week"], np.ones(len(pig))])
    Z = X
    groups = [np.flatnonzero(pig["id"].to_numpy() == g) for g in np.unique(pig["id"])]

    def nll(x):
        b, v, rho, s2 = x[:2], np.exp(x[2]), np.tanh(x[3]), np.exp(x[4])
        S = v * np.array([[1.0, rho], [rho, 1.0]])
        out = 0.0
        for rows in groups:
            Vg = Z[rows] @ S @ Z[rows].T + s2 * np.eye(len(rows))
            r = y[rows] - X[rows] @ b
            out += np.linalg.slogdet(Vg)[1] + r @ np.linalg.solve(Vg, r)
        return 0.5 * (out + len(y) * np.log(2 * np.pi))

    x0 = np.array([6.0, 19.0, np.log(2.0), 0.0, np.log(2.0)])
    opt = optimize.minimize(nll, x0, method="BFGS", options={"gtol": 1e-8})
    assert abs(-opt.fun - res.llf) <= 1e-6
    assert abs(np.exp(opt.x[2]) - res.params["/var(_cons[id])"]) <= 1e-4 * np.exp(opt.x[2])
    cov = np.exp(opt.x[2]) * np.tanh(opt.x[3])
    assert abs(cov - res.params["/cov(week[id],_cons[id])"]) <= 1e-3 * abs(cov)


def test_identity_several_effects_labels(frames):
    res = smf.mixed("weight week || id: week, cov(identity)", data=frames["pig"]).fit()
    assert list(res.vcomp.index) == ["id: var(week _cons)", "var(Residual)"]


def test_fixed_with_free_elements_is_independent_on_the_absolute_scale(frames):
    # fixed(F) with missing (free) diagonal and zero covariance is the independent structure:
    # lme4 lmer(weight ~ week + (week || id), pig, REML = FALSE) as in CASES["independent"]
    F = {"F": np.array([[np.nan, 0.0], [0.0, np.nan]])}
    res = smf.mixed("weight week || id: week, cov(fixed(F))", data=frames["pig"],
                    matrices=F).fit()
    llf, values = CASES["independent"][3]["ML"]
    assert abs(res.llf - llf) <= 2e-6
    for name in ("/var(week[id])", "/var(_cons[id])", "/var(e.weight)"):
        assert abs(res.params[name] - values[name]) <= 1e-4 * values[name]


def _dense_fixed_sigma(pig, Sigma, reml):
    """Brute force: maximize the dense (restricted) likelihood over s2 (beta by GLS)."""
    from scipy import optimize
    y = pig["weight"].to_numpy(float)
    X = np.column_stack([pig["week"], np.ones(len(pig))])
    groups = [np.flatnonzero(pig["id"].to_numpy() == g) for g in np.unique(pig["id"])]
    n, p = X.shape

    def nll(ls2):
        s2 = np.exp(ls2[0])
        Vi_blocks, logdet = [], 0.0
        XtViX, XtViy = np.zeros((p, p)), np.zeros(p)
        for rows in groups:
            Vg = X[rows] @ Sigma @ X[rows].T + s2 * np.eye(len(rows))
            Vi = np.linalg.inv(Vg)
            Vi_blocks.append(Vi)
            logdet += np.linalg.slogdet(Vg)[1]
            XtViX += X[rows].T @ Vi @ X[rows]
            XtViy += X[rows].T @ Vi @ y[rows]
        beta = np.linalg.solve(XtViX, XtViy)
        q = sum((y[r] - X[r] @ beta) @ Vi @ (y[r] - X[r] @ beta)
                for r, Vi in zip(groups, Vi_blocks))
        if reml:
            return 0.5 * ((n - p) * np.log(2 * np.pi) + logdet
                          + np.linalg.slogdet(XtViX)[1] + q), beta, s2
        return 0.5 * (n * np.log(2 * np.pi) + logdet + q), beta, s2

    opt = optimize.minimize_scalar(lambda t: nll([t])[0], bracket=(-1.0, 0.5, 2.0),
                                   method="brent", tol=1e-10)
    f, beta, s2 = nll([opt.x])
    return -f, beta, s2


@pytest.mark.parametrize("reml", [False, True])
def test_fixed_covariance_against_dense_likelihood(frames, reml):
    pig = frames["pig"]
    Sigma = np.array([[0.37, 0.0], [0.0, 6.8]])
    res = smf.mixed("weight week || id: week, cov(fixed(F))", data=pig,
                    matrices={"F": Sigma}, reml=reml).fit()
    llf, beta, s2 = _dense_fixed_sigma(pig, Sigma, reml)
    assert abs(res.llf - llf) <= 1e-7
    assert np.allclose(res.params[["week", "_cons"]], beta, rtol=1e-8)
    assert abs(res.params["/var(e.weight)"] - s2) <= 1e-5 * s2
    # the fixed elements are reported as given, with no sampling variance
    assert res.params["/var(week[id])"] == pytest.approx(0.37, abs=1e-14)
    assert res.params["/var(_cons[id])"] == pytest.approx(6.8, abs=1e-14)
    assert res.bse["/var(_cons[id])"] == 0.0
    assert res.bse["/var(e.weight)"] > 0


def test_fixed_block_next_to_a_free_block(frames):
    # one fixed variance and one free random intercept at the same level; the free
    # variance must be the maximizer of the dense likelihood with var(week) = 0.37 fixed
    pig = frames["pig"]
    res = smf.mixed("weight week || id: week, nocons cov(fixed(F)) || id:", data=pig,
                    matrices={"F": np.array([[0.37]])}).fit()
    v = res.params["/var(_cons[id])"]
    base = _dense_fixed_sigma(pig, np.diag([0.37, v]), False)[0]
    assert abs(res.llf - base) <= 1e-7
    for dv in (-1e-2, 1e-2):
        assert _dense_fixed_sigma(pig, np.diag([0.37, v + dv]), False)[0] < base


@pytest.mark.parametrize("text,opts", [
    ("weight week || id: week, cov(unstructured)", {}),
    ("weight week || id: week, cov(exchangeable)", {"reml": True}),
    ("weight week || _all: R.week || id:", {}),
    ("weight week || id: week, cov(fixed(F))", {"matrices": {"F": np.diag([0.37, 6.8])}}),
])
def test_loglike_at_the_estimates_is_llf(frames, text, opts):
    # Mixed.loglike maps Stata's display-scale parameters back to the engine's theta
    res = smf.mixed(text, data=frames["pig"], **opts).fit()
    assert abs(res.model.loglike(np.asarray(res.params)) - res.llf) <= 1e-8 * abs(res.llf)


def test_variance_component_ses_against_dense_hessian(frames):
    # brute force: the observed information of the dense marginal likelihood in Stata's
    # display parameters (var(_cons[a]), var(_cons[a>b]), var(_cons[a>b>c]), var(e)), with
    # beta profiled by GLS, inverted; compared with the reported standard errors
    from statsmodels.tools.numdiff import approx_hess3
    d = frames["n4"]
    res = smf.mixed("y x || a: || b: || c:", data=d).fit()
    y = d["y"].to_numpy(float)
    X = np.column_stack([d["x"], np.ones(len(d))])
    a = d["a"].to_numpy()
    ab = a * 10 + d["b"].to_numpy()
    abc = ab * 10 + d["c"].to_numpy()
    # V is block diagonal over the top level: one small dense block per group of a
    blocks = [np.flatnonzero(a == g) for g in np.unique(a)]
    same = [[np.equal.outer(k[r], k[r]).astype(float) for k in (a, ab, abc)] for r in blocks]

    def nll(v):
        XtViX, XtViy, logdet, Vis = np.zeros((2, 2)), np.zeros(2), 0.0, []
        for r, S in zip(blocks, same):
            V = v[0] * S[0] + v[1] * S[1] + v[2] * S[2] + v[3] * np.eye(len(r))
            Vi = np.linalg.inv(V)
            Vis.append(Vi)
            logdet += np.linalg.slogdet(V)[1]
            XtViX += X[r].T @ Vi @ X[r]
            XtViy += X[r].T @ Vi @ y[r]
        beta = np.linalg.solve(XtViX, XtViy)
        q = sum((y[r] - X[r] @ beta) @ Vi @ (y[r] - X[r] @ beta) for r, Vi in zip(blocks, Vis))
        return 0.5 * (logdet + q + len(y) * np.log(2 * np.pi))

    names = ["/var(_cons[a])", "/var(_cons[a>b])", "/var(_cons[a>b>c])", "/var(e.y)"]
    v0 = res.params[names].to_numpy()
    assert abs(-nll(v0) - res.llf) < 1e-8
    cov = np.linalg.inv(approx_hess3(v0, nll, epsilon=1e-4 * v0))
    assert np.allclose(res.bse[names], np.sqrt(np.diag(cov)), rtol=1e-3)
