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


class ExponentialPH(SurvivalFamily):
    name = "exponential_ph"
    stata_name = "exponential"

    def log_hazard_cumhaz(self, t, eta, aux):
        return eta + 0.0 * t, np.exp(eta) * t


class ExponentialAFT(ExponentialPH):
    name = "exponential_aft"
    metric = "aft"

    def log_hazard_cumhaz(self, t, eta, aux):
        return -eta + 0.0 * t, np.exp(-eta) * t


class WeibullPH(SurvivalFamily):
    name = "weibull_ph"
    stata_name = "weibull"
    _ancillary = ("/ln_p",)

    def log_hazard_cumhaz(self, t, eta, aux):
        p = np.exp(aux[0])
        return eta + aux[0] + (p - 1) * np.log(t), np.exp(eta) * t ** p


class WeibullAFT(WeibullPH):
    name = "weibull_aft"
    metric = "aft"

    def log_hazard_cumhaz(self, t, eta, aux):
        return WeibullPH.log_hazard_cumhaz(self, t, -np.exp(aux[0]) * eta, aux)


class GompertzPH(SurvivalFamily):
    name = "gompertz_ph"
    stata_name = "gompertz"
    _ancillary = ("/gamma",)

    def log_hazard_cumhaz(self, t, eta, aux):
        g = aux[0]
        G = t if g == 0 else np.expm1(g * t) / g
        return eta + g * t, np.exp(eta) * G


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


#: distribution and metric -> family class
SURVIVAL_FAMILIES = {
    ("exponential", "ph"): ExponentialPH, ("exponential", "aft"): ExponentialAFT,
    ("weibull", "ph"): WeibullPH, ("weibull", "aft"): WeibullAFT,
    ("gompertz", "ph"): GompertzPH, ("lognormal", "aft"): LognormalAFT,
    ("loglogistic", "aft"): LoglogisticAFT,
}
