"""Example data sets of Stata's [ME] manual, bundled as CSV files.

Each file is a public copy of the data used in the manual's examples (none is Stata Press's own
``.dta`` file); ``SOURCES.md`` in this folder gives every source, commit, license and recoding.

Examples
--------
>>> from statsmodels_me import datasets
>>> pig = datasets.load("pig")
>>> pig.shape
(432, 3)

``seed_examples.json`` holds the numbers Stata prints for the examples of its [ME] me entry
(log likelihoods, estimates, standard errors, variance components, tests);
:func:`seed_examples` reads it.
"""
from __future__ import annotations

import json
from importlib import resources

import pandas as pd

__all__ = ["describe", "list_datasets", "load", "seed_examples"]

#: one-paragraph provenance of each data set (the full table is in SOURCES.md)
_DESCRIPTIONS = {
    "pig": (
        "Weights of 48 pigs over 9 weeks (Diggle, Liang & Zeger, Table 3.1); columns id, week, "
        "weight. Source: R package cv 2.0.4, object Pigs (GPL >= 2), sorted by id then week."
    ),
    "admissions": (
        "Graduate admissions by department and gender, 46 rows (23 departments x 2); columns "
        "department, nadmitted, napplied, female. Source: Agresti's Categorical Data Analysis "
        "data file Admissions.dat; department numbered 1..23 in the file's alphabetical order, "
        "female = 1 inferred from the application counts."
    ),
    "bangladesh": (
        "1934 women of the 1988 Bangladesh Fertility Survey in 60 districts; columns district, "
        "c_use, urban, age (centred), children (0, 1, 2, 3 = 3+), child1..child3. Source: R "
        "package mlmRev, Contraception (GPL >= 2), recoded to Stata's variable names."
    ),
    "tvsfpors": (
        "Television, School and Family Smoking Prevention and Cessation Project (Flay et al. "
        "1988): 1600 students in 135 classes in 28 schools; columns school, class, thk (1..4), "
        "prethk, cc, tv. Source: R package mixor 1.0.7, SmokingPrevention (GPL >= 2)."
    ),
    "orange": (
        "Trunk circumference of 5 orange trees at 7 ages; columns tree, age, circumf. Source: "
        "R datasets::Orange, sorted by tree then age."
    ),
    "diuretics": (
        "Meta-analysis of 9 trials of diuretics in pregnancy and pre-eclampsia (Turner et al. "
        "2000); columns trial, lnor, var, std. Transcribed from the table printed in Stata's "
        "[ME] me, example 6."
    ),
}


def list_datasets() -> list[str]:
    """Names of the bundled data sets, sorted."""
    return sorted(_DESCRIPTIONS)


def _check(name: str) -> str:
    key = str(name).lower().removesuffix(".csv")
    if key not in _DESCRIPTIONS:
        raise ValueError(f"unknown dataset '{name}'; known datasets: "
                         f"{', '.join(list_datasets())}")
    return key


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets` (``"pig"``, ``"bangladesh"``, ...).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).
    """
    key = _check(name)
    with resources.files(__name__).joinpath(f"{key}.csv").open("r") as fh:
        return pd.read_csv(fh)


def describe(name: str) -> str:
    """Short provenance note of a bundled data set (full details in ``SOURCES.md``)."""
    return _DESCRIPTIONS[_check(name)]


def seed_examples() -> dict[str, dict]:
    """Stata's printed results for the examples of its [ME] me entry, by example id.

    Returns
    -------
    dict
        ``{"ex1_pig_random_intercept": {...}, ...}``; each entry holds the Stata ``command``,
        the bundled ``data`` file, and the printed numbers (``llf``, ``coef`` as
        ``[estimate, std. err.]``, ``vcomp`` as ``[estimate, std. err., ci_lower, ci_upper]``,
        ``lr_vs_fixed``, ...). The file's ``about`` entry describes every field.

    Examples
    --------
    >>> from statsmodels_me import datasets
    >>> datasets.seed_examples()["ex1_pig_random_intercept"]["llf"]
    -1014.9268
    """
    with resources.files(__name__).joinpath("seed_examples.json").open("r") as fh:
        return {e["id"]: e for e in json.load(fh)["examples"]}
