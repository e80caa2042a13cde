"""The runtime and the tooling stay apart (issue 13).

The wheel ships the binding only (``zxpy/``); the Fuchsia build and emulator
tooling (``fuchsia_tools/``) lives in the source tree and the sdist.  Neither
imports the other: ``import zxpy`` never loads the tooling, and the tooling
(``python -m fuchsia_tools.femu`` reading a config file, the cross build)
never needs the binding or its compiled module.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from vintage import REPO

import zxpy

#: Where the zxpy under test lives (the checkout's, or an installed one).
ZXPY_DIR = Path(zxpy.__file__).resolve().parent
TOOLING = ("fuchsia_tools", "femu", "sdkconfig", "standin_sysroot", "cross_build")


def _modules_after(code: str) -> list[str]:
    """The names in ``sys.modules`` after ``code`` runs in a fresh interpreter that can import both the zxpy
    under test and the checkout's fuchsia_tools (so an unwanted import succeeds, and is seen)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ZXPY_DIR.parent), str(REPO)]))
    proc = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                          cwd=REPO / "tests", env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    names: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return names


def test_the_runtime_never_imports_the_tooling() -> None:
    """``import zxpy`` and every submodule of it (``__main__`` included) load nothing of the tooling."""
    code = ("import importlib, pkgutil, zxpy\n"
            f"assert zxpy.__file__.startswith({str(ZXPY_DIR)!r}), zxpy.__file__\n"
            "for m in pkgutil.iter_modules(zxpy.__path__):\n"
            "    importlib.import_module('zxpy.' + m.name)")
    loaded = _modules_after(code)
    assert "zxpy._zx" in loaded and "zxpy.__main__" in loaded
    assert [m for m in loaded if m.split(".")[0] == "fuchsia_tools" or m.split(".")[-1] in TOOLING] == []


def test_the_tooling_never_imports_zxpy() -> None:
    """Every tooling module imports without the binding: no ``zxpy`` module, compiled or not, is loaded."""
    loaded = _modules_after("import fuchsia_tools.sdkconfig, fuchsia_tools.femu, fuchsia_tools.standin_sysroot, "
                            "fuchsia_tools.cross_build")
    assert "fuchsia_tools.cross_build" in loaded
    assert [m for m in loaded if m.split(".")[0] == "zxpy"] == []


def test_the_wheel_ships_the_binding_only() -> None:
    """setup.py packages exactly ``zxpy``, and the zxpy under test (an installed wheel's, in tox and CI) holds
    no tooling module."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    assert len(calls) == 1
    packages = next(k.value for k in calls[0].keywords if k.arg == "packages")
    assert ast.literal_eval(packages) == ["zxpy"]
    shipped = {p.stem for p in ZXPY_DIR.iterdir()}
    assert sorted(shipped & set(TOOLING)) == []
    assert not (ZXPY_DIR.parent / "fuchsia_tools").exists() or ZXPY_DIR.parent == REPO


def test_a_compiled_module_from_another_tree_is_refused(tmp_path: Path) -> None:
    """A Python layer never runs on another tree's ``_zx`` (an editable install's import hook can supply one to an
    unbuilt checkout, and the versions alike prove nothing): importing zxpy says which tree to build."""
    copy = tmp_path / "zxpy"
    copy.mkdir()
    for source in ZXPY_DIR.glob("*.py"):
        (copy / source.name).write_bytes(source.read_bytes())
    module = zxpy._raw._zx.__file__
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('zxpy._zx', {module!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); sys.modules['zxpy._zx'] = m\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import zxpy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "in another tree" in proc.stderr, proc.stderr
    assert str(copy) in proc.stderr


# ------------------------------------------------------------------------------------------------ the build


def _build_ffi_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "ZXPY_WERROR")}
    return {**env, **extra}


def test_no_compiler_is_one_line_naming_what_to_install() -> None:
    """A build without a C compiler stops before compiling anything, with one line on stderr."""
    proc = subprocess.run([sys.executable, str(REPO / "build_ffi.py")], cwd=REPO, env=_build_ffi_env(CC="/nonexistent"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert proc.stderr == ("error: zxpy needs a C compiler to build its host kernel, and '/nonexistent' (from $CC)"
                           " was not found: install gcc (apt install gcc libc6-dev) or clang\n")


def test_a_free_threaded_python_is_one_line() -> None:
    """A free-threaded CPython (no GIL, no limited API) is refused before compiling anything, with one line.  This
    CPython is told it is one (sysconfig's Py_GIL_DISABLED) and runs build_ffi.py as its main program."""
    code = ("import runpy, sys, sysconfig\n"
            "real = sysconfig.get_config_var\n"
            "sysconfig.get_config_var = lambda name: 1 if name == 'Py_GIL_DISABLED' else real(name)\n"
            f"sys.argv = [{str(REPO / 'build_ffi.py')!r}]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_build_ffi_env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: zxpy does not support free-threaded CPython"), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


def test_werror_only_when_asked() -> None:
    """-Werror is for CI and development (ZXPY_WERROR=1): a user's pip install never fails on a new warning."""
    code = "import build_ffi; print(' '.join(build_ffi.warning_flags()))"
    for env, flags in ((_build_ffi_env(), "-Wall -Wextra"), (_build_ffi_env(ZXPY_WERROR="1"), "-Wall -Wextra -Werror")):
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == flags
