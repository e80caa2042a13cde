/* Processes: lifecycle, kill, zx_process_create and zx_process_self.
 *
 * Zircon rules kept here (zircon/kernel/object/process_dispatcher.cc Kill, SetStateLocked, FinishDeadTransition,
 * on_zero_handles): INITIAL -> RUNNING -> DYING -> DEAD.  A kill sets the return
 * code unless the process is already dying (the first code wins); a process with no started thread dies at once,
 * otherwise it is DYING until its last thread is gone.  At DEAD, ZX_TASK_TERMINATED is asserted, the process
 * leaves its job, and then a job it is critical to (zx_job_set_critical) is killed.  Closing the last handle of a
 * never-started process kills it; a started one lives on.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"

static hk_process_t *g_self_process;
static zx_handle_t g_self_process_handle;

static hk_process_t *as_process(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_process_t, base); }

static void process_on_zero_handles(hk_object_t *obj) {
    hk_process_t *p = as_process(obj);
    if (p->state == HK_PROCESS_INITIAL) hk_process_kill(p, 0);
}

static void process_destroy(hk_object_t *obj) {
    hk_process_t *p = as_process(obj);
    for (int i = 0; i < HK_EXCEPTIONATE_KINDS; i++) hk_exceptionate_shutdown(&p->exceptionates[i]);
    hk_handle_table_free(p->handle_table); /* closed at DEAD, or never used (a spawn that failed) */
    if (p->critical_job != NULL) hk_object_unref(&p->critical_job->base);
    hk_object_unref(&p->job->base);
    free(p);
}

static zx_koid_t process_related_koid(const hk_object_t *obj) {
    return HK_CONTAINER_OF(obj, const hk_process_t, base)->job->base.koid;
}

static const hk_object_ops_t process_ops = {
    .on_zero_handles = process_on_zero_handles,
    .destroy = process_destroy,
    .related_koid = process_related_koid,
};

/* Nothing runs and nothing backs it on the host. */
static bool plain_kill(hk_process_t *p) {
    (void)p;
    return false;
}

static pid_t plain_pid(const hk_process_t *p) {
    (void)p;
    return 0;
}

static const hk_process_ops_t plain_ops = {
    .kill = plain_kill,
    .pid = plain_pid,
};

static const hk_process_ops_t *g_process_ops[HK_PROCESS_KIND_COUNT];

void hk_process_register_ops(hk_process_kind_t kind, const hk_process_ops_t *ops) { g_process_ops[kind] = ops; }

hk_process_t *hk_process_new(hk_job_t *job, hk_process_kind_t kind, const char *name) {
    if (job->state != HK_JOB_READY) return NULL;
    hk_process_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    hk_object_init(&p->base, ZX_OBJ_TYPE_PROCESS, &process_ops);
    hk_list_init(&p->sibling);
    hk_list_init(&p->threads);
    p->state = HK_PROCESS_INITIAL;
    p->kind = kind;
    p->ops = g_process_ops[kind] != NULL ? g_process_ops[kind] : &plain_ops;
    p->job = job;
    hk_object_ref(&job->base);
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    hk_job_add_process(job, p); /* cannot fail: the job was checked READY above, under the same lock */
    return p;
}

void hk_process_mark_running(hk_process_t *p) {
    if (p->state != HK_PROCESS_INITIAL) return;
    p->state = HK_PROCESS_RUNNING;
    p->start_time = hk_now();
#if defined(__x86_64__)
    p->start_ticks = __builtin_ia32_rdtsc();
#endif
}

/* Zircon's FinishDeadTransition order: clean the handle table, TERMINATED, leave the job, then kill the job p is
 * critical to. */
static void process_finish_dead(hk_process_t *p) {
    p->state = HK_PROCESS_DEAD;
    /* Every handle the process held is closed (its own table: a Fuchsia program's); DEAD first, so nothing that
     * closing runs can kill p again. */
    hk_object_ref(&p->base);
    hk_handle_table_close(p->handle_table);
    hk_object_unref(&p->base);
    /* Threads that never started stay NEW (they are not in the process's thread list); the started ones are already
     * gone. */
    hk_signal_update(&p->base, 0, ZX_TASK_TERMINATED);
    /* FinishDeadTransition shuts its exception channels down: their user ends see PEER_CLOSED. */
    for (int i = 0; i < HK_EXCEPTIONATE_KINDS; i++) hk_exceptionate_shutdown(&p->exceptionates[i]);
    hk_object_ref(&p->base); /* leaving the job drops the job list's reference, which may be the last */
    hk_job_remove_process(p->job, p);
    hk_job_critical_process_died(p);
    hk_object_unref(&p->base);
}

void hk_process_kill(hk_process_t *p, int64_t return_code) {
    if (p->state == HK_PROCESS_DEAD) return;
    if (p->state != HK_PROCESS_DYING) p->return_code = return_code;
    /* The backend acts asynchronously (the lock is held throughout); for the calling process it does not return
     * (task_kill.md: the program dies as if killed). */
    if (p->ops->kill(p)) {
        /* A real program: DYING until the backend has reaped everything it ran. */
        p->state = HK_PROCESS_DYING;
        HK_LIST_FOR_EACH(it, &p->threads) {
            hk_thread_t *t = HK_CONTAINER_OF(it, hk_thread_t, sibling);
            t->state = HK_THREAD_DYING;
        }
        return;
    }
    /* Nothing runs: no thread of such a process was ever started, so it is dead at once. */
    process_finish_dead(p);
}

void hk_process_report_exited(hk_process_t *p, int64_t return_code) {
    if (p->state == HK_PROCESS_DEAD) return;
    if (p->state != HK_PROCESS_DYING) p->return_code = return_code;
    while (!hk_list_empty(&p->threads)) {
        hk_thread_report_exited(HK_CONTAINER_OF(p->threads.next, hk_thread_t, sibling));
    }
    process_finish_dead(p);
}

hk_process_t *hk_self_process(void) {
    if (g_self_process == NULL) {
        char name[ZX_MAX_NAME_LEN];
        hk_proc_comm(HK_PROC_SELF, name);
        g_self_process = hk_process_new(hk_root_job(), HK_PROCESS_SELF, name);
        if (g_self_process == NULL) abort(); /* no memory before anything ran: nothing sane to do */
        hk_process_mark_running(g_self_process);
    }
    return g_self_process;
}

zx_handle_t zx_process_self(void) {
    hk_lock();
    if (g_self_process_handle == ZX_HANDLE_INVALID &&
        hk_handle_alloc(&hk_self_process()->base, ZX_DEFAULT_PROCESS_RIGHTS, &g_self_process_handle) != ZX_OK)
        g_self_process_handle = ZX_HANDLE_INVALID;
    zx_handle_t h = g_self_process_handle;
    hk_unlock();
    return h;
}

/* ZX_PROCESS_SHARED (zircon/types.h); older headers, such as the 2021 SDK's, lack it. */
#ifdef ZX_PROCESS_SHARED
#define HK_PROCESS_SHARED ZX_PROCESS_SHARED
#else
#define HK_PROCESS_SHARED ((uint32_t)1u << 0)
#endif

/* The root VMAR handle zx_process_create hands out (vmar.c). */
zx_status_t hk_vmar_create_root(hk_process_t *p, zx_handle_t *out);

zx_status_t zx_process_create(zx_handle_t job, const char *name, size_t name_size, uint32_t options,
                              zx_handle_t *proc_handle, zx_handle_t *vmar_handle) {
    /* sys_process_create's order (zircon/kernel/lib/syscalls/task.cc): options (0 or ZX_PROCESS_SHARED, whose
     * shared address space the host does not model: such a process is made like any other), the name
     * (copy_user_string: a NULL name is INVALID_ARGS whatever its size), the job handle (type, then
     * MANAGE_PROCESS), the job's state (AddChildProcess: BAD_STATE), and last the handles written out. */
    if (options != 0 && options != HK_PROCESS_SHARED) return ZX_ERR_INVALID_ARGS;
    char buf[ZX_MAX_NAME_LEN];
    if (hk_copy_name(buf, name, name_size) != ZX_OK) return ZX_ERR_INVALID_ARGS;

    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(job, ZX_OBJ_TYPE_JOB, ZX_RIGHT_MANAGE_PROCESS, &obj, NULL);
    hk_job_t *j = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_job_t, base) : NULL;
    if (status == ZX_OK && j->state != HK_JOB_READY) status = ZX_ERR_BAD_STATE;
    /* The handles are copied out last: an unwritable one fails the call after everything else passed. */
    if (status == ZX_OK && (proc_handle == NULL || vmar_handle == NULL)) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) {
        hk_process_t *p = hk_process_new(j, HK_PROCESS_PLAIN, buf);
        if (p == NULL) {
            status = ZX_ERR_NO_MEMORY;
        } else {
            zx_handle_t ph = ZX_HANDLE_INVALID, vh = ZX_HANDLE_INVALID;
            status = hk_handle_alloc(&p->base, ZX_DEFAULT_PROCESS_RIGHTS, &ph);
            if (status == ZX_OK) status = hk_vmar_create_root(p, &vh);
            if (status == ZX_OK) {
                *proc_handle = ph;
                *vmar_handle = vh;
            } else {
                hk_unlock();
                zx_handle_close(ph); /* the process dies with its only handle */
                hk_lock();
            }
            hk_object_unref(&p->base);
        }
    }
    hk_unlock();
    return status;
}

/* fork.c: a forked child is a new process: a new self process (created at first use, in the new root job). */
void hk_process_after_fork(void) {
    g_self_process = NULL;
    g_self_process_handle = ZX_HANDLE_INVALID;
}
