"""What the dask benchmarks share: write a workload's Parquet files once, fit them on a
``LocalCluster`` (wall time from ``dd.read_parquet`` to the results, peak resident memory of
the driver and of each worker), then fit chosen sizes in memory, each in a child process so
that each peak is its own; one JSON line per fit."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def peak_mb():
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summary(res, seconds):
    """What is reported of a fit."""
    return {"rows": int(res.nobs), "seconds": seconds, "llf": float(res.llf),
            "iterations": int(res.optimization.iterations),
            "stages": list(res.optimization.stages),
            "params": [float(v) for v in np.asarray(res.params)]}


def fit_on_cluster(path, workers, fit):
    """``fit(ddf)`` on the Parquet files under ``path`` on a ``LocalCluster`` of
    ``workers`` processes of one thread each."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        res = fit(dd.read_parquet(path))
        out = summary(res, time.perf_counter() - t0)
        out["driver_mb"] = peak_mb()
        out["worker_mb"] = sorted(client.run(peak_mb).values())
    return out


def fit_in_memory(path, fit):
    """``fit(df)`` on the Parquet files under ``path`` read into pandas (the time counts the
    fit only)."""
    import pandas as pd
    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    res = fit(df)
    out = summary(res, time.perf_counter() - t0)
    out["peak_mb"] = peak_mb()
    return out


def main(argv, *, description, module, unit, size, per_file, write_parquet, fit):
    """The command line of a dask benchmark ``module`` whose data come in ``unit``
    (``--<unit>``, ``--<unit>-per-file``, defaults ``size`` and ``per_file``), written by
    ``write_parquet(outdir, n, per_file)`` and fitted by ``fit(frame)``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("outdir")
    ap.add_argument(f"--{unit}", type=int, default=size)
    ap.add_argument(f"--{unit}-per-file", type=int, default=per_file)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--in-memory", default="", help=f"{unit} counts, comma separated")
    ap.add_argument("--child-in-memory", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_in_memory:
        print(json.dumps(fit_in_memory(args.child_in_memory, fit)))
        return
    per = getattr(args, f"{unit}_per_file")
    t0 = time.perf_counter()
    path = write_parquet(args.outdir, getattr(args, unit), per)
    print(f"data: {path} ({time.perf_counter() - t0:.0f} s to write)", flush=True)
    print(json.dumps({"dask": fit_on_cluster(path, args.workers, fit)}), flush=True)
    for n in [int(v) for v in args.in_memory.split(",") if v]:
        p = write_parquet(args.outdir, n, per)
        child = subprocess.run([sys.executable, "-m", module, args.outdir,
                                "--child-in-memory", p], capture_output=True, text=True)
        if child.returncode != 0:
            print(json.dumps({"in_memory": {unit: n, "error": child.stderr[-500:]}}))
            continue
        print(json.dumps({"in_memory": json.loads(child.stdout.strip().splitlines()[-1])}),
              flush=True)
