"""Ordinal responses (``meologit``, ``meoprobit``, ``meocloglog``): cumulative link model
P(y <= k | eta) = F(cut_k - eta), k = 1..K-1, with the cutpoints as ancillary parameters
(``/cut1``, ..., ``/cut{K-1}``) and no ``_cons``."""
from __future__ import annotations

import numpy as np

from statsmodels_me.families.base import AncillaryParameter, Family
from statsmodels_me.spec.errors import DataError


class Ordinal(Family):
    """Ordinal outcome with K categories, coded 0..K-1 for the engines."""

    name = "ordinal"
    stata_name = "ordinal"
    default_link = "logit"
    links = ("logit", "probit", "cloglog")
    has_constant = False
    can_separate = True
    weak_without_replicates = True
    predict_statistics = ("pr",)
    _titles = {"logit": ("ologit", "ologit model"), "probit": ("oprobit", "oprobit model"),
               "cloglog": ("ocloglog", "ocloglog model")}
    _latent_variance = {"logit": np.pi ** 2 / 3, "probit": 1.0}

    def _support_violation(self, y, trials):
        if np.any(y < 0) or np.any(y != np.round(y)):
            return "codes that are not 0, 1, ..., K-1"
        return None

    def prepare_endog(self, y, depvar="y"):
        """Codes 0..K-1 of the sorted outcome values, and those values.

        Raises
        ------
        DataError
            Fewer than two categories, or non-integer outcome values.
        """
        y = np.asarray(y, float)
        cats = np.unique(y)
        if len(cats) < 2:
            raise DataError(f"ordinal outcome '{depvar}' has only one category "
                            f"({cats[0]:g}); at least two are needed")
        if not np.allclose(cats, np.round(cats)):
            raise DataError(f"ordinal outcome '{depvar}' has non-integer values")
        return np.searchsorted(cats, y).astype(float), cats

    def ancillary(self, y=None, depvar="y"):
        """Cutpoints ``/cut1`` ... ``/cut{K-1}``; K - 1 is the largest code of ``y``."""
        return self.ancillary_for(int(np.max(y)) if y is not None and len(y) else 0)

    def ancillary_for(self, n):
        """Cutpoints ``/cut1`` ... ``/cut{n}``."""
        return tuple(AncillaryParameter(f"/cut{j + 1}") for j in range(n))

    def ancillary_start(self, y, trials=None):
        """The link of the cumulative proportions P(y <= k), clipped to [1e-3, 1 - 1e-3]."""
        y = np.asarray(y, float)
        cum = np.array([(y <= k).mean() for k in range(self.n_ancillary(y))])
        return self.link_obj(np.clip(cum, 1e-3, 1 - 1e-3))

    def _category_bounds(self, y, eta, aux):
        cut = np.concatenate([[-np.inf], np.asarray(aux, float), [np.inf]])
        k = np.asarray(y).astype(int)
        return self.inverse_link(cut[k + 1] - eta), self.inverse_link(cut[k] - eta)

    def loglike_obs(self, y, eta, trials=None, aux=()):
        """log P(y = k | eta) = log(F(cut_{k+1} - eta) - F(cut_k - eta)) (codes k)."""
        hi, lo = self._category_bounds(y, np.asarray(eta, float), aux)
        with np.errstate(divide="ignore"):  # a probability that underflows is log(0) = -inf
            return np.log(hi - lo)

    def cdf(self, y, eta, trials=None, aux=()):
        """P(y <= k | eta) (codes k)."""
        return self._category_bounds(y, np.asarray(eta, float), aux)[0]

    def probability(self, eta, trials=None, aux=(), outcome=None):
        """P(y = outcome | eta) for the outcome code (default 0, the lowest category)."""
        k = 0 if outcome is None else int(outcome)
        eta = np.asarray(eta, float)
        hi, lo = self._category_bounds(np.full(eta.shape, k), eta, aux)
        return hi - lo
