"""The LMM profiled deviance as a sum over independent blocks of clusters plus a reduction.

For data split into parts whose random effects do not couple (nested models split by
top-level cluster), V = I + Z Lambda Lambda' Z' is block diagonal over the parts, so with
W = [X y] the Gram matrix ``G = W' V^-1 W`` and ``logdet = log|Lambda' Z' Z Lambda + I|``
are sums of the parts' own (Bates et al. 2015, JSS 67(1), eq. 18 and 34 applied part by
part). From the sums, S = G[:p, :p], c = G[:p, p], t = G[p, p] give beta = S^-1 c,
r2 = t - c' beta and (REML) log|R_X|^2 = log|S|: the whole model's profiled deviance
(:func:`reduce_pieces`).

Derivatives in theta: with E = V^-1 W, R = Z' E and U = Lambda' Z' E = M^-1 Lambda' Z' W
(the spherical conditional modes of every column of W, M = Lambda' Z' Z Lambda + I),
dV = Z (D Lambda' + Lambda D') Z' for D = d Lambda / d theta_i gives
``dG = -(R' D U + U' D' R)`` (summed group by group of each term), and
dr2 = dt - 2 beta' dc + beta' dS beta, d log|S| = tr(S^-1 dS).  The derivative of
``logdet`` is taken by a five-point stencil (its rounding error is that of a sum of
logarithms, far below the stencil's step).

The parts are evaluated on the blocked factor of
:class:`~statsmodels_me.objectives.lmm_blocked.BlockedLMM` built on the part's data.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.objectives.lmm_profiled import finish_factor, tri


def gram_pieces(objective, theta):
    """One part's ``(f, logdet, G)`` at ``theta``.

    Parameters
    ----------
    objective : BlockedLMM
        On the part's data.
    theta : ndarray

    Returns
    -------
    f : dict
        The blocked factor (:meth:`BlockedLMM.blocked_factor`).
    logdet : float
        log|Lambda' Z' Z Lambda + I| of the part.
    G : ndarray (p + 1, p + 1)
        ``[X y]' V^-1 [X y]`` of the part (V relative to s2).
    """
    f, logdet, RZX, ry = objective.blocked_factor(np.asarray(theta, float))
    B = np.column_stack([RZX, ry])
    W = np.empty((objective.p + 1, objective.p + 1))
    W[:-1, :-1] = objective.XtX
    W[:-1, -1] = W[-1, :-1] = objective.Xty
    W[-1, -1] = objective.yty
    f["B"] = B
    return f, logdet, W - B.T @ B


def _modes(objective, f):
    """U = L^-T [R_ZX r_y] per term: arrays (G_k, q_k, p + 1) in term order."""
    t1 = objective.terms[objective.first]
    G, q = t1.n_groups, t1.q
    B = f["B"]
    c = B.shape[1]
    rhs1 = B[:G * q]
    out = [None] * len(objective.terms)
    if objective.rest:
        U2 = tri(f["L22"], B[G * q:], transpose=True)
        rhs1 = rhs1 - np.asarray(f["L21"].T @ U2)
        pos = 0
        for k in objective.rest:
            tk = objective.terms[k]
            out[k] = U2[pos:pos + tk.size].reshape(tk.n_groups, tk.q, c)
            pos += tk.size
    L11T = f["L11"].transpose(0, 2, 1)
    out[objective.first] = np.linalg.solve(L11T, rhs1.reshape(G, q, c))
    return out


def _residual_products(objective, f, U):
    """R = Z' [X y] - Z' Z Lambda U per term, shaped like ``U``."""
    first, rest = objective.first, objective.rest
    lams = f["lams"]
    t1 = objective.terms[first]
    G, q = t1.n_groups, t1.q
    c = U[first].shape[2]
    V1 = np.einsum("ij,gjc->gic", lams[first], U[first])
    ZtW1 = np.concatenate([objective.Z1tX, objective.Z1ty[:, :, None]], axis=2)
    R1 = ZtW1 - np.einsum("gij,gjc->gic", objective.A11, V1)
    out = [None] * len(objective.terms)
    if rest:
        V2 = np.concatenate([np.einsum("ij,gjc->gic", lams[k], U[k]).reshape(-1, c)
                             for k in rest])
        R1 = R1 - np.asarray(objective.A21.T @ V2).reshape(G, q, c)
        ZtW2 = np.column_stack([objective.Z2tX, objective.Z2ty])
        R2 = ZtW2 - np.asarray(objective.A21 @ V1.reshape(G * q, c)) \
            - np.asarray(objective.A22_sparse @ V2)
        pos = 0
        for k in rest:
            tk = objective.terms[k]
            out[k] = R2[pos:pos + tk.size].reshape(tk.n_groups, tk.q, c)
            pos += tk.size
    out[first] = R1
    return out


def gram_gradient(objective, f, theta):
    """``dG / d theta`` of one part, (n_theta, p + 1, p + 1), at the factor ``f`` of
    :func:`gram_pieces` at ``theta``."""
    theta = np.asarray(theta, float)
    U = _modes(objective, f)
    R = _residual_products(objective, f, U)
    c = objective.p + 1
    dG = np.zeros((objective.n_theta, c, c))
    for k, t in enumerate(objective.terms):
        D = t.d_cholesky(theta[t.theta_index])
        K = np.einsum("gqa,iqr,grb->iab", R[k], D, U[k])
        dG[t.theta_index] = -(K + K.transpose(0, 2, 1))
    return dG


def gram_hessian(objective, f, theta):
    """``d2 G / d theta d theta'`` of one part, (n_theta, n_theta, p + 1, p + 1), at the
    factor ``f`` of :func:`gram_pieces`, for scalar terms (one effect per group, Lambda
    linear in theta: lambda_k = D_k theta_k).

    With A_k = Z_k Z_k', dV / d lambda_k = 2 lambda_k A_k; differentiating
    dG / d lambda_k = -2 lambda_k R_k' R_k (R = Z' V^-1 W, as in :func:`gram_gradient`) and
    using Lambda Z' V^-1 Z Lambda = I - M^-1 gives, free of divisions by lambda,

        d2 G / d lambda_k d lambda_l = 6 delta_kl R_k' R_k - 4 (Y_k' Y_l + Y_l' Y_k),

    Y_k = L^-1 E_k R_k (E_k: term k's rows of the effects, M = L L'), so that
    R_k' (M^-1)_kl R_l = Y_k' Y_l.
    """
    theta = np.asarray(theta, float)
    U = _modes(objective, f)
    R = _residual_products(objective, f, U)
    first, rest = objective.first, objective.rest
    c = objective.p + 1
    Rk = [r[:, 0, :] for r in R]
    Y1 = Rk[first] / f["L11"][:, 0, :]
    Y = {first: (Y1, None)}
    if rest:
        n2 = f["L22"].shape[0]
        rhs = np.zeros((n2, len(objective.terms) * c))
        rhs[:, :c] = -np.asarray(f["L21"] @ Y1)
        pos = 0
        for j, k in enumerate(rest):
            size = objective.terms[k].size
            rhs[pos:pos + size, (j + 1) * c:(j + 2) * c] = Rk[k]
            pos += size
        Y2 = tri(f["L22"], rhs)
        Y[first] = (Y1, Y2[:, :c])
        for j, k in enumerate(rest):
            Y[k] = (None, Y2[:, (j + 1) * c:(j + 2) * c])

    def cross(k, m):
        (a1, a2), (b1, b2) = Y[k], Y[m]
        out = a2.T @ b2 if a2 is not None and b2 is not None else np.zeros((c, c))
        if a1 is not None and b1 is not None:
            out = out + a1.T @ b1
        return out

    n_theta = objective.n_theta
    H = np.zeros((n_theta, n_theta, c, c))
    for k, tk in enumerate(objective.terms):
        dk = tk.d_cholesky(theta[tk.theta_index])[0, 0, 0]
        for m, tm in enumerate(objective.terms):
            dm = tm.d_cholesky(theta[tm.theta_index])[0, 0, 0]
            X = cross(k, m)
            h = -4.0 * (X + X.T)
            if k == m:
                h = h + 6.0 * (Rk[k].T @ Rk[k])
            H[tk.theta_index[0], tm.theta_index[0]] = dk * dm * h
    return H


def stencil_steps(theta):
    """Steps of the five-point stencil: 1e-3 of each parameter's scale (floored at a
    tenth of the largest |theta|, and at 1e-3)."""
    theta = np.asarray(theta, float)
    floor = max(0.1 * float(np.abs(theta).max()) if len(theta) else 0.0, 1e-3)
    return 1e-3 * np.maximum(np.abs(theta), floor)


def stencil_points(theta):
    """The points ``theta + m h_i e_i`` (m = -2, -1, 1, 2) of the stencil, (4 n, n)."""
    theta = np.asarray(theta, float)
    h = stencil_steps(theta)
    pts = []
    for i in range(len(theta)):
        for m in (-2, -1, 1, 2):
            t = theta.copy()
            t[i] += m * h[i]
            pts.append(t)
    return np.array(pts).reshape(-1, len(theta))


def stencil_gradient(theta, at_points, at_theta):
    """Gradient from the values at :func:`stencil_points` (four per parameter); where the
    backward points are not finite (outside the structure's domain), the one-sided
    three-point formula from ``at_theta`` and the forward points."""
    h = stencil_steps(theta)
    v = np.asarray(at_points, float).reshape(-1, 4)
    g = (v[:, 0] - 8 * v[:, 1] + 8 * v[:, 2] - v[:, 3]) / (12 * h)
    back = ~np.isfinite(v[:, 0]) | ~np.isfinite(v[:, 1])
    g[back] = (-3 * at_theta + 4 * v[back, 2] - v[back, 3]) / (2 * h[back])
    return g


def reduce_pieces(logdet, G, p):
    """The whole model's factor summary from the summed parts: a dict with ``RX``,
    ``beta``, ``r2``, ``logdet`` and ``logdetX`` as
    :func:`~statsmodels_me.objectives.lmm_profiled.finish_factor` gives them."""
    return finish_factor({}, float(logdet), np.zeros((0, p)), np.zeros(0), G[:p, :p],
                         G[:p, p], G[p, p])


def reduced_gradient(f, dG, p):
    """``(dr2, dlogdetX)`` in theta from the summed ``dG`` at the reduced factor ``f``."""
    beta = f["beta"]
    dS, dc, dt = dG[:, :p, :p], dG[:, :p, p], dG[:, p, p]
    dr2 = dt - 2.0 * dc @ beta + np.einsum("a,iab,b->i", beta, dS, beta)
    RXinv = tri(f["RX"], np.eye(p))
    Sinv = RXinv.T @ RXinv
    dlogdetX = np.einsum("ab,iba->i", Sinv, dS)
    return dr2, dlogdetX


def reduced_hessian(f, dG, d2G, p):
    """``(d2r2, d2logdetX)`` in theta from the summed ``dG`` and ``d2G``
    (:func:`gram_hessian`) at the reduced factor ``f``.

    r2 = min_beta q(beta) with q = t - 2 c'beta + beta'S beta; by the envelope theorem
    d2 r2 = q_tt - 2 g_i' S^-1 g_j with g_i = dc_i - dS_i beta (d beta / d theta_j =
    S^-1 g_j), and d2 log|S| = tr(S^-1 d2S_ij) - tr(S^-1 dS_i S^-1 dS_j).
    """
    beta = f["beta"]
    coef = np.append(-beta, 1.0)
    q_tt = np.einsum("ijab,a,b->ij", d2G, coef, coef)
    g = dG[:, :p, p] - dG[:, :p, :p] @ beta
    RXinv = tri(f["RX"], np.eye(p))
    Sinv = RXinv.T @ RXinv
    d2r2 = q_tt - 2.0 * g @ Sinv @ g.T
    SdS = np.einsum("ab,ibc->iac", Sinv, dG[:, :p, :p])
    d2logdetX = (np.einsum("ab,ijba->ij", Sinv, d2G[:, :, :p, :p])
                 - np.einsum("iab,jba->ij", SdS, SdS))
    return 0.5 * (d2r2 + d2r2.T), 0.5 * (d2logdetX + d2logdetX.T)


def term_moments(objective, f):
    """One part's sums over groups, per term, from which the E step of EM
    (:meth:`BlockedLMM.em_moments`) is assembled once the whole model's beta and s2 are
    known: ``(UU, P)`` with ``UU[i, j, a, b] = sum_g Lambda U_g[:, a] (Lambda U_g[:, b])'``
    (the modes of every column of [X y], :func:`_modes`) and ``P = sum_g Var(b_g | y) / s2``
    (beta known). For ``u = U coef`` with ``coef = (-beta, 1)``,
    ``sum_g b b' = UU . coef . coef``, and the uncertainty of the GLS beta (REML) is
    ``s2 UU[:, :, :p, :p] . S^-1``.

    ``f`` is the factor of :func:`gram_pieces`.
    """
    U = _modes(objective, f)
    var = objective.blup_variances(dict(f, s2=1.0), fixed_uncertainty=False)
    out = []
    for k in range(len(objective.terms)):
        B = np.einsum("ij,gjc->gic", f["lams"][k], U[k])
        out.append((np.einsum("gia,gjb->ijab", B, B), var[k].sum(axis=0)))
    return out


def assemble_moments(sums, beta, s2, Sinv=None):
    """``sum_g (b b' + Var(b | y))`` of one term from the summed :func:`term_moments`
    ``sums = (UU, P)`` at the whole model's ``beta`` and ``s2`` (with ``Sinv`` =
    (X' V^-1 X)^-1 under REML: the uncertainty of the GLS beta added)."""
    UU, P = sums
    coef = np.append(-np.asarray(beta, float), 1.0)
    mom = np.einsum("ijab,a,b->ij", UU, coef, coef) + s2 * P
    if Sinv is not None:
        p = len(coef) - 1
        mom = mom + s2 * np.einsum("ijab,ab->ij", UU[:, :, :p, :p], Sinv)
    return mom
