"""``Thread``: a thread handle.

Zircon rules surfaced here:

* Killing a thread is not possible: ``zx_task_kill`` on a thread handle returns
  ZX_ERR_WRONG_TYPE (the kernel's answer since RFC-0007; newer documentation
  says NOT_SUPPORTED, the kernel does not), so :meth:`Thread.kill` raises
  :class:`~zxpy.errors.WrongTypeError`.  Kill the process or job instead.
* ``ZX_INFO_THREAD_STATS`` (:meth:`Thread.stats`) needs a thread that has
  not exited yet: a dead thread gives BAD_STATE (its runtime stays readable
  through :meth:`Task.runtime`).
* Suspension is asynchronous; :meth:`Thread.suspend` waits for
  ``THREAD_SUSPENDED`` by default.  Suspending the calling thread is
  NOT_SUPPORTED.  A thread that was never started can be suspended; it enters
  SUSPENDED as soon as it is started.

**Threads of this interpreter.** Suspending another Python thread of *this*
interpreter never deadlocks it: the host kernel parks a Python thread only
where it holds no GIL (in a zxpy call, or blocked in a system call that is
not a lock wait), and a thread found elsewhere - running Python, between
wait slices, waiting on a lock - parks at its next such point or bytecode,
within about one GIL switch interval (``sys.getswitchinterval()``) when it
is busy in Python.  As on Zircon,
``THREAD_SUSPENDED`` is asserted only once it has really stopped.  Other
locks it may hold (malloc's, a ``threading.Lock``) still stall whoever
needs them until the token is closed.  See docs/self-suspend.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import _raw
from ._info import info_query
from ._record import record_maker
from ._time import to_deadline
from .enums import (
    THREAD_STATES,
    ExceptionChannelType,
    ObjType,
    Rights,
    Signals,
    ThreadState,
    exception_channel_type,
)
from .errors import AccessDeniedError, BadStateError, ZxError
from .exception import ExceptionChannel, ExceptionReport, create_exception_channel, read_exception_report
from .handle import AUTO, Handle, _Auto, _wait, check_bool, check_u32, check_u64
from .regs import Arm64GeneralRegs, GeneralRegs, X64GeneralRegs
from .task import SuspendToken, Task

__all__ = ["Thread", "ThreadInfo", "ThreadStatsInfo"]

_new = _raw.new
_SIGNALS_PTR = _raw.SIGNALS_PTR
_ffi = _raw.ffi
_thread_start = _raw.thread_start
_object_wait_one = _raw.object_wait_one
_lib = _raw.lib
_INFO_THREAD = info_query("ZX_INFO_THREAD")
_INFO_THREAD_STATS = info_query("ZX_INFO_THREAD_STATS")
_INVALID_CPU: int = _lib.ZX_INFO_INVALID_CPU
_SUSPENDED = int(Signals.THREAD_SUSPENDED)  # plain ints: masks on IntFlag members cost ~600 ns each
_TERMINATED = int(Signals.THREAD_TERMINATED)
_RIGHTS_CHECKED = 1  # Thread._checked: this handle has WAIT and INSPECT
_LEFT_NEW = 2  # Thread._checked: the thread was seen past THREAD_NEW
_STATE_NEW: int = ThreadState.NEW
_DEFAULT_STACK_SIZE = 64 * 1024
_SAME_RIGHTS = Rights.SAME_RIGHTS
_ENTRY_TYPE = _ffi.typeof("void(*)(uintptr_t, uintptr_t)")
_WAIT_RIGHTS = int(Rights.WAIT | Rights.INSPECT)
_thread_read_state = _lib.zx_thread_read_state
_thread_write_state = _lib.zx_thread_write_state
_GENERAL_REGS: int = _lib.ZX_THREAD_STATE_GENERAL_REGS
_SINGLE_STEP: int = _lib.ZX_THREAD_STATE_SINGLE_STEP
_STEP_SIZE: int = _ffi.sizeof("zx_thread_state_single_step_t")
#: The record size of each kind of this build (DEBUG_REGS is not declared: read it as bytes of this size).
_STATE_SIZES: dict[int, int] = {
    int(_lib.ZX_THREAD_STATE_SINGLE_STEP): _ffi.sizeof("zx_thread_state_single_step_t"),
    **(
        {
            int(_lib.ZX_THREAD_STATE_GENERAL_REGS): _ffi.sizeof("zx_thread_state_general_regs_t"),
            int(_lib.ZX_THREAD_STATE_FP_REGS): _ffi.sizeof("zx_thread_state_fp_regs_t"),
            int(_lib.ZX_THREAD_STATE_VECTOR_REGS): _ffi.sizeof("zx_thread_state_vector_regs_t"),
            # zx_thread_state_debug_regs_t: 48 bytes on x86-64, 528 on arm64 (zircon/syscalls/debug.h).
            int(_lib.ZX_THREAD_STATE_DEBUG_REGS): 48 if _raw.BUILD_INFO.get("arch") == "x64" else 528,
        }
        if GeneralRegs is not None
        else {}
    ),
}


@dataclass(frozen=True)
class ThreadInfo:
    """``ZX_INFO_THREAD`` (``zx_info_thread_t``), read fresh on each call.

    ``state`` is a :class:`~zxpy.ThreadState`; a blocked thread reports a
    ``BLOCKED_*`` value, never ``RUNNING``, as on Zircon.  Waits of the host
    kernel are exact (``wait_one``: ``BLOCKED_WAIT_ONE``, ``zx_nanosleep``:
    ``BLOCKED_SLEEPING``, port and channel calls).  A thread blocked in Linux
    (a spawned program, or a Python thread in ``os.read``, ``time.sleep``,
    ``Event.wait``) gets the nearest Zircon wait: sleeps ``BLOCKED_SLEEPING``,
    futexes ``BLOCKED_FUTEX``, one descriptor ``BLOCKED_WAIT_ONE``, poll/select
    ``BLOCKED_WAIT_MANY``, epoll ``BLOCKED_PORT`` (docs/thread-states.md).
    ``cpu_affinity_mask`` is the 512-bit ``zx_cpu_set_t`` as an int.
    """

    state: ThreadState | int
    wait_exception_channel_type: ExceptionChannelType | int
    cpu_affinity_mask: int


@dataclass(frozen=True)
class ThreadStatsInfo:
    """``ZX_INFO_THREAD_STATS`` (``zx_info_thread_stats_t``), read fresh on each call.

    ``total_runtime``: nanoseconds the thread spent running (0 before it
    starts).  ``last_scheduled_cpu``: the CPU it last ran on, or None where
    Zircon reports ``ZX_INFO_INVALID_CPU`` (it never ran).
    """

    total_runtime: int
    last_scheduled_cpu: int | None


_make_thread_info = record_maker(ThreadInfo)
_make_thread_stats = record_maker(ThreadStatsInfo)

class Thread(Task):
    """A thread handle."""

    #: ``_stack``: the stack a ``start(stack_size=...)`` mapped, kept alive with every handle to the thread;
    #: ``_checked``: facts ``suspend(wait=True)`` read once and that cannot change for this value: the handle
    #: has WAIT and INSPECT (a handle's rights are fixed), and the thread has left NEW (it never returns to it).
    __slots__ = ("_stack", "_checked")
    OBJ_TYPE: ClassVar[int | None] = ObjType.THREAD

    _stack: Any

    def __init__(self, raw: int, *, owned: bool | _Auto = AUTO) -> None:
        super().__init__(raw, owned=owned)
        self._stack = None
        self._checked = 0

    @classmethod
    def _adopt(cls, raw: int, owned: bool = True, koid: int | None = None) -> Thread:
        obj = super()._adopt(raw, owned, koid)
        obj._stack = None
        obj._checked = 0
        return obj

    def duplicate(self, rights: int = _SAME_RIGHTS) -> Thread:
        """As :meth:`~zxpy.handle.Handle.duplicate`; the copy also keeps the stack alive."""
        dup = Task.duplicate(self, rights)
        dup._stack = self._stack
        return dup

    def replace(self, rights: int = _SAME_RIGHTS) -> Thread:
        """As :meth:`Handle.replace`; the stack passes to the new handle."""
        stack = self._stack
        new = Task.replace(self, rights)
        new._stack = stack
        return new

    @classmethod
    def self(cls) -> Thread:
        """``zx_thread_self()``: the calling thread, borrowed (never closed)."""
        return cls._adopt(_raw.thread_self(), owned=False)

    def info(self) -> ThreadInfo:
        """``ZX_INFO_THREAD`` (needs ``INSPECT``; a non-thread is WRONG_TYPE)."""
        buf = self._read_info(_INFO_THREAD)
        mask = 0
        words = buf.cpu_affinity_mask.mask
        for i in range(len(words)):
            mask |= int(words[i]) << (64 * i)
        return _make_thread_info(
            THREAD_STATES[buf.state], exception_channel_type(buf.wait_exception_channel_type), mask
        )

    def stats(self) -> ThreadStatsInfo:
        """``ZX_INFO_THREAD_STATS`` (needs ``INSPECT``; a non-thread is WRONG_TYPE).

        BadStateError once the thread has exited (Zircon keeps no scheduler
        state for it; :meth:`Task.runtime` still works).
        """
        buf = self._read_info(_INFO_THREAD_STATS)
        cpu = int(buf.last_scheduled_cpu)
        return _make_thread_stats(buf.total_runtime, None if cpu == _INVALID_CPU else cpu)

    def kill(self) -> None:
        """Always fails: Zircon cannot kill a single thread.

        ``zx_task_kill`` on a thread handle returns ZX_ERR_WRONG_TYPE (the
        kernel's answer since RFC-0007, although newer docs say
        NOT_SUPPORTED), so this raises :class:`~zxpy.errors.WrongTypeError`
        (or AccessDeniedError if the handle lacks DESTROY: rights are checked
        first).  Kill the thread's process or job instead.
        """
        Task.kill(self)

    def suspend(
        self,
        wait: bool = True,
        timeout: float | None = None,
        deadline: int | None = None,
    ) -> SuspendToken:
        """``zx_task_suspend`` on this thread; returns the token.

        With ``wait`` (the default), return only once the thread really is
        suspended (``THREAD_SUSPENDED``) - or at once for a thread not yet
        started, which suspends when it starts.  If the deadline passes first,
        the token is closed (nothing stays suspended) and
        :class:`~zxpy.errors.TimedOutError` is raised; if the thread dies
        meanwhile, :class:`~zxpy.errors.BadStateError`.  Suspending the
        calling thread is NOT_SUPPORTED.  A thread of this interpreter stops
        at its next point without the GIL (see the module docstring).

        Rights: ``zx_task_suspend`` needs ``Rights.WRITE``; waiting also needs
        ``Rights.WAIT`` (``zx_object_wait_one``) and ``Rights.INSPECT`` (the
        ``ZX_INFO_THREAD`` read that tells a never-started thread, which would
        never assert the signal, from a running one).  With ``wait`` a handle
        lacking either raises :class:`~zxpy.errors.AccessDeniedError` up
        front, before anything is suspended; ``wait=False`` needs only WRITE.
        """
        check_bool(wait, "wait")
        zx_deadline = to_deadline(timeout, deadline)
        if wait and not self._checked & _RIGHTS_CHECKED:
            _check_wait_rights(self)
            self._checked |= _RIGHTS_CHECKED
        token = Task.suspend(self)
        if not wait:
            return token
        try:
            raw = self.raw
            observed = _new(_SIGNALS_PTR)
            status = _object_wait_one(raw, _SUSPENDED | _TERMINATED, _raw.TIME_INFINITE_PAST, observed)
            if status and (self._checked & _LEFT_NEW or not self._state_is_new()):
                self._checked |= _LEFT_NEW
                status = _wait(self, raw, _SUSPENDED | _TERMINATED, zx_deadline, observed)
                if status:
                    err = self._wait_error(status, observed[0])
                    err.detail = "thread did not reach THREAD_SUSPENDED; the suspend token was closed"
                    raise err
            elif status:
                return token  # NEW: it suspends when started
            if not observed[0] & _SUSPENDED:
                raise BadStateError(
                    None, "zx_task_suspend", self._koid_or_none(), "the thread terminated"
                )
        except BaseException:
            token.close()
            raise
        return token

    # ---------------------------------------------------------------- debugger: registers

    def read_state(self) -> X64GeneralRegs | Arm64GeneralRegs:
        """``zx_thread_read_state(ZX_THREAD_STATE_GENERAL_REGS)``: the thread's general registers.

        Needs ``Rights.READ``.  The thread must be suspended (``THREAD_SUSPENDED``
        asserted: hold a :meth:`suspend` token), in an exception, or held at a
        single-step trap, else :class:`~zxpy.errors.BadStateError`.  Of this process's threads the
        host reads only those parked in their park signal's handler (a C worker,
        a thread blocked in a system call); others are NOT_SUPPORTED
        (docs/debugging.md).
        """
        if GeneralRegs is None:
            raise self._error(_lib.ZX_ERR_NOT_SUPPORTED, "zx_thread_read_state",
                              "no general-register record for this architecture")
        buf = _new("zx_thread_state_general_regs_t *")
        _read_state_into(self, _GENERAL_REGS, buf, _ffi.sizeof(buf[0]))
        return GeneralRegs._from_c(buf)

    def write_state(self, regs: X64GeneralRegs | Arm64GeneralRegs) -> None:
        """``zx_thread_write_state(ZX_THREAD_STATE_GENERAL_REGS)``: set every general register.

        ``regs`` is this architecture's record, typically ``thread.read_state().replace(...)``
        (TypeError otherwise).  Needs ``Rights.WRITE`` and a suspended thread, as :meth:`read_state`.
        """
        if GeneralRegs is None or type(regs) is not GeneralRegs:
            want = GeneralRegs.__name__ if GeneralRegs is not None else "a general-register record"
            raise TypeError(f"regs must be a {want}, not {type(regs).__name__}")
        buf = regs._to_c()
        _write_state_from(self, _GENERAL_REGS, buf, _ffi.sizeof(buf[0]))

    def read_state_bytes(self, kind: int) -> bytes:
        """``zx_thread_read_state(kind)`` as the raw record (``ThreadStateKind.FP_REGS``, ``VECTOR_REGS``, ...).

        The record is ``zircon/syscalls/debug.h``'s for the build's architecture
        (``zxpy.ffi.from_buffer`` / ``ffi.cast`` read it as
        ``zx_thread_state_vector_regs_t``).  An unknown kind is INVALID_ARGS from
        the kernel; ``DEBUG_REGS`` is NOT_SUPPORTED on the host.
        """
        kind = check_u32(kind, "kind")
        size = _STATE_SIZES.get(kind, 8)
        buf = _new("uint64_t[]", (size + 7) // 8)  # 8-byte aligned, as the kernel's records want
        _read_state_into(self, kind, buf, size)
        return bytes(_ffi.buffer(buf, size))

    def write_state_bytes(self, kind: int, data: bytes | bytearray | memoryview) -> None:
        """``zx_thread_write_state(kind, data)`` with a raw record (see :meth:`read_state_bytes`)."""
        kind = check_u32(kind, "kind")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        raw = bytes(data)
        buf = _new("uint64_t[]", max(1, (len(raw) + 7) // 8))
        _ffi.memmove(buf, raw, len(raw))
        _write_state_from(self, kind, buf, len(raw))

    def read_single_step(self) -> bool:
        """``ZX_THREAD_STATE_SINGLE_STEP``: whether each resume runs a single instruction."""
        buf = _new("zx_thread_state_single_step_t *")
        _read_state_into(self, _SINGLE_STEP, buf, _STEP_SIZE)
        return bool(buf[0])

    def write_single_step(self, on: bool) -> None:
        """Set ``ZX_THREAD_STATE_SINGLE_STEP`` (needs ``Rights.WRITE``; suspended or in an exception).

        While it is set, each resume of the thread runs one instruction, and
        the trap after it is a ``ZX_EXCP_HW_BREAKPOINT`` exception, as on
        Zircon (x86_debug_handler, zircon/kernel/arch/x86/faults.cc): the
        debugger channel gets it first, and marking it handled steps again.
        With no exception channel bound the host holds the thread at the trap
        (``ThreadState.BLOCKED_EXCEPTION``, registers readable) until it is
        suspended and resumed (docs/debugging.md).
        """
        check_bool(on, "on")
        buf = _new("zx_thread_state_single_step_t *", 1 if on else 0)
        _write_state_from(self, _SINGLE_STEP, buf, _STEP_SIZE)

    def _state_is_new(self) -> bool:
        try:
            buf = self._read_info(_INFO_THREAD)
        except ZxError:
            return False
        return int(buf.state) == _STATE_NEW

    def start(
        self,
        entry: Any,
        arg1: int = 0,
        arg2: int = 0,
        *,
        stack: Any = None,
        stack_size: int = _DEFAULT_STACK_SIZE,
        raw_entry_address: bool = False,
    ) -> None:
        """``zx_thread_start``: run ``entry(arg1, arg2)`` on this thread.

        ``entry`` is a cffi function pointer of type
        ``void(*)(uintptr_t, uintptr_t)``, e.g.
        ``ffi.addressof(lib, "zxpy_progress_entry")``.  A bare address (int)
        is refused with TypeError unless ``raw_entry_address=True`` says the
        caller vouches for it: a wrong address crashes the process, as it
        would in C.  Unless ``stack``
        (an int stack pointer or a cffi buffer) is given, a ``stack_size``
        buffer is allocated and kept alive by this object - keep it alive
        until the thread has terminated.  (The host kernel runs the entry on
        a real pthread and ignores the stack.)  Needs ``MANAGE_THREAD``;
        then, in Zircon's order: BAD_STATE if the process is dying or dead,
        INVALID_ARGS for a kernel-half entry address, BAD_STATE if already
        started.
        """
        entry_addr = _entry_address(entry, raw_entry_address)
        arg1 = check_u64(arg1, "arg1")
        arg2 = check_u64(arg2, "arg2")
        keep: Any = None
        if stack is None:
            stack_size = check_u64(stack_size, "stack_size")
            if stack_size < 4096:
                raise ValueError("stack_size must be at least 4096")
            keep = _new("char[]", stack_size)
            sp = (int(_ffi.cast("uintptr_t", keep)) + stack_size) & ~15
        elif isinstance(stack, _ffi.CData):
            keep = stack
            sp = (int(_ffi.cast("uintptr_t", stack)) + _ffi.sizeof(stack)) & ~15
        else:
            sp = check_u64(stack, "stack")
        raw = self.raw
        status = _thread_start(raw, entry_addr, sp, arg1, arg2)
        if status:
            raise self._error(status, "zx_thread_start")
        self._stack = keep

    # ---------------------------------------------------------------- exceptions (zxpy.exception)

    def exception_channel(self, debugger: bool = False) -> ExceptionChannel:
        """``zx_task_create_exception_channel``: bind this thread's own exception channel; returns its
        reading end (:class:`~zxpy.exception.ExceptionChannel`: ``receive()`` the exceptions, close to unbind).
        A thread has no debugger channel (``debugger=True``: InvalidArgsError).
        """
        return create_exception_channel(self, debugger)

    def exception_report(self) -> ExceptionReport:
        """``ZX_INFO_THREAD_EXCEPTION_REPORT``: the type and CPU context of the exception the thread is in
        (``Rights.INSPECT``; BadStateError when it is in none)."""
        return read_exception_report(self)


def _read_state_into(thread: Handle, kind: int, buf: Any, size: int) -> None:
    raw = thread._raw_or_raise("zx_thread_read_state")
    status = _thread_read_state(raw, kind, buf, size)
    if status:
        raise thread._error(status, "zx_thread_read_state")


def _write_state_from(thread: Handle, kind: int, buf: Any, size: int) -> None:
    raw = thread._raw_or_raise("zx_thread_write_state")
    status = _thread_write_state(raw, kind, buf, size)
    if status:
        raise thread._error(status, "zx_thread_write_state")


def _check_wait_rights(thread: Handle) -> None:
    """AccessDeniedError unless ``thread`` has WAIT and INSPECT (what a waiting suspend needs)."""
    info = thread.basic_info()  # needs no right: only a bad handle fails (BAD_HANDLE, no koid)
    missing = _WAIT_RIGHTS & ~int(info.rights)
    if missing:
        raise AccessDeniedError(
            None,
            "zx_object_wait_one" if missing & Rights.WAIT else "zx_object_get_info",
            info.koid,
            f"suspend(wait=True) needs {Rights(_WAIT_RIGHTS)!r}; the handle lacks {Rights(missing)!r}"
            " (nothing was suspended; wait=False suspends without waiting)",
        )


def _entry_address(entry: Any, raw_ok: object) -> int:
    check_bool(raw_ok, "raw_entry_address")
    if isinstance(entry, _ffi.CData):
        if _ffi.typeof(entry) is not _ENTRY_TYPE:
            raise TypeError(f"entry must be a void(*)(uintptr_t, uintptr_t), not {_ffi.typeof(entry).cname}")
        if entry == _raw.NULL:
            raise ValueError("entry must not be NULL")
        address: int = int(_ffi.cast("uintptr_t", entry))
        return address
    if not raw_ok and (isinstance(entry, int) and not isinstance(entry, bool)):
        raise TypeError("entry is a bare address: pass a cffi function pointer, or raw_entry_address=True")
    number = check_u64(entry, "entry")
    if number == 0:
        raise ValueError("entry must not be 0")
    return number

