"""Per-cluster log likelihood and scores of one-level LMMs.

References: each group's value is the multivariate normal log density of y_g with mean
X_g beta and covariance s2 (I + Z_g Lambda Lambda' Z_g') (scipy, from the n_g x n_g matrix);
the scores must sum to central differences (another step) of the total of those dense
densities, and the values to the objective's own total from its blocked factor.
"""
import warnings

import numpy as np
import pytest
from scipy import stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.spec.errors import BoundaryWarning


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def _point(model):
    with warnings.catch_warnings():
        # (a variance at zero in the ten-school sample: the point below moves off it)
        warnings.simplefilter("ignore", BoundaryWarning)
        res = model.fit()
    k = model.k_fe
    # away from the estimate, so that no score vanishes
    return (1.05 * np.asarray(res.params)[:k], 0.9 * res.theta + 0.05,
            1.1 * float(res.params.iloc[-1]))


@pytest.mark.parametrize("text", ["weight week || id: week, cov(un)", "weight week || id:",
                                  "weight week || id: week, cov(exchangeable)"])
def test_values_are_group_densities_and_sum_to_the_total(pig, text):
    model = smf.mixed(text, data=pig)
    beta, theta, s2 = _point(model)
    obj = model.objective
    values, scores = obj.contributions(theta, beta, s2)
    term = model.terms[0]
    assert values.shape == (term.n_groups,)
    assert scores.shape == (term.n_groups, len(beta) + len(theta) + 1)
    lam = term.cholesky(theta[term.theta_index])
    y, X = model.design.endog, model.design.exog
    for g in (0, 7, term.n_groups - 1):
        rows = term.codes == g
        Zg = term.Z[rows]
        V = s2 * (np.eye(rows.sum()) + Zg @ lam @ lam.T @ Zg.T)
        ref = stats.multivariate_normal(X[rows] @ beta, V).logpdf(y[rows])
        assert values[g] == pytest.approx(ref, rel=1e-12)
    total = obj.loglike_profile_s2(theta, s2, beta=beta)
    assert values.sum() == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("text", ["weight week || id: week, cov(un)", "weight week || id:"])
def test_scores_sum_to_the_gradient(pig, text):
    model = smf.mixed(text, data=pig)
    beta, theta, s2 = _point(model)
    obj = model.objective
    _, scores = obj.contributions(theta, beta, s2)
    k, t = len(beta), len(theta)
    x0 = np.concatenate([beta, theta, [s2]])

    term = model.terms[0]
    y, X = model.design.endog, model.design.exog
    groups = [term.codes == g for g in range(term.n_groups)]

    def total(x):
        lam = term.cholesky(x[k:k + t][term.theta_index])
        out = 0.0
        for rows in groups:
            Zg = term.Z[rows]
            V = x[-1] * (np.eye(rows.sum()) + Zg @ lam @ lam.T @ Zg.T)
            e = y[rows] - X[rows] @ x[:k]
            out -= 0.5 * (rows.sum() * np.log(2 * np.pi) + np.linalg.slogdet(V)[1]
                          + e @ np.linalg.solve(V, e))
        return out
    grad = np.empty(len(x0))
    for i in range(len(x0)):
        h = 1e-4 * max(abs(x0[i]), 1e-2)
        e = np.zeros(len(x0))
        e[i] = h
        grad[i] = (total(x0 + e) - total(x0 - e)) / (2 * h)
    np.testing.assert_allclose(scores.sum(axis=0), grad, rtol=1e-6,
                               atol=1e-7 * np.abs(grad).max())
    assert np.all(np.abs(grad) > 1e-6)


def test_reml_and_crossed_designs_are_refused(pig):
    model = smf.mixed("weight week || id:", data=pig, reml=True)
    with pytest.raises(NotImplementedError, match="REML"):
        model.objective.contributions(np.array([1.0]), np.zeros(2), 1.0)
    nested = smf.mixed("weight week || id: || _all: R.week", data=pig, reml=True)
    with pytest.raises(NotImplementedError, match="REML"):
        nested.objective.contributions(np.ones(2), np.zeros(2), 1.0)
    crossed = smf.mixed("weight week || _all: R.id || _all: R.week", data=pig)
    with pytest.raises(NotImplementedError,
                       match=r"groups of '_all: R.id' lie in several groups of '_all: R.week'"):
        crossed.objective.contributions(np.ones(2), np.zeros(2), 1.0)


@pytest.mark.parametrize("text", ["thk prethk || school: || class:",
                                  "thk prethk || school: prethk || class:"])
def test_nested_values_are_school_densities(text):
    """Top-level clusters (schools) of a nested model: each value is the density of the
    school's rows under V = s2 (I + sum_k Z_k Lambda_k Lambda_k' Z_k'), built densely from
    every term's indicator columns; values sum to the total, scores to its differences."""
    data = load("tvsfpors")
    # ten schools keep the dense reference small
    data = data[data["school"].isin(np.unique(data["school"])[:10])].reset_index(drop=True)
    model = smf.mixed(text, data=data)
    beta, theta, s2 = _point(model)
    obj = model.objective
    values, scores = obj.contributions(theta, beta, s2)
    school = data["school"].to_numpy()
    assert values.shape == (len(np.unique(school)),)
    y, X = model.design.endog, model.design.exog
    Zs = [t.sparse_Z().toarray() for t in model.terms]

    def dense_total(b, s, th=theta):
        ZL = np.hstack([Z @ np.kron(np.eye(t.n_groups), t.cholesky(th[t.theta_index]))
                        for Z, t in zip(Zs, model.terms)])
        out = []
        for g in np.unique(school):
            rows = school == g
            V = s * (np.eye(rows.sum()) + ZL[rows] @ ZL[rows].T)
            out.append(stats.multivariate_normal(X[rows] @ b, V).logpdf(y[rows]))
        return np.array(out)
    ref = dense_total(beta, s2)
    np.testing.assert_allclose(values, ref, rtol=1e-11)
    assert values.sum() == pytest.approx(obj.loglike_profile_s2(theta, s2, beta=beta),
                                         rel=1e-11)
    # scores against differences of the dense total in (beta, theta, s2)
    k, t = len(beta), len(theta)
    x0 = np.concatenate([beta, theta, [s2]])
    for i in range(len(x0)):
        h = 1e-4 * max(abs(x0[i]), 1e-2)
        e = np.zeros(len(x0))
        e[i] = h
        xp, xm = x0 + e, x0 - e
        fd = (dense_total(xp[:k], xp[-1], xp[k:k + t]).sum()
              - dense_total(xm[:k], xm[-1], xm[k:k + t]).sum()) / (2 * h)
        assert scores[:, i].sum() == pytest.approx(fd, rel=1e-6, abs=1e-6)
