"""The base class of the conditional families of GLMMs (Stata's ``meglm`` families).

A family object is bound to one link.  It answers everything the estimators and ``predict``
need to know about the response model: its names and Stata's title pieces, the link and its
inverse with derivatives (statsmodels' link objects), the ancillary parameters with their
``e(b)`` names, starting values and display transforms, the checks of the outcome, the
per-observation constant of the log density, an independent scipy log density (for tests and
reference computations), the predict statistics and the integer codes of the Cython kernels.

Adding a family is one module with a subclass of :class:`Family` (plus its kernel functions in
``family_math.pxd`` and its code in ``statsmodels_me._kernels.codes``), registered in
``statsmodels_me.families.catalog``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from statsmodels.genmod.families import links as sm_links

from statsmodels_me._kernels.codes import FAMILY_CODES, LINK_CODES
from statsmodels_me.spec.errors import DataError, SpecificationError


class Logit(sm_links.Logit):
    """statsmodels' logit link with an inverse and its derivatives that neither overflow nor
    lose the tails: p = expit(z), p' = p (1 - p), p'' = p (1 - p) (1 - 2 p)."""

    def inverse(self, z):
        return special.expit(z)

    def inverse_deriv(self, z):
        return special.expit(z) * special.expit(-z)

    def inverse_deriv2(self, z):
        p, q = special.expit(z), special.expit(-z)
        return p * q * (q - p)


class CLogLog(sm_links.CLogLog):
    """statsmodels' complementary log-log link with an inverse accurate in the lower tail
    (``-expm1(-exp(z))``: ``1 - exp(-exp(z))`` loses the digits of small probabilities) and
    closed-form derivatives: p' = exp(z - e^z), p'' = p' (1 - e^z)."""

    def inverse(self, z):
        with np.errstate(over="ignore"):
            return -np.expm1(-np.exp(z))

    def inverse_deriv(self, z):
        with np.errstate(over="ignore"):
            return np.exp(z - np.exp(z))

    def inverse_deriv2(self, z):
        with np.errstate(over="ignore", invalid="ignore"):
            d1 = np.exp(z - np.exp(z))
            return np.where(d1 == 0, 0.0, -d1 * np.expm1(z))


class Log(sm_links.Log):
    """statsmodels' log link with the closed-form second derivative of its inverse
    (exp(z); the generic formula loses the lower tail)."""

    def inverse_deriv2(self, z):
        return np.exp(z)


_LINK_CLASSES = {"identity": sm_links.Identity, "log": Log, "logit": Logit,
                 "probit": sm_links.Probit, "cloglog": CLogLog}

#: statistics every GLMM answers whatever its family (``predict``)
COMMON_STATISTICS = ("xb", "eta", "reffects", "reses")


def statsmodels_link(link: str) -> sm_links.Link:
    """The statsmodels link object of a link name (``mu = link.inverse(eta)``).

    Raises
    ------
    SpecificationError
        Unknown link name.
    """
    if link not in _LINK_CLASSES:
        raise SpecificationError(f"link '{link}' is not supported; expected one of "
                                 f"{sorted(_LINK_CLASSES)}")
    return _LINK_CLASSES[link]()


# display transforms of ancillary parameters: (display, d display / d internal, internal)
_TRANSFORMS = {
    "identity": (lambda v: v, np.ones_like, lambda d: d),
    "exp": (np.exp, np.exp, np.log),
}


@dataclass(frozen=True)
class AncillaryParameter:
    """One ancillary parameter of a family, as the optimizer and Stata's table see it.

    Attributes
    ----------
    name : str
        Stata's ``e(b)`` name (``/lnalpha``, ``/cut1``, ``/var(e.y)``).
    transform : {"identity", "exp"}
        Display value as a function of the internal (unrestricted) value.
    residual : bool
        Shown after the random-effects parameters, in Stata's residual section
        (``var(e.y)`` of the gaussian family), instead of right after the fixed effects.
    positive : bool
        The display value must be positive (a variance): constrained fits keep it so.
    """

    name: str
    transform: str = "identity"
    residual: bool = False
    positive: bool = False

    def display(self, value):
        """Display value of the internal ``value``."""
        return _TRANSFORMS[self.transform][0](value)

    def display_derivative(self, value):
        """d display / d internal at the internal ``value``."""
        return _TRANSFORMS[self.transform][1](value)

    def internal(self, display):
        """Internal value of a display value."""
        return _TRANSFORMS[self.transform][2](display)


class Family:
    """Conditional distribution of the response given the linear predictor, with its link.

    Parameters
    ----------
    link : str, optional
        Link name; the family's ``default_link`` when None.

    Attributes
    ----------
    name : str
        Name the engines and kernels know it by (key of ``FAMILY_CODES``).
    stata_name : str
        Stata's ``family()`` text (``nbinomial`` for both dispersions).
    default_link, links :
        Stata's default link and the links the kernels implement for the family.
    needs_trials : bool
        The response needs a number of trials (``binomial(varname|#)``).
    has_constant : bool
        The fixed effects keep ``_cons`` (False for ordinal models: the cutpoints take it).
    can_separate : bool
        Categorical outcomes: covariates can predict them perfectly (separation check).
    weak_without_replicates : bool
        One observation per cluster identifies the random-effects variance only through the
        shape of the link (binary and ordinal outcomes).
    glm_newton : bool
        The fixed-effects model is fitted by the exact Newton method of
        ``statsmodels_me.models.glm_newton`` (families without ancillary parameters).
    predict_statistics : tuple of str
        Family-specific statistics of ``predict`` (besides :data:`COMMON_STATISTICS`).
    """

    name: str = ""
    stata_name: str = ""
    default_link: str = ""
    links: tuple[str, ...] = ()
    needs_trials = False
    has_constant = True
    can_separate = False
    weak_without_replicates = False
    glm_newton = False
    predict_statistics: tuple[str, ...] = ("mu", "pearson", "deviance", "anscombe",
                                           "density", "distribution")
    # link -> (title word, name of the model without random effects), Stata's header pieces
    _titles: dict[str, tuple[str, str]] = {}
    _glm_versus = "fixed-effects model"
    # latent residual variance of a threshold model on the latent scale, by link
    _latent_variance: dict[str, float] = {}
    # upper bound of the mean (per trial) that starts ``_cons``
    _max_mean_start = None
    # the mean must be positive (counts, gamma): log f = -inf elsewhere
    _positive_mean = False

    def __init__(self, link: str | None = None):
        link = self.default_link if link is None else link
        if link not in self.links:
            raise SpecificationError(f"link '{link}' is not available for family "
                                     f"'{self.name}'; expected one of {self.links}")
        self.link = link
        self.link_obj = statsmodels_link(link)

    def __repr__(self):
        return f"{type(self).__name__}(link={self.link!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.link == other.link

    def __hash__(self):
        return hash((type(self).__name__, self.link))

    # -- kernel codes --------------------------------------------------------------------
    @property
    def code(self) -> int:
        """Integer code of the family in the kernels (``FAM_*`` of ``kernel_codes.pxd``)."""
        return FAMILY_CODES[self.name]

    @property
    def link_code(self) -> int:
        """Integer code of the link in the kernels (``LINK_*`` of ``kernel_codes.pxd``)."""
        return LINK_CODES[self.link]

    # -- titles --------------------------------------------------------------------------
    @property
    def title(self) -> str:
        """Word of Stata's header, "Mixed-effects {title} regression" (``GLM`` when the
        family-link pair has no command of its own)."""
        return self._titles.get(self.link, ("GLM", ""))[0]

    @property
    def fixed_model_name(self) -> str:
        """Stata's name of the model without random effects, in the LR test line."""
        return self._titles.get(self.link, ("", self._glm_versus))[1]

    @property
    def model_title(self) -> str:
        """Stata's header: "Mixed-effects logistic regression", "Mixed-effects GLM"."""
        return "Mixed-effects GLM" if self.title == "GLM" else \
            f"Mixed-effects {self.title} regression"

    def header_rows(self, trials_variable=None) -> list[tuple[str, str]]:
        """Stata's header lines naming the model: the binomial trials variable (when trials
        come from a variable), and the family and link of models without a command of their
        own (``title == "GLM"``)."""
        rows = []
        if self.needs_trials and isinstance(trials_variable, str):
            rows.append(("Binomial variable", trials_variable))
        if self.title == "GLM":
            rows += [("Family", self.stata_name), ("Link", self.link)]
        return rows

    @property
    def latent_residual_variance(self) -> float | None:
        """Variance of the latent residual of a threshold model (logit pi^2/3, probit 1) for
        ``estat icc``; None when the response has no latent-variable form."""
        return self._latent_variance.get(self.link)

    # -- link ----------------------------------------------------------------------------
    def inverse_link(self, eta):
        """mu (per trial) = g^{-1}(eta)."""
        with np.errstate(over="ignore"):
            return self.link_obj.inverse(np.asarray(eta, float))

    def inverse_link_deriv(self, eta):
        """d g^{-1}(eta) / d eta."""
        return self.link_obj.inverse_deriv(np.asarray(eta, float))

    def inverse_link_deriv2(self, eta):
        """d^2 g^{-1}(eta) / d eta^2."""
        return self.link_obj.inverse_deriv2(np.asarray(eta, float))

    # -- response ------------------------------------------------------------------------
    def _support_violation(self, y, trials) -> str | None:
        """Description of responses outside the support, or None (families override)."""
        return None

    def check_endog(self, y, trials=None) -> None:
        """Raise :class:`DataError` when the response is outside the family's support."""
        y = np.asarray(y, float)
        bad = "non-finite values" if not np.all(np.isfinite(y)) else \
            self._support_violation(y, trials)
        if bad is not None:
            raise DataError(f"the response has {bad} for family '{self.name}'")

    def response_arrays(self, endog, trials=None, offset=None):
        """Response, trials and offset as float vectors, checked for the family.

        Returns
        -------
        y, t, off : ndarray (n,)
            ``t`` is ones and ``off`` zeros when not given.
        """
        y = np.asarray(endog, float).ravel()
        n = y.shape[0]
        if self.needs_trials and trials is None:
            raise DataError(f"family '{self.name}' needs trials")
        t = np.ones(n) if trials is None else np.asarray(trials, float).ravel()
        off = np.zeros(n) if offset is None else np.asarray(offset, float).ravel()
        self.check_endog(y, t)
        return y, t, off

    def prepare_endog(self, y, depvar: str = "y"):
        """The response the engines take, and the outcome categories.

        Returns
        -------
        y : ndarray (n,)
            Unchanged here; ordinal outcomes are recoded 0..K-1.
        categories : ndarray or None
            Sorted outcome values of categorical (ordinal) responses.
        """
        return np.asarray(y), None

    def check_outcome_varies(self, y, trials, depvar: str = "y") -> None:
        """Raise :class:`DataError` when the outcome has no finite MLE because it never
        varies (families override; nothing to check here)."""

    # -- ancillary parameters ------------------------------------------------------------
    def ancillary(self, y=None, depvar: str = "y") -> tuple[AncillaryParameter, ...]:
        """The ancillary parameters, in the optimizer's order.

        Parameters
        ----------
        y : array_like, optional
            The response as the engines take it (ordinal: codes 0..K-1; the number of
            cutpoints is K - 1).
        depvar : str
            Name of the dependent variable (``/var(e.depvar)``).
        """
        return ()

    def n_ancillary(self, y=None) -> int:
        """Number of ancillary parameters (the engines' ``k_aux``)."""
        return len(self.ancillary(y))

    def ancillary_start(self, y, trials=None):
        """Starting values of the ancillary parameters on the internal scale.

        Parameters
        ----------
        y, trials : ndarray (n,)
            The response (as the engines take it) and the trials.
        """
        return np.zeros(self.n_ancillary(y))

    def constant_start(self, y, trials=None) -> float:
        """Starting value of ``_cons``: the link of the mean response per trial (at least
        1e-3; binary families also at most 1 - 1e-3), the mean itself for the identity
        link."""
        y = np.asarray(y, float)
        if self.link == "identity":
            return float(y.mean())
        t = np.ones_like(y) if trials is None else np.asarray(trials, float)
        m = float(np.clip((y / t).mean(), 1e-3, self._max_mean_start))
        return float(self.link_obj(np.array(m)))

    def ancillary_for(self, n: int) -> tuple[AncillaryParameter, ...]:
        """The ``n`` ancillary parameters of a fitted model (the families whose number of
        ancillary parameters depends on the data override this).

        Raises
        ------
        SpecificationError
            ``n`` is not the family's number of ancillary parameters.
        """
        params = self.ancillary()
        if len(params) != n:
            raise SpecificationError(f"family '{self.name}' has {len(params)} ancillary "
                                     f"parameter(s), not {n}")
        return params

    def ancillary_display(self, aux):
        """Display values of the ancillary parameters (internal values ``aux``).

        Returns
        -------
        front, back : ndarray
            Values shown right after the fixed effects and in the residual section (after
            the random-effects parameters).
        """
        aux = np.atleast_1d(np.asarray(aux, float))
        params = self.ancillary_for(aux.size)
        vals = np.array([p.display(a) for p, a in zip(params, aux)], float)
        res = np.array([p.residual for p in params], bool)
        return vals[~res], vals[res]

    def ancillary_display_derivative(self, aux):
        """d display / d internal of every ancillary parameter (internal order): the
        diagonal of the ancillary block of the display Jacobian."""
        aux = np.atleast_1d(np.asarray(aux, float))
        return np.array([p.display_derivative(a)
                         for p, a in zip(self.ancillary_for(aux.size), aux)], float)

    def ancillary_from_display(self, front, back):
        """Internal ancillary values from the two display groups of
        :meth:`ancillary_display`."""
        front, back = np.atleast_1d(front), np.atleast_1d(back)
        params = self.ancillary_for(front.size + back.size)
        fi, bi = iter(front), iter(back)
        return np.array([p.internal(next(bi) if p.residual else next(fi)) for p in params],
                        float)

    # -- log density ---------------------------------------------------------------------
    def obs_constant(self, y, trials, aux):
        """Terms of log f(y | eta) that do not depend on eta, and their aux-derivatives.

        The kernels (``fam_eval``) evaluate the variable part at every node; these terms
        are added once per observation.

        Returns
        -------
        c : ndarray (n,)
        dc : ndarray (n, n_ancillary)
        """
        y = np.asarray(y, float)
        aux = np.asarray(aux, float)
        return np.zeros(y.shape[0]), np.zeros((y.shape[0], aux.shape[0]))

    def _logpdf_mu(self, y, mu, trials, aux):
        raise NotImplementedError

    def loglike_obs(self, y, eta, trials=None, aux=()):
        """log f(y | eta) from scipy.stats and the statsmodels link, independent of the
        kernels (tests, reference computations, ``predict density``); -inf where a family
        with a positive mean gets a mean <= 0 (identity link)."""
        y = np.asarray(y, float)
        t = np.ones_like(y) if trials is None else np.asarray(trials, float)
        aux = np.asarray(aux, float)
        mu = self.inverse_link(eta)
        if not self._positive_mean:
            return self._logpdf_mu(y, mu, t, aux)
        ok = mu > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            val = self._logpdf_mu(y, np.where(ok, mu, 1.0), t, aux)
        return np.where(ok, val, -np.inf)

    def _cdf_mu(self, y, mu, trials, aux):
        raise NotImplementedError

    def cdf(self, y, eta, trials=None, aux=()):
        """P(Y <= y | eta) (``predict distribution``)."""
        y = np.asarray(y, float)
        t = np.ones_like(y) if trials is None else np.asarray(trials, float)
        return self._cdf_mu(y, self.inverse_link(eta), t, np.asarray(aux, float))

    # -- predict -------------------------------------------------------------------------
    def check_statistic(self, statistic: str) -> None:
        """Raise :class:`SpecificationError` when ``predict`` has no such statistic for
        this family."""
        if statistic not in self.predict_statistics:
            raise SpecificationError(
                f"predict {statistic}: not available after family {self.stata_name} with link "
                f"{self.link}; available: "
                f"{', '.join(COMMON_STATISTICS + self.predict_statistics)}")

    def mean(self, eta, trials=None, aux=()):
        """Conditional mean E(y | eta) = g^{-1}(eta) (binomial: times the trials)."""
        return self.inverse_link(eta)

    def probability(self, eta, trials=None, aux=(), outcome=None):
        """``predict pr``: the probability of a positive outcome (per trial) for binary and
        binomial responses, the mean for counts, P(y = outcome) for ordinal ones."""
        self.check_statistic("pr")
        return self.mean(eta, trials, aux)

    def variance(self, mu, trials, aux):
        """Var(y | mu) of the conditional distribution, without the scale of the gaussian
        (the unscaled variance function of McCullagh and Nelder 1989, sec. 2.2)."""
        raise NotImplementedError

    def unit_deviance(self, y, mu, trials, aux):
        """Deviance contribution d_i of each observation (McCullagh and Nelder 1989,
        sec. 2.3), unscaled."""
        raise NotImplementedError

    def resid_anscombe(self, y, mu, trials, aux):
        """Anscombe residuals (McCullagh and Nelder 1989, sec. 2.4.2), unscaled."""
        raise NotImplementedError

    def resid_pearson(self, y, mu, trials=None, aux=()):
        """(y - mu) / sqrt(V(mu))."""
        self.check_statistic("pearson")
        return (y - mu) / np.sqrt(self.variance(mu, trials, aux))

    def resid_deviance(self, y, mu, trials=None, aux=()):
        """sign(y - mu) sqrt(d_i)."""
        self.check_statistic("deviance")
        return np.sign(y - mu) * np.sqrt(np.maximum(self.unit_deviance(y, mu, trials, aux), 0))

    def residual(self, kind: str, y, mu, trials=None, aux=()):
        """Pearson, deviance or Anscombe residuals at the conditional mean ``mu``."""
        self.check_statistic(kind)
        if kind == "pearson":
            return self.resid_pearson(y, mu, trials, aux)
        if kind == "deviance":
            return self.resid_deviance(y, mu, trials, aux)
        return self.resid_anscombe(y, mu, trials, aux)


def xlogy_ratio(y, mu):
    """y log(y / mu) with 0 log 0 = 0."""
    return special.xlogy(y, y / mu)
