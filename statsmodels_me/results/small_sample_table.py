"""Small-sample t and F tests of a mixed fit with ``dfmethod()``: ``estat df``, ``t_test``
and ``wald_test`` with the method's denominator degrees of freedom."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.contrast import ContrastResults

from statsmodels_me.spec.errors import SpecificationError


def estat_df_frame(small, names):
    """Stata's ``estat df``: the df of each fixed effect, indexed by its e(b) name."""
    return pd.DataFrame({"df": np.asarray(small.df, float)},
                        index=pd.Index(list(names), name="parameter"))


def _split(R, q, k_fe, method):
    """The fixed-effects block of a restriction ``(R, q)``; hypotheses on variance
    components have no small-sample df."""
    R = np.atleast_2d(np.asarray(R, dtype=float))
    q = np.zeros(R.shape[0]) if q is None else np.asarray(q, dtype=float).ravel()
    if np.any(R[:, k_fe:] != 0):
        raise SpecificationError(
            f"dfmethod({method}): small-sample tests involve the fixed effects only; the "
            f"hypothesis names a variance component")
    return R[:, :k_fe], q


def t_test(small, beta, cov_beta, R, q, k_fe):
    """t tests of the rows of ``R beta = q`` with each row's df (ContrastResults)."""
    L, q = _split(R, q, k_fe, small.method)
    effect = L @ beta - q
    sd = np.sqrt(np.einsum("mi,ij,mj->m", L, cov_beta, L))
    df = small.contrast_df(L)
    return ContrastResults(effect=effect, t=effect / sd, sd=sd, df_denom=df)


def f_test(small, beta, cov_beta, R, q, k_fe):
    """The joint F test of ``R beta = q`` by the method (ContrastResults)."""
    L, q = _split(R, q, k_fe, small.method)
    F, ndf, ddf, _ = small.ftest(L, beta, q, cov_beta)
    return ContrastResults(F=F, df_num=ndf, df_denom=ddf)
