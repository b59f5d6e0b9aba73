"""``predict("scores")`` after ``meglm`` (logit, Poisson, ordinal logit) and ``mixed``.

Stata ([ME] mixed postestimation): "The score for a parameter is the first derivative of the
log likelihood [...] with respect to that parameter. One score per highest-level group is
calculated, and it is placed on the last record within that group"; not available after
REML. The references are computed here:

* every column against central differences, in that ``e(b)`` parameter, of the cluster's
  log likelihood written out in the test: for the GLMMs the integral over the random
  intercept by ``scipy.integrate.quad`` of prod_i f(y_i | x_i b + u) N(u; 0, var); for
  ``mixed`` the multivariate normal log density of the cluster's rows with
  V = Z G Z' + var(e) I (``scipy.stats.multivariate_normal``);
* the sum over the clusters, the gradient at the maximum, is zero;
* with V the model-based covariance, G / (G - 1) V (sum_g s_g s_g') V is the covariance of
  the fit with ``vce(robust)`` (same estimates; the sandwich of Stata's [U] 20.22).
"""
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.postestimation.scores import mixed_scores
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def ban():
    return load("bangladesh")


@pytest.fixture(scope="module")
def pig():
    return load("pig")


def _logit_logf(y, eta, aux):
    return y * eta - np.logaddexp(0.0, eta)


def _poisson_logf(y, eta, aux):
    return y * eta - np.exp(eta) - special.gammaln(y + 1)


def _ologit_logf(y, eta, aux):
    # P(y = k) = F(cut_k - eta) - F(cut_{k-1} - eta), outcome codes k = 0..K-1
    cut = np.concatenate([[-np.inf], aux, [np.inf]])
    k = y.astype(int)
    return np.log(special.expit(cut[k + 1] - eta) - special.expit(cut[k] - eta))


def _cluster_loglike(logf, y, xb, aux, var):
    """log of int prod_i f(y_i | xb_i + u) N(u; 0, var) du, by adaptive quadrature around
    the mode of the integrand (found on a grid and polished by a few Newton steps)."""
    def log_integrand(u):
        return logf(y, xb + u, aux).sum() - 0.5 * u * u / var
    grid = np.linspace(-8, 8, 321) * np.sqrt(var)
    mode = grid[np.argmax([log_integrand(u) for u in grid])]
    peak = log_integrand(mode)
    sd = np.sqrt(var)
    val, _ = integrate.quad(lambda u: np.exp(log_integrand(u) - peak), mode - 12 * sd,
                            mode + 12 * sd, epsabs=0, epsrel=1e-13, limit=200, points=[mode])
    return peak + np.log(val) - 0.5 * np.log(2 * np.pi * var)


def _check_glmm_scores(res, data, group, logf, y, X, names_aux, clusters, rtol):
    sc = res.predict("scores")
    names = list(res.params.index)
    assert list(sc.columns) == names
    assert sc.index.equals(res.model.design.row_index)
    groups = data[group].to_numpy()
    # one score per group, on its last record
    filled = sc.notna().all(axis=1).to_numpy()
    last = pd.Series(np.arange(len(groups))).groupby(groups).max().to_numpy()
    assert np.array_equal(np.flatnonzero(filled), np.sort(last))
    p = res.params.to_numpy()
    k = X.shape[1]
    aux_idx = [names.index(n) for n in names_aux]
    var_idx = names.index(f"/var(_cons[{group}])")

    def ll(g, params):
        rows = groups == g
        xb = X[rows] @ params[:k]
        return _cluster_loglike(logf, y[rows], xb, params[aux_idx], params[var_idx])
    for g in clusters:
        row = sc.iloc[int(last[np.searchsorted(np.unique(groups), g)])].to_numpy()
        want = np.empty(len(p))
        for j in range(len(p)):
            h = 1e-5 * max(abs(p[j]), 0.1)
            up, dn = p.copy(), p.copy()
            up[j] += h
            dn[j] -= h
            want[j] = (ll(g, up) - ll(g, dn)) / (2 * h)
        np.testing.assert_allclose(row, want, rtol=rtol, atol=rtol * np.abs(want).max())
    return sc


def _check_sum_and_sandwich(res, robust, sc, tol_sum, tol_meat):
    S = sc.dropna().to_numpy()
    G = S.shape[0]
    V = res.cov_params().to_numpy()
    scale = np.sqrt(np.diag(V))
    # the gradient, in units of the standard errors: zero at the maximum
    assert np.all(np.abs(S.sum(axis=0) * scale) < tol_sum)
    want = robust.cov_params().to_numpy()
    np.testing.assert_allclose(G / (G - 1) * V @ S.T @ S @ V, want, rtol=0,
                               atol=tol_meat * np.abs(want).max())


def test_melogit_scores(ban):
    text = "melogit c_use urban age || district:, intpoints(15)"
    res = smf.melogit(text, data=ban).fit()
    X = np.column_stack([ban["urban"], ban["age"], np.ones(len(ban))])
    sc = _check_glmm_scores(res, ban, "district", _logit_logf, ban["c_use"].to_numpy(float),
                            X, [], [1, 7, 30, 61], 1e-5)
    robust = smf.melogit(text + " vce(robust)", data=ban).fit()
    _check_sum_and_sandwich(res, robust, sc, 1e-3, 1e-10)


def test_mepoisson_scores(ban):
    text = "mepoisson children urban age || district:, intpoints(15)"
    res = smf.mepoisson(text, data=ban).fit()
    X = np.column_stack([ban["urban"], ban["age"], np.ones(len(ban))])
    sc = _check_glmm_scores(res, ban, "district", _poisson_logf,
                            ban["children"].to_numpy(float), X, [], [2, 9, 45], 1e-5)
    robust = smf.mepoisson(text + " vce(robust)", data=ban).fit()
    _check_sum_and_sandwich(res, robust, sc, 1e-3, 1e-10)


def test_meologit_scores(ban):
    text = "meologit children urban age || district:, intpoints(15)"
    res = smf.meologit(text, data=ban).fit()
    X = np.column_stack([ban["urban"], ban["age"]])
    codes = np.searchsorted(np.unique(ban["children"]), ban["children"]).astype(float)
    cuts = [n for n in res.params.index if n.startswith("/cut")]
    sc = _check_glmm_scores(res, ban, "district", _ologit_logf, codes, X, cuts,
                            [3, 20, 55], 1e-5)
    robust = smf.meologit(text + " vce(robust)", data=ban).fit()
    _check_sum_and_sandwich(res, robust, sc, 1e-3, 1e-10)


def test_mixed_scores(pig):
    text = "weight week || id: week, covariance(unstructured)"
    res = smf.mixed(text, data=pig).fit()
    sc = mixed_scores(res)
    names = list(res.params.index)
    assert names == ["week", "_cons", "/var(week[id])", "/var(_cons[id])",
                     "/cov(week[id],_cons[id])", "/var(e.weight)"]
    assert list(sc.columns) == names
    ids = pig["id"].to_numpy()
    last = pd.Series(np.arange(len(ids))).groupby(ids).max().to_numpy()
    assert np.array_equal(np.flatnonzero(sc.notna().all(axis=1).to_numpy()), np.sort(last))
    p = res.params.to_numpy()
    y = pig["weight"].to_numpy(float)
    week = pig["week"].to_numpy(float)

    def ll(g, q):
        rows = ids == g
        Z = np.column_stack([week[rows], np.ones(rows.sum())])
        G = np.array([[q[2], q[4]], [q[4], q[3]]])
        V = Z @ G @ Z.T + q[5] * np.eye(rows.sum())
        return stats.multivariate_normal(Z @ q[:2], V).logpdf(y[rows])
    for g in (1, 17, 48):
        row = sc.iloc[int(last[g - 1])].to_numpy()
        want = np.empty(len(p))
        for j in range(len(p)):
            h = 1e-5 * max(abs(p[j]), 0.1)
            up, dn = p.copy(), p.copy()
            up[j] += h
            dn[j] -= h
            want[j] = (ll(g, up) - ll(g, dn)) / (2 * h)
        np.testing.assert_allclose(row, want, rtol=1e-6, atol=1e-8 * np.abs(want).max())
    robust = smf.mixed(text + " vce(robust)", data=pig).fit()
    # the robust fit's Hessian comes from other second differences than the model-based
    # covariance's (1e-5 apart)
    _check_sum_and_sandwich(res, robust, sc, 1e-6, 1e-4)


def test_mixed_scores_refused_after_reml(pig):
    res = smf.mixed("weight week || id:, reml", data=pig).fit()
    with pytest.raises(SpecificationError, match="REML"):
        res.predict("scores")


def test_nested_glmm_scores_sit_on_the_top_level_groups():
    tv = load("tvsfpors")
    res = smf.meoprobit("meoprobit thk prethk || school: || class:", data=tv).fit()
    sc = res.predict("scores")
    school = tv["school"].to_numpy()
    last = pd.Series(np.arange(len(school))).groupby(school).max().to_numpy()
    assert np.array_equal(np.flatnonzero(sc.notna().all(axis=1).to_numpy()), np.sort(last))
    # the gradient of the objective the fit maximized
    S = sc.dropna().to_numpy()
    assert np.all(np.abs(S.sum(axis=0) * res.bse.to_numpy()) < 1e-3)


def test_scores_not_on_new_data(ban):
    # Stata: out-of-sample prediction is allowed for every statistic but scores
    res = smf.melogit("melogit c_use urban age || district:", data=ban).fit()
    with pytest.raises(SpecificationError, match="scores"):
        res.predict("scores", data=ban.iloc[:10])


def test_crossed_glmm_scores_are_one_row_the_gradient():
    # the crossed likelihood does not split: one row, on the last record, summing to zero
    from _crossed_ref_path import CROSSED
    d = pd.read_csv(CROSSED)
    res = smf.melogit("y ~ x + (1 | a) + (1 | b)", data=d).fit()
    sc = res.predict("scores")
    filled = np.flatnonzero(sc.notna().all(axis=1).to_numpy())
    assert filled.tolist() == [len(d) - 1]
    assert np.all(np.abs(sc.iloc[-1].to_numpy() * res.bse.to_numpy()) < 1e-3)


def test_scores_refused_where_not_defined(pig):
    # exchangeable: more displayed rows than parameters, no derivative in one row alone
    res = smf.mixed("weight week || id: week, covariance(exchangeable)", data=pig).fit()
    with pytest.raises(NotImplementedError, match="exchangeable|structure"):
        res.predict("scores")
    crossed = smf.mixed("weight week || _all: R.id || week:", data=pig).fit()
    with pytest.raises(NotImplementedError, match="nested"):
        crossed.predict("scores")


def test_mixed_scores_in_statas_metric(pig):
    """metric="stata": Stata's mixed e(b) (lns1_1_1: ln sd(week), lns1_1_2: ln sd(_cons),
    atr1_1_1_2: atanh corr, lnsig_e: ln sd(e)); against differences of the cluster's normal
    log density written in that metric."""
    res = smf.mixed("weight week || id: week, covariance(unstructured)", data=pig).fit()
    sc = mixed_scores(res, metric="stata")
    # predict("scores") is Stata's predict, scores: the e(b) metric
    pd.testing.assert_frame_equal(res.predict("scores"), sc)
    assert list(sc.columns) == ["week", "_cons", "lns1_1_1:_cons", "lns1_1_2:_cons",
                                "atr1_1_1_2:_cons", "lnsig_e:_cons"]
    p = res.params.to_numpy()
    phi = np.array([p[0], p[1], 0.5 * np.log(p[2]), 0.5 * np.log(p[3]),
                    np.arctanh(p[4] / np.sqrt(p[2] * p[3])), 0.5 * np.log(p[5])])
    ids = pig["id"].to_numpy()
    y = pig["weight"].to_numpy(float)
    week = pig["week"].to_numpy(float)
    last = pd.Series(np.arange(len(ids))).groupby(ids).max().to_numpy()

    def ll(g, f):
        rows = ids == g
        Z = np.column_stack([week[rows], np.ones(rows.sum())])
        s1, s2, r = np.exp(f[2]), np.exp(f[3]), np.tanh(f[4])
        G = np.array([[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]])
        V = Z @ G @ Z.T + np.exp(2 * f[5]) * np.eye(rows.sum())
        return stats.multivariate_normal(Z @ f[:2], V).logpdf(y[rows])
    for g in (4, 30):
        want = np.empty(6)
        for j in range(6):
            h = 1e-5 * max(abs(phi[j]), 0.1)
            up, dn = phi.copy(), phi.copy()
            up[j] += h
            dn[j] -= h
            want[j] = (ll(g, up) - ll(g, dn)) / (2 * h)
        np.testing.assert_allclose(sc.iloc[int(last[g - 1])].to_numpy(), want, rtol=1e-6,
                                   atol=1e-8 * np.abs(want).max())
