"""``meglm`` and its shortcuts with crossed random effects (Laplace, like Stata's default).

Crossed designs — ``|| _all: R.a || b:``, ``|| _all: R.a || _all: R.b``, separate lme4 bars
``(1|a) + (1|b)`` over factors that do not nest — have no cluster that the likelihood factors
over, so the integral is approximated by Laplace over the whole random-effects vector
(:class:`~statsmodels_me.models.glmm_crossed_engine.CrossedLaplaceGLMM`). The two ``_all``
specifications need no recasting: both become the same terms, and the engine's blocked
factorization keeps the largest term block-diagonal whichever way the model was written.

Optimization, display, constraints and results are MEGLM's (through the multilevel mixin's
covariance map); only the engine differs, wrapped to the interface MEGLM drives.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize

from statsmodels_me.covariance import make_level_covariance
from statsmodels_me.models.glmm_crossed_engine import CrossedLaplaceGLMM
from statsmodels_me.models.meglm_multilevel import LevelsCovariance, MultilevelMixin
from statsmodels_me.spec.errors import ConvergenceWarning, SpecificationError
from statsmodels_me.terms import build_terms

# the nAGQ=0 start only has to be close: the chord Newton steps on the Laplace likelihood
# converge from it (inner Newton step tolerance, and L-BFGS-B's projected-gradient tolerance
# in log standard deviations)
_START_STEP_TOL = 1e-3
_START_GTOL = 1e-2
# chord Newton: steps per Hessian, Hessians before the quasi-Newton fallback
_CHORD_MAXIT = 10
_CHORD_ROUNDS = 3


class _TermSlots:
    """Where each engine term's relative factor sits inside the model's block-diagonal L.

    Mirrors :func:`statsmodels_me.terms.build_terms`: per level, every ``R.`` block
    is a term of its own (its factor is the one diagonal value of the identity block), then
    the level's regular equations form one term.
    """

    def __init__(self, design, level_covs):
        self.slots = []
        start = 0
        for level, cov in zip(design.levels, level_covs):
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
        return [L[np.ix_(idx, idx)] for idx in self.slots]


class _Levels(LevelsCovariance):
    """The levels' structures side by side, with the block-diagonal factor and its theta
    Jacobian assembled block by block (called at every likelihood evaluation)."""

    def __init__(self, structures):
        super().__init__(structures)
        qs = np.cumsum([0] + [st.q for st in self.structures])
        self._q = [slice(qs[k], qs[k + 1]) for k in range(len(self.structures))]

    def cholesky(self, theta):
        L = np.zeros((self.q, self.q))
        for st, t, sq in zip(self.structures, self._parts(theta), self._q):
            L[sq, sq] = st.cholesky(t)
        return L

    def jacobian(self, theta, h=1e-7):
        """d vec(L) / d theta by central differences of each structure's factor."""
        J = np.zeros((self.q, self.q, self.n_theta))
        for st, t, sq, sl in zip(self.structures, self._parts(theta), self._q, self._t):
            for j in range(len(t)):
                tp, tm = t.copy(), t.copy()
                tp[j] += h
                tm[j] -= h
                J[sq, sq, sl.start + j] = (st.cholesky(tp) - st.cholesky(tm)) / (2 * h)
        return J.reshape(self.q * self.q, self.n_theta)


class CrossedEngine:
    """:class:`CrossedLaplaceGLMM` behind the interface MEGLM drives (``loglike(beta, aux, L)``
    and ``loglike_and_grad`` returning the gradient in the entries of the full factor L)."""

    intmethod = "laplace"
    intpoints = 1

    def __init__(self, core, slots, q):
        self.core, self.slots, self.q = core, slots, q
        self.endog, self.trials, self.exog = core.y, core.t, core.X
        self.family, self.link, self.k_aux = core.family, core.link, core.k_aux
        self.ptr = np.array([0, len(core.y)])
        self._warm = False
        self._status = np.zeros(1, np.intc)
        self.nthreads = 1

    def loglike(self, beta, aux, L, freeze_grid=False):
        return self.core.loglike(beta, aux, lams=self.slots.lams(np.asarray(L, float)))

    def loglike_and_grad(self, beta, aux, L):
        L = np.asarray(L, float)
        llf, gb, ga, gl = self.core.gradient(beta, aux, self.slots.lams(L))
        gL = np.zeros_like(L)
        for k, idx in enumerate(self.slots.slots):
            gL[np.ix_(idx, idx)] = np.tril(gl[k])
        return llf, gb, ga, gL


class CrossedMixin(MultilevelMixin):
    """MEGLM on crossed random effects: Laplace over the whole random-effects vector."""

    def _setup_levels(self, design):
        self.levels = list(design.levels)
        self.level = self.levels[-1]
        self.level_covs = [make_level_covariance(lev) for lev in self.levels]
        self.cov = _Levels(self.level_covs)

    def _integration(self, opts):
        method = str(opts.get("intmethod") or "laplace").lower()
        if method not in ("laplace", "pclaplace"):
            raise SpecificationError(
                f"{self.spec.command}: crossed random effects are integrated by the Laplace "
                f"approximation; intmethod({method}) is not available for them")
        return "laplace", 1

    def _make_engine(self, y, X):
        d = self.design
        terms, _ = build_terms(d)
        core = CrossedLaplaceGLMM(y, X, terms, self.family, self.link, trials=d.trials,
                                  offset=d.offset)
        return CrossedEngine(core, _TermSlots(d, self.level_covs), self.cov.q)

    def _laplace_engine(self):
        return self.engine

    def fit(self, start_params=None, maxiter=500, disp=False, **kwargs):
        """Fit by Laplace; starting values from lme4's nAGQ=0 stage.

        Unless ``start_params`` is given, the covariance parameters are first optimized with
        the fixed effects inside the penalized mode (a cheap criterion whose optimum is close
        to the Laplace one), then MEGLM's optimizer refines all parameters jointly.
        """
        if start_params is None and self.n_theta and not self.options.get("constraints"):
            start_params = self._joint_mode_start()
        return super().fit(start_params=start_params, maxiter=maxiter, disp=disp, **kwargs)

    def _lambda_jacobian(self, theta, h=1e-7):
        return self.cov.jacobian(np.asarray(theta, float), h)

    def _hessian_internal(self, x, free, forward=False, **kwargs):
        """Central (or forward) differences of the analytic gradient (every mode search
        starts from the previous mode's first-order prediction: one Newton step)."""
        from statsmodels_me.models.meglm import MEGLM
        return MEGLM._hessian_internal(self, x, free, forward=forward)

    def _optimize(self, x0, bounds, log, maxiter, warn=True, **kwargs):
        """Newton steps with the Hessian at the start (chord method), refreshed when the
        steps stall.

        From the nAGQ=0 start the Laplace optimum is a few Newton steps away, while a
        quasi-Newton method crawls on this badly scaled problem (covariates on different
        scales, variance parameters). A chord whose steps stop converging (the Hessian at
        the start too far from the optimum's) restarts with the Hessian where it stopped;
        MEGLM's quasi-Newton optimizer only when the start's Hessian is not negative
        definite.
        """
        x, total = x0, 0
        for _ in range(_CHORD_ROUNDS):
            free = self._free(x, bounds)
            # only the steps use this Hessian: forward differences (half the gradients)
            H = self._hessian_internal(x, free, forward=True)
            if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(H) >= 0):
                break
            x, it = self._chord_newton(x, H, free, bounds, log, maxit=_CHORD_MAXIT)
            total += it
            if self._chord_converged:
                return x, total
        if total == 0:
            return super()._optimize(x, bounds, log, maxiter, warn, **kwargs)
        if warn:
            # e.g. an ancillary parameter running to its limit (nbinomial alpha -> 0), where
            # a quasi-Newton search would follow it into the rounding noise
            warnings.warn(f"{self.spec.command}: Newton steps stopped without convergence",
                          ConvergenceWarning, stacklevel=3)
        return x, total

    def _fit_fixed(self, log):
        """The fixed-effects fit, computed once (the start and ``fit`` both need it)."""
        if getattr(self, "_fixed_fit", None) is None:
            lines = []
            self._fixed_fit = (super()._fit_fixed(lines), lines)
        (z, llf), lines = self._fixed_fit
        log.extend(lines)
        return z.copy(), llf

    def _joint_mode_start(self):
        """Covariance parameters maximizing lme4's nAGQ=0 criterion (beta in the penalized
        mode), by L-BFGS-B with the criterion's analytic gradient; beta from its joint
        mode.

        Standard deviations are optimized on the log scale: the criterion is even in them,
        so zero is a stationary point where a bounded quasi-Newton search that lands there
        would stop.
        """
        z_fixed, _ = self._fit_fixed([])
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
            L = self.cov.cholesky(theta)
            if not np.all(np.isfinite(L)):
                return np.inf, np.zeros_like(phi)
            crit, b, gl = eng.core.profiled_beta_gradient(aux, eng.slots.lams(L), state["beta"],
                                                          step_tol=_START_STEP_TOL)
            if not np.isfinite(crit):
                return np.inf, np.zeros_like(phi)
            state["beta"], state["phi"] = b, np.array(phi, float)
            gL = np.zeros_like(L)
            for k, idx in enumerate(eng.slots.slots):
                gL[np.ix_(idx, idx)] = np.tril(gl[k])
            g = gL.ravel() @ self._lambda_jacobian(theta)
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


_CLASSES = {}


def crossed_class(cls):
    """The crossed-effects variant of an MEGLM class (keeps the shortcut's command)."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"{cls.__name__}Crossed", (CrossedMixin, cls),
                             {"__doc__": f"{cls.__name__} with crossed random effects.",
                              "command": cls.command})
    return _CLASSES[cls]
