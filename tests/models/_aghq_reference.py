"""An independent 30-point adaptive Gauss-Hermite likelihood of a random-intercept model,
written with numpy/scipy only, with its own optimizer (BFGS, then Newton steps on a
central-difference Hessian) -- the reference of the metobit, meintreg and mestreg tests.

For cluster j, L_j = int prod_i f(y_i | x_i'beta + b) N(b; 0, s_u^2) db is computed as
sum_k w_k sqrt(2) tau_j exp(h_j(bhat_j + sqrt(2) tau_j x_k) + x_k^2), with h_j the log
integrand, bhat_j its mode (Newton on central differences) and tau_j = (-h_j'')^(-1/2)
(Liu and Pierce 1994; Pinheiro and Bates 1995).

With row weights w_i the integrand is prod_i f(y_i | ...)^w_i and with cluster weights w_j the
cluster's log likelihood is multiplied by w_j: the pseudo-likelihood of Rabe-Hesketh & Skrondal
(2006, J. R. Statist. Soc. A 169:805-827).
"""
import numpy as np
from scipy import optimize

NODES, WEIGHTS = np.polynomial.hermite.hermgauss(30)


def aghq_cluster_loglike(row_loglike, X, groups, params, n_aux, row_weights=None):
    """Log likelihood of every cluster (G,) at ``params = (beta, aux, log var_u)``.

    Parameters
    ----------
    row_loglike : callable
        ``row_loglike(eta, aux)`` -> log f of every row (scipy densities, exact).
    X : (n, p) array; groups : (n,) integer codes 0..G-1.
    row_weights : (n,) array, optional
        Exponent of every row's density.
    """
    p = X.shape[1]
    beta, aux, lv = params[:p], params[p:p + n_aux], params[p + n_aux]
    su = np.exp(0.5 * lv)
    G = groups.max() + 1
    xb = X @ beta

    def h(b):
        lf = row_loglike(xb + b[groups], aux)
        if row_weights is not None:
            lf = row_weights * lf
        return (np.bincount(groups, lf, G) - 0.5 * (b / su) ** 2 - np.log(su)
                - 0.5 * np.log(2 * np.pi))

    b, d = np.zeros(G), 1e-4
    for _ in range(40):
        h0, hp, hm = h(b), h(b + d), h(b - d)
        g1, g2 = (hp - hm) / (2 * d), (hp - 2 * h0 + hm) / d ** 2
        step = -g1 / np.minimum(g2, -1e-8)
        b = b + np.clip(step, -2.0, 2.0)
        if np.max(np.abs(step)) < 1e-10:
            break
    h0, hp, hm = h(b), h(b + d), h(b - d)
    tau = 1.0 / np.sqrt(-(hp - 2 * h0 + hm) / d ** 2)
    vals = np.array([h(b + np.sqrt(2) * tau * x) + x * x for x in NODES])
    top = vals.max(axis=0)
    return top + np.log(np.sqrt(2) * tau * (WEIGHTS[:, None] * np.exp(vals - top)).sum(axis=0))


def aghq_loglike(row_loglike, X, groups, params, n_aux, row_weights=None,
                 cluster_weights=None):
    """Log likelihood at ``params = (beta, aux, log var_u)`` (the sum over clusters of
    :func:`aghq_cluster_loglike`, each times its cluster weight)."""
    ll = aghq_cluster_loglike(row_loglike, X, groups, params, n_aux, row_weights)
    return float(ll.sum() if cluster_weights is None else cluster_weights @ ll)


def numerical_hessian(f, x, step=1e-4):
    """Central-difference Hessian of f at x."""
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * step, np.eye(k)[j] * step
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * step ** 2)
    return H


def aghq_fit(row_loglike, X, groups, start, row_weights=None, cluster_weights=None):
    """Maximize :func:`aghq_loglike`; returns (params, llf, covariance of params)."""
    n_aux = len(start) - X.shape[1] - 1

    def f(z):
        return aghq_loglike(row_loglike, X, groups, z, n_aux, row_weights, cluster_weights)

    res = optimize.minimize(lambda z: -f(z), np.asarray(start, float), method="BFGS",
                            options={"gtol": 1e-7, "maxiter": 500})
    z = res.x
    for _ in range(2):
        H = numerical_hessian(f, z)
        g = np.array([(f(z + e) - f(z - e)) / 2e-5 for e in np.eye(len(z)) * 1e-5])
        z = z - np.linalg.solve(H, g)
    H = numerical_hessian(f, z)
    return z, f(z), np.linalg.inv(-H)


def aghq_sandwich(row_loglike, X, groups, z, row_weights=None, cluster_weights=None):
    """The cluster sandwich G/(G-1) A^-1 B A^-1 at ``z`` (Stata [U] 20.22): A the negative
    central-difference Hessian of the (pseudo-)log likelihood, B the cross product of the
    clusters' central-difference scores (each cluster's weighted contribution)."""
    n_aux = len(z) - X.shape[1] - 1
    G = groups.max() + 1
    wj = np.ones(G) if cluster_weights is None else cluster_weights

    def clusters(t):
        return wj * aghq_cluster_loglike(row_loglike, X, groups, t, n_aux, row_weights)

    scores = np.column_stack([(clusters(z + e) - clusters(z - e)) / 2e-5
                              for e in np.eye(len(z)) * 1e-5])
    A_inv = np.linalg.inv(-numerical_hessian(
        lambda t: aghq_loglike(row_loglike, X, groups, t, n_aux, row_weights,
                               cluster_weights), z))
    return A_inv @ (scores.T @ scores) @ A_inv * G / (G - 1.0)
