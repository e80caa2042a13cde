/* fdio_spawn, fdio_spawn_etc and fdio_spawn_vmo: run a real Linux program as a process of a job.
 *
 * The checks and their order are fdio's (sdk/lib/fdio/spawn.cc), so the statuses are the ones a Fuchsia caller
 * sees:
 *   1. The executable is loaded first, before any other argument is looked at: a path that does not exist is
 *      ZX_ERR_NOT_FOUND, a file without execute permission ZX_ERR_ACCESS_DENIED (fdio opens it with the EXECUTABLE
 *      right), a directory or device ZX_ERR_NOT_SUPPORTED (no executable VMO can be made of it); a NULL path is
 *      ZX_ERR_INVALID_ARGS.  err_msg names the path.
 *   2. Then the arguments: actions == NULL with action_count > 0, argv == NULL, a malformed action, or no process
 *      name (argv[0] NULL and no SET_NAME) are ZX_ERR_INVALID_ARGS, without a message.  process_out may be NULL,
 *      as in fdio: the program then runs with no handle to it.
 *   3. Then what fdio's launcher does: with CLONE_JOB the job handle is duplicated (BAD_HANDLE, or ACCESS_DENIED
 *      without ZX_RIGHT_DUPLICATE); the fd actions in order (target fd >= FDIO_MAX_FD: OUT_OF_RANGE, a target given
 *      twice: ALREADY_EXISTS, a local fd that is not open: INVALID_ARGS); the job handle is duplicated again for the
 *      launch request; the launcher's zx_process_create needs a JOB handle with ZX_RIGHT_MANAGE_PROCESS
 *      (WRONG_TYPE, ACCESS_DENIED) and a job that is not killed (BAD_STATE).
 *   4. Every status after step 1 that would be ZX_ERR_NOT_FOUND becomes ZX_ERR_INTERNAL, as fdio remaps it (a
 *      missing dependency must not read as a missing program): so a script whose interpreter is missing, or a
 *      file that is no program at all, gives ZX_ERR_INTERNAL.
 * Handles and transferred fds in the actions are consumed whatever the outcome, as fdio does.
 *
 * What the flags and actions mean on Linux:
 *   CLONE_STDIO      fds 0-2 are inherited; without it, each of 0-2 not set by an action is /dev/null (or an action
 *                    fd flagged FDIO_FLAG_USE_FOR_STDIO), the closest thing to fdio's null object.
 *   CLONE_ENVIRON    the caller's environment, unless `environ` is given; without either it is empty.
 *   CLONE_JOB, DEFAULT_LDSVC, CLONE_NAMESPACE, CLONE_UTC_CLOCK
 *                    accepted; nothing on Linux corresponds (a Linux program has no job handle, loads its own
 *                    libraries, sees the whole filesystem and reads the UTC clock itself).
 *   CLONE_FD / TRANSFER_FD   a dup2 in the child; TRANSFER closes the caller's fd afterwards.  Only the target fds
 *                    and 0-2 reach the program: every other fd is closed at exec.
 *   SET_NAME         the Zircon process name (otherwise argv[0], fdio's default), cut to ZX_MAX_NAME_LEN - 1.
 *   ADD_HANDLE, ADD_NS_ENTRY, CLONE_DIR   ZX_ERR_NOT_SUPPORTED: a Linux program cannot receive Zircon handles or a
 *                    namespace (their handles are still closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

static void report(char *err_msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(char *err_msg, const char *fmt, ...) {
    if (err_msg == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, fmt, ap);
    va_end(ap);
}

/* fdio consumes what the actions carry (handles, transferred fds) even when the spawn fails. */
static void consume_actions(size_t count, const fdio_spawn_action_t *actions) {
    if (actions == NULL) return;
    for (size_t i = 0; i < count; i++) {
        const fdio_spawn_action_t *a = &actions[i];
        switch (a->action) {
        case FDIO_SPAWN_ACTION_TRANSFER_FD: {
            bool seen = false; /* an fd transferred twice is closed once */
            for (size_t j = 0; j < i && !seen; j++)
                seen = actions[j].action == FDIO_SPAWN_ACTION_TRANSFER_FD && actions[j].fd.local_fd == a->fd.local_fd;
            if (!seen) close(a->fd.local_fd);
            break;
        }
        case FDIO_SPAWN_ACTION_ADD_HANDLE: zx_handle_close(a->h.handle); break;
        case FDIO_SPAWN_ACTION_ADD_NS_ENTRY: zx_handle_close(a->ns.handle); break;
        default: break;
        }
    }
}

/* Step 1: what fdio's load_path decides about the executable. */
static zx_status_t check_executable(const char *path, char *err_msg) {
    zx_status_t status = ZX_OK;
    const char *why = NULL;
    struct stat sb;
    if (path == NULL) {
        status = ZX_ERR_INVALID_ARGS;
        why = "no path given";
    } else if (stat(path, &sb) != 0) {
        int err = errno;
        why = strerror(err);
        switch (err) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
        case ELOOP: status = ZX_ERR_NOT_FOUND; break;
        case EACCES: status = ZX_ERR_ACCESS_DENIED; break;
        case ENOMEM: status = ZX_ERR_NO_MEMORY; break;
        default: status = ZX_ERR_IO; break;
        }
    } else if (!S_ISREG(sb.st_mode)) {
        status = ZX_ERR_NOT_SUPPORTED;
        why = S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file";
    } else if (access(path, X_OK) != 0) {
        status = ZX_ERR_ACCESS_DENIED;
        why = "not executable";
    }
    /* fdio's wording ("failed to load executable from PATH: ..."), with the reason Linux gave. */
    if (status != ZX_OK) report(err_msg, "failed to load executable from %s: %s", path ? path : "(null)", why);
    return status;
}

/* Steps 2 and 3, for a loadable executable.  Returns the status before fdio's NOT_FOUND remap. */
static zx_status_t spawn_checked(zx_handle_t job, uint32_t flags, const char *path, const char *const *argv,
                                 const char *const *environ_in, size_t action_count,
                                 const fdio_spawn_action_t *actions, zx_handle_t *process_out, char *err_msg) {
    if (argv == NULL) return ZX_ERR_INVALID_ARGS;
    const char *name = argv[0];
    const char *unsupported = NULL;
    for (size_t i = 0; i < action_count; i++) {
        const fdio_spawn_action_t *a = &actions[i];
        switch (a->action) {
        case FDIO_SPAWN_ACTION_ADD_NS_ENTRY:
            if (a->ns.handle == ZX_HANDLE_INVALID || a->ns.prefix == NULL) return ZX_ERR_INVALID_ARGS;
            if (unsupported == NULL) unsupported = "a namespace entry (ADD_NS_ENTRY)";
            break;
        case FDIO_SPAWN_ACTION_ADD_HANDLE:
            if (a->h.handle == ZX_HANDLE_INVALID) return ZX_ERR_INVALID_ARGS;
            if (unsupported == NULL) unsupported = "a startup handle (ADD_HANDLE)";
            break;
        case FDIO_SPAWN_ACTION_SET_NAME:
            if (a->name.data == NULL) return ZX_ERR_INVALID_ARGS;
            name = a->name.data;
            break;
        case FDIO_SPAWN_ACTION_CLONE_DIR: {
            /* An absolute prefix without a trailing slash ("/" itself allowed). */
            const char *prefix = a->dir.prefix;
            size_t len = prefix ? strlen(prefix) : 0;
            if (prefix == NULL || len == 0 || prefix[0] != '/' || (len > 1 && prefix[len - 1] == '/'))
                return ZX_ERR_INVALID_ARGS;
            if (unsupported == NULL) unsupported = "a namespace directory (CLONE_DIR)";
            break;
        }
        default: break; /* fdio ignores action kinds it does not know */
        }
    }
    if (name == NULL) return ZX_ERR_INVALID_ARGS;
    if (job == ZX_HANDLE_INVALID) job = zx_job_default(); /* takes the kernel lock itself */

    /* The launcher gets its own duplicate of the job: first for PA_JOB_DEFAULT (CLONE_JOB), before the actions. */
    hk_object_t *obj;
    zx_status_t status = ZX_OK;
    if (flags & FDIO_SPAWN_CLONE_JOB) {
        hk_lock();
        status = hk_handle_get(job, ZX_OBJ_TYPE_NONE, ZX_RIGHT_DUPLICATE, &obj, NULL);
        hk_unlock();
        if (status != ZX_OK) {
            report(err_msg, "failed to duplicate the job handle: %d", status);
            return status;
        }
    }
    bool used[HK_FDIO_MAX_FD] = {false};
    for (size_t i = 0; i < action_count; i++) {
        const fdio_spawn_action_t *a = &actions[i];
        if (a->action != FDIO_SPAWN_ACTION_CLONE_FD && a->action != FDIO_SPAWN_ACTION_TRANSFER_FD) continue;
        const char *verb = a->action == FDIO_SPAWN_ACTION_CLONE_FD ? "clone" : "transfer";
        int target = a->fd.target_fd & ~HK_FDIO_FLAG_USE_FOR_STDIO;
        if (target < 0 || target >= HK_FDIO_MAX_FD || used[target]) {
            status = (target < 0 || target >= HK_FDIO_MAX_FD) ? ZX_ERR_OUT_OF_RANGE : ZX_ERR_ALREADY_EXISTS;
            report(err_msg, "invalid target fd %d to %s fd %d (action %zu): %d", a->fd.target_fd, verb,
                   a->fd.local_fd, i, status);
            return status;
        }
        used[target] = true;
        if (fcntl(a->fd.local_fd, F_GETFD) < 0) {
            report(err_msg, "cannot %s fd %d (action %zu): %s", verb, a->fd.local_fd, i, strerror(errno));
            return ZX_ERR_INVALID_ARGS;
        }
    }
    if (unsupported != NULL) {
        report(err_msg, "the host kernel cannot give a Linux program %s", unsupported);
        return ZX_ERR_NOT_SUPPORTED;
    }

    /* What the launcher's zx_process_create checks, on the launch request's duplicate of the job handle. */
    hk_lock();
    status = hk_handle_get(job, ZX_OBJ_TYPE_NONE, ZX_RIGHT_DUPLICATE, &obj, NULL);
    if (status == ZX_OK) status = hk_handle_get(job, ZX_OBJ_TYPE_JOB, ZX_RIGHT_MANAGE_PROCESS, &obj, NULL);
    hk_job_t *j = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_job_t, base) : NULL;
    if (status == ZX_OK && j->state != HK_JOB_READY) status = ZX_ERR_BAD_STATE;
    hk_process_t *p = NULL;
    if (status == ZX_OK && (p = hk_process_new(j, HK_PROCESS_LINUX, name)) == NULL) status = ZX_ERR_NO_MEMORY;
    hk_unlock();
    if (status != ZX_OK) {
        if (status == ZX_ERR_BAD_STATE) report(err_msg, "the job was killed: it takes no new process");
        else report(err_msg, "cannot create a process in the job: %d", status);
        return status;
    }

    /* The process is INITIAL, in the job, with no handle yet: a job kill meanwhile makes the spawn fail. */
    hk_spawn_request_t req = {
        .flags = flags,
        .path = path,
        .argv = argv,
        .environ = environ_in,
        .action_count = action_count,
        .actions = actions,
    };
    status = hk_linux_spawn(p, &req, err_msg);
    hk_lock();
    if (status == ZX_OK && process_out != NULL) {
        status = hk_handle_alloc(&p->base, ZX_DEFAULT_PROCESS_RIGHTS, process_out);
        if (status != ZX_OK) report(err_msg, "no handle for the new process: %d", status);
    }
    /* A program nobody can reach must not run; a never-started process just dies. */
    if (status != ZX_OK) hk_process_kill(p, ZX_TASK_RETCODE_SYSCALL_KILL);
    hk_object_unref(&p->base);
    hk_unlock();
    return status;
}

zx_status_t fdio_spawn_etc(zx_handle_t job, uint32_t flags, const char *path, const char *const *argv,
                           const char *const *environ, size_t action_count, const fdio_spawn_action_t *actions,
                           zx_handle_t *process_out, char err_msg_out[FDIO_SPAWN_ERR_MSG_MAX_LENGTH]) {
    if (err_msg_out != NULL) err_msg_out[0] = '\0';
    zx_status_t status = check_executable(path, err_msg_out);
    if (action_count != 0 && actions == NULL) return status != ZX_OK ? status : ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) {
        status = spawn_checked(job, flags, path, argv, environ, action_count, actions, process_out, err_msg_out);
        if (status == ZX_ERR_NOT_FOUND) status = ZX_ERR_INTERNAL;
    }
    consume_actions(action_count, actions); /* after the spawn: the child has its copies of transferred fds */
    return status;
}

zx_status_t fdio_spawn(zx_handle_t job, uint32_t flags, const char *path, const char *const *argv,
                       zx_handle_t *process_out) {
    return fdio_spawn_etc(job, flags, path, argv, NULL, 0, NULL, process_out, NULL);
}

zx_status_t fdio_spawn_vmo(zx_handle_t job, uint32_t flags, zx_handle_t executable_vmo, const char *const *argv,
                           const char *const *environ, size_t action_count, const fdio_spawn_action_t *actions,
                           zx_handle_t *process_out, char err_msg_out[FDIO_SPAWN_ERR_MSG_MAX_LENGTH]) {
    (void)job;
    (void)flags;
    (void)environ;
    (void)process_out;
    if (err_msg_out != NULL) err_msg_out[0] = '\0';
    /* The VMO is consumed whatever happens, as in fdio. */
    zx_status_t status = zx_handle_close(executable_vmo);
    if (action_count != 0 && actions == NULL) return ZX_ERR_INVALID_ARGS;
    if (executable_vmo == ZX_HANDLE_INVALID || status != ZX_OK || argv == NULL) {
        status = ZX_ERR_INVALID_ARGS;
    } else {
        /* A Linux program is run from a file: the host kernel has no executable VMOs. */
        report(err_msg_out, "the host kernel runs programs from paths only: use fdio_spawn_etc");
        status = ZX_ERR_NOT_SUPPORTED;
    }
    consume_actions(action_count, actions);
    return status;
}
