"""The driver's side of a distributed ``mixed`` fit: the profiled deviance of the whole data
as a map over the partitions kept on the workers
(:class:`~statsmodels_me.distributed.lmm_partition.LMMPartition`) and a reduction
(:mod:`statsmodels_me.objectives.lmm_pieces`).

:class:`SummedLMM` offers what :class:`~statsmodels_me.models.mixed.Mixed` asks of its LMM
objective (deviance, gradient parts, EM moments, the factor summary), so the in-memory fitting
sequence runs unchanged on the driver: EM, the optimizer runs, the polish and the observed
information.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.objectives.lmm_blocked import central_deviance_gradient
from statsmodels_me.objectives.lmm_pieces import (
    assemble_moments,
    reduce_pieces,
    reduced_gradient,
    stencil_gradient,
)
from statsmodels_me.objectives.lmm_profiled import (
    DevianceObjective,
    deviance_from_factor,
    loglike_from_factor,
    residual_dof,
    tri,
)


def _refuse(what):
    raise NotImplementedError(f"mixed: {what} of a fit on a dask DataFrame are not "
                              "implemented")


class SummedLMM(DevianceObjective):
    """The profiled (restricted) deviance of a nested LMM summed over partitions.

    Parameters
    ----------
    parts : PartitionMap
        Over :class:`LMMPartition` objects already centred at ``b0``.
    n, p : int
        Observations and fixed effects of the whole data.
    b0 : ndarray (p,)
        The centring least-squares coefficients.
    group_counts : list of int
        Groups of each term in the whole data (term order).
    n_theta : int
    reml : bool
    bounds : list of (lower, upper)
    analytic_gradient : bool
        As the in-memory objective of the same model
        (:func:`~statsmodels_me.objectives.lmm_chooser.lmm_objective`) has it: the gradient
        from the reduced derivative pieces, else central differences of the deviance (and
        the optimizer and polish that go with each).
    dense_block_size : int
        That of the in-memory objective (random effects outside the largest term).
    key : hashable, optional
        Which of the partitions' models (:meth:`LMMPartition.add_submodel`); ``None`` the
        fitted one.
    rss : float, optional
        ``||y - X b0||^2``.
    """

    #: the partitions give the gradient of logdet itself (scalar terms), not its stencil
    exact_logdet_gradient = False

    exact_hessian = False
    gls_from_kernel = False
    center = None

    def __init__(self, parts, n, p, b0, group_counts, n_theta, reml, bounds,
                 analytic_gradient, dense_block_size, key=None, rss=None):
        self.parts = parts
        self.key = key
        self.rss = rss
        self.n, self.p = n, p
        self.b0 = np.asarray(b0, float)
        self.group_counts = list(group_counts)
        self.n_theta = self.n_params = n_theta
        self.reml = reml
        self.bounds = list(bounds)
        self.analytic_gradient = analytic_gradient
        self.dense_block_size = dense_block_size
        self._cache = {}

    @property
    def m(self):
        """n, or n - p under REML."""
        return residual_dof(self.n, self.p, self.reml)

    # -- reductions --------------------------------------------------------------------------
    def _summed(self, theta, want=None):
        """Summed pieces at ``theta`` (:meth:`LMMPartition.pieces`; the last few kept: the
        optimizer, the polish and the results ask again for points they evaluated);
        ``None`` for a Hessian where a relative scale is zero."""
        theta = np.asarray(theta, float)
        key = (theta.tobytes(), want)
        hit = self._cache.get(key)
        if hit is None and want is None:
            hit = next((v for k, v in self._cache.items() if k[0] == key[0]), None)
        if hit is not None:
            return hit
        out = [o for o in self.parts.map("pieces", theta, want, self.key) if o is not None]
        if any(len(o) == 0 for o in out):
            # a Hessian where some relative scale is zero
            return None
        hit = tuple(sum(o[i] for o in out) for i in range(2))
        if want == "gradient":
            hit += tuple(sum(o[i] for o in out) for i in (2, 3))
        elif want == "hessian":
            hit += tuple(sum(o[i] for o in out) for i in (2, 3, 4, 5))
        elif want == "moments":
            hit += ([tuple(sum(o[2][k][i] for o in out) for i in range(2))
                     for k in range(len(self.group_counts))],)
        if len(self._cache) >= 16:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = hit
        return hit

    def _centred_factor(self, theta):
        logdet, G = self._summed(theta)[:2]
        return reduce_pieces(logdet, G, self.p)

    def factor(self, theta):
        """The whole model's factor summary (``RX``, ``beta``, ``r2``, ``logdet``,
        ``logdetX``) at ``theta``."""
        f = self._centred_factor(theta)
        f["beta"] = f["beta"] + self.b0
        return f

    # -- the objective protocol -----------------------------------------------------------------
    def deviance_from_factor(self, f):
        return deviance_from_factor(f, self.n, self.p, self.reml)

    def deviance(self, theta):
        """-2 x profiled (restricted) log likelihood; ``inf`` where a factor fails."""
        try:
            dev = self.deviance_from_factor(self._centred_factor(theta))
        except np.linalg.LinAlgError:
            return np.inf
        return dev if np.isfinite(dev) else np.inf

    def grad_parts(self, theta):
        """Deviance, r2 and the gradients in theta of the deviance's two parts (log dets,
        r2), or ``None`` where the factor fails."""
        theta = np.asarray(theta, float)
        try:
            logdet, G, dG, at = self._summed(theta, "gradient")
            f = reduce_pieces(logdet, G, self.p)
        except np.linalg.LinAlgError:
            return None
        dev = self.deviance_from_factor(f)
        if not np.isfinite(dev):
            return None
        dr2, dlogdetX = reduced_gradient(f, dG, self.p)
        dld = at if self.exact_logdet_gradient else stencil_gradient(theta, at, logdet)
        if self.reml:
            dld = dld + dlogdetX
        return dev, f["r2"], dld, dr2

    def deviance_and_grad(self, theta):
        """Deviance and its gradient: from :meth:`grad_parts` where
        :attr:`analytic_gradient`, else central differences of the deviance (steps as
        :meth:`BlockedLMM.deviance_and_grad`)."""
        theta = np.asarray(theta, float)
        if self.analytic_gradient:
            parts = self.grad_parts(theta)
            if parts is None:
                return np.inf, np.zeros(self.n_theta)
            dev, r2, dld, dr2 = parts
            return dev, dld + (self.m / r2) * dr2
        return central_deviance_gradient(self.deviance, theta)

    def least_squares_rss(self):
        """Residual sum of squares of the least-squares fit (the centring)."""
        return self.rss

    def gls_summary(self, theta):
        """(deviance, beta, r2, X' V^-1 X) at ``theta``, or ``None`` where the factor
        fails."""
        try:
            f = self.factor(theta)
        except np.linalg.LinAlgError:
            return None
        dev = self.deviance_from_factor(f)
        if not np.isfinite(dev):
            return None
        return dev, f["beta"], f["r2"], f["RX"].T @ f["RX"]

    def sigma2(self, f):
        return f["s2"] if "s2" in f else f["r2"] / self.m

    def cov_beta(self, f):
        RXinv = tri(f["RX"], np.eye(self.p))
        return self.sigma2(f) * (RXinv.T @ RXinv)

    def loglike_profile_s2(self, theta, s2, beta=None):
        """Log likelihood at (theta, s2), beta profiled (or held at ``beta``)."""
        return loglike_from_factor(self.factor(theta), s2, self.n, self.p, self.reml, beta)

    def em_moments(self, theta):
        """Deviance and, per term, E[b b' | y] / s2 averaged over the whole data's groups
        (as :meth:`BlockedLMM.em_moments`)."""
        theta = np.asarray(theta, float)
        try:
            logdet, G, sums = self._summed(theta, "moments")
            f = reduce_pieces(logdet, G, self.p)
        except np.linalg.LinAlgError:
            return np.inf, None
        s2 = self.sigma2(f)
        Sinv = None
        if self.reml:
            RXinv = tri(f["RX"], np.eye(self.p))
            Sinv = RXinv.T @ RXinv
        moms = [assemble_moments(sums[k], f["beta"], s2, Sinv) / (s2 * g)
                for k, g in enumerate(self.group_counts)]
        return self.deviance_from_factor(f), moms

    def blups(self, f):
        _refuse("random-effects predictions")

    def blup_variances(self, f, fixed_uncertainty=False):
        _refuse("random-effects predictions")

    def contributions(self, theta, beta, s2):
        _refuse("per-cluster contributions (vce(robust))")
