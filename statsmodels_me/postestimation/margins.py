"""Stata's ``margins``: predictive margins, average marginal effects and elasticities.

A margin is the average over the rows of the estimation sample (or ``data=``) of a
prediction evaluated with some covariates set to given values (``at=``, the levels of a
factor in ``variables=``); ``over=`` averages within the groups of a variable. Marginal
effects average the per-row derivative (``dydx``) or elasticity (``eyex``: dy/dx x/y,
``dyex``: dy/dx x, ``eydx``: dy/dx / y) of a continuous covariate, computed by central
differences on the covariate through the design (so transforms and interactions follow), and
the discrete change from the base level for a factor variable, as Stata does.

Standard errors are the delta method: the Jacobian of each margin with respect to the
fixed effects (central differences) with their covariance. The predictions used here
(``xb``, ``eta``, ``mu``, ``pr`` with the random effects at zero or at their predictions)
depend on no other parameter, so this is the full covariance's delta method.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from statsmodels_me.design.factors import level_label
from statsmodels_me.design.new_rows import new_rows
from statsmodels_me.postestimation.newdata import (
    fixed_names,
    gh_mean,
    is_glmm,
    marginal_sd,
    marginal_Z,
    prediction_mode,
    random_part,
    response_function,
)
from statsmodels_me.spec.errors import DataError, SpecificationError

COLUMNS = ["margin", "std_err", "z", "pvalue", "ci_lower", "ci_upper"]

__all__ = ["COLUMNS", "margins"]


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _factor_variables(design) -> list[str]:
    """Variables entering the fixed part as factors (``i.``, or string columns in formulas)."""
    out = []
    for term in design.spec.fixed:
        for f in term.factors:
            if f.kind != "formula" and f.var in design.factor_levels and f.var not in out:
                out.append(f.var)
    return out


def _base_level(design, var):
    """Training base level of factor ``var`` (Stata's ``b.`` marker in ``e(b)``)."""
    levels = design.factor_levels[var]
    for name in design.base_levels:
        for part in name.split("#"):
            head, _, v = part.partition(".")
            if v == var and head.endswith("b"):
                label = head[:-1]
                for lev in levels:
                    if level_label(lev) == label:
                        return lev
    return levels[0]


class _Predictor:
    """Per-row prediction of one statistic as a function of the parameter vector."""

    def __init__(self, results, statistic, mode, outcome):
        self.results = results
        self.statistic = statistic
        self.mode = mode
        self.outcome = outcome
        self.names = fixed_names(results)
        self.k = results.k_fe
        self.glmm = is_glmm(results)

    def parts(self, frame):
        """(X, shift, fn, Zs): prediction = fn(X beta + shift), integrated over the random
        effects (covariates Zs) when marginal."""
        rows = new_rows(self.results.model.design, frame)
        if not rows.complete.all():
            raise DataError("margins: the data have missing values in the model's covariates")
        X = rows.exog(self.names)
        shift = np.zeros(len(frame))
        off = rows.offset()
        if off is not None:
            shift += off
        if self.statistic != "xb" and self.mode in ("ebmeans", "ebmodes"):
            shift += random_part(self.results, rows, self.mode, "zero")[0]
        fn, Zs = None, None
        if self.statistic in ("mu", "pr"):
            fn = response_function(self.results, self.statistic, frame, rows, self.outcome)[0]
            if self.mode == "marginal":
                Zs = marginal_Z(self.results, rows)
        return X, shift, fn, Zs

    def values(self, parts, params):
        X, shift, fn, Zs = parts
        eta = X @ params[:self.k] + shift
        if fn is None:
            return eta
        if Zs is not None:
            return gh_mean(fn, eta, marginal_sd(self.results, Zs, params))
        return np.asarray(fn(eta), dtype=float)


def _scenarios(at, variables, design, data):
    """[(label, {var: value})] for every ``at`` combination and level of ``variables``."""
    at = dict(at or {})
    at_items = []
    for var, val in at.items():
        if var not in data.columns:
            raise SpecificationError(f"margins at(): '{var}' is not a variable of the data")
        vals = list(np.atleast_1d(val))
        at_items.append([(var, v) for v in vals])
    at_combos = list(itertools.product(*at_items)) if at_items else [()]
    var_items = []
    for var in variables:
        if var not in design.factor_levels:
            raise SpecificationError(f"margins: '{var}' is not a factor variable of the model "
                                     "(use at= for continuous covariates)")
        var_items.append([(var, lev) for lev in design.factor_levels[var]])
    var_combos = list(itertools.product(*var_items)) if var_items else [()]
    out = []
    for k, ac in enumerate(at_combos):
        for vc in var_combos:
            parts = [f"{level_label(v)}.{n}" for n, v in vc]
            if len(at_combos) > 1:
                parts.append(f"{k + 1}._at")
            out.append(("#".join(parts), dict(ac) | dict(vc)))
    return out


def _balanced(frame, design, fixed_vars):
    """Rows replicated over every level combination of the factors not set explicitly."""
    factors = [v for v in _factor_variables(design) if v not in fixed_vars]
    if not factors:
        return frame, np.ones(len(frame))
    grid = pd.DataFrame(list(itertools.product(*[design.factor_levels[v] for v in factors])),
                        columns=factors)
    out = frame.drop(columns=factors).reset_index(drop=True).merge(grid, how="cross")
    return out, np.ones(len(out))


def margins(results, variables=None, at=None, dydx=None, eyex=None, dyex=None, eydx=None,
            over=None, predict=None, conditional="fixedonly", asbalanced=False, data=None,
            outcome=None, alpha=0.05):
    """Stata's ``margins`` after ``mixed`` and ``meglm``.

    Parameters
    ----------
    variables : str or list of str, optional
        Factor variables whose levels get one predictive margin each (``margins children``).
    at : dict, optional
        Variable -> value or list of values (all combinations, Stata's ``at()``).
    dydx, eyex, dyex, eydx : str or list of str, optional
        Average marginal effects (or elasticities) of these covariates; a factor variable
        gives the discrete change of each level from the base level (``dydx`` only).
    over : str, optional
        Margins within each group of this variable.
    predict : str, optional
        ``xb`` (default after ``mixed``), ``fitted``/``eta`` (with random effects), ``mu``
        (default after ``meglm``), ``pr``.
    conditional : {"fixedonly", "ebmeans", "ebmodes", "marginal"}
        Random effects at zero (default), at their predictions, or integrated out
        (``mu``/``pr`` averaged over the random-effects distribution; the standard errors
        then also carry the uncertainty of the variance components).
    asbalanced : bool
        Treat factor covariates as balanced: average over every level combination of the
        factors not set by ``at``/``variables`` with equal weights (the reference grid of R's
        ``emmeans``).
    data : DataFrame, optional
        Rows to average over (default: the estimation sample).
    outcome : number, optional
        Outcome of ``pr`` after ordinal models.
    alpha : float

    Returns
    -------
    DataFrame
        Columns ``margin, std_err, z, pvalue, ci_lower, ci_upper``; rows labelled as
        Stata's (``_cons``, ``1.children``, ``2._at``, ``age``, ``1.children#2._at``,
        ``1.urban`` under ``over`` as ``over#row``).
    """
    design = results.model.design
    glmm = is_glmm(results)
    predict = predict or ("mu" if glmm else "xb")
    allowed = ("xb", "eta", "mu", "pr") if glmm else ("xb", "fitted")
    if predict not in allowed:
        raise SpecificationError(f"margins: predict='{predict}' is not one of "
                                 f"{', '.join(allowed)}")
    mode = prediction_mode(results, conditional)
    statistic = {"fitted": "eta"}.get(predict, predict)
    if data is None:
        data = design.sample_data
        if data is None:
            raise SpecificationError("margins: the estimation sample is not available; pass "
                                     "data=")
    variables = _as_list(variables)
    effects = ([(v, "dydx") for v in _as_list(dydx)] + [(v, "eyex") for v in _as_list(eyex)]
               + [(v, "dyex") for v in _as_list(dyex)] + [(v, "eydx") for v in _as_list(eydx)])
    pred = _Predictor(results, statistic, mode, outcome)
    params = np.asarray(results.params, dtype=float)
    V = np.asarray(results.cov_params(), dtype=float)
    # parameters the predictions depend on: the fixed effects, and with marginal mu/pr the
    # random-effects variances and covariances
    active = list(range(results.k_fe))
    if mode == "marginal" and statistic in ("mu", "pr"):
        active += [j for _, sl in results.re_covariances for j in range(sl.start, sl.stop)]
    scen = _scenarios(at, variables, design, data)
    if over is not None:
        if over not in data.columns:
            raise SpecificationError(f"margins over(): '{over}' is not a variable of the data")
        groups = [(f"{level_label(g)}.{over}", (data[over] == g).to_numpy())
                  for g in np.sort(data[over].dropna().unique())]
    else:
        groups = [("", np.ones(len(data), dtype=bool))]
    fixed_vars = set(variables) | set((at or {}).keys()) | {v for v, _ in effects}

    labels, funcs = [], []
    for glabel, mask in groups:
        sub = data.loc[mask]
        for slabel, setting in scen:
            frame = sub.assign(**setting) if setting else sub
            weights = None
            if asbalanced:
                frame, weights = _balanced(frame, design, fixed_vars)
            for elabel, fn in _margin_functions(pred, frame, effects, design, weights):
                parts = [p for p in (glabel, elabel, slabel) if p]
                labels.append("#".join(parts) if parts else "_cons")
                funcs.append(fn)
    est = np.array([f(params) for f in funcs])
    J = np.array([_gradient(f, params, active, results.k_fe) for f in funcs])
    return delta_method_table(labels, est, J, V, alpha)


def delta_method_table(labels, est, J, V, alpha):
    """Margins' table: delta-method standard errors sqrt(diag(J V J')), z tests and normal
    intervals; ``attrs["jacobian"]`` keeps J (d margin / d params, all parameters)."""
    se = np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    p = 2 * stats.norm.sf(np.abs(z))
    q = stats.norm.ppf(1 - alpha / 2)
    out = pd.DataFrame(np.column_stack([est, se, z, p, est - q * se, est + q * se]),
                       index=pd.Index(labels), columns=COLUMNS)
    out.attrs["jacobian"] = J
    return out


def _margin_functions(pred, frame, effects, design, weights):
    """[(label, beta -> margin)] for a predictive margin or each effect."""
    w = np.ones(len(frame)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    if not effects:
        parts = pred.parts(frame)
        return [("", lambda b, parts=parts: float(w @ pred.values(parts, b)))]
    out = []
    factors = _factor_variables(design)
    for var, kind in effects:
        if var not in frame.columns:
            raise SpecificationError(f"margins {kind}(): '{var}' is not a variable of the data")
        if var in factors:
            if kind != "dydx":
                raise SpecificationError(f"margins {kind}({var}): elasticities of a factor "
                                         "variable are not defined; use dydx")
            base = _base_level(design, var)
            p0 = pred.parts(frame.assign(**{var: base}))
            for lev in design.factor_levels[var]:
                if lev == base:
                    continue
                p1 = pred.parts(frame.assign(**{var: lev}))
                out.append((f"{level_label(lev)}.{var}",
                            lambda b, p1=p1, p0=p0: float(w @ (pred.values(p1, b)
                                                               - pred.values(p0, b)))))
            continue
        x = frame[var].to_numpy(dtype=float)
        h = 1e-5 * max(float(np.std(x)), 1e-3)
        pp = pred.parts(frame.assign(**{var: x + h}))
        pm = pred.parts(frame.assign(**{var: x - h}))
        p0 = pred.parts(frame)

        def effect(b, pp=pp, pm=pm, p0=p0, x=x, h=h, kind=kind):
            d = (pred.values(pp, b) - pred.values(pm, b)) / (2 * h)
            if kind in ("eyex", "eydx"):
                d = d / pred.values(p0, b)
            if kind in ("eyex", "dyex"):
                d = d * x
            return float(w @ d)
        out.append((var, effect))
    return out


def _gradient(f, params, active, k_fe):
    """Gradient of a smooth scalar function in the ``active`` coordinates (zero elsewhere):
    central differences with one Richardson extrapolation (error of order h^4)."""
    g = np.zeros(len(params))
    for j in active:
        h = 1e-3 * max(1.0, abs(params[j]))
        if j >= k_fe and params[j] > 0:
            h = min(h, params[j] / 4)        # a variance stays positive
        e = np.zeros(len(params))
        e[j] = 1.0
        d1 = (f(params + h * e) - f(params - h * e)) / (2 * h)
        d2 = (f(params + h / 2 * e) - f(params - h / 2 * e)) / h
        g[j] = (4 * d2 - d1) / 3
    return g
