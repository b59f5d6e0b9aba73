"""Poisson counts: y | eta ~ Poisson(mu), mu = g^{-1}(eta)."""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from statsmodels_me.families.base import Family, xlogy_ratio
from statsmodels_me.spec.errors import DataError


class CountFamily(Family):
    """Common part of the count families: support, outcome check, ``pr`` = mu."""

    default_link = "log"
    links = ("log", "identity")
    _positive_mean = True
    predict_statistics = ("mu", "pr", "pearson", "deviance", "anscombe", "density",
                          "distribution")

    def _support_violation(self, y, trials):
        if np.any(y < 0) or np.any(y != np.round(y)):
            return "negative or non-integer counts"
        return None

    def check_outcome_varies(self, y, trials, depvar="y"):
        """Counts that are all zero have no finite MLE."""
        if np.all(np.asarray(y, float) == 0):
            raise DataError(f"outcome '{depvar}' is always 0; the model cannot be fitted")



class Poisson(CountFamily):
    """Poisson response: ``mepoisson``."""

    name = "poisson"
    stata_name = "poisson"
    glm_newton = True
    _titles = {"log": ("Poisson", "Poisson model")}

    def obs_constant(self, y, trials, aux):
        y = np.asarray(y, float)
        return -special.gammaln(y + 1), np.zeros((y.shape[0], np.asarray(aux).shape[0]))

    def _logpdf_mu(self, y, mu, trials, aux):
        return stats.poisson.logpmf(y, mu)

    def _cdf_mu(self, y, mu, trials, aux):
        return stats.poisson.cdf(y, mu)

    def variance(self, mu, trials, aux):
        return mu

    def unit_deviance(self, y, mu, trials, aux):
        return 2 * (xlogy_ratio(y, mu) - (y - mu))

    def resid_anscombe(self, y, mu, trials=None, aux=()):
        """1.5 (y^(2/3) - mu^(2/3)) / mu^(1/6)."""
        self.check_statistic("anscombe")
        return 1.5 * (y ** (2 / 3) - mu ** (2 / 3)) / mu ** (1 / 6)
