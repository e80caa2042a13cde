/* Job scenarios: zircon/system/utest/core/job/jobs.cc (scenarios 44-54 of the suite's numbering; 52 with
 * zx_job_set_critical) and the job rules of zircon/kernel/object/job_dispatcher.cc (Kill, UpdateSignalsLocked). */
#include "harness.h"
#include "scenarios.h"

#define JOB_ALL_NO (ZX_JOB_NO_PROCESSES | ZX_JOB_NO_JOBS | T_JOB_NO_CHILDREN)
#define JOB_MASK (ZX_JOB_TERMINATED | JOB_ALL_NO)

/* 44. BasicTest: a child job is not exited, return code 0; zx_job_create on an invalid handle is BAD_HANDLE. */
void s44_job_basic(void) {
    zx_handle_t child = t_job();
    zx_handle_t grandchild = t_child_job(child);
    zx_info_job_t info = t_job_info(child);
    T_EQ(0, info.exited);
    T_EQ(0, info.return_code);
    zx_info_handle_basic_t basic = t_basic(grandchild);
    T_EQ(ZX_OBJ_TYPE_JOB, basic.type);
    T_EQ(ZX_DEFAULT_JOB_RIGHTS, basic.rights);
    T_EQ(t_koid(child), basic.related_koid);
    zx_handle_t bad = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_job_create(ZX_HANDLE_INVALID, 0, &bad));
    T_EQ(ZX_HANDLE_INVALID, bad);
}

/* 45. JobSignals: NO_PROCESSES/NO_JOBS/NO_CHILDREN follow the job's children. */
void s45_job_signals(void) {
    zx_handle_t job = t_job();
    T_EQ(JOB_ALL_NO, t_signals(job) & JOB_MASK);
    zx_handle_t vmar = ZX_HANDLE_INVALID;
    zx_handle_t proc = t_created_process(job, &vmar);
    T_EQ(ZX_JOB_NO_JOBS, t_signals(job) & JOB_MASK);
    zx_handle_t child = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(job, 0, &child));
    t_own(child);
    T_EQ(0, t_signals(job) & JOB_MASK);
    /* An unstarted process dies with its last handle. */
    t_close(vmar);
    t_close(proc);
    T_EQ(ZX_JOB_NO_PROCESSES, t_signals(job) & JOB_MASK);
    /* A childless job goes with its last handle. */
    t_close(child);
    T_EQ(JOB_ALL_NO, t_signals(job) & JOB_MASK);
}

/* 46. CreateMissingRightsTest: a job handle without WRITE and MANAGE_JOB cannot create jobs. */
void s46_job_create_missing_rights(void) {
    zx_handle_t job = t_job();
    zx_handle_t weak = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~(ZX_RIGHT_WRITE | ZX_RIGHT_MANAGE_JOB));
    zx_handle_t child = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_job_create(weak, 0, &child));
    T_EQ(ZX_HANDLE_INVALID, child);
}

/* 47. KillTest: killing a job with a grandchild job and a running process ends both with SYSCALL_KILL, and the
 * killed job refuses new children (BAD_STATE). */
void s47_job_kill(void) {
    zx_handle_t job = t_job();
    zx_handle_t grandchild = t_child_job(job);
    const char *args[] = {"block", NULL};
    zx_handle_t proc = t_spawn(job, args);
    T_OK(zx_task_kill(job));
    zx_signals_t observed = t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_PROCESS_TERMINATED, observed);
    observed = t_wait(job, ZX_JOB_TERMINATED);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed & JOB_MASK);
    zx_info_job_t info = t_job_info(job);
    T_TRUE(info.exited);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
    info = t_job_info(grandchild);
    T_TRUE(info.exited);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
    t_process_info_t pinfo = t_process_info(proc);
    T_TRUE(pinfo.flags & T_INFO_PROCESS_FLAG_EXITED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, pinfo.return_code);

    zx_handle_t h = ZX_HANDLE_INVALID, vmar = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_job_create(job, 0, &h));
    T_STATUS(ZX_ERR_BAD_STATE, zx_process_create(job, "late", 4, 0, &h, &vmar));
    T_EQ(ZX_HANDLE_INVALID, h);
    T_EQ(ZX_HANDLE_INVALID, vmar);
    const char *more[] = {"exit", "0", NULL};
    zx_handle_t late = ZX_HANDLE_INVALID;
    const char *argv[] = {t_helper_path("conformance_helper"), more[0], more[1], NULL};
    T_TRUE(fdio_spawn(job, FDIO_SPAWN_CLONE_ALL, argv[0], argv, &late) != ZX_OK);
    T_EQ(ZX_HANDLE_INVALID, late);
}

/* 48. KillJobNoChildTest: an empty job dies inside the kill call and refuses new children. */
void s48_kill_empty_job(void) {
    zx_handle_t job = t_job();
    T_OK(zx_task_kill(job));
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, t_signals(job) & JOB_MASK);
    zx_handle_t h = ZX_HANDLE_INVALID, vmar = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_job_create(job, 0, &h));
    T_STATUS(ZX_ERR_BAD_STATE, zx_process_create(job, "late", 4, 0, &h, &vmar));
    /* Killing a dead job is OK and keeps its code. */
    T_OK(zx_task_kill(job));
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_job_info(job).return_code);
}

/* 49. KillJobRemovesFromTree: a killed job leaves its parent's JOB_CHILDREN though a handle to it is open. */
void s49_kill_job_removes_from_tree(void) {
    zx_handle_t parent = t_job();
    zx_handle_t child = t_child_job(parent);
    zx_koid_t koids[4];
    T_EQ(1, t_koids(parent, ZX_INFO_JOB_CHILDREN, koids, 4));
    T_EQ(t_koid(child), koids[0]);
    T_OK(zx_task_kill(child));
    t_wait(child, ZX_JOB_TERMINATED);
    size_t actual = 1, avail = 1;
    T_OK(zx_object_get_info(parent, ZX_INFO_JOB_CHILDREN, koids, sizeof koids, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(0, avail);
}

/* 50. CloseJobRemovesFromTree: closing the only handle of a childless job removes it from its parent. */
void s50_close_job_removes_from_tree(void) {
    zx_handle_t parent = t_job();
    zx_handle_t child = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(parent, 0, &child));
    t_own(child);
    zx_koid_t koids[4];
    T_EQ(1, t_koids(parent, ZX_INFO_JOB_CHILDREN, koids, 4));
    t_close(child);
    T_EQ(0, t_koids(parent, ZX_INFO_JOB_CHILDREN, koids, 4));
}

/* 51. KillJobChain: five nested jobs each running a process; once the top job asserts TERMINATED every job in
 * the chain is already dead (death goes bottom-up). */
void s51_kill_job_chain(void) {
    zx_handle_t jobs[5];
    jobs[0] = t_job();
    for (int i = 1; i < 5; i++)
        jobs[i] = t_child_job(jobs[i - 1]);
    const char *args[] = {"block", NULL};
    zx_handle_t procs[5];
    for (int i = 0; i < 5; i++)
        procs[i] = t_spawn(jobs[i], args);
    T_OK(zx_task_kill(jobs[0]));
    t_wait(jobs[0], ZX_JOB_TERMINATED);
    for (int i = 0; i < 5; i++) {
        T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, t_signals(jobs[i]) & JOB_MASK);
        T_TRUE(t_signals(procs[i]) & ZX_PROCESS_TERMINATED);
        zx_info_job_t info = t_job_info(jobs[i]);
        T_TRUE(info.exited);
        T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
        T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(procs[i]).return_code);
    }
}

/* 52, OneCriticalProcessKillsOneJob: the critical process's death kills its job with CRITICAL_PROCESS_KILL; the
 * process itself keeps the code it died with.  CriticalProcessAlreadySet: a second call is ALREADY_BOUND. */
static void critical_kills_one_job(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t proc = t_spawn(job, args);
    T_OK(zx_job_set_critical(job, 0, proc));
    T_STATUS(ZX_ERR_ALREADY_BOUND, zx_job_set_critical(job, 0, proc));
    T_STATUS(ZX_ERR_ALREADY_BOUND, zx_job_set_critical(job, ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO, proc));
    T_EQ(0, t_job_info(job).exited);
    T_OK(zx_task_kill(proc));
    zx_signals_t observed = t_wait(job, ZX_JOB_TERMINATED);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed & JOB_MASK);
    zx_info_job_t info = t_job_info(job);
    T_TRUE(info.exited);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, info.return_code);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
}

/* 52, ManyCriticalProcessesKillOneJob: the first critical process to die kills the job, and the job's other
 * processes die with the job's code. */
static void critical_many_kill_one_job(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t p1 = t_spawn(job, args);
    zx_handle_t p2 = t_spawn(job, args);
    T_OK(zx_job_set_critical(job, 0, p1));
    T_OK(zx_job_set_critical(job, 0, p2));
    T_OK(zx_task_kill(p1));
    zx_signals_t observed = t_wait(job, ZX_JOB_TERMINATED);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed & JOB_MASK);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(job).return_code);
    T_TRUE(t_signals(p2) & ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_process_info(p2).return_code);
}

/* 52, OneCriticalProcessKillsJobTree + CriticalProcessNotInAncestor: a process may be critical to its job's
 * ancestor (whose whole tree then dies), never to a job that is not its job or an ancestor (INVALID_ARGS). */
static void critical_kills_job_tree(void) {
    zx_handle_t job1 = t_job();
    zx_handle_t job2 = t_child_job(job1);
    zx_handle_t job3 = t_child_job(job2);
    zx_handle_t other = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t p1 = t_spawn(job1, args);
    zx_handle_t p2 = t_spawn(job2, args);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(job2, 0, p1)); /* a child of the process's job */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(job3, 0, p2)); /* a grandchild */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(other, 0, p2)); /* another branch */
    /* The refused calls bound nothing: p1 can still be made critical (to its own job). */
    T_OK(zx_job_set_critical(job1, 0, p1));
    T_OK(zx_job_set_critical(job1, 0, p2));
    T_OK(zx_task_kill(p2));
    zx_signals_t observed1 = t_wait(job1, ZX_JOB_TERMINATED);
    zx_signals_t observed2 = t_wait(job2, ZX_JOB_TERMINATED);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed1 & JOB_MASK);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed2 & JOB_MASK);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(job1).return_code);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(job2).return_code);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(job3).return_code);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_process_info(p1).return_code);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(p2).return_code);
    /* The job of the failed call outside the tree is untouched. */
    T_EQ(0, t_job_info(other).exited);
}

/* 52, CriticalProcessNotInAncestor: after the refused call, the process's death leaves the named job alone. */
static void critical_not_in_ancestor(void) {
    zx_handle_t job = t_job();
    zx_handle_t other = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t proc = t_spawn(other, args);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(job, 0, proc));
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    t_wait(other, ZX_JOB_NO_PROCESSES);
    T_EQ(0, t_job_info(job).exited);
    T_EQ(0, t_job_info(other).exited);
    T_EQ(JOB_ALL_NO, t_signals(job) & JOB_MASK);
}

/* 52, OneCriticalProcessKillsOneJobIfRetcodeNonzero: with RETCODE_NONZERO a process ending with code 0 spares the
 * job; without it any death kills.  Deterministic deaths: an unstarted process dies with code 0 when its last
 * handle closes (on_zero_handles), and a kill ends a process with SYSCALL_KILL, which is not 0. */
static void critical_retcode_nonzero(void) {
    zx_handle_t vmar = ZX_HANDLE_INVALID;
    zx_handle_t spared = t_job();
    zx_handle_t proc = t_created_process(spared, &vmar);
    T_OK(zx_job_set_critical(spared, ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO, proc));
    t_close(vmar);
    t_close(proc);
    T_EQ(JOB_ALL_NO, t_signals(spared) & JOB_MASK);
    T_EQ(0, t_job_info(spared).exited);

    zx_handle_t killed = t_job();
    proc = t_created_process(killed, &vmar);
    T_OK(zx_job_set_critical(killed, 0, proc));
    t_close(vmar);
    t_close(proc);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, t_signals(killed) & JOB_MASK);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(killed).return_code);

    /* A real program's clean exit (the core test's MINIP_CMD_EXIT_NORMAL).  Were it to end before the call, the
     * call would still succeed and nothing would fire: the check could only be weaker, never flaky. */
    zx_handle_t job = t_job();
    const char *sleep_args[] = {"sleep", "500", NULL};
    zx_handle_t clean = t_spawn(job, sleep_args);
    T_OK(zx_job_set_critical(job, ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO, clean));
    zx_signals_t observed = t_wait(job, ZX_JOB_NO_PROCESSES);
    T_EQ(JOB_ALL_NO, observed & JOB_MASK);
    T_EQ(0, t_process_info(clean).return_code);
    T_EQ(0, t_job_info(job).exited);

    const char *block_args[] = {"block", NULL};
    zx_handle_t doomed = t_spawn(job, block_args);
    T_OK(zx_job_set_critical(job, ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO, doomed));
    T_OK(zx_task_kill(doomed));
    observed = t_wait(job, ZX_JOB_TERMINATED);
    T_EQ(ZX_JOB_TERMINATED | JOB_ALL_NO, observed & JOB_MASK);
    T_EQ(ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL, t_job_info(job).return_code);
}

/* 52, sys_job_set_critical's checks, in its order: options (0 or exactly RETCODE_NONZERO) before any handle; the
 * job handle (a job, with DESTROY), then the process handle (a process, with WAIT). */
static void critical_errors(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_created_process(job, NULL);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(ZX_HANDLE_INVALID, 2, ZX_HANDLE_INVALID));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_set_critical(job, ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO | 2, proc));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_job_set_critical(ZX_HANDLE_INVALID, 0, ZX_HANDLE_INVALID));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_job_set_critical(job, 0, ZX_HANDLE_INVALID));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_job_set_critical(proc, 0, ZX_HANDLE_INVALID));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_job_set_critical(job, 0, job));
    zx_handle_t no_destroy = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_DESTROY);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_job_set_critical(no_destroy, 0, ZX_HANDLE_INVALID));
    zx_handle_t no_wait = t_dup(proc, ZX_DEFAULT_PROCESS_RIGHTS & ~ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_job_set_critical(job, 0, no_wait));
    /* Only DESTROY and WAIT are needed. */
    zx_handle_t destroy_only = t_dup(job, ZX_RIGHT_DESTROY);
    zx_handle_t wait_only = t_dup(proc, ZX_RIGHT_WAIT);
    T_OK(zx_job_set_critical(destroy_only, 0, wait_only));
    T_STATUS(ZX_ERR_ALREADY_BOUND, zx_job_set_critical(job, 0, proc));
    T_EQ(0, t_job_info(job).exited);
}

void s52_critical_process(void) {
    critical_errors();
    critical_kills_one_job();
    critical_many_kill_one_job();
    critical_kills_job_tree();
    critical_not_in_ancestor();
    critical_retcode_nonzero();
}

/* 53. WaitTest: a job with one running process has NO_JOBS only; when the process is killed the job gets
 * NO_PROCESSES too, and stays alive. */
void s53_job_wait_no_processes(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t proc = t_spawn(job, args);
    T_EQ(ZX_JOB_NO_JOBS, t_signals(job) & JOB_MASK);
    T_OK(zx_task_kill(proc));
    zx_signals_t observed = t_wait(job, ZX_JOB_NO_PROCESSES);
    T_EQ(JOB_ALL_NO, observed & JOB_MASK);
    T_TRUE(t_signals(proc) & ZX_PROCESS_TERMINATED);
    T_EQ(0, t_job_info(job).exited);
}

/* 54. MaxHeightSmoke: nesting jobs ends in OUT_OF_RANGE before 128 levels; the deepest job still takes a
 * process. */
void s54_job_max_height(void) {
    zx_handle_t job = t_job();
    zx_handle_t deepest = job;
    zx_status_t st = ZX_OK;
    int depth = 0;
    for (; depth < 128; depth++) {
        zx_handle_t child = ZX_HANDLE_INVALID;
        st = zx_job_create(deepest, 0, &child);
        if (st != ZX_OK)
            break;
        deepest = t_own(child);
    }
    T_STATUS(ZX_ERR_OUT_OF_RANGE, st);
    T_TRUE(depth < 128);
    zx_handle_t vmar = ZX_HANDLE_INVALID;
    t_created_process(deepest, &vmar);
}

/* job_dispatcher.cc Kill: killing a job kills its processes with the job's code, and a second kill changes nothing. */
void r_job_kill_return_codes(void) {
    zx_handle_t job = t_job();
    zx_handle_t child = t_child_job(job);
    const char *args[] = {"block", NULL};
    zx_handle_t p1 = t_spawn(job, args);
    zx_handle_t p2 = t_spawn(child, args);
    zx_handle_t created = t_created_process(child, NULL);
    T_OK(zx_task_kill(child));
    T_TRUE(t_job_info(child).exited);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_job_info(child).return_code);
    t_wait(p2, ZX_PROCESS_TERMINATED);
    T_TRUE(t_signals(created) & ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(p2).return_code);
    t_wait(child, ZX_JOB_TERMINATED);
    /* The parent and its other process are untouched. */
    T_EQ(0, t_signals(p1) & ZX_PROCESS_TERMINATED);
    T_EQ(0, t_job_info(job).exited);
    T_OK(zx_task_kill(child));
    T_OK(zx_task_kill(job));
    t_wait(p1, ZX_PROCESS_TERMINATED);
    t_wait(job, ZX_JOB_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(p1).return_code);
}
