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

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from benchmarks.dask_w3 import peak_mb

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


def _summary(res, seconds):
    return {"rows": int(res.nobs), "seconds": seconds, "llf": float(res.llf),
            "iterations": int(res.optimization.iterations),
            "stages": list(res.optimization.stages),
            "params": [float(v) for v in np.asarray(res.params)]}


def fit_dask(path, workers):
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import statsmodels_me.formula.api as smf
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        ddf = dd.read_parquet(path)
        res = smf.mixed(TEXT, data=ddf).fit()
        out = _summary(res, time.perf_counter() - t0)
        out["driver_mb"] = peak_mb()
        out["worker_mb"] = sorted(client.run(peak_mb).values())
    return out


def fit_in_memory(path):
    import statsmodels_me.formula.api as smf
    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    res = smf.mixed(TEXT, data=df).fit()
    out = _summary(res, time.perf_counter() - t0)
    out["peak_mb"] = peak_mb()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--schools", type=int, default=50_000)
    ap.add_argument("--schools-per-file", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--in-memory", default="", help="school counts, comma separated")
    ap.add_argument("--child-in-memory", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_in_memory:
        print(json.dumps(fit_in_memory(args.child_in_memory)))
        return
    t0 = time.perf_counter()
    path = write_parquet(args.outdir, args.schools, args.schools_per_file)
    print(f"data: {path} ({time.perf_counter() - t0:.0f} s to write)", flush=True)
    print(json.dumps({"dask": fit_dask(path, args.workers)}), flush=True)
    for s in [int(v) for v in args.in_memory.split(",") if v]:
        p = write_parquet(args.outdir, s, args.schools_per_file)
        child = subprocess.run([sys.executable, "-m", "benchmarks.dask_w11", args.outdir,
                                "--child-in-memory", p], capture_output=True, text=True)
        if child.returncode != 0:
            print(json.dumps({"in_memory": {"schools": s, "error": child.stderr[-500:]}}))
            continue
        print(json.dumps({"in_memory": json.loads(child.stdout.strip().splitlines()[-1])}),
              flush=True)


if __name__ == "__main__":
    main()
