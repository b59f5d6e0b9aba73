"""Whether a GLMM optimum can be trusted, and why not.

An optimizer's own stopping rule says only that its steps became small.  A maximum of a GLMM
likelihood must in addition be finite and at least as high as the nested model without
random effects (the likelihood at zero variances, which the fit could always have kept);
and a variance that grows until the random part of the linear predictor spans dozens of
units on the link scale is not an estimate but an optimizer following a likelihood that
keeps rising (or an approximation of it that does): with binary outcomes this is the
signature of an outcome perfectly predicted within clusters, where the maximum likelihood
estimates do not exist.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: standard deviation of the random part of the linear predictor (on a unit-free link
#: scale: logit, probit, cloglog, log) beyond which a variance counts as running away;
#: a logit random intercept with sd 25 puts the cluster odds 1e10 apart between clusters
#: one standard deviation apart
RUNAWAY_SD = 25.0

#: a fit whose log likelihood is below the model without random effects by more than this
#: (relative to the magnitude of that log likelihood, at least 1) has not found the maximum
BELOW_FIXED = 1e-7

#: share of the observations fitted exactly (within 0.01 of the observed proportion) at the
#: predicted random effects beyond which the outcome counts as predicted within clusters
SEPARATED_SHARE = 0.95


@dataclass
class FitDiagnosis:
    """What is wrong with a GLMM optimum (nothing when ``problems`` is empty).

    Attributes
    ----------
    problems : list of str
        One sentence per problem found.
    runaway : list of str
        e(b) names of the variances that run away.
    separated : bool
        Whether the outcome is (almost) perfectly predicted within clusters at the estimate.
    non_finite : bool
        Whether the log likelihood is not finite.
    """

    problems: list = field(default_factory=list)
    runaway: list = field(default_factory=list)
    separated: bool = False
    non_finite: bool = False

    def __bool__(self):
        return bool(self.problems)

    def message(self, command, llf, llf_fixed, intpoints=None):
        """The ``ConvergenceWarning`` text: what happened and the likely cause."""
        causes = []
        if self.separated:
            causes.append("the outcome is (almost) perfectly predicted within clusters "
                          "(quasi-separation by the covariates and the random effects): the "
                          "maximum likelihood estimates do not exist; drop or recode the "
                          "covariate that separates the outcome within clusters")
        elif self.runaway:
            causes.append("the likelihood keeps rising as the variance grows (variance "
                          "runaway): the random effects absorb the outcome within clusters")
        if self.non_finite and intpoints:
            causes.append(f"the quadrature with intpoints({intpoints}) under- or overflows at "
                          "these parameters: use fewer points or intmethod(laplace)")
        text = (f"{command}: convergence not achieved: {'; '.join(self.problems)} "
                f"(log likelihood {llf:.8g}, model without random effects {llf_fixed:.8g})")
        if causes:
            text += ". Likely cause: " + "; ".join(causes)
        return text + ". The estimates are those of the best point found."


def random_part_sd(model, x):
    """Per random effect: ``(name, sd)`` with ``sd`` the standard deviation it adds to the
    linear predictor at its largest ``|z|`` (named by its ``e(b)`` variance row)."""
    _, _, theta = model.split_params(x)
    if not model.cov.n_theta:
        return []
    Sigma = model.cov.matrix(theta)
    if any(b.factor_codes is not None for lev in model.design.levels for b in lev.blocks):
        # R.x blocks: indicator columns (|z| <= 1), not expanded into an n x levels matrix
        Z = np.ones((1, Sigma.shape[0]))
    else:
        Z = model.random_effects_exog()
    zmax = np.max(np.abs(Z), axis=0) if len(Z) else np.ones(Sigma.shape[0])
    names = [n for n in model.cov.display_names if n.startswith("/var(")]
    if len(names) != Sigma.shape[0]:  # tied variances (identity, exchangeable), R.x blocks
        names = list(model.cov.names)
    if len(names) != Sigma.shape[0] or Z.shape[1] != Sigma.shape[0]:
        names = [f"random effect {j + 1}" for j in range(Sigma.shape[0])]
        zmax = np.ones(Sigma.shape[0]) if Z.shape[1] != Sigma.shape[0] else zmax
    sd = np.sqrt(np.maximum(np.diag(Sigma), 0.0)) * zmax
    return list(zip(names, sd, strict=True))


def separated_within_clusters(model, x):
    """Whether, at the predicted random effects, the binary or binomial outcome is fitted
    (almost) exactly: at least :data:`SEPARATED_SHARE` of the observations within 0.01 of
    the observed proportion."""
    fam = model.family_object
    if not (fam.can_separate and fam.has_constant):
        return False
    beta, _, _ = model.split_params(x)
    d = model.design
    eta = model.fixed_exog @ beta
    if d.offset is not None:
        eta = eta + np.asarray(d.offset, float)
    try:
        parts = model.random_effect_parts(x)
    except (NotImplementedError, FloatingPointError, np.linalg.LinAlgError):
        return False
    for codes, Z, means, _, _ in parts:
        eta = eta + np.einsum("ij,ij->i", Z, means[codes])
    y = np.asarray(d.endog, float).ravel()
    if d.trials is not None:
        y = y / np.asarray(d.trials, float)
    with np.errstate(all="ignore"):
        p = fam.inverse_link(eta)
    exact = np.abs(p - y) < 1e-2
    return bool(np.mean(exact) >= SEPARATED_SHARE)


def diagnose_fit(model, x, llf, llf_fixed):
    """The problems of the estimate ``x`` (internal parameters) of ``model`` (an ``MEGLM``)
    with log likelihood ``llf`` against the model without random effects (``llf_fixed``).

    Returns
    -------
    FitDiagnosis
    """
    out = FitDiagnosis()
    if not np.isfinite(llf):
        out.non_finite = True
        out.problems.append("the log likelihood is not finite")
    elif llf < llf_fixed - BELOW_FIXED * max(1.0, abs(llf_fixed)):
        out.problems.append("the log likelihood is below that of the model without random "
                            "effects, which the fit contains (zero variances)")
    if model.family_object.link != "identity" and np.all(np.isfinite(x)):
        out.runaway = [name for name, sd in random_part_sd(model, x) if sd > RUNAWAY_SD]
        if out.runaway:
            out.problems.append(f"the variance {', '.join(out.runaway)} runs away (the "
                                f"random effects' standard deviation exceeds {RUNAWAY_SD:g} "
                                f"on the {model.family_object.link} scale)")
    if out.problems and np.all(np.isfinite(x)):
        out.separated = separated_within_clusters(model, x)
    return out
