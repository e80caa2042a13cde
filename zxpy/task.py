"""``Task`` (jobs, processes, threads) and ``SuspendToken``.

Zircon rules implemented by the kernel and surfaced here unchanged:

* ``zx_task_kill`` needs ``Rights.DESTROY`` and checks rights *before* type
  (an event without DESTROY is ACCESS_DENIED, not WRONG_TYPE).  Only jobs and
  processes can be killed; a thread gives WRONG_TYPE.  Killing a task that is
  already dead is ZX_OK.  The return code becomes ``TASK_RETCODE_SYSCALL_KILL``.
* ``zx_task_suspend`` needs ``Rights.WRITE`` (rights before type), accepts
  threads and processes (a job is WRONG_TYPE, the calling thread or process
  NOT_SUPPORTED, a dying or dead task BAD_STATE) and returns a token: the task
  stays suspended while any token is open.  Tokens carry only
  ``TRANSFER|INSPECT``: they cannot be duplicated or waited on.
* Suspension is asynchronous: wait for ``Signals.THREAD_SUSPENDED`` (what
  ``Thread.suspend(wait=True)`` does).
* ``ZX_INFO_TASK_RUNTIME`` (:meth:`Task.runtime`) looks the handle up with
  ``Rights.INSPECT`` before checking the type (ACCESS_DENIED first, then
  WRONG_TYPE for anything but a job, process or thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import _raw
from ._info import info_query
from ._record import record_maker
from .enums import ObjType, Signals
from .handle import Handle, _closed_error

__all__ = ["Task", "SuspendToken", "TaskRuntimeInfo"]

_new = _raw.new
_object_new = object.__new__
_HANDLE_PTR = _raw.HANDLE_PTR
_SIGNALS_PTR = _raw.SIGNALS_PTR
_take_handle_out = _raw.HANDLE_OUTS.pop
_give_handle_out = _raw.HANDLE_OUTS.append
_take_signals_out = _raw.SIGNALS_OUTS.pop
_give_signals_out = _raw.SIGNALS_OUTS.append
_task_kill = _raw.task_kill
_task_suspend = _raw.task_suspend
_object_wait_one = _raw.object_wait_one
_INFINITE_PAST = _raw.TIME_INFINITE_PAST
_ERR_TIMED_OUT: int = _raw.lib.ZX_ERR_TIMED_OUT
_TERMINATED = Signals.TASK_TERMINATED
_TERMINATED_INT = int(_TERMINATED)  # int & int: masking with the IntFlag member costs ~600 ns
_INFO_TASK_RUNTIME = info_query("ZX_INFO_TASK_RUNTIME")
_RUNTIME_V2 = _INFO_TASK_RUNTIME.has("page_fault_time")


@dataclass(frozen=True)
class TaskRuntimeInfo:
    """``ZX_INFO_TASK_RUNTIME`` (``zx_info_task_runtime_t``), nanoseconds, read fresh on each call.

    Zircon's aggregation: a thread's own time (all 0 before it starts, kept and
    no longer changing once it is dead); a process's is its threads', dead
    ones included; a job's is its child processes', dead ones included, but
    not its child jobs'.  ``cpu_time`` is time spent running, ``queue_time``
    time spent ready to run but waiting for a CPU.  On the host kernel
    ``page_fault_time`` and ``lock_contention_time`` are always 0 (Linux keeps
    no such figure per thread).  Both are None when zxpy was built against an
    SDK whose record lacks them (topic version 0, ``ZX_INFO_TASK_RUNTIME`` = 30).
    """

    cpu_time: int
    queue_time: int
    page_fault_time: int | None
    lock_contention_time: int | None


_make_runtime_info = record_maker(TaskRuntimeInfo)

class SuspendToken(Handle):
    """A suspend token: the task stays suspended while any token is open.

    Close it (or leave its ``with`` block, also by an exception) to resume.
    It is a small class rather than a generator-based context manager, so
    ``with task.suspend():`` costs two syscalls and little else.
    """

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.SUSPEND_TOKEN

    def resume(self) -> None:
        """Close the token (same as :meth:`close`)."""
        self.close()


class Task(Handle):
    """A job, process or thread handle."""

    __slots__ = ()

    def kill(self) -> None:
        """``zx_task_kill``: kill the task and everything under it.

        Asynchronous: wait for ``Signals.TASK_TERMINATED``
        (:meth:`wait_terminated`).  Needs ``Rights.DESTROY``.  A killed job
        accepts no new children (BAD_STATE).  Killing a dead task succeeds.
        """
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_task_kill")
        status = _task_kill(raw)
        if status:
            raise self._error(status, "zx_task_kill")

    def suspend(self) -> SuspendToken:
        """``zx_task_suspend``: suspend the task; returns the token.

        Does not wait for the task to stop; see ``Thread.suspend``.
        """
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_task_suspend")
        try:
            out = _take_handle_out()  # free out-parameter: safe from threads and signal handlers (_raw.HANDLE_OUTS)
        except IndexError:
            out = _new(_HANDLE_PTR)
        status = _task_suspend(raw, out)
        if status:
            _give_handle_out(out)  # given back on failure too: an empty list costs an IndexError (~300 ns)
            raise self._error(status, "zx_task_suspend")
        token = _object_new(SuspendToken)  # SuspendToken._adopt inline (no extra slots): ~70 ns less
        token._raw = out[0]
        _give_handle_out(out)
        token._owned = True
        token._koid = None
        return token

    async def wait_terminated_async(self, timeout: float | None = None, deadline: int | None = None) -> Signals:
        """``await``-able :meth:`wait_terminated` (:mod:`zxpy.aio`)."""
        return await self.wait_one_async(_TERMINATED, timeout, deadline)

    def wait_terminated(self, timeout: float | None = None, deadline: int | None = None) -> Signals:
        """Wait for ``Signals.TASK_TERMINATED``; return the observed signals.

        ``timeout`` in seconds (None: forever, 0: poll); raises
        :class:`~zxpy.errors.TimedOutError` if the task is still alive then.
        """
        return self.wait_one(_TERMINATED, timeout, deadline)

    def runtime(self) -> TaskRuntimeInfo:
        """``ZX_INFO_TASK_RUNTIME``: how long the task ran and waited to run.

        Needs ``Rights.INSPECT``, checked before the type (AccessDeniedError
        first, then WrongTypeError for a handle that is no task).  Readable
        after the task died: the figures are then fixed.
        """
        buf = self._read_info(_INFO_TASK_RUNTIME)
        if not _RUNTIME_V2:
            return _make_runtime_info(buf.cpu_time, buf.queue_time, None, None)
        # cffi gives plain ints for integer fields
        return _make_runtime_info(buf.cpu_time, buf.queue_time, buf.page_fault_time, buf.lock_contention_time)

    @property
    def terminated(self) -> bool:
        """Whether ``TASK_TERMINATED`` is asserted now (one poll)."""
        raw = self._raw
        if raw < 0:
            raise _closed_error("zx_object_wait_one")
        try:
            observed = _take_signals_out()  # a free out-parameter (_raw.HANDLE_OUTS explains why this is safe)
        except IndexError:
            observed = _new(_SIGNALS_PTR)
        status = _object_wait_one(raw, 0, _INFINITE_PAST, observed)
        if status and status != _ERR_TIMED_OUT:  # a poll that ran (TIMED_OUT included) wrote ``observed``
            _give_signals_out(observed)
            raise self._error(status, "zx_object_wait_one")
        value: int = observed[0]
        _give_signals_out(observed)
        return (value & _TERMINATED_INT) != 0
