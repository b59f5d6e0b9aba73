"""Smoke test of the benchmark harness in benchmarks/.

Fits W2 at 1/50 of its size (200 groups x 20) once through the runner's
statsmodels_me adapter in a subprocess, as ``benchmarks/run.py`` does, and
checks the row.
The other tests check the harness's own pieces without fitting anything.
"""

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import gen_data  # noqa: E402
from benchmarks.report import markdown  # noqa: E402
from benchmarks.run import compare, plan, run_one  # noqa: E402


def test_statsmodels_me_w2_small_gives_finite_llf(tmp_path):
    path = gen_data.write("W2", str(tmp_path), scale=1 / 50)
    row = run_one("statsmodels_me", "W2", path, repeats=1, timeout=300)
    assert row["status"] == "ok", row["message"]
    assert math.isfinite(row["llf"])
    assert row["time_s"] > 0 and row["peak_mb"] > 0


def test_simulated_design_has_the_documented_shape():
    # WORKLOADS.md: W2 is 10,000 groups x 20 rows; scale 1/50 keeps 20 per group.
    df = gen_data.lmm_nested(scale=1 / 50)
    assert list(df.columns) == ["y", "x", "g"]
    assert df.shape == (4000, 3)
    assert (df.groupby("g").size() == 20).all()
    df5 = gen_data.poisson_3lvl(scale=0.01)  # 2 regions x 25 sites x 20
    assert df5["site"].nunique() == 50 and df5["region"].nunique() == 2
    assert set(gen_data.ordinal(scale=0.01)["y"]) <= {1, 2, 3, 4}


def test_default_locations_come_from_the_environment(monkeypatch, tmp_path):
    from benchmarks.run import default_data_dir, default_venv_root
    monkeypatch.setenv("SME_BENCH_VENVS", str(tmp_path / "venvs"))
    assert default_venv_root() == str(tmp_path / "venvs")
    monkeypatch.setenv("SME_BENCH_DATA", str(tmp_path))
    assert default_data_dir() == str(tmp_path)
    monkeypatch.setenv("SME_BENCH_DATA", str(tmp_path / "absent"))
    assert default_data_dir() is None
    monkeypatch.delenv("SME_BENCH_VENVS")
    # without the variable: bench-venvs in the directory holding the repository
    assert default_venv_root() == os.path.join(os.path.dirname(ROOT), "bench-venvs")


def test_missing_peer_environment_is_reported(tmp_path):
    row = run_one("glmm", "W2", "unused.csv", venv_root=str(tmp_path))
    assert row["status"] == "missing"
    assert "setup_peers.sh" in row["message"]


def test_llf_difference_is_flagged_above_1e_4():
    def row(impl, llf):
        return {"impl": impl, "label": impl, "workload": "W2", "threads": 1, "status": "ok",
                "time_s": 1.0, "times": [1.0], "peak_mb": 1.0, "llf": llf, "version": None,
                "message": ""}
    rows = compare([row("statsmodels_me", -10.0), row("glmm", -10.00005),
                    row("lme4", -10.5)])
    assert [r["flag"] for r in rows] == [False, False, True]
    assert rows[2]["dllf"] == pytest.approx(-0.5)
    info = {"date": "d", "nproc": 2, "cpu": "c", "python": "3", "r": None}
    text = markdown(rows, info, ["W2"])
    assert "llf differs by -0.5" in text and "| W2 | 1 | glmm | 1 | 1.00 |" in text


def test_plan_runs_peers_only_where_they_have_a_command():
    jobs = plan(["W6", "W7"], ["glmm", "nlme"], me=True, me_threads=2)
    assert jobs == [("statsmodels_me", "W6", 1), ("statsmodels_me", "W6", 2),
                    ("statsmodels_me", "W7", 1), ("statsmodels_me", "W7", 2),
                    ("nlme", "W7", 1)]


def test_w8_panel_has_the_documented_shape():
    # W8: 10,000 ids x 10 times (1/500: 20 ids), one row per (id, time); nlme is its peer
    from benchmarks.workloads import PEERS
    df = gen_data.ar1_panel(scale=1 / 500)
    assert list(df.columns) == ["id", "time", "x", "y"]
    assert df.shape == (200, 4)
    assert (df.groupby("id")["time"].apply(list) == [list(range(1, 11))] * 20).all()
    assert "W8" in PEERS["nlme"][1]


def test_w13_long_panel_has_the_documented_shape():
    # W13: 50 ids x 2,000 times (1/25: 2 ids); nlme is its peer, W8's model
    from benchmarks.child_py import ME_SPECS
    from benchmarks.workloads import PEERS, WORKLOADS
    df = gen_data.ar1_long(scale=1 / 25)
    assert list(df.columns) == ["id", "time", "x", "y"]
    assert df.shape == (4000, 4)
    assert (df.groupby("id")["time"].apply(list) == [list(range(1, 2001))] * 2).all()
    assert "W13" in PEERS["nlme"][1] and "W13" in WORKLOADS
    assert ME_SPECS["W13"] == ME_SPECS["W8"]
