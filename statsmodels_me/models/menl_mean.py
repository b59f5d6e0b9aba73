"""The mean function of a ``menl`` model on its estimation sample, with its derivatives."""
from __future__ import annotations

import numpy as np

__all__ = ["MeanFunction"]


class _Env:
    """What the expression nodes read while they evaluate (see ``spec.menl_expr``)."""

    def __init__(self, mean, beta, b):
        self.mean = mean
        self.beta = beta
        self.b = b

    def column(self, name):
        return self.mean.columns[name]

    def param_index(self, name):
        return self.mean.param_pos[name]

    def re_index(self, name):
        return self.mean.re_pos[name]

    def re_values(self, a):
        return self.b[self.mean.codes, a]


class MeanFunction:
    """``f(beta, b)`` row by row, with ``df/dbeta`` (n x p) and ``df/db`` (n x q).

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
    codes : ndarray of int (n,)
        Group of each row.
    n_groups : int
    """

    def __init__(self, expr, params, re_names, columns, codes, n_groups):
        self.expr = expr
        self.param_pos = {name: j for j, name in enumerate(params)}
        self.re_pos = {name: a for a, name in enumerate(re_names)}
        self.columns = columns
        self.codes = np.asarray(codes)
        self.n_groups = int(n_groups)
        self.n = len(self.codes)
        self.p = len(params)
        self.q = len(re_names)

    def value(self, beta, b):
        """The mean function only."""
        return self._evaluate(beta, b)[0]

    def value_of(self, node, beta, b):
        """Value of another expression (a ``define()``) on the same rows."""
        out = node.evaluate(_Env(self, np.asarray(beta, float), np.asarray(b, float)))
        return np.broadcast_to(np.asarray(out.v, dtype=float), (self.n,)).copy()

    def evaluate(self, beta, b):
        """``(f, X, Z)``: values and derivatives with respect to beta and the random effects."""
        return self._evaluate(beta, b)

    def _evaluate(self, beta, b):
        out = self.expr.evaluate(_Env(self, np.asarray(beta, float), np.asarray(b, float)))
        n = self.n
        f = np.broadcast_to(np.asarray(out.v, dtype=float), (n,)).copy()
        X = np.zeros((n, self.p))
        Z = np.zeros((n, self.q))
        for (kind, j), g in out.d.items():
            (X if kind == "b" else Z)[:, j] = g
        return f, X, Z
