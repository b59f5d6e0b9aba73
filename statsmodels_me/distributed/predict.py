"""Predictions of a fit on a dask DataFrame: a dask Series computed partition by partition.

Each partition holds whole top-level clusters, so its conditional predictions (posterior
means or modes of its clusters' random effects at the fitted parameters) are those of the
whole data; a partition is predicted by the in-memory estimator and
:meth:`MEGLMResults.predict` with the fitted parameters.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.design import build_design
from statsmodels_me.models.registry import model_class
from statsmodels_me.results.meglm_results import MEGLMResults


def predict_frame(pdf, spec, params, cov, info, internal, kwargs):
    """The in-memory prediction of one partition at the fitted parameters (pandas)."""
    if len(pdf) == 0:
        return pd.Series(np.zeros(0), index=pdf.index, dtype=float)
    model = model_class(spec.command)(design=build_design(spec, pdf))
    res = MEGLMResults(model, params, cov, info)
    res._internal = internal  # the postestimation reads the internal vector from here
    return res.predict(**kwargs)


def predict_dask(ddf, spec, params, cov, info, internal, meta, kwargs):
    """``predict_frame`` over every partition of ``ddf`` (a dask Series like ``meta``)."""
    return ddf.map_partitions(predict_frame, spec, np.asarray(params), np.asarray(cov), info,
                              np.asarray(internal), kwargs, meta=meta)
