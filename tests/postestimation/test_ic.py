"""estat ic against R: lme4's logLik/AIC/BIC of the same ML fits (numbers quoted)."""
import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


def test_estat_ic_matches_lme4():
    res = smf.mixed("weight week || id:", data=load("pig")).fit()
    ic = res.estat_ic()
    # R 4.2.2: m <- lmer(weight ~ week + (1 | id), pig, REML = FALSE)
    #   logLik(m) -1014.92679358 (df=4); AIC(m) 2037.85358716; BIC(m) 2054.12728951
    row = ic.loc["."]
    assert row["N"] == 432 and row["df"] == 4 and np.isnan(row["ll0"])
    assert row["ll"] == pytest.approx(-1014.92679358, abs=2e-8)
    assert row["AIC"] == pytest.approx(2037.85358716, abs=5e-8)
    assert row["BIC"] == pytest.approx(2054.12728951, abs=5e-8)
    assert list(ic.columns) == ["N", "ll0", "ll", "df", "AIC", "BIC"]
    small = res.estat_ic(n=48)
    assert small.loc[".", "BIC"] == pytest.approx(2 * 1014.92679358 + 4 * np.log(48), abs=5e-8)


def test_estat_ic_glmm_matches_glmer():
    res = smf.melogit("c_use urban || district:", data=load("bangladesh")).fit()
    # R: glmer(c_use ~ urban + (1 | district), family = binomial, nAGQ = 7)
    #   logLik -1251.4542541 (df=3); Stata's default is 7-point adaptive quadrature
    row = res.estat_ic().loc["."]
    assert row["df"] == 3
    assert row["ll"] == pytest.approx(-1251.4542541, abs=1e-3)
    assert row["AIC"] == pytest.approx(-2 * row["ll"] + 6, rel=1e-14)
