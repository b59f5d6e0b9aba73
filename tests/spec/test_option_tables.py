"""Every option of every command is consumed or refused: the option table is the one truth.

For each option of :data:`statsmodels_me.spec.options.OPTIONS` and each command that takes it
(Stata's syntax diagrams of [ME] mixed, meglm and the shortcuts), a model is built on tiny data
with the option typed in the command. A refused option must raise ``NotImplementedError``
naming it; an accepted one must reach ``model.options`` and be read by the layer the table
names (its key appears in that layer's source) — display options by the summary, whose effect
each has is tested in tests/results/test_results_summary.py. Options the table calls
``default`` must leave the fit and its summary unchanged.
"""
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

import statsmodels_me
from statsmodels_me.models.registry import model_class
from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.options import _ALL, OPTIONS, USES

PACKAGE = pathlib.Path(statsmodels_me.__file__).parent

#: a valid argument of every option that takes one
SAMPLES = {
    "family": "poisson", "link": "log", "binomial": "n", "exposure": "size", "offset": "x",
    "dispersion": "constant", "ll": "0", "ul": "100", "distribution": "weibull",
    "constraints": "1", "residuals": "ar 1, t(week)", "pwscale": "size",
    "dfmethod": "residual", "intmethod": "laplace", "intpoints": "3", "startvalues": "zero",
    "startgrid": ".1 1", "from": "b0", "vce": "robust", "emiterate": "5",
    "emtolerance": "1e-6", "iterate": "5", "tolerance": "1e-5", "ltolerance": "1e-6",
    "nrtolerance": "1e-4", "technique": "bfgs", "level": "90", "cformat": "%9.3f",
    "pformat": "%5.2f", "sformat": "%8.2f",
}

#: the response each command models
RESPONSE = {"mixed": "y", "meglm": "y", "melogit": "yb", "meprobit": "yb", "mecloglog": "yb",
            "meologit": "yo", "meoprobit": "yo", "mepoisson": "yc", "menbreg": "yc",
            "meintreg": "ylo yhi"}

#: where each use's consumers live
CONSUMERS = {
    "model": ["models", "objectives", "families"],
    "design": ["design"],
    "display": ["results/summary.py", "families/eform.py"],
}


def _data():
    rng = np.random.default_rng(11)
    n, groups = 48, 8
    ids = np.repeat(np.arange(1, groups + 1), n // groups)
    x = rng.normal(size=n)
    u = rng.normal(size=groups)[ids - 1]
    eta = 0.5 * x + u
    return pd.DataFrame({
        "id": ids, "x": x, "week": np.tile(np.arange(1, n // groups + 1), groups),
        "y": eta + rng.normal(size=n), "yb": (eta + rng.logistic(size=n) > 0).astype(int),
        "yc": rng.poisson(np.exp(0.3 * eta)), "yo": np.digitize(eta + rng.normal(size=n),
                                                                 [-0.5, 0.5]),
        "n": np.full(n, 3), "size": rng.uniform(1, 2, size=n)}).assign(
            ylo=lambda d: d["y"] - 1.0, yhi=lambda d: d["y"] + 1.0,
            t=lambda d: np.exp(0.3 * d["x"]) + 0.5, d=(np.arange(n) % 3 > 0).astype(int))


DATA = _data()


def _implemented(command):
    try:
        model_class(command)
    except NotImplementedError:
        return False
    return True


def _cases():
    for name, opt in OPTIONS.items():
        if opt.scope == "re":
            continue
        for command in opt.commands:
            yield name, command


def _typed(name):
    return name if OPTIONS[name].is_flag else f"{name}({SAMPLES[name]})"


def _text(name, command):
    if name == "binomial":
        return f"{command} yb x || id:, binomial(n)"
    if name == "pwscale":
        # pwscale() rescales observation-level sampling weights, which it requires
        return f"{command} y x [pw=size] || id:, pwscale(size)"
    if name == "noconstant":
        extra = ", distribution(weibull)" if command == "mestreg" else ""
        return f"{command} {RESPONSE.get(command, 'y')} x, noconstant || id:{extra}"
    y = RESPONSE.get(command, "y")
    if name in ("family", "link"):
        y = "yc"
    if command == "mestreg" and name != "distribution":
        return f"{command} {y} x || id:, distribution(weibull) {_typed(name)}"
    return f"{command} {y} x || id:, {_typed(name)}"


def _build(text, **kw):
    spec = parse(text, constraints={1: "_b[x] = 0.5"}, **kw)
    cls = model_class(spec.command)
    if spec.command == "mestreg":
        # the survival columns are given as the stset equivalent
        return cls.from_text(text, DATA, stset="t, failure(d)",
                             constraints={1: "_b[x] = 0.5"}, **kw)
    from statsmodels_me.design import build_design
    design = build_design(spec, DATA)
    return cls.class_for_design(design)(design=design)


def _sources(use):
    out = []
    for where in CONSUMERS[use]:
        path = PACKAGE / where
        files = [path] if path.suffix == ".py" else sorted(path.glob("*.py"))
        out += [f.read_text() for f in files]
    return "\n".join(out)


def test_every_option_has_a_use_and_every_argument_a_sample():
    for name, opt in OPTIONS.items():
        assert opt.use in USES, name
        assert opt.is_flag or opt.scope == "re" or name in SAMPLES, name
        assert set(opt.refused_for) <= set(_ALL), name


@pytest.mark.parametrize("name, command", sorted(_cases()))
def test_option_is_consumed_or_refused(name, command):
    text = _text(name, command)
    spec = parse(text, constraints={1: "_b[x] = 0.5"})
    opt = OPTIONS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not _implemented(command):
            with pytest.raises(NotImplementedError, match=command):
                model_class(command)
            return
        refused = any(OPTIONS[k].refused(command, v) for k, v in spec.options.items()
                      if k in OPTIONS)
        if refused:
            with pytest.raises(NotImplementedError, match=rf"option {name}\b"):
                _build(text)
            return
        model = _build(text)
    if opt.use == "spec":
        return          # consumed by the parser: structure, constant or constraints
    keys = [k for k in opt.parser(name, None if opt.is_flag else SAMPLES[name])
            if k != "mle"] or ["reml"]
    for key in keys:
        assert key in model.options, (name, key)
        if opt.use in CONSUMERS:
            source = _sources(opt.use)
            assert f'"{key}"' in source or f"'{key}'" in source, \
                f"option {name} ({key}) is accepted but no {opt.use} module reads it"
        else:
            assert opt.use == "default", name


@pytest.mark.parametrize("name", ["collinear"])
def test_random_equation_options_refused(name):
    with pytest.raises(NotImplementedError, match=name):
        _build(f"mixed y x || id: x, {name}")


@pytest.mark.parametrize("kind", ["fweight", "pweight"])
def test_level_weights_are_read(kind):
    # a constant level weight of 3: the weighted log likelihood is three times the
    # unweighted one (every cluster replicated three times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = _build("mixed y x || id:")
        weighted = _build(f"mixed y x || id:, {kind}(n)")
    theta = plain.theta_start()
    s2 = 1.3
    np.testing.assert_allclose(weighted.objective.loglike_profile_s2(theta, s2),
                               3 * plain.objective.loglike_profile_s2(theta, s2), rtol=1e-12)


@pytest.mark.parametrize("kind", ["fweight", "pweight"])
def test_level_weights_are_read_by_meglm(kind):
    # a constant level weight of 3 triples the log likelihood (every cluster three times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = _build("melogit yb x || id:")
        weighted = _build(f"melogit yb x || id:, {kind}(n)")
    x = np.array([0.3, -0.2, 0.7])
    assert weighted.objective.value(x) == pytest.approx(3 * plain.objective.value(x),
                                                        rel=1e-12)
    assert weighted.vce.robust == (kind == "pweight")


@pytest.mark.parametrize("kind", ["fweight", "pweight"])
def test_level_weights_are_read_by_metobit(kind):
    # a constant level weight of 3 triples the log likelihood (every cluster three times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = _build("metobit y x || id:, ll(-1)")
        weighted = _build(f"metobit y x || id:, ll(-1) {kind}(n)")
    x = np.array([0.3, -0.2, 0.1, 0.7])
    assert weighted.objective.value(x) == pytest.approx(3 * plain.objective.value(x),
                                                        rel=1e-12)
    assert weighted.vce.robust == (kind == "pweight")


def test_default_options_change_nothing():
    defaults = [n for n, d in OPTIONS.items() if d.use == "default" and "mixed" in d.commands]
    assert set(defaults) == {"matsqrt", "nolog", "variance", "nocnsreport"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = _build("mixed y x || id:").fit()
        res = _build("mixed y x || id:, " + " ".join(defaults)).fit()
    np.testing.assert_array_equal(np.asarray(res.params), np.asarray(plain.params))
    assert str(res.summary()) == str(plain.summary())


def test_mixed_fit_controls_are_read():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = _build("mixed y x || id:").fit()
        stopped = _build("mixed y x || id:, iterate(0) emiterate(0)").fit()
        reml = _build("mixed y x || id:, reml").fit()
    assert full.converged and not stopped.converged
    assert abs(reml.llf - full.llf) > 1e-6


def test_meglm_model_options_are_read():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = _build("mepoisson yc x || id:").fit()
        lap = _build("mepoisson yc x || id:, intmethod(laplace)").fit()
        off = _build("mepoisson yc x || id:, offset(x)").fit()
        irr = _build("mepoisson yc x || id:, irr").fit()
    assert abs(lap.llf - base.llf) > 1e-8
    assert abs(off.params["x"] - base.params["x"]) > 0.5       # the offset moves x's slope by 1
    assert "IRR" in str(irr.summary()) and "IRR" not in str(base.summary())


@pytest.mark.parametrize("text, word", [
    ("mixed y x || id:, residuals(nonsense)", "residuals"),
    ("mixed y x || id:, residuals(ar 0, t(week))", "residuals"),
    ("mixed y x || id:, dfmethod(foo)", "dfmethod"),
    ("mixed y x || id:, iterate(-1)", "iterate"),
    ("mixed y x || id:, vce(sandwich)", "vce"),
    ("mixed y x || id:, vce(cluster)", "vce"),
    ("mixed y x || id:, technique(newton)", "technique"),
    ("mixed y x || id:, level(100)", "level"),
    ("mixed y x || id:, tolerance(-1)", "tolerance"),
    ("melogit yb x || id:, startvalues(random)", "startvalues"),
    ("melogit yb x || id:, intpoints(0)", "intpoints"),
])
def test_invalid_values_are_specification_errors(text, word):
    with pytest.raises(SpecificationError, match=word):
        parse(text)


@pytest.mark.parametrize("text, word", [
    ("mixed y x || id:, nrtolerance(1e-4)", "nrtolerance"),
    ("mixed y x || id:, vce(opg)", "vce"),
    ("melogit yb x || id:, technique(bfgs)", "technique"),
    ("melogit yb x || id:, from(b0)", "from"),
    ("melogit yb x || id:, startvalues(zero)", "startvalues"),
    ("melogit yb x || id:, startgrid(.1 1)", "startgrid"),
    ("melogit yb x || id:, noestimate", "noestimate"),
    ("mixed y x || id:, estmetric", "estmetric"),
])
def test_issue11_ignored_options_now_refused(text, word):
    with pytest.raises(NotImplementedError, match=rf"option {word}"):
        _build(text)


def test_vce_oim_is_the_default():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _build("mixed y x || id:").fit()
        b = _build("mixed y x || id:, vce(oim)").fit()
    np.testing.assert_array_equal(np.asarray(a.bse), np.asarray(b.bse))


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="bogus"):
        parse("mixed y x || id:", bogus=1)
    with pytest.raises(TypeError, match="bogus"):
        statsmodels_me.models.mixed.Mixed.from_text("y x || id:", DATA, bogus=1)


def test_keywords_go_through_the_same_table():
    with pytest.raises(NotImplementedError, match="vce"):
        _build("mixed y x || id:", vce="opg")
    with pytest.raises(SpecificationError, match="dfmethod"):
        parse("mixed y x || id:", dfmethod="foo")
    with pytest.raises(SpecificationError, match="iterate"):
        parse("mixed y x || id:", iterate=-1)


def test_menl_options_refused_or_validated():
    from statsmodels_me.spec.menl import _NOT_IMPLEMENTED, parse_menl
    base = "menl y = {b0} + {b1}*x + {U0[id]}"
    for name in _NOT_IMPLEMENTED:
        if name in ("if", "in", "t"):
            continue
        with pytest.raises(NotImplementedError, match=name):
            parse_menl(f"{base}, {name}(1)")
    with pytest.raises(SpecificationError, match="iterate"):
        parse_menl(f"{base}, iterate(-1)")
    with pytest.raises(TypeError, match="bogus"):
        parse_menl(base, bogus=1)
