"""Cross-build ``zxpy._zx`` for Fuchsia: ``python build_ffi.py --target x64|arm64``.

Builds for ``x86_64-``/``aarch64-unknown-fuchsia`` against the SDK named by
``fuchsia_sdk.cfg`` (or ``--config`` / ``$ZXPY_SDK_CFG``).  The cdef, the
feature detection and the emitted C are ``build_ffi.py``'s, the same as the
host build's; CFFI only emits the C file.  clang is driven directly with the
SDK's flags (:meth:`fuchsia_tools.sdkconfig.SdkConfig.target_cflags`, which
the FEMU runner uses too), compiling ``csrc/*.c`` (never ``host/``) and
linking ``-shared -nostdlib -lzircon -lfdio -lc``.  Output:
``build/fuchsia-<cpu>/_zx.cpython-3XY-<arch>-fuchsia.so`` and
``build-info.json``.  Such a file must never be loaded on Linux (the glibc
loader aborts on Fuchsia's packed relocations).

``build_ffi.py`` is imported from the source tree (it sits above this
package), so run this from a checkout or an unpacked sdist.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import build_ffi

from . import sdkconfig

__all__ = ["cross_build"]

#: ELF e_machine of each cpu (EM_X86_64, EM_AARCH64), recorded in build-info.json.
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
    assert cfg.python_include is not None  # check_layout(need_python=True) asks for it

    api_level = cfg.resolve_api_level()
    clang_path = cfg.find_clang()
    assert clang_path is not None  # so does check_layout
    clang = str(clang_path)
    sdk = build_ffi.sdk_summary(cfg)
    py_major, py_minor = _python_version(cfg.python_include)
    arch = cfg.triple.split("-", 1)[0]
    so_name = f"_zx.cpython-{py_major}{py_minor}-{arch}-fuchsia.so"
    out = Path(out_dir) if out_dir else build_ffi.ROOT / "build" / f"fuchsia-{cfg.cpu}"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.o"):
        stale.unlink()

    target = [f"--target={cfg.triple}", f"--sysroot={cfg.sysroot}"]
    # An SDK from before API levels (no version_history.json) gets none.
    if api_level is None:
        print(f"note: {sdk['description']} has no API levels: building without -ffuchsia-api-level")
    sdk_flags = cfg.target_cflags(api_level)  # the same as the FEMU runner's
    csrc = build_ffi.CSRC_DIR
    found = build_ffi.detect([clang], [*sdk_flags, "-std=gnu11", f"-I{csrc}"], out / "probe")
    cflags = [*sdk_flags, "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", f"-I{csrc}",
              f"-I{cfg.python_include}", *(f"-D{name}={value}" for name, value in build_ffi.feature_macros(found)),
              *cfg.extra_cflags]
    c_file = out / "_zx.c"
    build_ffi.make_ffibuilder("fuchsia", found=found, sdk={**sdk, "target": cfg.cpu}).emit_c_code(str(c_file))
    # The Fuchsia driver links compiler-rt's builtins; distro clangs ship none for Fuchsia.
    builtins_path = cfg.compiler_rt_builtins(clang_path)
    builtins = str(builtins_path) if builtins_path else ""
    have_builtins = builtins_path is not None

    objects = []
    for src in [c_file, *sorted(csrc.glob("*.c"))]:
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
        "sdk_id": sdk.get("id"),
        "sdk": sdk,
        "stand_in": bool(sdk.get("stand_in")),
        "features": sorted(found.features),
        "optional_constants": sorted(found.constants),
        "python_include": str(cfg.python_include),
        "clang": clang,
        "compiler_rt_builtins": builtins if have_builtins else None,
        "cflags": cflags,
        "ldflags": ldflags + libs + list(cfg.extra_ldflags),
    }
    (out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    note = " (STAND-IN SDK: proves flags, headers and link shape only)" if info["stand_in"] else ""
    missing = sorted(f.name for f in build_ffi.ABI.FEATURES if f.name not in found.features)
    print(f"built {so_path}{note}")
    print(f"features: {', '.join(sorted(found.features)) or 'none'}"
          + (f"; absent from these headers: {', '.join(missing)}" if missing else ""))
    return so_path
