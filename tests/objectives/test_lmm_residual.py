"""ResidualLMM's profiled deviance against a dense GLS computation written here, and its
analytic gradient against central differences.

The reference builds Var(y) / s2 = Z G Z' + C for the whole (small) sample with the AR(1)
correlation rho^|t_j - t_k| inside each group and evaluates the profiled ML and REML
deviances of Pinheiro & Bates (2000, sec. 2.2.5) directly.
"""
import numpy as np
import pandas as pd
import pytest

from statsmodels_me.covariance.residual import (
    ResidualSpec,
    ResidualStructure,
    parse_residuals,
)
from statsmodels_me.objectives.lmm_residual import ResidualLMM
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.terms.random_effects import RETerm


def _data():
    rng = np.random.default_rng(3)
    sizes = [3, 4, 4, 5, 2, 4]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    t = np.concatenate([rng.permutation(np.arange(1, s + 1)) for s in sizes]).astype(float)
    n = len(codes)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(size=len(sizes))[codes] + rng.normal(size=n)
    return y, X, codes, t


def _dense_deviance(y, X, codes, t, lam, rho, reml):
    n, p = X.shape
    same = codes[:, None] == codes[None, :]
    V = same * lam ** 2 + same * rho ** np.abs(t[:, None] - t[None, :])
    Vi = np.linalg.inv(V)
    XtVX = X.T @ Vi @ X
    beta = np.linalg.solve(XtVX, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    m = n - p if reml else n
    dev = np.linalg.slogdet(V)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
    return dev + (np.linalg.slogdet(XtVX)[1] if reml else 0.0)


@pytest.mark.parametrize("reml", [False, True])
def test_ar1_deviance_matches_dense(reml):
    y, X, codes, t = _data()
    term = RETerm(codes=codes, n_groups=int(codes.max()) + 1, Z=np.ones((len(y), 1)),
                  cholesky=lambda th: np.array([[th[0]]]), theta_index=np.array([0]),
                  names=("_cons",), label="id")
    st = ResidualStructure(ResidualSpec("ar", 1, "t"), t)
    obj = ResidualLMM(y, X, [term], st, codes, codes, reml=reml)
    for lam, z in [(0.7, 0.3), (1.3, -0.8), (0.0, 1.1)]:
        want = _dense_deviance(y, X, codes, t, lam, np.tanh(z), reml)
        assert obj.deviance(np.array([lam, z])) == pytest.approx(want, rel=1e-12)


def test_parse_errors():
    with pytest.raises(SpecificationError, match="unknown residual structure"):
        parse_residuals("nonsense")
    with pytest.raises(SpecificationError, match="at least 1"):
        parse_residuals("ma 0, t(time)")
    spec = parse_residuals("toeplitz 2, t(time) by(sex)")
    assert (spec.kind, spec.order, spec.tvar, spec.byvar) == ("toeplitz", 2, "time", "sex")


def _gradient_panel():
    rng = np.random.default_rng(0)
    G, T = 12, 5
    n = G * T
    d = pd.DataFrame({"id": np.repeat(np.arange(G), T),
                      "time": np.tile(np.arange(1, T + 1), G),
                      "x": rng.normal(size=n), "sex": np.repeat(np.arange(G) % 2, T)})
    d["sub"] = (np.tile(np.arange(T), G) >= 3).astype(int)
    d["y"] = 1 + d.x + np.repeat(rng.normal(size=G), T) + rng.normal(size=n)
    d["tc"] = d.time + 0.3 * (d.index % 3)
    return d


GRADIENT_CASES = [("y x || id:", o) for o in [
    "ar 1, t(time)", "ar 2, t(time)", "ma 2, t(time)", "toeplitz 2, t(time)",
    "banded 2, t(time)", "unstructured, t(time)", "exponential, t(tc)", "exchangeable",
    "independent, by(sex)", "toeplitz 3, t(time) by(sex)"]] + [
    ("y x || id: x, cov(un)", "ar 1, t(time)"), ("y x || id: || sub:", "ar 1, t(time)"),
    ("y x || id: || sub:", "exchangeable")]


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("formula, option", GRADIENT_CASES)
def test_gradient_matches_differences(formula, option, reml):
    # the analytic gradients of the profiled deviance and of the log likelihood in
    # (x, log s2) against central differences of the values (step 1e-5: truncation error
    # ~1e-10, rounding ~1e-10 on a deviance of ~1e2)
    from statsmodels_me.models.mixed import Mixed
    d = _gradient_panel()
    text = formula + ("" if "," in formula else ",") + f" residuals({option})"
    model = Mixed.from_text(text + (" reml" if reml else ""), d)
    obj = model.objective
    rng = np.random.default_rng(1)
    x = np.concatenate([model.theta_start(),
                        0.1 * rng.normal(size=obj.n_theta - obj.n_re)]) + 0.05

    def central(fun, v):
        out = np.zeros_like(v)
        for i in range(len(v)):
            e = np.zeros_like(v)
            e[i] = 1e-5 * max(1.0, abs(v[i]))
            out[i] = (fun(v + e) - fun(v - e)) / (2 * e[i])
        return out
    _, grad = obj.deviance_and_grad(x)
    np.testing.assert_allclose(grad, central(obj.deviance, x), rtol=1e-6, atol=1e-6)
    w = np.append(x, np.log(0.7))
    np.testing.assert_allclose(obj.loglike_grad(x, 0.7),
                               central(lambda v: obj.loglike(v[:-1], np.exp(v[-1])), w),
                               rtol=1e-6, atol=1e-6)
