"""Random-effects terms built once from the design (see docs/architecture.md)."""
from statsmodels_me.terms.random_effects import (
    AbsoluteFactor,
    FirstEffectFactor,
    RETerm,
    StructureFactor,
    absolute_scale_terms,
    build_terms,
    term_structures,
)
from statsmodels_me.terms.theta_layout import (
    cholesky_column_partners,
    theta_from_moments,
    theta_labels,
)

__all__ = ["AbsoluteFactor", "FirstEffectFactor", "RETerm", "StructureFactor",
           "absolute_scale_terms", "build_terms", "cholesky_column_partners",
           "term_structures", "theta_from_moments", "theta_labels"]
