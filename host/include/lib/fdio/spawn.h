/* zxpy rendition of <lib/fdio/spawn.h>: launching a program into a job.
 *
 * Flags, action kinds, the action record and the function signatures are
 * those of Fuchsia's fdio (tests/data/zircon_abi.json, "fdio_spawn*").  On
 * the host, zxpy's host kernel implements fdio_spawn/fdio_spawn_etc by running
 * a real Linux program inside the given job.
 */
#ifndef ZXPY_LIB_FDIO_SPAWN_H_
#define ZXPY_LIB_FDIO_SPAWN_H_

#include <stddef.h>
#include <stdint.h>

#include <zircon/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the new process inherits from the caller (fdio_spawn flags). */
#define FDIO_SPAWN_CLONE_JOB ((uint32_t)0x0001u)        /* job as PA_JOB_DEFAULT */
#define FDIO_SPAWN_DEFAULT_LDSVC ((uint32_t)0x0002u)    /* loader service */
#define FDIO_SPAWN_CLONE_NAMESPACE ((uint32_t)0x0004u)  /* filesystem namespace */
#define FDIO_SPAWN_CLONE_STDIO ((uint32_t)0x0008u)      /* fds 0, 1 and 2 */
#define FDIO_SPAWN_CLONE_ENVIRON ((uint32_t)0x0010u)    /* environment */
#define FDIO_SPAWN_CLONE_UTC_CLOCK ((uint32_t)0x0020u)  /* UTC clock */
#define FDIO_SPAWN_CLONE_ALL ((uint32_t)0xFFFFu)

/* Kinds of fdio_spawn_action_t. */
#define FDIO_SPAWN_ACTION_CLONE_FD ((uint32_t)0x0001u)
#define FDIO_SPAWN_ACTION_TRANSFER_FD ((uint32_t)0x0002u)
#define FDIO_SPAWN_ACTION_ADD_NS_ENTRY ((uint32_t)0x0003u)
#define FDIO_SPAWN_ACTION_ADD_HANDLE ((uint32_t)0x0004u)
#define FDIO_SPAWN_ACTION_SET_NAME ((uint32_t)0x0005u)
#define FDIO_SPAWN_ACTION_CLONE_DIR ((uint32_t)0x0006u)

/* One extra step applied while building the new process.  Which union
 * member is meaningful depends on `action`. */
typedef struct fdio_spawn_action {
  uint32_t action; /* FDIO_SPAWN_ACTION_* */
  union {
    struct {
      int local_fd;
      int target_fd;
    } fd; /* CLONE_FD, TRANSFER_FD */
    struct {
      const char* prefix;
      zx_handle_t handle;
    } ns; /* ADD_NS_ENTRY */
    struct {
      uint32_t id; /* PA_HND(type, arg) */
      zx_handle_t handle;
    } h; /* ADD_HANDLE */
    struct {
      const char* data;
    } name; /* SET_NAME */
    struct {
      const char* prefix;
    } dir; /* CLONE_DIR */
  };
} fdio_spawn_action_t;

/* Size of the err_msg_out buffer of fdio_spawn_etc / fdio_spawn_vmo. */
#define FDIO_SPAWN_ERR_MSG_MAX_LENGTH ((size_t)1024u)

/* Start `path` with `argv` (NULL-terminated) in `job` (ZX_HANDLE_INVALID
 * means the default job).  The job handle is not consumed. */
zx_status_t fdio_spawn(zx_handle_t job, uint32_t flags, const char* path,
                       const char* const* argv, zx_handle_t* process_out);

/* As fdio_spawn, with an explicit environment, extra actions and an optional
 * error message buffer of FDIO_SPAWN_ERR_MSG_MAX_LENGTH bytes.  Handles in
 * `actions` are consumed, even on failure. */
zx_status_t fdio_spawn_etc(zx_handle_t job, uint32_t flags, const char* path,
                           const char* const* argv, const char* const* environ,
                           size_t action_count, const fdio_spawn_action_t* actions,
                           zx_handle_t* process_out, char err_msg_out[FDIO_SPAWN_ERR_MSG_MAX_LENGTH]);

/* As fdio_spawn_etc, from an executable VMO (always consumed). */
zx_status_t fdio_spawn_vmo(zx_handle_t job, uint32_t flags, zx_handle_t executable_vmo,
                           const char* const* argv, const char* const* environ,
                           size_t action_count, const fdio_spawn_action_t* actions,
                           zx_handle_t* process_out, char err_msg_out[FDIO_SPAWN_ERR_MSG_MAX_LENGTH]);

#ifdef __cplusplus
}
#endif

#endif /* ZXPY_LIB_FDIO_SPAWN_H_ */
