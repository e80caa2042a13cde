"""The 2021-vintage stand-in SDK equals its facts, and (with the real SDK at hand) the facts equal reality.

``tests/data/sdk_2021_abi.json`` carries the Fuchsia core SDK of 2021-01-25 (x64) as data; the
tool ``python -m fuchsia_tools.standin_sysroot --vintage 2021`` rebuilds an SDK tree from it.  The checks
are C ``_Static_assert``s generated from the data (every constant's value and C type, every
absent name undefined, every struct's size, offsets and member types, every declaration), compiled
by gcc against an overlay of just ``zircon/`` and ``lib/fdio/`` -- the way the host build uses an
SDK's headers -- and by clang for ``x86_64-unknown-fuchsia`` with ``--sysroot``.

Without the real SDK (always, in CI) the checks run against the stand-in.  With ``ZXPY_SDK_2021``
naming the real tree, the same checks compile against the real headers too (the data is the
truth), the stand-in's link stubs export exactly what the real libraries export, and the
project's C sources get the same diagnostics from both.

Needs clang and lld for the stand-in (its stubs are Fuchsia ELF objects).  In CI (CI=true) a
missing toolchain FAILS; elsewhere the tests skip and say why.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vintage import real_sdk_2021, require

from fuchsia_tools import sdkconfig, standin_sysroot

ROOT = Path(__file__).resolve().parent.parent
TOOL = Path(standin_sysroot.__file__)
DATA = json.loads((ROOT / "tests" / "data" / "sdk_2021_abi.json").read_text(encoding="utf-8"))
LAYOUT = DATA["layout"]
def _real_sdk() -> Path:
    sdk = real_sdk_2021()
    assert (sdk / LAYOUT["sysroot_include"] / "zircon" / "syscalls.h").is_file(), f"{sdk}: not the 2021 SDK"
    return sdk


# ---- the checks, as C ------------------------------------------------------

def _header_closure(data: dict[str, Any], header: str) -> list[str]:
    """``header`` and every data header it includes, directly or not."""
    seen: list[str] = []
    todo = [header]
    while todo:
        h = todo.pop()
        if h in seen or h not in data["headers"]:
            continue
        seen.append(h)
        todo += data["headers"][h]["includes"]
    return seen


def _union_members(text: str) -> list[str]:
    """Names of the members of an anonymous ``union { ... }`` field (its depth-1 declarators)."""
    depth, names, token = 0, [], ""
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 1:
            names.append(re.findall(r"(\w+)\s*$", token)[0])
        token = "" if ch in "{};" else token + ch
    return names


def _literal(value: int) -> str:
    """``value`` as a C literal of at least 64 bits (INT64_MIN has no literal of its own)."""
    if value == -(1 << 63):
        return "(-9223372036854775807LL - 1)"
    return f"({value}LL)" if value < 0 else f"{value}ULL"


def _fn_name(decl: str) -> str:
    found: list[str] = re.findall(r"\b(_?(?:zx|fdio)_\w+)\(", decl)
    return found[0]


def assertions(data: dict[str, Any], header: str | None = None) -> str:
    """A C file that compiles iff the headers agree with ``data``.

    ``header`` None: include every header and check everything.  A header name: include only it
    and check that what its include closure defines is visible and what the others define is not."""
    headers = list(data["headers"])
    visible = headers if header is None else _header_closure(data, header)
    hidden = [h for h in headers if h not in visible]
    out = ["#include <stddef.h>"]
    out += [f"#include <{h}>" for h in ([header] if header else headers)]
    out.append("#define SAME(a, b) __builtin_types_compatible_p(__typeof__(a), b)")
    for h in visible:
        spec = data["headers"][h]
        for name in spec["constants"]:
            value, ctype = data["constants"][name], data["constant_types"][name]
            out.append(f"#ifndef {name}\n#error \"{name} is not defined\"\n#endif")
            out.append(f'_Static_assert(({name}) == {_literal(value)}, "{name} = {value}");')
            out.append(f'_Static_assert(SAME({name}, {ctype}), "{name} has type {ctype}");')
        for name in spec["types"]:
            ctype = data["types"][name]
            out.append(f'_Static_assert(__builtin_types_compatible_p({name}, {ctype}), "{name} is {ctype}");')
        for name in spec["structs"]:
            st = data["structs"][name]
            out.append(f'_Static_assert(sizeof({name}) == {st["size"]}, "sizeof({name}) == {st["size"]}");')
            for f in st["fields"]:
                members = [f["name"]] if f["name"] else _union_members(f["type"])
                for m in members:
                    out.append(f'_Static_assert(offsetof({name}, {m}) == {f["offset"]}, '
                               f'"offsetof({name}, {m}) == {f["offset"]}");')
                # A member of an unnamed struct or union type (zx_exception_context_t.arch, debug.h's st[8] and zmm[32])
                # has a type no other spelling is compatible with: its offset and the record's size are checked.
                if f["name"] and "struct {" not in f["type"] and "union {" not in f["type"]:
                    out.append(f'_Static_assert(SAME((({name}*)0)->{f["name"]}, {f["type"]}), '
                               f'"{name}.{f["name"]} is {f["type"]}");')
    for name in data["absent"]:
        out.append(f"#ifdef {name}\n#error \"{name} is defined, but that SDK lacks it\"\n#endif")
    for i, name in enumerate(data["absent_types"]):
        out.append(f"typedef struct zxpy_absent_{i} {name}; /* fails if the SDK has {name} */")
    for h in hidden:
        for name in data["headers"][h]["constants"]:
            out.append(f"#ifdef {name}\n#error \"{name} is visible without <{h}>\"\n#endif")
        for name in data["headers"][h]["structs"]:
            if name not in data["forward_declared"]:
                out.append(f"typedef struct zxpy_hidden_{name} {name}; /* fails if visible without <{h}> */")
    decls = [d for h in visible for d in data["headers"][h]["prototypes"]]
    out.append("void zxpy_declared(void);\nvoid zxpy_declared(void) {")
    out += [f"  (void)&{_fn_name(d)};" for d in decls]
    out.append("}")
    out += decls  # a redeclaration that differs in any type is an error
    return "\n".join(out) + "\n"


def _overlay(tmp: Path, zircon: Path, fdio: Path) -> Path:
    """``<tmp>/zircon -> zircon`` and ``<tmp>/lib/fdio -> fdio``: the host build's view of an SDK."""
    (tmp / "lib").mkdir(parents=True, exist_ok=True)
    for link, target in ((tmp / "zircon", zircon), (tmp / "lib" / "fdio", fdio)):
        if not link.is_symlink():
            link.symlink_to(target, target_is_directory=True)
    return tmp


def _sdk_overlay(tmp: Path, sdk: Path) -> Path:
    return _overlay(tmp, sdk / LAYOUT["sysroot_include"] / "zircon",
                    sdk / LAYOUT["fdio_include"] / "lib" / "fdio")


def _gcc(source: str, overlay: Path, tmp: Path, name: str = "check.c") -> subprocess.CompletedProcess[str]:
    src = tmp / name
    src.write_text(source, encoding="utf-8")
    return subprocess.run(
        ["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-I{overlay}", str(src)],
        capture_output=True, text=True, timeout=120,
    )


def _exports(lib: Path) -> set[str]:
    """Names of the symbols a shared object defines in its dynamic symbol table."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 8 and p[0].endswith(":") and p[6] != "UND" and p[3] in {"FUNC", "IFUNC", "OBJECT", "NOTYPE"}:
            names.add(p[7].split("@")[0])
    return names


def _dynamic(lib: Path) -> tuple[str | None, list[str], str | None]:
    """(DT_SONAME, DT_NEEDED list, PT_INTERP) of an ELF file."""
    dyn = subprocess.run(["readelf", "-dlW", str(lib)], capture_output=True, text=True, check=True).stdout
    soname = re.findall(r"\(SONAME\)\s+Library soname: \[(.+?)\]", dyn)
    interp = re.findall(r"Requesting program interpreter: (.+?)\]", dyn)
    return (soname[0] if soname else None, re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn),
            interp[0] if interp else None)


LIBS = {"libzircon.so": f"{LAYOUT['sysroot_lib']}/libzircon.so",
        "libc.so": f"{LAYOUT['sysroot_lib']}/libc.so",
        "libfdio.so": LAYOUT["fdio_lib"]}


# ---- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2021-vintage stand-in SDK root."""
    require(shutil.which("gcc"), "gcc is not installed")
    require(shutil.which("clang"), "clang is not installed")
    require(shutil.which("ld.lld"), "lld (ld.lld) is not installed")
    require(standin_sysroot.find_musl_include("x64", {}), "no musl headers for x64: install musl-dev")
    out = tmp_path_factory.mktemp("standin-2021")
    proc = subprocess.run([sys.executable, str(TOOL), "--vintage", "2021", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def standin_overlay(standin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sdk_overlay(tmp_path_factory.mktemp("overlay-2021"), standin)


# ---- (i) the stand-in against the data --------------------------------------

def test_data_is_the_2021_sdk() -> None:
    """The data names its source and the facts the binding's feature detection hinges on."""
    assert DATA["source"]["commit"] == "7b3d7d5d1474da26e23c473dc1f80dd34408766d"
    assert (DATA["source"]["date"], DATA["source"]["cpu"]) == ("2021-01-25", "x64")
    assert LAYOUT["manifest"] is None and LAYOUT["version_history"] is None
    c = DATA["constants"]
    assert (c["ZX_INFO_PROCESS"], c["ZX_INFO_TASK_STATS"], c["ZX_INFO_TASK_RUNTIME"]) == (3, 12, 30)
    assert {"ZX_INFO_TASK_RUNTIME_V1", "ZX_INFO_TASK_STATS_V1", "ZX_PROCESS_SHARED",
            "ZX_INFO_PROCESS_FLAG_STARTED"} <= set(DATA["absent"])
    assert not set(DATA["absent"]) & set(c)
    assert [f["name"] for f in DATA["structs"]["zx_info_process_t"]["fields"]] == [
        "return_code", "started", "exited", "debugger_attached", "padding1"]
    assert DATA["structs"]["zx_info_task_runtime_t"]["size"] == 16
    assert DATA["structs"]["zx_info_task_stats_t"]["size"] == 32
    assert "zx_instant_mono_t" in DATA["absent_types"]
    zx_decls = [d for d in DATA["prototypes"] if re.search(r"\bzx_\w+\(", d)]
    assert len({_fn_name(d) for d in zx_decls}) >= 159


def test_layout_is_the_2021_layout(standin: Path) -> None:
    """The real SDK's shape: no manifest, no version history, fdio in its package; a stand-in marker."""
    for rel in [*(f"{LAYOUT['sysroot_lib']}/{n}" for n in LAYOUT["sysroot_lib_files"]),
                LAYOUT["dynamic_linker"], LAYOUT["fdio_lib"], f"{LAYOUT['fdio_include']}/lib/fdio/spawn.h",
                *(f"{LAYOUT['sysroot_include']}/{h}" for h in DATA["headers"] if h.startswith("zircon/"))]:
        assert (standin / rel).is_file(), rel
    assert (standin / LAYOUT["sysroot_include"] / "stdlib.h").is_file()  # the libc part
    assert not (standin / "meta" / "manifest.json").exists()
    assert not (standin / "version_history.json").exists()
    assert not (standin / "arch" / "x64" / "lib").exists()  # fdio lives in pkg/fdio
    marker = json.loads((standin / "zxpy_stand_in.json").read_text(encoding="utf-8"))
    assert marker["stand_in"] is True and marker["vintage"] == "2021-01-25"
    cfg = sdkconfig.load(standin / "zxpy_standin.cfg")
    assert cfg.sdk_path == standin and cfg.cpu == "x64"
    ident = cfg.sdk_identity()
    assert (ident["layout"], ident["stand_in"], ident["vintage"]) == ("legacy", True, "2021-01-25")


def test_headers_hold_the_data(standin_overlay: Path, tmp_path: Path) -> None:
    """Every value, C type, absence, layout and declaration of the data, on the host compiler."""
    proc = _gcc(assertions(DATA), standin_overlay, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]


@pytest.mark.parametrize("header", list(DATA["headers"]))
def test_each_header_defines_what_its_2021_original_does(header: str, standin_overlay: Path,
                                                         tmp_path: Path) -> None:
    """Included alone, a header shows what it and its includes define, and nothing of the others."""
    proc = _gcc(assertions(DATA, header), standin_overlay, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]


def test_checks_can_fail(standin_overlay: Path, tmp_path: Path) -> None:
    """Today's values in the data make the 2021 stand-in fail the checks, each one named."""
    today = copy.deepcopy(DATA)
    today["constants"]["ZX_INFO_PROCESS"] = 0x10000003
    today["structs"]["zx_info_task_runtime_t"]["size"] = 32
    today["absent"].append("ZX_INFO_PROCESS_HANDLE_STATS")
    today["absent_types"].append("zx_koid_t")
    proc = _gcc(assertions(today), standin_overlay, tmp_path)
    assert proc.returncode != 0
    for needle in ("ZX_INFO_PROCESS = 268435459", "sizeof(zx_info_task_runtime_t) == 32",
                   "ZX_INFO_PROCESS_HANDLE_STATS is defined", "zx_koid_t"):
        assert needle in proc.stderr, needle


def test_stubs_export_the_2021_lists(standin: Path) -> None:
    """Each stub defines exactly the real library's dynamic symbols, with its soname and DT_NEEDED."""
    for lib, rel in LIBS.items():
        want = set(DATA["exports"][lib]) | set(DATA.get("export_objects", {}).get(lib, {}))
        assert _exports(standin / rel) == want, lib
        soname, needed, _ = _dynamic(standin / rel)
        assert soname == lib and needed == LAYOUT["needed"][lib], lib


def test_cross_compile_and_link(standin: Path, tmp_path: Path) -> None:
    """clang for x86_64-unknown-fuchsia: the checks hold with --sysroot, and a PIE links per the recipe."""
    sysroot = standin / LAYOUT["sysroot"]
    target = ["clang", "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}",
              f"-I{standin / LAYOUT['fdio_include']}"]
    (tmp_path / "check.c").write_text("#include <stdlib.h>\n#include <string.h>\n" + assertions(DATA),
                                      encoding="utf-8")
    proc = subprocess.run([*target, "-std=gnu11", "-Werror", "-fsyntax-only", str(tmp_path / "check.c")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-6000:]
    (tmp_path / "main.c").write_text(
        "#include <lib/fdio/spawn.h>\n#include <zircon/process.h>\n#include <zircon/syscalls.h>\n"
        "int main(int argc, char** argv) {\n"
        "  zx_info_process_t info;\n"
        "  zx_status_t st = zx_object_get_info(zx_process_self(), ZX_INFO_PROCESS, &info, sizeof info, NULL, NULL);\n"
        "  if (st == ZX_OK && info.started) st = fdio_spawn(ZX_HANDLE_INVALID, FDIO_SPAWN_CLONE_ALL, argv[0],\n"
        "                                              (const char* const*)argv, NULL);\n"
        "  return st + argc;\n}\n", encoding="utf-8")
    obj, exe = tmp_path / "main.o", tmp_path / "main"
    proc = subprocess.run([*target, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fPIE", "-c",
                           str(tmp_path / "main.c"), "-o", str(obj)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [*target, "-fuse-ld=lld", "-nostdlib", "-pie", "-Wl,--dynamic-linker=ld.so.1", "-Wl,--as-needed",
         str(sysroot / "lib" / "Scrt1.o"), str(obj), f"-L{sysroot / 'lib'}",
         f"-L{(standin / LAYOUT['fdio_lib']).parent}", "-lfdio", "-lc", "-lzircon", "-o", str(exe)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _, needed, interp = _dynamic(exe)
    assert interp == LAYOUT["interp"]
    assert set(needed) == {"libfdio.so", "libc.so", "libzircon.so"}


# ---- (ii) the data against the real SDK -------------------------------------

def test_real_headers_hold_the_data(tmp_path: Path) -> None:
    """The same checks compile against the real 2021 headers: the data is the SDK."""
    overlay = _sdk_overlay(tmp_path / "real", _real_sdk())
    proc = _gcc(assertions(DATA), overlay, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]
    for header in DATA["headers"]:
        proc = _gcc(assertions(DATA, header), overlay, tmp_path)
        assert proc.returncode == 0, (header, proc.stderr[-6000:])


def test_real_exports_equal_the_stubs(standin: Path) -> None:
    """readelf of the real libraries: their exports are the data's, hence the stubs'."""
    sdk = _real_sdk()
    for lib, rel in LIBS.items():
        real = _exports(sdk / rel)
        assert real == _exports(standin / rel), lib
        assert {n for n in real if n.startswith(("zx_", "_zx_", "fdio_spawn"))} == \
            {n for n in _exports(standin / rel) if n.startswith(("zx_", "_zx_", "fdio_spawn"))}, lib
        soname, needed, _ = _dynamic(sdk / rel)
        assert (soname, needed) == (lib, LAYOUT["needed"][lib]), lib


def _diagnostics(overlay: Path) -> list[str]:
    """gcc's diagnostics for every host/ and csrc/ source against an SDK overlay, locations in
    headers dropped (line numbers differ; what is said does not)."""
    lines = []
    for src in sorted([*ROOT.glob("host/*.c"), *ROOT.glob("host/ipc/*.c"), *ROOT.glob("csrc/*.c")]):
        proc = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-fsyntax-only", f"-I{overlay}",
                               f"-I{ROOT / 'host'}", f"-I{ROOT / 'csrc'}", str(src)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        for line in proc.stderr.splitlines():
            m = re.match(r"(.*?):\d+:\d+: (error|warning|note): (.*)", line)
            if m is None or "in expansion of macro" in m.group(3):
                continue
            where = m.group(1) if m.group(1).startswith(("host/", "csrc/", str(ROOT))) else "<sdk header>"
            lines.append(f"{where}: {m.group(2)}: {m.group(3)}")
    return lines


def test_project_sources_see_the_same_sdk(standin: Path, tmp_path: Path) -> None:
    """host/ and csrc/ compile against the stand-in with exactly the diagnostics of the real SDK."""
    real = _diagnostics(_sdk_overlay(tmp_path / "real", _real_sdk()))
    assert _diagnostics(_sdk_overlay(tmp_path / "standin", standin)) == real
