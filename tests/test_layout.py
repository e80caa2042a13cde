"""Issue 13: zxpy's module layout - imports run one way, and moved names keep working for a while."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import zxpy
import zxpy.testing

PACKAGE = Path(zxpy.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Each zxpy module's imports of other zxpy modules, wherever they stand (TYPE_CHECKING, functions too)."""
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name in modules:
        deps: set[str] = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:  # from . import x: a module, or a name of the package
                    deps |= {a.name if a.name in modules else "__init__" for a in node.names}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for full in [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]:
                    parts = full.split(".")
                    if parts[0] == "zxpy":
                        deps.add(parts[1] if len(parts) > 1 else "__init__")
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_thread_does_not_import_process() -> None:
    """process.py makes threads, so thread.py must not need process.py (ProgressWorker lives in testing.py)."""
    graph = _imports()
    assert "thread" in graph["process"]
    assert "process" not in graph["thread"]


def test_no_import_cycles() -> None:
    # enums raises FeatureMissingError (errors) for a member the build lacks; errors reads the statuses from
    # the table (_abi), not from enums.  Nothing may import in a circle.
    assert _cycles(_imports()) == []


def test_errors_does_not_import_enums() -> None:
    assert "enums" not in _imports()["errors"]


def test_progress_worker_lives_in_testing() -> None:
    assert zxpy.testing.ProgressWorker.__module__ == "zxpy.testing"
    assert "ProgressWorker" not in zxpy.__all__
    assert not hasattr(zxpy.thread, "ProgressWorker")


def test_old_progress_worker_name_warns_and_still_works() -> None:
    with pytest.warns(DeprecationWarning, match=r"zxpy\.testing\.ProgressWorker"):
        from zxpy import ProgressWorker
    assert ProgressWorker is zxpy.testing.ProgressWorker
    with pytest.warns(DeprecationWarning):
        assert zxpy.ProgressWorker is zxpy.testing.ProgressWorker  # type: ignore[attr-defined]


def test_other_missing_names_are_attribute_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
            zxpy.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
        assert not hasattr(zxpy, "NoSuchThing")


def test_importing_zxpy_does_not_import_testing() -> None:
    code = "import sys, zxpy; assert 'zxpy.testing' not in sys.modules; zxpy.Job.default().info()"
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=60)
