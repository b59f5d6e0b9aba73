"""W3 past one machine: a two-level logit fitted from Parquet on a dask LocalCluster.

Writes the W3 design (``benchmarks/gen_data.py``: ``y ~ x + z + (1 + x | g)``, 20
observations per cluster) at ``--clusters`` clusters as Parquet files of whole clusters under
OUTDIR, fits it with ``smf.melogit(..., data=dask_frame)`` on a ``LocalCluster`` of
``--workers`` worker processes (one thread each) and reports the wall time, the log
likelihood, and the peak resident memory of the driver and of each worker.  Then it fits the
largest of ``--in-memory`` cluster counts in memory (pandas, one process per size, so each
peak is its own) for comparison.

Usage::

    python -m benchmarks.dask_w3 OUTDIR [--clusters 1000000] [--clusters-per-file 50000]
        [--workers 2] [--in-memory 100000,200000]
"""
from __future__ import annotations

import os

import numpy as np

from benchmarks import dask_runner
from benchmarks.gen_data import glmm_logit

TEXT = "y x z || g: x, cov(unstructured)"
OPTIONS = {"intmethod": "laplace"}


def write_parquet(outdir, clusters, per_file):
    """W3 at ``clusters`` clusters as Parquet files of ``per_file`` whole clusters each
    (seeded per file, cluster ids unique across files); returns the directory."""
    path = os.path.join(outdir, f"w3_{clusters}")
    if os.path.isdir(path) and os.listdir(path):
        return path
    os.makedirs(path, exist_ok=True)
    for k, start in enumerate(range(0, clusters, per_file)):
        n = min(per_file, clusters - start)
        df = glmm_logit(scale=n / 5_000, seed=1000 + k)
        df["g"] += start
        df["y"] = df["y"].astype(np.float64)
        df.to_parquet(os.path.join(path, f"part-{k:05d}.parquet"), index=False)
    return path


def fit(data):
    """The W3 model on ``data`` (pandas or dask)."""
    import statsmodels_me.formula.api as smf
    return smf.melogit(TEXT, data=data, **OPTIONS).fit()


def main(argv=None):
    dask_runner.main(argv, description=__doc__.splitlines()[0], module="benchmarks.dask_w3",
                     unit="clusters", size=1_000_000, per_file=50_000,
                     write_parquet=write_parquet, fit=fit)


if __name__ == "__main__":
    main()
