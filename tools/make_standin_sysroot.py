#!/usr/bin/env python3
"""Lay out a STAND-IN Fuchsia SDK tree, so the cross-build can run without the real SDK.

The real Fuchsia SDK (IDK) and its clang cannot be downloaded here.  This tool
builds a small tree with the same *shape*, made only from things this project
and Debian provide:

``meta/manifest.json``
    ``id`` is ``0.0.0-zxpy-stand-in`` and ``zxpy_stand_in`` is true, so no tool
    mistakes the tree for a real SDK (``build-info.json`` of a cross build
    repeats the flag).
``version_history.json``
    A few made-up API levels (the newest "supported" one is what
    ``api_level = auto`` picks).  The numbers mean nothing.
``arch/<cpu>/sysroot/include``
    Debian's **musl** libc headers for that cpu (Fuchsia's libc is musl-derived,
    but these are Linux musl headers, not Fuchsia's) plus **zxpy's own**
    ``zircon/`` headers from ``host/include`` -- not Fuchsia's.
``arch/<cpu>/sysroot/lib/{libc.so,libzircon.so}``, ``arch/<cpu>/lib/libfdio.so``
    Link stubs built by clang *for the Fuchsia target* with ``-nostdlib``: one
    trapping function per symbol the real library exports that zxpy's headers
    declare (``zx_*`` and ``_zx_*`` in libzircon, the ``zx_*_self``/
    ``zx_job_default`` accessors in libc, ``fdio_spawn*`` in libfdio).  They
    only let the linker record DT_NEEDED and resolve names; they run nowhere.
    (Same places as in the real IDK: libc and the vDSO stub in the sysroot,
    fdio in ``arch/<cpu>/lib``.)
``pkg/fdio/include/lib/fdio/spawn.h``
    zxpy's own rendition.
``zxpy_standin.cfg``
    A ``fuchsia_sdk.cfg`` pointing at the tree, the clang used, and the
    **host CPython's headers** as a stand-in for a target CPython's (none
    exists for Fuchsia; the host ``pyconfig.h`` describes glibc Linux).

What a cross build against this tree proves: the flags, the headers compile
for ``*-unknown-fuchsia`` with ``-Werror``, the module links as a Fuchsia
shared object importing ``zx_*``/``fdio_*`` from the right libraries and no
Linux-only API.  What it cannot prove: that the real SDK's headers agree (the
host build with an SDK configured checks that), that the module loads or runs
on Fuchsia.  Never load the produced ``.so`` on Linux: the glibc loader
aborts the process on its packed relocations.

musl headers: ``/usr/include/<arch>-linux-musl`` (Debian's ``musl-dev``) for
the native cpu.  For a foreign cpu, ``--fetch-musl`` downloads Debian's
``musl-dev:<arch>`` package with ``apt-get download`` and unpacks it with
``dpkg-deb -x`` into a cache (``$ZXPY_MUSL_CACHE``, default
``~/.cache/zxpy/musl``); nothing is installed.  apt must know the foreign
architecture (``dpkg --add-architecture arm64 && apt-get update``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ROOT / "host" / "include"

STAND_IN_ID = "0.0.0-zxpy-stand-in"
CPUS = {"x64": ("x86_64", "amd64"), "arm64": ("aarch64", "arm64")}  # cpu -> (gnu arch, deb arch)
API_LEVELS = {"24": "supported", "25": "supported", "26": "in-development"}

#: libc functions given a stub besides the zx_*_self accessors, so that the
#: usual compiler-emitted calls resolve too.
LIBC_EXTRA = (
    "memcpy", "memmove", "memset", "memcmp", "strlen", "strcmp", "abort", "malloc", "free",
    "__stack_chk_fail", "__errno_location", "__assert_fail",
)


def musl_cache() -> Path:
    return Path(os.environ.get("ZXPY_MUSL_CACHE") or Path.home() / ".cache" / "zxpy" / "musl")


def find_musl_include(cpu: str, override: dict[str, Path]) -> Path | None:
    """Debian musl headers for ``cpu``: an override, the native install, or the cache."""
    if cpu in override:
        return override[cpu]
    arch, debarch = CPUS[cpu]
    for cand in (
        Path(f"/usr/include/{arch}-linux-musl"),
        musl_cache() / debarch / "usr" / "include" / f"{arch}-linux-musl",
    ):
        if (cand / "stdlib.h").is_file():
            return cand
    return None


def fetch_musl(cpu: str) -> Path:
    """Download and unpack ``musl-dev:<debarch>`` into the cache (no install)."""
    arch, debarch = CPUS[cpu]
    dest = musl_cache() / debarch
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            ["apt-get", "download", f"musl-dev:{debarch}"],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        debs = list(Path(tmp).glob("musl-dev_*.deb"))
        if proc.returncode != 0 or not debs:
            raise SystemExit(
                f"error: apt-get download musl-dev:{debarch} failed:\n{proc.stdout.strip()}\n"
                f"(apt must know the architecture: dpkg --add-architecture {debarch} && apt-get update)"
            )
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(dest)], check=True)
    include = dest / "usr" / "include" / f"{arch}-linux-musl"
    if not (include / "stdlib.h").is_file():
        raise SystemExit(f"error: {debs[0].name} has no {include}")
    return include


def declared_functions(header: Path) -> list[str]:
    """Names of the functions a zxpy header declares (comments stripped)."""
    text = re.sub(r"/\*.*?\*/", "", header.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)
    return sorted(set(re.findall(r"\b((?:zx|fdio)_[a-z0-9_]+)\s*\(", text)))


def build_stub(clang: str, cpu: str, soname: str, names: list[str], out: Path) -> None:
    """A Fuchsia shared object whose every symbol traps: a link stub."""
    arch, _ = CPUS[cpu]
    source = "".join(f"void {name}(void) {{ __builtin_trap(); }}\n" for name in names)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (soname + ".c")
        src.write_text("/* zxpy stand-in link stub: never executed. */\n" + source, encoding="utf-8")
        cmd = [
            clang, f"--target={arch}-unknown-fuchsia", "-fPIC", "-shared", "-nostdlib",
            "-fuse-ld=lld", "-ffreestanding", "-fno-builtin", "-w",
            f"-Wl,-soname,{soname}", str(src), "-o", str(out),
        ]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"error: building stub {soname} for {cpu} failed:\n{proc.stdout}")


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=False)


def clang_root(clang: str) -> Path:
    """The toolchain root for ``[sdk] clang_dir`` (``<root>/bin/clang`` exists)."""
    path = Path(shutil.which(clang) or clang).resolve()
    if path.parent.name == "bin" and (path.parent.parent / "bin" / "clang").exists():
        return path.parent.parent
    return path.parent


def make(out: Path, cpus: list[str], clang: str, musl: dict[str, Path], fetch: bool,
         python_include: Path) -> Path:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "meta" / "manifest.json"
    targets = list(cpus)
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not old.get("zxpy_stand_in"):
            raise SystemExit(f"error: {out} holds a real SDK manifest; refusing to overwrite it")
        targets = sorted(set(old.get("arch", {}).get("target", [])) | set(cpus))

    zircon_fns = declared_functions(HEADERS / "zircon" / "syscalls.h")
    libc_fns = declared_functions(HEADERS / "zircon" / "process.h")
    fdio_fns = declared_functions(HEADERS / "lib" / "fdio" / "spawn.h")

    for cpu in cpus:
        include = find_musl_include(cpu, musl)
        if include is None:
            if not fetch:
                raise SystemExit(
                    f"error: no musl headers for {cpu} ({CPUS[cpu][0]}-linux-musl); "
                    f"install musl-dev, pass --musl-include {cpu}=DIR, or use --fetch-musl"
                )
            include = fetch_musl(cpu)
        sysroot = out / "arch" / cpu / "sysroot"
        if sysroot.exists():
            shutil.rmtree(sysroot)
        copy_tree(include, sysroot / "include")
        copy_tree(HEADERS / "zircon", sysroot / "include" / "zircon")
        build_stub(clang, cpu, "libzircon.so",
                   zircon_fns + ["_" + n for n in zircon_fns], sysroot / "lib" / "libzircon.so")
        build_stub(clang, cpu, "libc.so", libc_fns + list(LIBC_EXTRA), sysroot / "lib" / "libc.so")
        build_stub(clang, cpu, "libfdio.so", fdio_fns, out / "arch" / cpu / "lib" / "libfdio.so")
        print(f"stand-in sysroot for {cpu}: {sysroot} (musl headers from {include})")

    fdio_dir = out / "pkg" / "fdio" / "include" / "lib" / "fdio"
    copy_tree(HEADERS / "lib" / "fdio", fdio_dir)
    (out / "pkg" / "fdio" / "meta.json").write_text(json.dumps({
        "name": "fdio", "type": "cc_prebuilt_library", "format": "shared",
        "include_dir": "pkg/fdio/include", "headers": ["pkg/fdio/include/lib/fdio/spawn.h"],
        "zxpy_stand_in": True,
    }, indent=2) + "\n", encoding="utf-8")

    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({
        "arch": {"host": "x86_64-linux-gnu", "target": targets},
        "id": STAND_IN_ID,
        "parts": [{"meta": "pkg/fdio/meta.json", "type": "cc_prebuilt_library"}],
        "root": "..",
        "schema_version": "1",
        "zxpy_stand_in": True,
        "zxpy_note": "STAND-IN made by zxpy tools/make_standin_sysroot.py: zxpy's own zircon/fdio "
                     "headers, Debian musl headers, trapping link stubs. Not a Fuchsia SDK.",
    }, indent=2) + "\n", encoding="utf-8")
    (out / "version_history.json").write_text(json.dumps({
        "data": {
            "name": "Platform version map",
            "type": "version_history",
            "api_levels": {lvl: {"abi_revision": f"0x5A585059{int(lvl):08X}", "status": st}
                           for lvl, st in API_LEVELS.items()},
            "special_api_levels": {},
        },
        "schema_id": "https://fuchsia.dev/schema/version_history.json",
        "zxpy_stand_in": True,
    }, indent=2) + "\n", encoding="utf-8")

    cfg = out / "zxpy_standin.cfg"
    cfg.write_text(
        "# Written by tools/make_standin_sysroot.py: a STAND-IN SDK, not Fuchsia's.\n"
        "[sdk]\n"
        "path = .\n"
        f"clang_dir = {clang_root(clang)}\n"
        "[target]\n"
        f"cpu = {cpus[0]}\n"
        "api_level = auto\n"
        "# The host CPython's headers, standing in for a target CPython's.\n"
        f"python_include = {python_include}\n",
        encoding="utf-8",
    )
    print(f"stand-in SDK: {out} (config: {cfg})")
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="directory to create (the SDK root)")
    parser.add_argument("--cpu", action="append", choices=sorted(CPUS), help="repeatable; default: both")
    parser.add_argument("--clang", default="clang", help="clang used for the link stubs (default: clang)")
    parser.add_argument("--musl-include", action="append", default=[], metavar="CPU=DIR",
                        help="musl header directory for a cpu")
    parser.add_argument("--fetch-musl", action="store_true",
                        help="download+unpack Debian musl-dev:<arch> into the cache when missing")
    parser.add_argument("--prefetch-musl", action="store_true",
                        help="only make sure musl headers for the cpus are available (fetching if needed), then exit")
    parser.add_argument("--python-include", type=Path,
                        default=Path(sysconfig.get_paths()["include"]),
                        help="Python headers standing in for the target's (default: this Python's)")
    args = parser.parse_args(argv)
    if shutil.which(args.clang) is None and not Path(args.clang).is_file():
        parser.error(f"clang not found: {args.clang}")
    musl: dict[str, Path] = {}
    for item in args.musl_include:
        cpu, sep, path = item.partition("=")
        if not sep or cpu not in CPUS:
            parser.error(f"--musl-include wants CPU=DIR with CPU in {sorted(CPUS)}: {item!r}")
        musl[cpu] = Path(path)
    cpus = args.cpu or ["x64", "arm64"]
    if args.prefetch_musl:
        for cpu in cpus:
            include = find_musl_include(cpu, musl) or fetch_musl(cpu)
            print(f"musl headers for {cpu}: {include}")
        return 0
    if args.out is None:
        parser.error("--out is required (unless --prefetch-musl)")
    make(args.out, cpus, args.clang, musl, args.fetch_musl,
         args.python_include.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
