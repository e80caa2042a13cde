/* Jobs: the job tree, job signals, job kill, zx_job_create and zx_job_default.
 *
 * Zircon rules kept here (zircon/kernel/object/job_dispatcher.cc): a job is READY, then KILLING once killed (it
 * refuses new children: BAD_STATE), and DEAD once KILLING with no child left; death goes bottom-up, and a dead job
 * leaves its parent's list even while handles to it remain (FinishDeadTransitionUnlocked).
 *
 * Lifetime, as in Zircon: a parent's list of child jobs holds no reference (JobDispatcher keeps raw pointers).  A
 * job lives while anything references it -- a handle, a child job (its parent_ RefPtr), a process created in it,
 * live or dead (ProcessDispatcher::job_), a process it was made critical to -- and the last reference going
 * destroys it and takes it out of its parent's list (~JobDispatcher -> RemoveChildJob), which may finish a killed
 * parent.  So a childless job whose handles are closed stays in the tree while a dead process of it still exists.
 * zx_job_set_critical names a process whose death kills the job (ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL).
 */
#include <stdlib.h>

#include "kernel.h"

/* Not in Zircon's public headers (job_dispatcher.h keeps it private), but the kernel asserts it. */
#define HK_JOB_NO_CHILDREN ((zx_signals_t)1u << 6)
#define JOB_SIGNALS (ZX_JOB_TERMINATED | ZX_JOB_NO_JOBS | ZX_JOB_NO_PROCESSES | HK_JOB_NO_CHILDREN)
#define ROOT_JOB_MAX_HEIGHT 32u

static hk_job_t *g_root_job;
static zx_handle_t g_default_job_handle;

static void job_settle(hk_job_t *job);

static hk_job_t *as_job(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_job_t, base); }

static void job_update_signals(hk_job_t *job) {
    bool no_jobs = hk_list_empty(&job->jobs);
    bool no_processes = hk_list_empty(&job->processes);
    zx_signals_t set = (no_jobs ? ZX_JOB_NO_JOBS : 0) | (no_processes ? ZX_JOB_NO_PROCESSES : 0) |
                       (no_jobs && no_processes ? HK_JOB_NO_CHILDREN : 0) |
                       (job->state == HK_JOB_DEAD ? ZX_JOB_TERMINATED : 0);
    hk_signal_update(&job->base, JOB_SIGNALS, set);
}

static bool job_has_children(const hk_job_t *job) {
    return !hk_list_empty(&job->jobs) || !hk_list_empty(&job->processes);
}

/* Take job out of its parent's list (it died, or it is being destroyed), then let the parent settle
 * (RemoveChildJob + FinishDeadTransitionUnlocked).  The list holds no reference, so nothing is released here. */
static void job_detach(hk_job_t *job) {
    hk_job_t *parent = job->parent;
    if (parent == NULL || job->sibling.next == &job->sibling) return;
    hk_list_remove(&job->sibling);
    hk_object_ref(&parent->base);
    job_update_signals(parent);
    job_settle(parent);
    hk_object_unref(&parent->base);
}

/* A child left: a killed job with no child left dies (IsReadyForDeadTransitionLocked).  Closing handles never
 * changes a job's state; the last reference going destroys it (job_destroy). */
static void job_settle(hk_job_t *job) {
    if (job_has_children(job)) return;
    if (job->state == HK_JOB_KILLING) {
        job->state = HK_JOB_DEAD;
        /* Its exception channels are shut down at death (JobDispatcher::FinishDeadTransition). */
        for (int i = 0; i < HK_EXCEPTIONATE_KINDS; i++) hk_exceptionate_shutdown(&job->exceptionates[i]);
        job_update_signals(job);
        job_detach(job);
    }
}

static void job_destroy(hk_object_t *obj) {
    hk_job_t *job = as_job(obj);
    for (int i = 0; i < HK_EXCEPTIONATE_KINDS; i++) hk_exceptionate_shutdown(&job->exceptionates[i]);
    /* ~JobDispatcher: leave the parent's list if still in it (a live job nobody references any more). */
    job_detach(job);
    if (job->parent != NULL) hk_object_unref(&job->parent->base);
    free(job);
}

static zx_koid_t job_related_koid(const hk_object_t *obj) {
    const hk_job_t *job = HK_CONTAINER_OF(obj, const hk_job_t, base);
    return job->parent ? job->parent->base.koid : 0;
}

static const hk_object_ops_t job_ops = {
    .on_zero_handles = NULL, /* a job without handles lives on while referenced (children, processes) */
    .destroy = job_destroy,
    .related_koid = job_related_koid,
};

static hk_job_t *job_new(hk_job_t *parent) {
    hk_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL) return NULL;
    hk_object_init(&job->base, ZX_OBJ_TYPE_JOB, &job_ops);
    hk_list_init(&job->sibling);
    hk_list_init(&job->jobs);
    hk_list_init(&job->processes);
    job->state = HK_JOB_READY;
    job->max_height = parent ? parent->max_height - 1 : ROOT_JOB_MAX_HEIGHT;
    if (parent != NULL) {
        job->parent = parent;
        hk_object_ref(&parent->base);
        hk_list_add_tail(&parent->jobs, &job->sibling); /* no reference: the list holds a raw pointer */
        job_update_signals(parent);
    }
    job_update_signals(job);
    return job;
}

hk_job_t *hk_root_job(void) {
    if (g_root_job == NULL) g_root_job = job_new(NULL); /* lives as long as the program */
    return g_root_job;
}

zx_status_t hk_job_add_process(hk_job_t *job, hk_process_t *p) {
    if (job->state != HK_JOB_READY) return ZX_ERR_BAD_STATE;
    hk_object_ref(&p->base); /* the list's reference */
    hk_list_add_tail(&job->processes, &p->sibling);
    job_update_signals(job);
    return ZX_OK;
}

void hk_job_remove_process(hk_job_t *job, hk_process_t *p) {
    if (p->sibling.next == &p->sibling) return;
    /* The job keeps the runtime of the processes that left it (RemoveChildProcess). */
    hk_info_task_runtime_v1_t runtime;
    hk_process_runtime(p, &runtime);
    hk_runtime_add(&job->exited_runtime, &runtime);
    hk_list_remove(&p->sibling);
    hk_object_ref(&job->base);
    hk_object_unref(&p->base);
    job_update_signals(job);
    job_settle(job);
    hk_object_unref(&job->base);
}

/* A growable array of referenced objects, so the tree can change while we act on a snapshot of it. */
typedef struct {
    hk_object_t **items;
    size_t count, capacity;
} object_vec_t;

static void vec_push(object_vec_t *v, hk_object_t *obj) {
    if (v->count == v->capacity) {
        size_t capacity = v->capacity ? v->capacity * 2 : 16;
        hk_object_t **items = realloc(v->items, capacity * sizeof(*items));
        if (items == NULL) abort(); /* out of memory in the middle of a kill: nothing sane remains */
        v->items = items;
        v->capacity = capacity;
    }
    hk_object_ref(obj);
    v->items[v->count++] = obj;
}

static void vec_release(object_vec_t *v) {
    for (size_t i = 0; i < v->count; i++) hk_object_unref(v->items[i]);
    free(v->items);
}

void hk_job_kill(hk_job_t *job, int64_t return_code) {
    if (job->state != HK_JOB_READY) return; /* killing a killed job is not an error; the first code stays */
    /* Zircon's order: the whole subtree becomes KILLING (refusing children) before any process is killed. */
    object_vec_t jobs = {0}, processes = {0};
    vec_push(&jobs, &job->base);
    for (size_t i = 0; i < jobs.count; i++) {
        hk_job_t *j = as_job(jobs.items[i]);
        if (j->state == HK_JOB_READY) {
            j->state = HK_JOB_KILLING;
            j->return_code = return_code;
        }
        HK_LIST_FOR_EACH(it, &j->jobs) vec_push(&jobs, &HK_CONTAINER_OF(it, hk_job_t, sibling)->base);
        HK_LIST_FOR_EACH(it, &j->processes) vec_push(&processes, &HK_CONTAINER_OF(it, hk_process_t, sibling)->base);
    }
    /* The calling process goes last: killing it ends this program. */
    hk_process_t *self = NULL;
    for (size_t i = 0; i < processes.count; i++) {
        hk_process_t *p = HK_CONTAINER_OF(processes.items[i], hk_process_t, base);
        if (p->kind == HK_PROCESS_SELF) self = p;
        else hk_process_kill(p, return_code);
    }
    /* Jobs left with no children die now, deepest first; the others die when their last child goes. */
    for (size_t i = jobs.count; i-- > 0;) job_settle(as_job(jobs.items[i]));
    if (self != NULL) hk_process_kill(self, return_code);
    vec_release(&processes);
    vec_release(&jobs);
}

void hk_job_critical_process_died(hk_process_t *p) {
    /* ProcessDispatcher::FinishDeadTransition: with RETCODE_NONZERO a clean exit (0) spares the job.  The kill
     * may nest inside another kill; hk_job_kill ignores a job that is already KILLING or DEAD. */
    if (p->critical_job == NULL) return;
    if (p->critical_retcode_nonzero && p->return_code == 0) return;
    hk_job_kill(p->critical_job, ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL);
}

/* zx_job_set_critical (sys_job_set_critical, ProcessDispatcher::SetCriticalToJob): options are 0 or exactly
 * RETCODE_NONZERO (else INVALID_ARGS, before any handle is looked at); the job needs DESTROY, the process WAIT;
 * a process critical to a job already gives ALREADY_BOUND; the job must be the process's job or an ancestor of
 * it (else INVALID_ARGS).  The process's state is not checked: a process already dead simply never fires. */
zx_status_t zx_job_set_critical(zx_handle_t job, uint32_t options, zx_handle_t process) {
    bool retcode_nonzero = false;
    if (options == ZX_JOB_CRITICAL_PROCESS_RETCODE_NONZERO) retcode_nonzero = true;
    else if (options != 0) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *job_obj, *proc_obj;
    zx_status_t status = hk_handle_get(job, ZX_OBJ_TYPE_JOB, ZX_RIGHT_DESTROY, &job_obj, NULL);
    if (status == ZX_OK) status = hk_handle_get(process, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_WAIT, &proc_obj, NULL);
    if (status == ZX_OK) {
        hk_job_t *target = as_job(job_obj);
        hk_process_t *p = HK_CONTAINER_OF(proc_obj, hk_process_t, base);
        status = ZX_ERR_INVALID_ARGS;
        if (p->critical_job != NULL) {
            status = ZX_ERR_ALREADY_BOUND;
        } else {
            for (hk_job_t *j = p->job; j != NULL; j = j->parent) {
                if (j != target) continue;
                hk_object_ref(&target->base); /* released when the process is destroyed */
                p->critical_job = target;
                p->critical_retcode_nonzero = retcode_nonzero;
                status = ZX_OK;
                break;
            }
        }
    }
    hk_unlock();
    return status;
}

zx_status_t zx_job_create(zx_handle_t parent_job, uint32_t options, zx_handle_t *out) {
    if (options != 0) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(parent_job, ZX_OBJ_TYPE_JOB, ZX_RIGHT_MANAGE_JOB, &obj, NULL);
    hk_job_t *parent = status == ZX_OK ? as_job(obj) : NULL;
    if (status == ZX_OK && parent->max_height == 0) status = ZX_ERR_OUT_OF_RANGE;
    if (status == ZX_OK && parent->state != HK_JOB_READY) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK && out == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) {
        hk_job_t *job = job_new(parent);
        if (job == NULL) {
            status = ZX_ERR_NO_MEMORY;
        } else {
            status = hk_handle_alloc(&job->base, ZX_DEFAULT_JOB_RIGHTS, out);
            hk_object_unref(&job->base); /* without a handle this was the last reference: it goes away again */
        }
    }
    hk_unlock();
    return status;
}

zx_handle_t zx_job_default(void) {
    hk_lock();
    if (g_default_job_handle == ZX_HANDLE_INVALID) {
        hk_self_process(); /* the calling program lives in the default job */
        if (hk_handle_alloc(&hk_root_job()->base, ZX_DEFAULT_JOB_RIGHTS, &g_default_job_handle) != ZX_OK)
            g_default_job_handle = ZX_HANDLE_INVALID;
    }
    zx_handle_t h = g_default_job_handle;
    hk_unlock();
    return h;
}

/* fork.c: a forked child starts with a new root job (created at first use) and no default job handle. */
void hk_job_after_fork(void) {
    g_root_job = NULL;
    g_default_job_handle = ZX_HANDLE_INVALID;
}
