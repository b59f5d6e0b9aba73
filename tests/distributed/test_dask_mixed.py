"""``mixed`` fits on a dask DataFrame equal the in-memory fits of the same data.

The reference numbers are the in-memory fits (``smf.mixed(text, data=pandas_frame)``) of
the same rows, computed in each test: the profiled deviance summed over the partitions is
the whole data's, and the fit runs the in-memory sequence on it.
"""
import pickle
import re

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.spec.errors import SpecificationError  # noqa: E402


def school_data(S=30, C=3, m=4, seed=1):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(S), C * m)
    c = np.repeat(np.arange(S * C), m)
    x = rng.normal(size=S * C * m)
    u = rng.normal(size=(S, 2)) * [0.7, 0.3]
    y = (1 + 0.5 * x + u[s, 0] + u[s, 1] * x + 0.5 * rng.normal(size=S * C)[c]
         + rng.normal(size=len(x)))
    return pd.DataFrame({"y": y, "x": x, "s": s, "c": c})


def assert_same_fit(r_mem, r_dask):
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-8)
    np.testing.assert_allclose(r_dask.params, r_mem.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r_dask.bse, r_mem.bse, rtol=1e-6)
    assert list(r_dask.params.index) == list(r_mem.params.index)
    assert r_dask.nobs == r_mem.nobs


@pytest.mark.parametrize("reml", [False, True])
def test_two_level_random_slope_equal_in_memory(client, by_cluster, reml):
    df = school_data(S=24)
    text = "y x || s: x, cov(unstructured)"
    r_mem = smf.mixed(text, data=df, reml=reml).fit()
    r_dask = smf.mixed(text, data=by_cluster(df, "s", 3), reml=reml).fit()
    assert_same_fit(r_mem, r_dask)
    # the same optimizer steps: EM, then Newton from its start (one term)
    assert r_dask.optimization.iterations == r_mem.optimization.iterations
    # what would read the template sample instead of the data is refused by name
    for call, name in ((lambda: r_dask.predict(data=df), r"predict\(data=\.\.\.\)"),
                       (lambda: r_dask.predict(relevel="s"), r"predict\(relevel=\.\.\.\)"),
                       (lambda: r_dask.margins(), "margins"),
                       (lambda: r_dask.random_effects, "random-effects predictions")):
        with pytest.raises(NotImplementedError, match=name):
            call()
    # results pickle without the data (the template sample's design only)
    back = pickle.loads(pickle.dumps(r_dask))
    np.testing.assert_array_equal(back.params, r_dask.params)
    assert back.model.data_frame is None


@pytest.mark.parametrize("reml", [False, True])
def test_three_level_equal_in_memory(client, by_cluster, reml):
    df = school_data(seed=2)
    text = "y x || s: || c:"
    r_mem = smf.mixed(text, data=df, reml=reml).fit()
    # rows in random order within partitions of whole schools
    ddf = by_cluster(df.sample(frac=1.0, random_state=1), "s", 2)
    r_dask = smf.mixed(text, data=ddf, reml=reml).fit()
    assert_same_fit(r_mem, r_dask)
    # scalar terms: EM, then the log-scale Newton iteration with the exact Hessian
    assert_same_steps(r_mem, r_dask, ["EM", "Newton (log scale, exact Hessian)"])


def assert_same_steps(r_mem, r_dask, stages):
    assert r_mem.optimization.stages == stages
    assert r_dask.optimization.stages == stages
    assert r_dask.optimization.iterations == r_mem.optimization.iterations
    assert r_dask.optimization.evaluations == r_mem.optimization.evaluations


def four_level_data(R=30, S=3, C=3, m=3, seed=5, sd_c=0.4):
    rng = np.random.default_rng(seed)
    r = np.repeat(np.arange(R), S * C * m)
    s = np.repeat(np.arange(R * S), C * m)
    c = np.repeat(np.arange(R * S * C), m)
    x = rng.normal(size=len(r))
    y = (1 + 0.5 * x + 0.6 * rng.normal(size=R)[r] + 0.5 * rng.normal(size=R * S)[s]
         + sd_c * rng.normal(size=R * S * C)[c] + rng.normal(size=len(r)))
    return pd.DataFrame({"y": y, "x": x, "r": r, "s": s, "c": c})


@pytest.mark.parametrize("reml", [False, True])
def test_four_level_newton_from_the_submodel_start_equal_in_memory(client, by_cluster, reml):
    # without EM the log-scale Newton iteration starts from the better of the identity
    # start and the sub-model fits' start (the lowest term alone, the others together),
    # whose fits also run over the partitions
    df = four_level_data()
    text = "y x || r: || s: || c:"
    r_mem = smf.mixed(text, data=df, reml=reml).fit(emiterate=0)
    ddf = by_cluster(df.sample(frac=1.0, random_state=2), "r", 3)
    r_dask = smf.mixed(text, data=ddf, reml=reml).fit(emiterate=0)
    assert_same_fit(r_mem, r_dask)
    assert_same_steps(r_mem, r_dask, ["Newton (log scale, exact Hessian)"])
    np.testing.assert_allclose(r_dask.optimization.x_final, r_mem.optimization.x_final,
                               rtol=1e-9)


def test_zero_variance_falls_back_as_in_memory(client, by_cluster):
    # no class effect in the data: the Newton iteration gives up at the boundary and
    # L-BFGS-B takes over, on the partitions as in memory
    df = four_level_data(R=40, S=1, C=3, m=4, seed=9, sd_c=0.0)
    text = "y x || s: || c:"
    with pytest.warns(UserWarning, match="boundary"):
        r_mem = smf.mixed(text, data=df).fit()
    with pytest.warns(UserWarning, match="boundary"):
        r_dask = smf.mixed(text, data=by_cluster(df, "s", 2)).fit()
    assert r_mem.params["/var(_cons[s>c])"] == 0.0
    assert r_dask.params["/var(_cons[s>c])"] == 0.0
    assert r_dask.llf == pytest.approx(r_mem.llf, rel=1e-8)
    np.testing.assert_allclose(r_dask.params, r_mem.params, rtol=1e-6, atol=1e-8)
    assert_same_steps(r_mem, r_dask, ["EM", "L-BFGS-B"])


@pytest.mark.parametrize("options, name", [
    ({"residuals": "ar 1, t(c)"}, "residuals()"),
    ({"dfmethod": "kroger"}, "dfmethod()"),
])
def test_options_not_implemented_named(client, by_cluster, options, name):
    ddf = by_cluster(school_data(S=10), "s", 2)
    with pytest.raises(NotImplementedError, match=re.escape(f"mixed: {name} on a dask")):
        smf.mixed("y x || s:", data=ddf, **options)


def test_weights_not_implemented(client, by_cluster):
    df = school_data(S=10)
    df["w"] = 1.0
    with pytest.raises(NotImplementedError, match=r"mixed: \[pweight=w\] weights on a dask "
                       "DataFrame are not implemented"):
        smf.mixed("y x [pw=w] || s:", data=by_cluster(df, "s", 2))
    with pytest.raises(NotImplementedError, match=r"mixed: pweight\(w\) weights at level "
                       "'s' on a dask DataFrame"):
        smf.mixed("y x || s:, pweight(w)", data=by_cluster(df, "s", 2))


def test_crossed_refused_naming_the_levels(client, by_cluster):
    ddf = by_cluster(school_data(S=10), "s", 2)
    with pytest.raises(SpecificationError, match=r"grouping levels s, c are crossed"):
        smf.mixed("y ~ x + (1 | s) + (1 | c)", data=ddf)


def test_factor_levels_are_those_of_the_whole_data(client, by_cluster):
    # k = 2 only in school 55 (not among the template's first clusters of its partition),
    # and the second partition (schools 30-59) has no row at the base level k = 0: each
    # partition must still give the columns 1.k and 2.k of the whole data; z is 0 all
    # through the first partition (a column its own design would drop as collinear)
    df = school_data(S=60, C=2, m=3, seed=6)
    df["k"] = np.where(df.s < 30, df.index % 2, 1)
    df.loc[df.s == 55, "k"] = 2
    df["z"] = np.where(df.s < 30, 0.0, np.sin(df.index.to_numpy()))
    df["y"] = df.y + 0.4 * df.k + 0.3 * df.z
    text = "y x z i.k || s:"
    r_mem = smf.mixed(text, data=df).fit()
    assert {"z", "1.k", "2.k"} <= set(r_mem.params.index)
    r_dask = smf.mixed(text, data=by_cluster(df, "s", 2)).fit()
    assert_same_fit(r_mem, r_dask)


def test_stateful_formula_transform_refused(client, by_cluster):
    ddf = by_cluster(school_data(S=10), "s", 2)
    with pytest.raises(NotImplementedError, match=r"mixed: the formula transform center\(\)"):
        smf.mixed("y ~ center(x) + (1 | s)", data=ddf)


def test_group_table_of_the_whole_data(client, by_cluster):
    # 90 schools of 1 to 3 classes of 1 to 4 pupils: more schools than the template sample
    # takes, and groups of every size; the summary counts the whole data's groups
    rng = np.random.default_rng(3)
    df = school_data(S=90, seed=3)
    df = df[rng.random(len(df)) < 0.6]
    text = "y x || s: || c:"
    r_mem = smf.mixed(text, data=df).fit()
    r_dask = smf.mixed(text, data=by_cluster(df, "s", 2)).fit()
    assert_same_fit(r_mem, r_dask)
    groups = r_dask.summary().tables[1]
    assert list(groups["groups"]) == [df.s.nunique(), df.c.nunique()]
    pd.testing.assert_frame_equal(groups, r_mem.summary().tables[1])
    # estat group: the whole data's table too, also after unpickling
    pd.testing.assert_frame_equal(r_dask.estat_group(), r_mem.estat_group())
    back = pickle.loads(pickle.dumps(r_dask))
    pd.testing.assert_frame_equal(back.estat_group(), r_mem.estat_group())


@pytest.mark.parametrize("cov, options", [
    ("independent", {}), ("exchangeable", {}), ("identity", {}),
    ("pattern(P)", {"matrices": {"P": np.array([[1.0, np.nan], [2.0, 1.0]])}}),
])
def test_covariance_structures_equal_in_memory(client, by_cluster, cov, options):
    # a random slope under each structure, two levels: the same steps as in memory
    df = school_data(S=24, seed=4)
    text = f"y x || s: x, cov({cov}) || c:"
    r_mem = smf.mixed(text, data=df, **options).fit()
    r_dask = smf.mixed(text, data=by_cluster(df, "s", 2), **options).fit()
    assert_same_fit(r_mem, r_dask)
    assert r_dask.optimization.iterations == r_mem.optimization.iterations
