"""Display-scale confidence intervals reproduce the intervals printed in the seed.

Reference numbers: Stata's printed output in [ME] me, examples 1, 4, 5 and 7, bundled as
statsmodels_me/datasets/seed_examples.json. Printed numbers are rounded, so each interval is
checked against the range the formula gives over the rounding box of the printed estimate
and standard error, widened by half a unit in the last printed digit of the bound itself.
"""
from decimal import Decimal

import numpy as np
import pytest

from statsmodels_me import datasets
from statsmodels_me.covariance.inference import (
    correlation_ci,
    covariance_ci,
    critical_value,
    sd_ci,
    sd_from_variance,
    variance_ci,
    vcomp_ci,
)
from statsmodels_me.spec.errors import SpecificationError


def _half_unit(x):
    return 0.5 * 10.0 ** Decimal(repr(x)).as_tuple().exponent


def _rows(kind):
    out = []
    for e in datasets.seed_examples().values():
        if not e["id"].startswith(("ex1_", "ex4_", "ex5_", "ex7_")):
            continue
        for label, vals in e["vcomp"].items():
            is_var = "var(" in label
            if (kind == "var") == is_var:
                out.append(pytest.param(*vals, id=f"{e['id'][:3]} {label}"))
    return out


def _check(ci_fun, est, se, lo, hi):
    # the formula is monotone in est and se: its extremes lie on the corners of the box
    corners = [ci_fun(est + a * _half_unit(est), se + b * _half_unit(se))
               for a in (-1, 1) for b in (-1, 1)]
    for k, printed in enumerate((lo, hi)):
        vals = [float(c[k]) for c in corners]
        slack = _half_unit(printed)
        assert min(vals) - slack <= printed <= max(vals) + slack
    # and the central value is close in relative terms (2e-5: ex7 prints .0034604, five
    # significant digits, i.e. 1.4e-5 relative rounding)
    c_lo, c_hi = ci_fun(est, se)
    np.testing.assert_allclose([c_lo, c_hi], [lo, hi], rtol=2e-5)


@pytest.mark.parametrize("est, se, lo, hi", _rows("var"))
def test_variance_ci_log_scale_matches_seed(est, se, lo, hi):
    _check(variance_ci, est, se, lo, hi)


@pytest.mark.parametrize("est, se, lo, hi", _rows("cov"))
def test_covariance_ci_normal_scale_matches_seed(est, se, lo, hi):
    _check(covariance_ci, est, se, lo, hi)
    # a plain normal interval is symmetric about the estimate
    assert abs((lo + hi) / 2 - est) <= _half_unit(lo) + _half_unit(est)


def test_critical_value():
    assert critical_value() == pytest.approx(1.959963985, abs=1e-9)
    assert critical_value(90) == pytest.approx(1.644853627, abs=1e-9)
    with pytest.raises(SpecificationError, match="level"):
        critical_value(100)


def test_sd_ci_is_sqrt_of_variance_ci():
    # seed ex1 var(_cons) 14.81751 (3.124225)
    v, se = 14.81751, 3.124225
    sd, se_sd = sd_from_variance(v, se)
    assert se_sd == pytest.approx(se / (2 * np.sqrt(v)))
    np.testing.assert_allclose(sd_ci(sd, se_sd), np.sqrt(variance_ci(v, se)), rtol=1e-12)


def test_correlation_ci_atanh_scale():
    r, se = 0.6, 0.1
    lo, hi = correlation_ci(r, se)
    z = critical_value()
    np.testing.assert_allclose([np.arctanh(lo), np.arctanh(hi)],
                               np.arctanh(r) + np.array([-1, 1]) * z * se / (1 - r * r))
    assert -1 < lo < r < hi < 1


def test_vcomp_ci_mixes_scales_and_blanks_nonpositive_variances():
    lo, hi = vcomp_ci([1.0, -0.5, 0.0], [0.2, 0.1, 0.1], [True, False, True])
    vlo, vhi = variance_ci(1.0, 0.2)
    clo, chi = covariance_ci(-0.5, 0.1)
    np.testing.assert_allclose(lo[:2], [vlo, clo])
    np.testing.assert_allclose(hi[:2], [vhi, chi])
    assert np.isnan(lo[2]) and np.isnan(hi[2])
