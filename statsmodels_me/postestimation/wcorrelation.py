"""``estat wcorrelation`` after ``mixed``: the model-implied covariance (or correlation) of
the response within one top-level cluster,
``Var(y_i) = Z_i G Z_i' + R_i`` at the estimates."""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.covariance.residual import ResidualSpec, ResidualStructure
from statsmodels_me.objectives.lmm_residual import ResidualLMM
from statsmodels_me.spec.errors import SpecificationError


def _cluster(design, at):
    """Code of the top-level cluster ``at`` (its value of the top-level variable; a dict
    ``{var: value}`` as Stata's ``at(var = value)``); the first row's cluster by default."""
    top = design.levels[0]
    if at is None:
        return int(top.codes[0])
    if isinstance(at, dict):
        if len(at) != 1 or next(iter(at)) != top.path[0]:
            raise SpecificationError(f"estat wcorrelation: at() takes the top-level "
                                     f"variable '{top.path[0]}'")
        at = next(iter(at.values()))
    values = pd.Index(top.group_values)
    if at not in values:
        raise SpecificationError(f"estat wcorrelation: at(): no cluster "
                                 f"{top.path[0]} = {at!r}")
    return int(values.get_loc(at))


def wcorrelation(results, at=None, covariance=False):
    """Within-cluster correlation (``covariance=True``: covariance) matrix of the response.

    Parameters
    ----------
    results : MixedResults
    at : scalar or dict, optional
        The top-level cluster (``{"id": 3}`` or ``3``); default the first observation's.
    covariance : bool
        Return the covariance instead of the correlation.

    Returns
    -------
    DataFrame
        Rows and columns: the cluster's observations (index of the estimation sample), in
        the order of ``t()`` within the lowest-level groups.
    """
    model = results.model
    design = model.design
    if getattr(model, "absolute", False):
        raise SpecificationError("estat wcorrelation: not available after "
                                 "covariance(fixed())")
    g = _cluster(design, at)
    if getattr(model, "residual", None) is not None:
        obj = model.objective
        s2 = obj.sigma2(results.factor())
    else:
        obj = ResidualLMM(design.endog, design.exog, model.terms,
                          ResidualStructure(ResidualSpec("independent")),
                          design.levels[0].codes, design.levels[-1].codes)
        s2 = float(np.asarray(results.params)[-1])
    V, rows = obj.marginal_cov(np.asarray(results.theta, float), s2, g)
    if not covariance:
        sd = np.sqrt(np.diag(V))
        V = V / np.outer(sd, sd)
    labels = design.row_index[rows]
    return pd.DataFrame(V, index=labels, columns=labels)
