"""Objectives: what each estimator maximizes, one implementation per engine.

See :mod:`statsmodels_me.objectives.base` for the protocol every objective follows.
"""
from statsmodels_me.objectives.base import Objective

__all__ = ["Objective"]
