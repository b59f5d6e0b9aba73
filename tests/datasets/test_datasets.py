"""Bundled data sets: names, shapes (from statsmodels_me/datasets/SOURCES.md and [ME] me)."""
import pandas as pd
import pytest

from statsmodels_me import datasets


def test_list_datasets():
    assert datasets.list_datasets() == ["admissions", "bangladesh", "diuretics", "orange",
                                        "pig", "tvsfpors"]


# shapes: pig 48 pigs x 9 weeks; bangladesh n = 1,934 and tvsfpors n = 1,600 as printed in
# [ME] me examples 5 and 7; admissions 23 departments x 2 genders (example 3); orange 5 x 7
@pytest.mark.parametrize("name, shape, columns", [
    ("pig", (432, 3), ["id", "week", "weight"]),
    ("admissions", (46, 4), ["department", "nadmitted", "napplied", "female"]),
    ("bangladesh", (1934, 8), ["district", "c_use", "urban", "age", "children", "child1",
                               "child2", "child3"]),
    ("tvsfpors", (1600, 6), ["school", "class", "thk", "prethk", "cc", "tv"]),
    ("orange", (35, 3), ["tree", "age", "circumf"]),
    ("diuretics", (9, 4), ["trial", "lnor", "var", "std"]),
])
def test_load(name, shape, columns):
    df = datasets.load(name)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == shape
    assert list(df.columns) == columns
    assert isinstance(datasets.describe(name), str) and len(datasets.describe(name)) > 20


def test_pig_values():
    # first rows of pig.csv: pig 1 weighs 24 and 32 in weeks 1 and 2
    pig = datasets.load("pig")
    assert pig.loc[:1, "weight"].tolist() == [24, 32]
    assert pig["id"].nunique() == 48 and pig["week"].nunique() == 9


def test_case_insensitive():
    assert datasets.load("PIG").shape == (432, 3)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'clippings'.*bangladesh.*pig"):
        datasets.load("clippings")
    with pytest.raises(ValueError, match="known datasets"):
        datasets.describe("nope")


def test_seed_examples_are_bundled():
    # the eleven examples of Stata's [ME] me entry; ex2's clippings data is not bundled
    seed = datasets.seed_examples()
    assert list(seed) == [
        "ex1_pig_random_intercept", "ex2_clippings_splitplot_reml", "ex3_admissions_binomial",
        "ex4_pig_random_slope_unstructured", "ex5_bangladesh_exchangeable",
        "ex6_diuretics_fixed_covariance", "ex7_tvsfpors_3level_oprobit", "ex8_pig_crossed",
        "ex9_orange_menl", "ex10_orange_menl_two_effects", "ex11_orange_menl_unstructured"]
    # example 1 as printed: "mixed weight week || id:", Log likelihood = -1014.9268
    ex1 = seed["ex1_pig_random_intercept"]
    assert ex1["command"] == "mixed weight week || id:"
    assert ex1["llf"] == -1014.9268
    for entry in seed.values():
        if entry["data"] is not None:
            assert datasets.load(entry["data"]).shape[0] > 0
