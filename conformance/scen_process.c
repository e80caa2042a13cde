/* Process scenarios: zircon/system/utest/core/process/process.cc (scenarios 24-43 of the suite's numbering) and
 * the kill and suspend rules of zircon/kernel/lib/syscalls/task.cc and zircon/kernel/object/process_dispatcher.cc.
 * Running processes are the helper program started with fdio_spawn; its threads are found with
 * ZX_INFO_PROCESS_THREADS and zx_object_get_child. */
#include <stddef.h>

#include "harness.h"
#include "scenarios.h"

#define RUN_OR_SUSP (ZX_THREAD_RUNNING | ZX_THREAD_SUSPENDED)
#define STARTED_EXITED (T_INFO_PROCESS_FLAG_STARTED | T_INFO_PROCESS_FLAG_EXITED)

static zx_handle_t suspend(zx_handle_t task) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(task, &token));
    T_NE(ZX_HANDLE_INVALID, token);
    return t_own(token);
}

/* A helper with n spinning threads; returns the process and fills threads[] (exactly n of them). */
static zx_handle_t spin_process(zx_handle_t job, unsigned n, const char **path_out, zx_handle_t *threads) {
    const char *path = t_progress_file();
    static char count[4][4];
    static unsigned next;
    char *nstr = count[next++ % 4];
    nstr[0] = (char)('0' + n / 10);
    nstr[1] = (char)('0' + n % 10);
    nstr[2] = '\0';
    const char *args[] = {"spin", path, nstr[0] == '0' ? nstr + 1 : nstr, NULL};
    zx_handle_t proc = t_spawn(job, args);
    t_wait_progress_threads(path, n);
    T_EQ(n, t_process_threads(proc, threads, n));
    *path_out = path;
    return proc;
}

/* The helper's file stops growing: read it after a settling pause (a write already on its way completes),
 * then watch it for a while. */
static uint64_t assert_no_progress(const char *path) {
    t_sleep_ms(50);
    uint64_t before = t_progress(path);
    t_sleep_ms(150);
    uint64_t after = t_progress(path);
    if (after != before)
        T_FAIL("a suspended process made progress: %s grew from %llu to %llu bytes", path,
               (unsigned long long)before, (unsigned long long)after);
    return after;
}

static void wait_all(const zx_handle_t *threads, size_t n, zx_signals_t signal) {
    for (size_t i = 0; i < n; i++) {
        zx_signals_t observed = t_wait(threads[i], signal);
        T_EQ(signal, observed & RUN_OR_SUSP);
    }
}

/* 22, as today's rule: a process that kills itself never returns from the call; its code is SYSCALL_KILL. */
void s22_process_kills_itself(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_spawn_program(job, "conformance_killself", NULL, true);
    t_wait(proc, ZX_PROCESS_TERMINATED);
    t_process_info_t info = t_process_info(proc);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
    T_EQ(STARTED_EXITED, info.flags & STARTED_EXITED);
}

/* 24. A process that dies of an unhandled fault has return code EXCEPTION_KILL. */
void s24_crash_exception_kill(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"crash", NULL};
    zx_handle_t proc = t_spawn(job, args);
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_EXCEPTION_KILL, t_process_info(proc).return_code);
}

/* 25. ProcessStartNoHandle: a process that exits 0 asserts TERMINATED with return code 0; any exit code is
 * reported as is. */
void s25_process_exit_code(void) {
    zx_handle_t job = t_job();
    const char *zero[] = {"exit", "0", NULL};
    zx_handle_t p0 = t_spawn(job, zero);
    zx_signals_t observed = t_wait(p0, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_PROCESS_TERMINATED, observed);
    t_process_info_t info = t_process_info(p0);
    T_EQ(0, info.return_code);
    T_EQ(STARTED_EXITED, info.flags & STARTED_EXITED);

    const char *five[] = {"exit", "5", NULL};
    zx_handle_t p5 = t_spawn(job, five);
    t_wait(p5, ZX_PROCESS_TERMINATED);
    T_EQ(5, t_process_info(p5).return_code);
}

/* 27 + 42. ProcessNotKilledViaThreadClose/ProcessClose, InfoProcessNoProcessHandles: closing the thread handle
 * or every process handle does not end a running process; it stays listed in its job and get_child finds it. */
void s27_process_not_killed_by_close(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    const char *args[] = {"spin", path, "1", NULL};
    zx_handle_t proc = t_spawn_program(job, "conformance_helper", args, false);
    t_wait_progress_threads(path, 1);
    zx_koid_t koid = t_koid(proc);
    zx_handle_t th[1];
    T_EQ(1, t_process_threads(proc, th, 1));
    t_close(th[0]);
    t_wait_quiet(proc, ZX_PROCESS_TERMINATED);
    t_close(proc);

    uint64_t seen = t_progress(path);
    t_wait_progress_beyond(path, seen);
    zx_koid_t koids[8];
    size_t n = t_koids(job, ZX_INFO_JOB_PROCESSES, koids, 8);
    T_EQ(1, n);
    T_EQ(koid, koids[0]);
    zx_handle_t again = ZX_HANDLE_INVALID;
    T_OK(zx_object_get_child(job, koid, ZX_RIGHT_SAME_RIGHTS, &again));
    t_own(again);
    T_EQ(koid, t_koid(again));
    T_EQ(0, t_signals(again) & ZX_PROCESS_TERMINATED);
    T_OK(zx_task_kill(again));
    t_wait(again, ZX_PROCESS_TERMINATED);
}

/* 29, without the channel cycle: processes nobody holds a handle to end when their job is killed. */
void s29_kill_job_ends_unreferenced_processes(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"block", NULL};
    for (int i = 0; i < 2; i++) {
        zx_handle_t p = t_spawn_program(job, "conformance_helper", args, false);
        t_close(p);
    }
    zx_koid_t koids[8];
    T_EQ(2, t_koids(job, ZX_INFO_JOB_PROCESSES, koids, 8));
    T_OK(zx_task_kill(job));
    zx_signals_t observed = t_wait(job, ZX_JOB_TERMINATED);
    T_TRUE(observed & ZX_JOB_NO_PROCESSES);
    T_EQ(0, t_koids(job, ZX_INFO_JOB_PROCESSES, koids, 8));
}

/* 30. InfoReflectsProcessState: flags 0 before start; STARTED with start_time inside the start window; after a
 * kill STARTED|EXITED with SYSCALL_KILL.  (start_time is checked where the kernel answers ZX_INFO_PROCESS v1: the
 * host kernel always does; both versions are checked side by side in r19.) */
void s30_info_reflects_process_state(void) {
    zx_handle_t job = t_job();
    zx_handle_t created = t_created_process(job, NULL);
    t_process_info_t info = t_process_info(created);
    T_EQ(0, info.flags);
    T_EQ(0, info.return_code);
    T_TRUE(!info.has_start_time || info.start_time == 0);

    const char *args[] = {"block", NULL};
    zx_time_t before = zx_clock_get_monotonic();
    zx_handle_t proc = t_spawn(job, args);
    zx_time_t after = zx_clock_get_monotonic();
    info = t_process_info(proc);
    T_EQ(T_INFO_PROCESS_FLAG_STARTED, info.flags);
    T_EQ(0, info.return_code);
    T_TRUE(!info.has_start_time || (info.start_time >= before && info.start_time <= after));

    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    info = t_process_info(proc);
    T_EQ(STARTED_EXITED, info.flags);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
}

/* process_dispatcher.cc Kill: as soon as zx_task_kill returns, ZX_INFO_PROCESS says EXITED with SYSCALL_KILL
 * (TERMINATED may come later). */
void r_kill_process_info_immediate(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"block", NULL};
    zx_handle_t proc = t_spawn(job, args);
    T_OK(zx_task_kill(proc));
    t_process_info_t info = t_process_info(proc);
    T_TRUE(info.flags & T_INFO_PROCESS_FLAG_EXITED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
    t_wait(proc, ZX_PROCESS_TERMINATED);
}

/* 31. Suspend: a process token suspends the process's thread (no progress); closing it resumes it. */
void s31_process_suspend(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[1];
    zx_handle_t proc = spin_process(job, 1, &path, th);
    zx_handle_t token = suspend(proc);
    wait_all(th, 1, ZX_THREAD_SUSPENDED);
    T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(th[0]).state);
    uint64_t frozen = assert_no_progress(path);
    t_close(token);
    wait_all(th, 1, ZX_THREAD_RUNNING);
    t_wait_progress_beyond(path, frozen);
}

/* 32. SuspendSelf: suspending the calling process is NOT_SUPPORTED and writes no token. */
void s32_suspend_self_process(void) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_task_suspend(zx_process_self(), &token));
    T_EQ(ZX_HANDLE_INVALID, token);
}

/* 33. SuspendMultipleThreads: every thread of the process is suspended, then every one resumed. */
void s33_suspend_multiple_threads(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[3];
    zx_handle_t proc = spin_process(job, 3, &path, th);
    zx_handle_t token = suspend(proc);
    wait_all(th, 3, ZX_THREAD_SUSPENDED);
    uint64_t frozen = assert_no_progress(path);
    t_close(token);
    wait_all(th, 3, ZX_THREAD_RUNNING);
    t_wait_progress_beyond(path, frozen);
}

/* 34/35, the parts that need no code in a new process: an unstarted process, empty or with an unstarted thread,
 * can be suspended (OK) and its tokens closed; the thread stays NEW. */
void s34_suspend_unstarted_process(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_created_process(job, NULL);
    zx_handle_t token = suspend(proc);
    zx_info_handle_basic_t basic = t_basic(token);
    T_EQ(ZX_OBJ_TYPE_SUSPEND_TOKEN, basic.type);
    T_EQ(ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS, basic.rights);
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(proc, "t", 1, 0, &th));
    t_own(th);
    zx_handle_t ttoken = suspend(th);
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    T_EQ(0, t_signals(th) & (RUN_OR_SUSP | ZX_THREAD_TERMINATED));
    t_close(token);
    t_close(ttoken);
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    T_EQ(0, t_process_info(proc).flags);
}

/* 36. SuspendProcessThenThread: with a process token and a thread token, closing the process token leaves the
 * thread suspended; closing the thread token too lets it run. */
void s36_suspend_process_then_thread(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[1];
    zx_handle_t proc = spin_process(job, 1, &path, th);
    zx_handle_t ptoken = suspend(proc);
    zx_handle_t ttoken = suspend(th[0]);
    wait_all(th, 1, ZX_THREAD_SUSPENDED);
    t_close(ptoken);
    t_wait_quiet(th[0], ZX_THREAD_RUNNING);
    uint64_t frozen = assert_no_progress(path);
    t_close(ttoken);
    wait_all(th, 1, ZX_THREAD_RUNNING);
    t_wait_progress_beyond(path, frozen);
}

/* 36. SuspendThreadThenProcess, closing in the other order: the thread token closed first, the process token
 * still holds the thread. */
void s36_suspend_thread_then_process(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[1];
    zx_handle_t proc = spin_process(job, 1, &path, th);
    zx_handle_t ttoken = suspend(th[0]);
    wait_all(th, 1, ZX_THREAD_SUSPENDED);
    zx_handle_t ptoken = suspend(proc);
    t_close(ttoken);
    t_wait_quiet(th[0], ZX_THREAD_RUNNING);
    uint64_t frozen = assert_no_progress(path);
    t_close(ptoken);
    wait_all(th, 1, ZX_THREAD_RUNNING);
    t_wait_progress_beyond(path, frozen);
}

/* 38. SuspendTwice: two process tokens; the process runs again only after both are closed. */
void s38_suspend_process_twice(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[2];
    zx_handle_t proc = spin_process(job, 2, &path, th);
    zx_handle_t t1 = suspend(proc);
    zx_handle_t t2 = suspend(proc);
    wait_all(th, 2, ZX_THREAD_SUSPENDED);
    t_close(t1);
    t_wait_quiet(th[0], ZX_THREAD_RUNNING);
    uint64_t frozen = assert_no_progress(path);
    t_close(t2);
    wait_all(th, 2, ZX_THREAD_RUNNING);
    t_wait_progress_beyond(path, frozen);
}

/* 39. SuspendWithDyingThread: while threads keep exiting, suspending the process is always OK, and every live
 * thread ends up SUSPENDED (or dead), then RUNNING again. */
void s39_suspend_with_dying_threads(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    const char *args[] = {"churn", path, NULL};
    zx_handle_t proc = t_spawn(job, args);
    t_wait_progress_threads(path, 1);
    for (int round = 0; round < 10; round++) {
        zx_handle_t token = suspend(proc);
        zx_koid_t koids[64];
        size_t n = t_koids(proc, ZX_INFO_PROCESS_THREADS, koids, 64);
        T_TRUE(n >= 1);
        zx_handle_t th[64];
        size_t live = 0;
        for (size_t i = 0; i < n; i++) {
            zx_handle_t h = ZX_HANDLE_INVALID;
            zx_status_t st = zx_object_get_child(proc, koids[i], ZX_RIGHT_SAME_RIGHTS, &h);
            if (st == ZX_ERR_NOT_FOUND)
                continue; /* exited meanwhile */
            T_OK(st);
            th[live++] = t_own(h);
        }
        for (size_t i = 0; i < live; i++) {
            zx_signals_t observed = t_wait(th[i], ZX_THREAD_SUSPENDED | ZX_THREAD_TERMINATED);
            T_TRUE(observed & (ZX_THREAD_SUSPENDED | ZX_THREAD_TERMINATED));
        }
        uint64_t frozen = assert_no_progress(path);
        t_close(token);
        for (size_t i = 0; i < live; i++)
            t_wait(th[i], ZX_THREAD_RUNNING | ZX_THREAD_TERMINATED);
        t_wait_progress_beyond(path, frozen);
        for (size_t i = 0; i < live; i++)
            t_close(th[i]);
    }
    /* process_dispatcher.cc Kill: a kill reaches every thread, including those being created and exiting meanwhile. */
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
}

/* 20/21, as today's rule (threads cannot be killed): a suspended process, and a busy one, can be killed; the
 * token closes OK afterwards. */
void s20_kill_suspended_process(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[2];
    zx_handle_t proc = spin_process(job, 2, &path, th);
    zx_handle_t token = suspend(proc);
    wait_all(th, 2, ZX_THREAD_SUSPENDED);
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    for (int i = 0; i < 2; i++) {
        zx_signals_t observed = t_wait(th[i], ZX_THREAD_TERMINATED);
        T_EQ(0, observed & RUN_OR_SUSP);
        T_EQ(ZX_THREAD_STATE_DEAD, t_thread_info(th[i]).state);
    }
    assert_no_progress(path);
    t_close(token);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
}

void s21_kill_busy_process(void) {
    zx_handle_t job = t_job();
    const char *path;
    zx_handle_t th[2];
    zx_handle_t proc = spin_process(job, 2, &path, th);
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    for (int i = 0; i < 2; i++)
        t_wait(th[i], ZX_THREAD_TERMINATED);
    assert_no_progress(path);
    zx_koid_t koids[4];
    T_EQ(0, t_koids(proc, ZX_INFO_PROCESS_THREADS, koids, 4));
}

/* task.cc sys_task_kill: kill looks the handle up untyped with DESTROY: BAD_HANDLE, then ACCESS_DENIED, then the
 * type. */
void r_kill_errors(void) {
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_task_kill(ZX_HANDLE_INVALID));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_kill(ev)); /* not WRONG_TYPE: events lack DESTROY */
    zx_handle_t job = t_job();
    zx_handle_t weak_job = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_DESTROY);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_kill(weak_job));
    zx_handle_t vmar = ZX_HANDLE_INVALID;
    zx_handle_t proc = t_created_process(job, &vmar);
    zx_handle_t weak_proc = t_dup(proc, ZX_DEFAULT_PROCESS_RIGHTS & ~ZX_RIGHT_DESTROY);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_kill(weak_proc));
    zx_status_t expect = (t_basic(vmar).rights & ZX_RIGHT_DESTROY) ? ZX_ERR_WRONG_TYPE : ZX_ERR_ACCESS_DENIED;
    T_STATUS(expect, zx_task_kill(vmar));
    T_EQ(0, t_signals(job) & ZX_JOB_TERMINATED);
    T_EQ(0, t_process_info(proc).flags);
}

/* process_dispatcher.cc Kill: killing an unstarted process ends it synchronously (SYSCALL_KILL); killing a dead process
 * is OK and keeps the first return code. */
void r_kill_unstarted_and_dead(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_created_process(job, NULL);
    T_OK(zx_task_kill(proc));
    T_TRUE(t_signals(proc) & ZX_PROCESS_TERMINATED);
    t_process_info_t info = t_process_info(proc);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, info.return_code);
    T_TRUE(info.flags & T_INFO_PROCESS_FLAG_EXITED);
    T_OK(zx_task_kill(proc));

    const char *args[] = {"exit", "7", NULL};
    zx_handle_t exited = t_spawn(job, args);
    t_wait(exited, ZX_PROCESS_TERMINATED);
    T_OK(zx_task_kill(exited));
    T_OK(zx_task_kill(exited));
    T_EQ(7, t_process_info(exited).return_code);
}

/* 43. GetRuntimeNoPermission / GetInfoRuntime, for processes and jobs: runtime needs INSPECT; a process that never
 * ran has none; a running one's grows; once dead it is fixed.  A job counts its own processes, live and dead
 * (it keeps a dead one's runtime), and not those of its child jobs. */
void s43_get_runtime(void) {
    zx_handle_t parent = t_job();
    zx_handle_t job = t_child_job(parent);
    zx_info_task_runtime_t info;

    zx_handle_t created = t_created_process(job, NULL);
    info = t_runtime(created);
    T_EQ(0, info.cpu_time);
    T_EQ(0, info.queue_time);
    zx_handle_t blind = t_dup(created, t_basic(created).rights & ~ZX_RIGHT_INSPECT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(blind, ZX_INFO_TASK_RUNTIME, &info, sizeof info, NULL, NULL));
    zx_handle_t blind_job = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_INSPECT);
    T_STATUS(ZX_ERR_ACCESS_DENIED,
             zx_object_get_info(blind_job, ZX_INFO_TASK_RUNTIME, &info, sizeof info, NULL, NULL));

    const char *path = t_progress_file();
    const char *args[] = {"spin", path, "1", NULL};
    zx_handle_t proc = t_spawn(job, args);
    t_wait_progress_threads(path, 1);
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    while ((info = t_runtime(proc)).cpu_time <= 0) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("a running process's cpu_time stayed %lld", (long long)info.cpu_time);
        t_sleep_ms(1);
    }
    zx_info_task_runtime_t live = info;
    T_TRUE(t_runtime(job).cpu_time >= live.cpu_time);
    T_EQ(0, t_runtime(parent).cpu_time);

    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    zx_info_task_runtime_t dead = t_runtime(proc);
    T_TRUE(dead.cpu_time >= live.cpu_time);
    T_TRUE(dead.queue_time >= live.queue_time);
    t_sleep_ms(20);
    info = t_runtime(proc);
    T_EQ(dead.cpu_time, info.cpu_time);
    T_EQ(dead.queue_time, info.queue_time);
    info = t_runtime(job); /* the job's other process never ran */
    T_EQ(dead.cpu_time, info.cpu_time);
    T_EQ(dead.queue_time, info.queue_time);
    info = t_runtime(parent);
    T_EQ(0, info.cpu_time);
    T_EQ(0, info.queue_time);
}

/* process_dispatcher.cc Suspend: suspending a dead process is BAD_STATE and writes no token. */
void r_suspend_dead_process(void) {
    zx_handle_t job = t_job();
    const char *args[] = {"exit", "0", NULL};
    zx_handle_t proc = t_spawn(job, args);
    t_wait(proc, ZX_PROCESS_TERMINATED);
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_task_suspend(proc, &token));
    T_EQ(ZX_HANDLE_INVALID, token);

    zx_handle_t killed = t_created_process(job, NULL);
    T_OK(zx_task_kill(killed));
    T_STATUS(ZX_ERR_BAD_STATE, zx_task_suspend(killed, &token));
    T_EQ(ZX_HANDLE_INVALID, token);
}

/* process_dispatcher.cc Kill: a kill reaches every thread, including threads being created and exiting at that
 * moment; the process then asserts TERMINATED with SYSCALL_KILL. */
void r_kill_process_with_churning_threads(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    const char *args[] = {"churn", path, NULL};
    for (int round = 0; round < 3; round++) {
        zx_handle_t proc = t_spawn(job, args);
        t_wait_progress_threads(path, 1);
        T_OK(zx_task_kill(proc));
        t_wait(proc, ZX_PROCESS_TERMINATED);
        T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
    }
}
