/* Running a Fuchsia x86-64 ELF image on the host kernel (docs/fuchsia-elf.md, "What runs now").
 *
 * hk_fuchsia_spawn creates a process in a job and starts the image in it the way Zircon's launcher starts a
 * program (hk_fuchsia_spawn_interp: a PT_INTERP executable through its dynamic linker, which loads it from a VMO):
 * only the start image (a static PIE, or ld.so.1: an image without PT_INTERP), the vDSO and a stack are
 * mapped, in a Linux process that exec'd a one-page trampoline and then lost every mapping but those,
 * the vDSO's DATA_CONSTANTS are filled, and the first thread enters the image's entry with rdi = the bootstrap
 * channel handle (in the program's own handle table; the processargs message waits on it: serve.h) and rsi = the
 * vDSO base.  The program is a Linux process of the spawn backend (linux_*.c) whose task resumes with PTRACE_SYSEMU:
 * each `syscall` it issues stops before it runs, and the monitor thread serves it here.
 *
 * x86-64 Linux only; compiled into the Python module there (entry.h: Job.spawn_fuchsia), never into a Fuchsia build.
 */
#ifndef ZXPY_HOST_FUCHSIA_RUNNER_H_
#define ZXPY_HOST_FUCHSIA_RUNNER_H_

#include <stddef.h>
#include <stdint.h>
#include <zircon/types.h>

/* Start the Fuchsia image at image_path with the vDSO at vdso_path (its syscall numbers are read from that file)
 * as a new process of job, named name.  debug_write output goes to stderr_fd (duplicated; -1: this program's
 * fd 2).  Blocks until the image is mapped and about to run its first instruction, or the spawn failed.  On
 * failure err_msg (FDIO_SPAWN_ERR_MSG_MAX_LENGTH bytes, may be NULL) says why.
 *   ZX_ERR_IO / ZX_ERR_NOT_SUPPORTED  a file that cannot be read or is no image this runner maps (ld.so.1-style
 *                                      static ET_DYN without PT_INTERP, no relocations are applied; a vDSO that
 *                                      hk_vdso_check rejects)
 *   otherwise as fdio_spawn: BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED, BAD_STATE for the job; NO_MEMORY, ... */
zx_status_t hk_fuchsia_spawn(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                             int stderr_fd, zx_handle_t *process_out, char *err_msg);

/* Where the runner put a running Fuchsia program: the image's and the vDSO's whole spans and the first thread's
 * stack, in its address space.  ZX_ERR_BAD_STATE: not a running Fuchsia program; as zx_object_get_info for the
 * handle otherwise. */
typedef struct hk_fuchsia_layout {
    uint64_t image_base, image_size;
    uint64_t vdso_base, vdso_size;
    uint64_t stack_base, stack_size;
} hk_fuchsia_layout_t;
zx_status_t hk_fuchsia_layout(zx_handle_t process, hk_fuchsia_layout_t *out);

/* A new handle, in the calling program's table, to the running Fuchsia program's root VMAR (the program has its own
 * from its bootstrap message, PA_VMAR_ROOT); the caller closes it, and once the program is over it names a VMAR
 * of no program.  ZX_ERR_BAD_STATE: not a running Fuchsia program. */
zx_status_t hk_fuchsia_root_vmar(zx_handle_t process, zx_handle_t *out);

/* hk_fuchsia_spawn with the processargs message's contents: argv and environ (NULL-terminated; NULL: none; the
 * plain call passes argv = {name}), and num_handles handles of the calling program with their PA_* tags (as
 * FDIO_SPAWN_ACTION_ADD_HANDLE), consumed whatever the result.  The message also carries PA_PROC_SELF,
 * PA_THREAD_SELF and PA_JOB_DEFAULT (job duplicated with ZX_RIGHT_SAME_RIGHTS, so job needs ZX_RIGHT_DUPLICATE as
 * for fdio_spawn).  names[0..num_names) is the message's names table (the program's namespace: absolute paths, e.g.
 * "/tmp", "/svc"; NULL/0: none), one for each handle tagged PA_HND(PA_NS_DIR, i) among handles (a directory channel:
 * host/fuchsia/fileserver.h; an index past the table, or a name not starting with '/': ZX_ERR_INVALID_ARGS).
 * ZX_ERR_OUT_OF_RANGE when it does not fit in a channel message. */
zx_status_t hk_fuchsia_spawn_etc(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                                 const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                                 const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                 size_t num_names, int stderr_fd, zx_handle_t *process_out, char *err_msg);

/* hk_fuchsia_spawn_etc of a dynamically linked executable, as Fuchsia's launcher starts one: the start image is its
 * dynamic linker ldso_path (the SDK's arch/x64/sysroot/dist/lib/ld.so.1), and exe_path (an x86-64 ET_DYN whose
 * PT_INTERP is ld.so.1; NOT_SUPPORTED otherwise) reaches it as a VMO (PA_VMO_EXECUTABLE) in a first processargs
 * message, with PA_VMAR_LOADED (the VMAR ld.so.1 lies in) and, if one of handles[] is tagged PA_LDSVC_LOADER, that
 * loader service, else a connection to the program's own (hk_fx_serve_loader_connect); the program's own message
 * follows as for hk_fuchsia_spawn_etc; stdio_fds as hk_fuchsia_spawn_stdio's (NULL: {0, 1, stderr_fd}, as
 * hk_fuchsia_spawn_etc).  name defaults to exe_path. */
zx_status_t hk_fuchsia_spawn_interp(zx_handle_t job, const char *exe_path, const char *ldso_path,
                                    const char *vdso_path, const char *name, const char *const *argv,
                                    const char *const *environ, const uint32_t *handle_infos,
                                    const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                    size_t num_names, const int *stdio_fds, int stderr_fd, zx_handle_t *process_out,
                                    char *err_msg);

/* hk_fuchsia_spawn_etc with the program's stdio chosen: for each fd i in 0..2 with stdio_fds[i] >= 0 (and no PA_FD
 * handle for i among the spawner's), the program gets a socket as PA_HND(PA_FD, i), and a host thread copies between
 * it and stdio_fds[i] (duplicated): into the program for fd 0, out of it for fds 1 and 2 (host/fuchsia/stdio.h).
 * stdio_fds NULL: {0, 1, stderr_fd} (stderr_fd -1: 2), what hk_fuchsia_spawn_etc uses, as FDIO_SPAWN_CLONE_STDIO
 * shares the spawner's fds.  What the
 * program wrote reaches the fds before it is reported dead.  debug_write output goes to stderr_fd as before.  At
 * most 15 spawner's handles (INVALID_ARGS). */
zx_status_t hk_fuchsia_spawn_stdio(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                                   const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                                   const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                   size_t num_names, const int stdio_fds[3], int stderr_fd, zx_handle_t *process_out,
                                   char *err_msg);

/* How many times syscall `name` (without "zx_") was answered ZX_ERR_NOT_SUPPORTED because the runner does not
 * serve it, over every Fuchsia program this host program ran. */
uint64_t hk_fuchsia_unserved_count(const char *name);
/* Every unserved name with its count, "name=count" separated by ',', NUL-terminated in buf (truncated to size);
 * the number of names. */
size_t hk_fuchsia_unserved_list(char *buf, size_t size);

#endif /* ZXPY_HOST_FUCHSIA_RUNNER_H_ */
