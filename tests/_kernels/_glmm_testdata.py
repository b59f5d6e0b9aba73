"""Small simulated two-level data sets for every family/link the GLMM kernels implement."""
import numpy as np

COMBOS = [
    ("gaussian", "identity"), ("gaussian", "log"),
    ("bernoulli", "logit"), ("bernoulli", "probit"), ("bernoulli", "cloglog"),
    ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
    ("poisson", "log"), ("poisson", "identity"),
    ("nbinomial_mean", "log"), ("nbinomial_mean", "identity"),
    ("nbinomial_constant", "log"), ("nbinomial_constant", "identity"),
    ("gamma", "log"), ("gamma", "identity"),
    ("ordinal", "logit"), ("ordinal", "probit"), ("ordinal", "cloglog"),
    ("censored_normal", "identity"), ("exponential_ph", "identity"),
    ("exponential_aft", "identity"), ("weibull_ph", "identity"), ("weibull_aft", "identity"),
    ("gompertz_ph", "identity"), ("lognormal_aft", "identity"),
    ("loglogistic_aft", "identity"), ("ggamma_aft", "identity"),
]

AUX = {"gaussian": [np.log(0.6)], "nbinomial_mean": [np.log(0.5)],
       "nbinomial_constant": [np.log(0.7)], "gamma": [np.log(0.4)],
       "ordinal": [-0.8, 0.3, 1.4], "censored_normal": [np.log(0.6)], "weibull_ph": [0.3],
       "weibull_aft": [0.2], "gompertz_ph": [0.1], "lognormal_aft": [np.log(0.8)],
       "loglogistic_aft": [np.log(0.5)], "ggamma_aft": [np.log(0.8), 0.6]}
SURVIVAL = ("exponential_ph", "exponential_aft", "weibull_ph", "weibull_aft", "gompertz_ph",
            "lognormal_aft", "loglogistic_aft", "ggamma_aft")


def simulate(family, link, q=1, G=5, nj=4, seed=0):
    """Responses from the family at a moderate linear predictor.

    Returns a dict with endog, exog, Z, groups, trials, beta, aux, L.
    """
    rng = np.random.default_rng(seed)
    n = G * nj
    groups = np.repeat(np.arange(G), nj)
    rng.shuffle(groups)  # the engine must sort
    x = rng.uniform(-1, 1, n)
    exog = np.column_stack([np.ones(n), x])
    Z = np.column_stack([np.ones(n), rng.uniform(-1, 1, n)])[:, :q]
    L = np.array([[0.6, 0.0], [0.2, 0.4]])[:q, :q]
    positive = link == "identity" and family not in ("gaussian", "censored_normal") + SURVIVAL
    # identity links of positive means: keep eta = 0 (the support boundary, where the
    # integrand is discontinuous) ~10 prior sds away so quadrature error stays below 1e-8
    beta = np.array([6.0, 0.3]) if positive else np.array([0.2, 0.5])
    if family == "gaussian" and link == "log":
        beta = np.array([1.0, 0.3])
    b = rng.standard_normal((G, q)) @ L.T
    eta = exog @ beta + (Z * b[groups]).sum(1)
    aux = np.array(AUX.get(family, []), float)
    trials = np.ones(n)
    if family == "gaussian":
        mu = eta if link == "identity" else np.exp(eta)
        y = mu + np.sqrt(np.exp(aux[0])) * rng.standard_normal(n)
    elif family == "censored_normal":
        # exact, left-censored at -0.3, right-censored at 1.2, and intervals of width 0.5
        ys = eta + np.sqrt(np.exp(aux[0])) * rng.standard_normal(n)
        kind = np.arange(n) % 4
        y = np.where(kind == 2, np.floor(ys * 2) / 2, ys)
        trials = np.where(kind == 2, y + 0.5, ys)
        y = np.where(ys < -0.3, -0.3, y)
        trials = np.where(ys < -0.3, -np.inf, trials)
        y = np.where(ys > 1.2, 1.2, y)
        trials = np.where(ys > 1.2, np.inf, trials)
    elif family in SURVIVAL:
        # times of the right order of magnitude, 70% failures, a third with delayed entry
        scale = np.exp(eta) if family.endswith("aft") else np.exp(-eta)
        t = rng.exponential(1.0, n) * scale + 0.05
        y = np.where(rng.uniform(size=n) < 0.7, t, -t)
        trials = np.where(np.arange(n) % 3 == 0, 0.3 * t, 0.0)
    elif family in ("bernoulli", "binomial", "ordinal"):
        from statsmodels_me.families import statsmodels_link
        inv = statsmodels_link(link).inverse
        if family == "ordinal":
            cum = inv(aux[None, :] - eta[:, None])
            y = (rng.uniform(size=n)[:, None] > cum).sum(1).astype(float)
            aux = aux[:int(y.max())]  # codes 0..K-1 must all be possible
        else:
            trials = rng.integers(1, 6, n).astype(float) if family == "binomial" else trials
            y = rng.binomial(trials.astype(int), inv(eta)).astype(float)
    else:
        mu = np.exp(eta) if link == "log" else eta
        if family == "poisson":
            y = rng.poisson(mu).astype(float)
        elif family == "nbinomial_mean":
            y = rng.poisson(mu * rng.gamma(np.exp(-aux[0]), np.exp(aux[0]), n)).astype(float)
        elif family == "nbinomial_constant":
            d = np.exp(aux[0])
            y = rng.negative_binomial(mu / d, 1 / (1 + d)).astype(float)
        else:
            k = np.exp(-aux[0])
            y = rng.gamma(k, mu / k)
    return dict(endog=y, exog=exog, Z=Z, groups=groups, trials=trials, beta=beta, aux=aux, L=L)
