"""The mechanisms behind the Pythonic layer's fast paths (issue 11) keep the behaviour of the slow ones.

* errors keep their fields in ``args`` (``ZxError.__getattr__``) instead of a per-instance ``__dict__``;
  ``Handle._error`` builds the kernel's errors inline: both equal what ``ZxError(...)`` gives;
* hot calls reuse out-parameters from free lists (``zxpy._raw.HANDLE_OUTS``...): a signal handler that makes
  the same calls in the middle of them, or another thread, never sees or overwrites another call's value;
* records are made by ``record_maker``: the same ``__dict__``, in the same order, as the dataclass's ``__init__``;
* ``duplicate`` fills the slots inline only for classes that keep ``Handle._adopt``.
"""

from __future__ import annotations

import dataclasses
import pickle
import signal
import threading
import time
from typing import Any

import pytest

import zxpy
from zxpy import Event, Handle, Job, Rights, Signals, errors
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


# ---------------------------------------------------------------- out-parameters


def test_out_parameters_are_reused() -> None:
    with Job.default().create_job() as job:
        job.duplicate().close()
        assert zxpy._raw.HANDLE_OUTS, "duplicate gave its out-parameter back"
        held = list(zxpy._raw.HANDLE_OUTS)
        job.duplicate().close()
        assert any(a is b for a in zxpy._raw.HANDLE_OUTS for b in held), "the same buffer served again"
        with pytest.raises(zxpy.WrongTypeError):
            job.suspend()
        assert zxpy._raw.HANDLE_OUTS, "a failing call gives its buffer back too"
        job.kill()


def test_a_held_out_parameter_is_never_written() -> None:
    """What a call interrupted between its syscall and its read sees: the nested call takes another buffer."""
    outs = zxpy._raw.HANDLE_OUTS
    sig_outs = zxpy._raw.SIGNALS_OUTS
    with Job.default().create_job() as job, Event.create() as event:
        job.duplicate().close()
        job.wait_one(Signals.JOB_NO_PROCESSES, timeout=0)
        mine, my_sig = outs.pop(), sig_outs.pop()  # as a call does: taken out of the lists
        mine[0] = 0xDEAD
        my_sig[0] = 0xBEEF
        outs.clear()
        sig_outs.clear()
        dup = job.duplicate()  # the nested call: finds the list empty, makes its own
        event.signal(0, Signals.USER_SIGNAL_0)
        assert event.wait_one(Signals.USER_SIGNAL_0, timeout=0) & Signals.USER_SIGNAL_0
        assert mine[0] == 0xDEAD and my_sig[0] == 0xBEEF
        assert all(b is not mine for b in outs) and all(b is not my_sig for b in sig_outs)
        assert dup.koid == job.koid
        dup.close()
        job.kill()


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
