"""Columns of formula terms that hold transforms (``I(x**2)``, ``bs(t, df=4)``, ``C(g, Sum)``),
built by patsy from :class:`~statsmodels_me.design.formula_eval.TransformFactor` factors.

Every term of one equation goes to patsy (with the intercept when the equation has one), so
patsy's coding of categorical factors inside interactions sees the same terms as it would in
the whole formula; only the columns of the terms that need patsy are taken from it, the others
keep Stata's expansion and names. The returned ``DesignInfo`` holds the fitted stateful
transforms: ``patsy.build_design_matrices([info], new_data)`` transforms new data with the
estimation-sample constants.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import patsy

from statsmodels_me.design.factors import TermColumns
from statsmodels_me.design.formula_eval import TransformFactor
from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.model_spec import Factor, Term

__all__ = ["EquationTransforms", "needs_patsy", "formula_columns"]

_NA_ACTION = patsy.NAAction(on_NA="raise", NA_types=["None", "NaN"])


def needs_patsy(term: Term) -> bool:
    """True when a term holds a formula transform."""
    return any(f.kind == "formula" for f in term.factors)


class EquationTransforms:
    """patsy's ``DesignInfo`` of one equation, with its stateful transforms fitted.

    patsy's objects cannot be pickled, so this is pickled as its recipe -- the factor codes of
    each term, the intercept and the estimation-sample columns the factors read -- and the
    ``DesignInfo`` is rebuilt from them when loaded (the same constants: the fit is
    deterministic).

    Attributes
    ----------
    info : patsy.DesignInfo
    """

    def __init__(self, term_codes: list[list[str]], intercept: bool, training: pd.DataFrame):
        self.term_codes = [list(c) for c in term_codes]
        self.intercept = bool(intercept)
        self.training = training
        pterms = [patsy.Term([TransformFactor(c) for c in codes]) for codes in self.term_codes]
        self.patsy_terms = pterms
        termlist = ([patsy.INTERCEPT] if self.intercept else []) + pterms
        self.info = patsy.design_matrix_builders([termlist], lambda: iter([training]),
                                                 patsy.EvalEnvironment([{}]),
                                                 NA_action=_NA_ACTION)[0]

    def __getstate__(self):
        return {"term_codes": self.term_codes, "intercept": self.intercept,
                "training": self.training}

    def __setstate__(self, state):
        self.__init__(state["term_codes"], state["intercept"], state["training"])

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Columns of every term of the equation for ``data``, with the training constants."""
        try:
            return patsy.build_design_matrices([self.info], data, NA_action=_NA_ACTION,
                                               return_type="dataframe")[0]
        except patsy.PatsyError as err:
            raise DataError(err.message) from None


def _factor_code(f: Factor) -> str:
    if f.kind == "formula":
        return f.var
    if f.kind in ("i", "ibn"):
        return f"C({f.var})" if f.base is None else f"C({f.var}, Treatment({f.base!r}))"
    return f.var


def formula_columns(terms: list[Term], data: pd.DataFrame, intercept: bool, where: str
                    ) -> tuple[dict[int, TermColumns], EquationTransforms]:
    """Columns of the transform terms among ``terms``, by position in ``terms``.

    Parameters
    ----------
    terms : list of Term
        Every term of one equation (fixed part or one random-effects equation).
    data : DataFrame
        The estimation sample.
    intercept : bool
        Whether the equation has a constant (patsy then codes factors with one level less).
    where : str
        Which equation, for error messages.

    Returns
    -------
    columns : dict
        Position in ``terms`` -> :class:`TermColumns` with patsy's column names.
    transforms : EquationTransforms
    """
    inputs: list[str] = []
    for t in terms:
        for f in t.factors:
            for v in (f.inputs if f.kind == "formula" else (f.var,)):
                if v not in inputs:
                    inputs.append(v)
    try:
        eq = EquationTransforms([[_factor_code(f) for f in t.factors] for t in terms],
                                intercept, data[inputs])
        matrix = patsy.build_design_matrices([eq.info], data, NA_action=_NA_ACTION,
                                             return_type="matrix")[0]
    except patsy.PatsyError as err:
        raise DataError(f"{where}: {err.message}") from None
    info = eq.info
    X = np.asarray(matrix, dtype=np.float64)
    out = {}
    for k, (term, pterm) in enumerate(zip(terms, eq.patsy_terms, strict=True)):
        if not needs_patsy(term):
            continue
        cols = info.term_slices[pterm]
        block = np.ascontiguousarray(X[:, cols])
        names = list(info.column_names[cols])
        out[k] = TermColumns(block, names, names, [False] * len(names),
                             [[("", nm)] for nm in names])
    return out, eq
