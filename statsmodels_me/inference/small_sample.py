"""Small-sample inference for the fixed effects of a linear mixed model (``dfmethod()``).

Denominator degrees of freedom by Stata's five methods and the Kenward-Roger adjusted
covariance of the fixed effects.

``residual``
    n - rank(X) for every coefficient.
``repeated``
    Between-within split of the residual df (Schluchter & Elashoff 1990), two-level
    random-intercept models: a coefficient whose column is constant within every cluster
    gets G - rank(X_b) (X_b the between-cluster columns, the constant included), the
    others n - G - (rank(X) - rank(X_b)).
``anova``
    n - rank([X Z]) (the residual df of the ANOVA with the random intercepts as fixed
    effects), nested random-intercept models.
``satterthwaite``
    Giesbrecht & Burns (1985), Fai & Cornelius (1996): for a contrast c,
    df = 2 (c' Phi c)^2 / (g' A g), g the gradient of c' Phi c in the variance parameters
    and A their asymptotic covariance: twice the inverse expected information of the
    restricted likelihood (``eim``, Stata's default; the W of Kenward-Roger) or the inverse
    observed information (``oim``, as lmerTest).
``kroger``
    Kenward & Roger (1997): the adjusted covariance Phi_A = Phi + 2 Phi U Phi and the
    scaled F test with its df, in the linear parameterization of the covariance matrices
    (the displayed variances and covariances and the residual variance), with the expected
    information of the restricted likelihood, as pbkrtest.

The derivatives in the variance parameters sigma are taken numerically, by central
differences of two functions that the model evaluates through its profiled objective
(no n x n matrix): ``log|V|`` and ``M = X' V^-1 X``. V is linear in sigma, so with
G_i = dV/d sigma_i (Kenward & Roger 1997, section 2)

    dM/d sigma_i                  = -X' V^-1 G_i V^-1 X                      (P_i)
    d2M/d sigma_i d sigma_j       =  X' V^-1 (G_i V^-1 G_j + G_j V^-1 G_i) V^-1 X
                                  =  Q_ij + Q_ji
    d2 log|V| / d sigma_i d sigma_j = -tr(V^-1 G_i V^-1 G_j),

which are every piece the Kenward-Roger adjustment needs (R_ij = 0 for a linear V).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from statsmodels_me.spec.errors import SpecificationError

DFMETHODS = ("residual", "repeated", "anova", "satterthwaite", "kroger")
_ABBREV = {"res": "residual", "rep": "repeated", "sat": "satterthwaite", "kr": "kroger",
           "kenwardroger": "kroger"}


def parse_dfmethod(text):
    """Method name and information matrix from the text of ``dfmethod()`` (Stata's
    minimal abbreviations).

    Returns
    -------
    (name, information)
        ``information`` is ``"eim"`` (Stata's default) or ``"oim"`` for ``satterthwaite``
        (its suboption: the asymptotic covariance of the variance parameters from the
        expected or the observed information of the restricted likelihood), else None.
    """
    raw = str(text).strip()
    main, _, sub = raw.partition(",")
    word = main.strip().lower()
    sub = sub.strip().lower()
    name = None
    for full in DFMETHODS:
        if word and full.startswith(word) and len(word) >= 3:
            name = full
    name = _ABBREV.get(word, name)
    if name is None:
        raise SpecificationError(
            f"dfmethod({raw}): unknown method; use residual, repeated, anova, "
            f"satterthwaite or kroger")
    if sub and (name != "satterthwaite" or sub not in ("oim", "eim")):
        raise SpecificationError(f"dfmethod({raw}): suboption '{sub}' not allowed")
    if name == "satterthwaite":
        return name, sub or "eim"
    return name, None


def check_dfmethod(name, reml, random_intercepts_only, two_level, nested, absolute):
    """Stata's rules on when a method is allowed; SpecificationError naming the option."""
    if name in ("satterthwaite", "kroger") and not reml:
        raise SpecificationError(
            f"dfmethod({name}) requires REML estimation; specify the reml option")
    if name in ("satterthwaite", "kroger") and absolute:
        raise SpecificationError(
            f"dfmethod({name}) is not available with a covariance(fixed()) structure")
    if name == "repeated" and not (two_level and random_intercepts_only):
        raise SpecificationError(
            "dfmethod(repeated) is allowed only with two-level models with a random "
            "intercept")
    if name == "anova" and not (random_intercepts_only and nested):
        raise SpecificationError(
            "dfmethod(anova) is allowed only with nested random-intercept models")


def matrix_rank(A):
    """Numerical rank of a tall matrix (its singular values above n eps s_max)."""
    if A.size == 0:
        return 0
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > max(A.shape) * np.finfo(float).eps * s[0])) if s[0] > 0 else 0


def _within_cluster_deviation(X, codes, n_groups):
    """X minus its cluster means (the residual of the projection on cluster indicators)."""
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    means = np.zeros((n_groups, X.shape[1]))
    np.add.at(means, codes, X)
    means /= counts[:, None]
    return X - means[codes]


def residual_df(X):
    """n - rank(X)."""
    return float(X.shape[0] - matrix_rank(X))


def repeated_df(X, codes, n_groups):
    """Between-within df per column of X (see the module docstring)."""
    n = X.shape[0]
    dev = _within_cluster_deviation(X, codes, n_groups)
    scale = np.maximum(np.abs(X).max(axis=0), 1.0)
    between = np.all(np.abs(dev) <= 1e-10 * scale, axis=0)
    rank_x = matrix_rank(X)
    rank_b = matrix_rank(X[:, between])
    df_b = n_groups - rank_b
    df_w = n - n_groups - (rank_x - rank_b)
    return np.where(between, float(df_b), float(df_w))


def anova_df(X, finest_codes, n_finest):
    """n - rank([X Z]) for nested random intercepts: Z spans the indicators of the finest
    level's groups, so rank([X Z]) = G_finest + rank(X within those groups)."""
    n = X.shape[0]
    dev = _within_cluster_deviation(X, finest_codes, n_finest)
    return float(n - n_finest - matrix_rank(dev))


# -- derivatives of log|V| and X'V^-1X in the variance parameters -----------------------------
def _steps(sigma, rel=1e-3):
    return rel * np.maximum(np.abs(sigma), 1e-3 * max(np.abs(sigma).max(), 1e-12))


def variance_derivatives(gls_at, sigma, free):
    """P_i, Q_ij + Q_ji and d2 log|V| by central differences with Richardson extrapolation.

    Parameters
    ----------
    gls_at : callable
        ``sigma -> (log|V|, X' V^-1 X)`` at the linear variance parameters ``sigma``.
    sigma : ndarray (k,)
        The estimates.
    free : sequence of int
        The parameters to differentiate in (those not at a boundary).

    Returns
    -------
    M : ndarray (p, p)
        X' V^-1 X at ``sigma``.
    P : ndarray (r, p, p)
        dM / d sigma_i.
    S : ndarray (r, r, p, p)
        d2M / d sigma_i d sigma_j.
    K : ndarray (r, r)
        tr(V^-1 G_i V^-1 G_j) = -d2 log|V| / d sigma_i d sigma_j.
    """
    free = list(free)
    r = len(free)
    h_all = _steps(np.asarray(sigma, float))
    cache = {}

    def at(offsets):
        key = tuple(sorted(offsets.items()))
        if key not in cache:
            s = np.array(sigma, dtype=float)
            for i, d in offsets.items():
                s[free[i]] += d
            cache[key] = gls_at(s)
        return cache[key]

    ld0, M = at({})
    p = M.shape[0]

    def first(i, h):
        return (at({i: h})[1] - at({i: -h})[1]) / (2 * h)

    def second(i, j, hi, hj):
        if i == j:
            fp, fm, f0 = at({i: hi}), at({i: -hi}), (ld0, M)
            return ((fp[0] - 2 * f0[0] + fm[0]) / hi ** 2,
                    (fp[1] - 2 * f0[1] + fm[1]) / hi ** 2)
        pp, pm = at({i: hi, j: hj}), at({i: hi, j: -hj})
        mp, mm = at({i: -hi, j: hj}), at({i: -hi, j: -hj})
        den = 4 * hi * hj
        return ((pp[0] - pm[0] - mp[0] + mm[0]) / den, (pp[1] - pm[1] - mp[1] + mm[1]) / den)

    P = np.empty((r, p, p))
    S = np.empty((r, r, p, p))
    K = np.empty((r, r))
    h = h_all[free]
    for i in range(r):
        # Richardson: (4 D(h/2) - D(h)) / 3 removes the h^2 term of the central difference
        P[i] = (4 * first(i, h[i] / 2) - first(i, h[i])) / 3
        for j in range(i, r):
            a1, b1 = second(i, j, h[i], h[j])
            a2, b2 = second(i, j, h[i] / 2, h[j] / 2)
            K[i, j] = K[j, i] = -(4 * a2 - a1) / 3
            S[i, j] = S[j, i] = (4 * b2 - b1) / 3
    return M, P, S, K


# -- Satterthwaite -----------------------------------------------------------------------------
def satterthwaite_df(L, Phi, dPhi, A):
    """Satterthwaite df of each row of L: 2 (l' Phi l)^2 / (g' A g).

    Parameters
    ----------
    L : ndarray (m, p)
    Phi : ndarray (p, p)
        Covariance of the fixed effects.
    dPhi : ndarray (r, p, p)
        Its derivatives in the variance parameters.
    A : ndarray (r, r)
        Asymptotic covariance of the variance parameters.
    """
    L = np.atleast_2d(L)
    var = np.einsum("mi,ij,mj->m", L, Phi, L)
    g = np.einsum("mi,rij,mj->mr", L, dPhi, L)
    return 2 * var ** 2 / np.einsum("mr,rs,ms->m", g, A, g)


def satterthwaite_f(L, beta, q0, Phi, dPhi, A):
    """Multi-degree-of-freedom F test by Satterthwaite's method (Fai & Cornelius 1996), as
    lmerTest's ``contest``: the contrasts are rotated to the eigenvectors of L Phi L', each
    gets its own df nu_m, and the denominator df is 2E / (E - q), E = sum nu_m / (nu_m - 2).

    Returns
    -------
    (F, ndf, ddf, pvalue)
    """
    L = np.atleast_2d(L)
    VL = L @ Phi @ L.T
    d, U = np.linalg.eigh(VL)
    order = np.argsort(d)[::-1]
    d, U = d[order], U[:, order]
    keep = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0)
    d, U = d[keep], U[:, keep]
    PL = U.T @ L
    q = len(d)
    F = float(np.sum((U.T @ (L @ beta - q0)) ** 2 / d) / q)
    nu = satterthwaite_df(PL, Phi, dPhi, A)
    if q == 1:
        ddf = float(nu[0])
    elif np.any(nu <= 2):
        ddf = 2.0
    else:
        E = float(np.sum(nu / (nu - 2)))
        ddf = 2 * E / (E - q)
    return F, q, ddf, float(stats.f.sf(F, q, ddf))


# -- Kenward-Roger -----------------------------------------------------------------------------
@dataclass
class KenwardRoger:
    """Kenward & Roger (1997) adjusted covariance and its ingredients.

    Attributes
    ----------
    Phi : ndarray (p, p)
        (X' V^-1 X)^-1 at the estimates.
    Phi_A : ndarray (p, p)
        The adjusted covariance Phi + 2 Phi U Phi (eq. 5 there, R_ij = 0).
    P : ndarray (r, p, p)
        X' dV^-1/d sigma_i X.
    W : ndarray (r, r)
        Twice the inverse of the expected information of the restricted likelihood.
    """

    Phi: np.ndarray
    Phi_A: np.ndarray
    P: np.ndarray
    W: np.ndarray

    @classmethod
    def from_derivatives(cls, M, P, S, K):
        """From the outputs of :func:`variance_derivatives`."""
        Phi = np.linalg.inv(M)
        Phi = 0.5 * (Phi + Phi.T)
        r = len(P)
        Qs = 0.5 * S        # the symmetric part of Q_ij
        PhiP = np.einsum("ab,rbc->rac", Phi, P)
        PhiQ_tr = np.einsum("ab,ijba->ij", Phi, Qs)
        PP_tr = np.einsum("iab,jba->ij", PhiP, PhiP)
        info = K - 2 * PhiQ_tr + PP_tr
        info = 0.5 * (info + info.T)
        eig = np.linalg.eigvalsh(info) if r else np.ones(1)
        W = 2 * (np.linalg.inv(info) if np.abs(eig).min() > 1e-10 else np.linalg.pinv(info))
        U = np.einsum("ij,ijab->ab", W, Qs) - np.einsum(
            "ij,iab,bc,jcd->ad", W, P, Phi, P)
        U = 0.5 * (U + U.T)
        Phi_A = Phi + 2 * Phi @ U @ Phi
        return cls(Phi=Phi, Phi_A=0.5 * (Phi_A + Phi_A.T), P=P, W=W)

    def ftest(self, L, beta, q0=None):
        """Kenward-Roger F test of L beta = q0.

        Returns
        -------
        dict
            ``F`` (scaled), ``ndf``, ``ddf``, ``pvalue``, ``scaling``, ``F_unscaled``.
        """
        L = np.atleast_2d(np.asarray(L, float))
        q0 = np.zeros(L.shape[0]) if q0 is None else np.asarray(q0, float)
        Phi = self.Phi
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        TP = Theta @ Phi
        u = np.einsum("ab,rbc,cd->rad", TP, self.P, Phi)
        tr = np.einsum("raa->r", u)
        A1 = float(tr @ self.W @ tr)
        A2 = float(np.einsum("ij,iab,jba->", self.W, u, u))
        q = matrix_rank(L)
        B = (A1 + 6 * A2) / (2 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        V0 = 1 + c1 * B
        V1 = 1 - c2 * B
        V2 = 1 - c3 * B
        V0 = 0.0 if abs(V0) < 1e-10 else V0
        ratio = (1 - A2 / q) / V1 if abs(V1) > 1e-12 else 0.0
        rho = ratio ** 2 * V0 / V2 / q
        ddf = 4 + (q + 2) / (q * rho - 1)
        scaling = 1.0 if abs(ddf - 2) < 1e-2 else ddf * (1 - A2 / q) / (ddf - 2)
        diff = L @ np.asarray(beta, float) - q0
        wald = float(diff @ np.linalg.solve(L @ self.Phi_A @ L.T, diff))
        F = scaling * wald / q
        return {"F": F, "ndf": q, "ddf": float(ddf), "pvalue": float(stats.f.sf(F, q, ddf)),
                "scaling": float(scaling), "F_unscaled": wald / q}


# -- the inference a fit carries -----------------------------------------------------------------
class SmallSampleInference:
    """Denominator df of the fixed effects by one of the ``dfmethod()`` methods.

    Parameters
    ----------
    method : str
        One of :data:`DFMETHODS`.
    df : ndarray (p,)
        The df of each fixed-effect coefficient.
    Phi : ndarray (p, p), optional
        Unadjusted covariance of the fixed effects (Satterthwaite, Kenward-Roger).
    dPhi : ndarray (r, p, p), optional
        Its derivatives in the free variance parameters (Satterthwaite).
    A : ndarray (r, r), optional
        Asymptotic covariance of the free variance parameters (Satterthwaite).
    kr : KenwardRoger, optional
    """

    labels = {"residual": "Residual", "repeated": "Repeated", "anova": "ANOVA",
              "satterthwaite": "Satterthwaite", "kroger": "Kenward-Roger"}

    def __init__(self, method, df, Phi=None, dPhi=None, A=None, kr=None):
        self.method = method
        self.df = np.asarray(df, dtype=float)
        self.Phi, self.dPhi, self.A, self.kr = Phi, dPhi, A, kr

    @property
    def label(self):
        """Stata's name of the method ("Kenward-Roger", "Satterthwaite", ...)."""
        return self.labels[self.method]

    def contrast_df(self, L):
        """df of each row of L (fixed-effect columns only).

        Satterthwaite and Kenward-Roger compute them for the contrast; the design-based
        methods take the smallest df of the coefficients a row involves.
        """
        L = np.atleast_2d(np.asarray(L, float))
        if self.method == "satterthwaite":
            return satterthwaite_df(L, self.Phi, self.dPhi, self.A)
        if self.method == "kroger":
            return np.array([self.kr.ftest(row[None, :], np.zeros(len(row)))["ddf"]
                             for row in L])
        out = []
        for row in L:
            used = np.abs(row) > 0
            out.append(self.df[used].min() if used.any() else np.nan)
        return np.array(out)

    def ftest(self, L, beta, q0, cov):
        """F test of L beta = q0: (F, ndf, ddf, pvalue).

        The design-based methods divide the Wald statistic with the covariance ``cov`` of
        the fixed effects by the rank of L and take the smallest df of the coefficients
        involved.
        """
        L = np.atleast_2d(np.asarray(L, float))
        q0 = np.asarray(q0, float).ravel()
        beta = np.asarray(beta, float)
        if self.method == "satterthwaite":
            return satterthwaite_f(L, beta, q0, self.Phi, self.dPhi, self.A)
        if self.method == "kroger":
            out = self.kr.ftest(L, beta, q0)
            return out["F"], out["ndf"], out["ddf"], out["pvalue"]
        diff = L @ beta - q0
        q = matrix_rank(L)
        F = float(diff @ np.linalg.pinv(L @ cov @ L.T) @ diff) / q
        ddf = float(self.contrast_df(L).min())
        return F, q, ddf, float(stats.f.sf(F, q, ddf))
