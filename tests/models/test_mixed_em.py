"""EM starting values (``emiterate()``) and the optimizer options of ``mixed``.

The reference for "same optimum" is the fit without EM (``emiterate(0)``), itself checked
against Stata's example 4 in test_mixed_seed.py. The EM fixed-point tests use the identity
that at the ML estimate the mean over groups of E[b b' | y] equals the estimated covariance
(the score equation of Sigma; Laird and Ware 1982, Biometrics 38, 963-974).
"""
import warnings

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import ConvergenceWarning

EX4 = "weight week || id: week, covariance(unstructured)"


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def test_em_does_not_change_the_optimum(pig):
    with_em = smf.mixed(EX4, data=pig).fit()
    without = smf.mixed(EX4, data=pig).fit(emiterate=0)
    assert abs(with_em.llf - without.llf) < 1e-8
    assert np.allclose(with_em.params, without.params, rtol=1e-5, atol=1e-8)
    assert "Performing EM optimization ..." in with_em.info.iteration_log
    assert "Performing EM optimization ..." not in without.info.iteration_log


def test_emiterate_option_in_command(pig):
    res = smf.mixed(EX4 + " emiterate(0)", data=pig).fit()
    assert res.info.iteration_log[0] == "Performing gradient-based optimization:"
    assert abs(res.llf - -868.96185) < 1e-4        # Stata's printed example 4


def test_em_start_is_closer_than_identity(pig):
    model = smf.mixed(EX4, data=pig)
    start, n = model._em(model.theta_start(), 20, 1e-10)
    assert n > 0
    assert model.objective.deviance(start) < model.objective.deviance(model.theta_start())


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text,data", [
    (EX4, "pig"),
    ("thk prethk || school: || class:", "tvsfpors"),
    ("weight week || _all: R.week || id:", "pig"),
])
def test_em_fixed_point_is_the_estimate(text, data, reml):
    # for REML, E[b b' | y] includes the uncertainty of beta (Var(b_hat - b))
    model = smf.mixed(text, data=load(data), reml=reml)
    res = model.fit()
    dev, moments = model.objective.em_moments(res.theta)
    assert abs(dev - -2 * res.llf) < 1e-8
    theta_em = model._em_update(moments)
    # compare on the covariance scale (the Cholesky start adds a 1e-8 ridge)
    for term, mom in zip(model.terms, moments):
        lam = term.cholesky(res.theta[term.theta_index])
        # relative to the matrix scale: the optimizer resolves each element to ~1e-7 of the
        # largest variance, so a small covariance is not resolved to 1e-5 of itself
        sig = lam @ lam.T
        assert np.abs(mom - sig).max() <= 1e-5 * np.abs(sig).max()
    assert np.allclose(theta_em, res.theta, rtol=1e-4, atol=1e-6)


def test_disp_prints_the_log(pig, capsys):
    smf.mixed("weight week || id:", data=pig).fit(disp=True)
    out = capsys.readouterr().out
    assert "Performing EM optimization ..." in out
    assert "Iteration 0:  Log likelihood = " in out
    assert "Computing standard errors ..." in out


@pytest.mark.filterwarnings("ignore:mixed. the Hessian")
@pytest.mark.parametrize("how", ["keyword", "option", "command"])
def test_iterate_limit_warns_and_flags(pig, how):
    text = EX4 + (" iterate(1)" if how == "command" else "")
    kw = {"iterate": 1} if how == "option" else {}
    model = smf.mixed(text, data=pig, **kw)
    with pytest.warns(ConvergenceWarning, match=r"iterate\(1\)"):
        res = model.fit(emiterate=0, **({"maxiter": 1} if how == "keyword" else {}))
    assert not res.info.converged
    assert sum(line.startswith("Iteration ") for line in res.info.iteration_log) == 2


def test_iterate_zero_reports_the_starting_values(pig):
    with pytest.warns(ConvergenceWarning):
        res = smf.mixed("weight week || id:", data=pig).fit(maxiter=0, emiterate=0)
    # identity start: var(_cons) = s2 at theta = 1
    assert res.params["/var(_cons[id])"] == pytest.approx(res.params["/var(e.weight)"])


def test_ltolerance_and_tolerance_reach_the_optimizer(pig):
    tight = smf.mixed(EX4, data=pig).fit(emiterate=0)
    loose = smf.mixed(EX4 + " ltolerance(1e-3) tolerance(1e-1)", data=pig).fit(emiterate=0)
    assert loose.info.iterations < tight.info.iterations
    # the Newton polish still lands on the optimum
    assert abs(loose.llf - tight.llf) < 1e-6


def test_multi_term_options(pig):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = smf.mixed("weight week || _all: R.week || id:", data=pig).fit(emiterate=3)
    assert res.info.converged
    assert "Performing EM optimization ..." in res.info.iteration_log


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("text", [EX4, "weight week || id: week, covariance(exchangeable)"])
def test_newton_after_em_matches_lbfgs(pig, text, reml):
    # after a converged EM, one-term models take Newton steps with a Hessian from
    # differences of the analytic gradient; a user tolerance sends them to L-BFGS-B instead
    newton = smf.mixed(text, data=pig, reml=reml).fit()
    lbfgs = smf.mixed(text, data=pig, reml=reml).fit(tolerance=1e-7)
    assert abs(newton.llf - lbfgs.llf) < 1e-8
    np.testing.assert_allclose(newton.params, lbfgs.params, rtol=1e-6)
    np.testing.assert_allclose(newton.bse, lbfgs.bse, rtol=1e-5)
    its = [line for line in newton.info.iteration_log if line.startswith("Iteration ")]
    assert [int(line.split()[1].rstrip(":")) for line in its] == list(range(len(its)))
    assert newton.info.iterations == len(its) - 1 < lbfgs.info.iterations
