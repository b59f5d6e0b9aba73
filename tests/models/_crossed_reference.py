"""Reference pieces shared by the crossed-GLMM tests (data, lme4 numbers, a dense Laplace).

Data: tests/models/data/crossed_small.csv (see test_glmm_crossed_engine.py for how it was
made). lme4 numbers: R 4.x, lme4 1.1.31, glmer(... + (1|a) + (1|b), nAGQ=1, bobyqa
rhoend=1e-10).
"""
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

DATA = Path(__file__).parent / "data" / "crossed_small.csv"

LME4 = {
    "bernoulli": {"llf": -248.03256161, "beta": [0.6753025304, -0.2201169981],
                  "var": [0.31541874114, 0.08749167557]},
    "poisson": {"llf": -585.23063441, "beta": [0.4588736985, 0.1651877610],
                "var": [0.22840785335, 0.04250018642]},
}


def dense_laplace(family, yvar, beta, sds):
    """Independent Laplace: dense Z, exact mode by scipy, log|H| by slogdet."""
    df = pd.read_csv(DATA)
    y = df[yvar].to_numpy(float)
    X = np.column_stack([df["x"], np.ones(len(df))])
    Z = np.hstack([np.eye(40)[df["a"]] * sds[0], np.eye(12)[df["b"]] * sds[1]])
    eta0 = X @ beta

    def logf(eta):
        if family == "bernoulli":
            return y * eta - np.logaddexp(0, eta)
        return y * eta - np.exp(eta) - np.array([np.sum(np.log(np.arange(1, k + 1)))
                                                 for k in y.astype(int)])

    def negobj(u):
        return -(logf(eta0 + Z @ u).sum() - 0.5 * u @ u)

    def grad(u):
        eta = eta0 + Z @ u
        mu = 1 / (1 + np.exp(-eta)) if family == "bernoulli" else np.exp(eta)
        return -(Z.T @ (y - mu) - u)
    u = optimize.minimize(negobj, np.zeros(Z.shape[1]), jac=grad, method="BFGS",
                          options={"gtol": 1e-12}).x
    eta = eta0 + Z @ u
    mu = 1 / (1 + np.exp(-eta)) if family == "bernoulli" else np.exp(eta)
    w = mu * (1 - mu) if family == "bernoulli" else mu
    H = Z.T @ (w[:, None] * Z) + np.eye(Z.shape[1])
    return -negobj(u) - 0.5 * np.linalg.slogdet(H)[1]


