"""Random-effects terms built once from the design (see docs/architecture.md)."""
from statsmodels_me.terms.random_effects import (
    BlockFactor,
    FirstEffectFactor,
    RelativeFactor,
    RETerm,
    build_terms,
    unwrap_factor,
)

__all__ = ["BlockFactor", "FirstEffectFactor", "RETerm", "RelativeFactor", "build_terms",
           "unwrap_factor"]
