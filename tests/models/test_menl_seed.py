"""``menl`` against the numbers printed in Stata's [ME] me entry (examples 9, 10 and 11).

Every reference number comes from the package's bundled seed_examples.json, which transcribes
the printed output of the specification (orange trees, Draper and Smith 1998); the data are
the bundled orange.csv. Tolerances are those of the other seed tests: relative 1e-5 on
estimates and log likelihoods (or half a unit in the last printed digit when coarser), 1e-3 on
standard errors and confidence limits.

Examples 10 and 11 put a random effect inside the exponential, so the linearization is not
exact in the random effects and the alternating algorithm's fixed point is reached only
linearly. Our estimates are that fixed point (they agree with ``nlme::nlme`` to 1e-6, see
test_menl_nlme.py); Stata's printed numbers stop slightly short of it, and three of them
differ by more than 1e-5: ``/b3`` of example 10 (1.3e-5) and ``var(U2)`` of examples 10 and 11
(1.0e-4 and 1.9e-5; ``/b3`` of example 11 differs by 0.99e-5). Those three are asserted at
1e-5 in ``test_known_differences_from_stata`` (strict xfail); the confidence interval of
``var(U2)``, a function of the estimate, is not compared.

Stopping rules tried without reproducing Stata's digits: the parameter rule alone
(tolerance 1e-6), the log-likelihood rule alone (ltolerance 1e-7), both (the default here),
and 1e-5 / 1e-7; every one stops within 2e-6 of the fixed point. Stata's printed example 10
(``/b3`` 342.0794, ``var(U2)`` 503.2308, log likelihood -131.58026) lies between our third and
fourth alternating iterates (log likelihoods -131.58035 and -131.58024) on no iterate of our
path, so Stata's path differs (start values, or PNLS / LME steps not solved to convergence
within each iteration, which ``pnlsopts()``/``lmeopts()`` would control and Stata does not
document) rather than its stopping rule.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load

SEED = Path(__file__).resolve().parents[2] / "statsmodels_me" / "datasets" / "seed_examples.json"

#: (example, row) pairs where Stata's printed estimate is short of the fixed point
KNOWN = {("ex10_orange_menl_two_effects", "/b3"), ("ex10_orange_menl_two_effects", "tree: var(U2)"),
         ("ex11_orange_menl_unstructured", "tree: var(U2)")}


def seed(example_id):
    return next(e for e in json.loads(SEED.read_text())["examples"] if e["id"] == example_id)


def close(got, want, rel):
    # a printed number has ~7 significant digits: allow half a unit in the last printed place
    digits = len(f"{abs(want):.7g}".replace(".", "").lstrip("0")) if want else 1
    return abs(got - want) <= max(rel * abs(want), 0.51 * 10 ** (np.floor(np.log10(abs(want)))
                                                                  - digits + 1) if want else rel)


def check(res, ex, skip=()):
    assert close(res.llf, ex["llf"], 1e-5), (res.llf, ex["llf"])
    for name, (b, se) in ex["coef"].items():
        if (ex["id"], name) not in skip:
            assert close(res.params[name], b, 1e-5), (name, res.params[name], b)
        assert abs(res.bse[name] - se) <= 1e-3 * se, (name, res.bse[name], se)
    for label, vals in ex["vcomp"].items():
        row = res.vcomp.loc[label]
        assert abs(row["std_err"] - vals[1]) <= 1e-3 * vals[1], (label, row["std_err"], vals[1])
        if (ex["id"], label) in skip:
            continue   # the interval is a function of the estimate
        assert close(row["estimate"], vals[0], 1e-5), (label, row["estimate"], vals[0])
        assert abs(row["ci_lower"] - vals[2]) <= 1e-3 * abs(vals[2]), (label, row["ci_lower"])
        assert abs(row["ci_upper"] - vals[3]) <= 1e-3 * abs(vals[3]), (label, row["ci_upper"])


@pytest.fixture(scope="module")
def orange():
    return load("orange")


def fit(text, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return smf.menl(text, data=data).fit()


@pytest.fixture(scope="module")
def fits(orange):
    return {ex_id: fit(seed(ex_id)["command"], orange)
            for ex_id in ("ex9_orange_menl", "ex10_orange_menl_two_effects",
                          "ex11_orange_menl_unstructured")}


def test_example9(fits):
    ex = seed("ex9_orange_menl")
    res = fits["ex9_orange_menl"]
    check(res, ex)
    assert res.nobs == 35
    assert list(res.params.index[:3]) == ["/b1", "/b2", "/b3"]
    assert res.info.ll_label == "Linearization log likelihood"
    assert res.info.vcomp_groups[0].kind_label == "Identity"


@pytest.mark.parametrize("form", [0, 1])
def test_example9_equivalent_forms(orange, form):
    ex = seed("ex9_orange_menl")
    res = fit(ex["equivalent"][form], orange)
    coef = dict(ex["coef"])
    if form == 1:   # define(phi1: U1[tree], xb) names the first coefficient phi1:_cons
        coef["phi1:_cons"] = coef.pop("/b1")
    check(res, {**ex, "coef": coef})


def test_example10(fits):
    ex = seed("ex10_orange_menl_two_effects")
    res = fits["ex10_orange_menl_two_effects"]
    check(res, ex, skip=KNOWN)
    assert list(res.params.index[:3]) == ["phi1:_cons", "phi2:_cons", "/b3"]
    assert res.info.vcomp_groups[0].kind_label == "Independent"


def test_example11(fits):
    ex = seed("ex11_orange_menl_unstructured")
    res = fits["ex11_orange_menl_unstructured"]
    check(res, ex, skip=KNOWN)
    assert res.info.vcomp_groups[0].kind_label == "Unstructured"


@pytest.mark.xfail(strict=True, reason="Stata's printed /b3 and var(U2) of examples 10 and 11 "
                   "stop short of the linearization fixed point (which nlme reproduces)")
@pytest.mark.parametrize("ex_id,label", sorted(KNOWN))
def test_known_differences_from_stata(fits, ex_id, label):
    ex = seed(ex_id)
    res = fits[ex_id]
    if label in ex["coef"]:
        got, want = res.params[label], ex["coef"][label][0]
    else:
        got, want = res.vcomp.loc[label, "estimate"], ex["vcomp"][label][0]
    assert close(got, want, 1e-5), (got, want)


def test_summary_header(fits):
    text = str(fits["ex10_orange_menl_two_effects"].summary())
    assert "Mixed-effects ML nonlinear regression" in text
    assert "Linearization log likelihood = -131.5802" in text
    assert "phi1: U1[tree], xb" in text
    assert "tree: Independent" in text
