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

__all__ = ["needs_patsy", "formula_columns"]


def needs_patsy(term: Term) -> bool:
    """True when a term holds a formula transform."""
    return any(f.kind == "formula" for f in term.factors)


def _patsy_factor(f: Factor) -> TransformFactor:
    if f.kind == "formula":
        return TransformFactor(f.var)
    if f.kind in ("i", "ibn"):
        if f.base is None:
            return TransformFactor(f"C({f.var})")
        return TransformFactor(f"C({f.var}, Treatment({f.base!r}))")
    return TransformFactor(f.var)


def formula_columns(terms: list[Term], data: pd.DataFrame, intercept: bool, where: str
                    ) -> tuple[dict[int, TermColumns], patsy.DesignInfo]:
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
    info : patsy.DesignInfo
    """
    pterms = [patsy.Term([_patsy_factor(f) for f in t.factors]) for t in terms]
    termlist = ([patsy.INTERCEPT] if intercept else []) + pterms
    na_action = patsy.NAAction(on_NA="raise", NA_types=["None", "NaN"])
    try:
        info = patsy.design_matrix_builders([termlist], lambda: iter([data]),
                                            patsy.EvalEnvironment([{}]), NA_action=na_action)[0]
        matrix = patsy.build_design_matrices([info], data, NA_action=na_action,
                                             return_type="matrix")[0]
    except patsy.PatsyError as err:
        raise DataError(f"{where}: {err.message}") from None
    X = np.asarray(matrix, dtype=np.float64)
    out = {}
    for k, (term, pterm) in enumerate(zip(terms, pterms, strict=True)):
        if not needs_patsy(term):
            continue
        cols = info.term_slices[pterm]
        block = np.ascontiguousarray(X[:, cols])
        names = list(info.column_names[cols])
        bad = ~np.isfinite(block).all(axis=0)
        if bad.any():
            raise DataError(f"{where}: formula term {names[int(np.argmax(bad))]!r} has "
                            f"{int((~np.isfinite(block)).any(axis=1).sum())} infinite or "
                            "missing values")
        out[k] = TermColumns(block, names, names, [False] * len(names),
                             [[("", nm)] for nm in names])
    return out, info
