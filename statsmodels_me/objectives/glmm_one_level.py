"""The GLMM objective with one grouping level: clusters integrated one by one
(:class:`~statsmodels_me.objectives.glmm_one_level_engine.OneLevelGLMM`: Laplace, mode-curvature and
mean-variance adaptive Gauss-Hermite, plain Gauss-Hermite)."""
from __future__ import annotations

from statsmodels_me.objectives.glmm_base import GLMMObjective
from statsmodels_me.objectives.glmm_levels import level_part
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM


class OneLevelGLMMObjective(GLMMObjective):
    """Log likelihood of a GLMM with one grouping level (any random effects at it).

    Parameters
    ----------
    engine : OneLevelGLMM
    cov : CovarianceStructure
        The level's structure (theta -> its q x q Cholesky factor).
    k_fe : int

    Notes
    -----
    The Laplace optimum is polished by Newton steps: L-BFGS-B stops at a relative decrease
    of 1e-10 (near the optimum it makes slow progress on a log likelihood of large
    magnitude) and Newton steps on the forward-differenced Hessian, which the standard
    errors need anyway, finish it.
    """

    quasi_newton_ftol = 1e-10
    newton_polish = True
    single_threaded_blas = True

    def laplace(self):
        """The Laplace objective on the same data: ``self`` for Laplace, else one built on
        first use and kept (its modes carry over from the starting grid to the Laplace
        stage)."""
        e = self.engine
        if e.intmethod == "laplace":
            return self
        if getattr(self, "_laplace", None) is None:
            lap = OneLevelGLMM(e.endog, e.exog, e.Z, e.sorted_groups, e.family, e.link,
                               trials=e.trials, offset=e.offset, intmethod="laplace",
                               weights=e.weights if e.weights.size else None,
                               group_weights=e.group_weights_rows)
            self._laplace = OneLevelGLMMObjective(lap, self.cov, self.k_fe, self.levels)
        return self._laplace

    def random_effects(self, x, ebmodes=False):
        """Posterior means (or modes) ``(G, q)`` and covariances ``(G, q, q)`` of the random
        effects, clusters in code order."""
        beta, aux, theta = self.split(x)
        L = self.factor(theta)
        fn = self.engine.ebmodes if ebmodes else self.engine.ebmeans
        return [fn(beta, aux, L)]

    def random_effect_parts(self, x, ebmodes=False):
        """Posterior means (modes with ``ebmodes``) and covariances of the level's effects;
        see :meth:`GLMMObjective.random_effect_parts`."""
        [(means, covs)] = self.random_effects(x, ebmodes)
        return [level_part(self.levels[0], means, covs)]
