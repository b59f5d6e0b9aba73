"""The ordinal family of one partition: the whole data's categories and cutpoints.

A partition of an ordinal outcome may lack some categories.  Its objective must still have
every cutpoint of the whole data (a partition without the top category has observations in
the next one, whose probability F(cut_K-1 - eta) - F(cut_K-2 - eta) involves cut_K-1), and
its outcome codes are positions among the whole data's categories.
"""
from __future__ import annotations

import numpy as np

from statsmodels_me.families.ordinal import Ordinal
from statsmodels_me.spec.errors import DataError


class WholeDataOrdinal(Ordinal):
    """:class:`Ordinal` with the categories of the whole data instead of those of the rows
    it is given.

    Parameters
    ----------
    link : str, optional
    categories : array_like, optional
        The sorted outcome values of the whole data; without them, :class:`Ordinal`.
    """

    def __init__(self, link=None, categories=None):
        super().__init__(link)
        self.categories = None if categories is None else np.asarray(categories, float)

    def prepare_endog(self, y, depvar="y"):
        """Codes of ``y`` among the whole data's categories, and those categories."""
        if self.categories is None:
            return super().prepare_endog(y, depvar)
        y = np.asarray(y, float)
        unknown = ~np.isin(y, self.categories)
        if unknown.any():
            raise DataError(f"ordinal outcome '{depvar}' has the value {y[unknown][0]:g}, "
                            "not one of the whole data's categories "
                            f"{', '.join(f'{c:g}' for c in self.categories)}")
        return np.searchsorted(self.categories, y).astype(float), self.categories

    def ancillary(self, y=None, depvar="y"):
        """The cutpoints of the whole data's categories (whatever ``y`` holds)."""
        if self.categories is None:
            return super().ancillary(y, depvar)
        return self.ancillary_for(len(self.categories) - 1)

    def __eq__(self, other):
        return super().__eq__(other) and np.array_equal(self.categories, other.categories)

    def __hash__(self):
        cats = None if self.categories is None else tuple(self.categories)
        return hash((super().__hash__(), cats))


def partition_family(family, categories):
    """The family a partition's objective uses: ``family``, or for an ordinal outcome
    (``categories`` given) a :class:`WholeDataOrdinal` with its link."""
    if categories is None:
        return family
    return WholeDataOrdinal(family.link, categories)
