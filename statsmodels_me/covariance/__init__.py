"""Random-effects covariance structures as parameter maps (see docs/architecture.md)."""
from statsmodels_me.covariance._cholesky import psd_cholesky
from statsmodels_me.covariance.base import CovarianceStructure, DisplayRow
from statsmodels_me.covariance.blocked import BlockDiagonal
from statsmodels_me.covariance.factory import make_covariance, make_level_covariance
from statsmodels_me.covariance.inference import (
    correlation_ci,
    covariance_ci,
    critical_value,
    sd_ci,
    variance_ci,
    vcomp_ci,
)
from statsmodels_me.covariance.structures import (
    Exchangeable,
    Fixed,
    Identity,
    Independent,
    Pattern,
    Unstructured,
)

__all__ = [
    "BlockDiagonal", "CovarianceStructure", "DisplayRow", "Exchangeable", "Fixed", "Identity",
    "Independent", "Pattern", "Unstructured", "correlation_ci", "covariance_ci",
    "critical_value", "make_covariance", "make_level_covariance", "psd_cholesky", "sd_ci",
    "variance_ci", "vcomp_ci",
]
