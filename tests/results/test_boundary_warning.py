"""The BoundaryWarning names the variance held at zero and says what ``bse`` shows.

Data: 20 groups ``id`` of two subgroups ``sub`` each, 5 rows per subgroup, with a subgroup
effect and no group effect, so ``var(_cons[id])`` is estimated at zero. The warning must name
that variance (not the level after it: the internal order of a gaussian GLMM puts the
residual variance before the random-effects parameters) and its wording must agree with the
results: standard error 0, no confidence interval.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.spec.errors import BoundaryWarning


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(3)
    ids, sub = np.repeat(np.arange(20), 10), np.repeat(np.arange(40), 5)
    y = rng.normal(size=200) + rng.normal(size=40)[sub]
    return pd.DataFrame({"y": y, "x": rng.normal(size=200), "id": ids, "sub": sub})


def _fit(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn()
    msgs = [str(w.message) for w in caught if issubclass(w.category, BoundaryWarning)]
    assert len(msgs) == 1, msgs
    return res, msgs[0]


@pytest.mark.parametrize("command", ["mixed", "meglm"])
def test_boundary_warning_names_the_level_and_matches_bse(df, command):
    text = "y x || id: || sub:" + (", family(gaussian)" if command == "meglm" else "")
    res, msg = _fit(lambda: getattr(smf, command)(text, data=df).fit())
    assert res.params["/var(_cons[id])"] == 0 and res.params["/var(_cons[id>sub])"] > 0.5
    assert "id>sub" not in msg
    assert ("/var(_cons[id])" in msg) if command == "meglm" else ("id: var(_cons)" in msg)
    assert "bse 0, no confidence interval" in msg
    assert res.bse["/var(_cons[id])"] == 0
    row = res.vcomp.loc["id: var(_cons)"]
    assert np.isnan(row["ci_lower"]) and np.isnan(row["ci_upper"])
