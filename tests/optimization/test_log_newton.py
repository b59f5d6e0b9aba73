"""Newton's method on log(theta) on problems whose minimizer is known in closed form."""
import contextlib

import numpy as np
import pytest

from statsmodels_me.optimization.log_newton import log_newton_step, minimize_log_newton


class LogQuadratic:
    """D(theta) = sum_i w_i (log theta_i - a_i)^2 + c (log theta_0 - a_0)(log theta_1 - a_1),
    minimized at theta = exp(a) (positive definite in log theta for c^2 < 4 w_0 w_1)."""

    def __init__(self, a, w, c=0.0):
        self.a, self.w, self.c = np.asarray(a, float), np.asarray(w, float), c
        self.evaluations = 0

    def _parts(self, theta):
        phi = np.log(theta) - self.a
        D = float(self.w @ phi ** 2 + self.c * phi[0] * phi[1])
        gphi = 2 * self.w * phi
        gphi[0] += self.c * phi[1]
        gphi[1] += self.c * phi[0]
        Hphi = np.diag(2 * self.w)
        Hphi[0, 1] = Hphi[1, 0] = self.c
        # chain rule to theta: g = gphi / theta, H = (Hphi - diag(gphi)) / (theta theta')
        g = gphi / theta
        H = (Hphi - np.diag(gphi)) / np.outer(theta, theta)
        return D, g, H

    def work_deviance(self, theta, need_factor=True):
        self.evaluations += 1
        theta = np.asarray(theta, float)
        if np.any(theta <= 0.0):
            # (the iteration probes scales at zero: outside this problem's domain)
            return np.inf, None
        return self._parts(theta)[0], None

    def deviance_grad_hess(self, theta, handle=None):
        return self._parts(np.asarray(theta, float))

    def last_step(self, x, f, g, cand):
        D, gc, _ = self._parts(cand)
        return cand, D, gc

    def blas_scope(self):
        return contextlib.nullcontext()


BOUNDS = [(0.0, None)] * 2


def test_reaches_the_minimizer_and_logs_each_iteration():
    prob = LogQuadratic([0.5, -1.0], [1.0, 3.0], c=1.2)
    seen = []
    res = minimize_log_newton(prob, np.array([3.0, 3.0]), BOUNDS,
                              callback=lambda x, f: seen.append(f))
    assert res.success and res.converged_newton
    np.testing.assert_allclose(res.x, np.exp([0.5, -1.0]), rtol=1e-8)
    assert res.fun == pytest.approx(0.0, abs=1e-14)
    # a quadratic in log theta: the first full step lands on the minimizer
    assert res.nit == len(seen) <= 2
    assert seen == sorted(seen, reverse=True)


def test_alternative_start_is_taken_when_better():
    good = np.exp([0.5, -1.0]) * 1.001
    prob = LogQuadratic([0.5, -1.0], [1.0, 3.0])
    res = minimize_log_newton(prob, np.array([30.0, 0.01]), BOUNDS, alternative=good)
    assert res.nit <= 1
    np.testing.assert_allclose(res.x, np.exp([0.5, -1.0]), rtol=1e-8)
    res = minimize_log_newton(prob, np.array([30.0, 0.01]), BOUNDS)
    assert res.nit >= 2
    # a worse alternative is not taken
    res = minimize_log_newton(prob, good, BOUNDS, alternative=np.array([30.0, 0.01]))
    assert res.nit <= 1


def test_declines_other_bounds_and_zero_starts():
    prob = LogQuadratic([0.5, -1.0], [1.0, 3.0])
    assert minimize_log_newton(prob, np.ones(2), [(0.0, None), (None, None)]) is None
    assert minimize_log_newton(prob, np.ones(2), [(0.0, 5.0), (0.0, None)]) is None
    assert minimize_log_newton(prob, np.array([0.0, 1.0]), BOUNDS) is None


def test_step_uses_absolute_eigenvalues():
    """At a saddle in log theta the step still decreases along the negative direction."""
    x = np.array([1.0, 1.0])
    g = np.array([0.3, -0.2])
    H = np.array([[-2.0, 0.0], [0.0, 4.0]]) - np.diag(g)     # H_phi = diag(-2, 4)
    step, dec = log_newton_step(x, g, H)
    np.testing.assert_allclose(step, [-0.3 / 2.0, 0.2 / 4.0])
    assert dec == pytest.approx(0.3 ** 2 / 2 + 0.2 ** 2 / 4)
