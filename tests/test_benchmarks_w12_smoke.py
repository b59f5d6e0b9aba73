"""Smoke test of the pweighted-mixed benchmark row (W12): fitted at 1/100 of its size
through the runner's statsmodels_me adapter in a subprocess, as ``benchmarks/run.py`` does;
the simulated design has the documented shape and weights."""

import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import gen_data  # noqa: E402
from benchmarks.run import run_one  # noqa: E402


def test_small_fit_gives_finite_llf(tmp_path):
    path = gen_data.write("W12", str(tmp_path), scale=1 / 100)
    row = run_one("statsmodels_me", "W12", path, repeats=1, timeout=300)
    assert row["status"] == "ok", row["message"]
    assert math.isfinite(row["llf"])


def test_design_has_sampling_weights_at_both_levels():
    d = gen_data.pweighted_lmm(scale=1 / 100)          # 20 clusters x 20
    assert list(d.columns) == ["y", "x", "g", "w1", "w2"] and d.shape == (400, 5)
    # inverse inclusion probabilities: in (1 / 0.8, 1 / 0.3] and (1 / 0.8, 1 / 0.2]
    assert d["w1"].between(1.25, 1 / 0.3).all() and d["w2"].between(1.25, 5.0).all()
    assert (d.groupby("g")["w2"].nunique() == 1).all()
    assert d["w1"].nunique() == len(d)
