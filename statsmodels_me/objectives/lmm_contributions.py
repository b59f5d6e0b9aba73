"""Per-cluster log likelihood of a one-level linear mixed model and its scores.

Observations of different groups are independent, so the log likelihood at
(beta, theta, s2) is a sum over groups of
    l_g = -(n_g log(2 pi s2) + log|M_g| + (e_g'e_g - c_g' M_g^-1 c_g) / s2) / 2,
with e_g = y_g - X_g beta, c_g = Lambda' Z_g' e_g and M_g = I + Lambda' Z_g'Z_g Lambda
(V_g = s2 (I + Z_g Lambda Lambda' Z_g'), whose inverse and determinant follow from the
Woodbury identity and the matrix determinant lemma). These are the pieces of sandwich
(``vce(robust)``) standard errors and of an evaluation distributed over clusters.
"""
from __future__ import annotations

import numpy as np


def _group_values(y, X, term, beta, lam, s2):
    """l_g for every group of ``term`` at (beta, Lambda, s2)."""
    codes, G = term.codes, term.n_groups
    e = y - X @ beta
    ee = np.bincount(codes, weights=e * e, minlength=G)
    ng = np.bincount(codes, minlength=G).astype(float)
    Z = term.Z
    q = Z.shape[1]
    Ze = np.zeros((G, q))
    ZZ = np.zeros((G, q, q))
    for a in range(q):
        Ze[:, a] = np.bincount(codes, weights=Z[:, a] * e, minlength=G)
        for b in range(a, q):
            ZZ[:, a, b] = ZZ[:, b, a] = np.bincount(codes, weights=Z[:, a] * Z[:, b],
                                                    minlength=G)
    M = np.einsum("ji,gjk,kl->gil", lam, ZZ, lam)
    M[:, range(q), range(q)] += 1.0
    L = np.linalg.cholesky(M)
    c = Ze @ lam
    w = np.linalg.solve(L, c[:, :, None])[:, :, 0]
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    quad = ee - (w * w).sum(axis=1)
    return -0.5 * (ng * np.log(2.0 * np.pi * s2) + logdet + quad / s2)


def one_level_contributions(y, X, term, theta, beta, s2, rel_step=1e-5):
    """Per-group log likelihood and its scores in (beta, theta, s2).

    Parameters
    ----------
    y, X : ndarray
        Response and fixed-effects design.
    term : RETerm
        The model's one random-effects term; its groups are the clusters.
    theta : ndarray
        The full relative-covariance parameter vector (``term.theta_index`` selects).
    beta : ndarray (p,)
    s2 : float
        Residual variance.
    rel_step : float
        Central-difference step relative to each parameter (floored at 1e-2 absolute).

    Returns
    -------
    values : ndarray (G,)
        Sum to the (ML) log likelihood at (beta, theta, s2).
    scores : ndarray (G, p + len(theta) + 1)
        Derivatives of each group's value in (beta, theta, s2), by central differences of
        the per-group values (error ~1e-10 relative); they sum to the gradient.
    """
    p = len(beta)
    x0 = np.concatenate([beta, theta, [s2]])
    idx = term.theta_index

    def values(x):
        lam = term.cholesky(x[p:-1][idx])
        return _group_values(y, X, term, x[:p], lam, x[-1])

    v0 = values(x0)
    scores = np.empty((term.n_groups, len(x0)))
    for i in range(len(x0)):
        h = rel_step * max(abs(x0[i]), 1e-2)
        xp, xm = x0.copy(), x0.copy()
        xp[i] += h
        xm[i] -= h
        scores[:, i] = (values(xp) - values(xm)) / (2.0 * h)
    return v0, scores


def top_level_clusters(terms):
    """Codes of the top-level clusters of nested terms, or ``None`` for a crossed design.

    The top level is the term with the fewest groups; the design is nested when every
    group of every other term lies in one top-level cluster.

    Returns
    -------
    codes : ndarray (n,) or None
    crossing : str
        When not nested, which term's groups cross which (for the error message).
    """
    top = min(terms, key=lambda t: t.n_groups)
    for t in terms:
        if t is top:
            continue
        pairs = np.unique(np.column_stack([t.codes, top.codes]), axis=0)
        if len(pairs) != t.n_groups:
            return None, (f"groups of '{t.label}: {' '.join(t.names)}' lie in several "
                          f"groups of '{top.label}: {' '.join(top.names)}'")
    return top.codes, ""


def _nested_values(y, X, terms, clusters, beta, lams, s2):
    """l_c per top-level cluster: the one-level formula with M_c over every random effect
    of the cluster (their groups lie in it; a dense (r_c x r_c) matrix per cluster)."""
    e = y - X @ beta
    n_c = int(clusters.max()) + 1
    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.arange(n_c + 1))
    out = np.empty(n_c)
    for c in range(n_c):
        rows = order[bounds[c]:bounds[c + 1]]
        blocks = []
        for t, lam in zip(terms, lams):
            local, idx = np.unique(t.codes[rows], return_inverse=True)
            ZL = t.Z[rows] @ lam                                   # (n_c, q)
            A = np.zeros((len(rows), len(local) * t.q))
            cols = idx[:, None] * t.q + np.arange(t.q)[None, :]
            np.put_along_axis(A, cols, ZL, axis=1)
            blocks.append(A)
        A = np.hstack(blocks)
        L = np.linalg.cholesky(np.eye(A.shape[1]) + A.T @ A)
        w = np.linalg.solve(L, A.T @ e[rows])
        quad = e[rows] @ e[rows] - w @ w
        out[c] = -0.5 * (len(rows) * np.log(2.0 * np.pi * s2)
                         + 2.0 * np.log(np.diag(L)).sum() + quad / s2)
    return out


def nested_contributions(y, X, terms, theta, beta, s2, rel_step=1e-5):
    """Per top-level cluster log likelihood and its scores in (beta, theta, s2), for nested
    designs (see :func:`top_level_clusters`); as :func:`one_level_contributions` otherwise.

    Raises
    ------
    NotImplementedError
        For crossed designs, naming the crossing: their log likelihood does not split into
        independent clusters.
    """
    clusters, crossing = top_level_clusters(terms)
    if clusters is None:
        raise NotImplementedError(
            f"mixed: per-cluster contributions need nested random effects; here {crossing}, "
            f"so the clusters are not independent")
    p = len(beta)
    x0 = np.concatenate([beta, theta, [s2]])

    def values(x):
        lams = [t.cholesky(x[p:-1][t.theta_index]) for t in terms]
        return _nested_values(y, X, terms, clusters, x[:p], lams, x[-1])

    return difference_scores(values, x0, rel_step)


def difference_scores(values, x0, rel_step):
    """Per-cluster values at ``x0`` and their central-difference derivatives.

    Parameters
    ----------
    values : callable
        ``values(x) -> (G,)`` per-cluster log likelihood contributions.
    x0 : ndarray (k,)
    rel_step : float
        Step ``rel_step * max(|x_i|, 1e-2)``.

    Returns
    -------
    v0 : ndarray (G,)
    scores : ndarray (G, k)
    """
    v0 = values(x0)
    scores = np.empty((len(v0), len(x0)))
    for i in range(len(x0)):
        h = rel_step * max(abs(x0[i]), 1e-2)
        xp, xm = x0.copy(), x0.copy()
        xp[i] += h
        xm[i] -= h
        scores[:, i] = (values(xp) - values(xm)) / (2.0 * h)
    return v0, scores
