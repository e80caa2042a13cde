/* zxpy's entry points to the Fuchsia runner (runner.h, vdso.h) for the Python module: x86-64 Linux hosts only.
 *
 * build_ffi.py compiles host/fuchsia/ into the host module only where the host is x86-64 Linux, and declares
 * these (zxpy/_abi.py, FUCHSIA_RUNNER_FUNCTIONS) only there; a cross build for Fuchsia has neither.  Plain C
 * types only, so the cdef needs none of the runner's records (docs/fuchsia-elf.md, "From Python").
 */
#ifndef ZXPY_HOST_FUCHSIA_ENTRY_H_
#define ZXPY_HOST_FUCHSIA_ENTRY_H_

#include <stddef.h>
#include <stdint.h>
#include <zircon/types.h>

/* hk_fuchsia_spawn_stdio: argv and environ NULL-terminated (NULL: argv = {name}, no environ); num_handles
 * handles with their PA_* tags, consumed whatever the result; names[0..num_names) the namespace paths the
 * PA_HND(PA_NS_DIR, i) handles are for (the message's names table); stdio_fds: the host fds the program's fds 0-2 are
 * pumped from and to (duplicated; -1: that fd left out; NULL: {0, 1, stderr_fd}); debug_write output to stderr_fd
 * (duplicated; -1: the caller's fd 2); err_msg as fdio_spawn's (FDIO_SPAWN_ERR_MSG_MAX_LENGTH bytes). */
zx_status_t zxpy_fuchsia_spawn(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                               const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                               const zx_handle_t *handles, size_t num_handles, const char *const *names,
                               size_t num_names, const int *stdio_fds, int stderr_fd, zx_handle_t *process_out,
                               char *err_msg);

/* hk_fuchsia_spawn_interp: exe_path (PT_INTERP ld.so.1) started through the dynamic linker ldso_path; the other
 * arguments as zxpy_fuchsia_spawn's (argv NULL: {name}). */
zx_status_t zxpy_fuchsia_spawn_interp(zx_handle_t job, const char *exe_path, const char *ldso_path,
                                      const char *vdso_path, const char *name, const char *const *argv,
                                      const char *const *environ, const uint32_t *handle_infos,
                                      const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                      size_t num_names, const int *stdio_fds, int stderr_fd,
                                      zx_handle_t *process_out, char *err_msg);

/* hk_fuchsia_elf_probe: 0 and the fields for any ELF64 LE file, else a negative hk_vdso_status_t with err (a
 * one-line reason).  *has_interp / *is_fuchsia are 0 or 1; interp gets PT_INTERP's string (truncated). */
int zxpy_fuchsia_elf_probe(const char *path, uint16_t *machine, uint16_t *type, int *has_interp, int *is_fuchsia,
                           char *interp, size_t interp_size, char *err, size_t errlen);

/* hk_fx_fs_connect (fileserver.h): a fuchsia.io Directory connection to the host directory root (read-only when
 * read_only != 0), its client end in *client (the caller's table), for a PA_HND(PA_NS_DIR, i) handle. */
zx_status_t zxpy_fuchsia_fs_connect(const char *root, int read_only, zx_handle_t *client);

/* hk_fx_fs_live_connections: fuchsia.io connections served now (each ends when its client end closes). */
size_t zxpy_fuchsia_fs_live(void);

/* A fuchsia.process.Launcher connection (launcher.h) whose context starts programs with vdso_path and, for a
 * PT_INTERP ld.so.1 executable, ldso_path (NULL: none); its client end in *client (this program's table), for a
 * program to be handed as a PA_* handle: a way to the launcher without a namespace.  ZX_ERR_NO_MEMORY, or the
 * channel's status. */
zx_status_t zxpy_fuchsia_launcher_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client);

/* hk_fx_launcher_svc_connect: a service directory for a program's "/svc" holding fuchsia.process.Launcher, which
 * starts programs with vdso_path and (PT_INTERP ld.so.1 executables) ldso_path (NULL: none); its client end in
 * *client (this program's table), for PA_HND(PA_NS_DIR, i). */
zx_status_t zxpy_fuchsia_svc_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client);

/* hk_fuchsia_unserved_list: "name=count,..." of every syscall the runner answered NOT_SUPPORTED. */
size_t zxpy_fuchsia_unserved_list(char *buf, size_t size);

#endif /* ZXPY_HOST_FUCHSIA_ENTRY_H_ */
