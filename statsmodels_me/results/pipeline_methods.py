"""Postestimation for pipelines on every results class: thin methods that delegate to
:mod:`statsmodels_me.postestimation` (prediction on new data, margins, linear and nonlinear
combinations, information criteria, simulation, plots)."""
from __future__ import annotations

from statsmodels_me.postestimation import (
    combinations,
    ic,
    margins,
    newdata,
    plots,
    profile,
    simulate,
)
from statsmodels_me.results.summary_export import summary2_from


class PipelineMethods:
    """Mixin of :class:`~statsmodels_me.results.base.MEResults`; reads only the results'
    public API."""

    def predict_data(self, statistic, data, conditional=None, new_groups="zero", outcome=None,
                     nooffset=False):
        """Predictions on new rows; see :func:`statsmodels_me.postestimation.newdata.predict_new`.

        ``res.predict(statistic, data=new_df, ...)`` calls this."""
        return newdata.predict_new(self, statistic, data, conditional=conditional,
                                   new_groups=new_groups, outcome=outcome, nooffset=nooffset)

    def get_prediction(self, statistic=None, data=None, conditional=None, new_groups="zero",
                       outcome=None, nooffset=False):
        """Predictions with standard errors and intervals (statsmodels' ``PredictionResults``);
        see :func:`statsmodels_me.postestimation.newdata.get_prediction`."""
        return newdata.get_prediction(self, statistic, data, conditional=conditional,
                                      new_groups=new_groups, outcome=outcome,
                                      nooffset=nooffset)

    def margins(self, variables=None, at=None, dydx=None, eyex=None, dyex=None, eydx=None,
                over=None, predict=None, conditional="fixedonly", asbalanced=False, data=None,
                outcome=None, alpha=0.05):
        """Stata's ``margins``; see :func:`statsmodels_me.postestimation.margins.margins`."""
        return margins.margins(self, variables, at=at, dydx=dydx, eyex=eyex, dyex=dyex,
                               eydx=eydx, over=over, predict=predict, conditional=conditional,
                               asbalanced=asbalanced, data=data, outcome=outcome, alpha=alpha)

    def lincom(self, expression, alpha=0.05):
        """Stata's ``lincom``; see :func:`statsmodels_me.postestimation.combinations.lincom`."""
        return combinations.lincom(self, expression, alpha)

    def nlcom(self, expressions, alpha=0.05):
        """Stata's ``nlcom``; see :func:`statsmodels_me.postestimation.combinations.nlcom`."""
        return combinations.nlcom(self, expressions, alpha)

    def testnl(self, hypotheses):
        """Stata's ``testnl``; see :func:`statsmodels_me.postestimation.combinations.testnl`."""
        return combinations.testnl(self, hypotheses)

    def contrast(self, var, alpha=0.05):
        """Stata's ``contrast r.var``; see
        :func:`statsmodels_me.postestimation.combinations.contrast`."""
        return combinations.contrast(self, var, alpha)

    def t_test_pairwise(self, term_name, method="hs", alpha=0.05, factor_labels=None):
        """Pairwise differences of a factor's levels with multiple-testing adjustment; see
        :func:`statsmodels_me.postestimation.combinations.t_test_pairwise`."""
        return combinations.t_test_pairwise(self, term_name, method, alpha, factor_labels)

    def wald_test_terms(self):
        """One joint chi2 test per fixed-effects term; see
        :func:`statsmodels_me.postestimation.combinations.wald_test_terms`."""
        return combinations.wald_test_terms(self)

    def estat_ic(self, n=None):
        """Stata's ``estat ic``; see :func:`statsmodels_me.postestimation.ic.estat_ic`."""
        return ic.estat_ic(self, n)

    def simulate(self, nsim=1, seed=None):
        """Responses simulated from the fitted model; see
        :func:`statsmodels_me.postestimation.simulate.simulate`."""
        return simulate.simulate(self, nsim, seed)

    def bootstrap(self, nboot, statistic=None, seed=None, **fit_kwargs):
        """Parametric bootstrap; see :func:`statsmodels_me.postestimation.simulate.bootstrap`."""
        return simulate.bootstrap(self, nboot, statistic, seed, **fit_kwargs)

    def conf_int(self, alpha=0.05, method="wald"):
        """Confidence intervals: ``method="wald"`` (default) the symmetric normal interval of
        every parameter (statsmodels' ``conf_int``); ``method="profile"`` profile-likelihood
        intervals of the variance components after ``mixed``, one-level and crossed GLMMs (a
        DataFrame, NaN for the other parameters; see
        :func:`statsmodels_me.postestimation.profile.profile_conf_int`)."""
        if method == "profile":
            return profile.profile_conf_int(self, alpha)
        if method != "wald":
            raise ValueError(f"conf_int: method={method!r} is not 'wald' or 'profile'")
        return super().conf_int(alpha=alpha)

    def plot_caterpillar(self, alpha=0.05, effects=None):
        """Caterpillar plot of the predicted random effects (a matplotlib Figure)."""
        return plots.caterpillar_plot(self, alpha, effects)

    def plot_residuals(self):
        """Residuals against fitted values (a matplotlib Figure)."""
        return plots.residual_fitted_plot(self)

    def plot_qq(self, what="residuals"):
        """Normal quantile plot of residuals or random effects (a matplotlib Figure)."""
        return plots.qq_plot(self, what)

    def plot_profile(self, alpha=0.05):
        """Profile against Wald intervals of the variance components (a matplotlib Figure)."""
        return plots.profile_plot(self, alpha)

    def summary2(self, alpha=0.05):
        """The summary as statsmodels' ``iolib.summary2.Summary`` (``as_text``, ``as_html``,
        ``as_latex``); see :mod:`statsmodels_me.results.summary_export`."""
        return summary2_from(self.summary(alpha=alpha))

    def plot_margins(self, *args, **kwargs):
        """``marginsplot``: the intervals of ``self.margins(*args, **kwargs)`` (a Figure)."""
        return plots.margins_plot(self.margins(*args, **kwargs))
