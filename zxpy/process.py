"""``Process``: a process handle.

``ZX_INFO_PROCESS`` is read with the topic and record of the headers zxpy was
built against: today 0x10000003, the 24-byte ``zx_info_process_t`` of
RFC-0074, whose ``flags`` give ``started``/``exited``; on an SDK from before it
(``zxpy.features`` lacks ``info_process_v2``), topic 3 with the 16-byte record
of three bools, where ``start_time`` and ``flags`` are None.  ``exited`` is set as soon as a kill begins, before
``TASK_TERMINATED``; a process killed before it started reports
``started`` and ``exited`` with ``start_time`` 0.  Killing a process kills every
thread it started; threads created but never started are not in its thread
list.  ``ZX_INFO_TASK_STATS`` (:meth:`Process.task_stats`) describes the
process's address space, so a dead process has none: BAD_STATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import _raw
from ._fastcalls import PROCESS_INFO_V2, ProcessCore
from ._info import info_query
from ._ints import as_int
from ._record import record_maker
from .enums import OBJ_TYPE_UPPER_BOUND, OBJ_TYPES, ObjType, ProcessInfoFlags, Rights
from .exception import ExceptionChannel, create_exception_channel
from .handle import Handle, check_u32, check_u64, encode_name, wrap_handle
from .task import Task
from .thread import Thread

__all__ = ["Process", "ProcessInfo", "TaskStatsInfo", "encode_name"]

_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_thread_create = _raw.thread_create
_lib = _raw.lib
_INFO_PROCESS = info_query("ZX_INFO_PROCESS")
_PROCESS_V2 = _INFO_PROCESS.has("flags")
if bool(PROCESS_INFO_V2) != _PROCESS_V2:  # pragma: no cover - both follow build_ffi.py's detection
    raise ImportError("zxpy._fastcalls and the cdef disagree on zx_info_process_t: rebuild zxpy")
_INFO_PROCESS_THREADS: int = _lib.ZX_INFO_PROCESS_THREADS
_INFO_PROCESS_HANDLE_STATS = info_query("ZX_INFO_PROCESS_HANDLE_STATS")
_INFO_TASK_STATS = info_query("ZX_INFO_TASK_STATS")
_STATS_FRACTION = _INFO_TASK_STATS.has("mem_fractional_scaled_shared_bytes")
_process_read_memory = _lib.zx_process_read_memory
_process_write_memory = _lib.zx_process_write_memory
_SIZE_PTR = _raw.ffi.typeof("size_t *")
_object_get_property = _lib.zx_object_get_property
_object_set_property = _lib.zx_object_set_property
_PROP_DEBUG_ADDR: int = _lib.ZX_PROP_PROCESS_DEBUG_ADDR
_PROP_BREAK_ON_LOAD: int = _lib.ZX_PROP_PROCESS_BREAK_ON_LOAD
#: kMaxDebugReadBlock / kMaxDebugWriteBlock (zircon/kernel/lib/syscalls/task.cc): more is INVALID_ARGS.
MAX_DEBUG_BLOCK = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProcessInfo:
    """``ZX_INFO_PROCESS`` (``zx_info_process_t``), read fresh on each call.

    ``return_code`` is meaningful once ``exited``; ``start_time`` once
    ``started``.  ``start_time`` and ``flags`` are None when zxpy was built
    against an SDK whose record has neither (before RFC-0074's version 1 of
    the topic); ``started``, ``exited`` and ``debugger_attached`` are always set.
    """

    return_code: int
    start_time: int | None
    flags: ProcessInfoFlags | None
    started: bool
    exited: bool
    debugger_attached: bool


@dataclass(frozen=True)
class TaskStatsInfo:
    """``ZX_INFO_TASK_STATS`` (``zx_info_task_stats_t``): a process's memory, in bytes, read fresh.

    ``mem_mapped_bytes`` is the size of every mapping, committed or not;
    ``mem_private_bytes`` committed memory mapped only by this process;
    ``mem_shared_bytes`` committed memory also mapped by others;
    ``mem_scaled_shared_bytes`` that shared memory divided among the processes
    sharing it; ``mem_fractional_scaled_shared_bytes`` the fraction of a byte
    that division leaves.  On the host kernel these come from Linux
    (``/proc/<pid>/statm`` and ``smaps_rollup``, whole kB, so the fraction is
    0), and a process made by ``zx_process_create`` has no address space: all 0.
    ``mem_fractional_scaled_shared_bytes`` is None when zxpy was built against
    an SDK whose record lacks it (topic version 0, ``ZX_INFO_TASK_STATS`` = 12).
    """

    mem_mapped_bytes: int
    mem_private_bytes: int
    mem_shared_bytes: int
    mem_scaled_shared_bytes: int
    mem_fractional_scaled_shared_bytes: int | None


_make_task_stats = record_maker(TaskStatsInfo)

class Process(Task, ProcessCore):
    """A process handle (``info`` is ProcessCore's: csrc/fastcalls.c)."""

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.PROCESS

    @classmethod
    def self(cls) -> Process:
        """``zx_process_self()``: the calling process, borrowed (never closed)."""
        return cls._adopt(_raw.process_self(), owned=False)

    def create_thread(self, name: str | bytes = b"", options: int = 0) -> Thread:
        """``zx_thread_create``: a new thread in state NEW (``MANAGE_THREAD``).

        Start it with :meth:`Thread.start`.  As in Zircon (``sys_thread_create``)
        the process's state is not checked: a dying or dead process gets a
        thread that can never start (``start`` gives BAD_STATE).
        """
        data = encode_name(name)
        options = check_u32(options, "options")
        raw = self.raw
        out = _new(_HANDLE_PTR)
        status = _thread_create(raw, data, len(data), options, out)
        if status:
            raise self._error(status, "zx_thread_create")
        return Thread._adopt(out[0])

    def threads(self) -> list[int]:
        """``ZX_INFO_PROCESS_THREADS``: koids of started, not yet dead threads."""
        return self._get_info_koids(_INFO_PROCESS_THREADS)

    def child(self, koid: int, rights: int = Rights.SAME_RIGHTS) -> Thread:
        """``zx_object_get_child``: a handle to one of this process's threads.

        Needs ``ENUMERATE``; rights must be a subset of this handle's.
        """
        handle = wrap_handle(self._get_child_raw(koid, rights))
        assert isinstance(handle, Thread), handle
        return handle

    def handle_stats(self) -> dict[ObjType | int, int]:
        """``ZX_INFO_PROCESS_HANDLE_STATS``: open handles by object type.

        Only types with at least one handle appear.  ``sum(...values())`` is
        the process's handle count.
        """
        buf = self._read_info(_INFO_PROCESS_HANDLE_STATS)
        counts = buf.handle_count
        return {OBJ_TYPES[i]: int(counts[i]) for i in range(OBJ_TYPE_UPPER_BOUND) if counts[i]}

    def task_stats(self) -> TaskStatsInfo:
        """``ZX_INFO_TASK_STATS``: the process's memory (needs ``INSPECT``).

        Only processes have it (a thread or job is WRONG_TYPE); a dead process
        has no address space left: BadStateError.
        """
        buf = self._read_info(_INFO_TASK_STATS)
        return _make_task_stats(
            buf.mem_mapped_bytes,
            buf.mem_private_bytes,
            buf.mem_shared_bytes,
            buf.mem_scaled_shared_bytes,
            buf.mem_fractional_scaled_shared_bytes if _STATS_FRACTION else None,
        )

    # ---------------------------------------------------------------- debugger: memory

    def read_memory(self, address: int, size: int) -> bytes:
        """``zx_process_read_memory``: up to ``size`` bytes at ``address`` (needs ``READ`` and ``WRITE``).

        As on Zircon the read stops at the end of the mapping that holds
        ``address``, so the result can be shorter than ``size``; nothing mapped
        there is :class:`~zxpy.errors.NoMemoryError`, a dead process
        BadStateError.  ``size`` 0 is INVALID_ARGS from the kernel; a negative
        one, or one over 64 MiB (the kernel's limit), ValueError.
        """
        address = check_u64(address, "address")
        size = as_int(size, "size")
        if not 0 <= size <= MAX_DEBUG_BLOCK:
            raise ValueError(f"size must be in 0..{MAX_DEBUG_BLOCK} (64 MiB), got {size}")
        raw = self._raw_or_raise("zx_process_read_memory")
        buf = _new("char[]", max(size, 1))
        actual = _new(_SIZE_PTR)
        status = _process_read_memory(raw, address, buf, size, actual)
        if status:
            raise self._error(status, "zx_process_read_memory")
        data: bytes = _raw.ffi.buffer(buf, actual[0])[:]
        return data

    def write_memory(self, address: int, data: bytes | bytearray | memoryview) -> int:
        """``zx_process_write_memory``: write ``data`` at ``address``; returns how many bytes were written.

        Needs ``WRITE``.  Read-only code can be written (a debugger plants a
        breakpoint that way); the write stops at the end of the mapping, as
        :meth:`read_memory`; the vDSO is ACCESS_DENIED.
        """
        address = check_u64(address, "address")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        payload = bytes(data)
        if len(payload) > MAX_DEBUG_BLOCK:
            raise ValueError(f"data must be at most {MAX_DEBUG_BLOCK} bytes (64 MiB), got {len(payload)}")
        raw = self._raw_or_raise("zx_process_write_memory")
        actual = _new(_SIZE_PTR)
        status = _process_write_memory(raw, address, _raw.ffi.from_buffer(payload) if payload else _raw.NULL,
                                       len(payload), actual)
        if status:
            raise self._error(status, "zx_process_write_memory")
        return int(actual[0])

    # ---------------------------------------------------------------- debugger: properties

    def get_debug_addr(self) -> int:
        """``ZX_PROP_PROCESS_DEBUG_ADDR``: where the dynamic linker's ``r_debug`` is (0 until set).

        Needs ``GET_PROPERTY``.  On Fuchsia ld.so sets it; on the host nothing does
        (docs/debugging.md).
        """
        return _get_word(self, _PROP_DEBUG_ADDR)

    def set_debug_addr(self, address: int) -> None:
        """Set ``ZX_PROP_PROCESS_DEBUG_ADDR``: 0 is INVALID_ARGS, and once set it cannot change (ACCESS_DENIED)."""
        _set_word(self, _PROP_DEBUG_ADDR, check_u64(address, "address"))

    def get_break_on_load(self) -> int:
        """``ZX_PROP_PROCESS_BREAK_ON_LOAD``: non-zero asks the dynamic linker to trap after each load."""
        return _get_word(self, _PROP_BREAK_ON_LOAD)

    def set_break_on_load(self, value: int) -> None:
        """Set ``ZX_PROP_PROCESS_BREAK_ON_LOAD`` (stored only, on the host: no Linux loader reads it)."""
        _set_word(self, _PROP_BREAK_ON_LOAD, check_u64(value, "value"))

    async def wait_async(self, timeout: float | None = None, deadline: int | None = None) -> int:
        """``await``-able :meth:`wait`: the return code once the process has terminated (:mod:`zxpy.aio`)."""
        await self.wait_terminated_async(timeout, deadline)
        return self.info().return_code

    def wait(self, timeout: float | None = None, deadline: int | None = None) -> int:
        """Wait for the process to terminate and return its return code.

        ``timeout`` in seconds with psutil's meaning, or ``deadline`` in ns
        of :func:`zxpy.monotonic`, as every zxpy wait; raises
        :class:`~zxpy.errors.TimedOutError` (a ``TimeoutError``) when it
        passes first.
        """
        self.wait_terminated(timeout, deadline)
        return self.info().return_code

    # ---------------------------------------------------------------- exceptions (zxpy.exception)

    def exception_channel(self, debugger: bool = False) -> ExceptionChannel:
        """``zx_task_create_exception_channel``: bind this process's standard (or, ``debugger=True``,
        debugger) exception channel; returns its reading end (:class:`~zxpy.exception.ExceptionChannel`:
        ``receive()`` the exceptions, close it to unbind).  The debugger channel is the first to get each
        exception of its threads.
        """
        return create_exception_channel(self, debugger)


def _get_word(process: Handle, prop: int) -> int:
    raw = process._raw_or_raise("zx_object_get_property")
    buf = _new("uintptr_t *")
    status = _object_get_property(raw, prop, buf, _raw.ffi.sizeof("uintptr_t"))
    if status:
        raise process._error(status, "zx_object_get_property")
    return int(buf[0])


def _set_word(process: Handle, prop: int, value: int) -> None:
    raw = process._raw_or_raise("zx_object_set_property")
    buf = _new("uintptr_t *", value)
    status = _object_set_property(raw, prop, buf, _raw.ffi.sizeof("uintptr_t"))
    if status:
        raise process._error(status, "zx_object_set_property")
