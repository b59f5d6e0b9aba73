"""Side-by-side table of Stata's printed numbers and a fit of this build, for the example pages.

Stata's numbers are those of the manual's examples as bundled with the package
(:func:`statsmodels_me.datasets.seed_examples`, the reference the validation tests use). Used
from a hidden ``me-run`` block::

    from me_compare import compare_with_stata
    compare_with_stata(res, "ex1_pig_random_intercept")
"""
from __future__ import annotations

import math

from statsmodels_me.datasets import seed_examples


def _row(label: str, stata: float, ours: float) -> str:
    rel = abs(ours - stata) / max(abs(stata), 1e-300)
    return f"{label:38s} {stata:>14.7g} {ours:>14.7g} {rel:>11.1e}"


def compare_with_stata(res, example_id: str) -> None:
    """Print Stata's log likelihood, coefficients, variance components and their standard errors
    next to ``res``'s (relative differences in the last column)."""
    ex = seed_examples()[example_id]
    print(f"{'':38s} {'Stata':>14s} {'this build':>14s} {'rel. diff.':>11s}")
    print(_row("log likelihood", ex["llf"], res.llf))
    eform = ex.get("eform", False)
    for name, (value, se) in ex.get("coef", {}).items():
        if name in res.params.index:
            ours, ours_se = float(res.params[name]), float(res.bse[name])
            label = name
            if eform and not name.startswith("/"):
                # Stata prints the exponentiated estimate and its delta-method standard error
                ours, ours_se, label = math.exp(ours), math.exp(ours) * ours_se, f"exp {name}"
            print(_row(label, value, ours))
            print(_row("  std. err.", se, ours_se))
    vcomp = res.vcomp
    for name, values in ex.get("vcomp", {}).items():
        if name in vcomp.index:
            print(_row(name, values[0], float(vcomp.loc[name, "estimate"])))
            if len(values) > 1:
                print(_row("  std. err.", values[1], float(vcomp.loc[name, "std_err"])))
