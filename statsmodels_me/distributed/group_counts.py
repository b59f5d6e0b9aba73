"""The summary's table of groups per level for a fit on a dask DataFrame: each partition
counts its own groups (whole top-level clusters, so every group of every level lies in one
partition) and the driver adds them up into :meth:`Design.group_summary`'s form."""
from __future__ import annotations

import numpy as np
import pandas as pd


def group_counts(level):
    """``(groups, smallest, largest, observations)`` of a grouping level: the pieces of
    :meth:`Design.group_summary` that add up over partitions of whole clusters."""
    counts = np.bincount(level.codes, minlength=level.n_groups)
    return level.n_groups, int(counts.min()), int(counts.max()), int(counts.sum())


def summed_group_table(labels, counts):
    """:meth:`Design.group_summary` of the whole data from the partitions'
    :func:`group_counts` (``counts``: one list per partition, one tuple per level of
    ``labels``)."""
    rows = {}
    for k, label in enumerate(labels):
        parts = [c[k] for c in counts if c[k][0]]
        groups, n = sum(p[0] for p in parts), sum(p[3] for p in parts)
        rows[label] = {"groups": groups, "min": min(p[1] for p in parts),
                       "avg": n / groups, "max": max(p[2] for p in parts)}
    return pd.DataFrame.from_dict(rows, orient="index")
