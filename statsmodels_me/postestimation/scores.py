"""``predict, scores`` after ``meglm`` (and its shortcuts) and after ``mixed``.

Stata's ``scores`` are the first derivatives of the log likelihood (log pseudolikelihood
with sampling weights) with respect to each parameter of ``e(b)``. The likelihood of a
multilevel model splits only over the highest-level groups, so there is one score per
highest-level group; as Stata's ``mixed`` documents, it is placed on the last record of
the group and the other records are missing (NaN). Summed over the groups the scores are
the gradient (zero at the maximum); their outer products are the meat of the cluster
sandwich behind ``vce(robust)`` (:mod:`statsmodels_me.inference.sandwich`).

The parameters are those of ``results.params`` (this package's ``e(b)``): the fixed effects,
the ancillary parameters, the variances and covariances of the random effects and the
residual variance. Stata's ``meglm`` stores the same variances and covariances in ``e(b)``;
Stata's ``mixed`` stores log standard deviations and inverse hyperbolic tangents of the
correlations: ``mixed_scores(res, metric="stata")`` gives the scores in those by the chain
rule (:func:`stata_metric`).

The objectives give the per-cluster scores in their internal parameters x (fixed effects,
ancillary parameters, Cholesky elements); with the display map d = D(x) the scores in d are
s_d = s_x J^-1, J = dD/dx.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from statsmodels_me.objectives.lmm_contributions import top_level_clusters
from statsmodels_me.spec.errors import SpecificationError

__all__ = ["glmm_scores", "mixed_scores"]


def _last_records(codes, n_clusters):
    """Row position of the last record of every cluster ``0..n_clusters-1``."""
    codes = np.asarray(codes)
    last = np.full(n_clusters, -1, dtype=np.intp)
    last[codes] = np.arange(len(codes))  # later rows overwrite earlier ones
    return last


def _frame(scores, rows, nobs, index, names):
    """(G, k) cluster scores on their clusters' last records, NaN elsewhere."""
    out = np.full((nobs, scores.shape[1]), np.nan)
    out[rows] = scores
    return pd.DataFrame(out, index=index, columns=list(names))


def display_scores(internal_scores, jacobian, at_bound, command):
    """Scores in the display parameters from scores in the internal ones.

    Parameters
    ----------
    internal_scores : ndarray (G, n_internal)
    jacobian : callable
        ``jacobian(x_shift) -> (n_display, n_internal)``: the display map's Jacobian at the
        estimates moved by ``x_shift`` (zero: at the estimates).
    at_bound : list of int
        Internal coordinates at their lower bound (a Cholesky diagonal at zero). The
        display rows they feed have a zero derivative in them (dvar / dL = 2 L = 0), so
        the internal scores do not determine the derivatives in those rows: NaN.
    command : str

    Returns
    -------
    ndarray (G, n_display)

    Raises
    ------
    NotImplementedError
        A covariance structure with fewer parameters than displayed rows (exchangeable,
        pattern(), fixed()): the derivative in one displayed row alone is not a function
        of the model's parameters.
    """
    s = np.asarray(internal_scores, float)
    J = jacobian(0.0)
    n_disp, n_int = J.shape
    if n_disp != n_int:
        raise NotImplementedError(
            f"predict scores after {command}: a covariance structure shows more variance "
            f"and covariance rows ({n_disp} parameters) than it estimates ({n_int}); scores "
            "are implemented for identity, independent and unstructured structures")
    if not at_bound:
        return np.linalg.solve(J.T, s.T).T
    dead = set()
    for i in at_bound:
        shift = np.zeros(n_int)
        shift[i] = 1e-3
        dead.update(np.flatnonzero(jacobian(shift)[:, i] != 0).tolist())
    free = [i for i in range(n_int) if i not in set(at_bound)]
    rows = [r for r in range(n_disp) if r not in dead]
    out = np.full((s.shape[0], n_disp), np.nan)
    if len(rows) == len(free):
        out[:, rows] = np.linalg.solve(J[np.ix_(rows, free)].T, s[:, free].T).T
    return out


def _at_bound(x, bounds):
    return [i for i, (lo, _) in enumerate(bounds)
            if lo is not None and abs(x[i] - lo) < 1e-6]


def glmm_scores(results):
    """Scores after ``meglm`` and its shortcuts (``predict("scores")``).

    Returns
    -------
    DataFrame
        Indexed like the estimation sample, one column per parameter (``param_names``): the
        score of each highest-level group on its last record, NaN on the others. With
        crossed effects the likelihood does not split: one row, the whole sample's
        gradient, on the last record.
    """
    model = results.model
    obj = model.objective
    x = np.asarray(results.params_internal, float)
    _, s_int = obj.contributions(x)
    dmap = model.display_map
    scores = display_scores(s_int, lambda shift: dmap.jacobian(x + shift),
                            _at_bound(x, obj.bounds), model.spec.command)
    design = model.design
    nobs = len(design.row_index)
    if s_int.shape[0] == 1:
        rows = np.array([nobs - 1])
    else:
        top = design.levels[0]
        last = _last_records(top.codes, top.n_groups)
        rows = last[np.asarray(obj.cluster_order(top.n_groups))]
    return _frame(scores, rows, nobs, design.row_index, results.param_names)


def mixed_scores(results, metric="params"):
    """Scores after ``mixed`` (``predict("scores")``), by ML only.

    Parameters
    ----------
    metric : {"params", "stata"}
        ``"params"``: in the parameters of ``results.params`` (variances and covariances).
        ``"stata"``: in Stata's ``mixed`` ``e(b)`` metric, whose columns are
        ``lns{level}_{equation}_{k}:_cons`` (log standard deviations), ``atr{level}_
        {equation}_{i}_{j}:_cons`` (inverse hyperbolic tangents of the correlations) and
        ``lnsig_e:_cons`` (log residual standard deviation), levels numbered from the
        highest; the fixed effects keep their names.

    Returns
    -------
    DataFrame
        As :func:`glmm_scores`.

    Raises
    ------
    SpecificationError
        After REML (Stata: scores are not available after REML estimation).
    NotImplementedError
        Crossed random effects, ``residuals()`` structures and ``covariance(fixed())``
        models, whose objectives have no per-cluster contributions.
    """
    model = results.model
    if model.reml:
        raise SpecificationError("predict scores is not available after restricted "
                                 "maximum-likelihood (REML) estimation; fit by ML")
    if getattr(model, "residual", None) is not None or model.absolute:
        raise NotImplementedError("predict scores after mixed is not implemented with "
                                  "residuals() or covariance(fixed()) structures")
    codes, crossing = top_level_clusters(model.terms)
    if codes is None or model.design.crossed:
        raise NotImplementedError(f"predict scores after mixed needs nested random effects "
                                  f"(the likelihood splits over highest-level groups only "
                                  f"then); {crossing or 'the effects are crossed'}")
    params = np.asarray(results.params, float)
    k = model.k_fe
    beta, s2, theta = params[:k], float(params[-1]), np.asarray(results.theta, float)
    _, s_int = model.objective.contributions(theta, beta, s2)
    vc = model.components
    x = np.concatenate([beta, theta, [s2]])
    bounds = [(None, None)] * k + list(model.theta_bounds()) + [(0.0, None)]

    def jacobian(shift):
        z = x + shift
        J = np.zeros((len(params), len(x)))
        J[:k, :k] = np.eye(k)
        J[k:, k:] = vc.jacobian(z[k:-1], z[-1])
        return J
    scores = display_scores(s_int, jacobian, _at_bound(x, bounds[:-1]), "mixed")
    names = list(results.param_names)
    if metric == "stata":
        J, stata_names = stata_metric(model.level_covs, params[k:])
        scores = np.hstack([scores[:, :k], scores[:, k:] @ J])
        names = names[:k] + stata_names
    elif metric != "params":
        raise SpecificationError(f"scores: metric={metric!r} is not 'params' or 'stata'")
    n_clusters = int(codes.max()) + 1
    rows = _last_records(codes, n_clusters)
    design = model.design
    return _frame(scores, rows, len(design.row_index), design.row_index, names)


def _block_of(starts, i):
    """Equation (block) of random effect ``i`` of a level, from the blocks' start indices."""
    return int(np.searchsorted(starts, i, side="right")) - 1


def stata_metric(level_covs, values):
    """Jacobian of the variances, covariances and residual variance (``values``, display
    order, residual last) in Stata's ``mixed`` metric, and that metric's ``e(b)`` names.

    A variance v = exp(2 lns); a covariance c = tanh(atr) sd_i sd_j, so dc / d atr =
    (1 - rho^2) sd_i sd_j and dc / d lns_i = c; the residual variance exp(2 lnsig_e).

    Returns
    -------
    J : ndarray (n, n)
        J[r, s] = d value_r / d phi_s.
    names : list of str
    """
    values = np.asarray(values, float)
    n = len(values)
    J = np.zeros((n, n))
    names = []
    pos = 0
    for level, cov in enumerate(level_covs, start=1):
        blocks = getattr(cov, "blocks", None) or [cov]
        starts = np.cumsum([0] + [b.q for b in blocks])
        rows = list(cov.rows)
        covering = {}
        for r, row in enumerate(rows):
            if row.is_variance:
                e = _block_of(starts, row.i)
                if blocks[e].kind_label == "Identity":
                    covering.update({i: r for i in range(starts[e], starts[e + 1])})
                else:
                    covering[row.i] = r
        for r, row in enumerate(rows):
            e = _block_of(starts, row.i)
            i, j = row.i - starts[e] + 1, row.j - starts[e] + 1
            if row.is_variance:
                J[pos + r, pos + r] = 2.0 * values[pos + r]
                names.append(f"lns{level}_{e + 1}_{i}:_cons")
                continue
            vi, vj = values[pos + covering[row.i]], values[pos + covering[row.j]]
            sd = np.sqrt(vi * vj)
            rho = values[pos + r] / sd
            J[pos + r, pos + r] = (1.0 - rho * rho) * sd
            J[pos + r, pos + covering[row.i]] += values[pos + r]
            J[pos + r, pos + covering[row.j]] += values[pos + r]
            names.append(f"atr{level}_{e + 1}_{i}_{j}:_cons")
        pos += len(rows)
    J[-1, -1] = 2.0 * values[-1]
    names.append("lnsig_e:_cons")
    return J, names
