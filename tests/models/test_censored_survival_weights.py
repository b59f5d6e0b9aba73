"""Weights for metobit, meintreg and mestreg (as meglm's: ``[fweight|pweight|iweight=exp]``,
``|| id:, fweight(v)`` / ``pweight(v)``).

References:
- frequency weights are exact replication: ``[fw=f]`` is the model on the rows repeated f
  times, ``|| id:, fweight(g)`` the model on the clusters repeated g times (as new clusters);
  log likelihood, estimates and standard errors agree to rounding, and the header's counts
  (censored rows, failures, time at risk) are the replicated sample's;
- integer importance weights give the frequency-weighted likelihood;
- sampling weights: the pseudo-likelihood sum_j w_j log int prod_i f(y_ij | b)^(w_i|j)
  N(b; 0, s2) db of Rabe-Hesketh & Skrondal (2006) by the 30-point adaptive Gauss-Hermite
  quadrature of ``_aghq_reference`` (scipy densities, its own optimizer), and its cluster
  sandwich from central-difference scores and Hessian -- log pseudolikelihood 1e-6
  relative, estimates 1e-5, robust standard errors 1e-3.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from _aghq_reference import aghq_fit, aghq_sandwich
from scipy import special, stats

import statsmodels_me.formula.api as smf


def _tobit_data(seed=42, G=40, m=6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    ys = 1.0 + 0.7 * x + rng.normal(0, 0.8, G)[g] + rng.normal(0, 1.2, G * m)
    y = np.clip(ys, 0, 3)
    lo = np.where(ys < 0, np.nan, np.floor(ys))
    hi = np.where(ys > 2.5, np.nan, np.floor(ys) + 1)
    exact = rng.uniform(size=G * m) < 0.3
    lo[exact], hi[exact] = ys[exact], ys[exact]
    return pd.DataFrame({"y": y, "ylo": lo, "yhi": hi, "x": x, "id": g,
                         "f": rng.integers(1, 4, G * m), "fg": rng.integers(1, 3, G)[g],
                         "pw": rng.uniform(0.5, 2.0, G * m), "pg": rng.uniform(0.5, 3.0, G)[g]})


def _surv_data(seed=7, G=40, m=6):
    """Weibull PH spells (p = 1.4), random intercept sd 0.6, censoring, 30% late entries."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    eta = -0.5 + 0.6 * x + rng.normal(0, 0.6, G)[g]
    t = (rng.exponential(1.0, G * m) / np.exp(eta)) ** (1 / 1.4)
    c = rng.uniform(0.5, 3.0, G * m)
    tt = np.minimum(t, c)
    t0 = np.where(rng.uniform(size=G * m) < 0.3, 0.2 * tt, 0.0)
    return pd.DataFrame({"t": tt, "d": (t <= c).astype(int), "t0": t0, "x": x, "id": g,
                         "f": rng.integers(1, 4, G * m), "fg": rng.integers(1, 3, G)[g],
                         "pw": rng.uniform(0.5, 2.0, G * m), "pg": rng.uniform(0.5, 3.0, G)[g]})


def _fit(cmd, text, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(smf, cmd)(text, data, **kw).fit()


_SURV = {"time": "t", "failure": "d", "entry": "t0"}
# (command, text with {w} for the observation weight and {lw} for the level options, data,
#  keywords)
CASES = {
    "metobit": ("metobit", "y x {w} || id:, {lw} ll(0) ul(3)", _tobit_data, {}),
    "meintreg": ("meintreg", "ylo yhi x {w} || id:, {lw}", _tobit_data, {}),
    "mestreg": ("mestreg", "x {w} || id:, {lw} distribution(weibull)", _surv_data, _SURV),
}


def _replicate_rows(df, col):
    return df.loc[df.index.repeat(df[col])].reset_index(drop=True)


def _replicate_groups(df, col, group, new="rid"):
    """Every group repeated ``col`` times, each copy a new group ``new``."""
    parts, code = [], 0
    for _, sub in df.groupby(group, sort=True):
        for _ in range(int(sub[col].iloc[0])):
            parts.append(sub.assign(**{new: code}))
            code += 1
    return pd.concat(parts, ignore_index=True)


def _same(a, b, params=1e-8, se=1e-6):
    assert a.llf == pytest.approx(b.llf, rel=1e-10, abs=1e-8)
    assert a.nobs == b.nobs
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=params,
                               atol=params)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=se, atol=se)
    # the header's counts (censoring, failures, time at risk) are the replicated sample's
    assert dict(a.info.extra_header) == dict(b.info.extra_header)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("intmethod", ["mvaghermite", "laplace"])
def test_fweights_equal_replicated_rows(case, intmethod):
    cmd, text, data, kw = CASES[case]
    df = data()
    a = _fit(cmd, text.format(w="[fw=f]", lw=f"intmethod({intmethod})"), df, **kw)
    b = _fit(cmd, text.format(w="", lw=f"intmethod({intmethod})"), _replicate_rows(df, "f"),
             **kw)
    _same(a, b)
    assert a.model.vce.kind == "oim"


@pytest.mark.parametrize("case", sorted(CASES))
def test_level_fweights_equal_replicated_clusters(case):
    cmd, text, data, kw = CASES[case]
    df = data()
    a = _fit(cmd, text.format(w="", lw="fweight(fg)"), df, **kw)
    rep = _replicate_groups(df, "fg", "id")
    b = _fit(cmd, text.replace("id:", "rid:").format(w="", lw=""), rep, **kw)
    _same(a, b)


def test_integer_iweights_equal_fweights():
    cmd, text, data, kw = CASES["mestreg"]
    df = data()
    a = _fit(cmd, text.format(w="[iw=f]", lw=""), df, **kw)
    b = _fit(cmd, text.format(w="[fw=f]", lw=""), df, **kw)
    assert a.llf == pytest.approx(b.llf, rel=1e-12)
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=1e-8)


# ------------------------------------------------------------------ sampling weights

def _tobit_rows(y):
    def loglike(eta, aux):
        sd = np.exp(0.5 * aux[0])
        return np.where(y <= 0, stats.norm.logcdf(0, eta, sd),
                        np.where(y >= 3, stats.norm.logsf(3, eta, sd),
                                 stats.norm.logpdf(y, eta, sd)))
    return loglike


def _interval_rows(lo, hi):
    lo = np.where(np.isnan(lo), -np.inf, lo)
    hi = np.where(np.isnan(hi), np.inf, hi)
    exact = lo == hi

    def loglike(eta, aux):
        sd = np.exp(0.5 * aux[0])
        za, zb = (lo - eta) / sd, (hi - eta) / sd
        with np.errstate(invalid="ignore", divide="ignore"):
            cens = np.log(special.ndtr(zb) - special.ndtr(za))
        return np.where(exact, stats.norm.logpdf(np.where(exact, lo, 0.0), eta, sd), cens)
    return loglike


def _weibull_rows(t, d, t0):
    def loglike(eta, aux):
        p = np.exp(aux[0])
        law = stats.weibull_min(p, scale=np.exp(-eta / p))
        out = np.where(d == 1, law.logpdf(t), law.logsf(t))
        return out - np.where(t0 > 0, law.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)
    return loglike


def _reference(case, df):
    """(llf, display estimates, robust SEs) of the weighted pseudo-likelihood."""
    X = np.column_stack([df["x"], np.ones(len(df))])
    groups = df["id"].to_numpy()
    wi, wj = df["pw"].to_numpy(), df.groupby("id")["pg"].first().to_numpy()
    if case == "metobit":
        rows, start = _tobit_rows(df["y"].to_numpy()), [0.5, 1.0, 0.0, 0.0]
    elif case == "meintreg":
        rows, start = _interval_rows(df["ylo"].to_numpy(), df["yhi"].to_numpy()), \
            [0.5, 1.0, 0.0, 0.0]
    else:
        rows = _weibull_rows(*(df[k].to_numpy() for k in ("t", "d", "t0")))
        start = [0.5, -0.5, 0.3, -1.0]
    z, llf, _ = aghq_fit(rows, X, groups, start, wi, wj)
    V = aghq_sandwich(rows, X, groups, z, wi, wj)
    # display: x, _cons, then (censored) var(_cons[id]), var(e.y) -- reference: x, _cons,
    # log var_e, log var_u; (survival) /ln_p, var(_cons[id]) -- reference: ln_p, log var_u
    J = np.zeros((4, 4))
    J[0, 0] = J[1, 1] = 1.0
    if case == "mestreg":
        J[2, 2], J[3, 3] = 1.0, np.exp(z[3])
        want = np.array([z[0], z[1], z[2], np.exp(z[3])])
    else:
        J[2, 3], J[3, 2] = np.exp(z[3]), np.exp(z[2])
        want = np.array([z[0], z[1], np.exp(z[3]), np.exp(z[2])])
    return llf, want, np.sqrt(np.diag(J @ V @ J.T))


@pytest.mark.parametrize("case", sorted(CASES))
def test_pweights_pseudo_likelihood_and_sandwich(case):
    cmd, text, data, kw = CASES[case]
    df = data()
    res = _fit(cmd, text.format(w="[pw=pw]", lw="pweight(pg) intpoints(30)"), df, **kw)
    llf, want, se = _reference(case, df)
    assert res.model.vce.robust      # implied by the sampling weights
    assert res.llf == pytest.approx(llf, rel=1e-6)
    np.testing.assert_allclose(np.asarray(res.params), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(res.bse), se, rtol=1e-3)
    text = str(res.summary())
    assert "Std. err. adjusted for 40 clusters in id" in text
    assert "pseudolikelihood" in text


def test_input_frame_unchanged():
    df = _surv_data()
    before = df.copy()
    _fit("mestreg", "x [pw=pw] || id:, pweight(pg) distribution(weibull)", df, **_SURV)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fweights_with_crossed_effects_equal_replicated_rows(case):
    # the crossed Laplace engine (ancillary parameters, censored and survival rows): the
    # likelihood and its gradient of [fw=f] equal those of the replicated rows
    cmd, text, data, kw = CASES[case]
    df = data().assign(c=lambda d: np.arange(len(d)) % 7)
    crossed = text.replace("|| id:, {lw}", "|| _all: R.c || id:,").rstrip(",")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = getattr(smf, cmd)(crossed.format(w="[fw=f]"), df, **kw)
        b = getattr(smf, cmd)(crossed.format(w=""), _replicate_rows(df, "f"), **kw)
    x = np.array([0.5, 0.2, 0.1, 0.6, 0.4])
    va, ga = a.objective.value_and_grad(x)
    vb, gb = b.objective.value_and_grad(x)
    assert va == pytest.approx(vb, rel=1e-10)
    np.testing.assert_allclose(ga, gb, rtol=1e-7, atol=1e-7 * np.max(np.abs(gb)))
