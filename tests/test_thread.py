"""Threads: self, create/start, info states, start-suspended, death."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LONG, advances, stays_still, wait_until

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    Event,
    Job,
    NotSupportedError,
    Process,
    Rights,
    Signals,
    Thread,
    ThreadState,
    WrongTypeError,
)

ENTRY = zxpy.ffi.addressof(zxpy.lib, "zxpy_progress_entry")


@pytest.fixture
def progress() -> Iterator[Any]:
    """A zxpy_progress_t shared with a C progress worker started by the test."""
    mem = zxpy.ffi.new("zxpy_progress_t *")
    yield mem
    mem.stop = 1
    _KEEP.append(mem)  # a worker a failed test left running must not see freed memory


_KEEP: list[Any] = []


def test_self_thread() -> None:
    me = Thread.self()
    assert not me.owned
    info = me.info()
    assert info.state is ThreadState.RUNNING
    assert info.wait_exception_channel_type is zxpy.ExceptionChannelType.NONE
    assert me.koid in Process.self().threads()
    assert Thread.self().raw == me.raw  # one handle per OS thread


def test_self_thread_cannot_be_suspended_or_killed() -> None:
    with pytest.raises(NotSupportedError):
        Thread.self().suspend()
    with pytest.raises(NotSupportedError):
        Thread.self().suspend(wait=False)
    with pytest.raises(WrongTypeError):
        Thread.self().kill()


def test_created_thread_is_new_without_signals() -> None:
    with Process.self().create_thread("new") as thread:
        assert thread.info().state is ThreadState.NEW
        with pytest.raises(zxpy.TimedOutError) as info:
            thread.wait_one(Signals.THREAD_RUNNING | Signals.THREAD_SUSPENDED | Signals.THREAD_TERMINATED,
                            timeout=0)
        assert not info.value.observed & (Signals.THREAD_RUNNING | Signals.THREAD_SUSPENDED)


def test_start_runs_the_entry_and_stop_ends_it(progress: Any) -> None:
    with Process.self().create_thread("worker") as thread:
        thread.start(ENTRY, int(zxpy.ffi.cast("uintptr_t", progress)))
        assert advances(lambda: progress.count)
        assert thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG) & Signals.THREAD_RUNNING
        assert thread.info().cpu_affinity_mask != 0
        progress.stop = 1
        observed = thread.wait_terminated(timeout=LONG)
        assert observed & Signals.THREAD_TERMINATED
        assert not observed & (Signals.THREAD_RUNNING | Signals.THREAD_SUSPENDED)
        assert thread.info().state is ThreadState.DEAD
        assert thread.info().cpu_affinity_mask == 0  # Zircon clears it after exit
        assert thread.koid not in Process.self().threads()
        # A dead thread cannot be suspended; no token handle is left behind.
        with pytest.raises(BadStateError) as info:
            thread.suspend()
        assert info.value.syscall == "zx_task_suspend"
        # Nor started again.
        with pytest.raises(BadStateError):
            thread.start(ENTRY, int(zxpy.ffi.cast("uintptr_t", progress)))


def test_start_twice_is_bad_state(progress: Any) -> None:
    with Process.self().create_thread("twice") as thread:
        addr = int(zxpy.ffi.cast("uintptr_t", progress))
        thread.start(ENTRY, addr)
        try:
            with pytest.raises(BadStateError):
                thread.start(ENTRY, addr)
        finally:
            progress.stop = 1
            thread.wait_terminated(timeout=LONG)


def test_start_suspended_thread(progress: Any) -> None:
    """Suspend before start: the thread starts SUSPENDED and runs no code."""
    with Process.self().create_thread("born-suspended") as thread:
        token = thread.suspend()  # NEW: returns at once, applies at start
        try:
            thread.start(ENTRY, int(zxpy.ffi.cast("uintptr_t", progress)))
            assert thread.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG) & Signals.THREAD_SUSPENDED
            assert thread.info().state is ThreadState.SUSPENDED
            assert stays_still(lambda: progress.count)
            assert progress.count == 0
        finally:
            token.close()
        assert advances(lambda: progress.count)
        assert thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)
        progress.stop = 1
        thread.wait_terminated(timeout=LONG)


def test_start_suspended_and_resumed_thread(progress: Any) -> None:
    with Process.self().create_thread("resumed-early") as thread:
        thread.suspend().close()
        thread.start(ENTRY, int(zxpy.ffi.cast("uintptr_t", progress)))
        assert advances(lambda: progress.count)
        progress.stop = 1
        thread.wait_terminated(timeout=LONG)


def test_start_needs_manage_thread(progress: Any) -> None:
    with Process.self().create_thread("weak") as thread:
        with thread.duplicate(zxpy.DEFAULT_THREAD_RIGHTS & ~Rights.MANAGE_THREAD) as weak:
            with pytest.raises(AccessDeniedError):
                weak.start(ENTRY, int(zxpy.ffi.cast("uintptr_t", progress)))
        assert thread.info().state is ThreadState.NEW


def test_start_on_wrong_type(job: Job) -> None:
    with pytest.raises(WrongTypeError):
        Thread(job.raw, owned=False).start(ENTRY)


def test_start_in_a_killed_process_is_bad_state(job: Job) -> None:
    with job.create_process("p") as proc, proc.create_thread("t") as thread:
        proc.kill()
        with pytest.raises(BadStateError):
            thread.start(ENTRY)


def test_start_argument_validation() -> None:
    with Process.self().create_thread("args") as thread:
        with pytest.raises(TypeError, match="raw_entry_address"):
            thread.start(0)  # a bare address needs raw_entry_address=True
        with pytest.raises(ValueError):
            thread.start(0, raw_entry_address=True)
        with pytest.raises(TypeError):
            thread.start("entry")
        with pytest.raises(ValueError):
            thread.start(ENTRY, -1)
        with pytest.raises(ValueError):
            thread.start(ENTRY, 0, 2**64)
        with pytest.raises(TypeError):
            thread.start(ENTRY, True)
        with pytest.raises(ValueError):
            thread.start(ENTRY, stack_size=16)
        assert thread.info().state is ThreadState.NEW


def test_unstarted_thread_is_not_killed_with_its_process(job: Job) -> None:
    """Zircon (process_dispatcher.cc): a never-started thread is not in the thread list."""
    with job.create_process("p") as proc, proc.create_thread("t") as thread:
        proc.kill()
        assert proc.wait_terminated(timeout=0)
        assert thread.info().state is ThreadState.NEW


def test_blocked_thread_reports_blocked_wait_one() -> None:
    event = Event.create()
    handles: list[Thread] = []
    ready = threading.Event()

    def waiter() -> None:
        handles.append(Thread.self().duplicate())
        ready.set()
        event.wait_one(Signals.EVENT_SIGNALED, timeout=LONG)

    t = threading.Thread(target=waiter)
    t.start()
    try:
        assert ready.wait(LONG)
        thread = handles[0]
        wait_until(lambda: thread.info().state == ThreadState.BLOCKED_WAIT_ONE, what="BLOCKED_WAIT_ONE")
        assert thread.info().state.basic is ThreadState.BLOCKED  # type: ignore[union-attr]
    finally:
        event.set()
        t.join(LONG)
        event.close()
    assert not t.is_alive()
    thread.wait_terminated(timeout=LONG)
    thread.close()
