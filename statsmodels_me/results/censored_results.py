"""Results of ``metobit``, ``meintreg`` and ``mestreg``: meglm's results with the
commands' own ``predict`` statistics."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import censored_predict, simulate, survival_predict
from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
from statsmodels_me.spec.errors import SpecificationError


class _NewRowsResults(MEGLMResults):
    """``predict_data`` (meglm's prediction on new rows) routed to the commands' own
    ``predict(data=...)``."""

    def predict_data(self, statistic, data, conditional=None, new_groups="zero", outcome=None,
                     nooffset=False):
        """Predictions on new rows (``predict(statistic, data=...)``)."""
        return self.predict(statistic, True if conditional is None else conditional,
                            outcome=outcome, nooffset=nooffset, data=data,
                            new_groups=new_groups)


class CensoredResults(_NewRowsResults):
    """Results of :class:`~statsmodels_me.models.censored.METobit` and
    :class:`~statsmodels_me.models.censored.MEIntreg`."""

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero", bounds=None):
        """Stata's ``predict`` after ``metobit``/``meintreg``: ``mu``, ``xb``, ``eta``,
        ``reffects``, ``reses``, ``pr(a,b)``, ``e(a,b)``, ``ystar(a,b)``; see
        :func:`~statsmodels_me.postestimation.censored_predict.predict`. With ``data=`` on
        new rows (``new_groups``: rows of groups the fit never saw get the fixed portion, or
        an error with ``"error"``); see
        :func:`~statsmodels_me.postestimation.censored_predict.predict_new`."""
        if outcome is not None:
            raise SpecificationError(f"predict: outcome() is not an option after "
                                     f"{self.model.command}")
        if data is not None:
            return censored_predict.predict_new(self, statistic, data, conditional, ebmodes,
                                                nooffset, bounds, new_groups)
        return censored_predict.predict(self, statistic, conditional, ebmodes, nooffset,
                                        bounds)

    def get_prediction(self, statistic=None, data=None, conditional=None, new_groups="zero",
                       outcome=None, nooffset=False):
        """Predictions with standard errors and intervals; see
        :func:`~statsmodels_me.postestimation.censored_predict.get_prediction`."""
        if outcome is not None:
            raise SpecificationError(f"get_prediction: outcome() is not an option after "
                                     f"{self.model.command}")
        return censored_predict.get_prediction(self, statistic, data, conditional,
                                               new_groups, nooffset)


class SurvivalResults(_NewRowsResults):
    """Results of :class:`~statsmodels_me.models.survival.MEStreg`."""

    def predict(self, statistic="mean", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero"):
        """Stata's ``predict`` after ``mestreg``: ``mean``, ``median``, ``survival``,
        ``hazard``, ``density``, ``distribution``, ``xb``, ``eta``, ``reffects``, ``reses``;
        see :func:`~statsmodels_me.postestimation.survival_predict.predict`. With ``data=``
        on new rows (the time-valued statistics at the fitted time variable of ``data``);
        see :func:`~statsmodels_me.postestimation.survival_predict.predict_new`."""
        if outcome is not None:
            raise SpecificationError("predict: outcome() is not an option after mestreg")
        if data is not None:
            return survival_predict.predict_new(self, statistic, data, conditional, ebmodes,
                                                nooffset, new_groups)
        return survival_predict.predict(self, statistic, conditional, ebmodes, nooffset)

    def get_prediction(self, statistic=None, data=None, conditional=None, new_groups="zero",
                       outcome=None, nooffset=False):
        """Predictions with standard errors and intervals; see
        :func:`~statsmodels_me.postestimation.survival_predict.get_prediction`."""
        if outcome is not None:
            raise SpecificationError("get_prediction: outcome() is not an option after "
                                     "mestreg")
        return survival_predict.get_prediction(self, statistic, data, conditional,
                                               new_groups, nooffset)


    def simulate(self, nsim=1, seed=None, censor=False):
        """Event times simulated from the fitted model: uncensored, or with ``censor=True``
        the observed censoring times applied; see
        :func:`statsmodels_me.postestimation.simulate.simulate`."""
        return simulate.simulate(self, nsim, seed, censor)


class CensoredResultsWrapper(MEGLMResultsWrapper):
    pass


class SurvivalResultsWrapper(MEGLMResultsWrapper):
    pass


wrap.populate_wrapper(CensoredResultsWrapper, CensoredResults)
wrap.populate_wrapper(SurvivalResultsWrapper, SurvivalResults)


def rewrap(results, kind):
    """The same fit as the results class of ``kind`` ("censored" or "survival")."""
    inner = getattr(results, "_results", results)
    cls, wrapper = {"censored": (CensoredResults, CensoredResultsWrapper),
                    "survival": (SurvivalResults, SurvivalResultsWrapper)}[kind]
    return wrapper(cls(inner.model, inner.params, inner.normalized_cov_params, inner.info))
