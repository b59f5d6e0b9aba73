"""Standard errors of ``mixed``'s variance components: the observed information of
(theta, s2) with beta profiled out, mapped to Stata's variance/covariance scale by the delta
method."""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.inference.sandwich import sandwich_from_products, score_products
from statsmodels_me.objectives.lmm_profiled import information_theta_s2
from statsmodels_me.optimization.hessian import symmetric_value_hessian
from statsmodels_me.spec.errors import BoundaryWarning, ConvergenceWarning


class VarianceComponents:
    """The map between theta (relative Cholesky parameters, level by level) and the
    displayed variances and covariances.

    Parameters
    ----------
    level_covs : list of CovarianceStructure
        One per level, in theta order.
    absolute : bool
        Whether the structures are on the absolute scale (a ``covariance(fixed())`` model),
        else relative to the residual variance.
    """

    def __init__(self, level_covs, absolute=False):
        self.level_covs = list(level_covs)
        self.absolute = absolute
        self.n_theta = int(sum(c.n_theta for c in self.level_covs))

    def split(self, theta):
        out, pos = [], 0
        for cov in self.level_covs:
            out.append(theta[pos:pos + cov.n_theta])
            pos += cov.n_theta
        return out

    def display(self, theta, s2):
        """(displayed var/cov parameters, s2) at (theta, s2)."""
        scale = 1.0 if self.absolute else s2
        return np.concatenate([c.display(t, scale=scale) for c, t in
                               zip(self.level_covs, self.split(theta))] + [[s2]])

    def jacobian(self, theta, s2):
        """d (display params, s2) / d (theta, s2)."""
        scale = 1.0 if self.absolute else s2
        parts = list(zip(self.level_covs, self.split(theta)))
        blocks = [c.display_jacobian(t, scale=scale) for c, t in parts]
        J = np.zeros((sum(b.shape[0] for b in blocks) + 1, self.n_theta + 1))
        r = c0 = 0
        for b, (cov, t) in zip(blocks, parts):
            J[r:r + b.shape[0], c0:c0 + b.shape[1]] = b
            if not self.absolute:
                J[r:r + b.shape[0], -1] = cov.display(t, scale=1.0)
            r += b.shape[0]
            c0 += b.shape[1]
        J[-1, -1] = 1.0
        return J

    def theta_from_display(self, values, s2):
        """theta from displayed var/cov values (``s2`` the residual variance)."""
        scale = 1.0 if self.absolute else s2
        out, pos = [], 0
        for c in self.level_covs:
            k = len(c.display_names)
            out.append(c.theta_from_display(values[pos:pos + k], scale=scale))
            pos += k
        return np.concatenate(out) if out else np.zeros(0)


def parts_information(objective, curvature, theta, s2, keep):
    """Observed information of (theta[keep], s2) from the deviance's parts (analytic-gradient
    objectives), reusing the curvature's remembered parts when they were taken at
    ``theta``; ``None`` where the gradient parts fail."""
    at = objective.grad_parts(theta)
    if at is None:
        return None
    _, r2, _, dr2 = at
    idx = np.array([i for i in keep if i < objective.n_theta], dtype=int)
    parts = curvature.kept_parts(theta, idx)
    if parts is None:
        parts = curvature.second_parts(theta, idx)
        if parts is None:
            return None
    Hld, Hr2 = parts
    return information_theta_s2(Hld, Hr2, r2, dr2[idx], s2, objective.m)


def covariance_of_display(objective, curvature, vc, theta, s2, bounds, labels):
    """Covariance of (display var/cov params, s2) from the observed information.

    Parameters
    ----------
    objective : LMM objective
        For a model on the absolute scale its parameter vector is (theta, s2).
    curvature : DevianceCurvature or None
        For analytic-gradient objectives on the relative scale.
    vc : VarianceComponents
    theta : ndarray
    s2 : float
    bounds : list of (lower, upper)
        On theta.
    labels : callable
        ``theta -> list of str`` naming each element (for the boundary warning).

    Warns
    -----
    ConvergenceWarning
        The Hessian is not negative definite.
    BoundaryWarning
        A variance component at its bound (no standard error).
    """
    x0 = np.concatenate([theta, [s2]])
    at_bound = [i for i, (lo, _) in enumerate(bounds)
                if lo is not None and abs(theta[i] - lo) < 1e-6]

    def nll(x):
        if vc.absolute:
            return -objective.loglike_profile_s2(x, x[-1])
        return -objective.loglike_profile_s2(x[:-1], x[-1])
    keep = [i for i in range(len(x0)) if i not in at_bound]
    xk = x0[keep]
    # central second differences with steps of 1e-3 of each parameter's own scale: the
    # profiled log likelihood is accurate to ~1e-12 relative, which this step balances
    # against the truncation error (checked against Stata's example 4 to 2e-4).
    scale = np.abs(xk)
    floor = 0.1 * np.abs(theta).max() if len(theta) else 1.0
    steps = 1e-3 * np.maximum(scale, floor if floor > 0 else 1.0)

    def nll_sub(sub):
        x = x0.copy()
        x[keep] = sub
        return nll(x)
    H = None
    if curvature is not None and not vc.absolute:
        H = parts_information(objective, curvature, theta, s2, keep)
    if H is None:
        H = symmetric_value_hessian(nll_sub, xk, steps)
    try:
        eig = np.linalg.eigvalsh(H) if H.size else np.ones(1)
    except np.linalg.LinAlgError:
        eig = np.array([np.nan])
    if not np.all(np.isfinite(eig)) or eig.min() <= 1e-10 * max(abs(eig).max(), 1.0):
        warnings.warn("mixed: the Hessian of the log likelihood is not negative definite "
                      "at the estimates (the information matrix is singular or not "
                      "positive definite); the standard errors of the variance "
                      "components are not reliable", ConvergenceWarning, stacklevel=4)
    try:
        cov_k = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov_k = np.linalg.pinv(H)
    cov_t = np.zeros((len(x0), len(x0)))
    cov_t[np.ix_(keep, keep)] = cov_k
    if at_bound:
        lab = labels(theta)
        names = list(dict.fromkeys(lab[i] for i in at_bound))
        warnings.warn(f"mixed: variance component estimated at the boundary (zero): "
                      f"{', '.join(names)}; it is held at zero for the standard errors "
                      "(bse 0, no confidence interval)",
                      BoundaryWarning, stacklevel=4)
    J = vc.jacobian(theta, s2)
    return J @ cov_t @ J.T


def robust_covariance(objective, vc, theta, beta, s2, groups=None):
    """Cluster-robust covariance of (beta, display var/cov params, s2) for an ML fit.

    The per-cluster scores in (beta, theta, s2) come from the objective's
    ``contributions``; A is minus the Hessian of the log likelihood in the same parameters
    (central second differences, steps 1e-3 of each parameter's scale as
    :func:`covariance_of_display`); the result is mapped to the display scale by the
    delta method (identity on beta).

    Returns
    -------
    cov : ndarray
    n_clusters : int
    """
    _, scores = objective.contributions(theta, beta, s2)
    B, n_clusters = score_products(scores, groups)
    return robust_from_products(objective, vc, theta, beta, s2, B, n_clusters), n_clusters


def robust_from_products(objective, vc, theta, beta, s2, products, n_clusters):
    """:func:`robust_covariance` from the meat of the sandwich in (beta, theta, s2)
    (:func:`~statsmodels_me.inference.sandwich.score_products`, or its sum over parts of
    the data holding whole clusters) and the number of clusters."""
    p = len(beta)
    x0 = np.concatenate([beta, theta, [s2]])

    def ll(x):
        return objective.loglike_profile_s2(x[p:-1], x[-1], beta=x[:p])
    steps = 1e-3 * np.maximum(np.abs(x0), 0.1 * max(np.abs(x0[p:]).max(), 1e-3))
    H = symmetric_value_hessian(ll, x0, steps)
    cov_int = sandwich_from_products(H, products, n_clusters)
    J = np.zeros((p + vc.jacobian(theta, s2).shape[0], len(x0)))
    J[:p, :p] = np.eye(p)
    J[p:, p:] = vc.jacobian(theta, s2)
    return J @ cov_int @ J.T
