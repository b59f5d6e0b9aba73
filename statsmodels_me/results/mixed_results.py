"""Results of ``mixed``: the shared results class plus mixed's postestimation."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import estat, mixed_predict
from statsmodels_me.postestimation.lrtest import lrtest as _lrtest
from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.spec.errors import SpecificationError


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

    def lrtest(self, other, boundary=None):
        """Likelihood-ratio test against another ``mixed`` fit nested in this one (or vice versa).

        Parameters
        ----------
        other : MixedResults
            Fitted on the same estimation sample by the same method.
        boundary : int, optional
            Variances the restricted model sets to zero. By default, the difference in the
            number of random-effects variances between the two models: one gives the
            ``chibar2`` mixture of Self and Liang (1987), more a conservative ``chi2``
            (see :mod:`statsmodels_me.postestimation.lrtest`). Pass 0 for Stata's plain
            ``lrtest`` reference distribution ``chi2(k)``.

        Returns
        -------
        statsmodels_me.postestimation.lrtest.LRTestResult

        Raises
        ------
        SpecificationError
            Different samples, ML against REML, or REML fits with different fixed effects
            (their restricted likelihoods are not comparable).
        """
        a, b = self.model, getattr(other, "model", None)
        if b is None or not hasattr(b, "level_covs"):
            raise SpecificationError("lrtest: the other results are not from mixed")
        if a.design.nobs != b.design.nobs:
            raise SpecificationError(
                f"lrtest: the models were fit on different samples ({a.design.nobs} and "
                f"{b.design.nobs} observations)")
        if a.reml != b.reml:
            raise SpecificationError("lrtest: cannot compare an ML fit with a REML fit")
        if a.reml and list(a.design.exog_names) != list(b.design.exog_names):
            raise SpecificationError(
                "lrtest: REML fits with different fixed effects are not comparable; refit "
                "both by ML")
        if boundary is None:
            def n_var(model):
                return sum(sum(c.display_is_variance) for c in model.level_covs)
            boundary = abs(n_var(a) - n_var(b))
        return _lrtest(self, other, boundary=boundary)

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
