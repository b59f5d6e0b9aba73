"""The GLMM objective with nested grouping levels: each top-level cluster integrated by the
nested engine (:class:`~statsmodels_me.objectives.glmm_nested_engine.NestedGLMM`: joint
Laplace or nested adaptive quadrature)."""
from __future__ import annotations

import numpy as np

from statsmodels_me.objectives.glmm_base import GLMMObjective
from statsmodels_me.objectives.glmm_levels import level_part
from statsmodels_me.objectives.glmm_nested_engine import NestedGLMM
from statsmodels_me.optimization.hessian import relative_step, value_hessian

# second differences of the quadrature log likelihood (grids frozen)
_VALUE_STEP = relative_step(1e-3, 0.1)


class NestedGLMMObjective(GLMMObjective):
    """Log likelihood of a GLMM with nested levels; theta is every level's structure
    parameters (outermost first) and ``L`` is block diagonal.

    Parameters
    ----------
    engine : NestedGLMM
    cov : BlockDiagonal
        The levels' structures side by side (``across_levels=True``).
    k_fe : int
    """

    def laplace(self):
        """A new Laplace objective on the same data (also for Laplace fits): its mode
        searches start cold, away from wherever this objective was last evaluated."""
        e = self.engine
        lap = NestedGLMM(e.endog, e.exog, e.Zs, [e.gidx[:, k] for k in range(e.D)], e.family,
                         e.link, trials=e.trials, offset=e.offset, intmethod="laplace",
                         weights=e.weights if e.weights.size else None,
                         level_weights=e.level_weight_rows())
        lap.nthreads = e.nthreads
        return NestedGLMMObjective(lap, self.cov, self.k_fe, self.levels)

    def step_hessian(self, x, free):
        """Central differences of the analytic gradient."""
        return self.central_hessian(x, free)

    def information_hessian(self, x, free):
        """Laplace: central differences of the exact gradient.  Quadrature: second
        differences of the log likelihood with the grids adapted at ``x`` and then frozen
        (one smooth function; steps 1e-3 max(|x_i|, 0.1)), so the grids do not move between
        the differenced points."""
        eng = self.engine
        if eng.intmethod == "laplace":
            return self.central_hessian(x, free)

        def f(z, freeze=True):
            beta, aux, theta = self.split(z)
            return eng.loglike(beta, aux, self.factor(theta), freeze_grid=freeze)
        f0 = f(x, freeze=False)  # adapt the grids at x
        return value_hessian(f, x, free, _VALUE_STEP, f0=f0)

    def cluster_order(self, n_clusters):
        """Top-level group code of every row of :meth:`contributions` (the engine's
        order)."""
        return np.asarray(self.engine.group_codes(0))

    def random_effects(self, x, ebmodes=False):
        """Per level, outermost first: posterior means (or modes) ``(G_k, q_k)`` and
        covariances ``(G_k, q_k, q_k)``, groups in the engine's order
        (``engine.group_codes(k)``)."""
        beta, aux, theta = self.split(x)
        L = self.factor(theta)
        eng = self.engine
        fn = eng.ebmodes_levels if ebmodes else eng.ebmeans_levels
        return fn(beta, aux, L)

    def random_effect_parts(self, x, ebmodes=False):
        """Every level's posterior means (modes with ``ebmodes``) and covariances, groups
        in code order; see :meth:`GLMMObjective.random_effect_parts`."""
        out = []
        for k, (lev, (m, c)) in enumerate(zip(self.levels, self.random_effects(x, ebmodes))):
            order = self.engine.group_codes(k)
            means, covs = np.empty_like(m), np.empty_like(c)
            means[order], covs[order] = m, c
            out.append(level_part(lev, means, covs))
        return out
