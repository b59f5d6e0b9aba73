"""Predictions on new data after ``mixed`` and ``meglm`` (one level, nested, crossed).

The new rows' fixed-effects columns and random-effects covariates come from
:func:`statsmodels_me.design.new_rows.new_rows`, coded with the estimation sample's factor
levels and fitted transforms. Rows of groups seen in estimation get the group's predicted
random effects (BLUPs after ``mixed``, empirical Bayes means or modes after ``meglm``, as the
fitted model's own ``predict("reffects")`` reports them); rows of groups the fit never saw get
the fixed portion (random effects zero, lme4's ``allow.new.levels``) or an error with
``new_groups="error"``. Rows with a missing covariate are NaN at their own index.

Standard errors of :func:`get_prediction` carry the uncertainty of the fixed effects (the
predicted random effects are taken as known, as Stata's ``stdp``); nonlinear statistics use
the delta method, and their intervals are the linear predictor's mapped through the inverse
link (statsmodels' ``PredictionResultsMean``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special
from statsmodels.base._prediction_inference import PredictionResultsMean
from statsmodels.genmod.families import links as sm_links

from statsmodels_me.design.new_rows import new_rows
from statsmodels_me.families import get_family, statsmodels_link
from statsmodels_me.postestimation.menl_newdata import predict_menl
from statsmodels_me.spec.errors import DataError, SpecificationError

MIXED_STATISTICS = ("xb", "fitted", "stdp", "reffects", "residuals", "rstandard")
MEGLM_STATISTICS = ("xb", "eta", "mu", "pr", "stdp", "reffects")
NEW_GROUPS = ("zero", "error")

__all__ = ["MEGLM_STATISTICS", "MIXED_STATISTICS", "NewLinearPredictor", "get_prediction",
           "predict_new"]


def is_glmm(results) -> bool:
    """True for results of ``meglm`` and its shortcuts (models with a family)."""
    return hasattr(results.model, "family")


def _check_supported(results):
    command = results.model.spec.command
    if not (is_glmm(results) or command.startswith("mixed")):
        raise NotImplementedError(f"prediction on new data is not implemented after "
                                  f"{command}")


def prediction_mode(results, conditional) -> str:
    """``"ebmeans"``, ``"ebmodes"``, ``"fixedonly"`` or ``"marginal"`` from ``conditional``.

    ``None`` or ``True`` plugs in the predicted random effects (BLUPs after ``mixed``,
    empirical Bayes means after ``meglm``); ``False`` is ``"marginal"``.
    """
    if conditional is None or conditional is True:
        return "ebmeans"
    if conditional is False:
        return "marginal"
    allowed = ("ebmeans", "ebmodes", "fixedonly", "marginal")
    if conditional not in allowed:
        raise SpecificationError(f"conditional={conditional!r} is not one of None, True, False, "
                                 f"{', '.join(repr(a) for a in allowed)}")
    if conditional == "ebmodes" and not is_glmm(results):
        raise SpecificationError("conditional='ebmodes' applies after meglm; after mixed the "
                                 "BLUPs are both means and modes (use 'ebmeans')")
    return conditional


def fixed_names(results) -> list[str]:
    """Names of the fixed-effects parameters (the first ``k_fe`` of ``params``)."""
    return list(results.param_names[:results.k_fe])


def _training_effects(results, mode):
    if is_glmm(results):
        return results.predict("reffects", conditional=mode)
    return results.predict("reffects")


def random_part(results, rows, mode, new_groups="zero"):
    """Predicted random effects of the new rows.

    Returns
    -------
    zb : ndarray (m,)
        Sum over levels of z_i' b_g (0 for unseen groups; NaN on incomplete rows).
    effects : DataFrame
        One column per random effect (``name[level]``), indexed like the new data.
    """
    if new_groups not in NEW_GROUPS:
        raise SpecificationError(f"new_groups={new_groups!r} is not one of 'zero', 'error'")
    design = results.model.design
    m = len(rows.index)
    zb = np.zeros(m)
    columns = {}
    train = _training_effects(results, "ebmodes" if mode == "ebmodes" else "ebmeans")
    for level in design.levels:
        g = rows.group_codes(level)
        _check_new_groups(level, g, rows, new_groups)
        for block, Z in zip(level.blocks, rows.level_Z(level)):
            if block.factor_codes is None:
                cols = [f"{n}[{level.label}]" for n in block.names]
                per_group = np.zeros((level.n_groups, len(cols)))
                per_group[level.codes] = train[cols].to_numpy()
                eff = np.zeros((m, len(cols)))
                eff[g >= 0] = per_group[g[g >= 0]]
                zb += np.einsum("ij,ij->i", np.where(np.isnan(Z), 0.0, Z), eff)
                for j, c in enumerate(cols):
                    columns[c] = eff[:, j]
            else:
                eff = _factor_block_effects(level, block, g, rows, train, new_groups)
                zb += eff
                columns[f"{block.names[0]}[{level.label}]"] = eff
    frame = pd.DataFrame(columns, index=rows.index)
    frame[~rows.complete] = np.nan
    zb[~rows.complete] = np.nan
    return zb, frame


def _check_new_groups(level, g, rows, new_groups):
    unseen = rows.complete & (g < 0)
    if new_groups == "error" and unseen.any():
        raise DataError(f"new data: {int(unseen.sum())} row(s) belong to group(s) of "
                        f"'{level.label}' that are not in the estimation sample (rows "
                        f"{', '.join(str(i) for i in rows.index[unseen][:5])}); pass "
                        f"new_groups='zero' to predict them from the fixed portion")


def _factor_block_effects(level, block, g, rows, train, new_groups):
    """Row effects of an ``R.var`` block: the effect of the row's (group, level of var)."""
    var = block.names[0][2:]
    nlev = len(block.factor_levels)
    f = rows.factor_codes(var)
    table = np.full(level.n_groups * nlev, np.nan)
    one_column = f"{block.names[0]}[{level.label}]"
    if one_column in train.columns:           # mixed: the effect each row receives
        table[level.codes * nlev + block.factor_codes] = train[one_column].to_numpy()
    else:                                     # meglm: one column per level of var
        cols = [f"{v:g}.{var}[{level.label}]" for v in block.factor_levels]
        per_group = np.zeros((level.n_groups, nlev))
        per_group[level.codes] = train[cols].to_numpy()
        table[:] = per_group.ravel()
    known = (g >= 0) & (f >= 0)
    eff = np.zeros(len(g))
    eff[known] = table[g[known] * nlev + f[known]]
    unseen = rows.complete & ~(known & np.isfinite(eff))
    if new_groups == "error" and unseen.any():
        raise DataError(f"new data: {int(unseen.sum())} row(s) have a ({level.label}, {var}) "
                        f"combination that is not in the estimation sample")
    eff[~np.isfinite(eff)] = 0.0
    return eff


class _Linear:
    """Fixed part of the new rows: X, offset, xb and Var(xb)."""

    def __init__(self, results, data, nooffset=False):
        _check_supported(results)
        self.rows = new_rows(results.model.design, data)
        self.names = fixed_names(results)
        self.X = self.rows.exog(self.names)
        beta = np.asarray(results.params, dtype=float)[:results.k_fe]
        off = self.rows.offset()
        self.xb = self.X @ beta
        if off is not None and not nooffset:
            self.xb = self.xb + off
        V = np.asarray(results.cov_params(), dtype=float)[:results.k_fe, :results.k_fe]
        Xz = np.where(np.isnan(self.X), 0.0, self.X)
        self.var_xb = np.einsum("ij,jk,ik->i", Xz, V, Xz)
        self.var_xb[~self.rows.complete] = np.nan


def _aux(results, family):
    """Internal ancillary parameters from the displayed ones (cutpoints, ln alpha, ...)."""
    model = results.model
    params = np.asarray(results.params, dtype=float)
    k_aux = int(getattr(model, "k_aux", 0))
    n_front = len(getattr(model, "ancillary_names", []))
    if k_aux == 0:
        return np.empty(0)
    front = params[results.k_fe:results.k_fe + n_front]
    back = params[len(params) - (k_aux - n_front):] if k_aux > n_front else np.empty(0)
    return family.ancillary_from_display(front, back)


def level_covariances(results, params=None):
    """Random-effects covariance matrix of each level (label -> ndarray) at ``params``
    (default the estimates), from the display-scale variances and covariances."""
    params = np.asarray(results.params if params is None else params, dtype=float)
    out = {}
    for cov, sl in results.re_covariances:
        vals = params[sl]
        mat = np.zeros((cov.q, cov.q))
        for row, v in zip(cov.rows, vals):
            mat[row.i, row.j] = mat[row.j, row.i] = v
        if cov.kind_label == "Identity":
            mat = np.eye(cov.q) * vals[0]
        out[cov.level_label] = mat
    return out


def marginal_Z(results, rows):
    """Random-effects covariates of the new rows, one (m, q) array per level."""
    out = []
    for level in results.model.design.levels:
        if any(b.factor_codes is not None for b in level.blocks):
            raise NotImplementedError("marginal predictions on new data with R. random "
                                      "effects are not implemented")
        out.append((level.label, np.hstack(rows.level_Z(level))))
    return out


def marginal_sd(results, Zs, params=None):
    """sd of z_i'b over every level (the prior of the random effects) at ``params``."""
    covs = level_covariances(results, params)
    var = np.zeros(len(Zs[0][1])) if Zs else 0.0
    for label, Z in Zs:
        var = var + np.einsum("ij,jk,ik->i", Z, covs[label], Z)
    return np.sqrt(var)


def gh_mean(fn, eta, sd, points=30):
    """E fn(eta + sd v), v ~ N(0, 1), by Gauss-Hermite quadrature."""
    nodes, weights = special.roots_hermitenorm(points)
    weights = weights / weights.sum()
    out = np.zeros(len(eta))
    for v, w in zip(nodes, weights):
        out += w * fn(eta + sd * v)
    return out


def response_function(results, statistic, data, rows, outcome):
    """(function of eta, name) of ``mu`` / ``pr`` for the new rows."""
    model = results.model
    family = get_family(model.family, model.link)
    if statistic == "pr":
        family.check_statistic(statistic)
    aux = _aux(results, family)
    trials = rows.trials(data)
    trials = np.ones(len(rows.index)) if trials is None else trials
    if statistic == "pr":
        cats = getattr(model, "categories", None)
        if cats is not None:
            k = 0 if outcome is None else np.flatnonzero(np.asarray(cats) == outcome)
            if outcome is not None and len(k) == 0:
                raise SpecificationError(f"predict pr: outcome({outcome}) is not one of "
                                         f"{', '.join(f'{c:g}' for c in cats)}")
            k = int(k if np.ndim(k) == 0 else k[0])
            return (lambda e: family.probability(e, trials, aux, k)), f"pr{cats[k]:g}"
        return (lambda e: family.probability(e, trials, aux)), "pr"
    return (lambda e: family.mean(e, trials, aux)), "mu"


def predict_new(results, statistic, data, conditional=None, new_groups="zero", outcome=None,
                nooffset=False):
    """Stata's ``predict`` on new rows.

    Parameters
    ----------
    results : results of ``mixed`` or ``meglm``
    statistic : str
        After ``mixed``: ``xb``, ``fitted`` (xb + z'b), ``stdp``, ``reffects``, ``residuals``
        and ``rstandard`` (the new data then hold the response). After ``meglm``: ``xb``,
        ``eta``, ``mu``, ``pr`` (``outcome=`` for ordinal models), ``stdp``, ``reffects``.
    data : pandas.DataFrame
        New rows with every covariate, grouping and offset variable; not modified.
    conditional : None, bool or {"ebmeans", "ebmodes", "fixedonly", "marginal"}
        How random effects enter (see :func:`prediction_mode`). ``marginal`` integrates
        ``mu``/``pr`` over the random-effects distribution.
    new_groups : {"zero", "error"}
        Rows of groups the fit never saw: fixed portion only, or a DataError.
    outcome : number, optional
        Outcome of ``pr`` after ordinal models (default: the first category).
    nooffset : bool
        Leave ``offset()``/``exposure()`` out (meglm).

    Returns
    -------
    pandas.Series (DataFrame for ``reffects``) indexed like ``data``.
    """
    if getattr(results.model, "command", "") == "menl":
        if conditional not in (None, True, "fixedonly"):
            raise SpecificationError("menl predict: conditional must be None or 'fixedonly'")
        return predict_menl(results, statistic, data, conditional == "fixedonly", new_groups)
    _check_supported(results)
    glmm = is_glmm(results)
    allowed = MEGLM_STATISTICS if glmm else MIXED_STATISTICS
    if statistic not in allowed:
        raise SpecificationError(f"predict with data=: statistic '{statistic}' is not "
                                 f"available on new data; expected one of {', '.join(allowed)}")
    mode = prediction_mode(results, conditional)
    lin = _Linear(results, data, nooffset)
    index = lin.rows.index
    if statistic == "xb":
        return pd.Series(lin.xb, index=index, name="xb")
    if statistic == "stdp":
        return pd.Series(np.sqrt(lin.var_xb), index=index, name="stdp")
    if statistic == "reffects":
        return random_part(results, lin.rows, mode, new_groups)[1]
    eta = lin.xb
    if mode in ("ebmeans", "ebmodes"):
        eta = lin.xb + random_part(results, lin.rows, mode, new_groups)[0]
    if not glmm:
        if statistic == "fitted":
            return pd.Series(eta, index=index, name="fitted")
        y = _response(results, data)
        resid = y - eta
        if statistic == "residuals":
            return pd.Series(resid, index=index, name="residuals")
        s2 = float(np.asarray(results.params)[-1])
        return pd.Series(resid / np.sqrt(s2), index=index, name="rstandard")
    if statistic == "eta":
        if mode == "marginal":
            raise SpecificationError("predict eta: the marginal linear predictor is xb")
        return pd.Series(eta, index=index, name="eta")
    fn, name = response_function(results, statistic, data, lin.rows, outcome)
    if mode == "marginal":
        sd = marginal_sd(results, marginal_Z(results, lin.rows))
        vals = gh_mean(fn, np.where(np.isnan(eta), 0.0, eta), np.where(np.isnan(sd), 0.0, sd))
    else:
        vals = fn(np.where(np.isnan(eta), 0.0, eta))
    vals = np.asarray(vals, dtype=float)
    vals[~lin.rows.complete] = np.nan
    return pd.Series(vals, index=index, name=name)


class NewLinearPredictor:
    """Linear predictors of new rows for the commands whose statistics are functions of
    them (``metobit``, ``meintreg``, ``mestreg``).

    Attributes
    ----------
    rows : NewRows
    xb : ndarray (m,)
        Fixed part (with the offset unless ``nooffset``); NaN on incomplete rows.
    eta : ndarray (m,) or None
        xb plus the predicted random effects of known groups (fixed portion for unseen ones,
        xb with ``fixedonly``); None for marginal predictions.
    sd : ndarray (m,) or None
        Marginal predictions: sd of z_i'b under the fitted random-effects distribution.
    """

    def __init__(self, results, data, conditional=None, new_groups="zero", nooffset=False):
        if new_groups not in NEW_GROUPS:
            raise SpecificationError(f"new_groups={new_groups!r} is not one of 'zero', "
                                     "'error'")
        mode = prediction_mode(results, conditional)
        lin = _Linear(results, data, nooffset)
        self.rows, self.xb, self.eta, self.sd = lin.rows, lin.xb, None, None
        if mode == "marginal":
            self.sd = marginal_sd(results, marginal_Z(results, lin.rows))
        elif mode == "fixedonly":
            self.eta = lin.xb
        else:
            self.eta = lin.xb + random_part(results, lin.rows, mode, new_groups)[0]


def _response(results, data):
    yname = results.model.design.endog_names[0]
    if yname not in data.columns:
        raise DataError(f"residuals on new data need the response '{yname}' in the data")
    return data[yname].to_numpy(dtype=np.float64)


def get_prediction(results, statistic=None, data=None, conditional=None, new_groups="zero",
                   outcome=None, nooffset=False):
    """Predictions with standard errors and confidence intervals, as statsmodels'
    ``get_prediction`` (``.summary_frame()``, ``.conf_int()``, ``.se_mean``).

    Parameters
    ----------
    statistic : str, optional
        ``xb`` or ``fitted`` after ``mixed`` (default ``fitted``); ``xb``, ``eta``, ``mu`` or
        ``pr`` after ``meglm`` (default ``mu``; ``mu`` and ``pr`` only when they are the
        inverse link of eta: no binomial trials, not ordinal).
    data : pandas.DataFrame
        New rows (required).
    conditional, new_groups, outcome, nooffset
        As in :func:`predict_new`; ``marginal`` is not available here.

    Returns
    -------
    statsmodels.base._prediction_inference.PredictionResultsMean
        Standard errors from the covariance of the fixed effects (random effects taken as
        known); ``mu`` by the delta method with intervals mapped from the linear predictor.
    """
    if data is None:
        raise SpecificationError("get_prediction: pass the rows to predict as data=")
    glmm = is_glmm(results)
    statistic = statistic or ("mu" if glmm else "fitted")
    linear = ("xb", "fitted", "eta")
    if statistic not in linear + ("mu", "pr") or (not glmm and statistic not in linear):
        raise SpecificationError(f"get_prediction: statistic '{statistic}' has no standard "
                                 "error here; use xb, fitted (mixed) or xb, eta, mu, pr (meglm)")
    mode = prediction_mode(results, conditional)
    if mode == "marginal":
        raise SpecificationError("get_prediction: marginal predictions have no standard "
                                 "error here (use conditional='fixedonly' or 'ebmeans')")
    lin = _Linear(results, data, nooffset)
    eta = lin.xb
    if statistic != "xb" and mode in ("ebmeans", "ebmodes"):
        eta = eta + random_part(results, lin.rows, mode, new_groups)[0]
    labels = list(lin.rows.index)
    linpred = PredictionResultsMean(eta, lin.var_xb, dist="norm", row_labels=labels,
                                    link=sm_links.Identity())
    if statistic in linear:
        linpred.linpred = linpred
        return linpred
    model = results.model
    family = get_family(model.family, model.link)
    if getattr(model, "categories", None) is not None or (
            model.design.spec.options.get("binomial") not in (None, False, 1)):
        raise SpecificationError(f"get_prediction {statistic}: only when it is the inverse "
                                 "link of eta (not ordinal, no binomial trials)")
    link = statsmodels_link(model.link)
    if statistic == "pr":
        family.check_statistic(statistic)
    mu = link.inverse(eta)
    deriv = link.inverse_deriv(eta)
    return PredictionResultsMean(mu, deriv ** 2 * lin.var_xb, dist="norm", row_labels=labels,
                                 linpred=linpred, link=link)
