"""Array input through statsmodels_me.api gives the same fits as the text syntaxes."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import statsmodels_me.api as sme
import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import DataError


def test_mixed_arrays_match_stata_syntax():
    pig = load("pig")
    exog = sm.add_constant(pig[["week"]])
    res = sme.Mixed(pig["weight"], exog, groups=pig["id"]).fit()
    ref = smf.mixed("weight week || id:", data=pig).fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    assert list(res.params.index[:2]) == ["week", "_cons"]
    # and both are Stata's: example 1 of [ME] me prints Log likelihood = -1014.9268
    assert res.llf == pytest.approx(-1014.9268, abs=5e-5)


def test_mixed_arrays_random_slope():
    pig = load("pig")
    exog = sm.add_constant(pig[["week"]])
    res = sme.Mixed(pig["weight"].to_numpy(), exog.to_numpy(), groups=pig["id"].to_numpy(),
                    exog_re=exog.to_numpy()).fit()
    ref = smf.mixed("weight week || id: week, cov(un)", data=pig).fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-9)


def test_melogit_arrays():
    rng = np.random.default_rng(0)
    n = 400
    g = np.repeat(np.arange(40), 10)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x + rng.normal(size=40)[g])))).astype(float)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    res = sme.MELogit(df["y"], sm.add_constant(df[["x"]]), groups=df["g"]).fit()
    ref = smf.melogit("y x || g:", data=df).fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-8)


def test_array_input_needs_groups():
    pig = load("pig")
    with pytest.raises(DataError, match="groups"):
        sme.Mixed(pig["weight"], sm.add_constant(pig[["week"]]))
