"""Results of ``mixed``: the shared results class plus mixed's postestimation."""
from __future__ import annotations

from functools import cached_property

import numpy as np
from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation import mixed_predict
from statsmodels_me.postestimation.wcorrelation import wcorrelation
from statsmodels_me.results import small_sample_table
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
    small_sample : SmallSampleInference or None
        The ``dfmethod()`` inference: t and F tests of the fixed effects with its df
        (``summary``, ``t_test``, ``wald_test``, ``estat_df``); with ``kroger`` the
        covariance of the fixed effects is Kenward-Roger's adjusted one.
    """

    fitted_statistic = "fitted"

    def __init__(self, model, params, cov_params, info, theta=None, factor=None,
                 small_sample=None):
        super().__init__(model, params, cov_params, info)
        self.theta = theta
        self._factor_value = factor
        self.small_sample = small_sample
        if small_sample is not None:
            self.use_t = True

    # -- small-sample inference -----------------------------------------------------------
    def estat_df(self):
        """Stata's ``estat df``: DataFrame of the fixed effects' df (column ``df``)."""
        if self.small_sample is None:
            raise SpecificationError("estat df: the model was not fitted with dfmethod()")
        return small_sample_table.estat_df_frame(self.small_sample,
                                                 self.param_names[:self.k_fe])

    @cached_property
    def model_ftest(self):
        """With ``dfmethod()``: the F test of every fixed effect but the constant by the
        method, ``(F, ndf, ddf, pvalue)`` (Stata's header replaces the Wald chi2 by it);
        otherwise None."""
        if self.small_sample is None:
            return None
        names = self.param_names[:self.k_fe]
        idx = [i for i, n in enumerate(names) if n != "_cons"]
        if not idx:
            return None
        R = np.zeros((len(idx), len(self.params)))
        R[np.arange(len(idx)), idx] = 1.0
        return self.small_sample.ftest(R[:, :self.k_fe], self.params[:self.k_fe],
                                       np.zeros(len(idx)),
                                       self.normalized_cov_params[:self.k_fe, :self.k_fe])

    def _fixed_block(self):
        k = self.k_fe
        return self.params[:k], self.normalized_cov_params[:k, :k]

    def _rq(self, r_matrix):
        r = self._restriction(r_matrix)
        return (r[0], r[1]) if isinstance(r, tuple) else (r, None)

    def t_test(self, r_matrix, cov_p=None, use_t=None):
        """t tests of linear hypotheses on the fixed effects; with ``dfmethod()`` each row
        has the method's df (Satterthwaite and Kenward-Roger compute them per contrast)."""
        if self.small_sample is None or cov_p is not None or use_t is False:
            return super().t_test(r_matrix, cov_p=cov_p, use_t=use_t)
        R, q = self._rq(r_matrix)
        return small_sample_table.t_test(self.small_sample, *self._fixed_block(), R, q,
                                         self.k_fe)

    def wald_test(self, r_matrix, cov_p=None, invcov=None, use_f=None, df_constraints=None,
                  scalar=True):
        """Joint test of linear hypotheses; with ``dfmethod()`` the F test of the method
        (Kenward-Roger's scaled F, Satterthwaite's F of Fai & Cornelius)."""
        if self.small_sample is None or cov_p is not None or invcov is not None \
                or use_f is False:
            return super().wald_test(r_matrix, cov_p=cov_p, invcov=invcov, use_f=use_f,
                                     df_constraints=df_constraints, scalar=scalar)
        R, q = self._rq(r_matrix)
        return small_sample_table.f_test(self.small_sample, *self._fixed_block(), R, q,
                                         self.k_fe)

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

    def predict(self, statistic="xb", data=None, relevel=None, fixedonly=False, **kwargs):
        """Stata's ``predict`` after ``mixed``; see :func:`~.mixed_predict.predict`
        (``relevel``: Stata's ``relevel(levelvar)``; ``fixedonly``: random effects set to
        zero). With ``data=`` on new rows (:meth:`predict_data`)."""
        if data is not None or kwargs:
            if relevel is not None:
                raise SpecificationError("predict: relevel() is not implemented with data=; "
                                         "predict in the estimation sample")
            if fixedonly:
                if kwargs.get("conditional", "fixedonly") != "fixedonly":
                    raise SpecificationError("predict: fixedonly contradicts conditional=")
                kwargs["conditional"] = "fixedonly"
            return self.predict_data(statistic, data, **kwargs)
        return mixed_predict.predict(self, statistic, relevel=relevel, fixedonly=fixedonly)

    def estat_wcorrelation(self, at=None, covariance=False):
        """Stata's ``estat wcorrelation``: the model-implied within-cluster correlation (or
        ``covariance``) matrix of the response; see
        :func:`~statsmodels_me.postestimation.wcorrelation.wcorrelation`."""
        return wcorrelation(self, at, covariance)

    @property
    def random_effects(self):
        """BLUPs labelled by group: a DataFrame indexed by the group labels (columns: the
        random effects) when the model has one random-effects term, else a dict ``level ->
        DataFrame``; see
        :func:`~statsmodels_me.postestimation.random_effects.label_random_effects`."""
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
        if self.info.vce_note is not None or other.info.vce_note is not None:
            # Stata's lrtest refuses pseudolikelihoods and robust fits: the LR statistic
            # has no chi2 reference distribution there
            raise SpecificationError("lrtest: not valid after sampling weights or "
                                     "vce(robust) (a pseudo-likelihood); use a Wald test")


class MixedResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MixedResultsWrapper, MixedResults)
