"""Jobs: tree, info, kill rules, children, get_child, typed-topic rules."""

from __future__ import annotations

import os
import sys

import pytest

import zxpy
from zxpy import (
    AccessDeniedError,
    BadHandleError,
    BadStateError,
    Event,
    InvalidArgsError,
    Job,
    NotFoundError,
    OutOfRangeError,
    Process,
    Rights,
    Signals,
    Task,
    Thread,
    WrongTypeError,
)

KILL = zxpy.TASK_RETCODE_SYSCALL_KILL
ALL_JOB_SIGNALS = Signals.JOB_TERMINATED | Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES


def test_default_job_is_borrowed_and_alive() -> None:
    job = Job.default()
    assert not job.owned
    info = job.info()
    assert (info.exited, info.return_code) == (False, 0)
    assert Process.self().koid in job.processes()


def test_new_job_info_and_children(job: Job) -> None:
    info = job.info()
    assert info == zxpy.JobInfo(return_code=0, exited=False, kill_on_oom=False, debugger_attached=False)
    assert job.koid in Job.default().children()
    assert job.children() == [] and job.processes() == []
    with job.create_job() as child, job.create_process("p") as proc:
        assert job.children() == [child.koid]
        assert job.processes() == [proc.koid]
        assert child.basic_info().related_koid == job.koid


def test_new_job_signals(job: Job) -> None:
    observed = job.wait_one(Signals.JOB_NO_JOBS, timeout=0)
    assert observed & (Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES) == (
        Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES)
    with job.create_process("p"):
        observed = job.wait_one(Signals.JOB_NO_JOBS, timeout=0)
        assert observed & Signals.JOB_NO_JOBS
        assert not observed & Signals.JOB_NO_PROCESSES
        with job.create_job():
            with pytest.raises(zxpy.TimedOutError) as info:
                job.wait_one(Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES, timeout=0)
            assert not info.value.observed & (Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES)
    # Closing the only handles of the unstarted process and the childless job
    # removes them: the signals come back.
    observed = job.wait_one(Signals.JOB_NO_PROCESSES, timeout=0)
    assert observed & (Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES) == (
        Signals.JOB_NO_JOBS | Signals.JOB_NO_PROCESSES)


def test_kill_empty_job_is_synchronous(job: Job) -> None:
    job.kill()
    # An empty job dies inside the kill call: TERMINATED already asserted.
    observed = job.wait_terminated(timeout=0)
    assert observed & ALL_JOB_SIGNALS == ALL_JOB_SIGNALS
    info = job.info()
    assert info.exited and info.return_code == KILL
    assert job.terminated


def test_killed_job_refuses_children(job: Job) -> None:
    job.kill()
    with pytest.raises(BadStateError) as info:
        job.create_job()
    assert info.value.syscall == "zx_job_create"
    assert info.value.koid == job.koid
    with pytest.raises(BadStateError) as info:
        job.create_process("late")
    assert info.value.syscall == "zx_process_create"


def test_kill_twice_is_ok_and_keeps_the_first_code(job: Job) -> None:
    job.kill()
    job.kill()
    assert job.info().return_code == KILL


def test_kill_is_recursive(job: Job) -> None:
    child = job.create_job()
    grandchild = child.create_job()
    p1 = child.create_process("p1")
    p2 = grandchild.create_process("p2")
    handles: list[Task] = [grandchild, child, p1, p2]
    try:
        job.kill()
        for task in handles:
            task.wait_terminated(timeout=30)
        for j in (job, child, grandchild):
            assert j.info().exited and j.info().return_code == KILL
        for p in (p1, p2):
            info = p.info()
            assert info.exited and info.return_code == KILL
        # Dead jobs leave their parent's child list though handles remain.
        assert job.children() == []
        assert child.children() == []
        assert child.processes() == []
        with pytest.raises(BadStateError):
            grandchild.create_process("late")
    finally:
        for h in handles:
            h.close()



def _children_of_this_process() -> set[int]:
    """Pids of this process's children (of every thread: the monitor thread is the spawned programs' parent)."""
    kids: set[int] = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as f:
                kids.update(int(pid) for pid in f.read().split())
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return kids


# A program whose main thread makes threads (traced with exit stops, unlike a one-thread program).
THREADED_SLEEPER = (
    "import threading, time\n"
    "for _ in range(3):\n"
    "    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()\n"
    "time.sleep(1000)\n"
)


@pytest.mark.skipif(not os.path.exists(f"/proc/self/task/{os.getpid()}/children"), reason="no /proc/.../children")
def test_kill_of_many_programs_reaps_each_before_terminated(job: Job) -> None:
    """job.kill() of many running programs: the job is TERMINATED only after every process (JobDispatcher's dead
    transition waits for its last child), each process only once its Linux process is reaped (not even a zombie
    is left), every return code is ZX_TASK_RETCODE_SYSCALL_KILL, and nothing else was killed."""
    bystander = Job.default().create_job()
    before = _children_of_this_process()
    other = bystander.spawn(["/bin/sleep", "1000"])
    try:
        procs = [job.spawn(["/bin/sleep", "1000"]) for _ in range(40)]
        procs += [job.spawn([sys.executable, "-c", THREADED_SLEEPER]) for _ in range(4)]
        pids = _children_of_this_process() - before
        assert len(pids) == 45
        job.kill()
        job.wait_one(Signals.JOB_TERMINATED, timeout=60)
        for p in procs:  # asserted before the job's: no waiting here
            assert p.terminated
            assert p.info().return_code == KILL
        alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
        assert len(alive) == 1, alive  # the bystander only: the killed ones are reaped, no zombie left
        assert not other.terminated
        for p in procs:
            p.close()
    finally:
        bystander.kill()
        bystander.wait_terminated(timeout=60)
        other.close()
        bystander.close()


def test_kill_of_a_dead_process_is_ok(job: Job) -> None:
    with job.create_process("p") as proc:
        proc.kill()
        proc.wait_terminated(timeout=0)
        proc.kill()
        assert proc.info().return_code == KILL


# ---------------------------------------------------------------- kill rights and types


def test_kill_needs_destroy(job: Job) -> None:
    with job.duplicate(zxpy.DEFAULT_JOB_RIGHTS & ~Rights.DESTROY) as weak:
        with pytest.raises(AccessDeniedError) as info:
            weak.kill()
        assert info.value.syscall == "zx_task_kill"
    assert not job.info().exited


def test_kill_checks_rights_before_type() -> None:
    with Event.create() as event:
        # An event has no DESTROY: ACCESS_DENIED, not WRONG_TYPE.
        with pytest.raises(AccessDeniedError):
            Task(event.raw, owned=False).kill()
        # With every right it has, still not DESTROY.
        assert not event.basic_info().rights & Rights.DESTROY


def test_kill_thread_is_wrong_type(job: Job) -> None:
    with job.create_process("p") as proc, proc.create_thread("t") as thread:
        with pytest.raises(WrongTypeError) as info:
            thread.kill()
        assert info.value.syscall == "zx_task_kill"
        assert info.value.koid == thread.koid
        # Without DESTROY the rights check comes first.
        with thread.duplicate(zxpy.DEFAULT_THREAD_RIGHTS & ~Rights.DESTROY) as weak:
            with pytest.raises(AccessDeniedError):
                weak.kill()
    with pytest.raises(WrongTypeError):
        Thread.self().kill()


def test_kill_bad_handle() -> None:
    with pytest.raises(BadHandleError):
        Task(zxpy.HANDLE_INVALID, owned=False).kill()


# ---------------------------------------------------------------- creation rules


def test_create_job_needs_manage_job(job: Job) -> None:
    with job.duplicate(zxpy.DEFAULT_JOB_RIGHTS & ~(Rights.MANAGE_JOB | Rights.WRITE)) as weak:
        with pytest.raises(AccessDeniedError):
            weak.create_job()


def test_create_process_needs_manage_process(job: Job) -> None:
    with job.duplicate(zxpy.DEFAULT_JOB_RIGHTS & ~(Rights.MANAGE_PROCESS | Rights.WRITE)) as weak:
        with pytest.raises(AccessDeniedError):
            weak.create_process("p")


def test_create_on_wrong_type_is_wrong_type(job: Job) -> None:
    with job.create_process("p") as proc:
        as_job = Job(proc.raw, owned=False)
        with pytest.raises(WrongTypeError):
            as_job.create_job()
        with pytest.raises(WrongTypeError):
            as_job.create_process("x")


def test_create_job_options_must_be_zero(job: Job) -> None:
    with pytest.raises(InvalidArgsError):
        job.create_job(options=1)


def test_create_argument_validation(job: Job) -> None:
    with pytest.raises(ValueError):
        job.create_process("a\0b")
    with pytest.raises(TypeError):
        job.create_process(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        job.create_job(options=-1)
    with pytest.raises(TypeError):
        job.create_job(options=False)
    assert job.processes() == [] and job.children() == []


def test_job_height_limit(job: Job) -> None:
    chain: list[Job] = []
    try:
        parent = job
        with pytest.raises(OutOfRangeError):
            for _ in range(128):
                parent = parent.create_job()
                chain.append(parent)
        assert 0 < len(chain) < 128
        # A process can still be created at the bottom.
        with chain[-1].create_process("deep") as proc:
            assert proc.basic_info().related_koid == chain[-1].koid
    finally:
        for j in reversed(chain):
            j.close()


def test_closing_childless_job_removes_it_from_the_tree(job: Job) -> None:
    child = job.create_job()
    koid = child.koid
    assert job.children() == [koid]
    child.close()
    assert job.children() == []


# ---------------------------------------------------------------- get_child


def test_child_by_koid(job: Job) -> None:
    with job.create_job() as sub, job.create_process("p") as proc:
        with job.child(sub.koid) as got:
            assert type(got) is Job and got.koid == sub.koid
            # SAME_RIGHTS: the child gets the *parent handle's* rights.
            assert got.basic_info().rights == job.basic_info().rights
        with job.child(proc.koid, Rights.BASIC) as got_p:
            assert type(got_p) is Process and got_p.koid == proc.koid
            assert got_p.basic_info().rights == Rights.BASIC


def test_child_rights_beyond_parent_are_access_denied(job: Job) -> None:
    with job.create_process("p") as proc, job.duplicate(Rights.BASIC | Rights.ENUMERATE) as weak:
        with pytest.raises(AccessDeniedError) as info:
            weak.child(proc.koid, Rights.BASIC | Rights.DESTROY)
        assert info.value.syscall == "zx_object_get_child"


def test_child_needs_enumerate(job: Job) -> None:
    with job.create_process("p") as proc, job.duplicate(Rights.BASIC) as weak:
        with pytest.raises(AccessDeniedError):
            weak.child(proc.koid)


def test_child_unknown_koid_is_not_found(job: Job) -> None:
    with pytest.raises(NotFoundError) as info:
        job.child(Process.self().koid)  # not a child of this job
    assert isinstance(info.value, LookupError)
    with pytest.raises(NotFoundError):
        job.child(zxpy.KOID_INVALID)


def test_child_of_event_is_access_denied() -> None:
    with Event.create() as event:
        with pytest.raises(AccessDeniedError):
            Job(event.raw, owned=False).child(1)


def test_child_bad_handle() -> None:
    with pytest.raises(BadHandleError):
        Job(zxpy.HANDLE_INVALID, owned=False).child(1)


def test_child_argument_validation(job: Job) -> None:
    with pytest.raises(ValueError):
        job.child(-1)
    with pytest.raises(ValueError):
        job.child(2**64)
    with pytest.raises(TypeError):
        job.child("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        job.child(True)


# ---------------------------------------------------------------- info topics


def test_info_is_read_fresh(job: Job) -> None:
    before = job.info()
    job.kill()
    after = job.info()
    assert not before.exited and after.exited
    assert before.return_code == 0 and after.return_code == KILL


def test_typed_topics_check_type_before_rights(job: Job) -> None:
    with job.create_process("p") as proc, proc.duplicate(Rights.NONE) as bare:
        # Wrong type wins over missing rights for typed topics.
        with pytest.raises(WrongTypeError):
            Job(bare.raw, owned=False).info()
        with pytest.raises(WrongTypeError):
            Job(bare.raw, owned=False).children()
        with pytest.raises(WrongTypeError):
            Job(bare.raw, owned=False).processes()
        with pytest.raises(AccessDeniedError):
            bare.info()


def test_info_needs_inspect_and_enumerate(job: Job) -> None:
    with job.duplicate(zxpy.DEFAULT_JOB_RIGHTS & ~Rights.INSPECT) as no_inspect:
        with pytest.raises(AccessDeniedError):
            no_inspect.info()
    with job.duplicate(zxpy.DEFAULT_JOB_RIGHTS & ~Rights.ENUMERATE) as no_enum:
        with pytest.raises(AccessDeniedError):
            no_enum.children()
        with pytest.raises(AccessDeniedError):
            no_enum.processes()


def test_basic_info_needs_no_rights(job: Job) -> None:
    with job.duplicate(Rights.NONE) as bare:
        info = bare.basic_info()
        assert info.koid == job.koid and info.rights == Rights.NONE


def test_job_info_on_a_thread_is_wrong_type() -> None:
    with pytest.raises(WrongTypeError):
        Job(Thread.self().raw, owned=False).info()


def test_child_finds_direct_children_only(job: Job) -> None:
    with job.create_job() as sub, sub.create_process("grandchild") as proc:
        with pytest.raises(NotFoundError):
            job.child(proc.koid)
        with sub.child(proc.koid) as found:
            assert found.koid == proc.koid


def test_child_same_rights_can_give_unusual_rights_and_wrong_type() -> None:
    """SAME_RIGHTS copies the parent's rights onto the child (here ENUMERATE
    onto a thread); get_child on that thread handle is then WRONG_TYPE."""
    me = Process.self()
    with me.child(Thread.self().koid) as thread:
        assert thread.basic_info().rights == me.basic_info().rights
        assert thread.basic_info().rights & Rights.ENUMERATE
        with pytest.raises(WrongTypeError) as info:
            Job(thread.raw, owned=False).child(me.koid)
        assert info.value.syscall == "zx_object_get_child"
