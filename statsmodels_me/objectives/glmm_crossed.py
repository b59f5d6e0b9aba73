"""The GLMM objective with crossed random effects: Laplace over the whole random-effects
vector (:class:`~statsmodels_me.objectives.glmm_crossed_engine.CrossedLaplaceGLMM`).

Crossed designs (``|| _all: R.a || b:``, ``(1|a) + (1|b)`` over factors that do not nest)
have no cluster the likelihood factors over. The engine works on the terms of
:func:`statsmodels_me.terms.build_terms`; the objective keeps the model's theta and
block-diagonal ``L`` (the levels' structures side by side) and maps ``L`` to the terms'
factors.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from statsmodels_me.objectives.glmm_base import GLMMObjective
from statsmodels_me.objectives.glmm_crossed_engine import CrossedLaplaceGLMM
from statsmodels_me.terms import build_terms

# the nAGQ=0 start only has to be close: the chord Newton steps on the Laplace likelihood
# converge from it (inner Newton step tolerance, and L-BFGS-B's projected-gradient tolerance
# in log standard deviations)
_START_STEP_TOL = 1e-3
_START_GTOL = 1e-2


class TermSlots:
    """Where each term's relative factor sits inside the model's block-diagonal ``L``.

    Follows :func:`statsmodels_me.terms.build_terms`: per level, every ``R.`` block is a
    term of its own (its factor is the one diagonal value of the identity block), then the
    level's regular equations form one term.
    """

    def __init__(self, design, level_covs):
        self.slots = []
        start = 0
        for level, cov in zip(design.levels, level_covs, strict=True):
            pos, regular = start, []
            for block in level.blocks:
                if block.factor_codes is not None:
                    self.slots.append(np.array([pos]))
                    pos += len(block.factor_levels)
                else:
                    regular.extend(range(pos, pos + block.Z.shape[1]))
                    pos += block.Z.shape[1]
            if regular:
                self.slots.append(np.array(regular))
            start += cov.q

    def lams(self, L):
        """The terms' factors cut out of ``L``."""
        return [L[np.ix_(idx, idx)] for idx in self.slots]

    def scatter(self, g_lams, q):
        """The gradient in the entries of ``L`` from the gradients in the terms' factors
        (lower triangles)."""
        gL = np.zeros((q, q))
        for k, idx in enumerate(self.slots):
            gL[np.ix_(idx, idx)] = np.tril(g_lams[k])
        return gL


class CrossedEngine:
    """:class:`CrossedLaplaceGLMM` in the engine interface of the objectives
    (``loglike(beta, aux, L)``, ``loglike_and_grad`` with the gradient in the entries of the
    model's ``L``)."""

    intmethod = "laplace"
    intpoints = 1

    def __init__(self, core, slots, q):
        self.core, self.slots, self.q = core, slots, q
        self.endog, self.trials, self.exog = core.y, core.t, core.X
        self.family, self.link, self.k_aux = core.family, core.link, core.k_aux
        self.ptr = np.array([0, len(core.y)])
        self.nthreads = 1
        #: whether the likelihood is weighted (observation weights)
        self.weighted = core.weights is not None

    def loglike(self, beta, aux, L, freeze_grid=False):
        return self.core.loglike(beta, aux, lams=self.slots.lams(np.asarray(L, float)))

    def loglike_and_grad(self, beta, aux, L):
        L = np.asarray(L, float)
        llf, gb, ga, gl = self.core.gradient(beta, aux, self.slots.lams(L))
        return llf, gb, ga, self.slots.scatter(gl, L.shape[0])

    def loglike_and_grad_clusters(self, beta, aux, L):
        """One "cluster": the whole sample (the likelihood does not factor)."""
        llf, gb, ga, gL = self.loglike_and_grad(beta, aux, L)
        return np.array([llf]), gb[None], ga[None], gL[None]

    def reset_warm_start(self):
        """The mode search always starts from the last mode's first-order prediction."""


class CrossedGLMMObjective(GLMMObjective):
    """Laplace log likelihood of a GLMM with crossed random effects.

    Parameters
    ----------
    design : Design
    level_covs : list of CovarianceStructure
        One per level, in design order.
    cov : BlockDiagonal
        ``level_covs`` side by side (``across_levels=True``).
    y, X : ndarray
        Response (ordinal: codes) and fixed-effects design.
    family, link : str
    k_fe : int
    weights : ndarray (n,), optional
        Observation weights (fweight, iweight, pweight) multiplying each conditional log
        density.

    Notes
    -----
    :meth:`contributions` has one row, the whole sample: with crossed effects no cluster
    carries an independent part of the likelihood.

    The Laplace optimum is searched by chord Newton rounds (from the nAGQ=0 start it is a few
    Newton steps away, while a quasi-Newton method crawls on this badly scaled problem).
    """

    chord_optimizer = True
    #: (x, covariances) of the last posterior computed by :meth:`random_effects`
    _posterior = None

    def __init__(self, design, level_covs, cov, y, X, family, link, k_fe, weights=None):
        terms, _ = build_terms(design)
        core = CrossedLaplaceGLMM(y, X, terms, family, link, trials=design.trials,
                                  offset=design.offset, weights=weights)
        super().__init__(CrossedEngine(core, TermSlots(design, level_covs), cov.q), cov, k_fe)

    def laplace(self):
        return self

    def joint_start(self, z_fixed):
        """Covariance parameters maximizing lme4's nAGQ=0 criterion (beta in the penalized
        mode), by L-BFGS-B with the criterion's analytic gradient; beta from its joint mode.

        Standard deviations are optimized on the log scale: the criterion is even in them,
        so zero is a stationary point where a bounded quasi-Newton search that lands there
        would stop.
        """
        if not self.n_theta:
            return None
        beta, aux = z_fixed[:self.k_fe], z_fixed[self.k_fe:]
        eng = self.engine
        bounds = list(self.cov.theta_bounds())
        pos = np.array([lo == 0.0 for lo, _ in bounds])
        state = {"beta": beta}

        def theta_of(phi):
            theta = np.array(phi, float)
            theta[pos] = np.exp(phi[pos])
            return theta

        def f(phi):
            theta = theta_of(phi)
            L = self.factor(theta)
            if not np.all(np.isfinite(L)):
                return np.inf, np.zeros_like(phi)
            crit, b, gl = eng.core.profiled_beta_gradient(aux, eng.slots.lams(L), state["beta"],
                                                          step_tol=_START_STEP_TOL)
            if not np.isfinite(crit):
                return np.inf, np.zeros_like(phi)
            state["beta"], state["phi"] = b, np.array(phi, float)
            g = eng.slots.scatter(gl, L.shape[0]).ravel() @ self.factor_jacobian(theta)
            g[pos] *= theta[pos]
            return -crit, -g
        phi0 = np.array(self.cov.theta_start(), float)
        phi0[pos] = np.log(np.maximum(phi0[pos], 1e-3))
        res = optimize.minimize(f, phi0, jac=True, method="L-BFGS-B",
                                bounds=[(None, None) if p else b for p, b in zip(pos, bounds)],
                                options={"ftol": 1e-12, "gtol": _START_GTOL, "maxiter": 200})
        if not np.array_equal(res.x, state.get("phi")):
            f(res.x)
        return np.concatenate([state["beta"], aux, theta_of(res.x)])

    def random_effects(self, x, ebmodes=False):
        """Per term: the conditional modes ``(G_k, q_k)`` and their covariances under the
        Laplace approximation's normal posterior ``(G_k, q_k, q_k)`` (the diagonal blocks
        of Lambda H^-1 Lambda' at the modes, lme4's ``condVar``), whatever ``ebmodes``."""
        x = np.asarray(x, float)
        beta, aux, theta = self.split(x)
        core = self.engine.core
        lams = self.engine.slots.lams(self.factor(theta))
        # the covariances cost a Schur complement's inverse: kept for repeated predictions
        cached = self._posterior
        if cached is None or not np.array_equal(cached[0], x):
            cached = self._posterior = (x.copy(), core.posterior_covariances(beta, aux,
                                                                            lams=lams))
        return list(zip(core.modes(beta, aux, lams=lams), cached[1]))

    def random_effect_parts(self, x, ebmodes=False):
        """Per term: the conditional modes and their posterior covariances (the Laplace
        approximation's only prediction, whatever ``ebmodes``); see
        :meth:`GLMMObjective.random_effect_parts`."""
        terms = self.engine.core.terms
        return [(t.codes, t.Z, m, v, [f"{n}[{t.label}]" for n in t.names])
                for t, (m, v) in zip(terms, self.random_effects(x, ebmodes))]
