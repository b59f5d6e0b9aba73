"""Columns omitted because of collinearity are reported as Stata reports them.

``mixed weight week w2 || id:`` with ``w2 = 2 week + 1`` (Stata: "note: w2 omitted because of
collinearity", ``o.w2`` in e(b) with 0 and an ``(omitted)`` row): a CollinearityWarning, the
note and the row in ``summary()``, ``o.w2`` = 0 with a NaN standard error in ``params_eb`` /
``bse_eb``, and estimates equal to those of the model without the collinear column (the
independent reference: the same command fitted without ``w2``).
"""
import numpy as np
import pytest
from statsmodels.tools.sm_exceptions import CollinearityWarning

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


def _check(res, ref, name, omitted_name):
    text = str(res.summary())
    assert f"note: {name} omitted because of collinearity." in text
    assert f"note: {name} omitted because of collinearity." in res.summary().as_html()
    row = next(line for line in text.splitlines() if line.strip().startswith(f"{name} |"))
    assert "(omitted)" in row
    eb, se = res.params_eb, res.bse_eb
    assert eb.index.name == "e(b)" and omitted_name in eb.index
    assert eb[omitted_name] == 0 and np.isnan(se[omitted_name])
    assert omitted_name not in res.params.index and name not in res.params.index
    # every estimated parameter equals the fit without the collinear column
    np.testing.assert_allclose(res.params[ref.params.index], ref.params, rtol=1e-7)
    np.testing.assert_allclose(eb.drop(omitted_name)[ref.params.index], ref.params, rtol=1e-7)
    np.testing.assert_allclose(se.drop(omitted_name)[ref.bse.index], ref.bse, rtol=1e-5)
    assert abs(res.llf - ref.llf) < 1e-8 * abs(ref.llf)


def test_mixed_collinear_column_is_omitted():
    pig = load("pig").assign(w2=lambda d: 2 * d["week"] + 1)
    with pytest.warns(CollinearityWarning, match="w2 omitted because of collinearity"):
        res = smf.mixed("weight week w2 || id:", data=pig).fit()
    ref = smf.mixed("weight week || id:", data=pig).fit()
    _check(res, ref, "w2", "o.w2")
    assert list(res.params_eb.index[:3]) == ["week", "o.w2", "_cons"]


def test_melogit_collinear_column_is_omitted_next_to_base_levels():
    ban = load("bangladesh").assign(age2=lambda d: 3 * d["age"] - 1)
    with pytest.warns(CollinearityWarning, match="age2 omitted"):
        res = smf.melogit("c_use i.urban age age2 || district:", data=ban).fit()
    ref = smf.melogit("c_use i.urban age || district:", data=ban).fit()
    _check(res, ref, "age2", "o.age2")
    # Stata's e(b): 0b.urban 1.urban age o.age2 _cons /var(_cons[district])
    assert list(res.params_eb.index) == ["0b.urban", "1.urban", "age", "o.age2", "_cons",
                                         "/var(_cons[district])"]
    assert res.params_eb["0b.urban"] == 0 and np.isnan(res.bse_eb["0b.urban"])


def test_no_warning_without_collinearity(recwarn):
    res = smf.mixed("weight week || id:", data=load("pig")).fit()
    assert not [w for w in recwarn if issubclass(w.category, CollinearityWarning)]
    assert list(res.params_eb.index) == list(res.params.index)
