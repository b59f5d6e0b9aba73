"""Chord Newton steps against maximizers known in closed form."""
import numpy as np
import pytest

from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.optimization.newton import chord_newton, lower_bounds

A = np.array([[3.0, 1.0], [1.0, 2.0]])
B = np.array([1.0, -2.0])
XSTAR = np.linalg.solve(A, B)   # maximizer of f = b'x - x'Ax/2


def quad(x):
    return B @ x - 0.5 * x @ A @ x, B - A @ x


def test_lower_bounds():
    np.testing.assert_array_equal(lower_bounds([(None, None), (0.0, None), (-1.0, 2.0)]),
                                  [-np.inf, 0.0, -1.0])


def test_exact_hessian_converges_to_closed_form_maximum():
    rec = OptimizationRecord()
    steps = []
    out = chord_newton(quad, np.zeros(2), -A, [0, 1], np.full(2, -np.inf),
                       on_step=lambda k, v: steps.append((k, v)), record=rec)
    assert out.converged
    np.testing.assert_allclose(out.x, XSTAR, rtol=1e-14)
    assert out.value == pytest.approx(0.5 * B @ XSTAR, rel=1e-14)
    np.testing.assert_allclose(out.gradient, 0.0, atol=1e-13)
    assert steps[0][0] == 1 and steps[0][1] == pytest.approx(0.5 * B @ XSTAR, rel=1e-14)
    assert rec.stages == ["chord Newton"] and rec.iterations == out.iterations
    # one evaluation at the start, one for the full step; the second iteration stops on
    # the decrement before evaluating
    assert rec.evaluations == 2


def test_fixed_wrong_hessian_still_converges():
    # a Hessian 1.5 times too curved: linear convergence with rate 1/3, stopped when the
    # decrement g'(-H)^-1 g < 1e-9 (distance to the maximum ~ sqrt(1e-9) in its metric)
    out = chord_newton(quad, np.zeros(2), -1.5 * A, [0, 1], np.full(2, -np.inf))
    assert out.converged and out.criterion == "Newton decrement"
    np.testing.assert_allclose(out.x, XSTAR, atol=1e-4)
    assert out.iterations > 2


def test_step_halving_on_an_overshooting_model():
    # f = -sqrt(1 + x^2) has its maximum at 0; a Hessian of -0.1 overshoots (step -10 g)
    # so full steps decrease f and must be halved
    def f(x):
        return -np.sqrt(1 + x[0] ** 2), np.array([-x[0] / np.sqrt(1 + x[0] ** 2)])
    out = chord_newton(f, np.array([3.0]), np.array([[-0.1]]), [0], np.array([-np.inf]),
                       maxit=200)
    assert out.converged
    assert abs(out.x[0]) < 1e-3


def test_free_subset_and_lower_bound_projection():
    # the second coordinate is held; the first is bounded below at 1 (unconstrained
    # maximizer of f(., 0) is b0 / A00 = 1/3 < 1): the bound is the maximizer
    out = chord_newton(quad, np.array([2.0, 0.0]), -A[:1, :1], [0], np.array([1.0, -np.inf]),
                       maxit=5)
    assert out.x[1] == 0.0
    assert out.x[0] == 1.0
    assert out.value == pytest.approx(quad(np.array([1.0, 0.0]))[0], rel=1e-15)


def test_not_converged_at_iteration_limit():
    out = chord_newton(quad, np.zeros(2), -10 * A, [0, 1], np.full(2, -np.inf), maxit=3)
    assert not out.converged and out.iterations == 3
    assert out.criterion == "iteration limit"
