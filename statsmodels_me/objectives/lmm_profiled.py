"""Formulas of the profiled (restricted) log likelihood shared by the LMM objectives.

Model (Bates, Maechler, Bolker & Walker 2015, JSS 67(1), section 3):
    y = X beta + Z Lambda u + e,  u ~ N(0, s2 I),  e ~ N(0, s2 I),
so the random effects b = Lambda u have covariance s2 * Lambda Lambda'. With
L L' = Lambda' Z' Z Lambda + I, the profiled deviance is (eq. 34 / 41 there)
    -2 l(theta)   = log|L|^2 + n (1 + log(2 pi r2 / n))
    -2 l_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r2 / (n - p)))
with r2 the penalized residual sum of squares. Write m = n (ML) or n - p (REML) and
``logdet`` = log|L|^2 (+ log|R_X|^2 under REML); at a given residual variance s2,
    l(theta, s2) = -(m log(2 pi s2) + logdet + r2 / s2) / 2.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from statsmodels_me._kernels.lmm_kernels import solve_lower


class DevianceObjective:
    """The objective protocol (x = theta) of an LMM objective from its ``deviance`` and
    ``deviance_and_grad``: the profiled (restricted) log likelihood is -deviance / 2."""

    def value(self, theta):
        """Profiled (restricted) log likelihood, -deviance / 2."""
        return -0.5 * self.deviance(theta)

    def value_and_grad(self, theta):
        dev, grad = self.deviance_and_grad(theta)
        return -0.5 * dev, -0.5 * grad

    def hessian(self, theta):
        """Exact Hessian of the profiled log likelihood where the objective has one, else
        ``None``."""
        return None


def tri(L, B, transpose=False):
    """Solve ``L X = B`` (``L' X = B`` with ``transpose``) for a lower-triangular ``L``.

    Small systems use the BLAS-free kernel (a threaded ``trsm`` is slow on tiny blocks).
    """
    if L.shape[0] <= 400:
        return solve_lower(np.ascontiguousarray(L), B, transpose)
    return sla.solve_triangular(L, B, lower=True, trans=1 if transpose else 0)


def sum_of_squares(v):
    """``v @ v`` for a long vector, without BLAS: OpenBLAS's threaded ``ddot`` costs a
    scheduler quantum (4-8 ms instead of 0.03 ms on 200,000 rows) when its threads wait
    for a busy core."""
    return float(np.einsum("i,i->", v, v))


def block_diag_sparse(blocks):
    """Block-diagonal sparse matrix from a (G, q, q) array of dense blocks."""
    G, q, _ = blocks.shape
    return sp.bsr_matrix((blocks, np.arange(G), np.arange(G + 1)), shape=(G * q, G * q)).tocsr()


def residual_dof(n, p, reml):
    """m: the power of r2 in the profiled likelihood (n, or n - p under REML)."""
    return n - p if reml else n


def finish_factor(f, logdet, RZX, ry, XtX, Xty, yty):
    """Complete a blocked factor ``f`` with the fixed-effects part: R_X, beta, r2, log dets."""
    XtX = XtX - RZX.T @ RZX
    Xty = Xty - RZX.T @ ry
    RX = np.linalg.cholesky(XtX)
    gamma = tri(RX, Xty)
    beta = tri(RX, gamma, transpose=True)
    r2 = yty - ry @ ry - gamma @ gamma
    f.update(RX=RX, beta=beta, r2=max(r2, 1e-300), logdet=logdet,
             logdetX=2.0 * np.log(np.diag(RX)).sum())
    return f


def deviance_from_factor(f, n, p, reml):
    """-2 x profiled (restricted) log likelihood from a factor's log dets and r2."""
    if reml:
        d = n - p
        return f["logdet"] + f["logdetX"] + d * (1.0 + np.log(2.0 * np.pi * f["r2"] / d))
    return f["logdet"] + n * (1.0 + np.log(2.0 * np.pi * f["r2"] / n))


def loglike_from_factor(f, s2, n, p, reml, beta=None):
    """Log likelihood at (theta, s2) from the factor at theta, beta profiled (or held at
    ``beta``; REML's restricted likelihood does not depend on beta)."""
    r2 = f["r2"]
    if beta is not None and not reml:
        d = f["RX"].T @ (np.asarray(beta) - f["beta"])
        r2 = r2 + d @ d
    m = n - p if reml else n
    extra = f["logdetX"] if reml else 0.0
    return -0.5 * (m * np.log(2.0 * np.pi * s2) + f["logdet"] + extra + r2 / s2)


def loglike_s2_from_parts(logdet, r2, dld, dr2, s2, m):
    """Log likelihood at (theta, s2) and its gradient in (theta, s2) from the deviance's
    parts: ``logdet`` (with log|R_X|^2 under REML), r2 and their gradients in theta."""
    ll = -0.5 * (m * np.log(2.0 * np.pi * s2) + logdet + r2 / s2)
    g = np.zeros(len(dld) + 1)
    g[:-1] = -0.5 * (dld + dr2 / s2)
    g[-1] = -0.5 * (m / s2 - r2 / s2 ** 2)
    return ll, g


def deviance_hessian(Hld, Hr2, r2, dr2, m):
    """Hessian of the deviance D = logdet + m log r2 + const from its parts:
    D'' = logdet'' + (m / r2) r2'' - (m / r2^2) r2' r2'."""
    return Hld + (m / r2) * Hr2 - (m / r2 ** 2) * np.outer(dr2, dr2)


def deviance_grad_hess_from_parts(parts, deviance_of, m):
    """``(deviance, gradient, Hessian)`` from ``parts = (f, dlogdet, dr2, hlogdet, hr2)``
    (the Hessian symmetrized), or ``None`` when ``parts`` is ``None`` or the deviance
    ``deviance_of(f)`` is not finite."""
    if parts is None:
        return None
    f, dld, dr2, hld, hr2 = parts
    dev = deviance_of(f)
    if not np.isfinite(dev):
        return None
    r2 = f["r2"]
    H = deviance_hessian(hld, hr2, r2, dr2, m)
    return dev, dld + (m / r2) * dr2, 0.5 * (H + H.T)


def information_theta_s2(Hld, Hr2, r2, dr2, s2, m):
    """Observed information of (theta, s2), beta profiled, from the deviance's parts.

    With l = -(m log(2 pi s2) + logdet + r2 / s2) / 2: -l_tt = (logdet'' + r2'' / s2) / 2,
    -l_ts = -r2' / (2 s2^2) and -l_ss = r2 / s2^3 - m / (2 s2^2).
    """
    k = len(dr2)
    info = np.empty((k + 1, k + 1))
    info[:k, :k] = 0.5 * (Hld + Hr2 / s2)
    info[:k, k] = info[k, :k] = -0.5 * dr2 / s2 ** 2
    info[k, k] = r2 / s2 ** 3 - 0.5 * m / s2 ** 2
    return info


def lambda_jacobian(term, theta_k):
    """d vec(Lambda) / d theta for one term, (q * q, len(theta_k)), from the analytic
    derivative of the term's covariance structure (:meth:`RETerm.d_cholesky`)."""
    theta_k = np.asarray(theta_k, float)
    D = term.d_cholesky(theta_k)
    return np.ascontiguousarray(D.reshape(len(theta_k), -1).T)
