"""``meglm`` and its shortcuts on a dask DataFrame equal the in-memory fits of the same rows
for every integration method, family and link, by the same iterations.

The reference numbers are the in-memory fits (``smf.<cmd>(text, data=pandas_frame)``) and
predictions of the same rows, computed in each test.  What the in-memory model refuses (too
many quadrature nodes) the dask model refuses with the same error; what the dask model does
not implement (weights, constraints) it refuses by name.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from _same_fit import assert_same_glmm_fit  # noqa: E402

import statsmodels_me.formula.api as smf  # noqa: E402
from statsmodels_me.spec.errors import ConvergenceWarning, SpecificationError  # noqa: E402

INTMETHODS = ("laplace", "mvaghermite", "mcaghermite", "ghermite", "pclaplace")


def assert_same_fit(r_mem, r_dask):
    assert_same_glmm_fit(r_mem, r_dask)
    assert (r_dask.model.intmethod, r_dask.model.intpoints) == \
        (r_mem.model.intmethod, r_mem.model.intpoints)


def assert_same_prediction(r_mem, r_dask, **kwargs):
    lazy = r_dask.predict(**kwargs)
    assert isinstance(lazy, (dd.Series, dd.DataFrame))
    want = r_mem.predict(**kwargs)
    got = lazy.compute().loc[want.index]
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=1e-6,
                               atol=1e-9)


def two_level_data(G=50, m=6, seed=5):
    """Two-level data with a random intercept and slope in x, and outcomes of every family."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    n = G * m
    x, o = rng.normal(size=n), rng.normal(scale=0.3, size=n)
    u = rng.normal(size=(G, 2)) * [0.6, 0.3]
    eta = 0.1 + 0.5 * x + u[g, 0] + u[g, 1] * x
    p = 1 / (1 + np.exp(-eta))
    # binary and ordinal outcomes with a larger random intercept (sd 1.2)
    strong = eta + rng.normal(size=G)[g]
    trials = rng.integers(1, 6, size=n)
    return pd.DataFrame({
        "yb": (rng.random(n) < p).astype(float),
        "yb2": (rng.random(n) < 1 / (1 + np.exp(-strong))).astype(float),
        "yc": rng.poisson(np.exp(eta + o)).astype(float),
        "ynb": rng.negative_binomial(2, 2 / (2 + np.exp(eta))).astype(float),
        "yk": rng.binomial(trials, p).astype(float), "tr": trials.astype(float),
        "y4": rng.binomial(4, p).astype(float),
        "yo": np.digitize(strong + rng.logistic(size=n), [-1.0, 0.0, 1.0]).astype(float),
        "yg": rng.gamma(2.0, np.exp(eta) / 2.0),
        "yn": eta + rng.normal(size=n),
        "x": x, "o": o, "w": 1.0 + g % 3, "g": g})


def logit_data(G=60, m=6, seed=3):
    """Two-level binary data with a random intercept and a random slope in x."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    u = rng.normal(size=(G, 2)) * [0.8, 0.4]
    eta = -0.3 + 0.6 * x + u[g, 0] + u[g, 1] * x
    y = (rng.random(G * m) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"yb": y, "x": x, "g": g})


def three_level_data(R=16, S=3, m=4, seed=7):
    rng = np.random.default_rng(seed)
    r, s = np.repeat(np.arange(R), S * m), np.repeat(np.arange(R * S), m)
    x = rng.normal(size=R * S * m)
    eta = -0.2 + 0.7 * x + 0.7 * rng.normal(size=R)[r] + 0.5 * rng.normal(size=R * S)[s]
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "r": r, "s": s})


def shuffled(df, nparts=3):
    """The rows in random order: clusters span partitions and the fit shuffles them."""
    return dd.from_pandas(df.sample(frac=1.0, random_state=0), npartitions=nparts, sort=False)


TWO_LEVEL = ("yb x || g: x, cov(unstructured)", "g", logit_data)
THREE_LEVEL = ("y x || r: || s:", "r", three_level_data)
_FITS = {}


def both_fits(split_by_cluster, design, intmethod, intpoints=None, rows="whole clusters"):
    """The in-memory and the dask ``melogit`` fits of ``design`` (computed once per module
    run: the prediction tests read the same fits); ``split_by_cluster`` is the
    ``by_cluster`` fixture."""
    key = (design[0], intmethod, intpoints, rows)
    if key not in _FITS:
        text, top, make = design
        df = make()
        opts = {"intmethod": intmethod}
        if intpoints is not None:
            opts["intpoints"] = intpoints
        r_mem = smf.melogit(text, data=df, **opts).fit()
        if rows == "whole clusters":
            with warnings.catch_warnings():
                # whole clusters: no shuffle
                warnings.filterwarnings("error", message=".*shuffled", category=UserWarning)
                r_dask = smf.melogit(text, data=split_by_cluster(df, top, 2), **opts).fit()
        else:
            with pytest.warns(UserWarning, match=f"shuffled by '{top}'"):
                r_dask = smf.melogit(text, data=shuffled(df), **opts).fit()
        _FITS[key] = r_mem, r_dask
    return _FITS[key]


@pytest.mark.parametrize("intmethod, intpoints", [(m, None) for m in INTMETHODS] +
                         [("mvaghermite", 3), ("ghermite", 12), ("mcaghermite", 1)])
def test_two_level_random_slope_every_integrator(client, by_cluster, intmethod, intpoints):
    assert_same_fit(*both_fits(by_cluster, TWO_LEVEL, intmethod, intpoints))


@pytest.mark.parametrize("intmethod, intpoints", [(m, None) for m in INTMETHODS] +
                         [("mvaghermite", 4)])
def test_three_level_every_integrator(client, by_cluster, intmethod, intpoints):
    assert_same_fit(*both_fits(by_cluster, THREE_LEVEL, intmethod, intpoints))


@pytest.mark.parametrize("design, intmethod", [(TWO_LEVEL, "mcaghermite"),
                                               (THREE_LEVEL, "ghermite")])
def test_shuffled_rows_every_integrator(client, by_cluster, design, intmethod):
    r_mem, r_dask = both_fits(by_cluster, design, intmethod, rows="shuffled")
    assert_same_fit(r_mem, r_dask)
    # predict runs on the shuffled partitions; rows are matched by their index
    assert_same_prediction(r_mem, r_dask, statistic="reses")


@pytest.mark.parametrize("design, intmethod", [(TWO_LEVEL, m) for m in INTMETHODS[:4]] +
                         [(THREE_LEVEL, m) for m in ("laplace", "mvaghermite", "ghermite")])
def test_predictions_read_the_integrator(client, by_cluster, design, intmethod):
    # empirical Bayes means and their posterior standard deviations are integrals under the
    # fit's integration method; the modes and the marginal mean are the same on every one
    r_mem, r_dask = both_fits(by_cluster, design, intmethod)
    for kwargs in ({"statistic": "reffects"}, {"statistic": "reses"}, {"statistic": "mu"},
                   {"statistic": "reffects", "ebmodes": True},
                   {"statistic": "mu", "conditional": False}):
        assert_same_prediction(r_mem, r_dask, **kwargs)


@pytest.mark.parametrize("command, text, options", [
    ("meprobit", "yb2 x || g: x, cov(unstructured)", {}),
    ("mecloglog", "yb2 x || g: x, cov(unstructured)", {"intmethod": "ghermite"}),
    ("menbreg", "ynb x || g:", {}),
    ("menbreg", "ynb x || g:", {"dispersion": "constant"}),
    ("meologit", "yo x || g: x", {"intmethod": "laplace"}),
    ("meglm", "yg x || g:", {"family": "gamma"}),
    ("meglm", "yn x || g: x, cov(unstructured)", {"family": "gaussian"}),
    ("meglm", "yn x || g:", {"family": "gaussian", "intmethod": "ghermite"}),
    ("meglm", "yk x || g:", {"family": "binomial", "binomial": "tr"}),
    ("meglm", "yk x || g:", {"family": "binomial", "binomial": "tr", "link": "cloglog"}),
    ("meglm", "y4 x || g:", {"family": "binomial", "binomial": 4, "link": "probit"}),
    ("melogit", "yk x || g:", {"binomial": "tr", "intmethod": "mcaghermite"}),
    ("mepoisson", "yc x || g:", {"offset": "o"}),
    ("mepoisson", "yc ~ x + offset(o) + (1 | g)", {"intpoints": 5}),
    ("meglm", "yo x || g:", {"family": "ordinal", "link": "cloglog"}),
    ("meglm", "yc x || g:", {"family": "poisson", "link": "log", "intmethod": "mcaghermite"}),
])
def test_families_and_links_equal_in_memory(client, by_cluster, command, text, options):
    df = two_level_data()
    r_mem = getattr(smf, command)(text, data=df, **options).fit()
    r_dask = getattr(smf, command)(text, data=by_cluster(df, "g", 2), **options).fit()
    assert_same_fit(r_mem, r_dask)
    if "offset" in options or "offset(" in text:
        assert_same_prediction(r_mem, r_dask, statistic="xb")
        assert_same_prediction(r_mem, r_dask, statistic="mu", nooffset=True)


@pytest.mark.parametrize("command, text, options", [
    ("melogit", "yb2 x, noconstant || g:", {}),
    ("mepoisson", "yc x o || g: x o, cov(exchangeable)", {}),
    ("mepoisson", "yc x o || g: x o, cov(identity)", {"intmethod": "mcaghermite"}),
    ("mepoisson", "yc x || g: x, nocons", {}),
    ("mepoisson", "yc x || g: x, cov(fixed(F))",
     {"matrices": {"F": np.array([[0.3, 0.0], [0.0, 0.1]])}}),
    ("mepoisson", "yc x || g: x", {"vce": "robust", "intmethod": "ghermite"}),
    ("melogit", "yb2 x || g:", {"or": True, "ltolerance": 1e-3}),
    ("melogit", "yb2 x || g:", {"tolerance": 1e-3, "nrtolerance": 1e-12}),
])
def test_fit_options_honoured(client, by_cluster, command, text, options):
    # the last fit stops at tolerance(1e-3) short of nrtolerance(1e-12): unconverged in both
    df = two_level_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r_mem = getattr(smf, command)(text, data=df, **options).fit()
        r_dask = getattr(smf, command)(text, data=by_cluster(df, "g", 2), **options).fit()
    assert_same_fit(r_mem, r_dask)
    assert r_dask.converged == r_mem.converged
    assert r_dask.summary().as_text() == r_mem.summary().as_text()


def test_group_table_of_the_whole_data(client, by_cluster):
    # 90 regions of 1 to 3 sites of 1 to 4 rows: more top-level clusters than the template
    # sample takes (20 per partition), and groups of every size
    rng = np.random.default_rng(4)
    df = three_level_data(R=90, S=3, m=4, seed=4)
    df = df[rng.random(len(df)) < 0.7]
    r_mem = smf.melogit(THREE_LEVEL[0], data=df, intmethod="laplace").fit()
    r_dask = smf.melogit(THREE_LEVEL[0], data=by_cluster(df, "r", 2), intmethod="laplace").fit()
    assert_same_fit(r_mem, r_dask)
    groups = r_dask.summary().tables[1]
    assert list(groups["groups"]) == [df.r.nunique(), df.groupby(["r", "s"]).ngroups]


def test_ordinal_category_missing_from_a_partition(client, by_cluster):
    # the second partition has no outcome 3: its objective still has the cutpoint /cut3
    # (its outcome 2 has probability F(cut3 - eta) - F(cut2 - eta))
    df = two_level_data()
    df.loc[(df.g >= 25) & (df.yo == 3), "yo"] = 2.0
    text = "yo x || g:"
    r_mem = smf.meologit(text, data=df).fit()
    r_dask = smf.meologit(text, data=by_cluster(df, "g", 2)).fit()
    assert_same_fit(r_mem, r_dask)
    for outcome in (0, 3):
        assert_same_prediction(r_mem, r_dask, statistic="pr", outcome=outcome)


def test_predict_factor_level_and_outcome_variation_missing_from_partitions(client,
                                                                             by_cluster):
    # i.f has levels 2 and 3 only in the second half of the clusters, and the last
    # partition's outcome is constant: every partition predicts with the whole fit's columns
    df = two_level_data()
    df["f"] = np.where(df.g < 25, df.g % 2, 2 + df.g % 2)
    df.loc[df.g >= 40, "yb"] = 0.0
    text = "yb x i.f || g:"
    r_mem = smf.melogit(text, data=df).fit()
    r_dask = smf.melogit(text, data=by_cluster(df, "g", 5)).fit()
    assert_same_fit(r_mem, r_dask)
    for statistic in ("xb", "mu", "pearson"):
        assert_same_prediction(r_mem, r_dask, statistic=statistic)


def test_iteration_controls_are_honoured(client, by_cluster):
    df = three_level_data()
    text = "y x || r: || s:"
    with pytest.warns(ConvergenceWarning, match=r"iterate\(3\)"):
        r_mem = smf.melogit(text, data=df, intmethod="ghermite", iterate=3).fit()
    with pytest.warns(ConvergenceWarning, match=r"iterate\(3\)"):
        r_dask = smf.melogit(text, data=by_cluster(df, "r", 2), intmethod="ghermite",
                             iterate=3).fit()
    assert not r_dask.converged and not r_mem.converged
    assert_same_fit(r_mem, r_dask)


def test_fit_time_controls_are_honoured(client, by_cluster):
    # the same controls given to fit() instead of the model, and an unknown one refused
    df = three_level_data()
    text = "y x || r: || s:"
    with pytest.warns(ConvergenceWarning, match=r"iterate\(3\)"):
        r_mem = smf.melogit(text, data=df, intmethod="ghermite").fit(iterate=3)
    with pytest.warns(ConvergenceWarning, match=r"iterate\(3\)"):
        r_dask = smf.melogit(text, data=by_cluster(df, "r", 2), intmethod="ghermite").fit(
            iterate=3)
    assert not r_dask.converged and not r_mem.converged
    assert_same_fit(r_mem, r_dask)
    with pytest.raises(TypeError, match="iterations"):
        smf.melogit(text, data=by_cluster(df, "r", 2)).fit(iterations=3)


@pytest.mark.parametrize("text, options, message", [
    ("yb x || g:", {"intpoints": 501}, r"intpoints\(501\): at most 500 points"),
    ("yb x || g: x, cov(unstructured)", {"intpoints": 150},
     r"intpoints\(150\) with 2 random effect\(s\) at level 'g' needs 150\^2"),
    ("yb x || r: x || g: x", {"intpoints": 40},
     r"intpoints\(40\) on nested levels needs 40\^2 \('r'\) x 40\^2 \('r>g'\)"),
])
def test_quadrature_refused_as_in_memory(client, by_cluster, text, options, message):
    df = two_level_data()
    df["r"] = df.g // 5
    with pytest.raises(SpecificationError, match=message):
        smf.melogit(text, data=df, **options)
    with pytest.raises(SpecificationError, match=message):
        smf.melogit(text, data=by_cluster(df, "r", 2), **options)


@pytest.mark.parametrize("command, text, options, message", [
    ("melogit", "yb x [fweight=w] || g:", {}, r"melogit: \[fweight=w\] weights on a dask "
     "DataFrame are not implemented"),
    ("melogit", "yb x || g:, pweight(w)", {}, r"melogit: pweight\(w\) weights at level 'g' "
     "on a dask DataFrame are not implemented"),
    ("melogit", "yb x || g:", {"constraints": ["_b[x] = 0.5"]},
     r"melogit: constraints\(\) on a dask DataFrame is not implemented"),
])
def test_options_not_implemented_on_dask_refused_by_name(client, by_cluster, command, text, options,
                                                         message):
    # each is honoured in memory: the dask model must not ignore it
    df = two_level_data(G=20)
    getattr(smf, command)(text, data=df, **options)
    with pytest.raises(NotImplementedError, match=message):
        getattr(smf, command)(text, data=by_cluster(df, "g", 2), **options).fit()
