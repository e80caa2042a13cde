/* Thread scenarios: zircon/system/utest/core/threads/threads.cc (scenarios 1-23 of the suite's numbering) and the
 * thread rules of zircon/kernel/object/thread_dispatcher.cc, with zircon/kernel/lib/syscalls/task.cc's answer to
 * killing a thread (ZX_ERR_WRONG_TYPE, not the NOT_SUPPORTED of docs/reference/syscalls/task_kill.md). */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

#define RUN_OR_SUSP (ZX_THREAD_RUNNING | ZX_THREAD_SUSPENDED)
#define MS(n) ((zx_duration_t)(n) * 1000 * 1000)

static zx_handle_t suspend(zx_handle_t task) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(task, &token));
    T_NE(ZX_HANDLE_INVALID, token);
    return t_own(token);
}

/* Start a tf_spin thread and wait until it has made progress. */
static zx_handle_t spinning_thread(tf_ctl_t *ctl) {
    zx_handle_t th = t_thread_run("spin", tf_spin, ctl);
    t_defer_stop(ctl);
    while (t_load64(&ctl->count) == 0)
        t_sleep_ms(1);
    return th;
}

/* The thread stays suspended: the counter does not move while we watch. */
static uint64_t assert_stopped(zx_handle_t th, tf_ctl_t *ctl) {
    T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(th).state);
    uint64_t before = t_load64(&ctl->count);
    t_sleep_ms(100);
    T_EQ(before, t_load64(&ctl->count));
    T_EQ(ZX_THREAD_SUSPENDED, t_signals(th) & RUN_OR_SUSP);
    return before;
}

static void wait_count_beyond(tf_ctl_t *ctl, uint64_t than) {
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    while (t_load64(&ctl->count) <= than) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("the resumed thread made no progress beyond %llu", (unsigned long long)than);
        t_sleep_ms(1);
    }
}

/* 1. Basics: a thread sleeps 100 ms and exits; TERMINATED is observed; its handle closes OK. */
void s01_basics(void) {
    tf_ctl_t *ctl = t_ctl();
    ctl->deadline = zx_deadline_after(MS(100));
    zx_handle_t th = t_thread_run("sleeper", tf_sleep, ctl);
    zx_signals_t observed = t_wait(th, ZX_THREAD_TERMINATED);
    T_EQ(ZX_THREAD_TERMINATED, observed & (ZX_THREAD_TERMINATED | RUN_OR_SUSP));
    T_OK(t_load_s32(&ctl->status));
    T_TRUE(ctl->woke_at >= ctl->deadline);
    T_EQ(ZX_THREAD_STATE_DEAD, t_thread_info(th).state);
    t_close(th);
}

/* 2. InvalidRights: zx_thread_create needs MANAGE_THREAD on the process. */
void s02_invalid_rights(void) {
    zx_handle_t proc = t_dup(zx_process_self(), ZX_RIGHT_DESTROY);
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_thread_create(proc, "t", 1, 0, &th));
    T_EQ(ZX_HANDLE_INVALID, th);
}

/* 3. NonstartedThread: a created thread is NEW, asserts none of RUNNING/SUSPENDED/TERMINATED, and closes OK. */
void s03_nonstarted_thread(void) {
    zx_handle_t th = t_thread_create("new");
    zx_info_thread_t info = t_thread_info(th);
    T_EQ(ZX_THREAD_STATE_NEW, info.state);
    T_EQ(0, t_signals(th) & (ZX_THREAD_TERMINATED | RUN_OR_SUSP));
    zx_info_handle_basic_t basic = t_basic(th);
    T_EQ(ZX_OBJ_TYPE_THREAD, basic.type);
    T_EQ(ZX_DEFAULT_THREAD_RIGHTS, basic.rights);
    T_EQ(t_koid(zx_process_self()), basic.related_koid);
    t_close(th);
}

/* task.cc sys_task_kill: zx_task_kill on a thread is ZX_ERR_WRONG_TYPE (the kernel, not the docs' NOT_SUPPORTED),
 * started or not, and the thread keeps running; without DESTROY it is ACCESS_DENIED (rights before type). */
void r_kill_thread_wrong_type(void) {
    zx_handle_t fresh = t_thread_create("new");
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_kill(fresh));
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(fresh).state);

    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = spinning_thread(ctl);
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_kill(th));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_kill(zx_thread_self()));
    uint64_t seen = t_load64(&ctl->count);
    wait_count_beyond(ctl, seen);
    T_EQ(0, t_signals(th) & ZX_THREAD_TERMINATED);

    zx_handle_t weak = t_dup(th, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_DESTROY);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_kill(weak));
}

/* 7. InfoTaskStatsFails / InfoThreadStatsFails (+ GetLastScheduledCpu): ZX_INFO_THREAD_STATS works on a live
 * thread (no CPU before it ever ran, a real CPU once it did) and is BAD_STATE once the thread exited;
 * ZX_INFO_TASK_STATS (either version) is for processes only, so a thread is WRONG_TYPE, alive or dead.  The own
 * process reports its memory (TaskGetInfoTest.InfoStatsSmokeTest).  The record sizes of the versions: r20. */
void s07_info_task_and_thread_stats(void) {
    uint8_t buf[64];
    const uint32_t topics[] = {T_INFO_TASK_STATS_V0, T_INFO_TASK_STATS_V1};
    zx_handle_t th = t_thread_create("stats");
    zx_info_thread_stats_t stats;
    memset(&stats, 0xa5, sizeof stats);
    T_OK(zx_object_get_info(th, ZX_INFO_THREAD_STATS, &stats, sizeof stats, NULL, NULL));
    T_EQ(ZX_INFO_INVALID_CPU, stats.last_scheduled_cpu);
    T_EQ(0, stats.total_runtime);
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(th, ZX_INFO_TASK_STATS, buf, sizeof buf, NULL, NULL));

    tf_ctl_t *ctl = t_ctl();
    t_thread_start(th, tf_spin, ctl);
    t_defer_stop(ctl);
    while (t_load64(&ctl->count) == 0)
        t_sleep_ms(1);
    T_OK(zx_object_get_info(th, ZX_INFO_THREAD_STATS, &stats, sizeof stats, NULL, NULL));
    T_NE(ZX_INFO_INVALID_CPU, stats.last_scheduled_cpu);
    T_TRUE(stats.last_scheduled_cpu < ZX_CPU_SET_MAX_CPUS);
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        if (t_info_answered(topics[i]))
            T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(th, topics[i], buf, sizeof buf, NULL, NULL));
    }

    __atomic_store_n(&ctl->stop, 1u, __ATOMIC_SEQ_CST);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_BAD_STATE, zx_object_get_info(th, ZX_INFO_THREAD_STATS, &stats, sizeof stats, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(th, ZX_INFO_TASK_STATS, buf, sizeof buf, NULL, NULL));

    zx_info_task_stats_t task;
    T_OK(zx_object_get_info(zx_process_self(), ZX_INFO_TASK_STATS, &task, sizeof task, NULL, NULL));
    T_TRUE(task.mem_private_bytes > 0);
    T_TRUE(task.mem_mapped_bytes >= task.mem_private_bytes + task.mem_shared_bytes);
    T_TRUE(task.mem_shared_bytes >= task.mem_scaled_shared_bytes);
}

/* 8 for one topic: a thread's runtime is 0 before start; it grows once the thread runs; it can still be read
 * after the thread exited, and no longer changes; a handle without INSPECT is ACCESS_DENIED.  `size` is the
 * record size of the topic's version (info points to a record of the longest version). */
static void runtime_of_a_thread(uint32_t topic, size_t size) {
    t_info_task_runtime_v1_t info;
    size_t actual = 0, avail = 0;
    zx_handle_t th = t_thread_create("runtime");
    memset(&info, 0xa5, sizeof info);
    T_OK(zx_object_get_info(th, topic, &info, size, &actual, &avail));
    T_EQ(0, info.cpu_time);
    T_EQ(0, info.queue_time);
    T_EQ(1, actual);
    T_EQ(1, avail);

    tf_ctl_t *ctl = t_ctl();
    t_thread_start(th, tf_spin, ctl);
    t_defer_stop(ctl);
    /* It ran, so it used CPU time; it also waited in a run queue at some point (Linux counts only real waits for a
     * CPU, so on the host this may take a few wake-ups). */
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    do {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("runtime of a running thread stayed at cpu %lld, queue %lld ns", (long long)info.cpu_time,
                   (long long)info.queue_time);
        t_sleep_ms(1);
        T_OK(zx_object_get_info(th, topic, &info, size, NULL, NULL));
    } while (info.cpu_time <= 0 || info.queue_time <= 0);
    t_info_task_runtime_v1_t live = info;

    __atomic_store_n(&ctl->stop, 1u, __ATOMIC_SEQ_CST);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(zx_object_get_info(th, topic, &info, size, NULL, NULL));
    T_TRUE(info.cpu_time >= live.cpu_time);
    T_TRUE(info.queue_time >= live.queue_time);
    t_info_task_runtime_v1_t dead = info;
    t_sleep_ms(20);
    T_OK(zx_object_get_info(th, topic, &info, size, NULL, NULL));
    T_EQ(dead.cpu_time, info.cpu_time);
    T_EQ(dead.queue_time, info.queue_time);

    zx_handle_t blind = t_dup(th, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_INSPECT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(blind, topic, &info, size, NULL, NULL));
}

/* 8. GetInfoRuntime / GetInfoRuntimeV1, for both layouts (each version where the kernel answers it: both on the
 * host); the versions' size rule is r21. */
void s08_get_info_runtime(void) {
    if (t_info_answered(T_INFO_TASK_RUNTIME_V1))
        runtime_of_a_thread(T_INFO_TASK_RUNTIME_V1, sizeof(t_info_task_runtime_v1_t));
    if (t_info_answered(T_INFO_TASK_RUNTIME_V0))
        runtime_of_a_thread(T_INFO_TASK_RUNTIME_V0, sizeof(t_info_task_runtime_v0_t));
    zx_info_task_runtime_t info;
    /* Rights before type: an event with INSPECT is WRONG_TYPE, without it ACCESS_DENIED. */
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(ev, ZX_INFO_TASK_RUNTIME, &info, sizeof info, NULL, NULL));
    zx_handle_t blind = t_dup(ev, ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(blind, ZX_INFO_TASK_RUNTIME, &info, sizeof info, NULL, NULL));
}

/* 9. ResumeSuspended: a thread blocked in wait_one goes back to BLOCKED_WAIT_ONE after a resume; a signal that
 * arrives while it is suspended is acted on only after the resume. */
void s09_resume_suspended(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_waiter_run("waiter", ctl);
    zx_handle_t ev = ctl->handle;

    /* Suspend and resume at once. */
    zx_handle_t token = suspend(th);
    t_close(token);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);

    /* Suspend for real: SUSPENDED, no exception channel; resume: blocked again. */
    token = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);
    zx_info_thread_t info = t_thread_info(th);
    T_EQ(ZX_THREAD_STATE_SUSPENDED, info.state);
    T_EQ(ZX_EXCEPTION_CHANNEL_TYPE_NONE, info.wait_exception_channel_type);
    t_close(token);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);

    /* Signal while suspended: no reaction until resumed, then the wait completes. */
    token = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    t_wait_quiet(th, ZX_THREAD_TERMINATED);
    T_EQ(0, t_load32(&ctl->done));
    t_close(token);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));
    T_TRUE(t_load32(&ctl->observed) & ZX_USER_SIGNAL_0);
}

/* 10. SuspendSleeping: a sleep interrupted by a suspension keeps its original deadline. */
void s10_suspend_sleeping(void) {
    tf_ctl_t *ctl = t_ctl();
    ctl->deadline = zx_deadline_after(MS(2000));
    zx_handle_t th = t_thread_run("sleeper", tf_sleep, ctl);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_SLEEPING);
    zx_handle_t token = ZX_HANDLE_INVALID;
    zx_status_t st = zx_task_suspend(th, &token);
    if (st == ZX_ERR_BAD_STATE && t_load32(&ctl->done))
        return; /* already dying: accepted by the core test */
    T_OK(st);
    t_own(token);
    t_wait(th, ZX_THREAD_SUSPENDED);
    t_close(token);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));
    if (ctl->woke_at < ctl->deadline)
        T_FAIL("the sleep returned %lld ns before its deadline", (long long)(ctl->deadline - ctl->woke_at));
}

/* 13. SuspendStopsThread: a suspended thread makes no progress; resumed, it makes progress again. */
void s13_suspend_stops_thread(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = spinning_thread(ctl);
    zx_handle_t token = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);
    uint64_t frozen = assert_stopped(th, ctl);
    t_close(token);
    t_wait(th, ZX_THREAD_RUNNING);
    wait_count_beyond(ctl, frozen);
}

/* 14, without the debugger exception: with two thread tokens, closing one keeps the thread suspended. */
void s14_suspend_multiple_tokens(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = spinning_thread(ctl);
    zx_handle_t t1 = suspend(th);
    zx_handle_t t2 = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);
    t_close(t1);
    t_wait_quiet(th, ZX_THREAD_RUNNING);
    uint64_t frozen = assert_stopped(th, ctl);
    t_close(t2);
    t_wait(th, ZX_THREAD_RUNNING);
    wait_count_beyond(ctl, frozen);
}

/* 15. SuspendSelf: suspending the calling thread is NOT_SUPPORTED and writes no token. */
void s15_suspend_self_thread(void) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_task_suspend(zx_thread_self(), &token));
    T_EQ(ZX_HANDLE_INVALID, token);
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_task_suspend_token(zx_thread_self(), &token));
    T_EQ(ZX_HANDLE_INVALID, token);
}

/* 16. SuspendAfterDeath: suspending an exited thread is BAD_STATE; no token is written; closing 0 is OK. */
void s16_suspend_after_death(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_thread_run("exiter", tf_exit, ctl);
    t_wait(th, ZX_THREAD_TERMINATED);
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_task_suspend(th, &token));
    T_EQ(ZX_HANDLE_INVALID, token);
    T_OK(zx_handle_close(token));
}

/* 17. StartSuspendedThread: suspended before start, the thread parks before running any of its code. */
void s17_start_suspended_thread(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_thread_create("susp");
    zx_handle_t token = suspend(th);
    t_thread_start(th, tf_spin, ctl);
    t_defer_stop(ctl);
    t_wait(th, ZX_THREAD_SUSPENDED);
    T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(th).state);
    t_sleep_ms(50);
    T_EQ(0, t_load32(&ctl->started));
    t_close(token);
    t_wait(th, ZX_THREAD_RUNNING);
    t_wait_flag(&ctl->started, "the resumed thread to run its entry");
    wait_count_beyond(ctl, 0);
}

/* 18. StartSuspendedAndResumedThread: a suspension opened and closed before start leaves no trace. */
void s18_start_suspended_and_resumed(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_thread_create("susp-res");
    zx_handle_t token = suspend(th);
    t_close(token);
    t_thread_start(th, tf_spin, ctl);
    t_defer_stop(ctl);
    t_wait_flag(&ctl->started, "the thread to run its entry");
    wait_count_beyond(ctl, 0);
    T_EQ(ZX_THREAD_RUNNING, t_signals(th) & RUN_OR_SUSP);
}

/* 19, observed with wait_one instead of a port: exactly one of RUNNING/SUSPENDED is asserted from start to
 * death, both while running and while blocked; DEAD clears both and sets TERMINATED. */
void s19_suspend_signal_delivery(void) {
    zx_handle_t ev = t_event();
    tf_ctl_t *ctl = t_ctl();
    ctl->handle = ev;
    zx_handle_t th = t_thread_run("sig", tf_wait, ctl);
    t_defer_signal(ev);
    T_EQ(ZX_THREAD_RUNNING, t_signals(th) & RUN_OR_SUSP);
    t_wait_quiet(th, ZX_THREAD_SUSPENDED);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    T_EQ(ZX_THREAD_RUNNING, t_signals(th) & RUN_OR_SUSP);

    for (int round = 0; round < 2; round++) {
        zx_handle_t token = suspend(th);
        zx_signals_t observed = t_wait(th, ZX_THREAD_SUSPENDED);
        T_EQ(ZX_THREAD_SUSPENDED, observed & RUN_OR_SUSP);
        T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(th).state);
        t_close(token);
        observed = t_wait(th, ZX_THREAD_RUNNING);
        T_EQ(ZX_THREAD_RUNNING, observed & RUN_OR_SUSP);
        t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    }
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    zx_signals_t observed = t_wait(th, ZX_THREAD_TERMINATED);
    T_EQ(ZX_THREAD_TERMINATED, observed & (RUN_OR_SUSP | ZX_THREAD_TERMINATED));
    T_EQ(ZX_THREAD_STATE_DEAD, t_thread_info(th).state);
}

/* 58. handle-wait: closing the handle a thread waits on cancels its wait (CANCELED, HANDLE_CLOSED observed),
 * although another handle to the event stays open. */
void s58_close_cancels_wait(void) {
    zx_handle_t ev = t_event();
    zx_handle_t other = t_dup(ev, ZX_RIGHT_SAME_RIGHTS);
    tf_ctl_t *ctl = t_ctl();
    ctl->handle = ev;
    zx_handle_t th = t_thread_run("waiter", tf_wait, ctl);
    t_defer_signal(other);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    t_close(ev);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_CANCELED, t_load_s32(&ctl->status));
    T_TRUE(t_load32(&ctl->observed) & ZX_SIGNAL_HANDLE_CLOSED);
}

/* rights.h, suspend_token_dispatcher.cc: a suspend token is TRANSFER|INSPECT only (no duplicate, no wait);
 * replacing it keeps the suspension; a failed replace consumes it and so resumes the thread. */
void r_suspend_token_rules(void) {
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = spinning_thread(ctl);
    zx_handle_t token = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);

    zx_info_handle_basic_t basic = t_basic(token);
    T_EQ(ZX_OBJ_TYPE_SUSPEND_TOKEN, basic.type);
    T_EQ(ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS, basic.rights);
    T_EQ(ZX_RIGHT_TRANSFER | ZX_RIGHT_INSPECT, basic.rights);
    T_EQ(0, basic.related_koid);

    zx_handle_t dup = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_handle_duplicate(token, ZX_RIGHT_SAME_RIGHTS, &dup));
    T_EQ(ZX_HANDLE_INVALID, dup);
    zx_signals_t observed = 0;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_one(token, ZX_SIGNAL_HANDLE_CLOSED, 0, &observed));

    /* Replace with the same rights: a new handle to the same token; still suspended. */
    zx_handle_t replaced = ZX_HANDLE_INVALID;
    t_disown(token);
    T_OK(zx_handle_replace(token, ZX_RIGHT_SAME_RIGHTS, &replaced));
    t_own(replaced);
    T_EQ(ZX_OBJ_TYPE_SUSPEND_TOKEN, t_basic(replaced).type);
    t_wait_quiet(th, ZX_THREAD_RUNNING);
    assert_stopped(th, ctl);

    /* Replace asking for a right it lacks: INVALID_ARGS, and the last token handle is gone: resumed. */
    zx_handle_t bad = ZX_HANDLE_INVALID;
    t_disown(replaced);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_handle_replace(replaced, ZX_RIGHT_TRANSFER | ZX_RIGHT_DUPLICATE, &bad));
    T_EQ(ZX_HANDLE_INVALID, bad);
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_handle_close(replaced));
    t_wait(th, ZX_THREAD_RUNNING);
    wait_count_beyond(ctl, t_load64(&ctl->count));
}

/* task.cc sys_task_suspend: suspend looks the handle up untyped with WRITE: BAD_HANDLE, then ACCESS_DENIED, then
 * the type (jobs and other objects: WRONG_TYPE).  No token is written on error. */
void r_suspend_errors(void) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_task_suspend(ZX_HANDLE_INVALID, &token));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_suspend(ev, &token)); /* events have no WRITE */
    zx_handle_t job = t_job();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_suspend(job, &token));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_suspend_token(job, &token));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_task_suspend(zx_job_default(), &token));
    zx_handle_t weak_job = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_suspend(weak_job, &token));

    zx_handle_t th = t_thread_create("new");
    zx_handle_t weak_th = t_dup(th, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_suspend(weak_th, &token));

    zx_handle_t proc = ZX_HANDLE_INVALID, vmar = ZX_HANDLE_INVALID;
    T_OK(zx_process_create(job, "p", 1, 0, &proc, &vmar));
    t_own(proc);
    t_own(vmar);
    zx_handle_t weak_proc = t_dup(proc, ZX_DEFAULT_PROCESS_RIGHTS & ~ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_suspend(weak_proc, &token));
    /* A VMAR: WRONG_TYPE if this handle has WRITE, else ACCESS_DENIED (rights are checked first). */
    zx_status_t expect = (t_basic(vmar).rights & ZX_RIGHT_WRITE) ? ZX_ERR_WRONG_TYPE : ZX_ERR_ACCESS_DENIED;
    T_STATUS(expect, zx_task_suspend(vmar, &token));
    T_EQ(ZX_HANDLE_INVALID, token);
}

/* thread_dispatcher.cc Suspend: suspending a NEW thread is OK (applied at start) and the thread stays NEW. */
void r_suspend_new_thread(void) {
    zx_handle_t th = t_thread_create("new");
    zx_handle_t t1 = suspend(th);
    zx_handle_t t2 = suspend(th);
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    T_EQ(0, t_signals(th) & (RUN_OR_SUSP | ZX_THREAD_TERMINATED));
    t_close(t1);
    t_close(t2);
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
}

/* 40. CreateAndKillJobRaceStress: one thread creates, kills (always OK) and closes jobs while two others create
 * processes in them and see only OK, BAD_HANDLE or BAD_STATE. */
void s40_create_and_kill_job_race(void) {
    zx_handle_t parent = t_job();
    uint32_t *shared = t_alloc(sizeof *shared); /* outlives this frame: the racers read it until joined */
    tf_ctl_t *users = t_alloc(2 * sizeof *users);
    zx_handle_t uth[2];
    for (int i = 0; i < 2; i++) {
        users[i].shared_job = shared;
        uth[i] = t_thread_run("racer", tf_race_processes, &users[i]);
        t_defer_stop(&users[i]);
    }
    /* Both racers are in their loop before the maker starts: on a loaded machine the maker's 300 rounds can
     * otherwise be over before a racer is first scheduled, and nothing would have raced. */
    for (int i = 0; i < 2; i++)
        wait_count_beyond(&users[i], 0);
    tf_ctl_t *maker = t_ctl();
    maker->handle = parent;
    maker->iterations = 300;
    maker->shared_job = shared;
    zx_handle_t mth = t_thread_run("jobs", tf_race_jobs, maker);
    t_wait(mth, ZX_THREAD_TERMINATED);
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&users[i].stop, 1u, __ATOMIC_SEQ_CST);
        t_wait(uth[i], ZX_THREAD_TERMINATED);
    }
    if (maker->unexpected)
        T_FAIL("job maker: %llu unexpected statuses, first %s", (unsigned long long)maker->unexpected_count,
               t_status_name(maker->unexpected));
    T_EQ(300, t_load64(&maker->count));
    for (int i = 0; i < 2; i++) {
        if (users[i].unexpected)
            T_FAIL("process creator %d: %llu unexpected statuses, first %s", i,
                   (unsigned long long)users[i].unexpected_count, t_status_name(users[i].unexpected));
    }
}
