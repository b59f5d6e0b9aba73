"""Command line: fit one model written in Stata syntax and print Stata's output.

Examples
--------
::

    python -m statsmodels_me 'mixed weight week || id:' --data pig
    python -m statsmodels_me 'melogit nadmitted female || department:, binomial(napplied) or' \\
        --data admissions --log
    python -m statsmodels_me 'weight ~ week + (1 | id)' --cmd mixed --data mydata.csv
"""
from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from statsmodels_me.spec.errors import DataError, SpecificationError

#: errors reported as one line on stderr (exit status 2) instead of a traceback
USER_ERRORS = (SpecificationError, DataError, NotImplementedError)

_EPILOG = """\
examples:
  python -m statsmodels_me 'mixed weight week || id:' --data pig
  python -m statsmodels_me 'mixed weight week || id: week, covariance(unstructured)' --data pig
  python -m statsmodels_me 'melogit nadmitted female || department:, binomial(napplied) or' \\
      --data admissions --log
  python -m statsmodels_me 'weight ~ week + (1 | id)' --cmd mixed --data pig.csv

--data takes the name of a bundled data set (pig, admissions, bangladesh, tvsfpors, orange,
diuretics) or the path of a CSV file. The first word of the model is the command (mixed,
meglm, melogit, ...) unless --cmd is given (needed for lme4-style formulas).
"""


def build_parser():
    """The argument parser of ``python -m statsmodels_me``."""
    parser = argparse.ArgumentParser(
        prog="python -m statsmodels_me",
        description="Fit a multilevel mixed-effects model written in Stata syntax (or an "
                    "lme4-style formula) and print Stata's output.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="+",
                        help="the Stata command, quoted, e.g. 'mixed weight week || id:'")
    parser.add_argument("--data", "-d", required=True,
                        help="bundled data set name or path of a CSV file")
    parser.add_argument("--cmd", default=None,
                        help="command to use when the model text does not start with one")
    parser.add_argument("--log", action="store_true", help="print the iteration log")
    return parser


def load_data(name):
    """A bundled data set by name, or a CSV file when ``name`` is an existing path.

    Raises
    ------
    DataError
        Neither a file nor a bundled data set.
    """
    if os.path.isfile(name):
        try:
            return pd.read_csv(name)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read data file '{name}': {exc}") from None
    from statsmodels_me import datasets
    try:
        return datasets.load(name)
    except ValueError as exc:
        raise DataError(f"'{name}' is neither a file nor a bundled data set ({exc})") from None


def resolve_command(text, cmd=None):
    """The ``statsmodels_me.formula.api`` constructor for the model text.

    Parameters
    ----------
    text : str
        Model text; its first word is the command unless ``cmd`` is given.
    cmd : str, optional

    Raises
    ------
    SpecificationError
        The command word is not one of the package's commands.
    """
    from statsmodels_me.formula import api
    words = text.split()
    name = cmd if cmd is not None else (words[0] if words else "")
    known = list(getattr(api, "__all__", []))
    if name not in known or not callable(getattr(api, name, None)):
        raise SpecificationError(
            f"'{name}' in '{text}' is not a command; expected one of {', '.join(known)}"
            + ("" if cmd else " (give --cmd for lme4-style formulas)"))
    return getattr(api, name)


def run(text, data, cmd=None, log=False):
    """Fit the model and return its results (the work behind :func:`main`)."""
    df = load_data(data)
    constructor = resolve_command(text, cmd)
    model = constructor(text, data=df)
    return model.fit(disp=log)


def main(argv=None):
    """Entry point of ``python -m statsmodels_me``; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 when the model or data cannot be used (message on stderr).
    """
    args = build_parser().parse_args(argv)
    text = " ".join(args.model)
    try:
        res = run(text, args.data, cmd=args.cmd, log=args.log)
        design = getattr(getattr(res, "model", None), "design", None)
        notes = list(getattr(design, "notes", None) or [])
        out = "\n".join(notes + ([""] if notes else []) + [str(res.summary())])
    except USER_ERRORS as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    print(out)
    return 0
