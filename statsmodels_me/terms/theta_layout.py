"""How theta maps onto the terms' covariance structures: EM projections, labels, partners."""
from __future__ import annotations

import numpy as np

from statsmodels_me.covariance.blocked import BlockDiagonal
from statsmodels_me.covariance.structures import Unstructured
from statsmodels_me.terms.random_effects import FirstEffectFactor, term_structures


def theta_from_moments(terms, moments, n_theta):
    """theta from per-term relative-covariance moments, projected onto each structure.

    Parameters
    ----------
    terms : list of RETerm
    moments : list of ndarray (q_k, q_k)
        Per term, a relative covariance (the EM update, mean of E[b b' | y] / s2).
    n_theta : int

    Returns
    -------
    ndarray (n_theta,)
        Each structure's ``theta_start`` of its block of the moment matrix (an ``R.x``
        term's one variance spread over the identity structure).
    """
    theta = np.zeros(n_theta)
    for term, mom in zip(terms, moments):
        chol = term.cholesky
        blocked = isinstance(term.covariance, BlockDiagonal)
        qpos = tpos = 0
        for cov in term_structures(term):
            q = cov.q if blocked else mom.shape[0]
            if cov.n_theta:
                sub = mom[qpos:qpos + q, qpos:qpos + q]
                if isinstance(chol, FirstEffectFactor):
                    sub = float(sub[0, 0]) * np.eye(cov.q)
                theta[term.theta_index[tpos:tpos + cov.n_theta]] = cov.theta_start(sub)
            qpos += q
            tpos += cov.n_theta
    return theta


def theta_labels(terms, theta, n_theta):
    """A label per theta element naming its random effect: ``id: var(week)``.

    A zero Cholesky diagonal whose effect still has a positive variance makes the
    covariance matrix singular rather than a variance zero, and is labelled so.
    """
    labels = [""] * n_theta
    for term in terms:
        tpos = 0
        for cov in term_structures(term):
            li = cov.lower_positions[0] if isinstance(cov, Unstructured) else None
            glob = term.theta_index[tpos:tpos + cov.n_theta]
            for k in range(cov.n_theta):
                if li is not None:
                    var = np.diag(cov.matrix(theta[glob]))[li[k]]
                    eff = cov.names[li[k]]
                    lab = (f"var({eff})" if var <= 1e-12 else
                           f"singular covariance matrix of ({' '.join(cov.names)})")
                elif cov.kind_label == "Independent":
                    lab = f"var({cov.names[k]})"
                else:
                    lab = f"var({' '.join(cov.names)})"
                labels[glob[k]] = f"{cov.level_label}: {lab}"
            tpos += cov.n_theta
    return labels


def cholesky_column_partners(terms):
    """Global theta index of each Unstructured Cholesky diagonal -> the indices below it."""
    out = {}
    for term in terms:
        tpos = 0
        for cov in term_structures(term):
            if isinstance(cov, Unstructured):
                li, lj = cov.lower_positions
                glob = term.theta_index[tpos:tpos + cov.n_theta]
                for k, (i, j) in enumerate(zip(li, lj)):
                    if i == j:
                        out[int(glob[k])] = [int(glob[m]) for m in range(len(li))
                                             if lj[m] == j and li[m] > j]
            tpos += cov.n_theta
    return out
