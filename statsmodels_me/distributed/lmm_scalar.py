"""The distributed ``mixed`` deviance of nested scalar random intercepts with its exact
Hessian: the in-memory :class:`~statsmodels_me.objectives.lmm_crossed_scalar.CrossedScalarLMM`
protocol (``work_deviance``, ``deviance_grad_hess``, ``last_step``, ``second_parts``,
``submodel``) on sums over the partitions, so that the fit runs the in-memory log-scale
Newton iteration (:func:`~statsmodels_me.optimization.log_newton.minimize_log_newton`) from
the same sub-model start.

Each partition gives the exact gradient and Hessian of its ``logdet`` (its blocks'
:class:`CrossedScalarLMM`) and the first and second derivatives of its Gram matrix
(:func:`~statsmodels_me.objectives.lmm_pieces.gram_hessian`); the Hessians of r2 and, under
REML, of log|X' V^-1 X| follow on the driver
(:func:`~statsmodels_me.objectives.lmm_pieces.reduced_hessian`).
"""
from __future__ import annotations

import contextlib

import numpy as np

from statsmodels_me.distributed.lmm_objective import SummedLMM
from statsmodels_me.objectives.lmm_pieces import (
    reduce_pieces,
    reduced_gradient,
    reduced_hessian,
)
from statsmodels_me.objectives.lmm_profiled import deviance_grad_hess_from_parts


class SummedScalarLMM(SummedLMM):
    """:class:`SummedLMM` of two or more scalar terms, with the exact Hessian.

    Parameters
    ----------
    terms : list of RETerm
        The model's terms (their theta indices and labels; the driver's template).
    Others as :class:`SummedLMM`.
    """

    exact_hessian = True
    exact_logdet_gradient = True

    def __init__(self, parts, n, p, b0, group_counts, n_theta, reml, bounds,
                 dense_block_size, terms, key=None, rss=None):
        super().__init__(parts, n, p, b0, group_counts, n_theta, reml, bounds, True,
                         dense_block_size, key, rss)
        self.terms = list(terms)
        self.term_sizes = [g * t.q for g, t in zip(self.group_counts, self.terms)]
        # the in-memory objective's order: the largest term first (a stable sort)
        order = sorted(range(len(self.terms)), key=lambda k: -self.term_sizes[k])
        self.first, self.rest = order[0], order[1:]
        self._last = None

    def blas_scope(self):
        return contextlib.nullcontext()

    # -- sub-models (starting values) ---------------------------------------------------------
    def submodel(self, ks):
        """The model of the same data with only the terms ``ks`` (ML, theta renumbered
        0, 1, ... in that order), kept on the workers."""
        ks = [int(k) for k in ks]
        key = ("submodel", self.key, tuple(ks))
        self.parts.map("add_submodel", key, ks)
        counts = [self.group_counts[k] for k in ks]
        sizes = [self.term_sizes[k] for k in ks]
        dense = sum(sizes) - max(sizes)
        bounds = [(0.0, None)] * len(ks)
        if len(ks) == 1:
            return SummedLMM(self.parts, self.n, self.p, self.b0, counts, 1, False, bounds,
                             False, dense, key, self.rss)
        terms = [self.terms[k] for k in ks]
        return SummedScalarLMM(self.parts, self.n, self.p, self.b0, counts, len(ks), False,
                               bounds, dense, terms, key, self.rss)

    # -- exact second derivatives ----------------------------------------------------------
    def hessian_parts(self, theta):
        """``(f, dlogdet, dr2, hlogdet, hr2)`` at ``theta`` (log|S| added to logdet under
        REML), or ``None`` where a relative scale is zero; the last point is remembered."""
        theta = np.asarray(theta, float)
        if self._last is not None and self._last[0] == theta.tobytes():
            return self._last[1]
        got = self._summed(theta, "hessian")
        out = None
        if got is not None:
            logdet, G, dG, dld, d2G, hld = got
            f = reduce_pieces(logdet, G, self.p)
            dr2, dlogdetX = reduced_gradient(f, dG, self.p)
            hr2, hX = reduced_hessian(f, dG, d2G, self.p)
            if self.reml:
                dld, hld = dld + dlogdetX, hld + hX
            out = (f, dld, dr2, 0.5 * (hld + hld.T), hr2)
        self._last = (theta.tobytes(), out)
        return out

    def second_parts(self, theta):
        """Exact Hessians (logdet [+ log|S| for REML], r2) in theta, or ``None``."""
        try:
            out = self.hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        return None if out is None else out[3:]

    def deviance_grad_hess(self, theta, f=None):
        """Deviance, its gradient and its exact Hessian in theta, or ``None``."""
        try:
            out = self.hessian_parts(theta)
        except np.linalg.LinAlgError:
            return None
        return deviance_grad_hess_from_parts(out, self.deviance_from_factor, self.m)

    # -- pieces of the log-scale Newton iteration -------------------------------------------
    def work_deviance(self, theta, need_factor=True):
        """Deviance at ``theta`` (``inf`` where the factor fails); no factor handle: the
        Hessian's evaluation computes its own."""
        return self.deviance(theta), None

    def last_step(self, x, f, g, cand):
        """Take a converged iteration's last (tiny) step from ``x`` to ``cand`` as
        :meth:`CrossedScalarLMM.last_step` does: the gradient at ``cand`` and the Hessian
        parts of ``x`` remembered for it."""
        prev = self.hessian_parts(x) if self._last is not None \
            and self._last[0] == np.asarray(x, float).tobytes() else None
        parts = self.grad_parts(cand)
        if parts is None or prev is None:
            return x, f, g
        fc, r2, dld, dr2 = parts
        if not fc <= f + 1e-13 * abs(f):
            return x, f, g
        fcand = self._centred_factor(cand)
        self._last = (np.asarray(cand, float).tobytes(), (fcand, dld, dr2) + tuple(prev[3:]))
        return cand, fc, dld + (self.m / r2) * dr2
