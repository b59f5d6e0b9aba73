"""Moments of the whole response reduced from the partitions kept on the workers.

The in-memory starting values of some families are moments of the whole response
(``family(gaussian)``: the log of its variance, ``Gaussian.ancillary_start``).  Each partition
gives its count, mean and sum of squared deviations, combined by the pairwise update of
Chan, Golub and LeVeque (1979, "Updating formulae and a pairwise algorithm for computing
sample variances"), which keeps the variance as accurate as ``np.var`` of the whole.
"""
from __future__ import annotations

import numpy as np


def partition_moments(piece):
    """Count, mean and sum of squared deviations of a partition's response (as its main
    objective's engine holds it)."""
    y = np.asarray(piece.objectives["main"].engine.endog, float)
    if len(y) == 0:
        return 0, 0.0, 0.0
    mean = float(y.mean())
    return len(y), mean, float(((y - mean) ** 2).sum())


def combine_moments(moments):
    """``(n, mean, M2)`` of the union of groups given as ``(n, mean, M2)`` each."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, mb, m2b in moments:
        if nb == 0:
            continue
        total = n + nb
        delta = mb - mean
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n = total
    return n, mean, m2


def response_variance(parts):
    """Variance (``np.var``, divisor n) of the response of every partition of ``parts``
    (a :class:`~.proxy.PartitionMap`)."""
    n, _, m2 = combine_moments(parts.apply(partition_moments))
    return m2 / n
