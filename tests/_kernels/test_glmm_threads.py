"""OpenMP over clusters in the two-level kernel: the default follows OMP_NUM_THREADS, and
the results do not depend on the number of threads (bitwise)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from _glmm_testdata import simulate
from statsmodels_me._kernels.glmm_kernels import get_num_threads

from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM, set_num_threads


def test_default_follows_omp_num_threads():
    code = "from statsmodels_me._kernels.glmm_kernels import get_num_threads as g; print(g())"
    for value, expected in [("3", "3"), ("2,1", "2"), (None, "1")]:
        env = dict(os.environ)
        env.pop("OMP_NUM_THREADS", None)
        if value is not None:
            env["OMP_NUM_THREADS"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == expected


@pytest.mark.parametrize("method,points", [("laplace", 1), ("mvaghermite", 5)])
def test_results_do_not_depend_on_the_number_of_threads(method, points):
    d = simulate("bernoulli", "logit", q=2, G=60, nj=9, seed=11)
    saved = get_num_threads()
    out = []
    try:
        for n in (1, 2):
            set_num_threads(n)
            m = OneLevelGLMM(d["endog"], d["exog"], d["Z"], d["groups"], "bernoulli", "logit",
                             intmethod=method, intpoints=points)
            res = [m.loglike_and_grad(d["beta"] + k * 0.01, [], (1 + 0.1 * k) * d["L"])
                   for k in range(3)]
            out.append(res)
    finally:
        set_num_threads(saved)
    for a, b in zip(out[0], out[1], strict=True):
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[3], b[3])
