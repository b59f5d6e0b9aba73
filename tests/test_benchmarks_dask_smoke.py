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


def test_runner_reports_the_dask_and_the_in_memory_fit(tmp_path, capsys, monkeypatch):
    # the command line end to end on 10 schools: one JSON line per fit, the same numbers
    pytest.importorskip("pyarrow")
    pytest.importorskip("distributed")
    import json

    from benchmarks import dask_w11
    monkeypatch.chdir(os.path.join(os.path.dirname(__file__), ".."))
    dask_w11.main([str(tmp_path), "--schools", "10", "--schools-per-file", "5",
                   "--in-memory", "10"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    dask, memory = lines[0]["dask"], lines[1]["in_memory"]
    assert dask["rows"] == memory["rows"] == 10 * CLASSES * PUPILS
    assert dask["llf"] == pytest.approx(memory["llf"], rel=1e-10)
    assert dask["iterations"] == memory["iterations"]
    assert len(dask["worker_mb"]) == 2 and dask["driver_mb"] > 0 and memory["peak_mb"] > 0
