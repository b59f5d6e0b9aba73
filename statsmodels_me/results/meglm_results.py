"""Results of ``meglm`` and its shortcuts."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import estat, meglm_predict
from statsmodels_me.postestimation.lrtest import lrtest as _lrtest
from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.spec.errors import SpecificationError


class MEGLMResults(MEResults):
    """Results of :class:`statsmodels_me.models.meglm.MEGLM` (and the shortcuts).

    Adds ``predict`` (``mu``, ``eta``, ``xb``, ``reffects``, ``reses``, residuals, ordinal
    ``pr``), ``lrtest`` and the ``estat_*`` methods (``estat_icc`` on the latent scale for
    logit/probit).
    """

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False):
        """Stata's ``predict`` after ``meglm``; see :func:`~.meglm_predict.predict`."""
        return meglm_predict.predict(self, statistic, conditional, ebmodes, outcome,
                                     nooffset)

    def lrtest(self, other, boundary=None):
        """Likelihood-ratio test against another ``meglm`` fit nested in this one (or vice
        versa).

        Parameters
        ----------
        other : MEGLMResults
            Fitted on the same estimation sample, with the same family, link and
            integration method.
        boundary : int, optional
            Variances the restricted model sets to zero. By default the difference in the
            number of random-effects variances of the two models: one gives the ``chibar2``
            mixture of Self and Liang (1987), more a conservative ``chi2`` (see
            :mod:`statsmodels_me.postestimation.lrtest`). Pass 0 for Stata's plain
            ``lrtest`` reference distribution ``chi2(k)``.

        Returns
        -------
        statsmodels_me.postestimation.lrtest.LRTestResult

        Raises
        ------
        SpecificationError
            The other results are not from a GLMM, or were fit on a different sample, to a
            different family or link, or by a different integration method.
        """
        a, b = self.model, getattr(other, "model", None)
        if b is None or not hasattr(b, "family") or not hasattr(b, "level_covs"):
            raise SpecificationError("lrtest: the other results are not from meglm")
        if a.design.nobs != b.design.nobs:
            raise SpecificationError(
                f"lrtest: the models were fit on different samples ({a.design.nobs} and "
                f"{b.design.nobs} observations)")
        if (a.family, a.link) != (b.family, b.link):
            raise SpecificationError(
                f"lrtest: different models for the response ({a.family} {a.link} and "
                f"{b.family} {b.link})")
        if (a.intmethod, a.intpoints) != (b.intmethod, b.intpoints):
            raise SpecificationError(
                f"lrtest: the likelihoods were approximated differently ({a.intmethod} "
                f"{a.intpoints} and {b.intmethod} {b.intpoints} points)")
        if boundary is None:
            def n_var(model):
                return sum(sum(c.display_is_variance) for c in model.level_covs)
            boundary = abs(n_var(a) - n_var(b))
        return _lrtest(self, other, boundary=boundary)

    def estat_icc(self, alpha=0.05):
        """Intraclass correlation (latent scale for logit and probit)."""
        return estat.estat_icc(self, alpha)

    def estat_sd(self, alpha=0.05):
        """Variance components as standard deviations and correlations."""
        return estat.estat_sd(self, alpha)

    def estat_group(self):
        """Observations per group."""
        return estat.estat_group(self)

    def estat_recovariance(self):
        """Estimated random-effects covariance matrix."""
        return estat.estat_recovariance(self)


class MEGLMResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MEGLMResultsWrapper, MEGLMResults)
