"""The dask path is optional: recognised without importing dask, imported only when a dask
DataFrame arrives."""
import subprocess
import sys
import textwrap

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
