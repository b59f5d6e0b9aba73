"""intmethod() and intpoints() at the model level, on Stata's example 3 (admissions).

No external numbers: the methods are checked against each other. The 30-point adaptive
quadratures are converged (15 points agree to 1e-10 relative), so they serve as the exact
marginal likelihood; the printed Stata value for mvaghermite 7 is in test_meglm_seed.py.
"""
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.models.glmm_fitting import GLMMFitter

EX3 = "melogit nadmitted female || department:, binomial(napplied) or"


def fit(**opts):
    return smf.melogit(EX3, data=load("admissions"), **opts).fit()


@pytest.fixture(scope="module")
def exact():
    return fit(intmethod="mvaghermite", intpoints=30)


def test_adaptive_methods_converge_to_the_same_likelihood(exact):
    mc30 = fit(intmethod="mcaghermite", intpoints=30)
    assert mc30.llf == pytest.approx(exact.llf, rel=1e-12)
    assert mc30.params.to_numpy() == pytest.approx(exact.params.to_numpy(), rel=1e-6)
    # 7 points: both adaptive rules are within 2e-4 of the converged value here
    for method in ("mvaghermite", "mcaghermite"):
        res = fit(intmethod=method)
        assert res.info.intmethod == method and res.info.intpoints == 7
        assert abs(res.llf - exact.llf) < 2e-4
        assert res.params.to_numpy() == pytest.approx(exact.params.to_numpy(), rel=1e-3)


def test_laplace_is_the_one_point_mode_curvature_rule(exact):
    lap = fit(intmethod="laplace")
    one = fit(intmethod="mcaghermite", intpoints=1)
    assert one.llf == pytest.approx(lap.llf, rel=1e-12)
    assert one.params.to_numpy() == pytest.approx(lap.params.to_numpy(), rel=1e-7)
    assert one.bse.to_numpy() == pytest.approx(lap.bse.to_numpy(), rel=1e-5)
    # the Laplace error of this model: 0.13 in the log likelihood, 0.6% in the variance
    assert 0.05 < exact.llf - lap.llf < 0.2
    assert lap.params["/var(_cons[department])"] == pytest.approx(
        exact.params["/var(_cons[department])"], rel=0.01)


def test_nonadaptive_hermite_needs_many_points_here(exact):
    """Each department's posterior is narrow (hundreds of applicants) compared with the
    prior, so plain Gauss-Hermite nodes mostly miss it: 7 points are far off, 300 close."""
    assert abs(fit(intmethod="ghermite").llf - exact.llf) > 0.1
    many = fit(intmethod="ghermite", intpoints=300)
    assert abs(many.llf - exact.llf) < 1e-3
    assert many.info.intmethod == "ghermite" and many.info.intpoints == 300


def test_laplace_header_stata_layout():
    """Stata prints "Integration method: laplace" and no "Integration pts." for Laplace."""
    res = fit(intmethod="laplace")
    text = str(res.summary())
    assert "Integration method: laplace" in text
    assert "Integration pts." not in text
    assert res.info.intmethod == "laplace" and res.info.intpoints is None
    default = str(fit().summary())
    line = next(t for t in default.splitlines() if "Integration method" in t)
    assert "mvaghermite" in line and line.split()[-1] == "7"


def test_quadrature_phase_falls_back_to_quasi_newton(exact, monkeypatch):
    """When the chord-Newton phase (Laplace Hessian) stops before convergence, the fit finishes
    with the quasi-Newton optimizer on the quadrature likelihood: same optimum."""
    model = smf.melogit(EX3, data=load("admissions"), intpoints=30)
    chord = GLMMFitter.chord
    seen = []

    def one_step(self, objective, x, H, free, maxit=50, first=1):
        out = chord(self, objective, x, H, free, maxit=1, first=first)
        seen.append(out[2])
        return out
    monkeypatch.setattr(GLMMFitter, "chord", one_step)
    res = model.fit()
    assert seen == [False]
    assert res.llf == pytest.approx(exact.llf, rel=1e-10)
    assert res.params.to_numpy() == pytest.approx(exact.params.to_numpy(), rel=1e-4)
