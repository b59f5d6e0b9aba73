"""The small-sample pieces on their own: the numerical derivatives of log|V| and X'V^-1X
against the closed forms with explicit G_i = dV/d sigma_i on a small dense problem, the
Kenward-Roger adjustment against Kenward & Roger (1997, eqs. 2-5) written out here with
dense matrices, and the design-based df against hand counts."""
import numpy as np
import pytest

from statsmodels_me.inference.small_sample import (
    KenwardRoger,
    parse_dfmethod,
    repeated_df,
    residual_df,
    satterthwaite_df,
    variance_derivatives,
)
from statsmodels_me.spec.errors import SpecificationError


@pytest.fixture(scope="module")
def problem():
    """y = X b + Z1 u1 + Z2 u2 + e with two crossed random intercepts (n = 30):
    V = s_a Z1 Z1' + s_b Z2 Z2' + s_e I, linear in sigma = (s_a, s_b, s_e)."""
    rng = np.random.default_rng(11)
    n = 30
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    a = rng.integers(0, 5, n)
    b = rng.integers(0, 4, n)
    Z1 = np.eye(5)[a]
    Z2 = np.eye(4)[b]
    G = [Z1 @ Z1.T, Z2 @ Z2.T, np.eye(n)]
    sigma = np.array([1.3, 0.6, 0.9])
    return X, G, sigma


def _V(G, sigma):
    return sum(s * g for s, g in zip(sigma, G))


def test_variance_derivatives_match_closed_forms(problem):
    X, G, sigma = problem

    def gls_at(s):
        V = _V(G, s)
        return np.linalg.slogdet(V)[1], X.T @ np.linalg.solve(V, X)

    M, P, S, K = variance_derivatives(gls_at, sigma, [0, 1, 2])
    Vi = np.linalg.inv(_V(G, sigma))
    np.testing.assert_allclose(M, X.T @ Vi @ X, rtol=1e-12)
    for i in range(3):
        np.testing.assert_allclose(P[i], -X.T @ Vi @ G[i] @ Vi @ X, rtol=1e-8, atol=1e-10)
        for j in range(3):
            Q = X.T @ Vi @ G[i] @ Vi @ G[j] @ Vi @ X
            np.testing.assert_allclose(S[i, j], Q + Q.T, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(K[i, j], np.trace(Vi @ G[i] @ Vi @ G[j]), rtol=1e-6)


def _kr_dense(X, G, sigma):
    """Kenward & Roger (1997) with dense matrices: W from the expected information of
    REML, 2 I_E^-1 with I_E,ij = tr(Pr G_i Pr G_j) / 2 (Pr the REML projection), and
    Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j)] Phi."""
    V = _V(G, sigma)
    Vi = np.linalg.inv(V)
    Phi = np.linalg.inv(X.T @ Vi @ X)
    Pr = Vi - Vi @ X @ Phi @ X.T @ Vi
    r = len(G)
    IE = np.array([[0.5 * np.trace(Pr @ G[i] @ Pr @ G[j]) for j in range(r)]
                   for i in range(r)])
    W = 2 * np.linalg.inv(2 * IE)  # pbkrtest's IE2 is twice I_E
    P = [-X.T @ Vi @ G[i] @ Vi @ X for i in range(r)]
    U = sum(W[i, j] * (X.T @ Vi @ G[i] @ Vi @ G[j] @ Vi @ X - P[i] @ Phi @ P[j])
            for i in range(r) for j in range(r))
    return Phi, Phi + 2 * Phi @ U @ Phi, P, W


def test_kenward_roger_adjustment_matches_dense(problem):
    X, G, sigma = problem

    def gls_at(s):
        V = _V(G, s)
        return np.linalg.slogdet(V)[1], X.T @ np.linalg.solve(V, X)

    kr = KenwardRoger.from_derivatives(*variance_derivatives(gls_at, sigma, [0, 1, 2]))
    Phi, Phi_A, P, W = _kr_dense(X, G, sigma)
    np.testing.assert_allclose(kr.Phi, Phi, rtol=1e-10)
    np.testing.assert_allclose(kr.Phi_A, Phi_A, rtol=1e-6)
    np.testing.assert_allclose(kr.W, W, rtol=1e-6)
    # the df of a single coefficient (q = 1): A1 = A2 and, Kenward & Roger (1997) eq. 8-12,
    # ddf = 4 + 3 / (rho - 1) with rho = V0 / V2 ((1 - A2) / V1)^2
    L = np.array([[0.0, 1.0, 0.0]])
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    A = sum(W[i, j] * np.trace(Theta @ Phi @ P[i] @ Phi) * np.trace(Theta @ Phi @ P[j] @ Phi)
            for i in range(3) for j in range(3))
    B = 3.5 * A
    g = (2 * A - 5 * A) / (3 * A)
    c1, c2, c3 = g / (3 + 2 * (1 - g)), (1 - g) / (3 + 2 * (1 - g)), \
        (3 - g) / (3 + 2 * (1 - g))
    rho = (1 + c1 * B) / (1 - c3 * B) * ((1 - A) / (1 - c2 * B)) ** 2
    np.testing.assert_allclose(kr.ftest(L, np.zeros(3))["ddf"], 4 + 3 / (rho - 1),
                               rtol=1e-6)


def test_satterthwaite_df_formula():
    # one variance parameter: Phi = s C, so c'Phi c = s c'Cc and its gradient c'Cc; with
    # A = 2 s^2 / nu (a scaled chi2 with nu df) the df is nu exactly
    C = np.array([[2.0, 0.3], [0.3, 1.0]])
    s, nu = 1.7, 13.0
    df = satterthwaite_df(np.array([[1.0, -2.0]]), s * C, C[None], np.array([[2 * s**2 / nu]]))
    np.testing.assert_allclose(df, [nu])


def test_design_df():
    # 3 clusters of 4; x varies within clusters, w is constant within them
    codes = np.repeat(np.arange(3), 4)
    x = np.tile(np.arange(4.0), 3)
    w = np.array([1.0, 2.0, 5.0])[codes]
    X = np.column_stack([x, w, np.ones(12)])
    assert residual_df(X) == 9
    # between: 3 clusters - rank(w, 1) = 1; within: 12 - 3 - 1 = 8
    np.testing.assert_array_equal(repeated_df(X, codes, 3), [8, 1, 1])


@pytest.mark.parametrize("text,parsed", [
    ("kr", ("kroger", None)), ("kroger", ("kroger", None)), ("sat", ("satterthwaite", "eim")),
    ("satterthwaite, oim", ("satterthwaite", "oim")), ("sat, eim", ("satterthwaite", "eim")),
    ("res", ("residual", None)), ("rep", ("repeated", None)), ("anova", ("anova", None)),
    ("RESIDUAL", ("residual", None)),
])
def test_parse(text, parsed):
    assert parse_dfmethod(text) == parsed


@pytest.mark.parametrize("text", ["nonsense", "kr, oim", "anova, eim", "re"])
def test_parse_refuses(text):
    with pytest.raises(SpecificationError, match="dfmethod"):
        parse_dfmethod(text)
