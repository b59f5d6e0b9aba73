"""Results of ``menl``: the shared results class plus menl's ``predict`` and ``estat``."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap

from statsmodels_me.results.base import MEResults, MEResultsWrapper
from statsmodels_me.spec.errors import SpecificationError

_STATISTICS = ("yhat", "residuals", "rstandard", "reffects", "parameters")


class MENLResults(MEResults):
    """Results of :class:`statsmodels_me.models.menl.MENL`.

    ``llf`` is the linearization log likelihood. Adds ``predict`` (Stata's ``yhat``,
    ``residuals``, ``rstandard``, ``reffects``, ``parameters(name)``), ``random_effects``
    (conditional modes by group) and ``estat_sd`` / ``estat_recovariance``.
    """

    def __init__(self, model, params, cov_params, info, random_effects):
        super().__init__(model, params, cov_params, info)
        self._modes = np.asarray(random_effects, dtype=float)

    @property
    def random_effects(self):
        """Conditional modes of the random effects: DataFrame, one row per group."""
        d = self.model.design
        index = pd.MultiIndex.from_frame(d.group_values) if d.group_values.shape[1] > 1 \
            else pd.Index(d.group_values.iloc[:, 0], name=d.group_values.columns[0])
        return pd.DataFrame(self._modes, index=index, columns=self.model.re_names)

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
            return pd.DataFrame(self._modes[d.codes], index=d.row_index,
                                columns=model.re_names)
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
            resid = resid / np.sqrt(np.asarray(self.params)[-1])
        return pd.Series(resid, index=d.row_index, name=statistic)

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
        return {model.design.level_label: pd.DataFrame(D, index=names, columns=names)}

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
        rows["sd(Residual)"] = float(np.sqrt(np.asarray(self.params)[-1]))
        return pd.Series(rows, name="estimate")


class MENLResultsWrapper(MEResultsWrapper):
    pass


wrap.populate_wrapper(MENLResultsWrapper, MENLResults)
