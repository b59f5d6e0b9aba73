"""``res.optimization``: the record of what mixed's optimizer did."""
import warnings

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.spec.errors import ConvergenceWarning


@pytest.fixture(scope="module")
def pig():
    return load("pig")


@pytest.mark.parametrize("text,method", [
    ("weight week || id: week, cov(un)", "Newton"),
    ("weight week || _all: R.id || _all: R.week", "Newton (log scale, exact Hessian)"),
    ("weight week || _all: R.week || id: week, cov(un)", "COBYQA"),
])
def test_record_of_a_converged_fit(pig, text, method):
    res = smf.mixed(text, data=pig).fit()
    rec = res.optimization
    assert isinstance(rec, OptimizationRecord)
    assert rec.stages[0] == "EM" and rec.stages[-1] == method
    assert rec.converged and rec.criterion
    assert rec.value == res.llf
    np.testing.assert_array_equal(rec.x_final, res.theta)
    assert rec.iterations == res.info.iterations
    assert rec.warnings == []
    if method == "COBYQA":
        # no Hessian is formed on the way: nothing to report
        assert np.isnan(rec.scaled_gradient) and np.isnan(rec.hessian_condition)
    else:
        # the Newton decrement at the estimate is below the stopping rule (half of it <= 1e-10
        # on the deviance, which is -2 times the log likelihood)
        assert 0 <= rec.scaled_gradient < 1e-9
        assert 1 <= rec.hessian_condition < 1e8


def test_record_of_an_iteration_limit(pig):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = smf.mixed("weight week || _all: R.week || id: week, cov(un)", data=pig).fit(
            maxiter=2)
    rec = res.optimization
    assert not rec.converged
    assert len(rec.warnings) == 1 and "iterate(2)" in rec.warnings[0]
    assert any(issubclass(w.category, ConvergenceWarning) and "iterate(2)" in str(w.message)
               for w in caught)
