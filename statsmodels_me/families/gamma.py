"""The gamma family: y | eta ~ Gamma(shape 1/s, mean mu), Var(y | eta) = s mu^2."""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from statsmodels_me.families.base import AncillaryParameter, Family


class Gamma(Family):
    """Gamma response; internal ancillary ``/logs`` = log s (s the squared coefficient
    of variation)."""

    name = "gamma"
    stata_name = "gamma"
    default_link = "log"
    links = ("log", "identity")
    _positive_mean = True

    def _support_violation(self, y, trials):
        return "non-positive values" if np.any(y <= 0) else None

    def ancillary(self, y=None, depvar="y"):
        return (AncillaryParameter("/logs"),)

    def obs_constant(self, y, trials, aux):
        y, aux = np.asarray(y, float), np.asarray(aux, float)
        k = np.exp(-aux[0])
        c = (k - 1) * np.log(y) + k * np.log(k) - special.gammaln(k)
        dc = np.zeros((y.shape[0], aux.shape[0]))
        dc[:, 0] = -k * (np.log(y) + np.log(k) + 1 - special.digamma(k))
        return c, dc


    def _logpdf_mu(self, y, mu, trials, aux):
        k = np.exp(-aux[0])
        return stats.gamma.logpdf(y, k, scale=mu / k)

    def _cdf_mu(self, y, mu, trials, aux):
        k = np.exp(-aux[0])
        return stats.gamma.cdf(y, k, scale=mu / k)

    def variance(self, mu, trials, aux):
        return mu ** 2

    def unit_deviance(self, y, mu, trials, aux):
        return 2 * ((y - mu) / mu - np.log(y / mu))

    def resid_anscombe(self, y, mu, trials=None, aux=()):
        """3 (y^(1/3) - mu^(1/3)) / mu^(1/3)."""
        self.check_statistic("anscombe")
        return 3 * (np.cbrt(y) - np.cbrt(mu)) / np.cbrt(mu)
