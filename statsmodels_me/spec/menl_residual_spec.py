"""The within-group error structures of ``menl``: ``resvariance()``, ``rescorrelation()`` and
``rescovariance()`` (Stata's syntax) -> :class:`ResVariance` / :class:`ResCorrelation`.

=========================================  ==============================================
option                                     error covariance within a group
=========================================  ==============================================
``resvariance(power v)``                   ``s2 (|v|^delta + c)^2``
``resvariance(power v, noconstant)``       ``s2 |v|^(2 delta)``
``resvariance(linear v)``                  ``s2 v``
``resvariance(exponential v)``             ``s2 exp(2 gamma v)``
``resvariance(distinct, index(v))``        ``s2 r_k^2`` for level k of v (r_1 = 1)
``rescorrelation(ar #, t(v))``             AR(#) correlations at lag ``|t_j - t_k|``
``rescorrelation(ma #, t(v))``             MA(#) correlations at lag ``|t_j - t_k|``
``rescorrelation(ctar1, t(v))``            ``rho^|t_j - t_k|`` (t continuous)
``rescorrelation(toeplitz #, t(v))``       ``rho_h`` at lag ``h = |t_j - t_k| <= #``, 0 beyond
``rescorrelation(banded #, index(v))``     free correlations between levels of v at most #
                                           apart (in the sorted levels), 0 beyond
``rescorrelation(exchangeable)``           one correlation
``rescorrelation(unstructured, index(v))`` free correlations among the levels of v
``rescovariance(exchangeable)``            = ``rescorrelation(exchangeable)``
``rescovariance(distinct, index(v))``      = ``resvariance(distinct, index(v))``
``rescovariance(unstructured, index(v))``  free variances and covariances among v's levels
=========================================  ==============================================

``v`` is a variable or ``_yhat`` (the fitted values) where Stata allows it. The correlation
structures act within the groups of ``group()`` (default: the lowest level of random effects).
``strata()``, ``by()`` and ``tsorder()`` are refused with NotImplementedError. Toeplitz and
banded correlations are not positive definite for every parameter value; the LME step treats
a value where a group's correlation matrix is not positive definite as outside the model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from statsmodels_me.spec._scan import split_top
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.residual_syntax import structure_order, suboption_variable

__all__ = ["ResVariance", "ResCorrelation", "parse_resvariance", "parse_rescorrelation",
           "parse_rescovariance"]



@dataclass(frozen=True)
class ResVariance:
    """A variance function: ``kind`` in power, linear, exponential, distinct.

    ``var`` is the covariate (a variable or ``"_yhat"``; for distinct the ``index()``
    variable); ``constant`` is False under ``noconstant`` (power only).
    """

    kind: str
    var: str
    constant: bool = False

    def variables(self):
        return [] if self.var == "_yhat" else [self.var]


@dataclass(frozen=True)
class ResCorrelation:
    """A within-group correlation: ``kind`` in ar, ma, ctar1, toeplitz, exchangeable,
    unstructured, banded; ``order`` for ar, ma, toeplitz and banded (None for banded: every
    pair of levels, as unstructured); ``t`` the time or index variable;
    ``group`` the ``group()`` variable (None: the lowest level of random effects);
    ``free_variances`` for ``rescovariance(unstructured)``."""

    kind: str
    order: int | None = None
    t: str | None = None
    group: str | None = None
    free_variances: bool = False

    def variables(self):
        return [v for v in (self.t, self.group) if v is not None]


def _split(arg, option):
    """Words before the comma and ``name(value)`` / bare suboptions after it."""
    parts = split_top(arg, ",")
    if len(parts) > 2:
        raise SpecificationError(f"menl: cannot read {option}({arg}): too many commas")
    words = parts[0].split()
    subs = {}
    rest = parts[1] if len(parts) == 2 else ""
    for m in re.finditer(r"([A-Za-z_]+)\s*(?:\(([^)]*)\))?", rest):
        subs[m.group(1).lower()] = None if m.group(2) is None else m.group(2).strip()
    left = re.sub(r"([A-Za-z_]+)\s*(?:\(([^)]*)\))?", "", rest).strip()
    if left:
        raise SpecificationError(f"menl: cannot read {left!r} in {option}({arg})")
    return words, subs


def _abbrev(word, table, option, arg):
    """Full name of ``word`` among ``table`` (name -> shortest abbreviation)."""
    low = word.lower()
    for full, short in table.items():
        if full.startswith(low) and len(low) >= len(short):
            return full
    raise SpecificationError(f"menl: unknown structure {word!r} in {option}({arg}); "
                             f"expected one of {', '.join(table)}")


def _variable(value, sub, option, arg, yhat=False):
    if value is None or not value.strip():
        raise SpecificationError(f"menl: {option}({arg}) needs {sub}(varname)")
    value = value.strip()
    if value == "_yhat":
        if yhat:
            return value
        raise SpecificationError(f"menl: bad variable '_yhat' in {option}({arg}); the fitted "
                                 f"values are allowed with power and exponential only")
    return suboption_variable(value, sub, f"menl: {option}({arg})")


def _refuse_subs(subs, allowed, option, arg):
    for name in subs:
        if name in ("by", "strata"):
            raise NotImplementedError(f"menl: {option}({arg}): the {name}() suboption is not "
                                      "implemented")
        if name not in allowed:
            raise SpecificationError(f"menl: unknown suboption {name!r} in {option}({arg}); "
                                     f"allowed: {', '.join(allowed) or 'none'}")


def parse_resvariance(arg):
    """``resvariance(...)`` -> :class:`ResVariance` (None for ``identity``)."""
    option = "resvariance"
    words, subs = _split(arg, option)
    if not words:
        raise SpecificationError("menl: resvariance() needs a variance function")
    kind = _abbrev(words[0], {"identity": "id", "power": "pow", "linear": "lin",
                              "exponential": "exp", "distinct": "dist"}, option, arg)
    nocons = any(k.startswith("nocons") for k in subs)
    subs = {k: v for k, v in subs.items() if not k.startswith("nocons")}
    if kind == "identity":
        _refuse_subs(subs, (), option, arg)
        if len(words) != 1 or nocons:
            raise SpecificationError(f"menl: cannot read resvariance({arg})")
        return None
    if kind == "distinct":
        _refuse_subs(subs, ("index",), option, arg)
        if len(words) != 1 or nocons:
            raise SpecificationError(f"menl: cannot read resvariance({arg}); expected "
                                     "resvariance(distinct, index(varname))")
        return ResVariance("distinct", _variable(subs.get("index"), "index", option, arg))
    _refuse_subs(subs, (), option, arg)
    if len(words) != 2:
        what = "varname" if kind == "linear" else "varname|_yhat"
        raise SpecificationError(f"menl: cannot read resvariance({arg}); expected "
                                 f"resvariance({kind} {what})")
    if nocons and kind != "power":
        raise SpecificationError(f"menl: resvariance({arg}): noconstant is allowed with the "
                                 "power function only")
    var = _variable(words[1], kind, option, arg, yhat=kind != "linear")
    return ResVariance(kind, var, constant=kind == "power" and not nocons)


def _order(words, kind, option, arg):
    if len(words) > 2:
        raise SpecificationError(f"menl: cannot read {option}({arg})")
    if len(words) == 1:
        return None
    return structure_order(words[1], kind, f"menl: {option}({arg})")


def parse_rescorrelation(arg):
    """``rescorrelation(...)`` -> :class:`ResCorrelation` (None for ``identity``)."""
    option = "rescorrelation"
    words, subs = _split(arg, option)
    if not words:
        raise SpecificationError("menl: rescorrelation() needs a correlation structure")
    kind = _abbrev(words[0], {"identity": "id", "exchangeable": "exc", "ar": "ar",
                              "ma": "ma", "ctar1": "ctar1", "toeplitz": "toep",
                              "banded": "band", "unstructured": "un"}, option, arg)
    if kind == "identity":
        _refuse_subs(subs, (), option, arg)
        return None
    group = _variable(subs["group"], "group", option, arg) if "group" in subs else None
    if kind == "exchangeable":
        _refuse_subs(subs, ("group",), option, arg)
        if len(words) != 1:
            raise SpecificationError(f"menl: cannot read rescorrelation({arg})")
        return ResCorrelation("exchangeable", group=group)
    order = _order(words, kind, option, arg)
    if kind in ("ar", "ma", "toeplitz", "ctar1"):
        _refuse_subs(subs, ("t", "group"), option, arg)
        t = _variable(subs.get("t"), "t", option, arg)
        if kind == "ctar1":
            if order is not None:
                raise SpecificationError(f"menl: rescorrelation({arg}): ctar1 takes no order")
            return ResCorrelation(kind, None, t, group)
        if kind == "toeplitz" and order is None:
            raise SpecificationError(f"menl: rescorrelation({arg}): toeplitz needs its order, "
                                     "as in rescorrelation(toeplitz 2, t(time))")
        return ResCorrelation(kind, order or 1, t, group)
    _refuse_subs(subs, ("index", "group"), option, arg)
    index = _variable(subs.get("index"), "index", option, arg)
    if order is not None and kind == "unstructured":
        raise SpecificationError(f"menl: rescorrelation({arg}): unstructured takes no order")
    return ResCorrelation(kind, order, index, group)


def parse_rescovariance(arg):
    """``rescovariance(...)`` -> ``(ResVariance or None, ResCorrelation or None)``."""
    option = "rescovariance"
    words, subs = _split(arg, option)
    if not words or len(words) > 1:
        raise SpecificationError(f"menl: cannot read rescovariance({arg}); expected "
                                 "identity, exchangeable, distinct or unstructured")
    kind = _abbrev(words[0], {"identity": "id", "exchangeable": "exc", "distinct": "dist",
                              "unstructured": "un"}, option, arg)
    group = _variable(subs["group"], "group", option, arg) if "group" in subs else None
    if kind == "identity":
        _refuse_subs(subs, (), option, arg)
        return None, None
    if kind == "exchangeable":
        _refuse_subs(subs, ("group",), option, arg)
        return None, ResCorrelation("exchangeable", group=group)
    _refuse_subs(subs, ("index", "group"), option, arg)
    index = _variable(subs.get("index"), "index", option, arg)
    if kind == "distinct":
        if group is not None:
            raise SpecificationError(f"menl: rescovariance({arg}): group() applies to "
                                     "correlated errors only")
        return ResVariance("distinct", index), None
    return None, ResCorrelation("unstructured", None, index, group, free_variances=True)
