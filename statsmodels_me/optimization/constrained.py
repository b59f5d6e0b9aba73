"""Maximization under linear equality constraints on display-scale parameters.

The constraints ``R d = r`` on the display vector ``d`` are solved once: ``d = p0 + N z``
with ``p0`` the particular solution closest to the start and ``N`` a basis of the null space
of ``R``; the objective is then maximized over the free ``z``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from statsmodels.tools.numdiff import approx_hess3


@dataclass
class ConstrainedResult:
    """Outcome of :func:`maximize_constrained`.

    Attributes
    ----------
    x : ndarray or None
        Internal parameters at the estimate (``None`` if it is not feasible).
    cov_display : ndarray
        Covariance of the display parameters, ``N (-H_z)^-1 N'``.
    iterations : int
        BFGS iterations.
    singular : bool
        Whether the Hessian in ``z`` was singular (pseudo-inverse used).
    converged : bool
        Whether the final Nelder-Mead polish met its tolerances.
    """

    x: np.ndarray | None
    cov_display: np.ndarray
    iterations: int
    singular: bool
    converged: bool = True


def null_space_parametrization(R, r, d0):
    """``(p0, N)``: ``R (p0 + N z) = r`` for every ``z``; ``p0`` closest to ``d0``."""
    R, r = np.atleast_2d(R), np.atleast_1d(r).astype(float)
    p0 = d0 - np.linalg.pinv(R) @ (R @ d0 - r)
    _, s, vt = np.linalg.svd(R)
    rank = int((s > 1e-10).sum())
    return p0, vt[rank:].T


def maximize_constrained(value, to_internal, d0, R, r, positive, maxiter, on_iteration=None,
                         record=None):
    """Maximize ``value`` subject to ``R d = r`` on the display parameters ``d``.

    BFGS from ``z = 0``, then Nelder-Mead to polish (the objective is ``inf`` at infeasible
    points, where BFGS's line search may stop early); the covariance comes from the Hessian
    of :func:`statsmodels.tools.numdiff.approx_hess3` in ``z`` (steps ``1e-4 max(|z|, 0.1)``).

    Parameters
    ----------
    value : callable
        ``x -> log likelihood`` at internal parameters.
    to_internal : callable
        ``d -> x`` internal parameters of display values, or ``None`` when infeasible.
    d0 : ndarray
        Display parameters of the start.
    R, r : array_like
        The constraints ``R d = r``.
    positive : sequence of int
        Display positions that must stay positive (variances); one the constraints fix
        may be zero.
    maxiter : int
    on_iteration : callable, optional
        ``on_iteration(k, value)`` after BFGS iteration ``k``.
    record : OptimizationRecord, optional
    """
    p0, N = null_space_parametrization(R, r, d0)
    positive = list(positive)
    # a position the constraints pin to a value (a variance fixed at 0) may sit on the bound
    pinned = [i for i in positive if not np.any(np.abs(N[i]) > 1e-12)]
    positive = [i for i in positive if i not in pinned]

    def internal(z):
        d = p0 + N @ z
        if np.any(d[positive] <= 0) or np.any(d[pinned] < 0):
            return None
        return to_internal(d)

    def f(z):
        xi = internal(z)
        if xi is None:
            return np.inf
        v = value(xi)
        return -v if np.isfinite(v) else np.inf

    z0 = np.zeros(N.shape[1])
    it = [0]

    def cb(zk, *a):
        it[0] += 1
        if on_iteration is not None:
            on_iteration(it[0], -f(zk))
    with np.errstate(invalid="ignore"):  # infeasible trial points are +inf
        res = optimize.minimize(f, z0, method="BFGS", callback=cb,
                                options={"gtol": 1e-7, "maxiter": maxiter})
        if record is not None:
            record.add_stage("BFGS (null space)", it[0], res.nfev)
        res = optimize.minimize(f, res.x, method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        if record is not None:
            record.add_stage("Nelder-Mead (null space)", 0, res.nfev)
    z = res.x
    H = approx_hess3(z, f, epsilon=1e-4 * np.maximum(np.abs(z), 1e-1))
    singular = False
    try:
        covz = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        covz = np.linalg.pinv(H)
        singular = True
    return ConstrainedResult(internal(z), N @ covz @ N.T, it[0], singular, bool(res.success))
