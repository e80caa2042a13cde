"""Handle: ownership, close, duplicate/replace rights rules, basic info, GC."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator

import pytest
from conftest import handle_count

import zxpy
from zxpy import (
    AccessDeniedError,
    BadHandleError,
    Event,
    Handle,
    InvalidArgsError,
    Job,
    ObjType,
    Process,
    Rights,
    Signals,
    SuspendToken,
    Thread,
)

ALWAYS_BAD = 0xBADC0FFE


def raw_valid(raw: int) -> bool:
    """Ask the kernel (ZX_INFO_HANDLE_VALID) about a raw value."""
    return Handle(raw, owned=False).is_valid()


def test_close_is_idempotent_and_frees_the_handle() -> None:
    before = handle_count()
    event = Event.create()
    assert handle_count() == before + 1
    raw = event.raw
    assert not event.closed and raw_valid(raw)
    event.close()
    assert event.closed
    assert not raw_valid(raw)
    assert handle_count() == before
    event.close()  # second close: nothing happens


def test_closed_handle_raises_valueerror_everywhere() -> None:
    event = Event.create()
    event.close()
    for call, what in (
        (lambda: event.raw, "raw"),
        (lambda: event.koid, "zx_object_get_info"),  # never read while open: it would be cached
        (event.basic_info, "zx_object_get_info"),
        (lambda: event.duplicate(), "zx_handle_duplicate"),
        (lambda: event.replace(), "zx_handle_replace"),
        (lambda: event.wait_one(Signals.EVENT_SIGNALED, timeout=0), "zx_object_wait_one"),
        (lambda: event.signal(0, Signals.EVENT_SIGNALED), "zx_object_signal"),
        (event.set, "zx_object_signal"),
        (event.detach, "detach"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"handle is closed ({what})"
    with pytest.raises(ValueError, match=r"^handle is closed \(with\)$"), event:
        pass
    cached = Event.create()
    assert cached.koid
    cached.close()
    with pytest.raises(ValueError, match=r"^handle is closed \(koid\)$"):
        _ = cached.koid
    assert not event.is_valid()


def test_context_manager_closes() -> None:
    with Event.create() as event:
        raw = event.raw
        assert raw_valid(raw)
    assert event.closed and not raw_valid(raw)


def test_context_manager_closes_on_exception() -> None:
    with pytest.raises(RuntimeError), Event.create() as event:
        raw = event.raw
        raise RuntimeError("boom")
    assert event.closed and not raw_valid(raw)


def test_unclosed_handle_is_closed_at_gc_with_resourcewarning() -> None:
    before = handle_count()
    event = Event.create()
    raw = event.raw
    with pytest.warns(ResourceWarning, match="unclosed Event"):
        del event
        gc.collect()
    assert not raw_valid(raw)
    assert handle_count() == before


def test_borrowed_handles_are_never_closed() -> None:
    for make in (Job.default, Process.self, Thread.self):
        obj = make()
        raw = obj.raw
        assert not obj.owned
        obj.close()
        assert obj.closed
        assert raw_valid(raw), make
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            again = make()
            del again
            gc.collect()
        assert make().raw == raw


def test_raw_value_validation() -> None:
    with pytest.raises(TypeError):
        Handle("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Handle(True)
    with pytest.raises(TypeError):
        Handle(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Handle(-1)
    with pytest.raises(ValueError):
        Handle(2**32)


@pytest.mark.parametrize("owned", ["no", "", 1, 0, None, 1.0])
def test_owned_must_be_a_bool(owned: object) -> None:
    """``owned="no"`` used to make an owned wrapper (truthiness); it is a TypeError, as is any non-bool."""
    with pytest.raises(TypeError):
        Handle(ALWAYS_BAD, owned=owned)  # type: ignore[arg-type]
    with Event.create() as event:
        with pytest.raises(TypeError):
            zxpy.wrap_handle(event.raw, owned=owned)  # type: ignore[arg-type]
        assert event.is_valid(), "a refused wrap_handle must not close the value"
    assert not Handle(ALWAYS_BAD, owned=False).owned and Handle(0, owned=True).owned


def test_close_of_a_bad_value_is_bad_handle_and_invalid_is_ok() -> None:
    bad = Handle(ALWAYS_BAD)
    with pytest.raises(BadHandleError) as info:
        bad.close()
    assert info.value.syscall == "zx_handle_close"
    assert bad.closed
    Handle(zxpy.HANDLE_INVALID).close()  # ZX_HANDLE_INVALID closes with ZX_OK


def test_basic_info_of_an_event() -> None:
    with Event.create() as event:
        info = event.basic_info()
        assert info.type is ObjType.EVENT
        assert info.rights == zxpy.DEFAULT_EVENT_RIGHTS == Rights.BASIC | Rights.SIGNAL
        assert info.related_koid == 0
        assert info.koid == event.koid > zxpy.enums.KOID_KERNEL
        with pytest.raises(Exception) as frozen:
            info.koid = 1  # type: ignore[misc]
        assert "frozen" in type(frozen.value).__name__.lower() or isinstance(frozen.value, AttributeError)


def test_related_koids_follow_the_task_tree(job: Job) -> None:
    child = job.create_job()
    proc = child.create_process("related")
    thread = proc.create_thread("related")
    try:
        assert child.basic_info().related_koid == job.koid
        assert proc.basic_info().related_koid == child.koid
        assert thread.basic_info().related_koid == proc.koid
        assert Process.self().basic_info().related_koid == Job.default().koid
        assert Thread.self().basic_info().related_koid == Process.self().koid
    finally:
        for h in (thread, proc, child):
            h.close()


def test_default_rights_of_new_tasks(job: Job) -> None:
    with job.create_job() as child, child.create_process("p") as proc, proc.create_thread("t") as thread:
        assert child.basic_info().rights == zxpy.DEFAULT_JOB_RIGHTS
        assert proc.basic_info().rights == zxpy.DEFAULT_PROCESS_RIGHTS
        assert thread.basic_info().rights == zxpy.DEFAULT_THREAD_RIGHTS
        assert child.basic_info().type is ObjType.JOB
        assert proc.basic_info().type is ObjType.PROCESS
        assert thread.basic_info().type is ObjType.THREAD


def test_koids_are_unique() -> None:
    events = [Event.create() for _ in range(5)]
    try:
        assert len({e.koid for e in events}) == 5
    finally:
        for e in events:
            e.close()


# ---------------------------------------------------------------- duplicate


def test_duplicate_same_rights_names_the_same_object() -> None:
    with Event.create() as event, event.duplicate() as dup:
        assert type(dup) is Event
        assert dup.raw != event.raw
        assert dup.koid == event.koid
        assert dup.basic_info().rights == event.basic_info().rights
        event.set()
        assert dup.wait_one(Signals.EVENT_SIGNALED, timeout=0) & Signals.EVENT_SIGNALED


def test_duplicate_with_fewer_rights() -> None:
    with Event.create() as event, event.duplicate(Rights.WAIT) as dup:
        assert dup.basic_info().rights == Rights.WAIT
        # No DUPLICATE right on the copy: ACCESS_DENIED.
        with pytest.raises(AccessDeniedError) as info:
            dup.duplicate()
        assert info.value.syscall == "zx_handle_duplicate"


def test_duplicate_rights_none_is_allowed() -> None:
    with Event.create() as event, event.duplicate(Rights.NONE) as dup:
        assert dup.basic_info().rights == Rights.NONE


def test_duplicate_asking_for_more_rights_is_invalid_args() -> None:
    with Event.create() as event, event.duplicate(Rights.WAIT | Rights.DUPLICATE) as dup:
        with pytest.raises(InvalidArgsError):
            dup.duplicate(Rights.WAIT | Rights.DUPLICATE | Rights.EXECUTE)
        with pytest.raises(InvalidArgsError):
            event.duplicate(Rights.SAME_RIGHTS | Rights.WAIT)


def test_duplicate_argument_validation() -> None:
    with Event.create() as event:
        before = handle_count()
        for bad in (-1, 2**32):
            with pytest.raises(ValueError):
                event.duplicate(bad)
        for wrong in (True, 1.0, "WAIT", None):
            with pytest.raises(TypeError):
                event.duplicate(wrong)  # type: ignore[arg-type]
        assert handle_count() == before


# ---------------------------------------------------------------- replace


def test_replace_consumes_the_source() -> None:
    event = Event.create()
    raw = event.raw
    koid = event.koid
    with event.replace(Rights.WAIT | Rights.INSPECT) as new:
        assert event.closed and not raw_valid(raw)
        assert type(new) is Event
        assert new.koid == koid
        assert new.basic_info().rights == Rights.WAIT | Rights.INSPECT


def test_failed_replace_still_consumes_the_source() -> None:
    before = handle_count()
    event = Event.create(options=0)
    raw = event.raw
    with pytest.raises(InvalidArgsError) as info:
        event.replace(zxpy.DEFAULT_EVENT_RIGHTS | Rights.EXECUTE)
    assert info.value.syscall == "zx_handle_replace"
    assert event.closed
    assert not raw_valid(raw)
    assert handle_count() == before


def test_replace_same_rights_keeps_rights() -> None:
    with Event.create() as event:
        rights = event.basic_info().rights
        with event.replace() as new:
            assert new.basic_info().rights == rights


def test_replace_of_borrowed_handle_is_refused() -> None:
    with pytest.raises(ValueError):
        Process.self().replace(Rights.SAME_RIGHTS)
    assert Process.self().is_valid()


# ---------------------------------------------------------------- misc


def test_detach_gives_up_ownership() -> None:
    event = Event.create()
    raw = event.detach()
    assert event.closed and raw_valid(raw)
    del event
    gc.collect()
    assert raw_valid(raw)
    Handle(raw).close()
    assert not raw_valid(raw)


def test_wrap_handle_picks_the_class(job: Job) -> None:
    with job.duplicate() as dup:
        wrapped = zxpy.wrap_handle(dup.detach())
        with wrapped:
            assert type(wrapped) is Job
            assert wrapped.koid == job.koid
    with Event.create() as event:
        wrapped = zxpy.wrap_handle(event.detach())
        with wrapped:
            assert type(wrapped) is Event
    with pytest.raises(BadHandleError):
        zxpy.wrap_handle(ALWAYS_BAD, owned=False)


def test_handle_valid_topic() -> None:
    with Event.create() as event:
        assert event.is_valid()
    assert not Handle(ALWAYS_BAD, owned=False).is_valid()


def test_repr() -> None:
    with Event.create() as event:
        _ = event.koid
        assert f"koid={event.koid}" in repr(event)
        assert repr(event).startswith("<Event 0x")
    assert repr(event) == "<Event closed>"
    assert "borrowed" in repr(Process.self())


def test_suspend_token_is_a_handle_subclass() -> None:
    assert issubclass(SuspendToken, Handle)


def test_unclosed_handles_at_interpreter_exit_are_quiet() -> None:
    """__del__ at shutdown: no traceback, no crash, exit status 0."""
    code = (
        "import zxpy, zxpy.testing\n"
        "event = zxpy.Event.create()\n"
        "class Holder: pass\n"
        "h = Holder(); h.job = zxpy.Job.default().create_job(); h.me = h\n"
        "worker = zxpy.testing.ProgressWorker()\n"
    )
    for mode in ("default", "always", "error"):
        result = subprocess.run([sys.executable, "-W", f"{mode}::ResourceWarning", "-c", code],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


# ---------------------------------------------------------------- one consumer per handle value


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch Python threads as often as the interpreter allows, to widen every race window."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _race(nthreads: int, body: Callable[[int], None]) -> None:
    """Run ``body(i)`` in ``nthreads`` threads released together; re-raise the first error; never hang."""
    start = threading.Barrier(nthreads)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            body(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    if errors:
        raise errors[0]


@pytest.mark.usefixtures("fast_switching")
def test_concurrent_close_closes_each_value_once() -> None:
    """Many threads close the same wrappers: every close() returns None ("a second close does nothing"),
    the kernel sees exactly one zx_handle_close per value (a second one would be BAD_HANDLE, or close a
    value reused by someone else), and the handle count is back to its baseline."""
    before = Process.self().handle_stats()
    for _ in range(50):
        handles = [Event.create() for _ in range(50)]
        results: list[object] = []

        def close_all(i: int, handles: list[Event] = handles, results: list[object] = results) -> None:
            for h in handles:
                results.append(h.close())

        _race(6, close_all)
        assert results == [None] * (6 * len(handles))
        assert all(h.closed for h in handles)
    assert Process.self().handle_stats() == before


@pytest.mark.usefixtures("fast_switching")
def test_close_replace_detach_race_has_one_winner() -> None:
    """close, replace and detach of the same wrapper from several threads: exactly one of them consumes the
    value; the others see a closed handle (ValueError) or do nothing (close).  Nothing leaks, and the value
    that was detached or replaced is closed exactly once afterwards (ZX_OK)."""
    before = Process.self().handle_stats()
    for _ in range(20):
        handles = [Event.create() for _ in range(40)]
        won: list[tuple[str, object]] = []

        def consume(i: int, handles: list[Event] = handles, won: list[tuple[str, object]] = won) -> None:
            for n, h in enumerate(handles):
                op = (i + n) % 3
                try:
                    if op == 0:
                        h.close()
                        continue
                    got: object = h.replace(Rights.SAME_RIGHTS) if op == 1 else h.detach()
                except ValueError as exc:
                    assert str(exc) in ("handle is closed (zx_handle_replace)", "handle is closed (detach)")
                    continue
                won.append((("replace", "detach")[op - 1], got))  # list.append: atomic

        _race(6, consume)
        assert all(h.closed for h in handles)
        assert len(won) <= len(handles)
        for how, got in won:
            if how == "replace":
                assert isinstance(got, Event)
                got.close()
            else:
                assert isinstance(got, int)
                assert zxpy.lib.zx_handle_close(got) == zxpy.lib.ZX_OK, "a detached value was already closed"
        assert Process.self().handle_stats() == before, f"after {len(won)} winners"
    assert Process.self().handle_stats() == before
