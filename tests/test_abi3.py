"""One ``cp310-abi3`` wheel: the host module is built against CPython 3.10's limited API (docs/building.md, "One
abi3 wheel").

What is checked here, on the Python running the suite:

- the module zxpy imports is the abi3 one, and its own build says so;
- every file of the host module compiles with ``Py_LIMITED_API=0x030A0000`` (``csrc/host_gil.c`` and
  ``csrc/fastcalls.c``, the files that talk to the interpreter, are compiled alone here, so a regression names
  them);
- abi3audit finds no symbol outside 3.10's stable ABI among what the compiled module imports, and it does flag
  one that is outside (so the audit cannot pass by finding nothing).

That one compiled module runs the suite under the other CPythons is checked by ``.ci/run`` ("the abi3 wheel on
other Pythons"), where they are installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from vintage import REPO, host_cc, require

import zxpy._raw as raw

LIMITED_API = "0x030A0000"


def _compile(source: Path, *args: str) -> subprocess.CompletedProcess[str]:
    include = sysconfig.get_paths()["include"]
    cmd = [*host_cc(), "-std=gnu11", "-Wall", "-Wextra", "-Werror", f"-DPy_LIMITED_API={LIMITED_API}",
           f"-I{REPO / 'host'}", f"-I{REPO / 'host' / 'include'}", f"-I{REPO / 'csrc'}", f"-I{include}",
           *args, str(source)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip(f"no C compiler ({cmd[0]})")


def test_the_imported_module_is_the_abi3_build() -> None:
    if raw.BUILD_INFO["sdk"].get("target", "host") != "host":
        pytest.skip("a Fuchsia build: the host module is what is built against the limited API")
    assert Path(raw._zx.__file__).name == "_zx.abi3.so", raw._zx.__file__


@pytest.mark.parametrize(
    ("name", "flags"),
    # fastcalls.c against today's headers: the version-1 zx_info_process_t, as build_ffi.py's detection says.
    [("host_gil.c", ()), ("fastcalls.c", ("-DZXPY_HAVE_INFO_PROCESS_V2=1",))],
)
def test_the_files_that_talk_to_cpython_compile_against_the_3_10_limited_api(name: str, flags: tuple[str, ...]) -> None:
    require((REPO / "csrc" / name).is_file(), "the checkout's csrc/ is needed")
    proc = _compile(REPO / "csrc" / name, *flags, "-fsyntax-only")
    assert proc.returncode == 0, f"csrc/{name} needs more than the 3.10 limited API:\n{proc.stderr}"


def _abi3audit() -> str:
    tool = shutil.which("abi3audit") or str(Path(sys.executable).with_name("abi3audit"))
    if not Path(tool).exists():
        pytest.skip("abi3audit is not installed (pip install -e '.[test]')")
    return tool


def _audit(so: Path) -> tuple[int, str]:
    """abi3audit's exit status and report (on stderr, wrapped to the terminal: joined into one line here)."""
    proc = subprocess.run([_abi3audit(), "--strict", "--verbose", "--assume-minimum-abi3", "3.10", str(so)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "400"})
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def test_the_module_imports_only_the_stable_abi() -> None:
    so = Path(raw._zx.__file__)
    if not so.name.endswith(".abi3.so"):
        pytest.skip(f"not the abi3 build: {so.name}")
    rc, report = _audit(so)
    assert rc == 0 and "0 ABI violations found" in report, f"abi3audit: {report}"


def test_the_audit_flags_a_symbol_outside_the_stable_abi(tmp_path: Path) -> None:
    # The control: the same audit of an extension that calls a private CPython function (as host_gil.c once did).
    src = tmp_path / "bad.c"
    src.write_text(
        "#include <Python.h>\n"
        "PyThreadState *_PyThreadState_UncheckedGet(void);\n"
        "void *zxpy_bad(void) { return _PyThreadState_UncheckedGet(); }\n"
        "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"bad\", NULL, -1, NULL, NULL, NULL, NULL, NULL};\n"
        "PyMODINIT_FUNC PyInit_bad(void) { return PyModule_Create(&def); }\n",
        encoding="utf-8",
    )
    so = tmp_path / "bad.abi3.so"
    proc = _compile(src, "-shared", "-fPIC", "-o", str(so))
    assert proc.returncode == 0, proc.stderr
    _, report = _audit(so)
    assert "1 ABI violations found" in report and "_PyThreadState_UncheckedGet" in report, report


def test_the_wheel_tag_the_api_level_and_requires_python_agree() -> None:
    """setup.py tags the wheel with the same CPython that build_ffi.py's Py_LIMITED_API names, and that is the
    oldest Python pyproject.toml admits (the wheel itself is built and checked by .ci/run)."""
    require((REPO / "setup.py").is_file(), "the checkout's setup.py is needed")
    setup_py = (REPO / "setup.py").read_text(encoding="utf-8")
    build_ffi = (REPO / "build_ffi.py").read_text(encoding="utf-8")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '{"bdist_wheel": {"py_limited_api": "cp310"}}' in setup_py
    assert f'LIMITED_API = "{LIMITED_API}"' in build_ffi
    assert 'requires-python = ">=3.10"' in pyproject
