"""Sphinx directive ``me-run``: execute Python at build time and show the code and its output.

Each document has its own namespace, so later blocks on a page reuse the names earlier blocks
defined (``res`` fitted in one block, ``res.predict(...)`` in the next). The output is what the
code prints to stdout, followed by any warning it raised (as ``Category: message``), followed
by every matplotlib figure the block left open: each is saved as a PNG into the HTML build
(``_images/me_run/``, drawn headless with the Agg backend) and shown below the output, then
closed.

Options
-------
``:hide-code:``
    Show only the output.
``:expect-error:``
    The block may raise: the exception is shown as its last line of output instead of failing
    the build. Any other exception is a build warning (an error under ``-W``).
"""
from __future__ import annotations

import io
import os
import sys
import traceback
import warnings
from contextlib import redirect_stdout

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: docname -> namespace of the blocks executed so far on that page
_NAMESPACES: dict[str, dict] = {}

#: warning categories that are library noise, not the package's messages
_QUIET = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ResourceWarning)


def run_code(code: str, namespace: dict, filename: str, expect_error: bool):
    """Execute ``code`` in ``namespace``; return (output text, error traceback or None)."""
    buf = io.StringIO()
    error = None
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(buf):
        warnings.simplefilter("always")
        try:
            exec(compile(code, filename, "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - shown or reported below
            if expect_error:
                print(f"{type(exc).__name__}: {exc}")
            else:
                error = traceback.format_exc()
    text = buf.getvalue().rstrip()
    shown = []
    for w in caught:
        if issubclass(w.category, _QUIET):
            continue
        line = f"{w.category.__name__}: {w.message}"
        if line not in shown:
            shown.append(line)
    if shown:
        text = (text + "\n\n" if text else "") + "\n".join(shown)
    return text, error


def save_figures(outdir: str, stem: str) -> list[str]:
    """Save and close the open matplotlib figures as ``outdir/_images/me_run/stem-k.png``;
    return the file names (none when matplotlib was not used)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    folder = os.path.join(outdir, "_images", "me_run")
    os.makedirs(folder, exist_ok=True)
    names = []
    for k, num in enumerate(plt.get_fignums()):
        fig = plt.figure(num)
        name = f"{stem}-{k}.png"
        fig.savefig(os.path.join(folder, name), dpi=80, bbox_inches="tight")
        names.append(name)
    plt.close("all")
    return names


class MeRun(SphinxDirective):
    """Execute the content as Python; insert the code and what it printed."""

    has_content = True
    option_spec = {"hide-code": directives.flag, "expect-error": directives.flag}

    def run(self):
        code = "\n".join(self.content)
        docname = self.env.docname
        namespace = _NAMESPACES.setdefault(docname, {"__name__": "__docs__"})
        text, error = run_code(code, namespace, f"<{docname}>", "expect-error" in self.options)
        if error is not None:
            logger.warning("me-run block failed:\n%s", error, location=self.get_location())
        out = []
        if "hide-code" not in self.options:
            src = nodes.literal_block(code, code, language="python")
            src["classes"].append("me-code")
            out.append(src)
        if text:
            result = nodes.literal_block(text, text, language="none")
            result["classes"].append("me-output")
            out.append(result)
        stem = f"{docname.replace('/', '-')}-{self.lineno}"
        up = "../" * docname.count("/")
        for name in save_figures(self.env.app.outdir, stem):
            html = (f'<img class="me-figure" src="{up}_images/me_run/{name}" '
                    f'alt="figure drawn by the code above">')
            out.append(nodes.raw("", html, format="html"))
        return out


def _reset(app, docname, source):
    _NAMESPACES.pop(docname, None)


def _purge(app, env, docname):
    _NAMESPACES.pop(docname, None)


def setup(app):
    app.add_directive("me-run", MeRun)
    app.connect("source-read", _reset)
    app.connect("env-purge-doc", _purge)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
