"""Within-group error structures of ``menl``: variance functions and correlations.

The errors of group ``g`` have covariance ``s2 Lambda_g`` with ``Lambda_g = G_g C_g G_g``:
``G_g`` the diagonal of the variance function (Pinheiro and Bates 2000, sec. 5.2: varPower,
varConstPower, varFixed, varExp, varIdent) and ``C_g`` the correlation (or, for
``rescovariance(unstructured)``, relative covariance) of :mod:`statsmodels_me.covariance.residual`
(ibid. sec. 5.3: corAR1, corARMA, corCAR1, corCompSymm, corSymm; ``ctar1`` is that module's
``exponential``, toeplitz and banded correlations its ``toeplitz`` and ``banded`` with the
variances held at one). With ``L_g = G_g chol(C_g)`` the
linearized model whitened by ``L_g^-1`` is an LME model with independent errors of variance
``s2`` (ibid. sec. 5.1, eq. 5.5); its log likelihood is that of the whitened model minus
``sum_g log|L_g|``. The structure's parameters are estimated with the covariance parameters in
the LME step; a variance function of ``_yhat`` is held at the fitted values of the
linearization point during each step, so that at convergence it is the fitted values at the
estimates. Correlated errors are grouped within the lowest level of random effects, so the
whitened rows stay in their groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.covariance.residual import ResidualSpec, ResidualStructure
from statsmodels_me.models.menl_lme import ThetaOptimizer
from statsmodels_me.spec.errors import DataError, SpecificationError

__all__ = ["VarianceFunction", "GroupCorrelation", "ResidualLME", "invertible_ma",
           "structure_covariance", "structure_variances"]


class VarianceFunction:
    """``sd(e_ij) / s`` as a function of a covariate (``ResVariance`` of the spec).

    Parameters
    ----------
    spec : ResVariance
    column : ndarray or None
        The covariate (``index()`` variable for distinct); None for ``_yhat``.
    """

    def __init__(self, spec, column=None):
        self.spec = spec
        self.kind = spec.kind
        self.needs_yhat = spec.var == "_yhat"
        self.levels = None
        if self.kind == "distinct":
            codes, levels = pd.factorize(np.asarray(column), sort=True)
            self.codes, self.levels = codes, list(levels)
            if len(levels) < 2:
                raise DataError(f"menl: resvariance(distinct, index({spec.var})): the index "
                                "variable has only one level")
            column = None
        elif column is not None:
            column = np.asarray(column, float)
            if self.kind == "linear" and np.any(column <= 0):
                raise DataError(f"menl: resvariance(linear {spec.var}): the variable must be "
                                "positive (it is the variance's multiplier)")
            if self.kind == "power" and not spec.constant and np.any(column == 0):
                raise DataError(f"menl: resvariance(power {spec.var}, noconstant): the "
                                "variable is zero for some rows, where |v|^delta is 0 or "
                                "infinite")
        self.column = column

    @property
    def n_params(self):
        if self.kind == "distinct":
            return len(self.levels) - 1
        return {"power": 2 if self.spec.constant else 1, "linear": 0, "exponential": 1}[
            self.kind]

    def start(self):
        if self.kind == "power" and self.spec.constant:
            return np.array([0.0, 0.0])
        return np.zeros(self.n_params)

    def bounds(self, v=None):
        """Boxes wide enough for any fit yet keeping the variances finite, so that the
        quasi-Newton line searches of the LME step never meet an infinite deviance."""
        if self.kind == "exponential":
            top = float(np.max(np.abs(self.column if v is None else v)))
            limit = 30.0 / max(top, 1e-300)
            return [(-limit, limit)]
        if self.kind == "power":
            return [(-10.0, 10.0), (0.0, None)][:self.n_params]
        return [(-10.0, 10.0)] * self.n_params

    def names(self):
        if self.kind == "power":
            return ["delta", "_cons"] if self.spec.constant else ["delta"]
        if self.kind == "exponential":
            return ["gamma"]
        if self.kind == "distinct":
            return [f"ratio({self.spec.var}={_label(v)})" for v in self.levels[1:]]
        return []

    def display(self, p):
        """Displayed values: delta and the constant, gamma, or the sd ratios of distinct."""
        return np.exp(p) if self.kind == "distinct" else np.asarray(p, float)

    def sd(self, p, v):
        """Relative standard deviations of the rows at parameters ``p`` (covariate ``v``)."""
        if self.kind == "distinct":
            return np.exp(np.concatenate([[0.0], p]))[self.codes]
        v = self.column if v is None else v
        if self.kind == "linear":
            return np.sqrt(v)
        if self.kind == "exponential":
            return np.exp(p[0] * v)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            g = np.abs(v) ** p[0]
        return g + p[1] if self.spec.constant else g

    def check_yhat(self, yhat):
        if self.kind == "power" and not self.spec.constant and np.any(yhat == 0):
            raise DataError("menl: resvariance(power _yhat, noconstant): a fitted value is "
                            "zero, where the power variance is zero or infinite")


def _label(value):
    try:
        f = float(value)
        return str(int(f)) if f == int(f) else f"{f:g}"
    except (TypeError, ValueError):
        return str(value)


class GroupCorrelation:
    """Correlated errors within groups (``ResCorrelation`` of the spec).

    Parameters
    ----------
    spec : ResCorrelation
    t : ndarray or None
        The ``t()`` / ``index()`` variable (None for exchangeable).
    groups : ndarray of int
        Group of each row (the lowest level of random effects or ``group()``).
    """

    def __init__(self, spec, t, groups):
        self.spec = spec
        n = len(groups)
        kind = spec.kind
        where = f"rescorrelation({kind}{'' if spec.order is None else ' ' + str(spec.order)})"
        self.where = where
        if t is None:
            t = np.zeros(n)
        t = np.asarray(t, float)
        rs_kind = {"ctar1": "exponential"}.get(kind, kind)
        try:
            self.structure = ResidualStructure(ResidualSpec(rs_kind, spec.order, spec.t), t)
        except SpecificationError as exc:
            raise SpecificationError(f"menl: {where}: {exc}") from None
        k = self.structure.n_theta
        n_t = len(self.structure.t_levels)
        if kind in ("unstructured", "banded") and not spec.free_variances:
            # correlations only: the log sd ratios to the first level stay at zero
            self.free = np.arange(n_t - 1, k)
        else:
            self.free = np.arange(k)
        order = np.lexsort((t, groups))
        g_sorted, t_sorted = groups[order], t[order]
        starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
        sizes = np.diff(np.r_[starts, n])
        if kind != "exchangeable":
            dup = (g_sorted[1:] == g_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1])
            if dup.any():
                raise DataError(f"menl: {where}: the variable {spec.t!r} repeats a value "
                                "within a group; each group's values must be distinct")
        self.classes = []
        for s in np.unique(sizes):
            first = starts[sizes == s]
            rows = order[first[:, None] + np.arange(s)[None, :]]
            T = t[rows]
            K = self.structure.t_index[rows] if self.structure.t_index is not None \
                else np.zeros_like(rows)
            self.classes.append((rows, T, K))

    @property
    def n_params(self):
        return len(self.free)

    @property
    def may_be_indefinite(self):
        """Whether some parameter values in the bounds give a correlation matrix that is not
        positive definite (toeplitz, and banded below the full order)."""
        st = self.structure
        return self.spec.kind == "toeplitz" or (
            self.spec.kind == "banded" and st.order < len(st.t_levels) - 1)

    def start(self):
        if self.spec.kind == "ctar1":
            # rho = 0.2, nlme's start for corCAR1 (rho = 0 is logit -inf)
            return np.array([np.log(0.2 / 0.8)])
        return np.zeros(self.n_params)

    def bounds(self):
        """Boxes on the structure's parameters (atanh of correlations within +-5, so the
        line searches of the LME step stay where the correlation matrices are positive
        definite; an exchangeable correlation above -1 / (largest group - 1))."""
        kind = self.spec.kind
        if kind == "exchangeable":
            s = max(rows.shape[1] for rows, _, _ in self.classes)
            low = np.arctanh(-1.0 / (s - 1)) + 1e-3 if s > 1 else -5.0
            return [(low, 5.0)]
        if kind == "ma":
            return [(-10.0, 10.0)] * self.n_params
        if kind == "ctar1":
            # logit(rho): rho per unit of t up to 1 - 2e-9 (t in small units)
            return [(-20.0, 20.0)]
        return [(-5.0, 5.0)] * self.n_params

    def structure_theta(self, p):
        """The :class:`ResidualStructure` parameters at this structure's parameters ``p``."""
        theta = np.zeros(self.structure.n_theta)
        theta[self.free] = p
        return theta

    def factors(self, p):
        """Per size class, ``(rows, inverse Cholesky factors (B, s, s))``, and the total
        ``sum log|chol(C_g)|``.

        Raises
        ------
        numpy.linalg.LinAlgError
            When a correlation matrix is not positive definite.
        """
        theta = self.structure_theta(p)
        out, logdet = [], 0.0
        for rows, T, K in self.classes:
            C = self.structure.core_matrix(theta, T, K)
            L = np.linalg.cholesky(C)
            logdet += float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            out.append((rows, np.linalg.inv(L)))
        return out, logdet

    def names(self):
        names = self.structure.core_names()
        if self.spec.free_variances:
            return names
        if self.spec.kind in ("unstructured", "banded"):
            n_t = len(self.structure.t_levels)
            return [nm.replace("cov(e", "corr(e") for nm in names[n_t:]]
        return names[:-1]

    def display(self, p, s2):
        """Correlations (covariances with ``s2`` for ``rescovariance(unstructured)``)."""
        free = self.spec.free_variances
        vals = self.structure.core_display(self.structure_theta(p), s2 if free else 1.0)
        if free:
            return np.asarray(vals, float)
        if self.spec.kind in ("unstructured", "banded"):
            return np.asarray(vals[len(self.structure.t_levels):], float)
        if self.spec.kind == "ma":
            return invertible_ma(np.asarray(vals[:-1], float))
        return np.asarray(vals[:-1], float)


def invertible_ma(theta):
    """The invertible MA coefficients with the autocorrelations of ``theta``.

    The roots of ``1 + theta_1 z + ... + theta_q z^q`` inside the unit circle are replaced by
    their reciprocal conjugates, which leaves the autocorrelations unchanged (Box, Jenkins and
    Reinsel, Time Series Analysis, sec. 3.1.3); nlme reports the invertible form.
    """
    theta = np.asarray(theta, float)
    if not theta.size or theta[-1] == 0.0:
        return theta
    roots = np.roots(np.concatenate([theta[::-1], [1.0]]))
    if np.all(np.abs(roots) >= 1.0):
        return theta
    roots = np.where(np.abs(roots) < 1.0, 1.0 / np.conj(roots), roots)
    poly = np.real(np.poly(roots))          # leading coefficient 1, constant prod(-roots)
    return (poly / poly[-1])[::-1][1:]


class ResidualLME(ThetaOptimizer):
    """An LME engine (:class:`GroupedLME` or :class:`SparseLME`) with an error structure.

    The parameter vector is the engine's ``theta``, then the variance function's
    parameters, then the correlation's. The whitening adds rounding of about 1e-14 of the
    deviance, so Newton's steps stop once they can gain no more than 1e-13 of it
    (parameters then within about 1e-6 of the optimum in its flattest direction).

    Parameters
    ----------
    inner : engine
    variance : VarianceFunction or None
    correlation : GroupCorrelation or None
    """

    newton_decrement_tol = 1e-13

    def __init__(self, inner, variance=None, correlation=None):
        self.inner = inner
        self.variance = variance
        self.correlation = correlation
        self.reml = inner.reml
        self.k = inner.n_theta
        self.k_var = variance.n_params if variance is not None else 0
        self.k_cor = correlation.n_params if correlation is not None else 0
        self.n_theta = self.k + self.k_var + self.k_cor
        self.current = np.concatenate([
            variance.start() if variance is not None else [],
            correlation.start() if correlation is not None else []])
        self._v = None
        self._raw = None
        self._applied = None
        self._factors = None

    # ------------------------------------------------------------------ parameters
    def theta_start(self):
        return np.concatenate([self.inner.theta_start(), self.current])

    def bounds(self):
        return (self.inner.bounds()
                + (self.variance.bounds(self._v) if self.variance is not None else [])
                + (self.correlation.bounds() if self.correlation is not None else []))

    def factor(self, x):
        return self.inner.factor(x[:self.k])

    def _parts(self, r):
        return r[:self.k_var], r[self.k_var:]

    def _residual_display(self, r, s2):
        pv, pc = self._parts(r)
        out = []
        if self.variance is not None:
            out.append(self.variance.display(pv))
        if self.correlation is not None:
            out.append(self.correlation.display(pc, s2))
        return out

    @property
    def free_variances(self):
        return self.correlation is not None and self.correlation.spec.free_variances

    def display(self, x, s2):
        """The engine's display values (``s2`` last unless ``rescovariance(unstructured)``
        shows the variances itself), then the structure's."""
        inner = self.inner.display(x[:self.k], s2)
        if self.free_variances:
            inner = inner[:-1]
        return np.concatenate([inner, *self._residual_display(x[self.k:], s2)])

    def names(self):
        """Names of the structure's displayed parameters (``/Residual:<name>``)."""
        return ((self.variance.names() if self.variance is not None else [])
                + (self.correlation.names() if self.correlation is not None else []))

    def inference_point(self, x, s2):
        """Where the observed information is taken: the engine's display values (with
        ``s2``) and the structure's own parameters."""
        return np.concatenate([self.inner.display(x[:self.k], s2), x[self.k:]])

    def display_from_inference(self, u):
        m = len(u) - self.k_var - self.k_cor
        inner, s2 = u[:m], u[m - 1]
        if self.free_variances:
            inner = inner[:-1]
        return np.concatenate([inner, *self._residual_display(u[m:], s2)])

    def to_b(self, Lam, u):
        return self.inner.to_b(Lam, u)

    def to_u(self, Lam, b):
        return self.inner.to_u(Lam, b)

    # ------------------------------------------------------------------ data
    def set_covariate(self, yhat):
        if self.variance is not None and self.variance.needs_yhat:
            v = np.asarray(yhat, float)
            self.variance.check_yhat(v)
            self._v = v
            self._applied = None

    def _transform(self, r, A):
        """``L^-1 A`` for the rows of ``A`` (n,) or (n, k) at structure parameters ``r``."""
        pv, pc = self._parts(r)
        A = np.array(A, dtype=float)
        logdet = 0.0
        if self.variance is not None:
            g = self.variance.sd(pv, self._v)
            with np.errstate(divide="ignore", invalid="ignore"):
                A = A / (g[:, None] if A.ndim == 2 else g)
                logdet += float(np.sum(np.log(g)))
        if self.correlation is not None:
            if self._factors is None or not np.array_equal(self._factors[0], pc):
                self._factors = (pc.copy(), *self.correlation.factors(pc))
            factors, ld = self._factors[1], self._factors[2]
            logdet += ld
            for rows, Linv in factors:
                if A.ndim == 2:
                    A[rows] = np.einsum("bij,bjk->bik", Linv, A[rows])
                else:
                    A[rows] = np.einsum("bij,bj->bi", Linv, A[rows])
        return A, logdet

    def whiten(self, r):
        """The residuals ``r`` whitened at the current structure parameters (PNLS)."""
        return self._transform(self.current, r)[0]

    def set_data(self, w, X, Z):
        self._raw = (w, X, Z)
        self._applied = None

    def _apply(self, r):
        r = np.asarray(r, float)
        if self._applied is not None and np.array_equal(self._applied, r):
            return
        w, X, Z = self._raw
        p = X.shape[1]
        A, logdet = self._transform(r, np.column_stack([w, X, Z]))
        if not np.all(np.isfinite(A)) or not np.isfinite(logdet):
            raise np.linalg.LinAlgError("error structure not finite")
        self.inner.set_data(A[:, 0], A[:, 1:1 + p], A[:, 1 + p:])
        self._logdet = logdet
        self._applied = r.copy()

    # ------------------------------------------------------------------ solution
    def solve(self, x, modes=True):
        self._apply(x[self.k:])
        sol = self.inner.solve(x[:self.k], modes)
        sol["deviance"] += 2.0 * self._logdet
        return sol

    def solve_at(self, Lam, modes=True):
        """At the current structure parameters (PNLS steps)."""
        self._apply(self.current)
        sol = self.inner.solve_at(Lam, modes)
        sol["deviance"] += 2.0 * self._logdet
        return sol

    def deviance(self, x):
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                dev = self.solve(x, modes=False)["deviance"]
        except np.linalg.LinAlgError:
            return np.inf
        return dev if np.isfinite(dev) else np.inf

    def search_objective(self, theta0):
        """The deviance, finite where a correlation matrix is not positive definite when the
        structure allows that: L-BFGS-B's line search stops at an infinite value, and a value
        far above the start's sends it back inside."""
        if self.correlation is None or not self.correlation.may_be_indefinite:
            return self.deviance
        outside = self.deviance(theta0) + 1e6

        def objective(x):
            dev = self.deviance(x)
            return dev if np.isfinite(dev) else outside
        return objective

    def fit_theta(self, x0, tol=1e-9, warm=False):
        x = super().fit_theta(x0, tol, warm)
        self.current = np.array(x[self.k:], float)
        return x

    def solve_inference(self, u, modes=True):
        """The engine's :meth:`solve_inference` with the error structure at ``u``'s
        structure parameters (which become the current ones, for the PNLS steps)."""
        m = len(u) - self.k_var - self.k_cor
        self.current = np.array(u[m:], float)
        self._apply(self.current)
        sol = self.inner.solve_inference(u[:m], modes)
        sol["deviance"] += 2.0 * self._logdet
        return sol

    def loglike_display(self, u, beta):
        """Log likelihood at :meth:`inference_point` coordinates."""
        m = len(u) - self.k_var - self.k_cor
        try:
            self._apply(u[m:])
        except np.linalg.LinAlgError:
            return -np.inf
        return self.inner.loglike_display(u[:m], beta) - self._logdet


def _split_params(variance, params_r):
    k = variance.n_params if variance is not None else 0
    params_r = np.asarray(params_r if params_r is not None else [], float)
    return params_r[:k], params_r[k:]


def structure_variances(variance, correlation, params_r, s2, yhat, n):
    """``Var(e_i)`` of every row: ``s2 g_i^2`` times the relative variance of
    ``rescovariance(unstructured)``'s level of the row."""
    pv, pc = _split_params(variance, params_r)
    out = np.full(n, float(s2))
    if variance is not None:
        out = out * variance.sd(pv, yhat if variance.needs_yhat else None) ** 2
    if correlation is not None and correlation.spec.free_variances:
        st = correlation.structure
        out = out * st.variance_ratio(correlation.structure_theta(pc), st.t_index, None)
    return out


def structure_covariance(variance, correlation, params_r, s2, yhat, rows):
    """``s2 Lambda`` over ``rows`` (errors of different groups are uncorrelated)."""
    pv, pc = _split_params(variance, params_r)
    g = np.ones(len(rows))
    if variance is not None:
        g = variance.sd(pv, yhat if variance.needs_yhat else None)[rows]
    C = np.eye(len(rows))
    if correlation is not None:
        theta = correlation.structure_theta(pc)
        pos = {int(r): i for i, r in enumerate(rows)}
        for crow, T, K in correlation.classes:
            inside = np.isin(crow, rows).all(axis=1)
            if not inside.any():
                continue
            Cb = correlation.structure.core_matrix(theta, T[inside], K[inside])
            for block, rr in zip(Cb, crow[inside]):
                idx = [pos[int(r)] for r in rr]
                C[np.ix_(idx, idx)] = block
    return float(s2) * C * np.outer(g, g)
