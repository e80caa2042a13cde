/* Audit scenarios: the rows of docs/kernel-audit.md that no core-test scenario covers.  Each checks one syscall's
 * (or info topic's) checks in the order the kernel makes them -- an argument that is bad together with a bad
 * handle tells which is checked first -- and the lifetime and wait/suspend rules of that document's own sections.
 * Sources: zircon/kernel/lib/syscalls/{task,object,object_wait,handle_ops,zircon}.cc and
 * zircon/kernel/object/{job,process,thread}_dispatcher.cc. */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

#define MS(n) ((zx_duration_t)(n) * 1000 * 1000)
/* A value that is never a handle: both low bits clear (ZX_HANDLE_FIXED_BITS_MASK). */
#define BAD_HANDLE ((zx_handle_t)0xbadc0ffcu)
/* A kernel-half address: arch_is_valid_user_pc refuses it on every architecture. */
#define KERNEL_PC ((zx_vaddr_t)0xffff800000001000ull)
#ifndef ZX_PROCESS_SHARED
#define ZX_PROCESS_SHARED ((uint32_t)1u << 0)
#endif
/* Today's kernel grants ZX_RIGHT_OP_CHILDREN with every VMAR (VmAddressRegionDispatcher::Create), a right older
 * headers (the January 2021 SDK's) do not name, so their ZX_DEFAULT_VMAR_RIGHTS lacks it. */
#ifndef ZX_RIGHT_OP_CHILDREN
#define ZX_RIGHT_OP_CHILDREN ((zx_rights_t)1u << 21)
#endif
#define VMAR_ROOT_RIGHTS \
    ((ZX_RIGHTS_BASIC & ~ZX_RIGHT_WAIT) | ZX_RIGHT_OP_CHILDREN | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE)

static bool has_koid(zx_handle_t parent, uint32_t topic, zx_koid_t koid) {
    zx_koid_t koids[64];
    size_t n = t_koids(parent, topic, koids, 64);
    for (size_t i = 0; i < n; i++)
        if (koids[i] == koid)
            return true;
    return false;
}

/* sys_job_create: options != 0 (before the handle), then the handle (type, then MANAGE_JOB), then
 * JobDispatcher::Create: OUT_OF_RANGE at height 0 (s54), BAD_STATE once killed; the new handle has the default
 * job rights and names its parent. */
void a_job_create(void) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_create(BAD_HANDLE, 1, &out));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_job_create(BAD_HANDLE, 0, &out));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_job_create(ev, 0, &out));
    zx_handle_t job = t_job();
    /* Type before rights: a job handle with no rights at all is ACCESS_DENIED, an event WRONG_TYPE. */
    zx_handle_t bare = t_dup(job, ZX_RIGHT_NONE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_job_create(bare, 0, &out));
    T_EQ(ZX_HANDLE_INVALID, out);
    T_OK(zx_job_create(job, 0, &out));
    t_own(out);
    zx_info_handle_basic_t basic = t_basic(out);
    T_EQ(ZX_OBJ_TYPE_JOB, basic.type);
    T_EQ(ZX_DEFAULT_JOB_RIGHTS, basic.rights);
    T_EQ(t_koid(job), basic.related_koid);
    T_OK(zx_task_kill(out));
    zx_handle_t child = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_job_create(out, 0, &child));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_job_create(out, 2, &child)); /* options still first */
    T_EQ(ZX_HANDLE_INVALID, child);
}

/* sys_process_create: options other than 0 and ZX_PROCESS_SHARED, then the name (a NULL name is INVALID_ARGS even
 * with size 0), then the job handle (type, then MANAGE_PROCESS), then the job's state (BAD_STATE).  The process
 * handle has the default process rights; the root VMAR handle the default VMAR rights plus READ|WRITE|EXECUTE. */
void a_process_create(void) {
    zx_handle_t p = ZX_HANDLE_INVALID, v = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_create(BAD_HANDLE, "p", 1, 2, &p, &v));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_create(BAD_HANDLE, "p", 1, ~0u, &p, &v));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_create(BAD_HANDLE, NULL, 0, 0, &p, &v));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_create(BAD_HANDLE, NULL, 4, 0, &p, &v));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_process_create(BAD_HANDLE, "p", 1, 0, &p, &v));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_process_create(BAD_HANDLE, "p", 1, ZX_PROCESS_SHARED, &p, &v));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_process_create(ev, "p", 1, 0, &p, &v));
    zx_handle_t job = t_job();
    zx_handle_t bare = t_dup(job, ZX_RIGHT_NONE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_process_create(bare, "p", 1, 0, &p, &v));
    T_EQ(ZX_HANDLE_INVALID, p);
    T_EQ(ZX_HANDLE_INVALID, v);

    T_OK(zx_process_create(job, "created", 7, 0, &p, &v));
    t_own(p);
    t_own(v);
    zx_info_handle_basic_t basic = t_basic(p);
    T_EQ(ZX_OBJ_TYPE_PROCESS, basic.type);
    T_EQ(ZX_DEFAULT_PROCESS_RIGHTS, basic.rights);
    T_EQ(t_koid(job), basic.related_koid);
    basic = t_basic(v);
    T_EQ(ZX_OBJ_TYPE_VMAR, basic.type);
    T_EQ(VMAR_ROOT_RIGHTS, basic.rights);

    /* ZX_PROCESS_SHARED is a valid option (a process with a shareable address space). */
    zx_handle_t sp = ZX_HANDLE_INVALID, sv = ZX_HANDLE_INVALID;
    T_OK(zx_process_create(job, "shared", 6, ZX_PROCESS_SHARED, &sp, &sv));
    t_own(sp);
    t_own(sv);
    T_EQ(ZX_DEFAULT_PROCESS_RIGHTS, t_basic(sp).rights);

    T_OK(zx_task_kill(job));
    zx_handle_t p2 = ZX_HANDLE_INVALID, v2 = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_STATE, zx_process_create(job, "late", 4, 0, &p2, &v2));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_create(job, NULL, 0, 0, &p2, &v2)); /* the name before the state */
    T_EQ(ZX_HANDLE_INVALID, p2);
}

/* sys_thread_create: options != 0, then the name (NULL is INVALID_ARGS), then the process handle (type, then
 * MANAGE_THREAD).  The process's state is not checked: a dead process gets a NEW thread (a.thread_dead). */
void a_thread_create(void) {
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_create(BAD_HANDLE, "t", 1, 1, &th));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_create(BAD_HANDLE, NULL, 0, 0, &th));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_thread_create(BAD_HANDLE, "t", 1, 0, &th));
    zx_handle_t job = t_job();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_thread_create(job, "t", 1, 0, &th));
    zx_handle_t bare = t_dup(zx_process_self(), ZX_RIGHT_NONE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_thread_create(bare, "t", 1, 0, &th));
    T_EQ(ZX_HANDLE_INVALID, th);
    /* A name longer than ZX_MAX_NAME_LEN is cut, not refused. */
    char long_name[100];
    memset(long_name, 'x', sizeof long_name);
    T_OK(zx_thread_create(zx_process_self(), long_name, sizeof long_name, 0, &th));
    t_own(th);
    zx_info_handle_basic_t basic = t_basic(th);
    T_EQ(ZX_DEFAULT_THREAD_RIGHTS, basic.rights);
    T_EQ(t_koid(zx_process_self()), basic.related_koid);
}

/* Thread create and start against the process's state (AddInitializedThread): create works in a dead process
 * (the thread stays NEW), start is BAD_STATE there -- before the entry point is even looked at. */
void a_thread_dead_process(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_created_process(job, NULL);
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_TASK_TERMINATED);
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(proc, "late", 4, 0, &th));
    t_own(th);
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    tf_ctl_t *ctl = t_ctl();
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th, (uintptr_t)tf_exit, 0, (uintptr_t)ctl, 0));
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th, KERNEL_PC, 0, 0, 0));
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    T_EQ(0, t_signals(th) & (ZX_THREAD_RUNNING | ZX_THREAD_SUSPENDED | ZX_THREAD_TERMINATED));

    /* A dying (or already dead) spawned process: the same. */
    const char *args[] = {"block", NULL};
    zx_handle_t prog = t_spawn(job, args);
    T_OK(zx_task_kill(prog));
    zx_handle_t th2 = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(prog, "late", 4, 0, &th2));
    t_own(th2);
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th2, KERNEL_PC, 0, 0, 0));
    t_wait(prog, ZX_TASK_TERMINATED);
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th2, KERNEL_PC, 0, 0, 0));
}

/* sys_thread_start on the calling process's threads: the handle (type, then MANAGE_THREAD), then the entry point
 * (a kernel address is INVALID_ARGS), then the thread's state: a second start, or a start after death, is
 * BAD_STATE. */
void a_thread_start(void) {
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_thread_start(BAD_HANDLE, (uintptr_t)tf_exit, 0, 0, 0));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_thread_start(ev, (uintptr_t)tf_exit, 0, 0, 0));
    zx_handle_t th = t_thread_create("twice");
    zx_handle_t bare = t_dup(th, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_MANAGE_THREAD);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_thread_start(bare, (uintptr_t)tf_exit, 0, 0, 0));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_start(th, KERNEL_PC, 0, 0, 0));
    T_EQ(ZX_THREAD_STATE_NEW, t_thread_info(th).state);
    tf_ctl_t *ctl = t_ctl();
    t_thread_start(th, tf_exit, ctl);
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th, (uintptr_t)tf_exit, 0, (uintptr_t)ctl, 0));
    t_wait(th, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_start(th, (uintptr_t)tf_exit, 0, (uintptr_t)ctl, 0));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_start(th, KERNEL_PC, 0, 0, 0)); /* the entry point before the state */
}

/* sys_event_create: options != 0 is INVALID_ARGS; the handle has the default event rights and no related koid. */
void a_event_create(void) {
    zx_handle_t ev = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_event_create(1, &ev));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_event_create(0x80000000u, &ev));
    T_EQ(ZX_HANDLE_INVALID, ev);
    T_OK(zx_event_create(0, &ev));
    t_own(ev);
    zx_info_handle_basic_t basic = t_basic(ev);
    T_EQ(ZX_OBJ_TYPE_EVENT, basic.type);
    T_EQ(ZX_DEFAULT_EVENT_RIGHTS, basic.rights);
    T_EQ(0, basic.related_koid);
}

/* sys_object_get_info: an unknown topic is NOT_SUPPORTED before the handle; then the handle (per topic); only
 * then the buffer -- a record that does not fit is BUFFER_TOO_SMALL (actual 0, avail 1), one that fits but cannot
 * be written (NULL) INVALID_ARGS; an array topic with nothing to copy takes a NULL buffer. */
void a_get_info_order(void) {
    size_t actual = 99, avail = 99;
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_object_get_info(BAD_HANDLE, 0x7fffu, NULL, 8, NULL, NULL));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_info(BAD_HANDLE, ZX_INFO_HANDLE_BASIC, NULL, 64, NULL, NULL));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_info(BAD_HANDLE, ZX_INFO_JOB_CHILDREN, NULL, 64, NULL, NULL));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(ev, ZX_INFO_THREAD, NULL, 1024, NULL, NULL));
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(ev, ZX_INFO_HANDLE_BASIC, NULL, 0, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(1, avail);
    T_STATUS(ZX_ERR_INVALID_ARGS,
             zx_object_get_info(ev, ZX_INFO_HANDLE_BASIC, NULL, sizeof(zx_info_handle_basic_t), NULL, NULL));

    zx_handle_t job = t_job();
    actual = avail = 99;
    T_OK(zx_object_get_info(job, ZX_INFO_JOB_CHILDREN, NULL, 64, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(0, avail);
    zx_handle_t proc = t_created_process(job, NULL);
    T_OK(zx_object_get_info(proc, ZX_INFO_PROCESS_THREADS, NULL, 64, NULL, NULL));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_get_info(job, ZX_INFO_JOB_PROCESSES, NULL, 64, NULL, NULL));
    actual = avail = 99;
    T_OK(zx_object_get_info(job, ZX_INFO_JOB_PROCESSES, NULL, 0, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(1, avail);
}

/* Every topic of the binding: typed topics check the type before the rights (WRONG_TYPE on an event that has
 * every right the topic needs, ACCESS_DENIED on the right type without that right); TASK_RUNTIME is looked up
 * untyped (rights first); HANDLE_VALID and HANDLE_BASIC need no right at all. */
void a_info_topics(void) {
    typedef struct {
        uint32_t topic;
        zx_obj_type_t type;
        zx_rights_t right;
    } row_t;
    const row_t rows[] = {
        {T_INFO_PROCESS_V0, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT},
        {T_INFO_PROCESS_V1, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT},
        {ZX_INFO_PROCESS_THREADS, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_ENUMERATE},
        {ZX_INFO_PROCESS_HANDLE_STATS, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT},
        {T_INFO_TASK_STATS_V0, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT},
        {T_INFO_TASK_STATS_V1, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT},
        {ZX_INFO_THREAD, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_INSPECT},
        {ZX_INFO_THREAD_STATS, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_INSPECT},
        {ZX_INFO_JOB, ZX_OBJ_TYPE_JOB, ZX_RIGHT_INSPECT},
        {ZX_INFO_JOB_CHILDREN, ZX_OBJ_TYPE_JOB, ZX_RIGHT_ENUMERATE},
        {ZX_INFO_JOB_PROCESSES, ZX_OBJ_TYPE_JOB, ZX_RIGHT_ENUMERATE},
    };
    uint8_t buf[1024];
    zx_handle_t ev = t_event();
    zx_handle_t job = t_job();
    zx_handle_t th = t_thread_create("info");
    zx_handle_t proc = t_created_process(job, NULL);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!t_info_answered(rows[i].topic))
            continue;
        zx_handle_t right_type = rows[i].type == ZX_OBJ_TYPE_PROCESS ? proc
                                 : rows[i].type == ZX_OBJ_TYPE_THREAD ? th
                                                                       : job;
        zx_rights_t all = t_basic(right_type).rights;
        T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(ev, rows[i].topic, buf, sizeof buf, NULL, NULL));
        zx_handle_t blind = t_dup(right_type, all & ~rows[i].right);
        T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(blind, rows[i].topic, buf, sizeof buf, NULL, NULL));
        T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_info(BAD_HANDLE, rows[i].topic, buf, sizeof buf, NULL, NULL));
    }
    const uint32_t runtime[] = {T_INFO_TASK_RUNTIME_V0, T_INFO_TASK_RUNTIME_V1};
    zx_handle_t ev_blind = t_dup(ev, ZX_RIGHT_WAIT);
    for (size_t i = 0; i < 2; i++) {
        if (!t_info_answered(runtime[i]))
            continue;
        T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(ev_blind, runtime[i], buf, sizeof buf, NULL, NULL));
        T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(ev, runtime[i], buf, sizeof buf, NULL, NULL));
    }
    zx_handle_t none = t_dup(proc, ZX_RIGHT_NONE);
    T_OK(zx_object_get_info(none, ZX_INFO_HANDLE_VALID, NULL, 0, NULL, NULL));
    zx_info_handle_basic_t basic;
    T_OK(zx_object_get_info(none, ZX_INFO_HANDLE_BASIC, &basic, sizeof basic, NULL, NULL));
    T_EQ(ZX_RIGHT_NONE, basic.rights);
    T_EQ(ZX_OBJ_TYPE_PROCESS, basic.type);
}

/* Object lifetime (job_dispatcher.cc): a job's parent lists it by raw pointer, and the job lives while anything
 * references it -- handles, child jobs, its processes (a dead one too, while its object exists).  So a job whose
 * handles are closed stays in its parent's tree while a process of it, even a dead one, still exists; it leaves
 * when the last reference goes, not when it loses its last handle or child. */
void a_job_lifetime(void) {
    zx_handle_t top = t_job();
    /* A job kept by a dead process of it. */
    zx_handle_t j = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(top, 0, &j));
    zx_koid_t jk = t_koid(j);
    zx_handle_t p = ZX_HANDLE_INVALID, v = ZX_HANDLE_INVALID;
    T_OK(zx_process_create(j, "p", 1, 0, &p, &v));
    t_own(p);
    T_OK(zx_handle_close(v));
    T_OK(zx_handle_close(j));
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    T_OK(zx_task_kill(p));
    t_wait(p, ZX_TASK_TERMINATED);
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk)); /* the dead process still references its job */
    zx_handle_t again = ZX_HANDLE_INVALID;
    T_OK(zx_object_get_child(top, jk, ZX_RIGHT_SAME_RIGHTS, &again));
    t_own(again);
    T_EQ(T_JOB_NO_CHILDREN, t_signals(again) & (T_JOB_NO_CHILDREN | ZX_TASK_TERMINATED));
    T_EQ(0, t_job_info(again).exited);
    t_close(again);
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    t_close(p);
    T_TRUE(!has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    T_EQ(ZX_JOB_NO_JOBS, t_signals(top) & ZX_JOB_NO_JOBS);

    /* A job kept by an unstarted thread of its (dead) process: thread -> process -> job. */
    T_OK(zx_job_create(top, 0, &j));
    jk = t_koid(j);
    T_OK(zx_process_create(j, "p", 1, 0, &p, &v));
    T_OK(zx_handle_close(v));
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(p, "t", 1, 0, &th));
    t_own(th);
    T_OK(zx_handle_close(p)); /* last handle of an unstarted process: it dies */
    T_OK(zx_handle_close(j));
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    t_close(th);
    T_TRUE(!has_koid(top, ZX_INFO_JOB_CHILDREN, jk));

    /* A job kept by a child job: closing the child's last handle releases both. */
    T_OK(zx_job_create(top, 0, &j));
    jk = t_koid(j);
    zx_handle_t grandchild = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(j, 0, &grandchild));
    t_own(grandchild);
    T_OK(zx_handle_close(j));
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    t_close(grandchild);
    T_TRUE(!has_koid(top, ZX_INFO_JOB_CHILDREN, jk));

    /* A killed job leaves the tree at its death even while handles remain (s49), and a handle-less parent of
     * it stays while the dead child's object exists. */
    T_OK(zx_job_create(top, 0, &j));
    jk = t_koid(j);
    T_OK(zx_job_create(j, 0, &grandchild));
    t_own(grandchild);
    T_OK(zx_handle_close(j));
    T_OK(zx_task_kill(grandchild));
    T_TRUE(has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
    t_close(grandchild);
    T_TRUE(!has_koid(top, ZX_INFO_JOB_CHILDREN, jk));
}

/* Wait/suspend (object_wait.cc, kernel/thread.cc): suspending a thread blocked in wait_one ends the wait with
 * INTR_RETRY and the wait is issued again after the resume.  While suspended the waiter sees nothing, so a signal
 * raised and cleared meanwhile is missed; it never completes or times out while suspended; after the resume its
 * original deadline still holds. */
void a_wait_suspend(void) {
    /* A pulse while suspended is missed: the wait goes on after the resume and ends on the next real signal. */
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_waiter_run("waiter", ctl);
    zx_handle_t ev = ctl->handle;
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(th, &token));
    t_own(token);
    t_wait(th, ZX_THREAD_SUSPENDED);
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    T_OK(zx_object_signal(ev, ZX_USER_SIGNAL_0, 0));
    t_close(token);
    t_wait(th, ZX_THREAD_RUNNING);
    t_wait_quiet(th, ZX_THREAD_TERMINATED);
    T_EQ(0, t_load32(&ctl->done));
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));

    /* The deadline passes while suspended: nothing happens until the resume, then TIMED_OUT. */
    tf_ctl_t *ctl2 = t_ctl();
    ctl2->deadline = zx_deadline_after(MS(1000));
    zx_handle_t th2 = t_waiter_run("deadline", ctl2);
    T_OK(zx_task_suspend(th2, &token));
    t_own(token);
    t_wait(th2, ZX_THREAD_SUSPENDED);
    while (zx_clock_get_monotonic() <= ctl2->deadline + MS(50))
        t_sleep_ms(10);
    t_wait_quiet(th2, ZX_THREAD_TERMINATED);
    T_EQ(0, t_load32(&ctl2->done));
    t_close(token);
    t_wait(th2, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_TIMED_OUT, t_load_s32(&ctl2->status));

    /* The handle closed while the waiter is suspended: its wait was already over, so the retry finds no handle
     * (BAD_HANDLE), not a wait to cancel (CANCELED). */
    zx_handle_t ev3 = ZX_HANDLE_INVALID;
    T_OK(zx_event_create(0, &ev3));
    tf_ctl_t *ctl3 = t_ctl();
    ctl3->handle = ev3;
    zx_handle_t th3 = t_thread_run("closed", tf_wait, ctl3);
    t_wait_thread_state(th3, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    T_OK(zx_task_suspend(th3, &token));
    t_own(token);
    t_wait(th3, ZX_THREAD_SUSPENDED);
    T_OK(zx_handle_close(ev3));
    t_close(token);
    t_wait(th3, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_BAD_HANDLE, t_load_s32(&ctl3->status));
}

/* sys_nanosleep (a deadline <= 0 returns at once), zx_deadline_after (saturates at ZX_TIME_INFINITE),
 * zx_clock_get_monotonic (never goes back). */
void a_clock_and_sleep(void) {
    zx_time_t a = zx_clock_get_monotonic();
    T_OK(zx_nanosleep(0));
    T_OK(zx_nanosleep(-1));
    T_OK(zx_nanosleep(ZX_TIME_INFINITE_PAST));
    T_OK(zx_nanosleep(zx_deadline_after(MS(1))));
    zx_time_t b = zx_clock_get_monotonic();
    T_TRUE(b >= a + MS(1));
    T_EQ(ZX_TIME_INFINITE, zx_deadline_after(ZX_TIME_INFINITE));
    T_EQ(ZX_TIME_INFINITE, zx_deadline_after(ZX_TIME_INFINITE - 1));
    T_TRUE(zx_deadline_after(0) >= b);
    T_TRUE(zx_deadline_after(-MS(1)) < zx_clock_get_monotonic());
}

/* sys_object_signal: the handle (SIGNAL right), then the masks (Dispatcher::user_signal_self: only the user
 * signals, plus ZX_EVENT_SIGNALED on events, else INVALID_ARGS). */
void a_object_signal(void) {
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_signal(BAD_HANDLE, 0, 1u << 31));
    zx_handle_t ev = t_event();
    zx_handle_t quiet = t_dup(ev, ZX_DEFAULT_EVENT_RIGHTS & ~ZX_RIGHT_SIGNAL);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_signal(quiet, 0, ZX_USER_SIGNAL_0));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_signal(quiet, 0, 1u << 0)); /* rights before the mask */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_signal(ev, 0, 1u << 0));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_signal(ev, 1u << 0, 0));
    T_OK(zx_object_signal(ev, 0, ZX_EVENT_SIGNALED | ZX_USER_SIGNAL_7));
    T_EQ(ZX_EVENT_SIGNALED | ZX_USER_SIGNAL_7, t_signals(ev));
    zx_handle_t th = t_thread_create("sig");
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_signal(th, 0, ZX_EVENT_SIGNALED));
    T_OK(zx_object_signal(th, 0, ZX_USER_SIGNAL_1));
    T_EQ(ZX_USER_SIGNAL_1, t_signals(th) & ZX_USER_SIGNAL_ALL);
}
