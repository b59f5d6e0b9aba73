"""Stata-layout summary text, eform display, tables and HTML.

Expected lines and numbers are the printed output of Stata's [ME] me entry (examples 1, 3, 4
and the three-level example 7), as copied into statsmodels_me/datasets/seed_examples.json.
The fakes rebuild results from the printed (rounded) estimates, so recomputed intervals can
differ from the printed ones in the 7th digit: those are compared numerically to 1e-5.
"""
import re

import numpy as np
import pytest
from me_fakes import ex1_results, ex3_results, ex4_results, ex7_results, ex8_results

from statsmodels_me.results.formatting import fmt_count, fmt_g


def collapsed(text):
    return [" ".join(line.split()) for line in text.splitlines()]


def row_numbers(text, label):
    """Numbers printed on the table row whose label is ``label``."""
    for line in collapsed(text):
        if line.startswith(f"{label} |"):
            return [float(t) for t in line.split("|", 1)[1].split()
                    if re.fullmatch(r"-?[\d.]+(e[-+]\d+)?", t)]
    raise AssertionError(f"no row {label!r} in\n{text}")


@pytest.mark.parametrize("x, expected", [
    (6.209896, "6.209896"), (0.0390124, ".0390124"), (-0.0984378, "-.0984378"),
    (19.35561, "19.35561"), (5.04926, "5.04926"), (0.0034604, ".0034604"),
    (5801505.0, "5801505"), (0.0, "0"), (np.nan, "."), (1.2e-13, "1.20e-13"),
])
def test_stata_g_format(x, expected):
    # %9.0g displays as printed in the seed's tables
    assert fmt_g(x) == expected


def test_llf_and_counts_format():
    assert fmt_g(-1014.9268, 8) == "-1014.9268"
    assert fmt_g(-140.61628, 8) == "-140.61628"
    assert fmt_count(1934) == "1,934"


def test_ex1_text():
    text = str(ex1_results().summary())
    lines = collapsed(text)
    for expected in [
        "Mixed-effects ML regression Number of obs = 432",
        "Group variable: id Number of groups = 48",
        "Obs per group:", "min = 9", "avg = 9.0", "max = 9",
        "Wald chi2(1) = 25337.49",
        "Log likelihood = -1014.9268 Prob > chi2 = 0.0000",
        "weight | Coefficient Std. err. z P>|z| [95% conf. interval]",
        "week | 6.209896 .0390124 159.18 0.000 6.133433 6.286359",
        "Random-effects parameters | Estimate Std. err. [95% conf. interval]",
        "id: Identity |",
        "LR test vs. linear model: chibar2(01) = 472.65 Prob >= chibar2 = 0.0000",
    ]:
        assert expected in lines, expected
    np.testing.assert_allclose(row_numbers(text, "_cons"),
                               [19.35561, .5974059, 32.40, 0.000, 18.18472, 20.52651],
                               rtol=1e-5)
    np.testing.assert_allclose(row_numbers(text, "var(_cons)"),
                               [14.81751, 3.124225, 9.801716, 22.40002], rtol=1e-5)
    np.testing.assert_allclose(row_numbers(text, "var(Residual)"),
                               [4.383264, .3163348, 3.805112, 5.04926], rtol=1e-5)
    assert "conservative" not in text
    assert "Iteration" not in text
    assert max(len(line) for line in text.splitlines()) <= 78


def test_ex4_text_unstructured_and_chi2_lr():
    text = str(ex4_results().summary())
    lines = collapsed(text)
    assert "week | 6.209896 .0910745 68.18 0.000 6.031393 6.388399" in lines
    assert "id: Unstructured |" in lines
    np.testing.assert_allclose(row_numbers(text, "cov(week,_cons)"),
                               [-.0984378, .2545767, -.5973991, .4005234], rtol=1e-5)
    np.testing.assert_allclose(row_numbers(text, "var(week)"),
                               [.3715251, .0812958, .2419532, .570486], rtol=1e-5)
    assert "LR test vs. linear model: chi2(3) = 764.58 Prob > chi2 = 0.0000" in lines
    assert "Note: LR test is conservative and provided only for reference." in lines
    # order: fixed effects, then random-effects table, then LR line
    assert text.index("week |") < text.index("Random-effects") < text.index("LR test")


def test_ex3_eform_columns_and_notes():
    res = ex3_results()
    s = res.summary()
    text = str(s)
    lines = collapsed(text)
    assert "nadmitted | Odds ratio Std. err. z P>|z| [95% conf. interval]" in lines
    # seed ex3: female 1.176898 .1310535 1.46 0.144 .9461357 1.463944
    np.testing.assert_allclose(row_numbers(text, "female"),
                               [1.176898, .1310535, 1.46, 0.144, .9461357, 1.463944],
                               rtol=1e-5)
    np.testing.assert_allclose(row_numbers(text, "_cons"),
                               [.7907009, .2057191, -0.90, 0.367, .4748457, 1.316655],
                               rtol=1e-5)
    # random effects inside the coefficient table, not exponentiated
    np.testing.assert_allclose(row_numbers(text, "var(_cons)"),
                               [1.345383, .460702, .6876497, 2.632234], rtol=1e-5)
    assert "Binomial variable: napplied" in lines
    assert "Integration method: mvaghermite Integration pts. = 7" in lines
    assert "Wald chi2(1) = 2.14" in lines
    assert "Log likelihood = -140.61628 Prob > chi2 = 0.1435" in lines
    assert "Note: Estimates are transformed only in the first equation to odds ratios." in lines
    assert "Note: _cons estimates baseline odds (conditional on zero random effects)." in lines
    assert "LR test vs. logistic model: chibar2(01) = 318.77 Prob >= chibar2 = 0.0000" in lines
    assert text.index("Note: Estimates") < text.index("LR test")
    assert "Random-effects parameters" not in text
    coef = s.tables[2]
    assert coef.columns[0] == "Odds ratio"
    # the table's interval columns hold Stata's printed eform interval (exp of the log-scale one)
    np.testing.assert_allclose(coef.loc["female"].iloc[-2:], [.9461357, 1.463944], rtol=1e-5)


def test_eform_false_and_custom_title():
    res = ex3_results()
    plain = str(res.summary(eform=False))
    np.testing.assert_allclose(row_numbers(plain, "female")[:2],
                               [np.log(1.176898), .1310535 / 1.176898], rtol=1e-6)
    assert "odds ratios" not in plain
    titled = str(res.summary(eform="exp(b)"))
    assert "exp(b)" in titled
    ex1 = str(ex1_results().summary(eform=True))
    np.testing.assert_allclose(row_numbers(ex1, "week")[0], np.exp(6.209896), rtol=1e-6)


def test_three_level_group_table_and_ancillary():
    text = str(ex7_results().summary())
    lines = collapsed(text)
    # seed three-level example: school 28 18 57.1 137; class 135 1 11.9 28
    assert "Mixed-effects oprobit regression Number of obs = 1,600" in lines
    assert "Group variable | groups Minimum Average Maximum" in lines
    assert "school | 28 18 57.1 137" in lines
    assert "class | 135 1 11.9 28" in lines
    assert "Group variable:" not in text
    # ancillary rows: no z or p
    np.testing.assert_allclose(row_numbers(text, "/cut1"),
                               [-.074617, .1029791, -.2764523, .1272184], rtol=1e-5)
    assert "1.cc#1.tv | -.2426203 .1811999 -1.34 0.181 -.5977656 .112525" in lines
    assert "school>class |" in lines
    np.testing.assert_allclose(row_numbers(text, "var(_cons)"),
                               [.0186456, .0160226, .0034604, .1004695], rtol=1e-4)
    assert "LR test vs. oprobit model: chi2(2) = 22.13 Prob > chi2 = 0.0000" in lines


def test_constrained_row():
    res = ex1_results()
    res._results.normalized_cov_params[2, 2] = 0.0
    text = str(res._results.summary())
    assert "var(_cons) | 14.81751 (constrained)" in collapsed(text)


def test_tables_and_html():
    s = ex4_results().summary()
    header, groups, coef, vcomp = s.tables
    assert header.loc["Number of obs", "value"] == "432"
    assert groups.loc["id", "groups"] == 48
    assert list(coef.index) == ["week", "_cons"]
    assert list(vcomp.index) == ["id: var(week)", "id: var(_cons)", "id: cov(week,_cons)",
                                 "var(Residual)"]
    html = s.as_html()
    assert html == s._repr_html_()
    assert "Random-effects parameters" in html and "cov(week,_cons)" in html
    assert "P&gt;|z|" in html
    assert s.as_text() == str(s)


def test_ex8_crossed_sections():
    # seed example 8: two "_all: Identity" sections, one group of 432 observations
    text = str(ex8_results().summary())
    lines = collapsed(text)
    assert "Group variable: _all Number of groups = 1" in lines
    assert "min = 432" in lines and "avg = 432.0" in lines
    assert lines.count("_all: Identity |") == 2
    np.testing.assert_allclose(row_numbers(text, "week"),
                               [6.209896, .0539313, 115.14, 0, 6.104192, 6.315599], rtol=1e-6)
    np.testing.assert_allclose(row_numbers(text, "var(R.week)"),
                               [.0849874, .0868856, .0114588, .6303302], rtol=1e-5)
    np.testing.assert_allclose(row_numbers(text, "var(R.id)"),
                               [14.83623, 3.126142, 9.816733, 22.42231], rtol=1e-5)
    assert "LR test vs. linear model: chi2(2) = 474.85 Prob > chi2 = 0.0000" in lines


def test_glmm_covariance_rows_show_z():
    # in the me-commands layout covariances get z and P>|z| (seed example 5:
    # cov(1.children,2.children) .0616875 .0844681 0.73 0.465 -.1038669 .2272419)
    from statsmodels_me.results import VCompGroup
    res = ex3_results()._results
    res.info.vcomp_groups = [VCompGroup("department", "Unstructured",
                                        [("var(_cons)", 2), ("cov(female,_cons)", 0)])]
    res.params[0] = 0.0616875
    res.normalized_cov_params[0, 0] = 0.0844681 ** 2
    text = str(res.summary(eform=False))
    assert "cov(female,_cons) | .0616875 .0844681 0.73 0.465 -.1038669 .2272419" in \
        collapsed(text)


def test_mixed_names_nested_level_by_its_own_variable():
    # Stata's mixed labels the section of level school>class "class: Identity"
    from statsmodels_me.results import VCompGroup
    res = ex1_results()._results
    res.info.vcomp_groups = [VCompGroup("school>class", "Identity", [("var(_cons)", 2)])]
    text = str(res.summary())
    assert "class: Identity |" in collapsed(text)
    assert "school>class: var(_cons)" in res.vcomp_table().index


def test_boundary_variance_note():
    res = ex1_results()._results
    res.params[2] = 0.0
    text = str(res.summary())
    lines = collapsed(text)
    assert "var(_cons) | 0 3.124225 0 ." in lines
    assert any(line.startswith("Note: id: var(_cons) estimated at the boundary")
               for line in lines)


# ----------------------------------------------------------------- reporting options (issue 11)
# Numbers: seed example 1 (mixed weight week || id:) and example 4 (covariance(unstructured))
# as printed by Stata; intervals at other levels are recomputed here from those estimates and
# standard errors with scipy's normal quantiles (Stata: b +- z*se; variances on the log scale).
from scipy import stats  # noqa: E402

from statsmodels_me.results.summary import DISPLAY_OPTIONS  # noqa: E402


def test_level90_intervals_from_params_and_bse():
    text = str(ex1_results().summary(level=90))
    z = stats.norm.ppf(0.95)
    assert "[90% conf. interval]" in text and "95%" not in text
    b, se = 6.209896, 0.0390124
    assert row_numbers(text, "week")[-2:] == pytest.approx([b - z * se, b + z * se], abs=2e-6)
    v, sv = 14.81751, 3.124225
    lo, hi = v * np.exp(-z * sv / v), v * np.exp(z * sv / v)
    assert row_numbers(text, "var(_cons)")[-2:] == pytest.approx([lo, hi], rel=1e-5)


def test_level_and_alpha_agree():
    assert str(ex1_results().summary(level=90)) == str(ex1_results().summary(alpha=0.10))


@pytest.mark.parametrize("option, gone, kept", [
    ("noheader", ["Mixed-effects ML regression", "Log likelihood"], ["week |", "var(_cons) |"]),
    ("nogroup", ["Group variable", "Obs per group"], ["Log likelihood", "week |"]),
    ("nofetable", ["week |", "_cons |"], ["var(_cons) |", "LR test"]),
    ("noretable", ["Random-effects parameters", "var(_cons) |"], ["week |", "LR test"]),
    ("notable", ["week |", "var(_cons) |"], ["Log likelihood", "LR test"]),
    ("nolrtest", ["LR test"], ["week |", "var(_cons) |"]),
])
def test_display_option_removes_its_part(option, gone, kept):
    plain = str(ex1_results().summary())
    text = str(ex1_results().summary(**{option: True}))
    for piece in gone:
        assert piece in plain and piece not in text, (option, piece)
    for piece in kept:
        assert piece in text, (option, piece)


def test_coeflegend_shows_eb_names():
    lines = collapsed(str(ex4_results().summary(coeflegend=True)))
    assert "weight | Coefficient Legend" in lines
    assert "week | 6.209896 _b[week]" in lines
    assert "cov(week,_cons) | -.0984378 _b[/cov(week[id],_cons[id])]" in lines
    assert "var(Residual) | 1.596829 _b[/var(e.weight)]" in lines


def test_stddeviations_delta_method():
    res = ex4_results()
    text = str(res.summary(stddeviations=True))
    p = np.asarray(res.params, dtype=float)
    cov = np.asarray(res.normalized_cov_params, dtype=float)
    sd_week = np.sqrt(0.3715251)
    got = row_numbers(text, "sd(week)")
    assert got[:2] == pytest.approx([sd_week, 0.0812958 / (2 * sd_week)], rel=1e-6)
    # the sd interval is the square root of the variance's (log-scale) interval
    assert got[2:] == pytest.approx(np.sqrt([0.2419531, 0.5704861]), rel=2e-6)

    def corr(x):
        return x[4] / np.sqrt(x[2] * x[3])

    grad = np.array([(corr(p + h) - corr(p - h)) / (2e-7) for h in np.eye(len(p)) * 1e-7])
    se_r = np.sqrt(grad @ cov @ grad)
    r = corr(p)
    z = stats.norm.ppf(0.975)
    lo, hi = np.tanh(np.arctanh(r) + np.array([-1, 1]) * z * se_r / (1 - r * r))
    assert row_numbers(text, "corr(week,_cons)") == pytest.approx([r, se_r, lo, hi], rel=1e-5)
    assert row_numbers(text, "sd(Residual)")[0] == pytest.approx(np.sqrt(1.596829), rel=1e-6)
    assert "var(week)" not in text


def test_unknown_summary_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="stdev"):
        ex1_results().summary(stdev=True)


def test_display_options_are_the_tables_display_options():
    from statsmodels_me.spec.options import OPTIONS
    shown = {n for n, d in OPTIONS.items() if d.use == "display"}
    assert set(DISPLAY_OPTIONS) == shown - {"or", "irr", "eform"}


def test_command_options_reach_the_summary_and_omitted_and_base_rows():
    import warnings

    from statsmodels_me import datasets
    from statsmodels_me.models.mixed import Mixed
    df = datasets.load("pig").head(90).copy()
    df["w2"] = 2 * df["week"] + 1          # collinear with week: Stata omits w2
    df["g"] = df["id"] % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = Mixed.from_text("weight week w2 i.g || id:, level(90) nolrtest baselevels",
                              df).fit()
    text = str(res.summary())
    lines = collapsed(text)
    assert lines[0] == "note: w2 omitted because of collinearity."
    assert "w2 | 0 (omitted)" in lines
    assert "0.g | 0 (base)" in lines
    assert "[90% conf. interval]" in text and "LR test" not in text
    z = stats.norm.ppf(0.95)
    b, se = float(res.params["week"]), float(res.bse["week"])
    assert row_numbers(text, "week")[-2:] == pytest.approx([b - z * se, b + z * se], rel=1e-6)
    assert "w2 |" not in str(res.summary(noomitted=True))
    # keywords override the command's options
    plain = str(res.summary(level=95, nolrtest=False, baselevels=False))
    assert "LR test" in plain and "(base)" not in plain and "[95% conf." in plain


def test_missing_standard_error_prints_dots():
    """A standard error that could not be computed (NaN) is Stata's missing value "." in
    every column, not "(constrained)" (which is kept for parameters held fixed, SE 0)."""
    res = ex1_results()
    res._results.normalized_cov_params[0, 0] = np.nan
    text = collapsed(str(res._results.summary()))
    assert "(constrained)" not in text
    assert "week | 6.209896 . . . . ." in text
