"""``mestreg``: parametric survival models with random effects.

The survival columns are given as keywords (``time="t", failure="d", entry="t0"``) or as
Stata's ``stset`` text (``stset="t, failure(d) enter(t0)"``); the spells are encoded for the
kernels (:func:`~statsmodels_me.families.survival.encode_spells`) and fitted by meglm's
estimator with the family of ``distribution()`` and the metric (``time``: AFT).
"""
from __future__ import annotations

import re

import numpy as np

from statsmodels_me.families.survival import SURVIVAL_FAMILIES, encode_spells
from statsmodels_me.models.censored import censored_design, option_columns
from statsmodels_me.models.meglm import MEGLM
from statsmodels_me.results.formatting import fmt_count, fmt_g
from statsmodels_me.spec.errors import DataError, SpecificationError

_AFT_ONLY = ("lognormal", "loglogistic", "gamma")
_PH_ONLY = ("gompertz",)


def parse_stset(text: str) -> dict[str, str]:
    """``"t, failure(d) enter(t0)"`` -> ``{"time": "t", "failure": "d", "entry": "t0"}``
    (``enter(time t0)`` is accepted as Stata writes it).

    Raises
    ------
    SpecificationError
        No time variable, or an stset option other than failure() and enter().
    """
    head, _, rest = str(text).partition(",")
    out = {"time": head.strip()}
    if not re.fullmatch(r"[A-Za-z_]\w*", out["time"]):
        raise SpecificationError(f"stset={text!r}: expected 'timevar[, failure(var) "
                                 "enter(var)]'")
    for key, arg in re.findall(r"(\w+)\(([^)]*)\)", rest):
        words = arg.split()
        if key in ("failure", "fail", "f") and len(words) == 1:
            out["failure"] = words[0]
        elif key in ("enter", "entry") and words and words[-1] != "time" and \
                len(words) <= 2:
            out["entry"] = words[-1]
        else:
            raise SpecificationError(f"stset={text!r}: option {key}({arg}) is not supported "
                                     "(failure(var) and enter(var) are)")
    leftover = re.sub(r"\w+\([^)]*\)", "", rest).strip()
    if leftover:
        raise SpecificationError(f"stset={text!r}: cannot read {leftover!r}")
    return out


def survival_column_names(time, failure, entry, stset, options):
    """Option -> variable name of the survival columns from ``time=``, ``failure=``,
    ``entry=`` or ``stset=``; ``time=True`` (the AFT option) goes into ``options``.

    Raises
    ------
    SpecificationError
        No time variable.
    """
    names = {} if stset is None else parse_stset(stset)
    if isinstance(time, str):
        names["time"] = time
    elif time is not None:
        options["time"] = time
    names.update({k: v for k, v in (("failure", failure), ("entry", entry))
                  if v is not None})
    if "time" not in names:
        raise SpecificationError("mestreg: give the survival time variable: time='t' or "
                                 "stset='t, failure(d)'")
    return names


def survival_family(options):
    """The family of ``distribution()`` and the metric (``time``: AFT; lognormal,
    loglogistic and generalized gamma are AFT models, Gompertz a PH model, as in Stata)."""
    dist = options.get("distribution")
    if dist is None:
        raise SpecificationError("mestreg: distribution() is required (exponential, weibull, "
                                 "gompertz, lognormal, loglogistic, gamma)")
    metric = "aft" if options.get("time") or dist in _AFT_ONLY else "ph"
    if dist in _PH_ONLY and options.get("time"):
        raise SpecificationError(f"mestreg: distribution({dist}) has no AFT (time) metric")
    return SURVIVAL_FAMILIES[(dist, metric)]


class MEStreg(MEGLM):
    """``mestreg``: mixed-effects parametric survival regression (Stata's [ME] mestreg).

    Hazard ratios are shown for PH models unless ``nohr``; time ratios for AFT models with
    ``tratio``.
    """

    command = "mestreg"

    def __init__(self, endog=None, exog=None, groups=None, exog_re=None, *, design=None,
                 kind=None, columns=None, **options):
        if design is None or columns is None:
            raise SpecificationError("mestreg: build the model from text with the survival "
                                     "columns, e.g. smf.mestreg(text, data, time='t', "
                                     "failure='d')")
        cls = survival_family(design.spec.options)
        y, t0, depvar = self.encode_rows(design, columns)
        super().__init__(design=censored_design(design, cls.name, y, t0, depvar), kind=kind,
                         **options)
        #: option -> variable name of the survival columns ("time", "failure", "entry")
        self.survival_variables = dict(columns[0])
        # frequency weights count every spell as its copies
        copies = np.ones(len(y)) if self.copies is None else self.copies
        self.failures = int(np.sum(copies * (y > 0)))
        self.time_at_risk = float(np.sum(copies * (np.abs(y) - t0)))

    @classmethod
    def from_text(cls, text, data, *, time=None, failure=None, entry=None, stset=None,
                  **options):
        """Build the model from Stata syntax; the survival columns from ``time=``,
        ``failure=``, ``entry=`` or ``stset=`` (``time=True`` is the AFT option)."""
        from statsmodels_me.design import build_design
        from statsmodels_me.spec import parse

        names = survival_column_names(time, failure, entry, stset, options)
        spec = parse(text, command=cls.command, **options)
        design = build_design(spec, data)
        return cls(design=design, columns=(names, option_columns(design, data, names)))

    @classmethod
    def encode_rows(cls, design, columns):
        """The kernels' rows ``(y, t0, "_t")`` of the survival ``columns`` (names and their
        values on the estimation sample of ``design``)."""
        names, values = columns
        t = values["time"]
        bad = int(np.sum(t <= 0))
        if bad:
            raise DataError(f"mestreg: {bad} row(s) have a non-positive survival time in "
                            f"'{names['time']}'")
        d = values.get("failure", np.ones_like(t))
        bad = int(np.sum((d != 0) & (d != 1)))
        if bad:
            raise DataError(f"mestreg: {bad} row(s) have failure '{names['failure']}' not 0 "
                            "or 1")
        t0 = values.get("entry")
        if t0 is not None:
            bad = int(np.sum((t0 < 0) | (t0 >= t)))
            if bad:
                raise DataError(f"mestreg: {bad} row(s) have entry '{names['entry']}' "
                                f"negative or not before the exit time '{names['time']}'")
        return (*encode_spells(t, d, t0), "_t")

    def _fit(self, start_params, maxiter, disp):
        from statsmodels_me.results.censored_results import rewrap
        res = super()._fit(start_params, maxiter, disp)
        info = res.info
        info.extra_header = [("No. of failures", str(self.failures)),
                             ("Time at risk", f"{self.time_at_risk:g}")] + \
            list(info.extra_header)
        risk = self.time_at_risk
        names = list(self.param_names)
        info.exp_rows = [(label, names.index(name))
                         for label, name in self.family_object.exp_rows]
        info.header_block = [
            (f"No. of failures = {fmt_count(self.failures):>10}", "", ""),
            (f"Time at risk    = {fmt_count(risk) if risk == round(risk) else fmt_g(risk, 8):>10}",
             "", ""), ("", "", "")] + [(f"{k}: {v}", "", "") for k, v in info.extra_header[2:]]
        eform = None
        if self.family_object.metric == "ph" and not self.options.get("nohr"):
            eform = info.eform = "Haz. ratio"
            what, base = "hazard ratios", "baseline hazard"
        elif self.family_object.metric == "aft" and self.options.get("tratio"):
            eform = info.eform = "Time ratio"
            what, base = "time ratios", "baseline time"
        if eform is not None and not info.notes:
            info.notes = [f"Estimates are transformed only in the first equation to {what}."]
            if "_cons" in self._xnames:
                info.notes.append(f"_cons estimates {base} (conditional on zero random "
                                  "effects).")
        return rewrap(res, "survival")
