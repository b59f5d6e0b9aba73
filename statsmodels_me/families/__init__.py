"""Conditional distributions of the response in GLMMs (Stata's ``meglm`` families).

Each family is an object (:class:`~statsmodels_me.families.base.Family`, one module per family
group) bound to a link: names and Stata's title pieces, statsmodels' link with its inverse and
derivatives, ancillary parameters with their ``e(b)`` names, starting values and display
transforms, outcome checks, the constant of the log density, an independent scipy density,
the ``predict`` statistics and the integer codes of the kernels
(``statsmodels_me._kernels.codes``).  :func:`get_family` builds one from Stata's names.

The numerical kernels (``statsmodels_me/_kernels/family_math.pxd``) evaluate each family's
log density and its eta-derivatives without the GIL.  ``statsmodels_me.families.registry``
keeps the name-based functions the engines call.
"""
from statsmodels_me._kernels.codes import FAMILY_CODES, LINK_CODES
from statsmodels_me.families.base import (
    COMMON_STATISTICS,
    AncillaryParameter,
    Family,
    statsmodels_link,
)
from statsmodels_me.families.binomial import Bernoulli, Binomial
from statsmodels_me.families.catalog import FAMILY_CLASSES, get_family
from statsmodels_me.families.eform import EFORM_LABELS, eform_label, eform_notes
from statsmodels_me.families.gamma import Gamma
from statsmodels_me.families.gaussian import Gaussian
from statsmodels_me.families.nbinomial import NegativeBinomialConstant, NegativeBinomialMean
from statsmodels_me.families.ordinal import Ordinal
from statsmodels_me.families.poisson import Poisson
from statsmodels_me.families.registry import (
    FAMILIES,
    link_code,
    obs_constant,
    reference_logpdf,
)

__all__ = [
    "COMMON_STATISTICS",
    "EFORM_LABELS",
    "FAMILIES",
    "FAMILY_CLASSES",
    "FAMILY_CODES",
    "LINK_CODES",
    "AncillaryParameter",
    "Bernoulli",
    "Binomial",
    "Family",
    "Gamma",
    "Gaussian",
    "NegativeBinomialConstant",
    "NegativeBinomialMean",
    "Ordinal",
    "Poisson",
    "eform_label",
    "eform_notes",
    "get_family",
    "link_code",
    "obs_constant",
    "reference_logpdf",
    "statsmodels_link",
]
