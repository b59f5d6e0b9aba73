"""A partition's part of the cluster-robust (sandwich) covariance: the outer products of
its clusters' scores, summed on its worker.

Under ``vce(robust)`` the clusters are the top-level groups, which lie whole in one
partition, so a partition's B = sum_g s_g s_g' is its share of the whole meat. Under
``vce(cluster var)`` a group of ``var`` (each top-level group nested in one) may hold
top-level groups of several partitions: the driver names those groups (``shared``), a
partition returns the score sums of its shares of them, and the outer products of the rest.

Nothing here imports dask: these functions run inside dask tasks.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.inference.sandwich import cluster_groups


def top_cluster_values(design, top_codes, top_label, variable):
    """The value of the ``vce(cluster)`` variable of every top-level group (code order).

    Raises
    ------
    SpecificationError
        A top-level group spans several values (as the in-memory fit,
        :func:`~statsmodels_me.inference.sandwich.cluster_groups`).
    """
    values = design.sample_data[variable].to_numpy()
    by_code = cluster_groups(top_codes, values, top_label, variable)
    return np.unique(values)[by_code]


def distinct_values(values):
    """The distinct values of a partition's ``vce(cluster)`` variable (a list)."""
    return [] if values is None else np.unique(values).tolist()


def partition_products(scores, values, shared):
    """A partition's part of the meat of the sandwich.

    Parameters
    ----------
    scores : ndarray (G, k)
        Score of each of the partition's top-level groups.
    values : ndarray (G,) or None
        Their ``vce(cluster)`` variable's values; ``None`` under ``vce(robust)`` (each
        top-level group its own cluster).
    shared : list
        Values whose groups also lie in other partitions.

    Returns
    -------
    B : ndarray (k, k)
        Sum of the outer products of the scores of the groups held whole.
    n : int
        Their number.
    sums : dict
        Value -> score sum of the partition's share of each shared group.
    """
    scores = np.asarray(scores, float)
    if values is None:
        return scores.T @ scores, scores.shape[0], {}
    uniq, inv = np.unique(values, return_inverse=True)
    summed = np.zeros((len(uniq), scores.shape[1]))
    np.add.at(summed, inv.ravel(), scores)
    is_shared = np.isin(uniq, np.asarray(shared, dtype=uniq.dtype)) if len(shared) \
        else np.zeros(len(uniq), bool)
    own = summed[~is_shared]
    return own.T @ own, own.shape[0], dict(zip(uniq[is_shared].tolist(), summed[is_shared]))
