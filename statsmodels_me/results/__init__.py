"""Results classes, variance components and the Stata-layout summary."""
from statsmodels_me.results.base import MEResults, MEResultsWrapper, vcomp_frame
from statsmodels_me.results.constraints import linear_constraints
from statsmodels_me.results.fit_info import FitInfo, LRTest, VCompGroup
from statsmodels_me.results.summary import MESummary

__all__ = ["FitInfo", "LRTest", "MEResults", "MEResultsWrapper", "MESummary", "VCompGroup",
           "linear_constraints", "vcomp_frame"]
