"""Command line: ``zxpy run``, ``zxpy demo`` and ``zxpy info`` (also ``python -m zxpy``).

``run [--timeout S] [--name N] [--json] -- PROG ARGS`` runs PROG in a fresh
child job of the default job, with the caller's stdin, stdout, stderr,
environment and working directory, and exits with PROG's status.  When the
timeout passes, or zxpy gets SIGINT, SIGTERM or SIGHUP, it kills the job:
PROG and everything it started, daemonized grandchildren included (they stay
in the job whatever they do with sessions and process groups).  When PROG
exits by itself the job is killed too, so nothing it started outlives it.

Exit statuses of ``run`` (the ``EXIT_*`` constants here): PROG's own exit code
(0-255); 137 if PROG was killed (``ZX_TASK_RETCODE_SYSCALL_KILL`` and the
other ``*_KILL`` codes but one: on Linux, any non-fault fatal signal from
outside -- SIGKILL, SIGTERM, SIGHUP alike: the Zircon return code does not
say which); 139 if it crashed (``ZX_TASK_RETCODE_EXCEPTION_KILL``: on Linux
SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP or SIGSYS); 124 on
timeout, as timeout(1); 128+N when zxpy got signal N (130 SIGINT, 143
SIGTERM, 129 SIGHUP); 125 when zxpy itself failed, 126 when PROG could not
be started, 127 when it was not found, 2 on a usage error, 141 when zxpy's
own stdout was a closed pipe.

``demo`` walks through the task-control calls on real tasks: it builds a job
tree, starts a C worker thread that counts, suspends it (the count stops),
resumes it, spawns a real program into the job and freezes and thaws that
too, then kills the job and prints the signals and return codes observed.
It exits 0 only if every effect was observed.

``demo debugger`` is a debugger's view (docs/exceptions.md): a program that
reads through a NULL pointer is caught on a debugger exception channel, which
prints the exception, its fault address and the thread's state, then kills the
program (skipping the faulting instruction needs register writes, a step the
demo takes where ``Thread.write_state`` exists); a program that hits a
breakpoint is resumed as HANDLED and runs on; finally a running thread is
suspended and looked at (its registers and stack where ``Thread.read_state`` /
``Process.read_memory`` exist) and resumed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import (
    TASK_RETCODE_CRITICAL_PROCESS_KILL,
    TASK_RETCODE_EXCEPTION_KILL,
    TASK_RETCODE_OOM_KILL,
    TASK_RETCODE_POLICY_KILL,
    TASK_RETCODE_SYSCALL_KILL,
    TASK_RETCODE_VDSO_KILL,
    ExceptionHandle,
    ExceptionState,
    ExceptionType,
    Job,
    NotFoundError,
    NotSupportedError,
    Process,
    Signals,
    Thread,
    TimedOutError,
    ZxError,
    __version__,
)
from ._demo_fuchsia import demo_fuchsia
from .testing import ProgressWorker

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

#: Bounds for asynchronous effects (not speed goals).
_LONG = 30.0
#: How long a counter is watched to call it running or stopped.
_WATCH = 0.25

_COUNTER_PROGRAM = """\
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
n = 0
while True:
    n += 1
    os.pwrite(fd, b"%20d" % n, 0)
    time.sleep(0.002)
"""


#: The crasher's code, per machine: (code before the faulting load, the load of address 0, the code after it).
#: The load's length is fixed, so a debugger skips it by adding its length to the instruction pointer; the code
#: after it returns 42.
_NULL_CODE = {
    # mov rax, qword ptr [0] (REX.W 8B /r with a SIB of no base and disp32 0: 8 bytes) | mov eax, 42; ret
    "x86_64": (b"", bytes.fromhex("488b042500000000"), bytes.fromhex("b82a000000c3")),
    # mov x0, #0 | ldr x0, [x0] | mov x0, #42; ret
    "aarch64": (bytes.fromhex("000080d2"), bytes.fromhex("000040f9"), bytes.fromhex("400580d2c0035fd6")),
}
_NULL_CODE["AMD64"] = _NULL_CODE["x86_64"]
_NULL_CODE["arm64"] = _NULL_CODE["aarch64"]
#: Where the machine has no fixed code above: ctypes.string_at(0) runs strlen(NULL), a page fault at address 0.
_NULL_PROGRAM_ANY = "import ctypes, sys; sys.stdin.readline(); ctypes.string_at(0); print('still alive')"
#: The exit code the crasher returns when its faulting load was skipped.
SKIPPED_EXIT_CODE = 42
#: A NULL read in a spawned Python: the fixed code above in an executable page, called through ctypes; the program
#: says where its code is and exits with what the code returns (42 when the fault was skipped).
_NULL_PROGRAM = """\
import ctypes, mmap, sys
code = bytes.fromhex(sys.argv[1])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
print(f"  program: code at {addr:#x}..{addr + len(code):#x}", flush=True)
sys.stdin.readline()
sys.exit(ctypes.CFUNCTYPE(ctypes.c_int)(addr)())
"""
#: A breakpoint in a spawned Python (x86-64): int3; ret in an executable page, called through ctypes.
_BREAKPOINT_PROGRAM = """\
import ctypes, mmap, sys
sys.stdin.readline()
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(b"\\xcc\\xc3")
addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
ctypes.CFUNCTYPE(None)(addr)()
print("  program: resumed after the breakpoint", flush=True)
"""


class DemoError(Exception):
    """An effect the demo expected was not observed."""


def _say(text: str = "") -> None:
    print(text, flush=True)


# Zircon reuses signal bits per object type; name them as the object does.
_NAMES: dict[str, tuple[Signals, ...]] = {
    "job": (Signals.JOB_TERMINATED, Signals.JOB_NO_JOBS, Signals.JOB_NO_PROCESSES),
    "process": (Signals.PROCESS_TERMINATED,),
    "thread": (Signals.THREAD_TERMINATED, Signals.THREAD_RUNNING, Signals.THREAD_SUSPENDED),
}
_C_NAMES = {
    "job": ("ZX_JOB_TERMINATED", "ZX_JOB_NO_JOBS", "ZX_JOB_NO_PROCESSES"),
    "process": ("ZX_PROCESS_TERMINATED",),
    "thread": ("ZX_THREAD_TERMINATED", "ZX_THREAD_RUNNING", "ZX_THREAD_SUSPENDED"),
}


def _signals(value: int, kind: str) -> str:
    names = [name for bit, name in zip(_NAMES[kind], _C_NAMES[kind], strict=True) if value & bit]
    return "|".join(names) or "none"


def _watch(read: Callable[[], int], period: float = _WATCH) -> tuple[int, int]:
    before = read()
    time.sleep(period)
    return before, read()


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = _LONG) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _expect_running(read: Callable[[], int], label: str) -> None:
    end = time.monotonic() + _LONG
    while True:
        before, after = _watch(read)
        if after != before:
            _say(f"    {label}: {before} -> {after} in {_WATCH}s: running")
            return
        if time.monotonic() > end:
            raise DemoError(f"{label} made no progress")


def _expect_stopped(read: Callable[[], int], label: str) -> None:
    before, after = _watch(read)
    _say(f"    {label}: {before} -> {after} in {_WATCH}s: {'stopped' if after == before else 'RUNNING'}")
    if after != before:
        raise DemoError(f"{label} kept running while suspended")


def _demo_worker(job: Job) -> None:
    _say(f"progress worker: a C thread of this process (holds no GIL) in process {Process.self().koid}")
    with ProgressWorker(name="demo-progress") as worker:
        thread = worker.thread
        _say(f"  thread koid {thread.koid}, state {thread.info().state!r}")
        _expect_running(lambda: worker.count, "counter")
        with thread.suspend(timeout=_LONG) as token:
            observed = thread.wait_one(Signals.THREAD_SUSPENDED, timeout=0)
            _say(f"  suspended: token koid {token.koid}, observed {_signals(observed, 'thread')},"
                 f" state {thread.info().state!r}")
            _expect_stopped(lambda: worker.count, "counter")
        observed = thread.wait_one(Signals.THREAD_RUNNING, timeout=_LONG)
        _say(f"  resumed (token closed): observed {_signals(observed, 'thread')}")
        _expect_running(lambda: worker.count, "counter")
        worker.stop()
        _say(f"  worker stopped: state {thread.info().state!r}")


def _demo_spawn(job: Job, workdir: str) -> Process | None:
    path = os.path.join(workdir, "counter")
    argv = [sys.executable, "-c", _COUNTER_PROGRAM, path]
    try:
        proc = job.spawn(argv, name="demo-counter")
    except NotSupportedError as err:
        _say(f"spawn: fdio_spawn is not available here ({err}); skipping the program part")
        return None

    def read() -> int:
        try:
            with open(path, "rb") as f:
                text = f.read(20).strip()
        except FileNotFoundError:
            return 0
        return int(text) if text else 0

    _say(f"spawned {os.path.basename(sys.executable)} into job {job.koid}: process koid {proc.koid}")
    _wait_for(lambda: read() > 0, "the spawned program to start counting")
    _say(f"  threads: {proc.threads()}")
    _expect_running(read, "program counter")
    with proc.suspend() as token:
        for koid in proc.threads():
            with proc.child(koid) as thread:
                thread.wait_one(Signals.THREAD_SUSPENDED, timeout=_LONG)
        _say(f"  process suspended (token koid {token.koid}): every thread THREAD_SUSPENDED")
        _expect_stopped(read, "program counter")
    _say("  token closed")
    _expect_running(read, "program counter")
    return proc


def demo() -> int:
    """Run the demo; return the exit status."""
    _say(f"zxpy {__version__} demo")
    root = Job.default()
    with root.create_job() as job, job.create_job() as sub, tempfile.TemporaryDirectory() as workdir:
        _say(f"job tree: default job {root.koid} -> job {job.koid} -> job {sub.koid}")
        idle = sub.create_process("never-started")
        proc: Process | None = None
        try:
            _demo_worker(job)
            proc = _demo_spawn(sub, workdir)
            _say(f"killing job {job.koid}")
            job.kill()
            tasks: list[tuple[str, str, Job | Process | None]] = [
                ("job", "job", job), ("sub-job", "job", sub),
                ("unstarted process", "process", idle), ("spawned process", "process", proc)]
            for label, kind, task in tasks:
                if task is None:
                    continue
                observed = task.wait_terminated(timeout=_LONG)
                info = task.info()
                rc = info.return_code
                name = " (TASK_RETCODE_SYSCALL_KILL)" if rc == TASK_RETCODE_SYSCALL_KILL else ""
                _say(f"  {label} {task.koid}: signals {_signals(observed, kind)}, exited={info.exited},"
                     f" return code {rc}{name}")
                if not info.exited or rc != TASK_RETCODE_SYSCALL_KILL:
                    raise DemoError(f"{label} did not report the kill")
            try:
                sub.create_process("too-late")
            except ZxError as err:
                _say(f"  a killed job refuses children: {err}")
            else:
                raise DemoError("a killed job accepted a new process")
        finally:
            if proc is not None:
                proc.close()
            idle.close()
            job.kill()
    demo_fuchsia(_say, DemoError, _WATCH, _LONG)
    _say("ok")
    return 0


def _spawn_held(job: Job, source: str, name: str, *args: str) -> tuple[Process, int]:
    """Spawn ``python -c source args...`` that waits for a line on stdin; returns it and the pipe's write end."""
    r, w = os.pipe()
    try:
        env: dict[str | bytes, str | bytes] = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
        proc = job.spawn([sys.executable, "-c", source, *args], name=name, fds={0: r}, environ=env)
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    return proc, w


def _registers(thread: Thread) -> Any:
    """The thread's general registers, or None where this build cannot read them (it lacks the call or record)."""
    read_state = getattr(thread, "read_state", None)
    if read_state is None:
        return None
    try:
        return read_state()
    except NotSupportedError:
        return None


def _show_exception(exc: ExceptionHandle) -> Any:
    """Print the exception's type, fault address and instruction pointer; return the registers (or None)."""
    report = exc.report()
    kind = exc.type.name if isinstance(exc.type, ExceptionType) else hex(exc.type)
    _say(f"  exception {kind} in process {exc.pid}, thread {exc.tid}")
    _say(f"  fault address {report.fault_address:#x}" + (f", vector {report.vector}" if report.vector else ""))
    thread = exc.thread
    assert isinstance(thread, Thread)  # a Task by its annotation (zxpy.exception sits below zxpy.thread)
    info = thread.info()
    holder = info.wait_exception_channel_type
    _say(f"  thread state {info.state!r}, held by the {getattr(holder, 'name', holder)} channel")
    regs = _registers(thread)
    if regs is not None:  # thread state (zx_thread_read_state): available while the thread is in an exception
        _say(f"  instruction pointer {regs.pc:#x}, stack pointer {regs.sp:#x}")
    else:
        _say("  (registers: this build has no zx_thread_read_state)")
    return regs


def _skip_instruction(exc: ExceptionHandle, proc: Process, regs: Any, load: bytes) -> bool:
    """Move the thread past its faulting ``load`` and return True, or False where this cannot be done.

    A debugger resumes a thread past a fault by writing its instruction pointer (zx_thread_write_state, allowed
    while the thread is in an exception: ThreadDispatcher::WriteState, zircon/kernel/object/thread_dispatcher.cc)
    and marking the exception HANDLED. The demo checks that the bytes at the instruction pointer are the load it
    planted (zx_process_read_memory) before it adds the load's known length.
    """
    thread = exc.thread
    if regs is None or not load or not isinstance(thread, Thread):
        return False
    try:
        code = proc.read_memory(regs.pc, len(load))
    except (NotSupportedError, AttributeError):
        return False
    _say(f"  bytes at the instruction pointer: {code.hex(' ')}")
    if code != load:
        raise DemoError(f"the instruction pointer is not at the planted load ({load.hex(' ')})")
    target = regs.pc + len(load)
    field = "rip" if hasattr(regs, "rip") else "pc"
    thread.write_state(regs.replace(**{field: target}))
    _say(f"  wrote {field} = {target:#x} (past the {len(load)}-byte load)")
    return True


def demo_debugger() -> int:
    """``demo debugger``: catch a crash and a breakpoint on a debugger channel, suspend a thread; exit status."""
    _say(f"zxpy {__version__} debugger demo")
    code = _NULL_CODE.get(platform.machine())
    with Job.default().create_job() as job:
        try:
            if code is not None:
                before, load, after = code
                proc, go = _spawn_held(job, _NULL_PROGRAM, "demo-crasher", (before + load + after).hex())
            else:
                load = b""
                proc, go = _spawn_held(job, _NULL_PROGRAM_ANY, "demo-crasher")
            with proc, proc.exception_channel(debugger=True) as ch:
                _say(f"spawned a program that reads through NULL: process {proc.koid}; debugger channel bound")
                os.write(go, b"go\n")
                os.close(go)
                with ch.receive(timeout=_LONG) as exc:
                    regs = _show_exception(exc)
                    if exc.report().fault_address != 0:
                        raise DemoError("the fault address is not 0")
                    skipped = _skip_instruction(exc, proc, regs, load)
                    if skipped:
                        exc.state = ExceptionState.HANDLED
                        _say("  marked the exception HANDLED: the thread resumes after the load")
                    else:
                        _say("  killing the program")
                        proc.kill()
                rc = proc.wait(timeout=_LONG)
                _say(f"  return code {rc}")
                if skipped and rc != SKIPPED_EXIT_CODE:
                    raise DemoError(f"the program did not run on to exit {SKIPPED_EXIT_CODE} after the skip")
            if platform.machine() in ("x86_64", "AMD64"):  # arm64's brk leaves the pc on it: no run-on
                proc, go = _spawn_held(job, _BREAKPOINT_PROGRAM, "demo-breakpoint")
                with proc, proc.exception_channel(debugger=True) as ch:
                    _say(f"spawned a program that hits a breakpoint: process {proc.koid}")
                    os.write(go, b"go\n")
                    os.close(go)
                    with ch.receive(timeout=_LONG) as exc:
                        _show_exception(exc)
                        if exc.type != ExceptionType.SW_BREAKPOINT:
                            raise DemoError(f"expected a software breakpoint, got {exc.type!r}")
                        _say("  marking it HANDLED")
                        exc.handle()
                    rc = proc.wait(timeout=_LONG)
                    _say(f"  return code {rc}")
                    if rc != 0:
                        raise DemoError("the program did not run on after the breakpoint")
            proc = job.spawn([sys.executable, "-c", "while True: pass"], name="demo-spinner")
            with proc, proc.child(proc.threads()[0]) as thread:
                with thread.suspend(timeout=_LONG):
                    _say(f"suspended thread {thread.koid} of a spinning program: state {thread.info().state!r}")
                    regs = _registers(thread)
                    if regs is not None:
                        _say(f"  instruction pointer {regs.pc:#x}, stack pointer {regs.sp:#x}")
                        stack = proc.read_memory(regs.sp, 16)
                        _say(f"  16 bytes at the stack pointer: {stack.hex(' ')}")
                    else:
                        _say("  (registers and stack: this build has no zx_thread_read_state / zx_process_read_memory)")
                thread.wait_one(Signals.THREAD_RUNNING, timeout=_LONG)
                _say(f"  token closed: state {thread.info().state!r}")
        finally:
            job.kill()
    _say("ok")
    return 0


def info() -> int:
    """Print what this zxpy is running on."""
    from . import _raw

    job, proc, thread = Job.default(), Process.self(), Thread.self()
    _say(f"zxpy {__version__} (module {_raw._zx.__file__})")
    _say(f"default job   koid {job.koid}  rights {job.basic_info().rights!r}")
    _say(f"this process  koid {proc.koid}  threads {proc.threads()}")
    _say(f"this thread   koid {thread.koid}  state {thread.info().state!r}")
    _say(f"handles       {sum(proc.handle_stats().values())}"
         f" {({getattr(k, 'name', k): v for k, v in proc.handle_stats().items()})}")
    return 0


# ------------------------------------------------------------------------------------------------ run

#: ``zxpy run``'s exit statuses other than PROG's own exit code (README.md, "Command line").
EXIT_TIMEOUT = 124  # --timeout passed (timeout(1)'s status)
EXIT_FAILED = 125  # zxpy itself failed (timeout(1)'s status)
EXIT_CANNOT_EXECUTE = 126  # PROG was found but could not be started (as shells)
EXIT_NOT_FOUND = 127  # PROG was not found (as shells)
EXIT_KILLED = 128 + signal.SIGKILL  # 137: PROG was killed (a *_KILL return code)
EXIT_CRASHED = 128 + signal.SIGSEGV  # 139: PROG crashed (ZX_TASK_RETCODE_EXCEPTION_KILL)
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141: zxpy's own stdout was a closed pipe
#: zxpy got signal N: 128 + N, as shells report a program killed by N.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_KILL_CODES = frozenset({TASK_RETCODE_SYSCALL_KILL, TASK_RETCODE_OOM_KILL, TASK_RETCODE_POLICY_KILL,
                         TASK_RETCODE_VDSO_KILL, TASK_RETCODE_CRITICAL_PROCESS_KILL})
#: How often ``run`` looks at its timeout and the signals it got (a latency, not a speed goal).
_POLL = 0.05
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def exit_status(return_code: int) -> int:
    """The shell exit status for a Zircon return code of PROG (README.md, "Command line")."""
    if 0 <= return_code <= 255:
        return return_code
    if return_code == TASK_RETCODE_EXCEPTION_KILL:
        return EXIT_CRASHED
    if return_code in _KILL_CODES:
        return EXIT_KILLED
    return 255 if return_code < 0 else 1  # Zircon's exit codes are int64; Linux's are 0-255


def _duration(text: str) -> float:
    """``--timeout``'s argument: seconds, or a number with timeout(1)'s suffix s, m, h or d; 0 means none."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (seconds, or a number with s, m, h or d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _find_program(prog: str) -> str | None:
    """PROG as the shell finds it: a path if it has a slash, else the first match on $PATH."""
    if "/" in prog:
        return prog if os.path.exists(prog) else None
    return shutil.which(prog)


def _err(text: str) -> None:
    print(f"zxpy run: {text}", file=sys.stderr, flush=True)


def run(argv: Sequence[str], *, timeout: float = 0.0, name: str | None = None, as_json: bool = False) -> int:
    """``zxpy run``: PROG in a fresh child job of the default job; returns the exit status."""
    path = _find_program(argv[0])
    if path is None:
        _err(f"{argv[0]}: command not found")
        return EXIT_NOT_FOUND
    got: list[int] = []

    def stop(signo: int, frame: FrameType | None) -> None:
        got.append(signo)

    previous = {signo: signal.signal(signo, stop) for signo in STOP_SIGNALS}
    try:
        return _run(path, argv, timeout, name, as_json, got)
    finally:
        for signo, handler in previous.items():
            signal.signal(signo, handler)


def _spawn(job: Job, path: str, argv: Sequence[str], name: str | None) -> Process:
    # Python ignores SIGPIPE and SIGXFSZ, and a program inherits ignored signals: give PROG the defaults, as
    # subprocess's restore_signals does (else `zxpy run -- yes | head -1` would never end `yes`).
    restore = {}
    for signame in ("SIGPIPE", "SIGXFSZ"):
        signo = getattr(signal, signame, None)
        if signo is not None:
            restore[signo] = signal.signal(signo, signal.SIG_DFL)
    try:
        return job.spawn(list(argv), path=path, name=name)
    finally:
        for signo, handler in restore.items():
            signal.signal(signo, handler)


def _run(path: str, argv: Sequence[str], timeout: float, name: str | None, as_json: bool, got: list[int]) -> int:
    try:
        job = Job.default().create_job()
    except ZxError as err:
        _err(f"cannot create a job: {err}")
        return EXIT_FAILED
    with job:
        if name is not None:
            job.set_name(name)
        start_wall, start = time.time(), time.monotonic()
        try:
            proc = _spawn(job, path, argv, name)
        except NotFoundError as err:
            _err(f"{argv[0]}: {err}")
            job.kill()
            return EXIT_NOT_FOUND
        except (ZxError, OSError) as err:
            _err(f"{argv[0]}: cannot run: {err}")
            job.kill()
            return EXIT_CANNOT_EXECUTE
        timed_out = False
        with proc:
            deadline = start + timeout if timeout > 0 else None
            while not got:
                left = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
                if left <= 0:
                    timed_out = True
                    break
                try:
                    proc.wait_terminated(timeout=left)
                    break
                except TimedOutError:
                    continue
            # PROG ended, or is to end: its job goes with it, and everything in it.
            job.kill()
            try:
                job.wait_terminated(timeout=_LONG)
                return_code = proc.wait(timeout=_LONG)
            except TimedOutError:
                _err(f"job {job.koid} did not end within {_LONG:g} s of its kill")
                return EXIT_FAILED
            end_wall, end = time.time(), time.monotonic()
            if got:
                status = 128 + got[0]
            elif timed_out:
                status = EXIT_TIMEOUT
            else:
                status = exit_status(return_code)
            if as_json:
                report: dict[str, Any] = {
                    "argv": list(argv),
                    "path": path,
                    "job_koid": job.koid,
                    "process_koid": proc.koid,
                    "return_code": return_code,
                    "exit_status": status,
                    "timed_out": timed_out,
                    "signal": signal.Signals(got[0]).name if got else None,
                    "start_time": start_wall,
                    "end_time": end_wall,
                    "duration": end - start,
                }
                print(json.dumps(report), flush=True)
            return status


# ------------------------------------------------------------------------------------------------ main


class _Parser(argparse.ArgumentParser):
    """argparse's parser, printing help and version as Python 3.11 and later do on every version: a write that
    fails (a closed pipe) is ignored, so ``zxpy --help`` into a closed pipe exits 0, quietly, on 3.10 too."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            try:
                (file or sys.stderr).write(message)
            except (AttributeError, OSError):
                pass


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = _Parser(
        prog="zxpy", description="Zircon task control on this machine: run a program in a job, demo, info.",
        epilog="Without a command zxpy prints this help on stderr and exits 2. See README.md, 'Command line'.")
    parser.add_argument("--version", action="version", version=f"zxpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run_p = sub.add_parser(
        "run", help="run a program in a fresh job; kill the whole job tree on timeout, SIGINT or SIGTERM",
        description="Run PROG in a fresh child job of the default job, with this terminal's stdin, stdout and "
        "stderr, and exit with its status. On --timeout, SIGINT, SIGTERM or SIGHUP the whole job is killed: PROG "
        "and everything it started, daemonized grandchildren included.",
        epilog="Exit status: PROG's exit code; 137 if PROG was killed, 139 if it crashed; 124 on timeout; 128+N "
        "when zxpy got signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); 125 if zxpy failed, 126 if PROG could not "
        "be started, 127 if it was not found, 2 on a usage error.")
    run_p.add_argument("--timeout", type=_duration, default=0.0, metavar="S",
                       help="kill the job after S seconds (suffix s, m, h or d as timeout(1); 0: never) and exit 124")
    run_p.add_argument("--kill-after", metavar="S",
                       help="not supported: zx_task_kill ends every process of the job at once, without a grace "
                       "period (zxpy refuses it rather than ignore it)")
    run_p.add_argument("--name", metavar="N", help="name of the job and of PROG's process (ZX_PROP_NAME)")
    run_p.add_argument("--json", action="store_true",
                       help="when PROG has ended, print one JSON object on stdout: return code, exit status, "
                       "times, whether it timed out, the koids")
    run_p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- PROG ARGS")
    demo_p = sub.add_parser("demo", help="suspend, resume and kill real tasks, printing what happens")
    demo_p.add_argument("which", nargs="?", choices=["tasks", "debugger"], default="tasks",
                        help="tasks (default): jobs, suspend and kill; debugger: exceptions caught on a channel")
    sub.add_parser("info", help="show the runtime's job, process and thread")
    return parser, run_p


def _main(argv: Sequence[str] | None) -> int:
    parser, run_p = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "run":
        prog = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if args.kill_after is not None:
            run_p.error("--kill-after is not supported: zx_task_kill ends every process of the job at once "
                        "(SIGKILL on Linux), so there is no TERM grace period to bound")
        if not prog:
            run_p.error("no program given (zxpy run [options] -- PROG ARGS)")
        return run(prog, timeout=args.timeout, name=args.name, as_json=args.json)
    try:
        if args.command == "demo":
            return demo_debugger() if args.which == "debugger" else demo()
        return info()
    except DemoError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """The ``zxpy`` console script and ``python -m zxpy``; returns the exit status.

    A closed stdout (``zxpy info | head -1``) ends zxpy quietly with status 141, 128 + SIGPIPE, as a
    shell reports a program SIGPIPE ended: stdout is pointed at /dev/null so that the interpreter's final
    flush fails no more (the Python documentation's recipe, "Note on SIGPIPE").
    """
    try:
        try:
            status = _main(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = exc.code
            if isinstance(code, str):
                print(code, file=sys.stderr)
                status = 1
            else:
                status = 0 if code is None else code
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status


if __name__ == "__main__":
    sys.exit(main())
