"""Fitted ``mixed`` results survive pickle and ``save``/``load``: the same estimates, the same
summary text, and postestimation (which rebuilds the factor from the results) after loading.
"""
import pickle

import numpy as np
import pytest
from statsmodels.iolib.smpickle import load_pickle

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

MODELS = [
    ("weight week || id: week, cov(un)", "pig"),                 # one level
    ("thk prethk || school: || class:", "tvsfpors"),              # nested
    ("weight week || _all: R.id || _all: R.week", "pig"),         # crossed
]


@pytest.fixture(scope="module", params=MODELS, ids=["one_level", "nested", "crossed"])
def fitted(request):
    text, data = request.param
    return smf.mixed(text, data=load(data)).fit()


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))
    np.testing.assert_array_equal(np.asarray(a.bse), np.asarray(b.bse))
    assert a.llf == b.llf
    assert str(a.summary()) == str(b.summary())
    np.testing.assert_array_equal(a.theta, b.theta)
    assert b.optimization.stages == a.optimization.stages
    for stat in ("fitted", "reses"):
        np.testing.assert_allclose(np.asarray(b.predict(stat)), np.asarray(a.predict(stat)),
                                   rtol=1e-12)
    for key, frame in a.random_effects.items():
        np.testing.assert_allclose(b.random_effects[key].to_numpy(), frame.to_numpy(),
                                   rtol=1e-12)


def test_pickle_round_trip(fitted):
    back = pickle.loads(pickle.dumps(fitted))
    _same(fitted, back)


def test_save_and_load(fitted, tmp_path):
    path = tmp_path / "mixed.pickle"
    fitted.save(str(path))
    _same(fitted, load_pickle(str(path)))


@pytest.mark.parametrize("text,data", MODELS[:2])
def test_loaded_results_rebuild_the_factor(text, data):
    """Results pickled before any postestimation give the original's predictions after
    loading (a one-level fit keeps no factor and rebuilds it from the model)."""
    res = smf.mixed(text, data=load(data)).fit()
    back = pickle.loads(pickle.dumps(res))
    np.testing.assert_allclose(np.asarray(back.predict("reses")),
                               np.asarray(res.predict("reses")), rtol=1e-12)
