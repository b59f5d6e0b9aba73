"""Results of ``meglm`` and its shortcuts."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import meglm_predict
from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.results.re_postestimation import RandomEffectsPostestimation
from statsmodels_me.spec.errors import SpecificationError


class MEGLMResults(RandomEffectsPostestimation, MEResults):
    """Results of :class:`statsmodels_me.models.meglm.MEGLM` (and the shortcuts).

    Adds ``predict`` (``mu``, ``eta``, ``xb``, ``reffects``, ``reses``, residuals, ordinal
    ``pr``), ``random_effects`` (by group), ``lrtest`` and the ``estat_*`` methods
    (``estat_icc`` on the latent scale for logit/probit).
    """

    fitted_statistic = "mu"

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero"):
        """Stata's ``predict`` after ``meglm``; see :func:`~.meglm_predict.predict`. With
        ``data=`` on new rows (:meth:`predict_data`)."""
        if data is not None:
            return self.predict_data(statistic, data, "ebmodes" if ebmodes else conditional,
                                     new_groups, outcome, nooffset)
        return meglm_predict.predict(self, statistic, conditional, ebmodes, outcome,
                                     nooffset)

    @property
    def random_effects(self):
        """Empirical Bayes means of the random effects (Stata's ``predict, reffects``;
        conditional modes after crossed Laplace fits) labelled by group: a DataFrame indexed
        by the group labels (columns: the random effects) when the model has one
        random-effects term, else a dict ``level -> DataFrame``; see
        :func:`~statsmodels_me.postestimation.random_effects.label_random_effects`."""
        return meglm_predict.random_effects(self)

    def _check_lrtest(self, other):
        a, b = self.model, other.model
        if not hasattr(b, "family"):
            raise SpecificationError("lrtest: the other results are not from meglm")
        if (a.family, a.link) != (b.family, b.link):
            raise SpecificationError(
                f"lrtest: different models for the response ({a.family} {a.link} and "
                f"{b.family} {b.link})")
        if (a.intmethod, a.intpoints) != (b.intmethod, b.intpoints):
            raise SpecificationError(
                f"lrtest: the likelihoods were approximated differently ({a.intmethod} "
                f"{a.intpoints} and {b.intmethod} {b.intpoints} points)")


class MEGLMResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MEGLMResultsWrapper, MEGLMResults)
