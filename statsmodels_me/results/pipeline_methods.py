"""Postestimation for pipelines on every results class: thin methods that delegate to
:mod:`statsmodels_me.postestimation` (prediction on new data, margins, linear and nonlinear
combinations, information criteria, simulation, plots)."""
from __future__ import annotations

from statsmodels_me.postestimation import margins, newdata


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
