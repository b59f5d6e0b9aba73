"""Numerical Hessians: differences of an analytic gradient, second differences of a value.

Every routine works on a callable and a subset ``free`` of the coordinates of ``x`` and takes
its difference steps from the caller (``step(x_i) -> h_i``): the call sites use different
steps, and the numbers they report depend on them.
"""
from __future__ import annotations

import numpy as np
from statsmodels.tools.numdiff import approx_hess3


def relative_step(rel, floor):
    """The step rule ``h_i = rel * max(|x_i|, floor)``."""
    def step(xi):
        return rel * max(abs(xi), floor)
    return step


def gradient_hessian(grad, x, free, step, forward=False, g0=None):
    """Hessian on the ``free`` coordinates from differences of an analytic gradient.

    Parameters
    ----------
    grad : callable
        ``grad(x) -> (n,)`` gradient at ``x``.
    x : ndarray (n,)
    free : sequence of int
        Coordinates to difference (rows and columns of the result).
    step : callable
        ``step(x_i) -> h_i``, the difference step of coordinate ``i``.
    forward : bool
        Forward differences ``(g(x + h e_i) - g(x)) / h`` (one gradient per coordinate, error
        O(h)) instead of central ones (two per coordinate, error O(h^2)).
    g0 : ndarray (n,), optional
        The gradient at ``x`` when the caller has it (forward differences only).

    Returns
    -------
    ndarray (k, k), symmetrized ``(H + H') / 2``.
    """
    x = np.asarray(x, float)
    free = list(free)
    H = np.empty((len(free), len(free)))
    if forward:
        g0 = np.asarray(grad(x) if g0 is None else g0, float)[free]
    for a, i in enumerate(free):
        h = step(x[i])
        xp = x.copy()
        xp[i] += h
        if forward:
            H[:, a] = (np.asarray(grad(xp))[free] - g0) / h
            continue
        xm = x.copy()
        xm[i] -= h
        H[:, a] = (np.asarray(grad(xp))[free] - np.asarray(grad(xm))[free]) / (2 * h)
    return 0.5 * (H + H.T)


def value_hessian(fun, x, free, step, f0=None):
    """Hessian on the ``free`` coordinates from second differences of a value.

    Diagonal: ``(f(x + h_a) - 2 f(x) + f(x - h_a)) / h_a^2``; off-diagonal: the four-point
    formula ``(f(++) - f(+-) - f(-+) + f(--)) / (4 h_a h_b)``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``.
    x : ndarray (n,)
    free : sequence of int
    step : callable
        ``step(x_i) -> h_i``.
    f0 : float, optional
        ``fun(x)`` when the caller has it (e.g. computed with a state that ``fun`` then
        holds fixed).
    """
    x = np.asarray(x, float)
    free = list(free)
    n = len(free)
    f0 = fun(x) if f0 is None else f0
    h = np.array([step(x[i]) for i in free])
    E = np.zeros((n, len(x)))
    for a, i in enumerate(free):
        E[a, i] = h[a]
    H = np.empty((n, n))
    fp = np.array([fun(x + E[a]) for a in range(n)])
    fm = np.array([fun(x - E[a]) for a in range(n)])
    for a in range(n):
        H[a, a] = (fp[a] - 2 * f0 + fm[a]) / h[a] ** 2
        for b in range(a):
            v = (fun(x + E[a] + E[b]) - fun(x + E[a] - E[b]) - fun(x - E[a] + E[b])
                 + fun(x - E[a] - E[b])) / (4 * h[a] * h[b])
            H[a, b] = H[b, a] = v
    return H


def symmetric_value_hessian(fun, x, steps):
    """Hessian of a value on all coordinates of ``x`` from statsmodels' ``approx_hess3``
    (the symmetric four-point second differences of Ridout (2009), eq. 9), with the steps
    ``steps`` (scalar or one per coordinate).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``.
    x : ndarray (n,)
    steps : float or ndarray (n,)

    Returns
    -------
    ndarray (n, n)
    """
    return approx_hess3(np.asarray(x, float), fun, epsilon=steps)
