"""Bounded quasi-Newton maximization (L-BFGS-B) with the rescan of variances stuck at zero.

A standard deviation at exactly zero is a stationary point of a mixed-model likelihood
(which is even in it), so a gradient method that overshoots onto the bound can stop there.
:func:`rescan_zero` scans such coordinates on a geometric grid away from zero; a true
boundary estimate survives the scan.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize


@dataclass
class ZeroRescan:
    """How to rescan coordinates stuck at a zero lower bound.

    Attributes
    ----------
    grid : ndarray
        Values tried for each stuck coordinate.
    improvement : float
        A grid point replaces the best one when it lowers the minimized value by more.
    at_zero : float
        A coordinate with lower bound 0 counts as stuck when ``x_i <= at_zero``.
    rounds : int
        Rescan-and-restart rounds at most.
    partners : dict, optional
        Coordinate -> coordinates whose sign may be flipped together with its scan (a
        zero Cholesky diagonal leaves the sign of the column below it free).
    restart_options : dict, optional
        L-BFGS-B options of the restarts (default: those of the first run).
    skip_on_limit : bool
        No rescan after a run that stopped at its iteration limit.
    """

    grid: np.ndarray = field(default_factory=lambda: np.geomspace(1e-2, 3.0, 10))
    improvement: float = 1e-8
    at_zero: float = 1e-6
    rounds: int = 1
    partners: dict | None = None
    restart_options: dict | None = None
    skip_on_limit: bool = True


def stuck_at_zero(x, bounds, at_zero=1e-6):
    """Coordinates with lower bound 0 whose value is ``<= at_zero``."""
    return [i for i, (lo, _) in enumerate(bounds)
            if lo is not None and lo == 0.0 and x[i] <= at_zero]


def rescan_zero(fun, x, bounds, rescan, f0=None):
    """Best point of the grid scan of the coordinates of ``x`` stuck at zero.

    Parameters
    ----------
    fun : callable
        ``x -> value`` to MINIMIZE (``inf`` where undefined).
    x : ndarray
    bounds : list of (lower, upper)
    rescan : ZeroRescan
    f0 : float, optional
        ``fun(x)`` when known.

    Returns
    -------
    (x_best, f_best) ; ``x_best is x`` when no grid point improves.
    """
    stuck = stuck_at_zero(x, bounds, rescan.at_zero)
    best = x
    if not stuck:
        return best, f0
    fbest = fun(x) if f0 is None else f0
    partners = rescan.partners or {}
    for i in stuck:
        flips = ((), partners[i]) if partners.get(i) else ((),)
        for flip in flips:
            for v in rescan.grid:
                t = best.copy()
                if flip:
                    t[list(flip)] *= -1.0
                t[i] = v
                fv = fun(t)
                if fv < fbest - rescan.improvement:
                    best, fbest = t, fv
    return best, fbest


def hit_limit(res):
    """Whether scipy stopped for its iteration or evaluation limit."""
    msg = str(getattr(res, "message", "")).lower()
    return "maximum" in msg or "exceed" in msg or ("limit" in msg and "radius" not in msg)


def maximize_bounded(value_and_grad, x0, bounds, options, on_iteration=None, rescan=None,
                     value=None, record=None, stage="L-BFGS-B"):
    """Maximize by L-BFGS-B within box ``bounds``, then rescan variances stuck at zero.

    Parameters
    ----------
    value_and_grad : callable
        ``x -> (value, gradient)`` of the objective to MAXIMIZE; a non-finite value is
        treated as outside the domain.
    x0 : ndarray
    bounds : list of (lower, upper)
    options : dict
        scipy's L-BFGS-B options (``maxiter``, ``ftol``, ``gtol``, ``maxls``).
    on_iteration : callable, optional
        ``on_iteration(k, value)`` after iteration ``k`` (counted across restarts) with the
        value of the last evaluation.
    rescan : ZeroRescan, optional
        Rescan coordinates stuck at zero and restart from the best grid point when it is
        better (``rounds`` times at most).
    value : callable, optional
        ``x -> value`` for the scan (default: the first element of ``value_and_grad``).
    record : OptimizationRecord, optional
        Gets a stage named ``stage`` per run.
    stage : str

    Returns
    -------
    scipy.optimize.OptimizeResult
        Of the last run; ``x``, ``success``, ``message`` and ``nit`` (iterations of all runs).
    """
    last = {"f": np.nan}
    evals = [0]

    def f(x):
        val, g = value_and_grad(x)
        evals[0] += 1
        last["f"] = val
        if not np.isfinite(val):
            return np.inf, np.zeros_like(x)
        return -val, -g

    it = [0]

    def cb(xk, *args):
        it[0] += 1
        if on_iteration is not None:
            on_iteration(it[0], last["f"])

    def run(start, opts):
        mark, emark = it[0], evals[0]
        res = optimize.minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                callback=cb, options=opts)
        if record is not None:
            record.add_stage(stage, it[0] - mark, evals[0] - emark)
        return res

    res = run(np.asarray(x0, float), options)
    if rescan is not None:
        val = value if value is not None else (lambda x: value_and_grad(x)[0])

        def neg(x):
            v = val(x)
            return -v if np.isfinite(v) else np.inf
        for _ in range(rescan.rounds):
            if rescan.skip_on_limit and hit_limit(res):
                break
            if not stuck_at_zero(res.x, bounds, rescan.at_zero):
                break
            best, _ = rescan_zero(neg, res.x, bounds, rescan)
            if best is res.x:
                break
            res = run(best, rescan.restart_options or options)
    res.nit = it[0]
    return res


def maximize_unbounded(value_and_grad, x0, options, record=None):
    """Maximize by BFGS without bounds (non-finite values count as outside the domain).

    Returns scipy's ``OptimizeResult`` with ``nit`` the iterations the callback saw.
    """
    evals = [0]

    def f(x):
        val, g = value_and_grad(x)
        evals[0] += 1
        if not np.isfinite(val):
            return np.inf, np.zeros_like(x)
        return -val, -g
    it = [0]

    def cb(xk, *args):
        it[0] += 1
    res = optimize.minimize(f, np.asarray(x0, float), jac=True, method="BFGS", callback=cb,
                            options=options)
    res.nit = it[0]
    if record is not None:
        record.add_stage("BFGS", it[0], evals[0])
    return res
