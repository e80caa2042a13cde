"""Command line: ``python -m zxpy demo`` and ``python -m zxpy info``.

``demo`` walks through the task-control calls on real tasks: it builds a job
tree, starts a C worker thread that counts, suspends it (the count stops),
resumes it, spawns a real program into the job and freezes and thaws that
too, then kills the job and prints the signals and return codes observed.
It exits 0 only if every effect was observed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from . import (
    TASK_RETCODE_SYSCALL_KILL,
    Job,
    NotSupportedError,
    Process,
    Signals,
    Thread,
    ZxError,
    __version__,
)
from .testing import ProgressWorker

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zxpy", description="zxpy command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="suspend, resume and kill real tasks, printing what happens")
    sub.add_parser("info", help="show the runtime's job, process and thread")
    args = parser.parse_args(argv)
    try:
        return demo() if args.command == "demo" else info()
    except DemoError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
