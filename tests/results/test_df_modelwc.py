"""The parameter count of AIC/BIC is the rank of e(V), as Stata counts it.

An exchangeable covariance has one variance and one covariance, whatever the number of
effects: the display repeats the tied values, and they count once. Reference: R 4.2.2, nlme
3.1 (``pdCompSymm`` is the exchangeable structure: equal variances, equal covariances)::

    m <- lme(weight ~ week, random = list(id = pdCompSymm(~ week)), data = pig,
             method = "ML")
    logLik(m)   # -904.243370113666 (df=5)
    AIC(m)      # 1818.48674022733
    BIC(m)      # 1838.82886816855
"""
import numpy as np

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


def test_exchangeable_counts_tied_parameters_once():
    res = smf.mixed("weight week || id: week, cov(exchangeable)", data=load("pig")).fit()
    assert abs(res.llf - -904.243370113666) < 1e-6
    assert res.df_modelwc == 5
    assert abs(res.aic - 1818.48674022733) < 1e-5
    assert abs(res.bic - 1838.82886816855) < 1e-5
    ic = res.estat_ic()
    assert np.allclose(np.asarray(ic.iloc[0][["AIC", "BIC"]], float),
                       [1818.48674022733, 1838.82886816855], atol=1e-5)


def test_unstructured_counts_every_parameter():
    # R 4.2.2, lme4 1.1.31: m <- lmer(weight ~ week + (week | id), pig, REML = FALSE)
    # logLik(m) -868.961853240983 (df=6); AIC(m) 1749.92370648197
    res = smf.mixed("weight week || id: week, cov(unstructured)", data=load("pig")).fit()
    assert res.df_modelwc == 6
    assert abs(res.aic - 1749.92370648197) < 1e-5
