"""Common base of every mixed-effects model: text or arrays in, a Design, statsmodels plumbing."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel
from statsmodels.tools.numdiff import approx_fprime

from statsmodels_me.design.design import Design
from statsmodels_me.design.work_size import check_quadrature_size
from statsmodels_me.optimization.hessian import symmetric_value_hessian
from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import Factor, ModelSpec, REEquation, Term
from statsmodels_me.spec.options import (
    KEYWORD_ALIASES,
    OPTIONS,
    SPECIAL_KEYWORDS,
    finish_spec,
    refuse_unimplemented,
)


def _stata_names(columns):
    """Column names as Stata would show them: statsmodels' constant is ``_cons``."""
    return ["_cons" if str(c) in ("const", "Intercept") else str(c) for c in columns]


def _array_design_frame(endog, exog, groups, exog_re):
    """A DataFrame and a ModelSpec describing array input (statsmodels.api style)."""
    if isinstance(endog, pd.Series):
        endog_s = endog.astype(float)
    else:
        endog_s = pd.Series(np.asarray(endog, dtype=float).ravel())
    yname = endog.name if isinstance(endog, pd.Series) and endog.name else "y"
    exog_df = pd.DataFrame(exog) if not isinstance(exog, pd.DataFrame) else exog.copy()
    if not isinstance(exog, pd.DataFrame):
        exog_df.columns = [f"x{i + 1}" for i in range(exog_df.shape[1])]
    exog_df.columns = _stata_names(exog_df.columns)
    if groups is None:
        raise DataError("array input needs groups=: the group of each observation")
    df = exog_df.reset_index(drop=True)
    df.insert(0, yname, endog_s.to_numpy())
    df["__groups__"] = np.asarray(groups)
    has_cons = "_cons" in df.columns
    fixed = tuple(Term((Factor(c),)) for c in exog_df.columns if c != "_cons")
    if has_cons:
        df = df.drop(columns="_cons")
    re_terms, re_cons = (), True
    if exog_re is not None:
        re_df = pd.DataFrame(exog_re) if not isinstance(exog_re, pd.DataFrame) else exog_re.copy()
        if not isinstance(exog_re, pd.DataFrame):
            re_df.columns = [f"z{i + 1}" for i in range(re_df.shape[1])]
        re_df.columns = _stata_names(re_df.columns)
        re_cons = "_cons" in re_df.columns
        for c in re_df.columns:
            if c != "_cons" and c not in df.columns:
                df[c] = re_df[c].to_numpy()
        re_terms = tuple(Term((Factor(c),)) for c in re_df.columns if c != "_cons")
    eq = REEquation(level="__groups__", path=("__groups__",), terms=re_terms, constant=re_cons,
                    covariance="unstructured" if len(re_terms) + re_cons > 1 else "independent")
    return df, fixed, has_cons, (eq,), yname


def _refuse_weights(design, command, honoured, level_honoured=()):
    """NotImplementedError for weights the estimator would otherwise ignore."""
    if design.weight_type is not None and design.weight_type not in honoured:
        var = design.spec.options["weight"][1]
        raise NotImplementedError(f"{command or 'this model'}: [{design.weight_type}={var}] "
                                  f"weights are not implemented")
    for level, (kind, _) in dict(design.level_weights).items():
        if kind in level_honoured:
            continue
        raise NotImplementedError(f"{command or 'this model'}: {kind}() weights at level "
                                  f"'{level}' are not implemented")


class MEModel(LikelihoodModel):
    """Base class: holds the :class:`Design`; parameter names are Stata's ``e(b)`` names.

    Subclasses set ``command`` and implement ``fit``. Construct from text with
    :meth:`from_text` (either syntax) or from arrays with the class constructor.
    """

    command = ""
    #: observation-weight types (``fweight``, ``pweight``, ...) the estimator honours; any
    #: other weight is refused
    weight_types: tuple[str, ...] = ()
    #: per-level weight types (``|| id:, pweight(w)``) the estimator honours; any other
    #: per-level weight is refused
    level_weight_types: tuple[str, ...] = ()

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 **options):
        if design is not None and options:
            raise TypeError(f"{self.command}: {', '.join(sorted(options))} given with design=: "
                            "a design carries its options; build it with them (or use "
                            "from_text(text, data, **options))")
        if design is None:
            from statsmodels_me.design import build_design
            df, fixed, has_cons, random, yname = _array_design_frame(endog, exog, groups, exog_re)
            spec = finish_spec(command=self.command, response=(yname,), fixed=fixed,
                               constant=has_cons, random=list(random), typed=[],
                               keywords=options, syntax="arrays", source="")
            design = build_design(spec, df)
        _refuse_weights(design, self.command, self.weight_types, self.level_weight_types)
        refuse_unimplemented(design.spec)
        check_quadrature_size(design)
        self.design: Design = design
        self.spec: ModelSpec = design.spec
        self.options = dict(design.spec.options)
        endog_arr = pd.Series(design.endog, index=design.row_index,
                              name=design.endog_names[0]) if design.endog.ndim == 1 else \
            pd.DataFrame(design.endog, index=design.row_index, columns=design.endog_names)
        exog_arr = pd.DataFrame(design.exog, index=design.row_index, columns=design.exog_names)
        super().__init__(endog_arr, exog_arr, missing="none")
        self._param_names = list(design.exog_names)

    @classmethod
    def from_text(cls, text, data, **options):
        """Build the model from Stata command syntax or an lme4-style formula.

        Parameters
        ----------
        text : str
            ``"weight week || id:"`` (optionally starting with the command word) or
            ``"weight ~ week + (1 | id)"``.
        data : pandas.DataFrame
        **options
            Any command option as a keyword (``reml=True``, ``intmethod="laplace"``, ...).
        """
        from statsmodels_me.design import build_design
        from statsmodels_me.spec import parse

        spec = parse(text, command=cls.command, **options)
        design = build_design(spec, data)
        return cls.class_for_design(design)(design=design)

    @classmethod
    def class_for_design(cls, design):
        """The class that fits this design (subclasses route, e.g., multilevel GLMMs)."""
        return cls

    from_formula = from_text

    @property
    def exog_names(self):
        return list(self._param_names)

    @property
    def param_names(self):
        return list(self._param_names)

    def _check_fit_kwargs(self, kwargs, allowed):
        """``TypeError`` for a ``fit()`` keyword that is not one of the fitting controls
        ``allowed``, saying so when it is a model option (``fit(reml=True)``).

        Parameters
        ----------
        kwargs : mapping
            The keywords ``fit()`` received beyond its named parameters.
        allowed : iterable of str
            The fitting controls this estimator's ``fit()`` reads from ``kwargs``.
        """
        allowed = tuple(allowed)
        bad = [k for k in kwargs if k not in allowed]
        if not bad:
            return
        options = [k for k in bad
                   if k in OPTIONS or k in KEYWORD_ALIASES or k in SPECIAL_KEYWORDS]
        name = type(self).__name__
        if options:
            k = options[0]
            raise TypeError(
                f"{name}.fit() got {k}={kwargs[k]!r}, which is a model option, not a fitting "
                f"control: give it when building the model ({name}.from_text(text, data, "
                f"{k}=...)) or type it in the command")
        controls = ", ".join(allowed) or "none beyond its named parameters"
        raise TypeError(f"{name}.fit() got unexpected keyword argument(s) "
                        f"{', '.join(f'{k}={kwargs[k]!r}' for k in bad)}; its fitting controls: "
                        f"{controls}")

    # -- statsmodels' likelihood contract ------------------------------------------------------
    def score(self, params):
        """Gradient of :meth:`loglike` at display-scale ``params`` (the results' ``params``):
        central differences (statsmodels' ``approx_fprime``, steps ``eps^(1/3) max(|x|, 0.1)``).

        Variance parameters on the boundary (zero) have no two-sided derivative: their entries
        are NaN there.
        """
        params = np.asarray(params, dtype=float)
        return approx_fprime(params, self._loglike_or_nan, centered=True)

    def hessian(self, params):
        """Hessian of :meth:`loglike` at display-scale ``params``: second differences
        (statsmodels' ``approx_hess3``, steps ``eps^(1/4) max(|x|, 0.1)``)."""
        params = np.asarray(params, dtype=float)
        steps = np.finfo(float).eps ** 0.25 * np.maximum(np.abs(params), 0.1)
        return symmetric_value_hessian(self._loglike_or_nan, params, steps)

    def information(self, params):
        """Observed information ``-hessian(params)``."""
        return -self.hessian(params)

    def _loglike_or_nan(self, params):
        """:meth:`loglike`, NaN where ``params`` leaves the parameter space (a difference step
        across a zero variance)."""
        try:
            value = self.loglike(params)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return np.nan
        return float(value)

    def set_param_names(self, names):
        """Label the parameters with ``names`` (every e(b) name: fixed effects, ancillary
        parameters, variance components); results rebuilt from a pickle call it."""
        self._set_param_names(names)

    def _set_param_names(self, names):
        self._param_names = list(names)
        self.data.param_names = list(names)
        self.data.cov_names = list(names)
