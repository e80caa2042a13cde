"""First light for running Fuchsia programs on the host kernel: host/fuchsia/runner.c (docs/fuchsia-elf.md).

Fuchsia-ABI static PIEs of our own (tests/helpers/fuchsia_first_light.c, one behaviour per build) are started by
``hk_fuchsia_spawn`` with the stand-in vDSO (fuchsia_tools/standin_vdso.py), and with the real January 2021 vDSO
when ``ZXPY_SDK_2021`` names that SDK.  The driver, tests/helpers/fuchsia_run.c, links the host kernel's sources
with host/fuchsia/ (which the Python module does not contain yet) and prints JSON.

Needs clang and ld.lld for the Fuchsia target (skipped without them, failed under CI=true) and ptrace.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vintage import SDK_2021, fuchsia_clang, host_cc, real_sdk_2021, require

from fuchsia_tools import standin_vdso

ROOT = Path(__file__).resolve().parent.parent
HOST = ROOT / "host"
HELPERS = Path(__file__).parent / "helpers"
PROGRAM = HELPERS / "fuchsia_first_light.c"
REAL_VDSO = Path("arch/x64/sysroot/lib/libzircon.so")
MODES = ("EXIT", "TICK", "UNSERVED", "BADSYSCALL", "VMO", "VMAR", "HANDLES", "FUTEX", "THREADS", "STDIO", "SUBVMAR",
         "LDSO")
REAL_LDSO = Path("arch/x64/sysroot/dist/lib/ld.so.1")

ZX_ERR_NOT_SUPPORTED = -2
ZX_ERR_IO = -40
ZX_OBJ_TYPE_VMAR = 18
ZX_TASK_RETCODE_SYSCALL_KILL = -1024
ZX_THREAD_STATE_SUSPENDED = 0x0002
ZX_THREAD_STATE_BLOCKED_WAIT_ONE = 0x0603
ZX_DEFAULT_PROCESS_RIGHTS = 0x6D3CF
ZX_DEFAULT_JOB_RIGHTS = 0x7DFCF
ZX_TASK_RETCODE_EXCEPTION_KILL = -1028

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"),
                                reason="the runner runs x86-64 Fuchsia images on x86-64 Linux")


def _build_driver(out: Path, *flags: str) -> Path:
    # The module's sources (build_ffi.py): the host kernel, host/ipc/, and host/fuchsia/ but its vdso_dump tool.
    sources = [HELPERS / "fuchsia_run.c", *sorted(HOST.glob("*.c")), *sorted((HOST / "ipc").glob("*.c")),
               *sorted(p for p in (HOST / "fuchsia").glob("*.c") if p.name != "vdso_dump.c")]
    cmd = [*host_cc(), "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
           f"-I{HOST / 'include'}", f"-I{HOST}", *flags, *map(str, sources), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuchsia_first_light")


@pytest.fixture(scope="module")
def clang() -> str:
    return fuchsia_clang()


@pytest.fixture(scope="module")
def driver(build_dir: Path) -> Path:
    return _build_driver(build_dir / "fuchsia_run")


@pytest.fixture(scope="module")
def driver_asan(build_dir: Path) -> Path:
    try:
        return _build_driver(build_dir / "fuchsia_run_asan", "-fsanitize=address,undefined",
                             "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
    except subprocess.CalledProcessError as exc:
        cc = " ".join(host_cc())
        require(False, f"{cc} cannot build with -fsanitize=address,undefined: {exc.stderr.strip()[:200]}")
        raise


@pytest.fixture(scope="module")
def driver_tsan(build_dir: Path) -> Path:
    try:
        return _build_driver(build_dir / "fuchsia_run_tsan", "-fsanitize=thread", "-fno-omit-frame-pointer")
    except subprocess.CalledProcessError as exc:
        cc = " ".join(host_cc())
        require(False, f"{cc} cannot build with -fsanitize=thread: {exc.stderr.strip()[:200]}")
        raise


@pytest.fixture(scope="module")
def programs(build_dir: Path, clang: str) -> dict[str, Path]:
    out = {}
    for mode in MODES:
        exe = build_dir / f"first_light_{mode.lower()}"
        subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-ffreestanding",
                        "-fno-builtin", "-fPIE", "-Wl,-pie", "-Wl,--no-dynamic-linker", "-fno-stack-protector",
                        "-fno-sanitize=safe-stack", "-O2", "-Wall", "-Wextra", "-Werror", f"-DFL_{mode}",
                        "-e", "_start", "-o", str(exe), str(PROGRAM)], check=True, capture_output=True, text=True)
        out[mode] = exe
    return out


@pytest.fixture(scope="module")
def interp_exe(build_dir: Path, clang: str) -> Path:
    """FL_EXIT linked as a dynamically linked executable (PT_INTERP ld.so.1): what a dynamic linker gets as its
    PA_VMO_EXECUTABLE.  Only its headers are read (by FL_LDSO); its name is what the VMO is named after."""
    exe = build_dir / "first_light_interp"
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-ffreestanding",
                    "-fno-builtin", "-fPIE", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1", "-fno-stack-protector",
                    "-fno-sanitize=safe-stack", "-O2", "-DFL_EXIT", "-e", "_start", "-o", str(exe), str(PROGRAM)],
                   check=True, capture_output=True, text=True)
    return exe


@pytest.fixture(scope="module")
def standin(build_dir: Path, clang: str) -> Path:
    standin_vdso.build(build_dir / "standin", clang=clang)
    return build_dir / "standin" / "libzircon.so"


@pytest.fixture(scope="module")
def shuffled(build_dir: Path, clang: str) -> tuple[Path, dict[str, int]]:
    """A stand-in vDSO whose syscall numbers are the 2021 ones reversed: a runner that assumed a table would
    serve the wrong calls."""
    data = json.loads(json.dumps(SDK_2021))
    numbers = {k: int(v) for k, v in data["vdso_syscall_numbers"].items()}
    top = max(numbers.values())
    data["vdso_syscall_numbers"] = {k: top - v for k, v in numbers.items()}
    abi = build_dir / "shuffled_abi.json"
    abi.write_text(json.dumps(data))
    standin_vdso.build(build_dir / "shuffled", abi=abi, clang=clang)
    return build_dir / "shuffled" / "libzircon.so", data["vdso_syscall_numbers"]


def run(driver: Path, mode: str, image: Path, vdso: Path, *more: Path | str) -> dict[str, Any]:
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98",
           # The driver ends with _exit while its pipe readers still run: those are no leak.
           "TSAN_OPTIONS": "halt_on_error=1:exitcode=97:report_thread_leaks=0"}
    proc = subprocess.run([str(driver), mode, str(image), str(vdso), *map(str, more)], capture_output=True,
                          text=True, env=env, timeout=90)
    assert proc.returncode == 0, f"{driver.name} {mode} {image.name}: exit {proc.returncode}\n{proc.stdout}\n" \
                                 f"{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    if result["spawn"] != 0 and "ptrace" in result["spawn_error"]:
        pytest.skip(f"no ptrace here: {result['spawn_error']}")
    assert result["spawn"] == 0, result
    return result


def unserved(result: dict[str, Any]) -> dict[str, int]:
    text: str = result["unserved"]
    return {k: int(v) for k, v in (item.split("=") for item in text.split(",") if item)}


# ------------------------------------------------------------------------------------------ the programs

def _elf_facts(path: Path) -> tuple[int, set[int], set[int]]:
    """e_type, the program header types, and the dynamic tags of an ELF64 LE file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    e_type, = struct.unpack_from("<H", data, 16)
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    ptypes, tags = set(), set()
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        ptypes.add(p_type)
        if p_type == 2:  # PT_DYNAMIC
            for off in range(p_offset, p_offset + p_filesz, 16):
                tag, _ = struct.unpack_from("<qQ", data, off)
                if tag == 0:
                    break
                tags.add(tag)
    return e_type, ptypes, tags


def test_programs_are_static_pies_without_interp_or_relocations(programs: dict[str, Path]) -> None:
    PT_INTERP, DT_RELA, DT_REL, DT_JMPREL, DT_RELR = 3, 7, 17, 23, 36
    for mode, exe in programs.items():
        e_type, ptypes, tags = _elf_facts(exe)
        assert e_type == 3, mode  # ET_DYN: a PIE, mapped at a fresh base
        assert PT_INTERP not in ptypes, mode
        assert not tags & {DT_RELA, DT_REL, DT_JMPREL, DT_RELR}, (mode, tags)


# ------------------------------------------------------------------------------------------ stand-in vDSO

def test_exit_42(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    r = run(driver, "exit", programs["EXIT"], standin)
    print(r)
    assert r["wait"] == 0 and r["terminated"] and r["info"] == 0
    assert r["return_code"] == 42
    # debug_write, cprng_draw (>= 32 of 64 bytes non-zero), and a 20 ms zx_nanosleep measured with the vDSO clock.
    assert r["output"] == "hello from a Fuchsia program\nslept, exiting with 42\n"
    assert r["pid_positive"] and r["pid_gone"]
    assert unserved(r) == {}


def test_tick_suspend_resume_kill(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    r = run(driver, "tick", programs["TICK"], standin)
    print(r)
    assert r["before"] >= 3
    assert r["suspend"] == 0
    assert r["held0"] == r["held1"], "ticks went on while the process was suspended"
    assert r["close"] == 0
    assert r["resumed"] > r["held1"], "no tick after the suspend token was closed"
    assert r["kill"] == 0 and r["wait"] == 0 and r["terminated"] and r["info"] == 0
    assert r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL
    assert r["pid_gone"]
    lines = r["output"].splitlines()
    assert lines == [f"tick {n}" for n in range(len(lines))]


def test_unserved_syscall_is_not_supported_and_counted(driver: Path, programs: dict[str, Path],
                                                       standin: Path) -> None:
    r = run(driver, "exit", programs["UNSERVED"], standin)
    print("unserved:", unserved(r))
    assert r["terminated"] and r["return_code"] == ZX_ERR_NOT_SUPPORTED  # exit(status), the full 64-bit code
    assert unserved(r) == {"system_get_event": 1}


def test_syscall_from_outside_the_vdso_kills_the_process(driver: Path, programs: dict[str, Path],
                                                         standin: Path) -> None:
    r = run(driver, "exit", programs["BADSYSCALL"], standin)
    assert r["terminated"] and r["return_code"] == ZX_TASK_RETCODE_EXCEPTION_KILL
    assert r["output"] == "issuing a syscall from outside the vDSO\n"
    assert r["pid_positive"] and r["pid_gone"]


def test_vmos(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    """zx_vmo_create/read/write/get_size/set_size from a Fuchsia program, served by host/fuchsia/vm.c (memfds): the
    program checks each result and each error in Zircon's order, and exits with the number of the first that
    differs."""
    r = run(driver, "exit", programs["VMO"], standin)
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_VMO failed"
    assert r["output"] == "VMOs as Zircon has them\n"
    assert unserved(r) == {}
    # The program's VMOs were in its own table, closed when it died.
    assert r["vmo_handles_left"] == 0 and r["table_after"] == 0


def test_vmar_map_and_unmap(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    """zx_vmar_map/unmap on the program's root VMAR (host/fuchsia/vm.c), the VMO's memfd mapped into the program by
    Linux calls run in it: the program sees the VMO's bytes through the mapping and its stores in the VMO, checks
    vmar_map's errors in Zircon's order, and maps again at a specific place once unmapped."""
    r = run(driver, "vmar", programs["VMAR"], standin)
    assert r["root_vmar"] == 0 and r["root_vmar_type"] == ZX_OBJ_TYPE_VMAR, r
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_VMAR failed"
    assert r["output"].endswith("mapped VMOs as Zircon does\n")
    assert unserved(r) == {}
    assert r["vmo_handles_left"] == 0 and r["table_after"] == 0


def test_sub_vmars_and_vmo_children(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    """zx_vmar_allocate/protect/destroy, maps and unmaps in sub-VMARs, zx_vmo_create_child, VMO names and
    zx_vmo_replace_as_executable (host/fuchsia/vm.c): FL_SUBVMAR checks each result and error in Zircon's order and
    exits with the number of the first that differs."""
    r = run(driver, "exit", programs["SUBVMAR"], standin)
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_SUBVMAR failed"
    assert r["output"] == "sub-VMARs and VMO children as Zircon has them\n"
    assert unserved(r) == {}
    assert r["vmo_handles_left"] == 0 and r["table_after"] == 0


def check_ldso(r: dict[str, Any]) -> None:
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_LDSO failed: {r}"
    assert r["output"] == "a dynamic linker's start\n"
    assert unserved(r) == {}
    assert r["vmo_handles_left"] == 0 and r["table_after"] == 0


def test_dynamic_linker_start(driver: Path, programs: dict[str, Path], interp_exe: Path, standin: Path) -> None:
    """hk_fuchsia_spawn_interp with a stand-in dynamic linker (FL_LDSO) as the start image: the first message has
    the process, thread, root VMAR, PA_VMAR_LOADED and the executable's VMO (PT_INTERP ld.so.1, named after the
    file, not writable), argv as the program's; the image loads a page of the executable as ld.so does and
    protects its own read-only page through PA_VMAR_LOADED; the program's message follows."""
    check_ldso(run(driver, "interp", interp_exe, programs["LDSO"], standin))


def test_dynamic_start_refuses_bad_executables(driver: Path, programs: dict[str, Path], standin: Path,
                                               tmp_path: Path) -> None:
    """An executable without PT_INTERP ld.so.1 (a static image) is NOT_SUPPORTED, a missing one IO; nothing runs."""
    missing = tmp_path / "missing"
    for exe, status in ((programs["EXIT"], ZX_ERR_NOT_SUPPORTED), (missing, ZX_ERR_IO)):
        proc = subprocess.run([str(driver), "interp", str(exe), str(programs["LDSO"]), str(standin)],
                              capture_output=True, text=True, timeout=90)
        result = json.loads(proc.stdout)
        assert result["spawn"] == status, result
        assert str(exe) in result["spawn_error"]


def test_numbers_are_read_from_the_vdso(driver: Path, programs: dict[str, Path],
                                        shuffled: tuple[Path, dict[str, int]]) -> None:
    vdso, numbers = shuffled
    assert numbers["process_exit"] != SDK_2021["vdso_syscall_numbers"]["process_exit"]
    r = run(driver, "exit", programs["EXIT"], vdso)
    assert r["return_code"] == 42 and r["output"].endswith("exiting with 42\n")
    r = run(driver, "exit", programs["UNSERVED"], vdso)
    assert r["return_code"] == ZX_ERR_NOT_SUPPORTED and unserved(r) == {"system_get_event": 1}


def _maps(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each line of a /proc/PID/maps text."""
    out = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        out.append((lo, hi, fields[5] if len(fields) > 5 else ""))
    return out


def test_address_space_holds_only_the_image_vdso_and_stack(driver: Path, programs: dict[str, Path],
                                                          standin: Path) -> None:
    """The program's Linux process exec'd the trampoline, which the runner replaced by the Fuchsia address space:
    nothing of the host program (its libraries, heap, stack, fds) nor of Linux's exec (the trampoline, Linux's own
    stack, vDSO and vvar pages) is left.  Only [vsyscall], which is no mapping and cannot be removed, is."""
    check_address_space(run(driver, "maps", programs["TICK"], standin))


def check_address_space(r: dict[str, Any]) -> None:
    print(r["maps"])
    assert r["layout"] == 0 and r["lines"] >= 1, r
    spans = {"image": r["image"], "vdso": r["vdso"], "stack": r["stack"]}
    assert spans["stack"][1] == 256 * 1024
    seen = set()
    for lo, hi, name in _maps(r["maps"]):
        if name == "[vsyscall]":
            continue
        owner = [k for k, (base, size) in spans.items() if base <= lo and hi <= base + size]
        assert owner, f"a mapping of neither the image, the vDSO nor the stack: {lo:x}-{hi:x} {name}"
        seen.add(owner[0])
        assert "trampoline" not in name and not name.startswith("[") and ".so" not in name, name
    assert seen == {"image", "vdso", "stack"}
    # The image and the vDSO are mapped from memfds of their checked bytes, executable where their segments are.
    text = r["maps"]
    assert "/memfd:fuchsia:first-light" in text and "/memfd:fuchsia:vdso" in text
    assert any(line.split()[1] == "r-xp" and "fuchsia:vdso" in line for line in text.splitlines())
    # fds: stdio only.  The driver held the memfds' and an inheritable extra fd: none is left.
    assert set(r["fds"]) == {"0", "1", "2"}, r["fds"]
    assert r["extra_fd"] > 2
    assert r["comm"] == "first-light\n"
    assert r["terminated"]


def test_exit_42_under_asan(driver_asan: Path, programs: dict[str, Path], standin: Path) -> None:
    r = run(driver_asan, "exit", programs["EXIT"], standin)
    assert r["return_code"] == 42
    r = run(driver_asan, "tick", programs["TICK"], standin)
    assert r["held0"] == r["held1"] and r["resumed"] > r["held1"]
    assert r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL and r["pid_gone"]
    r = run(driver_asan, "exit", programs["VMO"], standin)
    assert r["return_code"] == 0
    r = run(driver_asan, "vmar", programs["VMAR"], standin)
    assert r["return_code"] == 0 and r["vmo_handles_left"] == 0
    check_address_space(run(driver_asan, "maps", programs["TICK"], standin))


# ------------------------------------------------------------------------------------------ handles (serve_object.c)

def check_handles(r: dict[str, Any]) -> None:
    """The FL_HANDLES program's "full" scenario, as the driver saw it (tests/helpers/fuchsia_run.c, mode handles)."""
    out = r["output"]
    # Every check inside the program passed (a failure prints "FAILED at line N" and exits with 100 + N % 100).
    assert "FAILED" not in out, out
    lines = out.splitlines()
    # Its bootstrap message named its own process and job: the koids the host sees, with fdio_spawn's rights (the
    # process: default rights; the job: the spawner's job handle, duplicated with ZX_RIGHT_SAME_RIGHTS).
    assert f"koid={r['proc_koid']}" in lines and f"job={r['job_koid']}" in lines
    assert f"proc-rights={ZX_DEFAULT_PROCESS_RIGHTS}" in lines and f"job-rights={ZX_DEFAULT_JOB_RIGHTS}" in lines
    # PROC_SELF, THREAD_SELF, VMAR_ROOT, JOB_DEFAULT, the event, the tick process.
    assert "handles=6" in lines
    assert lines[-9:] == ["channel round trip", "bad pointers", "tick-suspended", "tick-held", "tick-resumed",
                          "holding-token", "waiting", "woke", "killing-self"]
    assert r["steps"] == [True] * 4
    # The program's zx_task_suspend held the other program: no tick line while its token was open.
    assert r["held0"] == r["held1"], "ticks went on while the Fuchsia program held a suspend token"
    # Blocked in zx_object_wait_one (on a worker; the task waits in its syscall-stop): the host sees the state.
    assert r["blocked_state"] == ZX_THREAD_STATE_BLOCKED_WAIT_ONE
    # Suspended while blocked: THREAD_SUSPENDED, and the host's signal does not complete the call ...
    assert r["suspend"] == 0 and r["suspended"] == 0
    assert r["suspended_state"] == r["still_state"] == ZX_THREAD_STATE_SUSPENDED
    assert r["signal"] == 0 and not r["woke_while_suspended"]
    # ... until the resume, when the call is issued again and finds the signal.
    assert r["close"] == 0 and r["woke"]
    # zx_task_kill of its own process never returned.
    assert "after-kill" not in out
    assert r["wait"] == 0 and r["info"] == 0 and r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL
    # Everything it held was released when it died: its table is empty, the event and the tick process keep only
    # the driver's handle, and the suspend token it kept is gone, so the tick program runs again.
    assert r["event_handles_running"] == 2 and r["event_handles_after"] == 1
    assert r["tick_handles_after"] == 1 and r["table_after"] == 0
    assert r["kept0"] == r["kept_mid"], "the tick program ran while the Fuchsia program kept its token"
    assert r["tick_resumed"] > r["kept1"] >= r["kept_mid"], "the token of a dead program still holds the tick program"


def check_blockkill(r: dict[str, Any]) -> None:
    assert r["blocking"] and r["blocked_state"] == ZX_THREAD_STATE_BLOCKED_WAIT_ONE
    assert r["kill"] == 0 and r["wait"] == 0 and r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL
    assert "unblocked" not in r["output"]
    # The worker that served the wait ended with the program (another of the program's host threads may end in the
    # same poll); the event is back to the driver's one handle.
    assert r["threads_before"] <= r["threads_after"] <= r["threads_blocked"] - 1, r
    assert r["event_handles_running"] == 2 and r["event_handles_after"] == 1 and r["table_after"] == 0


def check_exitrelease(r: dict[str, Any]) -> None:
    assert r["output"] == "exiting\n"
    assert r["wait"] == 0 and r["return_code"] == 5
    # It exited holding an event of its own and a duplicate of the driver's (it said "exiting" only once it had
    # both): both are gone with its table.
    assert r["event_handles_after"] == 1 and r["table_after"] == 0


def check_vmroot(r: dict[str, Any]) -> None:
    """FL_HANDLES "vm": the root VMAR from its bootstrap message (PA_VMAR_ROOT, with zx_process_create's rights),
    a VMO in its own table mapped, written through the mapping and read back with vmo_read, its handle closed while
    the mapping stays usable, unmapped; it exits holding another VMO, which goes with its table."""
    assert "FAILED" not in r["output"], r["output"]
    assert r["output"] == "mapped through the root VMAR\n"
    assert r["wait"] == 0 and r["return_code"] == 6
    assert r["table_after"] == 0 and r["event_handles_after"] == 1


def test_root_vmar_from_bootstrap(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_vmroot(run(driver, "vmroot", programs["HANDLES"], standin))


def test_object_model_calls_bootstrap_and_blocking_wait(driver: Path, programs: dict[str, Path],
                                                        standin: Path) -> None:
    r = run(driver, "handles", programs["HANDLES"], standin, programs["TICK"])
    print(r)
    check_handles(r)


def test_kill_while_blocked_leaves_no_worker_or_handle(driver: Path, programs: dict[str, Path],
                                                       standin: Path) -> None:
    r = run(driver, "blockkill", programs["HANDLES"], standin)
    print(r)
    check_blockkill(r)


def test_handles_under_tsan(driver_tsan: Path, programs: dict[str, Path], standin: Path) -> None:
    """The worker that serves a blocked wait, the monitor that completes it and the driver share the kernel."""
    check_handles(run(driver_tsan, "handles", programs["HANDLES"], standin, programs["TICK"]))
    check_blockkill(run(driver_tsan, "blockkill", programs["HANDLES"], standin))
    check_vmroot(run(driver_tsan, "vmroot", programs["HANDLES"], standin))


def test_exit_releases_its_handles(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_exitrelease(run(driver, "exitrelease", programs["HANDLES"], standin))


def test_handles_under_asan(driver_asan: Path, programs: dict[str, Path], standin: Path) -> None:
    check_handles(run(driver_asan, "handles", programs["HANDLES"], standin, programs["TICK"]))
    check_blockkill(run(driver_asan, "blockkill", programs["HANDLES"], standin))
    check_exitrelease(run(driver_asan, "exitrelease", programs["HANDLES"], standin))
    check_vmroot(run(driver_asan, "vmroot", programs["HANDLES"], standin))


# ------------------------------------------------------------------------------------------ the real 2021 vDSO

def test_real_2021_vdso_sub_vmars_and_dynamic_start(driver: Path, programs: dict[str, Path],
                                                    interp_exe: Path) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    r = run(driver, "exit", programs["SUBVMAR"], vdso)
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_SUBVMAR failed"
    check_ldso(run(driver, "interp", interp_exe, programs["LDSO"], vdso))


def _sdk_program(build_dir: Path, name: str, source: str) -> Path:
    """A C program built against the real 2021 SDK's sysroot and linked as the SDK links executables: Scrt1.o,
    -lc -lzircon, PT_INTERP ld.so.1."""
    sysroot = real_sdk_2021() / "arch/x64/sysroot"
    src = build_dir / f"{name}.c"
    src.write_text(source)
    exe = build_dir / name
    clang = fuchsia_clang()
    common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, "-c", str(src), "-o", f"{exe}.o"], check=True, capture_output=True, text=True)
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), f"{exe}.o", "-L", str(sysroot / "lib"), "-lc", "-lzircon",
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    return exe


MAIN_7 = "int main(void) { return 7; }\n"
MAIN_ARGS = r"""
#include <stdlib.h>
#include <string.h>
#include <zircon/syscalls.h>
extern char **environ;
static void say(const char *s) { zx_debug_write(s, strlen(s)); }
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) { say("arg "); say(argv[i]); say("\n"); }
    for (char **e = environ; *e; e++) { say("env "); say(*e); say("\n"); }
    const char *t = getenv("ZXPY_TEST");
    char *p = malloc(1 << 20);
    if (p == NULL || t == NULL || strcmp(t, "1") != 0) return 100;
    memset(p, 7, 1 << 20);
    free(p);
    return argc;
}
"""


def test_sdk_ld_so_runs_main(driver: Path, build_dir: Path) -> None:
    """The real SDK's unmodified ld.so.1 and vDSO start a program linked against the SDK's libc: it loads the
    executable from its VMO, relocates, runs libc's start-up and main, whose return code 7 is the process's."""
    sdk = real_sdk_2021()
    exe = _sdk_program(build_dir, "sdk_main7", MAIN_7)
    r = run(driver, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)
    assert r["return_code"] == 7, r
    # ld.so asks for a debuglog only to log through; the 2021 ld.so accepts NOT_SUPPORTED.
    assert set(unserved(r)) <= {"debuglog_create"}
    # Its Linux process is gone (when the driver read its pid before it ended, which a fast exit can beat).
    assert r["pid_gone"] or not r["pid_positive"]
    assert r["vmo_handles_left"] == 0 and r["table_after"] == 0


def test_sdk_ld_so_passes_argv_and_environ(driver: Path, build_dir: Path) -> None:
    """argv and environ of the processargs message reach main through the SDK's libc; malloc of 1 MiB works."""
    sdk = real_sdk_2021()
    exe = _sdk_program(build_dir, "sdk_args", MAIN_ARGS)
    r = run(driver, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)
    assert r["return_code"] == 3, r
    assert r["output"] == "arg ldprog\narg one\narg two\nenv ZXPY_TEST=1\nenv ZXPY_OTHER=2\n"


def test_sdk_ld_so_loads_a_library_through_the_loader_service(driver: Path, build_dir: Path) -> None:
    """A program that needs a library beyond libc.so and libzircon.so: the SDK's ld.so asks the loader service
    (PA_LDSVC_LOADER, fuchsia.ldsvc.Loader/LoadObject through zx_channel_call), which finds libfoo.so in the
    program's own directory, and main returns what foo() returns.  Without the file the loader answers NOT_FOUND,
    and ld.so says so through zx_debug_write (its debuglog is unserved) and exits with 127, as on Fuchsia;
    nothing hangs or stays behind."""
    sdk = real_sdk_2021()
    sysroot = sdk / "arch/x64/sysroot"
    clang = fuchsia_clang()
    (build_dir / "foo.c").write_text("int foo(void) { return 9; }\n")
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}", "-fPIC", "-shared",
                    "-nostdlib", "-fuse-ld=lld", "-Wl,-soname,libfoo.so", str(build_dir / "foo.c"), "-o",
                    str(build_dir / "libfoo.so")], check=True, capture_output=True)
    src = build_dir / "usefoo.c"
    src.write_text("int foo(void);\nint main(void) { return foo(); }\n")
    common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, "-c", str(src), "-o", str(build_dir / "usefoo.o")], check=True, capture_output=True)
    exe = build_dir / "usefoo"
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), str(build_dir / "usefoo.o"), "-L", str(build_dir), "-lfoo", "-L",
                    str(sysroot / "lib"), "-lc", "-lzircon", "-o", str(exe)], check=True, capture_output=True)
    r = run(driver, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)
    assert r["return_code"] == 9, r
    assert (r["pid_gone"] or not r["pid_positive"]) and r["table_after"] == 0
    (build_dir / "libfoo.so").rename(build_dir / "libfoo.so.away")
    r = run(driver, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)
    assert r["return_code"] == 127, r
    assert "libfoo.so" in r["output"], r["output"]
    assert (r["pid_gone"] or not r["pid_positive"]) and r["table_after"] == 0


def test_sub_vmars_and_dynamic_start_under_asan(driver_asan: Path, programs: dict[str, Path], interp_exe: Path,
                                                 standin: Path) -> None:
    assert run(driver_asan, "exit", programs["SUBVMAR"], standin)["return_code"] == 0
    check_ldso(run(driver_asan, "interp", interp_exe, programs["LDSO"], standin))


def test_sdk_ld_so_under_asan(driver_asan: Path, build_dir: Path) -> None:
    sdk = real_sdk_2021()
    exe = _sdk_program(build_dir, "sdk_main7", MAIN_7)
    assert run(driver_asan, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)["return_code"] == 7


MAIN_THREADS = r"""
#include <pthread.h>
static int counter;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *work(void *arg) {
    for (int i = 0; i < 200; i++) { pthread_mutex_lock(&m); counter++; pthread_mutex_unlock(&m); }
    return arg;
}
int main(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++) if (pthread_create(&t[i], NULL, work, (void *)i) != 0) return 100;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    return counter == 600 ? 4 : 101;
}
"""


def test_sdk_threads_under_tsan(driver_tsan: Path, build_dir: Path) -> None:
    """The SDK's libc threads (thread_create/start, futexes) while the driver's threads and the monitor share the
    kernel, under ThreadSanitizer."""
    sdk = real_sdk_2021()
    exe = _sdk_program(build_dir, "sdk_threads", MAIN_THREADS)
    assert run(driver_tsan, "interp", exe, sdk / REAL_LDSO, sdk / REAL_VDSO)["return_code"] == 4


@pytest.mark.parametrize("mode", ["EXIT", "TICK", "UNSERVED", "MAPS", "VMO", "VMAR", "HANDLES"])
def test_real_2021_vdso(driver: Path, programs: dict[str, Path], mode: str) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    assert vdso.is_file(), f"{vdso} is missing"
    if mode == "MAPS":
        check_address_space(run(driver, "maps", programs["TICK"], vdso))
    elif mode == "VMO":
        r = run(driver, "exit", programs[mode], vdso)
        assert r["return_code"] == 0 and r["output"] == "VMOs as Zircon has them\n"
    elif mode == "VMAR":
        r = run(driver, "vmar", programs[mode], vdso)
        assert r["return_code"] == 0 and r["output"].endswith("mapped VMOs as Zircon does\n")
    elif mode == "HANDLES":
        check_handles(run(driver, "handles", programs[mode], vdso, programs["TICK"]))
        check_blockkill(run(driver, "blockkill", programs[mode], vdso))
        check_exitrelease(run(driver, "exitrelease", programs[mode], vdso))
        check_vmroot(run(driver, "vmroot", programs[mode], vdso))
    elif mode == "TICK":
        r = run(driver, "tick", programs[mode], vdso)
        assert r["held0"] == r["held1"] and r["resumed"] > r["held1"]
        assert r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL and r["pid_gone"]
    elif mode == "EXIT":
        r = run(driver, "exit", programs[mode], vdso)
        assert r["return_code"] == 42
        assert r["output"] == "hello from a Fuchsia program\nslept, exiting with 42\n"
    else:
        r = run(driver, "exit", programs[mode], vdso)
        assert r["return_code"] == ZX_ERR_NOT_SUPPORTED and unserved(r) == {"system_get_event": 1}


# ------------------------------------------------------------------------------------------ futexes

ZX_THREAD_STATE_SUSPENDED = 0x0002


def check_futex(r: dict[str, Any]) -> None:
    """FL_FUTEX: Zircon's futex errors in order, deadlines, and a wait suspended past its deadline."""
    assert r["lines_before"] == 1 and r["suspend"] == 0 and r["suspended"] == 0, r
    assert r["suspended_state"] == ZX_THREAD_STATE_SUSPENDED, r
    assert r["lines_held"] == 1, "the futex wait ended while its thread was suspended"
    assert r["close"] == 0 and r["wait"] == 0 and r["terminated"], r
    assert r["return_code"] == 0, f"check {r['return_code']} of fuchsia_first_light.c FL_FUTEX failed"
    assert r["output"] == "waiting\ntimed out\n"
    assert unserved(r) == {}


def test_futex_wait_and_wake(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_futex(run(driver, "futex", programs["FUTEX"], standin))


def test_futex_under_asan(driver_asan: Path, programs: dict[str, Path], standin: Path) -> None:
    check_futex(run(driver_asan, "futex", programs["FUTEX"], standin))


def test_futex_real_2021_vdso(driver: Path, programs: dict[str, Path]) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    assert vdso.is_file(), f"{vdso} is missing"
    check_futex(run(driver, "futex", programs["FUTEX"], vdso))


# ------------------------------------------------------------------------------------------ threads

ZX_THREAD_STATE_DEAD = 0x0005


def check_threads(r: dict[str, Any]) -> None:
    """FL_THREADS: a second thread made and started by the program, futex hand-overs, fs bases, thread_exit; the
    host suspends the worker alone, then kills the process."""
    assert r["done"], f"the program did not finish its hand-overs: {r['output'][-300:]!r} (rc {r['return_code']})"
    assert r["threads"] == 2 and r["tasks"] == 2, r  # the exiter is gone, as a thread and as a Linux task
    assert r["name"] == "worker"
    assert r["suspend"] == 0 and r["suspended"] == 0, r
    assert r["w1"] == r["w0"], "the suspended worker went on"
    assert r["m1"] > r["m0"], "the first thread stopped with the worker"
    assert r["main_state"] != ZX_THREAD_STATE_DEAD
    assert r["close"] == 0 and r["w2"] > r["w1"], "the worker did not go on after its resume"
    assert r["kill"] == 0 and r["wait"] == 0 and r["terminated"] and r["info"] == 0, r
    assert r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL
    assert r["main_after"] == ZX_THREAD_STATE_DEAD and r["worker_after"] == ZX_THREAD_STATE_DEAD
    assert r["pid_gone"]
    assert unserved(r) == {}


def test_threads_futex_handover_suspend_kill(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_threads(run(driver, "threads", programs["THREADS"], standin))


def test_threads_under_asan(driver_asan: Path, programs: dict[str, Path], standin: Path) -> None:
    check_threads(run(driver_asan, "threads", programs["THREADS"], standin))


def test_threads_under_tsan(driver_tsan: Path, programs: dict[str, Path], standin: Path) -> None:
    check_threads(run(driver_tsan, "threads", programs["THREADS"], standin))


def test_threads_real_2021_vdso(driver: Path, programs: dict[str, Path]) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    assert vdso.is_file(), f"{vdso} is missing"
    check_threads(run(driver, "threads", programs["THREADS"], vdso))


# ------------------------------------------------------------------------------------------ stdio, channel_call, loader

ZX_THREAD_STATE_BLOCKED_CHANNEL = 0x0503
BIG_WRITE = 300000  # FL_STDIO's write larger than a socket holds (MBufChain's 257024 bytes)


def check_stdio_write(r: dict[str, Any]) -> None:
    """FL_STDIO "write" (tests/helpers/fuchsia_run.c, mode stdio): the PA_FD sockets reach the host's pipes."""
    assert r["return_code"] == 0, r["output"]
    assert r["output"] == "stdio done\n"
    head = "hello from fd 1\nsocket rules hold\nstdin said: line one\nline two\n"
    assert r["stdout"].startswith(head + "abcdefghij")
    # Every byte is in the pipe by the time the program is reported dead, the large write's last line included.
    assert r["stdout_total"] == len(head) + BIG_WRITE
    assert r["stdout_tail"].endswith("k\n")
    assert r["stderr"] == "hello from fd 2\n"
    # The three pumps ran while it did and are gone once it is dead; nothing is left in its table.
    assert r["threads_running"] >= r["threads_before"] + 3
    assert r["threads_after"] <= r["threads_before"] + 1  # the spawn backend's monitor stays
    assert r["table_after"] == 0


def check_loader(r: dict[str, Any]) -> None:
    assert r["return_code"] == 0, r["output"]
    assert r["output"] == "loaded libzircon.so\nnot found as expected\nclone served\nmalformed closes\n"
    assert r["threads_final"] <= r["threads_before"]  # the loader's connection threads are joined


def check_callsuspend(r: dict[str, Any]) -> None:
    assert r["calling"] and r["blocked_state"] == ZX_THREAD_STATE_BLOCKED_CHANNEL
    assert r["suspend"] == 0 and r["suspended"] == 0
    # The request arrived with a kernel txid (high bit), the reply went back while the program was suspended, and
    # it returned only after the resume.
    assert r["read"] == 0 and r["request"].endswith("ping") and r["txid_kernel_bit"] and r["write"] == 0
    assert not r["replied_while_suspended"]
    assert r["close"] == 0 and r["replied"] and r["return_code"] == 0
    assert r["output"] == "calling\nreplied pong\n"


def check_callkill(r: dict[str, Any]) -> None:
    assert r["calling"] and r["blocked_state"] == ZX_THREAD_STATE_BLOCKED_CHANNEL
    assert r["kill"] == 0 and r["wait"] == 0 and r["return_code"] == ZX_TASK_RETCODE_SYSCALL_KILL
    # Its stdin pump was waiting for room in a full socket: it ends with the program, not after the 5 s the runner
    # allows a pump still writing to a host fd.
    assert r["stdin_fed"] > 257024 and r["kill_to_dead_ms"] < 4000
    # The call's worker and the pumps are gone with the program.
    assert r["threads_after"] < r["threads_blocked"] and r["threads_after"] <= r["threads_before"] + 1
    assert r["table_after"] == 0


def test_stdio_sockets_reach_the_host(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_stdio_write(run(driver, "stdio", programs["STDIO"], standin, "write"))


def test_loader_service(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_loader(run(driver, "stdio", programs["STDIO"], standin, "loader"))


def test_channel_call_suspended_keeps_its_reply(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_callsuspend(run(driver, "stdio", programs["STDIO"], standin, "callsuspend"))


def test_channel_call_killed_leaves_no_worker(driver: Path, programs: dict[str, Path], standin: Path) -> None:
    check_callkill(run(driver, "stdio", programs["STDIO"], standin, "callkill"))


def test_stdio_under_asan(driver_asan: Path, programs: dict[str, Path], standin: Path) -> None:
    for scenario, check in (("write", check_stdio_write), ("loader", check_loader),
                            ("callsuspend", check_callsuspend), ("callkill", check_callkill)):
        check(run(driver_asan, "stdio", programs["STDIO"], standin, scenario))


def test_stdio_under_tsan(driver_tsan: Path, programs: dict[str, Path], standin: Path) -> None:
    """The pumps, the loader's threads, the call's worker, the monitor and the driver share the kernel."""
    for scenario, check in (("write", check_stdio_write), ("loader", check_loader),
                            ("callsuspend", check_callsuspend), ("callkill", check_callkill)):
        check(run(driver_tsan, "stdio", programs["STDIO"], standin, scenario))


def test_stdio_real_2021_vdso(driver: Path, programs: dict[str, Path]) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    assert vdso.is_file(), f"{vdso} is missing"
    check_stdio_write(run(driver, "stdio", programs["STDIO"], vdso, "write"))
    check_loader(run(driver, "stdio", programs["STDIO"], vdso, "loader"))
    r = run(driver, "stdio", programs["STDIO"], vdso, "loaderfdio")
    assert r["return_code"] == 0 and r["output"] == "loaded libfdio.so\n"
    check_callsuspend(run(driver, "stdio", programs["STDIO"], vdso, "callsuspend"))
    check_callkill(run(driver, "stdio", programs["STDIO"], vdso, "callkill"))
