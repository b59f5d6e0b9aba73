"""Starting values of crossed scalar-intercept LMMs from cheaper sub-model fits."""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize

from statsmodels_me.objectives.lmm_crossed_scalar import CrossedScalarLMM
from statsmodels_me.objectives.lmm_one_term import OneTermLMM


def submodel_start(objective, max_dense=300):
    """Starting theta of a :class:`CrossedScalarLMM` from sub-models, or ``None``.

    The first term alone and the other terms together (each by its own maximum likelihood
    fit; the others one by one when their own dense block would exceed ``max_dense``) give
    variance components sigma_k^2 = theta_k^2 s2; the residual variance is what they leave
    of the variance of the least-squares residuals, and theta_k = sigma_k / sigma_e. Crossed
    effects that the sub-models ignore are absorbed by their residuals, so the start is
    close (a few percent on InstEval) but not the estimate. ``None`` when a term has more
    than one parameter or a sub-model fit fails.
    """
    with objective.blas_scope():
        return _start(objective, max_dense)


def _start(obj, max_dense):
    terms = obj.terms
    if any(len(terms[k].theta_index) != 1 for k in [obj.first] + obj.rest):
        return None
    sizes = [terms[k].size for k in obj.rest]
    groups = [[obj.first]]
    if sum(sizes) - max(sizes) <= max_dense:
        groups.append(list(obj.rest))
    else:
        groups += [[k] for k in obj.rest]
    var = np.zeros(obj.n_theta)
    for ks in groups:
        fit = _fit_submodel(obj, ks)
        if fit is None:
            return None
        theta_k, s2 = fit
        for k, t in zip(ks, theta_k):
            var[terms[k].theta_index[0]] = t * t * s2
    X, y = obj.X, obj.y
    beta = np.linalg.lstsq(obj.XtX, obj.Xty, rcond=None)[0]
    resid = y - X @ beta
    total = float(resid @ resid) / len(y)
    s2e = max(total - var.sum(), 0.05 * total)
    return np.sqrt(np.maximum(var / s2e, 1e-4))


def _fit_submodel(obj, ks):
    """ML fit of the model with only the terms ``ks``: (theta per term, s2) or None."""
    terms = [dataclasses.replace(obj.terms[k], theta_index=np.array([j]))
             for j, k in enumerate(ks)]
    if len(ks) == 1:
        sub = OneTermLMM(obj.y, obj.X, terms)
        res = optimize.minimize_scalar(lambda v: sub.deviance(np.array([v])),
                                       bounds=(0.0, 10.0), method="bounded",
                                       options={"xatol": 1e-3})
        x = np.array([res.x])
    else:
        sub = CrossedScalarLMM(obj.y, obj.X, terms)
        res = optimize.minimize(sub.deviance_and_grad, np.full(len(ks), 0.5), jac=True,
                                method="L-BFGS-B", bounds=[(0.0, None)] * len(ks),
                                options={"ftol": 1e-8})
        x = res.x
    dev = sub.deviance(x)
    if not np.isfinite(dev):
        return None
    r2 = sub.factor(x)["r2"] if len(ks) > 1 else sub.gls_summary(x)[2]
    return x, r2 / len(obj.y)
