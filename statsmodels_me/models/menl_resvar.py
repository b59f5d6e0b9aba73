"""Heteroskedastic within-group errors of ``menl``: ``resvariance(power v, noconstant)``.

``Var(e_ij) = s2 |v_ij|^(2 delta)`` with ``v`` a variable or the fitted values ``_yhat``
(Pinheiro and Bates 2000, sec. 5.2.1, ``varPower``). Given ``delta`` and ``v`` the linearized
model is an LME model in the rows scaled by ``w_ij = |v_ij|^-delta``; its log likelihood is
that of the scaled model plus ``sum log w_ij``. ``delta`` is estimated with the covariance
parameters in the LME step; with ``_yhat``, ``v`` is held at the fitted values of the
linearization point (the PNLS estimates) during each step, so that at convergence it is the
fitted values at the estimates.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.models.menl_lme import ThetaOptimizer
from statsmodels_me.spec.errors import DataError

__all__ = ["PowerVarianceLME"]


class PowerVarianceLME(ThetaOptimizer):
    """An LME engine (:class:`GroupedLME` or :class:`SparseLME`) with power-variance weights.

    The parameter vector is the engine's ``theta`` followed by ``delta``.

    Parameters
    ----------
    inner : engine
    column : ndarray or None
        The variance covariate; None for ``_yhat``.
    """

    def __init__(self, inner, column=None):
        self.inner = inner
        self.column = None if column is None else np.abs(np.asarray(column, float))
        self.reml = inner.reml
        self.n_theta = inner.n_theta + 1
        self.delta = 0.0
        self._v = self.column
        self._raw = None
        self._applied = None

    # ------------------------------------------------------------------ parameters
    def theta_start(self):
        return np.concatenate([self.inner.theta_start(), [self.delta]])

    def bounds(self):
        return self.inner.bounds() + [(None, None)]

    def factor(self, x):
        return self.inner.factor(x[:-1])

    def display(self, x, s2):
        return np.concatenate([self.inner.display(x[:-1], s2), [x[-1]]])

    def to_b(self, Lam, u):
        return self.inner.to_b(Lam, u)

    def to_u(self, Lam, b):
        return self.inner.to_u(Lam, b)

    # ------------------------------------------------------------------ data
    def set_covariate(self, yhat):
        if self.column is None:
            v = np.abs(np.asarray(yhat, float))
            if np.any(v == 0):
                raise DataError("menl: resvariance(power _yhat): a fitted value is zero, where "
                                "the power variance is zero or infinite")
            self._v = v
            self._applied = None

    def row_scale(self, delta=None):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return self._v ** -(self.delta if delta is None else delta)

    def set_data(self, w, X, Z):
        self._raw = (w, X, Z)
        self._applied = None

    def _apply(self, delta):
        if self._applied == delta:
            return
        w, X, Z = self._raw
        s = self.row_scale(delta)
        self.inner.set_data(w * s, X * s[:, None], Z * s[:, None])
        self._logw = float(np.sum(np.log(s)))
        self._applied = delta

    # ------------------------------------------------------------------ solution
    def solve(self, x, modes=True):
        self._apply(float(x[-1]))
        sol = self.inner.solve(x[:-1], modes)
        sol["deviance"] -= 2.0 * self._logw
        return sol

    def solve_at(self, Lam, modes=True):
        """At the current ``delta`` (PNLS steps)."""
        self._apply(self.delta)
        sol = self.inner.solve_at(Lam, modes)
        sol["deviance"] -= 2.0 * self._logw
        return sol

    def deviance(self, x):
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                dev = self.solve(x, modes=False)["deviance"]
        except np.linalg.LinAlgError:
            return np.inf
        return dev if np.isfinite(dev) else np.inf

    def fit_theta(self, x0, tol=1e-9, warm=False):
        x = super().fit_theta(x0, tol, warm)
        self.delta = float(x[-1])
        return x

    def loglike_display(self, values, beta):
        self._apply(float(values[-1]))
        return self.inner.loglike_display(values[:-1], beta) + self._logw
