"""``Handle``: one Zircon handle, owned (closed when done) or borrowed.

A :class:`Handle` owns exactly one kernel handle value and closes it in
:meth:`Handle.close`, at the end of a ``with`` block, or - with a
``ResourceWarning``, as an unclosed file does - when it is garbage collected.
The handles returned by ``zx_job_default()``, ``zx_process_self()`` and
``zx_thread_self()`` belong to the runtime: zxpy wraps them *borrowed* - also
when such a value is passed to ``Handle(raw)`` or :func:`wrap_handle` - and
closing a borrowed wrapper only forgets the value.

Using a closed handle raises ``ValueError("handle is closed")``.  Python
arguments are checked before any call (wrong type: ``TypeError``; negative or
too large: ``ValueError``); kernel failures raise the :mod:`zxpy.errors`
subclass for the status, naming the syscall and, where cheaply known, the
object's koid.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from . import _raw
from ._fastcalls import HandleCore
from ._info import InfoQuery, info_query
from ._ints import as_int
from ._time import to_deadline
from .enums import MAX_NAME_LEN, SIGNALS, ObjType, Rights, Signals
from .errors import ZxError, from_status

__all__ = ["AUTO", "Handle", "HandleBasicInfo", "wrap_handle"]

_H = TypeVar("_H", bound="Handle")

_CLOSED = -1
_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF

_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_SIGNALS_PTR = _raw.SIGNALS_PTR
_NULL = _raw.NULL
_handle_close = _raw.handle_close
_handle_replace = _raw.handle_replace
_object_wait_one = _raw.object_wait_one
_object_signal = _raw.object_signal
_object_get_info = _raw.object_get_info
_object_get_child = _raw.object_get_child
_lib = _raw.lib
_ffi = _raw.ffi
_object_get_property = _lib.zx_object_get_property
_object_set_property = _lib.zx_object_set_property
_NAME_BUF = _ffi.typeof("char[]")
#: ZX_INFO_HANDLE_BASIC is read inline (``_new(_BASIC_PTR)`` + ``_object_get_info``) in ``wrap_handle``,
#: ``_runtime_handle`` and ``_koid_or_none`` (``basic_info`` is HandleCore's): a shared reader function was
#: measured (issue 13) at +43 ns on ``wrap_handle`` and +60 ns on ``Handle(raw)``.
_BASIC = info_query("ZX_INFO_HANDLE_BASIC")
_INFO_HANDLE_BASIC: int = _BASIC.topic
_BASIC_PTR: Any = _BASIC.ptr_type
_BASIC_SIZE: int = _BASIC.size
_INFO_HANDLE_VALID: int = _lib.ZX_INFO_HANDLE_VALID
_OBJ_TYPE_THREAD: int = _lib.ZX_OBJ_TYPE_THREAD
_PROP_NAME: int = _lib.ZX_PROP_NAME
_SAME_RIGHTS = Rights.SAME_RIGHTS
_SAME_RIGHTS_INT = int(_SAME_RIGHTS)
_INFINITE_PAST: int = _raw.TIME_INFINITE_PAST
_ERR_BAD_HANDLE: int = _lib.ZX_ERR_BAD_HANDLE
_ERR_TIMED_OUT: int = _lib.ZX_ERR_TIMED_OUT
_ERR_CANCELED: int = _lib.ZX_ERR_CANCELED
_HANDLE_CLOSED: int = _lib.ZX_SIGNAL_HANDLE_CLOSED
_now = _raw.clock_get_monotonic
_get_ident = threading.get_ident
_MAIN_THREAD_IDENT = threading.main_thread().ident
#: Longest single kernel wait on the main thread: Python runs signal handlers
#: (KeyboardInterrupt) only between calls, so long waits go in slices.
_WAIT_SLICE_NS = 100_000_000


@dataclass(frozen=True)
class HandleBasicInfo:
    """``ZX_INFO_HANDLE_BASIC`` (``zx_info_handle_basic_t``), read fresh.

    A plain record: zxpy fills it from the kernel's answer.  Like every zxpy
    info record it does not check fields passed to its constructor.
    """

    koid: int
    rights: Rights
    type: ObjType | int
    related_koid: int


def check_u32(value: object, what: str) -> int:
    """Validate a ``uint32_t`` argument: any ``__index__`` integer but bool, in 0..2**32-1."""
    if type(value) is int and 0 <= value <= _U32_MAX:  # the common case, without as_int's call
        return value
    number = as_int(value, what)
    if not 0 <= number <= _U32_MAX:
        raise ValueError(f"{what} must be in 0..0xFFFFFFFF, got {number}")
    return number


def check_u64(value: object, what: str) -> int:
    """Validate a ``uint64_t`` argument: any ``__index__`` integer but bool, in 0..2**64-1."""
    if type(value) is int and 0 <= value <= _U64_MAX:  # the common case, without as_int's call
        return value
    number = as_int(value, what)
    if not 0 <= number <= _U64_MAX:
        raise ValueError(f"{what} must be in 0..2**64-1, got {number}")
    return number


def check_bool(value: object, what: str) -> bool:
    """Validate a flag: exactly True or False (not 0/1, not a truthy object); TypeError naming ``what``."""
    if value is not True and value is not False:
        raise TypeError(f"{what} must be a bool, not {type(value).__name__}")
    return value


def encode_name(name: object) -> bytes:
    """Validate an object name (str or bytes, no NUL); the kernel truncates it."""
    if isinstance(name, str):
        data = name.encode()
    elif isinstance(name, bytes):
        data = name
    else:
        raise TypeError(f"name must be str or bytes, not {type(name).__name__}")
    if b"\0" in data:
        raise ValueError("name must not contain NUL bytes")
    return data


def _closed_error(what: str) -> ValueError:
    """What any use of a closed wrapper raises: ``handle is closed (<the syscall or attribute>)``.

    A closed wrapper holds a negative ``_raw`` (``_take``).  Each call tests it inline,
    ``raw = self._raw; if raw < 0: raise _closed_error("zx_...")``, rather than through an accessor
    method: a Python call costs about 28 ns on every successful syscall (the ``raw`` property
    about 45 ns), a tenth of ``signal()``'s 400 ns.
    """
    return ValueError(f"handle is closed ({what})")


class _Auto(enum.Enum):
    """The type of :data:`AUTO`."""

    AUTO = "AUTO"


#: ``owned``'s default: own the value unless it is one of the runtime's handles.
AUTO: Final[_Auto] = _Auto.AUTO


def _runtime_handle(raw: int, obj_type: int | None) -> str | None:
    """The call that returns ``raw`` if it is a runtime-owned handle of the caller, else None.

    ``zx_job_default()``, ``zx_process_self()`` and the calling thread's ``zx_thread_self()``
    belong to the runtime for the life of the program (thread: of the OS thread).  ``obj_type``
    (None: unknown) avoids calling ``zx_thread_self()`` - which adopts the calling OS thread on
    the host - for values that cannot be a thread.
    """
    if raw == _raw.job_default():
        return "zx_job_default()"
    if raw == _raw.process_self():
        return "zx_process_self()"
    if obj_type is None:
        info = _new(_BASIC_PTR)
        if _object_get_info(raw, _INFO_HANDLE_BASIC, info, _BASIC_SIZE, _NULL, _NULL):
            return None
        obj_type = int(info.type)
    if obj_type == _OBJ_TYPE_THREAD and raw == _raw.thread_self():
        return "zx_thread_self()"
    return None


def _ownership(raw: int, owned: object, obj_type: int | None) -> bool:
    """Whether a wrapper of ``raw`` owns it: ``owned`` as given, or, for AUTO, unless it is the runtime's.

    Owning a runtime handle would close the default job, the process or the thread for the rest
    of the program: ``owned=True`` on one is a ValueError.
    """
    if owned is AUTO:
        return _runtime_handle(raw, obj_type) is None
    if check_bool(owned, "owned"):
        call = _runtime_handle(raw, obj_type)
        if call is not None:
            raise ValueError(f"{raw:#x} is {call}, which the runtime owns: it can only be borrowed (owned=False)")
        return True
    return False


class Handle(HandleCore):
    """Owns one Zircon handle.

    ``Handle(raw)`` takes ownership of the handle value ``raw`` - unless it
    is one of the runtime's (``zx_job_default()``, ``zx_process_self()``, the
    calling thread's ``zx_thread_self()``), which is always borrowed;
    ``Handle(raw, owned=False)`` borrows it (never closed by zxpy), and
    ``owned=True`` on a runtime handle is a ValueError.
    Subclasses (:class:`~zxpy.Job`, :class:`~zxpy.Process`,
    :class:`~zxpy.Thread`, :class:`~zxpy.SuspendToken`, :class:`~zxpy.Event`)
    add the calls their object type supports.

    The value, its ownership and the cached koid live in the C base
    ``HandleCore`` (csrc/fastcalls.c), with the calls on every hot path:
    ``close``, ``duplicate``, ``wait_one``, ``basic_info``, the ``with``
    block and the finaliser here, ``kill``, ``suspend`` and ``terminated`` on
    :class:`~zxpy.Task`, ``info`` on :class:`~zxpy.Process`.  A handle value is
    consumed exactly once however many threads race to close, replace or
    detach it (Zircon: a second close would be BAD_HANDLE, or close a value the
    kernel has since given to someone else): the C base reads and clears it
    under the GIL with no Python code in between.
    """

    __slots__ = ("__weakref__",)

    #: The object type a subclass wraps, or None for any.
    OBJ_TYPE: ClassVar[int | None] = None
    _BY_TYPE: ClassVar[dict[int, type[Handle]]] = {}
    #: Whether the class makes its wrappers with ``Handle._adopt`` itself (no override), so a hot path may
    #: fill the three slots inline instead of calling it (``duplicate``: ~60 ns less).
    _PLAIN_ADOPT: ClassVar[bool] = True

    _raw: int
    _owned: bool
    _koid: int | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._PLAIN_ADOPT = all("_adopt" not in vars(k) for k in cls.__mro__[: cls.__mro__.index(HandleCore)])
        if cls.OBJ_TYPE is not None:
            Handle._BY_TYPE.setdefault(cls.OBJ_TYPE, cls)

    def __init__(self, raw: int, *, owned: bool | _Auto = AUTO) -> None:
        raw = check_u32(raw, "raw handle")
        self._raw = _CLOSED  # until ownership is settled (a refused value is never closed)
        self._owned = False
        self._koid = None
        self._owned = _ownership(raw, owned, None)
        self._raw = raw

    # ---------------------------------------------------------------- basics

    @property
    def raw(self) -> int:
        """The handle value (``ValueError`` once closed)."""
        raw = self._raw
        if raw < 0:
            raise _closed_error("raw")
        return raw

    @property
    def closed(self) -> bool:
        """True once :meth:`close`, :meth:`replace` or :meth:`detach` ran."""
        return self._raw < 0

    @property
    def owned(self) -> bool:
        """False for borrowed handles (``Job.default()``, ``Process.self()``...)."""
        return self._owned

    def _raw_or_raise(self, what: str) -> int:
        """The raw value, or ``_closed_error(what)``: for calls off the hot paths, which test ``_raw`` inline."""
        raw = self._raw
        if raw < 0:
            raise _closed_error(what)
        return raw

    def _consume(self, what: str) -> int:
        """As :meth:`_take`, but ``ValueError`` if the wrapper was already closed."""
        raw = self._take()
        if raw < 0:
            raise _closed_error(what)
        return raw

    def detach(self) -> int:
        """Give up ownership and return the raw value (the caller closes it).

        Of several threads closing, replacing or detaching one wrapper, exactly one gets the value.
        """
        return self._consume("detach")

    def __repr__(self) -> str:
        raw = self._raw
        if raw < 0:
            return f"<{type(self).__name__} closed>"
        koid = f" koid={self._koid}" if self._koid is not None else ""
        borrowed = "" if self._owned else " borrowed"
        return f"<{type(self).__name__} {raw:#x}{koid}{borrowed}>"

    # ---------------------------------------------------------------- errors

    def _koid_or_none(self) -> int | None:
        """The koid if known or cheaply found (for error messages)."""
        if self._koid is not None:
            return self._koid
        raw = self._raw
        if raw < 0:
            return None
        info = _new(_BASIC_PTR)
        if _object_get_info(raw, _INFO_HANDLE_BASIC, info, _BASIC_SIZE, _NULL, _NULL):
            return None
        self._koid = int(info.koid)
        return self._koid

    def _error(self, status: int, syscall: str, detail: str | None = None) -> ZxError:
        """The ZxError for a failed call on this handle (:func:`~zxpy.errors.from_status` with its koid).

        No koid for BAD_HANDLE: the value names no object (any cached koid may be stale).
        """
        koid = None if status == _ERR_BAD_HANDLE else self._koid_or_none()
        return from_status(status, syscall, koid, detail)

    # ---------------------------------------------------------------- handle ops

    def replace(self: _H, rights: int = _SAME_RIGHTS) -> _H:
        """``zx_handle_replace``: swap this handle for one with ``rights``.

        This handle is closed afterwards *even if the call fails* (Zircon
        consumes it either way; for the last handle of a suspend token that
        means the task resumes).  Rights must be a subset or SAME_RIGHTS.
        """
        rights = _SAME_RIGHTS_INT if rights is _SAME_RIGHTS else check_u32(rights, "rights")
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_handle_replace")
        if not self._owned:
            raise ValueError("cannot replace a borrowed handle")
        koid = self._koid_or_none()
        out = _new(_HANDLE_PTR)
        raw = self._consume("zx_handle_replace")  # another thread may have closed or replaced it since the check above
        status = _handle_replace(raw, rights, out)
        if status:
            raise from_status(status, "zx_handle_replace", koid)
        new = _wrap_same(self, out[0])
        new._koid = koid
        return new

    @property
    def koid(self) -> int:
        """The object's koid (kernel object id; never reused)."""
        koid = self._koid
        if koid is None:
            koid = self.basic_info().koid
        elif self._raw < 0:
            raise _closed_error("koid")
        return koid

    @property
    def name(self) -> str:
        """``zx_object_get_property(ZX_PROP_NAME)``: the object's name (UTF-8, undecodable bytes replaced).

        Needs ``Rights.GET_PROPERTY`` (AccessDeniedError; checked before the type); jobs,
        processes and threads have names, other objects give WrongTypeError (Zircon's
        ``Dispatcher::get_name``; kernels before 2023 gave "" instead).  A spawned program's
        name is its ``name=`` or else ``argv[0]``, cut to ``MAX_NAME_LEN - 1`` bytes.
        """
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_get_property")
        buf = _new(_NAME_BUF, MAX_NAME_LEN)
        status = _object_get_property(raw, _PROP_NAME, buf, MAX_NAME_LEN)
        if status:
            raise self._error(status, "zx_object_get_property")
        name: bytes = _ffi.string(buf)
        return name.decode("utf-8", "replace")

    def set_name(self, name: str | bytes) -> None:
        """``zx_object_set_property(ZX_PROP_NAME)``: rename the object.

        ``name`` is str (UTF-8) or bytes without NUL; the kernel keeps its first
        ``MAX_NAME_LEN - 1`` (31) bytes.  Needs ``Rights.SET_PROPERTY``
        (AccessDeniedError); an object without a name gives WrongTypeError.
        """
        data = encode_name(name)
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_set_property")
        status = _object_set_property(raw, _PROP_NAME, data, len(data))
        if status:
            raise self._error(status, "zx_object_set_property")

    def is_valid(self) -> bool:
        """``ZX_INFO_HANDLE_VALID``: whether the kernel still knows this value."""
        raw = self._raw
        if raw < 0:
            return False
        return _object_get_info(raw, _INFO_HANDLE_VALID, _NULL, 0, _NULL, _NULL) == 0

    async def wait_one_async(
        self,
        signals: int,
        timeout: float | None = None,
        deadline: int | None = None,
    ) -> Signals:
        """``await``-able :meth:`wait_one`, through the running event loop's port (:mod:`zxpy.aio`).

        A timeout raises :class:`~zxpy.errors.TimedOutError` (a ``TimeoutError``); cancelling the awaiting
        task cancels the kernel wait (``zx_port_cancel``).
        """
        from .aio import wait_raw_async  # imported on first use: asyncio is not loaded by `import zxpy`

        signals = check_u32(signals, "signals")
        zx_deadline = to_deadline(timeout, deadline)
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_wait_async")
        try:
            return SIGNALS[await wait_raw_async(raw, signals, zx_deadline, self._error)]
        except ZxError as err:
            observed = getattr(err, "observed", None)
            if isinstance(observed, int):
                err.observed = SIGNALS[observed]
            raise

    def _wait_error(self, status: int, observed: int) -> ZxError:
        """The error of a failed wait; a canceled one observed ``HANDLE_CLOSED``.

        Zircon's wait observer adds ``ZX_SIGNAL_HANDLE_CLOSED`` to what a wait
        canceled by a close reports (``WaitSignalObserver``, used by
        ``sys_object_wait_one`` in zircon/kernel/lib/syscalls/object_wait.cc), also
        when the close landed between two of the main thread's wait slices.
        """
        err = self._error(status, "zx_object_wait_one")
        if status == _ERR_CANCELED:
            observed |= _HANDLE_CLOSED
        err.observed = SIGNALS[observed]
        return err

    def signal(self, clear_mask: int = 0, set_mask: int = 0) -> None:
        """``zx_object_signal``: clear then set user-settable signals.

        Needs ``Rights.SIGNAL``; only ``USER_SIGNAL_*`` (and an event's
        ``EVENT_SIGNALED``) may be changed (INVALID_ARGS otherwise).
        """
        clear_mask = check_u32(clear_mask, "clear_mask")
        set_mask = check_u32(set_mask, "set_mask")
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_signal")
        status = _object_signal(raw, clear_mask, set_mask)
        if status:
            raise self._error(status, "zx_object_signal")

    # ---------------------------------------------------------------- helpers for subclasses

    def _read_info(self, query: InfoQuery) -> Any:
        """Read the single-record topic ``query`` into a new struct of this build's layout."""
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_get_info")
        buf = _new(query.ptr_type)
        status = _object_get_info(raw, query.topic, buf, query.size, _NULL, _NULL)
        if status:
            raise self._error(status, "zx_object_get_info")
        return buf

    def _get_info_koids(self, topic: int) -> list[int]:
        """Read an array-of-koids info topic, growing the buffer as needed."""
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_get_info")
        count = 16
        actual = _new("size_t *")
        avail = _new("size_t *")
        while True:
            buf = _new("zx_koid_t[]", count)
            status = _object_get_info(raw, topic, buf, count * 8, actual, avail)
            if status:
                raise self._error(status, "zx_object_get_info")
            if avail[0] <= count:
                return [int(k) for k in buf[0 : actual[0]]]
            count = int(avail[0]) + 8

    def _get_child_raw(self, koid: int, rights: int) -> int:
        """``zx_object_get_child`` -> raw handle value."""
        koid = check_u64(koid, "koid")
        rights = check_u32(rights, "rights")
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_get_child")
        out = _new(_HANDLE_PTR)
        status = _object_get_child(raw, koid, rights, out)
        if status:
            raise self._error(status, "zx_object_get_child")
        return int(out[0])


def _wait_one(handle: Handle, signals: int, timeout: float | None, deadline: int | None) -> Signals:
    """``Handle.wait_one`` for every wait but a poll with a plain int mask, which the C base makes itself.

    ``zx_object_wait_one``: wait until any of ``signals`` is active; return every signal observed active.
    """
    if type(signals) is not int or not 0 <= signals <= _U32_MAX:  # exact ints in range skip the call
        signals = check_u32(signals, "signals")
    if deadline is None and (timeout == 0 if type(timeout) is int or type(timeout) is float else False):
        zx_deadline = _INFINITE_PAST  # the poll, without to_deadline (what it gives for 0)
    else:
        zx_deadline = to_deadline(timeout, deadline)
    raw = handle._raw
    if raw < 0:
        raise _closed_error("zx_object_wait_one")
    # Zeroed: a wait refused before it ran (BAD_HANDLE, ACCESS_DENIED) writes nothing (sys_object_wait_one,
    # zircon/kernel/lib/syscalls/object_wait.cc), and its error reports observed 0.
    observed = _new(_SIGNALS_PTR)
    if zx_deadline == _INFINITE_PAST or _get_ident() != _MAIN_THREAD_IDENT:
        status = _object_wait_one(raw, signals, zx_deadline, observed)  # a poll, or not the main thread
    else:
        status = _wait(handle, raw, signals, zx_deadline, observed)
    value = observed[0]
    if status:
        raise handle._wait_error(status, value)
    return SIGNALS[value]


def _wait(handle: Handle, raw: int, signals: int, deadline: int, observed: Any) -> int:
    """``zx_object_wait_one`` that Ctrl-C can interrupt; returns the status.

    On the main thread a wait longer than ``_WAIT_SLICE_NS`` runs in
    slices, so Python's signal handlers (KeyboardInterrupt) run between
    them.  A close of this handle between two slices ends the wait
    CANCELED, as a close during the kernel call does.
    """
    if _get_ident() != _MAIN_THREAD_IDENT:
        return _object_wait_one(raw, signals, deadline, observed)
    waited = False
    while True:
        slice_end = _now() + _WAIT_SLICE_NS
        if slice_end >= deadline:
            status = _object_wait_one(raw, signals, deadline, observed)
        else:
            status = _object_wait_one(raw, signals, slice_end, observed)
            if status == _ERR_TIMED_OUT:
                if handle._raw != raw:
                    return _ERR_CANCELED
                waited = True
                continue
        # A close that lands after the check above and before the next slice's lookup is, to the caller,
        # a close during its wait: CANCELED, not the BAD_HANDLE of a wait begun on a closed handle.
        if status == _ERR_BAD_HANDLE and waited and handle._raw != raw:
            return _ERR_CANCELED
        return status


def _wrap_same(like: _H, raw: int) -> _H:
    """A new owned wrapper of ``raw`` of the same class as ``like``."""
    return type(like)._adopt(raw)


def wrap_handle(raw: int, *, owned: bool | _Auto = AUTO) -> Handle:
    """Wrap ``raw`` in the Handle subclass matching its object type.

    Reads ``ZX_INFO_HANDLE_BASIC`` once; unknown types give a plain Handle.
    Ownership as for :class:`Handle`: taken by default, except of the
    runtime's handles (``zx_job_default()``, ``zx_process_self()``, the
    calling thread's ``zx_thread_self()``), which are borrowed (``owned=True``
    on one is a ValueError).  An owned value is taken even if the lookup fails
    (it is then closed).
    """
    raw = check_u32(raw, "raw handle")
    if owned is not AUTO:
        check_bool(owned, "owned")  # before the lookup, which closes an owned value that fails
    info = _new(_BASIC_PTR)
    status = _object_get_info(raw, _INFO_HANDLE_BASIC, info, _BASIC_SIZE, _NULL, _NULL)
    if status:
        # Not a valid value, so not a runtime handle either.
        if owned is not False:
            _handle_close(raw)
        raise from_status(status, "zx_object_get_info")
    obj_type = int(info.type)
    keep = _ownership(raw, owned, obj_type)
    cls = Handle._BY_TYPE.get(obj_type, Handle)
    return cls._adopt(raw, keep, int(info.koid))
