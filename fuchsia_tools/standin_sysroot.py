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

``--vintage 2021``: the January 2021 core SDK, x64 only
    A tree with the layout of the Fuchsia core SDK of 2021-01-25 (Fuchsia
    f0850bdc, the Bazel-flavour SDK): ``arch/x64/sysroot/include`` (Debian musl
    plus generated ``zircon/`` headers), ``arch/x64/sysroot/lib/{Scrt1.o,
    libc.so,libzircon.so}`` (+ the ``libdl``/``libm``/``libpthread``/``librt``
    linker scripts), ``arch/x64/sysroot/dist/lib/ld.so.1`` (a copy of the libc
    stub: on Fuchsia the dynamic linker *is* libc), ``pkg/fdio/include/lib/
    fdio/spawn.h`` and ``pkg/fdio/arch/x64/lib/libfdio.so``.  Like the real one
    it has no ``meta/manifest.json`` and no ``version_history.json`` (no API
    levels); a ``zxpy_stand_in.json`` at the root marks it.  Everything comes
    from ``tests/data/sdk_2021_abi.json`` (facts measured on that SDK): each
    header defines that SDK's constants with their 2021 values and C types,
    none of its absent names, its struct layouts (``zx_info_process_t`` with
    bools, 16-byte ``zx_info_task_runtime_t``, ...), its declarations, and
    includes what the real header includes.  The stubs export exactly the
    real libraries' dynamic symbols; ``Scrt1.o`` is a minimal ``_start``
    that calls ``__libc_start_main(arg, main)``, enough to link a PIE.  The
    headers are self-contained C (stdint/stddef/stdbool, and stdatomic for
    ``zx_futex_t`` as the real one), so they also serve the host build.

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
from typing import Any

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


# ---------------------------------------------------------------------------
# The 2021 vintage: the core SDK of 2021-01-25, rebuilt from facts.

ABI_2021 = ROOT / "tests" / "data" / "sdk_2021_abi.json"
MARKER = "zxpy_stand_in.json"

#: Port payload records the facts do not list.  Their 32-byte layouts are the same in the 2021
#: SDK and today (zircon/system/public/zircon/syscalls/port.h), so zxpy's own rendition supplies them.
HOST_PORT_PAYLOADS = (
    "zx_packet_guest_bell", "zx_packet_guest_mem", "zx_packet_guest_io", "zx_packet_guest_vcpu",
    "zx_packet_interrupt", "zx_packet_page_request",
)


def load_abi_2021(path: Path = ABI_2021) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def c_constant(value: int, ctype: str) -> str:
    """A C expression of ``value`` with the C type the real header gives it."""
    if ctype == "int":
        return f"({value})" if value < 0 else str(value)
    if value < 0:
        body = f"(-{-value - 1}LL - 1)" if value == -(1 << 63) else f"({value}LL)"
        return f"(({ctype}){body})"
    suffix = "ull" if value > 0xFFFFFFFF else "u"
    return f"(({ctype}){hex(value) if value >= 0x100 else value}{suffix})"


def c_field(field: dict[str, Any]) -> str:
    """One member declaration: ``uint32_t x[64];``, ``const char* p;`` or an anonymous union."""
    ftype, name = field["type"], field["name"]
    if not name:
        return f"  {ftype};"
    # The array bound follows the type, which may itself be an anonymous struct with arrays inside.
    close = ftype.rfind("}") + 1
    base, bracket, dim = ftype[close:].partition("[")
    base = ftype[:close] + base
    return f"  {base} {name}{bracket}{dim};" if bracket else f"  {ftype} {name};"


def c_struct(name: str, spec: dict[str, Any]) -> str:
    tag = spec.get("tag") or ""
    body = "\n".join(c_field(f) for f in spec["fields"])
    return f"typedef {spec['kind']} {tag + ' ' if tag else ''}{{\n{body}\n}} {name};\n"


def host_records(header: Path, tags: tuple[str, ...]) -> str:
    """The ``typedef struct|union TAG {...} TAG_t;`` blocks of a zxpy header, verbatim."""
    text = header.read_text(encoding="utf-8")
    out = []
    for tag in tags:
        m = re.search(rf"typedef (?:struct|union) {tag} \{{", text)
        if m is None:
            raise SystemExit(f"error: {header} lacks {tag}")
        closing = f"}} {tag}_t;"
        end = text.index(closing, m.end())
        out.append(text[m.start():end] + closing + "\n")
    return "\n".join(out)


def render_2021_headers(data: dict[str, Any]) -> dict[str, str]:
    """Relative path (``zircon/types.h``, ``lib/fdio/spawn.h``) -> text of the generated header."""
    src = data["source"]
    files: dict[str, str] = {}
    for rel, spec in data["headers"].items():
        guard = "ZXPY_STANDIN_2021_" + re.sub(r"[^A-Z0-9]", "_", rel.upper()) + "_"
        lines = [
            f"/* <{rel}> of the Fuchsia core SDK of {src['date']} ({src['cpu']}), as a zxpy STAND-IN.",
            " * Generated by python -m fuchsia_tools.standin_sysroot --vintage 2021 from",
            " * tests/data/sdk_2021_abi.json: that SDK's values, C types, layouts and",
            " * declarations (zircon/system/public/zircon/ of that Fuchsia), no text of it. */",
            f"#ifndef {guard}", f"#define {guard}", "",
        ]
        for inc in spec["includes"]:
            if inc == "stdatomic.h":  # zx_futex_t is atomic_int in C, as in the real types.h
                lines += ["#ifndef __cplusplus", "#include <stdatomic.h>", "#endif"]
            else:
                lines.append(f"#include <{inc}>")
        lines += ["", "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
        for name in spec["types"]:
            ctype = data["types"][name]
            if ctype == "atomic_int":
                lines += ["#ifdef __cplusplus", f"typedef int {name};", "#else",
                          f"typedef atomic_int {name};", "#endif"]
            else:
                lines.append(f"typedef {ctype} {name};")
        if spec["types"]:
            lines.append("")
        for name in spec["constants"]:
            lines.append(f"#define {name} {c_constant(data['constants'][name], data['constant_types'][name])}")
        if spec["constants"]:
            lines.append("")
        if rel == "zircon/syscalls.h":
            lines.append("/* Declared here, defined by the headers of their own objects. */")
            lines += [f"typedef struct {n[:-2]} {n};" for n in data["forward_declared"] if n != "zx_rrec_t"]
            lines += ["typedef union zx_rrec zx_rrec_t;", ""]
        if rel == "zircon/syscalls/port.h":
            lines += ["/* Payloads of the other packet types: zxpy's own rendition (host/include), the same",
                      " * 32-byte layouts in the 2021 SDK's zircon/syscalls/port.h. */",
                      host_records(HEADERS / "zircon" / "syscalls" / "port.h", HOST_PORT_PAYLOADS)]
        for name in spec["structs"]:
            lines.append(c_struct(name, data["structs"][name]))
        lines += spec["prototypes"]
        lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
        files[rel] = "\n".join(lines)
    return files


def start_object_source() -> str:
    """Scrt1.o: Fuchsia's entry point hands the bootstrap channel and main to libc."""
    return (
        "/* zxpy stand-in Scrt1.o: never executed. */\n"
        "extern int main(int, char**, char**);\n"
        "extern void __libc_start_main(void*, int (*)(int, char**, char**));\n"
        "void _start(void* arg) { __libc_start_main(arg, main); __builtin_trap(); }\n"
    )


def build_2021_stub(clang: str, soname: str, funcs: list[str], objects: dict[str, int],
                    needed: list[Path], out: Path) -> None:
    """A Fuchsia x64 shared object defining exactly ``funcs`` (trapping) and ``objects`` (zeroed)."""
    source = "".join(f"void {n}(void) {{ __builtin_trap(); }}\n" for n in funcs)
    source += "".join(f"char {n}[{max(size, 1)}];\n" for n, size in objects.items())
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (soname + ".c")
        src.write_text("/* zxpy stand-in link stub (2021 vintage): never executed. */\n" + source,
                       encoding="utf-8")
        cmd = [
            clang, "--target=x86_64-unknown-fuchsia", "-fPIC", "-shared", "-nostdlib",
            "-fuse-ld=lld", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-common", "-w",
            f"-Wl,-soname,{soname}", str(src), *map(str, needed), "-o", str(out),
        ]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"error: building 2021 stub {soname} failed:\n{proc.stdout}")


def make_2021(out: Path, clang: str, musl: dict[str, Path], fetch: bool, python_include: Path,
              data: dict[str, Any] | None = None) -> Path:
    """Lay out the 2021-vintage stand-in at ``out`` (x64 only, as the real SDK); returns its cfg."""
    data = data or load_abi_2021()
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SystemExit(f"error: {out} is not empty and holds no {MARKER}; refusing to write there")
    out.mkdir(parents=True, exist_ok=True)
    layout = data["layout"]
    include = find_musl_include("x64", musl)
    if include is None:
        if not fetch:
            raise SystemExit("error: no musl headers for x64 (x86_64-linux-musl); install musl-dev, "
                             "pass --musl-include x64=DIR, or use --fetch-musl")
        include = fetch_musl("x64")
    for stale in ("arch", "pkg"):
        if (out / stale).exists():
            shutil.rmtree(out / stale)
    sysroot = out / layout["sysroot"]
    copy_tree(include, sysroot / "include")
    for rel, text in render_2021_headers(data).items():
        dest = (out / layout["fdio_include"] if rel.startswith("lib/") else sysroot / "include") / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")

    exports, objects = data["exports"], data.get("export_objects", {})
    lib = out / layout["sysroot_lib"]
    build_2021_stub(clang, "libzircon.so", exports["libzircon.so"], objects.get("libzircon.so", {}),
                    [], lib / "libzircon.so")
    build_2021_stub(clang, "libc.so", exports["libc.so"], objects.get("libc.so", {}),
                    [lib / "libzircon.so"], lib / "libc.so")
    fdio = out / layout["fdio_lib"]
    build_2021_stub(clang, "libfdio.so", exports["libfdio.so"], objects.get("libfdio.so", {}),
                    [lib / "libzircon.so", lib / "libc.so"], fdio)
    for name, script in layout["linker_scripts"].items():
        (lib / name).write_text(script + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "Scrt1.c"
        src.write_text(start_object_source(), encoding="utf-8")
        proc = subprocess.run(
            [clang, "--target=x86_64-unknown-fuchsia", "-fPIC", "-ffreestanding", "-fno-stack-protector",
             "-c", str(src), "-o", str(lib / "Scrt1.o")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"error: building Scrt1.o failed:\n{proc.stdout}")
    ld_so = out / layout["dynamic_linker"]
    ld_so.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lib / "libc.so", ld_so)  # on Fuchsia ld.so.1 and libc.so are one object

    src = data["source"]
    (out / MARKER).write_text(json.dumps({
        "stand_in": True,
        "vintage": src["date"],
        "cpu": [src["cpu"]],
        "imitates": {k: src[k] for k in ("repo", "commit", "date", "cpu")},
        "made_by": "python -m fuchsia_tools.standin_sysroot --vintage 2021",
        "from": "tests/data/sdk_2021_abi.json",
        "note": "STAND-IN: Debian musl headers, zircon/fdio headers generated from measured facts, "
                "trapping link stubs. Not a Fuchsia SDK.",
    }, indent=2) + "\n", encoding="utf-8")
    cfg = out / "zxpy_standin.cfg"
    cfg.write_text(
        f"# Written by python -m fuchsia_tools.standin_sysroot --vintage 2021: a STAND-IN of the {src['date']} SDK.\n"
        "[sdk]\n"
        "path = .\n"
        f"clang_dir = {clang_root(clang)}\n"
        "[target]\n"
        "cpu = x64\n"
        "# That SDK has no API levels (no version_history.json): auto resolves to none.\n"
        "api_level = auto\n"
        "# The host CPython's headers, standing in for a target CPython's.\n"
        f"python_include = {python_include}\n",
        encoding="utf-8",
    )
    print(f"2021-vintage stand-in SDK: {out} (config: {cfg}; musl headers from {include})")
    return cfg


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
        "zxpy_note": "STAND-IN made by zxpy's fuchsia_tools.standin_sysroot: zxpy's own zircon/fdio "
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
        "# Written by python -m fuchsia_tools.standin_sysroot: a STAND-IN SDK, not Fuchsia's.\n"
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
    parser = argparse.ArgumentParser(prog="python -m fuchsia_tools.standin_sysroot",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="directory to create (the SDK root)")
    parser.add_argument("--vintage", choices=("current", "2021"), default="current",
                        help="current: today's IDK shape from zxpy's headers (default); "
                             "2021: the 2021-01-25 core SDK rebuilt from tests/data/sdk_2021_abi.json (x64 only)")
    parser.add_argument("--cpu", action="append", choices=sorted(CPUS),
                        help="repeatable; default: both (x64 only for --vintage 2021)")
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
    if args.vintage == "2021" and set(args.cpu or ["x64"]) != {"x64"}:
        parser.error("--vintage 2021 is x64 only (so was that SDK)")
    cpus = args.cpu or (["x64"] if args.vintage == "2021" else ["x64", "arm64"])
    if args.prefetch_musl:
        for cpu in cpus:
            include = find_musl_include(cpu, musl) or fetch_musl(cpu)
            print(f"musl headers for {cpu}: {include}")
        return 0
    if args.out is None:
        parser.error("--out is required (unless --prefetch-musl)")
    if args.vintage == "2021":
        make_2021(args.out, args.clang, musl, args.fetch_musl, args.python_include.resolve())
        return 0
    make(args.out, cpus, args.clang, musl, args.fetch_musl,
         args.python_include.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
