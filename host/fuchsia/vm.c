#define _GNU_SOURCE /* memfd_create, process_vm_readv/writev */
/* VMOs for Fuchsia programs, backed by memfds: see vm.h.
 *
 * A VMO is a host-kernel object (ZX_OBJ_TYPE_VMO) holding a memfd whose length is the VMO's size: pages are
 * allocated on first write and read as zeros before, as a VmObjectPaged's are, and shrinking drops the content
 * beyond the new size (ftruncate), as VmObjectPaged::Resize does.  Handles come from the host kernel's handle table.
 * Data moves between the program's memory and the memfd through process_vm_readv/writev: a fault there is
 * ZX_ERR_INVALID_ARGS, what Zircon's user copies return. */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../kernel.h"

#define PAGE 4096u
#define VMO_RESIZABLE ((uint32_t)1u << 1) /* ZX_VMO_RESIZABLE, zircon/types.h */
#define COPY_CHUNK (64u * 1024u)

typedef struct hk_vmo {
    hk_object_t base;
    int fd;
    uint64_t size; /* lock */
    bool resizable;
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
static zx_status_t vmo_create(hk_fuchsia_vm_t *vm, pid_t tid, uint64_t size, uint32_t options, uint64_t out) {
    if (options & ~VMO_RESIZABLE) return ZX_ERR_INVALID_ARGS;
    zx_status_t status = round_size(size, &size);
    if (status != ZX_OK) return status;
    if (vm->count == vm->cap) {
        size_t cap = vm->cap ? 2 * vm->cap : 16;
        uint32_t *grown = realloc(vm->handles, cap * sizeof *grown);
        if (grown == NULL) return ZX_ERR_NO_MEMORY;
        vm->handles = grown;
        vm->cap = cap;
    }
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
    vm->handles[vm->count++] = h;
    return ZX_OK;
}

void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm) {
    hk_lock();
    for (size_t i = 0; i < vm->count; i++) hk_handle_close_locked(vm->handles[i]);
    hk_unlock();
    free(vm->handles);
    memset(vm, 0, sizeof *vm);
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

bool hk_fuchsia_vm_serve(hk_fuchsia_vm_t *vm, const char *name, pid_t tid, const uint64_t a[8], int64_t *ret) {
    if (strncmp(name, "vmo_", 4) != 0) return false;
    const char *op = name + 4;
    if (strcmp(op, "create") == 0) *ret = vmo_create(vm, tid, a[0], (uint32_t)a[1], a[2]);
    else if (strcmp(op, "read") == 0) *ret = vmo_rw(tid, false, (zx_handle_t)a[0], a[1], a[2], a[3]);
    else if (strcmp(op, "write") == 0) *ret = vmo_rw(tid, true, (zx_handle_t)a[0], a[1], a[2], a[3]);
    else if (strcmp(op, "get_size") == 0) *ret = vmo_get_size(tid, (zx_handle_t)a[0], a[1]);
    else if (strcmp(op, "set_size") == 0) *ret = vmo_set_size((zx_handle_t)a[0], a[1]);
    else return false;
    return true;
}
