"""Exceptions of spawned programs: exception channels, the handler chain, HANDLED / TRY_NEXT, reports.

The programs are tests/helpers/crasher.c: each takes one CPU exception (a NULL read, an int3, ...) after it read a
line from stdin, so a test binds its channels first.  Zircon's rules: zircon/kernel/object/exception.cc (the chain),
exceptionate.cc, exception_dispatcher.cc, lib/syscalls/exceptions.cc.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    Event,
    ExceptionChannelType,
    ExceptionState,
    ExceptionStrategy,
    ExceptionType,
    InvalidArgsError,
    Job,
    Process,
    Rights,
    Signals,
    ThreadState,
    TimedOutError,
)
from zxpy.errors import AlreadyBoundError, PeerClosedError

X86_64 = platform.machine() in ("x86_64", "AMD64")
LONG = 30
# Three worker threads, started a second after the program (the debugger's channel is bound by then), that end
# before the main thread, which exits with 7.
THREE_WORKERS = (
    "import threading, time\n"
    "time.sleep(1)\n"
    "workers = [threading.Thread(target=time.sleep, args=(0.1,)) for _ in range(3)]\n"
    "for w in workers: w.start()\n"
    "for w in workers: w.join()\n"
    "raise SystemExit(7)\n"
)


@contextmanager
def crasher(job: Job, helper_bin: Callable[[str], str], mode: str) -> Iterator[tuple[Process, Callable[[], None]]]:
    """Spawn crasher MODE into job, held before its exception until go() is called."""
    r, w = os.pipe()
    try:
        proc = job.spawn([helper_bin("crasher"), mode, "wait"], fds={0: r})
    finally:
        os.close(r)

    def go() -> None:
        os.write(w, b"go\n")

    try:
        with proc:
            yield proc, go
            proc.kill()
            proc.wait_terminated(timeout=10)
    finally:
        os.close(w)


def main_thread(proc: Process) -> zxpy.Thread:
    return proc.child(proc.threads()[0])


def test_null_read_is_caught_on_the_debugger_channel(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "null") as (proc, go), proc.exception_channel(debugger=True) as ch:
        assert ch.kind == ExceptionChannelType.DEBUGGER
        go()
        with ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.FATAL_PAGE_FAULT
            assert exc.pid == proc.koid
            assert exc.tid == exc.thread.koid
            report = exc.report()
            assert report.type == ExceptionType.FATAL_PAGE_FAULT
            assert report.fault_address == 0
            if X86_64:
                assert report.vector == 14
            info = exc.thread.info()
            assert info.state == ThreadState.BLOCKED_EXCEPTION
            assert info.wait_exception_channel_type == ExceptionChannelType.DEBUGGER
            # The process is held, not dead, while the exception is out.
            time.sleep(0.1)
            assert not proc.terminated
            assert exc.state == ExceptionState.TRY_NEXT
            exc.try_next()  # no other handler: the process dies of it
        assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL


def test_int3_resumed_as_handled_runs_on(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go), proc.exception_channel(debugger=True) as ch:
        go()
        exc = ch.receive(timeout=10)
        assert exc.type == ExceptionType.SW_BREAKPOINT
        if X86_64:
            assert exc.report().vector == 3
        tid = exc.tid
        exc.handle()
        assert exc.closed
        # The thread's exit is reported to the debugger, which the exiting thread does not wait for.
        with ch.receive(timeout=10) as exiting:
            assert exiting.type == ExceptionType.THREAD_EXITING
            assert exiting.tid == tid
            assert proc.wait(timeout=10) == 0
            with pytest.raises(BadStateError):
                exiting.report()


def test_undefined_instruction(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "ud") as (proc, go), proc.exception_channel() as ch:
        assert ch.kind == ExceptionChannelType.PROCESS
        go()
        with ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.UNDEFINED_INSTRUCTION
        assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL


def test_handler_chain_order(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    """Debugger, thread, process, then the jobs from the process's own up: each passes it on (TRY_NEXT)."""
    with zx_job.create_job() as sub:
        with crasher(sub, helper_bin, "null") as (proc, go), main_thread(proc) as thread:
            channels = [
                ("debugger", proc.exception_channel(debugger=True)),
                ("thread", thread.exception_channel()),
                ("process", proc.exception_channel()),
                ("job", sub.exception_channel()),
                ("parent job", zx_job.exception_channel()),
            ]
            kinds = {"debugger": ExceptionChannelType.DEBUGGER, "thread": ExceptionChannelType.THREAD,
                     "process": ExceptionChannelType.PROCESS, "job": ExceptionChannelType.JOB,
                     "parent job": ExceptionChannelType.JOB}
            try:
                go()
                for name, ch in channels:
                    with ch.receive(timeout=10) as exc:
                        assert exc.type == ExceptionType.FATAL_PAGE_FAULT, name
                        assert exc.tid == thread.koid
                        assert thread.info().wait_exception_channel_type == kinds[name], name
                        # No other channel has it meanwhile.
                        for _, other in channels:
                            if other is not ch:
                                with pytest.raises(TimedOutError):
                                    other.receive(timeout=0)
                        if name == "thread":
                            with pytest.raises(AccessDeniedError):  # no process handle from a thread's channel
                                exc.process  # noqa: B018
                        else:
                            assert exc.process.koid == proc.koid
                assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL
            finally:
                for _, ch in channels:
                    ch.close()


def test_job_channel_catches_a_grandchild_jobs_process(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with zx_job.create_job() as child, child.create_job() as grandchild:
        with zx_job.exception_channel() as ch, crasher(grandchild, helper_bin, "null") as (proc, go):
            assert ch.kind == ExceptionChannelType.JOB
            go()
            with ch.receive(timeout=10) as exc:
                assert exc.pid == proc.koid
                assert exc.process.koid == proc.koid
                assert exc.report().fault_address == 0
                exc.state = ExceptionState.TRY_NEXT
            assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL


def test_already_bound_until_the_reader_closes(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go):
        ch = proc.exception_channel(debugger=True)
        with pytest.raises(AlreadyBoundError):
            proc.exception_channel(debugger=True)
        with proc.exception_channel():  # the other kind is a separate slot
            with pytest.raises(AlreadyBoundError):
                proc.exception_channel()
        ch.close()
        with proc.exception_channel(debugger=True) as again:  # the closed reader unbound it
            go()
            again.receive(timeout=10).handle()
        assert proc.wait(timeout=10) == 0


def test_unread_exception_goes_on_when_its_channel_closes(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go), proc.exception_channel() as process_ch:
        debugger = proc.exception_channel(debugger=True)
        go()
        assert debugger.wait_readable(timeout=10)
        debugger.close()  # the message and its exception handle are dropped: TRY_NEXT
        with process_ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.SW_BREAKPOINT
            exc.state = ExceptionState.HANDLED
        assert proc.wait(timeout=10) == 0


def test_second_chance_debugger(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go), proc.exception_channel(debugger=True) as dbg, \
            proc.exception_channel() as process_ch:
        go()
        with dbg.receive(timeout=10) as exc:
            assert exc.strategy == ExceptionStrategy.FIRST_CHANCE
            exc.strategy = ExceptionStrategy.SECOND_CHANCE
        with process_ch.receive(timeout=10) as exc:
            with pytest.raises(BadStateError):  # only the debugger may ask
                exc.strategy = ExceptionStrategy.SECOND_CHANCE
        with dbg.receive(timeout=10) as exc:  # the debugger's second look, before the jobs
            assert exc.strategy == ExceptionStrategy.SECOND_CHANCE
            exc.handle()
        assert proc.wait(timeout=10) == 0


def test_suspended_in_an_exception_it_stays_blocked_then_suspends(
    zx_job: Job, helper_bin: Callable[[str], str]
) -> None:
    """Zircon: a thread in an exception is not SUSPENDED before the exception is over (SuspendMultiple)."""
    with crasher(zx_job, helper_bin, "int3") as (proc, go), proc.exception_channel(debugger=True) as ch, \
            main_thread(proc) as thread:
        go()
        exc = ch.receive(timeout=10)
        token = thread.suspend(wait=False)
        with pytest.raises(TimedOutError):
            thread.wait_one(Signals.THREAD_SUSPENDED, timeout=0.2)
        assert thread.info().state == ThreadState.BLOCKED_EXCEPTION
        exc.handle()
        thread.wait_one(Signals.THREAD_SUSPENDED, timeout=10)
        assert thread.info().state == ThreadState.SUSPENDED
        time.sleep(0.1)
        assert not proc.terminated  # held by the token, not exited
        token.close()
        assert proc.wait(timeout=10) == 0


def test_thread_starting_reaches_the_debugger(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "thread") as (proc, go), proc.exception_channel(debugger=True) as ch:
        first = main_thread(proc)
        go()
        with ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.THREAD_STARTING
            assert exc.tid != first.koid
            new_tid = exc.tid
            assert exc.thread.info().state == ThreadState.BLOCKED_EXCEPTION
            exc.state = ExceptionState.TRY_NEXT  # a single shot: the thread starts whatever the state
        with ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.FATAL_PAGE_FAULT
            assert exc.tid == new_tid
        first.close()
        assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL


@pytest.mark.skipif(not hasattr(ExceptionState, "THREAD_EXIT"), reason="headers without ZX_EXCEPTION_STATE_THREAD_EXIT")
def test_thread_exit_ends_only_the_faulting_thread(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    """ZX_EXCEPTION_STATE_THREAD_EXIT: the faulting thread exits instead of resuming; the process goes on (the
    crasher's main thread joins its worker and returns 7)."""
    with crasher(zx_job, helper_bin, "thread") as (proc, go), proc.exception_channel() as ch:
        main = main_thread(proc)
        go()
        with ch.receive(timeout=10) as exc:
            assert exc.type == ExceptionType.FATAL_PAGE_FAULT
            assert exc.tid != main.koid
            worker = exc.thread.duplicate()  # exc.thread is closed with exc
            exc.state = ExceptionState.THREAD_EXIT
            assert exc.state == ExceptionState.THREAD_EXIT
        with worker:
            worker.wait_one(zxpy.Signals.THREAD_TERMINATED, timeout=10)
            assert worker.info().state == ThreadState.DEAD
        with main:
            assert proc.wait(timeout=10) == 7


def test_kill_while_the_exception_is_out(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "null") as (proc, go), proc.exception_channel(debugger=True) as ch:
        go()
        exc = ch.receive(timeout=10)
        thread = exc.thread
        proc.kill()
        assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_SYSCALL_KILL
        thread.wait_one(Signals.THREAD_TERMINATED, timeout=10)
        with pytest.raises(BadStateError):
            thread.exception_report()
        exc.state = ExceptionState.HANDLED
        exc.close()  # the exception is over already: nothing happens
        # The process is dead: its channels are shut down, and no new one binds.
        with pytest.raises(PeerClosedError):
            ch.receive(timeout=1)
        with pytest.raises(BadStateError):
            proc.exception_channel()


def test_channel_rules(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go), main_thread(proc) as thread:
        with pytest.raises(InvalidArgsError):
            thread.exception_channel(debugger=True)
        with proc.duplicate(proc.basic_info().rights & ~Rights.ENUMERATE) as no_enum, pytest.raises(AccessDeniedError):
            no_enum.exception_channel()
        with proc.duplicate(proc.basic_info().rights & ~Rights.MANAGE_THREAD) as no_manage, \
                pytest.raises(AccessDeniedError):
            no_manage.exception_channel()
        # Rights before type: only tasks carry MANAGE_THREAD, so an event is ACCESS_DENIED (WRONG_TYPE is out of reach).
        with Event.create() as event, pytest.raises(AccessDeniedError):
            zxpy.exception.create_exception_channel(event)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            proc.exception_channel(debugger=1)  # type: ignore[arg-type]
        with thread.exception_channel() as ch:
            assert ch.kind == ExceptionChannelType.THREAD
            assert ch.basic_info().rights == Rights.TRANSFER | Rights.WAIT | Rights.READ
            with pytest.raises(TimedOutError):
                ch.receive(timeout=0)
            go()
            with ch.receive(timeout=10) as exc:
                assert exc.basic_info().rights == zxpy.Rights(zxpy.lib.ZX_DEFAULT_EXCEPTION_RIGHTS)
                with pytest.raises(BadStateError):
                    exc.strategy = ExceptionStrategy.SECOND_CHANCE  # not the debugger's
                with pytest.raises(InvalidArgsError):
                    exc.state = 7
                exc.handle()
        assert proc.wait(timeout=10) == 0


def test_exception_report_outside_an_exception(zx_job: Job, helper_bin: Callable[[str], str]) -> None:
    with crasher(zx_job, helper_bin, "int3") as (proc, go), main_thread(proc) as thread:
        with pytest.raises(BadStateError):
            thread.exception_report()
        go()
        assert proc.wait(timeout=10) == zxpy.TASK_RETCODE_EXCEPTION_KILL  # nobody bound: as before


def test_channel_pair_round_trip() -> None:
    a, b = zxpy.Channel.create()
    with a, b, Event.create() as event:
        koid = event.koid
        a.write(b"hello", [event])
        assert event.closed  # moved
        assert b.wait_readable(timeout=1)
        data, handles = b.read()
        assert data == b"hello"
        assert len(handles) == 1 and isinstance(handles[0], Event) and handles[0].koid == koid
        handles[0].close()
        a.close()
        assert not b.wait_readable(timeout=1)
        with pytest.raises(PeerClosedError):
            b.read()



def test_every_thread_end_is_reported_to_the_debugger(zx_job: Job) -> None:
    """A program's threads each tell the debugger they are exiting (ZX_EXCP_THREAD_EXITING, thread_dispatcher.cc
    ExitingCurrent): the workers, whose ends the monitor sees only at their exit, and the main thread, which stops
    at its ptrace exit stop once the program has made threads; the process then ends with its own code."""
    with zx_job.spawn([sys.executable, "-c", THREE_WORKERS]) as proc, proc.exception_channel(debugger=True) as ch:
        kinds: list[ExceptionType] = []
        while True:
            try:
                with ch.receive(timeout=LONG) as exc:
                    kinds.append(exc.type)
                    if exc.type == ExceptionType.THREAD_STARTING:
                        exc.handle()
            except PeerClosedError:
                break
        assert kinds.count(ExceptionType.THREAD_STARTING) == 3, kinds  # the workers, started after the bind
        assert kinds.count(ExceptionType.THREAD_EXITING) == 4, kinds
        assert proc.wait(timeout=LONG) == 7
