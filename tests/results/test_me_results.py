"""MEResults: labels, tests, information criteria, vcomp intervals and pickling.

Reference numbers are the printed output of Stata's [ME] me entry, examples 1, 3 and 4, as
bundled in statsmodels_me/datasets/seed_examples.json; see me_fakes.py.
"""
import numpy as np
import pandas as pd
import pytest
from me_fakes import ex1_results, ex3_results, ex4_results

from statsmodels_me import datasets
from statsmodels_me.results import MEResults
from statsmodels_me.spec.errors import SpecificationError

EXAMPLES = datasets.seed_examples()


def test_pandas_labels_are_stata_names():
    # the package's own mixed on seed example 4; the names are the column names of Stata's
    # e(b) after ``mixed weight week || id: week, covariance(unstructured)`` (equation
    # prefixes dropped)
    import statsmodels_me.formula.api as smf
    res = smf.mixed(EXAMPLES["ex4_pig_random_slope_unstructured"]["command"],
                    data=datasets.load("pig")).fit()
    names = ["week", "_cons", "/var(week[id])", "/var(_cons[id])",
             "/cov(week[id],_cons[id])", "/var(e.weight)"]
    assert list(res.params.index) == names
    assert list(res.bse.index) == names
    assert list(res.pvalues.index) == names
    assert list(res.tvalues.index) == names
    assert list(res.conf_int().index) == names
    cov = res.cov_params()
    assert list(cov.index) == names and list(cov.columns) == names
    assert isinstance(res._results, MEResults)


def test_z_statistics_match_seed():
    # ex1 printed z: week 159.18, _cons 32.40; p-values 0.000
    res = ex1_results()
    assert not res.use_t
    np.testing.assert_allclose(res.tvalues[["week", "_cons"]], [159.18, 32.40], atol=0.005)
    assert res.pvalues["week"] < 1e-10
    ci = res.conf_int().loc["week"].to_numpy()
    np.testing.assert_allclose(ci, [6.133433, 6.286359], rtol=1e-6)


def test_information_criteria_are_statas():
    res = ex1_results()
    assert res.nobs == 432
    assert res.df_modelwc == 4
    # Stata's estat ic: AIC = -2 ll + 2 k, BIC = -2 ll + k ln(N), ll printed in example 1
    assert res.aic == pytest.approx(2 * 1014.9268 + 2 * 4)
    assert res.bic == pytest.approx(2 * 1014.9268 + 4 * np.log(432))


@pytest.mark.parametrize("make, key", [(ex1_results, "ex1_pig_random_intercept"),
                                       (ex4_results, "ex4_pig_random_slope_unstructured")])
def test_vcomp_intervals_reproduce_seed(make, key):
    # the seed prints estimate, se, ci_lower, ci_upper for every variance component
    vc = make().vcomp
    expected = EXAMPLES[key]["vcomp"]
    assert list(vc.columns) == ["estimate", "std_err", "ci_lower", "ci_upper"]
    assert list(vc.index) == list(expected)
    for label, (_, _, lo, hi) in expected.items():
        row = vc.loc[label]
        # the intervals are computed from the printed estimate and se (rounded to 7 digits,
        # hence 1e-5 relative) and compared with the intervals Stata printed
        np.testing.assert_allclose([row["ci_lower"], row["ci_upper"]], [lo, hi], rtol=1e-5)


def test_vcomp_boundary_and_constrained_rows():
    res = ex1_results()
    from statsmodels_me.results import vcomp_frame
    params = np.array(res.params)
    params[2] = 0.0
    bse = np.array(res.bse)
    bse[3] = 0.0
    vc = vcomp_frame(res.info, params, bse)
    assert vc.loc["id: var(_cons)", "ci_lower"] == 0.0
    assert np.isnan(vc.loc["id: var(_cons)", "ci_upper"])
    assert vc.loc["var(Residual)", ["ci_lower", "ci_upper"]].isna().all()


def test_t_test_and_wald_test_with_names():
    res = ex1_results()
    tt = res.t_test("week = 0")
    # z printed in example 1: 159.18
    assert float(np.squeeze(tt.tvalue)) == pytest.approx(159.18, abs=0.005)
    assert tt.distribution == "norm"
    tt2 = res.t_test("week")
    assert float(np.squeeze(tt2.effect)) == pytest.approx(6.209896)
    # matrix form gives the same statistic
    wt = res.wald_test(np.array([[1.0, 0, 0, 0]]), scalar=True)
    assert wt.statistic == pytest.approx((6.209896 / 0.0390124) ** 2)
    wt_s = res.wald_test("week = 0", scalar=True)
    assert wt_s.statistic == pytest.approx(wt.statistic)
    # a variance-component name (not patsy-friendly) works as one token
    tv = res.t_test("/var(_cons[id]) = 14")
    assert float(np.squeeze(tv.tvalue)) == pytest.approx((14.81751 - 14) / 3.124225)


def test_ex3_inference_on_the_log_odds_scale():
    # the fake holds log odds ratios; Stata prints z, P>|z| and the eform interval of example 3
    # from the same log-scale coefficients: female z 1.46, P 0.144, [.9461357, 1.463944];
    # _cons z -0.90, P 0.367, [.4748457, 1.316655]; Wald chi2(1) = 2.14
    res = ex3_results()
    np.testing.assert_allclose(res.tvalues[["female", "_cons"]], [1.46, -0.90], atol=0.005)
    np.testing.assert_allclose(res.pvalues[["female", "_cons"]], [0.144, 0.367], atol=0.0005)
    ci = np.exp(res.conf_int().loc[["female", "_cons"]].to_numpy())
    np.testing.assert_allclose(ci, [EXAMPLES["ex3_admissions_binomial"]["ci"]["female"],
                                    EXAMPLES["ex3_admissions_binomial"]["ci"]["_cons"]],
                               rtol=1e-5)
    wald = res.wald_test("female = 0", scalar=True)
    assert wald.statistic == pytest.approx(2.14, abs=0.005)


def test_unknown_name_in_hypothesis_is_a_specification_error():
    res = ex1_results()
    with pytest.raises(SpecificationError, match="age"):
        res.t_test("age = 0")


def test_save_load_round_trip(tmp_path):
    res = ex4_results()
    path = tmp_path / "res.pickle"
    res.save(str(path))
    back = MEResults.load(str(path))
    pd.testing.assert_series_equal(back.params, res.params)
    pd.testing.assert_frame_equal(back.vcomp, res.vcomp)
    assert back.model.design.nobs == 432
    assert str(back.summary()) == str(res.summary())


def test_repr_html():
    res = ex1_results()
    html = res._repr_html_()
    assert "<table" in html and "var(Residual)" in html


def test_save_load_rebuilds_unpicklable_model(tmp_path):
    from me_fakes import ClosureModel, ex1_results_unpicklable_model
    res = ex1_results_unpicklable_model()
    path = tmp_path / "res.pickle"
    res.save(str(path))
    back = MEResults.load(str(path))
    assert isinstance(back.model, ClosureModel)
    assert back.model.design.nobs == 432
    pd.testing.assert_series_equal(back.params, res.params)
    assert str(back.summary()) == str(res.summary())


def test_save_load_real_mixed(tmp_path):
    # the package's own Mixed estimator on seed example 1 data
    import statsmodels_me.formula.api as smf
    from statsmodels_me import datasets
    res = smf.mixed("weight week || id:", data=datasets.load("pig")).fit()
    path = tmp_path / "mixed.pickle"
    res.save(str(path))
    back = MEResults.load(str(path))
    pd.testing.assert_series_equal(back.params, res.params)
    assert str(back.summary()) == str(res.summary())
    assert back.model.loglike(np.asarray(back.params)) == pytest.approx(res.llf, rel=1e-10)


def test_re_covariances_locate_each_level_in_params():
    # Stata's e(b) of example 4 holds the id-level parameters in positions 3-5 (0-based 2:5)
    import statsmodels_me.formula.api as smf
    res = smf.mixed(EXAMPLES["ex4_pig_random_slope_unstructured"]["command"],
                    data=datasets.load("pig")).fit()
    (cov, sl), = res.re_covariances
    assert sl == slice(2, 5)
    assert list(res.params.index[sl]) == ["/var(week[id])", "/var(_cons[id])",
                                          "/cov(week[id],_cons[id])"]
    assert cov.level_label == "id" and cov.kind_label == "Unstructured"
    assert res.latent_residual_variance is None


def test_latent_residual_variance_of_a_logit_glmm():
    # the standard logistic distribution has variance pi^2/3 ([ME] melogit, estat icc)
    import statsmodels_me.formula.api as smf
    res = smf.melogit("nadmitted female || department:, binomial(napplied)",
                      data=datasets.load("admissions")).fit()
    assert res.latent_residual_variance == pytest.approx(np.pi ** 2 / 3, rel=1e-14)
    (cov, sl), = res.re_covariances
    assert list(res.params.index[sl]) == ["/var(_cons[department])"]


def test_optimization_record_and_mle_retvals(tmp_path):
    import dataclasses

    from statsmodels_me.optimization import OptimizationRecord
    from statsmodels_me.results import MEResultsWrapper
    base = ex1_results()._results
    record = OptimizationRecord()
    record.add_stage("EM", iterations=0, evaluations=3)
    record.add_stage("Newton", iterations=4, evaluations=5)
    # g' H^-1 g = 1^2 / 2 + 2^2 / 4 = 1.5 and cond(diag(2, 4)) = 2
    record.finish([0.1, 0.2], -1014.9268, True, "Newton decrement", gradient=np.array([1.0, 2.0]),
                  hessian=np.diag([2.0, 4.0]))
    info = dataclasses.replace(base.info, iterations=4, optimization=record)
    res = MEResultsWrapper(MEResults(base.model, base.params, base.normalized_cov_params, info))
    assert res.optimization is record
    retvals = res.mle_retvals
    assert retvals["converged"] is True and retvals["iterations"] == 4
    assert retvals["fcalls"] == 8 and retvals["stages"] == ["EM", "Newton"]
    assert retvals["criterion"] == "Newton decrement"
    assert retvals["scaled_gradient"] == pytest.approx(1.5)
    assert retvals["hessian_condition"] == pytest.approx(2.0)
    path = tmp_path / "res.pickle"
    res.save(str(path))
    assert MEResults.load(str(path)).mle_retvals == retvals


def test_mle_retvals_without_a_record():
    res = ex1_results()
    assert res.optimization is None
    assert res.mle_retvals == {"converged": True, "iterations": 0}


@pytest.mark.parametrize("command, text, data", [
    ("mixed", "weight week || id:", "pig"),
    ("melogit", "nadmitted female || department:, binomial(napplied)", "admissions"),
])
def test_real_fits_report_their_optimization(command, text, data):
    import statsmodels_me.formula.api as smf
    res = getattr(smf, command)(text, data=datasets.load(data)).fit()
    record = res.optimization
    assert record is not None and record.stages
    retvals = res.mle_retvals
    assert retvals["converged"] is True and retvals["converged"] == res.converged
    assert retvals["fcalls"] == record.evaluations and retvals["stages"] == record.stages
