"""BandedResidualLMM (banded whitening for AR/MA residuals) against the dense
ResidualLMM on the same model: deviance, analytic gradient, BLUPs and their variances,
standardized residuals and the marginal covariance, at points away from the optimum; the
gradient also against central differences of the banded deviance."""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.objectives import lmm_residual_banded as banded_module
from statsmodels_me.objectives.lmm_residual import ResidualLMM
from statsmodels_me.objectives.lmm_residual_banded import (
    BandedResidualLMM,
    banded_eligible,
    durbin_levinson,
)


def _panel(gaps=False, seed=4):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(5):
        for c in range(3):
            m = int(rng.integers(6, 13))
            t = np.arange(1, m + 1)
            if gaps:
                t = np.sort(rng.choice(np.arange(1, 2 * m), size=m, replace=False))
            for tt in rng.permutation(t):
                x = rng.normal()
                rows.append((s, 10 * s + c, tt, x, c % 2, 1 + 0.5 * x + rng.normal()))
    df = pd.DataFrame(rows, columns=["school", "klass", "time", "x", "grp", "y"])
    return df


CASES = [
    ("y x || klass:, residuals(ar 1, t(time))", False),
    ("y x || klass:, residuals(ar 1, t(time))", True),
    ("y x || school: || klass: x, residuals(ar 1, t(time))", True),
    ("y x || school: x, covariance(unstructured) || klass:, residuals(ar 2, t(time))",
     False),
    ("y x || school: || klass:, residuals(ar 3, t(time))", False),
    ("y x || klass:, residuals(ma 1, t(time))", False),
    ("y x || school: || klass:, residuals(ma 2, t(time))", True),
    ("y x || school: || klass:, residuals(ar 1, t(time) by(grp))", True),
    ("y x || school: || klass:, residuals(ma 1, t(time) by(grp))", False),
]


def _objectives(text, gaps, reml):
    df = _panel(gaps)
    model = smf.mixed(text + (" reml" if reml else ""), data=df)
    d = model.design
    args = (d.endog, d.exog, model.terms, model.residual, d.levels[0].codes,
            d.levels[-1].codes)
    return (ResidualLMM(*args, reml=reml), BandedResidualLMM(*args, reml=reml), model)


def _points(obj, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        x = 0.4 * rng.normal(size=obj.n_theta)
        x[:obj.n_re] += 0.6
        out.append(x)
    return out


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text, gaps", CASES)
def test_banded_equals_dense(text, gaps, reml):
    dense, banded, model = _objectives(text, gaps, reml)
    for x in _points(dense, len(text)):
        fd, fb = dense.factor(x), banded.factor(x)
        assert fb["logdet"] == pytest.approx(fd["logdet"], rel=1e-11)
        assert banded.deviance(x) == pytest.approx(dense.deviance(x), rel=1e-11)
        np.testing.assert_allclose(fb["beta"], fd["beta"], rtol=1e-10, atol=1e-12)
        gd = dense.gradient_from_factor(fd, dense.m / fd["r2"])
        gb = banded.gradient_from_factor(fb, banded.m / fb["r2"])
        np.testing.assert_allclose(gb, gd, rtol=1e-8, atol=1e-9 * np.abs(gd).max())
        s2 = 1.7
        np.testing.assert_allclose(banded.loglike_grad(x, s2), dense.loglike_grad(x, s2),
                                   rtol=1e-8, atol=1e-9)
        for bb, bd in zip(banded.blups(fb), dense.blups(fd)):
            np.testing.assert_allclose(bb, bd, rtol=1e-9, atol=1e-12)
        for fu in (False, True):
            for vb, vd in zip(banded.blup_variances(fb, fu), dense.blup_variances(fd, fu)):
                np.testing.assert_allclose(vb, vd, rtol=1e-9, atol=1e-12)
        resid = model.design.endog - model.design.exog @ fd["beta"]
        np.testing.assert_allclose(banded.standardize(x, s2, resid),
                                   dense.standardize(x, s2, resid), rtol=1e-9, atol=1e-12)
        Vb, rb = banded.marginal_cov(x, s2, 2)
        Vd, rd = dense.marginal_cov(x, s2, 2)
        np.testing.assert_array_equal(rb, rd)
        np.testing.assert_allclose(Vb, Vd, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("text, gaps", [CASES[1], CASES[4], CASES[6]])
def test_banded_gradient_against_differences(text, gaps):
    _, banded, _ = _objectives(text, gaps, False)
    x = _points(banded, 7)[0]
    g = banded.deviance_and_grad(x)[1]
    h = 1e-6
    num = [(banded.deviance(x + h * e) - banded.deviance(x - h * e)) / (2 * h)
           for e in np.eye(len(x))]
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)


def test_durbin_levinson_ar2():
    # AR(2) with phi = (0.5, 0.3): rho1 = phi1 / (1 - phi2), rho2 = phi1 rho1 + phi2
    rho1 = 0.5 / 0.7
    rho = np.array([1.0, rho1, 0.5 * rho1 + 0.3])
    phi, v = durbin_levinson(rho, 2)
    np.testing.assert_allclose(phi[2, 1:], [0.5, 0.3], rtol=1e-14)
    np.testing.assert_allclose(phi[1, 1], rho1, rtol=1e-14)
    # innovation variance of the unit-variance process: 1 - phi' rho
    np.testing.assert_allclose(v[2], 1 - 0.5 * rho1 - 0.3 * rho[2], rtol=1e-14)


def _eligible(model):
    d = model.design
    return banded_eligible(model.residual, model.terms, d.levels[0].codes,
                           d.levels[-1].codes)


def test_eligibility(monkeypatch):
    short = _objectives(CASES[0][0], False, False)[2]
    assert not _eligible(short)            # series shorter than BANDED_MIN_ROWS
    monkeypatch.setattr(banded_module, "BANDED_MIN_ROWS", 1)
    assert _eligible(short)
    assert _eligible(_objectives(CASES[1][0], True, False)[2])       # AR(1), gaps
    assert _eligible(_objectives(CASES[6][0], True, False)[2])       # MA(2), gaps
    gap2 = _objectives("y x || klass:, residuals(ar 2, t(time))", True, False)[2]
    assert not _eligible(gap2)             # AR(2) with gaps: dense
    toep = _objectives("y x || klass:, residuals(toeplitz 1, t(time))", False, False)[2]
    assert not _eligible(toep)
