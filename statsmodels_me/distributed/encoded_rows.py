"""How a partition's rows reach the kernels under ``metobit``, ``meintreg`` and ``mestreg``:
the in-memory command's own encoding (its ``encode_rows`` and ``option_columns``) applied to
the partition's design and columns, and the counts the header reduces over partitions.

Nothing here imports dask: these objects travel to the workers inside the partition tasks.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.design.build import estimation_sample
from statsmodels_me.families.censored import censoring_counts
from statsmodels_me.models.censored import censored_design, option_columns


class EncodedRows:
    """The encoding of one command's rows.

    Parameters
    ----------
    model_class : type
        The in-memory model class (:class:`~statsmodels_me.models.censored.METobit`, ...),
        whose ``encode_rows(design, columns)`` gives the kernels' ``(y, t, depvar)``.
    names : dict
        Option -> variable name of the variables the options name (``ll(lim)``,
        ``failure(d)``, ...), read from each partition's columns.
    """

    def __init__(self, model_class, names):
        self.model_class = model_class
        self.names = dict(names)

    def columns(self, design, pdf):
        """The options' variables on the estimation rows of ``design`` (built from ``pdf``)
        as the in-memory model takes them."""
        return option_columns(design, pdf, self.names)

    def encode(self, design, pdf, family):
        """``design`` with the encoded rows as response and trials and ``family`` named."""
        y, t, depvar = self.model_class.encode_rows(design, self.columns(design, pdf))
        return censored_design(design, family.name, y, t, depvar)

    def facts(self, y, t):
        """Sums over the encoded rows ``(y, t)`` that the driver adds up."""
        raise NotImplementedError


class CensoredRows(EncodedRows):
    """``metobit`` and ``meintreg``: rows as bounds of a normal latent response."""

    def facts(self, y, t):
        """The censoring counts, and the number, mean and sum of squared deviations from
        their mean of the encoded values (the family's starting values)."""
        y = np.asarray(y, float)
        mean = float(y.mean()) if len(y) else 0.0
        return {"counts": censoring_counts(y, t), "n": len(y),
                "m2": float(np.sum((y - mean) ** 2)), "mean": mean}


class SurvivalRows(EncodedRows):
    """``mestreg``: rows as survival spells (time, failure, entry)."""

    def columns(self, design, pdf):
        return dict(self.names), super().columns(design, pdf)

    def facts(self, y, t0):
        """The number of failures and the time at risk."""
        y, t0 = np.asarray(y, float), np.asarray(t0, float)
        return {"failures": int(np.sum(y > 0)), "time_at_risk": float(np.sum(np.abs(y) - t0))}


def response_range(pdf, spec):
    """The smallest and the largest response of a partition's estimation sample (None
    without rows): ``metobit``'s ``ll`` and ``ul`` without a value."""
    if len(pdf) == 0 or not estimation_sample(spec, pdf)[0].any():
        return None
    y = np.asarray(build_design(spec, pdf).endog, float)
    return (float(y.min()), float(y.max())) if len(y) else None
