"""mestreg against two independent references, for every distribution and metric.

- Random intercept with delayed entry: the 30-point adaptive Gauss-Hermite likelihood of
  ``_aghq_reference`` with scipy.stats densities (weibull_min, gompertz, lognorm, fisk) --
  log likelihood 1e-6 relative, estimates 1e-5, standard errors 1e-3.
- Without random effects and entry times (the LR test's comparison model), R's survreg
  (R 4.2.2, survival 3.4; PH and AFT metrics have the same likelihood):

      library(survival); d <- read.csv("surv.csv")     # the data of _data() below
      for (dist in c("weibull", "exponential", "lognormal", "loglogistic"))
          print(logLik(survreg(Surv(t, d) ~ x, data=d, dist=dist)), digits=15)
"""
import numpy as np
import pandas as pd
import pytest
from _aghq_reference import aghq_fit
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import DataError

SURVREG_LLF = {"weibull": -428.533147494287, "exponential": -442.500134327054,
               "lognormal": -447.023760749902, "loglogistic": -438.549986526226}
CASES = [("weibull", False), ("weibull", True), ("exponential", False),
         ("exponential", True), ("gompertz", False), ("lognormal", True),
         ("loglogistic", True)]


def _data():
    """Weibull PH times (p = 1.4), a random intercept (sd 0.6), uniform censoring, 30% of
    spells entering late at 0.2 t."""
    rng = np.random.default_rng(7)
    G, m = 80, 6
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    u = rng.normal(0, 0.6, G)[g]
    eta = -0.5 + 0.6 * x + u
    t = (rng.exponential(1.0, G * m) / np.exp(eta)) ** (1 / 1.4)
    c = rng.uniform(0.5, 3.0, G * m)
    tt = np.minimum(t, c)
    t0 = np.where(rng.uniform(size=G * m) < 0.3, 0.2 * tt, 0.0)
    return pd.DataFrame({"t": tt, "d": (t <= c).astype(int), "t0": t0, "x": x, "id": g})


def _scipy_rows(dist, aft, t, d, t0):
    """d log f(t) + (1 - d) log S(t) - log S(t0) from scipy.stats, per row."""
    def loglike(eta, aux):
        if dist in ("weibull", "exponential"):
            p = np.exp(aux[0]) if dist == "weibull" else 1.0
            law = stats.weibull_min(p, scale=np.exp(eta) if aft else np.exp(-eta / p))
        elif dist == "gompertz":
            g = aux[0]
            law = stats.gompertz(np.exp(eta) / g, scale=1 / g)
        elif dist == "lognormal":
            law = stats.lognorm(np.exp(aux[0]), scale=np.exp(eta))
        else:
            law = stats.fisk(np.exp(-aux[0]), scale=np.exp(eta))
        out = np.where(d == 1, law.logpdf(t), law.logsf(t))
        return out - np.where(t0 > 0, law.logsf(np.where(t0 > 0, t0, 1.0)), 0.0)
    return loglike


@pytest.mark.parametrize("dist,aft", CASES)
def test_mestreg_matches_the_adaptive_quadrature_reference(dist, aft):
    df = _data()
    opts = " time" if aft and dist in ("weibull", "exponential") else ""
    res = smf.mestreg(f"x || id:, distribution({dist}){opts} intpoints(30)", data=df,
                      time="t", failure="d", entry="t0").fit()
    n_aux = 0 if dist == "exponential" else 1
    X = np.column_stack([df["x"], np.ones(len(df))])
    start = [0.0, -0.3 if not aft else 0.3] + [0.1] * n_aux + [-1.0]
    z, llf, cov = aghq_fit(_scipy_rows(dist, aft, *(df[k].to_numpy() for k in ("t", "d", "t0"))),
                           X, df["id"].to_numpy(), start)
    assert res.llf == pytest.approx(llf, rel=1e-6)
    k = len(z)
    J = np.eye(k)
    J[-1, -1] = np.exp(z[-1])
    want = np.concatenate([z[:-1], [np.exp(z[-1])]])
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(J @ cov @ J.T)),
                               rtol=1e-3)


@pytest.mark.parametrize("dist,aft", [c for c in CASES if c[0] in SURVREG_LLF])
def test_fixed_model_without_entry_matches_survreg(dist, aft):
    """(survreg has no Gompertz distribution: the quadrature reference covers it.)"""
    df = _data()
    opts = " time" if aft and dist in ("weibull", "exponential") else ""
    res = smf.mestreg(f"x || id:, distribution({dist}){opts} intmethod(laplace)", data=df,
                      time="t", failure="d").fit()
    assert res.llf_fixed == pytest.approx(SURVREG_LLF[dist], rel=1e-10)


def test_stset_text_equals_keywords_and_the_table_is_stata_s():
    df = _data()
    a = smf.mestreg("x || id:, distribution(weibull) intmethod(laplace)", data=df,
                    stset="t, failure(d) enter(time t0)").fit()
    b = smf.mestreg("x || id:, distribution(weibull) intmethod(laplace)", data=df,
                    time="t", failure="d", entry="t0").fit()
    assert a.llf == b.llf
    assert list(a.params.index) == ["x", "_cons", "/ln_p", "/var(_cons[id])"]
    text = str(a.summary())
    assert "Mixed-effects Weibull PH regression" in text and "Haz. ratio" in text
    assert "LR test vs. Weibull model" in text
    rows = dict(a.info.extra_header)
    assert rows["No. of failures"] == str(int(df["d"].sum()))
    lines = text.splitlines()
    assert lines[1].split() == ["No.", "of", "failures", "=", str(int(df["d"].sum()))]
    assert lines[2].split()[:4] == ["Time", "at", "risk", "="]
    assert float(lines[2].split()[4]) == pytest.approx((df["t"] - df["t0"]).sum(), rel=1e-7)
    assert "Note: _cons estimates baseline hazard (conditional on zero random effects)." \
        in text
    nohr = smf.mestreg("x || id:, distribution(weibull) nohr intmethod(laplace)", data=df,
                       time="t", failure="d", entry="t0").fit()
    assert "Haz. ratio" not in str(nohr.summary())


@pytest.mark.parametrize("change,match", [
    (lambda d: d.assign(t=d["t"].where(d.index > 2, 0.0)), r"3 row\(s\) have a non-positive"),
    (lambda d: d.assign(d=d["d"].where(d.index > 1, 2)), r"2 row\(s\) have failure 'd'"),
    (lambda d: d.assign(t0=d["t0"].where(d.index > 0, d["t"] + 1)), r"1 row\(s\) have entry"),
])
def test_bad_spells_are_data_errors(change, match):
    with pytest.raises(DataError, match=match):
        smf.mestreg("x || id:, distribution(weibull)", data=change(_data()), time="t",
                    failure="d", entry="t0")
