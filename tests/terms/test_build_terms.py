"""Random-effects terms built from the design: layout, factors and their derivatives."""
import numpy as np
import pytest
from scipy.linalg import block_diag

import statsmodels_me.formula.api as smf
from statsmodels_me.covariance.blocked import BlockDiagonal
from statsmodels_me.covariance.structures import Identity, Unstructured
from statsmodels_me.datasets import load
from statsmodels_me.terms import (
    absolute_scale_terms,
    build_terms,
    theta_from_moments,
    theta_labels,
)


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def _terms(text, data):
    return build_terms(smf.mixed(text, data=data).design)


def test_layout_of_crossed_and_slope_terms(pig):
    terms, level_covs = _terms("weight week || _all: R.week || id: week, cov(un)", pig)
    t_week, t_id = terms
    assert (t_week.label, t_week.names, t_week.q, t_week.n_groups) == ("_all", ("R.week",), 1,
                                                                      pig["week"].nunique())
    assert list(t_week.theta_index) == [0] and isinstance(t_week.covariance, Identity)
    assert (t_id.label, t_id.names, t_id.q, t_id.n_groups) == ("id", ("week", "_cons"), 2,
                                                              pig["id"].nunique())
    assert list(t_id.theta_index) == [1, 2, 3] and isinstance(t_id.covariance, Unstructured)
    np.testing.assert_array_equal(t_id.Z, np.column_stack([pig["week"], np.ones(len(pig))]))
    # observations of one pig share its group code; of one week, the week's code
    assert all(len(set(t_id.codes[pig["id"].to_numpy() == g])) == 1 for g in (1, 20, 48))
    assert [c.n_theta for c in level_covs] == [1, 3]


def test_equations_at_one_level_form_one_block_diagonal_term(pig):
    terms, _ = _terms("weight week || id: week, nocons || id:", pig)
    assert len(terms) == 1
    term = terms[0]
    assert isinstance(term.covariance, BlockDiagonal)
    assert list(term.theta_index) == [0, 1] and term.names == ("week", "_cons")
    np.testing.assert_array_equal(term.cholesky(np.array([0.4, 2.5])),
                                  block_diag([[0.4]], [[2.5]]))


@pytest.mark.parametrize("text,theta", [
    ("weight week || id: week, cov(un)", [0.9, -0.2, 0.4]),
    ("weight week || id: week, cov(exchangeable)", [1.1, 0.3]),
    ("weight week || _all: R.week || id:", [0.7, 1.3]),
    ("weight week || id: week, nocons || id:", [0.4, 2.5]),
])
def test_d_cholesky_of_terms_matches_differences(pig, text, theta):
    terms, _ = _terms(text, pig)
    theta = np.array(theta)
    # the absolute-scale terms read (theta, s2) with s2 = 3
    for term in terms + absolute_scale_terms(terms, len(theta)):
        x = np.append(theta, 3.0)[term.theta_index]
        d = term.d_cholesky(x)
        assert d.shape == (len(x), term.q, term.q)
        h = 1e-6
        for i in range(len(x)):
            e = np.zeros(len(x))
            e[i] = h
            fd = (term.cholesky(x + e) - term.cholesky(x - e)) / (2 * h)
            np.testing.assert_allclose(d[i], fd, rtol=1e-7, atol=1e-9)


def test_absolute_scale_terms_divide_by_the_residual_sd(pig):
    terms, _ = _terms("weight week || id: week, cov(un)", pig)
    theta = np.array([0.9, -0.2, 0.4])
    (absolute,) = absolute_scale_terms(terms, 3)
    assert list(absolute.theta_index) == [0, 1, 2, 3]
    np.testing.assert_allclose(absolute.cholesky(np.append(theta, 4.0)),
                               terms[0].cholesky(theta) / 2.0, rtol=1e-15)


def test_moments_project_back_onto_the_structure(pig):
    """An EM moment equal to Lambda Lambda' gives back theta (Unstructured: its Cholesky
    factor; the start adds a 1e-8 ridge)."""
    terms, _ = _terms("weight week || id: week, cov(un)", pig)
    theta = np.array([0.9, -0.2, 0.4])
    lam = terms[0].cholesky(theta)
    np.testing.assert_allclose(theta_from_moments(terms, [lam @ lam.T], 3), theta, rtol=1e-7)



def test_labels_name_a_zero_variance_or_a_singular_matrix(pig):
    terms, _ = _terms("weight week || id: week, cov(un)", pig)
    singular = "id: singular covariance matrix of (week _cons)"
    # var(week) = 0 at L00 = 0 (and its column); var(_cons) = 0.16 > 0
    assert theta_labels(terms, np.array([0.0, 0.0, 0.4]), 3) == ["id: var(week)", singular,
                                                                 singular]
    assert theta_labels(terms, np.array([0.9, -0.2, 0.0]), 3) == [singular] * 3
