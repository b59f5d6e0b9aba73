"""GLMM objectives: the gradient in (beta, ancillary, theta) against central differences of
the value, per-cluster contributions against the totals and against differences of the
per-cluster values, the factor Jacobian against the structures' closed forms, routing."""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.design import build_design
from statsmodels_me.objectives.glmm_choose import (
    design_kind,
    glmm_objective,
    integration,
    level_Z,
)
from statsmodels_me.objectives.glmm_crossed import CrossedGLMMObjective
from statsmodels_me.objectives.glmm_nested import NestedGLMMObjective
from statsmodels_me.objectives.glmm_one_level import OneLevelGLMMObjective
from statsmodels_me.spec import parse
from statsmodels_me.spec.errors import SpecificationError


def _data(seed=3, n_school=12, n_class=3, n_obs=6):
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_school), n_class * n_obs)
    klass = np.repeat(np.arange(n_school * n_class), n_obs)
    n = len(school)
    x = rng.normal(size=n)
    u = rng.normal(0, 0.6, n_school)[school] + rng.normal(0, 0.4, n_school * n_class)[klass]
    eta = 0.3 + 0.5 * x + u
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)).astype(float), "x": x,
                         "school": school, "klass": klass,
                         "b": rng.integers(0, 5, n)})


DATA = _data()


def _objective(text, intmethod="laplace", intpoints=1, kind=None, family="poisson"):
    design = build_design(parse(text, command="mepoisson"), DATA)
    obj, covs = glmm_objective(design, family, "log", design.endog, design.exog, intmethod,
                               intpoints, kind)
    return obj, covs, design


def _point(obj):
    # beta near the simulation values, theta a little off the start
    rng = np.random.default_rng(7)
    theta = obj.cov.theta_start() * 0.6 + 0.05 * rng.random(obj.n_theta)
    return np.concatenate([[0.25, 0.45], np.zeros(obj.k_aux), theta])


CASES = [
    ("y x || school: x, cov(unstructured)", "laplace", 1, OneLevelGLMMObjective),
    ("y x || school: x, cov(unstructured)", "mvaghermite", 7, OneLevelGLMMObjective),
    ("y x || school: || klass:", "laplace", 1, NestedGLMMObjective),
    ("y x || school: || klass:", "mvaghermite", 5, NestedGLMMObjective),
    ("y ~ x + (1 | school) + (1 | b)", "laplace", 1, CrossedGLMMObjective),
]


@pytest.mark.parametrize("text,method,points,cls", CASES)
def test_chooser_builds_the_objective_of_the_design(text, method, points, cls):
    obj, covs, design = _objective(text, method, points)
    assert type(obj) is cls
    assert len(covs) == len(design.levels)
    assert obj.n_params == design.exog.shape[1] + obj.k_aux + sum(c.n_theta for c in covs)
    assert obj.quadrature == (method != "laplace")


@pytest.mark.parametrize("text,method,points,cls", CASES)
def test_gradient_matches_central_differences_of_the_value(text, method, points, cls):
    # Laplace: the exact gradient. Quadrature: the gradient of the quadrature formula with
    # the grids adapted at x held fixed, so it is compared with differences of the value on
    # those frozen grids
    obj, _, _ = _objective(text, method, points)
    x = _point(obj)
    _, g = obj.value_and_grad(x)

    def value(z):
        if method == "laplace":
            return obj.value(z)
        beta, aux, theta = obj.split(z)
        return obj.engine.loglike(beta, aux, obj.factor(theta), freeze_grid=True)
    h = 1e-5
    fd = np.array([(value(x + h * e) - value(x - h * e)) / (2 * h) for e in np.eye(len(x))])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("text,method,points,cls", CASES)
def test_contributions_sum_to_value_and_gradient(text, method, points, cls):
    obj, _, design = _objective(text, method, points)
    x = _point(obj)
    values, scores = obj.contributions(x)
    llf, g = obj.value_and_grad(x)
    groups = 1 if cls is CrossedGLMMObjective else design.levels[0].n_groups
    assert values.shape == (groups,) and scores.shape == (groups, len(x))
    assert values.sum() == pytest.approx(llf, rel=1e-10)
    np.testing.assert_allclose(scores.sum(0), g, rtol=1e-8, atol=1e-9)


def test_one_level_scores_are_derivatives_of_the_cluster_values():
    # per-cluster values from the engine's loglike_clusters (a separate code path), central
    # differences in beta and in the Cholesky entries of L
    obj, _, _ = _objective("y x || school: x, cov(unstructured)")
    x = _point(obj)
    _, scores = obj.contributions(x)
    eng = obj.engine

    def cluster_values(z):
        beta, aux, theta = obj.split(z)
        return eng.loglike_clusters(beta, aux, obj.factor(theta))
    h = 1e-6
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        fd = (cluster_values(x + e) - cluster_values(x - e)) / (2 * h)
        np.testing.assert_allclose(scores[:, i], fd, rtol=1e-5, atol=1e-7)


def test_factor_jacobian_of_unstructured_is_the_selection_of_cholesky_entries():
    # Unstructured theta is the Cholesky factor's lower triangle, column-major: d vec(L) /
    # d theta_k is the unit matrix at (li[k], lj[k])
    obj, _, _ = _objective("y x || school: x, cov(unstructured)")
    theta = np.array([0.7, -0.2, 0.4])
    J = obj.factor_jacobian(theta)
    expected = np.zeros((4, 3))
    for k, (i, j) in enumerate([(0, 0), (1, 0), (1, 1)]):
        expected[2 * i + j, k] = 1.0
    np.testing.assert_allclose(J, expected, atol=1e-8)


def test_cache_returns_the_remembered_point_without_an_engine_pass():
    obj, _, _ = _objective("y x || school: x, cov(unstructured)")
    x = _point(obj)
    obj.remember(x, -1.5, np.arange(len(x), dtype=float))
    assert obj.value(x) == -1.5
    llf, g = obj.value_and_grad(x)
    assert llf == -1.5 and np.array_equal(g, np.arange(len(x)))
    g[0] = 99.0  # the caller's copy
    assert obj.value_and_grad(x)[1][0] == 0.0


def test_fixed_value_is_the_poisson_glm_log_likelihood():
    # L = 0: the Poisson GLM log likelihood sum(y eta - exp(eta) - log y!)
    from scipy.special import gammaln
    obj, _, design = _objective("y x || school:")
    z = np.array([0.2, 0.4])
    eta = design.exog @ z
    y = design.endog
    llf, g = obj.fixed_value_and_grad(z)
    assert llf == pytest.approx(np.sum(y * eta - np.exp(eta) - gammaln(y + 1)), rel=1e-12)
    np.testing.assert_allclose(g, design.exog.T @ (y - np.exp(eta)), rtol=1e-10)


def test_laplace_objectives_for_starts():
    one, _, _ = _objective("y x || school:", "mvaghermite", 7)
    assert one.laplace() is one.laplace() and not one.laplace().quadrature
    lap, _, _ = _objective("y x || school:")
    assert lap.laplace() is lap
    nested, _, _ = _objective("y x || school: || klass:", "mvaghermite", 5)
    assert nested.laplace() is not nested.laplace() and not nested.laplace().quadrature
    crossed, _, _ = _objective("y ~ x + (1 | school) + (1 | b)")
    assert crossed.laplace() is crossed


def test_design_kind_and_integration():
    def kind(text):
        return design_kind(build_design(parse(text, command="mepoisson"), DATA))
    assert kind("y x || school:") == "one level"
    assert kind("y x || school: || klass:") == "nested"
    assert kind("y ~ x + (1 | school) + (1 | b)") == "crossed"
    assert kind("y x || _all: R.b || school:") == "crossed"
    assert integration({}, "crossed", "mepoisson") == ("laplace", 1)
    assert integration({}, "nested", "mepoisson") == ("mvaghermite", 7)
    assert integration({"intmethod": "pclaplace"}, "nested", "mepoisson") == ("laplace", 1)
    with pytest.raises(SpecificationError, match="intmethod\\(ghermite\\)"):
        integration({"intmethod": "ghermite"}, "crossed", "mepoisson")


def test_level_Z_expands_factor_blocks_into_indicators():
    design = build_design(parse("y x || _all: R.b", command="mepoisson"), DATA)
    Z = level_Z(design.levels[0])
    np.testing.assert_array_equal(Z, np.eye(5)[DATA["b"].to_numpy()])


def test_crossed_objective_fits_a_nested_design_too():
    # the crossed (whole-vector) Laplace and the nested (leaves-up) Laplace are the same
    # approximation: equal values at the same point
    nested, _, _ = _objective("y x || school: || klass:")
    crossed, _, _ = _objective("y x || school: || klass:", kind="crossed")
    x = _point(nested)
    assert crossed.value(x) == pytest.approx(nested.value(x), rel=1e-9)


def test_random_effects_shapes():
    one, _, design = _objective("y x || school: x, cov(unstructured)")
    x = _point(one)
    [(means, covs)] = one.random_effects(x)
    G = design.levels[0].n_groups
    assert means.shape == (G, 2) and covs.shape == (G, 2, 2)
    nested, _, design = _objective("y x || school: || klass:")
    parts = nested.random_effects(_point(nested))
    assert [m.shape for m, _ in parts] == [(lev.n_groups, 1) for lev in design.levels]
    crossed, _, design = _objective("y ~ x + (1 | school) + (1 | b)")
    parts = crossed.random_effects(_point(crossed))
    # modes and their covariances under the Laplace posterior, one block per group
    assert [(m.shape, c.shape) for m, c in parts] == [
        ((lev.n_groups, 1), (lev.n_groups, 1, 1)) for lev in design.levels]
