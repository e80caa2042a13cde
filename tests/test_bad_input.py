"""Bad input to every public function: a clear Python exception, never a crash, hang or leak.

Wrong Python types (None, str, float, bool, lists) are ``TypeError``; negative
or oversized integers and NaN or negative timeouts are ``ValueError``; a closed
wrapper is ``ValueError("handle is closed (<syscall>)")``; what only the kernel can judge
(a handle of the wrong type, missing rights, a consumed token) is the
``ZxError`` subclass of Zircon's status, naming the syscall.  The autouse
``no_leaks`` fixture (tests/conftest.py) checks every test returns to its
handle count and leaves no child process.  A hypothesis fuzz over the whole
API closes the file.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
from conftest import advances, as_kind
from conftest_robustness import reporter, scaled
from hypothesis import HealthCheck, given, settings

import zxpy
from zxpy import (
    AccessDeniedError,
    BadHandleError,
    Event,
    Handle,
    InvalidArgsError,
    Job,
    NotFoundError,
    NotSupportedError,
    Process,
    Rights,
    Signals,
    SuspendToken,
    Task,
    Thread,
    WrongTypeError,
    ZxError,
)
from zxpy.testing import ProgressWorker

ENTRY = zxpy.ffi.addressof(zxpy.lib, "zxpy_progress_entry")
U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF

#: Non-integers for an int parameter: TypeError (bool is not accepted as an int).
NOT_INTS = [None, "1", b"1", 1.0, float("nan"), True, False, [], (1,), object()]
#: Integers a uint32_t parameter refuses: ValueError.
BAD_U32 = [-1, -(2**31), U32_MAX + 1, 2**64, 2**200]
BAD_U64 = [-1, U64_MAX + 1, 2**200]
#: File descriptors (a C int): ValueError.
BAD_FDS = [-1, 2**31, U32_MAX, 2**64]
#: Timeouts (seconds): TypeError for these ...
NOT_TIMEOUTS = ["1", b"1", True, [], object(), 1j]
#: ... and ValueError for these.
BAD_TIMEOUTS = [-1, -0.5, float("nan"), float("-inf"), -(2**80)]
NOT_NAMES = [None, 1, 1.5, ["x"], object()]
#: A closed wrapper's error names the syscall (or attribute) that was refused.
CLOSED = re.compile(r"handle is closed \((zx_[a-z_]+|raw|koid|with|detach)\)")

FIGURES = {"inputs": 0}


@dataclass
class Objects:
    job: Job
    process: Process
    thread: Thread
    event: Event
    token: SuspendToken
    spare: Event  # a second event handle for calls that would consume one

    def all(self) -> list[Handle]:
        return [self.job, self.process, self.thread, self.event, self.token, self.spare]


@pytest.fixture
def objs() -> Iterator[Objects]:
    job = Job.default().create_job()
    process = job.create_process("victim")
    thread = process.create_thread("t")
    event = Event.create()
    o = Objects(job, process, thread, event, process.suspend(), event.duplicate())
    keeper = job.duplicate()  # tests may close or replace o.job
    try:
        yield o
    finally:
        for h in o.all():
            h.close()
        keeper.kill()
        keeper.close()


def raises(exc: type[BaseException] | tuple[type[BaseException], ...], call: Callable[..., object],
           *args: Any, **kwargs: Any) -> BaseException:
    """``call(*args, **kwargs)`` must raise ``exc``; returns the exception."""
    FIGURES["inputs"] += 1
    with pytest.raises(exc) as info:
        call(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------------------------------------- integers


def int_params(o: Objects) -> list[tuple[str, Callable[[Any], object], list[int]]]:
    """(what, call taking the bad value, refused ints) for every integer parameter of the API."""
    return [
        ("Handle(raw)", lambda v: Handle(v), BAD_U32),
        ("Handle(raw, owned=False)", lambda v: Handle(v, owned=False), BAD_U32),
        ("wrap_handle(raw)", lambda v: zxpy.wrap_handle(v), BAD_U32),
        ("Event.create(options)", lambda v: Event.create(v), BAD_U32),
        ("duplicate(rights)", lambda v: o.event.duplicate(v), BAD_U32),
        ("replace(rights)", lambda v: o.spare.replace(v), BAD_U32),
        ("wait_one(signals)", lambda v: o.event.wait_one(v, timeout=0), BAD_U32),
        ("signal(clear_mask)", lambda v: o.event.signal(v, 0), BAD_U32),
        ("signal(set_mask)", lambda v: o.event.signal(0, v), BAD_U32),
        ("create_job(options)", lambda v: o.job.create_job(v), BAD_U32),
        ("create_process(options)", lambda v: o.job.create_process("p", v), BAD_U32),
        ("create_thread(options)", lambda v: o.process.create_thread("t", v), BAD_U32),
        ("Job.child(koid)", lambda v: o.job.child(v), BAD_U64),
        ("Job.child(rights)", lambda v: o.job.child(1, v), BAD_U32),
        ("Process.child(koid)", lambda v: o.process.child(v), BAD_U64),
        ("Process.child(rights)", lambda v: o.process.child(1, v), BAD_U32),
        ("spawn(flags)", lambda v: o.job.spawn(["/bin/true"], flags=v), BAD_U32),
        ("spawn(fds target)", lambda v: o.job.spawn(["/bin/true"], fds={v: 1}), BAD_FDS),
        ("spawn(fds local)", lambda v: o.job.spawn(["/bin/true"], fds={3: v}), BAD_FDS),
        ("Thread.start(entry)", lambda v: o.thread.start(v, raw_entry_address=True), BAD_U64),
        ("Thread.start(arg1)", lambda v: o.thread.start(ENTRY, v), BAD_U64),
        ("Thread.start(arg2)", lambda v: o.thread.start(ENTRY, 0, v), BAD_U64),
        ("Thread.start(stack)", lambda v: o.thread.start(ENTRY, stack=v if v is not None else "none"), BAD_U64),
        ("Thread.start(stack_size)", lambda v: o.thread.start(ENTRY, stack_size=v), BAD_U64),
        ("ProgressWorker(pause_ns)", lambda v: ProgressWorker(pause_ns=v), BAD_U64),
        # The debugger's calls (docs/debugging.md).
        ("read_memory(address)", lambda v: o.process.read_memory(v, 8), BAD_U64),
        ("read_memory(size)", lambda v: o.process.read_memory(0x1000, v), [-1, 64 * 2**20 + 1, 2**64]),
        ("write_memory(address)", lambda v: o.process.write_memory(v, b"x"), BAD_U64),
        ("read_state_bytes(kind)", lambda v: o.thread.read_state_bytes(v), BAD_U32),
        ("write_state_bytes(kind)", lambda v: o.thread.write_state_bytes(v, b"x"), BAD_U32),
        ("set_debug_addr(address)", lambda v: o.process.set_debug_addr(v), BAD_U64),
        ("set_break_on_load(value)", lambda v: o.process.set_break_on_load(v), BAD_U64),
        ("ZxError(status)", lambda v: ZxError(v), []),
    ]


def test_wrong_int_types_are_type_errors(objs: Objects) -> None:
    for what, call, _ in int_params(objs):
        for value in NOT_INTS:
            exc = raises(TypeError, call, value)
            assert str(exc), what
    raises(TypeError, lambda: ZxError())
    # A deadline is an int of ns (None means "use the timeout", so it is not in this list).
    for value in NOT_INTS[1:]:
        raises(TypeError, objs.event.wait_one, 1, deadline=value)
    for value in (2**63, -(2**63) - 1, 2**200):
        raises(ValueError, objs.event.wait_one, 1, deadline=value)


def test_out_of_range_ints_are_value_errors(objs: Objects) -> None:
    for what, call, bad in int_params(objs):
        for value in bad:
            exc = raises(ValueError, call, value)
            assert not isinstance(exc, ZxError), f"{what}({value}): checked in Python, not by the kernel"


def test_boundary_ints_reach_the_kernel(objs: Objects) -> None:
    """The largest accepted values go through to the kernel, which answers with a status."""
    raises(BadHandleError, lambda: zxpy.wrap_handle(U32_MAX))
    raises(InvalidArgsError, lambda: Event.create(U32_MAX))
    raises(InvalidArgsError, lambda: objs.event.duplicate(U32_MAX))  # not a subset, not SAME_RIGHTS
    raises(NotFoundError, lambda: objs.job.child(U64_MAX))
    raises(InvalidArgsError, lambda: objs.event.signal(0, U32_MAX))
    raises(InvalidArgsError, lambda: objs.job.create_job(U32_MAX))
    # An entry of 0 is refused before the kernel; any other is the kernel's business: a kernel-half address is
    # INVALID_ARGS (MakeRunnable's arch_is_valid_user_pc), a user address NOT_SUPPORTED here (a zx_process_create
    # process has no address space on the host).
    raises(ValueError, lambda: objs.thread.start(0, raw_entry_address=True))
    raises(InvalidArgsError, lambda: objs.thread.start(U64_MAX, U64_MAX, U64_MAX, stack=U64_MAX,
                                                       raw_entry_address=True))
    raises(NotSupportedError, lambda: objs.thread.start(0x1000, U64_MAX, U64_MAX, stack=U64_MAX,
                                                        raw_entry_address=True))
    exc = raises(zxpy.TimedOutError, lambda: objs.event.wait_one(U32_MAX, deadline=-(2**63)))
    assert exc.observed == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- timeouts


def timeout_params(o: Objects) -> list[tuple[str, Callable[[Any], object]]]:
    o.event.set()  # so that an accepted timeout returns at once
    return [
        ("wait_one", lambda t: o.event.wait_one(Signals.EVENT_SIGNALED, timeout=t)),
        ("wait_terminated", lambda t: o.process.wait_terminated(timeout=t)),
        ("Process.wait", lambda t: o.process.wait(timeout=t)),
        ("Thread.suspend", lambda t: o.thread.suspend(timeout=t)),
        ("Thread.suspend(wait=False)", lambda t: o.thread.suspend(wait=False, timeout=t)),
        ("deadline_after", lambda t: zxpy.deadline_after(t)),
        ("ProgressWorker.stop", lambda t: _worker_stop(t)),
    ]


def _worker_stop(timeout: object) -> None:
    with ProgressWorker() as worker:
        try:
            worker.stop(timeout)  # type: ignore[arg-type]
        finally:
            worker.stop()


def test_bad_timeouts(objs: Objects) -> None:
    for what, call in timeout_params(objs):
        for value in NOT_TIMEOUTS:
            raises(TypeError, call, value)
        for value in BAD_TIMEOUTS:
            exc = raises(ValueError, call, value)
            assert not isinstance(exc, ZxError), what
    # Nothing stayed suspended by the refused Thread.suspend calls: the only token is the fixture's.
    assert objs.process.handle_stats() == {}
    assert Process.self().handle_stats().get(zxpy.ObjType.SUSPEND_TOKEN, 0) == 1


@pytest.mark.parametrize("timeout", [1e300, float("inf"), 2**200, 2**62, 10**30, 0, 0.0, -0.0, 1e-300])
def test_huge_and_tiny_timeouts_are_accepted(objs: Objects, timeout: float) -> None:
    """Huge timeouts mean "forever" (no overflow of the int64 deadline); 0 and denormals poll."""
    objs.event.set()
    assert objs.event.wait_one(Signals.EVENT_SIGNALED, timeout=timeout) & Signals.EVENT_SIGNALED
    FIGURES["inputs"] += 1
    if timeout == 0 or timeout < 1e-9:
        with pytest.raises(zxpy.TimedOutError) as info:
            objs.job.wait_terminated(timeout=timeout)
        assert info.value.syscall == "zx_object_wait_one"
        assert info.value.observed is not None and not info.value.observed & Signals.TASK_TERMINATED


def test_deadline_extremes(objs: Objects) -> None:
    objs.event.set()
    for deadline in (2**63 - 1, -(2**63), 0, zxpy.monotonic()):
        assert objs.event.wait_one(Signals.EVENT_SIGNALED, deadline=deadline)
    for deadline in (-(2**63), 0, zxpy.monotonic()):
        raises(zxpy.TimedOutError, objs.job.wait_one, Signals.TASK_TERMINATED, deadline=deadline)
    raises(ValueError, lambda: objs.event.wait_one(1, timeout=1, deadline=1))
    assert zxpy.deadline_after(1e300) == zxpy.TIME_INFINITE
    assert zxpy.deadline_after(math.inf) == zxpy.TIME_INFINITE


# ---------------------------------------------------------------------------------------------- strings


def test_bad_names(objs: Objects) -> None:
    for value in NOT_NAMES:
        raises(TypeError, objs.job.create_process, value)
        raises(TypeError, objs.process.create_thread, value)
        if value is not None:  # name=None means the default name (argv[0])
            raises(TypeError, objs.job.spawn, ["/bin/true"], name=value)
        raises(TypeError, ProgressWorker, name=value)
    for value in ("a\0b", b"\0"):
        raises(ValueError, objs.job.create_process, value)
        raises(ValueError, objs.process.create_thread, value)
    # Over-long and non-ASCII names are the kernel's to truncate, not errors.
    objs.job.create_process("x" * 10_000).close()
    objs.process.create_thread("é" * 100).close()
    FIGURES["inputs"] += 2


def test_bad_spawn_arguments(objs: Objects, tmp_path: Any) -> None:
    job = objs.job
    for argv in ("/bin/true", b"/bin/true", None, 5, {"/bin/true": 1}):
        raises(TypeError, job.spawn, argv)
    for item in (None, 5, 1.5, ["x"]):
        raises(TypeError, job.spawn, ["/bin/true", item])
    raises(ValueError, lambda: job.spawn([]))
    raises(ValueError, lambda: job.spawn(["/bin/tr\0ue"]))
    raises(ValueError, lambda: job.spawn(["/bin/true", "a\0"]))
    raises(TypeError, lambda: job.spawn(["/bin/true"], path=5))  # type: ignore[arg-type]
    raises(TypeError, lambda: job.spawn(["/bin/true"], environ=["A=1"]))  # type: ignore[arg-type]
    raises(ValueError, lambda: job.spawn(["/bin/true"], environ={"": "1"}))
    raises(ValueError, lambda: job.spawn(["/bin/true"], environ={"A=B": "1"}))
    raises(ValueError, lambda: job.spawn(["/bin/true"], environ={"A": "1\0"}))
    raises(TypeError, lambda: job.spawn(["/bin/true"], environ={"A": 1}))  # type: ignore[dict-item]
    err = raises(NotFoundError, lambda: job.spawn([str(tmp_path / "missing")]))
    assert isinstance(err, FileNotFoundError) and err.syscall == "fdio_spawn_etc"
    raises(ZxError, lambda: job.spawn([str(tmp_path)]))  # a directory is no program
    raises(TypeError, lambda: job.spawn(["/bin/true"], fds=[1]))  # type: ignore[arg-type]
    err = raises(InvalidArgsError, lambda: job.spawn(["/bin/true"], fds={3: 987654}))  # local fd not open
    assert err.syscall == "fdio_spawn_etc"
    assert job.processes() == [objs.process.koid]  # nothing was spawned by the refused calls


def test_debugger_bad_arguments(objs: Objects) -> None:
    """Registers and memory: wrong types are TypeError before any call; what only the kernel judges is its status."""
    for bad in (None, "data", 5, [1, 2], object()):
        raises(TypeError, objs.process.write_memory, 0x1000, bad)
        raises(TypeError, objs.thread.write_state_bytes, 0, bad)
        raises(TypeError, objs.thread.write_state, bad)
        raises(TypeError, objs.thread.write_single_step, bad)
    raises(ValueError, objs.process.write_memory, 0x1000, bytes(64 * 2**20 + 1))
    regs = zxpy.GeneralRegs
    assert regs is not None
    fields = {f.name: 0 for f in dataclasses.fields(regs)}
    if "r" in fields:
        fields["r"] = (0,) * 30  # type: ignore[assignment]
    record = regs(**fields)  # type: ignore[arg-type]
    name = "rip" if "rip" in fields else "pc"
    raises(ValueError, record.replace, **{name: -1})
    raises(ValueError, record.replace, **{name: 2**64})
    raises(TypeError, record.replace, **{name: "0"})
    raises(TypeError, record.replace, no_such_register=1)
    # The kernel's answers: nothing mapped, a zero size, a thread that cannot run (BAD_STATE before anything else).
    raises(zxpy.NoMemoryError, objs.process.read_memory, 0x1000, 8)
    raises(InvalidArgsError, objs.process.read_memory, 0x1000, 0)
    raises(InvalidArgsError, objs.process.write_memory, 0x1000, b"")
    raises(zxpy.BadStateError, objs.thread.read_state)
    raises(zxpy.BadStateError, objs.thread.write_state, record)


def test_thread_suspend_wait_must_be_a_bool(objs: Objects) -> None:
    for value in ("no", 0, 1, None):
        raises(TypeError, objs.thread.suspend, wait=value)


def test_thread_start_entry_must_be_a_function_pointer(objs: Objects) -> None:
    """A bare address could point anywhere: it needs raw_entry_address=True."""
    for value in (12345, 2**40):
        err = raises(TypeError, objs.thread.start, value)
        assert "raw_entry_address" in str(err)
    for value in (zxpy.ffi.new("int *"), zxpy.ffi.cast("void(*)(int)", 1)):
        raises(TypeError, objs.thread.start, value)
    raises(ValueError, lambda: objs.thread.start(zxpy.ffi.cast("void(*)(uintptr_t, uintptr_t)", 0)))
    raises(TypeError, lambda: objs.thread.start(ENTRY, raw_entry_address=1))  # type: ignore[arg-type]
    assert objs.thread.info().state == zxpy.ThreadState.NEW


def test_progress_worker_rejects_a_non_process() -> None:
    for value in (Job.default(), 5, "x"):
        raises(TypeError, ProgressWorker, process=value)


# ---------------------------------------------------------------------------------------------- closed handles


def every_method(h: Handle) -> list[tuple[str, Callable[[], object]]]:
    """Every public method of every class, called on ``h`` (unbound where the class differs)."""
    return [
        ("raw", lambda: h.raw),
        ("koid", lambda: h.koid),
        ("detach", h.detach),
        ("duplicate", h.duplicate),
        ("replace", h.replace),
        ("basic_info", h.basic_info),
        ("wait_one", lambda: h.wait_one(Signals.TASK_TERMINATED, timeout=0)),
        ("signal", lambda: h.signal(0, Signals.USER_SIGNAL_0)),
        ("enter", lambda: h.__enter__()),
        ("kill", lambda: as_kind(Task, h).kill()),
        ("suspend", lambda: as_kind(Task, h).suspend()),
        ("wait_terminated", lambda: Task.wait_terminated(h, timeout=0)),  # type: ignore[arg-type]
        ("terminated", lambda: as_kind(Task, h).terminated),
        ("create_job", lambda: Job.create_job(h)),  # type: ignore[arg-type]
        ("create_process", lambda: Job.create_process(h, "p")),  # type: ignore[arg-type]
        ("job info", lambda: Job.info(h)),  # type: ignore[arg-type]
        ("children", lambda: Job.children(h)),  # type: ignore[arg-type]
        ("processes", lambda: Job.processes(h)),  # type: ignore[arg-type]
        ("job child", lambda: Job.child(h, 1)),  # type: ignore[arg-type]
        ("spawn", lambda: Job.spawn(h, ["/bin/true"])),  # type: ignore[arg-type]
        ("create_thread", lambda: Process.create_thread(h, "t")),  # type: ignore[arg-type]
        ("process info", lambda: as_kind(Process, h).info()),
        ("threads", lambda: Process.threads(h)),  # type: ignore[arg-type]
        ("process child", lambda: Process.child(h, 1)),  # type: ignore[arg-type]
        ("handle_stats", lambda: Process.handle_stats(h)),  # type: ignore[arg-type]
        ("task_stats", lambda: Process.task_stats(h)),  # type: ignore[arg-type]
        ("runtime", lambda: Task.runtime(h)),  # type: ignore[arg-type]
        ("process wait", lambda: Process.wait(h, timeout=0) if isinstance(h, Task)  # type: ignore[arg-type]
         else Task.wait_terminated(h, timeout=0)),  # type: ignore[arg-type]
        ("thread info", lambda: Thread.info(h)),  # type: ignore[arg-type]
        ("thread stats", lambda: Thread.stats(h)),  # type: ignore[arg-type]
        ("thread kill", lambda: as_kind(Thread, h).kill()),
        ("thread suspend", lambda: as_kind(Thread, h).suspend()),
        ("thread start", lambda: Thread.start(h, ENTRY)),  # type: ignore[arg-type]
        ("event set", lambda: Event.set(h)),  # type: ignore[arg-type]
        ("event clear", lambda: Event.clear(h)),  # type: ignore[arg-type]
        ("read_state", lambda: Thread.read_state(h)),  # type: ignore[arg-type]
        ("read_state_bytes", lambda: Thread.read_state_bytes(h, 1)),  # type: ignore[arg-type]
        ("write_single_step", lambda: Thread.write_single_step(h, False)),  # type: ignore[arg-type]
        ("read_memory", lambda: Process.read_memory(h, 0x1000, 8)),  # type: ignore[arg-type]
        ("write_memory", lambda: Process.write_memory(h, 0x1000, b"x")),  # type: ignore[arg-type]
        ("get_debug_addr", lambda: Process.get_debug_addr(h)),  # type: ignore[arg-type]
    ]


def test_closed_handles_are_value_errors(objs: Objects) -> None:
    for h in objs.all():
        raw = h.raw
        h.close()
        assert h.closed and not h.is_valid()
        for what, call in every_method(h):
            exc = raises(ValueError, call)
            assert CLOSED.fullmatch(str(exc)), (what, str(exc))
        h.close()  # closing again does nothing
        # The raw value is dead in the kernel too: BAD_HANDLE, not another object.
        assert zxpy.lib.zx_handle_close(raw) == zxpy.lib.ZX_ERR_BAD_HANDLE
        assert repr(h).endswith("closed>")


def test_garbage_handle_values_are_bad_handle() -> None:
    """Values the kernel never gave out: BadHandleError naming the syscall, for every call (handle_table.h)."""
    for raw in (1, 2, 0xBADC0FFE, U32_MAX, 0x7FFFFFFF, 0x1000003):
        h = Handle(raw, owned=False)
        for what, call in every_method(h):
            if what in ("raw", "detach", "enter"):
                continue
            try:
                call()
            except ZxError as exc:
                FIGURES["inputs"] += 1
                assert isinstance(exc, BadHandleError), f"{what} on {raw:#x}: {exc!r}"
                assert exc.syscall and exc.syscall in str(exc)
            except ValueError as exc:
                assert what == "replace", f"{what} on {raw:#x}: {exc!r}"  # a borrowed handle is never replaced
            else:
                raise AssertionError(f"{what} on garbage handle {raw:#x} succeeded")
    # Owning a garbage value: closing it reports BAD_HANDLE once, then the wrapper is closed.
    h = Handle(0xBADC0FFE)
    raises(BadHandleError, h.close)
    assert h.closed
    raises(BadHandleError, lambda: zxpy.wrap_handle(0xBADC0FFE))


def test_invalid_handle_zero() -> None:
    """ZX_HANDLE_INVALID: closing it is OK (like free(NULL)); every other call is BAD_HANDLE."""
    Handle(0).close()
    h = Handle(0)
    raises(BadHandleError, h.basic_info)
    raises(BadHandleError, lambda: as_kind(Task, h).kill())
    h.detach()
    assert zxpy.lib.zx_handle_close(0) == zxpy.lib.ZX_OK


# ---------------------------------------------------------------------------------------------- wrong objects


def test_wrong_object_types(objs: Objects) -> None:
    """Typed calls on the wrong kind of handle: WRONG_TYPE, or ACCESS_DENIED where rights come first."""
    o = objs
    cases: list[tuple[Callable[[], object], type[ZxError], str]] = [
        (lambda: as_kind(Task, o.event).kill(), AccessDeniedError, "zx_task_kill"),  # rights before type
        (lambda: as_kind(Task, o.token).kill(), AccessDeniedError, "zx_task_kill"),
        (lambda: o.thread.kill(), WrongTypeError, "zx_task_kill"),  # task.cc: not the docs' NOT_SUPPORTED
        (lambda: as_kind(Task, o.event).suspend(), AccessDeniedError, "zx_task_suspend"),
        (lambda: as_kind(Task, o.token).suspend(), AccessDeniedError, "zx_task_suspend"),
        (lambda: o.job.suspend(), WrongTypeError, "zx_task_suspend"),
        (lambda: Job.create_job(o.process), WrongTypeError, "zx_job_create"),  # type: ignore[arg-type]
        (lambda: Job.create_process(o.event), WrongTypeError, "zx_process_create"),  # type: ignore[arg-type]
        (lambda: Process.create_thread(o.job), WrongTypeError, "zx_thread_create"),  # type: ignore[arg-type]
        (lambda: Thread.start(o.process, ENTRY), WrongTypeError, "zx_thread_start"),  # type: ignore[arg-type]
        (lambda: as_kind(Process, o.thread).info(), WrongTypeError, "zx_object_get_info"),
        (lambda: Thread.info(o.job), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Job.info(o.token), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Job.children(o.process), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Process.threads(o.job), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Process.handle_stats(o.job), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Process.task_stats(o.thread), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Thread.stats(o.process), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Task.runtime(o.event), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Task.runtime(o.token), WrongTypeError, "zx_object_get_info"),  # type: ignore[arg-type]
        (lambda: Job.child(o.event, 1), AccessDeniedError, "zx_object_get_child"),  # type: ignore[arg-type]
        (lambda: Job.child(o.thread, 1), AccessDeniedError, "zx_object_get_child"),  # type: ignore[arg-type]
        (lambda: Job.spawn(o.process, ["/bin/true"]), WrongTypeError, "fdio_spawn_etc"),  # type: ignore[arg-type]
        (lambda: o.token.duplicate(), AccessDeniedError, "zx_handle_duplicate"),
        (lambda: o.token.wait_one(Signals.TASK_TERMINATED, timeout=0), AccessDeniedError, "zx_object_wait_one"),
        (lambda: o.job.signal(0, Signals.TASK_TERMINATED), InvalidArgsError, "zx_object_signal"),
        (lambda: Event.set(o.job), InvalidArgsError, "zx_object_signal"),  # type: ignore[arg-type]
        (lambda: o.token.signal(0, Signals.USER_SIGNAL_0), AccessDeniedError, "zx_object_signal"),
        (lambda: Thread.self().suspend(), NotSupportedError, "zx_task_suspend"),
        (lambda: Process.self().suspend(), NotSupportedError, "zx_task_suspend"),
    ]
    for call, cls, syscall in cases:
        exc = raises(cls, call)
        assert isinstance(exc, ZxError) and exc.syscall == syscall and syscall in str(exc), repr(exc)
        assert exc.name == zxpy.Status(exc.status).c_name
    assert o.job.processes() == [o.process.koid]  # nothing was created by the refused calls


def test_missing_rights(objs: Objects) -> None:
    """Each call names what it lacked: ACCESS_DENIED from the syscall, the object untouched."""
    bare = objs.job.duplicate(Rights.NONE)
    try:
        for call, syscall in [
            (lambda: bare.kill(), "zx_task_kill"),
            (lambda: bare.create_job(), "zx_job_create"),
            (lambda: bare.create_process("p"), "zx_process_create"),
            (lambda: bare.duplicate(), "zx_handle_duplicate"),
            (lambda: bare.wait_one(0, timeout=0), "zx_object_wait_one"),
            (lambda: bare.info(), "zx_object_get_info"),
            (lambda: bare.runtime(), "zx_object_get_info"),
            (lambda: bare.children(), "zx_object_get_info"),
            (lambda: bare.child(objs.process.koid), "zx_object_get_child"),
            (lambda: bare.signal(0, Signals.USER_SIGNAL_0), "zx_object_signal"),
            (lambda: bare.spawn(["/bin/true"]), "fdio_spawn_etc"),
        ]:
            exc = raises(AccessDeniedError, call)
            assert isinstance(exc, PermissionError) and exc.syscall == syscall  # type: ignore[attr-defined]
        info = bare.basic_info()  # needs no right
        assert info.rights == 0 and info.koid == objs.job.koid
        assert not objs.job.info().exited
    finally:
        bare.close()


def test_consumed_and_dead_tokens(objs: Objects) -> None:
    """A replaced token is consumed; a failed replace consumes too (and resumes); dead tasks' tokens close OK."""
    token = objs.process.suspend()
    moved = token.replace(Rights.INSPECT)
    assert token.closed
    raises(ValueError, token.duplicate)
    raises(InvalidArgsError, lambda: moved.replace(Rights.WRITE))  # not a subset: fails, and consumes
    assert moved.closed and not moved.is_valid()
    raises(ValueError, lambda: moved.replace())
    objs.process.kill()
    assert objs.process.terminated
    raises(zxpy.BadStateError, lambda: objs.process.suspend())  # SuspendAfterDeath
    objs.token.close()  # closing a token after its task died is OK (suspend_token_dispatcher.cc)


def test_thread_suspend_without_wait_right(objs: Objects) -> None:
    """Thread.suspend(wait=True) needs WAIT to wait: the error names the wait, and nothing stays suspended."""
    with ProgressWorker() as worker:
        no_wait = worker.thread.duplicate(Rights.WRITE | Rights.INSPECT)
        try:
            for _ in range(2):  # refused every time: a refusal is not remembered as a pass
                exc = raises(AccessDeniedError, lambda: no_wait.suspend(timeout=5))
                assert exc.syscall == "zx_object_wait_one"  # type: ignore[attr-defined]
                assert advances(lambda: worker.count), "the worker stayed suspended after the refused wait"
            token = no_wait.suspend(wait=False)
            token.close()
            with worker.thread.suspend(timeout=5), worker.thread.duplicate(Rights.WRITE) as dup:
                raises(AccessDeniedError, lambda: dup.suspend(timeout=5))  # a copy checks its own rights
        finally:
            no_wait.close()


def test_raw_layer_survives_bad_values(objs: Objects) -> None:
    """zxpy.lib called directly: NULL out-pointers and garbage values are statuses, wrong types cffi errors."""
    lib, ffi = zxpy.lib, zxpy.ffi
    p = objs.process.raw
    assert lib.zx_task_suspend(p, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_handle_duplicate(p, Rights.SAME_RIGHTS, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_object_get_info(p, lib.ZX_INFO_PROCESS, ffi.NULL, 24, ffi.NULL, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    small = ffi.new("char[4]")
    assert lib.zx_object_get_info(p, lib.ZX_INFO_HANDLE_BASIC, small, 4, ffi.NULL, ffi.NULL) == \
        lib.ZX_ERR_BUFFER_TOO_SMALL
    assert lib.zx_object_get_info(p, 0x7777, ffi.NULL, 0, ffi.NULL, ffi.NULL) == lib.ZX_ERR_NOT_SUPPORTED
    assert lib.zx_handle_close_many(ffi.NULL, 0) == lib.ZX_OK
    assert lib.zx_task_kill(0xBADC0FFE) == lib.ZX_ERR_BAD_HANDLE
    for bad in (None, "x", 1.5):
        with pytest.raises(TypeError):
            lib.zx_task_kill(bad)
    with pytest.raises(OverflowError):
        lib.zx_task_kill(-1)
    assert p == objs.process.raw and objs.process.is_valid()


def test_bad_exception_and_channel_input(objs: Objects) -> None:
    """Exception channels and channels: Python types first, then what only the kernel judges."""
    for bad in (None, 0, 1, "yes"):
        raises(TypeError, objs.process.exception_channel, bad)
    raises(InvalidArgsError, objs.thread.exception_channel, True)  # a thread has no debugger channel
    raises(AccessDeniedError, zxpy.exception.create_exception_channel, objs.event)  # rights before type
    raises(zxpy.BadStateError, objs.thread.exception_report)  # a NEW thread is in no exception
    with objs.process.exception_channel(debugger=True) as ch:
        raises(zxpy.errors.AlreadyBoundError, objs.process.exception_channel, True)
        for timeout in NOT_TIMEOUTS:
            raises(TypeError, ch.receive, timeout)
        raises(ValueError, ch.receive, -1)
        raises(zxpy.TimedOutError, ch.receive, 0)
        raises(AccessDeniedError, ch.write, b"x")  # exception channels are read-only from userspace
    raises(ValueError, ch.receive, 0)  # closed
    a, b = zxpy.Channel.create()
    with a, b:
        for bad in (None, "text", 5, [b"x"]):
            raises(TypeError, a.write, bad)
        raises(TypeError, a.write, b"", [None])
        raises(ValueError, a.write, bytes(zxpy.lib.ZX_CHANNEL_MAX_MSG_BYTES + 1))
        raises(zxpy.errors.ShouldWaitError, b.read)
        spare = objs.event.duplicate(Rights.WAIT)  # no TRANSFER: the write fails and the handle is consumed
        raises(AccessDeniedError, a.write, b"x", [spare])
        assert spare.closed
    lib, ffi = zxpy.lib, zxpy.ffi
    p = objs.process.raw
    assert lib.zx_task_create_exception_channel(p, 0, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_task_create_exception_channel(p, 0xFF, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_exception_get_thread(p, ffi.NULL) == lib.ZX_ERR_WRONG_TYPE
    assert lib.zx_exception_get_process(0xBADC0FFE, ffi.NULL) == lib.ZX_ERR_BAD_HANDLE
    assert lib.zx_channel_create(1, ffi.NULL, ffi.NULL) == lib.ZX_ERR_INVALID_ARGS
    value = ffi.new("uint32_t *")
    assert lib.zx_object_get_property(objs.event.raw, lib.ZX_PROP_EXCEPTION_STATE, value, 4) in (
        lib.ZX_ERR_ACCESS_DENIED, lib.ZX_ERR_WRONG_TYPE)
    assert lib.zx_object_get_property(p, lib.ZX_PROP_EXCEPTION_STATE, value, 4) == lib.ZX_ERR_WRONG_TYPE
    assert lib.zx_object_get_property(p, lib.ZX_PROP_EXCEPTION_STATE, value, 2) == lib.ZX_ERR_BUFFER_TOO_SMALL
    assert lib.zx_object_set_property(p, lib.ZX_PROP_EXCEPTION_STRATEGY, value, 4) == lib.ZX_ERR_WRONG_TYPE


# ---------------------------------------------------------------------------------------------- fuzz

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, U32_MAX, U64_MAX, 2**31, Rights.SAME_RIGHTS, Rights.NONE, Rights.WAIT,
                     Signals.TASK_TERMINATED, Signals.USER_SIGNAL_0]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
)


def _never_blocks(v: object) -> bool:
    """Not None (forever) and not a positive number of seconds (a real wait)."""
    return v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)


TIMEOUT = st.one_of(st.just(0), st.just(0.0), ANY_VALUE.filter(_never_blocks))
DEADLINE = st.one_of(st.integers(max_value=0), ANY_VALUE.filter(_never_blocks))
ARGV = st.sampled_from([["/bin/true"], "/bin/true", [], [None], ["/nonexistent/zxpy"], ["/bin/true", "\0"], 5])

#: (name, class defining it, strategy of extra arguments, call(target, *args)).  A method is also called on
#: targets of other classes (unbound), where only its own class's attributes may be missing (AttributeError).
#: Timeouts are never positive (nothing blocks), entries are never a real function for a thread that could run
#: (nothing jumps to garbage), and no target is this process or the default job (nothing kills the runner).
METHODS: list[tuple[str, type, st.SearchStrategy[tuple[Any, ...]], Callable[..., object]]] = [
    ("close", Handle, st.tuples(), lambda h: h.close()),
    ("duplicate", Handle, st.tuples(ANY_VALUE), lambda h, r: h.duplicate(r)),
    ("replace", Handle, st.tuples(ANY_VALUE), lambda h, r: h.replace(r)),
    ("basic_info", Handle, st.tuples(), lambda h: h.basic_info()),
    ("koid", Handle, st.tuples(), lambda h: h.koid),
    ("is_valid", Handle, st.tuples(), lambda h: h.is_valid()),
    ("wait_one", Handle, st.tuples(ANY_VALUE, TIMEOUT), lambda h, s, t: h.wait_one(s, timeout=t)),
    ("wait_one deadline", Handle, st.tuples(ANY_VALUE, DEADLINE), lambda h, s, d: h.wait_one(s, deadline=d)),
    ("signal", Handle, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, c, s: h.signal(c, s)),
    ("kill", Task, st.tuples(), lambda h: as_kind(Task, h).kill()),
    ("suspend", Task, st.tuples(), lambda h: as_kind(Task, h).suspend()),
    ("thread suspend", Thread, st.tuples(st.booleans(), TIMEOUT), lambda h, w, t: as_kind(Thread, h).suspend(w, t)),
    ("terminated", Task, st.tuples(), lambda h: as_kind(Task, h).terminated),
    ("wait_terminated", Task, st.tuples(TIMEOUT), lambda h, t: Task.wait_terminated(h, t)),
    ("create_job", Job, st.tuples(ANY_VALUE), lambda h, o: Job.create_job(h, o)),
    ("create_process", Job, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, n, o: Job.create_process(h, n, o)),
    ("create_thread", Process, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, n, o: Process.create_thread(h, n, o)),
    ("job info", Job, st.tuples(), lambda h: Job.info(h)),
    ("children", Job, st.tuples(), lambda h: Job.children(h)),
    ("processes", Job, st.tuples(), lambda h: Job.processes(h)),
    ("job child", Job, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, k, r: Job.child(h, k, r)),
    ("process info", Process, st.tuples(), lambda h: as_kind(Process, h).info()),
    ("threads", Process, st.tuples(), lambda h: Process.threads(h)),
    ("process child", Process, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, k, r: Process.child(h, k, r)),
    ("handle_stats", Process, st.tuples(), lambda h: Process.handle_stats(h)),
    ("task_stats", Process, st.tuples(), lambda h: Process.task_stats(h)),
    ("runtime", Task, st.tuples(), lambda h: Task.runtime(h)),
    ("thread info", Thread, st.tuples(), lambda h: Thread.info(h)),
    ("thread stats", Thread, st.tuples(), lambda h: Thread.stats(h)),
    ("thread start", Thread, st.tuples(st.one_of(ANY_VALUE, st.just(ENTRY)), ANY_VALUE),
     lambda h, e, a: Thread.start(h, e, a)),
    ("spawn", Job, st.tuples(ARGV, ANY_VALUE), lambda h, a, f: Job.spawn(h, a, flags=f)),
    ("event set", Event, st.tuples(), lambda h: Event.set(h)),
    ("read_state", Thread, st.tuples(), lambda h: Thread.read_state(h)),
    ("write_state", Thread, st.tuples(ANY_VALUE), lambda h, r: Thread.write_state(h, r)),
    ("read_state_bytes", Thread, st.tuples(ANY_VALUE), lambda h, k: Thread.read_state_bytes(h, k)),
    ("write_state_bytes", Thread, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, k, d: Thread.write_state_bytes(h, k, d)),
    ("single_step", Thread, st.tuples(ANY_VALUE), lambda h, on: Thread.write_single_step(h, on)),
    # No target is this process: memory writes only ever reach the fuzz's own plain process (nothing mapped).
    ("read_memory", Process, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, a, n: Process.read_memory(h, a, n)),
    ("write_memory", Process, st.tuples(ANY_VALUE, ANY_VALUE), lambda h, a, d: Process.write_memory(h, a, d)),
    ("debug_addr", Process, st.tuples(ANY_VALUE), lambda h, a: Process.set_debug_addr(h, a)),
    ("exception_channel", Task, st.tuples(ANY_VALUE),
     lambda h, d: zxpy.exception.create_exception_channel(h, d)),
    ("exception report", Thread, st.tuples(), lambda h: Thread.exception_report(h)),
    ("wrap_handle", object, st.tuples(ANY_VALUE), lambda h, raw: zxpy.wrap_handle(raw, owned=False)),
    ("Handle", object, st.tuples(ANY_VALUE), lambda h, raw: Handle(raw, owned=False)),
    ("ZxError", object, st.tuples(ANY_VALUE, ANY_VALUE),
     lambda h, s, c: str(ZxError(s, c))),
]

TARGETS = ["job", "process", "thread", "event", "token", "closed", "self thread", "garbage"]


class FuzzWorld:
    """A small fresh tree for one fuzz example, and everything the calls returned."""

    def __init__(self) -> None:
        self.job = Job.default().create_job()
        self.keeper = self.job.duplicate()  # to kill the tree even if a call closed or replaced self.job
        self.process = self.job.create_process("fuzz")
        self.thread = self.process.create_thread("fuzz")
        self.event = Event.create()
        self.token = self.process.suspend()
        self.closed_handle = Event.create()
        self.closed_handle.close()
        self.made: list[Handle] = []

    def target(self, name: str) -> Handle:
        return {
            "job": self.job, "process": self.process, "thread": self.thread, "event": self.event,
            "token": self.token, "closed": self.closed_handle, "self thread": Thread.self(),
            "garbage": Handle(0xBADC0FFE, owned=False),
        }[name]

    def keep(self, value: object) -> None:
        if isinstance(value, Handle) and value.owned:
            self.made.append(value)

    def close(self) -> None:
        for h in [*self.made, self.token, self.event, self.thread, self.process, self.job]:
            h.close()
        self.keeper.kill()
        self.keeper.wait_terminated(timeout=30)
        self.keeper.close()


@settings(max_examples=scaled(150, 3000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.sampled_from(TARGETS), st.integers(0, len(METHODS) - 1), st.data()),
                min_size=1, max_size=8))
def test_fuzz_public_api(calls: list[tuple[str, int, st.DataObject]]) -> None:
    """Random calls with random arguments: only TypeError, ValueError or a ZxError; nothing leaks."""
    before = Process.self().handle_stats()
    world = FuzzWorld()
    try:
        for target_name, index, data in calls:
            name, owner, args_strategy, call = METHODS[index]
            args = data.draw(args_strategy, label=name)
            target = world.target(target_name)
            FIGURES["inputs"] += 1
            try:
                world.keep(call(target, *args))
            except (TypeError, ValueError, ZxError):
                pass
            except AttributeError:
                if isinstance(target, owner):
                    raise  # a method on its own class must never fail this way
            except OverflowError as exc:  # pragma: no cover - would be a finding
                raise AssertionError(f"{name}{args!r} on {target_name}: raw cffi OverflowError: {exc}") from exc
    finally:
        world.close()
    assert Process.self().handle_stats() == before


@reporter
def _figures() -> list[str]:
    """The session's figure: bad inputs the tests that ran actually tried (README's reliability section)."""
    return [f"bad-input tests: {FIGURES['inputs']} inputs tried"] if FIGURES["inputs"] else []
