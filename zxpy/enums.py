"""Zircon's enumerations, with every value read from the compiled module.

Member names are the C names without their prefix (``ZX_ERR_BAD_HANDLE`` is
``Status.ERR_BAD_HANDLE``, ``ZX_RIGHT_DESTROY`` is ``Rights.DESTROY``).  No
value is typed in here: each comes from ``lib``, which took it from the C
headers at build time, so the compiler vouches for it.

Several Zircon signal names share one bit (``ZX_TASK_TERMINATED``,
``ZX_THREAD_TERMINATED``, ``ZX_PROCESS_TERMINATED``, ``ZX_JOB_TERMINATED`` and
``ZX_EVENT_SIGNALED`` are all bit 3; ``ZX_THREAD_RUNNING`` and
``ZX_JOB_NO_JOBS`` are bit 4; ``ZX_THREAD_SUSPENDED`` and
``ZX_JOB_NO_PROCESSES`` are bit 5).  They are aliases of one ``Signals``
member, so a ``repr`` shows the first name.

A member exists when the headers zxpy was built against define its constant
(``zxpy/_abi.py`` gates the newer ones: rights and object types added after
2021, ``ZX_INFO_PROCESS_FLAG_*``).  Asking an enum for a member the table
knows but this build lacks, e.g. ``Rights.RESIZE`` on a 2021 SDK, raises
:class:`zxpy.errors.FeatureMissingError` (a ``NotSupportedError`` that is also
an ``AttributeError``, so ``hasattr`` and ``getattr(..., default)`` still work).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

from . import _abi
from ._raw import lib
from .errors import FeatureMissingError

__all__ = [
    "Status",
    "Rights",
    "Signals",
    "ObjType",
    "ThreadState",
    "ExceptionChannelType",
    "ExceptionState",
    "ExceptionStrategy",
    "ExceptionType",
    "ProcessInfoFlags",
    "ThreadStateKind",
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
    "HANDLE_FIXED_BITS_MASK",
    "KOID_INVALID",
    "KOID_KERNEL",
    "TIME_INFINITE",
    "TIME_INFINITE_PAST",
    "MAX_NAME_LEN",
    "OBJ_TYPE_UPPER_BOUND",
    "SPAWN_ERR_MSG_MAX_LENGTH",
]


#: C names of this build's gated constants that its headers lack.
_ABSENT: frozenset[str] = frozenset(
    c.name for c in _abi.CONSTANTS if c.gate is not None and not hasattr(lib, c.name)
)


def _has(name: str) -> bool:
    """Whether the build exports the constant ``name`` (for the gated members below)."""
    return hasattr(lib, name)


#: C prefixes of the enums whose members can be gated.
_C_PREFIXES: dict[str, tuple[str, ...]] = {
    "Rights": ("ZX_RIGHT_", "ZX_RIGHTS_"),
    "ObjType": ("ZX_OBJ_TYPE_",),
    "ProcessInfoFlags": ("ZX_INFO_PROCESS_FLAG_",),
    "ExceptionState": ("ZX_EXCEPTION_STATE_",),
}


class _ZirconEnumType(enum.EnumMeta):
    """Enum metaclass: a known member this build lacks raises FeatureMissingError."""

    def __getattr__(cls, name: str) -> Any:
        if not name.startswith("_"):
            for prefix in _C_PREFIXES.get(cls.__name__, ()):
                if prefix + name in _ABSENT:
                    raise FeatureMissingError.for_constant(prefix + name, f"{cls.__name__}.{name}")
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


class _ZirconIntEnum(enum.IntEnum, metaclass=_ZirconEnumType):
    pass


class _ZirconIntFlag(enum.IntFlag, metaclass=_ZirconEnumType):
    pass


class Status(enum.IntEnum):
    """``zx_status_t`` values (``zircon/errors.h``)."""

    OK = lib.ZX_OK
    ERR_INTERNAL = lib.ZX_ERR_INTERNAL
    ERR_NOT_SUPPORTED = lib.ZX_ERR_NOT_SUPPORTED
    ERR_NO_RESOURCES = lib.ZX_ERR_NO_RESOURCES
    ERR_NO_MEMORY = lib.ZX_ERR_NO_MEMORY
    ERR_INTERNAL_INTR_RETRY = lib.ZX_ERR_INTERNAL_INTR_RETRY
    ERR_INVALID_ARGS = lib.ZX_ERR_INVALID_ARGS
    ERR_BAD_HANDLE = lib.ZX_ERR_BAD_HANDLE
    ERR_WRONG_TYPE = lib.ZX_ERR_WRONG_TYPE
    ERR_BAD_SYSCALL = lib.ZX_ERR_BAD_SYSCALL
    ERR_OUT_OF_RANGE = lib.ZX_ERR_OUT_OF_RANGE
    ERR_BUFFER_TOO_SMALL = lib.ZX_ERR_BUFFER_TOO_SMALL
    ERR_BAD_STATE = lib.ZX_ERR_BAD_STATE
    ERR_TIMED_OUT = lib.ZX_ERR_TIMED_OUT
    ERR_SHOULD_WAIT = lib.ZX_ERR_SHOULD_WAIT
    ERR_CANCELED = lib.ZX_ERR_CANCELED
    ERR_PEER_CLOSED = lib.ZX_ERR_PEER_CLOSED
    ERR_NOT_FOUND = lib.ZX_ERR_NOT_FOUND
    ERR_ALREADY_EXISTS = lib.ZX_ERR_ALREADY_EXISTS
    ERR_ALREADY_BOUND = lib.ZX_ERR_ALREADY_BOUND
    ERR_UNAVAILABLE = lib.ZX_ERR_UNAVAILABLE
    ERR_ACCESS_DENIED = lib.ZX_ERR_ACCESS_DENIED
    ERR_IO = lib.ZX_ERR_IO
    ERR_IO_REFUSED = lib.ZX_ERR_IO_REFUSED
    ERR_IO_DATA_INTEGRITY = lib.ZX_ERR_IO_DATA_INTEGRITY
    ERR_IO_DATA_LOSS = lib.ZX_ERR_IO_DATA_LOSS
    ERR_IO_NOT_PRESENT = lib.ZX_ERR_IO_NOT_PRESENT
    ERR_IO_OVERRUN = lib.ZX_ERR_IO_OVERRUN
    ERR_IO_MISSED_DEADLINE = lib.ZX_ERR_IO_MISSED_DEADLINE
    ERR_IO_INVALID = lib.ZX_ERR_IO_INVALID
    ERR_BAD_PATH = lib.ZX_ERR_BAD_PATH
    ERR_NOT_DIR = lib.ZX_ERR_NOT_DIR
    ERR_NOT_FILE = lib.ZX_ERR_NOT_FILE
    ERR_FILE_BIG = lib.ZX_ERR_FILE_BIG
    ERR_NO_SPACE = lib.ZX_ERR_NO_SPACE
    ERR_NOT_EMPTY = lib.ZX_ERR_NOT_EMPTY
    ERR_STOP = lib.ZX_ERR_STOP
    ERR_NEXT = lib.ZX_ERR_NEXT
    ERR_ASYNC = lib.ZX_ERR_ASYNC
    ERR_PROTOCOL_NOT_SUPPORTED = lib.ZX_ERR_PROTOCOL_NOT_SUPPORTED
    ERR_ADDRESS_UNREACHABLE = lib.ZX_ERR_ADDRESS_UNREACHABLE
    ERR_ADDRESS_IN_USE = lib.ZX_ERR_ADDRESS_IN_USE
    ERR_NOT_CONNECTED = lib.ZX_ERR_NOT_CONNECTED
    ERR_CONNECTION_REFUSED = lib.ZX_ERR_CONNECTION_REFUSED
    ERR_CONNECTION_RESET = lib.ZX_ERR_CONNECTION_RESET
    ERR_CONNECTION_ABORTED = lib.ZX_ERR_CONNECTION_ABORTED
    ERR_INTERNAL_INTR_KILLED = lib.ZX_ERR_INTERNAL_INTR_KILLED

    @property
    def c_name(self) -> str:
        """The C name, e.g. ``"ZX_ERR_BAD_HANDLE"``."""
        return "ZX_" + self.name


class Rights(_ZirconIntFlag):
    """``zx_rights_t`` bits (``zircon/rights.h``), plus the composites."""

    NONE = lib.ZX_RIGHT_NONE
    DUPLICATE = lib.ZX_RIGHT_DUPLICATE
    TRANSFER = lib.ZX_RIGHT_TRANSFER
    READ = lib.ZX_RIGHT_READ
    WRITE = lib.ZX_RIGHT_WRITE
    EXECUTE = lib.ZX_RIGHT_EXECUTE
    MAP = lib.ZX_RIGHT_MAP
    GET_PROPERTY = lib.ZX_RIGHT_GET_PROPERTY
    SET_PROPERTY = lib.ZX_RIGHT_SET_PROPERTY
    ENUMERATE = lib.ZX_RIGHT_ENUMERATE
    DESTROY = lib.ZX_RIGHT_DESTROY
    SET_POLICY = lib.ZX_RIGHT_SET_POLICY
    GET_POLICY = lib.ZX_RIGHT_GET_POLICY
    SIGNAL = lib.ZX_RIGHT_SIGNAL
    SIGNAL_PEER = lib.ZX_RIGHT_SIGNAL_PEER
    WAIT = lib.ZX_RIGHT_WAIT
    INSPECT = lib.ZX_RIGHT_INSPECT
    MANAGE_JOB = lib.ZX_RIGHT_MANAGE_JOB
    MANAGE_PROCESS = lib.ZX_RIGHT_MANAGE_PROCESS
    MANAGE_THREAD = lib.ZX_RIGHT_MANAGE_THREAD
    APPLY_PROFILE = lib.ZX_RIGHT_APPLY_PROFILE
    if _has("ZX_RIGHT_MANAGE_SOCKET"):
        MANAGE_SOCKET = lib.ZX_RIGHT_MANAGE_SOCKET
    if _has("ZX_RIGHT_OP_CHILDREN"):
        OP_CHILDREN = lib.ZX_RIGHT_OP_CHILDREN
    if _has("ZX_RIGHT_RESIZE"):
        RESIZE = lib.ZX_RIGHT_RESIZE
    if _has("ZX_RIGHT_ATTACH_VMO"):
        ATTACH_VMO = lib.ZX_RIGHT_ATTACH_VMO
    if _has("ZX_RIGHT_MANAGE_VMO"):
        MANAGE_VMO = lib.ZX_RIGHT_MANAGE_VMO
    SAME_RIGHTS = lib.ZX_RIGHT_SAME_RIGHTS
    BASIC = lib.ZX_RIGHTS_BASIC
    IO = lib.ZX_RIGHTS_IO
    PROPERTY = lib.ZX_RIGHTS_PROPERTY
    POLICY = lib.ZX_RIGHTS_POLICY


class Signals(enum.IntFlag):
    """``zx_signals_t`` bits (``zircon/types.h``) for the objects zxpy wraps."""

    NONE = lib.ZX_SIGNAL_NONE
    TASK_TERMINATED = lib.ZX_TASK_TERMINATED
    THREAD_RUNNING = lib.ZX_THREAD_RUNNING
    THREAD_SUSPENDED = lib.ZX_THREAD_SUSPENDED
    PROCESS_TERMINATED = lib.ZX_PROCESS_TERMINATED
    THREAD_TERMINATED = lib.ZX_THREAD_TERMINATED
    JOB_TERMINATED = lib.ZX_JOB_TERMINATED
    JOB_NO_JOBS = lib.ZX_JOB_NO_JOBS
    JOB_NO_PROCESSES = lib.ZX_JOB_NO_PROCESSES
    EVENT_SIGNALED = lib.ZX_EVENT_SIGNALED
    HANDLE_CLOSED = lib.ZX_SIGNAL_HANDLE_CLOSED
    USER_SIGNAL_0 = lib.ZX_USER_SIGNAL_0
    USER_SIGNAL_1 = lib.ZX_USER_SIGNAL_1
    USER_SIGNAL_2 = lib.ZX_USER_SIGNAL_2
    USER_SIGNAL_3 = lib.ZX_USER_SIGNAL_3
    USER_SIGNAL_4 = lib.ZX_USER_SIGNAL_4
    USER_SIGNAL_5 = lib.ZX_USER_SIGNAL_5
    USER_SIGNAL_6 = lib.ZX_USER_SIGNAL_6
    USER_SIGNAL_7 = lib.ZX_USER_SIGNAL_7
    USER_SIGNAL_ALL = lib.ZX_USER_SIGNAL_ALL


class ObjType(_ZirconIntEnum):
    """``zx_obj_type_t`` values (``zircon/types.h``)."""

    NONE = lib.ZX_OBJ_TYPE_NONE
    PROCESS = lib.ZX_OBJ_TYPE_PROCESS
    THREAD = lib.ZX_OBJ_TYPE_THREAD
    VMO = lib.ZX_OBJ_TYPE_VMO
    CHANNEL = lib.ZX_OBJ_TYPE_CHANNEL
    EVENT = lib.ZX_OBJ_TYPE_EVENT
    PORT = lib.ZX_OBJ_TYPE_PORT
    INTERRUPT = lib.ZX_OBJ_TYPE_INTERRUPT
    PCI_DEVICE = lib.ZX_OBJ_TYPE_PCI_DEVICE
    if _has("ZX_OBJ_TYPE_DEBUGLOG"):
        DEBUGLOG = lib.ZX_OBJ_TYPE_DEBUGLOG
    SOCKET = lib.ZX_OBJ_TYPE_SOCKET
    RESOURCE = lib.ZX_OBJ_TYPE_RESOURCE
    EVENTPAIR = lib.ZX_OBJ_TYPE_EVENTPAIR
    JOB = lib.ZX_OBJ_TYPE_JOB
    VMAR = lib.ZX_OBJ_TYPE_VMAR
    FIFO = lib.ZX_OBJ_TYPE_FIFO
    GUEST = lib.ZX_OBJ_TYPE_GUEST
    VCPU = lib.ZX_OBJ_TYPE_VCPU
    TIMER = lib.ZX_OBJ_TYPE_TIMER
    IOMMU = lib.ZX_OBJ_TYPE_IOMMU
    BTI = lib.ZX_OBJ_TYPE_BTI
    PROFILE = lib.ZX_OBJ_TYPE_PROFILE
    PMT = lib.ZX_OBJ_TYPE_PMT
    SUSPEND_TOKEN = lib.ZX_OBJ_TYPE_SUSPEND_TOKEN
    PAGER = lib.ZX_OBJ_TYPE_PAGER
    EXCEPTION = lib.ZX_OBJ_TYPE_EXCEPTION
    CLOCK = lib.ZX_OBJ_TYPE_CLOCK
    STREAM = lib.ZX_OBJ_TYPE_STREAM
    if _has("ZX_OBJ_TYPE_MSI"):
        MSI = lib.ZX_OBJ_TYPE_MSI
    if _has("ZX_OBJ_TYPE_IOB"):
        IOB = lib.ZX_OBJ_TYPE_IOB
    if _has("ZX_OBJ_TYPE_COUNTER"):
        COUNTER = lib.ZX_OBJ_TYPE_COUNTER
    if _has("ZX_OBJ_TYPE_IOB_SHARED_REGION"):
        IOB_SHARED_REGION = lib.ZX_OBJ_TYPE_IOB_SHARED_REGION
    if _has("ZX_OBJ_TYPE_SAMPLER"):
        SAMPLER = lib.ZX_OBJ_TYPE_SAMPLER
    # The 2021 names of 12, 32 and 33 (today DEBUGLOG, MSI and IOB).
    if _has("ZX_OBJ_TYPE_LOG"):
        LOG = lib.ZX_OBJ_TYPE_LOG
    if _has("ZX_OBJ_TYPE_MSI_ALLOCATION"):
        MSI_ALLOCATION = lib.ZX_OBJ_TYPE_MSI_ALLOCATION
    if _has("ZX_OBJ_TYPE_MSI_INTERRUPT"):
        MSI_INTERRUPT = lib.ZX_OBJ_TYPE_MSI_INTERRUPT


class ThreadState(enum.IntEnum):
    """``ZX_INFO_THREAD`` states (``zircon/syscalls/object.h``).

    A blocked thread reports a precise ``BLOCKED_*`` value; plain ``BLOCKED``
    is never reported by the kernel.  ``basic`` applies
    ``ZX_THREAD_STATE_BASIC``.
    """

    NEW = lib.ZX_THREAD_STATE_NEW
    RUNNING = lib.ZX_THREAD_STATE_RUNNING
    SUSPENDED = lib.ZX_THREAD_STATE_SUSPENDED
    BLOCKED = lib.ZX_THREAD_STATE_BLOCKED
    DYING = lib.ZX_THREAD_STATE_DYING
    DEAD = lib.ZX_THREAD_STATE_DEAD
    BLOCKED_EXCEPTION = lib.ZX_THREAD_STATE_BLOCKED_EXCEPTION
    BLOCKED_SLEEPING = lib.ZX_THREAD_STATE_BLOCKED_SLEEPING
    BLOCKED_FUTEX = lib.ZX_THREAD_STATE_BLOCKED_FUTEX
    BLOCKED_PORT = lib.ZX_THREAD_STATE_BLOCKED_PORT
    BLOCKED_CHANNEL = lib.ZX_THREAD_STATE_BLOCKED_CHANNEL
    BLOCKED_WAIT_ONE = lib.ZX_THREAD_STATE_BLOCKED_WAIT_ONE
    BLOCKED_WAIT_MANY = lib.ZX_THREAD_STATE_BLOCKED_WAIT_MANY
    BLOCKED_INTERRUPT = lib.ZX_THREAD_STATE_BLOCKED_INTERRUPT
    BLOCKED_PAGER = lib.ZX_THREAD_STATE_BLOCKED_PAGER

    @property
    def basic(self) -> ThreadState:
        """``ZX_THREAD_STATE_BASIC(state)``: every ``BLOCKED_*`` becomes ``BLOCKED``."""
        return ThreadState(self.value & 0xFF)


class ExceptionChannelType(enum.IntEnum):
    """``zx_info_thread_t.wait_exception_channel_type`` values."""

    NONE = lib.ZX_EXCEPTION_CHANNEL_TYPE_NONE
    DEBUGGER = lib.ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER
    THREAD = lib.ZX_EXCEPTION_CHANNEL_TYPE_THREAD
    PROCESS = lib.ZX_EXCEPTION_CHANNEL_TYPE_PROCESS
    JOB = lib.ZX_EXCEPTION_CHANNEL_TYPE_JOB
    JOB_DEBUGGER = lib.ZX_EXCEPTION_CHANNEL_TYPE_JOB_DEBUGGER


class ExceptionType(enum.IntEnum):
    """``zx_excp_type_t``: what an exception is (``ZX_EXCP_*``, ``zircon/syscalls/exception.h``)."""

    GENERAL = lib.ZX_EXCP_GENERAL
    FATAL_PAGE_FAULT = lib.ZX_EXCP_FATAL_PAGE_FAULT
    UNDEFINED_INSTRUCTION = lib.ZX_EXCP_UNDEFINED_INSTRUCTION
    SW_BREAKPOINT = lib.ZX_EXCP_SW_BREAKPOINT
    HW_BREAKPOINT = lib.ZX_EXCP_HW_BREAKPOINT
    UNALIGNED_ACCESS = lib.ZX_EXCP_UNALIGNED_ACCESS
    THREAD_STARTING = lib.ZX_EXCP_THREAD_STARTING
    THREAD_EXITING = lib.ZX_EXCP_THREAD_EXITING
    POLICY_ERROR = lib.ZX_EXCP_POLICY_ERROR
    PROCESS_STARTING = lib.ZX_EXCP_PROCESS_STARTING

    @property
    def is_arch(self) -> bool:
        """``ZX_EXCP_IS_ARCH``: raised by the CPU, not synthesized by the kernel."""
        return not self.value & lib.ZX_EXCP_SYNTH


class ExceptionState(_ZirconIntEnum):
    """``ZX_PROP_EXCEPTION_STATE`` values: what closing an exception does to its thread."""

    TRY_NEXT = lib.ZX_EXCEPTION_STATE_TRY_NEXT
    HANDLED = lib.ZX_EXCEPTION_STATE_HANDLED
    if _has("ZX_EXCEPTION_STATE_THREAD_EXIT"):
        THREAD_EXIT = lib.ZX_EXCEPTION_STATE_THREAD_EXIT


class ExceptionStrategy(enum.IntEnum):
    """``ZX_PROP_EXCEPTION_STRATEGY`` values (a debugger may ask for a second look)."""

    FIRST_CHANCE = lib.ZX_EXCEPTION_STRATEGY_FIRST_CHANCE
    SECOND_CHANCE = lib.ZX_EXCEPTION_STRATEGY_SECOND_CHANCE


class ProcessInfoFlags(_ZirconIntFlag):
    """``zx_info_process_t.flags`` bits (``ZX_INFO_PROCESS_FLAG_*``; feature ``info_process_v2``)."""

    if _has("ZX_INFO_PROCESS_FLAG_STARTED"):
        STARTED = lib.ZX_INFO_PROCESS_FLAG_STARTED
        EXITED = lib.ZX_INFO_PROCESS_FLAG_EXITED
        DEBUGGER_ATTACHED = lib.ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED


class ThreadStateKind(enum.IntEnum):
    """The ``kind`` of ``zx_thread_read_state`` / ``zx_thread_write_state`` (``zircon/syscalls/debug.h``)."""

    GENERAL_REGS = lib.ZX_THREAD_STATE_GENERAL_REGS
    FP_REGS = lib.ZX_THREAD_STATE_FP_REGS
    VECTOR_REGS = lib.ZX_THREAD_STATE_VECTOR_REGS
    DEBUG_REGS = lib.ZX_THREAD_STATE_DEBUG_REGS
    SINGLE_STEP = lib.ZX_THREAD_STATE_SINGLE_STEP


class RetCode(enum.IntEnum):
    """``ZX_TASK_RETCODE_*``: the return codes of tasks the system ended."""

    SYSCALL_KILL = lib.ZX_TASK_RETCODE_SYSCALL_KILL
    OOM_KILL = lib.ZX_TASK_RETCODE_OOM_KILL
    POLICY_KILL = lib.ZX_TASK_RETCODE_POLICY_KILL
    VDSO_KILL = lib.ZX_TASK_RETCODE_VDSO_KILL
    EXCEPTION_KILL = lib.ZX_TASK_RETCODE_EXCEPTION_KILL
    CRITICAL_PROCESS_KILL = lib.ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL


class SpawnFlags(enum.IntFlag):
    """``FDIO_SPAWN_*`` flags of ``fdio_spawn`` (``lib/fdio/spawn.h``)."""

    CLONE_JOB = lib.FDIO_SPAWN_CLONE_JOB
    DEFAULT_LDSVC = lib.FDIO_SPAWN_DEFAULT_LDSVC
    CLONE_NAMESPACE = lib.FDIO_SPAWN_CLONE_NAMESPACE
    CLONE_STDIO = lib.FDIO_SPAWN_CLONE_STDIO
    CLONE_ENVIRON = lib.FDIO_SPAWN_CLONE_ENVIRON
    CLONE_UTC_CLOCK = lib.FDIO_SPAWN_CLONE_UTC_CLOCK
    CLONE_ALL = lib.FDIO_SPAWN_CLONE_ALL


class SpawnAction(enum.IntEnum):
    """``FDIO_SPAWN_ACTION_*`` kinds of ``fdio_spawn_action_t``."""

    CLONE_FD = lib.FDIO_SPAWN_ACTION_CLONE_FD
    TRANSFER_FD = lib.FDIO_SPAWN_ACTION_TRANSFER_FD
    ADD_NS_ENTRY = lib.FDIO_SPAWN_ACTION_ADD_NS_ENTRY
    ADD_HANDLE = lib.FDIO_SPAWN_ACTION_ADD_HANDLE
    SET_NAME = lib.FDIO_SPAWN_ACTION_SET_NAME
    CLONE_DIR = lib.FDIO_SPAWN_ACTION_CLONE_DIR


TASK_RETCODE_SYSCALL_KILL = RetCode.SYSCALL_KILL
TASK_RETCODE_OOM_KILL = RetCode.OOM_KILL
TASK_RETCODE_POLICY_KILL = RetCode.POLICY_KILL
TASK_RETCODE_VDSO_KILL = RetCode.VDSO_KILL
TASK_RETCODE_EXCEPTION_KILL = RetCode.EXCEPTION_KILL
TASK_RETCODE_CRITICAL_PROCESS_KILL = RetCode.CRITICAL_PROCESS_KILL

DEFAULT_JOB_RIGHTS = Rights(lib.ZX_DEFAULT_JOB_RIGHTS)
DEFAULT_PROCESS_RIGHTS = Rights(lib.ZX_DEFAULT_PROCESS_RIGHTS)
DEFAULT_THREAD_RIGHTS = Rights(lib.ZX_DEFAULT_THREAD_RIGHTS)
DEFAULT_EVENT_RIGHTS = Rights(lib.ZX_DEFAULT_EVENT_RIGHTS)
DEFAULT_VMAR_RIGHTS = Rights(lib.ZX_DEFAULT_VMAR_RIGHTS)
DEFAULT_SUSPEND_TOKEN_RIGHTS = Rights(lib.ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS)

HANDLE_INVALID: int = lib.ZX_HANDLE_INVALID
HANDLE_FIXED_BITS_MASK: int = lib.ZX_HANDLE_FIXED_BITS_MASK
KOID_INVALID: int = lib.ZX_KOID_INVALID
KOID_KERNEL: int = lib.ZX_KOID_KERNEL
TIME_INFINITE: int = lib.ZX_TIME_INFINITE
TIME_INFINITE_PAST: int = lib.ZX_TIME_INFINITE_PAST
MAX_NAME_LEN: int = lib.ZX_MAX_NAME_LEN
OBJ_TYPE_UPPER_BOUND: int = lib.ZX_OBJ_TYPE_UPPER_BOUND
SPAWN_ERR_MSG_MAX_LENGTH: int = lib.FDIO_SPAWN_ERR_MSG_MAX_LENGTH


_E = TypeVar("_E")

#: Entries a member cache keeps at most: the kernel's answers take few distinct values, but a caller can pass any
#: u32 (``Rights(...)`` of its own masks), and the cache must not grow with them.
_CACHE_LIMIT = 4096


class _MemberCache(dict[int, _E]):
    """``cache[value]``: ``make(value)`` for a plain int, built once and kept (up to ``_CACHE_LIMIT`` values).

    Building an IntFlag or IntEnum member from an int costs 300-400 ns on Python 3.11 (``EnumMeta.__call__``,
    ``_missing_``, even when enum has the pseudo-member cached already); a hit here is one dict lookup (~40 ns).
    zxpy compares and masks on plain ints internally and builds members only for values returned to the user,
    through these caches.  Keys must be exact ints (the kernel's values are).
    """

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[int], _E]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, value: int) -> _E:
        member = self._make(value)
        if len(self) < _CACHE_LIMIT:
            self[value] = member
        return member


def obj_type(value: int) -> ObjType | int:
    """Return ``ObjType(value)``, or the plain int for a type zxpy does not name."""
    try:
        return ObjType(value)
    except ValueError:
        return value


def thread_state(value: int) -> ThreadState | int:
    """Return ``ThreadState(value)``, or the plain int for an unknown state (``ZX_INFO_THREAD``'s ``state``)."""
    try:
        return ThreadState(value)
    except ValueError:
        return value


#: ``SIGNALS[v]`` is ``Signals(v)``, ``RIGHTS[v]`` ``Rights(v)``, ``PROCESS_INFO_FLAGS[v]`` ``ProcessInfoFlags(v)``,
#: ``OBJ_TYPES[v]`` ``obj_type(v)``, ``THREAD_STATES[v]`` ``thread_state(v)``: cached (:class:`_MemberCache`).
SIGNALS: _MemberCache[Signals] = _MemberCache(Signals)
RIGHTS: _MemberCache[Rights] = _MemberCache(Rights)
PROCESS_INFO_FLAGS: _MemberCache[ProcessInfoFlags] = _MemberCache(ProcessInfoFlags)
OBJ_TYPES: _MemberCache[ObjType | int] = _MemberCache(obj_type)
THREAD_STATES: _MemberCache[ThreadState | int] = _MemberCache(thread_state)


def exception_channel_type(value: int) -> ExceptionChannelType | int:
    """Return ``ExceptionChannelType(value)``, or the plain int for an unknown one."""
    try:
        return ExceptionChannelType(value)
    except ValueError:
        return value
