"""Exceptions: the channels a debugger or a crash handler receives them on, and the exceptions themselves.

``task.exception_channel(debugger=...)`` (``zx_task_create_exception_channel``) binds a channel to a thread, a
process or a job.  When a thread takes an exception (on the host kernel: a spawned program's CPU fault, a
breakpoint, or a new thread starting while a debugger is bound) the kernel holds the thread and offers the
exception down the handler chain, in Zircon's order (``zircon/kernel/object/exception.cc``): the process's
debugger channel, the thread's channel, the process's channel, then the channel of each job from the process's
job up to the root.  The first bound channel gets a message: a ``zx_exception_info_t`` (``pid``, ``tid``,
``type``) and an exception handle, which :meth:`ExceptionChannel.receive` returns as an :class:`ExceptionHandle`.

The thread stays in the exception (``ThreadState.BLOCKED_EXCEPTION``, its ``wait_exception_channel_type`` the
holding channel's kind) until the exception handle is closed.  Its state then decides
(``ZX_PROP_EXCEPTION_STATE``): ``HANDLED`` resumes the thread, ``TRY_NEXT`` (the default) passes the exception to
the next channel, and when no channel is left the process is killed with ``TASK_RETCODE_EXCEPTION_KILL``.

Zircon's rules the kernel applies (``zircon/kernel/lib/syscalls/exceptions.cc``): the task handle needs
``INSPECT|DUPLICATE|TRANSFER|MANAGE_THREAD`` and, for a job or process, ``ENUMERATE``; one channel per kind and task
(``AlreadyBoundError`` while the bound channel's reader is open; closing it unbinds); a thread has no debugger
channel (``InvalidArgsError``); the exception's thread and process handles carry the rights of the task handle the
channel was made with, and a thread's channel gives no process (``AccessDeniedError``).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from . import _raw
from ._time import to_deadline
from .enums import ExceptionChannelType, ExceptionState, ExceptionStrategy, ExceptionType, ObjType
from .errors import from_status
from .handle import Handle, check_bool, check_u32, wrap_handle
from .task import Task

__all__ = [
    "Channel",
    "ExceptionChannel",
    "ExceptionHandle",
    "ExceptionReport",
    "create_exception_channel",
    "read_exception_report",
]

_lib = _raw.lib
_ffi = _raw.ffi
_new = _raw.new
_NULL = _raw.NULL
_HANDLE_PTR = _raw.HANDLE_PTR
_U32_PTR = _ffi.typeof("uint32_t *")
_INFO_PTR = _ffi.typeof("zx_exception_info_t *")
_INFO_SIZE: int = _ffi.sizeof("zx_exception_info_t")
_REPORT_PTR = _ffi.typeof("zx_exception_report_t *")
_REPORT_SIZE: int = _ffi.sizeof("zx_exception_report_t")
_READABLE: int = _lib.ZX_CHANNEL_READABLE
_PEER_CLOSED: int = _lib.ZX_CHANNEL_PEER_CLOSED
_MAX_BYTES: int = _lib.ZX_CHANNEL_MAX_MSG_BYTES
_MAX_HANDLES: int = _lib.ZX_CHANNEL_MAX_MSG_HANDLES
_ERR_SHOULD_WAIT: int = _lib.ZX_ERR_SHOULD_WAIT
_ERR_BUFFER_TOO_SMALL: int = _lib.ZX_ERR_BUFFER_TOO_SMALL
_ARM64 = platform.machine() in ("aarch64", "arm64")


def _excp_type(value: int) -> ExceptionType | int:
    try:
        return ExceptionType(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class ExceptionReport:
    """``ZX_INFO_THREAD_EXCEPTION_REPORT`` (``zx_exception_report_t``) of a thread in an exception.

    ``vector``, ``err_code`` and ``cr2`` are the x86-64 context, ``esr`` and ``far`` the arm64 one (the other
    architecture's read 0); :attr:`fault_address` is whichever applies.  On the host kernel, for a spawned
    program's fault, ``cr2`` / ``far`` is the faulting address Linux reports and ``vector`` the x86-64 vector of the
    fault's kind; ``err_code`` and ``esr`` are 0 (Linux gives a tracer neither).
    """

    type: ExceptionType | int
    size: int
    vector: int
    err_code: int
    cr2: int
    esr: int
    far: int
    synth_code: int
    synth_data: int

    @property
    def fault_address(self) -> int:
        """The faulting data address (``far`` on arm64, ``cr2`` on x86-64)."""
        return self.far if _ARM64 else self.cr2


def _report_from_c(rep: Any) -> ExceptionReport:
    u = rep.context.arch.u
    if _ARM64:
        x86 = (0, 0, 0)
        arm = (int(u.arm_64.esr), int(u.arm_64.far))
    else:
        x86 = (int(u.x86_64.vector), int(u.x86_64.err_code), int(u.x86_64.cr2))
        arm = (0, 0)
    return ExceptionReport(_excp_type(int(rep.header.type)), int(rep.header.size), *x86, *arm,
                           int(rep.context.synth_code), int(rep.context.synth_data))


def read_exception_report(thread: Handle) -> ExceptionReport:
    """``ZX_INFO_THREAD_EXCEPTION_REPORT`` of ``thread`` (``Rights.INSPECT``; BadStateError unless it is in an
    exception).  :meth:`zxpy.Thread.exception_report` calls it."""
    raw = thread._raw_or_raise("zx_object_get_info")
    rep = _new(_REPORT_PTR)
    status = _raw.object_get_info(raw, _lib.ZX_INFO_THREAD_EXCEPTION_REPORT, rep, _REPORT_SIZE, _NULL, _NULL)
    if status:
        raise thread._error(status, "zx_object_get_info")
    return _report_from_c(rep)


class Channel(Handle):
    """A channel endpoint (``zx_channel_create``, ``zx_channel_read``, ``zx_channel_write``)."""

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.CHANNEL

    @classmethod
    def create(cls) -> tuple[Channel, Channel]:
        """``zx_channel_create``: a pair of peered endpoints."""
        out0 = _new(_HANDLE_PTR)
        out1 = _new(_HANDLE_PTR)
        status = _lib.zx_channel_create(0, out0, out1)
        if status:
            raise from_status(status, "zx_channel_create")
        return cls._adopt(out0[0]), cls._adopt(out1[0])

    def write(
        self, data: bytes | bytearray | memoryview = b"", handles: tuple[Handle, ...] | list[Handle] = ()
    ) -> None:
        """``zx_channel_write``: send ``data`` and move ``handles`` to the peer (each needs ``Rights.TRANSFER``).

        The handles are consumed whatever the result, as Zircon does: their wrappers are closed.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        payload = bytes(data)
        items = list(handles)
        for h in items:
            if not isinstance(h, Handle):
                raise TypeError(f"handles must be zxpy Handles, not {type(h).__name__}")
        if len(payload) > _MAX_BYTES or len(items) > _MAX_HANDLES:
            raise ValueError(f"a message carries at most {_MAX_BYTES} bytes and {_MAX_HANDLES} handles")
        raw = self._raw_or_raise("zx_channel_write")
        values = [h._consume("zx_channel_write") for h in items]
        hs = _new("zx_handle_t[]", values) if values else _NULL
        status = _lib.zx_channel_write(raw, 0, payload, len(payload), hs, len(values))
        if status:
            raise self._error(status, "zx_channel_write")

    def read(self) -> tuple[bytes, list[Handle]]:
        """``zx_channel_read``: take the first message, its bytes and its handles (wrapped by their type).

        :class:`~zxpy.errors.ShouldWaitError` when the queue is empty, ``PeerClosedError`` once the peer is
        gone too.  Needs ``Rights.READ``.
        """
        raw = self._raw_or_raise("zx_channel_read")
        nbytes = _new(_U32_PTR)
        nhandles = _new(_U32_PTR)
        status = _lib.zx_channel_read(raw, 0, _NULL, _NULL, 0, 0, nbytes, nhandles)
        if status and status != _ERR_BUFFER_TOO_SMALL:
            raise self._error(status, "zx_channel_read")
        buf = _new("uint8_t[]", max(1, nbytes[0]))
        hs = _new("zx_handle_t[]", max(1, nhandles[0]))
        status = _lib.zx_channel_read(raw, 0, buf, hs, nbytes[0], nhandles[0], nbytes, nhandles)
        if status:
            raise self._error(status, "zx_channel_read")
        return bytes(_ffi.buffer(buf, nbytes[0])), [wrap_handle(int(hs[i])) for i in range(nhandles[0])]

    def wait_readable(self, timeout: float | None = None, deadline: int | None = None) -> bool:
        """Wait until a message is queued (True) or the peer is gone with none left (False)."""
        observed = self.wait_one(_READABLE | _PEER_CLOSED, timeout, deadline)
        return bool(int(observed) & _READABLE)


class ExceptionChannel(Channel):
    """The reading end of an exception channel (``task.exception_channel()``).

    ``kind`` is the :class:`~zxpy.ExceptionChannelType` it was bound as (``DEBUGGER``, ``THREAD``, ``PROCESS`` or
    ``JOB``).  Closing it unbinds the channel: an exception it holds unread goes on to the next handler.
    """

    __slots__ = ("kind",)
    OBJ_TYPE: ClassVar[int | None] = None  # a Channel for wrap_handle; this class only comes from a task

    kind: ExceptionChannelType

    def receive(self, timeout: float | None = None, deadline: int | None = None) -> ExceptionHandle:
        """Wait for the next exception and take it.

        :class:`~zxpy.errors.TimedOutError` when none came by the deadline; ``PeerClosedError`` when the task
        died (its channels are shut down) with none left.
        """
        zx_deadline = to_deadline(timeout, deadline)
        raw = self._raw_or_raise("zx_channel_read")
        info = _new(_INFO_PTR)
        hs = _new("zx_handle_t[1]")
        nbytes = _new(_U32_PTR)
        nhandles = _new(_U32_PTR)
        while True:
            status = _lib.zx_channel_read(raw, 0, info, hs, _INFO_SIZE, 1, nbytes, nhandles)
            if status != _ERR_SHOULD_WAIT:
                break
            # Handle.wait_one: sliced on the main thread, so Ctrl-C and signal handlers run during a long wait.
            self.wait_one(_READABLE | _PEER_CLOSED, deadline=zx_deadline)
        if status:
            raise self._error(status, "zx_channel_read")
        exc = ExceptionHandle._adopt(int(hs[0]))
        exc._init_info(int(info.pid), int(info.tid), int(info.type))
        return exc


class ExceptionHandle(Handle):
    """An exception (``ZX_OBJ_TYPE_EXCEPTION``) taken from an :class:`ExceptionChannel`.

    ``type``, ``pid`` and ``tid`` come with it.  :attr:`thread` / :attr:`process` are handles of the task
    (``zx_exception_get_thread`` / ``_process``, made on first use, closed with the exception).  Set :attr:`state`
    and close it -- or call :meth:`handle` (resume the thread) or :meth:`try_next` (pass it on); leaving its ``with``
    block closes it too.  The exception is over only when every handle to it is closed.
    """

    __slots__ = ("type", "pid", "tid", "_thread", "_process")
    OBJ_TYPE: ClassVar[int | None] = ObjType.EXCEPTION

    type: ExceptionType | int
    pid: int
    tid: int
    _thread: Task | None
    _process: Task | None

    @classmethod
    def _adopt(cls, raw: int, owned: bool = True, koid: int | None = None) -> ExceptionHandle:
        obj = super()._adopt(raw, owned, koid)
        obj._init_info(0, 0, 0)
        return obj

    def _init_info(self, pid: int, tid: int, excp_type: int) -> None:
        self.pid = pid
        self.tid = tid
        self.type = _excp_type(excp_type)
        self._thread = None
        self._process = None

    def _task(self, process: bool) -> Task:
        what = "zx_exception_get_process" if process else "zx_exception_get_thread"
        raw = self._raw_or_raise(what)
        out = _new(_HANDLE_PTR)
        status = (_lib.zx_exception_get_process if process else _lib.zx_exception_get_thread)(raw, out)
        if status:
            raise self._error(status, what)
        cls = Handle._BY_TYPE.get(int(ObjType.PROCESS if process else ObjType.THREAD), Task)
        return cast(Task, cls._adopt(out[0]))

    @property
    def thread(self) -> Task:
        """The thread in the exception (a :class:`~zxpy.Thread`), owned by this exception: closed with it."""
        if self._thread is None or self._thread.closed:
            self._thread = self._task(False)
        return self._thread

    @property
    def process(self) -> Task:
        """Its process (a :class:`~zxpy.Process`), owned by this exception; AccessDeniedError from a thread's
        channel."""
        if self._process is None or self._process.closed:
            self._process = self._task(True)
        return self._process

    def report(self) -> ExceptionReport:
        """The thread's ``ZX_INFO_THREAD_EXCEPTION_REPORT``: the exception's type and CPU context."""
        return read_exception_report(self.thread)

    def _get_u32(self, prop: int, what: str) -> int:
        raw = self._raw_or_raise(what)
        value = _new(_U32_PTR)
        status = _lib.zx_object_get_property(raw, prop, value, 4)
        if status:
            raise self._error(status, what)
        return int(value[0])

    def _set_u32(self, prop: int, value: int, what: str) -> None:
        value = check_u32(value, "value")
        raw = self._raw_or_raise(what)
        status = _lib.zx_object_set_property(raw, prop, _new(_U32_PTR, value), 4)
        if status:
            raise self._error(status, what)

    @property
    def state(self) -> ExceptionState | int:
        """``ZX_PROP_EXCEPTION_STATE``: ``TRY_NEXT`` (the default), ``HANDLED`` or ``THREAD_EXIT`` (where the headers
        name it: the thread exits instead of resuming), applied when it is closed."""
        value = self._get_u32(_lib.ZX_PROP_EXCEPTION_STATE, "zx_object_get_property")
        try:
            return ExceptionState(value)
        except ValueError:
            return value

    @state.setter
    def state(self, value: int) -> None:
        self._set_u32(_lib.ZX_PROP_EXCEPTION_STATE, value, "zx_object_set_property")

    @property
    def strategy(self) -> ExceptionStrategy:
        """``ZX_PROP_EXCEPTION_STRATEGY``: ``SECOND_CHANCE`` (only while the process's debugger channel holds it:
        BadStateError otherwise) lets the debugger see it again after the thread and process channels."""
        return ExceptionStrategy(self._get_u32(_lib.ZX_PROP_EXCEPTION_STRATEGY, "zx_object_get_property"))

    @strategy.setter
    def strategy(self, value: int) -> None:
        self._set_u32(_lib.ZX_PROP_EXCEPTION_STRATEGY, value, "zx_object_set_property")

    def handle(self) -> None:
        """Mark it ``HANDLED`` and close it: the thread resumes (where its registers say)."""
        self.state = ExceptionState.HANDLED
        self.close()

    def try_next(self) -> None:
        """Mark it ``TRY_NEXT`` and close it: the next handler gets it (none left: the process is killed)."""
        self.state = ExceptionState.TRY_NEXT
        self.close()

    def close(self) -> None:
        """Close the task handles it made, then the exception (which applies its state)."""
        for task in (getattr(self, "_thread", None), getattr(self, "_process", None)):
            if task is not None:
                task.close()
        super().close()


def create_exception_channel(task: Task, debugger: bool = False) -> ExceptionChannel:
    """``zx_task_create_exception_channel``: bind an exception channel to ``task`` and return its reading end.

    ``debugger=True`` binds the debugger channel of a process or job (a thread has none: InvalidArgsError).
    """
    check_bool(debugger, "debugger")
    raw = task._raw_or_raise("zx_task_create_exception_channel")
    out = _new(_HANDLE_PTR)
    status = _lib.zx_task_create_exception_channel(raw, _lib.ZX_EXCEPTION_CHANNEL_DEBUGGER if debugger else 0, out)
    if status:
        raise task._error(status, "zx_task_create_exception_channel")
    ch = ExceptionChannel._adopt(out[0])
    if debugger:
        kind = ExceptionChannelType.DEBUGGER if task.OBJ_TYPE != ObjType.JOB else ExceptionChannelType.JOB_DEBUGGER
    else:
        kind = {ObjType.JOB: ExceptionChannelType.JOB, ObjType.PROCESS: ExceptionChannelType.PROCESS}.get(
            cast(ObjType, task.OBJ_TYPE), ExceptionChannelType.THREAD)
    ch.kind = kind
    return ch
