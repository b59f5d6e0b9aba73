"""intmethod(pclaplace): the nested (Pinheiro & Chao 2006) Laplace equals the Laplace computed
over the whole random-effects vector by the general sparse engine (an independent code path
for the same approximation), and intmethod(laplace) gives the same fit."""
import sys
from pathlib import Path

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.models.meglm import MEPoisson

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from pclaplace import simulate  # noqa: E402

TEXT = "y x || school: || klass: x, cov(un) || unit:"


@pytest.fixture(scope="module")
def data():
    return simulate(6, seed=3)


def test_pclaplace_equals_general_laplace(data):
    nested = smf.mepoisson(TEXT, data=data, intmethod="pclaplace").fit()
    design = smf.mepoisson(TEXT, data=data, intmethod="laplace").design
    general = MEPoisson(design=design, kind="crossed").fit()
    assert nested.llf == pytest.approx(general.llf, rel=1e-9)
    np.testing.assert_allclose(nested.params, general.params, rtol=2e-4, atol=1e-5)


def test_pclaplace_is_laplace(data):
    a = smf.mepoisson(TEXT, data=data, intmethod="pclaplace").fit()
    b = smf.mepoisson(TEXT, data=data, intmethod="laplace").fit()
    assert a.llf == b.llf
    np.testing.assert_array_equal(a.params, b.params)
