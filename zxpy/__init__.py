"""zxpy: Python bindings for Zircon's task-control syscalls.

Kill and suspend jobs, processes and threads, with handles, rights, koids,
signals and waits as Zircon defines them.  On Linux the calls run against the
bundled host kernel; the same module builds for Fuchsia against an SDK::

    import zxpy

    with zxpy.Job.default().create_job() as job:
        with job.spawn(["/bin/sleep", "60"]) as proc:
            with proc.suspend():
                ...                     # every thread of the program is stopped
            job.kill()
            proc.wait_terminated(timeout=10)
            assert proc.info().return_code == zxpy.TASK_RETCODE_SYSCALL_KILL

The raw CFFI module stays reachable as ``zxpy.ffi`` and ``zxpy.lib``.  Helpers
for tests and demos (``ProgressWorker``) live in :mod:`zxpy.testing`.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import errors
from ._raw import ffi, lib
from ._time import deadline_after, monotonic
from ._version import __version__ as __version__
from .buildinfo import features, require_feature
from .enums import (
    DEFAULT_EVENT_RIGHTS,
    DEFAULT_JOB_RIGHTS,
    DEFAULT_PROCESS_RIGHTS,
    DEFAULT_SUSPEND_TOKEN_RIGHTS,
    DEFAULT_THREAD_RIGHTS,
    DEFAULT_VMAR_RIGHTS,
    HANDLE_INVALID,
    KOID_INVALID,
    MAX_NAME_LEN,
    TASK_RETCODE_CRITICAL_PROCESS_KILL,
    TASK_RETCODE_EXCEPTION_KILL,
    TASK_RETCODE_OOM_KILL,
    TASK_RETCODE_POLICY_KILL,
    TASK_RETCODE_SYSCALL_KILL,
    TASK_RETCODE_VDSO_KILL,
    TIME_INFINITE,
    TIME_INFINITE_PAST,
    ExceptionChannelType,
    ExceptionState,
    ExceptionStrategy,
    ExceptionType,
    ObjType,
    ProcessInfoFlags,
    RetCode,
    Rights,
    Signals,
    SpawnAction,
    SpawnFlags,
    Status,
    ThreadState,
    ThreadStateKind,
)
from .errors import (
    AccessDeniedError,
    BadHandleError,
    BadStateError,
    BufferTooSmallError,
    CanceledError,
    FeatureMissingError,
    InternalError,
    InvalidArgsError,
    NoMemoryError,
    NoResourcesError,
    NotFoundError,
    NotSupportedError,
    OutOfRangeError,
    TimedOutError,
    WrongTypeError,
    ZxError,
)
from .event import Event
from .exception import Channel, ExceptionChannel, ExceptionHandle, ExceptionReport
from .fuchsia import unserved as fuchsia_unserved
from .handle import Handle, HandleBasicInfo, wrap_handle
from .job import PIPE, FuchsiaProcess, Job, JobInfo
from .port import Port, PortPacket
from .process import Process, ProcessInfo, TaskStatsInfo
from .regs import Arm64GeneralRegs, GeneralRegs, X64GeneralRegs
from .task import SuspendToken, Task, TaskRuntimeInfo
from .thread import Thread, ThreadInfo, ThreadStatsInfo


def _configure_fastcalls() -> None:
    """Hand the C half of the handle wrappers (csrc/fastcalls.c) what its calls return and raise."""
    from . import _fastcalls as fastcalls
    from . import enums, handle
    from ._record import record_fields

    for record, names in ((HandleBasicInfo, fastcalls.BASIC_INFO_FIELDS), (ProcessInfo, fastcalls.PROCESS_INFO_FIELDS)):
        if record_fields(record) != names:  # pragma: no cover - the C records follow the dataclasses
            raise ImportError(f"zxpy._fastcalls builds {record.__name__} with fields {names}")
    fastcalls.configure(
        suspend_token=SuspendToken,
        fast_errors=errors._FAST,
        from_status=errors.from_status,
        signals=enums.SIGNALS,
        rights=enums.RIGHTS,
        obj_types=enums.OBJ_TYPES,
        process_info_flags=enums.PROCESS_INFO_FLAGS,
        basic_info=HandleBasicInfo,
        process_info=ProcessInfo,
        wait_one=handle._wait_one,
        check_u32=handle.check_u32,
        same_rights=Rights.SAME_RIGHTS,
    )


_configure_fastcalls()

__all__ = [
    "ffi",
    "fuchsia_unserved",
    "FuchsiaProcess",
    "PIPE",
    "lib",
    "errors",
    "monotonic",
    "deadline_after",
    # enums and constants
    "Status",
    "Rights",
    "Signals",
    "ObjType",
    "ThreadState",
    "ThreadStateKind",
    "ExceptionChannelType",
    "ExceptionState",
    "ExceptionStrategy",
    "ExceptionType",
    "ProcessInfoFlags",
    "RetCode",
    "SpawnFlags",
    "SpawnAction",
    "TASK_RETCODE_SYSCALL_KILL",
    "TASK_RETCODE_OOM_KILL",
    "TASK_RETCODE_POLICY_KILL",
    "TASK_RETCODE_VDSO_KILL",
    "TASK_RETCODE_EXCEPTION_KILL",
    "TASK_RETCODE_CRITICAL_PROCESS_KILL",
    "DEFAULT_JOB_RIGHTS",
    "DEFAULT_PROCESS_RIGHTS",
    "DEFAULT_THREAD_RIGHTS",
    "DEFAULT_EVENT_RIGHTS",
    "DEFAULT_VMAR_RIGHTS",
    "DEFAULT_SUSPEND_TOKEN_RIGHTS",
    "HANDLE_INVALID",
    "KOID_INVALID",
    "MAX_NAME_LEN",
    "TIME_INFINITE",
    "TIME_INFINITE_PAST",
    # errors
    "ZxError",
    "AccessDeniedError",
    "BadHandleError",
    "BadStateError",
    "BufferTooSmallError",
    "CanceledError",
    "InternalError",
    "InvalidArgsError",
    "NoMemoryError",
    "NoResourcesError",
    "NotFoundError",
    "NotSupportedError",
    "FeatureMissingError",
    "features",
    "require_feature",
    "OutOfRangeError",
    "TimedOutError",
    "WrongTypeError",
    # objects
    "Handle",
    "HandleBasicInfo",
    "wrap_handle",
    "Task",
    "TaskRuntimeInfo",
    "SuspendToken",
    "Job",
    "JobInfo",
    "Port",
    "PortPacket",
    "Process",
    "ProcessInfo",
    "TaskStatsInfo",
    "Thread",
    "ThreadInfo",
    "GeneralRegs",
    "X64GeneralRegs",
    "Arm64GeneralRegs",
    "ThreadStatsInfo",
    "Event",
    "Channel",
    "ExceptionChannel",
    "ExceptionHandle",
    "ExceptionReport",
]


def __getattr__(name: str) -> Any:
    """``zxpy.ProgressWorker``, deprecated: it moved to :mod:`zxpy.testing` (imported on first use)."""
    if name == "ProgressWorker":
        warnings.warn(
            "zxpy.ProgressWorker moved to zxpy.testing.ProgressWorker", DeprecationWarning, stacklevel=2
        )
        from .testing import ProgressWorker

        return ProgressWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
