"""Predictions of a fit on a dask DataFrame: a dask Series computed partition by partition.

Each partition holds whole top-level clusters, so its conditional predictions (posterior
means or modes of its clusters' random effects at the fitted parameters, under the fit's
integration method) are those of the whole data; a partition is predicted by an in-memory
model of its rows (:class:`PartitionModel`) and :meth:`MEGLMResults.predict` with the
fitted parameters.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from statsmodels_me.design import build_design
from statsmodels_me.distributed.categories import WholeDataOrdinal
from statsmodels_me.distributed.pieces import template_columns
from statsmodels_me.models.meglm import MEGLM
from statsmodels_me.results.meglm_results import MEGLMResults


class PartitionModel(MEGLM):
    """The in-memory model of one partition's rows, coded as the whole fit: the template's
    fixed-effects columns (a factor level missing from the partition leaves them whole)
    and, for an ordinal outcome, the whole data's categories and cutpoints.

    Parameters
    ----------
    design : Design
        The partition's design.
    template : Design
        The fit's template design (:class:`~.glmm.DaskMEGLM`'s).
    pdf : pandas.DataFrame
        The partition.
    """

    def __init__(self, design, template, pdf):
        self.command = design.spec.command
        names = list(template.exog_names)
        X = template_columns(design, template, pdf, names)
        options = dict(design.spec.options)
        if options.get("family") == "ordinal":
            # the template's categories are the whole data's (checked by the fit)
            options["family"] = WholeDataOrdinal(options.get("link"),
                                                 np.unique(template.endog))
        spec = dataclasses.replace(design.spec, options=options)
        super().__init__(design=dataclasses.replace(design, spec=spec, exog=X,
                                                    exog_names=names))

    def _check_outcome_varies(self):
        """Checked on the whole data by the fit: a partition's outcome may be constant."""


def predict_frame(pdf, template, params, cov, info, internal, kwargs):
    """The in-memory prediction of one partition at the fitted parameters (pandas).

    Parameters
    ----------
    pdf : pandas.DataFrame
        The partition (whole top-level clusters).
    template : Design
        The fit's template design.
    params, cov, info, internal :
        The fit's display parameters, their covariance, its fit information and the
        internal parameters.
    kwargs : dict
        :meth:`MEGLMResults.predict`'s arguments.
    """
    if len(pdf) == 0:
        return pd.Series(np.zeros(0), index=pdf.index, dtype=float)
    model = PartitionModel(build_design(template.spec, pdf), template, pdf)
    res = MEGLMResults(model, params, cov, dataclasses.replace(info, params_internal=internal))
    return res.predict(**kwargs)


def predict_dask(ddf, template, params, cov, info, internal, meta, kwargs):
    """``predict_frame`` over every partition of ``ddf`` (a dask Series like ``meta``)."""
    return ddf.map_partitions(predict_frame, template, np.asarray(params), np.asarray(cov),
                              info, np.asarray(internal), kwargs, meta=meta)
