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

from ._fastcalls import TaskCore
from ._info import info_query
from ._record import record_maker
from .enums import ObjType, Signals
from .handle import Handle

__all__ = ["Task", "SuspendToken", "TaskRuntimeInfo"]

_TERMINATED = Signals.TASK_TERMINATED
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
        """Close the token (same as :meth:`~zxpy.handle.Handle.close`)."""
        self.close()


class Task(Handle, TaskCore):
    """A job, process or thread handle.

    ``kill``, ``suspend`` and ``terminated`` are TaskCore's (csrc/fastcalls.c).
    """

    __slots__ = ()

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
