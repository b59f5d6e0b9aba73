"""Gauss-Hermite grids and a slow pure-numpy reference of the GLMM quadrature formulas.

The reference functions repeat, cluster by cluster with numpy and scipy, what
``glmm_kernels.cluster_pass`` does in Cython; they exist to test the kernels.
"""
from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize
from scipy.special import logsumexp

from statsmodels_me._kernels.codes import METHOD_CODES


def check_integration(intmethod: str, intpoints) -> int:
    """Validate ``intmethod`` / ``intpoints``; returns the number of points as an int."""
    from statsmodels_me.spec.errors import SpecificationError
    if intmethod not in METHOD_CODES:
        raise SpecificationError(f"intmethod '{intmethod}' is not supported; expected one "
                                 f"of {sorted(METHOD_CODES)}")
    intpoints = int(intpoints)
    if intpoints < 1:
        raise SpecificationError(f"intpoints({intpoints}) must be a positive integer")
    return intpoints


def hermite_e_rule(npoints: int):
    """Nodes and log weights of the ``npoints``-point probabilists' Gauss-Hermite rule for
    N(0, 1) (the weights sum to 1).

    numpy's :func:`~numpy.polynomial.hermite_e.hermegauss` computes the weights as
    ``1 / He_{n-1}(x_k)^2`` (orthonormal polynomials), which overflows beyond about 200 points
    (the outer weights are below 1e-308 anyway); there the same formula is evaluated in logs:
    the orthonormal recurrence ``p_{k+1} = (x p_k - sqrt(k) p_{k-1}) / sqrt(k+1)`` with the
    pair rescaled whenever it grows large.
    """
    with np.errstate(all="ignore"):
        x, w = hermegauss(npoints)
    if np.all(np.isfinite(w)) and np.all(w > 0):
        return x, np.log(w / np.sqrt(2 * np.pi))
    prev, cur = np.zeros_like(x), np.ones_like(x)
    logscale = np.zeros_like(x)
    for k in range(npoints - 1):
        prev, cur = cur, (x * cur - np.sqrt(k) * prev) / np.sqrt(k + 1)
        big = np.maximum(np.abs(prev), np.abs(cur))
        rescale = big > 1e100
        if np.any(rescale):
            prev[rescale] /= big[rescale]
            cur[rescale] /= big[rescale]
            logscale[rescale] += np.log(big[rescale])
    lw = -2.0 * (np.log(np.abs(cur)) + logscale)
    lw = np.logaddexp(lw, lw[::-1]) - np.log(2.0)  # the rule is symmetric
    return x, lw - logsumexp(lw)


def gh_grid(npoints: int, q: int):
    """Tensor-product probabilists' Gauss-Hermite rule for N(0, I_q).

    Returns
    -------
    nodes : ndarray (npoints**q, q)
    logw : ndarray (npoints**q,)
        Log weights; ``exp(logw).sum() == 1``.
    """
    x, lw = hermite_e_rule(npoints)
    grids = np.meshgrid(*([x] * q), indexing="ij")
    nodes = np.column_stack([g.ravel() for g in grids])
    lgrids = np.meshgrid(*([lw] * q), indexing="ij")
    logw = np.sum([g.ravel() for g in lgrids], axis=0)
    return np.ascontiguousarray(nodes), np.ascontiguousarray(logw)


def _grid_loglike(logdens, m, C, nodes, logw):
    """log of |C| sum_k w_k exp(|z_k|^2/2 - |u_k|^2/2 + logdens(u_k)), with posterior moments."""
    U = m + nodes @ C.T
    f = logw + 0.5 * (nodes ** 2).sum(1) - 0.5 * (U ** 2).sum(1) + np.array(
        [logdens(u) for u in U])
    lse = logsumexp(f)
    p = np.exp(f - lse)
    pm = p @ U
    pv = (U - pm).T @ ((U - pm) * p[:, None])
    return np.log(np.diag(C)).sum() + lse, pm, pv


def reference_cluster_loglike(logdens, q, method="mvaghermite", npoints=7, tol=1e-10):
    """Log likelihood of one cluster, ``log int exp(logdens(u)) phi_q(u) du``.

    Parameters
    ----------
    logdens : callable
        u (q,) -> sum of log f(y_i | eta_i(u)) over the cluster.
    q : int
        Dimension of the standardized random effects.
    method : {"ghermite", "mcaghermite", "mvaghermite", "laplace"}
    npoints : int
        Points per dimension.
    """
    def negg(u):
        return -(logdens(u) - 0.5 * u @ u)

    if method == "ghermite":
        nodes, logw = gh_grid(npoints, q)
        return _grid_loglike(logdens, np.zeros(q), np.eye(q), nodes, logw)[0]
    res = optimize.minimize(negg, np.zeros(q), method="BFGS", options={"gtol": 1e-10})
    uh = res.x
    H = _num_hessian(negg, uh)
    if method == "laplace":
        return -negg(uh) - 0.5 * np.linalg.slogdet(H)[1]
    C = np.linalg.cholesky(np.linalg.inv(H))
    nodes, logw = gh_grid(npoints, q)
    ll, pm, pv = _grid_loglike(logdens, uh, C, nodes, logw)
    if method == "mcaghermite":
        return ll
    m = uh
    for _ in range(200):
        ll, pm, pv = _grid_loglike(logdens, m, C, nodes, logw)
        Cn = np.linalg.cholesky(pv)
        if max(np.abs(pm - m).max(), np.abs(Cn - C).max()) < tol:
            break
        m, C = pm, Cn
    return ll


def _num_hessian(fun, x, h=1e-4):
    """Central-difference Hessian of a scalar function."""
    q = x.size
    H = np.empty((q, q))
    E = np.eye(q) * h
    for i in range(q):
        for j in range(q):
            H[i, j] = (fun(x + E[i] + E[j]) - fun(x + E[i] - E[j]) - fun(x - E[i] + E[j])
                       + fun(x - E[i] - E[j])) / (4 * h * h)
    return 0.5 * (H + H.T)
