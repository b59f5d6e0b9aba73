"""Structures built from real designs (spec.parse + build_design) carry the seed's labels.

Reference labels: Stata's [ME] me entry, examples 4, 5 and 8, as bundled in
statsmodels_me/datasets/seed_examples.json.
"""
import pytest

from statsmodels_me import datasets, spec
from statsmodels_me.covariance import make_level_covariance
from statsmodels_me.design import build


@pytest.mark.parametrize("prefix, data", [("ex4", "pig"), ("ex5", "bangladesh"), ("ex8", "pig")])
def test_labels_from_design(prefix, data):
    ex = next(e for key, e in datasets.seed_examples().items() if key.startswith(prefix))
    design = build.build_design(spec.parse(ex["command"]), datasets.load(data))
    labels = [lab for lev in design.levels for lab in make_level_covariance(lev).vcomp_labels]
    assert labels == [k for k in ex["vcomp"] if k != "var(Residual)"]
