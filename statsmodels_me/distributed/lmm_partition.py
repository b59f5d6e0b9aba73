"""The worker's side of a distributed ``mixed`` fit: one partition's design, kept on its
worker, and its pieces of the profiled deviance
(:mod:`statsmodels_me.objectives.lmm_pieces`)."""
from __future__ import annotations

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.distributed.pieces import template_columns
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_pieces import (
    gram_gradient,
    gram_pieces,
    stencil_points,
    term_moments,
)
from statsmodels_me.objectives.lmm_profiled import sum_of_squares
from statsmodels_me.terms import build_terms


class LMMPartition:
    """One partition of a ``mixed`` fit: its design and, once centred, its blocked
    objective.

    Parameters
    ----------
    pdf : pandas.DataFrame
        Whole top-level clusters.
    spec : ModelSpec
    template : Design, optional
        The driver's template design: models with factor variables take their columns from
        it (:func:`~statsmodels_me.distributed.pieces.template_columns`).
    """

    def __init__(self, pdf, spec, template=None):
        d = build_design(spec, pdf)
        self.exog_names = list(d.exog_names if template is None else template.exog_names)
        self.y = np.asarray(d.endog, float)
        self.X = np.asarray(template_columns(d, template, pdf, self.exog_names), float)
        self.terms, _ = build_terms(d)
        self.objective = None

    def facts(self):
        """Names, counts and cross-products the driver reduces."""
        return {"names": self.exog_names, "n": len(self.y),
                "XtX": self.X.T @ self.X, "Xty": self.X.T @ self.y,
                "yty": sum_of_squares(self.y),
                "groups": [t.n_groups for t in self.terms], "q": [t.q for t in self.terms],
                "labels": [t.label for t in self.terms]}

    def center(self, b0):
        """Keep the blocked objective of ``y - X b0`` (``b0`` the whole data's least
        squares, which removes the rounding noise of r2); returns ``||y - X b0||^2``."""
        r = self.y - self.X @ np.asarray(b0, float)
        self.objective = BlockedLMM(r, self.X, self.terms)
        return sum_of_squares(r)

    def pieces(self, theta, want):
        """``(logdet, G)`` at ``theta``; with ``want == "gradient"`` also ``dG`` and
        ``logdet`` at the five-point stencil's points, with ``want == "moments"`` also the
        EM sums of :func:`term_moments`."""
        if len(self.y) == 0:
            return self._empty(theta, want)
        f, logdet, G = gram_pieces(self.objective, theta)
        if want == "gradient":
            dG = gram_gradient(self.objective, f, theta)
            at = np.array([self._logdet(t) for t in stencil_points(theta)])
            return logdet, G, dG, at
        if want == "moments":
            return logdet, G, term_moments(self.objective, f)
        return logdet, G

    def _logdet(self, theta):
        lams = [t.cholesky(theta[t.theta_index]) for t in self.terms]
        if not all(np.all(np.isfinite(lam)) for lam in lams):
            return np.nan
        try:
            return self.objective.blocked_factor(theta)[1]
        except np.linalg.LinAlgError:
            return np.nan

    def _empty(self, theta, want):
        c = self.X.shape[1] + 1
        zero = (0.0, np.zeros((c, c)))
        if want == "gradient":
            return zero + (np.zeros((len(theta), c, c)), np.zeros(4 * len(theta)))
        if want == "moments":
            return zero + ([(np.zeros((t.q, t.q, c, c)), np.zeros((t.q, t.q)))
                            for t in self.terms],)
        return zero


def build_lmm(pdf, spec, template=None):
    """An :class:`LMMPartition` of ``pdf`` (the task that keeps it on its worker)."""
    return LMMPartition(pdf, spec, template)
