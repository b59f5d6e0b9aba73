"""Family registry: Stata's default links, supported links and input validation.

Reference: Stata's meglm documentation (defaults: bernoulli/binomial logit, poisson/nbinomial
log, gaussian identity, gamma log, ordinal logit).
"""
import numpy as np
import pytest
from statsmodels.genmod.families import links

from statsmodels_me.families import FAMILIES, get_family, registry, statsmodels_link
from statsmodels_me.families.registry import check_endog, n_aux
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM
from statsmodels_me.spec.errors import DataError, SpecificationError


@pytest.mark.parametrize("name,link", [
    ("bernoulli", "logit"), ("binomial", "logit"), ("poisson", "log"),
    ("nbinomial_mean", "log"), ("nbinomial_constant", "log"), ("gaussian", "identity"),
    ("gamma", "log"), ("ordinal", "logit")])
def test_stata_default_links(name, link):
    assert get_family(name).link == link
    fam, lk = registry.get_family(name)  # the engines' name-based lookup
    assert (fam.name, lk) == (name, link)


def test_unknown_family_and_link_quote_the_text():
    with pytest.raises(SpecificationError, match="'weibull'"):
        get_family("weibull")
    with pytest.raises(SpecificationError, match="'probit'.*'poisson'"):
        get_family("poisson", "probit")


def test_statsmodels_links_match_names():
    assert isinstance(statsmodels_link("cloglog"), links.CLogLog)
    assert isinstance(statsmodels_link("probit"), links.Probit)
    assert statsmodels_link("logit").inverse(0.0) == pytest.approx(0.5)


def test_aux_counts():
    assert n_aux("gaussian") == 1 and n_aux("bernoulli") == 0
    assert n_aux("ordinal", np.array([0, 2, 1, 3])) == 3
    assert [p.name for p in FAMILIES["nbinomial_mean"].ancillary()] == ["/lnalpha"]


@pytest.mark.parametrize("name,y", [
    ("bernoulli", [0, 2]), ("poisson", [1, -1]), ("poisson", [1.5, 2]), ("gamma", [0.0, 1]),
    ("ordinal", [0, 1.5]), ("gaussian", [np.nan, 1])])
def test_bad_responses_raise_data_error(name, y):
    with pytest.raises(DataError, match=name):
        check_endog(name, np.array(y, float), np.ones(2))


def test_engine_validates_inputs():
    y = np.array([0, 1, 1, 0.0])
    X = np.ones((4, 1))
    g = np.array([0, 0, 1, 1])
    with pytest.raises(SpecificationError, match="'quadrature'"):
        OneLevelGLMM(y, X, np.ones(4), g, "bernoulli", intmethod="quadrature")
    with pytest.raises(DataError, match="3"):
        OneLevelGLMM(y, X[:3], np.ones(4), g, "bernoulli")
    with pytest.raises(DataError, match="trials"):
        OneLevelGLMM(y, X, np.ones(4), g, "binomial")
    m = OneLevelGLMM(y, X, np.ones(4), g, "bernoulli")
    with pytest.raises(DataError, match="coefficients"):
        m.loglike(np.zeros(2), [], np.eye(1))


def test_engine_rejects_empty_data():
    with pytest.raises(DataError, match="no observations"):
        OneLevelGLMM(np.zeros(0), np.zeros((0, 1)), np.zeros((0, 1)), np.zeros(0, int),
                     "poisson")


@pytest.mark.parametrize("name,link,aux", [("poisson", "log", []), ("gamma", "log", [-0.3]),
                                           ("ordinal", "probit", [-0.5, 0.4])])
def test_engines_take_family_objects_for_names(name, link, aux):
    """The name-based registry functions the engines call accept a family object, so an
    engine built from get_family(...) is the engine built from the name."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 5)
    X = np.column_stack([np.ones(30), rng.normal(size=30)])
    y = rng.integers(0, 3, 30).astype(float) + (0.5 if name == "gamma" else 0.0)
    by_name = OneLevelGLMM(y, X, np.ones(30), g, name, link)
    by_object = OneLevelGLMM(y, X, np.ones(30), g, get_family(name, link))
    assert by_object.k_aux == by_name.k_aux == len(aux)
    beta, L = np.array([0.2, -0.1]), np.array([[0.6]])
    assert by_object.loglike(beta, aux, L) == by_name.loglike(beta, aux, L)


def test_obs_constant_cache_follows_aux():
    """ObsConstant gives obs_constant's arrays and recomputes when the ancillary parameter
    changes (NB2's constant depends on lnalpha)."""
    from statsmodels_me.families.registry import ObsConstant, obs_constant

    y = np.array([0.0, 1.0, 4.0, 9.0])
    t = np.ones(4)
    cache = ObsConstant("nbinomial_mean", y, t)
    for aux in ([0.3], [-1.2], [0.3]):
        c, dc = cache(np.array(aux))
        c0, dc0 = obs_constant("nbinomial_mean", y, t, np.array(aux))
        np.testing.assert_array_equal(c, c0)
        np.testing.assert_array_equal(dc, dc0)
