"""GLMM inference on the display scale: the map from the internal parameters (beta,
ancillary, theta) to Stata's ``e(b)`` and the observed-information covariance by the delta
method."""
from __future__ import annotations

import warnings

import numpy as np

from statsmodels_me.spec.errors import BoundaryWarning, ConvergenceWarning


class DisplayMap:
    """Internal parameters ``x = (beta, ancillary, theta)`` <-> display parameters.

    Display order: fixed effects, ancillary parameters, the covariance structure's rows
    (variances and covariances); with ``gaussian`` the ancillary parameter (log residual
    variance) is shown last as ``var(e)``.

    Parameters
    ----------
    k_fe, k_aux : int
    cov : CovarianceStructure
        All levels' structures (theta -> display rows).
    gaussian : bool
    """

    def __init__(self, k_fe, k_aux, cov, gaussian):
        self.k_fe, self.k_aux, self.cov, self.gaussian = k_fe, k_aux, cov, gaussian
        self.n_display = k_fe + k_aux + len(cov.display_names)

    def _split(self, x):
        k, a = self.k_fe, self.k_aux
        return x[:k], x[k:k + a], x[k + a:]

    def display(self, x):
        beta, aux, theta = self._split(x)
        disp = self.cov.display(theta)
        if self.gaussian:
            return np.concatenate([beta, disp, np.exp(aux)])
        return np.concatenate([beta, aux, disp])

    def jacobian(self, x):
        """d display / d x, shape (n_display, n_internal)."""
        beta, aux, theta = self._split(x)
        k, a = self.k_fe, self.k_aux
        nd = len(self.cov.display_names)
        J = np.zeros((self.n_display, len(x)))
        J[:k, :k] = np.eye(k)
        Jc = self.cov.display_jacobian(theta)
        if self.gaussian:
            J[k:k + nd, k + a:] = Jc
            J[-1, k] = np.exp(aux[0])
        else:
            J[k:k + a, k:k + a] = np.eye(a)
            J[k + a:k + a + nd, k + a:] = Jc
        return J

    def internal(self, params):
        """Inverse of :meth:`display` (raises ``SpecificationError`` for display values that
        are no covariance matrix of the structure)."""
        params = np.asarray(params, float)
        k, a = self.k_fe, self.k_aux
        nd = len(self.cov.display_names)
        beta = params[:k]
        if self.gaussian:
            disp, aux = params[k:k + nd], np.log(params[-1:])
        else:
            aux, disp = params[k:k + a], params[k + a:k + a + nd]
        theta = self.cov.theta_from_display(disp) if self.cov.n_theta else np.zeros(0)
        return np.concatenate([beta, aux, theta])

    def variance_positions(self):
        """Display positions of the variances (the residual variance included)."""
        pos = self.k_fe + (0 if self.gaussian else self.k_aux)
        out = [pos + i for i, row in enumerate(self.cov.rows) if row.is_variance]
        if self.gaussian:
            out.append(self.n_display - 1)
        return out


def free_coordinates(x, bounds, exclude=()):
    """Coordinates not at their lower bound (within 1e-6), minus ``exclude``."""
    return [i for i, (lo, _) in enumerate(bounds)
            if not (lo is not None and abs(x[i] - lo) < 1e-6) and i not in exclude]


def display_covariance(objective, x, display_map, names, command, diverging=(), H=None):
    """Covariance of the display parameters: the inverse observed information on the free
    coordinates (``H``, or the objective's :meth:`information_hessian` at ``x``), mapped by
    the delta method.

    Parameters at a lower bound (a variance estimated at zero) get no standard error (a
    ``BoundaryWarning`` names them); ``diverging`` fixed effects (quasi-complete separation)
    get NaN.
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
        labels = [names[i] for i in at_bound if i < len(names)]
        warnings.warn(f"{command}: variance component estimated at the boundary "
                      f"(zero); its standard error is not reported ({', '.join(labels)})",
                      BoundaryWarning, stacklevel=4)
    J = display_map.jacobian(x)
    cov = J @ cov @ J.T
    for j in diverging:  # fixed effects: same position on both scales
        cov[j, j] = np.nan
    return cov
