"""EM iterations for starting values (Stata's ``emiterate()``)."""
from __future__ import annotations

import numpy as np


def em_iterations(moments_at, update, theta0, n_iter, tol):
    """Run EM from ``theta0`` and return the iterate with the lowest deviance.

    Parameters
    ----------
    moments_at : callable
        ``theta -> (deviance, moments)``: the E step (``moments`` ``None`` when it fails).
    update : callable
        ``moments -> theta``: the M step.
    theta0 : ndarray
    n_iter : int
        At most this many E steps.
    tol : float
        Stop when the deviance changes by at most ``tol`` relative.

    Returns
    -------
    theta : ndarray
        The iterate with the lowest deviance (``theta0`` when none was evaluated).
    done : int
        E steps run.
    """
    best, fbest = theta0, np.inf
    theta, prev, done = theta0, None, 0
    for _ in range(int(n_iter)):
        dev, mom = moments_at(theta)
        if not np.isfinite(dev) or mom is None:
            break
        if dev < fbest:
            best, fbest = theta, dev
        done += 1
        if prev is not None and abs(prev - dev) <= tol * max(abs(dev), 1.0):
            break
        prev = dev
        theta = update(mom)
    return best, done
