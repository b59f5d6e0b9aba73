"""iterate(), tolerance(), ltolerance() and nrtolerance() of meglm and its shortcuts, as
options and as fit() keywords: reaching the iteration limit gives converged=False and a
ConvergenceWarning (Stata's "convergence not achieved"); iterate(0) returns the starting
values."""
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import ConvergenceWarning


def _data(seed=2):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=len(g))
    u = rng.normal(scale=0.8, size=30)[g]
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.3 + 0.7 * x + u))))
    c = rng.poisson(np.exp(0.2 + 0.4 * x + u))
    return pd.DataFrame({"y": y, "c": c, "x": x, "g": g})


def _fit(text, fit_kwargs=None, command=smf.melogit, **opts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = command(text, data=_data(), **opts).fit(**(fit_kwargs or {}))
    return res, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.parametrize("intmethod", ["mvaghermite", "laplace"])
def test_iterate_one_is_not_converged(intmethod):
    full, _ = _fit("y x || g:", intmethod=intmethod)
    res, warned = _fit("y x || g:", intmethod=intmethod, iterate=1)
    assert full.converged and not res.converged
    assert any("iterate(1)" in m for m in warned)
    assert res.llf < full.llf


def test_iterate_as_fit_keyword_and_in_the_command():
    res, warned = _fit("c x || g:, iterate(2)", command=smf.mepoisson)
    assert not res.converged and any("iterate(2)" in m for m in warned)
    res, warned = _fit("c x || g:", {"iterate": 2}, command=smf.mepoisson)
    assert not res.converged and any("iterate(2)" in m for m in warned)


def test_iterate_zero_returns_the_starting_values():
    res, warned = _fit("y x || g:", iterate=0)
    assert not res.converged
    np.testing.assert_array_equal(res.optimization.x_final, res.optimization.x_initial)
    assert res.llf == pytest.approx(res.model.loglike(res.params), rel=1e-12)
    assert any("iterate(0)" in m for m in warned)


def test_enough_iterations_change_nothing():
    full, _ = _fit("y x || g:")
    res, warned = _fit("y x || g:", iterate=200)
    assert res.converged and not warned
    assert res.llf == full.llf
    np.testing.assert_array_equal(np.asarray(res.params), np.asarray(full.params))


def test_loose_tolerances_stop_earlier_but_converge():
    full, _ = _fit("y x || g:")
    res, warned = _fit("y x || g:", tolerance=1e-2, ltolerance=1e-3, nrtolerance=1e-1)
    assert res.converged and not warned
    assert res.optimization.evaluations <= full.optimization.evaluations
    assert res.llf == pytest.approx(full.llf, abs=1e-2)


def test_unreachable_nrtolerance_is_not_converged():
    res, warned = _fit("y x || g:", nrtolerance=1e-300)
    assert not res.converged
    assert any("nrtolerance(1e-300)" in m for m in warned)


def test_negative_control_is_an_error():
    from statsmodels_me.spec.errors import SpecificationError
    with pytest.raises(SpecificationError, match="iterate"):
        smf.melogit("y x || g:", data=_data(), iterate=-1)
    with pytest.raises(SpecificationError, match="tolerance"):
        smf.melogit("y x || g:", data=_data()).fit(tolerance=-1.0)


def test_controls_with_constraints_are_refused():
    with pytest.raises(NotImplementedError, match=r"iterate\(\) with constraints"):
        smf.melogit("y x || g:", data=_data(), constraints=["_b[x] = 0.5"], iterate=3).fit()
