"""The Fuchsia cross-build (fuchsia_tools/cross_build.py), against the stand-in SDK from fuchsia_tools.standin_sysroot.

For each cpu the module is cross-built with ``build_ffi.py --target`` and the
ELF is inspected with pyelftools -- never loaded: a Fuchsia shared object
aborts the Linux loader.

What this proves (see README): zxpy's headers, CFFI's emitted C and csrc/
compile for ``*-unknown-fuchsia`` with -Werror, and the result has the shape
of a Fuchsia extension module -- a shared object for the right machine that
defines PyInit__zx and imports every zx_*/fdio_* symbol from the library that
provides it on Fuchsia, and no Linux-only API.  What it cannot prove: that
it loads or runs on Fuchsia.

The imports are also checked against the real January 2021 core SDK's
export lists, carried as data in ``tests/data/sdk_2021_abi.json`` (so CI
needs no SDK); with ``ZXPY_SDK_2021`` naming that SDK's tree, the module is
also cross-built against it and its imports resolved in its own libraries.

Needs clang, lld and musl headers for both cpus (.ci/run installs them).  In
CI (CI=true) a missing toolchain FAILS; elsewhere the tests skip and say why.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vintage import real_sdk_2021, require

from fuchsia_tools import sdkconfig, standin_sysroot
from zxpy import _abi

ROOT = Path(__file__).resolve().parent.parent
BUILD_FFI = ROOT / "build_ffi.py"
TOOL = Path(standin_sysroot.__file__)
CPUS = ("x64", "arm64")
MACHINE = {"x64": "EM_X86_64", "arm64": "EM_AARCH64"}
ARCH = {"x64": "x86_64", "arm64": "aarch64"}
TRIPLE = {"x64": "x86_64-unknown-fuchsia", "arm64": "aarch64-unknown-fuchsia"}
#: The January 2021 core SDK's facts as data: its libraries' export lists are under "exports".
SDK_2021_ABI = ROOT / "tests" / "data" / "sdk_2021_abi.json"

#: Functions the module must import, by the Fuchsia library that provides each (the binding's table).
FROM_LIBC = {f.name for f in _abi.FUNCTIONS if f.library == "libc.so"}
FROM_FDIO = {f.name for f in _abi.FUNCTIONS if f.library == "libfdio.so"}
FROM_VDSO = {f.name for f in _abi.FUNCTIONS if f.library == "libzircon.so"}
#: The features the January 2021 SDK's headers have (everything newer is gated off), and its optional
#: constants: the names the table marks optional that the 2021 facts define.
FEATURES_2021 = ["thread_state_type"]
OPTIONAL_2021 = sorted(
    c.name for c in _abi.CONSTANTS
    if c.gate == "optional"
    and c.name in json.loads(SDK_2021_ABI.read_text(encoding="utf-8"))["constants"]
)

#: Linux/POSIX process and signal APIs that Fuchsia's libc does not have.
LINUX_ONLY = {
    "fork", "vfork", "clone", "ptrace", "kill", "tgkill", "tkill", "killpg", "sigaction", "signal",
    "sigprocmask", "pthread_sigmask", "pthread_kill", "sigsuspend", "sigqueue", "waitpid", "wait", "wait4",
    "waitid", "execve", "execv", "execvp", "execvpe", "execl", "execlp", "fexecve", "posix_spawn",
    "posix_spawnp", "syscall", "prctl", "pidfd_open", "pidfd_send_signal", "setpgid", "setsid",
}


@pytest.fixture(scope="module")
def elf() -> Any:
    require(importlib.util.find_spec("elftools") is not None, "pyelftools is not installed")
    import elftools.elf.elffile

    return elftools.elf.elffile.ELFFile


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in SDK for both cpus; returns its zxpy_standin.cfg."""
    require(shutil.which("clang"), "clang is not installed")
    require(shutil.which("ld.lld"), "lld (ld.lld) is not installed")
    for cpu in CPUS:
        require(
            standin_sysroot.find_musl_include(cpu, {}),
            f"no musl headers for {cpu}: install musl-dev, and for the foreign cpu run "
            f"`python -m fuchsia_tools.standin_sysroot --out DIR --fetch-musl` once",
        )
    out = tmp_path_factory.mktemp("standin-sdk")
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "zxpy_standin.cfg"


@pytest.fixture(scope="module")
def built(standin: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """cpu -> path of the cross-built module (each cpu built once)."""
    cache: dict[str, Path] = {}

    def build(cpu: str) -> Path:
        if cpu not in cache:
            out = tmp_path_factory.mktemp(f"fuchsia-{cpu}")
            proc = subprocess.run(
                [sys.executable, str(BUILD_FFI), "--target", cpu, "--config", str(standin), "--out", str(out)],
                capture_output=True, text=True, timeout=600,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            modules = list(out.glob("_zx.*.so"))
            assert len(modules) == 1, modules
            cache[cpu] = modules[0]
        return cache[cpu]

    return build


def _dynsyms(elf_cls: Any, path: Path) -> dict[str, tuple[bool, str, str]]:
    """name -> (defined, type, bind) from .dynsym."""
    with path.open("rb") as fh:
        table = elf_cls(fh).get_section_by_name(".dynsym")
        assert table is not None, f"{path} has no .dynsym"
        return {
            s.name: (s["st_shndx"] != "SHN_UNDEF", s["st_info"]["type"], s["st_info"]["bind"])
            for s in table.iter_symbols()
            if s.name
        }


def _dynamic(elf_cls: Any, path: Path) -> tuple[str, str, list[str], str | None, bool]:
    """(e_machine, e_type, DT_NEEDED, DT_SONAME, has PT_INTERP)."""
    with path.open("rb") as fh:
        f = elf_cls(fh)
        dyn = f.get_section_by_name(".dynamic")
        needed = [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        soname = next((t.soname for t in dyn.iter_tags() if t.entry.d_tag == "DT_SONAME"), None)
        interp = any(seg["p_type"] == "PT_INTERP" for seg in f.iter_segments())
        return f["e_machine"], f["e_type"], needed, soname, interp


@pytest.mark.parametrize("cpu", CPUS)
def test_module_is_a_fuchsia_shared_object(
    cpu: str, built: Callable[[str], Path], elf: Any, standin: Path
) -> None:
    so = built(cpu)
    assert so.name == f"_zx.cpython-{sys.version_info.major}{sys.version_info.minor}-{ARCH[cpu]}-fuchsia.so"
    machine, etype, needed, soname, interp = _dynamic(elf, so)
    assert machine == MACHINE[cpu]
    assert etype == "ET_DYN" and not interp  # a shared object, not a PIE executable
    assert {"libzircon.so", "libfdio.so", "libc.so"} <= set(needed)
    assert soname == so.name
    info = json.loads((so.parent / "build-info.json").read_text())
    assert info["stand_in"] is True and info["cpu"] == cpu
    # api_level = auto: the stand-in lists 24, 25 supported and 26 in development.
    assert info["api_level"] == 25
    assert "-ffuchsia-api-level=25" in info["cflags"]
    # The SDK's own flags (the GN SDK's config/BUILD.gn): sysroot, PIC, fdio headers; the link names zircon and fdio.
    sdk = standin.parent
    assert f"--target={TRIPLE[cpu]}" in info["cflags"]
    assert f"--sysroot={sdk / 'arch' / cpu / 'sysroot'}" in info["cflags"]
    assert "-fPIC" in info["cflags"]
    assert f"-I{sdk / 'pkg' / 'fdio' / 'include'}" in info["cflags"]
    assert {"-shared", "-lzircon", "-lfdio"} <= set(info["ldflags"])


@pytest.mark.parametrize("cpu", CPUS)
def test_module_defines_only_its_own_entry_points(cpu: str, built: Callable[[str], Path], elf: Any) -> None:
    syms = _dynsyms(elf, built(cpu))
    assert syms["PyInit__zx"] == (True, "STT_FUNC", "STB_GLOBAL")
    assert syms["zxpy_progress_entry"][0]  # csrc/ is compiled in
    zircon_defined = sorted(n for n, (d, _, _) in syms.items() if d and n.startswith(("zx_", "_zx_", "fdio_")))
    assert zircon_defined == []  # host/ is never compiled for Fuchsia


@pytest.mark.parametrize("cpu", CPUS)
def test_module_imports_every_contract_function(cpu: str, built: Callable[[str], Path], elf: Any) -> None:
    syms = _dynsyms(elf, built(cpu))
    for name in sorted(FROM_VDSO | FROM_LIBC | FROM_FDIO):
        assert name in syms, f"{name} not referenced"
        assert syms[name][0] is False, f"{name} is defined, must be imported"


@pytest.mark.parametrize("cpu", CPUS)
def test_imports_resolve_in_the_library_fuchsia_provides_them_from(
    cpu: str, built: Callable[[str], Path], elf: Any, standin: Path
) -> None:
    sdk = standin.parent
    sysroot_lib = sdk / "arch" / cpu / "sysroot" / "lib"
    providers = {
        "libzircon.so": sysroot_lib / "libzircon.so",
        "libc.so": sysroot_lib / "libc.so",
        "libfdio.so": sdk / "arch" / cpu / "lib" / "libfdio.so",
    }
    exported = {}
    for lib_name, path in providers.items():
        assert _dynamic(elf, path)[0] == MACHINE[cpu]
        exported[lib_name] = {n for n, (d, _, _) in _dynsyms(elf, path).items() if d}
    undefined = {n for n, (d, _, _) in _dynsyms(elf, built(cpu)).items() if not d}
    for name in sorted(undefined):
        if name in FROM_LIBC:
            assert name in exported["libc.so"] and name not in exported["libzircon.so"], name
        elif name.startswith("zx_"):
            assert name in exported["libzircon.so"], name
        elif name.startswith("fdio_"):
            assert name in exported["libfdio.so"], name


@pytest.mark.parametrize("cpu", CPUS)
def test_no_linux_only_api_and_no_missing_runtime(cpu: str, built: Callable[[str], Path], elf: Any) -> None:
    undefined = {n for n, (d, _, _) in _dynsyms(elf, built(cpu)).items() if not d}
    assert sorted(undefined & LINUX_ONLY) == []
    # Without compiler-rt for Fuchsia, outline-atomics helpers would stay unresolved at run time.
    assert sorted(n for n in undefined if n.startswith("__aarch64_")) == []


@pytest.mark.parametrize("cpu", CPUS)
def test_standin_passes_the_sdk_layout_check(cpu: str, standin: Path) -> None:
    """The stand-in has everything check_layout asks of a real SDK, the IDK's meta/manifest.json keys included."""
    cfg = dataclasses.replace(sdkconfig.load(standin), cpu=cpu)
    assert cfg.manifest_problems(cfg.read_manifest()) == []
    assert cfg.check_layout(need_python=True) == []
    assert cfg.is_stand_in


def test_integer_api_level(standin: Path, elf: Any, tmp_path: Path) -> None:
    """An integer [target] api_level is used as is (not the 'auto' choice, 25): here the older supported 24."""
    cfg = standin.parent / "level24.cfg"  # beside the stand-in's own: its `path = .` is relative to the file
    text = standin.read_text(encoding="utf-8")
    assert "api_level = auto\n" in text
    cfg.write_text(text.replace("api_level = auto\n", "api_level = 24\n"), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(BUILD_FFI), "--target", "x64", "--config", str(cfg), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads((out / "build-info.json").read_text())
    assert info["api_level"] == 24
    levels = [f for f in info["cflags"] if f.startswith("-ffuchsia-api-level=")]
    assert levels == ["-ffuchsia-api-level=24"]
    (so,) = out.glob("_zx.*.so")
    assert _dynamic(elf, so)[:2] == ("EM_X86_64", "ET_DYN")


def test_missing_sdk_pieces_are_each_reported(tmp_path: Path) -> None:
    """A broken SDK gives one clear error per missing piece, and no output file."""
    sdk = tmp_path / "sdk"
    (sdk / "meta").mkdir(parents=True)
    (sdk / "meta" / "manifest.json").write_text(json.dumps({"id": "1.2.3", "arch": {"target": ["arm64"]}}))
    cfg = tmp_path / "broken.cfg"
    cfg.write_text(f"[sdk]\npath = {sdk}\nclang_dir = {tmp_path}\n[target]\ncpu = x64\napi_level = auto\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(BUILD_FFI), "--target", "x64", "--config", str(cfg), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    expected = [
        "does not list cpu 'x64'",
        "zircon/syscalls.h: missing sysroot header",
        "libzircon.so: link stub missing",
        "libfdio.so: link stub missing",
        "libc.so: link stub missing",
        "lib/fdio/spawn.h: missing fdio header",
        f"no clang in {tmp_path}",
        "python_include unset",
    ]
    for fragment in expected:
        assert sum(fragment in e for e in errors) == 1, (fragment, errors)
    # No version_history.json is an SDK without API levels (built without -ffuchsia-api-level), not a problem.
    assert not any("version_history" in e for e in errors), errors
    assert not out.exists() or not list(out.glob("*.so"))


def test_unconfigured_sdk_is_one_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "empty.cfg"
    cfg.write_text("[sdk]\npath =\n[target]\ncpu = arm64\n")
    proc = subprocess.run(
        [sys.executable, str(BUILD_FFI), "--target", "arm64", "--config", str(cfg)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert any("no SDK configured" in e and str(cfg) in e for e in errors), proc.stderr


# ------------------------------------------------------------------------------- the real January 2021 SDK


def _exports_2021() -> dict[str, set[str]]:
    """Library name -> the symbols the real 2021 SDK's link library of that name defines (tests/data):
    its functions (``exports``) and data objects (``export_objects``)."""
    assert SDK_2021_ABI.is_file(), f"{SDK_2021_ABI} is missing: the 2021 SDK facts the cross-build is checked against"
    doc = json.loads(SDK_2021_ABI.read_text(encoding="utf-8"))
    return {lib: set(doc["exports"][lib]) | set(doc.get("export_objects", {}).get(lib, {}))
            for lib in ("libzircon.so", "libc.so", "libfdio.so")}


def _is_python_api(name: str) -> bool:
    """The CPython C API the module imports from the interpreter, not from a Fuchsia library."""
    return name.startswith(("Py", "_Py"))


def _check_against_2021_exports(undefined: set[str], exports: dict[str, set[str]]) -> None:
    """Each zx_*/fdio_* import resolves in the 2021 library Fuchsia provides it from, and every other import
    but the Python C API in one of the three."""
    zircon = {n for n in undefined if n.startswith(("zx_", "fdio_"))}
    assert FROM_VDSO | FROM_LIBC | FROM_FDIO <= zircon
    for name in sorted(zircon):
        if name in FROM_LIBC:
            assert name in exports["libc.so"] and name not in exports["libzircon.so"], name
        elif name.startswith("zx_"):
            assert name in exports["libzircon.so"], f"{name} is not exported by the 2021 SDK's libzircon.so"
        else:
            assert name in exports["libfdio.so"], f"{name} is not exported by the 2021 SDK's libfdio.so"
    everything = set().union(*exports.values())
    assert sorted(n for n in undefined if not _is_python_api(n) and n not in everything) == []


@pytest.mark.parametrize("cpu", CPUS)
def test_imports_resolve_in_the_real_2021_export_lists(cpu: str, built: Callable[[str], Path], elf: Any) -> None:
    """Built against the stand-in, the module imports only what the real 2021 SDK's libraries export -- their
    real export lists, not our stubs -- so it also links and loads against that SDK.  Symbol names are the same
    for every cpu; the 2021 SDK itself is x64 only."""
    exports = _exports_2021()
    assert {"zx_process_create", "_zx_process_create"} <= exports["libzircon.so"]
    assert "fdio_spawn_etc" in exports["libfdio.so"] and "zx_process_self" in exports["libc.so"]
    undefined = {n for n, (d, _, _) in _dynsyms(elf, built(cpu)).items() if not d}
    _check_against_2021_exports(undefined, exports)


def test_a_missing_2021_export_is_caught() -> None:
    """The check fails for an import the 2021 libraries do not export (a call newer than that SDK)."""
    exports = _exports_2021()
    imports = FROM_VDSO | FROM_LIBC | FROM_FDIO
    _check_against_2021_exports(imports, exports)
    for extra in ("zx_iob_create", "fdio_open3", "memfd_secret"):
        with pytest.raises(AssertionError):
            _check_against_2021_exports(imports | {extra}, exports)


def _cross_build_2021(cfg: Path, out: Path, elf: Any) -> tuple[Path, dict[str, Any]]:
    """``build_ffi.py --target x64`` against a 2021-vintage SDK (real or stand-in): a Fuchsia x64 shared object
    needing libzircon, libfdio and libc, built without an API level and with exactly the 2021 features."""
    proc = subprocess.run(
        [sys.executable, str(BUILD_FFI), "--target", "x64", "--config", str(cfg), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (so,) = out.glob("_zx.*.so")
    machine, etype, needed, _, interp = _dynamic(elf, so)
    assert (machine, etype, interp) == ("EM_X86_64", "ET_DYN", False)
    assert {"libzircon.so", "libfdio.so", "libc.so"} <= set(needed)
    info: dict[str, Any] = json.loads((out / "build-info.json").read_text())
    assert info["api_level"] is None
    assert not any(f.startswith("-ffuchsia-api-level") for f in info["cflags"])
    assert info["features"] == FEATURES_2021 and info["optional_constants"] == OPTIONAL_2021
    return so, info


def test_cross_build_against_the_real_2021_sdk(elf: Any, tmp_path: Path) -> None:
    """`build_ffi.py --target x64` against the 2021 SDK exactly as fetched (no manifest, no version_history.json,
    fdio under pkg/fdio): no -ffuchsia-api-level, and every import but the Python C API resolves in the SDK's
    own libraries, each named in DT_NEEDED."""
    sdk = real_sdk_2021()
    require(shutil.which("clang"), "clang is not installed")
    require(shutil.which("ld.lld"), "lld (ld.lld) is not installed")
    cfg = tmp_path / "sdk2021.cfg"
    cfg.write_text(f"[sdk]\npath = {sdk}\n[target]\ncpu = x64\napi_level = auto\n"
                   f"python_include = {sysconfig.get_paths()['include']}\n", encoding="utf-8")
    so, info = _cross_build_2021(cfg, tmp_path / "out", elf)
    assert f"--sysroot={sdk / 'arch' / 'x64' / 'sysroot'}" in info["cflags"]
    assert info["sdk"]["layout"] == "legacy" and info["sdk"]["stand_in"] is False
    libs = {"libzircon.so": sdk / "arch" / "x64" / "sysroot" / "lib" / "libzircon.so",
            "libc.so": sdk / "arch" / "x64" / "sysroot" / "lib" / "libc.so",
            "libfdio.so": sdk / "pkg" / "fdio" / "arch" / "x64" / "lib" / "libfdio.so"}
    exports = {lib: {n for n, (d, _, _) in _dynsyms(elf, path).items() if d} for lib, path in libs.items()}
    undefined = {n for n, (d, _, _) in _dynsyms(elf, so).items() if not d}
    _check_against_2021_exports(undefined, exports)
    # The data file's lists are exactly the real libraries' dynamic symbols (what the CI test above relies on).
    assert exports == _exports_2021()


# ------------------------------------------------------------------ the 2021-vintage stand-in (no network)


@pytest.fixture(scope="module")
def standin_2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2021-vintage stand-in generated from tests/data/sdk_2021_abi.json; returns its config."""
    require(shutil.which("clang"), "clang is not installed")
    require(shutil.which("ld.lld"), "lld (ld.lld) is not installed")
    out = tmp_path_factory.mktemp("standin-2021")
    proc = subprocess.run([sys.executable, str(TOOL), "--vintage", "2021", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "zxpy_standin.cfg"


def test_cross_build_against_the_2021_vintage(standin_2021: Path, elf: Any, tmp_path: Path) -> None:
    """The module builds for x64 against 2021-vintage headers: the newer ABI is gated off (the same features
    the real SDK gives), no API level, and every import resolves in the 2021 export lists."""
    out = tmp_path / "out"
    so, info = _cross_build_2021(standin_2021, out, elf)
    assert info["sdk"]["stand_in"] is True and info["sdk"]["vintage"] == "2021-01-25"
    assert f"-L{standin_2021.parent / 'pkg' / 'fdio' / 'arch' / 'x64' / 'lib'}" in info["ldflags"]
    undefined = {n for n, (d, _, _) in _dynsyms(elf, so).items() if not d}
    _check_against_2021_exports(undefined, _exports_2021())
    # What the 2021 headers lack is not in the emitted C at all (not merely unused).
    emitted = (out / "_zx.c").read_text()
    for absent in ("ZX_INFO_TASK_RUNTIME_V1", "zx_info_task_stats_v1_t", "ZX_RIGHT_RESIZE", "zx_instant_mono_t"):
        assert absent not in emitted, absent
