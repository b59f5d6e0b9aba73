"""Binary and binomial responses: y | eta ~ Binomial(trials, p), p = F(eta) with the logit,
probit or complementary log-log CDF."""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from statsmodels_me.families.base import Family, xlogy_ratio
from statsmodels_me.spec.errors import DataError


class Bernoulli(Family):
    """Binary (0/1) response: ``melogit``, ``meprobit``, ``mecloglog``."""

    name = "bernoulli"
    stata_name = "bernoulli"
    default_link = "logit"
    links = ("logit", "probit", "cloglog")
    can_separate = True
    weak_without_replicates = True
    glm_newton = True
    predict_statistics = ("mu", "pr", "pearson", "deviance", "anscombe", "density",
                          "distribution")
    _titles = {"logit": ("logistic", "logistic model"), "probit": ("probit", "probit model"),
               "cloglog": ("complementary log-log", "cloglog model")}
    _latent_variance = {"logit": np.pi ** 2 / 3, "probit": 1.0}
    _max_mean_start = 1 - 1e-3

    def _support_violation(self, y, trials):
        if not np.all((y == 0) | (y == 1)):
            return "values other than 0 and 1"
        return None

    def check_outcome_varies(self, y, trials, depvar="y"):
        """An outcome that is always 0 or always a success has no finite MLE."""
        y = np.asarray(y, float)
        t = np.ones_like(y) if trials is None else np.asarray(trials, float)
        if np.all(y == 0):
            raise DataError(f"outcome '{depvar}' is always 0 (no successes); the model "
                            "cannot be fitted")
        if np.all(y == t):
            raise DataError(f"outcome '{depvar}' is always a success; the model cannot be "
                            "fitted")

    def _logpdf_mu(self, y, mu, trials, aux):
        return stats.bernoulli.logpmf(y, mu)

    def _cdf_mu(self, y, mu, trials, aux):
        return stats.binom.cdf(y, trials, mu)

    def probability(self, eta, trials=None, aux=(), outcome=None):
        """Probability of a success in one trial, g^{-1}(eta)."""
        return self.inverse_link(eta)

    def variance(self, mu, trials, aux):
        n = np.ones_like(mu) if trials is None else trials
        return mu * (1 - mu / n)

    def unit_deviance(self, y, mu, trials, aux):
        n = np.ones_like(mu) if trials is None else trials
        return 2 * (xlogy_ratio(y, mu) + xlogy_ratio(n - y, n - mu))

    def resid_anscombe(self, y, mu, trials=None, aux=()):
        """sqrt(n) B(2/3, 2/3) (I(y/n) - I(mu/n)) / (p (1 - p))^(1/6), with I the
        regularized incomplete beta function of (2/3, 2/3) and p = mu / n (McCullagh and
        Nelder 1989, sec. 2.4.2)."""
        self.check_statistic("anscombe")
        n = np.ones_like(mu) if trials is None else trials
        p_y, p_mu = y / n, mu / n
        ib = special.betainc(2 / 3, 2 / 3, np.clip(p_y, 0, 1)) - special.betainc(
            2 / 3, 2 / 3, np.clip(p_mu, 0, 1))
        return np.sqrt(n) * special.beta(2 / 3, 2 / 3) * ib / (p_mu * (1 - p_mu)) ** (1 / 6)


class Binomial(Bernoulli):
    """Number of successes in ``trials`` (``binomial(varname|#)``); the mean is trials
    times the probability."""

    name = "binomial"
    stata_name = "binomial"
    needs_trials = True
    weak_without_replicates = False

    def _support_violation(self, y, trials):
        if np.any(y < 0) or np.any(y > trials) or np.any(y != np.round(y)):
            return "values outside 0..trials or non-integer"
        return None

    def obs_constant(self, y, trials, aux):
        y, t = np.asarray(y, float), np.asarray(trials, float)
        c = special.gammaln(t + 1) - special.gammaln(y + 1) - special.gammaln(t - y + 1)
        return c, np.zeros((y.shape[0], np.asarray(aux).shape[0]))

    def _logpdf_mu(self, y, mu, trials, aux):
        return stats.binom.logpmf(y, trials, mu)

    def mean(self, eta, trials=None, aux=()):
        mu = self.inverse_link(eta)
        return mu if trials is None else mu * np.asarray(trials, float)
