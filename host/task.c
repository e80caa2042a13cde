/* zx_task_kill.
 *
 * Zircon rules kept here (zircon/kernel/lib/syscalls/task.cc sys_task_kill, not the NOT_SUPPORTED for threads of
 * docs/reference/syscalls/task_kill.md): the handle is looked up untyped needing
 * ZX_RIGHT_DESTROY, so BAD_HANDLE, then ACCESS_DENIED, then the type: jobs and processes are killed with
 * ZX_TASK_RETCODE_SYSCALL_KILL; anything else, threads included, is WRONG_TYPE.  Killing a dead task is ZX_OK.
 */
#include "kernel.h"

zx_status_t zx_task_kill(zx_handle_t handle) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_DESTROY, &obj, NULL);
    if (status == ZX_OK) {
        switch (obj->type) {
        case ZX_OBJ_TYPE_JOB:
            hk_job_kill(HK_CONTAINER_OF(obj, hk_job_t, base), ZX_TASK_RETCODE_SYSCALL_KILL);
            break;
        case ZX_OBJ_TYPE_PROCESS:
            hk_process_kill(HK_CONTAINER_OF(obj, hk_process_t, base), ZX_TASK_RETCODE_SYSCALL_KILL);
            break;
        default:
            status = ZX_ERR_WRONG_TYPE;
            break;
        }
    }
    hk_unlock();
    return status;
}
