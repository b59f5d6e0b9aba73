"""What every dask GLMM test checks: the dask fit equals the in-memory fit of the same rows
(llf 1e-8 relative, estimates 1e-6, standard errors 1e-5), by the same iterations, with the
whole data's group table (the model's design is the template sample's)."""
import numpy as np
import pandas as pd
import pytest


def assert_same_glmm_fit(r_mem, r_dask):
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-8)
    np.testing.assert_allclose(r_dask.params, r_mem.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r_dask.bse, r_mem.bse, rtol=1e-5)
    assert list(r_dask.params.index) == list(r_mem.params.index)
    assert r_dask.optimization.iterations == r_mem.optimization.iterations
    assert r_dask.nobs == r_mem.nobs
    pd.testing.assert_frame_equal(r_dask.summary().tables[1], r_mem.summary().tables[1])
