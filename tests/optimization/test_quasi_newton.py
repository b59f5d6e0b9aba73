"""Bounded quasi-Newton maximization and the rescan of variances stuck at zero."""
import numpy as np
import pytest

from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.optimization.quasi_newton import (
    ZeroRescan,
    hit_limit,
    maximize_bounded,
    maximize_unbounded,
    rescan_zero,
    stuck_at_zero,
)


def double_well(x):
    # even in the standard deviation s = x[1]: s = 0 is a stationary point, s = 1 the maximum
    # (f = -(s^2 - 1)^2 - (b - 2)^2, maximum 0 at b = 2, s = 1)
    s, b = x[1], x[0]
    return -(s ** 2 - 1) ** 2 - (b - 2) ** 2, np.array([-2 * (b - 2), -4 * s * (s ** 2 - 1)])


BOUNDS = [(None, None), (0.0, None)]
OPTS = {"maxiter": 200, "ftol": 1e-14, "gtol": 1e-10}


def test_stuck_at_zero():
    assert stuck_at_zero(np.array([0.0, 0.0, 1e-7]), [(None, None), (0.0, None),
                                                         (0.0, None)]) == [1, 2]


def test_without_rescan_the_optimizer_stops_at_zero():
    res = maximize_bounded(double_well, np.array([0.0, 0.0]), BOUNDS, OPTS)
    assert res.x[1] == 0.0
    assert res.x[0] == pytest.approx(2.0, abs=1e-6)


def test_rescan_moves_off_zero_and_finds_the_maximum():
    rec = OptimizationRecord()
    seen = []
    res = maximize_bounded(double_well, np.array([0.0, 0.0]), BOUNDS, OPTS, rescan=ZeroRescan(),
                           on_iteration=lambda k, v: seen.append(k), record=rec)
    np.testing.assert_allclose(res.x, [2.0, 1.0], atol=1e-6)
    assert rec.stages == ["L-BFGS-B", "L-BFGS-B"]
    assert res.nit == rec.iterations == len(seen) and seen == list(range(1, len(seen) + 1))
    assert rec.evaluations > 0


def test_rescan_keeps_a_true_boundary_estimate():
    # f = -(s^2 + 1)^2: the maximum over s >= 0 is at s = 0
    def f(x):
        return -(x[0] ** 2 + 1) ** 2, np.array([-4 * x[0] * (x[0] ** 2 + 1)])
    rec = OptimizationRecord()
    res = maximize_bounded(f, np.array([0.5]), [(0.0, None)], OPTS, rescan=ZeroRescan(),
                           record=rec)
    assert res.x[0] == pytest.approx(0.0, abs=1e-6)
    assert rec.stages == ["L-BFGS-B"]


def test_rescan_zero_flips_partners():
    # minimize (s^2 - 1)^2 + (c + 1)^2 * s^2: at s = 0 the sign of c is free. Each grid
    # point flips c of the best point so far: s = 0.5 with c = -1 gives 0.5625 < 1 and
    # becomes the best; the next points flip c back to +1 (4 and 25) and lose
    def fun(x):
        return (x[0] ** 2 - 1) ** 2 + (x[1] + 1) ** 2 * x[0] ** 2
    x = np.array([0.0, 1.0])
    grid = np.array([0.5, 1.0, 2.0])
    best, fb = rescan_zero(fun, x, [(0.0, None), (None, None)],
                           ZeroRescan(grid=grid, partners={0: [1]}))
    np.testing.assert_array_equal(best, [0.5, -1.0])
    assert fb == 0.5625
    # without the flip every grid point is worse than fun(x) = 1 (1.5625, 4, 25): x stays
    best2, fb2 = rescan_zero(fun, x, [(0.0, None), (None, None)], ZeroRescan(grid=grid))
    assert best2 is x and fb2 == 1.0


def test_unbounded_maximum_of_a_quadratic():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, 3.0])
    rec = OptimizationRecord()
    res = maximize_unbounded(lambda x: (b @ x - 0.5 * x @ A @ x, b - A @ x), np.zeros(2),
                             {"gtol": 1e-10}, record=rec)
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-8)
    assert rec.stages == ["BFGS"] and rec.iterations == res.nit > 0


def test_hit_limit_reads_scipys_message():
    res = maximize_bounded(double_well, np.array([5.0, 3.0]), BOUNDS,
                           {"maxiter": 1, "ftol": 1e-14, "gtol": 1e-12})
    assert hit_limit(res)
    assert not hit_limit(maximize_bounded(double_well, np.array([5.0, 3.0]), BOUNDS, OPTS))
