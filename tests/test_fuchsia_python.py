"""Fuchsia programs from Python: ``Job.spawn_fuchsia`` and the runner compiled into the host module
(docs/fuchsia-elf.md, "From Python").

The freestanding test programs of tests/test_fuchsia_first_light.py (tests/helpers/fuchsia_first_light.c) run with
the stand-in vDSO (fuchsia_tools/standin_vdso.py), and with the real January 2021 vDSO when ``ZXPY_SDK_2021``
names that SDK.  Needs clang and ld.lld for the Fuchsia target (skipped without them, failed under CI=true).
"""

from __future__ import annotations

import os
import platform
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import STILL, child_pids, handle_count, wait_until
from vintage import fuchsia_clang, real_sdk_2021

import zxpy
from fuchsia_tools import standin_vdso
from zxpy import Job, NotFoundError, NotSupportedError, ThreadState

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"),
                                reason="the runner runs x86-64 Fuchsia images on x86-64 Linux")

PROGRAM = Path(__file__).parent / "helpers" / "fuchsia_first_light.c"
PA_USER0 = 0xF0  # <zircon/processargs.h> PA_HND(PA_USER0, 0)
PA_LDSVC_LOADER = 0x10  # <zircon/processargs.h>
REAL_VDSO = Path("arch/x64/sysroot/lib/libzircon.so")
FLAGS = ("-fuse-ld=lld", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fPIE", "-Wl,-pie", "-fno-stack-protector",
         "-fno-sanitize=safe-stack", "-O2", "-Wall", "-Wextra", "-Werror", "-e", "_start")


def _compile(clang: str, out: Path, mode: str, *link: str) -> Path:
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", *FLAGS, *link, f"-DFL_{mode}", "-o", str(out),
                    str(PROGRAM)], check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The static images (no PT_INTERP, as the runner starts them), and "INTERP": the EXIT program linked with
    PT_INTERP ld.so.1, as a dynamically linked Fuchsia executable is."""
    assert zxpy.fuchsia.AVAILABLE, "the x86-64 Linux host module must carry the Fuchsia runner"
    clang = fuchsia_clang()
    out = tmp_path_factory.mktemp("fuchsia_python")
    progs = {mode: _compile(clang, out / f"fl_{mode.lower()}", mode, "-Wl,--no-dynamic-linker")
             for mode in ("EXIT", "TICK", "UNSERVED", "HANDLES", "COST", "STDIO", "LDSO", "PORTS", "INT3")}
    progs["INTERP"] = _compile(clang, out / "fl_interp", "EXIT", "-Wl,--dynamic-linker=ld.so.1")
    standin_vdso.build(out / "standin", clang=clang)
    progs["VDSO"] = out / "standin" / "libzircon.so"
    return progs


@pytest.fixture
def job() -> Iterator[Job]:
    job = Job.default().create_job()
    yield job
    job.kill()
    job.close()


def _read(stream: object, seconds: float) -> bytes:
    """What arrives on the pipe ``stream`` within ``seconds`` (or until EOF)."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    data = b""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def _ticks(text: bytes) -> list[int]:
    return [int(line.split()[1]) for line in text.decode().splitlines() if line.startswith("tick ")]


def test_exit_42_with_output_and_return_code(job: Job, programs: dict[str, Path]) -> None:
    proc = job.spawn_fuchsia(programs["EXIT"], vdso=programs["VDSO"], stderr=zxpy.PIPE, name="fx-exit")
    assert isinstance(proc, zxpy.Process) and proc.koid in job.processes()
    assert proc.wait(timeout=30) == 42
    assert proc.stderr is not None
    with proc.stderr:
        assert _read(proc.stderr, 10) == b"hello from a Fuchsia program\nslept, exiting with 42\n"
    info = proc.info()
    assert info.exited and info.return_code == 42
    wait_until(lambda: not child_pids("fx-exit"), what="the program's Linux process to go")


def test_jobs_processes_ports_and_concurrent_blocking_waits(job: Job, programs: dict[str, Path]) -> None:
    """FL_PORTS: the program makes a job, an unstarted process and a thread in it, ports and a wait_async signal
    packet, timers (each call's errors in Zircon's order), suspends its own thread blocked in zx_port_wait while a
    packet waits for it (untaken until the resume), ends two threads' zx_object_wait_one in the other order they
    began; then exits 0 with a thread still blocked in zx_port_wait, which must not hold its end back."""
    before = handle_count()
    proc = job.spawn_fuchsia(programs["PORTS"], vdso=programs["VDSO"], stderr=zxpy.PIPE, name="fx-ports")
    assert proc.wait(timeout=60) == 0, "a check of fuchsia_first_light.c FL_PORTS failed (100 + its line)"
    assert proc.stderr is not None
    with proc.stderr:
        assert _read(proc.stderr, 10).decode().splitlines() == [
            "jobs and processes ok", "ports ok", "timers ok", "suspended port_wait ok", "concurrent waits ok",
            "exiting with a waiter blocked"]
    assert zxpy.fuchsia.unserved().keys() <= {"debuglog_create"}
    assert job.children() == [] and job.processes() == []  # the child job died with its last handle
    proc.close()
    wait_until(lambda: not child_pids("fx-ports"), what="the program's Linux process to go")
    assert handle_count() == before


def test_breakpoint_reaches_the_debugger_channel_and_handled_resumes(job: Job, programs: dict[str, Path]) -> None:
    """A Fuchsia program's int3 is a ZX_EXCP_SW_BREAKPOINT on its process's debugger channel, its thread
    BLOCKED_EXCEPTION meanwhile; HANDLED resumes it after the breakpoint (FL_INT3 then exits 7).  A second run with
    the exception passed on (TRY_NEXT, no other handler) dies with ZX_TASK_RETCODE_EXCEPTION_KILL."""
    for resume in (True, False):
        go = zxpy.Event.create()
        proc = job.spawn_fuchsia(programs["INT3"], vdso=programs["VDSO"], stderr=zxpy.PIPE, name="fx-int3",
                                 handles={PA_USER0: go.duplicate()})
        with go, proc, proc.exception_channel(debugger=True) as ch:
            go.signal(0, zxpy.Signals.USER_SIGNAL_0)
            with ch.receive(timeout=30) as exc:
                assert exc.type == zxpy.ExceptionType.SW_BREAKPOINT
                assert exc.pid == proc.koid
                assert exc.thread.info().state == ThreadState.BLOCKED_EXCEPTION
                exc.handle() if resume else exc.try_next()
            assert proc.wait(timeout=30) == (7 if resume else zxpy.TASK_RETCODE_EXCEPTION_KILL)
            assert proc.stderr is not None
            with proc.stderr:
                want = b"breakpoint\nresumed after the breakpoint\n" if resume else b"breakpoint\n"
                assert _read(proc.stderr, 10) == want


def test_args_env_and_handles_reach_the_program(job: Job, programs: dict[str, Path]) -> None:
    """The processargs message carries argv (``[name, *args]``), environ and the handles given: FL_HANDLES checks
    argv[0] == "handles", environ == ["ZXPY_TEST=1"] and a PA_USER0 handle (a failed check exits with 100 + its
    line), and argv[1] = "exit" makes it duplicate that event and exit with 5 holding both."""
    before = handle_count()
    event = zxpy.Event.create()
    mine = event.duplicate()
    proc = job.spawn_fuchsia(programs["HANDLES"], ["exit"], vdso=programs["VDSO"], name="handles",
                             env={"ZXPY_TEST": "1"}, handles={PA_USER0: event}, stderr=zxpy.PIPE)
    assert event.closed  # transferred
    assert proc.wait(timeout=30) == 5
    assert proc.stderr is not None
    with proc.stderr:
        assert _read(proc.stderr, 10) == b"exiting\n"
    proc.close()
    mine.close()
    assert handle_count() == before


def _suspend_holds_ticks_and_kill_ends_it(job: Job, proc: zxpy.FuchsiaProcess, name: str) -> None:
    """A program printing "tick N" lines to ``stderr`` prints none while a process token holds it (its thread
    SUSPENDED), the next tick once the token is closed, and dies with -1024 at its job's kill, its Linux process
    gone; every wrapper made here is closed."""
    assert proc.stderr is not None
    seen = b""
    end = time.monotonic() + 30
    while len(_ticks(seen)) < 3 and time.monotonic() < end:
        seen += _read(proc.stderr, 0.2)
    assert len(_ticks(seen)) >= 3, seen
    [pid] = child_pids(name)
    token = proc.suspend()
    [thread_koid] = proc.threads()
    with proc.child(thread_koid) as thread:
        wait_until(lambda: thread.info().state == ThreadState.SUSPENDED, what="the thread to be suspended")
    seen += _read(proc.stderr, 0.1)  # a line written before the suspend took hold
    held = _read(proc.stderr, STILL * 2)
    assert held == b"", f"ticks went on while the process was suspended: {held!r}"
    token.close()
    resumed = _read(proc.stderr, 1.0)
    assert _ticks(resumed) and _ticks(resumed)[0] == _ticks(seen)[-1] + 1, (seen, resumed)
    job.kill()
    assert proc.wait(timeout=30) == zxpy.TASK_RETCODE_SYSCALL_KILL
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or pid not in child_pids(), what="the pid to go")
    assert not child_pids(name)
    proc.stderr.close()
    proc.close()


def test_suspend_stops_it_and_job_kill_ends_it(job: Job, programs: dict[str, Path]) -> None:
    before = handle_count()
    proc = job.spawn_fuchsia(programs["TICK"], vdso=programs["VDSO"], stderr=zxpy.PIPE, name="fx-tick")
    _suspend_holds_ticks_and_kill_ends_it(job, proc, "fx-tick")
    assert job.info().exited
    assert handle_count() == before


def test_unserved_calls_are_counted(job: Job, programs: dict[str, Path]) -> None:
    before = zxpy.fuchsia_unserved().get("system_get_event", 0)
    proc = job.spawn_fuchsia(programs["UNSERVED"], vdso=programs["VDSO"])
    assert proc.wait(timeout=30) == zxpy.Status.ERR_NOT_SUPPORTED
    assert zxpy.fuchsia_unserved()["system_get_event"] == before + 1


def test_output_to_a_file_and_vdso_from_sysroot(job: Job, programs: dict[str, Path], tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib").mkdir(parents=True)
    (sysroot / "lib" / "libzircon.so").symlink_to(programs["VDSO"])
    out = tmp_path / "out.txt"
    with out.open("wb") as f:
        proc = job.spawn_fuchsia(programs["EXIT"], sysroot=sysroot, stderr=f)
        assert proc.stderr is None
        assert proc.wait(timeout=30) == 42
    wait_until(lambda: out.read_bytes().endswith(b"exiting with 42\n"), what="the output in the file")


def _no_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "no_sdk.cfg"
    cfg.write_text("[sdk]\npath =\n")
    monkeypatch.setenv("ZXPY_SDK_CFG", str(cfg))


def test_job_spawn_refuses_a_dynamically_linked_fuchsia_elf_without_an_sdk(
        job: Job, programs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no SDK configured there is no dynamic linker to start a PT_INTERP executable with: Job.spawn says so
    (and how to give one), and spawn_fuchsia without ldso= or sysroot= raises ValueError."""
    _no_sdk(tmp_path, monkeypatch)
    before = handle_count()
    with pytest.raises(NotSupportedError) as info:
        job.spawn([programs["INTERP"]])
    text = str(info.value)
    assert "ld.so.1" in text and "fuchsia_sdk.cfg" in text and "sysroot=" in text, text
    with pytest.raises(ValueError, match="no dynamic linker: pass ldso="):
        job.spawn_fuchsia(programs["INTERP"], vdso=programs["VDSO"])
    assert job.processes() == [] and handle_count() == before
    # A Linux program still runs.
    proc = job.spawn(["/bin/true"])
    assert proc.wait(timeout=30) == 0
    proc.close()


def test_spawn_fuchsia_starts_a_pt_interp_executable_through_its_dynamic_linker(
        job: Job, programs: dict[str, Path]) -> None:
    """A PT_INTERP executable with ldso= (here FL_LDSO, a stand-in dynamic linker that checks what it gets): the
    dynamic linker's message (PA_VMO_EXECUTABLE, PA_VMAR_LOADED, argv) then the program's; exit 0 or the failed
    check's number.  Its handles go with it."""
    before = handle_count()
    proc = job.spawn_fuchsia(programs["INTERP"], ["one", "two"], name="ldprog", vdso=programs["VDSO"],
                             ldso=programs["LDSO"], stderr=zxpy.PIPE)
    assert proc.stderr is not None
    with proc, proc.stderr:
        code = proc.wait(timeout=30)
        assert code == 0, f"check {code} of fuchsia_first_light.c FL_LDSO failed"
        assert _read(proc.stderr, 10) == b"a dynamic linker's start\n"
    assert handle_count() == before
    # The loader service seam: a handle tagged PA_LDSVC_LOADER goes to the dynamic linker's message (FL_LDSO checks
    # it is there, and not in the program's), and with the program's table when it ends.
    ours, theirs = zxpy.Channel.create()
    proc = job.spawn_fuchsia(programs["INTERP"], ["loader", "two"], name="ldprog", vdso=programs["VDSO"],
                             ldso=programs["LDSO"], handles={PA_LDSVC_LOADER: theirs})
    with proc, ours:
        code = proc.wait(timeout=30)
        assert code == 0, f"check {code} of fuchsia_first_light.c FL_LDSO failed"
        wait_until(lambda: handle_count() == before + 2, what="the program's handles to go")  # proc, ours
        with pytest.raises(zxpy.errors.PeerClosedError):
            ours.read()
    # Job.spawn with sysroot= (a sysroot whose dist/lib/ld.so.1 is FL_LDSO and lib/libzircon.so the stand-in).
    sysroot = programs["LDSO"].parent / "ldso_sysroot"
    (sysroot / "dist" / "lib").mkdir(parents=True, exist_ok=True)
    (sysroot / "lib").mkdir(exist_ok=True)
    for link, target in ((sysroot / "dist" / "lib" / "ld.so.1", programs["LDSO"]),
                         (sysroot / "lib" / "libzircon.so", programs["VDSO"])):
        if not link.exists():
            link.symlink_to(target)
    proc = job.spawn(["ldprog", "one", "two"], path=programs["INTERP"], sysroot=sysroot)
    with proc:
        code = proc.wait(timeout=30)
        assert code == 0, f"check {code} of fuchsia_first_light.c FL_LDSO failed"
    # A missing dynamic linker is NotFoundError naming it; nothing is left behind.
    with pytest.raises(NotFoundError, match="ldso"):
        job.spawn_fuchsia(programs["INTERP"], vdso=programs["VDSO"], ldso=programs["LDSO"].with_name("nope"))
    assert handle_count() == before


NOT_AN_IMAGE = (NotSupportedError, zxpy.errors.IoError)  # runner.h: IO for a file too short to be one


def _bad_cases(programs: dict[str, Path], tmp: Path) -> list[tuple[dict[str, object], object, str]]:
    text = tmp / "not-elf"
    text.write_text("#!/bin/sh\necho not an ELF\n")
    vdso = programs["VDSO"]
    return [
        ({"image": tmp / "missing", "vdso": vdso}, NotFoundError, "missing"),
        ({"image": text, "vdso": vdso}, NOT_AN_IMAGE, "not-elf"),
        ({"image": programs["EXIT"], "vdso": tmp / "nope.so"}, NotFoundError, "nope.so"),
        ({"image": programs["EXIT"], "vdso": text}, NOT_AN_IMAGE, "not-elf"),
        ({"image": programs["EXIT"], "vdso": Path("/etc/hostname")}, NOT_AN_IMAGE, "hostname"),
        ({"image": programs["EXIT"], "vdso": programs["TICK"]}, NotSupportedError, r"\]: \S+fl_tick: a vDSO"),
        ({"image": programs["EXIT"], "vdso": vdso, "args": "x"}, TypeError, "sequence"),
        ({"image": programs["EXIT"], "vdso": vdso, "stderr": "x"}, TypeError, "stderr"),
        ({"image": programs["EXIT"], "vdso": vdso, "stderr": -5}, ValueError, "stderr"),
        ({"image": programs["EXIT"], "vdso": vdso, "stdout": 1.5}, TypeError, "stdout"),
        ({"image": programs["EXIT"], "vdso": vdso, "stdin": 1 << 40}, ValueError, "stdin"),
        ({"image": programs["EXIT"], "vdso": vdso, "env": {"A=B": "c"}}, ValueError, "A=B"),
        ({"image": b"a\0b", "vdso": vdso}, ValueError, "NUL"),
        # A PT_INTERP executable: its dynamic linker missing, not ELF, or itself a PT_INTERP executable.
        ({"image": programs["INTERP"], "vdso": vdso, "ldso": tmp / "no-ld.so"}, NotFoundError, "no-ld.so"),
        ({"image": programs["INTERP"], "vdso": vdso, "ldso": text}, NOT_AN_IMAGE, "not-elf"),
        ({"image": programs["INTERP"], "vdso": vdso, "ldso": programs["INTERP"]}, NotSupportedError,
         "fl_interp has PT_INTERP"),
    ]


def test_bad_input_raises_and_leaks_nothing(job: Job, programs: dict[str, Path], tmp_path: Path) -> None:
    fds = set(os.listdir("/proc/self/fd"))
    before = handle_count()
    for kwargs, error, part in _bad_cases(programs, tmp_path):
        kwargs = dict(kwargs)
        image = kwargs.pop("image")
        with pytest.raises(error, match=part):  # type: ignore[call-overload]
            job.spawn_fuchsia(image, **kwargs)  # type: ignore[arg-type]
        if not {"stdin", "stdout", "stderr"} & kwargs.keys():  # and with pipes, whose ends must not stay open
            with pytest.raises(error, match=part):  # type: ignore[call-overload]
                job.spawn_fuchsia(image, stdin=zxpy.PIPE, stdout=zxpy.PIPE, stderr=zxpy.PIPE,
                                  **kwargs)  # type: ignore[arg-type]
    assert job.processes() == [] and handle_count() == before
    assert set(os.listdir("/proc/self/fd")) <= fds | {str(f) for f in range(3)}
    assert not child_pids("fl_exit")


def test_no_vdso_configured_is_a_clear_error(job: Job, programs: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "fuchsia_sdk.cfg"
    cfg.write_text("[sdk]\npath =\n")
    monkeypatch.setenv("ZXPY_SDK_CFG", str(cfg))
    with pytest.raises(ValueError, match="no vDSO: pass vdso="):
        job.spawn_fuchsia(programs["EXIT"])


def test_without_fuchsia_tools_the_sdk_of_the_build_stands_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed wheel has no fuchsia_tools to read fuchsia_sdk.cfg: the real SDK the module was built against
    (zxpy.buildinfo.sdk) gives the vDSO and dynamic linker; with none, the ValueError says so."""
    monkeypatch.setitem(sys.modules, "fuchsia_tools", None)  # import fails, as in a wheel install
    monkeypatch.setitem(sys.modules, "fuchsia_tools.sdkconfig", None)
    sysroot = tmp_path / "sdk" / "arch" / "x64" / "sysroot"
    sysroot.mkdir(parents=True)
    built = {"path": str(tmp_path / "sdk"), "stand_in": False, "target": "host"}
    monkeypatch.setattr(zxpy.buildinfo, "sdk", built)
    assert zxpy.fuchsia.find_vdso() == sysroot / "lib" / "libzircon.so"
    assert zxpy.fuchsia.find_ldso() == sysroot / "dist" / "lib" / "ld.so.1"
    monkeypatch.setattr(zxpy.buildinfo, "sdk", {**built, "path": None})
    with pytest.raises(ValueError, match="built against no Fuchsia SDK"):
        zxpy.fuchsia.find_vdso()


def test_killed_job_refuses_with_bad_state(job: Job, programs: dict[str, Path]) -> None:
    job.kill()
    with pytest.raises(zxpy.BadStateError):
        job.spawn_fuchsia(programs["EXIT"], vdso=programs["VDSO"])


def test_cost_program_makes_thousands_of_served_calls(job: Job, programs: dict[str, Path]) -> None:
    """FL_COST (benchmarks/fuchsia_syscall_cost.py) makes 10,000 calls of each of four served syscalls, each of
    which must succeed, and reports a cost per call for each; the duplicates it closes leave nothing behind."""
    before = zxpy.fuchsia_unserved()
    proc = job.spawn_fuchsia(programs["COST"], vdso=programs["VDSO"], stderr=zxpy.PIPE, name="fx-cost")
    assert proc.stderr is not None
    with proc, proc.stderr:
        assert proc.wait(timeout=120) == 0
        lines = _read(proc.stderr, 10).decode().splitlines()
    names = [line.split()[1] for line in lines]
    assert names == ["handle_close(ZX_HANDLE_INVALID)", "object_signal(event,0,0)", "object_get_info(HANDLE_BASIC)",
                     "handle_duplicate+handle_close"], lines
    assert all(int(line.split()[2]) > 0 for line in lines), lines
    assert zxpy.fuchsia_unserved() == before


def test_stdio_is_sockets_to_the_callers_fds(job: Job, programs: dict[str, Path], tmp_path: Path) -> None:
    """FL_STDIO "write" writes to its PA_FD sockets for fds 1 and 2 and reads fd 0 to its end: the runner pumps them
    from and to the caller's fd 0, fd 1 and ``stderr``, and every byte is there once ``wait`` returns."""
    out_path = tmp_path / "stdout"
    r, w = os.pipe()
    os.write(w, b"typed\n")
    os.close(w)
    saved = (os.dup(0), os.dup(1))
    try:
        with out_path.open("wb") as out:
            os.dup2(r, 0)
            os.dup2(out.fileno(), 1)
            proc = job.spawn_fuchsia(programs["STDIO"], ["write"], vdso=programs["VDSO"], stderr=zxpy.PIPE,
                                     name="stdio")
    finally:
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        for fd in (*saved, r):
            os.close(fd)
    assert proc.stderr is not None
    with proc, proc.stderr:
        assert proc.wait(timeout=60) == 0
        err = _read(proc.stderr, 10)
    head = b"hello from fd 1\nsocket rules hold\nstdin said: typed\n"
    text = out_path.read_bytes()
    assert text.startswith(head) and len(text) == len(head) + 300000 and text.endswith(b"k\n")
    # fd 2's socket and zx_debug_write both reach stderr (from the pump and from the monitor).
    assert sorted(err.splitlines()) == [b"hello from fd 2", b"stdio done"]
    wait_until(lambda: not child_pids("stdio"), what="the program's Linux process to go")


def test_stdio_pipes(job: Job, programs: dict[str, Path]) -> None:
    """stdin=, stdout= and stderr=PIPE: the caller writes the program's fd 0 through ``proc.stdin`` and reads its
    fds 1 and 2 from ``proc.stdout``/``proc.stderr`` while it runs (FL_STDIO "write": a line to each, stdin echoed,
    then 300000 bytes to fd 1); every pipe end is the caller's to close, and none is left open."""
    fds = set(os.listdir("/proc/self/fd"))
    proc = job.spawn_fuchsia(programs["STDIO"], ["write"], vdso=programs["VDSO"], stdin=zxpy.PIPE,
                             stdout=zxpy.PIPE, stderr=zxpy.PIPE, name="stdio-pipes")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with proc, proc.stdin, proc.stdout, proc.stderr:
        proc.stdin.write(b"typed\n")
        proc.stdin.close()
        out = b""
        while chunk := os.read(proc.stdout.fileno(), 65536):  # EOF once the program and its pump are done
            out += chunk
        assert proc.wait(timeout=60) == 0
        err = _read(proc.stderr, 10)
    head = b"hello from fd 1\nsocket rules hold\nstdin said: typed\n"
    assert out.startswith(head) and len(out) == len(head) + 300000 and out.endswith(b"k\n"), out[:200]
    assert sorted(err.splitlines()) == [b"hello from fd 2", b"stdio done"]
    wait_until(lambda: not child_pids("stdio-pipes"), what="the program's Linux process to go")
    assert set(os.listdir("/proc/self/fd")) <= fds


def test_a_closed_stdio_fd_is_left_out(job: Job, programs: dict[str, Path]) -> None:
    """A caller without fd 0 still spawns: that fd gets no PA_FD handle (fdio_spawn skips an fd it cannot clone)."""
    r, w = os.pipe()
    saved = os.dup(0)
    os.close(0)
    try:
        proc = job.spawn_fuchsia(programs["EXIT"], vdso=programs["VDSO"], stderr=w)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(w)
    with proc, os.fdopen(r, "rb") as err:
        assert proc.wait(timeout=30) == 42
        assert _read(err, 10).endswith(b"exiting with 42\n")


def test_real_2021_vdso(job: Job, programs: dict[str, Path]) -> None:
    vdso = real_sdk_2021() / REAL_VDSO
    assert vdso.is_file(), f"{vdso} is missing"
    proc = job.spawn_fuchsia(programs["EXIT"], vdso=vdso, stderr=zxpy.PIPE)
    assert proc.wait(timeout=30) == 42
    assert proc.stderr is not None
    with proc.stderr:
        assert _read(proc.stderr, 10) == b"hello from a Fuchsia program\nslept, exiting with 42\n"
    # The real vDSO from its sysroot, as sysroot= finds it.
    proc = job.spawn_fuchsia(programs["UNSERVED"], sysroot=vdso.parent.parent)
    assert proc.wait(timeout=30) == zxpy.Status.ERR_NOT_SUPPORTED


# ------------------------------------------------------------------------------------------ the SDK's ld.so.1

SDK_MAIN_7 = "int main(void) { return 7; }\n"
SDK_ARGS = r"""
#include <stdlib.h>
#include <string.h>
#include <zircon/syscalls.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) { zx_debug_write(argv[i], strlen(argv[i])); zx_debug_write("\n", 1); }
    const char *v = getenv("GREETING");
    if (v != NULL) zx_debug_write(v, strlen(v));
    return argc;
}
"""
SDK_TICK = r"""
#include <stdio.h>
#include <string.h>
#include <zircon/syscalls.h>
int main(void) {
    char line[32];
    for (unsigned n = 0;; n++) {
        int len = snprintf(line, sizeof line, "tick %u\n", n);
        zx_debug_write(line, (size_t)len);
        zx_nanosleep(zx_deadline_after(ZX_MSEC(10)));
    }
}
"""

SDK_THREADS = r"""
#include <pthread.h>
#include <zircon/syscalls.h>
static int counter;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static __thread int tls_value = 5;
static void *work(void *arg) {
    for (int i = 0; i < 1000; i++) { pthread_mutex_lock(&m); counter++; pthread_mutex_unlock(&m); }
    tls_value += (int)(long)arg;
    return (void *)(long)tls_value;
}
int main(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) if (pthread_create(&t[i], NULL, work, (void *)i) != 0) return 100;
    long sum = 0;
    for (int i = 0; i < 4; i++) { void *r; if (pthread_join(t[i], &r) != 0) return 102; sum += (long)r; }
    zx_debug_write("joined\n", 7);
    return counter == 4000 && sum == 26 && tls_value == 5 ? 3 : 101;
}
"""


@pytest.fixture(scope="module")
def sdk_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """C programs built against the real 2021 SDK as the SDK builds executables (Scrt1.o, -lc -lzircon, PT_INTERP
    ld.so.1).  Skipped without ``ZXPY_SDK_2021``."""
    sysroot = real_sdk_2021() / "arch/x64/sysroot"
    clang = fuchsia_clang()
    out = tmp_path_factory.mktemp("sdk_programs")
    progs = {}
    for name, source in (("main7", SDK_MAIN_7), ("args", SDK_ARGS), ("tick", SDK_TICK), ("threads", SDK_THREADS)):
        src = out / f"{name}.c"
        src.write_text(source)
        common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
        subprocess.run([*common, "-c", str(src), "-o", str(out / f"{name}.o")], check=True, capture_output=True)
        subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                        str(sysroot / "lib/Scrt1.o"), str(out / f"{name}.o"), "-L", str(sysroot / "lib"), "-lc",
                        "-lzircon", "-o", str(out / name)], check=True, capture_output=True)
        progs[name] = out / name
    progs["sysroot"] = sysroot
    return progs


def test_sdk_program_returns_7(job: Job, sdk_programs: dict[str, Path]) -> None:
    """The SDK's own ld.so.1 and vDSO (sysroot=) run int main(void){return 7;}: return code 7, no handle, fd or
    process left."""
    fds = set(os.listdir("/proc/self/fd"))
    before = handle_count()
    unserved = zxpy.fuchsia_unserved()
    proc = job.spawn_fuchsia(sdk_programs["main7"], sysroot=sdk_programs["sysroot"])
    with proc:
        assert proc.wait(timeout=30) == 7
        assert proc.info().return_code == 7
    # The only call it made that the runner does not serve: ld.so's debuglog_create, NOT_SUPPORTED accepted.
    grown = {k for k, v in zxpy.fuchsia_unserved().items() if v > unserved.get(k, 0)}
    assert grown == {"debuglog_create"}, grown
    assert handle_count() == before
    # The runner's own fds for it (its duplicate of stderr) go when the monitor has reaped it.
    wait_until(lambda: set(os.listdir("/proc/self/fd")) <= fds, what="the runner's fds for it to be closed")
    assert not child_pids("main7")


def test_sdk_program_gets_argv_and_environ(job: Job, sdk_programs: dict[str, Path]) -> None:
    proc = job.spawn_fuchsia(sdk_programs["args"], ["one", "two"], sysroot=sdk_programs["sysroot"],
                             env={"GREETING": "hello"}, stderr=zxpy.PIPE)
    assert proc.stderr is not None
    with proc, proc.stderr:
        assert proc.wait(timeout=30) == 3
        assert _read(proc.stderr, 10) == b"args\none\ntwo\nhello"


def test_sdk_program_with_threads(job: Job, sdk_programs: dict[str, Path]) -> None:
    """libc's pthreads on the host kernel: four threads (zx_thread_create/start, each with its own TLS through
    ZX_PROP_REGISTER_FS and a stack in sub-VMARs) contend for a mutex (futexes) and are joined; main checks the
    count, the values they returned and its own TLS, and returns 3."""
    before = handle_count()
    proc = job.spawn_fuchsia(sdk_programs["threads"], sysroot=sdk_programs["sysroot"], stderr=zxpy.PIPE)
    assert proc.stderr is not None
    with proc, proc.stderr:
        assert proc.wait(timeout=30) == 3
        assert _read(proc.stderr, 10) == b"joined\n"
    assert handle_count() == before


def test_sdk_program_suspended_and_killed(job: Job, sdk_programs: dict[str, Path]) -> None:
    """A running SDK program (libc's snprintf, zx_nanosleep) stops printing while suspended, goes on once the
    token is closed, and dies with -1024 when its job is killed, leaving no Linux process or handle."""
    before = handle_count()
    proc = job.spawn_fuchsia(sdk_programs["tick"], sysroot=sdk_programs["sysroot"], stderr=zxpy.PIPE,
                             name="sdk-tick")
    _suspend_holds_ticks_and_kill_ends_it(job, proc, "sdk-tick")
    assert handle_count() == before


SDK_PRINTF = r"""
#include <pthread.h>
#include <stdio.h>
static void *work(void *arg) { printf("thread %d\n", (int)(long)arg); return arg; }
int main(int argc, char **argv) {
    printf("main: argc=%d argv0=%s\n", argc, argv[0]);
    fflush(stdout);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, work, (void *)(i + 1));
    long sum = 0;
    for (int i = 0; i < 3; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
    fprintf(stderr, "sum=%ld\n", sum);
    return 3;
}
"""


def test_sdk_printf_and_pthreads_through_libfdio(job: Job, tmp_path: Path) -> None:
    """A program linked with the SDK's libfdio: ld.so.1 loads libfdio.so through the loader service (found in the
    SDK's pkg/fdio), fdio turns the PA_FD sockets into its stdout and stderr, printf from three pthreads and main
    reach the caller's fd 1, fprintf(stderr) reaches ``stderr``, and main's 3 is the return code."""
    sysroot = real_sdk_2021() / "arch/x64/sysroot"
    fdio = real_sdk_2021() / "pkg/fdio"
    clang = fuchsia_clang()
    src = tmp_path / "printf.c"
    src.write_text(SDK_PRINTF)
    exe = tmp_path / "printf"
    common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, "-c", str(src), "-o", f"{exe}.o"], check=True, capture_output=True)
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), f"{exe}.o", "-L", str(sysroot / "lib"), "-L",
                    str(fdio / "arch/x64/lib"), "-lfdio", "-lc", "-lzircon", "-o", str(exe)],
                   check=True, capture_output=True)
    before = handle_count()
    out_path = tmp_path / "stdout"
    saved = os.dup(1)
    try:
        with out_path.open("wb") as out:
            os.dup2(out.fileno(), 1)
            proc = job.spawn_fuchsia(exe, sysroot=sysroot, stderr=zxpy.PIPE, name="sdk-printf")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert proc.stderr is not None
    with proc, proc.stderr:
        assert proc.wait(timeout=60) == 3
        assert _read(proc.stderr, 10) == b"sum=6\n"
    lines = out_path.read_bytes().decode().splitlines()
    assert lines[0] == "main: argc=1 argv0=sdk-printf", lines
    assert sorted(lines[1:]) == ["thread 1", "thread 2", "thread 3"], lines
    # Job.spawn with fds: fd 1 cloned from a pipe of ours (FDIO_SPAWN_ACTION_CLONE_FD) is its stdout's host fd.
    r, w = os.pipe()
    with os.fdopen(r, "rb") as reader:
        try:
            with job.spawn([str(exe), "x"], sysroot=sysroot, fds={1: w}, name="sdk-printf") as proc2:
                os.close(w)
                w = -1
                assert proc2.wait(timeout=60) == 3
            piped = reader.read().decode().splitlines()
        finally:
            if w >= 0:
                os.close(w)
    assert piped[0] == "main: argc=2 argv0=sdk-printf" and len(piped) == 4, piped
    # Without CLONE_STDIO only the fds named are the caller's: fd 2 (its "sum=6") goes to /dev/null, not ours.
    err_path = tmp_path / "stderr"
    r, w = os.pipe()
    saved = os.dup(2)
    try:
        with err_path.open("wb") as err_file, os.fdopen(r, "rb") as reader:
            os.dup2(err_file.fileno(), 2)
            flags = zxpy.SpawnFlags.CLONE_ALL & ~zxpy.SpawnFlags.CLONE_STDIO
            with job.spawn([str(exe)], sysroot=sysroot, fds={1: w}, flags=flags, name="sdk-printf") as proc3:
                os.close(w)
                w = -1
                assert proc3.wait(timeout=60) == 3
            assert len(reader.read().decode().splitlines()) == 4
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        if w >= 0:
            os.close(w)
    assert err_path.read_bytes() == b"", "the program wrote to the caller's fd 2 without CLONE_STDIO"
    with pytest.raises(zxpy.NotSupportedError, match="only fds 0-2"):
        job.spawn([str(exe)], sysroot=sysroot, fds={5: 1})
    # The loader's connection thread closes its server end (a handle of this process's table) once it sees the
    # program's end PEER_CLOSED, which can come just after TERMINATED (docs/fuchsia-elf.md, limits).
    wait_until(lambda: handle_count() == before, what="the loader connection's handle to be closed")
    wait_until(lambda: not child_pids("sdk-printf"), what="the program's Linux process to go")


def test_job_spawn_runs_a_pt_interp_executable_with_the_configured_sdk(
        job: Job, sdk_programs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "fuchsia_sdk.cfg"
    cfg.write_text(f"[sdk]\npath = {real_sdk_2021()}\n")
    monkeypatch.setenv("ZXPY_SDK_CFG", str(cfg))
    proc = job.spawn([sdk_programs["main7"]])
    with proc:
        assert proc.wait(timeout=30) == 7
    proc = job.spawn_fuchsia(sdk_programs["main7"])  # the configured SDK's ld.so.1 and vDSO
    with proc:
        assert proc.wait(timeout=30) == 7
