"""Fitted results survive ``res.save`` / ``MEResults.load`` and ``pickle`` for every design.

mixed (one level, nested, crossed) and meglm (one level, nested, crossed, ordinal) are fitted
on bundled data (or, for the crossed GLMM, on data simulated here); after the round trip the
estimates, standard errors and log likelihood are equal to the fitted ones, ``summary()``
renders the same text and the loaded model gives the same log likelihood at the estimates.
"""
import pickle

import numpy as np
import pandas as pd
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me import datasets
from statsmodels_me.results import MEResults


def _tvsfpors_binary():
    df = datasets.load("tvsfpors")
    return df.assign(high=(df["thk"] >= 3).astype(float))


def _crossed_binary():
    rng = np.random.default_rng(20261203)
    a, b = np.repeat(np.arange(30), 12), np.tile(np.arange(12), 30)
    x = rng.normal(size=a.size)
    eta = 0.3 + 0.8 * x + rng.normal(0, 0.7, 30)[a] + rng.normal(0, 0.5, 12)[b]
    return pd.DataFrame({"y": (rng.random(a.size) < 1 / (1 + np.exp(-eta))).astype(float),
                         "x": x, "a": a, "b": b})


CASES = {
    "mixed one level": (smf.mixed, "weight week || id:", lambda: datasets.load("pig")),
    "mixed nested": (smf.mixed, "thk prethk cc tv || school: || class:",
                     lambda: datasets.load("tvsfpors")),
    "mixed crossed": (smf.mixed, "weight week || _all: R.id || _all: R.week",
                      lambda: datasets.load("pig")),
    "meglm one level": (smf.melogit, "nadmitted female || department:, binomial(napplied)",
                        lambda: datasets.load("admissions")),
    "meglm nested": (smf.melogit, "high prethk cc tv || school: || class:", _tvsfpors_binary),
    "meglm crossed": (smf.melogit, "y x || _all: R.a || _all: R.b", _crossed_binary),
    "meglm ordinal": (smf.meoprobit, "thk prethk cc##tv || school: || class:",
                      lambda: datasets.load("tvsfpors")),
}


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request):
    command, text, data = CASES[request.param]
    return command(text, data=data()).fit()


def _assert_same(back, res):
    pd.testing.assert_series_equal(back.params, res.params)
    pd.testing.assert_series_equal(back.bse, res.bse)
    assert back.llf == res.llf
    assert str(back.summary()) == str(res.summary())
    # the loaded model still evaluates: its log likelihood at the estimates is the fitted one
    assert type(back.model) is type(res.model)
    assert back.model.loglike(np.asarray(back.params)) == pytest.approx(res.llf, rel=1e-10)


def test_save_load(fitted, tmp_path):
    path = tmp_path / "results.pickle"
    fitted.save(str(path))
    _assert_same(MEResults.load(str(path)), fitted)


def test_pickle_dumps_loads(fitted):
    _assert_same(pickle.loads(pickle.dumps(fitted)), fitted)
