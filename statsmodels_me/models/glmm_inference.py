"""GLMM inference on the display scale: the map from the internal parameters (beta,
ancillary, theta) to Stata's ``e(b)`` and the observed-information covariance by the delta
method."""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.inference.sandwich import sandwich_from_products, score_products
from statsmodels_me.spec.errors import BoundaryWarning, ConvergenceWarning


class DisplayMap:
    """Internal parameters ``x = (beta, ancillary, theta)`` <-> display parameters.

    Display order: fixed effects, the ancillary parameters shown with them (``/cut1``,
    ``/lnalpha``), the covariance structure's rows (variances and covariances), then the
    residual ancillary parameters (gaussian ``var(e.y)``); each ancillary parameter is
    shown through its own transform.

    Parameters
    ----------
    k_fe : int
    ancillary : tuple of AncillaryParameter
        The family's ancillary parameters in internal order.
    cov : CovarianceStructure
        All levels' structures (theta -> display rows).
    """

    def __init__(self, k_fe, ancillary, cov):
        self.k_fe, self.ancillary, self.cov = k_fe, tuple(ancillary), cov
        self.k_aux = len(self.ancillary)
        n_front = sum(not p.residual for p in self.ancillary)
        n_cov = len(cov.display_names)
        # display row of every ancillary parameter
        rows, front, back = [], k_fe, k_fe + n_front + n_cov
        for p in self.ancillary:
            if p.residual:
                rows.append(back)
                back += 1
            else:
                rows.append(front)
                front += 1
        self._aux_rows = np.array(rows, np.intp)
        self._cov_rows = slice(k_fe + n_front, k_fe + n_front + n_cov)
        self.n_display = k_fe + self.k_aux + n_cov

    def _split(self, x):
        k, a = self.k_fe, self.k_aux
        return x[:k], x[k:k + a], x[k + a:]

    def display(self, x):
        beta, aux, theta = self._split(x)
        out = np.empty(self.n_display)
        out[:self.k_fe] = beta
        out[self._aux_rows] = [p.display(v) for p, v in zip(self.ancillary, aux)]
        out[self._cov_rows] = self.cov.display(theta)
        return out

    def jacobian(self, x):
        """d display / d x, shape (n_display, n_internal)."""
        beta, aux, theta = self._split(x)
        k, a = self.k_fe, self.k_aux
        J = np.zeros((self.n_display, len(x)))
        J[:k, :k] = np.eye(k)
        for j, (p, v) in enumerate(zip(self.ancillary, aux)):
            J[self._aux_rows[j], k + j] = p.display_derivative(v)
        J[self._cov_rows, k + a:] = self.cov.display_jacobian(theta)
        return J

    def internal(self, params):
        """Inverse of :meth:`display` (raises ``SpecificationError`` for display values that
        are no covariance matrix of the structure)."""
        params = np.asarray(params, float)
        beta = params[:self.k_fe]
        aux = np.array([p.internal(params[r]) for p, r in zip(self.ancillary, self._aux_rows)],
                       float)
        disp = params[self._cov_rows]
        theta = self.cov.theta_from_display(disp) if self.cov.n_theta else np.zeros(0)
        return np.concatenate([beta, aux, theta])

    def variance_positions(self):
        """Display positions that must stay positive: the variances of the covariance
        structure and the positive ancillary parameters (a residual variance)."""
        start = self._cov_rows.start
        out = [start + i for i, row in enumerate(self.cov.rows) if row.is_variance]
        out += [int(r) for p, r in zip(self.ancillary, self._aux_rows) if p.positive]
        return sorted(out)

    @property
    def ancillary_rows(self):
        """Display positions of the ancillary parameters shown with the fixed effects."""
        return [int(r) for p, r in zip(self.ancillary, self._aux_rows) if not p.residual]

    @property
    def residual_rows(self):
        """Display positions of the residual ancillary parameters."""
        return [int(r) for p, r in zip(self.ancillary, self._aux_rows) if p.residual]

    @property
    def covariance_start(self):
        """Display position of the first covariance-structure row."""
        return self._cov_rows.start


def free_coordinates(x, bounds, exclude=()):
    """Coordinates not at their lower bound (within 1e-6), minus ``exclude``."""
    return [i for i, (lo, _) in enumerate(bounds)
            if not (lo is not None and abs(x[i] - lo) < 1e-6) and i not in exclude]


def boundary_labels(display_map, x, at_bound, names):
    """Display names of the variances that internal coordinates ``at_bound`` (Cholesky
    elements at zero) hold at zero: the ``/var(...)`` rows whose value moves when the
    coordinate moves off its bound (internal and display orders differ: residual ancillary
    parameters come last in the display, a Cholesky element feeds several rows).

    A Cholesky diagonal at zero under a positive variance (the effect is a linear function
    of the effects before it: a correlation of -1 or 1) makes the covariance matrix
    singular, and is labelled so rather than as a variance at zero."""
    values = display_map.display(np.asarray(x, float))
    out = []
    for i in at_bound:
        xp = np.array(x, float)
        xp[i] += 1e-3
        col = display_map.jacobian(xp)[:, i]
        rows = [r for r in np.flatnonzero(col != 0) if r < len(names)]
        var_rows = [r for r in rows if names[r].startswith("/var(")]
        out += [names[r] if values[r] <= 1e-12 else
                f"singular covariance matrix at {names[r]} (a correlation of -1 or 1)"
                for r in var_rows] or [names[r] for r in rows]
    return list(dict.fromkeys(out))


def display_covariance(objective, x, display_map, names, command, diverging=(), H=None):
    """Covariance of the display parameters: the inverse observed information on the free
    coordinates (``H``, or the objective's :meth:`information_hessian` at ``x``), mapped by
    the delta method.

    Parameters at a lower bound (a variance estimated at zero) get no standard error (a
    ``BoundaryWarning`` names them); ``diverging`` fixed effects (quasi-complete separation)
    get NaN.

    Returns
    -------
    cov : ndarray (n_display, n_display)
    free : list of int
        The internal coordinates the Hessian covers.
    H : ndarray
        The Hessian on them.
    """
    free = free_coordinates(x, objective.bounds, diverging)
    if H is None:
        H = objective.information_hessian(x, free)
    try:
        cinv = np.linalg.inv(-H)
        if np.any(np.diag(cinv) < 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cinv = np.linalg.pinv(-H)
        warnings.warn(f"{command}: Hessian is not negative definite at the optimum "
                      "(non-concave region); standard errors are unreliable",
                      ConvergenceWarning, stacklevel=4)
    cov = np.zeros((len(x), len(x)))
    cov[np.ix_(free, free)] = cinv
    at_bound = [i for i in range(len(x)) if i not in free and i not in diverging]
    if at_bound:
        labels = boundary_labels(display_map, x, at_bound, names)
        warnings.warn(f"{command}: variance component estimated at the boundary "
                      f"(zero): {', '.join(labels)}; it is held at zero for the standard "
                      "errors (bse 0, no confidence interval)", BoundaryWarning, stacklevel=4)
    J = display_map.jacobian(x)
    cov = J @ cov @ J.T
    for j in diverging:  # fixed effects: same position on both scales
        cov[j, j] = np.nan
    return cov, free, H


def robust_display_covariance(objective, x, display_map, H, free, groups=None):
    """Cluster-robust covariance of the display parameters: the sandwich with A = -H, the
    observed information on the free coordinates that the model-based covariance uses, and
    the objective's per-cluster scores, mapped by the same delta method.

    Parameters
    ----------
    groups : ndarray, optional
        Cluster-variable group of every row of ``objective.contributions(x)``.

    Returns
    -------
    cov : ndarray (n_display, n_display)
    n_clusters : int
    """
    _, scores = objective.contributions(x)
    B, n_clusters = score_products(scores[:, free], groups)
    return robust_display_from_products(x, display_map, H, free, B, n_clusters), n_clusters


def robust_display_from_products(x, display_map, H, free, products, n_clusters):
    """:func:`robust_display_covariance` from the meat of the sandwich on ``free``
    (:func:`~statsmodels_me.inference.sandwich.score_products`, or its sum over parts of
    the data holding whole clusters) and the number of clusters."""
    cov_free = sandwich_from_products(H, products, n_clusters)
    cov = np.zeros((len(x), len(x)))
    cov[np.ix_(free, free)] = cov_free
    J = display_map.jacobian(x)
    return J @ cov @ J.T
