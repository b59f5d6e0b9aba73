"""A declared nesting that splits a globally labelled group is an error naming the groups."""
import warnings

import numpy as np
import pandas as pd
import pytest

from statsmodels_me.design import build_design
from statsmodels_me.spec import parse
from statsmodels_me.spec.errors import DataError


def frame(class_of_row_5_school):
    # 30 classes with unique labels 101..130, 3 per school; row 5's class moves school
    school = np.repeat(np.arange(10), 3 * 4)
    klass = np.repeat(np.arange(101, 131), 4)
    school = school.copy()
    school[5] = class_of_row_5_school
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": rng.normal(size=len(school)), "school": school, "klass": klass})


def test_split_global_label_is_named():
    df = frame(7)
    with pytest.raises(DataError, match=r"klass 102 in school 0, 7"):
        build_design(parse("y || school: || klass:"), df)


def test_labels_restarting_in_each_school_are_silent():
    school = np.repeat(np.arange(10), 12)
    klass = np.tile(np.repeat([1, 2, 3], 4), 10)
    df = pd.DataFrame({"y": np.arange(120.0), "school": school, "klass": klass})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = build_design(parse("y || school: || klass:"), df)
    assert d.levels[1].n_groups == 30
