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


def test_estimators_refuse_model_options_in_fit(model):
    from statsmodels_me.models.meglm import MELogit
    with pytest.raises(TypeError, match="model option"):
        model.fit(reml=True)
    with pytest.raises(TypeError, match="bogus"):
        model.fit(method="bogus")
    d = load("pig").head(45)
    glmm = MELogit.from_text("b week || id:", d.assign(b=(d.weight > 40).astype(int)))
    with pytest.raises(TypeError, match="bogus_option"):
        glmm.fit(bogus_option=1)


@pytest.mark.parametrize("cls_path, text, options", [
    ("statsmodels_me.models.mixed.Mixed", "weight week || id:", {"reml": True}),
    ("statsmodels_me.models.meglm.MELogit", "y week || id:", {"intmethod": "laplace"}),
    ("statsmodels_me.models.censored.METobit", "weight week || id:", {"ll": 30}),
])
def test_options_next_to_a_design_are_refused(cls_path, text, options):
    # a design carries its options: keywords beside design= would be ignored, so they raise
    import importlib

    from statsmodels_me.design import build_design
    from statsmodels_me.spec import parse
    module, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    pig = load("pig").head(45).assign(y=lambda d: (d.weight > d.weight.median()) * 1.0)
    design = build_design(parse(text, command=cls.command), pig)
    with pytest.raises(TypeError, match=f"{next(iter(options))} given with design="):
        cls(design=design, **options)
