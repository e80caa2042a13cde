"""Sphinx configuration: the Markdown pages of docs/ (with README as the front page) and an API reference
built from zxpy's docstrings.

Build with ``tox -e docs`` or, with zxpy importable (its compiled module built, e.g. ``python build_ffi.py``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Warnings are errors: a broken link, reference or docstring fails the build.
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

# The docstrings documented are this checkout's: its zxpy when its compiled module is built in place for this
# Python (python build_ffi.py), else the installed one (tox installs the package).  Either way zxpy._zx must
# import, since autodoc documents the real objects.
_ROOT = Path(__file__).resolve().parent.parent
if any((_ROOT / "zxpy" / f"_zx{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES):
    sys.path.insert(0, str(_ROOT))
import zxpy  # noqa: E402

project = "zxpy"
author = "zxpy contributors"
copyright = "zxpy contributors, BSD-3-Clause"  # noqa: A001
release = zxpy.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# GitHub-style anchors, so "page.md#a-heading" links work in the rendered pages as they do on the forge.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False

html_theme = "alabaster"
html_title = f"zxpy {release}"
