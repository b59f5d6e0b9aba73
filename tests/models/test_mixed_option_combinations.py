"""Combinations of mixed options whose joint inference is not implemented are refused, never
silently dropped."""
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import SpecificationError


@pytest.mark.parametrize("opt", ["dfmethod(kroger)", "vce(robust)"])
def test_residual_structure_with_unsupported_inference_is_refused(opt):
    pig = load("pig")
    reml = " reml" if "kroger" in opt else ""
    with pytest.raises(NotImplementedError, match="residuals"):
        smf.mixed(f"weight week || id:, residuals(ar 1, t(week)){reml} {opt}", data=pig)


@pytest.mark.parametrize("cov", ["unstructured", "independent"])
def test_factor_block_refuses_structures_other_than_identity_or_exchangeable(cov):
    # Stata: R. blocks take identity or exchangeable; anything else was fitted as identity
    pig = load("pig")
    with pytest.raises(SpecificationError, match=f"covariance\\({cov}\\)"):
        smf.mixed(f"weight week || _all: R.id, cov({cov})", data=pig)
