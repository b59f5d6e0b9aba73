"""Results of ``meglm`` and its shortcuts."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import estat, meglm_predict
from statsmodels_me.results.base import MEResults, MEResultsWrapper


class MEGLMResults(MEResults):
    """Results of :class:`statsmodels_me.models.meglm.MEGLM` (and the shortcuts).

    Adds ``predict`` (``mu``, ``eta``, ``xb``, ``reffects``, ``reses``, residuals, ordinal
    ``pr``) and the ``estat_*`` methods (``estat_icc`` on the latent scale for logit/probit).
    """

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None):
        """Stata's ``predict`` after ``meglm``; see :func:`~.meglm_predict.predict`."""
        return meglm_predict.predict(self, statistic, conditional, ebmodes, outcome)

    def estat_icc(self, alpha=0.05):
        return estat.estat_icc(self, alpha)

    def estat_sd(self, alpha=0.05):
        return estat.estat_sd(self, alpha)

    def estat_group(self):
        return estat.estat_group(self)

    def estat_recovariance(self):
        return estat.estat_recovariance(self)


class MEGLMResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MEGLMResultsWrapper, MEGLMResults)
