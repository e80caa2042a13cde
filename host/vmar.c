/* VMARs: zx_process_create returns the new process's root VMAR.  The host kernel has no address spaces to
 * manage, so a VMAR here is an object that can be inspected and closed, and nothing more. */
#include <stdlib.h>

#include "kernel.h"

static void vmar_destroy(hk_object_t *obj) { free(obj); }

static zx_koid_t vmar_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t vmar_ops = {
    .on_zero_handles = NULL,
    .destroy = vmar_destroy,
    .related_koid = vmar_related_koid,
};

zx_status_t hk_vmar_create_root(hk_process_t *p, zx_handle_t *out) {
    (void)p;
    hk_object_t *vmar = calloc(1, sizeof(*vmar));
    if (vmar == NULL) return ZX_ERR_NO_MEMORY;
    hk_object_init(vmar, ZX_OBJ_TYPE_VMAR, &vmar_ops);
    /* VmAddressRegionDispatcher::Create: the default rights plus READ/WRITE/EXECUTE, as a root VMAR may map all. */
    zx_status_t status =
        hk_handle_alloc(vmar, HK_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE, out);
    hk_object_unref(vmar);
    return status;
}
