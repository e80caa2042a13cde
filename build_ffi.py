"""CFFI builder for ``zxpy._zx`` (out-of-line API mode) -- the only one.

One ``cdef`` serves every target.  It declares exactly the types, structs and
functions of the binding's contract (docs/binding.md, "What zxpy binds"); every
constant is ``#define NAME ...``, so its value is read from the C headers when
the module is compiled and never typed in Python.  Struct layouts are declared
field by field (no ``...;``), so CFFI checks them against the headers at build
and import time.

Targets
-------
host (default; what ``pip install .`` / ``setup.py`` build via ``cffi_modules``)
    Compiles the host kernel (``host/*.c`` and ``host/ipc/*.c``) and the binding's helpers
    (``csrc/*.c``) into the module, with ``-std=gnu11 -Wall -Wextra`` (and
    ``-Werror`` when ``ZXPY_WERROR=1``, as CI, tox and the contributor
    instructions set: a user's ``pip install`` never fails on a warning that a
    newer compiler invents) and ``-lpthread``.  Without a C compiler the build
    stops with one line saying what to install.  The module is built against
    CPython 3.10's limited API (``_zx.abi3.so``, one module for 3.10 and later).
    The zircon/fdio headers come from ``host/include`` --
    unless ``fuchsia_sdk.cfg`` names an SDK: then ``zircon/`` comes from the
    SDK sysroot and ``lib/fdio/`` from ``pkg/fdio/include`` (see
    :func:`_sdk_header_overlay`), so the host kernel and the cdef are compiled
    against the real headers and any value or layout that differs fails the
    build or tests/test_abi.py.

``python build_ffi.py --target x64|arm64``
    Cross-builds the module for ``x86_64-``/``aarch64-unknown-fuchsia``
    against the SDK named by ``fuchsia_sdk.cfg`` (or ``--config`` /
    ``$ZXPY_SDK_CFG``): the same cdef and detection, then clang with the
    SDK's flags.  That code is Fuchsia tooling and lives in
    ``fuchsia_tools/cross_build.py``, which imports this file.

``python build_ffi.py`` (no ``--target``) builds the host module into
``zxpy/`` in place; ``pip install -e .`` does the same.

This file imports no package of the project: ``zxpy/_abi.py``,
``zxpy/_version.py`` and ``fuchsia_tools/sdkconfig.py`` (which reads
``fuchsia_sdk.cfg``; the sdist carries it for this reason, the wheel does
not) are loaded by path.  Only ``--target x64|arm64`` imports
``fuchsia_tools.cross_build``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

from cffi import FFI

ROOT = Path(__file__).resolve().parent
HOST_DIR = ROOT / "host"
CSRC_DIR = ROOT / "csrc"
MODULE_NAME = "zxpy._zx"

# ---------------------------------------------------------------------------
# The cdef, derived from the binding's one table (zxpy/_abi.py) and the
# features the headers being compiled against have.
# ---------------------------------------------------------------------------


def _load_by_path(name: str, path: Path) -> ModuleType:
    """A module of the project that needs only the standard library, loaded by path (building never
    imports the zxpy or fuchsia_tools packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ABI = _load_by_path("_zxpy_build_abi", ROOT / "zxpy" / "_abi.py")
VERSION: str = _load_by_path("_zxpy_build_version", ROOT / "zxpy" / "_version.py").__version__


class Detected:
    """What the headers of one build have: gated features and optional constants.

    A plain class: CFFI's setuptools hook executes this file under a module
    name that is not in ``sys.modules``, where a dataclass cannot be made.
    """

    __slots__ = ("features", "constants", "arch")

    def __init__(self, features: frozenset[str], constants: frozenset[str], arch: str | None = None) -> None:
        self.features = features
        self.constants = constants
        #: The architecture the headers are for (``x64``, ``arm64``; None: another one), which picks the
        #: register records of ``<zircon/syscalls/debug.h>`` (``Struct.arch``).
        self.arch = arch

    @classmethod
    def everything(cls, arch: str | None = "x64") -> Detected:
        """Every feature and constant (the newest ABI; used only to emit code)."""
        return cls(
            frozenset(f.name for f in ABI.FEATURES),
            frozenset(c.name for c in ABI.CONSTANTS if c.gate == "optional"),
            arch,
        )

    def has(self, gate: str | None, name: str = "") -> bool:
        if gate is None:
            return True
        if gate == "optional":
            return name in self.constants
        return gate in self.features


def exported_constants(found: Detected) -> tuple[str, ...]:
    """The integer constants a build with ``found`` exports, in table order."""
    return tuple(c.name for c in ABI.CONSTANTS if found.has(c.gate, c.name))


def make_cdef(found: Detected, fuchsia_runner: bool = False) -> str:
    """The cdef for a build whose headers have ``found``; ``fuchsia_runner`` adds the Fuchsia runner's entry
    points (:func:`fuchsia_runner_host`)."""
    parts = [f"typedef {t.base} {t.name};" for t in ABI.TYPEDEFS if found.has(t.gate)]
    for struct in ABI.STRUCTS:
        fields = struct.layout(found.features, found.arch)
        if fields is not None:
            parts.append(f"typedef {struct.kind} {struct.tag} {{ {fields} }} {struct.name};")
    parts += [f.decl for f in ABI.FUNCTIONS if found.has(f.gate)]
    if fuchsia_runner:
        parts += [f.decl for f in ABI.FUCHSIA_RUNNER_FUNCTIONS]
    parts.append("const char *zxpy_build_info(void);")
    parts.append("int zxpy_fastcalls_install(void);")  # csrc/fastcalls.h: every target
    parts += [f"#define {name} ..." for name in exported_constants(found)]
    return "\n".join(parts) + "\n"


def feature_macros(found: Detected) -> list[tuple[str, str]]:
    """``ZXPY_HAVE_<FEATURE>`` for each gated feature the headers have: csrc/ reads the same detection as the cdef
    (e.g. csrc/fastcalls.c picks its ``zx_info_process_t`` layout with ``ZXPY_HAVE_INFO_PROCESS_V2``)."""
    return [(f"ZXPY_HAVE_{name.upper()}", "1") for name in sorted(found.features)]


def _c_string(text: str) -> str:
    """``text`` as a C string literal (printable ASCII kept, everything else octal-escaped)."""
    out = []
    for ch in text.encode():
        if 32 <= ch < 127 and ch not in (ord('"'), ord("\\"), ord("?")):
            out.append(chr(ch))
        else:
            out.append(f"\\{ch:03o}")
    return '"' + "".join(out) + '"'


def _run_quiet(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def detect(compiler: list[str], flags: list[str], scratch: Path) -> Detected:
    """Probe the headers that ``compiler`` + ``flags`` see (the module's own includes).

    A feature is present when its probe compiles (``-fsyntax-only``); an
    optional constant when the preprocessor has it defined.  The preamble
    itself must compile: if it does not, the headers lack something every
    supported SDK has, and the build stops with the compiler's message.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    head = _preamble() + "#include <stddef.h>\n"
    base = scratch / "zxpy_probe_core.c"
    base.write_text(head, encoding="utf-8")
    proc = _run_quiet([*compiler, *flags, "-fsyntax-only", str(base)], scratch)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit(
            "error: the Zircon headers lack what every supported SDK has (see the compiler's "
            f"message above; command: {shlex.join([*compiler, *flags])})"
        )
    features = set()
    for feature in ABI.FEATURES:
        probe = scratch / f"zxpy_probe_{feature.name}.c"
        probe.write_text(head + feature.probe + "\n", encoding="utf-8")
        if _run_quiet([*compiler, *flags, "-fsyntax-only", str(probe)], scratch).returncode == 0:
            features.add(feature.name)
    optional = [c.name for c in ABI.CONSTANTS if c.gate == "optional"]
    marks = scratch / "zxpy_probe_constants.c"
    marks.write_text(
        head + "".join(f"#ifdef {n}\nzxpy_have_{i}\n#endif\n" for i, n in enumerate(optional)),
        encoding="utf-8",
    )
    proc = _run_quiet([*compiler, *flags, "-E", "-P", str(marks)], scratch)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit(f"error: preprocessing the constant probe failed: {shlex.join(compiler)}")
    marked = {line.strip() for line in proc.stdout.splitlines()}
    constants = {n for i, n in enumerate(optional) if f"zxpy_have_{i}" in marked}
    arch = None
    for name, member in _ARCH_PROBES:
        probe = scratch / f"zxpy_probe_arch_{name}.c"
        probe.write_text(head + f"char zxpy_probe[offsetof(zx_thread_state_general_regs_t, {member})];\n",
                         encoding="utf-8")
        if _run_quiet([*compiler, *flags, "-fsyntax-only", str(probe)], scratch).returncode == 0:
            arch = name
    return Detected(frozenset(features), frozenset(constants), arch)


#: Which architecture's ``zx_thread_state_general_regs_t`` the headers define: a member only it has.
_ARCH_PROBES = (("x64", "rflags"), ("arm64", "tpidr"))


def build_info_source(found: Detected, sdk: dict[str, object]) -> str:
    """C for the module's ``zxpy_build_info()``: what it was built against, as JSON."""
    info = {
        "version": VERSION,
        "features": sorted(found.features),
        "constants": sorted(found.constants),
        "arch": found.arch,
        "sdk": sdk,
    }
    return (
        "static const char *zxpy_build_info(void) {\n"
        f"    return {_c_string(json.dumps(info, sort_keys=True))};\n}}\n"
    )


def fuchsia_runner_host() -> bool:
    """Whether the host module gets the Fuchsia runner (host/fuchsia/): it runs x86-64 Fuchsia images under
    ptrace on x86-64 Linux only (docs/fuchsia-elf.md)."""
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


#: host/fuchsia/ sources of the host module (vdso_dump.c is a stand-alone tool with its own main).
FUCHSIA_RUNNER_SOURCES = ("entry.c", "fileserver.c", "inject.c", "launcher.c", "loader.c", "runner.c",
                          "serve_object.c", "stdio.c", "vdso.c", "vm.c")


def _preamble(fuchsia_runner: bool = False) -> str:
    """C source placed before CFFI's wrappers: the public headers and csrc/*.h (and host/fuchsia/entry.h
    with ``fuchsia_runner``)."""
    lines = [
        "#include <stdbool.h>",
        "#include <zircon/types.h>",
        "#include <zircon/syscalls.h>",
        "#include <zircon/syscalls/object.h>",
        "#include <zircon/syscalls/exception.h>",
        "#include <zircon/syscalls/port.h>",
        "#include <zircon/syscalls/debug.h>",
        "#include <zircon/process.h>",
        "#include <lib/fdio/spawn.h>",
    ]
    lines += [f'#include "{h.name}"' for h in sorted(CSRC_DIR.glob("*.h"))]
    if fuchsia_runner:
        lines.append('#include "fuchsia/entry.h"')
    return "\n".join(lines) + "\n"


def _load_sdkconfig() -> ModuleType:
    """fuchsia_tools/sdkconfig.py, loaded by path: building imports no package of the project."""
    return _load_by_path("_zxpy_build_sdkconfig", ROOT / "fuchsia_tools" / "sdkconfig.py")


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
    overlay: Path = ROOT / "build" / "sdk-headers" / cfg.cpu  # type: ignore[attr-defined]
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


def _host_compiler() -> list[str]:
    """The C compiler setuptools will use for the host module ($CC, else Python's own)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


def _require_compiler(compiler: list[str]) -> None:
    """Stop with one line naming what to install when the host module's compiler is missing."""
    if not compiler or shutil.which(compiler[0]) is None:
        origin = "$CC" if os.environ.get("CC") else "Python's build configuration"
        name = compiler[0] if compiler else "(empty)"
        raise SystemExit(f"error: zxpy needs a C compiler to build its host kernel, and {name!r} (from {origin})"
                         " was not found: install gcc (apt install gcc libc6-dev) or clang")


def _require_gil_build() -> None:
    """Stop with one line on a free-threaded CPython: it has no limited API to build against, and the host kernel's
    parking of this interpreter's threads is built on the GIL (docs/building.md)."""
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        raise SystemExit("error: zxpy does not support free-threaded CPython (this is "
                         f"{sys.implementation.name} {platform.python_version()} without a GIL): use a regular "
                         "CPython >= 3.10 build")


def warning_flags() -> list[str]:
    """``-Wall -Wextra``, plus ``-Werror`` in CI and development builds (``ZXPY_WERROR=1``), never in a user's."""
    return ["-Wall", "-Wextra", *(["-Werror"] if os.environ.get("ZXPY_WERROR") == "1" else [])]


def sdk_summary(cfg: object | None) -> dict[str, object]:
    """What a build was compiled against, for ``zxpy_build_info()`` and build-info.json."""
    if cfg is None or not cfg.configured:  # type: ignore[attr-defined]
        return {"description": "zxpy's own headers (host/include): today's Zircon ABI",
                "id": None, "layout": None, "stand_in": False, "vintage": None, "path": None}
    identity = dict(cfg.sdk_identity())  # type: ignore[attr-defined]
    identity["path"] = str(cfg.sdk_path)  # type: ignore[attr-defined]
    return identity


#: The oldest CPython whose limited API the host module is built against (``Py_LIMITED_API``): the wheel's tag,
#: cp310-abi3, says the same (setup.py).
LIMITED_API = "0x030A0000"

#: Host-only entry points of the binding itself (csrc/host_gil.h).
HOST_ONLY_CDEF = "void zxpy_runtime_closing(void);\n"


def make_ffibuilder(
    target: str = "host", *, absolute_sources: bool = False, found: Detected | None = None,
    sdk: dict[str, object] | None = None,
) -> FFI:
    """Build the FFI object.  ``target`` is ``host`` or ``fuchsia`` (emit-only).

    ``found`` is what the target's headers have (a fuchsia target must pass
    it; the host target detects it).  Source paths are relative to the
    working directory when it is the project (as setuptools wants);
    ``absolute_sources`` is for ``FFI.compile``, which changes directory into
    its temporary build dir.
    """
    ffi = FFI()
    if target != "host":
        # Cross builds only emit C; fuchsia_tools/cross_build.py drives clang.
        assert found is not None and sdk is not None
        ffi.cdef(make_cdef(found))
        ffi.set_source(MODULE_NAME, _preamble() + build_info_source(found, sdk))
        return ffi

    sdkconfig = _load_sdkconfig()
    try:
        cfg = sdkconfig.load(None)
    except sdkconfig.SdkConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    if cfg.configured:
        headers = _sdk_header_overlay(cfg)
        scratch = ROOT / "build" / "probe" / f"sdk-{cfg.cpu}"
    else:
        headers = HOST_DIR / "include"
        scratch = ROOT / "build" / "probe" / "host"
    include_dirs = [str(headers), str(HOST_DIR), str(CSRC_DIR)]
    compiler = _host_compiler()
    _require_compiler(compiler)
    _require_gil_build()
    found = detect(compiler, ["-std=gnu11", *(f"-I{d}" for d in include_dirs)], scratch)
    sdk = sdk_summary(cfg)
    runner = fuchsia_runner_host()
    ffi.cdef(make_cdef(found, fuchsia_runner=runner) + HOST_ONLY_CDEF)
    # host/ipc/ too: ports (zxpy.port, zxpy.aio), channels (zxpy.Channel) and exceptions (zxpy.exception).
    sources = sorted(HOST_DIR.glob("*.c")) + sorted((HOST_DIR / "ipc").glob("*.c")) + sorted(CSRC_DIR.glob("*.c"))
    if runner:
        # The Fuchsia runner (zxpy.Job.spawn_fuchsia): x86-64 Linux hosts only.
        sources += [HOST_DIR / "fuchsia" / name for name in FUCHSIA_RUNNER_SOURCES]
    ffi.set_source(
        MODULE_NAME,
        _preamble(runner) + build_info_source(found, {**sdk, "target": "host"}),
        sources=[str(p) if absolute_sources else _rel(p) for p in sources],
        include_dirs=include_dirs,
        extra_compile_args=["-std=gnu11", *warning_flags()],
        libraries=["pthread"],
        # CPython's limited API of 3.10 for every file (csrc/host_gil.c included): one module, named
        # _zx.abi3.so, serves every CPython from 3.10 on (docs/building.md, "One abi3 wheel").
        define_macros=[("Py_LIMITED_API", LIMITED_API), *feature_macros(found)],
        py_limited_api=True,
    )
    return ffi


def build_host_inplace(verbose: bool = False) -> Path:
    """Build the host module and copy it into zxpy/ (what ``pip install -e .`` does)."""
    tmp = ROOT / "build" / "host"
    so = Path(make_ffibuilder("host", absolute_sources=True).compile(tmpdir=str(tmp), verbose=verbose))
    dest = ROOT / "zxpy" / so.name
    # A stale module under another suffix (e.g. _zx.abi3.so from an older `pip install -e .`,
    # or another Python's) could be imported instead of this one: keep exactly one.
    for old in (ROOT / "zxpy").glob("_zx.*.so"):
        old.unlink()
    shutil.copy2(so, dest)
    print(f"built {dest}")
    return dest


def ffibuilder() -> FFI:
    """What setup.py's ``cffi_modules=["build_ffi.py:ffibuilder"]`` picks up: CFFI
    calls it, since it is not an ``FFI`` itself.  A function, so that importing this
    file (the cross build does) probes no compiler and reads no configuration."""
    return make_ffibuilder("host")


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
        # fuchsia_tools.cross_build imports this file as ``build_ffi``: let that be this very module.
        sys.modules.setdefault("build_ffi", sys.modules[__name__])
        from fuchsia_tools.cross_build import cross_build

        cross_build(args.target, args.config, args.out, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
