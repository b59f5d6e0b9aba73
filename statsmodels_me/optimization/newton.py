"""Newton steps with a fixed Hessian (the chord method) and step halving."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NewtonResult:
    """Where a chord Newton run stopped.

    Attributes
    ----------
    x : ndarray
        The last accepted point.
    value : float
        The objective at ``x`` (maximized).
    gradient : ndarray
        Its gradient at ``x`` (full length).
    iterations : int
        Steps tried (the count the iteration log shows).
    converged : bool
        Whether the Newton decrement fell below tolerance (or the remaining steps were at
        the evaluation noise).
    criterion : str
        What stopped it.
    """

    x: np.ndarray
    value: float
    gradient: np.ndarray
    iterations: int
    converged: bool
    criterion: str


@dataclass(frozen=True)
class ChordTolerances:
    """Stopping thresholds of :func:`chord_newton` (Stata's ``nrtolerance()``,
    ``ltolerance()`` and ``tolerance()`` when the user gives them).

    Attributes
    ----------
    decrement : float
        The Newton decrement ``g'(-H)^-1 g`` below which the run has converged.
    value : float
        An accepted step that changes the value by less ...
    step : float
        ... and no coordinate by more than this has converged.
    """

    decrement: float = 1e-9
    value: float = 1e-10
    step: float = 1e-6


def lower_bounds(bounds):
    """The lower bounds of scipy-style ``bounds`` as an array (``-inf`` for ``None``)."""
    return np.array([b[0] if b[0] is not None else -np.inf for b in bounds], float)


def chord_newton(value_and_grad, x, H, free, lower, maxit=50, on_step=None, record=None,
                 start=None, tolerances=None):
    """Maximize with Newton steps on a fixed Hessian ``H`` (on the ``free`` coordinates).

    Each step ``-H^-1 g`` is halved (up to 11 times) until the value does not decrease;
    points are projected onto the lower bounds.  Stops when the Newton decrement
    ``g'(-H)^-1 g`` (the squared step length in standard-error units) is below 1e-9, when an
    accepted step changes the value by less than 1e-10 and no coordinate by more than 1e-6,
    or when a step of decrement below 1e-7 does not improve (the remaining differences are
    at the evaluation noise: converged).

    Parameters
    ----------
    value_and_grad : callable
        ``x -> (value, gradient)`` of the objective to maximize.
    x : ndarray (n,)
    H : ndarray (k, k)
        Hessian on the ``free`` coordinates (negative definite near a maximum).
    free : sequence of int
    lower : ndarray (n,)
        Lower bounds (``-inf`` where none), see :func:`lower_bounds`.
    maxit : int
    on_step : callable, optional
        ``on_step(iteration, value)`` after every accepted step.
    record : OptimizationRecord, optional
        Gets a ``"chord Newton"`` stage with the steps and evaluations.
    start : tuple, optional
        ``(value, gradient)`` at ``x`` when the caller has them.
    tolerances : ChordTolerances, optional
        The three stopping thresholds above (default: 1e-9, 1e-10 and 1e-6).

    Returns
    -------
    NewtonResult
    """
    x = np.asarray(x, float)
    free = list(free)
    tol = tolerances or ChordTolerances()
    f, g = value_and_grad(x) if start is None else start
    evals = 1 if start is None else 0
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        Hinv = np.linalg.pinv(H)
    it, converged, criterion = 0, False, "iteration limit"
    for it in range(1, maxit + 1):
        step = np.zeros_like(x)
        step[free] = -Hinv @ g[free]
        decrement = abs(g[free] @ step[free])
        if it > 1 and decrement < tol.decrement:
            converged, criterion = True, "Newton decrement"
            break
        t, accepted = 1.0, False
        for _ in range(12):
            cand = np.maximum(x + t * step, lower)
            fc, gc = value_and_grad(cand)
            evals += 1
            if np.isfinite(fc) and fc >= f - 1e-12:
                accepted = True
                break
            if decrement < 1e-7:
                # a step of < 3e-4 standard errors that does not improve: the remaining
                # differences are at the level of the evaluation noise; stop rather than halve
                break
            t *= 0.5
        if not accepted:
            converged = decrement < 1e-7
            criterion = "evaluation noise" if converged else "step halving failed"
            break
        done = fc - f < tol.value and np.max(np.abs(t * step)) < tol.step
        x, f, g = cand, fc, gc
        if on_step is not None:
            on_step(it, f)
        if done:
            converged, criterion = True, "relative change"
            break
    if record is not None:
        record.add_stage("chord Newton", it, evals)
    return NewtonResult(x, f, g, it, converged, criterion)
