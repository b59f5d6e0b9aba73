"""Lowercase constructors, like ``statsmodels.formula.api``: each takes Stata command syntax or an
lme4-style formula, the data, and any option as a keyword.

>>> import statsmodels_me.formula.api as smf
>>> smf.mixed("weight week || id:", data=pig).fit()              # doctest: +SKIP
>>> smf.mixed("weight ~ week + (1 | id)", data=pig).fit()        # doctest: +SKIP
"""
from __future__ import annotations

from statsmodels_me.distributed import dask_model, is_dask_frame
from statsmodels_me.models.registry import model_class

__all__ = ["mixed", "meglm", "melogit", "meprobit", "mecloglog", "meologit", "meoprobit",
           "mepoisson", "menbreg", "metobit", "meintreg", "mestreg", "menl"]


def _constructor(command):
    def make(text, data, **options):
        if is_dask_frame(data):
            return dask_model(command, text, data, **options)
        return model_class(command).from_text(text, data, **options)
    make.__name__ = command
    make.__qualname__ = command
    make.__doc__ = (f"Build a ``{command}`` model from Stata syntax or an lme4-style formula.\n\n"
                    "Parameters\n----------\ntext : str\n    The model, e.g. "
                    f"``\"{command} y x || id:\"`` or ``\"y ~ x + (1 | id)\"``.\n"
                    "data : pandas.DataFrame or dask.dataframe.DataFrame\n"
                    "**options\n    Command options as keywords.\n\n"
                    "Returns\n-------\nmodel\n    Call ``.fit()`` on it.\n")
    return make


mixed = _constructor("mixed")
meglm = _constructor("meglm")
melogit = _constructor("melogit")
meprobit = _constructor("meprobit")
mecloglog = _constructor("mecloglog")
meologit = _constructor("meologit")
meoprobit = _constructor("meoprobit")
mepoisson = _constructor("mepoisson")
menbreg = _constructor("menbreg")
metobit = _constructor("metobit")
meintreg = _constructor("meintreg")
mestreg = _constructor("mestreg")
menl = _constructor("menl")
