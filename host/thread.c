/* Thread objects: lifecycle, suspension bookkeeping, zx_thread_create and zx_thread_start.
 *
 * Zircon rules kept here (zircon/kernel/object/thread_dispatcher.cc SetStateLocked, Suspend, Resume, MakeRunnable;
 * zircon/kernel/kernel/thread.cc Thread::Suspend): NEW -> RUNNING <-> SUSPENDED -> DYING -> DEAD.
 * No signal before start; from start to death exactly one of THREAD_RUNNING / THREAD_SUSPENDED; DEAD clears both
 * and asserts THREAD_TERMINATED.  A thread runs only while its own token count is 0 and its process's is 0; the
 * change to SUSPENDED is reported by the backend once the OS thread has really stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

static hk_thread_t *as_thread(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_thread_t, base); }

static void thread_destroy(hk_object_t *obj) {
    hk_thread_t *t = as_thread(obj);
    hk_exceptionate_shutdown(&t->exceptionate);
    hk_object_unref(&t->process->base);
    free(t->backend);
    free(t);
}

static zx_koid_t thread_related_koid(const hk_object_t *obj) {
    return HK_CONTAINER_OF(obj, const hk_thread_t, base)->process->base.koid;
}

static const hk_object_ops_t thread_ops = {
    .on_zero_handles = NULL, /* a thread lives on without handles */
    .destroy = thread_destroy,
    .related_koid = thread_related_koid,
};

/* Nothing executes, so a stop or resume is immediate. */
static const hk_thread_ops_t unbacked_ops = {
    .request_stop = hk_thread_report_stopped,
    .request_resume = hk_thread_report_running,
    .park_self = NULL,
    .start = NULL,
};

static const hk_thread_ops_t *g_thread_ops[HK_THREAD_KIND_COUNT];

void hk_thread_register_ops(hk_thread_kind_t kind, const hk_thread_ops_t *ops) { g_thread_ops[kind] = ops; }

hk_thread_t *hk_thread_new(hk_process_t *p, hk_thread_kind_t kind, const char *name) {
    hk_thread_t *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    hk_object_init(&t->base, ZX_OBJ_TYPE_THREAD, &thread_ops);
    hk_list_init(&t->sibling);
    t->process = p;
    hk_object_ref(&p->base);
    t->state = HK_THREAD_NEW;
    t->kind = kind;
    t->ops = g_thread_ops[kind] != NULL ? g_thread_ops[kind] : &unbacked_ops;
    snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
    return t;
}

/* Lock held.  What holds t stopped: its own tokens, plus one while its process has any. */
static uint32_t thread_effective_suspend(const hk_thread_t *t) {
    return t->suspend_count + (t->process->suspend_count > 0 ? 1u : 0u);
}

zx_status_t hk_thread_mark_started(hk_thread_t *t) {
    hk_process_t *p = t->process;
    if (p->state == HK_PROCESS_DYING || p->state == HK_PROCESS_DEAD) return ZX_ERR_BAD_STATE;
    if (t->state != HK_THREAD_NEW) return ZX_ERR_BAD_STATE;
    t->state = HK_THREAD_RUNNING;
    hk_object_ref(&t->base); /* the thread list's reference */
    hk_list_add_tail(&p->threads, &t->sibling);
    hk_process_mark_running(p);
    /* THREAD_RUNNING is asserted even when the thread is about to park (StartSuspendedThread). */
    hk_signal_update(&t->base, 0, ZX_THREAD_RUNNING);
    hk_thread_update_suspension(t);
    return ZX_OK;
}

void hk_thread_update_suspension(hk_thread_t *t) {
    if (t->state != HK_THREAD_RUNNING && t->state != HK_THREAD_SUSPENDED) return;
    bool want_stop = thread_effective_suspend(t) > 0;
    if (want_stop == t->stop_requested) return;
    t->stop_requested = want_stop;
    /* A wait_one in progress ends with INTR_RETRY and is issued again after the resume (wait.c); only threads that
     * run host-kernel code (self_thread.c's) ever have one. */
    if (want_stop) hk_wait_interrupt_thread(t);
    if (want_stop) t->ops->request_stop(t);
    else t->ops->request_resume(t);
}

void hk_thread_report_stopped(hk_thread_t *t) {
    if (t->state != HK_THREAD_RUNNING || !t->stop_requested) return;
    t->state = HK_THREAD_SUSPENDED;
    hk_signal_update(&t->base, ZX_THREAD_RUNNING, ZX_THREAD_SUSPENDED);
}

void hk_thread_report_running(hk_thread_t *t) {
    if (t->state != HK_THREAD_SUSPENDED) return;
    t->state = HK_THREAD_RUNNING;
    hk_signal_update(&t->base, ZX_THREAD_SUSPENDED, ZX_THREAD_RUNNING);
}

void hk_thread_report_exited(hk_thread_t *t) {
    if (t->state == HK_THREAD_DEAD || t->state == HK_THREAD_NEW) return;
    t->state = HK_THREAD_DEAD;
    t->stop_requested = false;
    t->blocked = 0;
    t->trap_held = false;
    /* Killed in an exception: it is over without a resume.  At DEAD its exception channel is shut down
     * (ThreadDispatcher's exceptionate_.Shutdown in SetStateLocked(DEAD)). */
    if (t->exception != NULL && hk_exception_ops != NULL) hk_exception_ops->thread_dead(t);
    hk_exceptionate_shutdown(&t->exceptionate);
    /* Its runtime stays readable and fixed, and counts in its process's from now on (RemoveThread).  A last sample
     * is taken unless the backend already took it (the OS thread may be gone: then the previous sample stays). */
    hk_thread_freeze_runtime(t);
    hk_runtime_add(&t->process->exited_runtime, &t->runtime);
    hk_signal_update(&t->base, ZX_THREAD_RUNNING | ZX_THREAD_SUSPENDED, ZX_THREAD_TERMINATED);
    if (t->sibling.next != &t->sibling) {
        hk_list_remove(&t->sibling);
        hk_object_unref(&t->base); /* the thread list's reference */
    }
}

zx_thread_state_t hk_thread_info_state(const hk_thread_t *t) {
    switch (t->state) {
    case HK_THREAD_NEW: return ZX_THREAD_STATE_NEW;
    case HK_THREAD_RUNNING: {
        /* Held at a single-step trap: what Zircon shows for a thread waiting on its single-step exception. */
        if (t->trap_held) return ZX_THREAD_STATE_BLOCKED_EXCEPTION;
        /* In an exception (ThreadDispatcher::AutoBlocked(EXCEPTION) in dispatch_user_exception): it stays so while
         * suspend tokens are taken (it is not SUSPENDED before the exception is over). */
        if (t->exception != NULL) return ZX_THREAD_STATE_BLOCKED_EXCEPTION;
        /* Blocked in the host kernel (recorded exactly), else maybe blocked in Linux (thread_state.c). */
        uint32_t blocked = t->blocked ? t->blocked : hk_thread_os_blocked_state(t);
        return blocked ? blocked : ZX_THREAD_STATE_RUNNING;
    }
    case HK_THREAD_SUSPENDED: return ZX_THREAD_STATE_SUSPENDED;
    case HK_THREAD_DYING: return ZX_THREAD_STATE_DYING;
    case HK_THREAD_DEAD: return ZX_THREAD_STATE_DEAD;
    }
    return ZX_THREAD_STATE_DEAD;
}

/* ------------------------------------------------------------------------------------------------ exceptions */

const hk_exception_ops_t *hk_exception_ops;

void hk_exception_register_ops(const hk_exception_ops_t *ops) { hk_exception_ops = ops; }

bool hk_thread_raise_exception(hk_thread_t *t, const zx_exception_report_t *report) {
    return hk_exception_ops != NULL && hk_exception_ops->raise(t, report);
}

bool hk_thread_in_exception(const hk_thread_t *t) { return t->exception != NULL; }

bool hk_thread_regs_available(const hk_thread_t *t) {
    if (t->state == HK_THREAD_SUSPENDED) return true;
    return t->state == HK_THREAD_RUNNING && (t->trap_held || hk_thread_in_exception(t));
}

/* sys_thread_create (zircon/kernel/lib/syscalls/task.cc): options must be 0, then the name (copy_user_string:
 * NULL is INVALID_ARGS), then the process handle (type, then MANAGE_THREAD).  ThreadDispatcher::Create and
 * Initialize do not look at the process's state: a thread can be created in a dying or dead process (it can never
 * be started there: zx_thread_start gives BAD_STATE).  The handle is written out last. */
zx_status_t zx_thread_create(zx_handle_t process, const char *name, size_t name_size, uint32_t options,
                             zx_handle_t *out) {
    if (options != 0) return ZX_ERR_INVALID_ARGS;
    char buf[ZX_MAX_NAME_LEN];
    if (hk_copy_name(buf, name, name_size) != ZX_OK) return ZX_ERR_INVALID_ARGS;

    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(process, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_MANAGE_THREAD, &obj, NULL);
    hk_process_t *p = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_process_t, base) : NULL;
    if (status == ZX_OK && out == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) {
        /* Only threads of the calling process can run code on the host (self_thread.c). */
        hk_thread_t *t = hk_thread_new(p, p->kind == HK_PROCESS_SELF ? HK_THREAD_SELF : HK_THREAD_UNBACKED, buf);
        if (t == NULL) {
            status = ZX_ERR_NO_MEMORY;
        } else {
            status = hk_handle_alloc(&t->base, ZX_DEFAULT_THREAD_RIGHTS, out);
            hk_object_unref(&t->base);
        }
    }
    hk_unlock();
    return status;
}

/* The highest user address + 1 on x86-64 and arm64 (48-bit user address spaces). */
#define HK_USER_ADDRESS_END ((zx_vaddr_t)1 << 47)

/* sys_thread_start -> ThreadDispatcher::Start -> ProcessDispatcher::AddInitializedThread -> MakeRunnable
 * (zircon/kernel/object/{thread,process}_dispatcher.cc), in that order: the handle (type, then MANAGE_THREAD);
 * the process's state (the first thread needs an INITIAL process, any later one a RUNNING process: BAD_STATE in a
 * dying or dead one); the entry point (arch_is_valid_user_pc: a kernel or non-canonical address is INVALID_ARGS);
 * the thread's own state (started before, or dead: BAD_STATE).  Host limits, after all of those: the entry point 0,
 * which Zircon accepts for a thread that faults at once, is INVALID_ARGS (on the host it would crash the calling
 * program), and a thread of a process that cannot run code on the host is NOT_SUPPORTED. */
zx_status_t zx_thread_start(zx_handle_t handle, zx_vaddr_t thread_entry, zx_vaddr_t stack, uintptr_t arg1,
                            uintptr_t arg2) {
    (void)stack; /* the host runs the entry on a pthread stack of its own */
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_MANAGE_THREAD, &obj, NULL);
    hk_thread_t *t = status == ZX_OK ? as_thread(obj) : NULL;
    if (status == ZX_OK) {
        hk_process_t *p = t->process;
        /* The calling process runs already, with threads the host kernel has not adopted (yet). */
        bool initial = hk_list_empty(&p->threads) && p->kind != HK_PROCESS_SELF;
        if (initial ? p->state != HK_PROCESS_INITIAL : p->state != HK_PROCESS_RUNNING) status = ZX_ERR_BAD_STATE;
    }
    if (status == ZX_OK && thread_entry >= HK_USER_ADDRESS_END) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && t->state != HK_THREAD_NEW) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK && thread_entry == 0) status = ZX_ERR_INVALID_ARGS;
    /* A process made by zx_process_create has no address space on the host to run code in. */
    if (status == ZX_OK && t->ops->start == NULL) status = ZX_ERR_NOT_SUPPORTED;
    if (status == ZX_OK) status = t->ops->start(t, thread_entry, arg1, arg2);
    hk_unlock();
    return status;
}
