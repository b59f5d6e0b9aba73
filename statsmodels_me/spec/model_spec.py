"""The internal model specification: pure data, no numerics.

Both front ends (Stata command syntax in :mod:`statsmodels_me.spec.stata` and lme4-style
formulas in :mod:`statsmodels_me.spec.lme4`) produce a :class:`ModelSpec`; everything
downstream (design construction, estimators, results) reads only this.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: covariance structures of a random-effects equation (Stata's ``covariance()``)
COVARIANCE_STRUCTURES = (
    "independent", "identity", "exchangeable", "unstructured", "pattern", "fixed",
)


@dataclass(frozen=True)
class Factor:
    """One variable inside a term, in Stata's factor-variable notation.

    Attributes
    ----------
    var : str
        Variable name; for ``kind="formula"`` patsy's name of the transform (``"I(x ** 2)"``).
    kind : {"c", "i", "ibn", "formula"}
        ``c`` continuous; ``i`` categorical with a base level dropped; ``ibn`` categorical with
        no base level (all indicators); ``formula`` a formula transform evaluated with patsy's
        coding rules (:mod:`statsmodels_me.spec.formula_terms`).
    base : int or float or None
        Explicit base level from ``b#.`` (``b2.block`` gives 2); ``None`` means Stata's default
        (the lowest level).
    inputs : tuple of str
        For ``kind="formula"``: the data columns the transform reads.
    """

    var: str
    kind: str = "c"
    base: Any = None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    """A product (interaction ``#``) of one or more factors; a single factor is a main effect."""

    factors: tuple[Factor, ...]

    @property
    def is_continuous(self) -> bool:
        return all(f.kind == "c" for f in self.factors)


@dataclass(frozen=True)
class REEquation:
    """One random-effects equation ``levelvar: [varlist] [, re_options]``.

    Attributes
    ----------
    level : str
        The level variable, or ``"_all"`` (one group holding every observation).
    path : tuple of str
        The nesting path ending with ``level``: Stata's ``|| school: || class:`` gives
        ``("school",)`` then ``("school", "class")``; lme4's ``(1 | school/class)`` gives the
        same. Separate lme4 bars ``(1|a) + (1|b)`` give ``("a",)`` and ``("b",)`` (crossed
        unless the data happen to nest).
    terms : tuple of Term
        Random-effects covariates (without the constant).
    constant : bool
        Whether the equation has a random intercept (``noconstant`` turns it off; ``R.``
        implies no constant).
    covariance : str
        One of :data:`COVARIANCE_STRUCTURES`.
    cov_matrix : str or None
        Name of the Stata matrix for ``pattern(name)`` / ``fixed(name)``; the array comes from
        ``ModelSpec.matrices``.
    factor : str or None
        For ``R.var``: the factor whose levels each get a random effect (sparse indicators).
    """

    level: str
    path: tuple[str, ...]
    terms: tuple[Term, ...] = ()
    constant: bool = True
    covariance: str = "independent"
    cov_matrix: str | None = None
    factor: str | None = None


@dataclass(frozen=True)
class Expression:
    """An expression over data columns, kept as text and evaluated by the design layer.

    Attributes
    ----------
    text : str
        As written (``"id <= 24 & !missing(x)"``, ``"np.log(n)"``).
    syntax : {"stata", "formula"}
        ``"stata"``: Stata's expression grammar (:mod:`statsmodels_me.spec.expressions`);
        ``"formula"``: a patsy factor (:mod:`statsmodels_me.spec.formula_terms`).
    variables : tuple of str
        The data columns it reads.
    """

    text: str
    syntax: str = "stata"
    variables: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ObsRange:
    """Stata's ``in first/last``: 1-based observation numbers; negative numbers count from the
    end (``-1`` is the last observation); ``"f"`` and ``"l"`` are the first and the last.
    """

    first: int | str
    last: int | str
    text: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model: response, fixed part, random equations and command options.

    Attributes
    ----------
    command : str
        ``mixed``, ``meglm``, ``melogit``, ... (lower case, as typed in Stata).
    response : tuple of str
        Dependent variable(s); ``meintreg`` has two.
    fixed : tuple of Term
        Fixed-effects terms in the order written (``##`` already expanded).
    constant : bool
        Fixed-effects constant (``noconstant`` in the fixed equation turns it off).
    random : tuple of REEquation
        Random-effects equations in the order written.
    options : Mapping
        Command options normalized to full names and Python values, for example
        ``{"reml": True, "intmethod": "laplace", "intpoints": 7, "family": "binomial",
        "link": "logit", "binomial": "napplied", "or": True, "constraints": (...)}``.
    matrices : Mapping
        Stata matrices referenced by ``pattern()`` / ``fixed()`` (name -> ndarray).
    syntax : {"stata", "formula"}
        Which front end produced it (parameter naming differs only in fixed-effect labels).
    source : str
        The text that was parsed (for error messages and output headers).
    condition : Expression or None
        Stata's ``if exp``: only rows where it is true (nonzero, missing included) are used.
    obs_range : ObsRange or None
        Stata's ``in range``.
    tsset : tuple (panel or None, time) or None
        Panel and time variables of the time-series operators (``L.x``, ``D.y``), as Stata's
        ``tsset panel time``.
    """

    command: str
    response: tuple[str, ...]
    fixed: tuple[Term, ...] = ()
    constant: bool = True
    random: tuple[REEquation, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    matrices: Mapping[str, Any] = field(default_factory=dict, compare=False)
    syntax: str = "stata"
    source: str = field(default="", compare=False)
    condition: Expression | None = None
    obs_range: ObsRange | None = None
    tsset: tuple[str | None, str] | None = None

    def variables(self) -> list[str]:
        """Every data column the model uses (for listwise deletion), in first-use order."""
        out: list[str] = []

        def add(v):
            if v and v != "_all" and v not in out:
                out.append(v)

        def add_term(t):
            for f in t.factors:
                for v in (f.inputs if f.kind == "formula" else (f.var,)):
                    add(v)

        for v in self.response:
            add(v)
        for t in self.fixed:
            add_term(t)
        for eq in self.random:
            for v in eq.path:
                add(v)
            add(eq.factor)
            for t in eq.terms:
                add_term(t)
        for key in ("binomial", "exposure", "offset"):
            val = self.options.get(key)
            if isinstance(val, str):
                add(val)
            elif isinstance(val, Expression):
                for v in val.variables:
                    add(v)
        return out
