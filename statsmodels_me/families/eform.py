"""Stata's labels and notes for exponentiated coefficients (``or``, ``irr``, ``eform``,
``hr``) in the header of GLMM results."""
from __future__ import annotations

#: Stata's column label of exponentiated coefficients, by display option (in priority order)
EFORM_LABELS = {"or": "Odds ratio", "irr": "IRR", "eform": "exp(b)", "hr": "Haz. ratio"}

# label -> (what the first equation's coefficients become, what _cons then estimates)
_NOTES = {"Odds ratio": ("odds ratios", "baseline odds"),
          "IRR": ("incidence-rate ratios", "baseline incidence rate")}
_DEFAULT_NOTES = ("exponentiated coefficients", "the baseline")


def eform_label(options) -> str | None:
    """The label of the first of ``or``, ``irr``, ``eform``, ``hr`` set in ``options``, or
    None when coefficients are shown as estimated."""
    return next((label for key, label in EFORM_LABELS.items() if options.get(key)), None)


def eform_notes(label: str | None, has_constant: bool) -> list[str]:
    """Stata's notes under a table of exponentiated coefficients.

    Parameters
    ----------
    label : str or None
        From :func:`eform_label`; no notes when None.
    has_constant : bool
        The fixed effects include ``_cons``.
    """
    if not label:
        return []
    what, base = _NOTES.get(label, _DEFAULT_NOTES)
    notes = [f"Estimates are transformed only in the first equation to {what}."]
    if has_constant:
        notes.append(f"_cons estimates {base} (conditional on zero random effects).")
    return notes
