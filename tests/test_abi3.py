"""Why zxpy ships one wheel per Python version and no ``cp310-abi3`` wheel (docs/building.md, "No abi3 wheel").

``csrc/host_gil.c`` - the hooks that let the host kernel park this interpreter's threads only where they hold no
GIL - needs CPython calls and structures outside the limited API.  This test compiles it against the limited
API of Python 3.10 and checks that it fails for exactly the reasons the page gives; the day it compiles there,
this test fails and says to build the abi3 wheel instead.
"""

from __future__ import annotations

import subprocess
import sysconfig

import pytest
from vintage import REPO, host_cc, require

HOST_GIL = REPO / "csrc" / "host_gil.c"

#: Each reason of docs/building.md, as the names a compiler reports when the limited API hides them (any one of
#: the alternatives: the file uses the 3.13 spelling when compiled by 3.13).
BLOCKERS = {
    "whether this thread holds the GIL (current thread state)": ("_PyThreadState_UncheckedGet",
                                                                 "PyThreadState_GetUnchecked"),
    "whether the interpreter is finalizing": ("_Py_IsFinalizing", "Py_IsFinalizing"),
    "a C trace function (Py_tracefunc, PyEval_SetTrace)": ("Py_tracefunc",),
    "another thread's trace function (PyThreadState fields, _PyEval_SetTrace)": ("PyThreadState", "struct _ts"),
}


def _syntax_check(*defines: str) -> subprocess.CompletedProcess[str]:
    include = sysconfig.get_paths()["include"]
    require((REPO / "csrc").is_dir() and include, "the checkout's csrc/ and Python's headers are needed")
    cmd = [*host_cc(), "-fsyntax-only", "-std=gnu11", "-Werror=implicit-function-declaration", *defines,
           f"-I{REPO / 'host'}", f"-I{REPO / 'host' / 'include'}", f"-I{REPO / 'csrc'}", f"-I{include}",
           str(HOST_GIL)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip(f"no C compiler ({cmd[0]})")


def test_host_gil_needs_more_than_the_limited_api() -> None:
    full = _syntax_check()
    assert full.returncode == 0, f"host_gil.c does not even compile with the full API:\n{full.stderr}"
    limited = _syntax_check("-DPy_LIMITED_API=0x030A0000")
    assert limited.returncode != 0, (
        "csrc/host_gil.c now compiles against Python 3.10's limited API: build one cp310-abi3 wheel "
        "(build_ffi.py: py_limited_api) and replace this test and docs/building.md's 'No abi3 wheel'"
    )
    missing = [why for why, names in BLOCKERS.items() if not any(name in limited.stderr for name in names)]
    assert not missing, f"no longer blocking (update docs/building.md): {missing}\n{limited.stderr}"
