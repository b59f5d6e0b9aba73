"""Confidence intervals for variance components on Stata's display scales.

Stata (``mixed``, ``meglm``) forms the intervals on a transformed scale and maps them back:
variances and standard deviations on the log scale, correlations on the atanh scale, and
covariances directly on the normal scale (``est -+ z se``). For a variance ``v`` with
standard error ``se`` the log-scale interval is ``exp(log v -+ z se / v)`` (delta method:
``se(log v) = se / v``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def critical_value(level: float = 95) -> float:
    """Two-sided normal critical value for a ``level`` percent interval (1.959964 for 95)."""
    if not 0 < level < 100:
        from statsmodels_me.spec.errors import SpecificationError

        raise SpecificationError(f"level({level}) must be between 0 and 100")
    return float(stats.norm.ppf(0.5 + level / 200.0))


def _log_scale_ci(est, se, level):
    est = np.asarray(est, dtype=float)
    se = np.asarray(se, dtype=float)
    z = critical_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * se / est
        lo = np.where(est > 0, est * np.exp(-half), np.nan)
        hi = np.where(est > 0, est * np.exp(half), np.nan)
    return lo, hi


def variance_ci(est, se, level: float = 95):
    """Interval for a variance, formed on the log scale: ``exp(log v -+ z se / v)``.

    Parameters
    ----------
    est, se : float or array_like
        Variance estimate(s) and standard error(s) on the variance scale.
    level : float
        Confidence level in percent.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        NaN where the estimate is not positive (Stata leaves those blank).
    """
    return _log_scale_ci(est, se, level)


def sd_ci(est, se, level: float = 95):
    """Interval for a standard deviation on the log scale (``estat sd``).

    Equal to the square root of :func:`variance_ci` of the corresponding variance.
    """
    return _log_scale_ci(est, se, level)


def covariance_ci(est, se, level: float = 95):
    """Interval for a covariance: plain normal ``est -+ z se``.

    Reproduces the seed: ``cov(week,_cons) = -.0984378`` (se .2545767) prints
    ``[-.5973991, .4005234]``.
    """
    est = np.asarray(est, dtype=float)
    se = np.asarray(se, dtype=float)
    z = critical_value(level)
    return est - z * se, est + z * se


def correlation_ci(est, se, level: float = 95):
    """Interval for a correlation on the atanh scale: ``tanh(atanh r -+ z se / (1 - r^2))``."""
    est = np.asarray(est, dtype=float)
    se = np.asarray(se, dtype=float)
    z = critical_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * se / (1.0 - est ** 2)
        center = np.arctanh(est)
    return np.tanh(center - half), np.tanh(center + half)


def sd_from_variance(est, se):
    """Standard deviation and its delta-method standard error, ``se / (2 sd)``."""
    est = np.asarray(est, dtype=float)
    sd = np.sqrt(np.clip(est, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        se_sd = np.where(sd > 0, np.asarray(se, dtype=float) / (2.0 * sd), np.nan)
    return sd, se_sd


def vcomp_ci(est, se, is_variance, level: float = 95):
    """Intervals for a mixed list of display parameters (variances log scale, else normal).

    Parameters
    ----------
    est, se : array_like
    is_variance : array_like of bool
        E.g. :attr:`CovarianceStructure.display_is_variance`.
    """
    est = np.asarray(est, dtype=float)
    se = np.asarray(se, dtype=float)
    is_variance = np.asarray(is_variance, dtype=bool)
    vlo, vhi = variance_ci(est, se, level)
    clo, chi = covariance_ci(est, se, level)
    return np.where(is_variance, vlo, clo), np.where(is_variance, vhi, chi)
