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

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

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


def peak_mb():
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fit_dask(path, workers):
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import statsmodels_me.formula.api as smf
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        ddf = dd.read_parquet(path)
        res = smf.melogit(TEXT, data=ddf, **OPTIONS).fit()
        seconds = time.perf_counter() - t0
        worker_peaks = sorted(client.run(peak_mb).values())
    return {"rows": int(res.nobs), "seconds": seconds, "llf": float(res.llf),
            "iterations": int(res.optimization.iterations), "driver_mb": peak_mb(),
            "worker_mb": worker_peaks}


def fit_in_memory(path):
    import pandas as pd

    import statsmodels_me.formula.api as smf
    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    res = smf.melogit(TEXT, data=df, **OPTIONS).fit()
    seconds = time.perf_counter() - t0
    return {"rows": len(df), "seconds": seconds, "llf": float(res.llf),
            "iterations": int(res.optimization.iterations), "peak_mb": peak_mb()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--clusters", type=int, default=1_000_000)
    ap.add_argument("--clusters-per-file", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--in-memory", default="", help="cluster counts, comma separated")
    ap.add_argument("--child-in-memory", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_in_memory:
        print(json.dumps(fit_in_memory(args.child_in_memory)))
        return
    t0 = time.perf_counter()
    path = write_parquet(args.outdir, args.clusters, args.clusters_per_file)
    print(f"data: {path} ({time.perf_counter() - t0:.0f} s to write)", flush=True)
    out = fit_dask(path, args.workers)
    print(json.dumps({"dask": out}), flush=True)
    for c in [int(s) for s in args.in_memory.split(",") if s]:
        p = write_parquet(args.outdir, c, args.clusters_per_file)
        child = subprocess.run([sys.executable, "-m", "benchmarks.dask_w3", args.outdir,
                                "--child-in-memory", p], capture_output=True, text=True)
        if child.returncode != 0:
            print(json.dumps({"in_memory": {"clusters": c, "error": child.stderr[-500:]}}))
            continue
        print(json.dumps({"in_memory": json.loads(child.stdout.strip().splitlines()[-1])}),
              flush=True)


if __name__ == "__main__":
    main()
