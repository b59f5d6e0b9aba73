"""The dask path is optional: recognised without importing dask, imported only when a dask
DataFrame arrives."""
import os
import subprocess
import sys
import textwrap

import pytest

from statsmodels_me.distributed import is_dask_frame


def _frame_from(module):
    cls = type("DataFrame", (), {"__module__": module, "npartitions": 2})
    return cls()


def test_dask_frames_recognised_by_their_module():
    assert is_dask_frame(_frame_from("dask.dataframe.dask_expr._collection"))
    assert is_dask_frame(_frame_from("dask_expr._collection"))  # the 2024 releases
    assert not is_dask_frame(_frame_from("pandas.core.frame"))
    assert not is_dask_frame(type("DataFrame", (), {"__module__": "dask.other"})())


def test_pandas_fit_does_not_import_dask():
    code = textwrap.dedent("""
        import sys
        import statsmodels_me.formula.api as smf
        from statsmodels_me.datasets import load
        smf.mixed("weight week || id:", data=load("pig")).fit()
        smf.melogit("y x || g:", data=load("pig").assign(
            y=lambda d: (d.weight > d.weight.median()).astype(float), x=lambda d: d.week,
            g=lambda d: d.id)).fit()
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_client_named_or_missing(tmp_path):
    # fit(client=...) with no current client fits; without any client the error says how
    # to start one (a fresh interpreter: the test session's client is current here)
    code = textwrap.dedent("""
        import numpy as np, pandas as pd, dask.dataframe as dd
        from distributed import Client, LocalCluster
        import statsmodels_me.formula.api as smf
        if __name__ == "__main__":
            rng = np.random.default_rng(0)
            g = np.repeat(np.arange(20), 5)
            df = pd.DataFrame({"y": rng.normal(size=100) + rng.normal(size=20)[g],
                               "x": rng.normal(size=100), "g": g})
            ddf = dd.from_pandas(df, npartitions=2, sort=False)
            try:
                smf.mixed("y x || g:", data=ddf).fit()
            except ValueError as e:
                print("refused:", e)
            with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as c:
                client = Client(c, set_as_default=False)
                r = smf.mixed("y x || g:", data=ddf).fit(client=client)
                print("llf", r.llf, smf.mixed("y x || g:", data=df).fit().llf)
                client.close()
    """)
    script = tmp_path / "no_client.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, cwd=os.path.join(os.path.dirname(__file__), "..", ".."))
    lines = out.stdout.splitlines()
    assert lines[0].startswith("refused: fitting on a dask DataFrame needs a "
                               "dask.distributed Client")
    llf_dask, llf_mem = (float(v) for v in lines[1].split()[1:])
    assert llf_dask == pytest.approx(llf_mem, rel=1e-10)
