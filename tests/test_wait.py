"""wait_one: deadlines, timeouts, observed signals, CANCELED, validation."""

from __future__ import annotations

import datetime
import math
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import LONG, wait_until
from hypothesis import given
from hypothesis import strategies as st

import zxpy
from zxpy import (
    AccessDeniedError,
    BadHandleError,
    CanceledError,
    Event,
    Handle,
    InvalidArgsError,
    Job,
    Rights,
    Signals,
    Thread,
    ThreadState,
    TimedOutError,
)
from zxpy._time import to_deadline

S = Signals


def test_poll_times_out_with_observed_signals() -> None:
    with Event.create() as event:
        with pytest.raises(TimedOutError) as info:
            event.wait_one(S.EVENT_SIGNALED, timeout=0)
        err = info.value
        assert isinstance(err, TimeoutError)
        assert err.syscall == "zx_object_wait_one"
        assert err.observed == S.NONE
        assert err.koid == event.koid


def test_active_signal_returns_at_once_whatever_the_deadline() -> None:
    with Event.create() as event:
        event.set()
        for kwargs in ({"timeout": 0}, {"timeout": None}, {"deadline": zxpy.TIME_INFINITE_PAST},
                       {"deadline": 0}, {"timeout": math.inf}):
            observed = event.wait_one(S.EVENT_SIGNALED, **kwargs)  # type: ignore[arg-type]
            assert observed == S.EVENT_SIGNALED, kwargs


def test_observed_holds_all_active_signals() -> None:
    with Event.create() as event:
        event.signal(0, S.USER_SIGNAL_0 | S.USER_SIGNAL_3)
        observed = event.wait_one(S.USER_SIGNAL_3, timeout=0)
        assert observed == S.USER_SIGNAL_0 | S.USER_SIGNAL_3
        event.signal(S.USER_SIGNAL_0, 0)
        assert event.wait_one(S.USER_SIGNAL_3, timeout=0) == S.USER_SIGNAL_3
        with pytest.raises(TimedOutError) as info:
            event.wait_one(S.USER_SIGNAL_0, timeout=0)
        assert info.value.observed == S.USER_SIGNAL_3


def test_signal_zero_mask_reads_state() -> None:
    with Event.create() as event:
        event.set()
        with pytest.raises(TimedOutError) as info:
            event.wait_one(0, deadline=zxpy.TIME_INFINITE_PAST)
        assert info.value.observed == S.EVENT_SIGNALED


def test_timeout_waits_at_least_that_long() -> None:
    with Event.create() as event:
        start = time.monotonic()
        with pytest.raises(TimedOutError):
            event.wait_one(S.EVENT_SIGNALED, timeout=0.1)
        assert time.monotonic() - start >= 0.1 - 0.002  # clock granularity


def test_deadline_in_ns_of_the_kernel_clock() -> None:
    with Event.create() as event:
        before = zxpy.monotonic()
        with pytest.raises(TimedOutError):
            event.wait_one(S.EVENT_SIGNALED, deadline=before + 20_000_000)
        assert zxpy.monotonic() >= before + 20_000_000
        with pytest.raises(TimedOutError):
            event.wait_one(S.EVENT_SIGNALED, deadline=before - 1)  # past: a poll
        with pytest.raises(TimedOutError):
            event.wait_one(S.EVENT_SIGNALED, timeout=datetime.timedelta(milliseconds=5))


def test_monotonic_and_deadline_after() -> None:
    a = zxpy.monotonic()
    d = zxpy.deadline_after(1.5)
    b = zxpy.monotonic()
    assert a <= b
    assert a + 1_500_000_000 <= d <= b + 1_500_000_000 + 1
    assert zxpy.deadline_after(10**30) == zxpy.TIME_INFINITE
    with pytest.raises(ValueError):
        zxpy.deadline_after(-1)


def test_wait_wakes_when_another_thread_signals() -> None:
    with Event.create() as event:
        timer = threading.Timer(0.05, event.set)
        timer.start()
        try:
            assert event.wait_one(S.EVENT_SIGNALED, timeout=LONG) == S.EVENT_SIGNALED
        finally:
            timer.join()


def test_close_during_wait_cancels_it() -> None:
    """Closing the waited-on handle from another thread: CANCELED.

    A duplicate keeps the object alive, as in the core handle-wait test.
    """
    event = Event.create()
    keep = event.duplicate()
    result: list[BaseException] = []
    thread_handles: list[Thread] = []

    def waiter() -> None:
        thread_handles.append(Thread.self().duplicate())
        try:
            event.wait_one(S.EVENT_SIGNALED, timeout=LONG)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            result.append(err)

    t = threading.Thread(target=waiter)
    t.start()
    try:
        wait_until(lambda: bool(thread_handles), what="waiter thread handle")
        waiting = thread_handles[0]
        wait_until(lambda: waiting.info().state == ThreadState.BLOCKED_WAIT_ONE, what="waiter blocked")
        event.close()
        t.join(LONG)
        assert not t.is_alive()
        assert len(result) == 1
        err = result[0]
        assert isinstance(err, CanceledError), err
        assert err.observed is not None and err.observed & S.HANDLE_CLOSED
        # The object is still there through the duplicate.
        keep.set()
        assert keep.wait_one(S.EVENT_SIGNALED, timeout=0)
    finally:
        if t.is_alive():
            keep.set()
            t.join(LONG)
        keep.close()
        event.close()
        for h in thread_handles:
            h.close()


def test_wait_needs_the_wait_right() -> None:
    with Event.create() as event, event.duplicate(Rights.BASIC & ~Rights.WAIT) as weak:
        with pytest.raises(AccessDeniedError):
            weak.wait_one(S.EVENT_SIGNALED, timeout=0)


def test_wait_bad_handle() -> None:
    with pytest.raises(BadHandleError):
        Handle(0xBADC0FFE, owned=False).wait_one(S.EVENT_SIGNALED, timeout=0)


def test_wait_for_task_termination(job: Job) -> None:
    with job.create_process("p") as proc:
        with pytest.raises(TimedOutError):
            proc.wait_terminated(timeout=0.01)
        job.kill()
        assert proc.wait_terminated(timeout=LONG) & S.TASK_TERMINATED
        assert job.wait_terminated(timeout=LONG) & S.JOB_TERMINATED


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, -math.inf, datetime.timedelta(seconds=-1)])
def test_negative_or_nan_timeout_is_valueerror(bad: object) -> None:
    with Event.create() as event:
        with pytest.raises(ValueError):
            event.wait_one(S.EVENT_SIGNALED, timeout=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, False, "1", b"1", [1], 1j])
def test_non_number_timeout_is_typeerror(bad: object) -> None:
    with Event.create() as event:
        with pytest.raises(TypeError):
            event.wait_one(S.EVENT_SIGNALED, timeout=bad)  # type: ignore[arg-type]


def test_deadline_validation() -> None:
    with Event.create() as event:
        with pytest.raises(TypeError):
            event.wait_one(S.EVENT_SIGNALED, deadline=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            event.wait_one(S.EVENT_SIGNALED, deadline=True)
        with pytest.raises(ValueError):
            event.wait_one(S.EVENT_SIGNALED, deadline=2**63)
        with pytest.raises(ValueError):
            event.wait_one(S.EVENT_SIGNALED, timeout=1, deadline=0)


def test_signals_validation() -> None:
    with Event.create() as event:
        with pytest.raises(ValueError):
            event.wait_one(-1, timeout=0)
        with pytest.raises(ValueError):
            event.wait_one(2**32, timeout=0)
        with pytest.raises(TypeError):
            event.wait_one(1.0, timeout=0)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            event.wait_one(True, timeout=0)


def test_event_signal_rules() -> None:
    with Event.create() as event:
        # Only user signals and EVENT_SIGNALED may be set on an event.
        with pytest.raises(InvalidArgsError):
            event.signal(0, S.THREAD_RUNNING)
        with event.duplicate(Rights.BASIC) as no_signal:
            with pytest.raises(AccessDeniedError):
                no_signal.signal(0, S.USER_SIGNAL_1)
        event.set()
        event.clear()
        with pytest.raises(TimedOutError):
            event.wait_one(S.EVENT_SIGNALED, timeout=0)


# ---------------------------------------------------------------- properties of the conversion

@given(st.floats(min_value=0, max_value=1e7, allow_nan=False, exclude_min=True))
def test_positive_timeout_gives_a_deadline_at_least_that_far(timeout: float) -> None:
    before = zxpy.monotonic()
    deadline = to_deadline(timeout)
    assert before + math.floor(timeout * 1e9) <= deadline <= zxpy.monotonic() + math.ceil(timeout * 1e9) + 1


@given(st.one_of(st.floats(max_value=-1e-300), st.integers(max_value=-1)))
def test_any_negative_timeout_is_valueerror(timeout: float) -> None:
    with pytest.raises(ValueError):
        to_deadline(timeout)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_int64_deadline_passes_through(deadline: int) -> None:
    assert to_deadline(None, deadline) == deadline


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)))
def test_out_of_range_signals_are_valueerror_before_any_call(signals: int) -> None:
    with pytest.raises(ValueError):
        Handle(0xBADC0FFE, owned=False).wait_one(signals, timeout=0)


CTRL_C_SCRIPT = """
import sys
import zxpy
with zxpy.Job.default().create_job() as job:
    print("waiting", flush=True)
    try:
        job.wait_terminated()  # no timeout: only Ctrl-C ends it
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
"""


def test_ctrl_c_interrupts_a_wait_without_timeout() -> None:
    """SIGINT reaches a main thread blocked in an infinite wait as KeyboardInterrupt.

    The kernel wait itself does not return for a signal, so zxpy waits in short
    slices on the main thread; the job stays alive, so only the interrupt can
    end this wait.
    """
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.3)  # let it enter the wait
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=LONG)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3
    assert out.strip() == "interrupted"


def test_close_between_wait_slices_is_canceled() -> None:
    """A wait on the main thread is sliced; a close from another thread still ends it CANCELED."""
    event = Event.create()
    closer = threading.Timer(0.35, event.close)  # past a few 100 ms slices
    closer.start()
    try:
        with pytest.raises(CanceledError) as info:
            event.wait_one(S.EVENT_SIGNALED)
        assert info.value.syscall == "zx_object_wait_one"
    finally:
        closer.join(LONG)
    assert event.closed
