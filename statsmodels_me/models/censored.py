"""``metobit`` and ``meintreg``: mixed-effects tobit and interval regression.

Both fit the normal latent response y* = X beta + Z u + e, e ~ N(0, sigma_e^2), observed
exactly, left-censored, right-censored or within an interval
(:class:`~statsmodels_me.families.censored.CensoredNormal`), with every integration method
and design of ``meglm``.  The rows are encoded for the kernels before the estimator is built
(:func:`~statsmodels_me.families.censored.encode_bounds`).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from statsmodels_me.families.censored import (
    CensoredNormal,
    IntervalNormal,
    censoring_counts,
    encode_bounds,
)
from statsmodels_me.models.meglm import MEGLM
from statsmodels_me.results.formatting import fmt_count
from statsmodels_me.spec.errors import DataError, SpecificationError


def option_columns(design, data, names) -> dict[str, np.ndarray]:
    """Values on the estimation sample of the variables named by options (``ll(varname)``,
    ``failure(varname)``, ...).

    Parameters
    ----------
    design : Design
    data : pandas.DataFrame
        The data the design was built from.
    names : dict
        Option -> variable name.

    Raises
    ------
    DataError
        A variable is not in the data, is not numeric, or is missing on sample rows.
    """
    out = {}
    for opt, var in names.items():
        if var not in data.columns:
            raise DataError(f"{opt}({var}): variable '{var}' not found in data")
        col = data.loc[design.row_index, var]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataError(f"{opt}({var}): variable '{var}' is not numeric")
        values = col.to_numpy(dtype=float)
        bad = int(np.sum(np.isnan(values)))
        if bad:
            raise DataError(f"{opt}({var}): {bad} row(s) of the estimation sample have a "
                            f"missing '{var}'")
        out[opt] = values
    return out


def censored_design(design, family_name, y, t, depvar):
    """The design with the encoded rows as response and trials and the family named."""
    spec = dataclasses.replace(design.spec,
                               options={**design.spec.options, "family": family_name})
    return dataclasses.replace(design, spec=spec, endog=np.asarray(y, float),
                               trials=np.asarray(t, float), endog_names=[depvar])


class _CensoredGLMM(MEGLM):
    """A GLMM whose rows are encoded from the design and the command's options before
    ``meglm``'s estimator is built; the header carries the censoring counts."""

    _family_class = CensoredNormal

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 kind=None, columns=None, **options):
        if design is None:
            raise SpecificationError(f"{self.command}: build the model from text, e.g. "
                                     f"smf.{self.command}(text, data)")
        y, t, depvar = self._encode(design, columns or {})
        super().__init__(design=censored_design(design, self._family_class.name, y, t,
                                                depvar), kind=kind, **options)
        self.family_object = self._family_class(self.link)
        # frequency weights count every row as its copies (Stata's counts of the
        # replicated sample)
        copies = np.ones(len(y), np.int64) if self.copies is None else self.copies
        self.censoring = censoring_counts(np.repeat(y, copies), np.repeat(t, copies))

    @classmethod
    def option_variables(cls, spec) -> dict[str, str]:
        """Options that name a variable (read from the data by :meth:`from_text`)."""
        return {}

    @classmethod
    def from_text(cls, text, data, **options):
        """Build the model from Stata syntax or an lme4-style formula (see
        :meth:`statsmodels_me.models.base.MEModel.from_text`)."""
        from statsmodels_me.design import build_design
        from statsmodels_me.spec import parse

        spec = parse(text, command=cls.command, **options)
        design = build_design(spec, data)
        columns = option_columns(design, data, cls.option_variables(spec))
        return cls(design=design, columns=columns)

    @classmethod
    def encode_rows(cls, design, columns):
        """The kernels' rows ``(y, t, depvar)`` of the design's response and the options'
        ``columns`` (:func:`option_columns`)."""
        raise NotImplementedError

    def _encode(self, design, columns):
        return self.encode_rows(design, columns)

    def _header_rows(self):
        c = self.censoring
        return [("Uncensored", str(c["uncensored"])), ("Left-censored", str(c["left"])),
                ("Right-censored", str(c["right"]))]

    def _header_block(self):
        """Stata's header rows under the title: (left text, count label, count)."""
        c = self.censoring
        return [("", "Uncensored", fmt_count(c["uncensored"])),
                ("", "Left-censored", fmt_count(c["left"])),
                ("", "Right-censored", fmt_count(c["right"]))]

    def _fit(self, start_params, maxiter, disp):
        from statsmodels_me.results.censored_results import rewrap
        res = super()._fit(start_params, maxiter, disp)
        res.info.extra_header = self._header_rows() + list(res.info.extra_header)
        res.info.header_block = self._header_block() + [
            ("", "", "")] + [(f"{k}: {v}", "", "") for k, v in res.info.extra_header
                             if k not in dict(self._header_rows())]
        return rewrap(res, "censored")


class METobit(_CensoredGLMM):
    """``metobit``: mixed-effects tobit regression, ``ll(#|varname)`` and/or
    ``ul(#|varname)`` (alone: the smallest / largest response)."""

    command = "metobit"

    @classmethod
    def option_variables(cls, spec):
        return {k: v for k, v in spec.options.items()
                if k in ("ll", "ul") and isinstance(v, str)}

    @staticmethod
    def limit_values_of(options, y, columns):
        """``ll()`` and ``ul()`` per row of the response ``y`` (None where the option is
        not given): a number, a variable's ``columns``, or alone the smallest / largest
        response."""
        def limit(key):
            value = options.get(key)
            if value is None:
                return None
            if value is True:
                return np.full(y.shape, y.min() if key == "ll" else y.max())
            if isinstance(value, str):
                return columns[key]
            return np.full(y.shape, float(value))
        return limit("ll"), limit("ul")

    def _encode(self, design, columns):
        self.spec_options = dict(design.spec.options)
        y_enc, t, depvar, (ll, ul) = self._encoded(design, columns)
        #: ll() and ul() per estimation row (None where the option is not given)
        self.limit_values = (ll, ul)
        self.limits = tuple("" if v is None else (self.spec_options[k] if isinstance(
            self.spec_options[k], str) else f"{v[0]:g}") for k, v in (("ll", ll), ("ul", ul)))
        return y_enc, t, depvar

    @classmethod
    def encode_rows(cls, design, columns):
        return cls._encoded(design, columns)[:3]

    @classmethod
    def _encoded(cls, design, columns):
        """:meth:`encode_rows` and the ``(ll, ul)`` values per row it encoded with."""
        y = np.asarray(design.endog, float)
        depvar = design.endog_names[0]
        ll, ul = cls.limit_values_of(design.spec.options, y, columns)
        lower, upper = y.copy(), y.copy()
        if ll is not None and ul is not None and np.any(ll >= ul):
            raise DataError(f"metobit: ll() is not below ul() in {int(np.sum(ll >= ul))} "
                            f"row(s) of '{depvar}'")
        if ll is not None:
            left = y <= ll
            lower[left], upper[left] = -np.inf, ll[left]
        if ul is not None:
            right = y >= ul
            lower[right], upper[right] = ul[right], np.inf
        y_enc, t = encode_bounds(lower, upper)
        return y_enc, t, depvar, (ll, ul)

    def _header_rows(self):
        lo, hi = self.limits
        return super()._header_rows() + [("Limits: Lower", lo or "-inf"),
                                         ("Limits: Upper", hi or "+inf")]

    def _header_block(self):
        """Stata's tobit header: the limits on the left of the censoring counts."""
        lo, hi = self.limits
        rows = super()._header_block()
        rows[1] = (f"Limits: Lower = {lo or '-inf'}",) + rows[1][1:]
        rows[2] = (f"        Upper = {hi or '+inf'}",) + rows[2][1:]
        return rows


class MEIntreg(_CensoredGLMM):
    """``meintreg depvar_lower depvar_upper``: a missing lower bound is left-censoring, a
    missing upper bound right-censoring, equal bounds an exact value, else an interval."""

    command = "meintreg"
    _family_class = IntervalNormal

    @classmethod
    def encode_rows(cls, design, columns):
        Y = np.asarray(design.endog, float)
        if Y.ndim != 2 or Y.shape[1] != 2:
            raise SpecificationError("meintreg needs two dependent variables: the lower and "
                                     "the upper bound")
        lo_name, hi_name = design.endog_names[:2]
        lower = np.where(np.isnan(Y[:, 0]), -np.inf, Y[:, 0])
        upper = np.where(np.isnan(Y[:, 1]), np.inf, Y[:, 1])
        bad = int(np.sum(lower > upper))
        if bad:
            raise DataError(f"meintreg: {bad} row(s) have '{lo_name}' above '{hi_name}'")
        return (*encode_bounds(lower, upper), lo_name)

    def _header_rows(self):
        return super()._header_rows() + [("Interval-cens.", str(self.censoring["interval"]))]

    def _header_block(self):
        return super()._header_block() + [
            ("", "Interval-cens.", fmt_count(self.censoring["interval"]))]
