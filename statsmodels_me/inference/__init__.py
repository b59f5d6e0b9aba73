"""Pure statistical computations shared by estimators, results and postestimation.

Nothing here knows a model or a results class: functions take numbers (log likelihoods,
parameter counts, covariance structures) and return numbers, so every layer may import them.
"""
from statsmodels_me.inference.lrtests import (
    CONSERVATIVE_NOTE,
    LRTest,
    LRTestResult,
    boundary_test,
    lr_note,
    lr_test_vs_fixed,
    restricted_counts,
)

__all__ = ["CONSERVATIVE_NOTE", "LRTest", "LRTestResult", "boundary_test", "lr_note",
           "lr_test_vs_fixed", "restricted_counts"]
