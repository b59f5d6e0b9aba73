"""Sphinx directive ``me-options``: the option table of a command, probed at build time.

The rows come from the package's own option table (``statsmodels_me.spec.options.OPTIONS``):
the full Stata name, its shortest abbreviation and the Python keyword. The status column is
found by running the package while the documentation is built: each option is typed into a
small model of the command (simulated data, fixed seed) and fitted.

* The package raises -> **refused**, with the error's first line.
* It fits, and the option is one this page knows the package acts on (``HONOURED``) -> **yes**.
* It fits, and the option is not in ``HONOURED`` -> **accepted, no effect yet**: it is read
  (Stata text stays valid) but changes nothing.

Usage::

    .. me-options::
       :command: mixed
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: options the estimators act on (checked against the code and its tests); model-defining
#: options of the random-effects equations are here too
HONOURED = {
    "mixed": {"covariance", "noconstant", "reml", "mle", "emiterate", "emtolerance",
              "tolerance", "ltolerance", "iterate"},
    "glm": {"covariance", "noconstant", "family", "link", "binomial", "exposure", "offset",
            "dispersion", "constraints", "intmethod", "intpoints", "or", "irr", "eform"},
}

#: Stata text and Python keyword of each option that takes an argument (flags: ``name`` and
#: ``name=True``)
EXAMPLES = {
    "covariance": ("|| id: x, covariance(unstructured)", 'covariance={"id": "unstructured"}'),
    "fweight": ("|| id:, fweight(wj)", "(Stata text only; [fw=w]: weight=('fw', 'w'))"),
    "pweight": ("|| id:, pweight(wj)", "(Stata text only; [pw=w]: weight=('pw', 'w'))"),
    "collinear": ("|| id:, collinear", "collinear=True"),
    "family": ("family(poisson)", 'family="poisson"'),
    "link": ("link(probit)", 'link="probit"'),
    "binomial": ("binomial(n)", 'binomial="n"  (or a number)'),
    "exposure": ("exposure(t)", 'exposure="t"'),
    "offset": ("offset(off)", 'offset="off"'),
    "dispersion": ("dispersion(constant)", 'dispersion="constant"'),
    "ll": ("ll(0)", "ll=0"),
    "ul": ("ul(10)", "ul=10"),
    "distribution": ("distribution(weibull)", 'distribution="weibull"'),
    "constraints": ("constraints(1)", 'constraints={1: "_b[/var(_cons[id])] = 1"}'),
    "residuals": ("residuals(ar 1, t(t))", 'residuals="ar 1, t(t)"'),
    "pwscale": ("pwscale(size)", 'pwscale="size"'),
    "dfmethod": ("dfmethod(kroger)", 'dfmethod="kroger"'),
    "intmethod": ("intmethod(laplace)", 'intmethod="laplace"'),
    "intpoints": ("intpoints(12)", "intpoints=12"),
    "startvalues": ("startvalues(zero)", 'startvalues="zero"'),
    "startgrid": ("startgrid(0.1 1 10)", 'startgrid="0.1 1 10"'),
    "from": ("from(b0)", 'from="b0"'),
    "vce": ("vce(robust)", 'vce="robust"'),
    "emiterate": ("emiterate(50)", "emiterate=50"),
    "emtolerance": ("emtolerance(1e-8)", "emtolerance=1e-8"),
    "iterate": ("iterate(1)", "iterate=1"),
    "tolerance": ("tolerance(1e-7)", "tolerance=1e-7"),
    "ltolerance": ("ltolerance(1e-8)", "ltolerance=1e-8"),
    "nrtolerance": ("nrtolerance(1e-6)", "nrtolerance=1e-6"),
    "technique": ("technique(bfgs)", 'technique="bfgs"'),
    "level": ("level(90)", "level=90"),
    "cformat": ("cformat(%9.3f)", 'cformat="%9.3f"'),
    "pformat": ("pformat(%5.2f)", 'pformat="%5.2f"'),
    "sformat": ("sformat(%8.2f)", 'sformat="%8.2f"'),
}

#: the commands whose options are probed, and the model each probe adds an option to
BASE_MODELS = {
    "mixed": "y x || id:,",
    "meglm": "yb x || id:, family(bernoulli) intmethod(laplace)",
    "melogit": "yb x || id:, intmethod(laplace)",
    "meprobit": "yb x || id:, intmethod(laplace)",
    "mecloglog": "yb x || id:, intmethod(laplace)",
    "meologit": "yo x || id:, intmethod(laplace)",
    "meoprobit": "yo x || id:, intmethod(laplace)",
    "mepoisson": "yc x || id:, intmethod(laplace)",
    "menbreg": "yc x || id:, intmethod(laplace)",
}

_PROBES: dict[str, dict[str, tuple[str, str]]] = {}


def probe_data() -> pd.DataFrame:
    """30 groups of 6 observations, every kind of response the commands take."""
    rng = np.random.default_rng(20261203)
    g = np.repeat(np.arange(1, 31), 6)
    x = rng.normal(size=g.size)
    u = rng.normal(scale=0.8, size=30)[g - 1]
    eta = 0.3 + 0.7 * x + u
    return pd.DataFrame({
        "id": g, "x": x, "x2": rng.normal(size=g.size), "t": np.tile(np.arange(1, 7), 30),
        "y": eta + rng.normal(size=g.size),
        "yb": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int),
        "yo": np.digitize(eta + rng.logistic(size=g.size), [-0.5, 1.0]) + 1,
        "yc": rng.poisson(np.exp(0.3 * eta)),
        "yk": rng.binomial(5, 1 / (1 + np.exp(-eta))),
        "n": np.full(g.size, 5),
        "off": np.zeros(g.size),
        "w": np.ones(g.size), "wj": np.ones(g.size),
    })


def _probe_text(command: str, name: str) -> str:
    """The base model of ``command`` with option ``name`` typed where Stata expects it."""
    base = BASE_MODELS[command]
    model, _, opts = base.partition(",")
    fixed, _, level = model.partition("||")
    opts = opts.strip()
    if name == "noconstant":
        return f"{fixed.strip()}, noconstant || {level.strip()}, {opts}"
    if name in ("covariance", "fweight", "pweight", "collinear"):
        return f"{fixed.strip()} {EXAMPLES[name][0]} {opts}"
    if name == "pwscale":
        # pwscale() rescales observation-level sampling weights, which it requires
        return f"{fixed.strip()} [pw=w] || {level.strip()}, {opts} {EXAMPLES[name][0]}"
    if name == "binomial":
        model = model.replace("yb", "yk")
        opts = opts.replace("family(bernoulli)", "")
    typed = EXAMPLES.get(name, (name, ""))[0]
    if name == "intmethod":
        typed = "intmethod(mcaghermite)"
    if command == "meglm" and name == "family":
        opts = opts.replace("family(bernoulli)", "")
    return f"{model.strip()}, {opts} {typed}"


def probe(command: str) -> dict[str, tuple[str, str]]:
    """option -> (status, detail) for every option of ``command``."""
    if command in _PROBES:
        return _PROBES[command]
    import statsmodels_me.formula.api as smf
    from statsmodels_me.spec.options import OPTIONS

    data = probe_data()
    honoured = HONOURED["mixed" if command == "mixed" else "glm"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the base model must fit, or every row would read "refused" for the wrong reason
        getattr(smf, command)(BASE_MODELS[command].rstrip(","), data=data).fit()
    out = {}
    for name, opt in OPTIONS.items():
        if command not in opt.commands:
            continue
        text = _probe_text(command, name)
        kw = {"constraints": {1: "_b[/var(_cons[id])] = 1"}} if name == "constraints" else {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(smf, command)(text, data=data, **kw).fit()
        except Exception as exc:  # noqa: BLE001 - the refusal is what is documented
            first = str(exc).splitlines()[0] if str(exc) else ""
            out[name] = ("refused", f"{type(exc).__name__}: {first}")
            continue
        out[name] = ("yes", "") if name in honoured else ("accepted, no effect yet", "")
    _PROBES[command] = out
    return out


def _cell(content, code=False):
    entry = nodes.entry()
    para = nodes.paragraph()
    para += nodes.literal(content, content) if code else nodes.Text(content)
    entry += para
    return entry


class MeOptions(SphinxDirective):
    """Table of a command's options with the Python keyword and the probed status."""

    option_spec = {"command": directives.unchanged_required}

    def run(self):
        from statsmodels_me.spec.options import KEYWORD_ALIASES, OPTIONS

        command = self.options["command"]
        try:
            status = probe(command)
        except Exception as exc:  # noqa: BLE001 - reported as a build warning
            logger.warning("me-options: the base model of %s does not fit: %s: %s", command,
                           type(exc).__name__, exc, location=self.get_location())
            return []
        keyword_of = {v: k for k, v in KEYWORD_ALIASES.items() if k != "cov"}
        table = nodes.table(classes=["me-options"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (28, 30, 18, 24):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        row = nodes.row()
        for title in ("Stata option (shortest form)", "Python keyword", "status", "detail"):
            row += _cell(title)
        head += row
        group += head
        body = nodes.tbody()
        for name, opt in OPTIONS.items():
            if name not in status:
                continue
            stata, python = EXAMPLES.get(name, (None, None))
            kw = keyword_of.get(name, name)
            if stata is None:
                stata, python = name, f"{kw}=True"
            short = name[:opt.minlen]
            row = nodes.row()
            row += _cell(f"{stata}  ({short})" if short != name else stata, code=True)
            row += _cell(python, code=not python.startswith("("))
            row += _cell(status[name][0])
            row += _cell(status[name][1])
            body += row
        group += body
        return [table]


def setup(app):
    app.add_directive("me-options", MeOptions)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
