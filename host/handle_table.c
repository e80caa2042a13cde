/* Handle tables: handle values, rights, and the handle syscalls.
 *
 * A handle value is (slot << 8) | (generation << 2) | 0x3.  The low two bits are always set, as in Zircon
 * (ZX_HANDLE_FIXED_BITS_MASK), and the 6-bit generation makes a closed value stale for the next 63 reuses of its
 * slot, so a closed handle gives ZX_ERR_BAD_HANDLE instead of naming another object.
 *
 * Each process owns a table, as in Zircon (zircon/kernel/object/handle_table.cc, one HandleTable per
 * ProcessDispatcher): the host program's is g_host; a Fuchsia program run by host/fuchsia/ has its own
 * (hk_process_t.handle_table).  Every lookup goes to the *current* table, hk_cpu.table (NULL: the host
 * program's), which the Fuchsia runner sets while it serves one of the program's calls, so that every zx_* of
 * the host kernel serves it unchanged, rights checks and check order included.  A value names a handle of one
 * table only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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

struct hk_handle_table {
    uint32_t mixer;     /* XORed into every value (low two bits 0): 0 for the host's, random for a program's */
    handle_entry_t *entries;
    uint32_t capacity;  /* slot 0 is never used, so no valid value is small */
    uint32_t free_head; /* slot + 1 */
    bool closed;        /* its process is dead: no handle is ever added again */
};

static hk_handle_table_t g_host; /* the host program's */

/* The table the calling thread acts in. */
static inline hk_handle_table_t *cur(void) {
    hk_handle_table_t *t = hk_cpu.table;
    return t != NULL ? t : &g_host;
}

static zx_handle_t encode(const hk_handle_table_t *t, uint32_t slot, uint32_t generation) {
    return ((slot << SLOT_SHIFT) | ((generation & GEN_MASK) << GEN_SHIFT) | ZX_HANDLE_FIXED_BITS_MASK) ^ t->mixer;
}

static handle_entry_t *decode(hk_handle_table_t *t, zx_handle_t h) {
    if ((h & ZX_HANDLE_FIXED_BITS_MASK) != ZX_HANDLE_FIXED_BITS_MASK) return NULL;
    h ^= t->mixer;
    uint32_t slot = h >> SLOT_SHIFT;
    if (slot == 0 || slot >= t->capacity) return NULL;
    handle_entry_t *e = &t->entries[slot];
    if (e->obj == NULL || ((e->generation & GEN_MASK) << GEN_SHIFT) != (h & (GEN_MASK << GEN_SHIFT))) return NULL;
    return e;
}

static zx_status_t grow(hk_handle_table_t *t) {
    uint32_t capacity = t->capacity ? t->capacity * 2 : 256;
    if (capacity > MAX_SLOTS) return ZX_ERR_NO_RESOURCES;
    handle_entry_t *entries = realloc(t->entries, capacity * sizeof(*entries));
    if (entries == NULL) return ZX_ERR_NO_MEMORY;
    uint32_t first = t->capacity ? t->capacity : 1;
    memset(entries + t->capacity, 0, (capacity - t->capacity) * sizeof(*entries));
    for (uint32_t slot = capacity - 1; slot >= first; slot--) {
        entries[slot].next_free = t->free_head;
        t->free_head = slot + 1;
    }
    t->entries = entries;
    t->capacity = capacity;
    return ZX_OK;
}

/* Put a handle's share of obj (a reference and a count in obj->handles, owned by the caller) in a free slot.  A
 * closed table (its process is dead) takes none: NO_RESOURCES, as for a full one. */
static zx_status_t install(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out) {
    hk_handle_table_t *t = cur();
    if (t->free_head == 0 || t->closed) {
        if (t->closed) return ZX_ERR_NO_RESOURCES;
        zx_status_t status = grow(t);
        if (status != ZX_OK) return status;
    }
    uint32_t slot = t->free_head - 1;
    handle_entry_t *e = &t->entries[slot];
    t->free_head = e->next_free;
    e->obj = obj;
    e->rights = rights;
    e->generation++;
    *out = encode(t, slot, e->generation);
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
    handle_entry_t *e = decode(cur(), h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    if (type != ZX_OBJ_TYPE_NONE && e->obj->type != type) return ZX_ERR_WRONG_TYPE;
    if ((e->rights & rights) != rights) return ZX_ERR_ACCESS_DENIED;
    *obj = e->obj;
    if (handle_rights != NULL) *handle_rights = e->rights;
    return ZX_OK;
}

/* Take the entry out of the table.  The caller owns the reference the handle held. */
static hk_object_t *detach(hk_handle_table_t *t, zx_handle_t h, handle_entry_t *e) {
    hk_object_t *obj = e->obj;
    uint32_t slot = (h ^ t->mixer) >> SLOT_SHIFT;
    e->obj = NULL;
    e->rights = 0;
    e->next_free = t->free_head;
    t->free_head = slot + 1;
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
    hk_handle_table_t *t = cur();
    handle_entry_t *e = decode(t, h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    *rights = e->rights;
    *obj = detach(t, h, e);
    return ZX_OK;
}

void hk_handle_drop(hk_object_t *obj) { release(obj); }

void hk_handle_count_by_type(const hk_handle_table_t *t, uint32_t counts[ZX_OBJ_TYPE_UPPER_BOUND]) {
    if (t == NULL) t = &g_host;
    memset(counts, 0, sizeof(uint32_t) * ZX_OBJ_TYPE_UPPER_BOUND);
    for (uint32_t slot = 1; slot < t->capacity; slot++) {
        hk_object_t *obj = t->entries[slot].obj;
        if (obj != NULL && obj->type < ZX_OBJ_TYPE_UPPER_BOUND) counts[obj->type]++;
    }
}

zx_status_t hk_handle_close_locked(zx_handle_t h) {
    if (h == ZX_HANDLE_INVALID) return ZX_OK; /* like free(NULL) */
    hk_handle_table_t *t = cur();
    handle_entry_t *e = decode(t, h);
    if (e == NULL) return ZX_ERR_BAD_HANDLE;
    release(detach(t, h, e));
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
    hk_handle_table_t *t = cur();
    handle_entry_t *e = decode(t, handle);
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
    /* The new handle may have grown the table: find the source entry again. */
    e = decode(t, handle);
    release(detach(t, handle, e));
    hk_unlock();
    return status;
}

/* fork.c: in a forked child, none of the parent's handles exist.  Each value in use is quarantined: its slot keeps
 * no object (BAD_HANDLE) and stays off the free list, so no handle of the child ever takes a value that a wrapper
 * inherited from the parent still holds.  The objects are left unreachable (see fork.c). */
void hk_handle_table_after_fork(void) {
    for (uint32_t slot = 1; slot < g_host.capacity; slot++) {
        handle_entry_t *e = &g_host.entries[slot];
        if (e->obj == NULL) continue;
        e->obj = NULL;
        e->rights = 0;
        e->next_free = 0;
    }
}

/* ------------------------------------------------------------------------------------------------ process tables */

/* A program's values are mixed with a random secret, as Zircon's HandleTable mixes each process's
 * (random_value_, zircon/kernel/object/handle_table.cc): a value of one table names nothing in another. */
hk_handle_table_t *hk_handle_table_new(void) {
    hk_handle_table_t *t = calloc(1, sizeof(hk_handle_table_t));
    if (t == NULL) return NULL;
    uint32_t secret = 0;
    if (getrandom(&secret, sizeof secret, GRND_NONBLOCK) != (ssize_t)sizeof secret)
        secret = (uint32_t)(uintptr_t)t ^ (uint32_t)hk_now();
    t->mixer = secret & ~(uint32_t)ZX_HANDLE_FIXED_BITS_MASK;
    return t;
}

/* Zircon's FinishDeadTransition cleans the dead process's handle table: every handle it held is closed, with all
 * that closing a handle does (waits through it canceled, a suspend token's task resumed, a channel's peer
 * closed), and the table takes no handle again (zircon/kernel/object/process_dispatcher.cc). */
void hk_handle_table_close(hk_handle_table_t *t) {
    if (t == NULL || t->closed) return;
    t->closed = true;
    hk_handle_table_t *saved = hk_cpu.table;
    hk_cpu.table = t; /* detach cancels the waits made through these values, in this table */
    for (uint32_t slot = 1; slot < t->capacity; slot++) {
        handle_entry_t *e = &t->entries[slot];
        if (e->obj == NULL) continue;
        zx_handle_t h = encode(t, slot, e->generation);
        /* Closing may run any object's last-handle code, which never touches this table: it is no longer any
         * running code's current table but this loop's. */
        release(detach(t, h, e));
    }
    hk_cpu.table = saved;
}

void hk_handle_table_free(hk_handle_table_t *t) {
    if (t == NULL || t == &g_host) return;
    free(t->entries);
    free(t);
}

uint32_t hk_handle_table_count(const hk_handle_table_t *t) {
    if (t == NULL) t = &g_host;
    uint32_t n = 0;
    for (uint32_t slot = 1; slot < t->capacity; slot++) n += t->entries[slot].obj != NULL;
    return n;
}
