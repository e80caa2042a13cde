"""Unit tests of the reference model (tests/zxmodel) against Zircon's rules.

The model is what the stateful test trusts, so it is checked on its own
against Zircon's kernel rules and core tests (the kernel source file or the
core-test name in each docstring).  Pure Python: no zxpy involved.
"""

from __future__ import annotations

from zxmodel import INFO, OBJ, RETCODE_SYSCALL_KILL, RIGHTS, SIG, Kernel
from zxmodel.model import JOB_NO_CHILDREN

TERMINATED = SIG.TASK_TERMINATED
JOB_EMPTY = SIG.JOB_NO_JOBS | SIG.JOB_NO_PROCESSES | JOB_NO_CHILDREN


def ok(result: tuple[str, object]) -> object:
    status, value = result
    assert status == "ZX_OK", status
    return value


def new_job(k: Kernel, parent: int | None = None) -> int:
    return ok(k.job_create(k.h_default_job if parent is None else parent))  # type: ignore[return-value]


def signals(k: Kernel, h: int) -> int:
    status, observed = k.wait_poll(h, 0)
    assert status == "ZX_ERR_TIMED_OUT"
    assert observed is not None
    return observed


def test_runtime_objects() -> None:
    k = Kernel()
    info = ok(k.get_info(k.h_self_process, INFO.HANDLE_BASIC))
    assert info.type == OBJ.PROCESS and info.rights == RIGHTS.DEFAULT_PROCESS_RIGHTS  # type: ignore[attr-defined]
    assert info.related == k.default_job.oid  # type: ignore[attr-defined]
    assert k.handle_counts() == {OBJ.JOB: 1, OBJ.PROCESS: 1, OBJ.THREAD: 1}


def test_kill_checks_rights_before_type() -> None:
    """task.cc: kill(event) is ACCESS_DENIED (no DESTROY), kill(thread) WRONG_TYPE (not the docs' NOT_SUPPORTED)."""
    k = Kernel()
    event = ok(k.event_create())
    assert k.task_kill(event)[0] == "ZX_ERR_ACCESS_DENIED"
    job = new_job(k)
    proc = ok(k.process_create(job))
    thread = ok(k.thread_create(proc))
    assert k.task_kill(thread)[0] == "ZX_ERR_WRONG_TYPE"
    no_destroy = ok(k.handle_duplicate(thread, RIGHTS.DEFAULT_THREAD_RIGHTS & ~RIGHTS.DESTROY))
    assert k.task_kill(no_destroy)[0] == "ZX_ERR_ACCESS_DENIED"
    assert k.task_kill(12345)[0] == "ZX_ERR_BAD_HANDLE"


def test_suspend_errors() -> None:
    """task.cc sys_task_suspend: WRITE first; job WRONG_TYPE; self NOT_SUPPORTED; event ACCESS_DENIED (no WRITE)."""
    k = Kernel()
    job = new_job(k)
    assert k.task_suspend(job)[0] == "ZX_ERR_WRONG_TYPE"
    assert k.task_suspend(k.h_self_thread)[0] == "ZX_ERR_NOT_SUPPORTED"
    assert k.task_suspend(k.h_self_process)[0] == "ZX_ERR_NOT_SUPPORTED"
    assert k.task_suspend(ok(k.event_create()))[0] == "ZX_ERR_ACCESS_DENIED"
    proc = ok(k.process_create(job))
    ro = ok(k.handle_duplicate(proc, RIGHTS.DEFAULT_PROCESS_RIGHTS & ~RIGHTS.WRITE))
    assert k.task_suspend(ro)[0] == "ZX_ERR_ACCESS_DENIED"


def test_token_rights_are_minimal() -> None:
    """rights.h: tokens are TRANSFER|INSPECT: duplicate and wait are ACCESS_DENIED; related koid 0."""
    k = Kernel()
    proc = ok(k.process_create(new_job(k)))
    token = ok(k.task_suspend(proc))
    info = ok(k.get_info(token, INFO.HANDLE_BASIC))
    assert info.rights == RIGHTS.TRANSFER | RIGHTS.INSPECT == 0x8002  # type: ignore[attr-defined]
    assert info.type == OBJ.SUSPEND_TOKEN and info.related == 0  # type: ignore[attr-defined]
    assert k.handle_duplicate(token, RIGHTS.SAME_RIGHTS)[0] == "ZX_ERR_ACCESS_DENIED"
    assert k.wait_poll(token, TERMINATED) == ("ZX_ERR_ACCESS_DENIED", None)


def test_unstarted_process_dies_at_once_when_killed() -> None:
    """process_dispatcher.cc Kill, InfoReflectsProcessState: TERMINATED at once; STARTED|EXITED, -1024, start_time 0."""
    k = Kernel()
    job = new_job(k)
    proc = ok(k.process_create(job))
    info = ok(k.get_info(proc, INFO.PROCESS))
    assert (info.started, info.exited, info.return_code) == (False, False, 0)  # type: ignore[attr-defined]
    ok(k.task_kill(proc))
    assert signals(k, proc) == TERMINATED
    info = ok(k.get_info(proc, INFO.PROCESS))
    assert (info.started, info.exited, info.return_code, info.ran) == (  # type: ignore[attr-defined]
        True, True, RETCODE_SYSCALL_KILL, False)
    assert ok(k.task_kill(proc)) is None  # process_dispatcher.cc: killing a dead task is OK
    assert ok(k.get_info(job, INFO.JOB_PROCESSES)) == []


def test_unstarted_thread_survives_its_process() -> None:
    """process_dispatcher.cc: a NEW thread is not in the list, not killed, and stays NEW; it can still be suspended
    (thread_dispatcher.cc Suspend)."""
    k = Kernel()
    proc = ok(k.process_create(new_job(k)))
    thread = ok(k.thread_create(proc))
    assert ok(k.get_info(proc, INFO.PROCESS_THREADS)) == []
    assert signals(k, thread) == 0
    ok(k.task_kill(proc))
    assert ok(k.get_info(thread, INFO.THREAD)).state == "NEW"  # type: ignore[attr-defined]
    assert k.task_suspend(thread)[0] == "ZX_OK"
    late = ok(k.thread_create(proc))  # sys_thread_create does not look at the process's state
    assert ok(k.get_info(late, INFO.THREAD)).state == "NEW"  # type: ignore[attr-defined]
    assert k.thread_start(thread)[0] == "ZX_ERR_BAD_STATE"
    assert k.thread_start(late)[0] == "ZX_ERR_BAD_STATE"


def test_job_kill_tree() -> None:
    """KillTest, KillJobChain, KillJobRemovesFromTree: codes, signals, removal, BAD_STATE for new children."""
    k = Kernel()
    top = new_job(k)
    child = new_job(k, top)
    grandchild = new_job(k, child)
    proc = ok(k.process_create(child))
    ok(k.task_kill(top))
    for h in (top, child, grandchild):
        assert signals(k, h) == TERMINATED | JOB_EMPTY
        assert ok(k.get_info(h, INFO.JOB)).return_code == RETCODE_SYSCALL_KILL  # type: ignore[attr-defined]
    assert signals(k, proc) == TERMINATED
    assert ok(k.get_info(proc, INFO.PROCESS)).return_code == RETCODE_SYSCALL_KILL  # type: ignore[attr-defined]
    assert ok(k.get_info(k.h_default_job, INFO.JOB_CHILDREN)) == []
    assert k.job_create(child)[0] == "ZX_ERR_BAD_STATE"
    assert k.process_create(top)[0] == "ZX_ERR_BAD_STATE"
    assert k.spawn(top)[0] == "ZX_ERR_BAD_STATE"


def test_job_signals_follow_children() -> None:
    """JobSignals: a new job has NO_* all; a process leaves NO_JOBS; a job clears all; closing restores."""
    k = Kernel()
    job = new_job(k)
    assert signals(k, job) == JOB_EMPTY
    proc = ok(k.process_create(job))
    assert signals(k, job) == SIG.JOB_NO_JOBS
    sub = new_job(k, job)
    assert signals(k, job) == 0
    ok(k.handle_close(proc))  # the last handle of an unstarted process kills it
    assert signals(k, job) == SIG.JOB_NO_PROCESSES
    ok(k.handle_close(sub))  # a childless job without handles leaves the tree
    assert signals(k, job) == JOB_EMPTY
    assert ok(k.get_info(job, INFO.JOB_CHILDREN)) == []


def test_handleless_job_with_children_stays() -> None:
    """job_dispatcher.cc: a job with live children stays alive without handles; closing handles never kills a job."""
    k = Kernel()
    top = new_job(k)
    mid = new_job(k, top)
    proc = ok(k.process_create(mid))
    mid_oid = k.obj(mid).oid
    ok(k.handle_close(mid))
    assert ok(k.get_info(top, INFO.JOB_CHILDREN)) == [mid_oid]
    again = ok(k.get_child(top, mid_oid, RIGHTS.SAME_RIGHTS))
    assert ok(k.get_info(again, INFO.JOB)).exited is False  # type: ignore[attr-defined]
    ok(k.handle_close(again))
    ok(k.handle_close(proc))  # its last child goes: now it has neither handles nor children
    assert ok(k.get_info(top, INFO.JOB_CHILDREN)) == []


def test_duplicate_and_replace_rules() -> None:
    """handle_ops.cc, handle-info DuplicateRights/ReplaceRights, handle-dup ReplaceFailureBothInvalid."""
    k = Kernel()
    event = ok(k.event_create())
    wait_only = ok(k.handle_duplicate(event, RIGHTS.WAIT))
    assert k.handle_duplicate(wait_only, RIGHTS.WAIT)[0] == "ZX_ERR_ACCESS_DENIED"
    assert k.handle_duplicate(event, RIGHTS.EXECUTE | RIGHTS.WAIT)[0] == "ZX_ERR_INVALID_ARGS"
    assert k.handle_duplicate(event, RIGHTS.SAME_RIGHTS | RIGHTS.WAIT)[0] == "ZX_ERR_INVALID_ARGS"
    assert k.handle_duplicate(event, RIGHTS.NONE)[0] == "ZX_OK"
    assert k.handle_replace(wait_only, RIGHTS.WAIT | RIGHTS.DUPLICATE) == ("ZX_ERR_INVALID_ARGS", None)
    assert k.get_info(wait_only, INFO.HANDLE_VALID)[0] == "ZX_ERR_BAD_HANDLE"
    assert k.handle_close(0)[0] == "ZX_OK"
    assert k.handle_close(wait_only)[0] == "ZX_ERR_BAD_HANDLE"


def test_failed_replace_of_last_token_resumes() -> None:
    """handle_ops.cc, suspend_token_dispatcher.cc: a failed replace of the last token handle resumes the task; a
    good one keeps it."""
    k = Kernel()
    proc = ok(k.spawn(new_job(k)))
    tid = ok(k.get_info(proc, INFO.PROCESS_THREADS))[0]  # type: ignore[index]
    thread = ok(k.get_child(proc, tid, RIGHTS.SAME_RIGHTS))
    token = ok(k.task_suspend(proc))
    assert signals(k, thread) == SIG.THREAD_SUSPENDED
    token = ok(k.handle_replace(token, RIGHTS.INSPECT))
    assert signals(k, thread) == SIG.THREAD_SUSPENDED
    assert k.handle_replace(token, RIGHTS.WRITE)[0] == "ZX_ERR_INVALID_ARGS"
    assert signals(k, thread) == SIG.THREAD_RUNNING


def test_thread_and_process_tokens_add_up() -> None:
    """process_dispatcher.cc; process.cc SuspendProcessThenThread / SuspendThreadThenProcess / SuspendTwice."""
    k = Kernel()
    proc = ok(k.spawn(new_job(k)))
    tid = ok(k.get_info(proc, INFO.PROCESS_THREADS))[0]  # type: ignore[index]
    thread = ok(k.get_child(proc, tid, RIGHTS.SAME_RIGHTS))
    p1, p2, t1 = ok(k.task_suspend(proc)), ok(k.task_suspend(proc)), ok(k.task_suspend(thread))
    ok(k.handle_close(p1))
    ok(k.handle_close(p2))
    assert ok(k.get_info(thread, INFO.THREAD)).state == "SUSPENDED"  # type: ignore[attr-defined]
    ok(k.handle_close(t1))
    assert ok(k.get_info(thread, INFO.THREAD)).state == "RUNNING"  # type: ignore[attr-defined]


def test_kill_suspended_program_and_close_token_after() -> None:
    """KillSuspendedThread (thread.cc, suspend_token_dispatcher.cc): the suspended thread dies; closing the token
    afterwards is OK."""
    k = Kernel()
    job = new_job(k)
    proc = ok(k.spawn(job))
    token = ok(k.task_suspend(proc))
    ok(k.task_kill(job))
    assert signals(k, proc) == TERMINATED
    assert ok(k.get_info(proc, INFO.PROCESS_THREADS)) == []
    assert k.task_suspend(proc)[0] == "ZX_ERR_BAD_STATE"  # SuspendAfterDeath
    assert ok(k.handle_close(token)) is None
    assert k.handle_counts()[OBJ.PROCESS] == 2  # the runtime's and ours


def test_get_child_rules() -> None:
    """object.cc, object-child: ENUMERATE needed; rights beyond the parent's ACCESS_DENIED; unknown NOT_FOUND."""
    k = Kernel()
    job = new_job(k)
    proc = ok(k.process_create(job))
    pid = k.obj(proc).oid
    assert k.get_child(job, pid, RIGHTS.SAME_RIGHTS)[0] == "ZX_OK"
    info = ok(k.get_info(ok(k.get_child(job, pid, RIGHTS.SAME_RIGHTS)), INFO.HANDLE_BASIC))
    assert info.rights == RIGHTS.DEFAULT_JOB_RIGHTS  # type: ignore[attr-defined]  # the parent's rights
    assert k.get_child(job, 999999, RIGHTS.SAME_RIGHTS)[0] == "ZX_ERR_NOT_FOUND"
    narrow = ok(k.handle_duplicate(job, RIGHTS.ENUMERATE | RIGHTS.INSPECT))
    assert k.get_child(narrow, pid, RIGHTS.WAIT)[0] == "ZX_ERR_ACCESS_DENIED"
    assert k.get_child(ok(k.event_create()), pid, RIGHTS.SAME_RIGHTS)[0] == "ZX_ERR_ACCESS_DENIED"
    thread = ok(k.thread_create(proc))
    assert k.get_child(proc, k.obj(thread).oid, RIGHTS.SAME_RIGHTS)[0] == "ZX_ERR_NOT_FOUND"  # not in the thread list


def test_typed_info_checks_type_first() -> None:
    """object.cc: typed topics are WRONG_TYPE before ACCESS_DENIED; unknown topics NOT_SUPPORTED before lookup."""
    k = Kernel()
    event = ok(k.event_create())
    bare = ok(k.handle_duplicate(event, RIGHTS.NONE))
    assert k.get_info(bare, INFO.THREAD)[0] == "ZX_ERR_WRONG_TYPE"
    job = new_job(k)
    no_inspect = ok(k.handle_duplicate(job, RIGHTS.DEFAULT_JOB_RIGHTS & ~RIGHTS.INSPECT))
    assert k.get_info(no_inspect, INFO.JOB)[0] == "ZX_ERR_ACCESS_DENIED"
    assert k.get_info(no_inspect, INFO.PROCESS)[0] == "ZX_ERR_WRONG_TYPE"
    assert k.get_info(999999, 0x7777)[0] == "ZX_ERR_NOT_SUPPORTED"


def test_max_height() -> None:
    """MaxHeightSmoke: nesting ends in OUT_OF_RANGE; a process can still be created at the bottom."""
    k = Kernel()
    job = k.h_default_job
    depth = 0
    while True:
        status, child = k.job_create(job)
        if status != "ZX_OK":
            break
        job, depth = child, depth + 1
    assert status == "ZX_ERR_OUT_OF_RANGE" and depth == 32
    assert k.process_create(job)[0] == "ZX_OK"


def test_backed_thread_start_suspend_stop() -> None:
    """StartSuspendedThread (thread_dispatcher.cc MakeRunnable) and a stop request honoured only once the thread may
    run."""
    k = Kernel()
    thread = ok(k.thread_create(k.h_self_process))
    token = ok(k.task_suspend(thread))
    ok(k.thread_start(thread))
    assert signals(k, thread) == SIG.THREAD_SUSPENDED
    k.request_stop(k.obj(thread))  # type: ignore[arg-type]
    assert signals(k, thread) == SIG.THREAD_SUSPENDED
    ok(k.handle_close(token))
    assert signals(k, thread) == TERMINATED
    assert k.thread_start(thread)[0] == "ZX_ERR_BAD_STATE"


def test_plain_process_threads_cannot_run_on_the_host() -> None:
    """Host limitation: a zx_process_create process has no address space to run code in."""
    k = Kernel()
    thread = ok(k.thread_create(ok(k.process_create(new_job(k)))))
    assert k.thread_start(thread)[0] == "ZX_ERR_NOT_SUPPORTED"


def test_object_signal() -> None:
    """zx_object_signal: SIGNAL right; only user signals (and an event's SIGNALED)."""
    k = Kernel()
    event = ok(k.event_create())
    ok(k.object_signal(event, 0, SIG.EVENT_SIGNALED | SIG.USER_SIGNAL_3))
    assert k.wait_poll(event, SIG.EVENT_SIGNALED) == ("ZX_OK", SIG.EVENT_SIGNALED | SIG.USER_SIGNAL_3)
    job = new_job(k)
    assert k.object_signal(job, 0, SIG.TASK_TERMINATED)[0] == "ZX_ERR_INVALID_ARGS"
    ok(k.object_signal(job, 0, SIG.USER_SIGNAL_0))
    assert signals(k, job) == JOB_EMPTY | SIG.USER_SIGNAL_0
    token = ok(k.task_suspend(ok(k.process_create(job))))
    assert k.object_signal(token, 0, SIG.USER_SIGNAL_0)[0] == "ZX_ERR_ACCESS_DENIED"
