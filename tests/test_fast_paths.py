"""The mechanisms behind the fast paths (issue 11) keep the behaviour of the slow ones.

* errors keep their fields in ``args`` (``ZxError.__getattr__``) instead of a per-instance ``__dict__``;
  ``Handle._error`` and the C base (csrc/fastcalls.c) build the kernel's errors without ``__init__``: both equal
  what ``ZxError(...)`` gives;
* the hot calls are methods of the C bases ``HandleCore``/``TaskCore``/``ProcessCore``: they check their arguments
  as the Python layer does, and a signal handler or another thread making the same calls in the middle of them
  never sees another call's value;
* records are made by ``record_maker`` or by the C base: the same ``__dict__``, in the same order, as the
  dataclass's ``__init__``;
* ``duplicate`` fills the slots itself only for classes that keep ``HandleCore._adopt``.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import signal
import threading
import time
import warnings
from typing import Any

import pytest
from conftest import LONG, as_kind

import zxpy
from zxpy import BadHandleError, Event, Handle, Job, Rights, Signals, errors
from zxpy._fastcalls import HandleCore, ProcessCore, TaskCore
from zxpy._record import record_maker
from zxpy.errors import ZxError
from zxpy.handle import HandleBasicInfo
from zxpy.process import ProcessInfo


def _statuses() -> list[int]:
    return [int(s) for s in zxpy.Status if int(s) != 0] + [-12345]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("status", _statuses())
def test_error_fields_live_in_args(status: int) -> None:
    made = errors.from_status(status, "zx_x", 7)
    built = ZxError(status, "zx_x", 7)
    for err in (made, built):
        assert vars(err) == {}  # no per-instance dict is built for the fields
        assert err.args == (status, "zx_x", 7, None)
        assert (err.status, err.syscall, err.koid, err.detail, err.observed) == (status, "zx_x", 7, None, None)
    assert str(made) == str(built) and repr(made) == repr(built)
    assert getattr(made, "errno", None) == getattr(built, "errno", None)
    assert getattr(made, "strerror", None) == getattr(built, "strerror", None)


def test_error_message_is_the_one_built_from_the_fields() -> None:
    err = errors.from_status(zxpy.lib.ZX_ERR_WRONG_TYPE, "zx_task_suspend", 1234, "why")
    assert str(err) == f"zx_task_suspend: ZX_ERR_WRONG_TYPE ({zxpy.lib.ZX_ERR_WRONG_TYPE}) [koid 1234]: why"
    assert repr(err) == f"WrongTypeError(status={zxpy.lib.ZX_ERR_WRONG_TYPE}, syscall='zx_task_suspend', koid=1234)"
    assert err.name == "ZX_ERR_WRONG_TYPE"


def test_assigned_error_fields_win_and_survive_pickling() -> None:
    err = errors.from_status(zxpy.lib.ZX_ERR_TIMED_OUT, "zx_object_wait_one", 3)
    err.koid = 9
    err.observed = Signals.USER_SIGNAL_1
    assert err.koid == 9 and err.observed == Signals.USER_SIGNAL_1
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert (again.status, again.syscall) == (err.status, "zx_object_wait_one")
    assert (again.koid, again.observed) == (9, err.observed)
    assert again.errno == err.errno


def test_unknown_error_attribute_is_an_attribute_error() -> None:
    err = errors.from_status(zxpy.lib.ZX_ERR_BAD_STATE, "zx_x")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        err.nope  # noqa: B018
    assert not hasattr(err, "nope")
    assert getattr(err, "__notes__", None) is None  # what traceback printing asks


@pytest.mark.parametrize("status", _statuses())
def test_handle_error_is_what_from_status_gives(status: int) -> None:
    with Event.create() as event:
        koid = event.koid
        err = event._error(status, "zx_x")
        want = errors.from_status(status, "zx_x", None if status == zxpy.lib.ZX_ERR_BAD_HANDLE else koid)
        assert type(err) is type(want)
        assert err.args == want.args
        assert (err.status, err.syscall, err.koid, err.detail, err.observed) == (
            want.status, want.syscall, want.koid, want.detail, want.observed)
        assert getattr(err, "errno", None) == getattr(want, "errno", None)
        assert getattr(err, "strerror", None) == getattr(want, "strerror", None)
        assert str(err) == str(want)
        detailed = event._error(status, "zx_x", "more")
        assert detailed.detail == "more" and str(detailed) == str(errors.from_status(status, "zx_x", want.koid, "more"))


def test_failing_call_error_is_complete() -> None:
    with Job.default().create_job() as job:
        with pytest.raises(zxpy.WrongTypeError) as info:
            job.suspend()
        err = info.value
        assert (err.status, err.syscall, err.koid, err.detail) == (
            zxpy.lib.ZX_ERR_WRONG_TYPE, "zx_task_suspend", job.koid, None)
        assert str(err) == str(ZxError(zxpy.lib.ZX_ERR_WRONG_TYPE, "zx_task_suspend", job.koid))
        job.kill()


# ---------------------------------------------------------------- the C bases


def test_handle_core_is_only_a_base() -> None:
    assert HandleCore in Handle.__mro__ and TaskCore in zxpy.Job.__mro__ and ProcessCore in zxpy.Process.__mro__
    with pytest.raises(TypeError, match="base"):
        HandleCore()
    h = Handle.__new__(Handle)  # what a failing __init__ leaves: closed, nothing to close
    assert h.closed and not h.owned and h._koid is None
    h.close()


def test_c_calls_bind_their_arguments_as_python_does() -> None:
    with Event.create() as event:
        event.signal(0, Signals.USER_SIGNAL_0)
        assert event.wait_one(Signals.USER_SIGNAL_0, timeout=0) & Signals.USER_SIGNAL_0
        assert event.wait_one(signals=int(Signals.USER_SIGNAL_0), timeout=0.0) & Signals.USER_SIGNAL_0
        assert type(event.wait_one(Signals.USER_SIGNAL_0, 0)) is Signals
        with pytest.raises(TypeError, match="missing required argument 'signals'"):
            event.wait_one()  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="at most 3 arguments"):
            event.wait_one(1, 0, None, 4)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
            event.wait_one(1, bogus=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="multiple values for argument 'signals'"):
            event.wait_one(1, signals=1)  # type: ignore[misc]
        # What the poll does not take goes to the Python wait and its checks.
        with pytest.raises(TypeError, match="signals"):
            event.wait_one(True, timeout=0)
        for bad in (-1, 2**32, 2**80):
            with pytest.raises(ValueError, match="signals"):
                event.wait_one(bad, timeout=0)
        with pytest.raises(zxpy.TimedOutError) as info:
            event.wait_one(Signals.USER_SIGNAL_1, timeout=0)
        assert info.value.observed == Signals.USER_SIGNAL_0 and info.value.syscall == "zx_object_wait_one"
        with pytest.raises(TypeError, match="rights"):
            event.duplicate(True)
        with pytest.raises(ValueError, match="rights"):
            event.duplicate(-1)
        with pytest.raises(TypeError, match="at most 1 arguments"):
            event.duplicate(1, 2)  # type: ignore[call-arg]
        with event.duplicate(rights=Rights.BASIC) as dup:
            assert dup.basic_info().rights == Rights.BASIC and type(dup) is Event and dup.koid == event.koid
        with event.duplicate(Rights.SAME_RIGHTS) as dup:
            assert dup.basic_info().rights == event.basic_info().rights


def test_c_errors_are_what_from_status_gives() -> None:
    with Job.default().create_job() as job:
        proc = job.create_process("p")
        token = proc.suspend()
        koid = token.koid
        with pytest.raises(zxpy.AccessDeniedError) as info:
            token.duplicate()  # suspend tokens never have DUPLICATE
        err, want = info.value, errors.from_status(zxpy.lib.ZX_ERR_ACCESS_DENIED, "zx_handle_duplicate", koid)
        assert type(err) is type(want) and err.args == want.args and str(err) == str(want)
        assert (err.errno, err.strerror) == (want.errno, want.strerror)  # type: ignore[attr-defined]
        token.close()
        stale = Handle(proc.duplicate().detach())
        zxpy.lib.zx_handle_close(stale._raw)  # the kernel forgets the value; the wrapper does not know
        with pytest.raises(BadHandleError) as bad:
            as_kind(zxpy.Task, stale).kill()
        assert bad.value.koid is None and bad.value.syscall == "zx_task_kill"  # BAD_HANDLE names no object
        stale.detach()
        proc.close()
        job.kill()


def test_c_records_are_the_dataclass_instances() -> None:
    with Job.default().create_job() as job:
        proc = job.spawn(["/bin/true"])
        proc.wait_terminated(timeout=LONG)
        for record, cls in ((proc.info(), ProcessInfo), (proc.basic_info(), HandleBasicInfo)):
            built = cls(*dataclasses.astuple(record))
            assert type(record) is cls and record == built and hash(record) == hash(built)
            assert list(vars(record).items()) == list(vars(built).items())
            assert pickle.loads(pickle.dumps(record)) == built
            with pytest.raises(dataclasses.FrozenInstanceError):
                record.koid = 1  # type: ignore[misc, union-attr]
        info = proc.info()
        assert info.exited and info.return_code == 0 and isinstance(info.started, bool)
        if info.flags is not None:
            assert type(info.flags) is zxpy.ProcessInfoFlags
        proc.close()


def test_a_wrapper_cannot_be_copied_or_pickled() -> None:
    """A copy would own the same value twice (two closes: the second BAD_HANDLE, or someone else's handle)."""
    with Event.create() as event:
        for copier in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError):
                copier(event)
        assert event.is_valid()


def test_with_calls_an_overridden_close() -> None:
    closed: list[str] = []

    class Logged(Event):
        __slots__ = ()

        def close(self) -> None:
            closed.append("mine")
            super().close()

    with Event.create() as event, Logged(event.duplicate().detach()) as logged:
        pass
    assert closed == ["mine"] and logged.closed and event.closed


def test_an_unclosed_wrapper_is_closed_with_a_resource_warning() -> None:
    event = Event.create()
    raw = event.raw
    with pytest.warns(ResourceWarning, match=f"unclosed Event handle {raw:#x}"):
        del event
        gc.collect()
    assert zxpy.lib.zx_handle_close(raw) == zxpy.lib.ZX_ERR_BAD_HANDLE
    borrowed = Handle(Job.default().raw, owned=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del borrowed  # a borrowed value is only forgotten: no warning
        gc.collect()
    assert Job.default().is_valid()


def test_signal_handler_making_the_same_calls_mid_call() -> None:
    """A SIGALRM handler duplicates, polls and suspends as fast as the timer fires while the main thread does the
    same: every value each side gets is its own (a shared buffer would give one side the other's handle, which
    the close below would see as BAD_HANDLE or as a handle of the wrong object)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run on the main thread only")
    job = Job.default().create_job()
    proc = job.create_process("p")
    event = Event.create()
    event.signal(0, Signals.USER_SIGNAL_0)
    failures: list[str] = []
    handled = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal handled
        handled += 1
        try:
            with proc.duplicate() as dup:
                if dup.koid != proc.koid:
                    failures.append("handler: duplicate of the wrong object")
            if not event.wait_one(Signals.USER_SIGNAL_0, timeout=0) & Signals.USER_SIGNAL_0:
                failures.append("handler: wrong observed signals")
            proc.suspend().close()
            if event.basic_info().koid != event.koid:
                failures.append("handler: wrong basic info")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"handler: {exc!r}")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        end = time.monotonic() + 0.5
        rounds = 0
        while time.monotonic() < end:
            rounds += 1
            dup = job.duplicate()
            assert dup.basic_info().koid == job.koid
            dup.close()
            observed = job.wait_one(Signals.JOB_NO_JOBS, timeout=0)
            assert observed & Signals.JOB_NO_JOBS and not observed & Signals.USER_SIGNAL_0
            token = proc.suspend()
            assert token.basic_info().type == zxpy.ObjType.SUSPEND_TOKEN
            token.close()
            info = proc.info()
            assert not info.started and not info.exited
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)
    assert not failures, failures[:5]
    assert handled > 10 and rounds > 10, (handled, rounds)
    for h in (event, proc):
        h.close()
    job.kill()
    job.close()


def test_threads_share_the_free_lists_safely() -> None:
    job = Job.default().create_job()
    errors_seen: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2000):
                with job.duplicate(Rights.BASIC) as dup:
                    info = dup.basic_info()
                    assert info.koid == job.koid and info.rights == Rights.BASIC
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors_seen.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors_seen, errors_seen[:3]
    job.kill()
    job.close()


# ---------------------------------------------------------------- records and wrappers


def test_record_maker_gives_the_dataclass_instance() -> None:
    make = record_maker(ProcessInfo)
    # Headers before ZX_INFO_PROCESS version 1 (the 2021 SDK) name no flag: the record's flags are None there.
    flags = zxpy.ProcessInfoFlags(0) if zxpy.ProcessInfoFlags.__members__ else None
    fields = (5, 6, flags, True, False, False)
    made, built = make(*fields), ProcessInfo(*fields)
    assert made == built and repr(made) == repr(built) and hash(made) == hash(built)
    assert list(vars(made).items()) == list(vars(built).items())
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.return_code = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(made)) == built
    assert dataclasses.replace(made, exited=True) == ProcessInfo(5, 6, flags, True, True, False)
    basic = Job.default().basic_info()
    assert isinstance(basic, HandleBasicInfo) and isinstance(basic.rights, Rights)
    assert basic == HandleBasicInfo(basic.koid, basic.rights, basic.type, basic.related_koid)


def test_duplicate_calls_an_overridden_adopt() -> None:
    class Tagged(Handle):
        __slots__ = ("tag",)

        @classmethod
        def _adopt(cls, raw: int, owned: bool = True, koid: int | None = None) -> Tagged:
            obj = super()._adopt(raw, owned, koid)
            obj.tag = "adopted"
            return obj

    class Plain(Handle):
        __slots__ = ()

    assert not Tagged._PLAIN_ADOPT and Plain._PLAIN_ADOPT
    with Event.create() as event:
        tagged = Tagged(event.duplicate().detach())
        with tagged.duplicate() as dup:
            assert type(dup) is Tagged and dup.tag == "adopted" and dup.koid == event.koid
        tagged.close()
        plain = Plain(event.duplicate().detach())
        with plain.duplicate() as dup2:
            assert type(dup2) is Plain and dup2.owned and dup2.koid == event.koid
        plain.close()
