"""Results of ``mixed``: the shared results class plus mixed's postestimation."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import estat, mixed_predict
from statsmodels_me.results.base import MEResults, MEResultsWrapper


class MixedResults(MEResults):
    """Results of :class:`statsmodels_me.models.mixed.Mixed`.

    Adds ``predict`` (Stata's statistics: ``xb``, ``fitted``, ``reffects``, ``reses``,
    ``residuals``, ``rstandard``, ``stdp``), ``random_effects`` (BLUPs by group) and the
    ``estat_*`` methods.
    """

    def predict(self, statistic="xb"):
        """Stata's ``predict`` after ``mixed``; see :func:`~.mixed_predict.predict`."""
        return mixed_predict.predict(self, statistic)

    @property
    def random_effects(self):
        """BLUPs per group: dict ``level -> DataFrame`` (one row per group)."""
        return mixed_predict.random_effects(self)

    def estat_icc(self, alpha=0.05):
        return estat.estat_icc(self, alpha)

    def estat_sd(self, alpha=0.05):
        return estat.estat_sd(self, alpha)

    def estat_group(self):
        return estat.estat_group(self)

    def estat_recovariance(self):
        return estat.estat_recovariance(self)


class MixedResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MixedResultsWrapper, MixedResults)
