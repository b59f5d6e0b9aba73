"""Structures built from real designs (spec.parse + build_design) carry the seed's labels.

Reference labels: /work/shared/validation/seed_examples.json (ex4, ex5, ex8).
"""
import json
from pathlib import Path

import pandas as pd
import pytest

from statsmodels_me.covariance import make_level_covariance

build = pytest.importorskip("statsmodels_me.design.build")
spec = pytest.importorskip("statsmodels_me.spec")

SHARED = Path("/work/shared")


@pytest.mark.parametrize("prefix, data", [("ex4", "pig"), ("ex5", "bangladesh"), ("ex8", "pig")])
def test_labels_from_design(prefix, data):
    if not (SHARED / "validation/seed_examples.json").exists():
        pytest.skip("seed data not available")
    ex = next(e for e in json.loads((SHARED / "validation/seed_examples.json").read_text())
              ["examples"] if e["id"].startswith(prefix))
    design = build.build_design(spec.parse(ex["command"]),
                                pd.read_csv(SHARED / "data" / f"{data}.csv"))
    labels = [lab for lev in design.levels for lab in make_level_covariance(lev).vcomp_labels]
    assert labels == [k for k in ex["vcomp"] if k != "var(Residual)"]
