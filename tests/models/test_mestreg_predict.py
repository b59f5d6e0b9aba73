"""predict after mestreg against formulas computed here from the fitted parameters with
scipy.stats laws (weibull_min, gompertz, lognorm, fisk: mean, median, sf, pdf, cdf,
hazard = pdf / sf), conditionally on the random effects (empirical Bayes means, zero) and
marginally (400-point Gauss-Legendre over the fitted N(0, var(_cons)) of the random
intercept; the marginal median by brentq on that integral)."""
import numpy as np
import pytest
from scipy import integrate, optimize, stats
from test_mestreg import CASES, _data

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import SpecificationError

STATS = ("mean", "median", "survival", "hazard", "density", "distribution")


def _law(dist, aft, eta, aux):
    """The scipy law of T | eta (the parameterizations of the mestreg tests)."""
    if dist in ("weibull", "exponential"):
        p = np.exp(aux[0]) if dist == "weibull" else 1.0
        return stats.weibull_min(p, scale=np.exp(eta) if aft else np.exp(-eta / p))
    if dist == "gompertz":
        return stats.gompertz(np.exp(eta) / aux[0], scale=1 / aux[0])
    if dist == "lognormal":
        return stats.lognorm(np.exp(aux[0]), scale=np.exp(eta))
    return stats.fisk(np.exp(-aux[0]), scale=np.exp(eta))


def _value(law, stat, t):
    return {"mean": law.mean, "median": law.median, "survival": lambda: law.sf(t),
            "density": lambda: law.pdf(t), "distribution": lambda: law.cdf(t),
            "hazard": lambda: law.pdf(t) / law.sf(t)}[stat]()


def _fit(dist, aft):
    opts = " time" if aft and dist in ("weibull", "exponential") else ""
    return smf.mestreg(f"x || id:, distribution({dist}){opts} intmethod(laplace)",
                       data=_data(), time="t", failure="d", entry="t0").fit()


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{'aft' if c[1] else 'ph'}")
def fitted(request):
    return request.param, _fit(*request.param)


def test_conditional_statistics_match_scipy_laws(fitted):
    (dist, aft), res = fitted
    df = _data()
    p = res.params
    aux = p.iloc[2:-1].to_numpy()
    xb = p["_cons"] + p["x"] * df["x"].to_numpy()
    u = res.predict("reffects").iloc[:, 0].to_numpy()
    np.testing.assert_allclose(res.predict("xb"), xb, rtol=1e-12)
    np.testing.assert_allclose(res.predict("eta"), xb + u, rtol=1e-12)
    t = df["t"].to_numpy()
    for cond, eta in (("ebmeans", xb + u), ("fixedonly", xb)):
        law = _law(dist, aft, eta, aux)
        for stat in STATS:
            if stat == "mean" and dist == "gompertz":
                # scipy's gompertz mean integrates numerically: check the first rows
                want = [integrate.quad(lambda s, e=e: _law(dist, aft, e, aux).sf(s), 0,
                                       np.inf)[0] for e in eta[:5]]
                got = res.predict(stat, conditional=cond).to_numpy()[:5]
            else:
                want = _value(law, stat, t)
                got = res.predict(stat, conditional=cond).to_numpy()
            np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=f"{stat} {cond}")


def test_marginal_statistics_integrate_over_the_random_intercept(fitted):
    (dist, aft), res = fitted
    df = _data()
    p = res.params
    aux = p.iloc[2:-1].to_numpy()
    sd = np.sqrt(p.iloc[-1])
    rows = [7, 100]
    xb = (p["_cons"] + p["x"] * df["x"].to_numpy())[rows]
    t = df["t"].to_numpy()[rows]

    # Gauss-Legendre with 400 nodes on [-12, 12] (not Gauss-Hermite: an independent rule)
    z, wz = np.polynomial.legendre.leggauss(400)
    z, wz = 12 * z, 12 * wz * stats.norm.pdf(12 * z)
    got = {stat: res.predict(stat, conditional=False).to_numpy()[rows] for stat in STATS}
    for i, (e, ti) in enumerate(zip(xb, t)):
        law = _law(dist, aft, e + sd * z, aux)          # T | b at every node
        S, f = np.sum(wz * law.sf(ti)), np.sum(wz * law.pdf(ti))
        want = {"survival": S, "density": f, "distribution": 1 - S, "hazard": f / S}
        if dist != "gompertz":
            want["mean"] = np.sum(wz * law.mean())
        # bracketed by the conditional medians at b = -+3 sd (S_m is between them)
        ends = sorted(_law(dist, aft, e + sd * v, aux).median() for v in (-3.0, 3.0))
        want["median"] = optimize.brentq(lambda s, law=law: np.sum(wz * law.sf(s)) - 0.5,
                                         *ends, xtol=1e-14)
        for stat, w in want.items():
            assert got[stat][i] == pytest.approx(w, rel=1e-7), (stat, i)


def test_gompertz_mean_and_median_have_closed_forms():
    """Negative gamma: S(t) stays above exp(-exp(eta) / |gamma|) -> infinite mean, and an
    infinite median where that limit is above 1/2."""
    from statsmodels_me.families.survival import GompertzPH
    fam = GompertzPH()
    eta = np.array([-3.0, 0.5])
    assert np.all(np.isinf(fam.mean_time(eta, [-0.4])))
    med = fam.median_time(eta, [-0.4])
    limit = np.exp(-np.exp(eta) / 0.4)
    assert np.isinf(med[0]) and limit[0] > 0.5
    assert fam.survival(med[1:], eta[1:], [-0.4]) == pytest.approx(0.5, rel=1e-12)
    # large a = exp(eta) / gamma: the asymptotic series of exp(a) E1(a)
    big = fam.mean_time(np.array([np.log(0.3 * 800)]), [0.3])[0]
    want = integrate.quad(lambda s: np.exp(-800 * np.expm1(0.3 * s)), 0, np.inf,
                          epsrel=1e-12)[0]
    assert big == pytest.approx(want, rel=1e-10)


def test_bad_requests_are_refused(fitted):
    res = fitted[1]
    with pytest.raises(SpecificationError, match="unknown statistic 'mu'"):
        res.predict("mu")
    with pytest.raises(SpecificationError, match="marginal linear predictor"):
        res.predict("eta", conditional=False)
    # the estimation sample as new data (tests/postestimation/test_survival_newdata.py)
    np.testing.assert_allclose(res.predict("mean", data=_data()), res.predict("mean"),
                               rtol=1e-12)
