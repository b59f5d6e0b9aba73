"""The gaussian family: y | eta ~ N(mu, sigma_e^2), mu = g^{-1}(eta)."""
from __future__ import annotations

import numpy as np
from scipy import stats

from statsmodels_me.families.base import AncillaryParameter, Family


class Gaussian(Family):
    """Gaussian response; the ancillary parameter is log sigma_e^2, shown as
    ``/var(e.depvar)`` = exp(log sigma_e^2) in the residual section (Stata's meglm)."""

    name = "gaussian"
    stata_name = "gaussian"
    default_link = "identity"
    links = ("identity", "log")
    _glm_versus = "linear model"

    def ancillary(self, y=None, depvar="y"):
        return (AncillaryParameter(f"/var(e.{depvar})", transform="exp", residual=True,
                                   positive=True),)

    def ancillary_start(self, y, trials=None):
        """log of the variance of the response (at least 1e-8)."""
        return np.array([np.log(max(np.var(np.asarray(y, float)), 1e-8))])

    def obs_constant(self, y, trials, aux):
        y, aux = np.asarray(y, float), np.asarray(aux, float)
        n = y.shape[0]
        dc = np.zeros((n, aux.shape[0]))
        dc[:, 0] = -0.5
        return np.full(n, -0.5 * np.log(2 * np.pi) - 0.5 * aux[0]), dc

    def _logpdf_mu(self, y, mu, trials, aux):
        return stats.norm.logpdf(y, mu, np.sqrt(np.exp(aux[0])))

    def _cdf_mu(self, y, mu, trials, aux):
        return stats.norm.cdf(y, mu, np.sqrt(np.exp(aux[0])))

    def variance(self, mu, trials, aux):
        return np.ones_like(mu)

    def unit_deviance(self, y, mu, trials, aux):
        return (y - mu) ** 2

    def resid_anscombe(self, y, mu, trials=None, aux=()):
        self.check_statistic("anscombe")
        return y - mu
