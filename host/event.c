/* Events: the simplest waitable object (user signals and ZX_EVENT_SIGNALED), used by tests of waits. */
#include <stdlib.h>

#include "kernel.h"

static void event_destroy(hk_object_t *obj) { free(obj); }

static zx_koid_t no_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t event_ops = {
    .on_zero_handles = NULL,
    .destroy = event_destroy,
    .related_koid = no_related_koid,
};

zx_status_t zx_event_create(uint32_t options, zx_handle_t *out) {
    if (options != 0 || out == NULL) return ZX_ERR_INVALID_ARGS;
    hk_object_t *event = calloc(1, sizeof(*event));
    if (event == NULL) return ZX_ERR_NO_MEMORY;
    hk_lock();
    hk_object_init(event, ZX_OBJ_TYPE_EVENT, &event_ops);
    zx_status_t status = hk_handle_alloc(event, ZX_DEFAULT_EVENT_RIGHTS, out);
    hk_object_unref(event);
    hk_unlock();
    return status;
}
