"""The raw CFFI layer, imported once and bound to module globals.

Everything else in zxpy reaches the compiled module ``zxpy._zx`` through this
file.  Hot syscalls are bound to plain module globals here so a wrapper costs
one global lookup instead of ``lib.<name>`` attribute chains (an attribute
lookup on a CFFI ``lib`` costs about 35 ns; ``benchmarks/`` measures the
layers side by side).
Nothing here validates arguments; the Pythonic modules do that.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
from collections.abc import Callable
from typing import Any

from ._version import __version__

try:
    _zx = importlib.import_module("zxpy._zx")
except ModuleNotFoundError as err:  # pragma: no cover - depends on how zxpy was installed
    if err.name != "zxpy._zx":
        raise
    raise ImportError(
        "zxpy's compiled module zxpy._zx is missing from "
        f"{__file__.rsplit('/', 1)[0]}: this is a source tree that was never built. "
        "Install with `pip install -e .` (builds it in place), or run from outside the "
        "source tree so the installed zxpy is imported."
    ) from err

if os.path.dirname(os.path.abspath(str(_zx.__file__))) != os.path.dirname(os.path.abspath(__file__)):
    # An import hook (an editable install of another checkout) supplied the module of a different tree: its
    # cdef and host kernel need not match this tree's Python layer, whatever version both claim.
    raise ImportError(
        f"zxpy at {os.path.dirname(os.path.abspath(__file__))} found its compiled module at {_zx.__file__}, "
        "in another tree: build this one (`python build_ffi.py` or `pip install -e .`) or run from outside it"
    )

#: The cffi ``FFI`` instance of the compiled module.
ffi: Any = _zx.ffi
#: The compiled library: every ``zx_*`` function and ``ZX_*`` constant.
lib: Any = _zx.lib

NULL: Any = ffi.NULL

#: What the module was compiled against (``zxpy_build_info()``, written by
#: build_ffi.py): ``features``, ``constants`` (the optional ones present) and
#: ``sdk`` (``description``, ``id``, ``layout``, ``stand_in``, ``vintage``, ``path``).
BUILD_INFO: dict[str, Any] = json.loads(ffi.string(lib.zxpy_build_info()).decode())
if BUILD_INFO.get("version") != __version__:
    # A module built from other sources than this package (e.g. a stale in-place build): its cdef, features
    # and host kernel need not match the Python layer.  pyca/cryptography refuses the same way.
    raise ImportError(
        f"zxpy {__version__} found its compiled module {_zx.__file__} built from zxpy "
        f"{BUILD_INFO.get('version', 'older than 0.1.0')}: rebuild it (`pip install -e .` or "
        "`python build_ffi.py`) or reinstall zxpy"
    )
#: The gated features of zxpy/_abi.py that the build's headers have.
FEATURES: frozenset[str] = frozenset(BUILD_INFO["features"])

if lib.zxpy_fastcalls_install():  # pragma: no cover - only if the interpreter runs out of memory
    raise ImportError("zxpy could not create its module zxpy._fastcalls (the error is printed above)")
# The call above made zxpy._fastcalls, the C half of the handle wrappers (csrc/fastcalls.c): ``HandleCore``, the
# base of ``zxpy.Handle``.  zxpy/__init__.py configures it once every class it returns exists.

if hasattr(lib, "zxpy_runtime_closing"):
    # Host kernel: before the interpreter starts finalizing, its park helper stops taking the GIL (a thread that
    # takes it after that is ended by CPython).  atexit runs this before finalization and without the GIL (CFFI
    # releases it around the call).  csrc/host_gil.c.
    atexit.register(lib.zxpy_runtime_closing)

# Syscalls (plain functions returning zx_status_t unless noted).
task_kill: Callable[[int], int] = lib.zx_task_kill
task_suspend: Callable[[int, Any], int] = lib.zx_task_suspend
handle_close: Callable[[int], int] = lib.zx_handle_close
handle_duplicate: Callable[[int, int, Any], int] = lib.zx_handle_duplicate
handle_replace: Callable[[int, int, Any], int] = lib.zx_handle_replace
object_wait_one: Callable[[int, int, int, Any], int] = lib.zx_object_wait_one
object_signal: Callable[[int, int, int], int] = lib.zx_object_signal
object_get_info: Callable[[int, int, Any, int, Any, Any], int] = lib.zx_object_get_info
object_get_child: Callable[[int, int, int, Any], int] = lib.zx_object_get_child
event_create: Callable[[int, Any], int] = lib.zx_event_create
port_create: Callable[[int, Any], int] = lib.zx_port_create
port_queue: Callable[[int, Any], int] = lib.zx_port_queue
port_wait: Callable[[int, int, Any], int] = lib.zx_port_wait
port_cancel: Callable[[int, int, int], int] = lib.zx_port_cancel
object_wait_async: Callable[[int, int, int, int, int], int] = lib.zx_object_wait_async
job_create: Callable[[int, int, Any], int] = lib.zx_job_create
process_create: Callable[[int, bytes, int, int, Any, Any], int] = lib.zx_process_create
thread_create: Callable[[int, bytes, int, int, Any], int] = lib.zx_thread_create
thread_start: Callable[[int, int, int, int, int], int] = lib.zx_thread_start
job_default: Callable[[], int] = lib.zx_job_default
process_self: Callable[[], int] = lib.zx_process_self
thread_self: Callable[[], int] = lib.zx_thread_self
clock_get_monotonic: Callable[[], int] = lib.zx_clock_get_monotonic
deadline_after: Callable[[int], int] = lib.zx_deadline_after
nanosleep: Callable[[int], int] = lib.zx_nanosleep
fdio_spawn_etc: Callable[..., int] = lib.fdio_spawn_etc

# Constants used on hot paths.
ZX_OK: int = lib.ZX_OK
HANDLE_INVALID: int = lib.ZX_HANDLE_INVALID
TIME_INFINITE: int = lib.ZX_TIME_INFINITE
TIME_INFINITE_PAST: int = lib.ZX_TIME_INFINITE_PAST

# Allocation helpers: ffi.new bound once.
new: Callable[..., Any] = ffi.new
cast: Callable[[str, Any], Any] = ffi.cast
sizeof: Callable[[Any], int] = ffi.sizeof


# Pre-parsed C types for the per-call out-parameters (ffi.new with a ctype
# skips parsing the type string).
HANDLE_PTR: Any = ffi.typeof("zx_handle_t *")
SIGNALS_PTR: Any = ffi.typeof("zx_signals_t *")
PACKET_PTR: Any = ffi.typeof("zx_port_packet_t *")


__all__ = ["ffi", "lib", "NULL"]
