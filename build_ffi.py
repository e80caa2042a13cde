"""CFFI builder for ``zxpy._zx`` (out-of-line API mode) -- the only one.

One ``cdef`` serves every target.  It declares exactly the types, structs and
functions of the binding's contract (README.md, "What zxpy binds"); every
constant is ``#define NAME ...``, so its value is read from the C headers when
the module is compiled and never typed in Python.  Struct layouts are declared
field by field (no ``...;``), so CFFI checks them against the headers at build
and import time.

Targets
-------
host (default; what ``pip install .`` / ``setup.py`` build via ``cffi_modules``)
    Compiles the host kernel (``host/*.c``) and the binding's helpers
    (``csrc/*.c``) into the module, with ``-std=gnu11 -Wall -Wextra -Werror``
    and ``-lpthread``.  The zircon/fdio headers come from ``host/include`` --
    unless ``fuchsia_sdk.cfg`` names an SDK: then ``zircon/`` comes from the
    SDK sysroot and ``lib/fdio/`` from ``pkg/fdio/include`` (see
    :func:`_sdk_header_overlay`), so the host kernel and the cdef are compiled
    against the real headers and any value or layout that differs fails the
    build or tests/test_abi.py.

``python build_ffi.py --target x64|arm64``
    Cross-builds the module for ``x86_64-``/``aarch64-unknown-fuchsia``
    against the SDK named by ``fuchsia_sdk.cfg`` (or ``--config`` /
    ``$ZXPY_SDK_CFG``).  CFFI only emits the C file; clang is driven directly
    with the SDK's flags, compiling ``csrc/*.c`` (never ``host/``) and linking
    ``-shared -nostdlib -lzircon -lfdio -lc``.  Output:
    ``build/fuchsia-<cpu>/_zx.cpython-3XY-<arch>-fuchsia.so`` and
    ``build-info.json``.  Such a file must never be loaded on Linux (the
    glibc loader aborts on Fuchsia's packed relocations).

``python build_ffi.py`` (no ``--target``) builds the host module into
``zxpy/`` in place; ``pip install -e .`` does the same.

This file imports nothing from the ``zxpy`` package: ``zxpy/sdkconfig.py`` is
loaded by path.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from cffi import FFI

ROOT = Path(__file__).resolve().parent
HOST_DIR = ROOT / "host"
CSRC_DIR = ROOT / "csrc"
MODULE_NAME = "zxpy._zx"

# ---------------------------------------------------------------------------
# The cdef: the binding's contract (README.md, "What zxpy binds"), verbatim in meaning.
# ---------------------------------------------------------------------------
CDEF_TYPES = """
typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef uint32_t zx_rights_t;
typedef uint32_t zx_signals_t;
typedef uint64_t zx_koid_t;
typedef uint32_t zx_obj_type_t;
typedef uint32_t zx_object_info_topic_t;
typedef uint32_t zx_thread_state_t;
typedef uint32_t zx_info_process_flags_t;
typedef int64_t zx_time_t;
typedef int64_t zx_duration_t;
typedef int64_t zx_instant_mono_t;
typedef int64_t zx_duration_mono_t;
typedef uintptr_t zx_vaddr_t;
"""

CDEF_STRUCTS = """
typedef struct zx_info_handle_basic {
    zx_koid_t koid;
    zx_rights_t rights;
    zx_obj_type_t type;
    zx_koid_t related_koid;
    uint32_t reserved;
    uint8_t padding1[4];
} zx_info_handle_basic_t;

typedef struct zx_info_process {
    int64_t return_code;
    zx_instant_mono_t start_time;
    zx_info_process_flags_t flags;
    uint8_t padding1[4];
} zx_info_process_t;

typedef struct zx_cpu_set {
    uint64_t mask[8];
} zx_cpu_set_t;

typedef struct zx_info_thread {
    zx_thread_state_t state;
    uint32_t wait_exception_channel_type;
    zx_cpu_set_t cpu_affinity_mask;
} zx_info_thread_t;

typedef struct zx_info_job {
    int64_t return_code;
    bool exited;
    bool kill_on_oom;
    bool debugger_attached;
    uint8_t padding1[5];
} zx_info_job_t;

typedef struct zx_info_process_handle_stats {
    uint32_t handle_count[64];   /* ZX_OBJ_TYPE_UPPER_BOUND */
} zx_info_process_handle_stats_t;

typedef struct zx_info_thread_stats {
    zx_duration_mono_t total_runtime;
    uint32_t last_scheduled_cpu;
    uint8_t padding1[4];
} zx_info_thread_stats_t;

typedef struct zx_info_task_stats_v1 {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
} zx_info_task_stats_v1_t;

typedef struct zx_info_task_stats {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
    uint64_t mem_fractional_scaled_shared_bytes;
} zx_info_task_stats_t;

typedef struct zx_info_task_runtime_v1 {
    zx_duration_mono_t cpu_time;
    zx_duration_mono_t queue_time;
} zx_info_task_runtime_v1_t;

typedef struct zx_info_task_runtime {
    zx_duration_mono_t cpu_time;
    zx_duration_mono_t queue_time;
    zx_duration_mono_t page_fault_time;
    zx_duration_mono_t lock_contention_time;
} zx_info_task_runtime_t;

typedef struct fdio_spawn_action {
    uint32_t action;
    union {
        struct { int local_fd; int target_fd; } fd;
        struct { const char* prefix; zx_handle_t handle; } ns;
        struct { uint32_t id; zx_handle_t handle; } h;
        struct { const char* data; } name;
        struct { const char* prefix; } dir;
    };
} fdio_spawn_action_t;

typedef struct zxpy_progress {
    uint64_t count;
    uint32_t stop;
    uint32_t reserved;
} zxpy_progress_t;
"""

CDEF_FUNCTIONS = """
zx_status_t zx_task_kill(zx_handle_t handle);
zx_status_t zx_task_suspend(zx_handle_t handle, zx_handle_t* token);
zx_status_t zx_task_suspend_token(zx_handle_t handle, zx_handle_t* token);
zx_status_t zx_handle_close(zx_handle_t handle);
zx_status_t zx_handle_close_many(const zx_handle_t* handles, size_t num_handles);
zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);
zx_status_t zx_handle_replace(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);
zx_status_t zx_object_wait_one(zx_handle_t handle, zx_signals_t signals, zx_time_t deadline,
                               zx_signals_t* observed);
zx_status_t zx_object_signal(zx_handle_t handle, uint32_t clear_mask, uint32_t set_mask);
zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void* buffer,
                               size_t buffer_size, size_t* actual, size_t* avail);
zx_status_t zx_object_get_child(zx_handle_t handle, uint64_t koid, zx_rights_t rights,
                                zx_handle_t* out);
zx_status_t zx_event_create(uint32_t options, zx_handle_t* out);
zx_status_t zx_job_create(zx_handle_t parent_job, uint32_t options, zx_handle_t* out);
zx_status_t zx_process_create(zx_handle_t job, const char* name, size_t name_size,
                              uint32_t options, zx_handle_t* proc_handle,
                              zx_handle_t* vmar_handle);
zx_status_t zx_thread_create(zx_handle_t process, const char* name, size_t name_size,
                             uint32_t options, zx_handle_t* out);
zx_status_t zx_thread_start(zx_handle_t handle, zx_vaddr_t thread_entry, zx_vaddr_t stack,
                            uintptr_t arg1, uintptr_t arg2);
void zx_thread_exit(void);
zx_handle_t zx_job_default(void);
zx_handle_t zx_process_self(void);
zx_handle_t zx_thread_self(void);
zx_instant_mono_t zx_clock_get_monotonic(void);
zx_instant_mono_t zx_deadline_after(zx_duration_mono_t nanoseconds);
zx_status_t zx_nanosleep(zx_instant_mono_t deadline);
zx_status_t fdio_spawn(zx_handle_t job, uint32_t flags, const char* path,
                       const char* const* argv, zx_handle_t* process_out);
zx_status_t fdio_spawn_etc(zx_handle_t job, uint32_t flags, const char* path,
                           const char* const* argv, const char* const* environ,
                           size_t action_count, const fdio_spawn_action_t* actions,
                           zx_handle_t* process_out, char* err_msg_out);
void zxpy_progress_entry(uintptr_t progress, uintptr_t arg2);
"""

STATUS = """ZX_OK ZX_ERR_INTERNAL ZX_ERR_NOT_SUPPORTED ZX_ERR_NO_RESOURCES ZX_ERR_NO_MEMORY
ZX_ERR_INTERNAL_INTR_RETRY ZX_ERR_INVALID_ARGS ZX_ERR_BAD_HANDLE ZX_ERR_WRONG_TYPE
ZX_ERR_BAD_SYSCALL ZX_ERR_OUT_OF_RANGE ZX_ERR_BUFFER_TOO_SMALL ZX_ERR_BAD_STATE ZX_ERR_TIMED_OUT
ZX_ERR_SHOULD_WAIT ZX_ERR_CANCELED ZX_ERR_PEER_CLOSED ZX_ERR_NOT_FOUND ZX_ERR_ALREADY_EXISTS
ZX_ERR_ALREADY_BOUND ZX_ERR_UNAVAILABLE ZX_ERR_ACCESS_DENIED ZX_ERR_IO ZX_ERR_IO_REFUSED
ZX_ERR_IO_DATA_INTEGRITY ZX_ERR_IO_DATA_LOSS ZX_ERR_IO_NOT_PRESENT ZX_ERR_IO_OVERRUN
ZX_ERR_IO_MISSED_DEADLINE ZX_ERR_IO_INVALID ZX_ERR_BAD_PATH ZX_ERR_NOT_DIR ZX_ERR_NOT_FILE
ZX_ERR_FILE_BIG ZX_ERR_NO_SPACE ZX_ERR_NOT_EMPTY ZX_ERR_STOP ZX_ERR_NEXT ZX_ERR_ASYNC
ZX_ERR_PROTOCOL_NOT_SUPPORTED ZX_ERR_ADDRESS_UNREACHABLE ZX_ERR_ADDRESS_IN_USE
ZX_ERR_NOT_CONNECTED ZX_ERR_CONNECTION_REFUSED ZX_ERR_CONNECTION_RESET
ZX_ERR_CONNECTION_ABORTED ZX_ERR_INTERNAL_INTR_KILLED"""

RIGHTS = """ZX_RIGHT_NONE ZX_RIGHT_DUPLICATE ZX_RIGHT_TRANSFER ZX_RIGHT_READ ZX_RIGHT_WRITE
ZX_RIGHT_EXECUTE ZX_RIGHT_MAP ZX_RIGHT_GET_PROPERTY ZX_RIGHT_SET_PROPERTY ZX_RIGHT_ENUMERATE
ZX_RIGHT_DESTROY ZX_RIGHT_SET_POLICY ZX_RIGHT_GET_POLICY ZX_RIGHT_SIGNAL ZX_RIGHT_SIGNAL_PEER
ZX_RIGHT_WAIT ZX_RIGHT_INSPECT ZX_RIGHT_MANAGE_JOB ZX_RIGHT_MANAGE_PROCESS
ZX_RIGHT_MANAGE_THREAD ZX_RIGHT_APPLY_PROFILE ZX_RIGHT_MANAGE_SOCKET ZX_RIGHT_OP_CHILDREN
ZX_RIGHT_RESIZE ZX_RIGHT_ATTACH_VMO ZX_RIGHT_MANAGE_VMO ZX_RIGHT_SAME_RIGHTS
ZX_RIGHTS_BASIC ZX_RIGHTS_IO ZX_RIGHTS_PROPERTY ZX_RIGHTS_POLICY
ZX_DEFAULT_JOB_RIGHTS ZX_DEFAULT_PROCESS_RIGHTS ZX_DEFAULT_THREAD_RIGHTS
ZX_DEFAULT_EVENT_RIGHTS ZX_DEFAULT_VMAR_RIGHTS ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS"""

SIGNALS = """ZX_SIGNAL_NONE ZX_SIGNAL_HANDLE_CLOSED ZX_USER_SIGNAL_0 ZX_USER_SIGNAL_1 ZX_USER_SIGNAL_2
ZX_USER_SIGNAL_3 ZX_USER_SIGNAL_4 ZX_USER_SIGNAL_5 ZX_USER_SIGNAL_6 ZX_USER_SIGNAL_7
ZX_USER_SIGNAL_ALL ZX_EVENT_SIGNALED ZX_TASK_TERMINATED ZX_JOB_TERMINATED ZX_JOB_NO_JOBS
ZX_JOB_NO_PROCESSES ZX_PROCESS_TERMINATED ZX_THREAD_TERMINATED ZX_THREAD_RUNNING
ZX_THREAD_SUSPENDED"""

OBJ_TYPES = """ZX_OBJ_TYPE_NONE ZX_OBJ_TYPE_PROCESS ZX_OBJ_TYPE_THREAD ZX_OBJ_TYPE_VMO
ZX_OBJ_TYPE_CHANNEL ZX_OBJ_TYPE_EVENT ZX_OBJ_TYPE_PORT ZX_OBJ_TYPE_INTERRUPT
ZX_OBJ_TYPE_PCI_DEVICE ZX_OBJ_TYPE_DEBUGLOG ZX_OBJ_TYPE_SOCKET ZX_OBJ_TYPE_RESOURCE
ZX_OBJ_TYPE_EVENTPAIR ZX_OBJ_TYPE_JOB ZX_OBJ_TYPE_VMAR ZX_OBJ_TYPE_FIFO ZX_OBJ_TYPE_GUEST
ZX_OBJ_TYPE_VCPU ZX_OBJ_TYPE_TIMER ZX_OBJ_TYPE_IOMMU ZX_OBJ_TYPE_BTI ZX_OBJ_TYPE_PROFILE
ZX_OBJ_TYPE_PMT ZX_OBJ_TYPE_SUSPEND_TOKEN ZX_OBJ_TYPE_PAGER ZX_OBJ_TYPE_EXCEPTION
ZX_OBJ_TYPE_CLOCK ZX_OBJ_TYPE_STREAM ZX_OBJ_TYPE_MSI ZX_OBJ_TYPE_IOB ZX_OBJ_TYPE_COUNTER
ZX_OBJ_TYPE_IOB_SHARED_REGION ZX_OBJ_TYPE_SAMPLER ZX_OBJ_TYPE_UPPER_BOUND"""

INFO = """ZX_INFO_HANDLE_VALID ZX_INFO_HANDLE_BASIC ZX_INFO_PROCESS ZX_INFO_PROCESS_THREADS
ZX_INFO_JOB_CHILDREN ZX_INFO_JOB_PROCESSES ZX_INFO_THREAD ZX_INFO_JOB
ZX_INFO_PROCESS_HANDLE_STATS ZX_INFO_THREAD_STATS ZX_INFO_TASK_STATS ZX_INFO_TASK_STATS_V1
ZX_INFO_TASK_RUNTIME ZX_INFO_TASK_RUNTIME_V1 ZX_INFO_INVALID_CPU ZX_INFO_PROCESS_FLAG_STARTED
ZX_INFO_PROCESS_FLAG_EXITED ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED"""

THREAD_STATES = """ZX_THREAD_STATE_NEW ZX_THREAD_STATE_RUNNING ZX_THREAD_STATE_SUSPENDED
ZX_THREAD_STATE_BLOCKED ZX_THREAD_STATE_DYING ZX_THREAD_STATE_DEAD
ZX_THREAD_STATE_BLOCKED_EXCEPTION ZX_THREAD_STATE_BLOCKED_SLEEPING
ZX_THREAD_STATE_BLOCKED_FUTEX ZX_THREAD_STATE_BLOCKED_PORT ZX_THREAD_STATE_BLOCKED_CHANNEL
ZX_THREAD_STATE_BLOCKED_WAIT_ONE ZX_THREAD_STATE_BLOCKED_WAIT_MANY
ZX_THREAD_STATE_BLOCKED_INTERRUPT ZX_THREAD_STATE_BLOCKED_PAGER
ZX_EXCEPTION_CHANNEL_TYPE_NONE ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER
ZX_EXCEPTION_CHANNEL_TYPE_THREAD ZX_EXCEPTION_CHANNEL_TYPE_PROCESS
ZX_EXCEPTION_CHANNEL_TYPE_JOB ZX_EXCEPTION_CHANNEL_TYPE_JOB_DEBUGGER"""

MISC = """ZX_TASK_RETCODE_SYSCALL_KILL ZX_TASK_RETCODE_OOM_KILL ZX_TASK_RETCODE_POLICY_KILL
ZX_TASK_RETCODE_VDSO_KILL ZX_TASK_RETCODE_EXCEPTION_KILL ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL
ZX_HANDLE_INVALID ZX_HANDLE_FIXED_BITS_MASK ZX_KOID_INVALID ZX_KOID_KERNEL ZX_TIME_INFINITE
ZX_TIME_INFINITE_PAST ZX_MAX_NAME_LEN ZX_PROCESS_SHARED"""

FDIO = """FDIO_SPAWN_CLONE_JOB FDIO_SPAWN_DEFAULT_LDSVC FDIO_SPAWN_CLONE_NAMESPACE
FDIO_SPAWN_CLONE_STDIO FDIO_SPAWN_CLONE_ENVIRON FDIO_SPAWN_CLONE_UTC_CLOCK FDIO_SPAWN_CLONE_ALL
FDIO_SPAWN_ACTION_CLONE_FD FDIO_SPAWN_ACTION_TRANSFER_FD FDIO_SPAWN_ACTION_ADD_NS_ENTRY
FDIO_SPAWN_ACTION_ADD_HANDLE FDIO_SPAWN_ACTION_SET_NAME FDIO_SPAWN_ACTION_CLONE_DIR
FDIO_SPAWN_ERR_MSG_MAX_LENGTH"""

#: Every integer constant the module exposes, in cdef order.
CONSTANTS: tuple[str, ...] = tuple(
    " ".join((STATUS, RIGHTS, SIGNALS, OBJ_TYPES, INFO, THREAD_STATES, MISC, FDIO)).split()
)

CDEF = (
    CDEF_TYPES
    + CDEF_STRUCTS
    + CDEF_FUNCTIONS
    + "".join(f"#define {name} ...\n" for name in CONSTANTS)
)

# CFFI's generated wrappers compile cleanly under the same -Wall -Wextra
# -Werror as our own sources (checked with gcc 12 and clang 14 for the host
# and clang 14 for both Fuchsia targets), so no warning is relaxed for them.


def _preamble() -> str:
    """C source placed before CFFI's wrappers: the public headers and csrc/*.h."""
    lines = [
        "#include <stdbool.h>",
        "#include <zircon/types.h>",
        "#include <zircon/syscalls.h>",
        "#include <zircon/syscalls/object.h>",
        "#include <zircon/syscalls/exception.h>",
        "#include <zircon/process.h>",
        "#include <lib/fdio/spawn.h>",
    ]
    lines += [f'#include "{h.name}"' for h in sorted(CSRC_DIR.glob("*.h"))]
    return "\n".join(lines) + "\n"


def _load_sdkconfig() -> ModuleType:
    """zxpy/sdkconfig.py, loaded by path so building never imports zxpy."""
    name = "_zxpy_build_sdkconfig"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "zxpy" / "sdkconfig.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _rel(path: Path) -> str:
    """Source paths relative to the project when building from it (setuptools' preference)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _sdk_header_overlay(cfg: object) -> Path:
    """Directory that exposes only the SDK's ``zircon/`` and ``lib/fdio/`` headers.

    The SDK sysroot include dir also holds a complete musl-derived libc; put
    on the host include path it would shadow glibc's headers.  So the host
    build gets an overlay of two symlinks instead:
    ``build/sdk-headers/<cpu>/zircon -> <sysroot>/include/zircon`` and
    ``.../lib/fdio -> <sdk>/pkg/fdio/include/lib/fdio``, placed *instead of*
    ``host/include`` on the include path.
    """
    sysroot_zircon = cfg.sysroot / "include" / "zircon"  # type: ignore[attr-defined]
    fdio = cfg.fdio_include / "lib" / "fdio"  # type: ignore[attr-defined]
    missing = [str(p) for p in (sysroot_zircon, fdio) if not p.is_dir()]
    if missing:
        raise SystemExit(
            f"error: {cfg.path} names SDK {cfg.sdk_path}, but it lacks: "  # type: ignore[attr-defined]
            + ", ".join(missing)
        )
    overlay = ROOT / "build" / "sdk-headers" / cfg.cpu  # type: ignore[attr-defined]
    for link, target in ((overlay / "zircon", sysroot_zircon), (overlay / "lib" / "fdio", fdio)):
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(os.readlink(link)) == target:
                continue
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            else:
                link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return overlay


def make_ffibuilder(target: str = "host", *, absolute_sources: bool = False) -> FFI:
    """Build the FFI object.  ``target`` is ``host`` or ``fuchsia`` (emit-only).

    Source paths are relative to the working directory when it is the project
    (as setuptools wants); ``absolute_sources`` is for ``FFI.compile``, which
    changes directory into its temporary build dir.
    """
    ffi = FFI()
    ffi.cdef(CDEF)
    if target != "host":
        # Cross builds only emit C; clang flags are chosen by cross_build().
        ffi.set_source(MODULE_NAME, _preamble())
        return ffi

    cfg = _load_sdkconfig().load(None)
    if cfg.configured:
        headers = _sdk_header_overlay(cfg)
    else:
        headers = HOST_DIR / "include"
    sources = sorted(HOST_DIR.glob("*.c")) + sorted(CSRC_DIR.glob("*.c"))
    ffi.set_source(
        MODULE_NAME,
        _preamble(),
        sources=[str(p) if absolute_sources else _rel(p) for p in sources],
        include_dirs=[str(headers), str(HOST_DIR), str(CSRC_DIR)],
        extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Werror"],
        libraries=["pthread"],
    )
    return ffi


# ---------------------------------------------------------------------------
# Fuchsia cross build.
# ---------------------------------------------------------------------------
_ARCH = {"x64": "x86_64", "arm64": "aarch64"}
_E_MACHINE = {"x64": 62, "arm64": 183}


def _python_version(include: Path) -> tuple[int, int]:
    text = (include / "patchlevel.h").read_text(encoding="utf-8", errors="replace")
    major = re.search(r"#define\s+PY_MAJOR_VERSION\s+(\d+)", text)
    minor = re.search(r"#define\s+PY_MINOR_VERSION\s+(\d+)", text)
    if not (major and minor):
        raise SystemExit(f"error: {include / 'patchlevel.h'}: no PY_MAJOR/MINOR_VERSION")
    return int(major.group(1)), int(minor.group(1))


def _run(cmd: list[str], verbose: bool) -> None:
    if verbose:
        print("+", shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit(f"error: command failed ({proc.returncode}): {shlex.join(cmd)}")
    if verbose and proc.stdout:
        print(proc.stdout, end="")


def cross_build(
    cpu: str | None, config: str | None = None, out_dir: str | None = None, verbose: bool = False
) -> Path:
    """Cross-compile ``zxpy._zx`` for Fuchsia; return the path of the ``.so``."""
    sdkconfig = _load_sdkconfig()
    try:
        cfg = sdkconfig.load(config)
        if cpu is not None:
            if cpu not in sdkconfig.CPU_TRIPLES:
                raise SystemExit(f"error: --target {cpu!r}: expected one of x64, arm64")
            cfg = dataclasses.replace(cfg, cpu=cpu)
    except sdkconfig.SdkConfigError as exc:
        raise SystemExit(f"error: {exc}") from exc
    problems = cfg.check_layout(need_python=True)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(f"error: cannot cross-build for {cfg.cpu}: {len(problems)} problem(s) above")

    api_level = cfg.resolve_api_level()
    clang = str(cfg.find_clang())
    manifest = cfg.read_manifest()
    py_major, py_minor = _python_version(cfg.python_include)
    arch = _ARCH[cfg.cpu]
    so_name = f"_zx.cpython-{py_major}{py_minor}-{arch}-fuchsia.so"
    out = Path(out_dir) if out_dir else ROOT / "build" / f"fuchsia-{cfg.cpu}"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.o"):
        stale.unlink()

    c_file = out / "_zx.c"
    make_ffibuilder("fuchsia").emit_c_code(str(c_file))

    target = [f"--target={cfg.triple}", f"--sysroot={cfg.sysroot}"]
    cflags = target + [
        f"-ffuchsia-api-level={api_level}",
        "-fPIC",
        "-O2",
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-I{cfg.fdio_include}",
        f"-I{CSRC_DIR}",
        f"-I{cfg.python_include}",
    ]
    # The Fuchsia driver links compiler-rt's builtins; distro clangs ship none
    # for Fuchsia.  Without them, aarch64 must not call the outline-atomics
    # helpers that live there.
    builtins = subprocess.run(
        [clang, *target, "-print-libgcc-file-name"], stdout=subprocess.PIPE, text=True, check=False
    ).stdout.strip()
    have_builtins = bool(builtins) and Path(builtins).is_file()
    if not have_builtins and cfg.cpu == "arm64":
        cflags.append("-mno-outline-atomics")
    cflags += list(cfg.extra_cflags)

    objects = []
    for src in [c_file, *sorted(CSRC_DIR.glob("*.c"))]:
        obj = out / (src.stem + ".o")
        _run([clang, *cflags, "-c", str(src), "-o", str(obj)], verbose)
        objects.append(str(obj))

    so_path = out / so_name
    ldflags = target + [
        "-fuse-ld=lld",
        "-shared",
        "-nostdlib",
        f"-Wl,-soname,{so_name}",
        *(f"-L{d}" for d in cfg.lib_dirs),
    ]
    libs = ["-lzircon", "-lfdio", "-lc"] + ([builtins] if have_builtins else [])
    _run([clang, *ldflags, *objects, *libs, *cfg.extra_ldflags, "-o", str(so_path)], verbose)

    info = {
        "module": so_name,
        "cpu": cfg.cpu,
        "triple": cfg.triple,
        "e_machine": _E_MACHINE[cfg.cpu],
        "api_level": api_level,
        "sdk_path": str(cfg.sdk_path),
        "sdk_id": manifest.get("id"),
        "stand_in": bool(manifest.get("zxpy_stand_in", False)),
        "python_include": str(cfg.python_include),
        "clang": clang,
        "compiler_rt_builtins": builtins if have_builtins else None,
        "cflags": cflags,
        "ldflags": ldflags + libs + list(cfg.extra_ldflags),
    }
    (out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    note = " (STAND-IN SDK: proves flags, headers and link shape only)" if info["stand_in"] else ""
    print(f"built {so_path}{note}")
    return so_path


def build_host_inplace(verbose: bool = False) -> Path:
    """Build the host module and copy it into zxpy/ (what ``pip install -e .`` does)."""
    tmp = ROOT / "build" / "host"
    so = Path(make_ffibuilder("host", absolute_sources=True).compile(tmpdir=str(tmp), verbose=verbose))
    dest = ROOT / "zxpy" / so.name
    # A stale module under another suffix (e.g. _zx.abi3.so from `pip install -e .`)
    # could be imported instead of this one: keep exactly one.
    for old in (ROOT / "zxpy").glob("_zx.*.so"):
        old.unlink()
    shutil.copy2(so, dest)
    print(f"built {dest}")
    return dest


#: What setup.py's ``cffi_modules=["build_ffi.py:ffibuilder"]`` picks up (CFFI
#: executes this file with ``__name__ == "__cffi__"``).  Running the script
#: creates the builder it needs itself, so a cross build never depends on the
#: host configuration.
if __name__ != "__main__":
    ffibuilder = make_ffibuilder("host")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target", choices=["host", "x64", "arm64"], default="host",
        help="host (default: in-place build into zxpy/) or a Fuchsia cpu",
    )
    parser.add_argument("--config", help="fuchsia_sdk.cfg to use (default: $ZXPY_SDK_CFG or ./fuchsia_sdk.cfg)")
    parser.add_argument("--out", help="output directory for a cross build (default: build/fuchsia-<cpu>)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every compiler command")
    args = parser.parse_args(argv)
    if args.target == "host":
        if args.config:
            os.environ[_load_sdkconfig().CONFIG_ENV] = args.config
        build_host_inplace(args.verbose)
    else:
        cross_build(args.target, args.config, args.out, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
