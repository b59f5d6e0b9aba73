"""fit() takes only fitting controls (issue 11): MEModel._check_fit_kwargs."""
import pytest

from statsmodels_me.datasets import load
from statsmodels_me.models.mixed import Mixed


@pytest.fixture(scope="module")
def model():
    return Mixed.from_text("weight week || id:", load("pig").head(45))


def test_controls_pass(model):
    model._check_fit_kwargs({"emiterate": 5, "tolerance": 1e-6}, ("emiterate", "tolerance"))


def test_model_option_in_fit_is_refused(model):
    with pytest.raises(TypeError, match="reml=True, which is a model option"):
        model._check_fit_kwargs({"reml": True}, ("emiterate",))


@pytest.mark.parametrize("kw", [{"method": "bogus"}, {"bogus_option": 1}])
def test_unknown_fit_keyword(model, kw):
    with pytest.raises(TypeError, match=f"unexpected keyword argument.*{next(iter(kw))}"):
        model._check_fit_kwargs(kw, ("emiterate",))
