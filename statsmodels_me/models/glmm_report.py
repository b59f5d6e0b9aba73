"""What a GLMM fit reports besides its estimates: Stata's header, the random-effects table
layout, the Wald test of the fixed effects and the LR test against the fixed model."""
from __future__ import annotations

import numpy as np
from scipy import stats

from statsmodels_me.inference import lr_test_vs_fixed
from statsmodels_me.results.fit_info import FitInfo, VCompGroup

_EFORM = {"or": "Odds ratio", "irr": "IRR", "eform": "exp(b)", "hr": "Haz. ratio"}


def glmm_fit_info(model, xnames, params, cov, llf, llf_fixed, iterations, log):
    """The :class:`FitInfo` of a fitted GLMM.

    Parameters
    ----------
    model : MEGLM
        Reads its family object, options, covariance structures and display map.
    xnames : list of str
        Fixed-effects names.
    params, cov : ndarray
        Display-scale estimates and their covariance.
    llf, llf_fixed : float
        Log likelihood of the model and of the model without random effects.
    iterations : int
    log : list of str
        The iteration log.
    """
    k, dm, fam = model.k_fe, model.display_map, model.family_object
    groups = []
    pos = dm.covariance_start
    for c in model.level_covs:          # one random-effects section per level
        rows = []
        for lab in c.vcomp_labels:
            rows.append((lab.split(": ", 1)[1], pos))
            pos += 1
        groups.append(VCompGroup(c.level_label, c.kind_label, rows))
    test = [i for i, n in enumerate(xnames) if n != "_cons"]
    wald = None
    if test:
        b = params[test]
        V = cov[np.ix_(test, test)]
        try:
            chi2 = float(b @ np.linalg.solve(V, b))
            # a covariance that is no covariance (Hessian not negative definite) has no test
            if np.isfinite(chi2) and chi2 >= 0:
                wald = (chi2, len(test), float(stats.chi2.sf(chi2, len(test))))
        except np.linalg.LinAlgError:
            wald = None
    ttl, versus = fam.title, fam.fixed_model_name
    fixed_cov = model.cov.n_theta == 0
    n_var = int(sum(model.cov.theta_is_variance))
    # the two log likelihoods come from different code paths (the GLM and the GLMM
    # engine): a difference at their rounding level (a variance at zero) is no difference
    llf_lr = llf_fixed if abs(llf - llf_fixed) <= 1e-12 * max(1.0, abs(llf)) else llf
    no_lr = fixed_cov or model.options.get("constraints") or not np.isfinite(llf)
    lr = None if no_lr else lr_test_vs_fixed(llf_lr, llf_fixed, n_var, model.n_theta - n_var,
                                             versus)
    eform = next((_EFORM[k] for k in ("or", "irr", "eform", "hr") if model.options.get(k)),
                 None)
    notes = []
    if eform:
        what = {"Odds ratio": "odds ratios", "IRR": "incidence-rate ratios"}.get(
            eform, "exponentiated coefficients")
        notes.append(f"Estimates are transformed only in the first equation to {what}.")
        if "_cons" in xnames:
            base = {"Odds ratio": "baseline odds", "IRR": "baseline incidence rate"}.get(
                eform, "the baseline")
            notes.append(f"_cons estimates {base} (conditional on zero random effects).")
    extra = []
    if fam.needs_trials and isinstance(model.options.get(fam.stata_name), str):
        extra.append(("Binomial variable", model.options[fam.stata_name]))
    if ttl == "GLM":
        extra += [("Family", fam.stata_name), ("Link", model.link)]
    residual = None
    if dm.residual_rows:
        row = dm.residual_rows[0]
        residual = (model.param_names[row].lstrip("/"), row)
    return FitInfo(
        title=f"Mixed-effects {ttl} regression" if ttl != "GLM" else "Mixed-effects GLM",
        llf=float(llf), k_fe=k, ancillary=dm.ancillary_rows,
        vcomp_groups=groups, residual=residual, eform=eform, wald=wald, lr_test=lr,
        llf_fixed=float(llf_fixed), intmethod=model.intmethod,
        intpoints=None if model.intmethod == "laplace" else model.intpoints,
        extra_header=extra, notes=notes, iterations=iterations, iteration_log=log)
