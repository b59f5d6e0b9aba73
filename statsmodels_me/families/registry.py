"""Family and link registry for the GLMM engine.

Ancillary parameters (``aux``) per family, on the unrestricted scale the optimizer sees:

============================  =======================  =========================================
family                        aux                      meaning
============================  =======================  =========================================
gaussian                      ``[log sigma_e^2]``      log residual variance (Stata /var(e.y))
nbinomial_mean (NB2)          ``[lnalpha]``            Var(y|b) = mu (1 + alpha mu)
nbinomial_constant (NB1)      ``[lndelta]``            Var(y|b) = mu (1 + delta)
gamma                         ``[log s]``              shape 1/s, mean mu, Var(y|b) = s mu^2
ordinal                       ``cut_1 < ... < cut_K-1``  P(y <= k) = F(cut_k - eta)
bernoulli, binomial, poisson  none
============================  =======================  =========================================

Ordinal responses are integer codes 0..K-1 (the caller maps the sorted categories).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from statsmodels.genmod.families import links

from statsmodels_me.spec.errors import DataError, SpecificationError

FAMILY_CODES = {
    "gaussian": 0, "bernoulli": 1, "binomial": 2, "poisson": 3,
    "nbinomial_mean": 4, "nbinomial_constant": 5, "gamma": 6, "ordinal": 7,
}
LINK_CODES = {"identity": 0, "log": 1, "logit": 2, "probit": 3, "cloglog": 4}


@dataclass(frozen=True)
class Family:
    """Static description of a conditional family.

    Attributes
    ----------
    name : str
        Engine name (key of ``FAMILY_CODES``).
    default_link : str
        Stata's default link for the family.
    links : tuple of str
        Links the kernels implement for it.
    aux_names : tuple of str
        Stata ``e(b)`` names of the ancillary parameters (ordinal: filled per model).
    """

    name: str
    default_link: str
    links: tuple[str, ...]
    aux_names: tuple[str, ...]

    @property
    def code(self) -> int:
        return FAMILY_CODES[self.name]


_CDF = ("logit", "probit", "cloglog")
_MEAN = ("identity", "log")
FAMILIES = {
    "gaussian": Family("gaussian", "identity", _MEAN, ("/var(e)",)),
    "bernoulli": Family("bernoulli", "logit", _CDF, ()),
    "binomial": Family("binomial", "logit", _CDF, ()),
    "poisson": Family("poisson", "log", _MEAN, ()),
    "nbinomial_mean": Family("nbinomial_mean", "log", _MEAN, ("/lnalpha",)),
    "nbinomial_constant": Family("nbinomial_constant", "log", _MEAN, ("/lndelta",)),
    "gamma": Family("gamma", "log", _MEAN, ("/logs",)),
    "ordinal": Family("ordinal", "logit", _CDF, ()),
}


def get_family(name: str, link: str | None = None) -> tuple[Family, str]:
    """Look up a family and validate (or default) its link.

    Raises
    ------
    SpecificationError
        Unknown family, or a link the family does not support.
    """
    fam = FAMILIES.get(name)
    if fam is None:
        raise SpecificationError(
            f"family '{name}' is not supported; expected one of {sorted(FAMILIES)}")
    link = fam.default_link if link is None else link
    if link not in fam.links:
        raise SpecificationError(
            f"link '{link}' is not available for family '{name}'; expected one of {fam.links}")
    return fam, link


def link_code(link: str) -> int:
    """Integer code of a link name for the kernels."""
    if link not in LINK_CODES:
        raise SpecificationError(f"link '{link}' is not supported; expected one of "
                                 f"{sorted(LINK_CODES)}")
    return LINK_CODES[link]


def statsmodels_link(link: str):
    """The statsmodels link object matching a kernel link code (mu = link.inverse(eta))."""
    return {"identity": links.Identity(), "log": links.Log(), "logit": links.Logit(),
            "probit": links.Probit(), "cloglog": links.CLogLog()}[link]


def n_aux(name: str, endog=None) -> int:
    """Number of ancillary parameters (ordinal: number of categories minus one)."""
    if name == "ordinal":
        return int(np.max(endog)) if endog is not None and len(endog) else 0
    return len(FAMILIES[name].aux_names)


def check_endog(name: str, y, trials) -> None:
    """Raise DataError when the response is outside the family's support."""
    y = np.asarray(y, float)
    bad = None
    if not np.all(np.isfinite(y)):
        bad = "non-finite values"
    elif name == "bernoulli" and not np.all((y == 0) | (y == 1)):
        bad = "values other than 0 and 1"
    elif name == "binomial" and (np.any(y < 0) or np.any(y > trials) or np.any(y != np.round(y))):
        bad = "values outside 0..trials or non-integer"
    elif name in ("poisson", "nbinomial_mean", "nbinomial_constant") and (
            np.any(y < 0) or np.any(y != np.round(y))):
        bad = "negative or non-integer counts"
    elif name == "gamma" and np.any(y <= 0):
        bad = "non-positive values"
    elif name == "ordinal" and (np.any(y < 0) or np.any(y != np.round(y))):
        bad = "codes that are not 0, 1, ..., K-1"
    if bad is not None:
        raise DataError(f"the response has {bad} for family '{name}'")


def response_arrays(name: str, endog, trials=None, offset=None):
    """Response, trials and offset as float vectors, checked for the family.

    Returns
    -------
    y, t, off : ndarray (n,)
        ``t`` is ones and ``off`` zeros when not given.
    """
    y = np.asarray(endog, float).ravel()
    n = y.shape[0]
    if name == "binomial" and trials is None:
        raise DataError("family 'binomial' needs trials")
    t = np.ones(n) if trials is None else np.asarray(trials, float).ravel()
    off = np.zeros(n) if offset is None else np.asarray(offset, float).ravel()
    check_endog(name, y, t)
    return y, t, off


def parameter_arrays(beta, aux, p: int, k_aux: int):
    """Fixed effects and ancillary parameters as contiguous float vectors of the right sizes."""
    beta = np.ascontiguousarray(beta, float).ravel()
    aux = np.ascontiguousarray(aux if aux is not None else [], float).ravel()
    if beta.size != p or aux.size != k_aux:
        raise DataError(f"expected {p} coefficients and {k_aux} ancillary parameters, got "
                        f"{beta.size} and {aux.size}")
    return beta, aux


def obs_constant(name: str, y, trials, aux):
    """Terms of log f(y | eta) that do not depend on eta, and their aux-derivatives.

    Returns
    -------
    c : ndarray (n,)
    dc : ndarray (n, naux)
    """
    y = np.asarray(y, float)
    aux = np.asarray(aux, float)
    n = y.shape[0]
    dc = np.zeros((n, aux.shape[0]))
    if name == "gaussian":
        c = np.full(n, -0.5 * np.log(2 * np.pi) - 0.5 * aux[0])
        dc[:, 0] = -0.5
    elif name == "binomial":
        t = np.asarray(trials, float)
        c = special.gammaln(t + 1) - special.gammaln(y + 1) - special.gammaln(t - y + 1)
    elif name == "poisson":
        c = -special.gammaln(y + 1)
    elif name == "nbinomial_mean":
        r = np.exp(-aux[0])
        c = special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1) + r * np.log(r)
        dc[:, 0] = -r * (special.digamma(y + r) - special.digamma(r) + np.log(r) + 1)
    elif name == "nbinomial_constant":
        d = np.exp(aux[0])
        c = -special.gammaln(y + 1) + y * np.log(d / (1 + d))
        dc[:, 0] = y / (1 + d)
    elif name == "gamma":
        k = np.exp(-aux[0])
        c = (k - 1) * np.log(y) + k * np.log(k) - special.gammaln(k)
        dc[:, 0] = -k * (np.log(y) + np.log(k) + 1 - special.digamma(k))
    else:
        c = np.zeros(n)
    return c, dc


def reference_logpdf(name: str, link: str, y, eta, trials=None, aux=()):
    """log f(y | eta) from scipy.stats and statsmodels links (independent of the kernels).

    Slow but simple: for tests and the pure-Python reference quadrature.
    """
    y = np.asarray(y, float)
    eta = np.asarray(eta, float)
    aux = np.asarray(aux, float)
    inv = statsmodels_link(link).inverse
    if name == "ordinal":
        cut = np.concatenate([[-np.inf], aux, [np.inf]])
        k = y.astype(int)
        hi = inv(cut[k + 1] - eta)
        lo = inv(cut[k] - eta)
        with np.errstate(divide="ignore"):  # a probability that underflows is log(0) = -inf
            return np.log(hi - lo)
    mu = inv(eta)
    if name not in ("gaussian", "bernoulli", "binomial"):
        with np.errstate(invalid="ignore", divide="ignore"):
            val = _reference_counts_gamma(name, y, np.where(mu > 0, mu, 1.0), aux)
        return np.where(mu > 0, val, -np.inf)
    if name == "gaussian":
        return stats.norm.logpdf(y, mu, np.sqrt(np.exp(aux[0])))
    if name == "bernoulli":
        return stats.bernoulli.logpmf(y, mu)
    if name == "binomial":
        return stats.binom.logpmf(y, trials, mu)
    raise SpecificationError(f"family '{name}' is not supported")


def _reference_counts_gamma(name, y, mu, aux):
    if name == "poisson":
        return stats.poisson.logpmf(y, mu)
    if name == "nbinomial_mean":
        r = np.exp(-aux[0])
        return stats.nbinom.logpmf(y, r, r / (r + mu))
    if name == "nbinomial_constant":
        d = np.exp(aux[0])
        return stats.nbinom.logpmf(y, mu / d, 1 / (1 + d))
    if name == "gamma":
        k = np.exp(-aux[0])
        return stats.gamma.logpdf(y, k, scale=mu / k)
    raise SpecificationError(f"family '{name}' is not supported")
