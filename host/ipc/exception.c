/* Exceptions: zx_task_create_exception_channel, zx_exception_get_thread / _process, the exception object and its
 * properties (ZX_PROP_EXCEPTION_STATE / _STRATEGY), and the handler chain a raised exception goes down.
 *
 * Zircon rules kept here:
 * - zx_task_create_exception_channel (zircon/kernel/lib/syscalls/exceptions.cc): options other than
 *   ZX_EXCEPTION_CHANNEL_DEBUGGER are INVALID_ARGS; the handle needs INSPECT|DUPLICATE|TRANSFER|MANAGE_THREAD
 *   (BAD_HANDLE, ACCESS_DENIED); a job or process picks its debugger or standard channel, a thread has only a
 *   standard one (DEBUGGER: INVALID_ARGS), any other type is WRONG_TYPE; a job or process handle also needs
 *   ENUMERATE (ACCESS_DENIED); then the channel binds (exceptionate.cc SetChannel): BAD_STATE once the task is dead,
 *   ALREADY_BOUND while a channel whose user end is open is bound (a channel whose peer closed is replaced).  The
 *   user end gets the channel's rights & (TRANSFER|WAIT|READ).  The task handles an exception hands out get the
 *   rights of the handle the channel was made with; a thread's channel gives no process handle.
 * - The handler chain (zircon/kernel/object/exception.cc ExceptionHandlerIterator): the process's debugger channel,
 *   the thread's, the process's, then the standard channel of each job from the process's job up to the root.  The
 *   exception goes to the first bound channel as a zx_exception_info_t {pid, tid, type} and one exception handle
 *   (ZX_DEFAULT_EXCEPTION_RIGHTS; exceptionate.cc SendException).  When that handle's last copy is closed
 *   (ExceptionDispatcher::on_zero_handles) the state decides: HANDLED resumes the thread, TRY_NEXT (the default)
 *   passes the exception to the next channel; with none left the process is killed with
 *   ZX_TASK_RETCODE_EXCEPTION_KILL (dispatch_user_exception).  A channel whose reader closed counts as unbound
 *   (PEER_CLOSED collapses into ZX_ERR_NEXT); a message left unread in a channel that is closed drops its handle,
 *   which is the same as TRY_NEXT.
 * - ZX_EXCEPTION_STRATEGY_SECOND_CHANCE (settable only while the process's debugger channel holds the exception):
 *   after the thread and process channels pass it, the debugger gets it once more before the jobs.
 * - ZX_EXCP_THREAD_STARTING / _EXITING go to the process's debugger channel only, and the thread goes on whatever
 *   the state (a "single shot": ThreadDispatcher::HandleSingleShotException).
 * - Properties (sys_object_get/set_property): a value under 4 bytes is BUFFER_TOO_SMALL, any object other than an
 *   exception WRONG_TYPE, an unknown value INVALID_ARGS.
 *
 * Host differences: ZX_EXCP_THREAD_EXITING reaches the debugger channel, but the thread does not wait for it to be
 * handled (Linux has already begun ending it: on Zircon, likewise, a thread of a dying process does not wait); an
 * exception whose chain had no channel at all is not the kernel's to end -- the raise says so
 * (false) and the backend lets the Linux signal take its course, as before exceptions existed (so a program's own
 * signal handler still runs).  ZX_EXCEPTION_STATE_THREAD_EXIT ends the thread instead of resuming it (the backend
 * has the thread call exit(2) itself: linux_exception.c); its value is spelled out because the 2021 headers lack it.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

typedef enum {
    STAGE_DEBUGGER,        /* the process's debugger channel */
    STAGE_THREAD,
    STAGE_PROCESS,
    STAGE_SECOND_DEBUGGER, /* the debugger again, if it asked for a second chance */
    STAGE_JOB,             /* next_job's standard channel, then its parent's... */
    STAGE_DONE,
} stage_t;

typedef struct hk_exception {
    hk_object_t base;
    hk_thread_t *thread;         /* holds a reference */
    zx_excp_type_t type;
    uint32_t state;              /* ZX_EXCEPTION_STATE_*, reset to TRY_NEXT at each delivery */
    bool second_chance;          /* ZX_EXCEPTION_STRATEGY_SECOND_CHANCE was set */
    bool single_shot;            /* THREAD_STARTING / _EXITING: the debugger only, the thread goes on regardless */
    bool over;                   /* resolved, or the thread died: closing the handle does nothing more */
    uint32_t holder;             /* ZX_EXCEPTION_CHANNEL_TYPE_* of the channel holding it now, NONE between */
    stage_t next;                /* where the chain goes on */
    hk_job_t *next_job;          /* STAGE_JOB: holds a reference */
    zx_rights_t thread_rights, process_rights; /* of the channel it was last sent through */
} hk_exception_t;

static hk_exception_t *as_exception(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_exception_t, base); }

static void exception_on_zero_handles(hk_object_t *obj);

static void exception_destroy(hk_object_t *obj) {
    hk_exception_t *e = as_exception(obj);
    if (e->next_job != NULL) hk_object_unref(&e->next_job->base);
    hk_object_unref(&e->thread->base);
    free(e);
}

static zx_koid_t exception_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t exception_ops = {
    .on_zero_handles = exception_on_zero_handles,
    .destroy = exception_destroy,
    .related_koid = exception_related_koid,
};

/* ------------------------------------------------------------------------------------------------ delivery */

/* Lock held.  Send e through x: true if a handler has it now.  A channel whose user end closed is unbound. */
static bool send(hk_exception_t *e, hk_exceptionate_t *x, uint32_t channel_type) {
    if (x->channel == NULL) return false;
    if (hk_channel_peer_closed(x->channel)) {
        hk_object_t *ch = x->channel;
        x->channel = NULL;
        hk_handle_drop(ch);
        return false;
    }
    hk_thread_t *t = e->thread;
    zx_exception_info_t info;
    memset(&info, 0, sizeof(info));
    info.pid = t->process->base.koid;
    info.tid = t->base.koid;
    info.type = e->type;
    e->thread_rights = x->thread_rights;
    e->process_rights = x->process_rights;
    e->state = ZX_EXCEPTION_STATE_TRY_NEXT;
    e->holder = channel_type;
    t->exception_channel_type = channel_type;
    if (hk_channel_write_kernel(x->channel, &info, sizeof(info), &e->base, ZX_DEFAULT_EXCEPTION_RIGHTS) != ZX_OK) {
        e->holder = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
        t->exception_channel_type = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
        return false;
    }
    return true;
}

/* Lock held.  Send e to the next handler of the chain; false when none is left. */
static bool deliver_next(hk_exception_t *e) {
    hk_thread_t *t = e->thread;
    hk_process_t *p = t->process;
    for (;;) {
        switch (e->next) {
        case STAGE_DEBUGGER:
            e->next = e->single_shot ? STAGE_DONE : STAGE_THREAD;
            if (send(e, &p->exceptionates[HK_EXCEPTIONATE_DEBUGGER], ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER)) return true;
            break;
        case STAGE_THREAD:
            e->next = STAGE_PROCESS;
            if (send(e, &t->exceptionate, ZX_EXCEPTION_CHANNEL_TYPE_THREAD)) return true;
            break;
        case STAGE_PROCESS:
            e->next = e->second_chance ? STAGE_SECOND_DEBUGGER : STAGE_JOB;
            e->next_job = p->job;
            hk_object_ref(&p->job->base);
            if (send(e, &p->exceptionates[HK_EXCEPTIONATE_STANDARD], ZX_EXCEPTION_CHANNEL_TYPE_PROCESS)) return true;
            break;
        case STAGE_SECOND_DEBUGGER:
            e->next = STAGE_JOB;
            if (send(e, &p->exceptionates[HK_EXCEPTIONATE_DEBUGGER], ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER)) return true;
            break;
        case STAGE_JOB: {
            hk_job_t *job = e->next_job;
            if (job == NULL) {
                e->next = STAGE_DONE;
                break;
            }
            e->next_job = job->parent;
            if (job->parent != NULL) hk_object_ref(&job->parent->base);
            bool sent = send(e, &job->exceptionates[HK_EXCEPTIONATE_STANDARD], ZX_EXCEPTION_CHANNEL_TYPE_JOB);
            hk_object_unref(&job->base);
            if (sent) return true;
            break;
        }
        case STAGE_DONE: return false;
        }
    }
}

/* ZX_EXCEPTION_STATE_THREAD_EXIT's value (2), spelled out: the 2021 headers do not name it. */
#define HK_EXCEPTION_STATE_THREAD_EXIT 2u

/* Lock held.  The exception is over: the thread leaves it; the backend lets it run (handled: the cause is dropped). */
static void finish(hk_exception_t *e, int how) {
    hk_thread_t *t = e->thread;
    e->over = true;
    e->holder = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    if (t->exception == &e->base) {
        t->exception = NULL;
        t->exception_channel_type = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
        if (t->ops->exception_resolved != NULL) t->ops->exception_resolved(t, how);
        hk_object_unref(&e->base); /* the thread's reference */
    }
}

/* The handler closed the last handle of the exception (ExceptionDispatcher::on_zero_handles, then the thread's
 * loop in exception_handler_worker). */
static void exception_on_zero_handles(hk_object_t *obj) {
    hk_exception_t *e = as_exception(obj);
    if (e->over) return;
    hk_thread_t *t = e->thread;
    e->holder = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    t->exception_channel_type = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    if (e->state == HK_EXCEPTION_STATE_THREAD_EXIT) { /* the thread exits instead of resuming */
        finish(e, HK_EXC_THREAD_EXIT);
        return;
    }
    if (e->single_shot || e->state == ZX_EXCEPTION_STATE_HANDLED) {
        finish(e, e->state == ZX_EXCEPTION_STATE_HANDLED ? HK_EXC_HANDLED : HK_EXC_UNHANDLED);
        return;
    }
    if (t->process->state == HK_PROCESS_RUNNING && deliver_next(e)) return;
    /* No handler resumed it: the process dies of it (dispatch_user_exception). */
    hk_process_kill(t->process, ZX_TASK_RETCODE_EXCEPTION_KILL);
    finish(e, HK_EXC_UNHANDLED);
}

/* hk_exception_ops_t.raise */
static bool exception_raise(hk_thread_t *t, const zx_exception_report_t *report) {
    if (t->exception != NULL || t->state == HK_THREAD_DEAD || t->process->state != HK_PROCESS_RUNNING) return false;
    hk_exception_t *e = calloc(1, sizeof(*e));
    if (e == NULL) return false;
    hk_object_init(&e->base, ZX_OBJ_TYPE_EXCEPTION, &exception_ops);
    e->thread = t;
    hk_object_ref(&t->base);
    e->type = report->header.type;
    e->single_shot = (e->type & ZX_EXCP_SYNTH) != 0 && e->type != ZX_EXCP_POLICY_ERROR;
    e->next = STAGE_DEBUGGER;
    e->state = ZX_EXCEPTION_STATE_TRY_NEXT;
    /* The thread is in the exception while it goes down the chain (AutoBlocked(EXCEPTION)): its reference. */
    t->exception = &e->base;
    t->exception_report = *report;
    t->exception_report.header.size = sizeof(*report);
    hk_object_ref(&e->base);
    bool sent = deliver_next(e);
    if (sent && e->type == ZX_EXCP_THREAD_EXITING) {
        /* The debugger is told, but the thread does not wait: on the host it is already on its way out (see the
         * header comment), as a thread of a dying process does not wait on Zircon. */
        sent = false;
    }
    if (!sent) {
        /* Nobody ever saw it: not the kernel's to end on the host (the header comment). */
        e->over = true;
        t->exception = NULL;
        t->exception_channel_type = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
        hk_object_unref(&e->base);
    }
    hk_object_unref(&e->base); /* the creation reference: the message's handle and the thread's keep it */
    return sent;
}

/* hk_exception_ops_t.thread_dead: it was killed while in the exception. */
static void exception_thread_dead(hk_thread_t *t) {
    hk_exception_t *e = as_exception(t->exception);
    e->over = true;
    e->holder = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    t->exception = NULL;
    t->exception_channel_type = ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    hk_object_unref(&e->base);
}

/* ------------------------------------------------------------------------------------------------ properties */

static zx_status_t exception_get_property(hk_object_t *obj, uint32_t property, void *value, size_t value_size) {
    if (value_size < sizeof(uint32_t)) return ZX_ERR_BUFFER_TOO_SMALL;
    if (obj->type != ZX_OBJ_TYPE_EXCEPTION) return ZX_ERR_WRONG_TYPE;
    hk_exception_t *e = as_exception(obj);
    uint32_t word;
    if (property == ZX_PROP_EXCEPTION_STATE) word = e->state;
    else word = e->second_chance ? ZX_EXCEPTION_STRATEGY_SECOND_CHANCE : ZX_EXCEPTION_STRATEGY_FIRST_CHANCE;
    memcpy(value, &word, sizeof(word));
    return ZX_OK;
}


static zx_status_t exception_set_property(hk_object_t *obj, uint32_t property, const void *value, size_t value_size) {
    if (value_size < sizeof(uint32_t)) return ZX_ERR_BUFFER_TOO_SMALL;
    if (obj->type != ZX_OBJ_TYPE_EXCEPTION) return ZX_ERR_WRONG_TYPE;
    hk_exception_t *e = as_exception(obj);
    uint32_t word;
    memcpy(&word, value, sizeof(word));
    if (property == ZX_PROP_EXCEPTION_STATE) {
        if (word != ZX_EXCEPTION_STATE_HANDLED && word != ZX_EXCEPTION_STATE_TRY_NEXT &&
            word != HK_EXCEPTION_STATE_THREAD_EXIT)
            return ZX_ERR_INVALID_ARGS;
        e->state = word;
        return ZX_OK;
    }
    if (word == ZX_EXCEPTION_STRATEGY_FIRST_CHANCE) {
        e->second_chance = false;
        return ZX_OK;
    }
    if (word != ZX_EXCEPTION_STRATEGY_SECOND_CHANCE) return ZX_ERR_INVALID_ARGS;
    /* Only the process's debugger may ask for a second look, while it holds the exception. */
    if (e->holder != ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER || e->next != STAGE_THREAD) return ZX_ERR_BAD_STATE;
    e->second_chance = true;
    return ZX_OK;
}

static const hk_exception_ops_t g_ops = {
    .raise = exception_raise,
    .get_property = exception_get_property,
    .set_property = exception_set_property,
    .thread_dead = exception_thread_dead,
};

__attribute__((constructor)) static void register_exception_ops(void) { hk_exception_register_ops(&g_ops); }

/* ------------------------------------------------------------------------------------------------ syscalls */

#define CHANNEL_NEEDS (ZX_RIGHT_INSPECT | ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_MANAGE_THREAD)
#define USER_END_RIGHTS (ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_READ)

zx_status_t zx_task_create_exception_channel(zx_handle_t handle, uint32_t options, zx_handle_t *out) {
    if ((options & ~ZX_EXCEPTION_CHANNEL_DEBUGGER) != 0) return ZX_ERR_INVALID_ARGS;
    bool debugger = (options & ZX_EXCEPTION_CHANNEL_DEBUGGER) != 0;
    hk_lock();
    hk_object_t *obj;
    zx_rights_t task_rights = 0;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, CHANNEL_NEEDS, &obj, &task_rights);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    zx_rights_t process_rights = task_rights;
    hk_exceptionate_t *x = NULL;
    bool job_or_process = true;
    int kind = debugger ? HK_EXCEPTIONATE_DEBUGGER : HK_EXCEPTIONATE_STANDARD;
    switch (obj->type) {
    case ZX_OBJ_TYPE_JOB: x = &HK_CONTAINER_OF(obj, hk_job_t, base)->exceptionates[kind]; break;
    case ZX_OBJ_TYPE_PROCESS: x = &HK_CONTAINER_OF(obj, hk_process_t, base)->exceptionates[kind]; break;
    case ZX_OBJ_TYPE_THREAD:
        if (debugger) status = ZX_ERR_INVALID_ARGS;
        process_rights = 0; /* no access up the task chain from a thread's channel */
        job_or_process = false;
        x = &HK_CONTAINER_OF(obj, hk_thread_t, base)->exceptionate;
        break;
    default: status = ZX_ERR_WRONG_TYPE; break;
    }
    if (status == ZX_OK && job_or_process && (task_rights & ZX_RIGHT_ENUMERATE) == 0) status = ZX_ERR_ACCESS_DENIED;
    if (status == ZX_OK && out == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && x->shutdown) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK && x->channel != NULL && !hk_channel_peer_closed(x->channel)) status = ZX_ERR_ALREADY_BOUND;
    hk_object_t *kernel_end = NULL, *user_end = NULL;
    if (status == ZX_OK) status = hk_channel_create_kernel(&kernel_end, &user_end);
    if (status == ZX_OK) {
        status = hk_handle_give(user_end, ZX_DEFAULT_CHANNEL_RIGHTS & USER_END_RIGHTS, out);
        if (status != ZX_OK) {
            hk_handle_drop(user_end);
            hk_handle_drop(kernel_end);
        }
    }
    if (status == ZX_OK) {
        if (x->channel != NULL) hk_handle_drop(x->channel); /* a dead channel (its reader closed) is replaced */
        x->channel = kernel_end;
        x->thread_rights = task_rights;
        x->process_rights = process_rights;
    }
    hk_unlock();
    return status;
}

/* sys_exception_get_thread / _process: the handle is an exception (BAD_HANDLE, WRONG_TYPE; no rights needed); the
 * task handle has the rights of the channel it came through, ACCESS_DENIED when those are none. */
static zx_status_t exception_get_task(zx_handle_t handle, bool process, zx_handle_t *out) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_EXCEPTION, ZX_RIGHT_NONE, &obj, NULL);
    if (status == ZX_OK) {
        hk_exception_t *e = as_exception(obj);
        zx_rights_t rights = process ? e->process_rights : e->thread_rights;
        if (rights == 0) status = ZX_ERR_ACCESS_DENIED;
        else if (out == NULL) status = ZX_ERR_INVALID_ARGS;
        else status = hk_handle_alloc(process ? &e->thread->process->base : &e->thread->base, rights, out);
    }
    hk_unlock();
    return status;
}

zx_status_t zx_exception_get_thread(zx_handle_t handle, zx_handle_t *out) { return exception_get_task(handle, false, out); }

zx_status_t zx_exception_get_process(zx_handle_t handle, zx_handle_t *out) { return exception_get_task(handle, true, out); }
