"""ZX_INFO_THREAD reports a blocked thread as Zircon does: ``BLOCKED_<what it waits in>``, never ``RUNNING``.

The host kernel records its own waits exactly (``zx_object_wait_one``, ``zx_nanosleep``, ``zx_port_wait``,
``zx_channel_call``); a thread blocked in Linux instead is read from ``/proc`` and mapped to the nearest Zircon
wait (the table in host/thread_state.c and docs/thread-states.md): sleeping -> ``BLOCKED_SLEEPING``, a futex ->
``BLOCKED_FUTEX``, one descriptor -> ``BLOCKED_WAIT_ONE``, poll/select -> ``BLOCKED_WAIT_MANY``, epoll ->
``BLOCKED_PORT``.  This holds for spawned programs and for threads of this process.  Each check polls until the
state is seen (a thread passes through RUNNING on its way into the call), with a generous deadline.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from conftest import LONG

import zxpy
from zxpy import Event, Job, Signals, Thread, ThreadState, _raw
from zxpy.testing import ProgressWorker

S = ThreadState


def seen(thread: Thread, want: ThreadState, timeout: float = LONG) -> list[object]:
    """Poll the thread's state until it is ``want``; return the states seen on the way (last: ``want``)."""
    states: list[object] = []
    end = time.monotonic() + timeout
    while True:
        state = thread.info().state
        if not states or states[-1] != state:
            states.append(state)
        if state == want:
            return states
        if time.monotonic() > end:
            pytest.fail(f"never saw {want!r}; saw {states}")
        time.sleep(0.002)


@contextmanager
def program(job: Job, blocker: str, mode: str) -> Iterator[tuple[zxpy.Process, list[Thread]]]:
    """A running ``blocker MODE`` (stdin: an empty pipe we keep open), with handles to its two threads."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = job.spawn([blocker, mode], fds={0: in_r, 1: out_w})
    finally:
        os.close(in_r)
        os.close(out_w)
    threads: list[Thread] = []
    try:
        assert os.read(out_r, 6) == b"ready\n"
        end = time.monotonic() + LONG
        while len(proc.threads()) < 2:
            assert time.monotonic() < end, "the helper's second thread never appeared"
            time.sleep(0.002)
        threads = [proc.child(koid) for koid in proc.threads()]
        yield proc, threads
    finally:
        proc.kill()
        proc.wait_terminated(timeout=LONG)
        for t in threads:
            t.close()
        proc.close()
        os.close(in_w)
        os.close(out_r)


@pytest.mark.parametrize(
    ("mode", "want"),
    [
        ("sleep", S.BLOCKED_SLEEPING),
        ("pause", S.BLOCKED_SLEEPING),
        ("futex", S.BLOCKED_FUTEX),
        ("read", S.BLOCKED_WAIT_ONE),
        ("poll", S.BLOCKED_WAIT_MANY),
        ("epoll", S.BLOCKED_PORT),
    ],
)
def test_spawned_program_blocked_in_linux(job: Job, helper_bin: Callable[[str], str], mode: str,
                                          want: ThreadState) -> None:
    """A spawned program's main thread in nanosleep / pause / futex / read / poll / epoll_wait reports the mapped
    BLOCKED_* state; its other thread, in a futex wait, reports BLOCKED_FUTEX."""
    with program(job, helper_bin("blocker"), mode) as (_, (main, other)):
        states = seen(main, want)
        assert S.RUNNING not in states[-1:]
        seen(other, S.BLOCKED_FUTEX)
        # Suspension wins over the blocked state, and the blocked state is back after the resume.
        with main.suspend(timeout=LONG):
            assert main.info().state == S.SUSPENDED
        seen(main, want)


def test_state_basic_is_blocked(job: Job, helper_bin: Callable[[str], str]) -> None:
    """Every BLOCKED_* reduces to BLOCKED with ZX_THREAD_STATE_BASIC, as on Zircon."""
    with program(job, helper_bin("blocker"), "sleep") as (_, (main, _other)):
        seen(main, S.BLOCKED_SLEEPING)
        assert S.BLOCKED_SLEEPING.basic == S.BLOCKED


@contextmanager
def own_thread(body: Callable[[threading.Event], None]) -> Iterator[Thread]:
    """A Python thread of this process running ``body(stop)``; yields an owned handle to it."""
    handles: list[Thread] = []
    got = threading.Event()
    stop = threading.Event()

    def run() -> None:
        handles.append(Thread.self().duplicate())
        got.set()
        body(stop)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert got.wait(LONG)
    try:
        yield handles[0]
    finally:
        stop.set()
        th.join(LONG)
        assert not th.is_alive()
        handles[0].close()


def test_own_thread_in_os_read() -> None:
    r, w = os.pipe()
    try:
        with own_thread(lambda stop: os.read(r, 1)) as t:
            try:
                seen(t, S.BLOCKED_WAIT_ONE)
            finally:
                os.write(w, b"x")
    finally:
        os.close(r)
        os.close(w)


def test_own_thread_in_time_sleep() -> None:
    def body(stop: threading.Event) -> None:
        while not stop.is_set():
            time.sleep(0.2)

    with own_thread(body) as t:
        seen(t, S.BLOCKED_SLEEPING)


def test_own_thread_in_event_wait() -> None:
    with own_thread(lambda stop: stop.wait()) as t:
        seen(t, S.BLOCKED_FUTEX)


def test_own_thread_in_zx_waits() -> None:
    """Waits of the host kernel itself are recorded exactly: wait_one -> BLOCKED_WAIT_ONE, zx_nanosleep ->
    BLOCKED_SLEEPING."""
    with Event.create() as ev:
        with own_thread(lambda stop: ev.wait_one(Signals.USER_SIGNAL_0, timeout=LONG)) as t:
            try:
                seen(t, S.BLOCKED_WAIT_ONE)
            finally:
                ev.signal(0, Signals.USER_SIGNAL_0)

    def nap(stop: threading.Event) -> None:
        while not stop.is_set():
            _raw.nanosleep(zxpy.deadline_after(0.2))

    with own_thread(nap) as t:
        seen(t, S.BLOCKED_SLEEPING)


def test_main_thread_in_wait_one() -> None:
    """The main thread blocked in Handle.wait_one, seen from another thread, is BLOCKED_WAIT_ONE."""
    main = Thread.self().duplicate()
    result: list[object] = []
    with Event.create() as ev:

        def observe() -> None:
            try:
                result.append(seen(main, S.BLOCKED_WAIT_ONE))
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                result.append(e)
            finally:
                ev.signal(0, Signals.USER_SIGNAL_0)

        th = threading.Thread(target=observe)
        th.start()
        ev.wait_one(Signals.USER_SIGNAL_0, timeout=2 * LONG)
        th.join(LONG)
    main.close()
    assert isinstance(result[0], list), result[0]


def test_running_thread_is_running(worker: ProgressWorker) -> None:
    """The calling thread is RUNNING (it is on a CPU as it asks); a C thread of this process that runs a
    zx_nanosleep loop (ProgressWorker) is BLOCKED_SLEEPING while it sleeps, as the host kernel records."""
    assert Thread.self().info().state == S.RUNNING
    seen(worker.thread, S.BLOCKED_SLEEPING)
