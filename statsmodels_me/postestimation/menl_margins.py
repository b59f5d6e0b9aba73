"""Stata's ``margins`` after ``menl``: predictive margins and average marginal effects of the
nonlinear mean function.

Stata's default after ``menl`` is ``predict(yhat fixedonly)``: the mean function at the fixed
effects with every random effect at zero (``e(marginsdefault)`` of ``menl``), so a margin is
a function of ``e(b)`` alone. A margin averages that prediction over the rows of the
estimation sample (or ``data=``) with covariates set by ``at=``, within the groups of
``over=``; marginal effects average the derivative (``dydx``) or elasticity (``eyex``,
``dyex``, ``eydx``) of the prediction in a covariate, by central differences on the covariate.
``predict="parameters(name)"`` averages a ``define()`` expression instead.
``conditional="ebmodes"`` puts each row's groups' conditional modes into the prediction; the
modes are then held at their values (as ``margins`` after ``mixed`` holds the empirical Bayes
predictions), so the standard errors carry the uncertainty of the fixed effects only.

Standard errors are the delta method with the covariance of the fixed effects; the Jacobian of
each margin comes from the mean function's exact derivatives in the fixed effects (for a
marginal effect, the central difference of those derivatives in the covariate). The
prediction depends on no other parameter, so this is the full covariance's delta method.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd

from statsmodels_me.design.factors import level_label
from statsmodels_me.postestimation.margins import delta_method_table
from statsmodels_me.postestimation.menl_newdata import mean_on_rows
from statsmodels_me.spec.errors import DataError, SpecificationError

__all__ = ["menl_margins"]

_CONDITIONAL = ("fixedonly", "ebmodes")


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _statistic(model, predict):
    """The expression node the margins average: the mean function or a ``define()``."""
    if predict in (None, "yhat"):
        return model.spec.expr
    m = re.fullmatch(r"\s*param(?:eter|eters)?\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*",
                     str(predict))
    if m is None:
        raise SpecificationError(f"margins after menl: predict='{predict}' is not 'yhat' or "
                                 "'parameters(name)'; reffects, residuals and rstandard are "
                                 "not functions of the estimates")
    defined = model.spec.defined
    if m.group(1) not in defined:
        raise SpecificationError(f"margins after menl: predict='{predict}': "
                                 f"'{m.group(1)}' is not a define() expression "
                                 f"({', '.join(defined) or 'none defined'})")
    return defined[m.group(1)]


class _Rows:
    """The prediction on a set of rows as a function of the fixed effects: values and
    their exact derivatives ``(f, df/dbeta)``."""

    def __init__(self, results, frame, node, fixedonly):
        self.mean, self.b = mean_on_rows(results, frame, fixedonly)
        self.node = node

    def __call__(self, beta):
        f, X, _ = self.mean.evaluate_of(self.node, beta, self.b)
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(X))):
            raise DataError("margins after menl: the prediction or its derivatives are not "
                            "finite for some rows at the estimates")
        return f, X


def _scenarios(at, data):
    """[(label, {var: value})] for every combination of the ``at`` values (``2._at``)."""
    items = []
    for var, val in dict(at or {}).items():
        if var not in data.columns:
            raise SpecificationError(f"margins at(): '{var}' is not a variable of the data")
        items.append([(var, v) for v in np.atleast_1d(val)])
    combos = list(itertools.product(*items)) if items else [()]
    if len(combos) == 1:
        return [("", dict(combos[0]))]
    return [(f"{k + 1}._at", dict(c)) for k, c in enumerate(combos)]


def _margin_items(results, frame, node, fixedonly, effects):
    """[(label, (value, gradient in beta))] of the predictive margin or of each effect."""
    beta = np.asarray(results.params, dtype=float)[:results.k_fe]
    w = np.full(len(frame), 1.0 / len(frame))
    if not effects:
        f, X = _Rows(results, frame, node, fixedonly)(beta)
        return [("", (float(w @ f), w @ X))]
    variables = results.model.spec.variables
    f0, X0 = _Rows(results, frame, node, fixedonly)(beta)
    out = []
    for var, kind in effects:
        if var not in variables:
            raise SpecificationError(f"margins {kind}(): '{var}' is not a variable of the "
                                     f"menl expression ({', '.join(variables)})")
        x = frame[var].to_numpy(dtype=float)
        # a step on the covariate's scale (its spread, or its size when at() fixes it)
        h = 1e-5 * max(float(np.std(x)), float(np.mean(np.abs(x))), 1e-3)
        fp, Xp = _Rows(results, frame.assign(**{var: x + h}), node, fixedonly)(beta)
        fm, Xm = _Rows(results, frame.assign(**{var: x - h}), node, fixedonly)(beta)
        d, dX = (fp - fm) / (2 * h), (Xp - Xm) / (2 * h)
        if kind in ("eyex", "eydx"):
            dX = dX / f0[:, None] - (d / f0 ** 2)[:, None] * X0
            d = d / f0
        if kind in ("eyex", "dyex"):
            d, dX = d * x, dX * x[:, None]
        out.append((var, (float(w @ d), w @ dX)))
    return out


def menl_margins(results, at=None, dydx=None, eyex=None, dyex=None, eydx=None, over=None,
                 predict=None, conditional="fixedonly", data=None, alpha=0.05):
    """Stata's ``margins`` after ``menl``.

    Parameters
    ----------
    results : MENLResults
    at : dict, optional
        Variable -> value or list of values (all combinations, Stata's ``at()``).
    dydx, eyex, dyex, eydx : str or list of str, optional
        Average marginal effects (or elasticities) of these variables of the expression.
    over : str, optional
        Margins within each group of this variable.
    predict : str, optional
        ``"yhat"`` (the mean function, default) or ``"parameters(name)"`` (a ``define()``
        expression).
    conditional : {"fixedonly", "ebmodes"}
        Random effects at zero (Stata's default ``predict(yhat fixedonly)``) or at their
        conditional modes (held fixed in the standard errors).
    data : DataFrame, optional
        Rows to average over (default: the estimation sample); not modified.
    alpha : float

    Returns
    -------
    DataFrame
        Columns ``margin, std_err, z, pvalue, ci_lower, ci_upper``; rows labelled as Stata
        (``_cons``, ``2._at``, ``age``, ``1.x`` under ``over``, joined with ``#``), as
        :func:`statsmodels_me.postestimation.margins.margins`.
    """
    model = results.model
    if conditional not in _CONDITIONAL:
        raise SpecificationError(f"margins after menl: conditional='{conditional}' is not one "
                                 f"of {', '.join(_CONDITIONAL)} (random effects integrated "
                                 "out of the nonlinear mean are not implemented)")
    node = _statistic(model, predict)
    fixedonly = conditional == "fixedonly"
    if data is None:
        data = model.design.sample_data
    elif not isinstance(data, pd.DataFrame):
        raise DataError(f"margins: data must be a pandas DataFrame, not "
                        f"{type(data).__name__}")
    effects = ([(v, "dydx") for v in _as_list(dydx)] + [(v, "eyex") for v in _as_list(eyex)]
               + [(v, "dyex") for v in _as_list(dyex)] + [(v, "eydx") for v in _as_list(eydx)])
    scen = _scenarios(at, data)
    if over is not None:
        if over not in data.columns:
            raise SpecificationError(f"margins over(): '{over}' is not a variable of the data")
        groups = [(f"{level_label(g)}.{over}", (data[over] == g).to_numpy())
                  for g in np.sort(data[over].dropna().unique())]
    else:
        groups = [("", np.ones(len(data), dtype=bool))]
    k = results.k_fe
    labels, est, jac = [], [], []
    for glabel, mask in groups:
        sub = data.loc[mask]
        for slabel, setting in scen:
            frame = sub.assign(**setting) if setting else sub
            needed = list(model.spec.variables)
            if not fixedonly:
                needed += [v for lev in model.design.levels for v in lev.path]
            lacking = [v for v in needed if v not in frame.columns]
            if lacking:
                raise DataError(f"margins: the data lack the variable(s) "
                                f"{', '.join(lacking)} used by the model")
            if frame[needed].isna().any().any():
                raise DataError("margins: the data have missing values in the variables of "
                                "the menl model")
            for elabel, (value, grad) in _margin_items(results, frame, node, fixedonly,
                                                        effects):
                parts = [p for p in (glabel, elabel, slabel) if p]
                labels.append("#".join(parts) if parts else "_cons")
                est.append(value)
                row = np.zeros(len(results.params))
                row[:k] = grad
                jac.append(row)
    est, J = np.asarray(est), np.asarray(jac)
    V = np.asarray(results.cov_params(), dtype=float)
    return delta_method_table(labels, est, J, V, alpha)
