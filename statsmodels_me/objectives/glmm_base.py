"""What every GLMM objective shares: the internal vector (beta, ancillary, theta), the map
from theta to the random-effects Cholesky factor and its Jacobian, the evaluation cache.

Subclasses (:mod:`.glmm_one_level`, :mod:`.glmm_nested`, :mod:`.glmm_crossed`) bind one
numerical engine and say how their Hessians are differenced.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.optimization.hessian import gradient_hessian, relative_step

# the step rule of every Hessian from differences of the analytic gradient
GRADIENT_STEP = relative_step(1e-5, 1e-1)


class GLMMObjective:
    """Marginal log likelihood of a GLMM in ``x = (beta, ancillary, theta)``.

    Parameters
    ----------
    engine : object
        The numerical engine: ``loglike(beta, aux, L, freeze_grid)``,
        ``loglike_and_grad(beta, aux, L) -> (llf, g_beta, g_aux, g_L)``, ``k_aux``, ``q``.
    cov : CovarianceStructure
        theta -> the engine's (block-diagonal) Cholesky factor ``L``.
    k_fe : int
        Number of fixed effects.
    levels : sequence of Level, optional
        The design's random-effects levels (for :meth:`random_effect_parts`).

    Attributes
    ----------
    n_params, bounds : see :class:`statsmodels_me.objectives.base.Objective`.
    intmethod, intpoints : the integration the engine performs.
    """

    #: the relative-decrease tolerance of L-BFGS-B when a Newton stage follows it
    quasi_newton_ftol = 1e-14
    #: whether a Laplace fit is finished with Newton steps on the differenced Hessian
    newton_polish = False
    #: whether the Laplace optimum is searched by chord Newton rounds (else L-BFGS-B)
    chord_optimizer = False
    #: whether fits should run with single-threaded BLAS (small BLAS calls next to the
    #: kernel's OpenMP threads)
    single_threaded_blas = False

    def __init__(self, engine, cov, k_fe, levels=()):
        self.engine = engine
        self.levels = tuple(levels)
        self.cov = cov
        self.k_fe = int(k_fe)
        self.k_aux = int(engine.k_aux)
        self.n_theta = int(cov.n_theta)
        self.n_params = self.k_fe + self.k_aux + self.n_theta
        self.bounds = [(None, None)] * (self.k_fe + self.k_aux) + list(cov.theta_bounds())
        self._last = None

    @property
    def quadrature(self):
        """Whether the engine integrates by quadrature (else Laplace)."""
        return self.engine.intmethod != "laplace"

    # -- parameter maps ----------------------------------------------------------------
    def split(self, x):
        """``(beta, ancillary, theta)`` views of ``x``."""
        k, a = self.k_fe, self.k_aux
        return x[:k], x[k:k + a], x[k + a:]

    def factor(self, theta):
        """The engine's Cholesky factor ``L`` at ``theta`` (NaN where theta is outside the
        structures' domain)."""
        return self.cov.cholesky(theta)

    def factor_jacobian(self, theta):
        """d vec(L) / d theta, shape (q*q, n_theta), from the covariance structures
        (:meth:`~statsmodels_me.covariance.base.CovarianceStructure.d_cholesky`)."""
        q = self.cov.q
        return self.cov.d_cholesky(theta).reshape(len(theta), q * q).T

    # -- evaluation --------------------------------------------------------------------
    def _cached(self, x):
        last = self._last
        if last is not None and np.array_equal(last[0], x):
            return last[1], last[2]
        return None

    def cached_value_and_grad(self, x):
        """``(value, gradient)`` at ``x`` if that was the last evaluation, else ``None``
        (never an engine pass)."""
        cached = self._cached(np.asarray(x, float))
        return None if cached is None else (cached[0], cached[1].copy())

    def remember(self, x, value, grad):
        """Make ``(value, grad)`` the answer at ``x`` (an evaluation the caller already
        made, e.g. the point a Newton run returned): an engine pass is a fit's unit of cost."""
        self._last = (np.array(x, float, copy=True), value, np.array(grad, float, copy=True))

    def value(self, x):
        """Log likelihood at ``x`` (``-inf`` where theta gives no valid factor)."""
        x = np.asarray(x, float)
        cached = self._cached(x)
        if cached is not None:
            return cached[0]
        beta, aux, theta = self.split(x)
        L = self.factor(theta)
        if not np.all(np.isfinite(L)):
            return -np.inf
        return self.engine.loglike(beta, aux, L)

    def value_and_grad(self, x):
        """Log likelihood and its gradient in ``x`` (the last evaluation is cached)."""
        x = np.asarray(x, float)
        cached = self._cached(x)
        if cached is not None:
            return cached[0], cached[1].copy()
        beta, aux, theta = self.split(x)
        L = self.factor(theta)
        if not np.all(np.isfinite(L)):
            return -np.inf, np.zeros_like(x)
        llf, gb, ga, gL = self.engine.loglike_and_grad(beta, aux, L)
        gt = gL.ravel() @ self.factor_jacobian(theta) if self.n_theta else np.zeros(0)
        grad = np.concatenate([gb, ga, gt])
        self.remember(x, llf, grad)
        return llf, grad

    def hessian(self, x):
        """No exact Hessian: the optimization layer differences the gradient."""
        return None

    def fixed_value_and_grad(self, z):
        """Log likelihood and gradient of the model without random effects (``L = 0``) in
        ``z = (beta, ancillary)``."""
        k, q = self.k_fe, self.cov.q
        llf, gb, ga, _ = self.engine.loglike_and_grad(z[:k], z[k:], np.zeros((q, q)))
        return llf, np.concatenate([gb, ga])

    def reset_warm_start(self):
        """Start the next evaluation's mode searches and adaptive grids cold."""
        self.engine.reset_warm_start()

    def joint_start(self, z_fixed):
        """Starting values of the objective's own (``None``: the estimator's grid)."""
        return None

    # -- Hessians ------------------------------------------------------------------------
    def step_hessian(self, x, free):
        """Hessian on ``free`` for Newton steps: forward differences of the gradient."""
        return gradient_hessian(lambda z: self.value_and_grad(z)[1], x, free, GRADIENT_STEP,
                                forward=True)

    def information_hessian(self, x, free):
        """Hessian on ``free`` for the standard errors (forward differences of the analytic
        gradient: half the engine passes of central ones, within ~1e-5 relative)."""
        return self.step_hessian(x, free)

    def central_hessian(self, x, free):
        """Central differences of the analytic gradient on ``free``."""
        return gradient_hessian(lambda z: self.value_and_grad(z)[1], x, free, GRADIENT_STEP)

    def random_effect_parts(self, x, ebmodes=False):
        """Predicted random effects of every term for ``predict``: a list of ``(codes, Z,
        means, covs, names)`` with ``codes`` (n,) indexing the rows of ``means`` (G, q),
        ``covs`` (G, q, q) the posterior covariances (None where the objective has only
        modes) and ``names`` the columns (``x[level]``)."""
        raise NotImplementedError

    # -- per-cluster pieces ------------------------------------------------------------
    def cluster_order(self, n_clusters):
        """Top-level group code of every row of :meth:`contributions` (code order)."""
        return np.arange(n_clusters)

    def contributions(self, x):
        """Per top-level cluster: log likelihoods ``(G,)`` and scores ``(G, n_params)``.

        Analytic: one engine pass gives every cluster's value and gradient pieces (for the
        quadrature rules the gradient with the adapted grids held fixed, as
        :meth:`value_and_grad`); they sum to :meth:`value` and the gradient.
        """
        x = np.asarray(x, float)
        beta, aux, theta = self.split(x)
        L = self.factor(theta)
        values, gb, ga, gL = self.engine.loglike_and_grad_clusters(beta, aux, L)
        G, q = len(values), self.cov.q
        gt = gL.reshape(G, q * q) @ self.factor_jacobian(theta) if self.n_theta \
            else np.zeros((G, 0))
        return values, np.hstack([gb, ga, gt])
