"""Sphinx configuration of the statsmodels_me documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` from the repository root. The
examples are executed while the pages are built (``_ext/me_run.py``), so the printed numbers
always come from the code being documented.
"""
import os
import sys

# figures drawn by the executed examples are rendered headless
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = os.path.dirname(os.path.abspath(__file__))
# the checkout being documented comes first, then the local extensions
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "_ext"))

import statsmodels_me  # noqa: E402

project = "statsmodels_me"
author = "the statsmodels_me developers"
copyright = "2026, the statsmodels_me developers"
release = statsmodels_me.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "me_run",
    "me_options",
    "me_plot",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_static", "**/_*.rst"]
templates_path = []

# numpydoc: no member tables (the API pages list the members they document)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"

intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"statsmodels_me {release}"
html_static_path = ["_static"]
html_css_files = ["me.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False
