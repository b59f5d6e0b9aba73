"""Smoke test of the survival and tobit benchmark rows (W9, W9ag7, W10, W10ag7): each fitted at
1/100 of its size through the runner's statsmodels_me adapter in a subprocess, as
``benchmarks/run.py`` does; the simulated designs have the documented shapes."""

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import gen_data  # noqa: E402
from benchmarks.run import parse_args, run_one  # noqa: E402


@pytest.mark.parametrize("key,base", [("W9", "W9"), ("W9ag7", "W9"), ("W10", "W10"),
                                      ("W10ag7", "W10")])
def test_small_fit_gives_finite_llf(tmp_path, key, base):
    path = gen_data.write(base, str(tmp_path), scale=1 / 100)
    row = run_one("statsmodels_me", key, path, repeats=1, timeout=300)
    assert row["status"] == "ok", row["message"]
    assert math.isfinite(row["llf"])


def test_designs_and_the_aghq_rows_come_along():
    w8 = gen_data.weibull_frailty(scale=1 / 100)       # 20 groups x 20
    assert list(w8.columns) == ["t", "d", "x", "g"] and w8.shape == (400, 4)
    assert (w8["t"] > 0).all() and set(w8["d"]) == {0, 1}
    w9 = gen_data.tobit(scale=1 / 100)                 # 50 groups x 20
    assert w9.shape == (1000, 3) and (w9["y"] >= 0).all() and (w9["y"] == 0).any()
    _, keys, _ = parse_args(["--workloads", "W9,W10", "--peers", "none"])
    assert keys == ["W9", "W9ag7", "W10", "W10ag7"]
