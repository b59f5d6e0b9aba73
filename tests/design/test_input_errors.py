"""Bad input of issue 11 gets a clear error or Stata's treatment, never a raw exception.

Each case reproduces a defect the issue lists (raw IndexError/KeyError/LinAlgError/TypeError,
a silently dropped covariate, misleading messages) on a slice of the pig data of [ME] me.
"""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.datasets import load
from statsmodels_me.design import build_design
from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.errors import DataError


@pytest.fixture(scope="module")
def pig():
    return load("pig").head(90).astype({"week": float, "weight": float})


def design(text, data, **kw):
    return build_design(parse(text, **kw), data)


@pytest.mark.parametrize("var", ["week", "weight"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_is_missing_with_a_note(pig, var, value):
    d = pig.copy()
    d.loc[3, var] = value
    des = design("mixed weight week || id:", d)
    assert des.exog_names == ["week", "_cons"]          # the covariate is kept
    assert len(des.endog) == len(pig) - 1
    assert f"note: 1 infinite value of {var} treated as missing" in des.notes
    assert np.isinf(d.loc[3, var])                      # input untouched


def test_meglm_without_random_equation(pig):
    with pytest.raises(SpecificationError, match="melogit needs a random-effects equation"):
        design("melogit b week", pig.assign(b=(pig.weight > 40).astype(int)))


def test_all_is_not_a_variable(pig):
    with pytest.raises(DataError, match="'_all' is not a variable"):
        design("mixed weight _all || id:", pig)


def test_mixed_without_fixed_effects(pig):
    with pytest.raises(SpecificationError, match="no fixed effects"):
        design("weight ~ 0 + (1|id)", pig)


def test_duplicate_column_names(pig):
    d = pd.concat([pig, pig[["weight"]]], axis=1)
    with pytest.raises(DataError, match="'weight' names 2 columns"):
        design("mixed weight week || id:", d)


def test_timedelta_factor(pig):
    d = pig.assign(dt=pd.to_timedelta(pig.week, unit="D"))
    with pytest.raises(DataError, match="'dt' is a timedelta variable"):
        design("mixed weight i.dt || id:", d)


def test_datetime_and_categorical_not_called_strings(pig):
    d = pig.assign(dt=pd.Timestamp("2020-01-01") + pd.to_timedelta(pig.week, unit="D"),
                   c=pd.Categorical(pig.week.astype(int)))
    with pytest.raises(DataError, match="'dt' is a datetime variable"):
        design("mixed weight dt || id:", d)
    with pytest.raises(DataError, match="'c' is a categorical variable"):
        design("mixed weight c || id:", d)


def test_close_levels_get_distinct_labels(pig):
    d = pig.assign(g=np.where(pig.week % 2 == 0, 1.0000001, 1.0000002))
    des = design("mixed weight ibn.g, noconstant || id:", d)
    assert len(set(des.exog_names)) == 2 and "1.0000001.g" in des.exog_names


def test_empty_data(pig):
    with pytest.raises(DataError, match="the data have no rows"):
        design("mixed weight week || id:", pig.iloc[:0])


def test_repeated_level_message(pig):
    with pytest.raises(SpecificationError, match="level 'id' is repeated") as err:
        design("mixed weight week || id: || id:", pig)
    assert "noconstant" not in str(err.value)


@pytest.mark.parametrize("command", ["mixed", "melogit"])
def test_duplicated_random_effect(pig, command):
    d = pig.assign(b=(pig.weight > 40).astype(int))
    y = "weight" if command == "mixed" else "b"
    with pytest.raises(SpecificationError, match="lists week more than once"):
        design(f"{command} {y} week || id: week week", d)


def test_factor_expansion_is_capped():
    text = "y " + "##".join(f"i.x{i}" for i in range(20)) + " || id:"
    with pytest.raises(SpecificationError, match="at most 8"):
        parse(text)
    with pytest.raises(SpecificationError, match="at most 8"):
        parse("y ~ " + "*".join(f"x{i}" for i in range(20)) + " + (1|id)")


def test_nested_labels_restarting_within_outer_groups():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"school": np.repeat(np.arange(5), 8),
                      "cls": np.tile(np.repeat([1, 2], 4), 5), "y": rng.normal(size=40)})
    for text in ["y ~ 1 + (1|school/cls)", "mixed y || school: || cls:"]:
        des = design(text, d)
        assert [lev.n_groups for lev in des.levels] == [5, 10]


def test_quadrature_work_is_capped(pig):
    from statsmodels_me.models.meglm import MELogit
    d = pig.assign(b=(pig.weight > 40).astype(int))
    with pytest.raises(SpecificationError, match="intpoints"):
        MELogit.from_text("b week || id: week", d, intpoints=10**6)
