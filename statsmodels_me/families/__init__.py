"""Conditional distributions of the response in GLMMs (Stata's ``meglm`` families).

The numerical kernels (``statsmodels_me/_integrate/family_math.pxd``) evaluate each family's log
density and its eta-derivatives without the GIL; this package holds the Python side: names,
integer codes, default and allowed links, ancillary parameters, the per-observation constant
terms of the log density and an independent scipy-based reference density used in tests.
"""
from statsmodels_me.families.registry import (
    FAMILIES,
    FAMILY_CODES,
    LINK_CODES,
    Family,
    get_family,
    link_code,
    obs_constant,
    reference_logpdf,
    statsmodels_link,
)

__all__ = [
    "FAMILIES",
    "FAMILY_CODES",
    "LINK_CODES",
    "Family",
    "get_family",
    "link_code",
    "obs_constant",
    "reference_logpdf",
    "statsmodels_link",
]
