"""The benchmark workloads and which implementation can fit which.

See ``WORKLOADS.md`` in the benchmark data directory for the designs; ``gen_data.py``
simulates W2, W3, W5, W6, W7, W8, W9, W10, W12, W13.
"""

from __future__ import annotations

from benchmarks.gen_data import FILES

# key -> (data workload, one-line description)
WORKLOADS = {
    "W1": ("W1", "InstEval (73,421): y ~ service + (1|s) + (1|d) + (1|dept_service), ML"),
    "W2": ("W2", "simulated LMM (200,000; 10,000 x 20): y ~ x + (1 + x | g), ML"),
    "W3": ("W3", "simulated logit (100,000; 5,000 x 20): y ~ x + z + (1 + x | g), Laplace"),
    "W3ag7": ("W3", "W3 with mean-variance adaptive Gauss-Hermite, 7 points per dimension"),
    "W4": ("W4", "VerbAgg (7,584): logit r2 ~ Anger + GenderM + btypescold + btypeshout"
                 " + situself + (1|id) + (1|item), Laplace"),
    "W5": ("W5", "simulated Poisson (100,000; 200 x 25 x 20): y ~ x + (1|region/site),"
                 " Laplace"),
    "W6": ("W6", "simulated ordinal logit (40,000; 2,000 x 20, 4 categories):"
                 " y ~ x + (1|g), Laplace"),
    "W7": ("W7", "simulated logistic growth (5,000; 500 x 10):"
                 " y = (b1+u1)/(1+exp(-(t-b2)/b3)) + e, ML (linearization)"),
    "W8": ("W8", "simulated panel (100,000; 10,000 x 10): y ~ x + (1|id), AR(1) residuals"
                 " in time within id, ML"),
    "W13": ("W13", "simulated long panel (100,000; 50 x 2,000): y ~ x + (1|id), AR(1)"
                   " residuals in time within id, ML"),
    "W9": ("W9", "simulated Weibull PH frailty (40,000; 2,000 x 20, right-censored):"
                 " _t ~ x + (1|g), Laplace"),
    "W9ag7": ("W9", "W9 with mean-variance adaptive Gauss-Hermite, 7 points"),
    "W10": ("W10", "simulated tobit (100,000; 5,000 x 20, left-censored at 0):"
                 " y ~ x + (1|g), Laplace"),
    "W10ag7": ("W10", "W10 with mean-variance adaptive Gauss-Hermite, 7 points"),
    "W12": ("W12", "simulated two-stage sample (40,000; 2,000 x 20): y ~ x + (1|g),"
                   " sampling weights at both levels, ML pseudo-likelihood, robust SEs"),
}
ORDER = ["W1", "W2", "W3", "W3ag7", "W4", "W5", "W6", "W7", "W8", "W9", "W9ag7", "W10", "W10ag7",
         "W12", "W13"]
#: workload -> its adaptive-quadrature row, run whenever the workload is
AGHQ_ROWS = {"W3": "W3ag7", "W9": "W9ag7", "W10": "W10ag7"}

# peer -> (kind, workloads it has a command for).  statsmodels_me is tried on
# every workload: a missing command is reported, not skipped.  No peer fits W9 or W10 by
# maximum likelihood: glmmTMB 1.1.5 has no Weibull or censored-normal family, lme4 neither,
# survival::survreg's frailty() terms are penalized (not marginal) likelihoods, and
# GLMMadaptive (its censored.normal() family would fit W10) is not installed.  No peer fits
# W12's pseudo-likelihood with weights at both levels (WeMix's mix() would; not installed):
# glmmTMB's weights= multiply the level-one log densities only, lme4's are precision weights.
PEERS = {
    "lme4": ("r", {"W1", "W2", "W3", "W4", "W5", "W7"}),
    "glmmTMB": ("r", {"W1", "W2", "W3", "W4", "W5"}),
    "ordinal": ("r", {"W6"}),
    "nlme": ("r", {"W7", "W8", "W13"}),
    "glmm": ("py", {"W1", "W2", "W3", "W3ag7", "W4", "W5"}),
    "mixedlm": ("py", {"W1", "W2", "W3", "W4", "W5", "W7"}),
    "statsmodels": ("py", {"W1", "W2"}),
}
ME = "statsmodels_me"


def data_file(key):
    """CSV file name of workload ``key``."""
    return FILES[WORKLOADS[key][0]]
