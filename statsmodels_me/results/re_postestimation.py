"""Postestimation shared by every random-effects results class: ``estat_*`` and ``lrtest``."""
from __future__ import annotations

from statsmodels_me.postestimation import estat
from statsmodels_me.postestimation.lrtest import lrtest as _lrtest
from statsmodels_me.spec.errors import SpecificationError


class RandomEffectsPostestimation:
    """Mixin for results whose model exposes ``design`` and ``level_covs`` (read through
    :attr:`MEResults.re_covariances`).

    Subclasses add their own compatibility checks for ``lrtest`` in ``_check_lrtest``.
    """

    def estat_icc(self, alpha=0.05):
        """Intraclass correlations of a random-intercept model (latent scale for logit and
        probit GLMMs); see :func:`statsmodels_me.postestimation.estat.estat_icc`."""
        return estat.estat_icc(self, alpha)

    def estat_sd(self, alpha=0.05):
        """Variance components as standard deviations and correlations."""
        return estat.estat_sd(self, alpha)

    def estat_group(self):
        """Number of groups and observations per group at each level."""
        return estat.estat_group(self)

    def estat_recovariance(self):
        """Estimated random-effects covariance matrix of each level."""
        return estat.estat_recovariance(self)

    def _check_lrtest(self, other):
        """Raise SpecificationError when ``other`` cannot be compared with these results."""

    def lrtest(self, other, boundary=None):
        """Likelihood-ratio test against another fit nested in this one (or vice versa).

        Parameters
        ----------
        other : results of the same command
            Fitted on the same estimation sample.
        boundary : int, optional
            Variances the restricted model sets to zero. By default the difference in the
            number of random-effects variances of the two models: one gives the ``chibar2``
            mixture of Self and Liang (1987), more a conservative ``chi2`` (see
            :mod:`statsmodels_me.inference.lrtests`). Pass 0 for Stata's plain
            ``lrtest`` reference distribution ``chi2(k)``.

        Returns
        -------
        statsmodels_me.inference.lrtests.LRTestResult

        Raises
        ------
        SpecificationError
            Results from another kind of model, a different sample, or (per command) other
            incompatibilities (ML against REML, different families or integration methods).
        """
        a, b = self.model, getattr(other, "model", None)
        if b is None or type(getattr(b, "level_covs", None)) is not list \
                or a.spec.command.startswith("mixed") != b.spec.command.startswith("mixed"):
            raise SpecificationError(f"lrtest: the other results are not from "
                                     f"{a.spec.command}")
        if a.design.nobs != b.design.nobs:
            raise SpecificationError(
                f"lrtest: the models were fit on different samples ({a.design.nobs} and "
                f"{b.design.nobs} observations)")
        self._check_lrtest(other)
        if boundary is None:
            def n_var(res):
                return sum(sum(c.display_is_variance) for c, _ in res.re_covariances)
            boundary = abs(n_var(self) - n_var(other))
        return _lrtest(self, other, boundary=boundary)
