"""Start values of ``menl`` without initial(): the grid (or coordinate-wise search) and
nonlinear least squares reach the same fit as good user start values."""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


def simulated():
    rng = np.random.default_rng(1)
    n = 400
    g = np.repeat(np.arange(40), 10)
    x1, x2 = rng.uniform(0, 3, n), rng.normal(size=n)
    y = 2 + 0.5 * x2 + rng.normal(0, 0.3, 40)[g] + 1.5 * np.cos(0.8 * x1) \
        + rng.normal(0, 0.2, n)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "id": g})


@pytest.mark.parametrize("text, data, initial", [
    # four free parameters: more grid points than allowed, coordinate-wise search
    ("menl y = {phi1:}+{b1}*cos({b2}*x1), define(phi1: x2 U0[id])", simulated,
     " initial(phi1:x2 0.5 phi1:_cons 2 b1 1.5 b2 0.8)"),
    ("menl circumf = ({b1}+{U1[tree]})/(1+exp(-(age-{b2})/{b3}))", lambda: load("orange"),
     ", initial(b1 190 b2 700 b3 350)"),
])
def test_default_start_reaches_the_fit_from_good_start_values(text, data, initial):
    df = data()
    auto = smf.menl(text, data=df).fit()
    given = smf.menl(text + initial, data=df).fit()
    assert abs(auto.llf - given.llf) <= 1e-9 * abs(given.llf)
    np.testing.assert_allclose(auto.params.to_numpy(), given.params.to_numpy(), rtol=1e-5)
