"""Crossed-effects GLMMs through the model API (Laplace), in every way of writing them.

References: lme4 (see _crossed_reference.py) for the estimates, and an independent dense
Laplace computation (numpy/scipy, _crossed_reference.dense_laplace) for the log likelihood and
the standard errors (inverse of its numerical Hessian in (beta, sd_a, sd_b), mapped to the
variance scale by the delta method).
"""
import numpy as np
import pandas as pd
import pytest
from _crossed_reference import DATA, LME4, dense_laplace
from statsmodels.tools.numdiff import approx_hess3

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import SpecificationError

FORMS = ["y ~ x + (1 | a) + (1 | b)", "melogit y x || _all: R.a || _all: R.b",
         "melogit y x || _all: R.b || a:"]


@pytest.fixture(scope="module")
def fits():
    df = pd.read_csv(DATA)
    return [smf.melogit(text, data=df).fit() for text in FORMS]


def _var(res, name):
    return res.params[[k for k in res.params.index if name in k][0]]


def test_all_forms_agree_and_match_lme4(fits):
    ref = LME4["bernoulli"]
    for res in fits:
        assert res.llf >= ref["llf"] - 1e-8          # lme4 stops PIRLS at tolPwrss 1e-7
        assert res.llf == pytest.approx(ref["llf"], abs=1e-4)
        np.testing.assert_allclose(res.params[["x", "_cons"]], ref["beta"], rtol=2e-3)
        assert res.info.intmethod == "laplace"
    base = fits[0]
    for res in fits[1:]:
        assert res.llf == pytest.approx(base.llf, rel=1e-10)
        np.testing.assert_allclose(res.params[["x", "_cons"]], base.params[["x", "_cons"]],
                                   rtol=1e-6)
    assert _var(fits[1], "R.a") == pytest.approx(_var(fits[0], "_cons[a]"), rel=1e-5)
    assert _var(fits[2], "_cons[a]") == pytest.approx(_var(fits[0], "_cons[a]"), rel=1e-5)
    assert fits[1].lr_test.kind == "chi2(2)"


def test_loglike_and_standard_errors_vs_dense_laplace(fits):
    res = fits[0]
    b = res.params[["x", "_cons"]].to_numpy()
    va, vb = _var(res, "_cons[a]"), _var(res, "_cons[b]")
    assert res.llf == pytest.approx(
        dense_laplace("bernoulli", "y", b, np.sqrt([va, vb])), rel=1e-9)

    def f(z):
        return -dense_laplace("bernoulli", "y", z[:2], z[2:])
    z = np.concatenate([b, np.sqrt([va, vb])])
    cov = np.linalg.inv(approx_hess3(z, f, epsilon=1e-4))
    J = np.diag([1.0, 1.0, 2 * z[2], 2 * z[3]])
    se = np.sqrt(np.diag(J @ cov @ J.T))
    got = [res.bse["x"], res.bse["_cons"], res.bse[[k for k in res.bse.index if "[a]" in k][0]],
           res.bse[[k for k in res.bse.index if "[b]" in k][0]]]
    np.testing.assert_allclose(got, se, rtol=1e-3)


def test_crossed_models_use_laplace_only():
    df = pd.read_csv(DATA)
    with pytest.raises(SpecificationError, match="Laplace"):
        smf.melogit("y ~ x + (1 | a) + (1 | b)", data=df, intmethod="mvaghermite")


def test_vector_term_fit_leaves_the_zero_variance_stationary_point():
    """A random slope crossed with a random intercept: the likelihood is even in the slope's
    standard deviation, so zero is a stationary point; the fit must reach the interior
    maximum (a higher likelihood than the model without the slope), with a zero gradient
    there (analytic, checked against central differences of the likelihood)."""
    df = pd.read_csv(DATA)
    df["x2"] = np.random.default_rng(5).normal(size=len(df))
    m = smf.melogit("y ~ x + (1 + x2 | a) + (1 | b)", data=df)
    res = m.fit()
    base = smf.melogit("y ~ x + (1 | a) + (1 | b)", data=df).fit()
    assert res.llf > base.llf + 0.2
    x = res.params_internal
    _, g = m.objective.value_and_grad(x)
    fd = [(m.objective.value(x + 1e-6 * e) - m.objective.value(x - 1e-6 * e)) / 2e-6
          for e in np.eye(len(x))]
    np.testing.assert_allclose(g, fd, atol=1e-6)
    assert np.max(np.abs(g)) < 1e-4
