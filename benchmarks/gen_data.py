"""Simulate the benchmark workloads W2, W3, W5, W6, W7, W8, W9, W10, W12 and W13.

The designs follow the shared benchmark data's ``WORKLOADS.md``; the draws are our
own (different seeds and draw order), so the CSVs are statistically but not
byte-for-byte equal to the shared ones.  ``scale`` multiplies the number of
top-level groups and keeps the cluster size, which is what
``benchmarks/scaling.py`` varies.

W1 (lme4's InstEval) and W4 (lme4's VerbAgg) are real data sets shipped with
R's lme4; they cannot be simulated.  ``benchmarks/export_lme4_data.R``
writes them when R and lme4 are installed.

Usage::

    python benchmarks/gen_data.py OUTDIR [--scale 1.0] [--workloads W2,W3]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd

FILES = {
    "W1": "insteval.csv",
    "W2": "lmm_nested_big.csv",
    "W3": "glmm_logit_big.csv",
    "W4": "verbagg.csv",
    "W5": "poisson_3lvl.csv",
    "W6": "ordinal_big.csv",
    "W7": "nlme_growth.csv",
    "W8": "lmm_ar1_panel.csv",
    "W9": "weibull_frailty.csv",
    "W10": "tobit_big.csv",
    "W12": "lmm_pweights.csv",
    "W13": "lmm_ar1_long.csv",
}
SIMULATED = ("W2", "W3", "W5", "W6", "W7", "W8", "W9", "W10", "W12", "W13")


def _n_groups(base, scale):
    return max(2, int(round(base * scale)))


def _expit(eta):
    return 1.0 / (1.0 + np.exp(-eta))


def lmm_nested(scale=1.0, seed=1):
    """W2: 10,000 groups x 20, ``y = 1 + .5 x + u0 + u1 x + e``.

    Random intercept sd 1, slope sd 0.5, correlation 0.3; residual sd 1.
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(10_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x = rng.normal(size=n_g * m)
    sd = np.array([1.0, 0.5])
    corr = np.array([[1.0, 0.3], [0.3, 1.0]])
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    u = rng.normal(size=(n_g, 2)) @ chol.T
    y = 1.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(size=n_g * m)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def glmm_logit(scale=1.0, seed=2):
    """W3: 5,000 groups x 20, logit ``-.5 + .8 x + .5 z + u0 + u1 x``.

    Independent random intercept (sd 1) and slope (sd 0.5) are simulated;
    the fitted model estimates their correlation.
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(5_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x, z = rng.normal(size=(2, n_g * m))
    u0, u1 = rng.normal(0.0, 1.0, n_g), rng.normal(0.0, 0.5, n_g)
    eta = -0.5 + 0.8 * x + 0.5 * z + u0[g] + u1[g] * x
    y = (rng.uniform(size=n_g * m) < _expit(eta)).astype(np.int64)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": g})


def poisson_3lvl(scale=1.0, seed=5):
    """W5: 200 regions x 25 sites x 20, Poisson ``.3 + .4 x + v + u``.

    Region sd 0.5, site sd 0.7; site ids are unique across regions.
    """
    rng = np.random.default_rng(seed)
    n_r, n_s, m = _n_groups(200, scale), 25, 20
    site = np.repeat(np.arange(n_r * n_s), m)
    region = site // n_s
    x = rng.normal(size=site.size)
    v, u = rng.normal(0.0, 0.5, n_r), rng.normal(0.0, 0.7, n_r * n_s)
    y = rng.poisson(np.exp(0.3 + 0.4 * x + v[region] + u[site]))
    return pd.DataFrame({"y": y, "x": x, "region": region, "site": site})


def ordinal(scale=1.0, seed=6):
    """W6: 2,000 groups x 20, 4 ordered categories (1..4).

    ``P(y <= k) = expit(cut_k - .7 x - u)``, cuts (-1, .2, 1.5), u sd 0.8.
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(2_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x = rng.normal(size=n_g * m)
    u = rng.normal(0.0, 0.8, n_g)
    cuts = np.array([-1.0, 0.2, 1.5])
    # Latent-variable form: y* = eta + logistic noise, y = 1 + #cuts below y*.
    latent = 0.7 * x + u[g] + rng.logistic(size=n_g * m)
    y = 1 + np.searchsorted(cuts, latent)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def nl_growth(scale=1.0, seed=7):
    """W7: 500 subjects x 10 times, ``(20 + u)/(1 + exp(-(t - 5)/1.5)) + e``.

    u sd 2, e sd 0.5, t = 1..10.
    """
    rng = np.random.default_rng(seed)
    n_s, m = _n_groups(500, scale), 10
    subj = np.repeat(np.arange(n_s), m)
    t = np.tile(np.arange(1.0, m + 1.0), n_s)
    u = rng.normal(0.0, 2.0, n_s)
    mu = (20.0 + u[subj]) / (1.0 + np.exp(-(t - 5.0) / 1.5))
    y = mu + rng.normal(0.0, 0.5, n_s * m)
    return pd.DataFrame({"y": y, "t": t, "subj": subj})


def ar1_panel(scale=1.0, seed=12):
    """W8: 10,000 ids x 10 times, ``y = 1 + .5 x + u + e`` with AR(1) errors.

    u sd 1; e_t = .6 e_{t-1} + sqrt(1 - .36) z_t, var(e) 1, stationary from t = 1.
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(10_000, scale), 10
    rho = 0.6
    e = np.empty((n_g, m))
    e[:, 0] = rng.normal(size=n_g)
    for t in range(1, m):
        e[:, t] = rho * e[:, t - 1] + np.sqrt(1.0 - rho ** 2) * rng.normal(size=n_g)
    x = rng.normal(size=n_g * m)
    u = np.repeat(rng.normal(size=n_g), m)
    return pd.DataFrame({"id": np.repeat(np.arange(1, n_g + 1), m),
                         "time": np.tile(np.arange(1, m + 1), n_g),
                         "x": x, "y": 1.0 + 0.5 * x + u + e.ravel()})


def ar1_long(scale=1.0, seed=13):
    """W13: 50 ids x 2,000 times, ``y = 1 + .5 x + u + e`` with AR(1) errors.

    Long series (the residual covariance of an id is 2,000 x 2,000): u sd 1;
    e_t = .7 e_{t-1} + sqrt(1 - .49) z_t, var(e) 1, stationary from t = 1.
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(50, scale), 2000
    rho = 0.7
    e = np.empty((n_g, m))
    e[:, 0] = rng.normal(size=n_g)
    for t in range(1, m):
        e[:, t] = rho * e[:, t - 1] + np.sqrt(1.0 - rho ** 2) * rng.normal(size=n_g)
    x = rng.normal(size=n_g * m)
    u = np.repeat(rng.normal(size=n_g), m)
    return pd.DataFrame({"id": np.repeat(np.arange(1, n_g + 1), m),
                         "time": np.tile(np.arange(1, m + 1), n_g),
                         "x": x, "y": 1.0 + 0.5 * x + u + e.ravel()})


def weibull_frailty(scale=1.0, seed=8):
    """W9: 2,000 groups x 20, Weibull PH times, hazard ``exp(-.5 + .6 x + u) p t^(p-1)``.

    p = 1.4, u sd 0.6; independent uniform(0.5, 3) censoring times (about a third of the
    spells censored).
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(2_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x = rng.normal(size=n_g * m)
    eta = -0.5 + 0.6 * x + rng.normal(0.0, 0.6, n_g)[g]
    t = (rng.exponential(1.0, n_g * m) / np.exp(eta)) ** (1 / 1.4)
    c = rng.uniform(0.5, 3.0, n_g * m)
    return pd.DataFrame({"t": np.minimum(t, c), "d": (t <= c).astype(np.int64), "x": x,
                         "g": g})


def tobit(scale=1.0, seed=9):
    """W10: 5,000 groups x 20, ``y* = 1 + .7 x + u + e`` left-censored at 0.

    u sd 0.8, e sd 1.2 (about a fifth of the rows censored).
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(5_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x = rng.normal(size=n_g * m)
    ys = 1.0 + 0.7 * x + rng.normal(0.0, 0.8, n_g)[g] + rng.normal(0.0, 1.2, n_g * m)
    return pd.DataFrame({"y": np.maximum(ys, 0.0), "x": x, "g": g})


def pweighted_lmm(scale=1.0, seed=13):
    """W12: 2,000 clusters x 20 drawn with unequal probabilities at both stages.

    ``y = 1 + .5 x + u + e``, u sd 0.8, e sd 1. Informative two-stage sample: a cluster's
    inclusion probability 0.2 + 0.6 expit(u) gives its weight ``w2 = 1 / prob``, an
    observation's 0.3 + 0.5 expit(e) gives ``w1`` (the conditional weight within its cluster).
    """
    rng = np.random.default_rng(seed)
    n_g, m = _n_groups(2_000, scale), 20
    g = np.repeat(np.arange(n_g), m)
    x = rng.normal(size=n_g * m)
    u = rng.normal(0.0, 0.8, n_g)
    e = rng.normal(size=n_g * m)
    w2 = 1.0 / (0.2 + 0.6 * _expit(u))
    w1 = 1.0 / (0.3 + 0.5 * _expit(e))
    return pd.DataFrame({"y": 1.0 + 0.5 * x + u[g] + e, "x": x, "g": g, "w1": w1,
                         "w2": w2[g]})


GENERATORS = {"W2": lmm_nested, "W3": glmm_logit, "W5": poisson_3lvl,
              "W6": ordinal, "W7": nl_growth, "W8": ar1_panel, "W9": weibull_frailty,
              "W10": tobit, "W12": pweighted_lmm, "W13": ar1_long}


def write(workload, outdir, scale=1.0):
    """Simulate one workload and write it as CSV; return the path.

    Parameters
    ----------
    workload : str
        One of ``SIMULATED``.
    outdir : str
        Directory (created if missing).
    scale : float
        Multiplier on the number of top-level groups.

    Returns
    -------
    str
        Path of the written CSV.
    """
    if workload not in GENERATORS:
        raise ValueError(f"cannot simulate {workload!r}: it is real data "
                         f"(run benchmarks/export_lme4_data.R)")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, FILES[workload])
    GENERATORS[workload](scale).to_csv(path, index=False, float_format="%.10g")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workloads", default=",".join(SIMULATED))
    args = ap.parse_args(argv)
    for w in args.workloads.split(","):
        print(w, write(w.strip(), args.outdir, args.scale))


if __name__ == "__main__":
    main()
