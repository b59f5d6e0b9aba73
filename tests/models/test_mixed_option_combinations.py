"""Combinations of mixed options whose joint inference is not implemented are refused, never
silently dropped."""
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load


@pytest.mark.parametrize("opt", ["dfmethod(kroger)", "vce(robust)"])
def test_residual_structure_with_unsupported_inference_is_refused(opt):
    pig = load("pig")
    reml = " reml" if "kroger" in opt else ""
    with pytest.raises(NotImplementedError, match="residuals"):
        smf.mixed(f"weight week || id:, residuals(ar 1, t(week)){reml} {opt}", data=pig)
