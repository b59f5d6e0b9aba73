"""A partition of a distributed ``mixed`` fit (no cluster needed): its blocks of top-level
clusters sum to the pieces of the whole partition.

Reference: the same partition evaluated as one block (the blocked factor of all its rows,
:func:`statsmodels_me.objectives.lmm_pieces.gram_pieces`), whose sums the tests of
``tests/objectives/test_lmm_pieces.py`` check against the in-memory objectives.
"""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.distributed.lmm_partition import LMMPartition
from statsmodels_me.spec import parse


def data(seed=0, S=23, C=3, m=3):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(S), C * m)
    c = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=S * C * m)
    y = 0.5 * x + rng.normal(size=S)[s] + 0.5 * rng.normal(size=S * C)[c] \
        + rng.normal(size=len(x))
    df = pd.DataFrame({"y": y, "x": x, "s": s, "c": c})
    return df.sample(frac=1.0, random_state=seed)   # rows out of order


@pytest.mark.parametrize("text", ["y x || s: || c:", "y x || s: x || c:"])
def test_blocks_sum_to_the_whole_partition(text):
    df = data()
    spec = parse(text, command="mixed")
    whole = LMMPartition(df, spec, block_size=1000)
    blocked = LMMPartition(df, spec, block_size=5)
    assert len(blocked.blocks) == 5 and len(whole.blocks) == 1
    b0 = np.array([0.1, 0.4])
    assert blocked.center(b0) == pytest.approx(whole.center(b0), rel=1e-13)
    theta = np.linspace(0.5, 0.9, sum(len(t.theta_index) for t in whole.terms))
    for want in (None, "gradient"):
        for a, b in zip(blocked.pieces(theta, want), whole.pieces(theta, want)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    mom_a = blocked.pieces(theta, "moments")[2]
    mom_b = whole.pieces(theta, "moments")[2]
    for (uu_a, p_a), (uu_b, p_b) in zip(mom_a, mom_b):
        np.testing.assert_allclose(uu_a, uu_b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p_a, p_b, rtol=1e-10, atol=1e-12)


def test_empty_partition_answers_none():
    spec = parse("y x || s: || c:", command="mixed")
    part = LMMPartition(data().iloc[:0], spec)
    assert part.facts() is None
    assert part.center(np.zeros(2)) is None
    assert part.pieces(np.ones(2), "gradient") is None
