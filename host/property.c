/* zx_object_get_property / zx_object_set_property: ZX_PROP_NAME, ZX_PROP_PROCESS_DEBUG_ADDR and
 * ZX_PROP_PROCESS_BREAK_ON_LOAD.
 *
 * As sys_object_get_property / sys_object_set_property (zircon/kernel/lib/syscalls/object.cc):
 *   1. a NULL value pointer is INVALID_ARGS, before the handle is looked up;
 *   2. the handle is looked up without a type, needing GET_PROPERTY / SET_PROPERTY: BAD_HANDLE, then ACCESS_DENIED;
 *   3. an unknown property is NOT_SUPPORTED (the other ZX_PROP_* of Zircon concern objects or registers the host
 *      kernel does not have, so every property but the three here is unknown);
 *   4. ZX_PROP_NAME, get: a buffer smaller than ZX_MAX_NAME_LEN is BUFFER_TOO_SMALL (checked before the type),
 *      then the object's name is copied out as all ZX_MAX_NAME_LEN bytes, NUL-padded;
 *      set: a size of ZX_MAX_NAME_LEN or more is cut to ZX_MAX_NAME_LEN - 1 bytes, which are stored as given.
 *   Objects without a name give WRONG_TYPE from both (Dispatcher::get_name / set_name in
 *   zircon/kernel/object/include/object/dispatcher.h; kernels before 2023 read "" and refused a set with
 *   NOT_SUPPORTED).  Jobs, processes and threads have names (JobDispatcher, ProcessDispatcher, ThreadDispatcher);
 *   events, suspend tokens, VMARs, channels and ports do not.
 *   ZX_PROP_PROCESS_DEBUG_ADDR / ZX_PROP_PROCESS_BREAK_ON_LOAD (the debugger's: where the dynamic linker's r_debug
 *   is, and whether it should trap after each load): a value of uintptr_t; a smaller size is BUFFER_TOO_SMALL
 *   (before the type), anything but a process WRONG_TYPE.  Both read 0 until set.  Setting DEBUG_ADDR to 0 is
 *   INVALID_ARGS, and it can be set only while it is 0 or ZX_PROCESS_DEBUG_ADDR_BREAK_ON_SET, else ACCESS_DENIED
 *   (ProcessDispatcher::set_debug_addr, zircon/kernel/object/process_dispatcher.cc); BREAK_ON_LOAD takes any
 *   value.  On Fuchsia ld.so sets the one and honours the other; on the host they are only stored: no Linux
 *   loader reads or writes them (a debugger finds a Linux program's r_debug through its DT_DEBUG).
 * ZX_PROP_EXCEPTION_STATE and ZX_PROP_EXCEPTION_STRATEGY are the exception object's (ipc/exception.c, through
 * hk_exception_ops_t; NOT_SUPPORTED like any unknown property where exceptions are not built in).
 * Values are copied through local buffers, so no caller memory is touched with the kernel lock held. */
#include <string.h>

#include "kernel.h"

/* Lock held.  The name buffer of an object that has a name (job, process, thread), or NULL for the types Zircon
 * gives none (WRONG_TYPE). */
static char *object_name(hk_object_t *obj) {
    switch (obj->type) {
        case ZX_OBJ_TYPE_JOB:
            return HK_CONTAINER_OF(obj, hk_job_t, base)->name;
        case ZX_OBJ_TYPE_PROCESS:
            return HK_CONTAINER_OF(obj, hk_process_t, base)->name;
        case ZX_OBJ_TYPE_THREAD:
            return HK_CONTAINER_OF(obj, hk_thread_t, base)->name;
        default:
            return NULL;
    }
}

/* Lock held.  The stored word of a process property, or NULL (not a process property). */
static uintptr_t *process_word(hk_object_t *obj, uint32_t property) {
    hk_process_t *p = HK_CONTAINER_OF(obj, hk_process_t, base);
    return property == ZX_PROP_PROCESS_DEBUG_ADDR ? &p->debug_addr : &p->break_on_load;
}

static bool is_process_word(uint32_t property) {
    return property == ZX_PROP_PROCESS_DEBUG_ADDR || property == ZX_PROP_PROCESS_BREAK_ON_LOAD;
}

zx_status_t zx_object_get_property(zx_handle_t handle, uint32_t property, void *value, size_t value_size) {
    if (value == NULL) return ZX_ERR_INVALID_ARGS;
    char name[ZX_MAX_NAME_LEN];
    uintptr_t pword = 0;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_GET_PROPERTY, &obj, NULL);
    uint32_t word = 0;
    bool exception_prop = property == ZX_PROP_EXCEPTION_STATE || property == ZX_PROP_EXCEPTION_STRATEGY;
    if (status == ZX_OK && is_process_word(property)) {
        if (value_size < sizeof(uintptr_t)) status = ZX_ERR_BUFFER_TOO_SMALL;
        else if (obj->type != ZX_OBJ_TYPE_PROCESS) status = ZX_ERR_WRONG_TYPE;
        else pword = *process_word(obj, property);
        hk_unlock();
        if (status == ZX_OK) memcpy(value, &pword, sizeof pword);
        return status;
    }
    if (status == ZX_OK) {
        if (exception_prop && hk_exception_ops != NULL) {
            status = hk_exception_ops->get_property(obj, property, &word, value_size);
        } else if (property != ZX_PROP_NAME) {
            status = ZX_ERR_NOT_SUPPORTED;
        } else if (value_size < ZX_MAX_NAME_LEN) {
            status = ZX_ERR_BUFFER_TOO_SMALL;
        } else {
            const char *own = object_name(obj);
            if (own == NULL) {
                status = ZX_ERR_WRONG_TYPE;
            } else {
                memcpy(name, own, sizeof name);
                name[sizeof name - 1] = '\0';
            }
        }
    }
    hk_unlock();
    if (status == ZX_OK && exception_prop) memcpy(value, &word, sizeof(word));
    else if (status == ZX_OK) memcpy(value, name, ZX_MAX_NAME_LEN);
    return status;
}

zx_status_t zx_object_set_property(zx_handle_t handle, uint32_t property, const void *value, size_t value_size) {
    if (value == NULL) return ZX_ERR_INVALID_ARGS;
    char name[ZX_MAX_NAME_LEN] = {0};
    size_t size = value_size < ZX_MAX_NAME_LEN ? value_size : ZX_MAX_NAME_LEN - 1;
    if (property == ZX_PROP_NAME) memcpy(name, value, size); /* copied in before the lock */
    bool exception_prop = property == ZX_PROP_EXCEPTION_STATE || property == ZX_PROP_EXCEPTION_STRATEGY;
    uint32_t word = 0;
    if (exception_prop && value_size >= sizeof(word)) memcpy(&word, value, sizeof(word));
    uintptr_t pword = 0;
    if (is_process_word(property) && value_size >= sizeof pword) memcpy(&pword, value, sizeof pword);
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_SET_PROPERTY, &obj, NULL);
    if (status == ZX_OK && is_process_word(property)) {
        if (value_size < sizeof pword) {
            status = ZX_ERR_BUFFER_TOO_SMALL;
        } else if (obj->type != ZX_OBJ_TYPE_PROCESS) {
            status = ZX_ERR_WRONG_TYPE;
        } else if (property == ZX_PROP_PROCESS_BREAK_ON_LOAD) {
            *process_word(obj, property) = pword;
        } else if (pword == 0) {
            status = ZX_ERR_INVALID_ARGS;
        } else {
            uintptr_t *addr = process_word(obj, property);
            if (*addr != 0 && *addr != ZX_PROCESS_DEBUG_ADDR_BREAK_ON_SET) status = ZX_ERR_ACCESS_DENIED;
            else *addr = pword;
        }
        hk_unlock();
        return status;
    }
    if (status == ZX_OK && exception_prop && hk_exception_ops != NULL) {
        status = hk_exception_ops->set_property(obj, property, &word, value_size);
    } else if (status == ZX_OK) {
        char *own = property == ZX_PROP_NAME ? object_name(obj) : NULL;
        if (property != ZX_PROP_NAME) {
            status = ZX_ERR_NOT_SUPPORTED;
        } else if (own == NULL) {
            status = ZX_ERR_WRONG_TYPE;
        } else {
            memcpy(own, name, ZX_MAX_NAME_LEN); /* name[size..] are NUL: the name ends at its first NUL */
        }
    }
    hk_unlock();
    return status;
}
