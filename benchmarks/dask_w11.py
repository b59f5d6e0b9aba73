"""W11 past one machine: a nested two-level ``mixed`` fitted from Parquet on a dask
LocalCluster.

Writes the W11 design (:func:`school_classes`: pupils in classes in schools,
``y = 1 + .5 x + u_school + u_class + e``, 10 classes of 10 pupils per school) at
``--schools`` schools as Parquet files of whole schools under OUTDIR, fits
``mixed y x || school: || class:`` with ``smf.mixed(..., data=dask_frame)`` on a
``LocalCluster`` of ``--workers`` worker processes (one thread each) and reports the wall
time, the log likelihood, the iterations and the peak resident memory of the driver and of
each worker.  Then it fits each of ``--in-memory`` school counts in memory (pandas, one
child process per size, so each peak is its own) for comparison.

Usage::

    python -m benchmarks.dask_w11 OUTDIR [--schools 50000] [--schools-per-file 5000]
        [--workers 2] [--in-memory 50000]
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from benchmarks import dask_runner

TEXT = "y x || school: || class:"
CLASSES, PUPILS = 10, 10


def school_classes(n_schools, seed, first_school=0):
    """``n_schools`` schools of :data:`CLASSES` classes of :data:`PUPILS` pupils:
    school sd 0.8, class sd 0.5, residual sd 1, ids unique from ``first_school``."""
    rng = np.random.default_rng(seed)
    per = CLASSES * PUPILS
    school = np.repeat(np.arange(n_schools), per)
    klass = np.repeat(np.arange(n_schools * CLASSES), PUPILS)
    x = rng.normal(size=n_schools * per)
    y = (1.0 + 0.5 * x + 0.8 * rng.normal(size=n_schools)[school]
         + 0.5 * rng.normal(size=n_schools * CLASSES)[klass] + rng.normal(size=len(x)))
    return pd.DataFrame({"y": y, "x": x, "school": school + first_school,
                         "class": klass + first_school * CLASSES})


def write_parquet(outdir, schools, per_file):
    """W11 at ``schools`` schools as Parquet files of ``per_file`` whole schools each
    (seeded per file); returns the directory."""
    path = os.path.join(outdir, f"w11_{schools}")
    if os.path.isdir(path) and os.listdir(path):
        return path
    os.makedirs(path, exist_ok=True)
    for k, start in enumerate(range(0, schools, per_file)):
        n = min(per_file, schools - start)
        school_classes(n, 2000 + k, start).to_parquet(
            os.path.join(path, f"part-{k:05d}.parquet"), index=False)
    return path


def fit(data):
    """The W11 model on ``data`` (pandas or dask)."""
    import statsmodels_me.formula.api as smf
    return smf.mixed(TEXT, data=data).fit()


def main(argv=None):
    dask_runner.main(argv, description=__doc__.splitlines()[0], module="benchmarks.dask_w11",
                     unit="schools", size=50_000, per_file=5_000,
                     write_parquet=write_parquet, fit=fit)


if __name__ == "__main__":
    main()
