"""Sphinx directive ``me-loglog``: a small log-log line plot drawn as inline SVG.

The content is CSV, one point a line: ``series, x, y``. No plotting library is needed, and the
points are written once, in the page.

Usage::

    .. me-loglog::
       :xlabel: rows
       :ylabel: fit time (s)

       W2, 50000, 0.0156
       W2, 100000, 0.0259
"""
from __future__ import annotations

import math

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_W, _H = 560, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 120, 20, 50


def _decades(lo: float, hi: float) -> list[float]:
    return [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if 1e-3 <= v < 1e6 else f"1e{int(round(math.log10(v)))}"


def loglog_svg(series: dict[str, list[tuple[float, float]]], xlabel: str, ylabel: str) -> str:
    """SVG text of the series on log-log axes spanning whole decades."""
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    xt, yt = _decades(min(xs), max(xs)), _decades(min(ys), max(ys))
    lx0, lx1 = math.log10(xt[0]), math.log10(xt[-1])
    ly0, ly1 = math.log10(yt[0]), math.log10(yt[-1])
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x):
        return _LEFT + (math.log10(x) - lx0) / (lx1 - lx0) * pw

    def py(y):
        return _TOP + ph - (math.log10(y) - ly0) / (ly1 - ly0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
           f'width="{_W}" height="{_H}" font-family="sans-serif" font-size="12" '
           'role="img">',
           f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" fill="white" '
           'stroke="#444"/>']
    for t in xt:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_TOP + ph}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{_TOP + ph + 16}" text-anchor="middle">'
                   f'{_fmt(t)}</text>')
    for t in yt:
        y = py(t)
        out.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + pw}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<text x="{_LEFT + pw / 2:.1f}" y="{_H - 10}" text-anchor="middle">'
               f'{xlabel}</text>')
    out.append(f'<text x="16" y="{_TOP + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 16 {_TOP + ph / 2:.1f})">{ylabel}</text>')
    for k, (name, pts) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(pts))
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
        ly = _TOP + 16 + 20 * k
        out.append(f'<line x1="{_W - _RIGHT + 12}" y1="{ly}" x2="{_W - _RIGHT + 36}" '
                   f'y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{_W - _RIGHT + 42}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


class MeLogLog(SphinxDirective):
    """Draw the CSV content (``series, x, y``) as an inline SVG log-log plot."""

    has_content = True
    option_spec = {"xlabel": directives.unchanged, "ylabel": directives.unchanged}

    def run(self):
        series: dict[str, list[tuple[float, float]]] = {}
        for line in self.content:
            if not line.strip():
                continue
            name, x, y = (p.strip() for p in line.split(","))
            series.setdefault(name, []).append((float(x), float(y)))
        svg = loglog_svg(series, self.options.get("xlabel", "x"), self.options.get("ylabel", "y"))
        return [nodes.raw("", svg, format="html")]


def setup(app):
    app.add_directive("me-loglog", MeLogLog)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
