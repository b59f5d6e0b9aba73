"""Hypothesis strings with Stata parameter names -> restriction matrices."""
import numpy as np
import pytest

from statsmodels_me.results.constraints import linear_constraints
from statsmodels_me.spec.errors import SpecificationError

NAMES = ["week", "1.urban", "_cons", "/cut1", "/var(week[id])", "/cov(week[id],_cons[id])"]


def test_simple_forms():
    R, q = linear_constraints("week", NAMES)
    np.testing.assert_array_equal(R, [[1, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(q, [0])
    R, q = linear_constraints("2*week - 1.urban = 1", NAMES)
    np.testing.assert_array_equal(R, [[2, -1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(q, [1])


def test_several_and_variance_names():
    R, q = linear_constraints("/var(week[id]) = /cov(week[id],_cons[id]), /cut1 = 0.5",
                              NAMES)
    np.testing.assert_array_equal(R, [[0, 0, 0, 0, 1, -1], [0, 0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(q, [0, 0.5])
    R2, _ = linear_constraints(["week = _cons / 2"], NAMES)
    np.testing.assert_array_equal(R2, [[1, 0, -0.5, 0, 0, 0]])


@pytest.mark.parametrize("bad", ["age = 0", "week * _cons = 0", "week = 1 = 2", "3 = 3", ""])
def test_errors_quote_the_hypothesis(bad):
    with pytest.raises(SpecificationError):
        linear_constraints(bad, NAMES)
