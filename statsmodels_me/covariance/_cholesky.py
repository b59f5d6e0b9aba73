"""Cholesky factor of a positive semidefinite matrix that tolerates singular (boundary) cases."""
from __future__ import annotations

import numpy as np


def psd_cholesky(sigma: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Lower-triangular ``L`` with ``L @ L.T == sigma`` for a positive *semi*definite ``sigma``.

    :func:`numpy.linalg.cholesky` is tried first; when it fails (a singular matrix on the
    boundary of the parameter space, e.g. a zero variance or a correlation of one) the
    factor is computed column by column, and a pivot that is zero within
    ``rtol * max(diag)`` gives a zero column.

    Parameters
    ----------
    sigma : ndarray (q, q)
        Symmetric matrix.
    rtol : float
        Relative tolerance for a zero pivot.

    Returns
    -------
    ndarray (q, q)
        The factor; every entry is NaN when ``sigma`` is not finite or not positive
        semidefinite (so an optimizer sees a bad point instead of an exception).
    """
    sigma = np.asarray(sigma, dtype=float)
    q = sigma.shape[0]
    if q == 0:
        return np.zeros((0, 0))
    if not np.all(np.isfinite(sigma)):
        return np.full((q, q), np.nan)
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        pass
    scale = max(float(np.max(np.abs(np.diag(sigma)))), np.finfo(float).tiny)
    tol = rtol * scale
    # |sigma_ij|^2 <= sigma_ii sigma_jj for a PSD matrix: below a zero pivot the column
    # must vanish up to rounding
    col_tol = 10.0 * np.sqrt(tol * scale)
    L = np.zeros((q, q))
    for j in range(q):
        lj = L[j, :j]
        d = sigma[j, j] - lj @ lj
        col = sigma[j + 1:, j] - L[j + 1:, :j] @ lj
        if d < -tol:
            return np.full((q, q), np.nan)
        if d <= tol:
            if np.any(np.abs(col) > col_tol):
                return np.full((q, q), np.nan)
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1:, j] = col / L[j, j]
    return L
