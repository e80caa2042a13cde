"""Faults: programs that crash, exit while suspended, die under a token or a wait, and an owner killed outright.

Each case must behave as Zircon says and leave nothing behind (the autouse
``no_leaks`` fixture checks handles and child processes after every test):

* an unhandled fault is ``TASK_RETCODE_EXCEPTION_KILL`` (syscalls/object.h; core test
  X86AcFlagUserCopy); a fault or exit in one thread ends the whole process,
  whatever tokens are held on its other threads;
* a token outliving its task closes with ZX_OK, and the dead task refuses
  new suspensions with BAD_STATE (suspend_token_dispatcher.cc, SuspendAfterDeath);
* a wait in another thread sees ``TASK_TERMINATED`` when the job is killed
  under it; a wait for something a kill never brings stays blocked until its
  handle is closed (CANCELED);
* a Python program owning a job tree, killed by SIGKILL, takes every program
  it spawned with it (and what they forked), suspended ones included; a
  program that tries clone(CLONE_UNTRACED) has no escaped child to leave.

The programs are tests/fault_programs/faulty.c, compiled once per session, and
tests/helpers/untraced.c.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LONG, pid_alive, wait_until
from conftest_robustness import scaled
from vintage import host_cc

import zxpy
from zxpy import BadStateError, CanceledError, Job, Process, Signals, Thread

FAULTS = Path(__file__).parent / "fault_programs"


@pytest.fixture(scope="session")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("faulty") / "faulty"
    subprocess.run([*host_cc(), "-O0", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
                    str(FAULTS / "faulty.c"), "-o", str(out)], check=True)
    return str(out)


def read_pids(directory: Path) -> list[int]:
    wait_until(lambda: (directory / "pid").exists(), what=f"{directory}/pid")
    return [int(x) for x in (directory / "pid").read_text().split()]


def threads_of(proc: Process, count: int) -> list[Thread]:
    wait_until(lambda: len(proc.threads()) >= count, what=f"{count} threads")
    return [proc.child(koid) for koid in proc.threads()]


# ---------------------------------------------------------------------------------------------- crashes


@pytest.mark.parametrize("mode", ["segv", "ill", "fpe", "abort", "bus"])
def test_fault_is_exception_kill(job: Job, faulty: str, mode: str) -> None:
    """An unhandled fault ends the process with ZX_TASK_RETCODE_EXCEPTION_KILL (-1028)."""
    with job.spawn([faulty, mode]) as proc:
        proc.wait_terminated(timeout=LONG)
        info = proc.info()
        assert info.exited and info.started
        assert info.return_code == zxpy.TASK_RETCODE_EXCEPTION_KILL == -1028
        assert proc.threads() == []
        assert job.processes() == []  # a dead process leaves its job


def test_fault_in_one_thread_while_another_is_suspended(job: Job, faulty: str, tmp_path: Path) -> None:
    """The main thread faults while a token holds the other: the whole process dies; the token closes OK."""
    with job.spawn([faulty, "spin-then", str(tmp_path), "segv"]) as proc:
        read_pids(tmp_path)
        main, spinner = threads_of(proc, 2)
        token = spinner.suspend(timeout=LONG)
        (tmp_path / "go").touch()
        proc.wait_terminated(timeout=LONG)
        assert proc.info().return_code == zxpy.TASK_RETCODE_EXCEPTION_KILL
        for t in (main, spinner):
            assert t.wait_one(Signals.THREAD_TERMINATED, timeout=LONG) & Signals.THREAD_TERMINATED
            assert t.info().state == zxpy.ThreadState.DEAD
            t.close()
        token.close()  # suspend_token_dispatcher.cc: closing a token after its task died is OK


# ---------------------------------------------------------------------------------------------- exits while suspended


def test_exit_while_a_thread_is_suspended(job: Job, faulty: str, tmp_path: Path) -> None:
    """exit(7) from the main thread while the other thread is parked: return code 7, everything dead."""
    with job.spawn([faulty, "spin-then", str(tmp_path), "exit", "7"]) as proc:
        read_pids(tmp_path)
        _, spinner = threads_of(proc, 2)
        with spinner:
            token = spinner.suspend(timeout=LONG)
            assert spinner.info().state == zxpy.ThreadState.SUSPENDED
            (tmp_path / "go").touch()
            proc.wait_terminated(timeout=LONG)
            assert proc.info().return_code == 7
            assert spinner.wait_one(Signals.THREAD_TERMINATED, timeout=LONG) & Signals.THREAD_TERMINATED
            with pytest.raises(BadStateError):
                spinner.suspend(wait=False)  # SuspendAfterDeath: no new token for a dead thread
            token.close()


def test_killed_from_linux_while_suspended(job: Job, faulty: str, tmp_path: Path) -> None:
    """A suspended program SIGKILLed by someone outside Zircon: it dies, the token still closes OK.

    Only zx_task_kill can kill from outside on Zircon, so the host reports ZX_TASK_RETCODE_SYSCALL_KILL.
    """
    with job.spawn([faulty, "spin-then", str(tmp_path), "exit"]) as proc:
        (pid,) = read_pids(tmp_path)
        threads = threads_of(proc, 2)
        token = proc.suspend()
        for t in threads:
            t.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG)
        os.kill(pid, signal.SIGKILL)
        proc.wait_terminated(timeout=LONG)
        assert proc.info().return_code == zxpy.TASK_RETCODE_SYSCALL_KILL
        wait_until(lambda: not pid_alive(pid), what=f"pid {pid} gone")
        with pytest.raises(BadStateError):
            proc.suspend()
        token.close()
        for t in threads:
            assert t.info().state == zxpy.ThreadState.DEAD
            t.close()


# ---------------------------------------------------------------------------------------------- tokens after death


def test_tokens_closed_after_their_tasks_died(job: Job, faulty: str) -> None:
    """Process and thread tokens of a program killed through its job: each closes OK afterwards (suspend token)."""
    proc = job.spawn([faulty, "sleep"])
    (thread,) = threads_of(proc, 1)
    tokens = [proc.suspend(), proc.suspend(), thread.suspend(timeout=LONG), thread.suspend(wait=False)]
    moved = tokens.pop().replace(zxpy.Rights.INSPECT)  # a replaced token keeps the suspension alive
    job.kill()
    proc.wait_terminated(timeout=LONG)
    job.wait_terminated(timeout=LONG)
    assert proc.info().return_code == zxpy.TASK_RETCODE_SYSCALL_KILL
    assert thread.info().state == zxpy.ThreadState.DEAD
    for token in [*tokens, moved]:
        assert token.is_valid()
        token.close()
    for h in (thread, proc):
        h.close()


def test_token_of_a_never_started_thread_outlives_its_process(job: Job) -> None:
    """process_dispatcher.cc: a NEW thread is not killed with its process; its token keeps working and closes OK."""
    proc = job.create_process("p")
    thread = proc.create_thread("never-started")
    token = thread.suspend()
    proc.kill()
    assert proc.terminated
    assert thread.info().state == zxpy.ThreadState.NEW
    token.close()
    with thread.suspend(wait=False):  # still suspendable: it never started, so it never died
        pass
    thread.close()
    proc.close()


# ---------------------------------------------------------------------------------------------- waits during kills


def test_job_killed_while_other_threads_wait(job: Job, faulty: str) -> None:
    """Waiters in other threads on the job, a process and a thread all wake with TERMINATED when the job dies;
    a waiter for a user signal stays blocked until its handle is closed, then sees CANCELED."""
    sub = job.create_job()
    procs = [sub.spawn([faulty, "sleep"]) for _ in range(2)] + [job.spawn([faulty, "sleep"])]
    (thread,) = threads_of(procs[0], 1)
    token = procs[1].suspend()  # one of them is suspended when the kill lands
    targets: list[tuple[str, zxpy.Handle, int]] = [
        ("job", job.duplicate(), Signals.TASK_TERMINATED),
        ("sub", sub.duplicate(), Signals.TASK_TERMINATED),
        ("process", procs[0].duplicate(), Signals.TASK_TERMINATED),
        ("suspended process", procs[1].duplicate(), Signals.TASK_TERMINATED),
        ("thread", thread.duplicate(), Signals.THREAD_TERMINATED),
    ]
    never = job.duplicate()
    results: dict[str, object] = {}
    started = threading.Barrier(len(targets) + 2)

    def wait(name: str, handle: zxpy.Handle, signals: int) -> Callable[[], None]:
        def run() -> None:
            started.wait()
            try:
                results[name] = handle.wait_one(signals, timeout=LONG)
            except zxpy.ZxError as exc:
                results[name] = exc
        return run

    waiters = [threading.Thread(target=wait(*t), daemon=True) for t in targets]
    waiters.append(threading.Thread(target=wait("never", never, Signals.USER_SIGNAL_0), daemon=True))
    for w in waiters:
        w.start()
    started.wait()
    time.sleep(0.05)  # let them block (the outcome is the same if one has not yet)
    job.kill()
    for w in waiters[:-1]:
        w.join(LONG)
        assert not w.is_alive()
    for name, _, signals in targets:
        observed = results[name]
        assert isinstance(observed, Signals) and observed & signals, f"{name}: {observed!r}"
    assert "never" not in results, "a wait for a user signal returned although nothing raised it"
    never.close()
    waiters[-1].join(LONG)
    assert isinstance(results["never"], CanceledError)
    assert job.info().return_code == zxpy.TASK_RETCODE_SYSCALL_KILL
    token.close()
    for _, h, _ in targets:
        h.close()
    for h in [thread, *procs, sub]:
        h.close()


# ---------------------------------------------------------------------------------------------- the owner dies

OWNER = r"""
import os, sys, time
import zxpy

faulty, tmp = sys.argv[1], sys.argv[2]
job = zxpy.Job.default().create_job()
sub = job.create_job()
dirs, procs = [], []
for i in range(4):
    d = os.path.join(tmp, f"p{i}")
    os.mkdir(d)
    procs.append((sub if i % 2 else job).spawn([faulty, "fork-sleep", d]))
    dirs.append(d)
pids = []
for d in dirs:
    path = os.path.join(d, "pid")
    while not os.path.exists(path):
        time.sleep(0.005)
    with open(path) as f:
        pids += [int(x) for x in f.read().split()]
token = procs[0].suspend()          # one program is parked (ptrace-stopped) when we die
thread_token = procs[1].child(procs[1].threads()[0]).suspend(timeout=30)
print(" ".join(map(str, pids)), flush=True)
time.sleep(1000)
"""


def test_owner_killed_by_sigkill_leaves_nothing(faulty: str, tmp_path: Path) -> None:
    """SIGKILL the Python program that owns a job tree: every program it spawned, and every process those
    forked, is gone from /proc soon after (suspended ones too) - none is left to the machine."""
    for i in range(scaled(1, 5)):
        work = tmp_path / f"r{i}"
        work.mkdir()
        owner = subprocess.Popen([sys.executable, "-c", OWNER, faulty, str(work)], stdout=subprocess.PIPE,
                                 cwd=work, text=True)
        try:
            ready, _, _ = select.select([owner.stdout], [], [], LONG)
            assert ready, "the owner program never reported its children"
            assert owner.stdout is not None
            line = owner.stdout.readline()
            pids = [int(x) for x in line.split()]
            assert len(pids) == 8, line
            assert all(pid_alive(p) for p in pids)
        finally:
            owner.send_signal(signal.SIGKILL)
            owner.wait(LONG)
            if owner.stdout is not None:
                owner.stdout.close()
        assert owner.returncode == -signal.SIGKILL
        wait_until(lambda pids=pids: not any(pid_alive(p) for p in pids), what="the owner's programs to die")


UNTRACED_OWNER = r"""
import sys
import zxpy

helper, work = sys.argv[1], sys.argv[2]
job = zxpy.Job.default().create_job()
proc = job.spawn([helper, work])
print("spawned", flush=True)
sys.stdin.read()  # until the test kills us
"""


def test_untraced_clone_does_not_outlive_the_owner(helper_bin: Callable[[str], str], tmp_path: Path) -> None:
    """A spawned program that tries clone(CLONE_UNTRACED) (and clone3) gets no child the tracer cannot see, so
    when its owner dies by SIGKILL nothing of it is left (EXITKILL reaches every traced task)."""
    owner = subprocess.Popen([sys.executable, "-c", UNTRACED_OWNER, helper_bin("untraced"), str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    escaped: list[int] = []
    program: list[int] = []
    try:
        wait_until(lambda: (tmp_path / "result").exists(), what="the program's result")
        escaped = [int(p.read_text()) for p in tmp_path.glob("child-*")]
        program = _children_of(owner.pid)
        assert len(program) == 1 and all(pid_alive(p) for p in program)
        made = [line.split()[0] for line in (tmp_path / "result").read_text().splitlines()
                if int(line.split()[1]) > 0]
        assert made == escaped == [], (tmp_path / "result").read_text()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(LONG)
        for stream in (owner.stdin, owner.stdout):
            if stream is not None:
                stream.close()
        try:
            wait_until(lambda: not any(pid_alive(p) for p in [*program, *escaped]),
                       what=f"the program {program} and escaped children {escaped} to die")
        finally:
            for pid in escaped:  # never leave one behind, even when the test fails
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _children_of(pid: int) -> list[int]:
    """Child pids of every thread of ``pid`` (/proc/PID/task/TID/children)."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                found += [int(x) for x in f.read().split()]
        except OSError:
            continue
    return found
