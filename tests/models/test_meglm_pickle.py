"""Fitted meglm results survive pickle and ``save``/``load`` for every objective (one level,
nested, crossed, ordinal), print the same summary afterwards, and carry the optimization
record."""
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.models.meglm import MELogit, MEOLogit, MEPoisson
from statsmodels_me.optimization import OptimizationRecord
from statsmodels_me.results.meglm_results import MEGLMResults

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _crossed_reference import DATA as CROSSED  # noqa: E402


def _nested_data(seed=4):
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(15), 24)
    klass = np.repeat(np.arange(45), 8)
    x = rng.normal(size=len(school))
    eta = 0.2 + 0.4 * x + rng.normal(0, 0.5, 15)[school] + rng.normal(0, 0.3, 45)[klass]
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "school": school,
                         "klass": klass})


def _fits():
    return {
        "one level": (MELogit, smf.melogit("c_use urban age || district:",
                                           data=load("bangladesh")).fit()),
        "nested": (MEPoisson, smf.mepoisson("y x || school: || klass:", data=_nested_data(),
                                            intmethod="laplace").fit()),
        "crossed": (MELogit, smf.melogit("y ~ x + (1 | a) + (1 | b)",
                                         data=pd.read_csv(CROSSED)).fit()),
        "ordinal": (MEOLogit, smf.meologit("thk prethk cc || school:", data=load("tvsfpors"),
                                           intmethod="laplace").fit()),
    }


@pytest.fixture(scope="module")
def fits():
    return _fits()


@pytest.mark.parametrize("kind", ["one level", "nested", "crossed", "ordinal"])
def test_pickle_round_trip_and_summary(fits, kind):
    cls, res = fits[kind]
    assert type(res.model) is cls
    back = pickle.loads(pickle.dumps(res))
    assert type(back.model) is cls
    np.testing.assert_array_equal(np.asarray(back.params), np.asarray(res.params))
    np.testing.assert_array_equal(np.asarray(back.bse), np.asarray(res.bse))
    assert back.llf == res.llf
    assert str(back.summary()) == str(res.summary())
    # the reloaded model evaluates the same likelihood at the estimates
    assert back.model.loglike(np.asarray(res.params)) == pytest.approx(res.llf, rel=1e-8)


@pytest.mark.parametrize("kind", ["nested", "crossed"])
def test_save_load(fits, kind, tmp_path):
    _, res = fits[kind]
    path = tmp_path / "res.pickle"
    res.save(str(path))
    back = MEGLMResults.load(str(path))
    np.testing.assert_array_equal(np.asarray(back.params), np.asarray(res.params))
    assert str(back.summary()) == str(res.summary())


@pytest.mark.parametrize("kind", ["one level", "nested", "crossed", "ordinal"])
def test_optimization_record(fits, kind):
    _, res = fits[kind]
    rec = res.optimization
    assert isinstance(rec, OptimizationRecord)
    assert rec.converged
    np.testing.assert_array_equal(rec.x_final, res.params_internal)
    assert rec.value == res.llf
    assert rec.stages and rec.evaluations > 0
    assert rec.iterations >= res.info.iterations
    assert len(rec.x_initial) == len(rec.x_final)


def test_quadrature_record_names_the_laplace_stage():
    # a quadrature fit optimizes the Laplace approximation first, then takes chord Newton
    # steps on the quadrature likelihood
    res = smf.melogit("c_use urban age || district:", data=load("bangladesh")).fit()
    rec = res.optimization
    assert rec.stages[0] == "L-BFGS-B (Laplace)"
    assert rec.stages[1] == "chord Newton"
    assert rec.criterion.startswith("chord Newton")
    assert np.isfinite(rec.hessian_condition) and rec.hessian_condition > 1


@pytest.mark.parametrize("kind", ["one level", "nested", "crossed"])
@pytest.mark.parametrize("ebmodes", [False, True])
def test_random_effect_parts_equal_predict_reffects(fits, kind, ebmodes):
    # reference: predict("reffects"), which computes the same predictions from the engines
    _, res = fits[kind]
    parts = res.model.random_effect_parts(res.params_internal, ebmodes)
    pred = res.predict("reffects", ebmodes=ebmodes)
    got = pd.concat([pd.DataFrame(means[codes], index=pred.index, columns=names)
                     for codes, _, means, _, names in parts], axis=1)
    assert list(got.columns) == list(pred.columns)
    np.testing.assert_allclose(got.to_numpy(), pred.to_numpy(), rtol=1e-9, atol=1e-12)
    reses = res.predict("reses", ebmodes=ebmodes)
    sd = np.hstack([np.sqrt(np.diagonal(covs, axis1=1, axis2=2))[codes]
                    for codes, _, _, covs, _ in parts])
    np.testing.assert_allclose(sd, reses.to_numpy(), rtol=1e-9, atol=1e-12)
