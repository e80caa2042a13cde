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
    char name[ZX_MAX_NAME_LEN]; /* lock; ZX_PROP_NAME (VmObject::set_name) */
} hk_vmo_t;


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
/* A new VMO object of `size` bytes (rounded already) on a fresh memfd, referenced once (the caller's); NULL when out
 * of memory. */
static hk_vmo_t *vmo_new(uint64_t size, bool resizable) {
    hk_vmo_t *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    v->fd = memfd_create("zx-vmo", MFD_CLOEXEC);
    if (v->fd < 0 || ftruncate(v->fd, (off_t)size) != 0) {
        if (v->fd >= 0) close(v->fd);
        free(v);
        return NULL;
    }
    v->size = size;
    v->resizable = resizable;
    hk_lock();
    hk_object_init(&v->base, ZX_OBJ_TYPE_VMO, &vmo_ops);
    hk_unlock();
    return v;
}

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

/* sys_vmo_op_range (zircon/kernel/lib/syscalls/vmo.cc; VmObjectDispatcher::RangeOp): the handle (typed, no right at
 * the lookup), then each op's right (COMMIT, DECOMMIT, ZERO and CACHE_INVALIDATE WRITE; the other cache ops READ:
 * ACCESS_DENIED), then the range (past the size or overflowing: OUT_OF_RANGE).  DECOMMIT frees the pages of the
 * page-rounded range and ZERO zeroes the exact range, both as a hole punched in the memfd (the bytes read as zeros
 * after, as Zircon's); COMMIT allocates the range; the cache ops have nothing to do on this host's coherent caches.
 * LOCK / UNLOCK (and TRY_LOCK) are NOT_SUPPORTED, an unknown op INVALID_ARGS. */
#define VMO_OP_COMMIT 1u
#define VMO_OP_DECOMMIT 2u
#define VMO_OP_LOCK 3u
#define VMO_OP_UNLOCK 4u
#define VMO_OP_CACHE_SYNC 6u
#define VMO_OP_CACHE_INVALIDATE 7u
#define VMO_OP_CACHE_CLEAN 8u
#define VMO_OP_CACHE_CLEAN_INVALIDATE 9u
#define VMO_OP_ZERO 10u
#define VMO_OP_TRY_LOCK 11u
static zx_status_t vmo_op_range(zx_handle_t h, uint32_t op, uint64_t offset, uint64_t len) {
    hk_vmo_t *v;
    uint64_t size;
    zx_status_t status = vmo_get(h, ZX_RIGHT_NONE, &v, &size);
    if (status != ZX_OK) return status;
    zx_rights_t need = 0;
    switch (op) {
    case VMO_OP_COMMIT: case VMO_OP_DECOMMIT: case VMO_OP_ZERO: case VMO_OP_CACHE_INVALIDATE:
        need = ZX_RIGHT_WRITE;
        break;
    case VMO_OP_CACHE_SYNC: case VMO_OP_CACHE_CLEAN: case VMO_OP_CACHE_CLEAN_INVALIDATE:
        need = ZX_RIGHT_READ;
        break;
    case VMO_OP_LOCK: case VMO_OP_UNLOCK: case VMO_OP_TRY_LOCK:
        status = ZX_ERR_NOT_SUPPORTED;
        break;
    default:
        status = ZX_ERR_INVALID_ARGS;
    }
    if (status == ZX_OK) {
        hk_object_t *obj;
        hk_lock();
        status = hk_handle_get(h, ZX_OBJ_TYPE_VMO, need, &obj, NULL);
        hk_unlock();
    }
    uint64_t end = offset + len;
    if (status == ZX_OK && (end < offset || end > size)) status = ZX_ERR_OUT_OF_RANGE;
    if (status == ZX_OK && len > 0) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t from = offset, to = end;
        if (op == VMO_OP_DECOMMIT) {
            from = offset & ~(page - 1);
            to = end > size - size % page ? size : (end + page - 1) & ~(page - 1);
        }
        int mode = op == VMO_OP_COMMIT ? 0 : op == VMO_OP_DECOMMIT || op == VMO_OP_ZERO
                                                 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                                                 : -1;
        if (mode >= 0 && fallocate(v->fd, mode, (off_t)from, (off_t)(to - from)) != 0)
            status = op == VMO_OP_COMMIT ? ZX_ERR_NO_MEMORY : ZX_ERR_INTERNAL;
    }
    vmo_put(v);
    return status;
}

/* ------------------------------------------------------------------------------------------------ VMO children */

#define VMO_CHILD_SNAPSHOT (1u << 0)                   /* ZX_VMO_CHILD_SNAPSHOT, zircon/types.h */
#define VMO_CHILD_RESIZABLE (1u << 2)                  /* ZX_VMO_CHILD_RESIZABLE */
#define VMO_CHILD_SLICE (1u << 3)                      /* ZX_VMO_CHILD_SLICE */
#define VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE (1u << 4) /* ..._AT_LEAST_ON_WRITE (2021: also COPY_ON_WRITE) */
#define VMO_CHILD_NO_WRITE (1u << 5)                   /* ZX_VMO_CHILD_NO_WRITE */

/* Copy len bytes of from's memfd at offset (zeros past its end) to the start of to's. */
static bool copy_range(int from, uint64_t offset, int to, uint64_t len) {
    uint8_t *chunk = malloc(COPY_CHUNK);
    if (chunk == NULL) return false;
    bool ok = true;
    for (uint64_t done = 0; ok && done < len;) {
        size_t n = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
        ssize_t got = pread(from, chunk, n, (off_t)(offset + done));
        if (got < 0) got = 0;
        if (got == 0) break; /* past the parent's end: the child's pages stay zero */
        ok = pwrite(to, chunk, (size_t)got, (off_t)done) == got;
        done += (uint64_t)got;
    }
    free(chunk);
    return ok;
}

/* sys_vmo_create_child (zircon/kernel/lib/syscalls/vmo.cc), in its order: NO_WRITE is taken off the options; the
 * handle with DUPLICATE and READ; then VmObjectDispatcher::CreateChild: exactly one of SNAPSHOT,
 * SNAPSHOT_AT_LEAST_ON_WRITE and SLICE, RESIZABLE, nothing else (INVALID_ARGS), the size rounded up to a page
 * (OUT_OF_RANGE), the parent's name copied when the handle has GET_PROPERTY; the handle's rights are the parent
 * handle's plus GET/SET_PROPERTY, without WRITE for NO_WRITE, else for a snapshot with WRITE and without EXECUTE.
 * A snapshot is an eager copy of [offset, offset + size) into a new memfd (zeros past the parent's end): it never
 * sees a later write to the parent, nor the parent one to it, which is SNAPSHOT's rule and a valid
 * AT_LEAST_ON_WRITE.  SLICE is NOT_SUPPORTED here (a window sharing the parent's pages: not built). */
static zx_status_t vmo_create_child(pid_t tid, zx_handle_t h, uint32_t options, uint64_t offset, uint64_t size,
                                    uint64_t out) {
    bool no_write = (options & VMO_CHILD_NO_WRITE) != 0;
    options &= ~VMO_CHILD_NO_WRITE;
    hk_object_t *obj;
    zx_rights_t in_rights = 0;
    hk_lock();
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_VMO, ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ, &obj, &in_rights);
    if (status == ZX_OK && obj->ops != &vmo_ops) status = ZX_ERR_NOT_SUPPORTED;
    if (status == ZX_OK) hk_object_ref(obj);
    hk_unlock();
    if (status != ZX_OK) return status;
    hk_vmo_t *parent = HK_CONTAINER_OF(obj, hk_vmo_t, base);
    uint32_t type = options & (VMO_CHILD_SNAPSHOT | VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | VMO_CHILD_SLICE);
    bool resizable = (options & VMO_CHILD_RESIZABLE) != 0;
    if (type == 0 || (type & (type - 1)) != 0 || (options & ~(type | VMO_CHILD_RESIZABLE)) != 0)
        status = ZX_ERR_INVALID_ARGS;
    else if (type == VMO_CHILD_SLICE)
        status = ZX_ERR_NOT_SUPPORTED;
    else if (offset + size < offset)
        status = ZX_ERR_OUT_OF_RANGE;
    else
        status = round_size(size, &size);
    hk_vmo_t *child = status == ZX_OK ? vmo_new(size, resizable) : NULL;
    if (status == ZX_OK && child == NULL) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK && !copy_range(parent->fd, offset, child->fd, size)) status = ZX_ERR_NO_MEMORY;
    zx_handle_t ch = ZX_HANDLE_INVALID;
    hk_lock();
    if (status == ZX_OK && (in_rights & ZX_RIGHT_GET_PROPERTY)) memcpy(child->name, parent->name, sizeof child->name);
    zx_rights_t rights = in_rights | ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY;
    if (no_write) {
        rights &= ~ZX_RIGHT_WRITE;
    } else {
        rights &= ~ZX_RIGHT_EXECUTE;
        rights |= ZX_RIGHT_WRITE;
    }
    if (status == ZX_OK) status = hk_handle_alloc(&child->base, rights, &ch);
    if (child != NULL) hk_object_unref(&child->base);
    hk_object_unref(&parent->base);
    hk_unlock();
    if (status != ZX_OK) return status;
    if (!copy_out(tid, out, &ch, sizeof ch)) {
        hk_lock();
        hk_handle_close_locked(ch);
        hk_unlock();
        return ZX_ERR_INVALID_ARGS;
    }
    return ZX_OK;
}

/* sys_vmo_replace_as_executable (vmo.cc): vmex, if given, must be a ZX_RSRC_KIND_VMEX resource (the host kernel has
 * no resources: a valid handle is WRONG_TYPE, as validate_resource says for a non-resource); ZX_HANDLE_INVALID asks
 * the ZX_POL_AMBIENT_MARK_VMO_EXEC policy, which allows it (no job policy here).  The source handle goes whatever
 * the result (BAD_HANDLE if it is none, also BAD_HANDLE if it is no VMO), and the new one has its rights plus
 * EXECUTE. */
static zx_status_t vmo_replace_as_executable(pid_t tid, zx_handle_t h, zx_handle_t vmex, uint64_t out) {
    hk_object_t *obj;
    zx_rights_t rights;
    zx_handle_t nh = ZX_HANDLE_INVALID;
    hk_lock();
    zx_status_t vmex_status = ZX_OK;
    if (vmex != ZX_HANDLE_INVALID) {
        vmex_status = hk_handle_get(vmex, ZX_OBJ_TYPE_NONE, ZX_RIGHT_NONE, &obj, NULL);
        if (vmex_status == ZX_OK) vmex_status = ZX_ERR_WRONG_TYPE;
    }
    zx_status_t status = hk_handle_take(h, &obj, &rights);
    if (status == ZX_OK) {
        if (vmex_status != ZX_OK) status = vmex_status;
        else if (obj->type != ZX_OBJ_TYPE_VMO) status = ZX_ERR_BAD_HANDLE;
        else status = hk_handle_give(obj, rights | ZX_RIGHT_EXECUTE, &nh);
        if (status != ZX_OK) hk_handle_drop(obj);
    }
    hk_unlock();
    if (status != ZX_OK) return status;
    if (!copy_out(tid, out, &nh, sizeof nh)) {
        hk_lock();
        hk_handle_close_locked(nh);
        hk_unlock();
        return ZX_ERR_INVALID_ARGS;
    }
    return ZX_OK;
}

zx_status_t hk_fuchsia_vm_vmo_from_bytes(const void *data, size_t len, const char *name, zx_rights_t rights,
                                         zx_handle_t *out) {
    uint64_t size;
    zx_status_t status = round_size(len, &size);
    if (status != ZX_OK) return status;
    hk_vmo_t *v = vmo_new(size, false);
    if (v == NULL) return ZX_ERR_NO_MEMORY;
    if (len > 0 && pwrite(v->fd, data, len, 0) != (ssize_t)len) status = ZX_ERR_NO_MEMORY;
    hk_lock();
    if (name != NULL) snprintf(v->name, sizeof v->name, "%s", name);
    if (status == ZX_OK) status = hk_handle_alloc(&v->base, rights, out);
    hk_object_unref(&v->base);
    hk_unlock();
    return status;
}

zx_status_t hk_fuchsia_vm_vmo_fd(zx_handle_t h, zx_rights_t rights, int *fd) {
    hk_object_t *obj;
    hk_lock();
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_VMO, rights, &obj, NULL);
    if (status == ZX_OK && obj->ops != &vmo_ops) status = ZX_ERR_WRONG_TYPE;
    if (status == ZX_OK && (*fd = fcntl(HK_CONTAINER_OF(obj, hk_vmo_t, base)->fd, F_DUPFD_CLOEXEC, 3)) < 0)
        status = ZX_ERR_NO_RESOURCES;
    hk_unlock();
    return status;
}

bool hk_fuchsia_vm_is_vmo(const hk_object_t *obj) { return obj->ops == &vmo_ops; }

void hk_fuchsia_vm_vmo_name_locked(hk_object_t *obj, char name[ZX_MAX_NAME_LEN], bool set) {
    hk_vmo_t *v = HK_CONTAINER_OF(obj, hk_vmo_t, base);
    if (set) {
        memcpy(v->name, name, ZX_MAX_NAME_LEN);
        v->name[ZX_MAX_NAME_LEN - 1] = '\0';
    } else {
        memcpy(name, v->name, ZX_MAX_NAME_LEN);
    }
}

/* ------------------------------------------------------------------------------------------------ VMARs */

/* A program's VMARs: the root (its whole user address space, here its Linux address space) and sub-VMARs made by
 * zx_vmar_allocate (or the launcher: PA_VMAR_LOADED), each a real PROT_NONE reservation in the task that its
 * mappings replace page for page (MAP_FIXED) and an unmap puts back.  Zircon's x86-64 root VMAR starts at
 * USER_ASPACE_BASE (16 MiB) and ends below the 47-bit boundary (zircon/kernel/arch/x86/include/arch/kernel_aspace.h).
 * A sub-VMAR keeps the list of what it holds (mappings with the permissions they may take, and sub-VMARs), as
 * VmAddressRegion does (zircon/kernel/vm/vm_address_region.cc); the root keeps only its sub-VMARs: where the image,
 * the vDSO, the stack and root mappings lie is Linux's business (MAP_FIXED_NOREPLACE finds overlaps). */
#define ROOT_VMAR_BASE 0x1000000ull
#define ROOT_VMAR_SIZE ((1ull << 47) - 4096 - ROOT_VMAR_BASE)
#define VM_PERM_READ (1u << 0)               /* ZX_VM_PERM_READ, zircon/types.h */
#define VM_PERM_WRITE (1u << 1)              /* ZX_VM_PERM_WRITE */
#define VM_PERM_EXECUTE (1u << 2)            /* ZX_VM_PERM_EXECUTE */
#define VM_PERMS (VM_PERM_READ | VM_PERM_WRITE | VM_PERM_EXECUTE)
#define VM_COMPACT (1u << 3)                 /* ZX_VM_COMPACT: a placement hint */
#define VM_SPECIFIC (1u << 4)                /* ZX_VM_SPECIFIC */
#define VM_SPECIFIC_OVERWRITE (1u << 5)      /* ZX_VM_SPECIFIC_OVERWRITE: not yet */
#define VM_CAN_MAP_SPECIFIC (1u << 6)        /* ZX_VM_CAN_MAP_SPECIFIC */
#define VM_CAN_MAP_READ (1u << 7)            /* ZX_VM_CAN_MAP_READ */
#define VM_CAN_MAP_WRITE (1u << 8)           /* ZX_VM_CAN_MAP_WRITE */
#define VM_CAN_MAP_EXECUTE (1u << 9)         /* ZX_VM_CAN_MAP_EXECUTE */
#define VM_CAN_MAP_MASK (7u << 7)
#define VM_MAP_RANGE (1u << 10)              /* ZX_VM_MAP_RANGE: pages are faulted in on use here, so a no-op */
#define VM_REQUIRE_NON_RESIZABLE (1u << 11)  /* ZX_VM_REQUIRE_NON_RESIZABLE */
#define VM_ALLOW_FAULTS (1u << 12)           /* ZX_VM_ALLOW_FAULTS: every mapping may fault here */
#define VM_OFFSET_IS_UPPER_LIMIT (1u << 13)  /* ZX_VM_OFFSET_IS_UPPER_LIMIT: not yet */
#define VM_ALIGN_BASE 24                     /* ZX_VM_ALIGN_BASE: log2 of the alignment, 10 (1 KiB) to 32 (4 GiB) */
#define VM_ALIGN_MASK (31u << VM_ALIGN_BASE)
/* The flags split_syscall_flags knows (vm_address_region_dispatcher.cc): anything else is INVALID_ARGS. */
#define VM_KNOWN                                                                                                   \
    (VM_PERMS | VM_COMPACT | VM_SPECIFIC | VM_SPECIFIC_OVERWRITE | VM_CAN_MAP_SPECIFIC | VM_CAN_MAP_MASK |          \
     VM_MAP_RANGE | VM_REQUIRE_NON_RESIZABLE | VM_ALLOW_FAULTS | VM_OFFSET_IS_UPPER_LIMIT | VM_ALIGN_MASK)
#define MAX_KIDS 4096 /* mappings and sub-VMARs one sub-VMAR holds */

typedef struct vmar_kid {
    uint64_t lo, hi;      /* [lo, hi), page-aligned */
    struct hk_vmar *sub;  /* a sub-VMAR (a reference), or NULL for a mapping */
    uint32_t can_perms;   /* a mapping: the VM_PERM_* it may take (what the VMO and VMAR handles allowed) */
} vmar_kid_t;

typedef struct hk_vmar {
    hk_object_t base;
    hk_fuchsia_vm_t *vm;     /* lock; NULL once the program is over */
    struct hk_vmar *parent;  /* a reference; NULL for the root */
    uint64_t addr, size;
    uint32_t flags;          /* VM_CAN_MAP_* and VM_CAN_MAP_SPECIFIC */
    bool dead;               /* destroyed (zx_vmar_destroy, or its range unmapped): BAD_STATE */
    vmar_kid_t *kids;        /* lock; sorted by address */
    size_t nkids, cap;
} hk_vmar_t;

static void vmar_destroy(hk_object_t *obj) {
    hk_vmar_t *v = HK_CONTAINER_OF(obj, hk_vmar_t, base);
    for (size_t i = 0; i < v->nkids; i++)
        if (v->kids[i].sub != NULL) hk_object_unref(&v->kids[i].sub->base);
    if (v->parent != NULL) hk_object_unref(&v->parent->base);
    free(v->kids);
    free(v);
}

static zx_koid_t vmar_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t vmar_ops = {
    .on_zero_handles = NULL,
    .destroy = vmar_destroy,
    .related_koid = vmar_related_koid,
};

/* Lock held.  A new VMAR object (one reference, the caller's). */
static hk_vmar_t *vmar_new_locked(hk_fuchsia_vm_t *vm, hk_vmar_t *parent, uint64_t addr, uint64_t size,
                                  uint32_t flags) {
    hk_vmar_t *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    hk_object_init(&v->base, ZX_OBJ_TYPE_VMAR, &vmar_ops);
    v->vm = vm;
    v->parent = parent;
    if (parent != NULL) hk_object_ref(&parent->base);
    v->addr = addr;
    v->size = size;
    v->flags = flags;
    return v;
}

/* Lock held.  Insert a kid, keeping the order; false when out of room. */
static bool kid_insert(hk_vmar_t *v, uint64_t lo, uint64_t hi, hk_vmar_t *sub, uint32_t can_perms) {
    if (v->nkids == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        if (cap > MAX_KIDS) return false;
        vmar_kid_t *k = realloc(v->kids, cap * sizeof *k);
        if (k == NULL) return false;
        v->kids = k;
        v->cap = cap;
    }
    size_t i = 0;
    while (i < v->nkids && v->kids[i].lo < lo) i++;
    memmove(&v->kids[i + 1], &v->kids[i], (v->nkids - i) * sizeof *v->kids);
    v->kids[i] = (vmar_kid_t){lo, hi, sub, can_perms};
    v->nkids++;
    if (sub != NULL) hk_object_ref(&sub->base);
    return true;
}

/* Lock held.  Does [lo, hi) overlap a kid? */
static bool kid_overlap(const hk_vmar_t *v, uint64_t lo, uint64_t hi) {
    for (size_t i = 0; i < v->nkids; i++)
        if (v->kids[i].lo < hi && lo < v->kids[i].hi) return true;
    return false;
}

/* Lock held.  The lowest free range of `size` bytes aligned to `align` in sub-VMAR v (first fit; Zircon picks at
 * random, which no program may rely on); false: none (NO_RESOURCES). */
static bool kid_free_spot(const hk_vmar_t *v, uint64_t size, uint64_t align, uint64_t *out) {
    uint64_t at = v->addr, end = v->addr + v->size;
    for (size_t i = 0; i <= v->nkids; i++) {
        uint64_t a = (at + align - 1) & ~(align - 1);
        uint64_t limit = i < v->nkids ? v->kids[i].lo : end;
        if (a >= at && a <= limit && limit - a >= size) {
            *out = a;
            return true;
        }
        if (i < v->nkids && v->kids[i].hi > at) at = v->kids[i].hi;
    }
    return false;
}

/* Lock held.  v and everything in it are destroyed: BAD_STATE through any handle (it names no program's VMAR
 * any more). */
static void vmar_kill_locked(hk_vmar_t *v) {
    v->dead = true;
    if (v->parent != NULL) v->vm = NULL;
    for (size_t i = 0; i < v->nkids; i++)
        if (v->kids[i].sub != NULL) {
            vmar_kill_locked(v->kids[i].sub);
            hk_object_unref(&v->kids[i].sub->base);
        }
    v->nkids = 0;
}

/* Lock held.  Take [lo, hi) out of sub-VMAR v's list: mappings are cut (split when the range is inside one),
 * sub-VMARs wholly inside are destroyed; a sub-VMAR only partly inside is INVALID_ARGS, and nothing changes
 * (VmAddressRegion::UnmapInternalLocked). */
static zx_status_t kid_cut(hk_vmar_t *v, uint64_t lo, uint64_t hi) {
    for (size_t i = 0; i < v->nkids; i++) {
        const vmar_kid_t *k = &v->kids[i];
        if (k->sub != NULL && k->lo < hi && lo < k->hi && (k->lo < lo || k->hi > hi)) return ZX_ERR_INVALID_ARGS;
    }
    for (size_t i = 0; i < v->nkids;) {
        vmar_kid_t *k = &v->kids[i];
        if (!(k->lo < hi && lo < k->hi)) {
            i++;
            continue;
        }
        if (k->sub != NULL || (lo <= k->lo && k->hi <= hi)) {
            if (k->sub != NULL) {
                vmar_kill_locked(k->sub);
                hk_object_unref(&k->sub->base);
            }
            memmove(k, k + 1, (v->nkids - i - 1) * sizeof *k);
            v->nkids--;
        } else if (k->lo < lo && k->hi > hi) {
            uint64_t old_hi = k->hi;
            k->hi = lo;
            if (!kid_insert(v, hi, old_hi, NULL, k->can_perms)) return ZX_ERR_NO_MEMORY;
            i++;
        } else {
            if (k->lo < lo) k->hi = lo;
            else k->lo = hi;
            i++;
        }
    }
    return ZX_OK;
}

zx_status_t hk_fuchsia_vm_root_vmar_locked(hk_fuchsia_vm_t *vm, uint32_t *out) {
    if (vm->root == NULL) {
        hk_vmar_t *root = vmar_new_locked(vm, NULL, ROOT_VMAR_BASE, ROOT_VMAR_SIZE,
                                          VM_CAN_MAP_MASK | VM_CAN_MAP_SPECIFIC);
        if (root == NULL) return ZX_ERR_NO_MEMORY;
        vm->root = root; /* the program's reference, dropped by hk_fuchsia_vm_release */
    }
    return hk_handle_alloc(&vm->root->base, HK_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE,
                           out);
}

/* Rights of a handle to a VMAR with these CAN_MAP_* flags: the VMAR defaults plus READ, WRITE, EXECUTE for
 * CAN_MAP_READ, _WRITE, _EXECUTE (VmAddressRegionDispatcher::Create). */
static zx_rights_t vmar_rights_for(uint32_t flags) {
    return HK_DEFAULT_VMAR_RIGHTS | ((flags & VM_CAN_MAP_READ) ? ZX_RIGHT_READ : 0) |
           ((flags & VM_CAN_MAP_WRITE) ? ZX_RIGHT_WRITE : 0) | ((flags & VM_CAN_MAP_EXECUTE) ? ZX_RIGHT_EXECUTE : 0);
}

zx_status_t hk_fuchsia_vm_loaded_vmar_locked(hk_fuchsia_vm_t *vm, uint64_t addr, uint64_t size,
                                             const hk_fuchsia_vm_range_t *maps, size_t num_maps, uint32_t *out) {
    zx_handle_t root_h;
    zx_status_t status = hk_fuchsia_vm_root_vmar_locked(vm, &root_h); /* makes vm->root */
    if (status != ZX_OK) return status;
    hk_handle_close_locked(root_h);
    uint32_t flags = VM_CAN_MAP_MASK | VM_CAN_MAP_SPECIFIC;
    hk_vmar_t *v = vmar_new_locked(vm, vm->root, addr, size, flags);
    if (v == NULL) return ZX_ERR_NO_MEMORY;
    bool ok = kid_insert(vm->root, addr, addr + size, v, 0);
    for (size_t i = 0; ok && i < num_maps; i++) ok = kid_insert(v, maps[i].lo, maps[i].hi, NULL, maps[i].perms);
    status = ok ? hk_handle_alloc(&v->base, vmar_rights_for(flags), out) : ZX_ERR_NO_MEMORY;
    hk_object_unref(&v->base);
    return status;
}

void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm) {
    hk_lock();
    if (vm->root != NULL) {
        vmar_kill_locked(vm->root); /* drops the root's references to its sub-VMARs (and theirs) */
        vm->root->vm = NULL;        /* handles kept elsewhere now name a VMAR whose process is gone */
        hk_object_unref(&vm->root->base);
    }
    vm->root = NULL;
    hk_unlock();
}

/* Lock held.  The VMAR of program vm behind handle h with `need` rights (*rights gets the handle's), referenced:
 * BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED as the lookup says; a VMAR of another program NOT_SUPPORTED; of a program
 * that is over, or destroyed, BAD_STATE. */
static zx_status_t vmar_get_locked(hk_fuchsia_vm_t *vm, zx_handle_t h, zx_rights_t need, hk_vmar_t **out,
                                   zx_rights_t *rights) {
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_VMAR, need, &obj, rights);
    if (status != ZX_OK) return status;
    hk_vmar_t *vmar = obj->ops == &vmar_ops ? HK_CONTAINER_OF(obj, hk_vmar_t, base) : NULL;
    if (vmar == NULL || (vmar->vm != NULL && vmar->vm != vm)) return ZX_ERR_NOT_SUPPORTED;
    if (vmar->vm == NULL || vmar->dead) return ZX_ERR_BAD_STATE;
    hk_object_ref(&vmar->base);
    *out = vmar;
    return ZX_OK;
}

static void vmar_put(hk_vmar_t *v) {
    hk_lock();
    hk_object_unref(&v->base);
    hk_unlock();
}

/* Linux's answer to an injected mmap/munmap/mprotect as Zircon's. */
static zx_status_t status_of_errno(int64_t rv) {
    switch (rv) {
    case -EEXIST: return ZX_ERR_ALREADY_EXISTS;
    case -ENOMEM: return ZX_ERR_NO_RESOURCES; /* no room in the address space */
    case -EINVAL: return ZX_ERR_INVALID_ARGS;
    default: return ZX_ERR_INTERNAL;
    }
}

static bool is_err(int64_t rv) { return (uint64_t)rv >= (uint64_t)-4095; }

/* Run one Linux call in the task; false (and *status) when the task could not run it. */
static bool run(hk_inject_t *in, zx_status_t *status, int64_t *rv, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                uint64_t a3, uint64_t a4, uint64_t a5) {
    if (hk_inject_syscall(in, nr, a0, a1, a2, a3, a4, a5, rv)) return true;
    *status = ZX_ERR_BAD_STATE;
    return false;
}

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* Put back the PROT_NONE reservation over [addr, addr + size) of a sub-VMAR (after an unmap or a destroy there). */
static void reserve_again(hk_inject_t *in, uint64_t addr, uint64_t size) {
    zx_status_t status = ZX_OK;
    int64_t rv;
    run(in, &status, &rv, SYS_mmap, addr, size, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, (uint64_t)-1, 0);
}

/* The alignment of the options (VM_ALIGN_*): 0 is none (a page); log2 values below 10 or above 32 are INVALID_ARGS
 * (split_syscall_flags); below a page, a page. */
static zx_status_t align_of(uint32_t options, uint64_t *align) {
    uint32_t p = (options & VM_ALIGN_MASK) >> VM_ALIGN_BASE;
    if (p != 0 && (p < 10 || p > 32)) return ZX_ERR_INVALID_ARGS;
    *align = p > 12 ? 1ull << p : PAGE;
    return ZX_OK;
}

/* A new range of `size` bytes aligned to `align` in the root, reserved PROT_NONE (at addr exactly for specific,
 * where anything already there is ALREADY_EXISTS); *out its address. */
static zx_status_t root_reserve(hk_inject_t *in, bool specific, uint64_t addr, uint64_t size, uint64_t align,
                                uint64_t *out) {
    zx_status_t status = ZX_OK;
    int64_t rv;
    uint64_t span = size + (specific ? 0 : align - PAGE);
    if (span < size) return ZX_ERR_NO_RESOURCES;
    if (!run(in, &status, &rv, SYS_mmap, specific ? addr : 0, span, PROT_NONE,
             RESERVE_FLAGS | (specific ? MAP_FIXED_NOREPLACE : 0), (uint64_t)-1, 0))
        return status;
    if (is_err(rv)) return status_of_errno(rv);
    uint64_t got = (uint64_t)rv;
    if (specific && got != addr) { /* a kernel before 4.17 takes MAP_FIXED_NOREPLACE as a hint */
        run(in, &status, &rv, SYS_munmap, got, span, 0, 0, 0, 0);
        return ZX_ERR_ALREADY_EXISTS;
    }
    uint64_t a = (got + align - 1) & ~(align - 1);
    if (a > got) run(in, &status, &rv, SYS_munmap, got, a - got, 0, 0, 0, 0);
    if (got + span > a + size) run(in, &status, &rv, SYS_munmap, a + size, got + span - (a + size), 0, 0, 0, 0);
    if (a < ROOT_VMAR_BASE || a + size > ROOT_VMAR_BASE + ROOT_VMAR_SIZE) {
        run(in, &status, &rv, SYS_munmap, a, size, 0, 0, 0, 0);
        return ZX_ERR_NO_RESOURCES;
    }
    *out = a;
    return status;
}

/* Where a new region of `size` bytes goes in VMAR v (VmAddressRegion::CreateSubVmarInternal): offset without
 * SPECIFIC INVALID_ARGS; SPECIFIC needs CAN_MAP_SPECIFIC on v (ACCESS_DENIED), an aligned offset inside v
 * (INVALID_ARGS) and a free range (ALREADY_EXISTS); else the first free range (NO_RESOURCES).  The root: a PROT_NONE
 * reservation made here, which the caller maps over or keeps. */
static zx_status_t vmar_place(hk_inject_t *in, hk_vmar_t *v, uint32_t options, uint64_t offset, uint64_t size,
                              uint64_t align, uint64_t *addr) {
    bool specific = (options & VM_SPECIFIC) != 0;
    if (!specific && offset != 0) return ZX_ERR_INVALID_ARGS;
    if (specific && !(v->flags & VM_CAN_MAP_SPECIFIC)) return ZX_ERR_ACCESS_DENIED;
    if (specific && ((offset % align) != 0 || offset > v->size || size > v->size - offset)) return ZX_ERR_INVALID_ARGS;
    if (size > v->size) return ZX_ERR_NO_RESOURCES;
    if (v->parent == NULL) return root_reserve(in, specific, v->addr + offset, size, align, addr);
    hk_lock();
    zx_status_t status = ZX_OK;
    if (v->dead) status = ZX_ERR_BAD_STATE;
    else if (specific && kid_overlap(v, v->addr + offset, v->addr + offset + size)) status = ZX_ERR_ALREADY_EXISTS;
    else if (specific) *addr = v->addr + offset;
    else if (!kid_free_spot(v, size, align, addr)) status = ZX_ERR_NO_RESOURCES;
    hk_unlock();
    return status;
}

/* sys_vmar_allocate (zircon/kernel/lib/syscalls/vmar.cc), in its order: the parent with READ, WRITE, EXECUTE for
 * each CAN_MAP_READ, _WRITE, _EXECUTE asked (BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED); then
 * VmAddressRegionDispatcher::Allocate: unknown options or a PERM_* INVALID_ARGS; then CreateSubVmar: CAN_MAP_* beyond
 * the parent's ACCESS_DENIED, a zero size INVALID_ARGS (the size is rounded up to a page), the placement
 * (vmar_place); OFFSET_IS_UPPER_LIMIT is NOT_SUPPORTED here.  The child VMAR's address goes out first, then its
 * handle, with the VMAR defaults and READ/WRITE/EXECUTE for its CAN_MAP_* (a fault on either: the child is
 * destroyed, INVALID_ARGS). */
static zx_status_t vmar_allocate(hk_fuchsia_vm_t *vm, hk_inject_t *in, zx_handle_t parent_h, uint32_t options,
                                 uint64_t offset, uint64_t size, uint64_t out_vmar, uint64_t out_addr) {
    zx_rights_t need = ((options & VM_CAN_MAP_READ) ? ZX_RIGHT_READ : 0) |
                       ((options & VM_CAN_MAP_WRITE) ? ZX_RIGHT_WRITE : 0) |
                       ((options & VM_CAN_MAP_EXECUTE) ? ZX_RIGHT_EXECUTE : 0);
    hk_vmar_t *parent;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, parent_h, need, &parent, NULL);
    hk_unlock();
    if (status != ZX_OK) return status;
    uint64_t align = PAGE, rounded = (size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if ((options & ~VM_KNOWN) || (options & VM_PERMS)) status = ZX_ERR_INVALID_ARGS;
    else if (options & (VM_SPECIFIC_OVERWRITE | VM_MAP_RANGE | VM_REQUIRE_NON_RESIZABLE | VM_ALLOW_FAULTS))
        status = ZX_ERR_INVALID_ARGS; /* mapping options: not for a VMAR */
    else if (options & VM_OFFSET_IS_UPPER_LIMIT) status = ZX_ERR_NOT_SUPPORTED;
    else status = align_of(options, &align);
    if (status == ZX_OK && (options & VM_CAN_MAP_MASK & ~parent->flags)) status = ZX_ERR_ACCESS_DENIED;
    if (status == ZX_OK && (size == 0 || rounded < size)) status = ZX_ERR_INVALID_ARGS;
    uint64_t addr = 0;
    if (status == ZX_OK) status = vmar_place(in, parent, options, offset, rounded, align, &addr);
    hk_vmar_t *child = NULL;
    zx_handle_t h = ZX_HANDLE_INVALID;
    uint32_t flags = options & (VM_CAN_MAP_MASK | VM_CAN_MAP_SPECIFIC);
    hk_lock();
    if (status == ZX_OK && parent->dead) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK && (child = vmar_new_locked(vm, parent, addr, rounded, flags)) == NULL)
        status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK && !kid_insert(parent, addr, addr + rounded, child, 0)) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK) status = hk_handle_alloc(&child->base, vmar_rights_for(flags), &h);
    if (status != ZX_OK && child != NULL && parent->nkids > 0) {
        for (size_t i = 0; i < parent->nkids; i++)
            if (parent->kids[i].sub == child) {
                hk_object_unref(&child->base);
                memmove(&parent->kids[i], &parent->kids[i + 1], (parent->nkids - i - 1) * sizeof *parent->kids);
                parent->nkids--;
                break;
            }
    }
    if (child != NULL) hk_object_unref(&child->base);
    hk_unlock();
    bool in_root = parent->parent == NULL;
    if (status == ZX_OK && (!copy_out(in->tid, out_addr, &addr, sizeof addr) ||
                            !copy_out(in->tid, out_vmar, &h, sizeof h))) {
        hk_lock();
        for (size_t i = 0; i < parent->nkids; i++)
            if (parent->kids[i].lo == addr && parent->kids[i].sub != NULL) {
                vmar_kill_locked(parent->kids[i].sub);
                hk_object_unref(&parent->kids[i].sub->base);
                memmove(&parent->kids[i], &parent->kids[i + 1], (parent->nkids - i - 1) * sizeof *parent->kids);
                parent->nkids--;
                break;
            }
        hk_handle_close_locked(h);
        hk_unlock();
        status = ZX_ERR_INVALID_ARGS;
    }
    if (status != ZX_OK && addr != 0 && in_root) {
        int64_t rv;
        zx_status_t ignored = ZX_OK;
        run(in, &ignored, &rv, SYS_munmap, addr, rounded, 0, 0, 0, 0);
    }
    vmar_put(parent);
    return status;
}

/* sys_vmar_map, in its order: the VMAR handle and the VMO handle (typed, any rights); ZX_RIGHT_MAP on the VMO
 * (ACCESS_DENIED); REQUIRE_NON_RESIZABLE with a resizable VMO (NOT_SUPPORTED); write without read (INVALID_ARGS);
 * CAN_MAP_* given (INVALID_ARGS); each permission allowed by both handles' READ/WRITE/EXECUTE (ACCESS_DENIED);
 * then VmAddressRegionDispatcher::Map: unknown options INVALID_ARGS, SPECIFIC_OVERWRITE and OFFSET_IS_UPPER_LIMIT
 * NOT_SUPPORTED here (not yet); then CreateVmMapping: an unaligned VMO offset or a zero length INVALID_ARGS, a
 * permission beyond the VMAR's CAN_MAP_* ACCESS_DENIED, then the placement (vmar_place).  The memfd is opened in the
 * task through /proc/<this program>/fd and mapped MAP_SHARED (over the placement's reservation), so the program,
 * every other mapping and vmo_read/vmo_write see the same pages.  The address goes out last (a fault unmaps it:
 * INVALID_ARGS).  The mapping keeps the permissions both handles allowed, which bound a later zx_vmar_protect. */
static zx_status_t vmar_map(hk_fuchsia_vm_t *vm, hk_inject_t *in, uint64_t sp, zx_handle_t vmar_h, uint32_t options,
                            uint64_t vmar_offset, zx_handle_t vmo_h, uint64_t vmo_offset, uint64_t len,
                            uint64_t out) {
    zx_rights_t vmar_rights = 0, vmo_rights = 0;
    hk_object_t *obj = NULL;
    hk_vmar_t *vmar = NULL;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, ZX_RIGHT_NONE, &vmar, &vmar_rights);
    if (status == ZX_OK) {
        status = hk_handle_get(vmo_h, ZX_OBJ_TYPE_VMO, ZX_RIGHT_NONE, &obj, &vmo_rights);
        if (status == ZX_OK && obj->ops != &vmo_ops) status = ZX_ERR_NOT_SUPPORTED;
        if (status == ZX_OK) hk_object_ref(obj);
        else hk_object_unref(&vmar->base);
    }
    hk_unlock();
    if (status != ZX_OK) return status;
    hk_vmo_t *v = HK_CONTAINER_OF(obj, hk_vmo_t, base);
    bool can_read = (vmo_rights & ZX_RIGHT_READ) && (vmar_rights & ZX_RIGHT_READ);
    bool can_write = (vmo_rights & ZX_RIGHT_WRITE) && (vmar_rights & ZX_RIGHT_WRITE);
    bool can_exec = (vmo_rights & ZX_RIGHT_EXECUTE) && (vmar_rights & ZX_RIGHT_EXECUTE);
    uint32_t can_perms = (can_read ? VM_PERM_READ : 0) | (can_write ? VM_PERM_WRITE : 0) |
                         (can_exec ? VM_PERM_EXECUTE : 0);
    uint64_t size = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    uint64_t align = PAGE;
    if (!(vmo_rights & ZX_RIGHT_MAP)) status = ZX_ERR_ACCESS_DENIED;
    else if ((options & VM_REQUIRE_NON_RESIZABLE) && v->resizable) status = ZX_ERR_NOT_SUPPORTED;
    else if ((options & VM_PERM_WRITE) && !(options & VM_PERM_READ)) status = ZX_ERR_INVALID_ARGS;
    else if (options & VM_CAN_MAP_MASK) status = ZX_ERR_INVALID_ARGS;
    else if ((options & VM_PERMS) & ~can_perms) status = ZX_ERR_ACCESS_DENIED;
    else if (options & ~VM_KNOWN) status = ZX_ERR_INVALID_ARGS;
    else if (options & (VM_SPECIFIC_OVERWRITE | VM_OFFSET_IS_UPPER_LIMIT)) status = ZX_ERR_NOT_SUPPORTED;
    else status = align_of(options, &align);
    if (status == ZX_OK && ((vmo_offset % PAGE) != 0 || len == 0 || size < len)) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && ((options & VM_PERMS) << 7) & ~vmar->flags) status = ZX_ERR_ACCESS_DENIED;
    uint64_t addr = 0;
    if (status == ZX_OK) status = vmar_place(in, vmar, options, vmar_offset, size, align, &addr);
    bool placed = status == ZX_OK;
    int prot = ((options & VM_PERM_READ) ? PROT_READ : 0) | ((options & VM_PERM_WRITE) ? PROT_WRITE : 0) |
               ((options & VM_PERM_EXECUTE) ? PROT_EXEC : 0);
    char path[64];
    int n = snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), v->fd);
    uint64_t scratch = (sp - 128 - sizeof path) & ~(uint64_t)15; /* below the red zone */
    int64_t fd = -1, rv = 0;
    if (status == ZX_OK && !hk_inject_write(in, scratch, path, (size_t)n + 1)) status = ZX_ERR_BAD_STATE;
    else if (status == ZX_OK && run(in, &status, &fd, SYS_open, scratch, O_RDWR | O_CLOEXEC, 0, 0, 0, 0) && fd < 0)
        status = ZX_ERR_INTERNAL;
    if (status == ZX_OK &&
        run(in, &status, &rv, SYS_mmap, addr, size, (uint64_t)prot, MAP_SHARED | MAP_FIXED, (uint64_t)fd, vmo_offset) &&
        is_err(rv))
        status = status_of_errno(rv);
    if (fd >= 0) run(in, &status, &rv, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
    vmo_put(v);
    if (status == ZX_OK && vmar->parent != NULL) {
        hk_lock();
        if (vmar->dead) status = ZX_ERR_BAD_STATE;
        else if (!kid_insert(vmar, addr, addr + size, NULL, can_perms)) status = ZX_ERR_NO_MEMORY;
        hk_unlock();
    }
    if (status == ZX_OK && !copy_out(in->tid, out, &addr, sizeof addr)) {
        hk_lock();
        if (vmar->parent != NULL) kid_cut(vmar, addr, addr + size);
        hk_unlock();
        status = ZX_ERR_INVALID_ARGS;
    }
    if (status != ZX_OK && placed) { /* give the range back as it was */
        if (vmar->parent == NULL) run(in, &status, &rv, SYS_munmap, addr, size, 0, 0, 0, 0);
        else reserve_again(in, addr, size);
    }
    vmar_put(vmar);
    return status;
}

/* Is [addr, addr + len) (len rounded up to pages into *size) a valid range of VMAR v: aligned, not empty, inside. */
static bool range_ok(const hk_vmar_t *v, uint64_t addr, uint64_t len, uint64_t *size) {
    *size = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    return (addr % PAGE) == 0 && len != 0 && *size >= len && addr >= v->addr && addr - v->addr <= v->size &&
           *size <= v->size - (addr - v->addr);
}

/* sys_vmar_unmap: the VMAR (typed, no right needed), then VmAddressRegion::Unmap: an unaligned address, a zero
 * length or a range outside the VMAR: INVALID_ARGS; a sub-VMAR partly in the range: INVALID_ARGS; whatever is
 * mapped in the range goes, and sub-VMARs wholly inside are destroyed.  In the root the range is munmap'ed; in a
 * sub-VMAR its PROT_NONE reservation comes back. */
static zx_status_t vmar_unmap(hk_fuchsia_vm_t *vm, hk_inject_t *in, zx_handle_t vmar_h, uint64_t addr, uint64_t len) {
    hk_vmar_t *v;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, ZX_RIGHT_NONE, &v, NULL);
    hk_unlock();
    if (status != ZX_OK) return status;
    uint64_t size;
    if (!range_ok(v, addr, len, &size)) status = ZX_ERR_INVALID_ARGS;
    hk_lock();
    if (status == ZX_OK) status = kid_cut(v, addr, addr + size);
    hk_unlock();
    int64_t rv = 0;
    if (status == ZX_OK && v->parent == NULL && run(in, &status, &rv, SYS_munmap, addr, size, 0, 0, 0, 0) && rv != 0)
        status = status_of_errno(rv);
    if (status == ZX_OK && v->parent != NULL) reserve_again(in, addr, size);
    vmar_put(v);
    return status;
}

/* sys_vmar_protect: the VMAR with READ, WRITE, EXECUTE for each permission asked (ACCESS_DENIED), options other
 * than the permissions INVALID_ARGS, write without read INVALID_ARGS; then VmAddressRegion::Protect: the range as
 * for unmap (INVALID_ARGS); in a sub-VMAR every page of it mapped (NOT_FOUND) and each mapping allowed the new
 * permissions (ACCESS_DENIED).  Then mprotect in the task (in the root: Linux's ENOMEM for a hole is NOT_FOUND). */
static zx_status_t vmar_protect(hk_fuchsia_vm_t *vm, hk_inject_t *in, zx_handle_t vmar_h, uint32_t options,
                                uint64_t addr, uint64_t len) {
    zx_rights_t need = ((options & VM_PERM_READ) ? ZX_RIGHT_READ : 0) |
                       ((options & VM_PERM_WRITE) ? ZX_RIGHT_WRITE : 0) |
                       ((options & VM_PERM_EXECUTE) ? ZX_RIGHT_EXECUTE : 0);
    hk_vmar_t *v;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, need, &v, NULL);
    hk_unlock();
    if (status != ZX_OK) return status;
    uint64_t size = 0;
    if ((options & ~VM_PERMS) || ((options & VM_PERM_WRITE) && !(options & VM_PERM_READ)))
        status = ZX_ERR_INVALID_ARGS;
    else if (!range_ok(v, addr, len, &size))
        status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && v->parent != NULL) {
        hk_lock();
        uint64_t at = addr;
        for (size_t i = 0; i < v->nkids && at < addr + size; i++) {
            const vmar_kid_t *k = &v->kids[i];
            if (k->hi <= at) continue;
            if (k->lo > at || k->sub != NULL) break;
            if ((options & VM_PERMS) & ~k->can_perms) {
                status = ZX_ERR_ACCESS_DENIED;
                break;
            }
            at = k->hi;
        }
        if (status == ZX_OK && at < addr + size) status = ZX_ERR_NOT_FOUND;
        hk_unlock();
    }
    int prot = ((options & VM_PERM_READ) ? PROT_READ : 0) | ((options & VM_PERM_WRITE) ? PROT_WRITE : 0) |
               ((options & VM_PERM_EXECUTE) ? PROT_EXEC : 0);
    int64_t rv = 0;
    if (status == ZX_OK && run(in, &status, &rv, SYS_mprotect, addr, size, (uint64_t)prot, 0, 0, 0) && rv != 0)
        status = rv == -ENOMEM ? ZX_ERR_NOT_FOUND : status_of_errno(rv);
    vmar_put(v);
    return status;
}

/* sys_vmar_destroy: the VMAR (typed, any rights in the 2021 kernel); the root cannot be destroyed (here
 * ACCESS_DENIED: the root's range is the whole task); VmAddressRegion::Destroy: everything in it goes (mappings
 * unmapped, sub-VMARs destroyed), the VMAR is dead (BAD_STATE for any later call through a handle) and its range is
 * free in its parent again: munmap'ed in the root, the PROT_NONE reservation in a sub-VMAR. */
static zx_status_t vmar_destroy_call(hk_fuchsia_vm_t *vm, hk_inject_t *in, zx_handle_t vmar_h) {
    hk_vmar_t *v;
    hk_lock();
    zx_status_t status = vmar_get_locked(vm, vmar_h, ZX_RIGHT_NONE, &v, NULL);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_vmar_t *parent = v->parent;
    if (parent == NULL) status = ZX_ERR_ACCESS_DENIED;
    else status = kid_cut(parent, v->addr, v->addr + v->size); /* v is wholly inside: destroyed */
    bool in_root = parent != NULL && parent->parent == NULL;
    hk_unlock();
    if (status == ZX_OK) {
        int64_t rv;
        if (in_root) run(in, &status, &rv, SYS_munmap, v->addr, v->size, 0, 0, 0, 0);
        else reserve_again(in, v->addr, v->size);
    }
    vmar_put(v);
    return status;
}

bool hk_fuchsia_vm_serve(hk_fuchsia_vm_t *vm, const char *name, pid_t tid, uint64_t site, uint64_t sp,
                         const uint64_t a[8], int64_t *ret, int *pending_signal) {
    *pending_signal = 0;
    if (strncmp(name, "vmar_", 5) == 0) {
        const char *op = name + 5;
        if (strcmp(op, "map") != 0 && strcmp(op, "unmap") != 0 && strcmp(op, "allocate") != 0 &&
            strcmp(op, "protect") != 0 && strcmp(op, "destroy") != 0)
            return false;
        hk_inject_t in;
        if (!hk_inject_begin(&in, tid, site)) {
            *ret = ZX_ERR_BAD_STATE;
            return true;
        }
        if (strcmp(op, "map") == 0)
            *ret = vmar_map(vm, &in, sp, (zx_handle_t)a[0], (uint32_t)a[1], a[2], (zx_handle_t)a[3], a[4], a[5], a[6]);
        else if (strcmp(op, "unmap") == 0)
            *ret = vmar_unmap(vm, &in, (zx_handle_t)a[0], a[1], a[2]);
        else if (strcmp(op, "allocate") == 0)
            *ret = vmar_allocate(vm, &in, (zx_handle_t)a[0], (uint32_t)a[1], a[2], a[3], a[4], a[5]);
        else if (strcmp(op, "protect") == 0)
            *ret = vmar_protect(vm, &in, (zx_handle_t)a[0], (uint32_t)a[1], a[2], a[3]);
        else
            *ret = vmar_destroy_call(vm, &in, (zx_handle_t)a[0]);
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
    else if (strcmp(op, "op_range") == 0) *ret = vmo_op_range((zx_handle_t)a[0], (uint32_t)a[1], a[2], a[3]);
    else if (strcmp(op, "create_child") == 0)
        *ret = vmo_create_child(tid, (zx_handle_t)a[0], (uint32_t)a[1], a[2], a[3], a[4]);
    else if (strcmp(op, "replace_as_executable") == 0)
        *ret = vmo_replace_as_executable(tid, (zx_handle_t)a[0], (zx_handle_t)a[1], a[2]);
    else return false;
    return true;
}
