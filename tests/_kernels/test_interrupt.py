"""Ctrl-C during a long GLMM fit: the kernels' cluster loops run without the GIL and check
for signals between blocks of clusters, so KeyboardInterrupt is raised within about a
second (before, a fit with 10,000 quadrature nodes per cluster ignored it for minutes)."""
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import statsmodels_me

ROOT = pathlib.Path(statsmodels_me.__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np, pandas as pd
    import statsmodels_me.formula.api as smf
    rng = np.random.default_rng(2)
    n_g, m = 1000, 20
    g = np.repeat(np.arange(n_g), m)
    x, z = rng.normal(size=(2, n_g * m))
    u0, u1 = rng.normal(0.0, 1.0, n_g), rng.normal(0.0, 0.5, n_g)
    eta = -0.5 + 0.8 * x + 0.5 * z + u0[g] + u1[g] * x
    y = (rng.uniform(size=n_g * m) < 1 / (1 + np.exp(-eta))).astype(int)
    d = pd.DataFrame({"y": y, "x": x, "z": z, "g": g})
    # 100 x 100 adaptive nodes per cluster: one likelihood pass takes many seconds
    model = smf.melogit("y x z || g: x, cov(un)", data=d, intpoints=100)
    print("ready", flush=True)
    try:
        model.fit()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_interrupts_a_long_fit():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=str(ROOT))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(2.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        latency = time.monotonic() - sent
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert line == "interrupted" and proc.returncode == 3
    assert latency < 5.0
