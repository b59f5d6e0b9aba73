"""pcLaplace (Pinheiro & Chao 2006) against a plain Laplace over the whole random-effects vector.

statsmodels_me's Laplace for nested models is Pinheiro and Chao's: the Hessian of one
top-level cluster is block-arrow shaped and is factored from the leaves up, so the cost is
linear in the number of groups (``intmethod("laplace")`` and ``intmethod("pclaplace")`` both
use it). The reference here is the same approximation computed the general way, by the sparse
Laplace that crossed designs need (the largest term block-diagonal, every other random effect
in one dense block): same log likelihood, very different cost.

    python benchmarks/pclaplace.py [--top 100] [--seed 1]

Prints fit time and log likelihood of both, on a simulated Poisson model with four levels
(observations in units in classes in schools), random intercepts at three levels and a random
slope on x at the class level.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def simulate(n_top, seed):
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_top), 5 * 4 * 5)
    klass = np.repeat(np.arange(n_top * 5), 4 * 5)
    unit = np.repeat(np.arange(n_top * 5 * 4), 5)
    n = len(school)
    x = rng.normal(size=n)
    eta = (0.2 + 0.5 * x + rng.normal(0, 0.4, n_top)[school]
           + rng.normal(0, 0.3, n_top * 5)[klass]
           + rng.normal(0, 0.2, n_top * 5)[klass] * x
           + rng.normal(0, 0.3, n_top * 20)[unit])
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "school": school,
                         "klass": klass, "unit": unit})


def main(argv=None):
    import statsmodels_me.formula.api as smf
    from statsmodels_me.models.meglm import MEPoisson

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    df = simulate(args.top, args.seed)
    text = "y x || school: || klass: x, cov(un) || unit:"
    t0 = time.perf_counter()
    nested = smf.mepoisson(text, data=df, intmethod="pclaplace").fit()
    t_nested = time.perf_counter() - t0
    design = smf.mepoisson(text, data=df, intmethod="laplace").design
    t0 = time.perf_counter()
    general = MEPoisson(design=design, kind="crossed").fit()
    t_general = time.perf_counter() - t0
    print(f"{len(df)} observations, {args.top} schools, {args.top * 5} classes, "
          f"{args.top * 20} units")
    print(f"pcLaplace (nested, leaves-up factorization): {t_nested:8.2f} s   "
          f"llf {nested.llf:.6f}")
    print(f"Laplace over all random effects (sparse):    {t_general:8.2f} s   "
          f"llf {general.llf:.6f}")
    print(f"ratio {t_general / t_nested:.1f}x, llf difference {nested.llf - general.llf:.2e}")


if __name__ == "__main__":
    main()
