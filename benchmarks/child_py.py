"""Fit one workload with one Python implementation and report as JSON.

Run by ``benchmarks/run.py`` in a fresh process, with the interpreter of the
implementation's own virtual environment, so this file imports nothing from
the repository: only the standard library, pandas and the implementation.

Protocol: the last stdout line is ``RESULT <json>`` with keys ``status``
(``ok``, ``not implemented``, ``not applicable``, ``error``), ``times``
(seconds of each fit), ``llf``, ``maxrss_mb`` (peak resident memory of this
process), ``version`` and ``message``.

Usage::

    python child_py.py IMPL WORKLOAD CSV [--repeats 3] [--budget 600]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import traceback


class NotImplementedInImpl(Exception):
    """The implementation has no command for this workload (yet)."""


class NotApplicable(Exception):
    """The implementation cannot fit this model class at all."""


W4_RHS = "Anger + GenderM + btypescold + btypeshout + situself"

# --------------------------------------------------------------- statsmodels_me


def _missing_piece(exc):
    """True if ``exc`` says a statsmodels_me module or name is not written yet."""
    return isinstance(exc, ImportError) and "statsmodels_me" in f"{exc.name} {exc}"


def _smf():
    try:
        import statsmodels_me.formula.api as smf
    except ImportError as exc:
        if _missing_piece(exc):
            raise NotImplementedInImpl(f"{type(exc).__name__}: {exc}") from None
        raise
    return smf


def _me_command(name):
    smf = _smf()
    if not hasattr(smf, name):
        raise NotImplementedInImpl(f"statsmodels_me.formula.api has no {name}()")
    return getattr(smf, name)


def _me_fit(name, formula, df, **kw):
    cmd = _me_command(name)

    def fit():
        try:
            return float(cmd(formula, data=df, **kw).fit().llf)
        except NotImplementedError as exc:
            raise NotImplementedInImpl(f"{name}: {exc}") from None
        except ImportError as exc:
            if _missing_piece(exc):
                raise NotImplementedInImpl(f"{name}: {type(exc).__name__}: {exc}") from None
            raise
    return fit


ME_SPECS = {
    "W1": ("mixed", "y ~ service + (1|s) + (1|d) + (1|dept_service)", {}),
    "W2": ("mixed", "y ~ x + (1 + x | g)", {}),
    "W3": ("melogit", "y ~ x + z + (1 + x | g)", {"intmethod": "laplace"}),
    "W3ag7": ("melogit", "y ~ x + z + (1 + x | g)",
              {"intmethod": "mvaghermite", "intpoints": 7}),
    "W4": ("melogit", f"r2 ~ {W4_RHS} + (1|id) + (1|item)", {"intmethod": "laplace"}),
    "W5": ("mepoisson", "y ~ x + (1|region/site)", {"intmethod": "laplace"}),
    "W6": ("meologit", "y ~ x + (1|g)", {"intmethod": "laplace"}),
    "W8": ("mixed", "y x || id:, residuals(ar 1, t(time))", {}),
    "W13": ("mixed", "y x || id:, residuals(ar 1, t(time))", {}),
    "W9": ("mestreg", "x || g:, distribution(weibull)",
           {"intmethod": "laplace", "time": "t", "failure": "d"}),
    "W9ag7": ("mestreg", "x || g:, distribution(weibull)",
              {"intmethod": "mvaghermite", "intpoints": 7, "time": "t", "failure": "d"}),
    "W10": ("metobit", "y x || g:, ll(0)", {"intmethod": "laplace"}),
    "W10ag7": ("metobit", "y x || g:, ll(0)", {"intmethod": "mvaghermite", "intpoints": 7}),
    "W12": ("mixed", "y x [pw=w1] || g:, pweight(w2)", {}),
}


def statsmodels_me(workload, df):
    """Return a zero-argument callable that fits ``workload`` and gives llf."""
    if workload == "W7":
        menl = _me_command("menl")

        def fit():
            try:
                # Stata syntax; initial() gives the documented start values.
                res = menl("y = ({b1}+{U1[subj]})/(1+exp(-(t-{b2})/{b3})), "
                           "initial(b1 18 b2 4.5 b3 1.2)", data=df)
                return float(res.fit().llf)
            except NotImplementedError as exc:
                raise NotImplementedInImpl(f"menl: {exc}") from None
            except ImportError as exc:
                if _missing_piece(exc):
                    raise NotImplementedInImpl(f"menl: {exc}") from None
                raise
        return fit
    name, formula, kw = ME_SPECS[workload]
    return _me_fit(name, formula, df, **kw)


# ----------------------------------------------------------------- statsmodels


def statsmodels(workload, df):
    """statsmodels' MixedLM (ML); it has no maximum-likelihood GLMM."""
    import numpy as np
    import statsmodels.formula.api as sm

    if workload == "W2":
        model = sm.mixedlm("y ~ x", df, groups=df["g"], re_formula="~x")
    elif workload == "W1":
        # Crossed effects: one all-covering group, variance components inside.
        vc = {"s": "0 + C(s)", "d": "0 + C(d)", "ds": "0 + C(dept_service)"}
        model = sm.mixedlm("y ~ service", df, groups=np.ones(len(df)), re_formula="0",
                           vc_formula=vc)
    else:
        raise NotApplicable("statsmodels has no ML GLMM / nonlinear mixed model")
    return lambda: float(model.fit(reml=False).llf)


# ------------------------------------------------------------------------ glmm


GLMM_SPECS = {
    "W1": ("y ~ service + (1|s) + (1|d) + (1|dept_service)", "gaussian"),
    "W2": ("y ~ x + (1 + x | g)", "gaussian"),
    "W3": ("y ~ x + z + (1 + x | g)", "binomial"),
    "W4": (f"r2 ~ {W4_RHS} + (1|id) + (1|item)", "binomial"),
    "W5": ("y ~ x + (1|region) + (1|site)", "poisson"),
    "W3ag7": ("y ~ x + z + (1 + x | g)", "binomial"),
}


def glmm(workload, df):
    """The ``glmm`` package (Rust core); Laplace for GLMMs, ML for LMMs."""
    import glmm as g

    if workload not in GLMM_SPECS:
        raise NotApplicable("glmm has no ordinal / nonlinear mixed model")
    formula, family = GLMM_SPECS[workload]
    kw = {"reml": False, "satterthwaite": False} if family == "gaussian" else {}
    if workload == "W3ag7":
        kw["nagq"] = 7
    data = {c: (df[c].astype(str).to_numpy() if c in _GROUP_COLS else df[c].to_numpy())
            for c in df.columns}
    return lambda: float(g.fit(data, formula, family=family, **kw).loglik)


# --------------------------------------------------------------------- mixedlm


MIXEDLM_SPECS = {
    "W1": ("y ~ service + (1|s) + (1|d) + (1|dept_service)", None),
    "W2": ("y ~ x + (1 + x | g)", None),
    "W3": ("y ~ x + z + (1 + x | g)", "Binomial"),
    "W4": (f"r2 ~ {W4_RHS} + (1|id) + (1|item)", "Binomial"),
    "W5": ("y ~ x + (1|region) + (1|site)", "Poisson"),
}


def mixedlm(workload, df):
    """The ``mixedlm`` package (lme4 port with a Rust core)."""
    import mixedlm as m

    if workload == "W7":
        from mixedlm.nlme.models import SSlogis

        start = {"Asym": 18.0, "xmid": 4.5, "scal": 1.2}
        return lambda: float(m.nlmer(SSlogis(), df, x_var="t", y_var="y", group_var="subj",
                                     random_params=["Asym"], start=start).logLik())
    if workload not in MIXEDLM_SPECS:
        raise NotApplicable("mixedlm has no ordinal mixed model")
    formula, family = MIXEDLM_SPECS[workload]
    if family is None:
        return lambda: float(m.lmer(formula, df, REML=False).logLik())
    fam = getattr(m.families, family)()
    return lambda: float(m.glmer(formula, df, family=fam).logLik())


IMPLS = {"statsmodels_me": statsmodels_me, "statsmodels": statsmodels, "glmm": glmm,
         "mixedlm": mixedlm}
DIST = {"statsmodels_me": "statsmodels_me", "statsmodels": "statsmodels", "glmm": "glmm",
        "mixedlm": "mixedlm"}
_GROUP_COLS = {"g", "s", "d", "dept_service", "id", "item", "region", "site", "subj"}


def _version(impl):
    try:
        from importlib.metadata import version
        return version(DIST[impl])
    except Exception:  # noqa: BLE001 - an unknown version is not fatal
        return None


def _load(impl, path):
    """Read the CSV; mixedlm wants grouping factors as strings."""
    import pandas as pd

    df = pd.read_csv(path)
    if impl == "mixedlm":
        for c in _GROUP_COLS.intersection(df.columns):
            df[c] = df[c].astype(str)
    return df


def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(impl, workload, path, repeats, budget):
    """Load, then time up to ``repeats`` fits; returns the result dict."""
    out = {"impl": impl, "workload": workload, "version": _version(impl), "times": [],
           "llf": None, "status": "ok", "message": ""}
    df = _load(impl, path)
    t0 = time.perf_counter()
    try:
        fit = IMPLS[impl](workload, df)
        for _ in range(repeats):
            t0 = time.perf_counter()
            llf = fit()
            out["times"].append(time.perf_counter() - t0)
            out["llf"] = llf
            # Stop repeating once another fit would overrun the per-fit budget.
            if sum(out["times"]) + out["times"][-1] > budget:
                break
        if out["llf"] is None or not math.isfinite(out["llf"]):
            out["status"], out["message"] = "error", f"non-finite llf {out['llf']}"
    except NotImplementedInImpl as exc:
        out["status"], out["message"] = "not implemented", str(exc)
    except NotApplicable as exc:
        out["status"], out["message"] = "not applicable", str(exc)
    except MemoryError:
        out["status"] = "error"
        out["message"] = (f"MemoryError (memory limit) after {time.perf_counter() - t0:.0f} s"
                          " of fitting")
    except Exception as exc:  # noqa: BLE001 - any failure is a result row
        out["status"] = "error"
        out["message"] = (f"{type(exc).__name__}: {exc}"[:450]
                          + f" (after {time.perf_counter() - t0:.1f} s)")
        traceback.print_exc(file=sys.stderr)
    out["maxrss_mb"] = _maxrss_mb()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("impl", choices=sorted(IMPLS))
    ap.add_argument("workload")
    ap.add_argument("csv")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=600.0)
    args = ap.parse_args(argv)
    res = run(args.impl, args.workload, args.csv, args.repeats, args.budget)
    sys.stdout.flush()
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
