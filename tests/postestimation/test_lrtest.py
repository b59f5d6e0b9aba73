"""Stata's ``lrtest`` on two fitted models: order, nesting and the boundary argument.

Expected p-values are computed in each test from scipy's chi2 distribution.
"""
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from statsmodels_me.inference.lrtests import CONSERVATIVE_NOTE
from statsmodels_me.postestimation.lrtest import lrtest
from statsmodels_me.spec.errors import SpecificationError


def _fit(llf, k):
    return SimpleNamespace(llf=llf, params=np.zeros(k))


def test_lrtest_results_objects_and_order():
    small, big = _fit(-14.0, 3), _fit(-10.0, 4)
    a = lrtest(small, big, boundary=1)
    b = lrtest(big, small, boundary=1)
    assert a == b
    assert (a.stat, a.df, a.kind) == (8.0, 1, "chibar2(01)")
    assert a.pvalue == pytest.approx(0.5 * stats.chi2.sf(8.0, 1))
    c = lrtest(small, _fit(-10.0, 6), boundary=2)
    assert (c.kind, c.note) == ("chi2(3)", CONSERVATIVE_NOTE)
    d = lrtest(small, _fit(-10.0, 5))
    assert (d.kind, d.note) == ("chi2(2)", None)


@pytest.mark.parametrize("args, kwargs, message", [
    ((_fit(-1.0, 3), _fit(-2.0, 3)), {}, "not nested"),
    ((_fit(-1.0, 3), _fit(-0.5, 4)), {"boundary": 2}, "boundary=2"),
    ((SimpleNamespace(params=[1]), _fit(-0.5, 4)), {}, "log likelihood"),
])
def test_lrtest_bad_input(args, kwargs, message):
    with pytest.raises(SpecificationError, match=message):
        lrtest(*args, **kwargs)
