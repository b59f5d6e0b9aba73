"""``single_threaded_blas``: one OpenBLAS thread for the calling thread inside the block, the
previous setting restored after it (also when the block raises)."""
import numpy as np  # noqa: F401  (maps numpy's OpenBLAS into the process)
import pytest

from statsmodels_me._kernels.blas_threads import _local_setters, single_threaded_blas


@pytest.fixture
def setters():
    found = _local_setters()
    if not found:
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local in this process")
    olds = [fn(2) for fn in found]  # every pool at 2 threads for the calling thread
    yield found
    for fn, old in zip(found, olds):
        fn(old)


def test_block_runs_on_one_thread_and_restores(setters):
    with single_threaded_blas():
        inside = [fn(1) for fn in setters]  # each call returns the value it replaces
    after = [fn(2) for fn in setters]
    assert inside == [1] * len(setters)
    assert after == [2] * len(setters)


def test_restores_when_the_block_raises(setters):
    with pytest.raises(ValueError), single_threaded_blas():
        raise ValueError
    assert [fn(2) for fn in setters] == [2] * len(setters)

