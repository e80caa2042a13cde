"""Leaks: handles, kernel objects, memory and processes, across a representative workload.

* Handles: ``ZX_INFO_PROCESS_HANDLE_STATS`` on ``Process.self()`` must be back
  to its baseline, type by type, after every round of the workload, after
  every failing call, and after wrappers are merely dropped (the GC closes
  them, with a ResourceWarning).
* Kernel objects: the default job's children and processes come back to what
  they were (nothing dead stays listed), and the process's resident memory
  stops growing once the allocator is warm (a kernel object freed late, or
  never, would show as steady growth).
* Processes: no spawned program - nor anything it forked - outlives its test
  (``/proc``).  The autouse ``no_leaks`` fixture (tests/conftest.py) checks
  handles and direct children after every test as well.
"""

from __future__ import annotations

import ctypes
import gc
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LONG, as_kind, pid_alive, wait_until
from conftest_robustness import reporter, scaled
from test_faults import faulty  # noqa: F401 - the session fixture compiling the fault programs

import zxpy
from zxpy import Event, Job, Process, Rights, Signals, Thread, ZxError
from zxpy.testing import ProgressWorker

SLEEP = "/bin/sleep"

FIGURES = {"rounds": 0, "leaks": 0}


@reporter
def _figures() -> list[str]:
    """The session's figures: workload rounds checked (a round with a leak also fails its test)."""
    if not FIGURES["rounds"] and not FIGURES["leaks"]:
        return []
    return [f"leaks: {FIGURES['rounds']} workload rounds checked, {FIGURES['leaks']} with a handle leak"]


def stats() -> dict[object, int]:
    return dict(Process.self().handle_stats())


def workload(round_no: int) -> None:
    """One round: every kind of object and call zxpy offers, including failures, all cleaned up."""
    with Job.default().create_job() as top:
        sub = top.create_job()
        proc = sub.create_process(f"leak{round_no}")
        thread = proc.create_thread("t")
        event = Event.create()
        tokens = [proc.suspend(), thread.suspend(wait=False), proc.suspend().replace(Rights.INSPECT)]
        dups = [h.duplicate(Rights.WAIT | Rights.INSPECT) for h in (top, sub, proc, thread, event)]
        narrowed = event.duplicate().replace(Rights.WAIT)
        child = top.child(sub.koid)
        assert isinstance(child, Job)
        # Failures: none of them may leave a handle behind.
        for call in (
            lambda: tokens[0].duplicate(),
            lambda: narrowed.duplicate(),
            lambda: narrowed.replace(Rights.DESTROY),  # consumes `narrowed` even though it fails
            lambda: top.child(12345),
            lambda: as_kind(Thread, thread).kill(),
            lambda: sub.suspend(),
            lambda: event.wait_one(Signals.USER_SIGNAL_0, timeout=0),
            lambda: top.spawn(["/nonexistent/zxpy-leak"]),
        ):
            with pytest.raises(ZxError):
                call()
        assert narrowed.closed
        # A real program, suspended, then killed with the tree.
        program = sub.spawn([SLEEP, "100"])
        (tkoid,) = program.threads()
        with program.child(tkoid) as ptoken_thread:
            ptoken = ptoken_thread.suspend(timeout=LONG)
        ptoken_proc = program.suspend()
        # A wait cancelled by a close, a wait that times out.
        waiter = top.duplicate()
        waiter.close()
        with pytest.raises(zxpy.TimedOutError):
            top.wait_one(Signals.TASK_TERMINATED, timeout=0.001)
        # A worker thread of this process, suspended and resumed.
        with ProgressWorker() as worker, worker.thread.suspend(timeout=LONG):
            pass
        top.kill()
        program.wait_terminated(timeout=LONG)
        top.wait_terminated(timeout=LONG)
        for h in [*tokens, *dups, ptoken, ptoken_proc, child, program, event, thread, proc, sub]:
            h.close()


def test_workload_returns_to_baseline_every_round() -> None:
    rounds = scaled(20, 300)
    gc.collect()
    baseline = stats()
    children = Job.default().children()
    processes = Job.default().processes()
    for i in range(rounds):
        workload(i)
        now = stats()
        if now != baseline:
            FIGURES["leaks"] += 1
        assert now == baseline, f"round {i}: handles {baseline} -> {now}"
        FIGURES["rounds"] += 1
    assert Job.default().children() == children, "jobs left in the default job"
    assert Job.default().processes() == processes, "processes left in the default job"


def test_dropped_wrappers_are_closed_by_the_gc() -> None:
    """Forgotten handles are closed at collection, with a ResourceWarning naming them."""
    gc.collect()
    baseline = stats()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        job = Job.default().create_job()
        job.create_process("forgotten")  # dropped at once
        job.create_job()
        Event.create().duplicate()
        del job
        gc.collect()
    assert stats() == baseline
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert len(messages) >= 5 and all("unclosed" in m for m in messages), messages


def test_failed_calls_leak_nothing() -> None:
    """Every failing call of the API, one at a time: the handle table is unchanged after each."""
    job = Job.default().create_job()
    proc = job.create_process("p")
    token = proc.suspend()
    event = Event.create()
    bare = event.duplicate(Rights.NONE)
    failing: list[Callable[[], object]] = [
        lambda: Job.create_job(proc),  # type: ignore[arg-type]
        lambda: job.duplicate(Rights.SAME_RIGHTS | Rights.WAIT),
        lambda: token.duplicate(),
        lambda: bare.duplicate(),
        lambda: bare.wait_one(0, timeout=0),
        lambda: proc.child(1),
        lambda: job.child(1),
        lambda: Thread.self().suspend(),
        lambda: Process.self().suspend(),
        lambda: job.suspend(),
        lambda: as_kind(zxpy.Task, event).kill(),
        lambda: job.spawn(["/nonexistent/zxpy"]),
        lambda: job.spawn(["/bin/true"], fds={3: 999999}),
        lambda: zxpy.wrap_handle(0xBADC0FFE),
        lambda: proc.create_thread("x" * 100, options=1),
    ]
    try:
        for call in failing:
            before = stats()
            with pytest.raises(ZxError):
                call()
            assert stats() == before, call
        job.kill()
        for call in (lambda: job.create_job(), lambda: job.create_process("late"), lambda: job.spawn(["/bin/true"]),
                     lambda: proc.suspend()):
            before = stats()
            with pytest.raises(zxpy.BadStateError):
                call()
            assert stats() == before
    finally:
        for h in (bare, event, token, proc, job):
            h.close()


def _memory_kib() -> int:
    """Heap in use: the sanitizer's own count when ASan is loaded (its quarantine inflates RSS), else RSS."""
    try:
        allocated = ctypes.CDLL(None).__sanitizer_get_current_allocated_bytes
    except AttributeError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024
    allocated.restype = ctypes.c_size_t
    return int(allocated()) // 1024


def test_kernel_memory_does_not_grow() -> None:
    """Create and destroy objects by the tens of thousands: after warm-up, resident memory stays flat.

    Measured here: 0.2 MiB of growth over 20,000 clean cycles, 4.4 MiB when one job per cycle is leaked; a
    kernel object never freed (a job, process, thread or token) costs ~200 bytes, so any leak in this loop adds
    megabytes, and the 2 MiB bound leaves room for allocator noise only.
    """
    cycles = scaled(20000, 200000)

    def churn(n: int) -> None:
        with Job.default().create_job() as job:
            for _ in range(n):
                with job.create_process("m") as p, p.create_thread("t") as t:
                    p.suspend().close()
                    t.suspend(wait=False).close()
                    Event.create().close()
                job.create_job().close()
            job.kill()

    churn(cycles // 4)  # warm the allocator and the handle table up
    gc.collect()
    before = _memory_kib()
    churn(cycles)
    gc.collect()
    grown = _memory_kib() - before
    assert grown < 2048, f"resident memory grew by {grown} KiB over {cycles} create/destroy cycles"


def test_no_spawned_program_outlives_its_test(faulty: str, tmp_path: Path) -> None:  # noqa: F811
    """Programs ended every way (own exit, kill, job kill, crash, killed while suspended, handle closed first),
    and the processes they forked: none is left in /proc afterwards."""
    pids: list[int] = []

    def start(job: Job, *args: str) -> Process:
        d = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        proc = job.spawn([faulty, args[0], str(d), *args[1:]])
        wait_until(lambda: (d / "pid").exists(), what="pid file")
        pids.extend(int(x) for x in (d / "pid").read_text().split())
        if args[0] == "spin-then":
            (d / "go").touch()
        return proc

    with Job.default().create_job() as job:
        sub = job.create_job()
        with start(job, "spin-then", "exit", "3") as own_exit:
            assert own_exit.wait() == 3
        with start(job, "fork-sleep") as killed:
            killed.kill()
            killed.wait_terminated(timeout=LONG)
        with start(job, "fork-sleep") as suspended, suspended.suspend():
            suspended.kill()
            suspended.wait_terminated(timeout=LONG)
        with job.spawn([faulty, "segv"]) as crashed:
            assert crashed.wait(timeout=LONG) == zxpy.TASK_RETCODE_EXCEPTION_KILL
        closed = start(job, "fork-sleep")
        closed_pids = pids[-2:]
        closed.close()  # closing the handle does not end a running program (ProcessNotKilledViaProcessClose) ...
        by_job = [start(sub, "fork-sleep") for _ in range(2)]
        assert all(pid_alive(p) for p in closed_pids)
        job.kill()  # ... the kill of its job does, and takes the sub-job's programs with it
        job.wait_terminated(timeout=LONG)
        for h in [*by_job, sub]:
            h.close()
    wait_until(lambda: not any(pid_alive(p) for p in pids), what="every spawned pid to be gone")
    assert len(pids) == 1 + 2 * 5

