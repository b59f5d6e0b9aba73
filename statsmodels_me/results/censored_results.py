"""Results of ``metobit``, ``meintreg`` and ``mestreg``: meglm's results with the
commands' own ``predict`` statistics."""
from __future__ import annotations

from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import censored_predict, survival_predict
from statsmodels_me.results.meglm_results import MEGLMResults, MEGLMResultsWrapper
from statsmodels_me.spec.errors import SpecificationError


def _refuse_new_data(command, data):
    if data is not None:
        raise NotImplementedError(f"predict(data=...) after {command}: prediction on new "
                                  "data is not implemented for this command")


class CensoredResults(MEGLMResults):
    """Results of :class:`~statsmodels_me.models.censored.METobit` and
    :class:`~statsmodels_me.models.censored.MEIntreg`."""

    def predict(self, statistic="mu", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero", bounds=None):
        """Stata's ``predict`` after ``metobit``/``meintreg``: ``mu``, ``xb``, ``eta``,
        ``reffects``, ``reses``, ``pr(a,b)``, ``e(a,b)``, ``ystar(a,b)``; see
        :func:`~statsmodels_me.postestimation.censored_predict.predict`."""
        _refuse_new_data(self.model.command, data)
        if outcome is not None:
            raise SpecificationError(f"predict: outcome() is not an option after "
                                     f"{self.model.command}")
        return censored_predict.predict(self, statistic, conditional, ebmodes, nooffset,
                                        bounds)


class SurvivalResults(MEGLMResults):
    """Results of :class:`~statsmodels_me.models.survival.MEStreg`."""

    def predict(self, statistic="mean", conditional=True, ebmodes=False, outcome=None,
                nooffset=False, data=None, new_groups="zero"):
        """Stata's ``predict`` after ``mestreg``: ``mean``, ``median``, ``survival``,
        ``hazard``, ``density``, ``distribution``, ``xb``, ``eta``, ``reffects``, ``reses``;
        see :func:`~statsmodels_me.postestimation.survival_predict.predict`."""
        _refuse_new_data("mestreg", data)
        if outcome is not None:
            raise SpecificationError("predict: outcome() is not an option after mestreg")
        return survival_predict.predict(self, statistic, conditional, ebmodes, nooffset)


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
