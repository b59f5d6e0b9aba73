"""Negative binomial counts (``menbreg``), mean or constant dispersion.

Mean dispersion (NB2): Var(y | b) = mu (1 + alpha mu), ancillary ``/lnalpha``; constant
dispersion (NB1): Var(y | b) = mu (1 + delta), ancillary ``/lndelta`` (Stata's ``nbreg`` and
``gnbreg`` parameterizations; Cameron and Trivedi 2013, sec. 3.3).
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats
from statsmodels.genmod.families import NegativeBinomial as SMNegativeBinomial

from statsmodels_me.families.base import AncillaryParameter, xlogy_ratio
from statsmodels_me.families.poisson import CountFamily


class NegativeBinomialMean(CountFamily):
    """NB2: y | b ~ NB with mean mu and size 1/alpha; internal ancillary log alpha."""

    name = "nbinomial_mean"
    stata_name = "nbinomial"
    dispersion = "mean"
    _titles = {"log": ("negative binomial", "nbinomial model")}

    def ancillary(self, y=None, depvar="y"):
        return (AncillaryParameter("/lnalpha"),)

    def obs_constant(self, y, trials, aux):
        y, aux = np.asarray(y, float), np.asarray(aux, float)
        r = np.exp(-aux[0])
        c = special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1) + r * np.log(r)
        dc = np.zeros((y.shape[0], aux.shape[0]))
        dc[:, 0] = -r * (special.digamma(y + r) - special.digamma(r) + np.log(r) + 1)
        return c, dc

    def _logpdf_mu(self, y, mu, trials, aux):
        r = np.exp(-aux[0])
        return stats.nbinom.logpmf(y, r, r / (r + mu))

    def _cdf_mu(self, y, mu, trials, aux):
        r = np.exp(-aux[0])
        return stats.nbinom.cdf(y, r, r / (r + mu))

    def variance(self, mu, trials, aux):
        return mu + float(np.exp(aux[0])) * mu ** 2

    def unit_deviance(self, y, mu, trials, aux):
        alpha = float(np.exp(aux[0]))
        return 2 * (xlogy_ratio(y, mu)
                    - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu)))

    def resid_anscombe(self, y, mu, trials=None, aux=()):
        """statsmodels' negative binomial Anscombe residuals at alpha = exp(lnalpha)."""
        self.check_statistic("anscombe")
        return SMNegativeBinomial(alpha=float(np.exp(aux[0]))).resid_anscombe(y, mu)


class NegativeBinomialConstant(CountFamily):
    """NB1: y | b ~ NB with size mu / delta and probability 1 / (1 + delta); internal
    ancillary log delta.  Deviance and Anscombe residuals are not defined here (the size
    depends on the mean); ``predict`` offers Pearson residuals."""

    name = "nbinomial_constant"
    stata_name = "nbinomial"
    dispersion = "constant"
    predict_statistics = ("mu", "pr", "pearson", "density", "distribution")
    _titles = {"log": ("negative binomial", "nbinomial model")}

    def ancillary(self, y=None, depvar="y"):
        return (AncillaryParameter("/lndelta"),)

    def obs_constant(self, y, trials, aux):
        y, aux = np.asarray(y, float), np.asarray(aux, float)
        d = np.exp(aux[0])
        c = -special.gammaln(y + 1) + y * np.log(d / (1 + d))
        dc = np.zeros((y.shape[0], aux.shape[0]))
        dc[:, 0] = y / (1 + d)
        return c, dc

    def _logpdf_mu(self, y, mu, trials, aux):
        d = np.exp(aux[0])
        return stats.nbinom.logpmf(y, mu / d, 1 / (1 + d))

    def _cdf_mu(self, y, mu, trials, aux):
        d = np.exp(aux[0])
        return stats.nbinom.cdf(y, mu / d, 1 / (1 + d))

    def variance(self, mu, trials, aux):
        return mu * (1 + float(np.exp(aux[0])))
