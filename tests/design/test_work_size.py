"""Caps on quadrature work, checked before anything is allocated, naming intpoints()."""
import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.design.work_size import (
    MAX_INTPOINTS,
    MAX_NESTED_NODES,
    check_nested_quadrature,
)
from statsmodels_me.spec.errors import SpecificationError


def _counts(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": rng.poisson(2, n), "x": rng.normal(size=n),
                         "z": rng.normal(size=n), "g": np.repeat(np.arange(4), n // 4),
                         "h": np.repeat(np.arange(10), n // 10),
                         "k": np.repeat(np.arange(20), n // 20)})


@pytest.mark.parametrize("text", [
    # 20^3 nodes per level, 6.4e7 per top-level group: allocated 5.7 GiB before the cap
    "y x || g: x z || h: x z, intpoints(20)",
    # three intercept levels of 200 points: 8e6 nodes per group, ran for many minutes
    "y x || g: || h: || k:, intpoints(200)",
    # the default 7 points with three random effects at each of three levels: 7^9
    "y x || g: x z || h: x z || k: x z",
])
def test_nested_menbreg_refused_before_allocating(text):
    with pytest.raises(SpecificationError, match=r"intpoints\(\d+\) on nested levels"):
        smf.menbreg(text, data=_counts())


def test_nested_within_the_cap_fits():
    res = smf.mepoisson("y x || g: || h:, intpoints(12)", data=_counts()).fit()
    assert np.isfinite(res.llf)


def test_nested_cap_arithmetic():
    check_nested_quadrature([("a", 10, 1), ("b", 100, 1)], 1000, 500)  # 1e6 nodes: allowed
    with pytest.raises(SpecificationError, match="1e\\+06|1.0\\de\\+06"):
        check_nested_quadrature([("a", 10, 1), ("b", 100, 1)], 1001, 500)
    assert MAX_NESTED_NODES == 1_000_000


def test_intpoints_beyond_the_rule_limit():
    with pytest.raises(SpecificationError, match=rf"at most {MAX_INTPOINTS} points"):
        smf.mepoisson("y x || g:", data=_counts(), intpoints=MAX_INTPOINTS + 1)


def test_dense_block_beyond_the_cap_refused_before_allocation():
    # 30,000 schools of 2 classes of 2 pupils: the schools' 30,000 effects form the dense
    # block (6.7 GiB); refused naming the level and pointing a nested design to dask
    rng = np.random.default_rng(0)
    S = 30_000
    df = pd.DataFrame({"y": rng.normal(size=4 * S), "school": np.repeat(np.arange(S), 4),
                       "klass": np.repeat(np.arange(2 * S), 2)})
    with pytest.raises(SpecificationError, match=r"mixed: the random effects at school form "
                       r"a dense block of 30,000 effects .*dask DataFrame"):
        smf.mixed("y || school: || klass:", data=df)


def test_dense_block_cap():
    from statsmodels_me.design.work_size import MAX_DENSE_BLOCK_BYTES, check_dense_block
    largest = int((MAX_DENSE_BLOCK_BYTES / 8) ** 0.5)
    check_dense_block(largest, ["a"], True)
    with pytest.raises(SpecificationError, match="the random effects are crossed"):
        check_dense_block(largest + 1, ["a", "b"], False)
