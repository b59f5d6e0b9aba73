"""ResidualLMM's profiled deviance against a dense GLS computation written here.

The reference builds Var(y) / s2 = Z G Z' + C for the whole (small) sample with the AR(1)
correlation rho^|t_j - t_k| inside each group and evaluates the profiled ML and REML
deviances of Pinheiro & Bates (2000, sec. 2.2.5) directly.
"""
import numpy as np
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
