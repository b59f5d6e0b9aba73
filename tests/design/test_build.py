"""build_design: fixed part, levels, nesting, missing values and errors.

Reference numbers: group counts and obs-per-group from the [ME] me printouts (pig example 1:
48 groups of 9; tvsfpors example 7: school 28 groups 18/57.1/137, class 135 groups 1/11.9/28;
bangladesh example 5: 60 districts 2/32.2/118; admissions example 3: 23 departments of 2).
Collinearity notes: [ME] me example 2 (clippings split plot). Hand-made frames give their own
answers in comments.
"""
import time

import numpy as np
import pandas as pd
import pytest

from statsmodels_me.datasets import load
from statsmodels_me.design import build_design
from statsmodels_me.spec.errors import DataError, SpecificationError
from statsmodels_me.spec.model_spec import Factor, ModelSpec, REEquation, Term


def T(*factors):
    return Term(tuple(Factor(*f) if isinstance(f, tuple) else Factor(f) for f in factors))


def eq(path, *terms, **kw):
    path = (path,) if isinstance(path, str) else tuple(path)
    return REEquation(level=path[-1], path=path, terms=tuple(terms), **kw)


@pytest.fixture(scope="module")
def pig():
    return load("pig")


@pytest.fixture(scope="module")
def tvsfpors():
    return load("tvsfpors")


@pytest.fixture(scope="module")
def bangladesh():
    return load("bangladesh")


# -- two-level basics -------------------------------------------------------------------------

def test_pig_random_intercept(pig):
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(eq("id"),))
    d = build_design(spec, pig)
    assert d.exog_names == ["week", "_cons"]
    np.testing.assert_array_equal(d.exog[:, 0], pig["week"])
    np.testing.assert_array_equal(d.exog[:, 1], 1.0)
    np.testing.assert_array_equal(d.endog, pig["weight"])
    assert d.endog_names == ["weight"]
    assert d.nobs == 432 and d.n_missing == 0 and d.notes == []
    assert d.nested and not d.crossed
    (lev,) = d.levels
    assert lev.label == "id" and lev.n_groups == 48 and lev.parent is None
    np.testing.assert_array_equal(lev.codes, pig["id"] - 1)
    assert list(lev.group_values) == list(range(1, 49))
    (blk,) = lev.blocks
    assert blk.names == ["_cons"] and blk.q == 1 and blk.covariance == "independent"
    gs = d.group_summary()
    assert gs.loc["id"].tolist() == [48, 9, 9.0, 9]


def test_pig_random_slope(pig):
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(eq("id", T("week"), covariance="unstructured"),))
    blk = build_design(spec, pig).levels[0].blocks[0]
    assert blk.names == ["week", "_cons"] and blk.covariance == "unstructured"
    np.testing.assert_array_equal(blk.Z, np.column_stack([pig["week"], np.ones(432)]))


# -- crossed ----------------------------------------------------------------------------------

def test_pig_crossed_all_R(pig):
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(REEquation("_all", ("_all",), constant=False, factor="id"),
                             REEquation("_all", ("_all",), constant=False, factor="week")))
    d = build_design(spec, pig)
    assert d.crossed and not d.nested
    (lev,) = d.levels
    assert lev.label == "_all" and lev.n_groups == 1
    np.testing.assert_array_equal(lev.codes, 0)
    assert [b.names for b in lev.blocks] == [["R.id"], ["R.week"]]
    assert [b.q for b in lev.blocks] == [48, 9] and lev.q == 57
    assert all(b.Z is None and b.covariance == "identity" for b in lev.blocks)
    np.testing.assert_array_equal(lev.blocks[0].factor_codes, pig["id"] - 1)
    np.testing.assert_array_equal(lev.blocks[1].factor_levels, np.arange(1, 10))
    assert d.group_summary().loc["_all"].tolist() == [1, 432, 432.0, 432]


def test_pig_all_R_week_then_id(pig):
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(REEquation("_all", ("_all",), constant=False, factor="week"),
                             eq("id")))
    d = build_design(spec, pig)
    assert [lev.label for lev in d.levels] == ["_all", "id"]
    assert d.crossed and not d.nested
    assert d.levels[1].parent is None and d.levels[1].n_groups == 48
    assert d.levels[0].blocks[0].q == 9


def test_lme4_bars_crossed():
    # every a meets every b: genuinely crossed, no nesting note
    df = pd.DataFrame({"y": np.arange(6.0), "a": [1, 1, 1, 2, 2, 2], "b": [1, 2, 3, 1, 2, 3]})
    spec = ModelSpec(command="mixed", response=("y",), random=(eq("a"), eq("b")),
                     syntax="formula")
    d = build_design(spec, df)
    assert d.crossed and not d.nested and d.nesting_note is None
    assert [lev.n_groups for lev in d.levels] == [2, 3]


def test_lme4_bars_nested_in_data():
    # b labels are unique across a, so (1|a) + (1|b) is the nested model
    df = pd.DataFrame({"y": np.arange(6.0), "a": [1, 1, 1, 2, 2, 2], "b": [1, 1, 2, 3, 4, 4]})
    d = build_design(ModelSpec(command="mixed", response=("y",), random=(eq("a"), eq("b"))), df)
    assert d.crossed and not d.nested
    assert "b is nested in a" in d.nesting_note
    assert d.nesting_note in d.notes
    d = build_design(ModelSpec(command="mixed", response=("y",), random=(eq("b"), eq("a"))), df)
    assert "b is nested in a" in d.nesting_note


# -- nesting ----------------------------------------------------------------------------------

@pytest.fixture
def four_level():
    # labels of b, c, d are reused across their parents, so groups must use the whole path
    return pd.DataFrame({
        "y": np.arange(8.0),
        "x": np.linspace(0.0, 1.0, 8),
        "a": [2, 2, 2, 2, 1, 1, 1, 1],
        "b": [1, 1, 2, 2, 1, 1, 1, 2],
        "c": [1, 2, 1, 1, 1, 1, 2, 1],
        "d": [1, 1, 1, 2, 1, 2, 1, 1],
    })


def test_two_levels(four_level):
    spec = ModelSpec(command="mixed", response=("y",), fixed=(T("x"),),
                     random=(eq("a"), eq(("a", "b"), T("x"))))
    d = build_design(spec, four_level)
    assert d.nested and not d.crossed
    a, ab = d.levels
    np.testing.assert_array_equal(a.codes, [1, 1, 1, 1, 0, 0, 0, 0])
    # sorted path tuples (1,1)=0 (1,2)=1 (2,1)=2 (2,2)=3
    assert ab.label == "a>b" and ab.n_groups == 4
    np.testing.assert_array_equal(ab.codes, [2, 2, 3, 3, 0, 0, 0, 1])
    np.testing.assert_array_equal(ab.parent, [0, 0, 1, 1])
    assert list(ab.group_values) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert ab.blocks[0].names == ["x", "_cons"]
    np.testing.assert_array_equal(ab.blocks[0].Z[:, 0], four_level["x"])


def test_three_and_four_levels(four_level):
    spec = ModelSpec(command="mixed", response=("y",),
                     random=(eq("a"), eq(("a", "b")), eq(("a", "b", "c")),
                             eq(("a", "b", "c", "d"))))
    d = build_design(spec, four_level)
    assert d.nested and not d.crossed
    assert [lev.label for lev in d.levels] == ["a", "a>b", "a>b>c", "a>b>c>d"]
    abc, abcd = d.levels[2], d.levels[3]
    # (1,1,1)=0 (1,1,2)=1 (1,2,1)=2 (2,1,1)=3 (2,1,2)=4 (2,2,1)=5
    np.testing.assert_array_equal(abc.codes, [3, 4, 5, 5, 0, 0, 1, 2])
    np.testing.assert_array_equal(abc.parent, [0, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(abcd.codes, [4, 5, 6, 7, 0, 1, 2, 3])
    np.testing.assert_array_equal(abcd.parent, [0, 0, 1, 2, 3, 4, 5, 5])
    assert isinstance(abcd.group_values, pd.MultiIndex)
    assert abcd.group_values[7] == (2, 2, 1, 2)
    gs = d.group_summary()
    assert gs["groups"].tolist() == [2, 4, 6, 8]


def test_tvsfpors_three_level(tvsfpors):
    # meoprobit thk prethk cc##tv || school: || class:   ([ME] me example 7)
    spec = ModelSpec(command="meoprobit", response=("thk",), constant=False,
                     fixed=(T("prethk"), T(("cc", "i")), T(("tv", "i")),
                            T(("cc", "i"), ("tv", "i"))),
                     random=(eq("school"), eq(("school", "class"))))
    d = build_design(spec, tvsfpors)
    assert d.exog_names == ["prethk", "1.cc", "1.tv", "1.cc#1.tv"]
    np.testing.assert_array_equal(d.exog[:, 3], tvsfpors["cc"] * tvsfpors["tv"])
    assert d.base_levels == ["0b.cc", "0b.tv", "0b.cc#0b.tv", "0b.cc#1o.tv", "1o.cc#0b.tv"]
    gs = d.group_summary()
    assert gs.loc["school"].tolist()[:2] == [28, 18] and gs.loc["school", "max"] == 137
    assert round(gs.loc["school", "avg"], 1) == 57.1
    assert gs.loc["school>class"].tolist()[:2] == [135, 1]
    assert gs.loc["school>class", "max"] == 28
    assert round(gs.loc["school>class", "avg"], 1) == 11.9
    assert d.nested
    school = d.levels[0]
    # every class lies in the school its parent code points to
    np.testing.assert_array_equal(school.codes, d.levels[1].parent[d.levels[1].codes])


# -- factor variables -------------------------------------------------------------------------

def test_bangladesh_exchangeable(bangladesh):
    # melogit c_use i.urban age i.children || district: i.children, cov(exchangeable)
    #   || district:        ([ME] me example 5)
    spec = ModelSpec(command="melogit", response=("c_use",),
                     fixed=(T(("urban", "i")), T("age"), T(("children", "i"))),
                     random=(eq("district", T(("children", "i")), covariance="exchangeable"),
                             eq("district")))
    d = build_design(spec, bangladesh)
    assert d.exog_names == ["1.urban", "age", "1.children", "2.children", "3.children",
                            "_cons"]
    assert d.base_levels == ["0b.urban", "0b.children"]
    (lev,) = d.levels
    assert [b.names for b in lev.blocks] == [["1.children", "2.children", "3.children"],
                                             ["_cons"]]
    assert [b.covariance for b in lev.blocks] == ["exchangeable", "independent"]
    np.testing.assert_array_equal(lev.blocks[0].Z, bangladesh[["child1", "child2", "child3"]])
    gs = d.group_summary().loc["district"]
    assert (gs["groups"], gs["min"], round(gs["avg"], 1), gs["max"]) == (60, 2, 32.2, 118)


def test_random_factor_with_constant(bangladesh):
    spec = ModelSpec(command="melogit", response=("c_use",),
                     random=(eq("district", T(("children", "i"))),))
    blk = build_design(spec, bangladesh).levels[0].blocks[0]
    assert blk.names == ["1.children", "2.children", "3.children", "_cons"]


def test_diuretics_fixed_matrix():
    # meglm lnor || _all: ibn.trial, nocons cov(fixed(f)), f = diag(var)  ([ME] me example 6)
    df = load("diuretics")
    f = np.diag(df["var"].to_numpy())
    spec = ModelSpec(command="meglm", response=("lnor",),
                     random=(REEquation("_all", ("_all",), terms=(T(("trial", "ibn")),),
                                        constant=False, covariance="fixed", cov_matrix="f"),),
                     matrices={"f": f})
    d = build_design(spec, df)
    blk = d.levels[0].blocks[0]
    assert blk.names == [f"{k}.trial" for k in range(1, 10)]
    np.testing.assert_array_equal(blk.Z, np.eye(9))
    np.testing.assert_array_equal(blk.cov_matrix, f)
    assert d.exog_names == ["_cons"]
    bad = ModelSpec(command="meglm", response=("lnor",), random=spec.random,
                    matrices={"f": np.eye(3)})
    with pytest.raises(DataError, match="matrix 'f' is 3x3.*9x9"):
        build_design(bad, df)
    with pytest.raises(DataError, match="matrix 'f'"):
        build_design(ModelSpec(command="meglm", response=("lnor",), random=spec.random), df)


def test_collinearity_notes_clippings():
    # mixed chlorophyll ibn.nitrogen##ibn.thatch ibn.block, noconstant || wpunit:
    # The printed notes of [ME] me example 2 depend only on the design: 2 blocks x 4 nitrogen
    # x 3 thatch (values made up here; the clippings data are not public).
    grid = pd.MultiIndex.from_product([[1, 2], [1, 2, 3, 4], [2, 5, 8]],
                                      names=["block", "nitrogen", "thatch"]).to_frame(False)
    grid["wpunit"] = (grid["block"] - 1) * 4 + grid["nitrogen"]
    grid["chlorophyll"] = np.random.default_rng(0).normal(size=len(grid))
    N, Th = ("nitrogen", "ibn"), ("thatch", "ibn")
    spec = ModelSpec(command="mixed", response=("chlorophyll",), constant=False,
                     fixed=(T(N), T(Th), T(N, Th), T(("block", "ibn"))),
                     random=(eq("wpunit"),))
    d = build_design(spec, grid)
    assert d.notes == [
        "note: 8.thatch omitted because of collinearity.",
        "note: 1.nitrogen#8.thatch omitted because of collinearity.",
        "note: 2.nitrogen#8.thatch omitted because of collinearity.",
        "note: 3.nitrogen#8.thatch omitted because of collinearity.",
        "note: 4.nitrogen#2.thatch omitted because of collinearity.",
        "note: 4.nitrogen#5.thatch omitted because of collinearity.",
        "note: 4.nitrogen#8.thatch omitted because of collinearity.",
        "note: 2.block omitted because of collinearity.",
    ]
    assert d.omitted[0] == "8.thatch" and d.omitted[-1] == "2.block"
    assert d.exog.shape == (24, 4 + 2 + 6 + 1)
    assert np.linalg.matrix_rank(d.exog) == d.exog.shape[1]
    assert "8o.thatch" in d.full_names and "4o.nitrogen#2o.thatch" in d.full_names


def test_collinear_continuous_keeps_constant():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=20), "x": rng.normal(size=20),
                       "g": np.repeat(np.arange(4), 5)})
    df["x2"] = 2 * df["x"] + 3
    spec = ModelSpec(command="mixed", response=("y",), fixed=(T("x"), T("x2")),
                     random=(eq("g"),))
    d = build_design(spec, df)
    assert d.exog_names == ["x", "_cons"]
    assert d.omitted == ["x2"] and d.full_names == ["x", "o.x2", "_cons"]


def test_ibn_with_constant_omits_last_level():
    df = pd.DataFrame({"y": np.arange(6.0), "g": [1, 2, 3, 1, 2, 3], "h": [1, 1, 1, 2, 2, 2]})
    spec = ModelSpec(command="mixed", response=("y",), fixed=(T(("g", "ibn")),),
                     random=(eq("h"),))
    d = build_design(spec, df)
    assert d.exog_names == ["1.g", "2.g", "_cons"]
    assert d.notes == ["note: 3.g omitted because of collinearity."]


# -- sample, offset, trials -------------------------------------------------------------------

def test_missing_values_dropped(pig):
    df = pig.copy()
    df["week"] = df["week"].astype(float)
    df.loc[[3, 10, 11], "weight"] = np.nan
    df.loc[[20], "week"] = np.nan
    df["unused"] = np.nan
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(eq("id"),))
    d = build_design(spec, df)
    assert d.n_missing == 4 and d.nobs == 428
    assert "(4 observations dropped because of missing values)" in d.notes
    assert 3 not in d.row_index and 21 in d.row_index
    assert d.group_summary().loc["id", "min"] == 7


def test_missing_string_group():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", None, "", "b"]})
    d = build_design(ModelSpec(command="mixed", response=("y",), random=(eq("g"),)), df)
    assert d.n_missing == 2
    assert "(2 observations dropped because of missing values)" in d.notes
    assert list(d.levels[0].group_values) == ["a", "b"]


def test_binomial_trials():
    df = load("admissions")
    spec = ModelSpec(command="melogit", response=("nadmitted",), fixed=(T("female"),),
                     random=(eq("department"),), options={"binomial": "napplied"})
    d = build_design(spec, df)
    np.testing.assert_array_equal(d.trials, df["napplied"])
    assert d.group_summary().loc["department"].tolist() == [23, 2, 2.0, 2]
    spec = ModelSpec(command="melogit", response=("nadmitted",), random=(eq("department"),),
                     options={"binomial": 10})
    with pytest.raises(DataError, match="binomial\\(10\\)"):
        build_design(spec, df)


def test_offset_and_exposure(pig):
    spec = ModelSpec(command="mepoisson", response=("weight",), random=(eq("id"),),
                     options={"exposure": "week"})
    np.testing.assert_allclose(build_design(spec, pig).offset, np.log(pig["week"]))
    spec = ModelSpec(command="mepoisson", response=("weight",), random=(eq("id"),),
                     options={"offset": "week"})
    np.testing.assert_array_equal(build_design(spec, pig).offset, pig["week"])
    df = pig.assign(z=pig["week"] - 1)
    spec = ModelSpec(command="mepoisson", response=("weight",), random=(eq("id"),),
                     options={"exposure": "z"})
    with pytest.raises(DataError, match="exposure variable 'z' has 48 nonpositive"):
        build_design(spec, df)


def test_intreg_missing_bound_kept():
    df = pd.DataFrame({"lo": [1.0, np.nan, 2.0, np.nan], "hi": [2.0, 3.0, np.nan, np.nan],
                       "g": [1, 1, 2, 2]})
    spec = ModelSpec(command="meintreg", response=("lo", "hi"), random=(eq("g"),))
    d = build_design(spec, df)
    assert d.nobs == 3 and d.n_missing == 1 and d.endog.shape == (3, 2)


# -- errors -----------------------------------------------------------------------------------

def test_missing_column(pig):
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("wek"),),
                     random=(eq("id"),))
    with pytest.raises(DataError, match="variable 'wek' not found in data.*week"):
        build_design(spec, pig)
    spec = ModelSpec(command="mixed", response=("weight",), random=(eq("school"),))
    with pytest.raises(DataError, match="'school' not found.*columns are: id, week, weight"):
        build_design(spec, pig)


def test_string_response():
    df = pd.DataFrame({"x": ["a", "b", "c"], "g": [1, 1, 2]})
    with pytest.raises(DataError, match="response 'x' is a string variable"):
        build_design(ModelSpec(command="mixed", response=("x",), random=(eq("g"),)), df)


def test_empty_random_equation(pig):
    spec = ModelSpec(command="mixed", response=("weight",), random=(eq("id", constant=False),))
    with pytest.raises(SpecificationError, match="'id:' has no random effects"):
        build_design(spec, pig)


def test_no_observations():
    df = pd.DataFrame({"y": [np.nan, np.nan], "g": [1, 2]})
    with pytest.raises(DataError, match="no observations"):
        build_design(ModelSpec(command="mixed", response=("y",), random=(eq("g"),)), df)


# -- scale ------------------------------------------------------------------------------------

def test_large_design_is_fast():
    # 200,000 rows, 10,000 groups nested in 100 regions, random slope: should take well under a
    # second (bound loosened to 3 s only for a shared, loaded test machine)
    rng = np.random.default_rng(2)
    n = 200_000
    df = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                       "g": rng.integers(0, 10_000, n), "k": rng.integers(0, 5, n)})
    df["region"] = df["g"] // 100
    spec = ModelSpec(command="mixed", response=("y",), fixed=(T("x"), T(("k", "i"))),
                     random=(eq("region"), eq(("region", "g"), T("x"))))
    start = time.perf_counter()
    d = build_design(spec, df)
    elapsed = time.perf_counter() - start
    assert d.levels[1].n_groups == 10_000 and d.levels[0].n_groups == 100
    assert d.nested
    assert elapsed < 3.0


def test_path_codes_match_groupby():
    # independent check: codes equal pandas' sorted groupby numbering of the path tuples, and
    # parents point to the group holding each subgroup
    rng = np.random.default_rng(5)
    n = 5000
    df = pd.DataFrame({"y": rng.normal(size=n), "a": rng.integers(0, 7, n),
                       "b": rng.choice(["x", "y", "z"], n), "c": rng.integers(0, 30, n)})
    spec = ModelSpec(command="mixed", response=("y",),
                     random=(eq("a"), eq(("a", "b")), eq(("a", "b", "c"))))
    d = build_design(spec, df)
    for lev, keys in zip(d.levels, (["a"], ["a", "b"], ["a", "b", "c"]), strict=True):
        expected = df.groupby(keys, sort=True).ngroup().to_numpy()
        np.testing.assert_array_equal(lev.codes, expected)
        assert lev.n_groups == expected.max() + 1
    for outer, inner in zip(d.levels[:-1], d.levels[1:], strict=True):
        np.testing.assert_array_equal(inner.parent[inner.codes], outer.codes)


def test_weights_and_residual_variables(pig):
    df = pig.assign(w=1.0 + (pig["id"] % 3), w2=2.0)
    df.loc[5, "w"] = np.nan
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(T("week"),),
                     random=(eq("id"),),
                     options={"weight": ("pweight", "w"),
                              "level_weights": {"id": ("pweight", "w2")},
                              "residuals": "ar 1, t(week)"})
    d = build_design(spec, df)
    assert d.n_missing == 1 and d.weight_type == "pweight"
    np.testing.assert_array_equal(d.weights, df["w"].dropna())
    kind, lw = d.level_weights["id"]
    assert kind == "pweight" and lw.shape == (431,)
    np.testing.assert_array_equal(d.residual_vars["t"], df["week"].drop(index=5))
    bad = ModelSpec(command="mixed", response=("weight",), random=(eq("id"),),
                    options={"weight": ("fweight", "w3")})
    with pytest.raises(DataError, match="'w3' not found"):
        build_design(bad, df)
    neg = ModelSpec(command="mixed", response=("weight",), random=(eq("id"),),
                    options={"weight": ("fweight", "z")})
    with pytest.raises(DataError, match="fweight variable 'z' has 1 negative"):
        build_design(neg, df.assign(z=np.where(df.index == 0, -1.0, 1.0)))


def test_R_within_level_exchangeable(tvsfpors):
    # mixed y || school: R.class, cov(exchangeable)   ([ME] me syntax item 5)
    spec = ModelSpec(command="mixed", response=("thk",),
                     random=(REEquation("school", ("school",), constant=False, factor="class",
                                        covariance="exchangeable"),))
    d = build_design(spec, tvsfpors)
    blk = d.levels[0].blocks[0]
    assert blk.names == ["R.class"] and blk.covariance == "exchangeable" and blk.q == 135
    assert d.crossed and d.levels[0].n_groups == 28


def test_estimation_sample_is_the_designs_rows():
    # the mask, the dropped count and the infinite values build_design reports, without
    # building it; an if that selects nothing is an all-False mask, not an error
    from statsmodels_me.design.build import estimation_sample, missing_value_notes
    from statsmodels_me.spec import parse
    pig = load("pig").copy()
    pig.loc[[3, 10], "week"] = np.nan
    pig.loc[20, "weight"] = np.inf
    spec = parse("weight week if id <= 30 || id:", command="mixed")
    d = build_design(spec, pig)
    mask, n_missing, infinite = estimation_sample(spec, pig)
    np.testing.assert_array_equal(mask, d.sample.to_numpy())
    assert missing_value_notes(n_missing, infinite) == d.notes[:2]
    assert (n_missing, infinite) == (3, {"weight": 1})
    none, k, _ = estimation_sample(parse("weight week if id > 1000 || id:",
                                         command="mixed"), pig)
    assert not none.any() and k == 0
