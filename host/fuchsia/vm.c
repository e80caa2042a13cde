#define _GNU_SOURCE /* memfd_create, process_vm_readv/writev */
/* VMOs for Fuchsia programs, backed by memfds: see vm.h.
 *
 * A VMO is a host-kernel object (ZX_OBJ_TYPE_VMO) holding a memfd whose length is the VMO's size: pages are
 * allocated on first write and read as zeros before, as a VmObjectPaged's are, and shrinking drops the content
 * beyond the new size (ftruncate), as VmObjectPaged::Resize does.  Handles live in the table current on the serving
 * thread: the program's own.
 * Data moves between the program's memory and the memfd through process_vm_readv/writev: a fault there is
 * ZX_ERR_INVALID_ARGS, what Zircon's user copies return. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../kernel.h"
#include "inject.h"

#define PAGE 4096u
#define VMO_RESIZABLE ((uint32_t)1u << 1) /* ZX_VMO_RESIZABLE, zircon/types.h */
#define COPY_CHUNK (64u * 1024u)

typedef struct hk_vmo {
    hk_object_t base;
    int fd;
    uint64_t size; /* lock */
    bool resizable;
} hk_vmo_t;

/* The root VMAR of a Fuchsia program (below, "VMARs"). */
typedef struct hk_vmar {
    hk_object_t base;
    hk_fuchsia_vm_t *vm; /* lock; NULL once the program is over */
} hk_vmar_t;

static void vmo_destroy(hk_object_t *obj) {
    hk_vmo_t *v = HK_CONTAINER_OF(obj, hk_vmo_t, base);
    close(v->fd);
    free(v);
}

static zx_koid_t vmo_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t vmo_ops = {
    .on_zero_handles = NULL,
    .destroy = vmo_destroy,
    .related_koid = vmo_related_koid,
};

/* VmObjectPaged's RoundSize: up to a page, OUT_OF_RANGE on overflow or beyond the largest size (here the largest
 * memfd: Linux's MAX_LFS_FILESIZE). */
static zx_status_t round_size(uint64_t size, uint64_t *out) {
    uint64_t r = (size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if (r < size || r > (uint64_t)INT64_MAX) return ZX_ERR_OUT_OF_RANGE;
    *out = r;
    return ZX_OK;
}

static bool copy_out(pid_t tid, uint64_t addr, const void *data, size_t len) {
    struct iovec local = {(void *)data, len}, remote = {(void *)(uintptr_t)addr, len};
    return len == 0 || process_vm_writev(tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool copy_in(pid_t tid, uint64_t addr, void *data, size_t len) {
    struct iovec local = {data, len}, remote = {(void *)(uintptr_t)addr, len};
    return len == 0 || process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* sys_vmo_create: the options (only ZX_VMO_RESIZABLE: INVALID_ARGS), the size (OUT_OF_RANGE), the object, then the
 * handle with ZX_DEFAULT_VMO_RIGHTS written out (a fault there closes it: INVALID_ARGS). */
static zx_status_t vmo_create(pid_t tid, uint64_t size, uint32_t options, uint64_t out) {
    if (options & ~VMO_RESIZABLE) return ZX_ERR_INVALID_ARGS;
    zx_status_t status = round_size(size, &size);
    if (status != ZX_OK) return status;
    hk_vmo_t *v = calloc(1, sizeof *v);
    if (v == NULL) return ZX_ERR_NO_MEMORY;
    v->fd = memfd_create("zx-vmo", MFD_CLOEXEC);
    if (v->fd < 0 || ftruncate(v->fd, (off_t)size) != 0) {
        if (v->fd >= 0) close(v->fd);
        free(v);
        return ZX_ERR_NO_MEMORY;
    }
    v->size = size;
    v->resizable = (options & VMO_RESIZABLE) != 0;
    zx_handle_t h;
    hk_lock();
    hk_object_init(&v->base, ZX_OBJ_TYPE_VMO, &vmo_ops);
    status = hk_handle_alloc(&v->base, ZX_DEFAULT_VMO_RIGHTS, &h);
    hk_object_unref(&v->base); /* the handle holds it now (or it is destroyed) */
    hk_unlock();
    if (status != ZX_OK) return status;
    if (!copy_out(tid, out, &h, sizeof h)) {
        hk_lock();
        hk_handle_close_locked(h);
        hk_unlock();
        return ZX_ERR_INVALID_ARGS;
    }
    return ZX_OK;
}

zx_status_t hk_fuchsia_vm_vmo_from_bytes(const void *data, size_t len, const char *name, zx_rights_t rights,
                                         zx_handle_t *out) {
    (void)name; /* VMOs of this file have no ZX_PROP_NAME yet */
    uint64_t size;
    zx_status_t status = round_size(len, &size);
    if (status != ZX_OK) return status;
    hk_vmo_t *v = calloc(1, sizeof *v);
    if (v == NULL) return ZX_ERR_NO_MEMORY;
    v->fd = memfd_create("zx-vmo", MFD_CLOEXEC);
    size_t done = 0;
    if (v->fd >= 0 && ftruncate(v->fd, (off_t)size) == 0) {
        while (done < len) {
            ssize_t n = pwrite(v->fd, (const uint8_t *)data + done, len - done, (off_t)done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += (size_t)n;
        }
    }
    if (v->fd < 0 || done != len) {
        if (v->fd >= 0) close(v->fd);
        free(v);
        return ZX_ERR_NO_MEMORY;
    }
    v->size = size;
    hk_lock();
    hk_object_init(&v->base, ZX_OBJ_TYPE_VMO, &vmo_ops);
    status = hk_handle_alloc(&v->base, rights, out);
    hk_object_unref(&v->base); /* the handle holds it now (or it is destroyed) */
    hk_unlock();
    return status;
}

void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm) {
    hk_lock();
    if (vm->root != NULL) {
        vm->root->vm = NULL; /* handles kept elsewhere now name a VMAR whose process is gone */
        hk_object_unref(&vm->root->base);
    }
    vm->root = NULL;
    hk_unlock();
}

/* The VMO of handle h with `rights`, referenced (hk_object_unref under the lock when done), and its size. */
static zx_status_t vmo_get(zx_handle_t h, zx_rights_t rights, hk_vmo_t **out, uint64_t *size) {
    hk_object_t *obj;
    hk_lock();
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_VMO, rights, &obj, NULL);
    if (status == ZX_OK) {
        hk_object_ref(obj);
        *out = HK_CONTAINER_OF(obj, hk_vmo_t, base);
        *size = (*out)->size;
    }
    hk_unlock();
    return status;
}

static void vmo_put(hk_vmo_t *v) {
    hk_lock();
    hk_object_unref(&v->base);
    hk_unlock();
}

/* sys_vmo_read / sys_vmo_write: the handle with READ (WRITE), then VmObjectPaged's range check (offset + len past
 * the size, or overflowing: OUT_OF_RANGE), then the copy (a fault: INVALID_ARGS). */
static zx_status_t vmo_rw(pid_t tid, bool write, zx_handle_t h, uint64_t buf, uint64_t offset, uint64_t len) {
    hk_vmo_t *v;
    uint64_t size;
    zx_status_t status = vmo_get(h, write ? ZX_RIGHT_WRITE : ZX_RIGHT_READ, &v, &size);
    if (status != ZX_OK) return status;
    uint64_t end = offset + len;
    if (end < offset || end > size) {
        vmo_put(v);
        return ZX_ERR_OUT_OF_RANGE;
    }
    uint8_t *chunk = len > 0 ? malloc(len < COPY_CHUNK ? len : COPY_CHUNK) : NULL;
    if (len > 0 && chunk == NULL) status = ZX_ERR_NO_MEMORY;
    for (uint64_t done = 0; status == ZX_OK && done < len;) {
        size_t n = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
        if (write) {
            if (!copy_in(tid, buf + done, chunk, n)) status = ZX_ERR_INVALID_ARGS;
            else if (pwrite(v->fd, chunk, n, (off_t)(offset + done)) != (ssize_t)n) status = ZX_ERR_NO_MEMORY;
        } else {
            ssize_t got = pread(v->fd, chunk, n, (off_t)(offset + done));
            if (got < 0) got = 0;
            memset(chunk + got, 0, n - (size_t)got); /* past a concurrent shrink: zeros */
            if (!copy_out(tid, buf + done, chunk, n)) status = ZX_ERR_INVALID_ARGS;
        }
        done += n;
    }
    free(chunk);
    vmo_put(v);
    return status;
}

/* sys_vmo_get_size: the handle (no right needed: "anyone should be able to get the size"), then the copy out. */
static zx_status_t vmo_get_size(pid_t tid, zx_handle_t h, uint64_t out) {
    hk_vmo_t *v;
    uint64_t size;
    zx_status_t status = vmo_get(h, ZX_RIGHT_NONE, &v, &size);
    if (status != ZX_OK) return status;
    vmo_put(v);
    return copy_out(tid, out, &size, sizeof size) ? ZX_OK : ZX_ERR_INVALID_ARGS;
}

/* sys_vmo_set_size: the handle with WRITE, then VmObjectPaged::Resize: not resizable UNAVAILABLE, then the size
 * (OUT_OF_RANGE). */
static zx_status_t vmo_set_size(zx_handle_t h, uint64_t size) {
    hk_vmo_t *v;
    uint64_t old;
    zx_status_t status = vmo_get(h, ZX_RIGHT_WRITE, &v, &old);
    if (status != ZX_OK) return status;
    if (!v->resizable) status = ZX_ERR_UNAVAILABLE;
    if (status == ZX_OK) status = round_size(size, &size);
    hk_lock();
    if (status == ZX_OK && ftruncate(v->fd, (off_t)size) != 0) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK) v->size = size;
    hk_object_unref(&v->base);
    hk_unlock();
    return status;
}

/* ------------------------------------------------------------------------------------------------ VMARs */

/* The root VMAR of a Fuchsia program: its whole user address space, which here is its Linux address space.  Zircon's
 * x86-64 root VMAR starts at USER_ASPACE_BASE (16 MiB) and ends below the 47-bit boundary
 * (zircon/kernel/arch/x86/include/arch/kernel_aspace.h). */
#define ROOT_VMAR_BASE 0x1000000ull
#define ROOT_VMAR_SIZE ((1ull << 47) - 4096 - ROOT_VMAR_BASE)
#define VM_PERM_READ (1u << 0)        /* ZX_VM_PERM_READ, zircon/types.h */
#define VM_PERM_WRITE (1u << 1)       /* ZX_VM_PERM_WRITE */
#define VM_PERM_EXECUTE (1u << 2)     /* ZX_VM_PERM_EXECUTE */
#define VM_SPECIFIC (1u << 4)         /* ZX_VM_SPECIFIC */
#define VM_CAN_MAP_MASK (7u << 7)     /* ZX_VM_CAN_MAP_READ | _WRITE | _EXECUTE */
#define VM_MAP_RANGE (1u << 10)       /* ZX_VM_MAP_RANGE: pages are faulted in on use here, so a no-op */

static void vmar_destroy(hk_object_t *obj) { free(HK_CONTAINER_OF(obj, hk_vmar_t, base)); }

static const hk_object_ops_t vmar_ops = {
    .on_zero_handles = NULL,
    .destroy = vmar_destroy,
    .related_koid = vmo_related_koid,
};

zx_status_t hk_fuchsia_vm_root_vmar_locked(hk_fuchsia_vm_t *vm, uint32_t *out) {
    if (vm->root == NULL) {
        hk_vmar_t *root = calloc(1, sizeof *root);
        if (root == NULL) return ZX_ERR_NO_MEMORY;
        hk_object_init(&root->base, ZX_OBJ_TYPE_VMAR, &vmar_ops);
        root->vm = vm;
        vm->root = root; /* the program's reference, dropped by hk_fuchsia_vm_release */
    }
    return hk_handle_alloc(&vm->root->base, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE,
                           out);
}

/* The program's root VMAR behind handle h (any rights; *rights gets them): BAD_HANDLE, WRONG_TYPE; a VMAR of
 * another program, or of one that is over: NOT_SUPPORTED / BAD_STATE. */
static zx_status_t vmar_get_locked(hk_fuchsia_vm_t *vm, zx_handle_t h, zx_rights_t *rights) {
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_VMAR, ZX_RIGHT_NONE, &obj, rights);
    if (status != ZX_OK) return status;
    const hk_vmar_t *vmar = obj->ops == &vmar_ops ? HK_CONTAINER_OF(obj, hk_vmar_t, base) : NULL;
    if (vmar == NULL || (vmar->vm != NULL && vmar->vm != vm)) return ZX_ERR_NOT_SUPPORTED;
    if (vmar->vm == NULL) return ZX_ERR_BAD_STATE;
    return ZX_OK;
}

/* Linux's answer to an injected mmap/munmap as Zircon's. */
static zx_status_t status_of_errno(int64_t rv) {
    switch (rv) {
    case -EEXIST: return ZX_ERR_ALREADY_EXISTS;
    case -ENOMEM: return ZX_ERR_NO_RESOURCES; /* no room in the address space */
    case -EINVAL: return ZX_ERR_INVALID_ARGS;
    default: return ZX_ERR_INTERNAL;
    }
}

/* Run one Linux call in the task; false (and *status) when the task could not run it. */
static bool run(hk_inject_t *in, zx_status_t *status, int64_t *rv, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                uint64_t a3, uint64_t a4, uint64_t a5) {
    if (hk_inject_syscall(in, nr, a0, a1, a2, a3, a4, a5, rv)) return true;
    *status = ZX_ERR_BAD_STATE;
    return false;
}

/* sys_vmar_map, in its order: the VMAR (typed, no right needed), the VMO (typed), ZX_RIGHT_MAP on the VMO
 * (ACCESS_DENIED), write without read (INVALID_ARGS), CAN_MAP_* given by the caller (INVALID_ARGS), each requested
 * permission allowed by both handles (ACCESS_DENIED); then VmAddressRegion's checks (unknown options, an unaligned
 * or out-of-range offset, a zero length, an unaligned VMO offset: INVALID_ARGS; an overlap with ZX_VM_SPECIFIC:
 * ALREADY_EXISTS), the mapping, and the address written out (a fault unmaps it: INVALID_ARGS).  The memfd is
 * opened in the task through /proc/<this program>/fd and mapped MAP_SHARED, so the program and every other mapping
 * and vmo_read/vmo_write see the same pages. */
static zx_status_t vmar_map(hk_fuchsia_vm_t *vm, hk_inject_t *in, uint64_t sp, zx_handle_t vmar_h, uint32_t options,
                            uint64_t vmar_offset, zx_handle_t vmo_h, uint64_t vmo_offset, uint64_t len,
                            uint64_t out) {
    zx_rights_t vmar_rights = 0, vmo_rights = 0;
    hk_object_t *obj = NULL;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, &vmar_rights);
    if (status == ZX_OK) status = hk_handle_get(vmo_h, ZX_OBJ_TYPE_VMO, ZX_RIGHT_NONE, &obj, &vmo_rights);
    if (status == ZX_OK) hk_object_ref(obj);
    hk_unlock();
    if (status != ZX_OK) return status;
    hk_vmo_t *v = HK_CONTAINER_OF(obj, hk_vmo_t, base);
    bool can_read = (vmo_rights & ZX_RIGHT_READ) && (vmar_rights & ZX_RIGHT_READ);
    bool can_write = (vmo_rights & ZX_RIGHT_WRITE) && (vmar_rights & ZX_RIGHT_WRITE);
    bool can_exec = (vmo_rights & ZX_RIGHT_EXECUTE) && (vmar_rights & ZX_RIGHT_EXECUTE);
    uint64_t size = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    uint64_t addr = ROOT_VMAR_BASE + vmar_offset;
    if (!(vmo_rights & ZX_RIGHT_MAP)) status = ZX_ERR_ACCESS_DENIED;
    else if ((options & VM_PERM_WRITE) && !(options & VM_PERM_READ)) status = ZX_ERR_INVALID_ARGS;
    else if (options & VM_CAN_MAP_MASK) status = ZX_ERR_INVALID_ARGS;
    else if (((options & VM_PERM_READ) && !can_read) || ((options & VM_PERM_WRITE) && !can_write) ||
             ((options & VM_PERM_EXECUTE) && !can_exec))
        status = ZX_ERR_ACCESS_DENIED;
    else if (options & ~(VM_PERM_READ | VM_PERM_WRITE | VM_PERM_EXECUTE | VM_SPECIFIC | VM_MAP_RANGE))
        status = ZX_ERR_NOT_SUPPORTED; /* alignment, OFFSET_IS_UPPER_LIMIT, SPECIFIC_OVERWRITE...: not yet */
    else if (len == 0 || size < len || (vmo_offset % PAGE) != 0 || (vmar_offset % PAGE) != 0 ||
             (!(options & VM_SPECIFIC) && vmar_offset != 0) ||
             ((options & VM_SPECIFIC) && (vmar_offset > ROOT_VMAR_SIZE || size > ROOT_VMAR_SIZE - vmar_offset)))
        status = ZX_ERR_INVALID_ARGS;
    if (status != ZX_OK) {
        vmo_put(v);
        return status;
    }
    int prot = ((options & VM_PERM_READ) ? PROT_READ : 0) | ((options & VM_PERM_WRITE) ? PROT_WRITE : 0) |
               ((options & VM_PERM_EXECUTE) ? PROT_EXEC : 0);
    char path[64];
    int n = snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), v->fd);
    uint64_t scratch = (sp - 128 - sizeof path) & ~(uint64_t)15; /* below the red zone */
    int64_t fd = -1, rv = 0;
    if (!hk_inject_write(in, scratch, path, (size_t)n + 1)) status = ZX_ERR_BAD_STATE;
    else if (run(in, &status, &fd, SYS_open, scratch, O_RDWR | O_CLOEXEC, 0, 0, 0, 0) && fd < 0)
        status = ZX_ERR_INTERNAL;
    if (status == ZX_OK &&
        run(in, &status, &rv, SYS_mmap, (options & VM_SPECIFIC) ? addr : 0, size, (uint64_t)prot,
            MAP_SHARED | ((options & VM_SPECIFIC) ? MAP_FIXED_NOREPLACE : 0), (uint64_t)fd, vmo_offset)) {
        if ((uint64_t)rv >= (uint64_t)-4095) {
            status = status_of_errno(rv);
        } else if ((options & VM_SPECIFIC) && (uint64_t)rv != addr) {
            /* A kernel before 4.17 takes MAP_FIXED_NOREPLACE as a hint. */
            run(in, &status, &rv, SYS_munmap, (uint64_t)rv, size, 0, 0, 0, 0);
            status = ZX_ERR_ALREADY_EXISTS;
        } else {
            addr = (uint64_t)rv;
        }
    }
    if (fd >= 0) run(in, &status, &rv, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
    vmo_put(v);
    if (status != ZX_OK) return status;
    if (!copy_out(in->tid, out, &addr, sizeof addr)) {
        run(in, &status, &rv, SYS_munmap, addr, size, 0, 0, 0, 0);
        return ZX_ERR_INVALID_ARGS;
    }
    return ZX_OK;
}

/* sys_vmar_unmap: the VMAR (typed, no right needed), then VmAddressRegion::Unmap: an unaligned address, a zero
 * length or a range outside the VMAR: INVALID_ARGS; whatever is mapped in the range goes. */
static zx_status_t vmar_unmap(hk_fuchsia_vm_t *vm, hk_inject_t *in, zx_handle_t vmar_h, uint64_t addr, uint64_t len) {
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, NULL);
    hk_unlock();
    if (status != ZX_OK) return status;
    uint64_t size = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if ((addr % PAGE) != 0 || len == 0 || size < len || addr < ROOT_VMAR_BASE ||
        addr - ROOT_VMAR_BASE > ROOT_VMAR_SIZE || size > ROOT_VMAR_SIZE - (addr - ROOT_VMAR_BASE))
        return ZX_ERR_INVALID_ARGS;
    int64_t rv = 0;
    if (!run(in, &status, &rv, SYS_munmap, addr, size, 0, 0, 0, 0)) return status;
    return rv == 0 ? ZX_OK : status_of_errno(rv);
}

bool hk_fuchsia_vm_serve(hk_fuchsia_vm_t *vm, const char *name, pid_t tid, uint64_t site, uint64_t sp,
                         const uint64_t a[8], int64_t *ret, int *pending_signal) {
    *pending_signal = 0;
    if (strcmp(name, "vmar_map") == 0 || strcmp(name, "vmar_unmap") == 0) {
        hk_inject_t in;
        if (!hk_inject_begin(&in, tid, site)) {
            *ret = ZX_ERR_BAD_STATE;
            return true;
        }
        if (name[5] == 'm')
            *ret = vmar_map(vm, &in, sp, (zx_handle_t)a[0], (uint32_t)a[1], a[2], (zx_handle_t)a[3], a[4], a[5], a[6]);
        else
            *ret = vmar_unmap(vm, &in, (zx_handle_t)a[0], a[1], a[2]);
        *pending_signal = in.pending_signal;
        return true;
    }
    if (strncmp(name, "vmo_", 4) != 0) return false;
    const char *op = name + 4;
    if (strcmp(op, "create") == 0) *ret = vmo_create(tid, a[0], (uint32_t)a[1], a[2]);
    else if (strcmp(op, "read") == 0) *ret = vmo_rw(tid, false, (zx_handle_t)a[0], a[1], a[2], a[3]);
    else if (strcmp(op, "write") == 0) *ret = vmo_rw(tid, true, (zx_handle_t)a[0], a[1], a[2], a[3]);
    else if (strcmp(op, "get_size") == 0) *ret = vmo_get_size(tid, (zx_handle_t)a[0], a[1]);
    else if (strcmp(op, "set_size") == 0) *ret = vmo_set_size((zx_handle_t)a[0], a[1]);
    else return false;
    return true;
}
