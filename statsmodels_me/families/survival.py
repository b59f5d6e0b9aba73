"""Parametric survival distributions of ``mestreg`` (Stata's [ST] streg parameterizations).

A row is the spell (t0, t] ending in failure (d = 1) or right-censoring (d = 0); its log
likelihood conditional on eta is d log h(t) + log S(t) - log S(t0), i.e. delayed entry
conditions on survival to t0.  Rows reach the kernels as ``y = t`` for failures and
``y = -t`` for censored spells, and the entry time ``t0`` (0 without delayed entry) in the
trials slot of the other families.

========================  ======  ===============================================
distribution              metric  model
========================  ======  ===============================================
exponential               PH      h = exp(eta)
exponential               AFT     log t = eta + W, W extreme-value (min)
weibull (``/ln_p``)       PH      h = exp(eta) p t^(p-1)
weibull (``/ln_p``)       AFT     log t = eta + W / p
gompertz (``/gamma``)     PH      h = exp(eta + gamma t)
lognormal (``/lnsigma``)  AFT     log t = eta + sigma W, W standard normal
loglogistic (``/logs``)   AFT     log t = eta + s W, W standard logistic
gamma (``/logs``,         AFT     log t = eta + s W, W generalized log-gamma:
``/kappa``)                       u = kappa^-2 exp(kappa W) ~ Gamma(kappa^-2, 1)
========================  ======  ===============================================
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from statsmodels_me.families.base import AncillaryParameter, Family
from statsmodels_me.spec.errors import DataError


def encode_spells(time, failure, entry=None):
    """The kernels' (y, t) of survival spells: y = +-time (sign: failure), t = entry."""
    time = np.asarray(time, float)
    d = np.asarray(failure, float)
    t0 = np.zeros_like(time) if entry is None else np.asarray(entry, float)
    return np.where(d > 0, time, -time), t0


class SurvivalFamily(Family):
    """Base of the survival distributions: encoded spells, no link (eta is the linear
    predictor of the log hazard (PH) or of log time (AFT))."""

    stata_name = ""
    metric = "ph"
    default_link = "identity"
    links = ("identity",)
    predict_statistics = ("mean", "median", "survival", "hazard", "density", "distribution")
    #: (label, ancillary name) of rows showing exp() of a log-scale ancillary parameter
    exp_rows: tuple[tuple[str, str], ...] = ()
    _ancillary: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """``Weibull PH``, ``lognormal AFT``, ... (Stata's header word)."""
        return f"{self._proper_name} {'PH' if self.metric == 'ph' else 'AFT'}"

    @property
    def _proper_name(self) -> str:
        return {"weibull": "Weibull", "gompertz": "Gompertz"}.get(self.stata_name,
                                                                  self.stata_name)

    @property
    def model_title(self) -> str:
        return f"Mixed-effects {self.title} regression"

    @property
    def fixed_model_name(self) -> str:
        return f"{self._proper_name} model"

    def check_endog(self, y, trials=None) -> None:
        y, t0 = np.asarray(y, float), np.asarray(trials, float)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(t0))):
            raise DataError("the survival spells have non-finite times")
        if np.any(y == 0) or np.any(t0 < 0) or np.any(t0 >= np.abs(y)):
            raise DataError("the survival spells need 0 <= entry < exit")

    def response_arrays(self, endog, trials=None, offset=None):
        """Encoded spells (``y`` = +-time, ``t`` = entry) and the offset."""
        y = np.asarray(endog, float).ravel()
        t0 = np.zeros_like(y) if trials is None else np.asarray(trials, float).ravel()
        off = np.zeros(y.shape[0]) if offset is None else np.asarray(offset, float).ravel()
        self.check_endog(y, t0)
        return y, t0, off

    def ancillary(self, y=None, depvar="y"):
        return tuple(AncillaryParameter(n) for n in self._ancillary)

    def constant_start(self, y, trials=None) -> float:
        """log of the exponential rate (failures / time at risk); its negative for AFT."""
        y = np.asarray(y, float)
        t0 = np.zeros_like(y) if trials is None else np.asarray(trials, float)
        rate = max(np.sum(y > 0), 1) / np.sum(np.abs(y) - t0)
        return float(np.log(rate) if self.metric == "ph" else -np.log(rate))

    def log_hazard_cumhaz(self, t, eta, aux):
        """log h(t | eta) and H(t | eta) = -log S(t | eta) (scipy/numpy, independent of the
        kernels)."""
        raise NotImplementedError

    def loglike_obs(self, y, eta, trials=None, aux=()):
        """d log h(t) - H(t) + H(t0) of each encoded spell."""
        y = np.asarray(y, float)
        t0 = np.zeros_like(y) if trials is None else np.asarray(trials, float)
        eta = np.broadcast_to(np.asarray(eta, float), y.shape)
        aux = np.asarray(aux, float)
        lh, H = self.log_hazard_cumhaz(np.abs(y), eta, aux)
        entered = t0 > 0
        H0 = np.zeros_like(y)
        if np.any(entered):
            H0[entered] = self.log_hazard_cumhaz(t0[entered], eta[entered], aux)[1]
        return np.where(y > 0, lh, 0.0) - H + H0

    def survival(self, t, eta, aux=()):
        """S(t | eta)."""
        return np.exp(-self.log_hazard_cumhaz(np.asarray(t, float), np.asarray(eta, float),
                                              np.asarray(aux, float))[1])

    def cdf(self, y, eta, trials=None, aux=()):
        """P(T <= t | eta) for t = |y|."""
        return -np.expm1(-self.log_hazard_cumhaz(np.abs(np.asarray(y, float)),
                                                 np.asarray(eta, float),
                                                 np.asarray(aux, float))[1])

    # -- predict ---------------------------------------------------------------------------
    def hazard(self, t, eta, aux=()):
        """h(t | eta)."""
        return np.exp(self.log_hazard_cumhaz(np.asarray(t, float), np.asarray(eta, float),
                                             np.asarray(aux, float))[0])

    def density(self, t, eta, aux=()):
        """f(t | eta) = h(t) S(t)."""
        lh, H = self.log_hazard_cumhaz(np.asarray(t, float), np.asarray(eta, float),
                                       np.asarray(aux, float))
        return np.exp(lh - H)

    def mean_time(self, eta, aux=()):
        """E(T | eta) (``predict mean``); inf where the mean does not exist."""
        raise NotImplementedError

    def median_time(self, eta, aux=()):
        """The t with S(t | eta) = 1/2 (``predict median``); inf where S stays above 1/2."""
        raise NotImplementedError

    def quantile(self, p, eta, aux=()):
        """The t with F(t | eta) = p (the inverse distribution function); inf where S stays
        above 1 - p."""
        return self.inverse_cumhaz(-np.log1p(-np.asarray(p, float)), eta, aux)

    def inverse_cumhaz(self, H, eta, aux=()):
        """The t with H(t | eta) = ``H``, i.e. S(t | eta) = exp(-H); inf where the cumulative
        hazard stays below ``H``.

        Numerically by bisection on log t of ``log_hazard_cumhaz`` (H is increasing in t);
        the distributions with a closed form override it.
        """
        H = np.asarray(H, float)
        eta = np.asarray(eta, float)
        H, eta = np.broadcast_arrays(H, eta)
        aux = np.asarray(aux, float)

        def cumhaz(logt):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return self.log_hazard_cumhaz(np.exp(logt), eta, aux)[1]
        lo, hi = np.full(H.shape, -1.0), np.full(H.shape, 1.0)
        step = 1.0
        for _ in range(12):                       # brackets out to |log t| ~ 4000
            low, high = cumhaz(lo) > H, cumhaz(hi) < H
            if not (low.any() or high.any()):
                break
            lo, hi = np.where(low, lo - step, lo), np.where(high, hi + step, hi)
            step *= 2.0
        never = cumhaz(hi) < H
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = cumhaz(mid) < H
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
            if np.all(hi - lo < 1e-14 * np.maximum(1.0, np.abs(hi))):
                break
        with np.errstate(over="ignore"):
            t = np.exp(0.5 * (lo + hi))
        t = np.where(H <= 0, 0.0, np.where(never | np.isinf(H), np.inf, t))
        return np.where(np.isnan(H) | np.isnan(eta), np.nan, t)


class ExponentialPH(SurvivalFamily):
    name = "exponential_ph"
    stata_name = "exponential"

    def log_hazard_cumhaz(self, t, eta, aux):
        return eta + 0.0 * t, np.exp(eta) * t

    def mean_time(self, eta, aux=()):
        return np.exp(-np.asarray(eta, float))

    def median_time(self, eta, aux=()):
        return np.log(2.0) * np.exp(-np.asarray(eta, float))

    def inverse_cumhaz(self, H, eta, aux=()):
        """H = exp(eta) t."""
        return np.asarray(H, float) * np.exp(-np.asarray(eta, float))


class ExponentialAFT(ExponentialPH):
    name = "exponential_aft"
    metric = "aft"

    def log_hazard_cumhaz(self, t, eta, aux):
        return -eta + 0.0 * t, np.exp(-eta) * t

    def mean_time(self, eta, aux=()):
        return np.exp(np.asarray(eta, float))

    def median_time(self, eta, aux=()):
        return np.log(2.0) * np.exp(np.asarray(eta, float))

    def inverse_cumhaz(self, H, eta, aux=()):
        """H = exp(-eta) t."""
        return np.asarray(H, float) * np.exp(np.asarray(eta, float))


class WeibullPH(SurvivalFamily):
    name = "weibull_ph"
    stata_name = "weibull"
    _ancillary = ("/ln_p",)

    def log_hazard_cumhaz(self, t, eta, aux):
        p = np.exp(aux[0])
        return eta + aux[0] + (p - 1) * np.log(t), np.exp(eta) * t ** p

    def _log_scale(self, eta, p):
        """log of the Weibull scale lambda, S(t) = exp(-(t / lambda)^p)."""
        return -np.asarray(eta, float) / p

    def mean_time(self, eta, aux=()):
        p = np.exp(np.asarray(aux, float)[0])
        return np.exp(self._log_scale(eta, p) + special.gammaln(1 + 1 / p))

    def median_time(self, eta, aux=()):
        p = np.exp(np.asarray(aux, float)[0])
        return np.exp(self._log_scale(eta, p) + np.log(np.log(2.0)) / p)

    def inverse_cumhaz(self, H, eta, aux=()):
        """H = (t / lambda)^p."""
        p = np.exp(np.asarray(aux, float)[0])
        with np.errstate(divide="ignore"):
            return np.exp(self._log_scale(eta, p) + np.log(np.asarray(H, float)) / p)


class WeibullAFT(WeibullPH):
    name = "weibull_aft"
    metric = "aft"

    def log_hazard_cumhaz(self, t, eta, aux):
        return WeibullPH.log_hazard_cumhaz(self, t, -np.exp(aux[0]) * eta, aux)

    def _log_scale(self, eta, p):
        return np.asarray(eta, float)


class GompertzPH(SurvivalFamily):
    name = "gompertz_ph"
    stata_name = "gompertz"
    _ancillary = ("/gamma",)

    def log_hazard_cumhaz(self, t, eta, aux):
        g = aux[0]
        G = t if g == 0 else np.expm1(g * t) / g
        return eta + g * t, np.exp(eta) * G

    def mean_time(self, eta, aux=()):
        """int_0^inf S(t) dt = exp(a) E1(a) / gamma with a = exp(eta) / gamma (substitute
        u = exp(gamma t)); inf for gamma < 0 (S(t) tends to exp(a) > 0)."""
        eta, g = np.asarray(eta, float), float(np.asarray(aux, float)[0])
        if g == 0:
            return np.exp(-eta)
        if g < 0:
            return np.full(eta.shape, np.inf)
        a = np.exp(eta) / g
        with np.errstate(over="ignore"):
            direct = np.exp(a) * special.exp1(np.minimum(a, 600.0))
        # exp(a) E1(a) ~ (1 - 1/a + 2/a^2 - 6/a^3 + 24/a^4 - 120/a^5) / a for large a
        # (Abramowitz and Stegun 5.1.51)
        r = 1.0 / np.maximum(a, 1.0)
        series = r * (1 - r + 2 * r ** 2 - 6 * r ** 3 + 24 * r ** 4 - 120 * r ** 5)
        return np.where(a > 500.0, series, direct) / g

    def median_time(self, eta, aux=()):
        """log(1 + gamma log 2 exp(-eta)) / gamma; inf where gamma < 0 keeps S above 1/2."""
        eta, g = np.asarray(eta, float), float(np.asarray(aux, float)[0])
        c = np.log(2.0) * np.exp(-eta)
        if g == 0:
            return c
        arg = g * c
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(arg > -1, np.log1p(np.maximum(arg, -1 + 1e-300)) / g, np.inf)

    def inverse_cumhaz(self, H, eta, aux=()):
        """log(1 + gamma H exp(-eta)) / gamma; inf where gamma < 0 bounds H below ``H``."""
        eta, g = np.asarray(eta, float), float(np.asarray(aux, float)[0])
        c = np.asarray(H, float) * np.exp(-eta)
        if g == 0:
            return c
        arg = g * c
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(arg > -1, np.log1p(np.maximum(arg, -1 + 1e-300)) / g, np.inf)
        return np.where(np.isnan(arg), np.nan, t)


class LognormalAFT(SurvivalFamily):
    name = "lognormal_aft"
    stata_name = "lognormal"
    metric = "aft"
    _ancillary = ("/lnsigma",)

    def log_hazard_cumhaz(self, t, eta, aux):
        s = np.exp(aux[0])
        z = (np.log(t) - eta) / s
        logS = special.log_ndtr(-z)
        return stats.norm.logpdf(z) - np.log(s * t) - logS, -logS

    def mean_time(self, eta, aux=()):
        s = np.exp(np.asarray(aux, float)[0])
        return np.exp(np.asarray(eta, float) + 0.5 * s * s)

    def median_time(self, eta, aux=()):
        return np.exp(np.asarray(eta, float))

    def inverse_cumhaz(self, H, eta, aux=()):
        """S = Phi(-z) = exp(-H): z = Phi^-1(1 - exp(-H)), from the tail that keeps the
        digits (1 - exp(-H) = -expm1(-H) for small H)."""
        s = np.exp(np.asarray(aux, float)[0])
        H = np.asarray(H, float)
        z = np.where(H < np.log(2.0), special.ndtri(-np.expm1(-H)), -special.ndtri(np.exp(-H)))
        with np.errstate(over="ignore"):
            return np.exp(np.asarray(eta, float) + s * z)


class LoglogisticAFT(SurvivalFamily):
    name = "loglogistic_aft"
    stata_name = "loglogistic"
    metric = "aft"
    _ancillary = ("/logs",)

    def log_hazard_cumhaz(self, t, eta, aux):
        s = np.exp(aux[0])
        z = (np.log(t) - eta) / s
        logS = -np.logaddexp(0, z)
        return stats.logistic.logpdf(z) - np.log(s * t) - logS, -logS

    def mean_time(self, eta, aux=()):
        """exp(eta) pi s / sin(pi s) for s < 1; inf otherwise."""
        eta, s = np.asarray(eta, float), np.exp(np.asarray(aux, float)[0])
        if s >= 1:
            return np.full(eta.shape, np.inf)
        return np.exp(eta) * np.pi * s / np.sin(np.pi * s)

    def median_time(self, eta, aux=()):
        return np.exp(np.asarray(eta, float))

    def inverse_cumhaz(self, H, eta, aux=()):
        """H = log(1 + exp(z)): z = log(expm1(H)) = H + log(-expm1(-H))."""
        s = np.exp(np.asarray(aux, float)[0])
        H = np.asarray(H, float)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            z = H + np.log(-np.expm1(-H))
            return np.where(np.isinf(H), np.inf, np.exp(np.asarray(eta, float) + s * z))


def _temme_c0(eta, lm1):
    """c0(eta) = 1/(lambda - 1) - 1/eta of Temme's expansion (DLMF 8.12.8), by its Maclaurin
    series near eta = 0."""
    eta, lm1 = np.broadcast_arrays(np.asarray(eta, float), np.asarray(lm1, float))
    small = np.abs(eta) < 0.03
    series = -1 / 3 + eta * (1 / 12 + eta * (-2 / 135 + eta * (1 / 864 + eta * (
        1 / 2835 - eta * 139 / 777600))))
    with np.errstate(divide="ignore", invalid="ignore"):
        closed = 1 / lm1 - 1 / eta
    return np.where(small, series, closed)


class GeneralizedGammaAFT(SurvivalFamily):
    """Stata's ``distribution(gamma)``: the generalized gamma AFT model ([ST] streg, Methods
    and formulas; the log-gamma form of Prentice 1974).  With w = (log t - eta) / sigma,
    gamma = kappa^-2 and u = gamma exp(kappa w), S(t) = Q(gamma, u) for kappa > 0,
    P(gamma, u) for kappa < 0 (regularized incomplete gamma functions) and Phi(-w) at
    kappa = 0 (lognormal); kappa = 1 is the Weibull AFT model with p = 1/sigma and
    kappa = sigma the gamma distribution with shape sigma^-2."""

    name = "ggamma_aft"
    stata_name = "gamma"
    metric = "aft"
    _ancillary = ("/logs", "/kappa")
    exp_rows = (("sigma", "/logs"),)

    @property
    def title(self) -> str:
        return "gamma AFT"

    @property
    def fixed_model_name(self) -> str:
        return "gamma model"

    @staticmethod
    def _log_fw(w, k):
        """log density of w: log|kappa| + gamma log u - u - lgamma(gamma)."""
        if k == 0:
            return stats.norm.logpdf(w)
        g = 1.0 / (k * k)
        return np.log(abs(k)) + g * np.log(g) + g * k * w - g * np.exp(k * w) \
            - special.gammaln(g)

    @staticmethod
    def _sf_cdf_w(w, k):
        """S and F = 1 - S of w, each computed directly (no 1 - x): scipy's incomplete gamma
        functions for gamma <= 1e5 (where they are accurate), below Temme's expansion to
        first order, S = Phi(-z) + kappa phi(z) c0(eta) with z = eta / kappa (DLMF
        8.12.3-8.12.8; relative error about kappa^3 / 500)."""
        if abs(k) < 10 ** -2.5:
            x = k * w
            with np.errstate(divide="ignore", invalid="ignore"):
                E = np.where(np.abs(x) > 1e-8, (np.expm1(x) - x) / (x * x), 0.5 + x / 6)
            z = w * np.sqrt(2 * E)
            corr = k * stats.norm.pdf(z) * _temme_c0(k * z, np.expm1(x))
            return special.ndtr(-z) + corr, special.ndtr(z) - corr
        g = 1.0 / (k * k)
        u = g * np.exp(k * w)
        P, Q = special.gammainc(g, u), special.gammaincc(g, u)
        return (Q, P) if k > 0 else (P, Q)

    @classmethod
    def _log_sw(cls, w, k):
        """log S of w (log1p(-F) where S > 1/2)."""
        S, F = cls._sf_cdf_w(w, k)
        with np.errstate(divide="ignore"):
            return np.where(S > 0.5, np.log1p(-F), np.log(S))

    def log_hazard_cumhaz(self, t, eta, aux):
        s, k = np.exp(aux[0]), float(aux[1])
        w = (np.log(t) - eta) / s
        logS = self._log_sw(w, k)
        return self._log_fw(w, k) - np.log(s * t) - logS, -logS

    def _log_f_S(self, t, eta, aux):
        s, k = np.exp(aux[0]), float(aux[1])
        w = (np.log(t) - eta) / s
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return self._log_fw(w, k) - np.log(s * t), self._log_sw(w, k)

    def loglike_obs(self, y, eta, trials=None, aux=()):
        """d log f(t) + (1 - d) log S(t) - log S(t0), from log f and log S directly (no
        log h - H, which is inf - inf where S underflows)."""
        y = np.asarray(y, float)
        t0 = np.zeros_like(y) if trials is None else np.asarray(trials, float)
        eta = np.broadcast_to(np.asarray(eta, float), y.shape)
        aux = np.asarray(aux, float)
        logf, logS = self._log_f_S(np.abs(y), eta, aux)
        entered = t0 > 0
        logS0 = self._log_f_S(np.where(entered, t0, 1.0), eta, aux)[1]
        return np.where(y > 0, logf, logS) - np.where(entered, logS0, 0.0)

    def cdf(self, y, eta, trials=None, aux=()):
        """P(T <= t | eta) for t = |y|, computed directly (accurate where it is tiny)."""
        aux = np.asarray(aux, float)
        w = (np.log(np.abs(np.asarray(y, float))) - np.asarray(eta, float)) / np.exp(aux[0])
        return self._sf_cdf_w(w, float(aux[1]))[1]

    def mean_time(self, eta, aux=()):
        """exp(eta) gamma^(-d) Gamma(gamma + d) / Gamma(gamma), d = sigma / kappa (the
        moment E (u / gamma)^d of the gamma variate u); inf where gamma + d <= 0; the
        log-gamma ratio by Stirling's series (DLMF 5.11.1) for large arguments, where the
        direct difference loses digits; exp(eta + sigma^2 / 2) at kappa = 0."""
        eta = np.asarray(eta, float)
        aux = np.asarray(aux, float)
        s, k = np.exp(aux[0]), float(aux[1])
        if k == 0:
            return np.exp(eta + 0.5 * s * s)
        g, d = 1.0 / (k * k), s / k
        a = g + d
        if a <= 0:
            return np.full(eta.shape, np.inf)
        if g > 10 and a > 10:
            lr = (a - 0.5) * np.log1p(d / g) - d + (1 / a - 1 / g) / 12 \
                - (1 / a ** 3 - 1 / g ** 3) / 360 + (1 / a ** 5 - 1 / g ** 5) / 1260
        else:
            lr = special.gammaln(a) - special.gammaln(g) - d * np.log(g)
        return np.exp(eta + lr)

    def median_time(self, eta, aux=()):
        """exp(eta + sigma log(m / gamma) / kappa), m the median of Gamma(gamma, 1)
        (scipy's gammaincinv; Choi's (1994) expansion m = gamma - 1/3 + 8/(405 gamma) +
        184/(25515 gamma^2) for gamma >= 1e4); exp(eta) at kappa = 0."""
        eta = np.asarray(eta, float)
        aux = np.asarray(aux, float)
        s, k = np.exp(aux[0]), float(aux[1])
        if abs(k) <= 0.01:
            k2 = k * k
            x = k2 * (-1 / 3 + k2 * (8 / 405 + k2 * 184 / 25515))   # m / gamma - 1
            wm = (np.log1p(x) / x if x != 0 else 1.0) * k * (
                -1 / 3 + k2 * (8 / 405 + k2 * 184 / 25515))
        else:
            g = 1.0 / (k * k)
            wm = np.log(special.gammaincinv(g, 0.5) / g) / k
        return np.exp(eta + s * wm)


#: distribution and metric -> family class
SURVIVAL_FAMILIES = {
    ("exponential", "ph"): ExponentialPH, ("exponential", "aft"): ExponentialAFT,
    ("weibull", "ph"): WeibullPH, ("weibull", "aft"): WeibullAFT,
    ("gompertz", "ph"): GompertzPH, ("lognormal", "aft"): LognormalAFT,
    ("loglogistic", "aft"): LoglogisticAFT, ("gamma", "aft"): GeneralizedGammaAFT,
}
