"""The ``ZxError`` tree: one exception class per ``ZX_ERR_*`` status.

Every kernel failure surfaces as a subclass of :class:`ZxError` named after
its status in CamelCase plus ``Error`` (``ZX_ERR_BAD_HANDLE`` ->
:class:`BadHandleError`).  Where Python has a builtin exception that means the
same thing, the class inherits it too, so generic handlers keep working::

    TimedOutError        TimeoutError
    AccessDeniedError    PermissionError
    NotFoundError        FileNotFoundError, LookupError  (fdio_spawn of a
                         missing path and a get_child koid that is not there)
    NoMemoryError        MemoryError
    InvalidArgsError     ValueError
    ShouldWaitError      BlockingIOError
    AlreadyExistsError   FileExistsError
    PeerClosedError      BrokenPipeError
    NotDirError          NotADirectoryError
    NotFileError         IsADirectoryError
    Connection*Error     the builtin of the same name (Refused, Reset, Aborted)
    NotConnectedError    ConnectionError
    Io*Error             OSError

Each instance carries ``status`` (int), ``name`` (``"ZX_ERR_BAD_HANDLE"``),
``syscall`` (``"zx_task_kill"``) and ``koid`` (the object's koid when it was
cheaply known, else ``None``).  A status zxpy has no class for still raises a
plain :class:`ZxError`.  ``ZxError(status, ...)`` itself returns an instance of
the matching subclass, as ``OSError(errno, ...)`` does.

The ``OSError`` subclasses also carry the ``errno`` fdio gives the status
(``fdio_status_to_errno``, sdk/lib/fdio/unistd.cc): ``NotFoundError`` ENOENT,
``AccessDeniedError`` EACCES, ``AlreadyExistsError`` EEXIST, ``TimedOutError``
ETIMEDOUT, ``ShouldWaitError`` EAGAIN, ``PeerClosedError`` EPIPE,
``NotDirError`` ENOTDIR, ``NotFileError`` EISDIR, ``NotConnectedError``
ENOTCONN, the ``Connection*Error`` classes ECONNREFUSED/ECONNRESET/ECONNABORTED,
``IoRefusedError`` ECONNREFUSED and the other ``Io*Error`` classes EIO (with
``strerror`` to match), so ``err.errno == errno.ENOENT`` works.  Errors pickle
and copy with every attribute (``filename`` and ``observed`` included).
"""

from __future__ import annotations

import builtins
import errno as _errno
import os
from typing import Any, ClassVar, NoReturn

from . import _abi
from ._ints import as_int
from ._raw import BUILD_INFO, lib

__all__ = [
    "ZxError",
    "error_class",
    "from_status",
    "check",
    "raise_status",
    # Subclasses (one per ZX_ERR_*), listed so `from zxpy.errors import *` works.
    "InternalError",
    "NotSupportedError",
    "FeatureMissingError",
    "NoResourcesError",
    "NoMemoryError",
    "InternalIntrRetryError",
    "InvalidArgsError",
    "BadHandleError",
    "WrongTypeError",
    "BadSyscallError",
    "OutOfRangeError",
    "BufferTooSmallError",
    "BadStateError",
    "TimedOutError",
    "ShouldWaitError",
    "CanceledError",
    "PeerClosedError",
    "NotFoundError",
    "AlreadyExistsError",
    "AlreadyBoundError",
    "UnavailableError",
    "AccessDeniedError",
    "IoError",
    "IoRefusedError",
    "IoDataIntegrityError",
    "IoDataLossError",
    "IoNotPresentError",
    "IoOverrunError",
    "IoMissedDeadlineError",
    "IoInvalidError",
    "BadPathError",
    "NotDirError",
    "NotFileError",
    "FileBigError",
    "NoSpaceError",
    "NotEmptyError",
    "StopError",
    "NextError",
    "AsyncError",
    "ProtocolNotSupportedError",
    "AddressUnreachableError",
    "AddressInUseError",
    "NotConnectedError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "InternalIntrKilledError",
]

_BY_STATUS: dict[int, type[ZxError]] = {}
#: For each status of ``_BY_STATUS``, what :func:`from_status` needs to make its error without ``__init__``:
#: the base ``__new__`` that accepts the class (as ``ZxError.__new__`` picks it), the class, and the errno and
#: strerror of an OSError subclass (else None).
_FAST: dict[int, tuple[Any, type[ZxError], int | None, str | None]] = {}
_OSERROR_ATTRS = ("errno", "strerror", "filename", "filename2")
#: Where each field of a ZxError is in its ``args`` (``ZxError.__getattr__``).
_ARG_FIELDS = {"status": 0, "syscall": 1, "koid": 2, "detail": 3}
_I32_MIN = -(2**31)
_I32_MAX = 2**31 - 1
_U64_MAX = 2**64 - 1


def _check_status(status: object) -> int:
    """A ``zx_status_t`` (int32_t); bool is not an int here."""
    number = as_int(status, "status")
    if not _I32_MIN <= number <= _I32_MAX:
        raise ValueError(f"status must be a zx_status_t (int32), got {number}")
    return number


def _check_optional(value: object, kind: type, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{what} must be a {kind.__name__} or None, not {type(value).__name__}")


def _set_errno(err: object, code: int) -> None:
    """Give an OSError subclass instance the errno ``code`` (and its strerror)."""
    if isinstance(err, OSError):
        err.errno = code
        err.strerror = os.strerror(code)


def _oserror_state(err: object) -> dict[str, Any]:
    """The OSError attributes that live outside ``__dict__`` (errno, strerror, file names)."""
    if not isinstance(err, OSError):
        return {}
    return {attr: getattr(err, attr) for attr in _OSERROR_ATTRS}


#: The C name of each status in the table (``_abi``'s "status" group, which ``enums.Status`` mirrors), by the
#: value the compiled headers give it.  Read from the table, not from ``enums``, so that ``enums`` can raise
#: ``FeatureMissingError`` without an import cycle.
_STATUS_NAMES: dict[int, str] = {
    int(getattr(lib, c.name)): c.name for c in _abi.CONSTANTS if c.group == "status"
}


def _status_name(status: int) -> str:
    return _STATUS_NAMES.get(status, f"ZX_ERR_UNKNOWN({status})")


class ZxError(Exception):
    """A Zircon call failed.

    ``ZxError(status, syscall=None, koid=None, detail=None)``: ``status`` a
    ``zx_status_t`` (an int32), ``syscall`` the failing call's name (str or
    None), ``koid`` the object's ``zx_koid_t`` (0..2**64-1, or None) and
    ``detail`` extra text (str or None); anything else is a TypeError or
    ValueError.  Constructing the base class with a known status gives the
    matching subclass.  Subclasses may be constructed without a status (their
    own is used).
    """

    #: The status this class stands for (``None`` on the base class).
    STATUS: ClassVar[int | None] = None
    #: The errno of an ``OSError`` subclass (fdio's mapping of the status), else None.
    ERRNO: ClassVar[int | None] = None

    status: int
    syscall: str | None
    koid: int | None
    detail: str | None
    #: Signals observed by a wait that failed (TIMED_OUT, CANCELED), else None.
    observed: int | None

    def __new__(cls, *args: Any, **kwargs: Any) -> ZxError:
        target = cls
        if cls is ZxError:
            status = args[0] if args else kwargs.get("status")
            try:
                target = _BY_STATUS.get(as_int(status, "status"), ZxError)
            except TypeError:
                pass  # __init__ reports it
        try:
            return super(ZxError, target).__new__(target)
        except TypeError:
            # MemoryError's own __new__ refuses subclasses whose layout base
            # is Exception (NoMemoryError): Exception.__new__ is the safe one.
            return Exception.__new__(target)

    def __init__(
        self,
        status: int | None = None,
        syscall: str | None = None,
        koid: int | None = None,
        detail: str | None = None,
    ) -> None:
        if status is None:
            status = type(self).STATUS
            if status is None:
                raise TypeError("ZxError() needs a status")
        status = _check_status(status)
        _check_optional(syscall, str, "syscall")
        _check_optional(detail, str, "detail")
        if koid is not None:
            koid = as_int(koid, "koid")
            if not 0 <= koid <= _U64_MAX:
                raise ValueError(f"koid must be a zx_koid_t (0..2**64-1), got {koid}")
        # The fields live in ``args`` only (``__getattr__`` reads them): BaseException.__init__ directly, since
        # OSError.__init__ would read the status as an errno.
        BaseException.__init__(self, status, syscall, koid, detail)
        code = type(self).ERRNO
        if code is not None:
            _set_errno(self, code)

    def __getattr__(self, attr: str) -> Any:
        """``status``, ``syscall``, ``koid`` and ``detail`` from ``args``; ``observed`` None until a wait sets it.

        Called only for names the instance and its class lack: the fields are not copied into a per-instance
        ``__dict__`` when the error is made (issue 11: that dict was about a third of the cost of a failing
        call), and an assignment (``err.observed = ...``, ``err.koid = ...``) stores an ordinary attribute,
        which then takes precedence.
        """
        index = _ARG_FIELDS.get(attr)
        if index is not None:
            args = self.args
            return args[index] if index < len(args) else None
        if attr == "observed":
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}", name=attr, obj=self)

    @property
    def name(self) -> str:
        """The status's C name, e.g. ``"ZX_ERR_BAD_HANDLE"``."""
        return _status_name(self.status)

    def __str__(self) -> str:
        text = f"{self.name} ({self.status})"
        if self.syscall:
            text = f"{self.syscall}: {text}"
        if self.koid is not None:
            text += f" [koid {self.koid}]"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, syscall={self.syscall!r},"
            f" koid={self.koid!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # OSError keeps errno, strerror and the file names outside __dict__: carry them over too
        # (BaseException.__setstate__ sets each key as an attribute).
        state = dict(self.__dict__)
        state.update(_oserror_state(self))
        return (type(self), (self.status, self.syscall, self.koid, self.detail), state)


def error_class(status: int) -> type[ZxError]:
    """The exception class raised for ``status`` (``ZxError`` if unknown).

    ``status`` must be an int32 (TypeError / ValueError otherwise).
    """
    if type(status) is int:  # the kernel's own statuses: one lookup
        cls = _BY_STATUS.get(status)
        if cls is not None:
            return cls
    return _BY_STATUS.get(_check_status(status), ZxError)


def from_status(
    status: int, syscall: str | None = None, koid: int | None = None, detail: str | None = None
) -> ZxError:
    """The exception for a call that returned ``status``: the one place zxpy turns a status into an error.

    As ``ZxError(status, syscall, koid, detail)`` (the subclass for ``status``), with the class looked
    up once.  Call sites guard with ``if status:`` so ZX_OK costs no call.

    The kernel's own arguments (a known status as an exact int, str or None names, an exact int koid in
    range or None) skip the constructor's checks: the instance is made as ``ZxError.__init__`` would make
    it (same class, ``args``, errno and strerror) in about a third of the time (issue 11).
    """
    fast = _FAST.get(status) if type(status) is int else None
    if (
        fast is None
        or (syscall is not None and type(syscall) is not str)
        or (detail is not None and type(detail) is not str)
        or (koid is not None and (type(koid) is not int or not 0 <= koid <= _U64_MAX))
    ):
        return _BY_STATUS.get(status, ZxError)(status, syscall, koid, detail)
    new, cls, code, strerror = fast
    err: ZxError = new(cls)
    err.args = (status, syscall, koid, detail)  # the fields: ZxError.__getattr__
    if code is not None:
        err.errno = code  # type: ignore[attr-defined]  # the OSError subclasses (_FAST has code only for them)
        err.strerror = strerror  # type: ignore[attr-defined]
    return err


def raise_status(
    status: int, syscall: str | None = None, koid: int | None = None, detail: str | None = None
) -> NoReturn:
    """Raise the ZxError subclass for ``status`` (:func:`from_status`)."""
    raise from_status(status, syscall, koid, detail)


def check(status: int, syscall: str | None = None, koid: int | None = None, detail: str | None = None) -> None:
    """Return if ``status`` is ZX_OK, else raise its ZxError subclass (:func:`from_status`).

    For callers of ``zxpy.lib``; zxpy's own call sites test ``if status:`` inline and raise
    :func:`from_status`, which saves this call on success.
    """
    if status:
        raise from_status(status, syscall, koid, detail)


# One class per ZX_ERR_*.  The status is looked up by name in _STATUS_NAMES (whose
# values come from the compiled headers); nothing numeric is typed here.


class InternalError(ZxError):
    """ZX_ERR_INTERNAL: the system encountered an unexpected error."""


class NotSupportedError(ZxError):
    """ZX_ERR_NOT_SUPPORTED: the operation is not implemented or allowed.

    E.g. suspending the calling thread or the calling process.
    """


class FeatureMissingError(NotSupportedError, AttributeError):
    """A name or call newer than the SDK this zxpy was built against.

    ``feature`` is the gated feature (``zxpy/_abi.py``) or, for a single
    constant, its C name.  Also an ``AttributeError``, so ``hasattr`` and
    ``getattr(obj, name, default)`` treat a missing enum member as absent.
    """

    feature: str | None = None

    @property
    def name(self) -> str:
        """The status's C name (``"ZX_ERR_NOT_SUPPORTED"``)."""
        return _status_name(self.status)

    @name.setter
    def name(self, value: object) -> None:
        # Python fills in AttributeError.name (the attribute looked up) when
        # the error leaves a getattr; the status name is what zxpy reports.
        pass

    @classmethod
    def for_feature(cls, feature: str, what: str) -> FeatureMissingError:
        """The error for ``what`` (a call or name) needing ``feature``, naming the SDK."""
        sdk = BUILD_INFO["sdk"].get("description") or "unknown headers"
        err = cls(
            None,
            None,
            None,
            f"{what} needs {feature!r}, which the headers zxpy was built against lack ({sdk})",
        )
        err.feature = feature
        return err

    @classmethod
    def for_constant(cls, name: str, what: str) -> FeatureMissingError:
        """The error for ``what`` needing the constant ``name`` (or the feature gating it)."""
        gate = next((c.gate for c in _abi.CONSTANTS if c.name == name), None)
        feature = name if gate in (None, "optional") else str(gate)
        return cls.for_feature(feature, what if feature == name else f"{what} ({name})")


class NoResourcesError(ZxError):
    """ZX_ERR_NO_RESOURCES: a resource (such as handle table space) ran out."""


class NoMemoryError(ZxError, MemoryError):
    """ZX_ERR_NO_MEMORY: memory could not be allocated."""


class InternalIntrRetryError(ZxError):
    """ZX_ERR_INTERNAL_INTR_RETRY: vDSO-private; a syscall was interrupted."""


class InvalidArgsError(ZxError, ValueError):
    """ZX_ERR_INVALID_ARGS: an argument is invalid.

    E.g. ``duplicate()`` asking for rights the source handle lacks.
    """


class BadHandleError(ZxError):
    """ZX_ERR_BAD_HANDLE: a handle value is not a valid handle."""


class WrongTypeError(ZxError):
    """ZX_ERR_WRONG_TYPE: the handle names an object of the wrong type.

    E.g. killing a thread, or suspending a job.
    """


class BadSyscallError(ZxError):
    """ZX_ERR_BAD_SYSCALL: the syscall number is invalid."""


class OutOfRangeError(ZxError):
    """ZX_ERR_OUT_OF_RANGE: an argument is outside the valid range."""


class BufferTooSmallError(ZxError):
    """ZX_ERR_BUFFER_TOO_SMALL: a caller-provided buffer is too small."""


class BadStateError(ZxError):
    """ZX_ERR_BAD_STATE: the object is not in a state that allows the call.

    E.g. suspending a dead task, or creating a child in a killed job.
    """


class TimedOutError(ZxError, TimeoutError):
    """ZX_ERR_TIMED_OUT: the deadline passed first (``observed`` is set)."""


class ShouldWaitError(ZxError, BlockingIOError):
    """ZX_ERR_SHOULD_WAIT: the operation cannot complete now."""


class CanceledError(ZxError):
    """ZX_ERR_CANCELED: e.g. the handle being waited on was closed."""


class PeerClosedError(ZxError, BrokenPipeError):
    """ZX_ERR_PEER_CLOSED: the other end of a channel-like object is closed."""


class NotFoundError(ZxError, FileNotFoundError, LookupError):
    """ZX_ERR_NOT_FOUND: the requested entity does not exist.

    ``fdio_spawn`` of a missing path and ``zx_object_get_child`` of an unknown
    koid both give it; hence both FileNotFoundError and LookupError.
    """


class AlreadyExistsError(ZxError, FileExistsError):
    """ZX_ERR_ALREADY_EXISTS: the entity already exists."""


class AlreadyBoundError(ZxError):
    """ZX_ERR_ALREADY_BOUND: the binding already exists."""


class UnavailableError(ZxError):
    """ZX_ERR_UNAVAILABLE: the resource is temporarily unavailable."""


class AccessDeniedError(ZxError, PermissionError):
    """ZX_ERR_ACCESS_DENIED: the handle lacks a right the call needs."""


class IoError(ZxError, OSError):
    """ZX_ERR_IO: an I/O error."""


class IoRefusedError(ZxError, OSError):
    """ZX_ERR_IO_REFUSED: the device refused the operation."""


class IoDataIntegrityError(ZxError, OSError):
    """ZX_ERR_IO_DATA_INTEGRITY: data integrity check failed."""


class IoDataLossError(ZxError, OSError):
    """ZX_ERR_IO_DATA_LOSS: data was lost."""


class IoNotPresentError(ZxError, OSError):
    """ZX_ERR_IO_NOT_PRESENT: the device is not present."""


class IoOverrunError(ZxError, OSError):
    """ZX_ERR_IO_OVERRUN: too much data."""


class IoMissedDeadlineError(ZxError, OSError):
    """ZX_ERR_IO_MISSED_DEADLINE: an I/O deadline was missed."""


class IoInvalidError(ZxError, OSError):
    """ZX_ERR_IO_INVALID: invalid I/O."""


class BadPathError(ZxError):
    """ZX_ERR_BAD_PATH: the path is malformed."""


class NotDirError(ZxError, NotADirectoryError):
    """ZX_ERR_NOT_DIR: not a directory."""


class NotFileError(ZxError, IsADirectoryError):
    """ZX_ERR_NOT_FILE: not a file."""


class FileBigError(ZxError):
    """ZX_ERR_FILE_BIG: the file is too large."""


class NoSpaceError(ZxError):
    """ZX_ERR_NO_SPACE: no space left."""


class NotEmptyError(ZxError):
    """ZX_ERR_NOT_EMPTY: the directory is not empty."""


class StopError(ZxError):
    """ZX_ERR_STOP: flow control (stop)."""


class NextError(ZxError):
    """ZX_ERR_NEXT: flow control (next)."""


class AsyncError(ZxError):
    """ZX_ERR_ASYNC: flow control (asynchronous)."""


class ProtocolNotSupportedError(ZxError):
    """ZX_ERR_PROTOCOL_NOT_SUPPORTED: the protocol is not supported."""


class AddressUnreachableError(ZxError):
    """ZX_ERR_ADDRESS_UNREACHABLE: the host is unreachable."""


class AddressInUseError(ZxError):
    """ZX_ERR_ADDRESS_IN_USE: the address is in use."""


class NotConnectedError(ZxError, ConnectionError):
    """ZX_ERR_NOT_CONNECTED: not connected."""


class ConnectionRefusedError(ZxError, builtins.ConnectionRefusedError):  # noqa: A001
    """ZX_ERR_CONNECTION_REFUSED (also the builtin of the same name)."""


class ConnectionResetError(ZxError, builtins.ConnectionResetError):  # noqa: A001
    """ZX_ERR_CONNECTION_RESET (also the builtin of the same name)."""


class ConnectionAbortedError(ZxError, builtins.ConnectionAbortedError):  # noqa: A001
    """ZX_ERR_CONNECTION_ABORTED (also the builtin of the same name)."""


class InternalIntrKilledError(ZxError):
    """ZX_ERR_INTERNAL_INTR_KILLED: vDSO-private; the thread is being killed."""


def _camel(name: str) -> str:
    """``ERR_BAD_HANDLE`` -> ``BadHandleError``."""
    return "".join(part.capitalize() for part in name.split("_")[1:]) + "Error"


#: fdio's errno for each status whose class is an OSError (fdio_status_to_errno, sdk/lib/fdio/unistd.cc;
#: the I/O statuses it does not list get its default, EIO).
_ERRNO_BY_NAME = {
    "ERR_TIMED_OUT": _errno.ETIMEDOUT,
    "ERR_SHOULD_WAIT": _errno.EAGAIN,
    "ERR_PEER_CLOSED": _errno.EPIPE,
    "ERR_NOT_FOUND": _errno.ENOENT,
    "ERR_ALREADY_EXISTS": _errno.EEXIST,
    "ERR_ACCESS_DENIED": _errno.EACCES,
    "ERR_IO": _errno.EIO,
    "ERR_IO_REFUSED": _errno.ECONNREFUSED,
    "ERR_IO_DATA_INTEGRITY": _errno.EIO,
    "ERR_IO_DATA_LOSS": _errno.EIO,
    "ERR_IO_NOT_PRESENT": _errno.EIO,
    "ERR_IO_OVERRUN": _errno.EIO,
    "ERR_IO_MISSED_DEADLINE": _errno.EIO,
    "ERR_IO_INVALID": _errno.EIO,
    "ERR_NOT_DIR": _errno.ENOTDIR,
    "ERR_NOT_FILE": _errno.EISDIR,
    "ERR_NOT_CONNECTED": _errno.ENOTCONN,
    "ERR_CONNECTION_REFUSED": _errno.ECONNREFUSED,
    "ERR_CONNECTION_RESET": _errno.ECONNRESET,
    "ERR_CONNECTION_ABORTED": _errno.ECONNABORTED,
}


def _bind_classes() -> None:
    """Tie each status to its class; make one for any status the file lacks."""
    module = globals()
    for status, c_name in _STATUS_NAMES.items():
        if c_name == "ZX_OK":
            continue
        name = c_name.removeprefix("ZX_")
        cls_name = _camel(name)
        found = module.get(cls_name)
        if isinstance(found, type) and issubclass(found, ZxError):
            cls: type[ZxError] = found
        else:
            cls = type(cls_name, (ZxError,), {"__doc__": f"{c_name}.", "__module__": __name__})
            module[cls_name] = cls
        cls.STATUS = status
        _BY_STATUS[status] = cls
        if issubclass(cls, OSError):
            cls.ERRNO = _ERRNO_BY_NAME.get(name, _errno.EIO)
        try:
            new: Any = super(ZxError, cls).__new__
            new(cls)
        except TypeError:  # as in ZxError.__new__ (MemoryError's __new__ refuses NoMemoryError)
            new = Exception.__new__
        code = cls.ERRNO
        _FAST[status] = (new, cls, code, os.strerror(code) if code is not None else None)


_bind_classes()
