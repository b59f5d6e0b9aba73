"""Starting values of crossed scalar-intercept LMMs from cheaper sub-model fits."""
from __future__ import annotations

import numpy as np
from scipy import optimize


def submodel_start(objective, max_dense=300):
    """Starting theta of a crossed scalar-intercept objective
    (:class:`~statsmodels_me.objectives.lmm_crossed_scalar.CrossedScalarLMM` or its sum
    over partitions) from sub-models, or ``None``.

    The objective offers ``terms``, ``term_sizes``, ``first``, ``rest``, ``n``,
    ``least_squares_rss()`` and ``submodel(ks)``, the model with only the terms ``ks``.

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
    sizes = [obj.term_sizes[k] for k in obj.rest]
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
    total = obj.least_squares_rss() / obj.n
    s2e = max(total - var.sum(), 0.05 * total)
    return np.sqrt(np.maximum(var / s2e, 1e-4))


def _fit_submodel(obj, ks):
    """ML fit of the model with only the terms ``ks`` (``obj.submodel(ks)``): (theta per
    term, s2) or None."""
    sub = obj.submodel(ks)
    if len(ks) == 1:
        res = optimize.minimize_scalar(lambda v: sub.deviance(np.array([v])),
                                       bounds=(0.0, 10.0), method="bounded",
                                       options={"xatol": 1e-3})
        x = np.array([res.x])
    else:
        res = optimize.minimize(sub.deviance_and_grad, np.full(len(ks), 0.5), jac=True,
                                method="L-BFGS-B", bounds=[(0.0, None)] * len(ks),
                                options={"ftol": 1e-8})
        x = res.x
    dev = sub.deviance(x)
    if not np.isfinite(dev):
        return None
    r2 = sub.factor(x)["r2"] if len(ks) > 1 else sub.gls_summary(x)[2]
    return x, r2 / obj.n
