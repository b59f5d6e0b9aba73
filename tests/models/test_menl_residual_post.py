"""Postestimation of ``menl`` with error structures: ``estat_wcorrelation`` includes the
errors' correlation and ``rstandard`` their variance function, each checked against the
formula written out from the estimates."""
import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

PIG = "menl weight = ({a}+{U[id]})*exp({r}*week), "


def test_wcorrelation_includes_the_ar1_errors():
    res = smf.menl(PIG + "rescorrelation(ar 1, t(week))", data=load("pig")).fit()
    rho, s2 = res.params["/Residual:rho"], res.params["/var(e)"]
    _, _, Z = res.model.mean.evaluate(res.params.to_numpy()[:2], res.random_effects.to_numpy()
                                      .ravel())
    z = Z[:9, 0]
    lag = np.abs(np.subtract.outer(np.arange(9), np.arange(9)))
    V = res.params["/var(U[id])"] * np.outer(z, z) + s2 * rho ** lag
    sd = np.sqrt(np.diag(V))
    np.testing.assert_allclose(res.estat_wcorrelation().to_numpy(), V / np.outer(sd, sd),
                               rtol=1e-12, atol=1e-14)


def test_rstandard_uses_the_variance_function():
    res = smf.menl(PIG + "resvariance(power week)", data=load("pig")).fit()
    week = load("pig")["week"].to_numpy(float)
    sd = np.sqrt(res.params["/var(e)"]) * (week ** res.params["/Residual:delta"]
                                            + res.params["/Residual:_cons"])
    np.testing.assert_allclose(res.predict("rstandard").to_numpy(),
                               res.predict("residuals").to_numpy() / sd, rtol=1e-12)


def test_new_data_predictions_with_an_error_structure():
    pig = load("pig")
    res = smf.menl(PIG + "rescorrelation(ar 1, t(week))", data=pig).fit()
    # the mean function does not involve the error structure: in-sample values are reproduced
    np.testing.assert_allclose(res.predict("yhat", data=pig), res.predict("yhat"), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="rstandard"):
        res.predict("rstandard", data=pig)


def test_group_equal_to_the_lowest_level_is_the_default():
    pig = load("pig")
    a = smf.menl(PIG + "rescorrelation(ar 1, t(week))", data=pig).fit()
    b = smf.menl(PIG + "rescorrelation(ar 1, t(week) group(id))", data=pig).fit()
    # the same model; group()'s variable joins the grid of start values, so the two paths
    # stop at the fixed point within the stopping rule (1e-6) rather than bit for bit
    assert abs(a.llf - b.llf) <= 1e-9 * abs(a.llf)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)
