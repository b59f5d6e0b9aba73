"""The W11 benchmark's data: the documented design, whole schools per Parquet file."""
import os
import sys

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from benchmarks.dask_w11 import CLASSES, PUPILS, school_classes, write_parquet  # noqa: E402


def test_school_classes_has_the_documented_shape():
    df = school_classes(30, seed=1, first_school=100)
    assert len(df) == 30 * CLASSES * PUPILS == 3000
    assert df.school.min() == 100 and df.school.nunique() == 30
    assert df.groupby("school")["class"].nunique().eq(CLASSES).all()
    assert df.groupby("class").size().eq(PUPILS).all()
    # classes nested in schools
    assert df.groupby("class")["school"].nunique().eq(1).all()


def test_parquet_files_hold_whole_schools(tmp_path):
    pytest.importorskip("pyarrow")
    path = write_parquet(str(tmp_path), 25, 10)
    files = sorted(os.listdir(path))
    assert len(files) == 3
    parts = [pd.read_parquet(os.path.join(path, f)) for f in files]
    ids = [set(p.school) for p in parts]
    assert sum(len(s) for s in ids) == len(set().union(*ids)) == 25
    classes = np.concatenate([p["class"].unique() for p in parts])
    assert len(classes) == len(np.unique(classes)) == 25 * CLASSES
