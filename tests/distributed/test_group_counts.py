"""The partitions' group counts add up to the whole data's summary table."""
import numpy as np
import pandas as pd

from statsmodels_me.design import build_design
from statsmodels_me.distributed.group_counts import group_counts, summed_group_table
from statsmodels_me.spec import parse


def test_summed_table_equals_the_whole_designs():
    rng = np.random.default_rng(5)
    # 40 regions of 1 to 3 sites of 1 to 5 rows, thinned: groups of every size
    r = np.repeat(np.arange(40), 15)
    s = np.repeat(np.arange(120), 5)
    df = pd.DataFrame({"y": rng.normal(size=600), "r": r, "s": s})
    df = df[rng.random(len(df)) < 0.5]
    spec = parse("y || r: || s:", command="mixed")
    whole = build_design(spec, df).group_summary()
    # three partitions of whole regions, one of them without rows of some sizes
    cuts = [df[df.r < 5], df[(df.r >= 5) & (df.r < 30)], df[df.r >= 30]]
    counts = [[group_counts(lev) for lev in build_design(spec, p).levels] for p in cuts]
    table = summed_group_table(list(whole.index), counts)
    assert list(table["groups"]) == [df.r.nunique(), df.s.nunique()]
    pd.testing.assert_frame_equal(table, whole, check_exact=False, rtol=1e-14)
