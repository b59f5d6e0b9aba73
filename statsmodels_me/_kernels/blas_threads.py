"""Run a block of code with single-threaded OpenBLAS, for the calling thread only.

numpy and scipy each bundle their own OpenBLAS, each with its own thread pool. On dense
blocks of about a thousand rows, a threaded LAPACK call gains little, while the idle workers
of both pools spin between calls and take the cores from the thread doing the work: the
crossed-intercept LMM (InstEval, a 1,156-row block) ran three times slower in wall time with
two threads than with one. ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) limits the
calling thread's calls without touching the process-wide setting; where it is not available
(another BLAS, an older OpenBLAS, no /proc), the block runs unchanged.
"""
from __future__ import annotations

import ctypes
from contextlib import contextmanager

_SETTERS = {}  # OpenBLAS path -> its openblas_set_num_threads_local, or None


def _local_setters():
    """``openblas_set_num_threads_local`` of every OpenBLAS mapped into this process.

    The maps are read on every call (a few per fit): a library loaded later (scipy's OpenBLAS
    after numpy's) must not be missed; each library is opened once.
    """
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh
                            if "openblas" in line.lower() and line.split()[-1].startswith("/")})
    except OSError:
        return ()
    for path in paths:
        if path not in _SETTERS:
            try:
                fn = ctypes.CDLL(path).openblas_set_num_threads_local
            except (OSError, AttributeError):
                _SETTERS[path] = None
                continue
            fn.argtypes = [ctypes.c_int]
            fn.restype = ctypes.c_int
            _SETTERS[path] = fn
    return tuple(_SETTERS[p] for p in paths if _SETTERS[p] is not None)


@contextmanager
def single_threaded_blas():
    """Context in which this thread's OpenBLAS calls use one thread."""
    setters = _local_setters()
    previous = [fn(1) for fn in setters]
    try:
        yield
    finally:
        for fn, old in zip(setters, previous):
            fn(old)
