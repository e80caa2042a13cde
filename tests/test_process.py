"""Processes: self, info (ZX_INFO_PROCESS), threads, kill of unstarted ones."""

from __future__ import annotations

import pytest
from conftest import LONG
from vintage import VINTAGE_2021, if_feature

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    Event,
    Job,
    NotFoundError,
    NotSupportedError,
    ObjType,
    Process,
    ProcessInfoFlags,
    Rights,
    Signals,
    Thread,
    TimedOutError,
    WrongTypeError,
)
from zxpy.testing import ProgressWorker

KILL = zxpy.TASK_RETCODE_SYSCALL_KILL
#: RFC-0074's record (flags, start_time); the 2021 record has bools only.
V2 = not VINTAGE_2021


def lib_flag(name: str) -> int:
    """``ZX_INFO_PROCESS_FLAG_<name>``, or 0 in a build without them (never compared then)."""
    return int(getattr(zxpy.lib, "ZX_INFO_PROCESS_FLAG_" + name, 0))


def test_self_is_borrowed_started_and_in_the_default_job() -> None:
    me = Process.self()
    assert not me.owned
    info = me.info()
    assert info.started and not info.exited
    assert info.flags == (ProcessInfoFlags(lib_flag("STARTED")) if V2 else None)
    assert info.start_time is None if VINTAGE_2021 else info.start_time > 0
    assert me.basic_info().related_koid == Job.default().koid
    assert me.koid in Job.default().processes()


def test_self_cannot_be_suspended() -> None:
    with pytest.raises(NotSupportedError) as info:
        Process.self().suspend()
    assert info.value.syscall == "zx_task_suspend"


def test_unstarted_process_info(job: Job) -> None:
    with job.create_process("fresh") as proc:
        info = proc.info()
        assert info == zxpy.ProcessInfo(
            return_code=0, start_time=if_feature("info_process_v2", 0),
            flags=ProcessInfoFlags(0) if V2 else None,
            started=False, exited=False, debugger_attached=False)
        with pytest.raises(TimedOutError):
            proc.wait_terminated(timeout=0)
        with pytest.raises(TimedOutError):
            proc.wait(timeout=0)


def test_killing_an_unstarted_process_is_synchronous(job: Job) -> None:
    with job.create_process("victim") as proc:
        proc.kill()
        # No thread ever started: DEAD inside the kill call.
        assert proc.wait_terminated(timeout=0) & Signals.PROCESS_TERMINATED
        info = proc.info()
        # Zircon reports a killed, never-started process as STARTED|EXITED
        # with start_time 0.
        assert info.flags == (ProcessInfoFlags(lib_flag("STARTED") | lib_flag("EXITED")) if V2 else None)
        assert info.started and info.exited
        assert info.start_time == if_feature("info_process_v2", 0)
        assert info.return_code == KILL
        assert proc.wait(timeout=0) == KILL
        assert proc.koid not in job.processes()


def test_closing_last_handle_of_unstarted_process_ends_it(job: Job) -> None:
    proc = job.create_process("short")
    koid = proc.koid
    assert job.processes() == [koid]
    proc.close()
    assert job.processes() == []


def test_process_info_is_read_fresh(job: Job) -> None:
    with job.create_process("p") as proc:
        first = proc.info()
        job.kill()
        second = proc.info()
        assert not first.exited and second.exited
        assert second.return_code == KILL


def test_info_needs_inspect_and_right_type(job: Job) -> None:
    with job.create_process("p") as proc:
        with proc.duplicate(zxpy.DEFAULT_PROCESS_RIGHTS & ~Rights.INSPECT) as weak:
            with pytest.raises(AccessDeniedError):
                weak.info()
        with pytest.raises(WrongTypeError):
            Process(job.raw, owned=False).info()
        with pytest.raises(WrongTypeError):
            Process(job.raw, owned=False).threads()


def test_threads_lists_started_threads_only() -> None:
    me = Process.self()
    assert Thread.self().koid in me.threads()
    with me.create_thread("never-started") as idle:
        # A created thread is NEW and not in the thread list.
        assert idle.koid not in me.threads()
        assert idle.info().state is zxpy.ThreadState.NEW
        with pytest.raises(NotFoundError):
            me.child(idle.koid)
    with ProgressWorker() as worker:
        koid = worker.thread.koid
        assert koid in me.threads()
        with me.child(koid) as again:
            assert type(again) is Thread and again.koid == koid
        worker.stop()
        assert koid not in me.threads()


def test_create_thread_rules(job: Job) -> None:
    with job.create_process("p") as proc:
        with proc.duplicate(zxpy.DEFAULT_PROCESS_RIGHTS & ~Rights.MANAGE_THREAD) as weak:
            with pytest.raises(AccessDeniedError):
                weak.create_thread("t")
        with pytest.raises(WrongTypeError):
            Process(job.raw, owned=False).create_thread("t")
        proc.kill()
        # sys_thread_create does not look at the process's state: a dead process gets a NEW thread, which can
        # never start (AddInitializedThread: BAD_STATE).
        with proc.create_thread("late") as late:
            assert late.info().state is zxpy.ThreadState.NEW
            with pytest.raises(BadStateError) as info:
                late.start(0x1000, raw_entry_address=True)
            assert info.value.syscall == "zx_thread_start"
        with pytest.raises(ValueError):
            proc.create_thread("bad\0name")


def test_suspend_unstarted_process_is_ok(job: Job) -> None:
    with job.create_process("p") as proc:
        token = proc.suspend()
        with token:
            info = token.basic_info()
            assert info.type is ObjType.SUSPEND_TOKEN
            assert info.rights == zxpy.DEFAULT_SUSPEND_TOKEN_RIGHTS
        assert token.closed


def test_suspend_dead_process_is_bad_state(job: Job) -> None:
    with job.create_process("p") as proc:
        proc.kill()
        with pytest.raises(BadStateError) as info:
            proc.suspend()
        assert info.value.syscall == "zx_task_suspend"


def test_handle_stats_count_by_type() -> None:
    me = Process.self()
    before = me.handle_stats()
    with Event.create():
        during = me.handle_stats()
        assert during.get(ObjType.EVENT, 0) == before.get(ObjType.EVENT, 0) + 1
        assert sum(during.values()) == sum(before.values()) + 1
    assert me.handle_stats() == before
    assert all(count > 0 for count in before.values())
    assert before.get(ObjType.PROCESS, 0) >= 1


def test_handle_stats_needs_process(job: Job) -> None:
    with pytest.raises(WrongTypeError):
        Process(job.raw, owned=False).handle_stats()


def test_process_wait_returns_return_code(job: Job) -> None:
    with job.create_process("p") as proc:
        job.kill()
        assert proc.wait(timeout=LONG) == KILL
