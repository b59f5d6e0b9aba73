"""Bracket-aware text scanning shared by the Stata and formula front ends."""
from __future__ import annotations

import re

from statsmodels_me.spec.errors import SpecificationError

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}

#: deepest bracket nesting accepted (keeps the recursive parsers far from Python's limit)
MAX_DEPTH = 50
#: a Stata variable name
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_name(name: str, what: str = "variable name") -> str:
    """Return ``name`` if it is a valid Stata name, else raise :class:`SpecificationError`."""
    if not NAME_RE.match(name):
        raise SpecificationError(f"invalid {what} {name!r}: expected a name made of letters, "
                                 "digits and underscores that does not start with a digit")
    return name


def check_balanced(text: str) -> None:
    """Raise :class:`SpecificationError` unless every bracket in ``text`` is closed in order."""
    stack: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if ch in _PAIRS:
            stack.append((ch, i))
            if len(stack) > MAX_DEPTH:
                raise SpecificationError(f"brackets nested deeper than {MAX_DEPTH} levels at "
                                         f"position {i} in {text[:80]!r}")
        elif ch in _CLOSERS:
            if not stack or stack[-1][0] != _CLOSERS[ch]:
                raise SpecificationError(
                    f"unbalanced {ch!r} at position {i} in {text!r}: no matching "
                    f"{_CLOSERS[ch]!r} before it")
            stack.pop()
    if stack:
        ch, i = stack[-1]
        raise SpecificationError(
            f"unbalanced {ch!r} at position {i} in {text!r}: missing {_PAIRS[ch]!r}")


def depth_map(text: str) -> list[int]:
    """Bracket depth before each character (``text`` must be balanced)."""
    depth, out = 0, []
    for ch in text:
        if ch in _CLOSERS:
            depth -= 1
        out.append(depth)
        if ch in _PAIRS:
            depth += 1
    return out


def split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at every occurrence of ``sep`` outside brackets."""
    depth = depth_map(text)
    parts, start, i = [], 0, 0
    while i <= len(text) - len(sep):
        if depth[i] == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
        else:
            i += 1
    parts.append(text[start:])
    return parts


def split_first(text: str, sep: str) -> tuple[str, str | None]:
    """Split ``text`` at the first ``sep`` outside brackets; ``(text, None)`` if none."""
    parts = split_top(text, sep)
    if len(parts) == 1:
        return text, None
    return parts[0], sep.join(parts[1:])


def split_words(text: str) -> list[str]:
    """Split ``text`` at whitespace outside brackets."""
    depth = depth_map(text)
    words, cur = [], []
    for ch, d in zip(text, depth, strict=True):
        if ch.isspace() and d == 0:
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def find_top(text: str, sub: str) -> int:
    """Index of the first ``sub`` outside brackets, or -1."""
    depth = depth_map(text)
    i = text.find(sub)
    while i >= 0:
        if depth[i] == 0:
            return i
        i = text.find(sub, i + 1)
    return -1
