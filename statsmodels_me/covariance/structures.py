"""The covariance structures of one random-effects equation (Stata's ``covariance()``).

Parameterizations (``theta``), shared by the linear mixed model (where ``Sigma`` is relative to
the residual variance, as lme4's theta) and by GLMM quadrature (absolute scale):

* :class:`Identity` -- one standard deviation, ``Sigma = s^2 I``;
* :class:`Independent` -- one standard deviation per effect, ``Sigma = diag(s)^2``;
* :class:`Exchangeable` -- ``(s, rho)``, ``Sigma = s^2 ((1 - rho) I + rho 11')``;
* :class:`Unstructured` -- the lower triangle of the Cholesky factor, column-major (lme4);
* :class:`Pattern` / :class:`Fixed` -- elements of ``Sigma`` directly (linear structures).
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.covariance._cholesky import psd_cholesky
from statsmodels_me.covariance.base import (
    CovarianceStructure,
    cholesky_derivative,
    cholesky_differences,
    cov_row,
    full_rows,
    var_row,
)
from statsmodels_me.spec.errors import SpecificationError


def _as_theta(theta, n: int) -> np.ndarray:
    theta = np.asarray(theta, dtype=float).ravel()
    if theta.size != n:
        raise SpecificationError(f"expected {n} covariance parameters, got {theta.size}")
    return theta


class Identity(CovarianceStructure):
    """``Sigma = s^2 I_q``; theta = ``(s,)``.

    Displays one row: ``var(_cons)`` for a single effect, ``var(x _cons)`` for several
    (space-joined), ``var(R.id)`` for an ``R.`` block (whose ``q`` is the number of levels).
    The ``e(b)`` name follows the same rule: ``/var(x _cons[id])``, ``/var(R.id[_all])``.
    """

    kind_label = "Identity"

    def __init__(self, names, level_label, q=None):
        super().__init__(names, level_label, q)
        self.rows = [var_row(" ".join(self.names), level_label, 0)]

    @property
    def n_theta(self) -> int:
        return 1

    def theta_bounds(self):
        return [(0.0, None)]

    def theta_start(self, sigma=None):
        if sigma is None:
            return np.ones(1)
        return np.array([np.sqrt(max(float(np.mean(np.diag(sigma))), 0.0))])

    def cholesky(self, theta):
        s = _as_theta(theta, 1)[0]
        return s * np.eye(self.q)

    def matrix(self, theta):
        s = _as_theta(theta, 1)[0]
        return s * s * np.eye(self.q)

    def d_matrix(self, theta):
        s = _as_theta(theta, 1)[0]
        return (2.0 * s * np.eye(self.q))[None]

    def d_cholesky(self, theta):
        _as_theta(theta, 1)
        return np.eye(self.q)[None]

    def _theta_from_sigma(self, sigma):
        v = sigma[0, 0]
        if v < 0:
            raise SpecificationError(f"negative variance {v} for {self.vcomp_labels[0]}")
        return np.array([np.sqrt(v)])


class Independent(CovarianceStructure):
    """``Sigma = diag(s_1^2, ..., s_q^2)``; theta = the standard deviations (bounded >= 0)."""

    kind_label = "Independent"

    def __init__(self, names, level_label, q=None):
        super().__init__(names, level_label, q)
        self.rows = [var_row(n, level_label, i) for i, n in enumerate(self.names)]

    @property
    def n_theta(self) -> int:
        return self.q

    def theta_bounds(self):
        return [(0.0, None)] * self.q

    def theta_start(self, sigma=None):
        if sigma is None:
            return np.ones(self.q)
        return np.sqrt(np.clip(np.diag(sigma), 0.0, None))

    def cholesky(self, theta):
        return np.diag(_as_theta(theta, self.q))

    def matrix(self, theta):
        return np.diag(_as_theta(theta, self.q) ** 2)

    def d_matrix(self, theta):
        theta = _as_theta(theta, self.q)
        out = np.zeros((self.q, self.q, self.q))
        k = np.arange(self.q)
        out[k, k, k] = 2.0 * theta
        return out

    def d_cholesky(self, theta):
        _as_theta(theta, self.q)
        out = np.zeros((self.q, self.q, self.q))
        k = np.arange(self.q)
        out[k, k, k] = 1.0
        return out

    def _theta_from_sigma(self, sigma):
        d = np.diag(sigma)
        if np.any(d < 0):
            raise SpecificationError(f"negative variance in {self.vcomp_labels}: {d}")
        return np.sqrt(d)


class Exchangeable(CovarianceStructure):
    """Equal variances and equal covariances: ``Sigma = s^2 ((1 - rho) I + rho 11')``.

    theta = ``(s, rho)`` with ``s >= 0`` and ``-1/(q-1) <= rho <= 1`` (the closed range on
    which ``Sigma`` is positive semidefinite); for ``q == 1`` theta = ``(s,)``. The Cholesky
    factor is computed in closed form (every column below the diagonal is constant), so it
    exists for every theta within the bounds, including both ends of the rho range.
    Displays every variance and every covariance (Stata's ``meglm`` layout).
    ``theta_from_display`` uses the mean variance and mean covariance, so values that are not
    exactly exchangeable are projected onto the structure.
    """

    kind_label = "Exchangeable"

    def __init__(self, names, level_label, q=None):
        super().__init__(names, level_label, q)
        self.rows = full_rows(self.names, level_label)

    @property
    def n_theta(self) -> int:
        return 1 if self.q == 1 else 2

    def _rho_bounds(self):
        return (-1.0 / (self.q - 1), 1.0)

    def theta_bounds(self):
        if self.q == 1:
            return [(0.0, None)]
        return [(0.0, None), self._rho_bounds()]

    def _split(self, theta):
        theta = _as_theta(theta, self.n_theta)
        return theta[0], (theta[1] if self.q > 1 else 0.0)

    def theta_start(self, sigma=None):
        if sigma is None:
            return np.ones(1) if self.q == 1 else np.array([1.0, 0.0])
        return self._project(np.asarray(sigma, dtype=float), strict=False)

    def _project(self, sigma, strict):
        """(s, rho) from the mean variance and mean covariance of ``sigma``.

        ``strict`` (inverse of ``display``) raises for values that are not a PSD exchangeable
        matrix; otherwise (starting values) they are clipped, and rho is kept off the
        singular ends of its range.
        """
        q = self.q
        v = float(np.mean(np.diag(sigma)))
        c = float((sigma.sum() - np.trace(sigma)) / (q * (q - 1))) if q > 1 else 0.0
        if strict and (v < 0 or (v == 0 and c != 0)):
            raise SpecificationError(
                f"variance {v} and covariance {c} are not a positive semidefinite "
                f"exchangeable matrix for {self.vcomp_labels}")
        s = np.sqrt(max(v, 0.0))
        if q == 1:
            return np.array([s])
        lo, hi = self._rho_bounds()
        rho = c / v if v > 0 else 0.0
        if strict:
            if not lo - 1e-12 <= rho <= hi + 1e-12:
                raise SpecificationError(
                    f"correlation {rho} outside [{lo}, {hi}] for {self.vcomp_labels}")
            return np.array([s, min(max(rho, lo), hi)])
        margin = 0.05 * (hi - lo)
        return np.array([s, min(max(rho, lo + margin), hi - margin)])

    def _corr(self, rho):
        q = self.q
        return (1.0 - rho) * np.eye(q) + rho * np.ones((q, q))

    def cholesky(self, theta):
        s, rho = self._split(theta)
        q = self.q
        a = 1.0 - rho
        L = np.zeros((q, q))
        # Cholesky of a I + rho 11': with t_j = rho - sum_{k<j} c_k^2,
        # L_jj = sqrt(a + t_j), c_j = t_j / L_jj, and t_{j+1} = a t_j / (a + t_j).
        t = rho
        for j in range(q):
            d = max(a + t, 0.0)
            L[j, j] = np.sqrt(d)
            if d > 0.0:
                L[j + 1:, j] = t / L[j, j]
                t = a * t / d
            else:
                t = 0.0
        return s * L

    def matrix(self, theta):
        s, rho = self._split(theta)
        return s * s * self._corr(rho)

    def d_matrix(self, theta):
        s, rho = self._split(theta)
        q = self.q
        d_s = 2.0 * s * self._corr(rho)
        if q == 1:
            return d_s[None]
        d_rho = s * s * (np.ones((q, q)) - np.eye(q))
        return np.stack([d_s, d_rho])

    def d_cholesky(self, theta):
        """L = s L0(rho): dL/ds = L0, dL/drho = s dL0/drho (the Cholesky derivative of the
        correlation matrix, see :meth:`CovarianceStructure.d_cholesky`)."""
        s, rho = self._split(theta)
        L0 = self.cholesky(np.array([1.0, rho]) if self.q > 1 else np.ones(1))
        if self.q == 1:
            return L0[None]
        ones = np.ones((self.q, self.q)) - np.eye(self.q)
        d_rho = cholesky_derivative(L0, ones[None], lambda: cholesky_differences(
            lambda r: self.cholesky(np.array([1.0, r[0]])), np.array([rho])))[0]
        return np.stack([L0, s * d_rho])

    def _theta_from_sigma(self, sigma):
        return self._project(sigma, strict=True)


class Unstructured(CovarianceStructure):
    """Any positive semidefinite ``Sigma``; theta = lower triangle of its Cholesky factor.

    Elements are taken column-major (``L[0,0], L[1,0], ..., L[q-1,0], L[1,1], ...``) as in
    lme4 (Bates et al. 2015, J. Stat. Softw. 67(1), sec. 3.1); diagonal elements are bounded
    below by 0, the others are free.
    """

    kind_label = "Unstructured"

    def __init__(self, names, level_label, q=None):
        super().__init__(names, level_label, q)
        self.rows = full_rows(self.names, level_label)
        cols, rws = [], []
        for j in range(self.q):
            for i in range(j, self.q):
                rws.append(i)
                cols.append(j)
        self._li = np.array(rws, dtype=np.intp)
        self._lj = np.array(cols, dtype=np.intp)

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    @property
    def lower_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) in L of each theta element, column-major over the lower triangle."""
        return self._li.copy(), self._lj.copy()

    def theta_bounds(self):
        return [(0.0, None) if i == j else (None, None)
                for i, j in zip(self._li, self._lj, strict=True)]

    def theta_start(self, sigma=None):
        if sigma is None:
            return self.cholesky_to_theta(np.eye(self.q))
        sigma = np.asarray(sigma, dtype=float)
        L = psd_cholesky(sigma + 1e-8 * max(float(np.max(np.diag(sigma))), 1e-8) * np.eye(self.q))
        if not np.all(np.isfinite(L)):
            L = np.diag(np.sqrt(np.clip(np.diag(sigma), 0.0, None)))
        return self.cholesky_to_theta(L)

    def cholesky_to_theta(self, L) -> np.ndarray:
        """theta from a lower-triangular factor."""
        return np.asarray(L, dtype=float)[self._li, self._lj].copy()

    def cholesky(self, theta):
        theta = _as_theta(theta, self.n_theta)
        L = np.zeros((self.q, self.q))
        L[self._li, self._lj] = theta
        return L

    def matrix(self, theta):
        L = self.cholesky(theta)
        return L @ L.T

    def d_matrix(self, theta):
        # d(L L')/dL_ij = E_ij L' + L E_ji: row i of the result gets L[:, j]', column i gets L[:, j]
        L = self.cholesky(theta)
        out = np.zeros((self.n_theta, self.q, self.q))
        for k, (i, j) in enumerate(zip(self._li, self._lj, strict=True)):
            out[k, i, :] += L[:, j]
            out[k, :, i] += L[:, j]
        return out

    def d_cholesky(self, theta):
        _as_theta(theta, self.n_theta)
        out = np.zeros((self.n_theta, self.q, self.q))
        out[np.arange(self.n_theta), self._li, self._lj] = 1.0
        return out

    def _theta_from_sigma(self, sigma):
        L = self._check_psd_factor(psd_cholesky(sigma), f"{self.vcomp_labels}")
        return self.cholesky_to_theta(L)


class _Linear(CovarianceStructure):
    """``Sigma = C + sum_k theta_k A_k`` with symmetric 0/1 indicator matrices ``A_k``.

    ``theta_k`` is directly the value of the ``Sigma`` elements it occupies. A parameter
    occupying a diagonal element is a variance (bounded below by 0); one occupying only
    off-diagonal elements is free. ``cholesky`` returns a matrix of NaN when ``Sigma`` is not
    positive semidefinite, so an optimizer sees a bad point rather than an exception.
    """

    def __init__(self, names, level_label, const, positions):
        super().__init__(names, level_label)
        self._const = np.asarray(const, dtype=float)
        self._positions = positions            # list (per theta) of lists of (i, j), i >= j
        q = self.q
        self._A = np.zeros((len(positions), q, q))
        for k, pos in enumerate(positions):
            for i, j in pos:
                self._A[k, i, j] = self._A[k, j, i] = 1.0

    @property
    def n_theta(self) -> int:
        return len(self._positions)

    def theta_bounds(self):
        return [(0.0, None) if any(i == j for i, j in pos) else (None, None)
                for pos in self._positions]

    def theta_start(self, sigma=None):
        sigma = np.eye(self.q) if sigma is None else np.asarray(sigma, dtype=float)
        return np.array([np.mean([sigma[i, j] for i, j in pos]) for pos in self._positions])

    def matrix(self, theta):
        theta = _as_theta(theta, self.n_theta)
        return self._const + np.tensordot(theta, self._A, axes=1) if self.n_theta else \
            self._const.copy()

    def cholesky(self, theta):
        return psd_cholesky(self.matrix(theta))

    def d_matrix(self, theta):
        _as_theta(theta, self.n_theta)
        return self._A.copy()

    def _theta_from_sigma(self, sigma):
        theta = np.array([sigma[pos[0]] for pos in self._positions])
        self._check_psd_factor(self.cholesky(theta), f"{self.vcomp_labels}")
        return theta


def _check_square(M, q, what, names):
    M = np.asarray(M, dtype=float)
    if M.shape != (q, q):
        raise SpecificationError(
            f"{what} matrix must be {q} x {q} for random effects {' '.join(names)}; "
            f"got shape {M.shape}")
    return M


class Pattern(_Linear):
    """Stata's ``covariance(pattern(M))``.

    Elements of the lower triangle of ``M`` holding the same number share one parameter; a
    missing element is a free parameter of its own. theta holds the distinct values in order
    of first appearance, scanning the lower triangle column-major. Every variance and
    covariance is displayed.
    """

    kind_label = "Pattern"

    def __init__(self, names, level_label, M):
        q = len(names)
        M = _check_square(M, q, "pattern()", names)
        keys: dict = {}
        positions: list[list[tuple[int, int]]] = []
        for j in range(q):
            for i in range(j, q):
                v = M[i, j]
                if np.isnan(v):
                    positions.append([(i, j)])
                    continue
                if v not in keys:
                    keys[v] = len(positions)
                    positions.append([])
                positions[keys[v]].append((i, j))
        super().__init__(names, level_label, np.zeros((q, q)), positions)
        self.rows = full_rows(self.names, level_label)


class Fixed(_Linear):
    """Stata's ``covariance(fixed(M))``: ``Sigma = M``.

    Missing elements of ``M`` (lower triangle) are free parameters, taken column-major;
    with no missing element ``n_theta == 0``. Displays every variance and the covariances
    that are not fixed at zero (Stata shows only ``var(1.trial)`` ... for a diagonal ``M``);
    fixed rows have zero Jacobian rows.

    The fixed values are on the scale of :meth:`matrix`; ``display(theta, scale)`` multiplies
    them by ``scale`` like every other element, so a model that parameterizes ``Sigma``
    relative to a residual variance must pass ``M`` divided by that variance.
    """

    kind_label = "Fixed"

    def __init__(self, names, level_label, M):
        q = len(names)
        M = _check_square(M, q, "fixed()", names)
        lower = np.tril(M)
        const = np.where(np.isnan(lower), 0.0, lower)
        const = const + np.tril(const, -1).T
        positions = [[(i, j)] for j in range(q) for i in range(j, q) if np.isnan(M[i, j])]
        super().__init__(names, level_label, const, positions)
        free = {p[0] for p in positions}
        self.rows = [var_row(n, level_label, i) for i, n in enumerate(self.names)]
        self.rows += [cov_row(self.names[i], self.names[j], level_label, i, j)
                      for i in range(q) for j in range(i + 1, q)
                      if (j, i) in free or const[i, j] != 0.0]

    def theta_from_display(self, values, scale: float = 1.0):
        values = np.asarray(values, dtype=float).ravel()
        if values.size != self.n_display:
            raise SpecificationError(
                f"expected {self.n_display} values for {self.vcomp_labels}, got {values.size}")
        sigma = self._const.copy()
        for r, v in zip(self.rows, values, strict=True):
            sigma[r.i, r.j] = sigma[r.j, r.i] = v / scale
        return self._theta_from_sigma(sigma)
