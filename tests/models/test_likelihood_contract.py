"""statsmodels' likelihood contract on the models: ``score``, ``hessian`` and ``information``
at display-scale parameters, against log likelihoods written independently in this file."""
import numpy as np
import pytest
from _aghq_reference import aghq_loglike

from statsmodels_me import datasets
from statsmodels_me.formula import api as smf


def _central_gradient(f, x, rel=1e-5):
    g = np.empty(len(x))
    for i in range(len(x)):
        h = rel * max(abs(x[i]), 1.0)
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _pig_loglike(pig):
    """ML log likelihood of weight = b0 + b1 week + u_id + e, written with dense 9 x 9
    covariance blocks per pig (V = s_u^2 J + s_e^2 I)."""
    groups = [g for _, g in pig.groupby("id")]

    def loglike(p):
        b1, b0, su2, se2 = p
        total = 0.0
        for g in groups:
            r = g["weight"].to_numpy() - b0 - b1 * g["week"].to_numpy()
            n = len(r)
            V = su2 * np.ones((n, n)) + se2 * np.eye(n)
            _, logdet = np.linalg.slogdet(V)
            total += -0.5 * (n * np.log(2 * np.pi) + logdet + r @ np.linalg.solve(V, r))
        return total
    return loglike


@pytest.fixture(scope="module")
def pig_fit():
    pig = datasets.load("pig")
    return pig, smf.mixed("mixed weight week || id:", data=pig).fit()


def test_mixed_score_and_hessian_match_a_dense_likelihood(pig_fit):
    pig, res = pig_fit
    ref = _pig_loglike(pig)
    p = np.asarray(res.params, float) * np.array([1.02, 0.97, 1.2, 0.9])  # off the optimum
    model = res.model
    assert model.loglike(p) == pytest.approx(ref(p), rel=1e-10)
    g_ref = _central_gradient(ref, p)
    np.testing.assert_allclose(model.score(p), g_ref, rtol=1e-5, atol=1e-6)
    H_ref = np.array([_central_gradient(lambda q, i=i: _central_gradient(ref, q)[i], p,
                                        rel=1e-4) for i in range(4)])
    # the nested differences of the reference carry ~1e-5 of rounding noise (H_ref is not
    # symmetric to better than that)
    np.testing.assert_allclose(model.hessian(p), H_ref, rtol=1e-4, atol=3e-5)
    se = np.sqrt(np.diag(np.linalg.inv(-model.hessian(p))))
    np.testing.assert_allclose(se, np.sqrt(np.diag(np.linalg.inv(-H_ref))), rtol=1e-4)
    np.testing.assert_array_equal(model.information(p), -model.hessian(p))


def test_mixed_information_gives_the_reported_standard_errors(pig_fit):
    _, res = pig_fit
    se = np.sqrt(np.diag(np.linalg.inv(res.model.information(np.asarray(res.params)))))
    np.testing.assert_allclose(se, np.asarray(res.bse), rtol=1e-3)


def test_melogit_score_matches_an_independent_quadrature():
    """melogit with 30 adaptive points against the 30-point AGHQ of _aghq_reference
    (parametrized in log var_u there, var_u here)."""
    bd = datasets.load("bangladesh")
    res = smf.melogit("melogit c_use urban age || district:, intpoints(30)", data=bd).fit()
    X = np.column_stack([bd["urban"], bd["age"], np.ones(len(bd))]).astype(float)
    groups = np.unique(bd["district"], return_inverse=True)[1]
    y = bd["c_use"].to_numpy(float)

    def row_ll(eta, aux):
        return y * eta - np.logaddexp(0.0, eta)

    def ref(p):
        return aghq_loglike(row_ll, X, groups, np.append(p[:3], np.log(p[3])), 0)

    p = np.asarray(res.params, float) * np.array([1.1, 0.9, 1.05, 1.3])
    assert res.model.loglike(p) == pytest.approx(ref(p), rel=1e-8)
    np.testing.assert_allclose(res.model.score(p), _central_gradient(ref, p), rtol=1e-4,
                               atol=1e-4)
    H_ref = np.array([_central_gradient(lambda q, i=i: _central_gradient(ref, q)[i], p,
                                        rel=1e-4) for i in range(4)])
    np.testing.assert_allclose(res.model.hessian(p), H_ref, rtol=1e-3, atol=1e-3)
