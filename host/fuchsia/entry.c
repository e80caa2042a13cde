/* zxpy's entry points to the Fuchsia runner (entry.h). */
#include "entry.h"

#include <stdio.h>
#include <string.h>

#include "../kernel.h"
#include "fileserver.h"
#include "launcher.h"
#include "runner.h"
#include "vdso.h"

zx_status_t zxpy_fuchsia_spawn(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                               const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                               const zx_handle_t *handles, size_t num_handles, const char *const *names,
                               size_t num_names, const int *stdio_fds, int stderr_fd, zx_handle_t *process_out,
                               char *err_msg) {
    const char *plain[] = {name != NULL ? name : image_path, NULL};
    return hk_fuchsia_spawn_stdio(job, image_path, vdso_path, name, argv != NULL ? argv : plain, environ,
                                  num_handles ? handle_infos : NULL, num_handles ? handles : NULL, num_handles,
                                  num_names ? names : NULL, num_names, stdio_fds, stderr_fd, process_out, err_msg);
}

zx_status_t zxpy_fuchsia_spawn_interp(zx_handle_t job, const char *exe_path, const char *ldso_path,
                                      const char *vdso_path, const char *name, const char *const *argv,
                                      const char *const *environ, const uint32_t *handle_infos,
                                      const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                      size_t num_names, const int *stdio_fds, int stderr_fd,
                                      zx_handle_t *process_out, char *err_msg) {
    const char *plain[] = {name != NULL ? name : exe_path, NULL};
    return hk_fuchsia_spawn_interp(job, exe_path, ldso_path, vdso_path, name, argv != NULL ? argv : plain, environ,
                                   num_handles ? handle_infos : NULL, num_handles ? handles : NULL, num_handles,
                                   num_names ? names : NULL, num_names, stdio_fds, stderr_fd, process_out, err_msg);
}

int zxpy_fuchsia_elf_probe(const char *path, uint16_t *machine, uint16_t *type, int *has_interp, int *is_fuchsia,
                           char *interp, size_t interp_size, char *err, size_t errlen) {
    hk_fuchsia_elf_t elf;
    memset(&elf, 0, sizeof elf);
    int status = hk_fuchsia_elf_probe(path, &elf, err, errlen);
    if (status != HK_VDSO_OK) return status;
    *machine = elf.machine;
    *type = elf.type;
    *has_interp = elf.has_interp ? 1 : 0;
    *is_fuchsia = elf.is_fuchsia ? 1 : 0;
    if (interp != NULL && interp_size > 0) snprintf(interp, interp_size, "%s", elf.interp);
    return HK_VDSO_OK;
}

size_t zxpy_fuchsia_unserved_list(char *buf, size_t size) { return hk_fuchsia_unserved_list(buf, size); }

zx_status_t zxpy_fuchsia_fs_connect(const char *root, int read_only, zx_handle_t *client) {
    return hk_fx_fs_connect(root, read_only != 0, client);
}

size_t zxpy_fuchsia_fs_live(void) { return hk_fx_fs_live_connections(); }

zx_status_t zxpy_fuchsia_launcher_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client) {
    hk_fx_launcher_t *l = hk_fx_launcher_new(vdso_path, ldso_path);
    if (l == NULL) return ZX_ERR_NO_MEMORY;
    zx_handle_t server;
    zx_status_t status = zx_channel_create(0, client, &server);
    if (status == ZX_OK) hk_fx_launcher_connect(l, HK_FX_LAUNCHER_NAME, server);
    hk_fx_launcher_release(l); /* the connection holds its own reference */
    return status;
}

zx_status_t zxpy_fuchsia_svc_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client) {
    return hk_fx_launcher_svc_connect(vdso_path, ldso_path, client);
}
