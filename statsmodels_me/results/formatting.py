"""Stata's number formats used in estimation tables."""
from __future__ import annotations

import math


def fmt_g(x, digits=7):
    """Stata's ``%9.0g`` (``digits=7``) or ``%10.0g`` (``digits=8``) display of a number.

    At most ``digits`` digits (leading zeros after the point count, as in Stata), trailing
    zeros dropped, the leading ``0`` of ``|x| < 1`` dropped (``.0390124``); very large or very
    small numbers switch to exponent notation (``1.23e-08``). Missing values print as ``.``.
    """
    if x is None or not math.isfinite(x):
        return "."
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 10.0 ** digits or a < 10.0 ** -(digits - 2):
        return f"{x:.2e}"
    int_digits = math.floor(math.log10(a)) + 1 if a >= 1 else 0
    decimals = max(digits - int_digits, 0)
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s.startswith("0."):
        s = s[1:]
    elif s.startswith("-0."):
        s = "-" + s[2:]
    if s in ("", "-", "-0"):
        return "0"
    return s


def fmt_f(x, decimals):
    """Fixed format (``%8.2f`` style) with ``.`` for missing."""
    if x is None or not math.isfinite(x):
        return "."
    return f"{x:.{decimals}f}"


def fmt_count(n):
    """Stata's ``%10.0fc``: integer with thousands separators."""
    if n is None:
        return "."
    return f"{int(n):,}"
