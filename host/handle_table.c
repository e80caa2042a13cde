/* The handle table of the calling process: handle values, rights, and the handle syscalls.
 *
 * A handle value is (slot << 8) | (generation << 2) | 0x3.  The low two bits are always set, as in Zircon
 * (ZX_HANDLE_FIXED_BITS_MASK), and the 6-bit generation makes a closed value stale for the next 63 reuses of its
 * slot, so a closed handle gives ZX_ERR_BAD_HANDLE instead of naming another object.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#define SLOT_SHIFT 8u
#define GEN_SHIFT 2u
#define GEN_MASK 0x3fu
#define MAX_SLOTS (1u << 20) /* Zircon's per-process handle limit is of this order */

typedef struct {
    hk_object_t *obj; /* NULL when free */
    zx_rights_t rights;
    uint32_t generation;
    uint32_t next_free; /* slot + 1 of the next free entry, 0 for none */
} handle_entry_t;

static handle_entry_t *g_entries;
static uint32_t g_capacity;  /* slot 0 is never used, so no valid value is small */
static uint32_t g_free_head; /* slot + 1 */

static zx_handle_t encode(uint32_t slot, uint32_t generation) {
    return (slot << SLOT_SHIFT) | ((generation & GEN_MASK) << GEN_SHIFT) | ZX_HANDLE_FIXED_BITS_MASK;
}

static handle_entry_t *decode(zx_handle_t h) {
    if ((h & ZX_HANDLE_FIXED_BITS_MASK) != ZX_HANDLE_FIXED_BITS_MASK) return NULL;
    uint32_t slot = h >> SLOT_SHIFT;
    if (slot == 0 || slot >= g_capacity) return NULL;
    handle_entry_t *e = &g_entries[slot];
    if (e->obj == NULL || ((e->generation & GEN_MASK) << GEN_SHIFT) != (h & (GEN_MASK << GEN_SHIFT))) return NULL;
    return e;
}

static zx_status_t grow(void) {
    uint32_t capacity = g_capacity ? g_capacity * 2 : 256;
    if (capacity > MAX_SLOTS) return ZX_ERR_NO_RESOURCES;
    handle_entry_t *entries = realloc(g_entries, capacity * sizeof(*entries));
    if (entries == NULL) return ZX_ERR_NO_MEMORY;
    uint32_t first = g_capacity ? g_capacity : 1;
    memset(entries + g_capacity, 0, (capacity - g_capacity) * sizeof(*entries));
    for (uint32_t slot = capacity - 1; slot >= first; slot--) {
        entries[slot].next_free = g_free_head;
        g_free_head = slot + 1;
    }
    g_entries = entries;
    g_capacity = capacity;
    return ZX_OK;
}

/* Put a handle's share of obj (a reference and a count in obj->handles, owned by the caller) in a free slot. */
static zx_status_t install(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out) {
    if (g_free_head == 0) {
        zx_status_t status = grow();
        if (status != ZX_OK) return status;
    }
    uint32_t slot = g_free_head - 1;
    handle_entry_t *e = &g_entries[slot];
    g_free_head = e->next_free;
    e->obj = obj;
    e->rights = rights;
    e->generation++;
    *out = encode(slot, e->generation);
    return ZX_OK;
}

zx_status_t hk_handle_alloc(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out) {
    zx_status_t status = install(obj, rights, out);
    if (status != ZX_OK) return status;
    hk_object_ref(obj);
    obj->handles++;
    return ZX_OK;
}

zx_status_t hk_handle_give(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out) {
    return install(obj, rights, out);
}

zx_status_t hk_handle_get(zx_handle_t h, zx_obj_type_t type, zx_rights_t rights, hk_object_t **obj,
                          zx_rights_t *handle_rights) {
    handle_entry_t *e = decode(h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    if (type != ZX_OBJ_TYPE_NONE && e->obj->type != type) return ZX_ERR_WRONG_TYPE;
    if ((e->rights & rights) != rights) return ZX_ERR_ACCESS_DENIED;
    *obj = e->obj;
    if (handle_rights != NULL) *handle_rights = e->rights;
    return ZX_OK;
}

/* Take the entry out of the table.  The caller owns the reference the handle held. */
static hk_object_t *detach(zx_handle_t h, handle_entry_t *e) {
    hk_object_t *obj = e->obj;
    uint32_t slot = h >> SLOT_SHIFT;
    e->obj = NULL;
    e->rights = 0;
    e->next_free = g_free_head;
    g_free_head = slot + 1;
    /* Closing a handle cancels the waits made through it, even when other handles remain (Zircon). */
    hk_wait_cancel_handle(obj, h);
    return obj;
}

/* Drop a handle's share of obj: the last handle triggers on_zero_handles, then the reference goes. */
static void release(hk_object_t *obj) {
    if (--obj->handles == 0 && obj->ops->on_zero_handles != NULL) obj->ops->on_zero_handles(obj);
    hk_object_unref(obj);
}

zx_status_t hk_handle_take(zx_handle_t h, hk_object_t **obj, zx_rights_t *rights) {
    handle_entry_t *e = decode(h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    *rights = e->rights;
    *obj = detach(h, e);
    return ZX_OK;
}

void hk_handle_drop(hk_object_t *obj) { release(obj); }

void hk_handle_count_by_type(uint32_t counts[ZX_OBJ_TYPE_UPPER_BOUND]) {
    memset(counts, 0, sizeof(uint32_t) * ZX_OBJ_TYPE_UPPER_BOUND);
    for (uint32_t slot = 1; slot < g_capacity; slot++) {
        hk_object_t *obj = g_entries[slot].obj;
        if (obj != NULL && obj->type < ZX_OBJ_TYPE_UPPER_BOUND) counts[obj->type]++;
    }
}

zx_status_t hk_handle_close_locked(zx_handle_t h) {
    if (h == ZX_HANDLE_INVALID) return ZX_OK; /* like free(NULL) */
    handle_entry_t *e = decode(h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    release(detach(h, e));
    return ZX_OK;
}

zx_status_t zx_handle_close(zx_handle_t handle) {
    hk_lock();
    zx_status_t status = hk_handle_close_locked(handle);
    hk_unlock();
    return status;
}

zx_status_t zx_handle_close_many(const zx_handle_t *handles, size_t num_handles) {
    if (handles == NULL && num_handles != 0) return ZX_ERR_INVALID_ARGS;
    zx_status_t result = ZX_OK;
    hk_lock();
    /* Every good handle is closed even when some are bad; a value repeated is bad the second time. */
    for (size_t i = 0; i < num_handles; i++) {
        if (hk_handle_close_locked(handles[i]) != ZX_OK) result = ZX_ERR_BAD_HANDLE;
    }
    hk_unlock();
    return result;
}

/* Zircon: ZX_RIGHT_SAME_RIGHTS (exactly) keeps the rights; anything else must be a subset of them. */
static bool derive_rights(zx_rights_t source, zx_rights_t requested, zx_rights_t *out) {
    if (requested == ZX_RIGHT_SAME_RIGHTS) {
        *out = source;
        return true;
    }
    if ((requested & ~source) != 0) return false;
    *out = requested;
    return true;
}

zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t *out) {
    hk_lock();
    hk_object_t *obj;
    zx_rights_t source_rights;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_DUPLICATE, &obj, &source_rights);
    zx_rights_t new_rights = 0;
    if (status == ZX_OK && !derive_rights(source_rights, rights, &new_rights)) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK && out == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) status = hk_handle_alloc(obj, new_rights, out);
    hk_unlock();
    return status;
}

zx_status_t zx_handle_replace(zx_handle_t handle, zx_rights_t rights, zx_handle_t *out) {
    hk_lock();
    handle_entry_t *e = decode(handle);
    if (e == NULL) {
        hk_unlock();
        return ZX_ERR_BAD_HANDLE;
    }
    hk_object_t *obj = e->obj;
    zx_rights_t new_rights = 0;
    zx_status_t status = ZX_OK;
    if (!derive_rights(e->rights, rights, &new_rights) || out == NULL) status = ZX_ERR_INVALID_ARGS;
    /* The new handle exists before the old one goes, so a successful replace never looks like "last handle
     * closed" (a replaced suspend token keeps its task suspended). */
    if (status == ZX_OK) status = hk_handle_alloc(obj, new_rights, out);
    /* handle_dup_replace (zircon/kernel/lib/syscalls/handle_ops.cc): rights that are not a subset remove the source
     * and fail; a new handle that cannot be made (NO_MEMORY, here also NO_RESOURCES) leaves the source in place. */
    if (status == ZX_ERR_NO_MEMORY || status == ZX_ERR_NO_RESOURCES) {
        hk_unlock();
        return status;
    }
    release(detach(handle, e));
    hk_unlock();
    return status;
}

/* fork.c: in a forked child, none of the parent's handles exist.  Each value in use is quarantined: its slot keeps
 * no object (BAD_HANDLE) and stays off the free list, so no handle of the child ever takes a value that a wrapper
 * inherited from the parent still holds.  The objects are left unreachable (see fork.c). */
void hk_handle_table_after_fork(void) {
    for (uint32_t slot = 1; slot < g_capacity; slot++) {
        handle_entry_t *e = &g_entries[slot];
        if (e->obj == NULL) continue;
        e->obj = NULL;
        e->rights = 0;
        e->next_free = 0;
    }
}
