"""fork(2) in the program that owns the host kernel: the child gets a fresh, empty host kernel.

A forked child is a new process, and on Zircon a process holds only the handles it is given: none of its
parent's handles exist in it (every one gives ZX_ERR_BAD_HANDLE, and none of the child's new handles ever takes
one of those values), ``Job.default()``, ``Process.self()`` and ``Thread.self()`` are new objects, and the
parent's spawned programs are out of the child's reach: the child neither kills nor reaps them.  A child that
does not touch its parent's handles works normally (``multiprocessing`` with the fork start method).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from conftest import LONG, child_pids, pid_alive

import zxpy
from zxpy import Event, Job, Process, Thread

KILL = zxpy.TASK_RETCODE_SYSCALL_KILL


def in_child(body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``body`` in an ``os.fork()`` child and return what it returned (JSON through a pipe).

    The child always ends with ``os._exit``; a child that does not finish within LONG is killed and the
    test fails (a wait that never returns is one of the failures looked for)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        code = 0
        try:
            out = body()
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            out = {"exception": traceback.format_exc()}
            code = 1
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    end = time.monotonic() + LONG
    status = None
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            pytest.fail("the forked child did not finish (a call hung)")
        time.sleep(0.01)
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    out = json.loads(b"".join(chunks) or b"{}")
    assert "exception" not in out, out["exception"]
    assert os.waitstatus_to_exitcode(status) == 0
    return out


def outcome(call: Callable[[], object]) -> str:
    """``ok`` or the name of the exception ``call`` raised."""
    try:
        call()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__
    return "ok"


def test_inherited_handles_are_bad_in_the_child(job: Job) -> None:
    """Every call on a handle from before the fork fails with BAD_HANDLE in the child: none reports a success
    that did not happen (a kill that kills nothing, a suspension that stops nothing, a wait that never ends)."""
    proc = job.spawn(["/bin/sleep", "1000"])
    thread = proc.child(proc.threads()[0])
    pid = program_pid("sleep")
    event = Event.create()
    parent = {"job": Job.default().koid, "process": Process.self().koid, "thread": Thread.self().koid}

    def child() -> dict[str, Any]:
        return {
            "proc.kill": outcome(proc.kill),
            "proc.info": outcome(proc.info),
            "proc.suspend": outcome(proc.suspend),
            "proc.wait": outcome(lambda: proc.wait(timeout=5)),
            "thread.suspend": outcome(lambda: thread.suspend(timeout=5)),
            "thread.info": outcome(thread.info),
            "job.kill": outcome(job.kill),
            "job.create_job": outcome(job.create_job),
            "event.signal": outcome(event.set),
            "event.duplicate": outcome(event.duplicate),
            "proc.close": outcome(proc.close),
            "job": Job.default().koid,
            "process": Process.self().koid,
            "thread": Thread.self().koid,
        }

    try:
        got = in_child(child)
        calls = {k: v for k, v in got.items() if "." in k}
        assert calls == dict.fromkeys(calls, "BadHandleError"), calls
        # The runtime's handles name new objects.
        for what in ("job", "process", "thread"):
            assert got[what] != parent[what], what
        # The parent's program was neither killed nor reaped by the child.
        assert pid_alive(pid)
        assert not proc.info().exited
        assert thread.info().state != zxpy.ThreadState.DEAD
        proc.kill()
        assert proc.wait(timeout=LONG) == KILL
    finally:
        thread.close()
        event.close()
        proc.close()


def program_pid(comm: str) -> int:
    """The Linux pid of our only child process named ``comm`` (a spawned program is our child)."""
    found = child_pids(comm)
    if not found:
        raise AssertionError(f"no child named {comm}")
    return min(found)


def test_child_has_a_fresh_kernel_that_works(job: Job) -> None:
    """The child's default job holds only its own process; it spawns, suspends, kills and waits for programs of
    its own; and no handle value it creates is one its parent's wrappers hold."""
    held = [Event.create() for _ in range(40)]
    raws = [e.raw for e in held]

    def child() -> dict[str, Any]:
        default = Job.default()
        me = Process.self()
        out: dict[str, Any] = {"processes": default.processes(), "me": me.koid, "children": default.children()}
        sub = default.create_job()
        new = [Event.create() for _ in range(600)]  # enough to reuse freed slots and grow the table
        out["collisions"] = sorted({e.raw for e in new} & set(raws))
        out["parent_values_valid"] = sum(wrapped.is_valid() for wrapped in held)
        for e in new:
            e.close()
        prog = sub.spawn(["/bin/sh", "-c", "exit 7"])
        out["exit"] = prog.wait(timeout=LONG)
        prog.close()
        sleeper = sub.spawn(["/bin/sleep", "1000"])
        with sleeper.suspend():
            pass
        sleeper.kill()
        out["killed"] = sleeper.wait(timeout=LONG)
        sleeper.close()
        sub.close()
        return out

    try:
        got = in_child(child)
        assert got["processes"] == [got["me"]]
        assert got["children"] == []
        assert got["collisions"] == []
        assert got["parent_values_valid"] == 0
        assert got["exit"] == 7
        assert got["killed"] == KILL
        assert all(e.is_valid() for e in held)  # the parent's own handles are untouched
    finally:
        for e in held:
            e.close()


def _pool_worker(args: tuple[int, int]) -> tuple[int, bool, int]:
    """A multiprocessing worker: runs a program of its own; reports its exit and whether its process is new."""
    n, parent_self_koid = args
    sub = Job.default().create_job()
    try:
        proc = sub.spawn(["/bin/sh", "-c", f"exit {n}"])
        code = proc.wait(timeout=LONG)
        proc.close()
    finally:
        sub.close()
    return n, Process.self().koid != parent_self_koid, code


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_multiprocessing_fork_children_work(job: Job) -> None:
    """``multiprocessing`` with the fork start method: workers that never touch the parent's handles spawn and
    wait for programs of their own, while the parent's program runs on."""
    running = job.spawn(["/bin/sleep", "1000"])
    try:
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(2)
        try:
            results = pool.map(_pool_worker, [(n, Process.self().koid) for n in range(6)], chunksize=1)
        finally:
            pool.close()
            pool.join()
        assert results == [(n, True, n) for n in range(6)]
        assert not running.info().exited
        running.kill()
        assert running.wait(timeout=LONG) == KILL
    finally:
        running.close()
