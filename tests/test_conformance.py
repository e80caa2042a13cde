"""The C conformance scenarios (conformance/): built with the host kernel and run, and compiled for Fuchsia.

The host binary must pass every scenario it runs; the scenarios it lists as skipped are a fixed table (objects
outside the binding's contract, pre-RFC-0007 kernels), checked here so no scenario silently stops running.
The Fuchsia half compiles every source to objects for x64 and arm64 against the stand-in SDK (linking needs a
real SDK's crt files and Fuchsia's compiler-rt: `python -m fuchsia_tools.femu build` does that where one is configured).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from vintage import IN_CI

from fuchsia_tools import femu, sdkconfig, standin_sysroot

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO / "conformance"
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


def need(tool: str) -> str:
    """A tool on PATH; missing means skip here, failure in CI."""
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is required in CI")
        pytest.skip(f"{tool} not installed")
    return path


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("make")
    need("gcc")
    out = tmp_path_factory.mktemp("conformance") / "host"
    proc = subprocess.run(["make", "-C", str(CONFORMANCE), f"BUILD={out}", "all"], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def scenario_table(binary: Path) -> tuple[list[str], list[str]]:
    """(ids that run, ids that are skipped) from the binary's --list."""
    proc = subprocess.run([str(binary), "--list"], capture_output=True, text=True, timeout=60, check=True)
    run, skip = [], []
    for line in proc.stdout.splitlines():
        ident = line.split()[0]
        (skip if " skip: " in line else run).append(ident)
    return run, skip


def test_scenario_table_covers_all_sixty(host_build: Path) -> None:
    run, skip = scenario_table(host_build / "zx_conformance")
    numbered = {int(m.group(1)) for m in (re.match(r"s(\d+)", i) for i in run + skip) if m}
    # 42 runs inside s27; every other core-test scenario (s01-s60, the suite's numbering) has its own row.
    assert numbered | {42} == set(range(1, 61))
    assert len(run) >= 55
    assert all(i.startswith("s") for i in skip)
    src = (CONFORMANCE / "scenarios.c").read_text(encoding="utf-8")
    assert src.count("SKIP(\"") == len(skip)


def test_host_conformance_passes(host_build: Path) -> None:
    """Every runnable scenario passes against the host kernel (one PASS line each), none fails."""
    binary = host_build / "zx_conformance"
    run, skip = scenario_table(binary)
    env = dict(os.environ, ZX_CONFORMANCE_HELPER_DIR=str(host_build))
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=1500, env=env, check=False)
    lines = proc.stdout.splitlines()
    failures = [line for line in lines if line.startswith("FAIL ")]
    assert not failures, "\n".join(failures) + "\n" + proc.stderr[-4000:]
    assert lines, proc.stderr
    closing = CLOSING.match(lines[-1])
    assert closing, lines[-1]
    assert (int(closing.group(1)), int(closing.group(2)), int(closing.group(3) or 0)) == (len(run), 0, len(skip))
    passed = {line.split()[1] for line in lines if line.startswith("PASS ")}
    assert passed == set(run)
    assert proc.returncode == 0


def test_harness_reports_failure(host_build: Path, tmp_path: Path) -> None:
    """A failing scenario gives a FAIL line naming the scenario line, the closing count and a non-zero exit:
    here the helper programs are missing, so every spawning scenario must fail (and nothing hangs)."""
    env = dict(os.environ, ZX_CONFORMANCE_HELPER_DIR=str(tmp_path))
    proc = subprocess.run([str(host_build / "zx_conformance"), "-k", "s25", "-k", "s15"], capture_output=True,
                          text=True, timeout=300, env=env, check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"
    (fail,) = [line for line in lines if line.startswith("FAIL ")]
    assert fail.startswith("FAIL s25 ") and "fdio_spawn" in fail and "scen_process.c:" in fail
    assert "PASS s15 Threads.SuspendSelf" in lines


# ------------------------------------------------------------------------------------------- Fuchsia objects


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sdkconfig.SdkConfig]:
    clang = need("clang")
    need("ld.lld")
    out = tmp_path_factory.mktemp("standin") / "sdk"
    proc = subprocess.run([sys.executable, standin_sysroot.__file__, "--out", str(out),
                           "--clang", clang, "--fetch-musl"], capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield sdkconfig.load(out / "zxpy_standin.cfg")


@pytest.mark.parametrize(("cpu", "machine"), [("x64", "EM_X86_64"), ("arm64", "EM_AARCH64")])
def test_fuchsia_objects_compile(standin: sdkconfig.SdkConfig, tmp_path: Path, cpu: str, machine: str) -> None:
    """Every conformance source compiles for <cpu>-unknown-fuchsia with -Werror, and the thread entries touch
    nothing a bare zx_thread_start thread lacks (stack guard, SafeStack, ShadowCallStack, atomics helpers)."""
    try:
        from elftools.elf import elffile
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("pyelftools not installed")
    cfg = dataclasses.replace(standin, cpu=cpu)
    pre = femu.preflight(cfg, tmp_path, stage="objects")
    assert pre.problems == ()
    assert pre.clang is not None
    objs = femu.compile_objects(cfg, pre.clang, pre.api_level, REPO, tmp_path / "obj")
    main_sources, helpers = femu.conformance_sources(REPO)
    assert sorted(objs) == sorted(["zx_conformance", *helpers])
    assert len(objs["zx_conformance"]) == len(main_sources)
    for files in objs.values():
        for obj in files:
            with obj.open("rb") as f:
                elf = elffile.ELFFile(f)
                assert elf["e_machine"] == machine and elf["e_type"] == "ET_REL", obj
    tfuncs = next(o for o in objs["zx_conformance"] if o.name == "tfuncs.o")
    with tfuncs.open("rb") as f:
        elf = elffile.ELFFile(f)
        undefined = {s.name for s in elf.get_section_by_name(".symtab").iter_symbols()
                     if s["st_shndx"] == "SHN_UNDEF" and s.name}
        text = elf.get_section_by_name(".text").data()
    assert undefined and all(name.startswith("zx_") for name in undefined), undefined
    if cpu == "arm64":
        # ShadowCallStack pushes the return address with `str x30, [x18], #8` (STR immediate, post-index, 64-bit,
        # Rt = x30, Rn = x18): no such store may appear.
        words = [int.from_bytes(text[i:i + 4], "little") for i in range(0, len(text) - 3, 4)]
        assert not any(w & 0xFFE00C1F == 0xF800041E and (w >> 5) & 0x1F == 18 for w in words)
    else:
        # The stack guard (%fs:0x10) and SafeStack's unsafe stack pointer (%fs:0x18) are read and written with
        # %fs-relative absolute moves: `64 REX.W 8b/89 modrm 25 disp32`; none may appear.
        assert not re.search(rb"\x64[\x48\x4c][\x89\x8b][\x04\x0c\x14\x1c\x24\x2c\x34\x3c]\x25", text)


def test_fuchsia_link_needs_a_real_sdk(standin: sdkconfig.SdkConfig, tmp_path: Path) -> None:
    """Against the stand-in, `build` stops in preflight naming the missing crt file, before running clang."""
    pre = femu.preflight(standin, tmp_path, stage="build")
    assert any("Scrt1.o" in p for p in pre.problems)
    pre = femu.preflight(standin, tmp_path, stage="run", kvm_device=Path("/dev/null"))
    assert any("stand-in" in p for p in pre.problems)
