"""The interface shared by all random-effects covariance structures.

A structure maps a free parameter vector ``theta`` to the covariance matrix ``Sigma`` of the
random effects of one equation (or, for :class:`~.blocked.BlockDiagonal`, of one level), and
``Sigma`` to Stata's display parameters (``var(week)``, ``cov(week,_cons)``, ...).

Every display parameter is one element ``Sigma[i, j]`` (times ``scale``), so ``display`` and
``display_jacobian`` are implemented once here from ``matrix`` and ``d_matrix``; a structure
only declares which elements it displays (:attr:`rows`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statsmodels_me.covariance._cholesky import psd_cholesky
from statsmodels_me.spec.errors import SpecificationError


@dataclass(frozen=True)
class DisplayRow:
    """One displayed variance component: ``scale * Sigma[i, j]``.

    Attributes
    ----------
    label : str
        Row label without the level (``var(week)``, ``cov(week,_cons)``, ``var(x _cons)``).
    name : str
        Stata ``e(b)`` name (``/var(week[id])``, ``/cov(week[id],_cons[id])``).
    i, j : int
        Position in ``Sigma`` (``i == j`` for variances).
    """

    label: str
    name: str
    i: int
    j: int

    @property
    def is_variance(self) -> bool:
        return self.i == self.j


def var_row(label_name: str, level_label: str, i: int) -> DisplayRow:
    """Row for the variance of ``label_name`` (also used for ``var(x _cons)`` and ``var(R.id)``)."""
    return DisplayRow(f"var({label_name})", f"/var({label_name}[{level_label}])", i, i)


def cov_row(a: str, b: str, level_label: str, i: int, j: int) -> DisplayRow:
    """Row for the covariance of random effects ``a`` (index i) and ``b`` (index j)."""
    return DisplayRow(f"cov({a},{b})", f"/cov({a}[{level_label}],{b}[{level_label}])", i, j)


def full_rows(names: list[str], level_label: str) -> list[DisplayRow]:
    """Every variance in ``names`` order, then every covariance (i < j, row-major)."""
    q = len(names)
    rows = [var_row(n, level_label, i) for i, n in enumerate(names)]
    rows += [cov_row(names[i], names[j], level_label, i, j)
             for i in range(q) for j in range(i + 1, q)]
    return rows


def cholesky_derivative(L, dS, fallback):
    """``L Phi(L^-1 dS_k L^-T)`` for each k (see :meth:`CovarianceStructure.d_cholesky`);
    ``fallback()`` where ``L`` is singular or not finite."""
    q = L.shape[0]
    diag = np.diag(L) if q else np.ones(0)
    if not np.all(np.isfinite(L)) or np.any(diag <= 1e-12 * max(np.abs(diag).max(), 1e-300)):
        return fallback()
    out = np.empty((dS.shape[0], q, q))
    for k in range(dS.shape[0]):
        A = np.linalg.solve(L, np.linalg.solve(L, dS[k]).T)     # L^-1 dS L^-T (symmetric)
        phi = np.tril(A)
        phi[np.diag_indices(q)] *= 0.5
        out[k] = L @ phi
    return out


def cholesky_differences(cholesky, theta, h=1e-5):
    """``d cholesky / d theta`` by central differences, one-sided where ``theta - h`` or
    ``theta + h`` leaves the domain (the factor is not finite there)."""
    theta = np.asarray(theta, dtype=float).ravel()
    L0 = cholesky(theta)
    out = np.empty((len(theta),) + L0.shape)
    for i in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        lp, lm = cholesky(tp), cholesky(tm)
        if not np.all(np.isfinite(lm)):
            out[i] = (lp - L0) / h
        elif not np.all(np.isfinite(lp)):
            out[i] = (L0 - lm) / h
        else:
            out[i] = (lp - lm) / (2 * h)
    return out


class CovarianceStructure:
    """Base class: a parameter map ``theta -> Sigma`` plus Stata's display conventions.

    Subclasses set :attr:`kind_label`, :attr:`rows` and implement ``n_theta``,
    ``theta_bounds``, ``cholesky``, ``matrix``, ``d_matrix``, ``theta_start`` and
    ``_theta_from_sigma``.

    Attributes
    ----------
    names : list of str
        Random-effect names (``["week", "_cons"]``, ``["R.id"]``).
    level_label : str
        ``"id"``, ``"school>class"``, ``"_all"``.
    q : int
        Random effects per group (number of factor levels for ``R.`` blocks).
    rows : list of DisplayRow
        The displayed elements of ``Sigma``, in display order.
    """

    kind_label: str = ""

    def __init__(self, names: list[str], level_label: str, q: int | None = None):
        self.names = list(names)
        self.level_label = level_label
        self.q = len(self.names) if q is None else int(q)
        self.rows: list[DisplayRow] = []

    # ------------------------------------------------------------------ parameters
    @property
    def n_theta(self) -> int:
        raise NotImplementedError

    def theta_bounds(self) -> list[tuple]:
        """Box bounds for L-BFGS-B, one ``(lower, upper)`` per element of theta."""
        raise NotImplementedError

    def theta_start(self, sigma=None) -> np.ndarray:
        """Starting theta from an optional q x q guess (default: the identity matrix)."""
        raise NotImplementedError

    @property
    def theta_is_variance(self) -> list[bool]:
        """Whether each theta element is a boundary (variance-type) parameter, lower bound 0.

        Used to count the variances a likelihood-ratio test restricts to zero.
        """
        return [lo is not None and lo == 0 for lo, _ in self.theta_bounds()]

    # ------------------------------------------------------------------ matrices
    def cholesky(self, theta) -> np.ndarray:
        """Lower-triangular ``L`` (q x q) with ``L L' = Sigma``; valid on the boundary."""
        raise NotImplementedError

    def matrix(self, theta) -> np.ndarray:
        """``Sigma`` (q x q)."""
        raise NotImplementedError

    def d_matrix(self, theta) -> np.ndarray:
        """``dSigma / dtheta_k`` stacked, shape ``(n_theta, q, q)``."""
        raise NotImplementedError

    def d_cholesky(self, theta) -> np.ndarray:
        """``dL / dtheta_k`` stacked, shape ``(n_theta, q, q)``, for ``L = cholesky(theta)``.

        From :meth:`d_matrix` by the derivative of the Cholesky factorization,
        ``dL = L Phi(L^-1 dSigma L^-T)`` with ``Phi`` the lower triangle with its diagonal
        halved (Murray 2016, "Differentiation of the Cholesky decomposition",
        arXiv:1602.07527, eq. 10). Where ``L`` is singular (a boundary of the parameter
        space, where the derivative need not exist) the one-sided derivative is taken by
        differences into the parameter space (:func:`cholesky_differences`).
        """
        L = self.cholesky(theta)
        return cholesky_derivative(L, self.d_matrix(theta), lambda: cholesky_differences(
            self.cholesky, theta))

    # ------------------------------------------------------------------ display
    @property
    def n_display(self) -> int:
        return len(self.rows)

    @property
    def display_labels(self) -> list[str]:
        """Row labels without the level: ``var(week)``, ``cov(week,_cons)``."""
        return [r.label for r in self.rows]

    @property
    def display_names(self) -> list[str]:
        """Stata ``e(b)`` names: ``/var(week[id])``, ``/cov(week[id],_cons[id])``."""
        return [r.name for r in self.rows]

    @property
    def vcomp_labels(self) -> list[str]:
        """``level: label`` as in the random-effects table (``id: var(week)``)."""
        return [f"{self.level_label}: {r.label}" for r in self.rows]

    @property
    def display_is_variance(self) -> list[bool]:
        """True for variance rows (log-scale CIs), False for covariances (normal CIs)."""
        return [r.is_variance for r in self.rows]

    def _row_index(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([r.i for r in self.rows], dtype=np.intp),
                np.array([r.j for r in self.rows], dtype=np.intp))

    def display(self, theta, scale: float = 1.0) -> np.ndarray:
        """Displayed variances then covariances, times ``scale``."""
        i, j = self._row_index()
        return scale * self.matrix(theta)[i, j]

    def display_jacobian(self, theta, scale: float = 1.0) -> np.ndarray:
        """``d display / d theta``, shape ``(n_display, n_theta)``."""
        i, j = self._row_index()
        return scale * self.d_matrix(theta)[:, i, j].T

    def theta_from_display(self, values, scale: float = 1.0) -> np.ndarray:
        """Inverse of :meth:`display`: theta whose displayed values are ``values``.

        Raises
        ------
        SpecificationError
            When the values do not form a covariance matrix of this structure that is
            positive semidefinite.
        """
        values = np.asarray(values, dtype=float).ravel()
        if values.size != self.n_display:
            raise SpecificationError(
                f"expected {self.n_display} values for {self.vcomp_labels}, got {values.size}")
        sigma = np.zeros((self.q, self.q))
        for r, v in zip(self.rows, values, strict=True):
            sigma[r.i, r.j] = sigma[r.j, r.i] = v / scale
        return self._theta_from_sigma(sigma)

    def _theta_from_sigma(self, sigma: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _check_psd_factor(L: np.ndarray, what: str) -> np.ndarray:
        if not np.all(np.isfinite(L)):
            raise SpecificationError(f"{what} is not a positive semidefinite covariance matrix")
        return L

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(names={self.names!r}, level_label={self.level_label!r}, "
                f"q={self.q}, n_theta={self.n_theta})")


__all__ = ["CovarianceStructure", "DisplayRow", "psd_cholesky", "full_rows", "var_row",
           "cov_row", "cholesky_derivative", "cholesky_differences"]
