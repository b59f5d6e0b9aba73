"""Hand-built models and FitInfos carrying numbers printed in the seed (Stata [ME] me).

Reference numbers: Stata's [ME] me entry, examples 1, 3, 4, 7 and 8, as copied into
statsmodels_me/datasets/seed_examples.json.
The covariance matrices are diagonal with the printed standard errors: enough to check labels,
tests, intervals and layout (the off-diagonal terms are not printed by Stata).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.base.model import LikelihoodModel

from statsmodels_me import datasets
from statsmodels_me.design.design import Design, Level, REBlock
from statsmodels_me.results import FitInfo, LRTest, MEResults, MEResultsWrapper, VCompGroup
from statsmodels_me.spec.model_spec import Factor, ModelSpec, REEquation, Term


class FakeMEModel(LikelihoodModel):
    """Minimal stand-in for an estimator: a Design and the full list of parameter names."""

    def __init__(self, design, param_names):
        self.design = design
        endog = pd.Series(design.endog, name=design.endog_names[0])
        exog = pd.DataFrame(design.exog, columns=design.exog_names)
        super().__init__(endog, exog)
        self._all_names = list(param_names)
        self.nobs = design.nobs

    @property
    def exog_names(self):
        return self._all_names


def _one_level_design(df, depvar, covariates, level, re_names, command):
    n = len(df)
    exog = np.column_stack([df[c].to_numpy(float) for c in covariates] + [np.ones(n)])
    codes_raw, uniques = pd.factorize(df[level], sort=True)
    z_cols = [df[c].to_numpy(float) for c in re_names if c != "_cons"] + [np.ones(n)]
    block = REBlock(names=list(re_names), Z=np.column_stack(z_cols),
                    covariance="unstructured" if len(re_names) > 1 else "identity")
    lev = Level(path=(level,), label=level, codes=codes_raw.astype(np.int64),
                n_groups=len(uniques), group_values=pd.Index(uniques), blocks=[block])
    terms = tuple(Term((Factor(c),)) for c in covariates)
    re_terms = tuple(Term((Factor(c),)) for c in re_names if c != "_cons")
    spec = ModelSpec(command=command, response=(depvar,), fixed=terms,
                     random=(REEquation(level=level, path=(level,), terms=re_terms),))
    return Design(spec=spec, endog=df[depvar].to_numpy(float), endog_names=[depvar],
                  exog=exog, exog_names=list(covariates) + ["_cons"], levels=[lev],
                  nested=True, crossed=False, row_index=df.index)


def chibar2_p(stat):
    return 0.5 * stats.chi2.sf(stat, 1)


def ex1_results():
    """Seed example 1: ``mixed weight week || id:``."""
    df = datasets.load("pig")
    design = _one_level_design(df, "weight", ["week"], "id", ["_cons"], "mixed")
    names = ["week", "_cons", "/var(_cons[id])", "/var(e.weight)"]
    params = np.array([6.209896, 19.35561, 14.81751, 4.383264])
    se = np.array([0.0390124, 0.5974059, 3.124225, 0.3163348])
    info = FitInfo(
        title="Mixed-effects ML regression", llf=-1014.9268, k_fe=2,
        vcomp_groups=[VCompGroup("id", "Identity", [("var(_cons)", 2)])],
        residual=("var(Residual)", 3), wald=(25337.49, 1, 0.0),
        lr_test=LRTest(472.65, 1, "chibar2(01)", chibar2_p(472.65), "linear model"),
        method="ML")
    model = FakeMEModel(design, names)
    return MEResultsWrapper(MEResults(model, params, np.diag(se ** 2), info))


def ex4_results():
    """Seed example 4: ``mixed weight week || id: week, covariance(unstructured)``."""
    df = datasets.load("pig")
    design = _one_level_design(df, "weight", ["week"], "id", ["week", "_cons"], "mixed")
    names = ["week", "_cons", "/var(week[id])", "/var(_cons[id])", "/cov(week[id],_cons[id])",
             "/var(e.weight)"]
    params = np.array([6.209896, 19.35561, 0.3715251, 6.823363, -0.0984378, 1.596829])
    se = np.array([0.0910745, 0.3996387, 0.0812958, 1.566194, 0.2545767, 0.123198])
    info = FitInfo(
        title="Mixed-effects ML regression", llf=-868.96185, k_fe=2,
        vcomp_groups=[VCompGroup("id", "Unstructured", [("var(week)", 2), ("var(_cons)", 3),
                                                        ("cov(week,_cons)", 4)])],
        residual=("var(Residual)", 5), wald=(4649.17, 1, 0.0),
        lr_test=LRTest(764.58, 3, "chi2(3)", stats.chi2.sf(764.58, 3), "linear model"))
    model = FakeMEModel(design, names)
    return MEResultsWrapper(MEResults(model, params, np.diag(se ** 2), info))


def ex3_results():
    """Seed example 3: ``melogit nadmitted female || department:, binomial(napplied) or``.

    Coefficients are the logs of the printed odds ratios; their log-scale standard errors
    are the printed ones divided by the odds ratio (the inverse of Stata's eform delta method).
    """
    df = datasets.load("admissions")
    design = _one_level_design(df, "nadmitted", ["female"], "department", ["_cons"], "melogit")
    names = ["female", "_cons", "/var(_cons[department])"]
    odds = np.array([1.176898, 0.7907009])
    se_or = np.array([0.1310535, 0.2057191])
    params = np.r_[np.log(odds), 1.345383]
    se = np.r_[se_or / odds, 0.460702]
    info = FitInfo(
        title="Mixed-effects logistic regression", llf=-140.61628, k_fe=2,
        vcomp_groups=[VCompGroup("department", "Identity", [("var(_cons)", 2)])],
        eform="Odds ratio", wald=(2.14, 1, stats.chi2.sf(2.14, 1)),
        lr_test=LRTest(318.77, 1, "chibar2(01)", chibar2_p(318.77), "logistic model"),
        llf_fixed=-299.99934, intmethod="mvaghermite", intpoints=7,
        extra_header=[("Binomial variable", "napplied")],
        notes=["Estimates are transformed only in the first equation to odds ratios.",
               "_cons estimates baseline odds (conditional on zero random effects)."])
    model = FakeMEModel(design, names)
    return MEResultsWrapper(MEResults(model, params, np.diag(se ** 2), info))


def ex7_results():
    """Seed example 7: ``meoprobit thk prethk cc##tv || school: || class:`` (three levels)."""
    df = datasets.load("tvsfpors")
    n = len(df)
    cc, tv = df["cc"].to_numpy(float), df["tv"].to_numpy(float)
    exog = np.column_stack([df["prethk"].to_numpy(float), cc, tv, cc * tv])
    levels = []
    for path in (("school",), ("school", "class")):
        keys = df[list(path)].apply(tuple, axis=1)
        codes, uniques = pd.factorize(keys, sort=True)
        block = REBlock(names=["_cons"], Z=np.ones((n, 1)), covariance="identity")
        levels.append(Level(path=path, label=">".join(path), codes=codes.astype(np.int64),
                            n_groups=len(uniques), group_values=pd.Index(uniques),
                            blocks=[block]))
    spec = ModelSpec(command="meoprobit", response=("thk",), constant=False,
                     random=(REEquation("school", ("school",)),
                             REEquation("class", ("school", "class"))))
    design = Design(spec=spec, endog=df["thk"].to_numpy(float), endog_names=["thk"],
                    exog=exog, exog_names=["prethk", "1.cc", "1.tv", "1.cc#1.tv"],
                    levels=levels, nested=True, crossed=False, row_index=df.index)
    names = ["prethk", "1.cc", "1.tv", "1.cc#1.tv", "/cut1", "/cut2", "/cut3",
             "/var(_cons[school])", "/var(_cons[school>class])"]
    params = np.array([0.238841, 0.5254813, 0.1455573, -0.2426203, -0.074617, 0.6863046,
                       1.413686, 0.0186456, 0.0519974])
    se = np.array([0.0231446, 0.1285816, 0.1255827, 0.1811999, 0.1029791, 0.1034813,
                   0.1064889, 0.0160226, 0.0224014])
    info = FitInfo(
        title="Mixed-effects oprobit regression", llf=-2116.6981, k_fe=4,
        ancillary=[4, 5, 6],
        vcomp_groups=[VCompGroup("school", "Identity", [("var(_cons)", 7)]),
                      VCompGroup("school>class", "Identity", [("var(_cons)", 8)])],
        wald=(124.20, 4, stats.chi2.sf(124.20, 4)), llf_fixed=-2127.7612,
        lr_test=LRTest(22.13, 2, "chi2(2)", stats.chi2.sf(22.13, 2), "oprobit model"),
        intmethod="mvaghermite", intpoints=7)
    model = FakeMEModel(design, names)
    return MEResultsWrapper(MEResults(model, params, np.diag(se ** 2), info))


def ex8_results():
    """Seed example 8: ``mixed weight week || _all: R.id || _all: R.week`` (crossed)."""
    df = datasets.load("pig")
    n = len(df)
    levels = []
    for var in ("id", "week"):
        codes, uniques = pd.factorize(df[var], sort=True)
        block = REBlock(names=[f"R.{var}"], Z=None, covariance="identity",
                        factor_codes=codes.astype(np.int64), factor_levels=np.asarray(uniques))
        levels.append(Level(path=("_all",), label="_all", codes=np.zeros(n, np.int64),
                            n_groups=1, group_values=pd.Index([1]), blocks=[block]))
    spec = ModelSpec(command="mixed", response=("weight",), fixed=(Term((Factor("week"),)),),
                     random=(REEquation("_all", ("_all",), constant=False, factor="id"),
                             REEquation("_all", ("_all",), constant=False, factor="week")))
    design = Design(spec=spec, endog=df["weight"].to_numpy(float), endog_names=["weight"],
                    exog=np.column_stack([df["week"].to_numpy(float), np.ones(n)]),
                    exog_names=["week", "_cons"], levels=levels, nested=False, crossed=True,
                    row_index=df.index)
    names = ["week", "_cons", "/var(R.id[_all])", "/var(R.week[_all])", "/var(e.weight)"]
    params = np.array([6.209896, 19.35561, 14.83623, 0.0849874, 4.297328])
    se = np.array([0.0539313, 0.6333982, 3.126142, 0.0868856, 0.3134404])
    info = FitInfo(
        title="Mixed-effects ML regression", llf=-1013.824, k_fe=2,
        vcomp_groups=[VCompGroup("_all", "Identity", [("var(R.id)", 2)]),
                      VCompGroup("_all", "Identity", [("var(R.week)", 3)])],
        residual=("var(Residual)", 4), wald=(13258.28, 1, 0.0),
        lr_test=LRTest(474.85, 2, "chi2(2)", stats.chi2.sf(474.85, 2), "linear model"))
    model = FakeMEModel(design, names)
    return MEResultsWrapper(MEResults(model, params, np.diag(se ** 2), info))


class ClosureModel(FakeMEModel):
    """A model holding a closure (like a numerical engine): not picklable as is."""

    def __init__(self, design):
        super().__init__(design, ["week", "_cons", "/var(_cons[id])", "/var(e.weight)"])
        self.engine = lambda theta: theta

    def set_param_names(self, names):
        self._all_names = list(names)


def ex1_results_unpicklable_model():
    """Seed example 1 numbers on a model that cannot be pickled directly."""
    res = ex1_results()._results
    model = ClosureModel(res.model.design)
    return MEResultsWrapper(MEResults(model, res.params, res.normalized_cov_params, res.info))
