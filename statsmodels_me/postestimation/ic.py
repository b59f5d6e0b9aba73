"""Stata's ``estat ic``: Akaike's and Schwarz's information criteria."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["estat_ic"]


def estat_ic(results, n=None):
    """Information criteria as Stata's ``estat ic`` prints them.

    Parameters
    ----------
    n : int, optional
        The N of BIC (Stata's ``n()`` option); default the number of observations.

    Returns
    -------
    DataFrame
        One row labelled ``"."``; columns ``N``, ``ll0`` (the null model's log likelihood,
        missing -- Stata prints ``.`` after ``mixed`` and ``meglm``), ``ll``, ``df`` (the
        rank of ``e(V)``: estimated parameters, those fixed by a constraint left out, a
        variance estimated on the boundary counted), ``AIC = -2 ll + 2 df`` and
        ``BIC = -2 ll + df ln N``.
    """
    N = int(results.nobs if n is None else n)
    if N <= 0:
        raise ValueError(f"estat ic: n={n} must be a positive number of observations")
    V = np.asarray(results.cov_params(), dtype=float)
    df = int(np.linalg.matrix_rank(V)) if np.all(np.isfinite(V)) else int(results.df_modelwc)
    ll = float(results.llf)
    row = {"N": N, "ll0": np.nan, "ll": ll, "df": df, "AIC": -2 * ll + 2 * df,
           "BIC": -2 * ll + df * np.log(N)}
    return pd.DataFrame([row], index=pd.Index(["."], name="Model"))
