"""Detect fixed-effects columns that are linear combinations of earlier columns.

Stata keeps the first of a set of collinear columns and omits the later ones
("note: 2.block omitted because of collinearity."), always keeping the constant. We reproduce
that with sequential Gram-Schmidt in a given priority order. To make the cost independent of
the number of rows, the columns are first scaled to unit length and reduced to the triangular
factor R of a Householder QR (X = QR with Q orthogonal, so inner products of the columns of X
equal those of the columns of R); Gram-Schmidt then runs on the small p x p matrix R.
The common case of clearly independent columns is settled first from the Cholesky factor
of the scaled p x p Gram matrix, which costs one pass over the rows.
"""
from __future__ import annotations

import numpy as np

__all__ = ["collinear_columns"]

#: a column is dropped when the part of it that earlier kept columns cannot explain has a norm
#: below ``TOL`` times its own norm
TOL = 1e-9


def collinear_columns(X: np.ndarray, order=None, tol: float = TOL) -> np.ndarray:
    """Boolean mask of the columns of ``X`` to drop.

    Parameters
    ----------
    X : ndarray (n, p)
    order : sequence of int, optional
        Priority order in which columns are considered (earlier columns are kept in preference
        to later ones); default left to right.
    tol : float
        Relative tolerance on the residual norm of a column.

    Returns
    -------
    ndarray (p,) bool
        True for columns that are (numerically) zero or in the span of earlier kept columns.
    """
    X = np.asarray(X, dtype=np.float64)
    p = X.shape[1]
    order = np.arange(p) if order is None else np.asarray(order, dtype=np.int64)
    drop = np.zeros(p, dtype=bool)
    if p == 0:
        return drop
    gram = X.T @ X
    if _clearly_independent(gram, order):
        return drop
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    zero = (norms == 0) | ~np.isfinite(norms)
    drop[zero] = True
    live = [j for j in order if not zero[j]]
    if not live:
        return drop
    Xs = X[:, live] / norms[live]
    if Xs.shape[0] >= Xs.shape[1]:
        R = np.linalg.qr(Xs, mode="r")
    else:
        R = Xs
    basis = np.zeros((R.shape[0], 0))
    for k, j in enumerate(live):
        v = R[:, k].copy()
        # classical Gram-Schmidt applied twice is orthogonal to working precision
        for _ in range(2):
            v -= basis @ (basis.T @ v)
        r = np.linalg.norm(v)
        if r <= tol:
            drop[j] = True
        else:
            basis = np.column_stack([basis, v / r])
    return drop


def _clearly_independent(gram: np.ndarray, order) -> bool:
    """True when no column is zero or within 1e-3 (relative) of the span of the columns
    before it in ``order``.

    The diagonal of the Cholesky factor of the unit-scaled Gram matrix holds those relative
    residual norms; their squares carry a rounding error of order 1e-16 p, so a residual
    above 1e-3 is far above both that error and ``TOL``, and the QR path would keep every
    column. Anything closer is left to the QR path.
    """
    d = np.sqrt(np.diag(gram))
    if not np.all(np.isfinite(gram)) or not np.all(d > 0):
        return False
    idx = np.asarray(order, dtype=np.int64)
    scaled = gram[np.ix_(idx, idx)] / np.outer(d[idx], d[idx])
    try:
        L = np.linalg.cholesky(scaled)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.diag(L) > 1e-3))
