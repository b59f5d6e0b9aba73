"""Numerical Hessians against analytic second derivatives."""
import numpy as np
import pytest

from statsmodels_me.optimization.hessian import gradient_hessian, relative_step, value_hessian


def rosen(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2 + np.exp(x[2] * x[0])


def rosen_grad(x):
    e = np.exp(x[2] * x[0])
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]) + x[2] * e,
                     200.0 * (x[1] - x[0] ** 2),
                     x[0] * e])


def rosen_hess(x):
    # analytic second derivatives of rosen (by hand)
    e = np.exp(x[2] * x[0])
    return np.array([
        [1200.0 * x[0] ** 2 - 400.0 * x[1] + 2 + x[2] ** 2 * e, -400.0 * x[0],
         e + x[0] * x[2] * e],
        [-400.0 * x[0], 200.0, 0.0],
        [e + x[0] * x[2] * e, 0.0, x[0] ** 2 * e]])


X0 = np.array([0.7, -0.3, 0.4])


def test_relative_step_rule():
    step = relative_step(1e-5, 0.1)
    assert step(2.0) == pytest.approx(2e-5, rel=1e-15)
    assert step(-0.01) == pytest.approx(1e-6, rel=1e-15)


@pytest.mark.parametrize("forward,tol", [(False, 1e-7), (True, 1e-3)])
def test_gradient_hessian_matches_analytic(forward, tol):
    H = gradient_hessian(rosen_grad, X0, [0, 1, 2], relative_step(1e-5, 0.1),
                         forward=forward)
    np.testing.assert_allclose(H, rosen_hess(X0), rtol=tol, atol=tol)
    np.testing.assert_array_equal(H, H.T)


def test_gradient_hessian_subset_and_given_gradient():
    free = [0, 2]
    H = gradient_hessian(rosen_grad, X0, free, relative_step(1e-5, 0.1), forward=True,
                         g0=rosen_grad(X0))
    np.testing.assert_allclose(H, rosen_hess(X0)[np.ix_(free, free)], rtol=1e-3)


def test_gradient_hessian_uses_the_given_steps():
    # forward differences of a cubic's gradient: f = x^3, f' = 3x^2, (f'(x+h) - f'(x)) / h
    # = 6x + 3h exactly, so the error shows the step that was used
    H = gradient_hessian(lambda x: 3 * x ** 2, np.array([2.0]), [0], lambda xi: 0.5,
                         forward=True)
    assert H[0, 0] == pytest.approx(12.0 + 1.5, rel=1e-14)


def test_value_hessian_matches_analytic():
    H = value_hessian(rosen, X0, [0, 1, 2], relative_step(1e-3, 0.1))
    np.testing.assert_allclose(H, rosen_hess(X0), rtol=1e-4, atol=1e-4)


def test_value_hessian_uses_given_center_value():
    # with a wrong f0 the diagonal moves by -2 * delta / h^2 and the off-diagonal does not
    step = relative_step(1e-3, 0.1)
    H = value_hessian(rosen, X0, [0, 1], step)
    Hs = value_hessian(rosen, X0, [0, 1], step, f0=rosen(X0) + 1e-9)
    h = np.array([step(X0[0]), step(X0[1])])
    np.testing.assert_allclose(np.diag(H) - np.diag(Hs), 2e-9 / h ** 2, rtol=1e-5)
    assert Hs[0, 1] == H[0, 1]
