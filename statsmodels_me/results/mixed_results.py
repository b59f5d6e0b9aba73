"""Results of ``mixed``: the shared results class plus mixed's postestimation."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import mixed_predict
from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.results.re_postestimation import RandomEffectsPostestimation
from statsmodels_me.spec.errors import SpecificationError


class MixedResults(RandomEffectsPostestimation, MEResults):
    """Results of :class:`statsmodels_me.models.mixed.Mixed`.

    Adds ``predict`` (Stata's statistics: ``xb``, ``fitted``, ``reffects``, ``reses``,
    ``residuals``, ``rstandard``, ``stdp``), ``random_effects`` (BLUPs by group) and the
    ``estat_*`` methods.

    Attributes
    ----------
    theta : ndarray
        The relative-covariance parameters at the estimates (the objective's theta).
    """

    def __init__(self, model, params, cov_params, info, theta=None, factor=None):
        super().__init__(model, params, cov_params, info)
        self.theta = theta
        self._factor_value = factor

    def factor(self):
        """The model's blocked factorization at the estimates (built on first use)."""
        if self._factor_value is None:
            self._factor_value = self.model.factor_at(self.theta, float(self.params[-1]))
        return self._factor_value

    def blups(self):
        """Predicted random effects b per term (arrays (G_k, q_k), in ``model.terms``
        order)."""
        return self.model.objective.blups(self.factor())

    def blup_variances(self, fixed_uncertainty=False):
        """Var(b_g | y) per term and group (arrays (G_k, q_k, q_k)); with
        ``fixed_uncertainty`` also the uncertainty of the GLS fixed effects."""
        return self.model.objective.blup_variances(self.factor(), fixed_uncertainty)

    def predict(self, statistic="xb", data=None, **kwargs):
        """Stata's ``predict`` after ``mixed``; see :func:`~.mixed_predict.predict`. With
        ``data=`` on new rows (:meth:`predict_data`)."""
        if data is not None or kwargs:
            return self.predict_data(statistic, data, **kwargs)
        return mixed_predict.predict(self, statistic)

    @property
    def random_effects(self):
        """BLUPs per group: dict ``level -> DataFrame`` (one row per group)."""
        return mixed_predict.random_effects(self)

    def _check_lrtest(self, other):
        a, b = self.model, other.model
        if not hasattr(b, "reml"):
            raise SpecificationError("lrtest: the other results are not from mixed")
        if a.reml != b.reml:
            raise SpecificationError("lrtest: cannot compare an ML fit with a REML fit")
        if a.reml and list(a.design.exog_names) != list(b.design.exog_names):
            raise SpecificationError(
                "lrtest: REML fits with different fixed effects are not comparable; refit "
                "both by ML")


class MixedResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MixedResultsWrapper, MixedResults)
