"""Runtime and memory figures: ``Task.runtime()``, ``Thread.stats()``, ``Process.task_stats()``.

Zircon's rules (core tests threads.cc InfoTaskStatsFails/InfoThreadStatsFails and GetInfoRuntime, process.cc
GetRuntimeNoPermission; object.cc): runtime is 0 before a thread starts,
grows while it runs and is fixed once it is dead; a process adds up its threads and a job its child processes,
dead ones included, child jobs not; ``ZX_INFO_TASK_RUNTIME`` needs INSPECT, checked before the type;
``ZX_INFO_THREAD_STATS`` of a dead thread is BAD_STATE; ``ZX_INFO_TASK_STATS`` is for live processes only.
Every figure asserted here is observed from real threads and programs: a C worker thread of this process, and
a CPU-bound shell loop spawned into a job.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import LONG, wait_until
from vintage import if_feature, needs_feature

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    Event,
    Job,
    Process,
    Rights,
    Task,
    TaskRuntimeInfo,
    TaskStatsInfo,
    Thread,
    ThreadStatsInfo,
    WrongTypeError,
)
from zxpy.testing import ProgressWorker

BUSY = ["/bin/sh", "-c", "while :; do :; done"]
#: A task that never ran; the v2 fields are None in a build whose record lacks them.
ZERO = TaskRuntimeInfo(cpu_time=0, queue_time=0, page_fault_time=if_feature("info_task_runtime_v2", 0),
                       lock_contention_time=if_feature("info_task_runtime_v2", 0))


def grows(read: Callable[[], int], timeout: float = LONG) -> bool:
    """True once ``read()`` exceeds its first value within ``timeout`` seconds."""
    start = read()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if read() > start:
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def busy(job: Job) -> Iterator[Process]:
    """A CPU-bound program in ``job`` (killed with the job)."""
    with job.spawn(BUSY) as proc:
        wait_until(lambda: proc.runtime().cpu_time > 0, what="the busy program to use CPU time")
        yield proc


# ---------------------------------------------------------------------------------------------- threads


def test_unstarted_thread_has_no_runtime_and_no_cpu() -> None:
    with Process.self().create_thread("new") as thread:
        assert thread.runtime() == ZERO
        assert thread.stats() == ThreadStatsInfo(total_runtime=0, last_scheduled_cpu=None)


def test_busy_worker_thread_runtime_grows(worker: ProgressWorker) -> None:
    thread = worker.thread
    assert grows(lambda: thread.runtime().cpu_time), "a running thread's cpu_time did not grow"
    assert grows(lambda: thread.stats().total_runtime)
    stats = thread.stats()
    assert stats.last_scheduled_cpu is not None and 0 <= stats.last_scheduled_cpu < 512
    runtime = thread.runtime()
    assert runtime.cpu_time > 0 and runtime.queue_time >= 0
    # Not measured on the host kernel; absent from the 2021 record.
    assert runtime.page_fault_time == runtime.lock_contention_time == if_feature("info_task_runtime_v2", 0)


def test_suspended_thread_runtime_stops(worker: ProgressWorker) -> None:
    thread = worker.thread
    with thread.suspend(timeout=LONG):
        parked = thread.runtime().cpu_time
        time.sleep(0.2)
        assert thread.runtime().cpu_time == parked  # a parked thread uses no CPU
    assert grows(lambda: thread.runtime().cpu_time)


def test_dead_thread_runtime_is_kept_and_fixed() -> None:
    with ProgressWorker(pause_ns=0) as worker:
        thread = worker.thread
        wait_until(lambda: thread.runtime().cpu_time > 1_000_000, what="1 ms of CPU time")
        live = thread.runtime()
        worker.stop()
        dead = thread.runtime()
        assert dead.cpu_time >= live.cpu_time and dead.queue_time >= live.queue_time
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:  # this process keeps running; the dead thread's figures do not move
            assert thread.runtime() == dead
        with pytest.raises(BadStateError) as info:
            thread.stats()
        assert info.value.syscall == "zx_object_get_info"


def test_process_counts_its_threads_dead_ones_included() -> None:
    me = Process.self()
    before = me.runtime().cpu_time
    with ProgressWorker(pause_ns=0) as worker:
        wait_until(lambda: worker.thread.runtime().cpu_time > 5_000_000, what="5 ms of CPU time")
        worker.stop()
        spent = worker.thread.runtime().cpu_time
    # The dead worker's time stays in the process's; the calling thread only adds to it.
    assert me.runtime().cpu_time >= before + spent


# ---------------------------------------------------------------------------------------------- programs and jobs


def test_spawned_busy_program_runtime_grows(job: Job, busy: Process) -> None:
    assert grows(lambda: busy.runtime().cpu_time), "a CPU-bound program's cpu_time did not grow"
    (koid,) = busy.threads()
    with busy.child(koid) as thread:
        assert grows(lambda: thread.runtime().cpu_time)
        assert thread.stats().last_scheduled_cpu is not None
    own = busy.runtime().cpu_time
    assert job.runtime().cpu_time >= own > 0  # read after it: the job's only process ran on meanwhile


def test_dead_program_runtime_is_fixed_and_kept_by_its_job(job: Job, busy: Process) -> None:
    busy.kill()
    busy.wait_terminated(timeout=LONG)
    dead = busy.runtime()
    assert dead.cpu_time > 0
    time.sleep(0.05)
    assert busy.runtime() == dead
    assert job.runtime() == dead  # the job's only process left it, and the job kept its runtime
    with pytest.raises(BadStateError):
        busy.task_stats()  # no address space any more


def test_job_does_not_count_child_jobs(job: Job) -> None:
    with job.create_job() as child, child.spawn(BUSY) as proc:
        wait_until(lambda: proc.runtime().cpu_time > 0, what="the busy program to use CPU time")
        assert child.runtime().cpu_time > 0
        assert job.runtime() == ZERO  # Zircon adds up a job's own processes only
        child.kill()
        proc.wait_terminated(timeout=LONG)
        assert job.runtime() == ZERO


def test_created_process_has_no_runtime_and_no_memory(job: Job) -> None:
    with job.create_process("plain") as proc:
        assert proc.runtime() == ZERO
        # No address space on the host; the 2021 record has no fractional field.
        assert proc.task_stats() == TaskStatsInfo(0, 0, 0, 0, if_feature("info_task_stats_v2", 0))
        proc.kill()
        assert proc.runtime() == ZERO
        with pytest.raises(BadStateError):
            proc.task_stats()


# ---------------------------------------------------------------------------------------------- memory


def _check_shape(stats: TaskStatsInfo) -> None:
    # TaskGetInfoTest.InfoStatsSmokeTest's relations.
    assert stats.mem_private_bytes > 0
    assert stats.mem_mapped_bytes >= stats.mem_private_bytes + stats.mem_shared_bytes
    assert stats.mem_shared_bytes >= stats.mem_scaled_shared_bytes >= 0
    assert stats.mem_fractional_scaled_shared_bytes == if_feature("info_task_stats_v2", 0)


def test_own_process_memory_follows_an_allocation() -> None:
    me = Process.self()
    before = me.task_stats()
    _check_shape(before)
    # An anonymous mapping of our own, not a malloc'd block: an allocator may keep freed memory (ASan's
    # quarantine does), while munmap really returns it.
    block = mmap.mmap(-1, 64 << 20)
    try:
        block.write(b"\x01" * (64 << 20))  # every page written
        during = me.task_stats()
        assert during.mem_private_bytes >= before.mem_private_bytes + (48 << 20)
        assert during.mem_mapped_bytes >= before.mem_mapped_bytes + (48 << 20)
    finally:
        block.close()
    after = me.task_stats()
    assert after.mem_private_bytes <= during.mem_private_bytes - (48 << 20)


def test_spawned_program_memory(busy: Process) -> None:
    _check_shape(busy.task_stats())


# ---------------------------------------------------------------------------------------------- rights and types


def test_runtime_needs_inspect(job: Job, worker: ProgressWorker) -> None:
    for task in (job, Process.self(), worker.thread):
        with task.duplicate(Rights.BASIC & ~Rights.INSPECT) as blind:
            with pytest.raises(AccessDeniedError) as info:
                blind.runtime()
            assert info.value.syscall == "zx_object_get_info"
    with worker.thread.duplicate(Rights.BASIC & ~Rights.INSPECT) as blind:
        with pytest.raises(AccessDeniedError):
            blind.stats()
    with Process.self().duplicate(Rights.BASIC & ~Rights.INSPECT) as blind:
        with pytest.raises(AccessDeniedError):
            blind.task_stats()


def test_wrong_types(job: Job) -> None:
    thread = Thread.self()
    with Event.create() as event:
        with pytest.raises(WrongTypeError):
            Task.runtime(event)  # type: ignore[arg-type]
        # Rights before type: without INSPECT an event is ACCESS_DENIED, not WRONG_TYPE.
        with event.duplicate(Rights.WAIT) as blind, pytest.raises(AccessDeniedError):
            Task.runtime(blind)  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError):
        Process.task_stats(thread)  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError):
        Process.task_stats(job)  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError):
        Thread.stats(Process.self())  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError):
        Thread.stats(job)  # type: ignore[arg-type]


@needs_feature("info_task_runtime_v2")
@needs_feature("info_task_stats_v2")
def test_raw_topics_and_buffer_sizes() -> None:
    """The V1 layouts and the single-record size rule, through the raw module."""
    ffi, lib = zxpy.ffi, zxpy.lib
    me = lib.zx_process_self()
    actual, avail = ffi.new("size_t *", 7), ffi.new("size_t *", 7)
    full = ffi.new("zx_info_task_runtime_t *")
    assert lib.zx_object_get_info(me, lib.ZX_INFO_TASK_RUNTIME, full, 16, actual, avail) == lib.ZX_ERR_BUFFER_TOO_SMALL
    assert (actual[0], avail[0]) == (0, 1)
    v1 = ffi.new("zx_info_task_runtime_v1_t *")
    assert lib.zx_object_get_info(me, lib.ZX_INFO_TASK_RUNTIME_V1, v1, 16, actual, avail) == lib.ZX_OK
    assert (actual[0], avail[0]) == (1, 1) and v1.cpu_time > 0
    stats_v1 = ffi.new("zx_info_task_stats_v1_t *")
    assert lib.zx_object_get_info(me, lib.ZX_INFO_TASK_STATS_V1, stats_v1, 32, actual, avail) == lib.ZX_OK
    assert stats_v1.mem_private_bytes > 0
    stats = ffi.new("zx_info_task_stats_t *")
    assert lib.zx_object_get_info(me, lib.ZX_INFO_TASK_STATS, stats, 32, actual, avail) == lib.ZX_ERR_BUFFER_TOO_SMALL
    assert lib.ZX_INFO_INVALID_CPU == 0xFFFFFFFF
