"""``dfmethod()`` of ``mixed``: the design facts Stata's rules need and the small-sample
inference at the estimates (:mod:`statsmodels_me.inference.small_sample`)."""
from __future__ import annotations

import numpy as np

from statsmodels_me.inference.small_sample import (
    KenwardRoger,
    SmallSampleInference,
    anova_df,
    check_dfmethod,
    parse_dfmethod,
    repeated_df,
    residual_df,
    variance_derivatives,
)


def _nested(terms):
    """Whether every term's groups lie inside the groups of each coarser term."""
    order = sorted(terms, key=lambda t: t.n_groups)
    for coarse, fine in zip(order, order[1:]):
        pairs = np.unique(fine.codes.astype(np.int64) * coarse.n_groups + coarse.codes)
        if len(pairs) != fine.n_groups:
            return False
    return True


def dfmethod_of(model):
    """The ``dfmethod()`` of a Mixed model, checked against Stata's rules:
    ``(name, information)`` (see :func:`parse_dfmethod`) or ``(None, None)``."""
    text = model.options.get("dfmethod")
    if text is None:
        return None, None
    name, information = parse_dfmethod(text)
    terms = model.terms
    intercepts = all(t.q == 1 and np.all(t.Z == 1.0) for t in terms)
    check_dfmethod(name, model.reml, intercepts, len(terms) == 1, _nested(terms),
                   model.absolute)
    return name, information


def gls_information(model, sigma):
    """(log|V|, X' V^-1 X) at the display-scale variance parameters ``sigma`` (the
    displayed variances and covariances, then the residual variance), from the
    objective's blocked factor: V = s2 (I + Z Lambda Lambda' Z'), so
    log|V| = n log s2 + log|L|^2 and X' V^-1 X = R_X R_X' / s2."""
    s2 = float(sigma[-1])
    theta = model.components.theta_from_display(np.asarray(sigma[:-1], float), s2)
    f = model.objective.factor(theta)
    RX = f["RX"]
    return model.design.nobs * np.log(s2) + f["logdet"], RX @ RX.T / s2


def small_sample_inference(model, method, params, cov, information=None):
    """The :class:`SmallSampleInference` at the estimates and the fixed effects'
    covariance to report (Kenward-Roger's adjusted one; unchanged otherwise).

    Parameters
    ----------
    model : Mixed
    method : str
    params, cov : ndarray
        The display-scale estimates and their covariance.
    information : {"eim", "oim"}, optional
        Satterthwaite's covariance of the variance parameters: twice the inverse expected
        information (Kenward-Roger's W) or the inverse observed information (the variance
        components' covariance in ``cov``).
    """
    X = model.design.exog
    k = model.k_fe
    cov_beta = cov[:k, :k]
    if method == "residual":
        return SmallSampleInference(method, np.full(k, residual_df(X))), cov_beta
    if method == "repeated":
        t = model.terms[0]
        return SmallSampleInference(method, repeated_df(X, t.codes, t.n_groups)), cov_beta
    if method == "anova":
        t = max(model.terms, key=lambda t: t.n_groups)
        return SmallSampleInference(method, np.full(k, anova_df(X, t.codes, t.n_groups))), \
            cov_beta
    sigma = np.asarray(params[k:], float)
    A_all = cov[k:, k:]
    free = [i for i in range(len(sigma)) if A_all[i, i] > 0]
    M, P, S, K = variance_derivatives(lambda s: gls_information(model, s), sigma, free)
    Phi = np.linalg.inv(M)
    Phi = 0.5 * (Phi + Phi.T)
    kr = KenwardRoger.from_derivatives(M, P, S, K)
    if method == "satterthwaite":
        dPhi = -np.einsum("ab,rbc,cd->rad", Phi, P, Phi)
        A = kr.W if information == "eim" else A_all[np.ix_(free, free)]
        ss = SmallSampleInference(method, np.zeros(k), Phi=Phi, dPhi=dPhi, A=A)
        ss.df = ss.contrast_df(np.eye(k))
        return ss, cov_beta
    ss = SmallSampleInference(method, np.zeros(k), Phi=Phi, kr=kr)
    ss.df = ss.contrast_df(np.eye(k))
    return ss, kr.Phi_A
