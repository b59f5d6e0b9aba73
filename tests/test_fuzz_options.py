"""Property test (issue 11): random commands in both syntaxes, with random options from the
option table (valid samples and junk values), never raise a raw exception.

Only the package's errors are allowed — SpecificationError, DataError, NotImplementedError
and TypeError, each with a message. Models are built but not fitted (a refused option stops
before any fit), on 24 rows, so 5,000 derandomized examples run in CI.
"""
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statsmodels_me.models.registry import model_class
from statsmodels_me.spec import SpecificationError, parse
from statsmodels_me.spec.errors import DataError
from statsmodels_me.spec.options import OPTIONS

ALLOWED = (SpecificationError, DataError, NotImplementedError, TypeError)
COMMANDS = ["mixed", "meglm", "melogit", "meprobit", "mepoisson", "menbreg", "meologit",
            "metobit"]
RESPONSE = {"mixed": "y", "meglm": "y", "melogit": "yb", "meprobit": "yb", "mepoisson": "yc",
            "menbreg": "yc", "meologit": "yo", "metobit": "y"}
VALUES = ["1", "0", "-1", "90", "1e-6", "x", "id", "robust", "cluster id", "ar 1, t(t)",
          "kroger", "nonsense", "laplace", "zero", "bfgs", "", "(", "1 2", "un", "inf", "nan",
          "10000000"]
COVARIATES = ["x", "t", "i.g", "c.x#i.g", "i.g##c.t", "_all", "zz", "L.x", "ibn.g"]


def _data():
    rng = np.random.default_rng(5)
    n = 24
    ids = np.repeat(np.arange(1, 7), 4)
    x = rng.normal(size=n)
    x[0] = np.inf
    return pd.DataFrame({"id": ids, "t": np.tile(np.arange(1, 5), 6), "x": x,
                         "g": np.tile([1, 2, 3], 8), "y": rng.normal(size=n),
                         "yb": rng.integers(0, 2, n), "yc": rng.poisson(2, n),
                         "yo": rng.integers(0, 3, n), "s": ["a", "b"] * 12})


DATA = _data()


@st.composite
def commands(draw):
    command = draw(st.sampled_from(COMMANDS))
    covs = draw(st.lists(st.sampled_from(COVARIATES), max_size=3))
    re_covs = draw(st.lists(st.sampled_from(["x", "t", "_cons", "x x"]), max_size=2))
    opts = []
    for name in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=3)):
        if OPTIONS[name].is_flag and draw(st.booleans()):
            opts.append(name)
        else:
            opts.append(f"{name}({draw(st.sampled_from(VALUES))})")
    formula = draw(st.booleans())
    y = RESPONSE[command]
    if formula:
        fixed = " + ".join(c.replace("i.", "C(").replace("##", "*") + ")" * c.startswith("i.")
                           if c.startswith("i.") else c for c in covs if "#" not in c) or "1"
        re_terms = " + ".join(c for c in re_covs if c != "_cons" and " " not in c) or "1"
        text = f"{y} ~ {fixed} + ({re_terms} | id)"
        keywords = {}
        for o in opts:
            name, _, arg = o.partition("(")
            keywords[name] = True if not arg else arg[:-1]
        return command, text, keywords
    re_part = " ".join(c for c in re_covs if c != "_cons")
    text = f"{command} {y} {' '.join(covs)} || id: {re_part}"
    if opts:
        text += ", " + " ".join(opts)
    return command, text, {}


def _run(command, text, keywords):
    spec = parse(text, command=command, **keywords)
    cls = model_class(spec.command)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls.from_text(text, DATA, **keywords)


@settings(max_examples=5000, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(commands())
def test_no_raw_exception(case):
    command, text, keywords = case
    try:
        _run(command, text, keywords)
    except ALLOWED as err:
        assert str(err), f"{type(err).__name__} without a message for {text!r} {keywords}"
