"""EM driver: the iterate with the lowest deviance, the stopping rule and a failing E step."""
import numpy as np

from statsmodels_me.optimization.em import em_iterations


def _contraction(theta):
    """E step of theta -> 0.5 theta + 1 (fixed point 2), deviance (theta - 2)^2."""
    return float((theta[0] - 2.0) ** 2), 0.5 * theta + 1.0


def test_converges_to_the_fixed_point():
    theta, n = em_iterations(_contraction, lambda m: m, np.array([10.0]), 100, 1e-12)
    # |theta_k - 2| = 8 / 2^k; the deviance change falls below 1e-12 near k = 22
    assert abs(theta[0] - 2.0) < 1e-5
    assert 15 < n < 40


def test_iteration_limit_and_best_iterate():
    theta, n = em_iterations(_contraction, lambda m: m, np.array([10.0]), 3, 0.0)
    assert n == 3
    # E steps at 10, 6, 4: the last evaluated iterate is the best
    assert theta[0] == 4.0


def test_failing_e_step_keeps_the_best_so_far():
    def moments(theta):
        if theta[0] < 5.0:
            return np.inf, None
        return _contraction(theta)
    theta, n = em_iterations(moments, lambda m: m, np.array([10.0]), 20, 0.0)
    assert (theta[0], n) == (6.0, 2)
