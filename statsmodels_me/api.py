"""Model classes for array input, like ``statsmodels.api``.

>>> import statsmodels_me.api as sme
>>> sme.Mixed(endog, exog, groups=ids).fit()                  # doctest: +SKIP
>>> sme.MELogit(endog, exog, groups=ids, exog_re=z).fit()      # doctest: +SKIP

``exog`` includes the constant column (``statsmodels.api.add_constant``), which is reported as
``_cons``; ``exog_re`` (default: a random intercept) holds the random-effects covariates.
"""
from statsmodels_me import datasets
from statsmodels_me.models.meglm import (
    MEGLM,
    MECloglog,
    MELogit,
    MENBReg,
    MEOLogit,
    MEOProbit,
    MEPoisson,
    MEProbit,
)
from statsmodels_me.models.mixed import Mixed

__all__ = ["Mixed", "MEGLM", "MELogit", "MEProbit", "MECloglog", "MEPoisson", "MENBReg",
           "MEOLogit", "MEOProbit", "datasets"]
