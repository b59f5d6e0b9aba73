"""Residual-error structures of ``mixed``'s ``residuals()`` option.

Each structure gives the within-group covariance of the residuals *relative to* the residual
variance s2 (so s2 is profiled out of the likelihood, as for the random effects): for
observations j, k of one lowest-level group with times t_j, t_k,
``Cov(e_j, e_k) = s2 * C(theta_r)[j, k]``. The unconstrained parameters theta_r map to
Stata's displayed parameters:

=================  ==========================================  ================================
structure          relative covariance C                       theta_r
=================  ==========================================  ================================
independent        I                                           (none)
exchangeable       1 on the diagonal, rho off it               atanh(rho)
ar p               autocorrelations of an AR(p) at lag |dt|    atanh of the partial autocorr.
ma q               autocorrelations of an MA(q) at lag |dt|    theta_1 .. theta_q
exponential        rho^|dt| (t continuous)                     logit(rho)
toeplitz q         rho_|dt| for |dt| <= q, 0 beyond            atanh(rho_1 .. rho_q)
banded q           free variances and correlations within      log sd ratios to the first
                   q t-levels of each other, 0 beyond          t-level, atanh(correlations)
unstructured       banded with q = (number of t-levels) - 1    log sd ratios, atanh of the
                                                               canonical partial correlations
=================  ==========================================  ================================

With ``by(var)`` every level of ``var`` has its own parameters, and the levels after the
first a variance ratio to the first (parameter: log sd ratio), like nlme's ``varIdent``.
The AR(p) autocorrelations come from the partial autocorrelations by the Durbin-Levinson
recursion (Box, Jenkins & Reinsel, Time Series Analysis, sec. 3.2.6); the MA(q) ones are
``sum_i theta_i theta_{i+h} / sum_i theta_i^2`` with theta_0 = 1 (ibid., eq. 3.3.3).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.residual_syntax import structure_order, suboption_variable

KINDS = ("independent", "exchangeable", "ar", "ma", "unstructured", "banded", "toeplitz",
         "exponential")
_ORDERED = ("ar", "ma", "banded", "toeplitz")


@dataclass
class ResidualSpec:
    """A parsed ``residuals()`` option: structure, order and the ``t()``/``by()`` names."""

    kind: str
    order: int | None = None
    tvar: str | None = None
    byvar: str | None = None


def parse_residuals(text):
    """Parse ``residuals(kind [#], t(var) by(var))`` (the option's inside).

    Raises
    ------
    SpecificationError
        An unknown structure, an order missing or below 1, a structure that needs ``t()``
        without it.
    """
    raw = str(text).strip()
    if re.search(r"\bindex\(", raw):
        raise SpecificationError(f"residuals({text}): the index() suboption is not "
                                 f"implemented; give the times in t()")
    opts = {}
    for key in ("t", "by"):
        m = re.search(rf"\b{key}\(\s*([^)]*?)\s*\)", raw)
        if m:
            opts[key] = suboption_variable(m.group(1), key, "residuals()")
            raw = raw[:m.start()] + raw[m.end():]
    head = raw.replace(",", " ").split()
    if not head:
        raise SpecificationError("residuals(): no residual structure given; expected one of "
                                 + ", ".join(KINDS))
    word = head[0].lower()
    kind = next((k for k in KINDS if k.startswith(word) and len(word) >= min(2, len(k))),
                None)
    if word in ("ind", "indep"):
        kind = "independent"
    elif word in ("exc", "exch"):
        kind = "exchangeable"
    elif word in ("un", "uns", "unstr"):
        kind = "unstructured"
    elif word in ("exp", "expo"):
        kind = "exponential"
    if kind is None:
        raise SpecificationError(f"residuals({text}): unknown residual structure '{head[0]}'; "
                                 f"expected one of {', '.join(KINDS)}")
    order = None
    rest = head[1:]
    if kind in _ORDERED:
        if not rest and kind in ("ar", "ma"):
            raise SpecificationError(f"residuals({text}): {kind} needs an order, as in "
                                     f"'{kind} 1'")
        if rest:
            order = structure_order(rest[0], kind, f"residuals({text})")
            rest = rest[1:]
    if rest:
        raise SpecificationError(f"residuals({text}): unexpected '{' '.join(rest)}'")
    if kind in ("ar", "ma", "unstructured", "banded", "toeplitz", "exponential") \
            and "t" not in opts:
        raise SpecificationError(f"residuals({text}): {kind} needs the time variable, as in "
                                 f"'residuals({kind}{' ' + str(order) if order else ''}, "
                                 f"t(time))'")
    return ResidualSpec(kind, order, opts.get("t"), opts.get("by"))


# -- correlation functions ---------------------------------------------------------------

def ar_autocorrelations(pacf, max_lag):
    """Autocorrelations at lags 0..max_lag of the AR(p) with partial autocorrelations
    ``pacf`` (Durbin-Levinson), and the AR coefficients phi."""
    p = len(pacf)
    dtype = np.result_type(pacf, float)
    phi = np.zeros(0, dtype)
    for k in range(p):
        a = pacf[k]
        phi = np.append(phi - a * phi[::-1], a)
    rho = np.zeros(max(max_lag, p) + 1, dtype)
    rho[0] = 1.0
    # Yule-Walker: solve for rho_1..rho_p, then the recursion rho_h = sum phi_i rho_{h-i}
    if p:
        A = np.eye(p, dtype=dtype)
        b = np.zeros(p, dtype)
        for h in range(1, p + 1):
            for i in range(1, p + 1):
                lag = abs(h - i)
                if lag == 0:
                    b[h - 1] += phi[i - 1]
                else:
                    A[h - 1, lag - 1] -= phi[i - 1]
        rho[1:p + 1] = np.linalg.solve(A, b)
        for h in range(p + 1, len(rho)):
            rho[h] = sum(phi[i - 1] * rho[h - i] for i in range(1, p + 1))
    return rho[:max_lag + 1], phi


def ma_autocorrelations(theta, max_lag):
    """Autocorrelations at lags 0..max_lag of the MA(q) with coefficients ``theta``."""
    c = np.concatenate([[1.0], theta])
    q = len(theta)
    rho = np.zeros(max_lag + 1, c.dtype)
    for h in range(min(q, max_lag) + 1):
        rho[h] = c[:len(c) - h] @ c[h:]
    return rho / rho[0]


class ResidualStructure:
    """A residual structure with its parameter map (see the module docstring).

    Parameters
    ----------
    spec : ResidualSpec
    t_values : ndarray (n,) or None
        The ``t()`` variable.
    by_codes : ndarray (n,) int or None
        Codes 0..L-1 of the ``by()`` variable; ``by_levels`` their values.
    """

    def __init__(self, spec, t_values=None, by_codes=None, by_levels=None):
        self.spec = spec
        self.kind = spec.kind
        self.t = None if t_values is None else np.asarray(t_values, dtype=float)
        if self.t is not None and not np.all(np.isfinite(self.t)):
            raise SpecificationError(f"residuals(): t({spec.tvar}) has missing values")
        if self.kind in ("ar", "ma", "toeplitz") and self.t is not None \
                and np.any(self.t != np.round(self.t)):
            raise SpecificationError(f"residuals({self.kind}): t({spec.tvar}) must hold "
                                     f"integers")
        self.t_levels = np.unique(self.t) if self.t is not None else np.zeros(0)
        self.t_index = (np.searchsorted(self.t_levels, self.t) if self.t is not None
                        else None)
        n_t = len(self.t_levels)
        self.order = spec.order
        if self.kind == "unstructured":
            self.order = max(n_t - 1, 0)
        if self.kind == "banded" and self.order is None:
            self.order = max(n_t - 1, 0)
        if self.kind == "banded" and self.order > n_t - 1:
            raise SpecificationError(
                f"residuals(banded {self.order}, t({spec.tvar})): the order {self.order} is "
                f"larger than the number of levels of {spec.tvar} minus one ({n_t - 1})")
        if self.kind == "toeplitz" and self.order is None:
            self.order = max(int(self.t_levels.max() - self.t_levels.min()), 1) \
                if n_t else 1
        self.by_codes = by_codes
        self.by_levels = list(by_levels) if by_levels is not None else [None]
        self.n_by = len(self.by_levels)
        self._pairs = None
        if self.kind in ("banded", "unstructured"):
            self._pairs = [(a, b) for a in range(n_t) for b in range(a + 1, n_t)
                           if b - a <= self.order]
        self.n_core = self._n_core()
        self.n_theta = self.n_core * self.n_by + (self.n_by - 1)

    # -- layout ---------------------------------------------------------------------------
    def _n_core(self):
        k = self.kind
        if k == "independent":
            return 0
        if k in ("exchangeable", "exponential"):
            return 1
        if k in ("ar", "ma", "toeplitz"):
            return self.order
        return (len(self.t_levels) - 1) + len(self._pairs)

    @property
    def label(self):
        """Stata's block title: ``AR(1)``, ``Exchangeable``, ``Toeplitz(2)``, ..."""
        k = self.kind
        base = {"independent": "Independent", "exchangeable": "Exchangeable",
                "unstructured": "Unstructured", "exponential": "Exponential",
                "ar": f"AR({self.order})", "ma": f"MA({self.order})",
                "banded": f"Banded({self.order})",
                "toeplitz": f"Toeplitz({self.order})"}[k]
        if self.spec.byvar:
            base += f", by {self.spec.byvar}"
        return base

    def _t_name(self, i):
        v = self.t_levels[i]
        return str(int(v)) if v == int(v) else f"{v:g}"

    def core_names(self):
        k = self.kind
        if k == "independent":
            return ["var(e)"]
        if k in ("exchangeable", "exponential") or (k == "ar" and self.order == 1):
            return ["rho", "var(e)"]
        if k == "ar":
            return [f"phi{i + 1}" for i in range(self.order)] + ["var(e)"]
        if k == "ma":
            return [f"theta{i + 1}" for i in range(self.order)] + ["var(e)"]
        if k == "toeplitz":
            return [f"rho{i + 1}" for i in range(self.order)] + ["var(e)"]
        tn = [self._t_name(i) for i in range(len(self.t_levels))]
        return ([f"var(e{a})" for a in tn]
                + [f"cov(e{tn[a]},e{tn[b]})" for a, b in self._pairs])

    def display_names(self):
        """Row labels of the displayed parameters, by level of ``by()`` when given."""
        if self.n_by == 1:
            return self.core_names()
        return [f"{lev}: {nm}" for lev in self.by_levels for nm in self.core_names()]

    def theta_start(self):
        return np.zeros(self.n_theta)

    def bounds(self):
        return [(None, None)] * self.n_theta

    # -- the relative covariance ----------------------------------------------------------
    def _split(self, theta_r):
        c = self.n_core
        cores = [theta_r[b * c:(b + 1) * c] for b in range(self.n_by)]
        logr = np.concatenate([[0.0], theta_r[self.n_by * c:]])
        return cores, logr

    def _lag_corr(self, core, max_lag):
        """Correlation at integer lags 0..max_lag."""
        k = self.kind
        if k == "ar":
            return ar_autocorrelations(np.tanh(core), max_lag)[0]
        if k == "ma":
            return ma_autocorrelations(core, max_lag)
        rho = np.zeros(max_lag + 1, np.result_type(core, float))
        rho[0] = 1.0
        r = np.tanh(core)[:max_lag]
        rho[1:1 + len(r)] = r
        return rho

    def _unstructured(self, core):
        """Relative covariance among the t-levels (first variance 1)."""
        n_t = len(self.t_levels)
        sd = np.exp(np.concatenate([[0.0], core[:n_t - 1]]))
        z = np.tanh(core[n_t - 1:])
        if self.order >= n_t - 1:
            # full matrix: z are canonical partial correlations (C-vine; Lewandowski,
            # Kurowicka & Joe 2009, sec. 2.4), so every parameter value gives a positive
            # definite correlation matrix through its Cholesky factor W
            P = np.zeros((n_t, n_t), z.dtype)
            for (a, b), v in zip(self._pairs, z):
                P[b, a] = v
            W = np.zeros((n_t, n_t), z.dtype)
            W[0, 0] = 1.0
            for i in range(1, n_t):
                rest = 1.0
                for j in range(i):
                    W[i, j] = P[i, j] * np.sqrt(rest)
                    rest -= W[i, j] ** 2
                W[i, i] = np.sqrt(rest if np.real(rest) > 0.0 else 0.0 * rest)
            corr = W @ W.T
        else:
            corr = np.eye(n_t, dtype=z.dtype)
            for (a, b), v in zip(self._pairs, z):
                corr[a, b] = corr[b, a] = v
        return corr * np.outer(sd, sd)

    def core_matrix(self, core, T, K):
        """Relative covariance (B, s, s) of one parameter set for rows with times ``T`` and
        t-level indices ``K`` (B, s)."""
        k = self.kind
        s = T.shape[1]
        if k == "independent":
            return np.broadcast_to(np.eye(s), (T.shape[0], s, s)).copy()
        if k == "exchangeable":
            r = np.tanh(core[0])
            out = np.full((T.shape[0], s, s), r)
            idx = np.arange(s)
            out[:, idx, idx] = 1.0
            return out
        dt = np.abs(T[:, :, None] - T[:, None, :])
        if k == "exponential":
            rho = 1.0 / (1.0 + np.exp(-core[0]))
            return rho ** dt
        if k in ("ar", "ma", "toeplitz"):
            lag = dt.astype(np.int64)
            max_lag = int(lag.max()) if lag.size else 0
            rho = self._lag_corr(core, max_lag)
            if k == "toeplitz":
                rho = np.where(np.arange(len(rho)) <= self.order, rho, 0.0)
            return rho[lag]
        M = self._unstructured(core)
        return M[K[:, :, None], K[:, None, :]]

    def relative_cov(self, theta_r, T, K, BY):
        """Relative residual covariance (B, s, s) for rows with times ``T``, t-level indices
        ``K`` and ``by()`` codes ``BY`` (each (B, s)); rows of different lowest-level groups
        are masked by the caller."""
        cores, logr = self._split(np.asarray(theta_r, float))
        if self.n_by == 1:
            return self.core_matrix(cores[0], T, K)
        out = np.zeros(T.shape + (T.shape[1],))
        for b in range(self.n_by):
            M = self.core_matrix(cores[b], T, K) * np.exp(2.0 * logr[b])
            sel = (BY[:, :, None] == b) & (BY[:, None, :] == b)
            out = np.where(sel, M, out)
        return out

    # -- the relative covariance as a table of values ------------------------------------
    # Every entry of C is one of a few values: rho at a lag (ar, ma, toeplitz, exponential),
    # an entry of the t-level matrix (banded, unstructured) or 1 / rho (independent,
    # exchangeable), scaled by the by() level's variance ratio. The objective looks the
    # entries up by key and reduces its gradient over the keys, so the derivative of C is
    # never formed entry by entry.
    @property
    def integer_keys(self):
        """Whether :meth:`pair_keys` are small non-negative integers (all but
        ``exponential``, whose keys are time differences)."""
        return self.kind != "exponential"

    def pair_keys(self, T, K):
        """Key (B, s, s) of each pair of rows of one group: the off-diagonal flag
        (independent, exchangeable), |t_j - t_k| (ar, ma, toeplitz, exponential) or the
        t-level pair K_j n_t + K_k (banded, unstructured)."""
        k = self.kind
        s = T.shape[1]
        if k in ("independent", "exchangeable"):
            return np.broadcast_to(1.0 - np.eye(s), T.shape + (s,)).copy()
        if k in ("ar", "ma", "toeplitz", "exponential"):
            return np.abs(T[:, :, None] - T[:, None, :])
        n_t = len(self.t_levels)
        return (K[:, :, None] * n_t + K[:, None, :]).astype(float)

    def _core_at_keys(self, core, keys):
        k = self.kind
        dtype = np.result_type(core, float)
        if k == "independent":
            return np.where(keys == 0, 1.0, 0.0).astype(dtype)
        if k == "exchangeable":
            return np.where(keys == 0, 1.0, np.tanh(core[0]) * np.ones(len(keys)))
        if k == "exponential":
            return (1.0 / (1.0 + np.exp(-core[0]))) ** keys
        idx = keys.astype(np.int64)
        if k in ("ar", "ma", "toeplitz"):
            rho = self._lag_corr(core, int(idx.max()) if idx.size else 0)
            if k == "toeplitz":
                rho = np.where(np.arange(len(rho)) <= self.order, rho, 0.0)
            return rho[idx]
        return self._unstructured(core).ravel()[idx]

    def key_table(self, theta_r, keys):
        """Relative covariance (n_by, U) at the keys ``keys`` (U,) for each ``by()`` level
        (its variance ratio included)."""
        cores, logr = self._split(np.asarray(theta_r))
        return np.stack([self._core_at_keys(cores[b], keys) * np.exp(2.0 * logr[b])
                         for b in range(self.n_by)])

    def key_jacobian(self, theta_r, keys):
        """d key_table / d theta_r, (n_theta, n_by, U), by complex-step differentiation
        (Squire & Trapp 1998, SIAM Review 40: Im f(x + ih) / h), exact to rounding."""
        theta_r = np.asarray(theta_r, float)
        h = 1e-30
        out = np.empty((self.n_theta, self.n_by, len(keys)))
        for i in range(self.n_theta):
            z = theta_r.astype(complex)
            z[i] += 1j * h
            out[i] = np.imag(self.key_table(z, keys)) / h
        return out

    def variance_ratio(self, theta_r, K, BY):
        """Var(e_j) / s2 for rows with t-level indices ``K`` and ``by()`` codes ``BY``."""
        cores, logr = self._split(np.asarray(theta_r, float))
        out = np.ones(K.shape)
        for b in range(self.n_by):
            v = np.exp(2.0 * logr[b])
            if self.kind in ("banded", "unstructured"):
                v = v * np.diag(self._unstructured(cores[b]))[K]
            out = np.where(BY == b, v, out) if self.n_by > 1 else out * v
        return out

    # -- display --------------------------------------------------------------------------
    def core_display(self, core, scale):
        k = self.kind
        if k == "independent":
            return [scale]
        if k == "exchangeable":
            return [np.tanh(core[0]), scale]
        if k == "exponential":
            return [1.0 / (1.0 + np.exp(-core[0])), scale]
        if k == "ar":
            if self.order == 1:
                return [np.tanh(core[0]), scale]
            return list(ar_autocorrelations(np.tanh(core), self.order)[1]) + [scale]
        if k == "ma":
            return list(core) + [scale]
        if k == "toeplitz":
            return list(np.tanh(core)) + [scale]
        M = self._unstructured(core) * scale
        return list(np.diag(M)) + [M[a, b] for a, b in self._pairs]

    def display(self, theta_r, s2):
        """Stata's displayed residual parameters at (theta_r, s2)."""
        cores, logr = self._split(np.asarray(theta_r, float))
        out = []
        for b in range(self.n_by):
            out += self.core_display(cores[b], s2 * np.exp(2.0 * logr[b]))
        return np.asarray(out, dtype=float)


def residual_structure(spec, design):
    """The :class:`ResidualStructure` of a parsed ``residuals()`` option on ``design``'s
    rows (``design.residual_vars`` holds the ``t()`` and ``by()`` variables)."""
    t = design.residual_vars.get("t") if spec.tvar else None
    by_codes = by_levels = None
    if spec.byvar:
        by = np.asarray(design.residual_vars["by"])
        by_levels, by_codes = np.unique(by, return_inverse=True)
        by_levels = [str(v) for v in by_levels]
    return ResidualStructure(spec, t, by_codes, by_levels)
