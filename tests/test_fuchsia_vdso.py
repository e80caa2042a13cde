"""host/fuchsia/vdso.c (the vDSO reader), fuchsia_tools/standin_vdso.py (the stand-in vDSO) and recognising
Fuchsia executables: the first pieces of running Fuchsia ELF programs on Linux (docs/fuchsia-elf.md).

The reader is built with the system compiler into a temporary directory (it is not part of the module yet) and
run as ``vdso_dump``, which prints JSON.  The real 2021 vDSO comes from ``ZXPY_SDK_2021`` (skipped without it);
the stand-in and the Fuchsia PIE are linked with clang's Fuchsia target and lld (skipped without them, failed
under CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vintage import SDK_2021, fuchsia_clang, host_cc, real_sdk_2021, require

from fuchsia_tools import standin_vdso

ROOT = Path(__file__).resolve().parent.parent
FUCHSIA = ROOT / "host" / "fuchsia"
GENERATOR = ROOT / "fuchsia_tools" / "standin_vdso.py"
HELPERS = Path(__file__).parent / "helpers"
REAL_VDSO = Path("arch/x64/sysroot/lib/libzircon.so")
REAL_LDSO = Path("arch/x64/sysroot/dist/lib/ld.so.1")
EM_X86_64, ET_DYN = 62, 3
PF_R = 4

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the reader's tests run on Linux")


def _compile(out: Path, sources: list[Path], *flags: str) -> Path:
    cmd = [*host_cc(), "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", *flags,
           *map(str, sources), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuchsia_vdso")


@pytest.fixture(scope="module")
def dump(build_dir: Path) -> Path:
    return _compile(build_dir / "vdso_dump", [FUCHSIA / "vdso_dump.c", FUCHSIA / "vdso.c"])


@pytest.fixture(scope="module")
def dump_asan(build_dir: Path) -> Path:
    try:
        return _compile(build_dir / "vdso_dump_asan", [FUCHSIA / "vdso_dump.c", FUCHSIA / "vdso.c"],
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
    except subprocess.CalledProcessError as exc:
        cc = " ".join(host_cc())
        require(False, f"{cc} cannot build with -fsanitize=address,undefined: {exc.stderr.strip()[:200]}")
        raise


def run_dump(tool: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98"}
    proc = subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode in (0, 1), f"{tool.name} {args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def standin(build_dir: Path) -> tuple[Path, dict[str, Any]]:
    clang = fuchsia_clang()
    out = build_dir / "standin"
    record = standin_vdso.build(out, clang=clang)
    return out / "libzircon.so", record


def _table_2021() -> dict[str, int]:
    return {k: int(v) for k, v in SDK_2021["vdso_syscall_numbers"].items()}


# ------------------------------------------------------------------------------------------ the data file

def test_data_file_table_matches_the_measured_facts() -> None:
    table = _table_2021()
    assert len(table) == 169
    assert sorted(table.values()) == list(range(169))
    assert [table[n] for n in ("bti_create", "bti_pin", "bti_release_quarantine", "channel_create",
                               "channel_read")] == [0, 1, 2, 3, 4]
    assert SDK_2021["vdso_constants"] == {"symbol": "DATA_CONSTANTS", "vaddr": 0x4AB0, "size": 120}
    exported = set(SDK_2021["exports"]["libzircon.so"])
    # Every syscall is exported as _zx_/zx_ except the vDSO's internal entry points.
    assert {n for n in table if f"_zx_{n}" not in exported} == {
        "channel_call_noretry", "channel_call_finish", "channel_call_etc_noretry", "channel_call_etc_finish",
        "clock_get_monotonic_via_kernel", "ticks_get_via_kernel", "cprng_draw_once"}


# ------------------------------------------------------------------------------------------ (a) stand-in

def test_standin_table_read_back_exactly(dump: Path, standin: tuple[Path, dict[str, Any]]) -> None:
    lib, record = standin
    assert record["traps"] == [], "exported functions the generator does not know"
    rc, out = run_dump(dump, lib)
    assert rc == 0, out
    assert out["syscalls"] == record["syscall_numbers"] == _table_2021()
    assert out["count"] == 169
    assert out["machine"] == EM_X86_64
    assert out["constants"]["size"] == 120
    assert out["constants"]["segment_flags"] == PF_R
    # Compound functions: each syscall label names the exported caller, as in the real vDSO.
    vias = {(s["name"], s["via"]) for s in out["sites"] if s["name"] != s["via"]}
    assert vias == {(n, caller) for caller, names in SDK_2021["vdso_compound_syscalls"].items() for n in names}
    assert all(s["exported"] == s["function"].startswith("_zx_") for s in out["sites"])


def test_standin_links_like_a_vdso(standin: tuple[Path, dict[str, Any]]) -> None:
    """No relocations, no writable segment: the runner maps it as it is (readelf from binutils)."""
    lib, _ = standin
    readelf = shutil.which("readelf") or shutil.which("llvm-readelf")
    require(readelf, "readelf is needed")
    assert readelf is not None
    relocs = subprocess.run([readelf, "-rW", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "no relocations" in relocs
    headers = subprocess.run([readelf, "-lW", str(lib)], capture_output=True, text=True, check=True).stdout
    loads = [line.split()[-2] for line in headers.splitlines() if line.strip().startswith("LOAD")]
    assert loads == ["R", "E"] or all("W" not in flags for flags in loads), headers
    dyn = subprocess.run([readelf, "--dyn-syms", "-W", str(lib)], capture_output=True, text=True, check=True).stdout
    names = {line.split()[7] for line in dyn.splitlines() if len(line.split()) >= 8 and ("GLOBAL" in line
                                                                                          or "WEAK" in line)}
    assert names == set(SDK_2021["exports"]["libzircon.so"])


@pytest.fixture(scope="module")
def trap(build_dir: Path) -> Path:
    cmd = [*host_cc(), "-O2", "-Wall", "-Wextra", "-Werror", str(HELPERS / "vdso_trap.c"), "-o",
           str(build_dir / "vdso_trap")]
    subprocess.run(cmd, check=True)
    return build_dir / "vdso_trap"


def _run_trap(trap: Path, lib: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run([str(trap), str(lib), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _check_stub_calls(out: dict[str, Any], table: dict[str, int]) -> None:
    # bti_pin takes 8 arguments (7 and 8 in r12/r13), vmar_map 7 (r12), channel_create 3.
    nrs = [t["nr"] for t in out["traps"]]
    assert nrs[:3] == [table["bti_pin"], table["vmar_map"], table["channel_create"]]
    assert out["traps"][0]["args"] == [11, 12, 13, 14, 15, 16, 17, 18]
    assert out["traps"][1]["args"][:7] == [21, 22, 23, 24, 25, 26, 27]
    assert out["traps"][2]["args"][:3] == [31, 32, 33]
    # The "kernel" (SIGSYS handler) answers 1000 + number; the stub returns it.
    assert (out["bti_pin"], out["vmar_map"], out["channel_create"]) == tuple(1000 + n for n in nrs[:3])


def test_standin_issues_its_syscalls(trap: Path, standin: tuple[Path, dict[str, Any]]) -> None:
    """Run the stand-in's code on Linux, its syscalls caught by a seccomp filter (a stand-in for SYSEMU)."""
    lib, _ = standin
    table = _table_2021()
    out = _run_trap(trap, lib)
    _check_stub_calls(out, table)
    assert out["ticks_ok"] and out["monotonic_ok"]
    assert (out["ticks_per_second"], out["num_cpus"], out["version"]) == (10**9, 4, "stand-in 1")
    assert (out["status_m2"], out["status_m999"]) == ("ZX_ERR_NOT_SUPPORTED", "(UNKNOWN)")
    assert out["features"] == [0, 0x1234, -2]
    # Denominator 0: zx_clock_get_monotonic asks the kernel.
    assert [t["nr"] for t in out["traps"]][3:] == [table["clock_get_monotonic_via_kernel"]]
    assert out["monotonic_via_kernel"] == 1000 + table["clock_get_monotonic_via_kernel"]


def test_generator_command_line(tmp_path: Path) -> None:
    clang = fuchsia_clang()
    proc = subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path), "--clang", clang],
                          capture_output=True, text=True, check=True)
    assert "169 syscalls" in proc.stdout
    assert {p.name for p in tmp_path.iterdir()} == {"libzircon.S", "libzircon.so", "standin_vdso.json"}


# ------------------------------------------------------------------------------------------ (b) real vDSO

def test_real_vdso_table(dump: Path) -> None:
    sdk = real_sdk_2021()
    rc, out = run_dump(dump, sdk / REAL_VDSO)
    assert rc == 0, out
    assert out["syscalls"] == _table_2021()
    assert out["count"] == 169 and sorted(out["syscalls"].values()) == list(range(169))
    assert out["constants"]["size"] == 120
    assert out["constants"]["vaddr"] == SDK_2021["vdso_constants"]["vaddr"]
    assert out["constants"]["segment_flags"] == PF_R
    assert len(out["sites"]) == 175   # 169 + 2 compound functions x 3 inline syscalls
    by_via: dict[str, list[str]] = {}
    for site in out["sites"]:
        if site["via"] != site["name"]:
            by_via.setdefault(site["via"], []).append(site["name"])
    assert by_via == SDK_2021["vdso_compound_syscalls"]


def test_real_vdso_issues_the_numbers_read(trap: Path) -> None:
    """The real vDSO's stubs, run under the same seccomp catcher, issue exactly the numbers the reader found."""
    sdk = real_sdk_2021()
    out = _run_trap(trap, sdk / REAL_VDSO, "--no-kernel-clock")
    _check_stub_calls(out, _table_2021())
    assert out["status_m2"] == "ZX_ERR_NOT_SUPPORTED"


def test_real_vdso_under_sanitizers(dump_asan: Path) -> None:
    sdk = real_sdk_2021()
    rc, out = run_dump(dump_asan, sdk / REAL_VDSO)
    assert rc == 0 and out["count"] == 169


# ------------------------------------------------------------------------------------------ (c) recognition

def _probe(dump: Path, path: Path) -> dict[str, Any]:
    rc, out = run_dump(dump, "--probe", path)
    assert rc == 0, out
    assert out["is_fuchsia"] == out["is_fuchsia_fn"]
    return out


def test_linux_binary_is_not_fuchsia(dump: Path) -> None:
    true = Path(shutil.which("true") or "/bin/true").resolve()
    out = _probe(dump, true)
    assert out["is_fuchsia"] is False
    assert out["has_interp"] and out["interp"].startswith("/")


def test_fuchsia_pie_against_standin_is_recognised(dump: Path, build_dir: Path,
                                                    standin: tuple[Path, dict[str, Any]]) -> None:
    lib, _ = standin
    clang = fuchsia_clang()
    src = build_dir / "main_standin.c"
    src.write_text("extern long zx_ticks_get(void);\nvoid _start(void) { for (;;) zx_ticks_get(); }\n")
    exe = build_dir / "hello_standin"
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-fPIE", "-pie",
                    "-Wl,--dynamic-linker=ld.so.1", str(src), str(lib), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = _probe(dump, exe)
    assert out == {"machine": EM_X86_64, "type": ET_DYN, "has_interp": True, "interp": "ld.so.1",
                   "is_fuchsia": True, "is_fuchsia_fn": True}
    # A library (the stand-in vDSO itself) has no PT_INTERP.
    assert _probe(dump, lib)["is_fuchsia"] is False


def test_real_sysroot_pie_is_recognised_and_ldso_is_not(dump: Path, build_dir: Path) -> None:
    sdk = real_sdk_2021()
    clang = fuchsia_clang()
    lib = sdk / "arch/x64/sysroot/lib"
    src = build_dir / "main.c"
    src.write_text("int main(void) { return 0; }\n")
    obj = build_dir / "main.o"
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fPIE", "-c", str(src), "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    exe = build_dir / "hello_real"
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-pie",
                    "-Wl,--dynamic-linker=ld.so.1", str(lib / "Scrt1.o"), str(obj), f"-L{lib}", "-lc", "-lzircon",
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    assert _probe(dump, exe)["is_fuchsia"] is True
    ldso = _probe(dump, sdk / REAL_LDSO)
    assert (ldso["has_interp"], ldso["is_fuchsia"], ldso["type"]) == (False, False, ET_DYN)


# ------------------------------------------------------------------------------------------ (d) malformed

def _malformed(tmp_path: Path, source: bytes) -> list[Path]:
    """Zero-length, garbage, truncated and corrupted copies of an ELF file, and a directory."""
    import random

    tmp_path.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20210125)
    cases: dict[str, bytes] = {"empty": b"", "garbage": bytes(rng.randrange(256) for _ in range(4096)),
                               "elf_magic_only": source[:16], "header_only": source[:64]}
    for frac in (0.01, 0.1, 0.3, 0.5, 0.9, 0.99):
        cases[f"truncated_{frac}"] = source[: int(len(source) * frac)]
    ehdr_fields = {"e_phoff": 32, "e_shoff": 40, "e_phnum": 56, "e_shentsize": 58, "e_shnum": 60}
    for name, off in ehdr_fields.items():
        for value in (b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff\xff\xff\xff\x7f"):
            size = 8 if name.endswith("off") else 2
            blob = bytearray(source)
            blob[off:off + size] = value[:size]
            cases[f"{name}_{value[:2].hex()}"] = bytes(blob)
    for i in range(40):   # random byte flips in the headers, section table and symbol tables
        blob = bytearray(source)
        for _ in range(rng.randrange(1, 16)):
            pos = rng.randrange(len(blob)) if i % 2 else rng.choice(
                [rng.randrange(0, 0x300), len(blob) - rng.randrange(1, 0x600)])
            blob[pos] = rng.randrange(256)
        cases[f"flipped_{i}"] = bytes(blob)
    paths = []
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    directory = tmp_path / "a_directory"
    directory.mkdir()
    return [*paths, directory, tmp_path / "does_not_exist"]


def _check_malformed(tool: Path, tmp_path: Path, source: Path) -> None:
    must_fail = {"empty", "garbage", "elf_magic_only", "header_only", "a_directory", "does_not_exist"}
    must_fail |= {f"truncated_{f}" for f in (0.01, 0.1, 0.3, 0.5, 0.9)}
    for path in _malformed(tmp_path, source.read_bytes()):
        rc, out = run_dump(tool, path)
        if path.name in must_fail:
            assert rc == 1 and out["status"] < 0 and out["error"], (path.name, out)
        rc, out = run_dump(tool, "--probe", path)
        if path.name in {"empty", "garbage", "a_directory", "does_not_exist", "elf_magic_only"}:
            assert rc == 1 and out["status"] < 0, (path.name, out)


def test_malformed_inputs_give_errors(dump: Path, dump_asan: Path, tmp_path: Path,
                                      standin: tuple[Path, dict[str, Any]]) -> None:
    """Truncated, corrupted, empty files, a directory: an error status, never a crash (plain and ASan/UBSan)."""
    lib, _ = standin
    for tool in (dump, dump_asan):
        _check_malformed(tool, tmp_path / tool.name, lib)


def test_malformed_real_vdso_copies(dump_asan: Path, tmp_path: Path) -> None:
    sdk = real_sdk_2021()
    _check_malformed(dump_asan, tmp_path, sdk / REAL_VDSO)


def test_stripped_and_inconsistent(dump: Path, tmp_path: Path, standin: tuple[Path, dict[str, Any]]) -> None:
    lib, _ = standin
    data = bytearray(lib.read_bytes())
    # Stripped: no .symtab, so no labels.
    strip = shutil.which("llvm-strip") or shutil.which("strip")
    if strip:
        stripped = tmp_path / "stripped.so"
        subprocess.run([strip, "-o", str(stripped), str(lib)], check=True)
        rc, out = run_dump(dump, stripped)
        assert rc == 1 and out["status_name"] == "ERR_NO_SYMTAB", out
    # Two syscalls with one number: patch channel_create's immediate to channel_read's.
    rc, good = run_dump(dump, lib)
    site = next(s for s in good["sites"] if s["name"] == "channel_create")
    assert data[site["offset"] - 5] == 0xB8 and data[site["offset"]:site["offset"] + 2] == b"\x0f\x05"
    data[site["offset"] - 4] = good["syscalls"]["channel_read"]
    dup = tmp_path / "dup.so"
    dup.write_bytes(bytes(data))
    rc, out = run_dump(dump, dup)
    assert rc == 1 and out["status_name"] == "ERR_INCONSISTENT", out
    # A label not after mov/syscall.
    data[site["offset"]] = 0x90
    bad = tmp_path / "pattern.so"
    bad.write_bytes(bytes(data))
    rc, out = run_dump(dump, bad)
    assert rc == 1 and out["status_name"] == "ERR_PATTERN", out
