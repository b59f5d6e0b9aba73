"""The LMM profiled deviance summed over parts of the data (objectives/lmm_pieces.py).

References: the deviance of the whole data from the in-memory objectives
(:func:`lmm_objective` on all rows), and central differences of the reduced r2 and
log|X' V^-1 X| for the analytic derivatives.
"""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.design import build_design
from statsmodels_me.objectives import lmm_pieces as lp
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_chooser import lmm_objective
from statsmodels_me.objectives.lmm_profiled import deviance_from_factor
from statsmodels_me.spec import parse
from statsmodels_me.terms import build_terms


def school_data(seed=1, S=24, C=3, m=4):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(S), C * m)
    c = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=S * C * m)
    y = (1 + 0.5 * x + 0.7 * rng.normal(size=S)[s] + 0.5 * rng.normal(size=S * C)[c]
         + rng.normal(size=len(x)))
    return pd.DataFrame({"y": y, "x": x, "s": s, "c": c})


def parts_of(text, df, cuts):
    spec = parse(text, command="mixed")
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        d = build_design(spec, df[(df.s >= lo) & (df.s < hi)])
        terms, _ = build_terms(d)
        out.append(BlockedLMM(d.endog, d.exog, terms))
    d = build_design(spec, df)
    terms, _ = build_terms(d)
    return out, d, terms


def reduced(parts, theta, p):
    logdet, G = 0.0, 0.0
    for o in parts:
        _, ld, g = lp.gram_pieces(o, theta)
        logdet, G = logdet + ld, G + g
    return lp.reduce_pieces(logdet, G, p)


TEXTS = ["y x || s: x", "y x || s: || c:", "y x || s: x || c:"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("reml", [False, True])
def test_summed_parts_give_whole_data_deviance(text, reml):
    df = school_data()
    parts, d, terms = parts_of(text, df, [0, 7, 15, 24])
    whole = lmm_objective(d.endog, d.exog, terms, reml=reml)
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.uniform(0.2, 1.2, whole.n_theta)
        f = reduced(parts, theta, d.exog.shape[1])
        dev = deviance_from_factor(f, len(d.endog), d.exog.shape[1], reml)
        assert dev == pytest.approx(whole.deviance(theta), rel=1e-12)
        np.testing.assert_allclose(f["beta"], whole.factor(theta)["beta"], rtol=1e-10)


@pytest.mark.parametrize("text", TEXTS)
def test_gram_gradient_matches_differences(text):
    df = school_data(seed=3)
    parts, d, terms = parts_of(text, df, [0, 10, 24])
    p = d.exog.shape[1]
    theta = np.linspace(0.4, 1.1, sum(len(t.theta_index) for t in terms))
    f = reduced(parts, theta, p)
    dG = sum(lp.gram_gradient(o, lp.gram_pieces(o, theta)[0], theta) for o in parts)
    dr2, dlogdetX = lp.reduced_gradient(f, dG, p)
    for i in range(len(theta)):
        h = 1e-6
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fp, fm = reduced(parts, tp, p), reduced(parts, tm, p)
        assert dr2[i] == pytest.approx((fp["r2"] - fm["r2"]) / (2 * h), rel=1e-6)
        assert dlogdetX[i] == pytest.approx((fp["logdetX"] - fm["logdetX"]) / (2 * h),
                                            rel=1e-6)


SCALAR_TEXTS = ["y x || s: || c:", "y x z || s: || c:"]


def hessian_of_parts(parts, theta, p):
    """Summed dG, d2G and the reduced Hessians of r2 and log|S| at ``theta``."""
    f = reduced(parts, theta, p)
    dG = d2G = 0.0
    for o in parts:
        fo = lp.gram_pieces(o, theta)[0]
        dG = dG + lp.gram_gradient(o, fo, theta)
        d2G = d2G + lp.gram_hessian(o, fo, theta)
    return d2G, lp.reduced_hessian(f, dG, d2G, p)


@pytest.mark.parametrize("text", SCALAR_TEXTS)
def test_gram_hessian_matches_differences_of_the_gram_gradient(text):
    # reference: central differences (step 1e-6) of the summed analytic dG
    df = school_data(seed=4)
    df["z"] = np.cos(np.arange(len(df)))
    parts, d, terms = parts_of(text, df, [0, 9, 24])
    p = d.exog.shape[1]
    theta = np.array([0.8, 0.55])
    d2G, (hr2, hX) = hessian_of_parts(parts, theta, p)

    def dG_at(t):
        return sum(lp.gram_gradient(o, lp.gram_pieces(o, t)[0], t) for o in parts)

    for i in range(2):
        h = 1e-6
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd = (dG_at(tp) - dG_at(tm)) / (2 * h)
        np.testing.assert_allclose(d2G[:, i], fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    # the Hessians of r2 and log|S| against differences of their analytic gradients
    for i in range(2):
        h = 1e-6
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        gp = lp.reduced_gradient(reduced(parts, tp, p), dG_at(tp), p)
        gm = lp.reduced_gradient(reduced(parts, tm, p), dG_at(tm), p)
        np.testing.assert_allclose(hr2[:, i], (gp[0] - gm[0]) / (2 * h), rtol=1e-6)
        np.testing.assert_allclose(hX[:, i], (gp[1] - gm[1]) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize("text", SCALAR_TEXTS)
def test_reduced_hessians_equal_the_whole_data_exact_hessian(text):
    # reference: the in-memory exact Hessian of the whole data (CrossedScalarLMM), whose
    # REML logdet part is log|M| + log|C| and whose ML part is log|M|
    df = school_data(seed=5)
    df["z"] = np.cos(np.arange(len(df)))
    parts, d, terms = parts_of(text, df, [0, 5, 13, 24])
    p = d.exog.shape[1]
    theta = np.array([0.9, 0.45])
    _, (hr2, hX) = hessian_of_parts(parts, theta, p)
    ml = lmm_objective(d.endog, d.exog, terms).hessian_parts(theta)
    reml = lmm_objective(d.endog, d.exog, terms, reml=True).hessian_parts(theta)
    np.testing.assert_allclose(hr2, ml[4], rtol=1e-10)
    np.testing.assert_allclose(ml[3] + hX, reml[3], rtol=1e-10)


def test_stencil_gradient_of_a_polynomial_is_exact():
    theta = np.array([0.5, 2.0])
    pts = lp.stencil_points(theta)
    vals = [t[0] ** 4 + 3 * t[0] * t[1] ** 2 for t in pts]
    g = lp.stencil_gradient(theta, vals, theta[0] ** 4 + 3 * theta[0] * theta[1] ** 2)
    np.testing.assert_allclose(g, [4 * 0.5 ** 3 + 3 * 4.0, 6 * 0.5 * 2.0], rtol=1e-10)


@pytest.mark.parametrize("reml", [False, True])
def test_assembled_moments_equal_em_moments(reml):
    df = school_data(seed=4)
    text = "y x || s: x || c:"
    parts, d, terms = parts_of(text, df, [0, 12, 24])
    whole = BlockedLMM(d.endog, d.exog, terms, reml=reml)
    theta = np.linspace(0.5, 1.0, whole.n_theta)
    p = d.exog.shape[1]
    f = reduced(parts, theta, p)
    m = len(d.endog) - (p if reml else 0)
    s2 = f["r2"] / m
    RXinv = np.linalg.inv(f["RX"])
    Sinv = RXinv.T @ RXinv if reml else None
    sums = [o_sums for o_sums in zip(*[lp.term_moments(o, lp.gram_pieces(o, theta)[0])
                                       for o in parts])]
    dev, want = whole.em_moments(theta)
    for k, t in enumerate(terms):
        total = (sum(s[0] for s in sums[k]), sum(s[1] for s in sums[k]))
        got = lp.assemble_moments(total, f["beta"], s2, Sinv) / (s2 * t.n_groups)
        np.testing.assert_allclose(got, want[k], rtol=1e-9)
