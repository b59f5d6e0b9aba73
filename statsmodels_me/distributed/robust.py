"""The driver's side of ``vce(robust)``/``vce(cluster var)`` on a dask DataFrame: the meat
of the sandwich as a map over the partitions (:mod:`.scores`) and a sum.

Every partition returns the summed outer products of its clusters' scores (p x p), their
number, and the score sums of its shares of the ``vce(cluster)`` groups that span
partitions; the driver adds the outer products of those groups' totals. The Hessian and
Stata's scaling G / (G - 1) are the in-memory fit's
(:func:`~statsmodels_me.inference.sandwich.sandwich_from_products`).
"""
from __future__ import annotations

from collections import Counter

import numpy as np


def summed_products(parts, args, clustered):
    """The whole data's meat B = sum_c s_c s_c' and number of clusters.

    Parameters
    ----------
    parts : PartitionMap
        Over partitions with ``score_products(*args, shared)`` and ``cluster_value_set()``.
    args : tuple
        The estimates, as the partitions' ``score_products`` take them.
    clustered : bool
        ``vce(cluster var)`` (else ``vce(robust)``: the top-level groups, whole in one
        partition each).

    Returns
    -------
    B : ndarray (k, k)
    n_clusters : int
    """
    shared = []
    if clustered:
        counts = Counter(v for values in parts.map("cluster_value_set") if values
                         for v in values)
        shared = [v for v, c in counts.items() if c > 1]
    out = [o for o in parts.map("score_products", *args, shared) if o is not None]
    B = sum(o[0] for o in out)
    n = sum(o[1] for o in out)
    totals = {}
    for o in out:
        for value, s in o[2].items():
            totals[value] = totals[value] + s if value in totals else s
    if totals:
        S = np.array(list(totals.values()))
        B = B + S.T @ S
        n += S.shape[0]
    return B, int(n)
