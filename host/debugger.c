#define _GNU_SOURCE /* pread64 on /proc/<pid>/mem */
/* The debugger's system calls: zx_thread_read_state / zx_thread_write_state and zx_process_read_memory /
 * zx_process_write_memory.
 *
 * Thread state, as sys_thread_read_state / sys_thread_write_state (zircon/kernel/lib/syscalls/task.cc) and
 * ThreadDispatcher::ReadState / WriteState (zircon/kernel/object/thread_dispatcher.cc), in their order:
 *   1. the handle, typed: BAD_HANDLE, WRONG_TYPE, then ACCESS_DENIED without ZX_RIGHT_READ (read) / ZX_RIGHT_WRITE
 *      (write);
 *   2. the kind: anything but GENERAL_REGS, FP_REGS, VECTOR_REGS, DEBUG_REGS and SINGLE_STEP is INVALID_ARGS;
 *   3. a buffer smaller than the kind's record is BUFFER_TOO_SMALL (a larger one is fine: the record's size is
 *      used);
 *   4. write: the buffer is copied in (NULL: INVALID_ARGS, as a faulting copy_from_user);
 *   5. the registers must be available (SuspendedOrInExceptionLocked, here hk_thread_regs_available): else BAD_STATE;
 *   6. write SINGLE_STEP: a value other than 0 or 1 is INVALID_ARGS (arch_set_single_step);
 *   7. the backend moves the registers (NOT_SUPPORTED where it cannot: DEBUG_REGS; threads of this program but
 *      for the general registers of one parked in its park signal's handler, self_thread.c);
 *   8. read: the record is copied out (NULL: INVALID_ARGS, as a faulting copy_to_user).
 * Zircon refuses to write DEBUG_REGS and SINGLE_STEP (kind & ZX_THREAD_STATE_DEBUG_REGS) with NOT_SUPPORTED unless
 * the kernel was booted with debugging syscalls enabled; the host kernel is a debugging kernel in that respect.
 *
 * Process memory, as sys_process_read_memory / sys_process_write_memory (same file):
 *   1. a NULL buffer, a size of 0 or one over 64 MiB: INVALID_ARGS;
 *   2. the handle, typed: read needs ZX_RIGHT_READ | ZX_RIGHT_WRITE, write ZX_RIGHT_WRITE;
 *   3. a process whose address space is gone (DEAD) is BAD_STATE;
 *   4. no mapping at vaddr: NO_MEMORY (a process made by zx_process_create has nothing mapped on the host);
 *      writing into the vDSO (here Linux's [vdso] and [vvar], and [vsyscall]) is ACCESS_DENIED;
 *   5. the transfer is cut at the end of the mapping that holds vaddr, and *actual says how much moved; a transfer
 *      that moves nothing is NO_MEMORY; a NULL actual is INVALID_ARGS after the transfer (copy_to_user).
 * Zircon reads and writes the VMO behind the mapping, whatever the mapping's protection: a debugger plants a
 * breakpoint in read-only code that way.  /proc/<pid>/mem does the same on Linux (FOLL_FORCE), so it is used for
 * both directions (a spawned program is our tracee; this program is itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"

/* ------------------------------------------------------------------------------------------------ thread state */

/* The record size of a kind, 0 for an unknown kind. */
static size_t state_size(uint32_t kind) {
    switch (kind) {
#if defined(__x86_64__) || defined(__aarch64__)
    case ZX_THREAD_STATE_GENERAL_REGS: return sizeof(zx_thread_state_general_regs_t);
    case ZX_THREAD_STATE_FP_REGS: return sizeof(zx_thread_state_fp_regs_t);
    case ZX_THREAD_STATE_VECTOR_REGS: return sizeof(zx_thread_state_vector_regs_t);
    case ZX_THREAD_STATE_DEBUG_REGS: return sizeof(zx_thread_state_debug_regs_t);
#endif
    case ZX_THREAD_STATE_SINGLE_STEP: return sizeof(zx_thread_state_single_step_t);
    default: return 0;
    }
}

/* Large enough and aligned for every record. */
typedef union {
#if defined(__x86_64__) || defined(__aarch64__)
    zx_thread_state_general_regs_t general;
    zx_thread_state_fp_regs_t fp;
    zx_thread_state_vector_regs_t vector;
    zx_thread_state_debug_regs_t debug;
#endif
    zx_thread_state_single_step_t single_step;
} state_buf_t;

/* Steps 1 to 3 under the lock: the thread with a reference for the caller. */
static zx_status_t state_begin(zx_handle_t handle, zx_rights_t rights, uint32_t kind, size_t buffer_size,
                               hk_thread_t **out) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_THREAD, rights, &obj, NULL);
    size_t need = state_size(kind);
    if (status == ZX_OK && need == 0) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && buffer_size < need) status = ZX_ERR_BUFFER_TOO_SMALL;
    if (status == ZX_OK) {
        *out = HK_CONTAINER_OF(obj, hk_thread_t, base);
        hk_object_ref(obj);
    }
    hk_unlock();
    return status;
}

/* Steps 5 and 6 under the lock, then the backend without it; drops the caller's reference. */
static zx_status_t state_transfer(hk_thread_t *t, uint32_t kind, state_buf_t *buf, bool write) {
    hk_lock();
    zx_status_t status = ZX_OK;
    if (!hk_thread_regs_available(t)) status = ZX_ERR_BAD_STATE;
    else if (write && kind == ZX_THREAD_STATE_SINGLE_STEP && buf->single_step > 1) status = ZX_ERR_INVALID_ARGS;
    else if (write ? t->ops->write_state == NULL : t->ops->read_state == NULL) status = ZX_ERR_NOT_SUPPORTED;
    hk_unlock();
    if (status == ZX_OK) status = write ? t->ops->write_state(t, kind, buf) : t->ops->read_state(t, kind, buf);
    hk_lock();
    hk_object_unref(&t->base);
    hk_unlock();
    return status;
}

zx_status_t zx_thread_read_state(zx_handle_t handle, uint32_t kind, void *buffer, size_t buffer_size) {
    hk_thread_t *t;
    zx_status_t status = state_begin(handle, ZX_RIGHT_READ, kind, buffer_size, &t);
    if (status != ZX_OK) return status;
    state_buf_t buf;
    memset(&buf, 0, sizeof buf);
    status = state_transfer(t, kind, &buf, false);
    if (status != ZX_OK) return status;
    if (buffer == NULL) return ZX_ERR_INVALID_ARGS;
    memcpy(buffer, &buf, state_size(kind));
    return ZX_OK;
}

zx_status_t zx_thread_write_state(zx_handle_t handle, uint32_t kind, const void *buffer, size_t buffer_size) {
    hk_thread_t *t;
    zx_status_t status = state_begin(handle, ZX_RIGHT_WRITE, kind, buffer_size, &t);
    if (status != ZX_OK) return status;
    state_buf_t buf;
    if (buffer == NULL) {
        hk_lock();
        hk_object_unref(&t->base);
        hk_unlock();
        return ZX_ERR_INVALID_ARGS;
    }
    memcpy(&buf, buffer, state_size(kind)); /* copied in without the lock */
    return state_transfer(t, kind, &buf, true);
}

/* ------------------------------------------------------------------------------------------------ process memory */

#define HK_MAX_DEBUG_BLOCK ((size_t)64 * 1024 * 1024) /* kMaxDebugReadBlock / kMaxDebugWriteBlock */

/* The mapping of pid holding vaddr, from /proc/<pid>/maps: its end, and whether it is the vDSO (or [vvar],
 * [vsyscall]).  false when nothing is mapped there. */
typedef struct {
    uint64_t vaddr, end;
    bool found, vdso;
} mapping_query_t;

static bool mapping_holding(void *ctx, uint64_t lo, uint64_t hi, const char *name) {
    mapping_query_t *q = ctx;
    if (q->vaddr < lo || q->vaddr >= hi) return true;
    q->found = true;
    q->end = hi;
    q->vdso = strncmp(name, "[vdso]", 6) == 0 || strncmp(name, "[vvar", 5) == 0 || strncmp(name, "[vsyscall]", 10) == 0;
    return false;
}

static bool find_mapping(pid_t pid, zx_vaddr_t vaddr, uint64_t *end, bool *vdso) {
    mapping_query_t q = {.vaddr = vaddr};
    if (!hk_proc_maps(pid, mapping_holding, &q) || !q.found) return false;
    *end = q.end;
    *vdso = q.vdso;
    return true;
}

static zx_status_t memory_transfer(zx_handle_t handle, zx_rights_t rights, zx_vaddr_t vaddr, void *rbuf,
                                   const void *wbuf, size_t size, size_t *actual) {
    if ((rbuf == NULL && wbuf == NULL) || size == 0 || size > HK_MAX_DEBUG_BLOCK) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_PROCESS, rights, &obj, NULL);
    hk_process_t *p = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_process_t, base) : NULL;
    pid_t pid = 0;
    if (status == ZX_OK && p->state == HK_PROCESS_DEAD) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK) {
        pid = p->ops->pid(p);
        hk_object_ref(obj);
    }
    hk_unlock();
    if (status != ZX_OK) return status;

    uint64_t end = 0;
    bool vdso = false;
    int fd = -1;
    if (pid <= 0 || !find_mapping(pid, vaddr, &end, &vdso)) status = ZX_ERR_NO_MEMORY;
    else if (wbuf != NULL && vdso) status = ZX_ERR_ACCESS_DENIED;
    if (status == ZX_OK) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        fd = open(path, (wbuf != NULL ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) status = errno == EACCES || errno == EPERM ? ZX_ERR_ACCESS_DENIED : ZX_ERR_BAD_STATE;
    }
    /* The open file holds that process's memory: if p is still not dead, pid was still p's when it was opened. */
    hk_lock();
    if (status == ZX_OK && p->state == HK_PROCESS_DEAD) status = ZX_ERR_BAD_STATE;
    hk_object_unref(obj);
    hk_unlock();

    size_t done = 0;
    if (status == ZX_OK) {
        if (size > end - vaddr) size = (size_t)(end - vaddr); /* one mapping, as Zircon's one VMO */
        while (done < size) {
            ssize_t n = wbuf != NULL ? pwrite(fd, (const char *)wbuf + done, size - done, (off_t)(vaddr + done))
                                     : pread(fd, (char *)rbuf + done, size - done, (off_t)(vaddr + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; /* EIO: a page that cannot be reached (beyond a file's end) */
            done += (size_t)n;
        }
        if (done == 0) status = ZX_ERR_NO_MEMORY;
    }
    if (fd >= 0) close(fd);
    if (status != ZX_OK) return status;
    if (actual == NULL) return ZX_ERR_INVALID_ARGS;
    *actual = done;
    return ZX_OK;
}

zx_status_t zx_process_read_memory(zx_handle_t handle, zx_vaddr_t vaddr, void *buffer, size_t buffer_size,
                                   size_t *actual) {
    if (buffer == NULL) return ZX_ERR_INVALID_ARGS;
    return memory_transfer(handle, ZX_RIGHT_READ | ZX_RIGHT_WRITE, vaddr, buffer, NULL, buffer_size, actual);
}

zx_status_t zx_process_write_memory(zx_handle_t handle, zx_vaddr_t vaddr, const void *buffer, size_t buffer_size,
                                    size_t *actual) {
    if (buffer == NULL) return ZX_ERR_INVALID_ARGS;
    return memory_transfer(handle, ZX_RIGHT_WRITE, vaddr, NULL, buffer, buffer_size, actual);
}
