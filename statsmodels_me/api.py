"""Model classes for array input, like ``statsmodels.api``.

>>> import statsmodels_me.api as sme
>>> sme.Mixed(endog, exog, groups=ids, exog_re=None).fit()    # doctest: +SKIP
"""
from statsmodels_me import datasets  # noqa: F401
from statsmodels_me.models.mixed import Mixed

__all__ = ["Mixed", "datasets"]
