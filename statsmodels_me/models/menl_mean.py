"""The mean function of a ``menl`` model on its estimation sample, with its derivatives."""
from __future__ import annotations

import numpy as np

__all__ = ["MeanFunction"]


class _Env:
    """What the expression nodes read while they evaluate (see ``spec.menl_expr``)."""

    def __init__(self, mean, beta, b, derivatives=True):
        self.mean = mean
        self.beta = beta
        self.b = b
        self.derivatives = derivatives

    def column(self, name):
        return self.mean.columns[name]

    def param_index(self, name):
        return self.mean.param_pos[name]

    def re_index(self, name):
        return self.mean.re_pos[name]

    def re_values(self, a):
        return self.b[self.mean.re_rows[a]]


class MeanFunction:
    """``f(beta, b)`` row by row, with ``df/dbeta`` (n x p) and ``df/db`` (n x q).

    ``b`` is the flat vector of all random effects (all groups of all levels); column ``a``
    of ``df/db`` is the derivative with respect to random effect ``a`` of each row's group.

    Parameters
    ----------
    expr : node
        The expression (``MenlSpec.expr``).
    params : list of str
        Fixed-effects parameter names, in the order of ``beta``.
    re_names : list of str
        Random-effects names, in the order of the columns of ``b``.
    columns : dict of str -> ndarray
        The data variables the expression uses (estimation sample).
    re_rows : list of ndarray of int
        For each random effect, the position of each row's value in the flat vector ``b``
        (``MenlDesign.re_rows``).
    n_re : int
        Length of ``b``.
    """

    def __init__(self, expr, params, re_names, columns, re_rows, n_re):
        self.expr = expr
        self.param_pos = {name: j for j, name in enumerate(params)}
        self.re_pos = {name: a for a, name in enumerate(re_names)}
        self.columns = columns
        self.re_rows = [np.asarray(r) for r in re_rows]
        self.n_re = int(n_re)
        self.n = len(next(iter(columns.values()))) if columns else len(self.re_rows[0])
        self.p = len(params)
        self.q = len(re_names)

    def value(self, beta, b):
        """The mean function only."""
        return self.value_of(self.expr, beta, b)

    def value_of(self, node, beta, b):
        """Value of another expression (a ``define()``) on the same rows."""
        env = _Env(self, np.asarray(beta, float), np.asarray(b, float), derivatives=False)
        with np.errstate(all="ignore"):
            v = node.evaluate(env).v
        return np.broadcast_to(np.asarray(v, dtype=float), (self.n,)).copy()

    def evaluate(self, beta, b):
        """``(f, X, Z)``: values and derivatives with respect to beta and the random effects.

        Non-finite values are returned as they are (no floating-point warnings); callers
        check them.
        """
        return self.evaluate_of(self.expr, beta, b)

    def evaluate_of(self, node, beta, b):
        """``(value, d/dbeta, d/db)`` of another expression (a ``define()``) on the same
        rows."""
        with np.errstate(all="ignore"):
            out = node.evaluate(_Env(self, np.asarray(beta, float), np.asarray(b, float)))
        n = self.n
        f = np.broadcast_to(np.asarray(out.v, dtype=float), (n,)).copy()
        X = np.zeros((n, self.p))
        Z = np.zeros((n, self.q))
        for (kind, j), g in out.d.items():
            (X if kind == "b" else Z)[:, j] = g
        return f, X, Z
