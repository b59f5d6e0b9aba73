"""Censored and interval-measured normal responses (``metobit``, ``meintreg``).

The latent y* | eta ~ N(eta, sigma_e^2) is observed exactly, left-censored, right-censored
or within an interval.  Rows reach the kernels as two numbers (``y``, ``t``) -- the
response and the trials slot of the other families:

==================  ===========  ==========
row                 y            t
==================  ===========  ==========
exact value v       v            v
y* <= c (left)      c            -inf
y* >= c (right)     c            +inf
a < y* < b          a            b
==================  ===========  ==========

The ancillary parameter is log sigma_e^2, shown as ``var(e.depvar)`` in the residual
section (Stata's ``metobit`` and ``meintreg``).
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from statsmodels_me.families.base import AncillaryParameter, Family
from statsmodels_me.spec.errors import DataError


def encode_bounds(lower, upper):
    """The kernels' (y, t) of rows given as bounds: lower = -inf for left-censored rows,
    upper = +inf for right-censored ones, lower == upper for exact values.

    Raises
    ------
    DataError
        A row with both bounds infinite or lower > upper.
    """
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    if np.any(np.isinf(lo) & np.isinf(hi)):
        raise DataError(f"{int(np.sum(np.isinf(lo) & np.isinf(hi)))} row(s) have neither a "
                        "finite lower nor a finite upper bound")
    if np.any(lo > hi):
        raise DataError(f"{int(np.sum(lo > hi))} row(s) have a lower bound above the upper "
                        "bound")
    left = np.isinf(lo)
    y = np.where(left, hi, lo)
    t = np.where(left, -np.inf, hi)
    return y, t


def censoring_counts(y, t) -> dict[str, int]:
    """Number of uncensored, left-, right- and interval-censored rows of encoded (y, t)."""
    y, t = np.asarray(y, float), np.asarray(t, float)
    return {"uncensored": int(np.sum(t == y)), "left": int(np.sum(t == -np.inf)),
            "right": int(np.sum(t == np.inf)),
            "interval": int(np.sum(np.isfinite(t) & (t != y)))}


class CensoredNormal(Family):
    """Normal latent response with censoring; identity link (eta is E(y* | b))."""

    name = "censored_normal"
    stata_name = "gaussian"
    default_link = "identity"
    links = ("identity",)
    predict_statistics = ("mu", "density", "distribution")
    _titles = {"identity": ("tobit", "tobit model")}

    def check_endog(self, y, trials=None) -> None:
        y, t = np.asarray(y, float), np.asarray(trials, float)
        if not np.all(np.isfinite(y)):
            raise DataError("the censored response has non-finite values")
        if np.any(np.isnan(t)) or np.any(np.isfinite(t) & (t < y)):
            raise DataError("the censored response has upper bounds below lower bounds")

    def response_arrays(self, endog, trials=None, offset=None):
        """Encoded rows (``y``, ``t`` as in the module docstring) and the offset.

        Raises
        ------
        DataError
            ``t`` is missing (the bounds were not encoded) or inconsistent with ``y``.
        """
        y = np.asarray(endog, float).ravel()
        if trials is None:
            raise DataError("family 'censored_normal' needs the rows' censoring (t)")
        t = np.asarray(trials, float).ravel()
        off = np.zeros(y.shape[0]) if offset is None else np.asarray(offset, float).ravel()
        self.check_endog(y, t)
        return y, t, off

    def ancillary(self, y=None, depvar="y"):
        return (AncillaryParameter(f"/var(e.{depvar})", transform="exp", residual=True,
                                   positive=True),)

    def constant_start(self, y, trials=None) -> float:
        """Mean of the rows' values (bounds for censored rows)."""
        return float(np.mean(y))

    def ancillary_start(self, y, trials=None):
        """log of the variance of the rows' values (at least 1e-8)."""
        return np.array([np.log(max(np.var(np.asarray(y, float)), 1e-8))])

    def obs_constant(self, y, trials, aux):
        """-log(2 pi)/2 - log(sigma_e^2)/2 on exact rows, 0 on censored ones."""
        y, t, aux = np.asarray(y, float), np.asarray(trials, float), np.asarray(aux, float)
        exact = (t == y).astype(float)
        dc = np.zeros((y.shape[0], aux.shape[0]))
        dc[:, 0] = -0.5 * exact
        return exact * (-0.5 * np.log(2 * np.pi) - 0.5 * aux[0]), dc

    def loglike_obs(self, y, eta, trials=None, aux=()):
        """log likelihood of each row from scipy.stats.norm (independent of the kernels)."""
        y, t = np.asarray(y, float), np.asarray(trials, float)
        eta = np.broadcast_to(np.asarray(eta, float), y.shape)
        sd = float(np.sqrt(np.exp(np.asarray(aux, float)[0])))
        out = np.empty(y.shape)
        ex, left, right = t == y, t == -np.inf, t == np.inf
        mid = ~(ex | left | right)
        out[ex] = stats.norm.logpdf(y[ex], eta[ex], sd)
        out[left] = stats.norm.logcdf(y[left], eta[left], sd)
        out[right] = stats.norm.logsf(y[right], eta[right], sd)
        za, zb = (y[mid] - eta[mid]) / sd, (t[mid] - eta[mid]) / sd
        # log(Phi(zb) - Phi(za)) from the tail the interval lies in (no log(0) far out)
        up = za > 0
        hi_, lo_ = np.where(up, -za, zb), np.where(up, -zb, za)
        out[mid] = special.log_ndtr(hi_) + np.log1p(-np.exp(special.log_ndtr(lo_)
                                                             - special.log_ndtr(hi_)))
        return out

    def cdf(self, y, eta, trials=None, aux=()):
        """P(y* <= y | eta)."""
        sd = float(np.sqrt(np.exp(np.asarray(aux, float)[0])))
        return stats.norm.cdf(np.asarray(y, float), np.asarray(eta, float), sd)

    def variance(self, mu, trials, aux):
        return np.ones_like(mu)


class IntervalNormal(CensoredNormal):
    """The same likelihood under ``meintreg``'s titles (kernels know it as
    ``censored_normal``)."""

    _titles = {"identity": ("interval", "interval model")}
