"""Suspending threads of this process (that hold no GIL) and suspend tokens.

Only two kinds of thread are suspended here, as README advises: the C
progress worker (never touches the interpreter) and a Python thread blocked
in ``os.read`` (the GIL is released around the system call).
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from conftest import LONG, advances, stays_still

import zxpy
from zxpy import (
    AccessDeniedError,
    Event,
    InvalidArgsError,
    Job,
    ObjType,
    Rights,
    Signals,
    SuspendToken,
    Task,
    Thread,
    ThreadState,
    TimedOutError,
    WrongTypeError,
)
from zxpy.testing import ProgressWorker


def assert_running(worker: ProgressWorker) -> None:
    assert advances(lambda: worker.count), "worker did not make progress"


def assert_stopped(worker: ProgressWorker) -> None:
    assert worker.thread.wait_one(Signals.THREAD_SUSPENDED, timeout=0) & Signals.THREAD_SUSPENDED
    assert worker.thread.info().state is ThreadState.SUSPENDED
    assert stays_still(lambda: worker.count), "suspended worker kept counting"


def test_suspend_stops_progress_and_resume_restarts_it(worker: ProgressWorker) -> None:
    token = worker.thread.suspend(timeout=LONG)
    try:
        assert isinstance(token, SuspendToken)
        assert_stopped(worker)
    finally:
        token.close()
    assert_running(worker)
    assert worker.thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG) & Signals.THREAD_RUNNING


def test_with_block_resumes_even_on_exception(worker: ProgressWorker) -> None:
    with pytest.raises(RuntimeError, match="inside"), worker.thread.suspend(timeout=LONG) as token:
        assert_stopped(worker)
        raise RuntimeError("inside")
    assert token.closed
    assert_running(worker)


def test_two_tokens_keep_it_stopped_until_both_close(worker: ProgressWorker) -> None:
    first = worker.thread.suspend(timeout=LONG)
    second = worker.thread.suspend(timeout=LONG)
    try:
        assert_stopped(worker)
        first.close()
        assert_stopped(worker)
    finally:
        first.close()
        second.close()
    assert_running(worker)


def test_suspend_wait_true_returns_only_once_suspended(worker: ProgressWorker) -> None:
    with worker.thread.suspend(wait=True, timeout=LONG):
        # THREAD_SUSPENDED must already be asserted: poll, do not wait.
        observed = worker.thread.wait_one(Signals.THREAD_SUSPENDED, timeout=0)
        assert observed & Signals.THREAD_SUSPENDED
        assert not observed & Signals.THREAD_RUNNING


def test_suspend_without_wait_then_wait_for_the_signal(worker: ProgressWorker) -> None:
    with worker.thread.suspend(wait=False):
        worker.thread.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG)
        assert_stopped(worker)
    assert_running(worker)


def test_suspend_timeout_closes_the_token() -> None:
    """A suspend that cannot be confirmed in time leaves nothing suspended.

    The subject is a Python thread that blocks the host kernel's park signal
    (SIGRTMIN+6: HK_PARK_SIGNAL in host/signals.h, reserved as README says) and
    then waits without the GIL: it can never reach THREAD_SUSPENDED, so the wait must time out every time, close
    the token and leave the thread RUNNING.  When it unblocks the signal
    afterwards, the stale park request finds nothing to do.
    """
    park_signal = signal.SIGRTMIN + 6
    ready, release = threading.Event(), threading.Event()
    box: list[Thread] = []

    def body() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {park_signal})
        try:
            box.append(Thread.self().duplicate())
            ready.set()
            release.wait(LONG)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {park_signal})

    runner = threading.Thread(target=body)
    runner.start()
    try:
        assert ready.wait(LONG)
        with box[0] as thread:
            for timeout in (0, 0.05):
                with pytest.raises(TimedOutError) as info:
                    thread.suspend(timeout=timeout)
                assert info.value.syscall == "zx_object_wait_one"
                assert "token was closed" in str(info.value)
                observed = thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)
                assert not observed & Signals.THREAD_SUSPENDED
                assert thread.info().state is not ThreadState.SUSPENDED
            assert zxpy.Process.self().handle_stats().get(ObjType.SUSPEND_TOKEN, 0) == 0
    finally:
        release.set()
        runner.join(LONG)
    assert not runner.is_alive()


def test_token_rights_and_type(worker: ProgressWorker) -> None:
    with worker.thread.suspend(timeout=LONG) as token:
        info = token.basic_info()
        assert info.type is ObjType.SUSPEND_TOKEN
        assert info.rights == Rights.TRANSFER | Rights.INSPECT == zxpy.DEFAULT_SUSPEND_TOKEN_RIGHTS
        assert info.related_koid == 0
        assert info.koid not in (worker.thread.koid, 0)
        # Tokens cannot be duplicated or waited on.
        with pytest.raises(AccessDeniedError) as dup_err:
            token.duplicate()
        assert dup_err.value.syscall == "zx_handle_duplicate"
        with pytest.raises(AccessDeniedError) as wait_err:
            token.wait_one(Signals.HANDLE_CLOSED, timeout=0)
        assert wait_err.value.syscall == "zx_object_wait_one"
        assert_stopped(worker)
    assert_running(worker)


def test_replaced_token_keeps_the_task_suspended(worker: ProgressWorker) -> None:
    token = worker.thread.suspend(timeout=LONG)
    replaced = token.replace(Rights.INSPECT)
    try:
        assert token.closed
        assert type(replaced) is SuspendToken
        assert replaced.basic_info().rights == Rights.INSPECT
        assert_stopped(worker)
    finally:
        replaced.close()
    assert_running(worker)


def test_failed_replace_of_last_token_resumes(worker: ProgressWorker) -> None:
    """Zircon consumes the source of a failed replace: the task resumes."""
    token = worker.thread.suspend(timeout=LONG)
    with pytest.raises(InvalidArgsError):
        token.replace(Rights.TRANSFER | Rights.INSPECT | Rights.DUPLICATE)
    assert token.closed
    assert_running(worker)


def test_suspend_needs_write(worker: ProgressWorker) -> None:
    with worker.thread.duplicate(zxpy.DEFAULT_THREAD_RIGHTS & ~Rights.WRITE) as weak:
        with pytest.raises(AccessDeniedError) as info:
            weak.suspend()
        assert info.value.syscall == "zx_task_suspend"
    assert_running(worker)


def test_suspend_checks_rights_before_type(job: Job) -> None:
    with Event.create() as event:
        # Events have no WRITE: ACCESS_DENIED, not WRONG_TYPE.
        with pytest.raises(AccessDeniedError):
            Task(event.raw, owned=False).suspend()
    # Jobs have WRITE, and cannot be suspended: WRONG_TYPE.
    with pytest.raises(WrongTypeError):
        job.suspend()
    with pytest.raises(WrongTypeError):
        Job.default().suspend()


def test_closing_the_thread_handle_does_not_resume(worker: ProgressWorker) -> None:
    token = worker.thread.suspend(timeout=LONG)
    try:
        with worker.thread.duplicate() as other:
            other.close()
        assert_stopped(worker)
    finally:
        token.close()
    assert_running(worker)


def test_suspend_a_python_thread_blocked_in_read() -> None:
    """A thread blocked in a system call parks; the call completes after resume."""
    read_fd, write_fd = os.pipe()
    handles: list[Thread] = []
    got: list[bytes] = []
    ready = threading.Event()

    def reader() -> None:
        handles.append(Thread.self().duplicate())
        ready.set()
        got.append(os.read(read_fd, 100))

    t = threading.Thread(target=reader)
    t.start()
    try:
        assert ready.wait(LONG)
        thread = handles[0]
        with thread.suspend(timeout=LONG):
            assert thread.info().state is ThreadState.SUSPENDED
            os.write(write_fd, b"ping")
            t.join(0.3)
            assert t.is_alive() and got == [], "the suspended reader returned"
        t.join(LONG)
        assert not t.is_alive()
        assert got == [b"ping"]
        thread.wait_terminated(timeout=LONG)
    finally:
        if t.is_alive():
            os.write(write_fd, b"x")
            t.join(LONG)
        os.close(read_fd)
        os.close(write_fd)
        for h in handles:
            h.close()


def test_worker_stop_refuses_while_suspended(worker: ProgressWorker) -> None:
    with worker.thread.suspend(timeout=LONG):
        with pytest.raises(zxpy.BadStateError, match="suspend token"):
            worker.stop(timeout=0.2)
    worker.stop()
    assert worker.thread.info().state is ThreadState.DEAD
