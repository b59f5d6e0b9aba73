"""One optimization layer for every estimator.

Objectives (``statsmodels_me.objectives``) say what is maximized; the modules here say how:
EM starting values, the bounded quasi-Newton method with its boundary rescan, Newton and
chord-Newton steps, numerical Hessians, and the :class:`OptimizationRecord` every fit returns.
"""
from statsmodels_me.optimization.record import OptimizationRecord

__all__ = ["OptimizationRecord"]
