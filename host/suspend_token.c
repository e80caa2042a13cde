/* Suspend tokens and zx_task_suspend.
 *
 * Zircon rules kept here (zircon/kernel/lib/syscalls/task.cc sys_task_suspend,
 * zircon/kernel/object/{thread,process,suspend_token}_dispatcher.cc): rights before type (untyped lookup needing
 * ZX_RIGHT_WRITE); threads and processes only (jobs included in WRONG_TYPE); the calling thread or process gives
 * NOT_SUPPORTED; a dying or dead task gives BAD_STATE; an unstarted task may be suspended.  The token has
 * TRANSFER|INSPECT only, and the task resumes when the token loses its last handle, not on every close.
 */
#include <stdlib.h>

#include "kernel.h"

typedef struct {
    hk_object_t base;
    hk_object_t *task; /* the suspended thread or process; the token keeps it alive */
} hk_suspend_token_t;

static void apply_suspension(hk_object_t *task) {
    if (task->type == ZX_OBJ_TYPE_THREAD) {
        hk_thread_update_suspension(HK_CONTAINER_OF(task, hk_thread_t, base));
        return;
    }
    hk_process_t *p = HK_CONTAINER_OF(task, hk_process_t, base);
    HK_LIST_FOR_EACH(it, &p->threads) hk_thread_update_suspension(HK_CONTAINER_OF(it, hk_thread_t, sibling));
}

static void token_on_zero_handles(hk_object_t *obj) {
    hk_suspend_token_t *token = HK_CONTAINER_OF(obj, hk_suspend_token_t, base);
    hk_object_t *task = token->task;
    if (task->type == ZX_OBJ_TYPE_THREAD) {
        HK_CONTAINER_OF(task, hk_thread_t, base)->suspend_count--;
    } else {
        HK_CONTAINER_OF(task, hk_process_t, base)->suspend_count--;
    }
    apply_suspension(task); /* a dead task ignores it: closing a token after death is a no-op */
}

static void token_destroy(hk_object_t *obj) {
    hk_suspend_token_t *token = HK_CONTAINER_OF(obj, hk_suspend_token_t, base);
    hk_object_unref(token->task);
    free(token);
}

static zx_koid_t token_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t token_ops = {
    .on_zero_handles = token_on_zero_handles,
    .destroy = token_destroy,
    .related_koid = token_related_koid,
};

/* The checks of zx_task_suspend after the handle lookup; ZX_OK when obj may be suspended. */
static zx_status_t check_suspendable(hk_object_t *obj) {
    if (obj->type == ZX_OBJ_TYPE_THREAD) {
        hk_thread_t *t = HK_CONTAINER_OF(obj, hk_thread_t, base);
        if (t == hk_cpu.thread) return ZX_ERR_NOT_SUPPORTED; /* it would never get its token back */
        if (t->state == HK_THREAD_DYING || t->state == HK_THREAD_DEAD) return ZX_ERR_BAD_STATE;
        return ZX_OK;
    }
    if (obj->type == ZX_OBJ_TYPE_PROCESS) {
        hk_process_t *p = HK_CONTAINER_OF(obj, hk_process_t, base);
        if (hk_is_current_process(p)) return ZX_ERR_NOT_SUPPORTED;
        if (p->state == HK_PROCESS_DYING || p->state == HK_PROCESS_DEAD) return ZX_ERR_BAD_STATE;
        return ZX_OK;
    }
    return ZX_ERR_WRONG_TYPE;
}

zx_status_t zx_task_suspend(zx_handle_t handle, zx_handle_t *token) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_WRITE, &obj, NULL);
    if (status == ZX_OK) status = check_suspendable(obj);
    if (status == ZX_OK && token == NULL) status = ZX_ERR_INVALID_ARGS;
    hk_suspend_token_t *t = NULL;
    if (status == ZX_OK && (t = calloc(1, sizeof(*t))) == NULL) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK) {
        hk_object_init(&t->base, ZX_OBJ_TYPE_SUSPEND_TOKEN, &token_ops);
        t->task = obj;
        hk_object_ref(obj);
        status = hk_handle_alloc(&t->base, ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS, token);
        if (status == ZX_OK) {
            if (obj->type == ZX_OBJ_TYPE_THREAD) HK_CONTAINER_OF(obj, hk_thread_t, base)->suspend_count++;
            else HK_CONTAINER_OF(obj, hk_process_t, base)->suspend_count++;
            apply_suspension(obj);
        }
        hk_object_unref(&t->base);
    }
    hk_unlock();
    return status;
}

/* The older name of the same syscall (the kernel's sys_task_suspend_token just calls sys_task_suspend). */
zx_status_t zx_task_suspend_token(zx_handle_t handle, zx_handle_t *token) { return zx_task_suspend(handle, token); }
