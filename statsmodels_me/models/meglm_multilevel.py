"""``meglm`` and its shortcuts with several nested random-effects levels.

:meth:`statsmodels_me.models.meglm.MEGLM.class_for_design` sends designs with more than one
level here.  :func:`multilevel_class` returns a subclass of the calling class (so shortcuts keep
their command) that replaces only the engine (:class:`NestedGLMM`) and the covariance map (the
levels' structures side by side); optimization, display, constraints and results are MEGLM's.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import block_diag

from statsmodels_me.covariance import make_level_covariance
from statsmodels_me.models.glmm_nested_engine import NestedGLMM, nesting_order
from statsmodels_me.optimization.hessian import relative_step, value_hessian
from statsmodels_me.spec.errors import DataError


class LevelsCovariance:
    """The covariance structures of nested levels side by side: theta concatenated, the
    Cholesky factor block diagonal, display rows level after level.

    Parameters
    ----------
    structures : list of CovarianceStructure, outermost level first.
    """

    def __init__(self, structures):
        self.structures = list(structures)
        self.names = [n for s in self.structures for n in s.names]
        self.q = sum(s.q for s in self.structures)
        self.level_label = self.structures[0].level_label
        self.kind_label = self.structures[0].kind_label
        self.rows = [r for s in self.structures for r in s.rows]
        t = np.cumsum([0] + [s.n_theta for s in self.structures])
        self._t = [slice(t[k], t[k + 1]) for k in range(len(self.structures))]
        d = np.cumsum([0] + [len(s.display_names) for s in self.structures])
        self._d = [slice(d[k], d[k + 1]) for k in range(len(self.structures))]

    @property
    def n_theta(self):
        return sum(s.n_theta for s in self.structures)

    @property
    def display_names(self):
        return [n for s in self.structures for n in s.display_names]

    @property
    def vcomp_labels(self):
        return [n for s in self.structures for n in s.vcomp_labels]

    @property
    def theta_is_variance(self):
        return [v for s in self.structures for v in s.theta_is_variance]

    def _parts(self, theta):
        theta = np.asarray(theta, float).ravel()
        return [theta[sl] for sl in self._t]

    def theta_bounds(self):
        return [b for s in self.structures for b in s.theta_bounds()]

    def theta_start(self, sigma=None):
        return np.concatenate([s.theta_start() for s in self.structures])

    def cholesky(self, theta):
        return block_diag(*[s.cholesky(t) for s, t in
                            zip(self.structures, self._parts(theta), strict=True)])

    def display(self, theta, scale=1.0):
        return np.concatenate([s.display(t, scale) for s, t in
                               zip(self.structures, self._parts(theta), strict=True)])

    def display_jacobian(self, theta, scale=1.0):
        return block_diag(*[s.display_jacobian(t, scale) for s, t in
                            zip(self.structures, self._parts(theta), strict=True)])

    def theta_from_display(self, values, scale=1.0):
        values = np.asarray(values, float).ravel()
        return np.concatenate([s.theta_from_display(values[sl], scale) for s, sl in
                               zip(self.structures, self._d, strict=True)])


def _check_nested(design, command):
    """NotImplementedError for designs that are not a hierarchy of nested levels."""
    for lev in design.levels:
        if lev.label == "_all" or any(b.factor_codes is not None for b in lev.blocks):
            raise NotImplementedError(
                f"crossed GLMMs are not implemented yet: {command} with random effects at "
                f"level '{lev.label}' ({', '.join(lev.names)}) is crossed with the other levels; "
                "nested levels (|| school: || class:, or (1 | school/class)) are supported")
    if not design.nested:
        try:
            nesting_order([lev.codes for lev in design.levels])
        except DataError:
            labels = " and ".join(f"'{lev.label}'" for lev in design.levels)
            raise NotImplementedError(
                f"crossed GLMMs are not implemented yet: the random effects at levels {labels} "
                "are not nested in one another; nested levels (|| school: || class:, or "
                "(1 | school/class)) are supported") from None


_CLASSES = {}


def multilevel_class(cls, design):
    """The model class fitting ``design`` (several nested levels) for the caller ``cls``.

    Parameters
    ----------
    cls : subclass of MEGLM (``MEGLM``, ``MEOProbit``, ...).
    design : Design with more than one level.

    Returns
    -------
    type
        A subclass of ``cls`` and :class:`MultilevelMixin` with the same ``command``; for
        crossed designs (``_all:`` / ``R.`` terms, non-nested lme4 bars) the crossed-effects
        class of :mod:`statsmodels_me.models.meglm_crossed`.
    """
    try:
        _check_nested(design, design.spec.command)
    except NotImplementedError:
        from statsmodels_me.models.meglm_crossed import crossed_class
        return crossed_class(cls)
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"{cls.__name__}Multilevel", (MultilevelMixin, cls),
                             {"__doc__": f"{cls.__name__} with nested random-effects levels.",
                              "command": cls.command})
    return _CLASSES[cls]


class MultilevelMixin:
    """MEGLM on nested levels: the engine is :class:`NestedGLMM`, theta is every level's
    structure parameters concatenated (outermost first), ``L`` is block diagonal."""

    def _setup_levels(self, design):
        _check_nested(design, self.spec.command)
        self.levels = list(design.levels)
        self.level = self.levels[-1]
        self.level_covs = [make_level_covariance(lev) for lev in self.levels]
        self.cov = LevelsCovariance(self.level_covs)

    def _make_engine(self, y, X):
        d = self.design
        Zs = [self._level_Z(lev) for lev in self.levels]
        return NestedGLMM(y, X, Zs, [lev.codes for lev in self.levels], self.family,
                          self.link, trials=d.trials, offset=d.offset,
                          intmethod=self.intmethod, intpoints=self.intpoints)

    def _laplace_engine(self):
        e = self.engine
        lap = NestedGLMM(e.endog, e.exog, e.Zs, [e.gidx[:, k] for k in range(e.D)], e.family,
                         e.link, trials=e.trials, offset=e.offset, intmethod="laplace")
        lap.nthreads = e.nthreads
        return lap

    def _hessian_internal(self, x, free, **kwargs):
        """Quadrature: second differences of the log likelihood with the grids adapted at
        ``x`` and then frozen (one smooth function; steps 1e-3 * max(|x_i|, 0.1)), so the
        grids do not move between the differenced points.  Laplace: MEGLM's central
        differences of the exact gradient.
        """
        eng = self.engine
        quad = eng.intmethod != "laplace"
        if not quad:
            return super()._hessian_internal(x, free)

        def f(z, freeze=True):
            beta, aux, theta = self._split(z)
            return eng.loglike(beta, aux, self.cov.cholesky(theta), freeze_grid=freeze)
        f0 = f(x, freeze=False)  # adapt the grids at x
        return value_hessian(f, x, free, relative_step(1e-3, 0.1), f0=f0)
