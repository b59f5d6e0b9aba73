"""Weights for meglm and its shortcuts (Stata's [ME] meglm: ``[fweight|pweight|iweight=exp]``
at the observation level, ``fweight()`` / ``pweight()`` at the higher levels).

References:
- frequency weights are exact replication: the model with ``[fw=f]`` is the model fitted on the
  rows repeated f times, and ``|| id:, fweight(g)`` the model fitted on the clusters repeated g
  times (as new clusters); log likelihood, estimates and standard errors agree to rounding;
- integer importance weights give the same likelihood as frequency weights;
- sampling weights: the pseudo-likelihood of Rabe-Hesketh & Skrondal (2006, J. R. Statist.
  Soc. A 169:805-827), sum_j w_j log int prod_i f(y_ij | u)^(w_i|j) phi(u) du, written below
  with numpy/scipy (30-point adaptive Gauss-Hermite quadrature, its own optimizer), and its
  cluster sandwich G/(G-1) A^-1 B A^-1 from numerical per-cluster scores and a numerical
  Hessian (Stata [U] 20.22).
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import DataError, SpecificationError

NODES, GH_WEIGHTS = np.polynomial.hermite.hermgauss(30)


def _two_level(seed, G=40, poisson=False, overdispersed=False):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, size=G)
    idv = np.repeat(np.arange(G), sizes)
    n = len(idv)
    x = rng.normal(size=n)
    eta = -0.3 + 0.7 * x + 0.9 * rng.normal(size=G)[idv]
    mu = np.exp(0.5 * eta) * (rng.gamma(2.0, 0.5, size=n) if overdispersed else 1.0)
    y = rng.poisson(mu) if poisson else (rng.random(n) < special.expit(eta)).astype(int)
    return pd.DataFrame({"y": y, "x": x, "id": idv, "f": rng.integers(1, 4, size=n),
                         "g": rng.integers(1, 3, size=G)[idv],
                         "pw": rng.uniform(0.5, 2.0, size=n),
                         "pg": rng.uniform(0.5, 3.0, size=G)[idv]})


def _replicate_rows(df, col):
    return df.loc[df.index.repeat(df[col])].reset_index(drop=True)


def _replicate_groups(df, col, group, new="rid"):
    """Every group of ``group`` repeated ``col`` times, each copy a new group ``new``."""
    parts = []
    code = 0
    for _, sub in df.groupby(group, sort=True):
        for _ in range(int(sub[col].iloc[0])):
            parts.append(sub.assign(**{new: code}))
            code += 1
    return pd.concat(parts, ignore_index=True)


def _fit(cmd, text, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(smf, cmd)(text, data, **kw).fit()


def _same(a, b, params=1e-8, se=1e-6):
    assert a.llf == pytest.approx(b.llf, rel=1e-10, abs=1e-8)
    if "fweight" in a.model.weights.kinds:
        # Stata's e(N) under frequency weights is the replicated sample's size
        assert a.nobs == b.nobs
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=params,
                               atol=params)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=se, atol=se)


# ------------------------------------------------------------------ (a) frequency weights

@pytest.mark.parametrize("cmd, intmethod", [("melogit", "mvaghermite"), ("melogit", "laplace"),
                                            ("mepoisson", "mvaghermite"),
                                            ("meprobit", "mcaghermite"),
                                            ("menbreg", "mvaghermite")])
def test_fweights_equal_replicated_rows(cmd, intmethod):
    df = _two_level(1, poisson=cmd in ("mepoisson", "menbreg"), overdispersed=cmd == "menbreg")
    a = _fit(cmd, f"y x [fw=f] || id:, intmethod({intmethod})", df)
    b = _fit(cmd, f"y x || id:, intmethod({intmethod})", _replicate_rows(df, "f"))
    _same(a, b)
    assert a.model.vce.kind == "oim"


def test_fweights_random_slope_equal_replicated_rows():
    df = _two_level(2)
    a = _fit("melogit", "y x [fw=f] || id: x, cov(unstructured)", df)
    b = _fit("melogit", "y x || id: x, cov(unstructured)", _replicate_rows(df, "f"))
    _same(a, b, params=1e-7, se=1e-5)


@pytest.mark.parametrize("cmd, intmethod", [("melogit", "mvaghermite"), ("melogit", "laplace"),
                                            ("mepoisson", "ghermite")])
def test_level_fweights_equal_replicated_clusters(cmd, intmethod):
    df = _two_level(3, poisson=cmd == "mepoisson")
    a = _fit(cmd, f"y x || id:, fweight(g) intmethod({intmethod})", df)
    b = _fit(cmd, f"y x || rid:, intmethod({intmethod})", _replicate_groups(df, "g", "id"))
    _same(a, b)


def test_fweights_python_keyword_and_lme4_formula():
    df = _two_level(4)
    a = _fit("melogit", "y ~ x + (1 | id)", df, weight=("fweight", "f"))
    b = _fit("melogit", "y x || id:", _replicate_rows(df, "f"))
    _same(a, b)


# ------------------------------------------------------------------ (b) importance weights

def test_integer_iweights_equal_fweights():
    df = _two_level(5, poisson=True)
    a = _fit("mepoisson", "y x [iw=f] || id:", df)
    b = _fit("mepoisson", "y x [fw=f] || id:", df)
    _same(a, b, params=1e-12, se=1e-10)
    assert a.model.vce.kind == "oim"


# ------------------------------------------------------------------ (c) sampling weights

def _row_loglike(family, y, eta):
    if family == "logit":
        return y * eta - np.logaddexp(0.0, eta)
    return y * eta - np.exp(eta) - special.gammaln(y + 1.0)


def _row_derivs(family, eta):
    """l' minus y (the y part is constant in eta) and l''."""
    mu = special.expit(eta) if family == "logit" else np.exp(eta)
    return -mu, -(mu * (1 - mu) if family == "logit" else mu)


def _cluster_loglike(family, y, x, idv, wi, theta):
    """log L_j of every cluster: 30-point adaptive Gauss-Hermite (Liu & Pierce 1994) of
    int exp(sum_i w_i l_i(b0 + b1 x + b)) N(b; 0, s2) db, theta = (b0, b1, s2)."""
    b0, b1, s2 = theta
    G = idv.max() + 1
    xb = b0 + b1 * x
    mode = np.zeros(G)
    for _ in range(100):
        d1, d2 = _row_derivs(family, xb + mode[idv])
        g = np.bincount(idv, wi * (y + d1), G) - mode / s2
        h = np.bincount(idv, wi * d2, G) - 1.0 / s2
        step = -g / h
        mode += step
        if np.max(np.abs(step)) < 1e-13:
            break
    _, d2 = _row_derivs(family, xb + mode[idv])
    tau = 1.0 / np.sqrt(1.0 / s2 - np.bincount(idv, wi * d2, G))
    logs = []
    for xk, wk in zip(NODES, GH_WEIGHTS, strict=True):
        b = mode + np.sqrt(2.0) * tau * xk
        h = np.bincount(idv, wi * _row_loglike(family, y, xb + b[idv]), G) \
            - 0.5 * b ** 2 / s2 - 0.5 * np.log(2 * np.pi * s2)
        logs.append(np.log(wk) + np.log(np.sqrt(2.0) * tau) + h + xk ** 2)
    return special.logsumexp(np.array(logs), axis=0)


def _reference_fit(family, df):
    y, x, idv = (df[c].to_numpy(float) for c in ("y", "x", "id"))
    idv = idv.astype(int)
    wi = df["pw"].to_numpy()
    wj = df.groupby("id")["pg"].first().to_numpy()

    def total(theta):
        return float(wj @ _cluster_loglike(family, y, x, idv, wi, theta))

    def neg(z):      # internal scale: log variance
        return -total((z[0], z[1], np.exp(z[2])))
    res = optimize.minimize(neg, np.zeros(3), method="BFGS", options={"gtol": 1e-9})
    z = res.x
    for _ in range(5):      # Newton polish on a central-difference Hessian
        grad = np.array([(neg(z + e) - neg(z - e)) / 2e-5 for e in np.eye(3) * 1e-5])
        z = z - np.linalg.solve(_hessian(neg, z, 1e-4), grad)
    theta = np.array([z[0], z[1], np.exp(z[2])])

    def clusters(t):
        return wj * _cluster_loglike(family, y, x, idv, wi, t)
    steps = 1e-5 * np.maximum(1.0, np.abs(theta))
    scores = np.column_stack([(clusters(theta + e) - clusters(theta - e)) / (2 * e[k])
                              for k, e in enumerate(np.diag(steps))])
    H = _hessian(total, theta, 1e-4)
    A_inv = np.linalg.inv(-H)
    G = len(wj)
    V = A_inv @ (scores.T @ scores) @ A_inv * G / (G - 1.0)
    return total(theta), theta, np.sqrt(np.diag(V))


def _hessian(f, x, h):
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                       + f(x - ei - ej)) / (4 * h * h)
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("cmd, family", [("melogit", "logit"), ("mepoisson", "poisson")])
def test_pweights_pseudo_likelihood_and_sandwich(cmd, family):
    df = _two_level(6, G=50, poisson=family == "poisson")
    res = _fit(cmd, "y x [pw=pw] || id:, pweight(pg) intpoints(30)", df)
    llf, theta, se = _reference_fit(family, df)
    assert res.llf == pytest.approx(llf, rel=1e-6)
    # e(b) order: x, _cons, var(_cons[id])
    est = np.asarray(res.params)
    np.testing.assert_allclose(est, [theta[1], theta[0], theta[2]], rtol=1e-5, atol=1e-5)
    assert res.model.vce.robust      # implied by the sampling weights
    np.testing.assert_allclose(np.asarray(res.bse), [se[1], se[0], se[2]], rtol=1e-3)
    assert "Std. err. adjusted for 50 clusters in id" in str(res.summary())
    assert "pseudolikelihood" in str(res.summary())


def test_pweights_are_not_rescaled():
    # Stata's meglm uses the weights as given (pwscale() is mixed's): doubling every
    # level-one weight doubles the conditional log likelihood, and is not undone
    df = _two_level(7)
    a = _fit("melogit", "y x [pw=pw] || id:", df)
    b = _fit("melogit", "y x [pw=pw2] || id:", df.assign(pw2=2 * df["pw"]))
    assert abs(b.llf - a.llf) > 1.0


def test_explicit_vce_oim_with_pweights_is_an_error():
    df = _two_level(8)
    with pytest.raises(SpecificationError, match=r"vce\(oim\).*pweight"):
        smf.melogit("y x [pw=pw] || id:, vce(oim)", df)


# ------------------------------------------------------------------ (d) nested levels

def _three_level(seed, A=12, B=3):
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(A):
        for b in range(B):
            for _ in range(rng.integers(2, 6)):
                rows.append((a, a * 10 + b))
    a_id, b_id = (np.array(c) for c in zip(*rows, strict=True))
    n = len(a_id)
    x = rng.normal(size=n)
    ua = 0.5 * rng.normal(size=A)
    ub = {b: 0.4 * rng.normal() for b in np.unique(b_id)}
    eta = 0.3 + 0.4 * x + ua[a_id] + np.array([ub[b] for b in b_id])
    fb = {b: rng.integers(1, 3) for b in np.unique(b_id)}
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "a": a_id, "b": b_id,
                         "f": rng.integers(1, 4, size=n), "fa": rng.integers(1, 3, size=A)[a_id],
                         "fb": [fb[b] for b in b_id]})


@pytest.mark.parametrize("intmethod", ["mvaghermite", "laplace"])
def test_nested_fweights_equal_replicated_rows(intmethod):
    df = _three_level(9)
    a = _fit("mepoisson", f"y x [fw=f] || a: || b:, intmethod({intmethod})", df)
    b = _fit("mepoisson", f"y x || a: || b:, intmethod({intmethod})", _replicate_rows(df, "f"))
    _same(a, b, params=1e-7, se=1e-5)


def test_nested_inner_level_fweights_equal_replicated_groups():
    df = _three_level(10)
    a = _fit("mepoisson", "y x || a: || b:, fweight(fb)", df)
    b = _fit("mepoisson", "y x || a: || rb:", _replicate_groups(df, "fb", "b", "rb"))
    # the identity: one likelihood, evaluated at either fit's estimates
    for res in (a, b):
        x = res.params_internal
        assert a.model.objective.value(x) == pytest.approx(b.model.objective.value(x),
                                                           rel=1e-12)
    # the two fits stop where the nested quadrature fit's Newton decrement is small on a
    # flat variance ridge (llf equal to 1e-10, estimates to ~1e-6)
    _same(a, b, params=1e-5, se=1e-4)


def test_nested_top_level_fweights_equal_replicated_groups():
    df = _three_level(11)
    rep = _replicate_groups(df, "fa", "a", "ra")
    rep["rb"] = rep["ra"] * 1000 + rep["b"]
    a = _fit("mepoisson", "y x || a:, fweight(fa) || b:, intmethod(laplace)", df)
    b = _fit("mepoisson", "y x || ra: || rb:, intmethod(laplace)", rep)
    _same(a, b, params=1e-7, se=1e-5)


# ------------------------------------------------------------------ (e) bad input

def test_negative_weights_are_refused():
    df = _two_level(12).assign(bad=lambda d: d["pw"] - 1.0)
    with pytest.raises(DataError, match="pweight variable 'bad' has .* negative"):
        smf.melogit("y x [pw=bad] || id:", df)


def test_level_weights_must_be_constant_within_groups():
    df = _two_level(13)
    with pytest.raises(DataError, match="'pw' is not constant within groups of level 'id'"):
        smf.melogit("y x || id:, pweight(pw)", df)


def test_level_weights_with_crossed_effects_are_refused():
    # observation weights with crossed effects: test_meglm_crossed_weights.py
    df = _two_level(14).assign(c=lambda d: np.arange(len(d)) % 5)
    with pytest.raises(NotImplementedError, match="weights at higher levels with crossed"):
        smf.melogit("y x || _all: R.c || id:, fweight(g)", df)


def test_weights_on_dask_frames_are_refused():
    dd = pytest.importorskip("dask.dataframe")
    df = _two_level(18)
    with pytest.raises(NotImplementedError, match=r"\[fweight=f\] weights"):
        smf.melogit("y x [fw=f] || id:", dd.from_pandas(df, npartitions=2))


def test_aweights_are_refused():
    df = _two_level(16)
    with pytest.raises(NotImplementedError, match=r"\[aweight=pw\]"):
        smf.melogit("y x [aw=pw] || id:", df)
    with pytest.raises(NotImplementedError, match=r"metobit: \[aweight=pw\]"):
        smf.metobit("x y [aw=pw] || id:, ll(-1)", df)


def test_input_frame_unchanged():
    df = _two_level(17)
    before = df.copy()
    _fit("melogit", "y x [pw=pw] || id:, pweight(pg)", df)
    pd.testing.assert_frame_equal(df, before)
