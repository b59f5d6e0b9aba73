"""Time ``mixed`` with AR(1) residuals and a random intercept next to nlme.

Panel: ``--groups`` groups x ``--times`` times (default 10,000 x 10 = 100,000 rows),
y = 1 + 0.5 x + u_i + e_it with var(u) = 1, AR(1) errors (rho = 0.6, var(e) = 1).
statsmodels_me fits ``y x || id:, residuals(ar 1, t(time))`` by ML; R fits
``nlme::lme(y ~ x, random = ~1 | id, correlation = corAR1(form = ~time | id),
method = "ML")``. Both time only the fit (data loaded first), single-threaded.

Usage::

    python benchmarks/residuals.py [--groups 10000] [--times 10]

Prints a markdown table with both times, the ratio ours / nlme and both log likelihoods.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(_HERE) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, os.path.dirname(_HERE))

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

R_SCRIPT = """
suppressMessages(library(nlme))
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]
m <- lme(y ~ x, random = ~1 | id, correlation = corAR1(form = ~time | id), data = d,
         method = "ML")
cat(proc.time()[["elapsed"]] - t0, format(as.numeric(logLik(m)), digits = 15), "\\n")
"""


def panel(groups, times, seed=12):
    """The simulated AR(1) panel (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = groups * times
    rho = 0.6
    e = np.empty((groups, times))
    e[:, 0] = rng.normal(size=groups)
    for t in range(1, times):
        e[:, t] = rho * e[:, t - 1] + np.sqrt(1 - rho ** 2) * rng.normal(size=groups)
    x = rng.normal(size=n)
    u = np.repeat(rng.normal(size=groups), times)
    return pd.DataFrame({"id": np.repeat(np.arange(1, groups + 1), times),
                         "time": np.tile(np.arange(1, times + 1), groups),
                         "x": x, "y": 1 + 0.5 * x + u + e.ravel()})


def time_ours(data):
    from statsmodels_me.models.mixed import Mixed
    t0 = time.perf_counter()
    res = Mixed.from_text("y x || id:, residuals(ar 1, t(time))", data).fit()
    return time.perf_counter() - t0, float(res.llf)


def time_nlme(path):
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(["Rscript", script, path], capture_output=True, text=True,
                             check=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        return float("nan"), f"nlme failed: {exc}"
    finally:
        os.unlink(script)
    secs, llf = out.stdout.split()[:2]
    return float(secs), float(llf)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--times", type=int, default=10)
    args = ap.parse_args(argv)
    data = panel(args.groups, args.times)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ar1_panel.csv")
        data.to_csv(path, index=False)
        ours, llf = time_ours(data)
        theirs, llf_r = time_nlme(path)
    print("| rows | statsmodels_me s | nlme s | ratio | llf ours | llf nlme |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(data):,} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} | "
          f"{llf:.6f} | {llf_r} |")


if __name__ == "__main__":
    main()
