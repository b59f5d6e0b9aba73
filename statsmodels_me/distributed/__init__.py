"""Fitting on a Dask cluster: the data stay on the workers, partitioned by top-level cluster.

``smf.melogit(text, data=ddf)`` with a ``dask.dataframe.DataFrame`` returns a
:class:`~statsmodels_me.distributed.glmm.DaskMEGLM` (``smf.mixed``: a
:class:`~statsmodels_me.distributed.lmm.DaskMixed`; ``smf.metobit``, ``smf.meintreg``,
``smf.mestreg``: the classes of :mod:`.censored`).  Each worker builds the design and the
objective of its partitions with the package's own design layer and kernels and keeps them;
every objective evaluation of the fit is a map over the partitions and a sum on the driver
(:mod:`.proxy`), so the optimizer and the fitting sequence are the in-memory ones.

Dask is optional (the ``[dask]`` extra): nothing here imports it until a dask DataFrame
arrives.
"""
from __future__ import annotations

__all__ = ["is_dask_frame", "dask_model"]


def is_dask_frame(data):
    """Whether ``data`` is a dask DataFrame (checked without importing dask)."""
    # dask >= 2025.1 defines its DataFrame in dask.dataframe, the 2024 releases in the
    # separate dask_expr package
    root = type(data).__module__.split(".")[0]
    return root in ("dask", "dask_expr") and hasattr(data, "npartitions")


def dask_model(command, text, data, **options):
    """The model of ``command`` on the dask DataFrame ``data`` (see :mod:`.glmm` and
    :mod:`.lmm`)."""
    if command == "mixed":
        from statsmodels_me.distributed.lmm import DaskMixed
        return DaskMixed.from_dask(text, data, **options)
    from statsmodels_me.distributed.censored import DASK_ENCODED_MODELS
    from statsmodels_me.distributed.glmm import GLMM_COMMANDS, DaskMEGLM
    if command in DASK_ENCODED_MODELS:
        return DASK_ENCODED_MODELS[command].from_dask(command, text, data, **options)
    if command not in GLMM_COMMANDS:
        available = ("mixed",) + GLMM_COMMANDS + tuple(DASK_ENCODED_MODELS)
        raise NotImplementedError(f"{command} on a dask DataFrame is not implemented "
                                  f"(available: {', '.join(available)})")
    return DaskMEGLM.from_dask(command, text, data, **options)
