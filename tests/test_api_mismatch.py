"""Issue 10, finding 5: the API does what README and the docstrings say.

One block per mismatch found: each test failed before its fix.
"""

from __future__ import annotations

import copy
import errno
import gc
import pickle
import threading
import time
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from conftest import LONG, advances

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    CanceledError,
    Event,
    Handle,
    Job,
    Process,
    Rights,
    Signals,
    Thread,
    errors,
    wrap_handle,
)
from zxpy.errors import ZxError
from zxpy.testing import ProgressWorker


class Index:
    """An integer that is not an int: anything with ``__index__`` (what numpy integers are)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


# ---------------------------------------------------------------------------------------------- Process.wait


def test_process_wait_takes_a_deadline(job: Job) -> None:
    """README: every wait takes ``deadline=``; Process.wait refused it."""
    proc = job.create_process("p")
    with proc:
        with pytest.raises(zxpy.TimedOutError):
            proc.wait(deadline=zxpy.monotonic())
        proc.kill()
        assert proc.wait(deadline=zxpy.deadline_after(LONG)) == zxpy.TASK_RETCODE_SYSCALL_KILL
        with pytest.raises(ValueError):
            proc.wait(timeout=1, deadline=zxpy.monotonic())


# ---------------------------------------------------------------------------------------------- errors

OSERROR_ERRNO = {
    errors.NotFoundError: errno.ENOENT,
    errors.AccessDeniedError: errno.EACCES,
    errors.AlreadyExistsError: errno.EEXIST,
    errors.TimedOutError: errno.ETIMEDOUT,
    errors.ShouldWaitError: errno.EAGAIN,
    errors.PeerClosedError: errno.EPIPE,
    errors.NotDirError: errno.ENOTDIR,
    errors.NotFileError: errno.EISDIR,
    errors.NotConnectedError: errno.ENOTCONN,
    errors.ConnectionRefusedError: errno.ECONNREFUSED,
    errors.ConnectionResetError: errno.ECONNRESET,
    errors.ConnectionAbortedError: errno.ECONNABORTED,
    errors.IoError: errno.EIO,
    errors.IoRefusedError: errno.ECONNREFUSED,
    errors.IoDataIntegrityError: errno.EIO,
    errors.IoDataLossError: errno.EIO,
    errors.IoNotPresentError: errno.EIO,
    errors.IoOverrunError: errno.EIO,
    errors.IoMissedDeadlineError: errno.EIO,
    errors.IoInvalidError: errno.EIO,
}


def test_every_oserror_class_has_an_errno() -> None:
    oserror_classes = {c for c in set(errors._BY_STATUS.values()) if issubclass(c, OSError)}
    assert oserror_classes == set(OSERROR_ERRNO)
    for cls, code in OSERROR_ERRNO.items():
        err = cls(None, "zx_x", 5)
        assert isinstance(err, OSError)
        assert err.errno == code, cls
        assert err.strerror and err.status == cls.STATUS
        assert ZxError(cls.STATUS).errno == code  # type: ignore[attr-defined]
    assert not isinstance(ZxError(int(zxpy.Status.ERR_BAD_STATE)), OSError)


def test_a_missing_program_matches_enoent(job: Job) -> None:
    with pytest.raises(FileNotFoundError) as info:
        job.spawn(["/nonexistent/zxpy-program"])
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "/nonexistent/zxpy-program"
    assert isinstance(info.value, errors.NotFoundError) and info.value.status == zxpy.Status.ERR_NOT_FOUND


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_errors_round_trip_every_attribute(job: Job, how: str) -> None:
    dup: Any = {
        "pickle": lambda e: pickle.loads(pickle.dumps(e)),
        "copy": copy.copy,
        "deepcopy": copy.deepcopy,
    }[how]
    with pytest.raises(errors.NotFoundError) as info:
        job.spawn(["/nonexistent/zxpy-program"])
    err = info.value
    err.observed = Signals.TASK_TERMINATED
    err.filename2 = "/other"
    again = dup(err)
    assert type(again) is type(err)
    for attr in ("status", "syscall", "koid", "detail", "observed", "errno", "strerror", "filename", "filename2"):
        assert getattr(again, attr) == getattr(err, attr), attr
    assert str(again) == str(err) and again.args == err.args
    # A non-OSError class too.
    bad = errors.BadStateError(None, "zx_job_create", 1234, "killed")
    bad.observed = Signals(0)
    back = dup(bad)
    assert (back.status, back.syscall, back.koid, back.detail, back.observed) == (
        bad.status, bad.syscall, bad.koid, bad.detail, bad.observed)


# ---------------------------------------------------------------------------------------------- CanceledError.observed


def test_canceled_between_slices_reports_handle_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The main thread waits in slices; a close that lands between two slices is a cancel too.

    Zircon's wait reports HANDLE_CLOSED with a cancel (object_wait.cc); a slice that had timed
    out just before the close carried no such signal.  The close is made to land exactly there.
    """
    import zxpy.handle as handle_mod

    assert threading.current_thread() is threading.main_thread()
    event = Event.create()
    real = handle_mod._object_wait_one
    calls = []

    def wait_then_close(raw: int, signals: int, deadline: int, observed: Any) -> int:
        status = real(raw, signals, deadline, observed)
        calls.append(status)
        if len(calls) == 1 and status == zxpy.lib.ZX_ERR_TIMED_OUT:
            event.close()  # between this slice and the next
        return status

    monkeypatch.setattr(handle_mod, "_object_wait_one", wait_then_close)
    with pytest.raises(CanceledError) as info:
        event.wait_one(Signals.EVENT_SIGNALED, timeout=LONG)
    assert calls[0] == zxpy.lib.ZX_ERR_TIMED_OUT, "the first slice did not time out: nothing was tested"
    assert info.value.observed is not None and info.value.observed & Signals.HANDLE_CLOSED


def test_close_after_the_slice_check_is_a_cancel_not_bad_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The close lands after the wrapper's between-slices check and before the next slice looks the value
    up: the kernel answers BAD_HANDLE, but to the caller the handle was closed during its wait: CANCELED."""
    import zxpy.handle as handle_mod

    assert threading.current_thread() is threading.main_thread()
    event = Event.create()
    real = handle_mod._object_wait_one
    calls: list[int] = []

    def close_before_second_slice(raw: int, signals: int, deadline: int, observed: Any) -> int:
        if len(calls) == 1:
            event.close()  # after the check that followed the first slice
        status = real(raw, signals, deadline, observed)
        calls.append(status)
        return status

    monkeypatch.setattr(handle_mod, "_object_wait_one", close_before_second_slice)
    with pytest.raises(CanceledError) as info:
        event.wait_one(Signals.EVENT_SIGNALED, timeout=LONG)
    assert calls == [zxpy.lib.ZX_ERR_TIMED_OUT, zxpy.lib.ZX_ERR_BAD_HANDLE], calls
    assert info.value.observed is not None and info.value.observed & Signals.HANDLE_CLOSED


def test_canceled_wait_on_the_main_thread_always_reports_handle_closed() -> None:
    """Real closes from another thread, landing anywhere in the wait."""
    assert threading.current_thread() is threading.main_thread()
    missing = 0
    for i in range(40):
        event = Event.create()
        closer = threading.Timer(0.09 + (i % 5) * 0.005, event.close)
        closer.start()
        try:
            with pytest.raises(CanceledError) as info:
                event.wait_one(Signals.EVENT_SIGNALED, timeout=LONG)
        finally:
            closer.join()
        observed = info.value.observed
        if observed is None or not observed & Signals.HANDLE_CLOSED:
            missing += 1
    assert missing == 0


# ---------------------------------------------------------------------------------------------- Thread.suspend rights


@pytest.mark.parametrize("lacking", [Rights.INSPECT, Rights.WAIT])
def test_waiting_suspend_without_wait_or_inspect_fails_up_front(lacking: Rights) -> None:
    """A never-started thread seen through a handle without INSPECT was waited on forever."""
    proc = Process.self()
    with proc.create_thread("new") as thread:
        rights = (thread.basic_info().rights & ~lacking) | Rights.WRITE
        with thread.duplicate(rights) as weak:
            with pytest.raises(AccessDeniedError) as info:
                weak.suspend(timeout=5)
            assert "nothing was suspended" in str(info.value)
            # Nothing was suspended: no token exists.
            assert Process.self().handle_stats().get(zxpy.ObjType.SUSPEND_TOKEN, 0) == 0
            # Without waiting, WRITE is all it needs.
            with weak.suspend(wait=False):
                pass


def test_waiting_suspend_without_inspect_on_a_running_thread(worker: ProgressWorker) -> None:
    weak = worker.thread.duplicate(Rights.WRITE | Rights.WAIT)
    with weak:
        with pytest.raises(AccessDeniedError):
            weak.suspend(timeout=LONG)
    assert advances(lambda: worker.count), "the refused suspend left the worker stopped"


# ---------------------------------------------------------------------------------------------- ProgressWorker


def test_leaving_a_worker_with_an_open_token_fails_fast() -> None:
    worker = ProgressWorker()
    token = worker.thread.suspend(timeout=LONG)
    try:
        start = time.monotonic()
        with pytest.raises(BadStateError, match="suspend token"):
            worker.close()
        assert time.monotonic() - start < 9, "it still waited out the 10 s stop timeout"
        assert not worker.thread.closed, "the handle is kept so that close() can be retried"
    finally:
        token.close()
    worker.close()  # the token is gone: the thread now exits
    assert worker.thread.closed


def test_worker_with_block_reports_the_open_token() -> None:
    with pytest.raises(BadStateError, match="still open"):
        with ProgressWorker() as worker:
            token = worker.thread.suspend(timeout=LONG)
    token.close()
    worker.close()


# ---------------------------------------------------------------------------------------------- borrowed handles


def _runtime_values() -> list[tuple[str, int]]:
    return [
        ("job", Job.default().raw),
        ("process", Process.self().raw),
        ("thread", Thread.self().raw),
    ]


@pytest.mark.parametrize("which", ["job", "process", "thread"])
def test_wrapping_a_runtime_handle_borrows_it(which: str) -> None:
    raw = dict(_runtime_values())[which]
    for make in (lambda: wrap_handle(raw), lambda: Handle(raw)):
        h = make()
        try:
            assert not h.owned
        finally:
            if h.owned:  # do not close the runtime's handle if the assertion failed
                h.detach()
        h.close()  # forgets the value only
        del h
        gc.collect()
        assert Handle(raw, owned=False).is_valid(), "the runtime's handle was closed"
    with Job.default().create_job() as child:  # the default job still works
        child.kill()


@pytest.mark.parametrize("which", ["job", "process", "thread"])
def test_owning_a_runtime_handle_explicitly_is_refused(which: str) -> None:
    raw = dict(_runtime_values())[which]
    for make in (lambda: wrap_handle(raw, owned=True), lambda: Handle(raw, owned=True)):
        try:
            with pytest.raises(ValueError, match="runtime owns"):
                h = make()
                h.detach()  # only reached before the fix: give the value back untouched
        finally:
            gc.collect()
        assert Handle(raw, owned=False).is_valid()
    typed: Any = {"job": Job, "process": Process, "thread": Thread}[which]
    with pytest.raises(ValueError):
        typed(raw, owned=True).detach()
    plain = typed(raw)
    try:
        assert not plain.owned
    finally:
        if plain.owned:
            plain.detach()


def test_a_borrowed_wrapper_cannot_be_replaced_or_close_the_runtime_handle() -> None:
    h = wrap_handle(Job.default().raw)
    with pytest.raises(ValueError, match="borrowed"):
        h.replace(Rights.SAME_RIGHTS)
    assert Job.default().is_valid()
    # Ordinary values are still owned by default.
    event = Event.create()
    owned = wrap_handle(event.detach())
    assert owned.owned
    owned.close()


# ---------------------------------------------------------------------------------------------- __index__ and reals


def test_index_integers_are_accepted_everywhere(job: Job) -> None:
    with Event.create(Index(0)) as event:
        event.signal(Index(0), Index(int(Signals.USER_SIGNAL_0)))
        assert event.wait_one(Index(int(Signals.USER_SIGNAL_0)), timeout=0) & Signals.USER_SIGNAL_0
        assert event.wait_one(Signals.USER_SIGNAL_0, deadline=Index(zxpy.monotonic()))
        with event.duplicate(Index(int(Rights.WAIT | Rights.INSPECT))) as weak:
            assert weak.basic_info().rights == Rights.WAIT | Rights.INSPECT
        with event.duplicate(Index(int(Rights.SAME_RIGHTS))) as same:
            same.replace(Index(int(Rights.WAIT))).close()
        with Handle(Index(event.raw), owned=False) as borrowed:
            assert borrowed.koid == event.koid
    with job.create_job(Index(0)) as sub:
        with job.child(Index(sub.koid), Index(int(Rights.SAME_RIGHTS))) as again:
            assert again.koid == sub.koid
    with job.create_process("p", Index(0)) as proc:
        with proc.create_thread("t", Index(0)):
            pass
    err = ZxError(Index(int(zxpy.Status.ERR_NOT_FOUND)), koid=Index(7))
    assert isinstance(err, errors.NotFoundError) and err.koid == 7


def test_index_file_descriptors(job: Job) -> None:
    import os

    read_end, write_end = os.pipe()
    try:
        with job.spawn(["/bin/sh", "-c", "echo hi >&3"], fds={Index(3): Index(write_end)}) as proc:
            os.close(write_end)
            write_end = -1
            assert proc.wait(timeout=LONG) == 0
            assert os.read(read_end, 16) == b"hi\n"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


@pytest.mark.parametrize("timeout", [Fraction(1, 1000), Decimal("0.001"), Index(0), Fraction(0), Decimal(0)])
def test_real_timeouts_are_accepted(timeout: object) -> None:
    with Event.create() as event:
        with pytest.raises(zxpy.TimedOutError):
            event.wait_one(Signals.EVENT_SIGNALED, timeout=timeout)  # type: ignore[arg-type]
        event.signal(0, Signals.EVENT_SIGNALED)
        assert event.wait_one(Signals.EVENT_SIGNALED, timeout=timeout)  # type: ignore[arg-type]
    before = zxpy.monotonic()
    assert zxpy.deadline_after(Fraction(1, 10**9)) > before  # type: ignore[arg-type]


def test_real_timeouts_convert_exactly() -> None:
    from zxpy._time import _timeout_ns

    assert _timeout_ns(Fraction(1, 3)) == 333_333_334  # rounded up to the next ns
    assert _timeout_ns(Decimal("1.0000000001")) == 1_000_000_001
    assert _timeout_ns(Index(2)) == 2_000_000_000
    assert _timeout_ns(Decimal("Infinity")) is None and _timeout_ns(Fraction(10**40)) is None


@pytest.mark.parametrize(
    "bad", [Fraction(-1, 2), Decimal("-0.5"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Index(-1)]
)
def test_negative_and_nan_reals_are_value_errors(bad: object) -> None:
    with Event.create() as event:
        with pytest.raises(ValueError):
            event.wait_one(Signals.EVENT_SIGNALED, timeout=bad)  # type: ignore[arg-type]


def test_bool_is_still_refused_as_int_and_timeout() -> None:
    with Event.create() as event:
        with pytest.raises(TypeError):
            event.wait_one(True)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            event.wait_one(Signals.EVENT_SIGNALED, timeout=False)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            event.wait_one(Signals.EVENT_SIGNALED, deadline=True)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            event.wait_one(Signals.EVENT_SIGNALED, timeout=1j)  # type: ignore[arg-type]


def test_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    with Event.create() as event:
        event.signal(np.uint32(0), np.uint32(int(Signals.USER_SIGNAL_0)))
        assert event.wait_one(np.uint32(int(Signals.USER_SIGNAL_0)), timeout=np.float32(0.5))
        assert event.wait_one(Signals.USER_SIGNAL_0, timeout=np.int64(1))
        assert event.wait_one(Signals.USER_SIGNAL_0, deadline=np.int64(zxpy.monotonic()))
        with pytest.raises(TypeError):
            event.wait_one(np.bool_(True))
