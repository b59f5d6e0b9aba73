"""Time statsmodels_me and its peers side by side on the workloads W1-W8.

Every fit runs in its own subprocess (the peer's virtual environment, or
``Rscript``) that loads the data first and then times only the fit: the
median of ``--repeats`` runs, its peak resident memory and its log
likelihood.  Children are single-threaded (OMP/OPENBLAS/MKL/RAYON = 1);
statsmodels_me also gets a 2-thread row.

Usage::

    python benchmarks/run.py                       # everything
    python benchmarks/run.py --workloads W2,W3 --peers glmm,lme4

Writes ``--out`` (JSON) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(_HERE) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, os.path.dirname(_HERE))

from benchmarks import gen_data  # noqa: E402
from benchmarks.report import markdown  # noqa: E402
from benchmarks.workloads import ME, ORDER, PEERS, WORKLOADS, data_file  # noqa: E402

#: the repository's parent directory, where the shared benchmark CSVs and the peers' virtual
#: environments live unless the environment variables below say otherwise
_REPO_PARENT = os.path.dirname(os.path.dirname(_HERE))
DATA_ENV = "SME_BENCH_DATA"
VENVS_ENV = "SME_BENCH_VENVS"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "RAYON_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
STARTUP_GRACE = 120.0  # seconds allowed for interpreter start and data loading


def default_data_dir():
    """``$SME_BENCH_DATA``, else ``shared/bench`` next to the repository, if it exists."""
    path = os.environ.get(DATA_ENV) or os.path.join(_REPO_PARENT, "shared", "bench")
    return path if os.path.isdir(path) else None


def default_venv_root():
    """``$SME_BENCH_VENVS``, else ``bench-venvs`` next to the repository."""
    return os.environ.get(VENVS_ENV) or os.path.join(_REPO_PARENT, "bench-venvs")


def child_env(threads):
    """The environment of a child process pinned to ``threads`` threads."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


def _limit_memory(max_bytes):
    def preexec():
        if max_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    return preexec


def _vm_hwm_mb(pid):
    """Peak resident memory of a live process from /proc (MB), or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _run_child(cmd, env, timeout, max_mem_gb):
    """Run ``cmd``; return (stdout, stderr, timed_out, last seen peak MB)."""
    max_bytes = int(max_mem_gb * 2**30) if max_mem_gb else 0
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=_limit_memory(max_bytes))
    deadline = time.monotonic() + timeout
    peak = None
    while True:
        try:
            out, err = proc.communicate(timeout=1.0)
            return out, err, False, peak
        except subprocess.TimeoutExpired:
            hwm = _vm_hwm_mb(proc.pid)
            peak = hwm if hwm is not None else peak
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
                return out, err, True, peak


def _parse_result(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return None


def _python_for(impl, venv_root):
    if impl == ME:
        return sys.executable
    return os.path.join(venv_root, impl, "bin", "python")


def run_one(impl, workload, csv, *, threads=1, repeats=3, timeout=600.0,
            venv_root=None, max_mem_gb=None):
    """Fit ``workload`` with ``impl`` in a subprocess and return its row.

    Parameters
    ----------
    impl : str
        ``"statsmodels_me"`` or a key of ``workloads.PEERS``.
    workload : str
        A key of ``workloads.WORKLOADS``.
    csv : str
        Path of the workload's data.
    threads : int
        Value of the thread-count environment variables in the child.
    repeats : int
        Fits to time (fewer if they would exceed ``timeout`` in total).
    timeout : float
        Seconds of fitting allowed; the child is killed after
        ``timeout + STARTUP_GRACE``.
    venv_root : str, optional
        Directory holding one virtual environment per Python peer; default
        :func:`default_venv_root`.
    max_mem_gb : float or None
        Address-space limit of the child.

    Returns
    -------
    dict
        ``impl``, ``label``, ``workload``, ``threads``, ``status`` (``ok``,
        ``not implemented``, ``not applicable``, ``timeout``, ``error``,
        ``missing``), ``time_s`` (median), ``times``, ``peak_mb``, ``llf``,
        ``version``, ``message``.
    """
    label = impl if threads == 1 else f"{impl} ({threads} threads)"
    row = {"impl": impl, "label": label, "workload": workload, "threads": threads,
           "status": "error", "time_s": None, "times": [], "peak_mb": None, "llf": None,
           "version": None, "message": ""}
    kind = "py" if impl == ME else PEERS[impl][0]
    if kind == "py":
        python = _python_for(impl, venv_root or default_venv_root())
        if not os.path.exists(python):
            row.update(status="missing", message=f"{python} not found: run "
                       "benchmarks/setup_peers.sh")
            return row
        cmd = [python, os.path.join(_HERE, "child_py.py"), impl, workload, csv,
               "--repeats", str(repeats), "--budget", str(timeout)]
    else:
        rscript = shutil.which("Rscript")
        if rscript is None:
            row.update(status="missing", message="Rscript not found")
            return row
        cmd = [os.path.join(_HERE, "child_r.R"), impl, workload, csv, str(repeats),
               str(timeout)]
        cmd = [rscript] + cmd
        if os.path.exists("/usr/bin/time"):
            cmd = ["/usr/bin/time", "-v"] + cmd
    out, err, timed_out, seen_peak = _run_child(cmd, child_env(threads),
                                                timeout + STARTUP_GRACE, max_mem_gb)
    if timed_out:
        row.update(status="timeout", message=f"no result in {timeout:g} s",
                   peak_mb=seen_peak)
        return row
    res = _parse_result(out)
    if res is None:
        tail = " ".join(err.strip().splitlines()[-3:])
        row.update(message=f"child gave no result: {tail}"[:500])
        return row
    row.update(status=res["status"], times=res.get("times") or [], llf=res.get("llf"),
               version=res.get("version"), message=res.get("message") or "",
               peak_mb=res.get("maxrss_mb"))
    if kind == "r":
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        row["peak_mb"] = int(m.group(1)) / 1024.0 if m else None
    if row["times"]:
        row["time_s"] = statistics.median(row["times"])
    return row


def resolve_data(data_dir, keys, gen_dir):
    """Map each workload key to a CSV path, simulating missing ones.

    Returns
    -------
    dict
        key -> path, or key -> None with the reason in ``problems``.
    problems : dict
        key -> message for workloads without data.
    """
    paths, problems = {}, {}
    for key in keys:
        name = data_file(key)
        path = os.path.join(data_dir, name) if data_dir else None
        if path and os.path.exists(path):
            paths[key] = path
            continue
        base = WORKLOADS[key][0]
        if base in gen_data.SIMULATED:
            cached = os.path.join(gen_dir, name)
            paths[key] = cached if os.path.exists(cached) else gen_data.write(base, gen_dir)
        else:
            paths[key] = None
            problems[key] = (f"{name} missing: {base} is lme4's data set; run "
                             f"`Rscript benchmarks/export_lme4_data.R {gen_dir}`")
    return paths, problems


def machine_info():
    """Date, CPU model, core count, Python and R versions."""
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", lscpu)
        model = m.group(1).strip() if m else model
    except OSError:
        pass
    r_version = None
    if shutil.which("Rscript"):
        r_version = subprocess.run(["Rscript", "-e", "cat(R.version.string)"],
                                   capture_output=True, text=True).stdout.strip()
    return {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "r": r_version}


def plan(keys, peers, me, me_threads):
    """The (impl, workload, threads) triples to run, in order."""
    jobs = []
    for key in keys:
        if me:
            jobs.append((ME, key, 1))
            if me_threads > 1:
                jobs.append((ME, key, me_threads))
        for peer in peers:
            if key in PEERS[peer][1]:
                jobs.append((peer, key, 1))
    return jobs


def compare(rows, tol=1e-4):
    """Add ``dllf`` (llf minus statsmodels_me's) and ``flag`` to the rows."""
    ref = {r["workload"]: r["llf"] for r in rows
           if r["impl"] == ME and r["threads"] == 1 and r["status"] == "ok"}
    for r in rows:
        r["dllf"], r["flag"] = None, False
        if r["workload"] in ref and r["llf"] is not None and r["impl"] != ME:
            r["dllf"] = r["llf"] - ref[r["workload"]]
            r["flag"] = abs(r["dllf"]) > tol
    return rows


def merge(path, rows, runs, keys):
    """Combine an earlier run's JSON with new rows (new ones win).

    Returns
    -------
    rows, runs, keys
        The merged rows ordered by workload, the machine records of both
        runs, and the union of the workload keys.
    """
    with open(path) as fh:
        old = json.load(fh)
    ident = {(r["impl"], r["workload"], r["threads"]) for r in rows}
    kept = [r for r in old["rows"] if (r["impl"], r["workload"], r["threads"]) not in ident]
    all_keys = [k for k in ORDER if k in keys or any(r["workload"] == k for r in kept)]
    merged = [r for k in all_keys for r in rows + kept if r["workload"] == k]
    previous = dict(old["machine"])
    earlier = previous.pop("earlier_runs", [])
    return merged, runs + [previous] + earlier, all_keys


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(ORDER),
                    help="comma list of " + ", ".join(ORDER) + " (default: all)")
    ap.add_argument("--peers", default="all",
                    help="comma list of " + ", ".join(PEERS) + "; 'all' or 'none'")
    ap.add_argument("--no-me", action="store_true", help="skip statsmodels_me")
    ap.add_argument("--me-threads", type=int, default=2,
                    help="thread count of the extra statsmodels_me row (1 = none)")
    ap.add_argument("--data-dir", default=default_data_dir(),
                    help=f"the workloads' CSVs (default: ${DATA_ENV}, else shared/bench "
                         "next to the repository, if it exists)")
    ap.add_argument("--gen-dir", default=os.path.join(_HERE, "data"),
                    help="where simulated data go when --data-dir lacks them")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per fit")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-mem-gb", type=float, default=12.0,
                    help="address-space limit per child (0 = none)")
    ap.add_argument("--venv-root", default=default_venv_root(),
                    help=f"one virtual environment per Python peer (default: ${VENVS_ENV}, "
                         "else bench-venvs next to the repository)")
    ap.add_argument("--out", default=os.path.join(_HERE, "results", "latest.json"))
    ap.add_argument("--merge", default=None, metavar="JSON",
                    help="start from the rows of an earlier run (e.g. the peers) and "
                         "replace those re-measured now")
    args = ap.parse_args(argv)
    keys = _split(args.workloads)
    bad = [k for k in keys if k not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {ORDER}")
    if "W3" in keys and "W3ag7" not in keys:  # the AGHQ row goes with W3
        keys.insert(keys.index("W3") + 1, "W3ag7")
    peers = list(PEERS) if args.peers == "all" else ([] if args.peers == "none"
                                                       else _split(args.peers))
    bad = [p for p in peers if p not in PEERS]
    if bad:
        ap.error(f"unknown peer(s) {bad}; choose from {list(PEERS)}")
    return args, keys, peers


def main(argv=None):
    args, keys, peers = parse_args(argv)
    paths, problems = resolve_data(args.data_dir, keys, args.gen_dir)
    info = machine_info()
    info["command"] = "python " + " ".join([os.path.relpath(__file__)] + sys.argv[1:]
                                           if argv is None else ["benchmarks/run.py"] + argv)
    rows = []
    for impl, key, threads in plan(keys, peers, not args.no_me, args.me_threads):
        if paths[key] is None:
            if threads > 1:
                continue
            rows.append({"impl": impl, "label": impl, "workload": key, "threads": threads,
                         "status": "no data", "time_s": None, "times": [], "peak_mb": None,
                         "llf": None, "version": None, "message": problems[key]})
            continue
        single = [r for r in rows if r["impl"] == impl and r["workload"] == key]
        if threads > 1 and single and single[0]["status"] != "ok":
            continue  # no multi-threaded row for a fit that does not run
        row = run_one(impl, key, paths[key], threads=threads, repeats=args.repeats,
                      timeout=args.timeout, venv_root=args.venv_root,
                      max_mem_gb=args.max_mem_gb or None)
        t = "-" if row["time_s"] is None else f"{row['time_s']:.3f} s"
        llf = "-" if row["llf"] is None else f"{row['llf']:.3f}"
        print(f"{key:6s} {row['label']:28s} {row['status']:16s} {t:>12s} {llf:>14s} "
              f"{row['message'][:60]}", file=sys.stderr, flush=True)
        rows.append(row)
    runs = [info]
    if args.merge:
        rows, runs, keys = merge(args.merge, rows, runs, keys)
    compare(rows)
    info = dict(info, earlier_runs=runs[1:])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"machine": info, "data_dir": args.data_dir, "rows": rows}, fh, indent=1,
                  default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
    print(markdown(rows, info, keys))


if __name__ == "__main__":
    main()
