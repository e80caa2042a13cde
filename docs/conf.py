"""Sphinx configuration: the Markdown pages of docs/ (with README as the front page) and an API reference
built from zxpy's docstrings.

Build with ``tox -e docs`` or, with zxpy importable (its compiled module built, e.g. ``python build_ffi.py``)::

    sphinx-build -n -W --keep-going -b html docs docs/_build/html

Warnings are errors and the build is nitpicky: a broken link, docstring or cross-reference - a type hint or a
:class:/:meth: naming something that is not documented - fails the build.  The only names allowed to stay
unresolved are the standard library's (``nitpick_ignore``): intersphinx to docs.python.org needs the network,
which CI does not have.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import sys
from pathlib import Path
from typing import Any

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
nitpicky = True
# The standard library's names in type hints and bases (no intersphinx offline).  Nothing of zxpy's own goes here.
nitpick_ignore = [
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "collections.abc.Sequence"),
    ("py:class", "enum.Enum"),
    ("py:class", "enum.IntEnum"),
    ("py:class", "enum.IntFlag"),
    ("py:class", "os.PathLike"),
    ("py:class", "pathlib.Path"),
    ("py:class", "types.MappingProxyType"),
]

html_theme = "alabaster"
html_title = f"zxpy {release}"


# ----------------------------------------------------------------------------------------- cross-references


def _public_bases(app: Any, name: str, obj: Any, options: Any, bases: list[type]) -> None:
    """``autodoc-process-bases``: show a class's first public ancestor instead of a private base
    (``Rights(_ZirconIntFlag)`` reads "Bases: enum.IntFlag")."""
    for i, base in enumerate(bases):
        if base.__name__.startswith("_"):
            bases[i] = next(b for b in base.__mro__ if not b.__name__.startswith("_"))


def _canonical(target: str, context_class: str | None, context_module: str | None) -> list[str]:
    """Where a zxpy object named ``target`` is documented: its defining module's name for it.

    Docstrings name objects as users do - ``zxpy.Job``, ``Thread.start`` (a class of the ``zxpy`` package),
    ``close`` (a method the documented class inherits) - while autodoc documents each under the module that
    defines it (``zxpy.job.Job``).  The object itself is looked up, so a name that does not exist stays a
    broken reference.
    """
    starts: list[Any] = []
    if context_class and context_module:
        try:
            owner: Any = importlib.import_module(context_module)
        except ImportError:
            owner = None
        for part in context_class.split("."):
            owner = getattr(owner, part, None)
        if inspect.isclass(owner):
            starts.append(owner)
    starts.append(zxpy)
    names = []
    for start in starts:
        obj: Any = start
        parts = target.removeprefix("zxpy.").split(".")
        holder = None
        for part in parts:
            holder, obj = obj, getattr(obj, part, None)
            if obj is None:
                break
        if obj is None:
            continue
        if inspect.isclass(holder) and not inspect.isclass(obj):  # a method or attribute: where it is defined
            definer = next((c for c in holder.__mro__ if parts[-1] in vars(c)), holder)
            names.append(f"{definer.__module__}.{definer.__qualname__}.{parts[-1]}")
        elif getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None):
            names.append(f"{obj.__module__}.{obj.__qualname__}")
    return names


def _resolve_zxpy_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """``missing-reference``: resolve a ``py`` reference to a zxpy object by the name it is documented under."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for name in _canonical(node["reftarget"], node.get("py:class"), node.get("py:module")):
        entry = domain.objects.get(name)
        if entry is not None:
            from sphinx.util.nodes import make_refnode

            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)
    return None


def setup(app: Any) -> dict[str, bool]:
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("missing-reference", _resolve_zxpy_name)
    return {"parallel_read_safe": True}
