"""Results of ``menl``: the shared results class plus menl's ``predict`` and ``estat``."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap

from statsmodels_me.postestimation.lrtest import lrtest as _lrtest
from statsmodels_me.postestimation.menl_margins import menl_margins
from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.spec.errors import SpecificationError

_STATISTICS = ("yhat", "residuals", "rstandard", "reffects", "parameters")


class MENLResults(MEResults):
    """Results of :class:`statsmodels_me.models.menl.MENL`.

    ``llf`` is the linearization log likelihood. Adds ``predict`` (Stata's ``yhat``,
    ``residuals``, ``rstandard``, ``reffects``, ``parameters(name)``), ``random_effects``
    (conditional modes by group), ``estat_sd`` / ``estat_recovariance`` /
    ``estat_wcorrelation`` and ``lrtest``.
    """

    fitted_statistic = "yhat"

    def __init__(self, model, params, cov_params, info, random_effects, inference_point=None):
        super().__init__(model, params, cov_params, info)
        self._modes = np.asarray(random_effects, dtype=float)
        #: the variance parameters in the coordinates of the observed information
        #: (variances, covariances, ``s2``, the error structure's own parameters); start of
        #: fits with parameters held fixed (``model.fit_fixed``)
        self.inference_point = None if inference_point is None else \
            np.asarray(inference_point, dtype=float)

    @property
    def random_effects(self):
        """Conditional modes of the random effects: DataFrame (one row per group) of the only
        level, or a dict ``level -> DataFrame`` when there are several levels."""
        d = self.model.design
        out = {}
        for lev in d.levels:
            vals = lev.group_values
            index = pd.MultiIndex.from_frame(vals) if vals.shape[1] > 1 \
                else pd.Index(vals.iloc[:, 0], name=vals.columns[0])
            block = self._modes[lev.offset:lev.offset + lev.size].reshape(lev.n_groups, -1)
            out[lev.label] = pd.DataFrame(block, index=index,
                                          columns=[self.model.re_names[a] for a in lev.effects])
        return out[d.levels[0].label] if len(out) == 1 else out

    def predict(self, statistic="yhat", fixedonly=False, parameters=None, data=None,
                new_groups="zero"):
        """Stata's ``predict`` after ``menl`` on the estimation sample.

        Parameters
        ----------
        statistic : str
            ``yhat`` (mean function; the default), ``residuals`` (response minus ``yhat``),
            ``rstandard`` (residuals divided by the residual standard deviation),
            ``reffects`` (conditional modes of every random effect, one column each),
            ``parameters`` (the ``define()`` expressions named in ``parameters``).
        fixedonly : bool
            Random effects at zero (``yhat``, ``residuals``, ``rstandard``, ``parameters``).
        parameters : str or list of str
            Names of ``define()`` expressions, for ``statistic="parameters"``.

        Returns
        -------
        Series or DataFrame
            Indexed like the estimation sample of the input frame.
        """
        if data is not None:
            return self.predict_data(statistic, data, "fixedonly" if fixedonly else None,
                                     new_groups)
        model = self.model
        d = model.design
        if statistic not in _STATISTICS:
            raise SpecificationError(f"menl predict: unknown statistic {statistic!r}; "
                                     f"allowed: {', '.join(_STATISTICS)}")
        beta = np.asarray(self.params)[:self.k_fe]
        b = np.zeros_like(self._modes) if fixedonly else self._modes
        if statistic == "reffects":
            return pd.DataFrame({n: self._modes[rows] for n, rows in zip(model.re_names,
                                                                          d.re_rows)},
                                index=d.row_index)
        if statistic == "parameters":
            names = [parameters] if isinstance(parameters, str) else list(parameters or [])
            defined = model.spec.defined
            bad = [n for n in names if n not in defined]
            if not names or bad:
                raise SpecificationError(
                    f"menl predict: parameters() needs names of define() expressions "
                    f"({', '.join(defined) or 'none defined'}); got {bad or names}")
            return pd.DataFrame({n: model.mean.value_of(defined[n], beta, b) for n in names},
                                index=d.row_index)
        yhat = model.mean.value(beta, b)
        if statistic == "yhat":
            return pd.Series(yhat, index=d.row_index, name="yhat")
        resid = d.y - yhat
        if statistic == "rstandard":
            fitted = model.mean.value(beta, self._modes)
            resid = resid / np.sqrt(model.residual_variances(self.params, fitted))
        return pd.Series(resid, index=d.row_index, name=statistic)

    def margins(self, variables=None, at=None, dydx=None, eyex=None, dyex=None, eydx=None,
                over=None, predict=None, conditional="fixedonly", asbalanced=False, data=None,
                outcome=None, alpha=0.05):
        """Stata's ``margins`` after ``menl`` (default ``predict(yhat fixedonly)``); see
        :func:`statsmodels_me.postestimation.menl_margins.menl_margins`.

        ``variables`` (factor variables), ``asbalanced`` and ``outcome`` do not apply: the
        ``menl`` expression has no factor variables and one outcome.
        """
        for name, value in (("variables", variables), ("outcome", outcome)):
            if value is not None:
                raise SpecificationError(f"margins after menl: {name}= does not apply (the "
                                         "menl expression has no factor variables and one "
                                         "outcome); use at=")
        if asbalanced:
            raise SpecificationError("margins after menl: asbalanced does not apply (the "
                                     "menl expression has no factor variables)")
        return menl_margins(self, at=at, dydx=dydx, eyex=eyex, dyex=dyex, eydx=eydx,
                            over=over, predict=predict, conditional=conditional, data=data,
                            alpha=alpha)

    def estat_recovariance(self):
        """Estimated covariance matrix of the random effects: dict ``level -> DataFrame``."""
        model = self.model
        names = model.re_names
        D = np.zeros((len(names), len(names)))
        params = np.asarray(self.params)
        pos = self.k_fe
        for block in model.blocks:
            k = block.n_theta
            idx = np.asarray(block.index)
            D[np.ix_(idx, idx)] = block.from_display(params[pos:pos + k])
            pos += k
        out = {}
        for lev in model.design.levels:
            nm = [names[a] for a in lev.effects]
            out[lev.label] = pd.DataFrame(D[np.ix_(lev.effects, lev.effects)], index=nm,
                                          columns=nm)
        return out

    def estat_sd(self):
        """Variance components as standard deviations and correlations (point estimates)."""
        rows = {}
        for level, D in self.estat_recovariance().items():
            sd = np.sqrt(np.diag(D.to_numpy()))
            names = list(D.index)
            for i, n in enumerate(names):
                rows[f"{level}: sd({n})"] = sd[i]
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    if D.iloc[i, j] != 0:
                        rows[f"{level}: corr({names[i]},{names[j]})"] = \
                            D.iloc[i, j] / (sd[i] * sd[j])
        rows["sd(Residual)"] = float(np.sqrt(np.asarray(self.params)[
            self.model.residual_index]))
        return pd.Series(rows, name="estimate")


    def estat_wcorrelation(self, group=None):
        """Within-group correlation matrix of the linearized model (Stata's ``estat
        wcorrelation``): ``corr(Z_g D Z_g' + R_g)`` (``R_g`` the errors' covariance) over the
        rows of one group of the outermost level, with ``Z_g`` the derivatives of the mean
        function at the estimates.

        Parameters
        ----------
        group : scalar, optional
            Value of the outermost grouping variable; the first group by default.

        Returns
        -------
        DataFrame
            Indexed by the rows of the group in the input frame.
        """
        model = self.model
        d = model.design
        top = d.levels[0]
        values = top.group_values.iloc[:, 0].tolist()
        if group is None:
            g = 0
        elif group in values:
            g = values.index(group)
        else:
            raise SpecificationError(f"estat wcorrelation: {group!r} is not a group of "
                                     f"{top.label!r}")
        rows = np.flatnonzero(top.codes == g)
        params = np.asarray(self.params)
        f, _, Z = model.mean.evaluate(params[:self.k_fe], self._modes)
        D = self.estat_recovariance()
        V = model.residual_covariance(params, f, rows)
        for lev in d.levels:
            same = lev.codes[rows][:, None] == lev.codes[rows][None, :]
            block = D[lev.label].to_numpy()
            for i, a in enumerate(lev.effects):
                for j, c in enumerate(lev.effects):
                    V += block[i, j] * np.outer(Z[rows, a], Z[rows, c]) * same
        sd = np.sqrt(np.diag(V))
        index = d.row_index[rows]
        return pd.DataFrame(V / np.outer(sd, sd), index=index, columns=index)

    def lrtest(self, other, boundary=None):
        """Likelihood-ratio test against another ``menl`` fit nested in this one (or vice
        versa), on the linearization log likelihoods.

        Parameters
        ----------
        other : MENLResults
            Fitted on the same sample by the same method (ML or REML; REML fits need the
            same fixed effects).
        boundary : int, optional
            Variances the restricted model sets to zero; by default the difference in the
            number of random-effects variances (see
            :func:`statsmodels_me.postestimation.lrtest.lrtest`).

        Returns
        -------
        LRTestResult
        """
        a, b = self.model, getattr(other, "model", None)
        if getattr(b, "command", None) != "menl":
            raise SpecificationError("lrtest: the other results are not from menl")
        if a.design.nobs != b.design.nobs:
            raise SpecificationError(f"lrtest: the models were fit on different samples "
                                     f"({a.design.nobs} and {b.design.nobs} observations)")
        if a.reml != b.reml:
            raise SpecificationError("lrtest: cannot compare an ML fit with a REML fit")
        if a.reml and a.param_names[:a.k_fe] != b.param_names[:b.k_fe]:
            raise SpecificationError("lrtest: REML fits with different fixed effects are not "
                                     "comparable; refit both by ML")
        if boundary is None:
            def n_var(model):
                return sum(lab.startswith("var(") for blk in model.blocks
                           for lab in blk.labels(model.re_names))
            boundary = abs(n_var(a) - n_var(b))
        return _lrtest(self, other, boundary=boundary)


class MENLResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MENLResultsWrapper, MENLResults)
