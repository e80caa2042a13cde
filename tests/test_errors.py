"""The ZxError tree: one class per status, builtin bases, messages, pickling."""

from __future__ import annotations

import errno
import pickle

import pytest

import zxpy
from zxpy import Event, Job, Rights, Status, Task, Thread, errors
from zxpy.errors import (
    AccessDeniedError,
    BadHandleError,
    BadStateError,
    InvalidArgsError,
    NoMemoryError,
    NotFoundError,
    TimedOutError,
    WrongTypeError,
    ZxError,
)

ALWAYS_BAD = 0xBADC0FFE  # low bits not 0b11: never a valid handle value


def camel(c_name: str) -> str:
    return "".join(p.capitalize() for p in c_name[len("ZX_ERR_") :].split("_")) + "Error"


def all_error_statuses() -> list[Status]:
    return [s for s in Status if s is not Status.OK]


def test_every_zx_err_in_lib_has_a_status_member() -> None:
    in_lib = {name for name in dir(zxpy.lib) if name.startswith("ZX_ERR_")}
    assert in_lib == {s.c_name for s in all_error_statuses()}


@pytest.mark.parametrize("status", all_error_statuses(), ids=lambda s: s.c_name)
def test_one_class_per_status(status: Status) -> None:
    cls = getattr(errors, camel(status.c_name))
    assert issubclass(cls, ZxError)
    assert cls.STATUS == getattr(zxpy.lib, status.c_name)
    assert errors.error_class(int(status)) is cls
    err = ZxError(int(status), "zx_test_call", 1234)
    assert type(err) is cls
    assert err.status == status
    assert err.name == status.c_name
    assert err.syscall == "zx_test_call"
    assert err.koid == 1234
    text = str(err)
    assert status.c_name in text and "zx_test_call" in text and "1234" in text
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert (again.status, again.syscall, again.koid, str(again)) == (
        err.status, err.syscall, err.koid, str(err))


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (TimedOutError, TimeoutError),
        (AccessDeniedError, PermissionError),
        (NotFoundError, FileNotFoundError),
        (NotFoundError, LookupError),
        (NoMemoryError, MemoryError),
        (InvalidArgsError, ValueError),
        (errors.ShouldWaitError, BlockingIOError),
        (errors.AlreadyExistsError, FileExistsError),
        (errors.PeerClosedError, BrokenPipeError),
        (errors.ConnectionRefusedError, ConnectionRefusedError),
        (errors.IoError, OSError),
    ],
)
def test_builtin_bases(cls: type[ZxError], builtin: type[BaseException]) -> None:
    assert issubclass(cls, builtin)
    err = cls(syscall="zx_x", koid=7)
    assert err.status == cls.STATUS
    with pytest.raises(builtin):
        raise err


def test_oserror_subclasses_do_not_misread_status_as_errno() -> None:
    err = ZxError(int(Status.ERR_ACCESS_DENIED), "zx_task_kill", 99)
    assert isinstance(err, PermissionError)
    assert err.errno == errno.EACCES  # fdio's errno for the status, not the status itself
    assert err.filename is None
    assert str(err) == "zx_task_kill: ZX_ERR_ACCESS_DENIED (-30) [koid 99]"
    assert repr(err) == "AccessDeniedError(status=-30, syscall='zx_task_kill', koid=99)"


def test_kernel_only_classes_have_no_misleading_builtin() -> None:
    # Kernel WRONG_TYPE/BAD_HANDLE/BAD_STATE are not Python misuse.
    for cls in (WrongTypeError, BadHandleError, BadStateError, errors.CanceledError):
        assert not issubclass(cls, (TypeError, ValueError, OSError))


def test_unknown_status_stays_a_zxerror() -> None:
    err = ZxError(-999, "zx_something")
    assert type(err) is ZxError
    assert err.status == -999
    assert "-999" in err.name and "-999" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is ZxError and again.status == -999


def test_constructor_validation() -> None:
    with pytest.raises(TypeError):
        ZxError()
    with pytest.raises(TypeError):
        ZxError(True)
    with pytest.raises(TypeError):
        ZxError("ZX_ERR_BAD_HANDLE")


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        ((2**70,), {}, ValueError),  # status is a zx_status_t: int32
        ((2**31,), {}, ValueError),
        ((-(2**31) - 1,), {}, ValueError),
        ((-1, 5), {}, TypeError),  # syscall: str or None
        ((-1, b"zx_x"), {}, TypeError),
        ((-1, "zx_x", "x"), {}, TypeError),  # koid: int or None
        ((-1, "zx_x", 1.5), {}, TypeError),
        ((-1, "zx_x", True), {}, TypeError),
        ((-1, "zx_x", -1), {}, ValueError),  # koid is a zx_koid_t: uint64
        ((-1, "zx_x", 2**64), {}, ValueError),
        ((-1, "zx_x", 3, 7), {}, TypeError),  # detail: str or None
        ((), {"status": -1, "syscall": 5}, TypeError),
        ((), {"status": 2**70}, ValueError),
    ],
)
def test_constructor_rejects_bad_fields(args: tuple[object, ...], kwargs: dict[str, object],
                                        exc: type[Exception]) -> None:
    """Every field is what its docstring says, or a clear TypeError/ValueError (never a half-made error)."""
    with pytest.raises(exc):
        ZxError(*args, **kwargs)
    with pytest.raises(exc):
        BadHandleError(*args, **kwargs)


def test_constructor_accepts_the_field_limits() -> None:
    low = ZxError(-(2**31), None, 0, None)
    assert (low.status, low.syscall, low.koid, low.detail) == (-(2**31), None, 0, None)
    high = ZxError(2**31 - 1, "zx_x", 2**64 - 1, "d")
    assert (high.status, high.koid) == (2**31 - 1, 2**64 - 1)
    assert type(BadHandleError(koid=7)) is BadHandleError


@pytest.mark.parametrize("status", ["x", None, 1.0, True, b"-1"])
def test_error_class_needs_an_int_status(status: object) -> None:
    with pytest.raises(TypeError):
        errors.error_class(status)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        errors.raise_status(status)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [2**31, 2**70, -(2**31) - 1])
def test_error_class_needs_an_int32_status(status: int) -> None:
    with pytest.raises(ValueError):
        errors.error_class(status)


def test_pickle_keeps_observed_and_detail() -> None:
    err = TimedOutError(syscall="zx_object_wait_one", koid=5)
    err.observed = zxpy.Signals.USER_SIGNAL_0
    err.detail = "why"
    again = pickle.loads(pickle.dumps(err))
    assert again.observed == zxpy.Signals.USER_SIGNAL_0
    assert again.detail == "why"
    assert str(again).endswith(": why")


def test_check_and_raise_status() -> None:
    errors.check(0, "zx_ok")
    with pytest.raises(BadHandleError) as info:
        errors.check(int(Status.ERR_BAD_HANDLE), "zx_thing", 3)
    assert info.value.syscall == "zx_thing" and info.value.koid == 3
    with pytest.raises(WrongTypeError):
        errors.raise_status(int(Status.ERR_WRONG_TYPE))
    with pytest.raises(NotFoundError) as found:
        errors.check(int(Status.ERR_NOT_FOUND), "fdio_spawn_etc", None, "'/x': no such file")
    assert str(found.value) == "fdio_spawn_etc: ZX_ERR_NOT_FOUND (-25): '/x': no such file"


def test_from_status_is_what_the_constructor_gives() -> None:
    """The one status-to-exception path zxpy's calls use: as ZxError(...), not raised."""
    for status in [*all_error_statuses(), -12345]:
        made = errors.from_status(int(status), "zx_x", 7, "why")
        built = ZxError(int(status), "zx_x", 7, "why")
        assert type(made) is type(built)
        assert (made.status, made.syscall, made.koid, made.detail) == (int(status), "zx_x", 7, "why")
        assert getattr(made, "errno", None) == getattr(built, "errno", None)
        assert str(made) == str(built)
    with pytest.raises(TypeError):
        errors.from_status("x")  # type: ignore[arg-type]


# ---------------------------------------------------------------- raised by real calls


def test_bad_handle_names_the_syscall() -> None:
    with pytest.raises(BadHandleError) as info:
        Task(ALWAYS_BAD, owned=False).kill()
    assert info.value.syscall == "zx_task_kill"
    assert info.value.koid is None
    assert info.value.status == zxpy.lib.ZX_ERR_BAD_HANDLE


def test_kernel_error_carries_the_koid() -> None:
    with Event.create() as event:
        with pytest.raises(AccessDeniedError) as info:
            Task(event.raw, owned=False).kill()
        assert info.value.koid == event.koid
        assert info.value.syscall == "zx_task_kill"
        assert f"[koid {event.koid}]" in str(info.value)


def test_thread_kill_is_wrong_type_and_a_zxerror() -> None:
    with pytest.raises(ZxError) as info:
        Thread.self().kill()
    assert type(info.value) is WrongTypeError
    assert info.value.name == "ZX_ERR_WRONG_TYPE"


def test_invalid_args_from_kernel_is_also_valueerror() -> None:
    with Job.default().create_job() as job:
        with pytest.raises(ValueError) as info:
            job.duplicate(Rights.SAME_RIGHTS | Rights.DESTROY)
        assert isinstance(info.value, InvalidArgsError)
        assert info.value.syscall == "zx_handle_duplicate"
