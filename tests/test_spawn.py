"""Real programs in jobs (fdio_spawn): suspend, per-thread suspend, kill trees.

The helpers in tests/helpers are small C programs (compiled once per session):
``counter`` advances one counter per worker thread in a shared file, about
every millisecond; ``forker`` builds a tree of children and grandchildren
and writes their pids to a file.
"""

from __future__ import annotations

import errno
import os
import platform
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import LONG, Counters, advances, child_pids, pid_alive, stays_still, task_states, wait_until
from vintage import VINTAGE_2021

import zxpy
from zxpy import (
    AccessDeniedError,
    BadStateError,
    Job,
    NotFoundError,
    Process,
    Rights,
    Signals,
    SpawnFlags,
    Thread,
    ThreadState,
    WrongTypeError,
)

KILL = zxpy.TASK_RETCODE_SYSCALL_KILL
PYTHON = sys.executable


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


class Program:
    """A spawned counter helper: its Process and its counters."""

    def __init__(self, proc: Process, counters: Counters, workers: int) -> None:
        self.proc = proc
        self.counters = counters
        self.workers = workers

    def counter(self, index: int) -> Callable[[], int]:
        return lambda: self.counters[index]

    @property
    def pid(self) -> int:
        """The Linux pid the helper wrote into its last slot."""
        return self.counters[self.workers + 1]

    def thread_handles(self) -> list[Thread]:
        return [self.proc.child(koid) for koid in self.proc.threads()]

    def wait_all_suspended(self) -> None:
        threads = self.thread_handles()
        try:
            for t in threads:
                t.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG)
        finally:
            for t in threads:
                t.close()


@pytest.fixture
def spawn_counter(job: Job, helper_bin: Callable[[str], str],
                  counters: Callable[[int], Counters], tmp_path: Path) -> Iterator[Callable[..., Program]]:
    """Spawn ``counter`` helpers into ``job``; they die with the job."""
    made: list[Program] = []

    def spawn(workers: int = 1, late: Path | None = None) -> Program:
        c = counters(workers)
        argv = [helper_bin("counter"), str(c.path), str(workers)]
        if late is not None:
            argv.append(str(late))
        proc = job.spawn(argv)
        program = Program(proc, c, workers)
        made.append(program)
        for i in range(workers):
            wait_until(lambda i=i: c[i] > 0, what=f"counter {i} to start")
        return program

    yield spawn
    for program in made:
        program.proc.close()


def test_spawned_program_is_a_process_in_the_job(job: Job, spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    proc = program.proc
    assert type(proc) is Process
    assert proc.koid in job.processes()
    assert proc.basic_info().related_koid == job.koid
    assert proc.basic_info().rights == zxpy.DEFAULT_PROCESS_RIGHTS
    info = proc.info()
    assert info.started and not info.exited
    assert info.start_time is None if VINTAGE_2021 else info.start_time > 0
    threads = proc.threads()
    assert len(threads) == 2  # main + one worker
    for koid in threads:
        with proc.child(koid) as thread:
            assert thread.basic_info().related_koid == proc.koid
            assert thread.info().state not in (ThreadState.NEW, ThreadState.DEAD, ThreadState.SUSPENDED)
            assert thread.wait_one(Signals.THREAD_RUNNING, timeout=0) & Signals.THREAD_RUNNING
    with job.child(proc.koid) as again:
        assert type(again) is Process and again.koid == proc.koid
    assert advances(program.counter(0))


def test_suspend_process_stops_every_thread(spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=2)
    with program.proc.suspend() as token:
        assert token.basic_info().type is zxpy.ObjType.SUSPEND_TOKEN
        program.wait_all_suspended()
        for t in program.thread_handles():
            with t:
                assert t.info().state is ThreadState.SUSPENDED
        # Really stopped: every Linux thread of the program is in a stopped state.
        states = task_states(program.pid)
        assert len(states) == 3 and set(states.values()) <= {"t", "T"}, states
        assert stays_still(program.counter(0)) and stays_still(program.counter(1))
    assert advances(program.counter(0)) and advances(program.counter(1))
    wait_until(lambda: not set(task_states(program.pid).values()) & {"t", "T"}, what="threads to run again")


def test_two_process_tokens(spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    first = program.proc.suspend()
    second = program.proc.suspend()
    try:
        program.wait_all_suspended()
        assert stays_still(program.counter(0))
        first.close()
        assert stays_still(program.counter(0)), "resumed while a token was still open"
    finally:
        first.close()
        second.close()
    assert advances(program.counter(0))


def test_suspend_one_thread_stops_only_that_thread(spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=2)
    stops: dict[int, tuple[bool, bool]] = {}
    for koid in program.proc.threads():
        with program.proc.child(koid) as thread, thread.suspend(timeout=LONG):
            assert thread.info().state is ThreadState.SUSPENDED
            still0 = stays_still(program.counter(0))
            still1 = stays_still(program.counter(1))
            stops[koid] = (still0, still1)
    # One thread stops counter 0 only, one counter 1 only; the main thread neither.
    assert sorted(stops.values()) == [(False, False), (False, True), (True, False)], stops
    assert advances(program.counter(0)) and advances(program.counter(1))


def test_process_and_thread_tokens_add_up(spawn_counter: Callable[..., Program]) -> None:
    """A thread runs only when its own tokens and its process's are all closed."""
    program = spawn_counter(workers=2)
    stops: dict[int, int] = {}
    for koid in program.proc.threads():
        with program.proc.child(koid) as thread, thread.suspend(timeout=LONG):
            for index in (0, 1):
                if stays_still(program.counter(index)):
                    stops[koid] = index
    assert sorted(stops.values()) == [0, 1], stops
    koid0 = next(k for k, i in stops.items() if i == 0)
    with program.proc.child(koid0) as thread0:
        proc_token = program.proc.suspend()
        thread_token = thread0.suspend(timeout=LONG)
        try:
            program.wait_all_suspended()
            proc_token.close()
            assert advances(program.counter(1)), "other thread stayed suspended"
            assert stays_still(program.counter(0)), "thread with its own token resumed"
            assert thread0.info().state is ThreadState.SUSPENDED
        finally:
            proc_token.close()
            thread_token.close()
        assert advances(program.counter(0))


def test_threads_created_later_appear(spawn_counter: Callable[..., Program], tmp_path: Path) -> None:
    trigger = tmp_path / "start-late-worker"
    program = spawn_counter(workers=1, late=trigger)
    before = set(program.proc.threads())
    assert len(before) == 2
    trigger.touch()
    wait_until(lambda: len(program.proc.threads()) == 3, what="the late thread to appear")
    (new_koid,) = set(program.proc.threads()) - before
    assert advances(program.counter(1))
    with program.proc.child(new_koid) as late, late.suspend(timeout=LONG):
        assert stays_still(program.counter(1))
        assert advances(program.counter(0))
    assert advances(program.counter(1))


def test_kill_job_kills_children_and_grandchildren(job: Job, helper_bin: Callable[[str], str],
                                                   tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    proc = job.spawn([helper_bin("forker"), str(pid_file), "3"])
    try:
        wait_until(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 7,
                   what="the forker tree to report")
        pids = [int(p) for p in pid_file.read_text().split()]
        assert all(pid_alive(p) for p in pids)
        (program_pid,) = [p for p in pids if _ppid(p) == os.getpid()]
        job.kill()
        proc.wait_terminated(timeout=LONG)
        # TERMINATED only once the program is gone and reaped (no zombie left).
        assert not os.path.exists(f"/proc/{program_pid}")
        job.wait_terminated(timeout=LONG)
        wait_until(lambda: not any(pid_alive(p) for p in pids), what="every pid of the tree to die")
        assert job.info().exited and job.info().return_code == KILL
        assert proc.info().exited and proc.info().return_code == KILL
        assert job.processes() == []
        with pytest.raises(BadStateError) as info:
            job.spawn([helper_bin("forker"), str(tmp_path / "again"), "1"])
        assert info.value.syscall == "fdio_spawn_etc"
    finally:
        proc.close()


def test_kill_spawned_process_directly(job: Job, spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    threads = program.thread_handles()
    try:
        program.proc.kill()
        observed = program.proc.wait_terminated(timeout=LONG)
        assert observed & Signals.PROCESS_TERMINATED
        info = program.proc.info()
        assert info.exited and info.return_code == KILL
        assert stays_still(program.counter(0))
        assert program.proc.koid not in job.processes()
        assert program.proc.threads() == []
        for t in threads:
            assert t.wait_terminated(timeout=LONG) & Signals.THREAD_TERMINATED
            assert t.info().state is ThreadState.DEAD
        assert not job.info().exited  # only the process died
    finally:
        for t in threads:
            t.close()


def test_suspended_process_can_be_killed(spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    token = program.proc.suspend()
    try:
        program.wait_all_suspended()
        program.proc.kill()
        assert program.proc.wait_terminated(timeout=LONG) & Signals.TASK_TERMINATED
        assert program.proc.info().return_code == KILL
    finally:
        token.close()  # closing a token of a dead task is harmless


def test_program_exit_status_is_its_return_code(job: Job) -> None:
    with job.spawn([PYTHON, "-c", "import sys; sys.exit(7)"]) as proc:
        assert proc.wait(timeout=LONG) == 7
        info = proc.info()
        assert info.started and info.exited and info.return_code == 7
        assert proc.wait_terminated(timeout=0) & Signals.PROCESS_TERMINATED
        assert proc.koid not in job.processes()


def _status_mask(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_program_starts_with_default_signals_and_no_inherited_fds(job: Job) -> None:
    """The child (clone(CLONE_VM), raw system calls only) resets what exec keeps: Python ignores SIGPIPE and the
    monitor thread blocks every signal, and an ignored or blocked signal survives exec.  An inheritable fd of the
    caller is closed at the exec."""
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN  # the caller's state that must not leak
    extra = os.dup(0)
    os.set_inheritable(extra, True)
    try:
        before = child_pids("sleep")
        with job.spawn(["/bin/sleep", "60"]) as proc:
            (pid,) = child_pids("sleep") - before
            assert _status_mask(pid, "SigIgn") == 0
            assert _status_mask(pid, "SigBlk") == 0
            assert set(os.listdir(f"/proc/{pid}/fd")) <= {"0", "1", "2"}
            proc.kill()
            assert proc.wait(timeout=LONG) == zxpy.TASK_RETCODE_SYSCALL_KILL
    finally:
        os.close(extra)


def test_environ_replaces_the_environment(job: Job) -> None:
    code = "import os, sys; sys.exit(int(os.environ['ZXPY_CODE']) + len(os.environ.get('ZXPY_OTHER', '')))"
    os.environ["ZXPY_OTHER"] = "xx"
    try:
        with job.spawn([PYTHON, "-c", code], environ={"ZXPY_CODE": "5"}) as proc:
            assert proc.wait(timeout=LONG) == 5
        with job.spawn([PYTHON, "-c", code.replace("['ZXPY_CODE']", ".get('ZXPY_CODE', '3')")],
                       flags=SpawnFlags.CLONE_ALL) as proc:
            assert proc.wait(timeout=LONG) == 5  # 3 + len("xx"): the caller's environment
    finally:
        del os.environ["ZXPY_OTHER"]


def test_path_defaults_to_argv0_and_can_differ(job: Job) -> None:
    with job.spawn(["not-a-path", "-c", "import sys; sys.exit(3)"], path=PYTHON) as proc:
        assert proc.wait(timeout=LONG) == 3


def test_missing_program_is_not_found(job: Job, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    with pytest.raises(NotFoundError) as info:
        job.spawn([missing])
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert err.syscall == "fdio_spawn_etc"
    # fdio's message, naming the path once.
    assert f"failed to load executable from {missing}: " in str(err)
    assert str(err).count(missing) == 1, str(err)
    assert err.filename == missing
    assert job.processes() == []


def test_spawn_errors_name_the_path_once(job: Job, tmp_path: Path) -> None:
    not_executable = tmp_path / "not-executable"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(AccessDeniedError) as info:
        job.spawn([str(not_executable)])
    assert str(info.value).count(str(not_executable)) == 1, str(info.value)
    no_program = tmp_path / "no-program"
    no_program.write_bytes(b"\x7fELF but not really")
    no_program.chmod(0o755)
    with pytest.raises(zxpy.ZxError) as internal:
        job.spawn([str(no_program)])
    assert internal.value.status == zxpy.Status.ERR_INTERNAL
    assert str(internal.value).count(str(no_program)) == 1, str(internal.value)
    job.kill()
    with pytest.raises(BadStateError) as killed:
        job.spawn([PYTHON, "-c", "pass"])
    assert str(killed.value).count(PYTHON) == 1, str(killed.value)  # our message does not name it: zxpy adds it


def test_spawn_into_killed_job_is_bad_state(job: Job) -> None:
    job.kill()
    with pytest.raises(BadStateError):
        job.spawn([PYTHON, "-c", "pass"])


def test_rights_still_rule(spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    proc = program.proc
    with proc.duplicate(zxpy.DEFAULT_PROCESS_RIGHTS & ~Rights.DESTROY) as no_destroy:
        with pytest.raises(AccessDeniedError):
            no_destroy.kill()
    with proc.duplicate(zxpy.DEFAULT_PROCESS_RIGHTS & ~Rights.WRITE) as no_write:
        with pytest.raises(AccessDeniedError):
            no_write.suspend()
    assert advances(program.counter(0))
    assert not proc.info().exited
    for thread in program.thread_handles():
        with thread:
            with pytest.raises(WrongTypeError):
                thread.kill()
            with thread.duplicate(zxpy.DEFAULT_THREAD_RIGHTS & ~Rights.WRITE) as weak:
                with pytest.raises(AccessDeniedError):
                    weak.suspend()
    assert advances(program.counter(0))


def test_spawn_argument_validation(job: Job) -> None:
    with pytest.raises(TypeError):
        job.spawn(PYTHON)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        job.spawn([])
    with pytest.raises(ValueError):
        job.spawn([PYTHON + "\0"])
    with pytest.raises(TypeError):
        job.spawn([PYTHON, 3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        job.spawn([PYTHON], environ=["A=1"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        job.spawn([PYTHON], environ={"A=B": "1"})
    with pytest.raises(TypeError):
        job.spawn([PYTHON], flags=True)
    assert job.processes() == []


def test_spawn_into_default_job() -> None:
    with Job.default().spawn([PYTHON, "-c", "import sys; sys.exit(0)"]) as proc:
        assert proc.basic_info().related_koid == Job.default().koid
        assert proc.wait(timeout=LONG) == 0


def test_exit_code_survives_a_later_kill(job: Job) -> None:
    """The first exit or kill code wins; killing a dead process is ZX_OK."""
    with job.spawn([PYTHON, "-c", "import sys; sys.exit(9)"]) as proc:
        assert proc.wait(timeout=LONG) == 9
        proc.kill()
        job.kill()
        assert proc.info().return_code == 9


def test_job_signals_follow_a_running_process(job: Job, spawn_counter: Callable[..., Program]) -> None:
    program = spawn_counter(workers=1)
    observed = job.wait_one(Signals.JOB_NO_JOBS, timeout=0)
    assert observed & Signals.JOB_NO_JOBS
    assert not observed & (Signals.JOB_NO_PROCESSES | Signals.JOB_TERMINATED)
    program.proc.kill()
    observed = job.wait_one(Signals.JOB_NO_PROCESSES, timeout=LONG)
    assert observed & (Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES) == (
        Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES)
    assert not observed & Signals.JOB_TERMINATED


def test_closing_handles_does_not_kill_a_running_program(job: Job, helper_bin: Callable[[str], str],
                                                         counters: Callable[[int], Counters]) -> None:
    """Closing every handle to a running program, and to its job, kills neither."""
    c = counters(1)
    sub = job.create_job()
    proc = sub.spawn([helper_bin("counter"), str(c.path), "1"])
    wait_until(lambda: c[0] > 0, what="counter to start")
    sub_koid, proc_koid = sub.koid, proc.koid
    proc.close()
    sub.close()
    assert advances(lambda: c[0])
    # Both are still in the tree, and reachable again by koid.
    assert job.children() == [sub_koid]
    with job.child(sub_koid) as sub_again:
        assert sub_again.processes() == [proc_koid]
        with sub_again.child(proc_koid) as proc_again:
            assert not proc_again.info().exited
            job.kill()
            assert proc_again.wait(timeout=LONG) == KILL


def test_kill_job_chain_dies_bottom_up(job: Job, helper_bin: Callable[[str], str],
                                       counters: Callable[[int], Counters]) -> None:
    """When the top job asserts TERMINATED every job below already has."""
    jobs = [job]
    procs: list[Process] = []
    try:
        for _ in range(4):
            jobs.append(jobs[-1].create_job())
        for j in jobs:
            c = counters(1)
            procs.append(j.spawn([helper_bin("counter"), str(c.path), "1"]))
            wait_until(lambda c=c: c[0] > 0, what="counter to start")
        job.kill()
        job.wait_terminated(timeout=LONG)
        for j in jobs:
            observed = j.wait_one(Signals.JOB_TERMINATED, timeout=0)
            assert observed & (Signals.JOB_TERMINATED | Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES) == (
                Signals.JOB_TERMINATED | Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES)
            assert j.info().return_code == KILL
        for p in procs:
            assert p.wait_terminated(timeout=0) & Signals.PROCESS_TERMINATED
            assert p.info().return_code == KILL
    finally:
        for p in procs:
            p.close()
        for j in jobs[1:]:
            j.close()


class PipeReader:
    """Drains the read end of a pipe and remembers the last counter line."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.last = 0
        self._partial = b""
        os.set_blocking(fd, False)

    def __call__(self) -> int:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            if lines:
                self.last = int(lines[-1])
        return self.last


def test_pipe_counter_stops_while_suspended(job: Job) -> None:
    """A Python program writing a counter to a pipe (fd 3 via a CLONE_FD action)."""
    read_fd, write_fd = os.pipe()
    try:
        proc = job.spawn([PYTHON, str(Path(__file__).parent / "helpers" / "pipe_counter.py")],
                         fds={3: write_fd}, name="pipe-counter")
    finally:
        os.close(write_fd)
    reader = PipeReader(read_fd)
    try:
        wait_until(lambda: reader() > 0, what="the first counter line")
        assert advances(reader)
        first = proc.suspend()
        second = proc.suspend()
        try:
            for koid in proc.threads():
                with proc.child(koid) as thread:
                    thread.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG)
            reader()  # drain what was written before the stop
            assert stays_still(reader)
            first.close()
            assert stays_still(reader), "resumed while a token was still open"
        finally:
            first.close()
            second.close()
        assert advances(reader)
        job.kill()
        assert proc.wait(timeout=LONG) == KILL
    finally:
        proc.close()
        os.close(read_fd)


# ---------------------------------------------------------------------------------------------- escapes and exits


def _read_result(path: Path) -> dict[str, tuple[int, int]]:
    """The ``NAME RET ERRNO`` lines a helper wrote."""
    wait_until(path.exists, what=str(path))
    result = {}
    for line in path.read_text().splitlines():
        name, ret, err = line.split()
        result[name] = (int(ret), int(err))
    return result


def test_untraced_clone_cannot_escape_the_kill(job: Job, helper_bin: Callable[[str], str], tmp_path: Path) -> None:
    """clone(CLONE_UNTRACED) would make a child the tracer never sees, which no kill could reach: it fails with
    EPERM (and clone3, which could pass the same flag, with ENOSYS), while fork, vfork, pthread_create and
    posix_spawn (which fall back from clone3 to clone) keep working."""
    proc = job.spawn([helper_bin("untraced"), str(tmp_path)])
    escaped: list[int] = []
    try:
        result = _read_result(tmp_path / "result")
        escaped = [int(p.read_text()) for p in tmp_path.glob("child-*")]
        job.kill()
        assert proc.wait(timeout=LONG) == KILL
        wait_until(lambda: not any(pid_alive(p) for p in escaped), what=f"escaped children {escaped} to die")
        assert result["clone-untraced"] == (-1, errno.EPERM), result
        assert result["clone3-untraced"] == (-1, errno.ENOSYS), result
        if platform.machine() == "x86_64":  # the same calls through the i386 gate (int 0x80)
            assert result["clone-untraced-i386"] == (-1, errno.EPERM), result
            assert result["clone3-untraced-i386"] == (-1, errno.ENOSYS), result
        for name in ("fork", "vfork", "pthread_create", "posix_spawn"):
            assert result[name] == (0, 0), (name, result)
    finally:
        for pid in escaped:  # never leave one behind, even when the test fails
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.close()


def test_main_thread_exit_leaves_its_process_suspendable(job: Job, helper_bin: Callable[[str], str],
                                                         tmp_path: Path) -> None:
    """The main thread calls pthread_exit while a worker runs on.  Linux keeps the main thread's id (a zombie) until
    the whole program ends; on Zircon the thread is DEAD and gone from PROCESS_THREADS at once, and suspending the
    process waits only for the live threads."""
    c = Counters(tmp_path / "counters", 2)
    trigger = tmp_path / "exit-main"
    proc = job.spawn([helper_bin("pexit"), str(c.path), str(trigger)])
    threads: list[Thread] = []
    try:
        wait_until(lambda: c[0] > 0 and c[1] > 0, what="the worker to count")
        pid = c[1]
        wait_until(lambda: len(proc.threads()) == 2, what="two threads")
        threads = [proc.child(koid) for koid in proc.threads()]
        main, worker = threads
        trigger.touch()
        assert main.wait_one(Signals.THREAD_TERMINATED, timeout=LONG) & Signals.THREAD_TERMINATED
        assert main.info().state is ThreadState.DEAD
        assert proc.threads() == [worker.koid]
        # Linux still lists it, as a zombie, until the whole program ends.
        wait_until(lambda: task_states(pid).get(pid) == "Z", what="the main thread to be a zombie")
        assert not proc.info().exited
        assert advances(lambda: c[0])
        with proc.suspend():
            assert worker.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG) & Signals.THREAD_SUSPENDED
            assert worker.info().state is ThreadState.SUSPENDED
            assert stays_still(lambda: c[0])
            assert set(task_states(pid).values()) == {"Z", "t"}, task_states(pid)
        assert advances(lambda: c[0])
        with worker.suspend(timeout=LONG):
            assert stays_still(lambda: c[0])
        assert advances(lambda: c[0])
        job.kill()
        assert proc.wait(timeout=LONG) == KILL
        assert worker.info().state is ThreadState.DEAD
    finally:
        for t in threads:
            t.close()
        proc.close()
        c.close()


# ---------------------------------------------------------------------------------------------- births, exec, fork


def _threads_settled(proc: Process) -> list[int]:
    """Wait until every thread of a suspended ``proc`` is SUSPENDED (or has died); return the live koids."""
    while True:
        koids = proc.threads()
        for koid in koids:
            try:
                thread = proc.child(koid)
            except NotFoundError:
                continue  # it died meanwhile
            with thread:
                thread.wait_one(Signals.THREAD_SUSPENDED | Signals.THREAD_TERMINATED, timeout=LONG)
        if proc.threads() == koids:
            return koids


def test_thread_born_during_a_suspension_starts_suspended(job: Job, helper_bin: Callable[[str], str],
                                                          tmp_path: Path) -> None:
    """A program that creates threads without pause is suspended again and again until a thread turns up that
    was created after the token: it must be SUSPENDED at once and really stopped, not run its first line."""
    c = Counters(tmp_path / "counters", 3)
    proc = job.spawn([helper_bin("breeder"), str(c.path)])
    try:
        wait_until(lambda: c[1] > 0 and c[2] > 0, what="the first threads to run")
        pid = c[2]
        born_late: set[int] = set()
        for _ in range(200):
            assert advances(lambda: c[0]), "the program stopped creating threads"
            with proc.suspend():
                before = set(proc.threads())
                born_late = set(_threads_settled(proc)) - before
                if not born_late:
                    continue
                for koid in born_late:
                    with proc.child(koid) as thread:
                        assert thread.info().state is ThreadState.SUSPENDED
                        assert thread.wait_one(Signals.THREAD_SUSPENDED, timeout=0) & Signals.THREAD_SUSPENDED
                # Really stopped: every Linux thread of the program is in a ptrace-stop, and none runs.  A clone
                # that Linux has just made can show 'R' for an instant on its way into the ptrace-stop it starts
                # in (PTRACE_O_TRACECLONE), before it runs a user instruction: poll until they have all settled.
                wait_until(lambda: set(task_states(pid).values()) <= {"t", "Z", "X"},
                           what=f"every thread in a ptrace-stop (first look: {task_states(pid)})")
                assert stays_still(lambda: c[0]) and stays_still(lambda: c[1])
                break
        assert born_late, "no thread was ever created during a suspension"
        assert advances(lambda: c[1])  # they run once the token is closed
    finally:
        proc.close()
        c.close()


def test_exec_while_another_thread_is_suspended(job: Job, helper_bin: Callable[[str], str], tmp_path: Path) -> None:
    """A worker execs while a thread token holds the main thread.  Linux ends the main thread and gives the worker
    its id; the process keeps its koid, the worker keeps its thread koid, the main thread is DEAD (its token
    still closes OK), and the new image can be suspended and killed."""
    c = Counters(tmp_path / "counters", 5)
    trigger = tmp_path / "exec-now"
    proc = job.spawn([helper_bin("execer"), str(c.path), str(trigger)])
    threads: list[Thread] = []
    try:
        wait_until(lambda: c[0] > 0 and c[1] > 0 and c[3] == 1, what="both threads to count")
        pid = c[2]
        wait_until(lambda: len(proc.threads()) == 2, what="two threads")
        threads = [proc.child(koid) for koid in proc.threads()]
        main, worker = threads
        token = main.suspend(timeout=LONG)
        assert stays_still(lambda: c[0]) and advances(lambda: c[1])
        trigger.touch()
        wait_until(lambda: c[3] == 2, what="the new image to run")
        assert main.wait_one(Signals.THREAD_TERMINATED, timeout=LONG) & Signals.THREAD_TERMINATED
        assert main.info().state is ThreadState.DEAD
        token.close()
        assert c[2] == pid and list(task_states(pid)) == [pid]
        assert job.processes() == [proc.koid]
        assert proc.threads() == [worker.koid]
        assert worker.info().state is not ThreadState.DEAD
        assert advances(lambda: c[4])
        with proc.suspend():
            assert worker.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG) & Signals.THREAD_SUSPENDED
            assert stays_still(lambda: c[4])
            assert task_states(pid) == {pid: "t"}
        assert advances(lambda: c[4])
        proc.kill()
        assert proc.wait(timeout=LONG) == KILL
        assert worker.wait_terminated(timeout=LONG) & Signals.THREAD_TERMINATED
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        for t in threads:
            t.close()
        proc.close()
        c.close()


def _live_pids_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    needle = os.fsencode(text)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle in cmdline and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def test_fork_and_vfork_while_suspended_then_kill(job: Job, helper_bin: Callable[[str], str],
                                                  tmp_path: Path) -> None:
    """Threads that fork and vfork without end are suspended many times (often mid-fork), then killed through
    the job while suspended: nothing of the tree is left, including children that were being forked."""
    work = tmp_path / "forkloop-tree"
    work.mkdir()
    pids_file = work / "pids"
    proc = job.spawn([helper_bin("forkloop"), str(work)])
    try:
        wait_until(lambda: pids_file.exists() and len(pids_file.read_text().split()) >= 4,
                   what="the first children")
        for _ in range(20):
            with proc.suspend():
                assert len(_threads_settled(proc)) == 3
        token = proc.suspend()
        try:
            _threads_settled(proc)
            job.kill()
            assert proc.wait(timeout=LONG) == KILL
        finally:
            token.close()
        job.wait_terminated(timeout=LONG)
        pids = [int(p) for p in pids_file.read_text().split()]
        assert pids
        wait_until(lambda: not any(pid_alive(p) for p in pids), what="the recorded children to die")
        wait_until(lambda: not _live_pids_mentioning(str(work)), what="no process of the tree to be left")
    finally:
        proc.close()


# ---------------------------------------------------------------------------------------------- blocked calls


def _read_line(fd: int) -> str:
    """One line from a pipe, waiting at most LONG seconds for it."""
    data = b""
    end = time.monotonic() + LONG
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            pytest.fail(f"no complete line from the program after {LONG}s: {data!r}")
        chunk = os.read(fd, 1)
        if not chunk:
            pytest.fail(f"the program closed its output after {data!r}")
        data += chunk
    return data.decode().strip()


@pytest.mark.parametrize(("mode", "interrupted"),
                         [("epoll", True), ("sigtimedwait", True), ("poll", False), ("read", False)])
def test_suspension_of_a_blocked_call(job: Job, helper_bin: Callable[[str], str], mode: str,
                                      interrupted: bool) -> None:
    """A suspension takes a thread out of the call it is blocked in.  Linux restarts most calls once the thread
    runs again (poll, read), but never some (signal(7), "Interruption of system calls and library functions by
    stop signals": epoll_wait, sigtimedwait, semtimedop, ...): those fail with EINTR, as README says."""
    data_r, data_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = job.spawn([helper_bin("interrupted"), mode], fds={1: out_w, 3: data_r})
    finally:
        os.close(out_w)
        os.close(data_r)
    try:
        word, pid_text = _read_line(out_r).split()
        assert word == "waiting"
        pid = int(pid_text)
        wait_until(lambda: task_states(pid) == {pid: "S"}, what="the program to block in its call")
        with proc.suspend():
            (koid,) = proc.threads()
            with proc.child(koid) as thread:
                assert thread.wait_one(Signals.THREAD_SUSPENDED, timeout=LONG) & Signals.THREAD_SUSPENDED
        if interrupted:
            assert _read_line(out_r) == f"-1 {errno.EINTR}"
        else:
            os.write(data_w, b"x")  # had the call failed, its EINTR line would come first
            assert _read_line(out_r) == "1 0"
        assert proc.wait(timeout=LONG) == 0
    finally:
        proc.close()
        os.close(out_r)
        os.close(data_w)


@pytest.mark.parametrize("kind", ["path", "argv0 differs", "symlink", "long name", "script"])
def test_the_initial_thread_is_named_as_linux_named_the_task(job: Job, tmp_path: Path, kind: str) -> None:
    """The initial thread of a Linux program bears the name Linux gave the task at exec (its comm: the path's last
    component, cut to 15 bytes, a symlink's own name, a script's name).  The host kernel works it out from the path
    instead of reading /proc, so this checks it against what this Linux kernel shows in /proc."""
    path, argv = "/bin/sleep", ["/bin/sleep", "1000"]
    if kind == "argv0 differs":
        argv = ["not-its-name", "1000"]
    elif kind in ("symlink", "long name"):
        link = tmp_path / ("sleep-link" if kind == "symlink" else "a-rather-long-program-name")
        link.symlink_to(path)
        path = str(link)
        argv = [path, "1000"]
    elif kind == "script":
        script = tmp_path / "a-script.sh"
        script.write_text("#!/bin/sh\nsleep 1000\n")
        script.chmod(0o755)
        path = str(script)
        argv = [path]
    before = child_pids()
    with job.spawn(argv, path=path) as proc:
        (pid,) = child_pids() - before  # our child from the moment spawn returns
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            comm = f.read().rstrip("\n")
        (koid,) = proc.threads()
        with proc.child(koid) as thread:
            assert thread.name == comm
        expected = {"path": "sleep", "argv0 differs": "sleep", "symlink": "sleep-link",
                    "long name": "a-rather-long-p", "script": "a-script.sh"}[kind]
        assert comm == expected
        proc.kill()
