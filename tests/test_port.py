"""zxpy.port: ports, user packets, zx_object_wait_async signal packets, zx_port_cancel (and bad input)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest

import zxpy
from zxpy import Event, Port, Rights, Signals
from zxpy.errors import (
    AccessDeniedError,
    BadHandleError,
    InvalidArgsError,
    NotFoundError,
    TimedOutError,
    WrongTypeError,
)
from zxpy.port import PACKET_SIGNAL_ONE, PACKET_USER

U0, U1, U2 = Signals.USER_SIGNAL_0, Signals.USER_SIGNAL_1, Signals.USER_SIGNAL_2


@pytest.fixture
def port() -> Port:
    with Port.create() as p:
        yield p


@pytest.fixture
def event() -> Event:
    with Event.create() as e:
        yield e


def test_create_rights_and_type(port: Port) -> None:
    info = port.basic_info()
    assert info.type == zxpy.ObjType.PORT
    assert info.rights == zxpy.lib.ZX_DEFAULT_PORT_RIGHTS
    assert not info.rights & Rights.WAIT
    assert isinstance(zxpy.wrap_handle(port.duplicate().detach()), Port)


def test_create_bad_options() -> None:
    with pytest.raises(InvalidArgsError):
        Port.create(2)
    with pytest.raises(TypeError):
        Port.create("0")  # type: ignore[arg-type]


def test_user_packets_fifo(port: Port) -> None:
    for key in (1, 2, 3):
        port.queue(key, bytes([key]) * 4, status=-key)
    for key in (1, 2, 3):
        pkt = port.wait(timeout=0)
        assert (pkt.key, pkt.type, pkt.status) == (key, PACKET_USER, -key)
        assert pkt.payload == bytes([key]) * 4 + bytes(28)
        assert not pkt.is_signal
    with pytest.raises(TimedOutError):
        port.wait(timeout=0)
    with pytest.raises(TimedOutError):
        port.wait(timeout=0.02)


def test_signal_packet_when_signalled(port: Port, event: Event) -> None:
    port.wait_async(event, 7, U0 | U1)
    with pytest.raises(TimedOutError):
        port.wait(0)
    event.signal(0, U2)
    with pytest.raises(TimedOutError):
        port.wait(0)
    event.signal(0, U1)
    pkt = port.wait(timeout=1)
    assert pkt.is_signal and pkt.type == PACKET_SIGNAL_ONE
    assert (pkt.key, pkt.status, pkt.trigger, pkt.observed, pkt.count, pkt.timestamp) == (7, 0, U0 | U1, U1 | U2, 1, 0)
    event.signal(U1, 0)
    event.signal(0, U1)
    with pytest.raises(TimedOutError):  # one shot
        port.wait(0)


def test_signal_packet_already_active_with_timestamp(port: Port, event: Event) -> None:
    event.signal(0, U0)
    before = zxpy.monotonic()
    port.wait_async(event, 8, U0, timestamp=True)
    pkt = port.wait(0)
    assert pkt.key == 8 and before <= pkt.timestamp <= zxpy.monotonic()


def test_edge_waits_for_a_transition(port: Port, event: Event) -> None:
    event.signal(0, U0)
    port.wait_async(event, 9, U0, edge=True)
    with pytest.raises(TimedOutError):
        port.wait(0)
    event.signal(U0, 0)
    event.signal(0, U0)
    assert port.wait(0).key == 9


def test_cancel_removes_observer_and_packet(port: Port, event: Event) -> None:
    with pytest.raises(NotFoundError):
        port.cancel(event, 1)
    port.wait_async(event, 1, U0)
    port.cancel(event, 1)
    event.signal(0, U0)
    with pytest.raises(TimedOutError):
        port.wait(0)
    with pytest.raises(NotFoundError):
        port.cancel(event, 1)
    port.wait_async(event, 2, U0)  # fires at once: the packet is queued
    port.cancel(event, 2)
    with pytest.raises(TimedOutError):
        port.wait(0)


def test_closing_the_handle_ends_the_wait(port: Port, event: Event) -> None:
    dup = event.duplicate()
    port.wait_async(dup, 3, U0)
    dup.close()
    event.signal(0, U0)
    with pytest.raises(TimedOutError):
        port.wait(0)
    dup = event.duplicate()
    port.wait_async(dup, 4, U0)  # queued at once: the packet outlives the handle
    dup.close()
    assert port.wait(0).key == 4


def test_closing_the_port_drops_its_observers(event: Event) -> None:
    p = Port.create()
    p.wait_async(event, 1, U1)
    p.wait_async(event, 2, U0)
    event.signal(0, U0)
    p.close()
    event.signal(0, U1)  # nothing to deliver to, nothing to crash


def test_bad_input(port: Port, event: Event) -> None:
    with pytest.raises(ValueError):
        port.queue(1, bytes(33))
    with pytest.raises(TypeError):
        port.queue(1, "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        port.queue(-1)
    with pytest.raises(ValueError):
        port.queue(1, status=1 << 31)
    with pytest.raises(TypeError):
        port.wait_async(3, 1, U0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        port.wait_async(event, 1 << 64, U0)
    with pytest.raises(ValueError):
        port.wait_async(event, 1, 1 << 32)
    with pytest.raises(TypeError):
        port.cancel(None, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        port.wait("soon")  # type: ignore[arg-type]
    # The kernel's checks: the port's type and rights, then the handle's.
    assert zxpy.lib.zx_object_wait_async(event.raw, event.raw, 1, U0, 0) == zxpy.lib.ZX_ERR_WRONG_TYPE
    with Port(event.duplicate().detach()) as not_a_port, pytest.raises(WrongTypeError):
        not_a_port.wait(0)
    with Port(port.duplicate(Rights.READ).detach()) as reader:
        with pytest.raises(AccessDeniedError):
            reader.wait_async(event, 1, U0)
        with pytest.raises(AccessDeniedError):
            reader.queue(1)
        with pytest.raises(AccessDeniedError):
            reader.cancel(event, 1)
    with event.duplicate(Rights.SIGNAL) as no_wait:
        with pytest.raises(AccessDeniedError):
            port.wait_async(no_wait, 1, U0)
    with pytest.raises(AccessDeniedError):
        port.wait_async(port, 1, U0)  # a port is not waitable
    closed = Event.create()
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        port.wait_async(closed, 1, U0)
    with pytest.raises(ValueError, match="closed"):
        port.cancel(closed, 1)
    gone = Port.create()
    gone.close()
    for call in (lambda: gone.wait(0), lambda: gone.queue(1), lambda: gone.cancel(event, 1)):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_raw_bad_handles() -> None:
    lib = zxpy.lib
    assert lib.zx_object_wait_async(0, 0, 1, 1, 0) == lib.ZX_ERR_BAD_HANDLE
    assert lib.zx_object_wait_async(0, 0, 1, 1, 0x80) == lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_port_cancel(0, 0, 1) == lib.ZX_ERR_BAD_HANDLE
    with pytest.raises(BadHandleError):
        Port(0xFFFF_FFF3, owned=False).wait(0)


# ------------------------------------------------------------------------------------- Ctrl-C and signal handlers


@pytest.fixture
def sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever the runner installed."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _sigint_main_thread_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_interrupts_an_infinite_port_wait(port: Port, sigint_handler: None) -> None:
    """SIGINT reaches the main thread blocked in ``Port.wait()`` with no deadline, promptly, and leaves nothing
    behind: the interrupted wait took no packet and holds no handle; the port works on."""
    assert threading.current_thread() is threading.main_thread()
    from zxpy.pytest_plugin import handle_count

    handles = handle_count()
    timer = _sigint_main_thread_after(0.3)
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            port.wait()
    finally:
        timer.join()
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.5, elapsed  # within about one 100 ms slice of the signal
    assert handle_count() == handles
    port.queue(5, b"after")
    assert port.wait(timeout=0).key == 5  # the packet goes to the next wait: the interrupted one took nothing
    with pytest.raises(TimedOutError):
        port.wait(timeout=0)


def test_python_signal_handler_runs_during_port_wait(port: Port) -> None:
    """A handler that does not raise runs while the main thread waits, and the wait goes on to take the packet
    queued later; one that raises ends the wait with its exception."""
    ran = threading.Event()

    def record(signum: int, frame: object) -> None:
        ran.set()

    def feed() -> None:  # the packet comes only once the handler has run: so the handler ran during the wait
        if ran.wait(10):
            port.queue(11, b"late")

    old = signal.signal(signal.SIGUSR1, record)
    try:
        main = threading.main_thread().ident
        assert main is not None
        kick = threading.Timer(0.25, signal.pthread_kill, (main, signal.SIGUSR1))
        feeder = threading.Thread(target=feed)
        kick.start()
        feeder.start()
        pkt = port.wait(timeout=10)
        kick.join()
        feeder.join()
        assert pkt.key == 11 and ran.is_set()

        class Stop(Exception):
            pass

        def stop(signum: int, frame: object) -> None:
            raise Stop

        signal.signal(signal.SIGUSR1, stop)
        kick = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGUSR1))
        kick.start()
        with pytest.raises(Stop):
            port.wait(timeout=10)
        kick.join()
    finally:
        signal.signal(signal.SIGUSR1, old)


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_close_during_port_wait_runs_to_the_deadline(where: str) -> None:
    """Zircon: closing a port's (last) handle does not wake its waiter; the wait ends TIMED_OUT at its deadline.
    The main thread's sliced wait and another thread's single kernel wait agree."""
    p = Port.create()
    outcome: list[object] = []

    def waiter() -> None:
        start = time.monotonic()
        try:
            p.wait(timeout=0.6)
            outcome.append("packet")
        except Exception as err:  # noqa: BLE001 - the outcome is the assertion
            outcome.append(err)
        outcome.append(time.monotonic() - start)

    closer = threading.Timer(0.25, p.close)
    closer.start()
    if where == "main thread":
        waiter()
    else:
        t = threading.Thread(target=waiter)
        t.start()
        t.join(10)
    closer.join()
    err, elapsed = outcome
    assert isinstance(err, TimedOutError), err
    assert isinstance(elapsed, float) and elapsed >= 0.59, elapsed
    assert p.closed


# ------------------------------------------------------------------------------------- zx_packet_signal_t.count


def test_signal_packet_count_is_one(port: Port, event: Event) -> None:
    """``count`` is 1 in every signal packet: armed on an active signal, fired later, EDGE, TIMESTAMP, and for
    a task's TERMINATED (Zircon's PortDispatcher::Queue in every kernel that knows ZX_WAIT_ASYNC_EDGE;
    docs/asyncio.md has the history)."""
    event.signal(0, U0)
    port.wait_async(event, 1, U0)  # already active: queued at once
    port.wait_async(event, 2, U1)  # fired later
    port.wait_async(event, 3, U0, edge=True, timestamp=True)
    event.signal(0, U1)
    event.signal(U0, 0)
    event.signal(0, U0)
    packets = [port.wait(timeout=0) for _ in range(3)]
    assert sorted(p.key for p in packets) == [1, 2, 3]
    assert [p.count for p in packets] == [1, 1, 1]
    with zxpy.Job.default().create_job() as job, job.spawn(["/bin/true"]) as proc:
        port.wait_async(proc, 4, Signals.TASK_TERMINATED)
        pkt = port.wait(timeout=30)
        assert (pkt.key, pkt.count) == (4, 1) and pkt.observed & Signals.TASK_TERMINATED
