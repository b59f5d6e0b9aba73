"""Maximization under linear constraints against the closed-form constrained maximum."""
import numpy as np
import pytest

from statsmodels_me.optimization.constrained import (
    maximize_constrained,
    null_space_parametrization,
)

A = np.array([1.0, 3.0, -2.0])


def value(x):
    return -np.sum((x - A) ** 2)


def test_null_space_parametrization_satisfies_the_constraints():
    R, r = np.array([[1.0, -1.0, 0.0]]), np.array([0.5])
    p0, N = null_space_parametrization(R, r, A)
    assert N.shape == (3, 2)
    for z in (np.zeros(2), np.array([1.0, -2.0])):
        assert R @ (p0 + N @ z) == pytest.approx(r, abs=1e-14)


def test_equality_of_two_parameters():
    # maximize -|x - a|^2 subject to x0 = x1: x0 = x1 = (a0 + a1) / 2 = 2, x2 = a2;
    # the covariance is (-H)^-1 on the constraint set, H = -2 I: in z it is N'N / 2
    seen = []
    out = maximize_constrained(value, lambda d: d, np.zeros(3), [[1.0, -1.0, 0.0]], [0.0],
                               [], 200, on_iteration=lambda k, v: seen.append(k))
    np.testing.assert_allclose(out.x, [2.0, 2.0, -2.0], atol=1e-6)
    assert not out.singular and out.iterations == len(seen)
    # cov = N (N' 2 N)^-1 N' = P / 2 with P the projector onto the null space of R
    P = np.eye(3) - np.outer([1, -1, 0], [1, -1, 0]) / 2.0
    np.testing.assert_allclose(out.cov_display, P / 2, atol=1e-6)


def test_positivity_constraint_keeps_the_estimate_inside():
    # maximum of -|x - a|^2 with x2 = x0 - 3 would be x2 < 0 ... restricted to x2 > 0:
    # infeasible points are skipped, the estimate stays feasible
    out = maximize_constrained(value, lambda d: d, np.array([4.0, 3.0, 1.0]),
                               [[1.0, 0.0, -1.0]], [3.0], [2], 200)
    assert out.x[2] > 0
    assert out.x[0] - out.x[2] == pytest.approx(3.0, abs=1e-10)
