"""What an estimator hands to the results class besides params and their covariance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from statsmodels_me.inference.lrtests import LRTest
from statsmodels_me.optimization.record import OptimizationRecord

__all__ = ["FitInfo", "LRTest", "VCompGroup"]


@dataclass
class VCompGroup:
    """One section of the random-effects table, e.g. ``id: Unstructured``.

    ``rows`` pairs the row label (``var(week)``, ``cov(week,_cons)``, ``var(R.id)``) with the
    index of the parameter in ``params``; ``level_label`` is ``id``, ``school>class``, ``_all``.
    """

    level_label: str
    kind_label: str
    rows: list[tuple[str, int]]


@dataclass
class FitInfo:
    """Everything the results class prints or exposes beyond params / cov_params.

    Attributes
    ----------
    title : str
        "Mixed-effects ML regression", "Mixed-effects logistic regression", ...
    llf : float
        Maximized log likelihood (restricted log likelihood for REML).
    ll_label : str
        "Log likelihood" or "Log restricted-likelihood".
    k_fe : int
        Number of fixed-effects parameters (the first equation; eform applies to these only).
    ancillary : list of int
        Indices of ancillary parameters shown after the fixed effects (``/cut1``, ``/lnalpha``).
    exp_rows : list of (label, int)
        Rows under the ancillary parameters that show the exponential of a log-scale
        ancillary parameter (``sigma`` of ``/logs`` in mestreg's gamma model): estimate and
        interval exponentiated, standard error by the delta method.
    vcomp_groups : list of VCompGroup
        Random-effects table sections, in display order.
    residual : tuple (label, index) or None
        ``("var(Residual)", i)`` for mixed, ``("var(e.lnor)", i)`` for gaussian meglm.
    eform : str or None
        Column title when displayed exponentiated ("Odds ratio", "IRR", "exp(b)").
    wald : tuple (chi2, df, pvalue) or None
        Wald test of all fixed effects but the constant.
    lr_test : LRTest or None
    llf_fixed : float or None
        Log likelihood of the model without random effects.
    intmethod, intpoints : str or None, int or None
        Shown in the GLMM header ("mvaghermite", 7).
    extra_header : list of (label, value)
        Further header lines, e.g. ("Binomial variable", "napplied").
    header_block : list of (left text, right label, right value)
        Rows printed under the title instead of the ``extra_header`` lines, for commands
        whose header pairs text on the left with counts on the right (``metobit``'s
        "Limits: Lower = 0" next to "Left-censored = 144"); ``extra_header`` still lists
        the items for the exported summaries.
    notes : list of str
        Printed under the tables ("Estimates are transformed only in the first equation ...").
    converged : bool
    iterations : int
    iteration_log : list of str
        The Stata-like iteration log lines (printed when ``disp=True``).
    method : str
        "ML" or "REML".
    df_resid_fe : None
        Reserved for small-sample degrees of freedom (``dfmethod()``).
    vce_note : str or None
        Under ``vce(robust)``/``vce(cluster)``: the line over the tables, e.g.
        "(Std. err. adjusted for 9 clusters in id)"; the standard-error columns are then
        headed "Robust".
    optimization : OptimizationRecord or None
        The course and outcome of the optimization (stages, iterations, evaluations,
        criterion, scaled gradient, Hessian condition, warnings), when the estimator keeps one.
    params_internal : ndarray or None
        The estimates on the estimator's internal (optimization) scale, when it has one
        (meglm: fixed effects, ancillary parameters, Cholesky factor elements).
    group_table : pandas.DataFrame or None
        The summary's table of groups per level (``Design.group_summary``'s form) when the
        model's design does not hold the whole estimation sample (a fit on a dask
        DataFrame); None: the design's.
    design_notes : list of str or None
        The summary's design notes when the model's design does not hold the whole
        estimation sample (a fit on a dask DataFrame: the dropped rows counted over the
        partitions); None: the design's.
    """

    title: str
    llf: float
    ll_label: str = "Log likelihood"
    k_fe: int = 0
    ancillary: list[int] = field(default_factory=list)
    exp_rows: list[tuple[str, int]] = field(default_factory=list)
    vcomp_groups: list[VCompGroup] = field(default_factory=list)
    residual: tuple[str, int] | None = None
    eform: str | None = None
    wald: tuple[float, int, float] | None = None
    lr_test: LRTest | None = None
    llf_fixed: float | None = None
    intmethod: str | None = None
    intpoints: int | None = None
    extra_header: list[tuple[str, str]] = field(default_factory=list)
    header_block: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    converged: bool = True
    iterations: int = 0
    iteration_log: list[str] = field(default_factory=list)
    method: str = "ML"
    df_resid_fe: None = None
    vce_note: str | None = None
    optimization: OptimizationRecord | None = None
    params_internal: np.ndarray | None = None
    group_table: pd.DataFrame | None = None
    design_notes: list | None = None
