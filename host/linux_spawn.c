#define _GNU_SOURCE /* _Fork, pipe2, close_range */
/* Spawned programs, the spawn itself: hk_linux_spawn prepares what the child needs (environment, the fd plan) and
 * queues it for the monitor (linux_monitor.c), which forks the child and seizes it with ptrace (lt_program_start); the
 * child sets up its fds, installs the seccomp filter that keeps everything it starts traced, and execs.  Its
 * PTRACE_EVENT_EXEC (linux_task.c) completes the spawn; a child that dies first fails it with the stage and errno it
 * wrote to its error pipe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"

#define TRACE_OPTIONS                                                                                              \
    (PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |      \
     PTRACE_O_TRACEEXIT)

/* ------------------------------------------------------------------------------------------------ the child */

/* Mark every fd in [lo, hi] close-on-exec.  close_range(CLOEXEC) needs Linux 5.11; older kernels get a loop up to
 * the open-file limit (fd_limit_for_loop). */
static void cloexec_range(const lt_spawn_t *s, unsigned lo, unsigned hi) {
    if (syscall(SYS_close_range, lo, hi, CLOSE_RANGE_CLOEXEC) == 0) return;
    for (unsigned fd = lo; fd <= hi && fd <= (unsigned)s->fallback_max_fd; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static _Noreturn void child_fail(int err_fd, int stage) {
    int msg[2] = {stage, errno};
    ssize_t n = write(err_fd, msg, sizeof(msg));
    (void)n;
    _exit(127);
}

/* The seccomp filter every spawned program runs under (it is inherited by everything the program forks, and kept
 * across exec).  A task created with CLONE_UNTRACED is not auto-attached by TRACECLONE/FORK/VFORK: no kill would
 * reach it and it would outlive the program and its owner.  So clone with CLONE_UNTRACED fails with EPERM, and
 * clone3, whose flags sit in memory a filter cannot read, fails with ENOSYS -- the answer of a kernel without
 * clone3, on which glibc (pthread_create, posix_spawn) falls back to clone.  fork and vfork never pass the flag.
 * The filter checks the architecture first: a program may enter the kernel through the compat ABI (i386 int 0x80 on
 * x86_64, AArch32 on arm64), where the call numbers differ; x32 calls on x86_64 carry __X32_SYSCALL_BIT. */
#if defined(__x86_64__)
#define SECCOMP_NATIVE_ARCH AUDIT_ARCH_X86_64
#define SECCOMP_COMPAT_ARCH AUDIT_ARCH_I386
#define SECCOMP_NR_MASK (~0x40000000u) /* __X32_SYSCALL_BIT */
#elif defined(__aarch64__)
#define SECCOMP_NATIVE_ARCH AUDIT_ARCH_AARCH64
#define SECCOMP_COMPAT_ARCH AUDIT_ARCH_ARM
#define SECCOMP_NR_MASK (~0u)
#else
#error "host kernel: no seccomp filter for this architecture (x86_64 and aarch64 are supported)"
#endif
#define COMPAT_NR_CLONE 120  /* i386 and arm EABI alike */
#define COMPAT_NR_CLONE3 435 /* the same on every architecture */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CLONE_FLAGS_LOW offsetof(struct seccomp_data, args[0]) /* clone's flags are its first argument */
#else
#define CLONE_FLAGS_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#endif

static const struct sock_filter g_untraced_filter[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_NATIVE_ARCH, 0, 4),
    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    /* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, SECCOMP_NR_MASK),
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 5, 0),
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 8, 7),
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_COMPAT_ARCH, 0, 8),
    /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_NR_CLONE, 1, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_NR_CLONE3, 4, 3),
    /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CLONE_FLAGS_LOW), /* clone: look at the flags */
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_UNTRACED, 0, 1),
    /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)), /* clone3 */
    /* 15 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), /* an ABI this CPU does not have */
};

/* In the child, just before exec: no_new_privs (which an unprivileged filter needs), then the filter. */
static int install_untraced_filter(void) {
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(g_untraced_filter) / sizeof(g_untraced_filter[0])),
        .filter = (struct sock_filter *)g_untraced_filter,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Runs in the forked child: only async-signal-safe calls (the parent is multi-threaded). */
static _Noreturn void child_main(const lt_spawn_t *s) {
    close(s->go[1]);
    close(s->err[0]);
    /* Die with the monitor thread (our parent thread), and do not start at all if it is already gone. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != s->parent_pid) _exit(127);
    /* Wait until the monitor has seized us, so that nothing we do escapes the tracer. */
    char b;
    ssize_t n;
    do n = read(s->go[0], &b, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);
    close(s->go[0]);

    /* Move everything we still need above every target fd, so the dup2s below cannot clobber a source. */
    int err_fd = fcntl(s->err[1], F_DUPFD_CLOEXEC, s->base);
    if (err_fd < 0) _exit(127);
    int devnull = -1;
    if (s->devnull >= 0 && (devnull = fcntl(s->devnull, F_DUPFD_CLOEXEC, s->base)) < 0) child_fail(err_fd, STAGE_SETUP);
    int tmp[s->nfds ? s->nfds : 1];
    for (size_t i = 0; i < s->nfds; i++) {
        if ((tmp[i] = fcntl(s->fd_src[i], F_DUPFD_CLOEXEC, s->base)) < 0) child_fail(err_fd, STAGE_SETUP);
    }
    for (size_t i = 0; i < s->nfds; i++) {
        if (dup2(tmp[i], s->fd_dst[i]) < 0) child_fail(err_fd, STAGE_SETUP);
    }
    for (int fd = 0; fd < 3; fd++) {
        int src = s->stdio[fd] == STDIO_NULL ? devnull : s->stdio[fd] >= 0 ? tmp[s->stdio[fd]] : -1;
        if (src >= 0 && dup2(src, fd) < 0) child_fail(err_fd, STAGE_SETUP);
    }
    /* A Fuchsia process gets only the handles it is given: nothing else above stdio and the targets survives. */
    unsigned lo = 3;
    for (size_t i = 0; i < s->nkeep; i++) {
        if ((unsigned)s->keep[i] > lo) cloexec_range(s, lo, (unsigned)s->keep[i] - 1);
        lo = (unsigned)s->keep[i] + 1;
    }
    cloexec_range(s, lo, ~0u);

    /* A fresh signal state: default dispositions (Python ignores SIGPIPE, for one), nothing blocked. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* A Fuchsia image is mapped, not exec'd (host/fuchsia/runner.c).  It needs no seccomp filter: every system call
     * it makes stops under PTRACE_SYSEMU and none reaches Linux, so it can start nothing untraced. */
    if (s->fuchsia_ops != NULL) s->fuchsia_ops->child(s->fuchsia_start, err_fd);
    if (install_untraced_filter() != 0) child_fail(err_fd, STAGE_SECCOMP);
    execve(s->path, s->argv, s->envp);
    child_fail(err_fd, STAGE_EXEC);
}

/* ---------------------------------------------------------------------------------------------- the monitor's fork */

/* Fork and trace one queued program. */
void lt_program_start(lt_spawn_t *s) {
    int fail_stage = STAGE_NONE, fail_errno = 0;
    struct hk_linux_process *lp = calloc(1, sizeof(*lp));
    lt_task_t *k = NULL;
    pid_t pid = -1;
    if (lp == NULL) {
        fail_stage = STAGE_FORK;
        fail_errno = ENOMEM;
        goto fail;
    }
    if (s->fuchsia_ops != NULL && (lp->fuchsia = s->fuchsia_ops->program_new(s->fuchsia_start)) == NULL) {
        fail_stage = STAGE_FORK;
        fail_errno = ENOMEM;
        goto fail;
    }
    lp->fuchsia_ops = s->fuchsia_ops;
    /* _Fork skips pthread_atfork handlers (and their locks): the child only execs. */
    pid = _Fork();
    if (pid == 0) child_main(s);
    if (pid < 0) {
        fail_stage = STAGE_FORK;
        fail_errno = errno;
        goto fail;
    }
    close(s->go[0]);
    close(s->err[1]);
    s->go[0] = s->err[1] = -1;
    /* A Fuchsia program's syscall-stops are told apart from SIGTRAPs (SIGTRAP | 0x80); a Linux program never has
     * any (it is never resumed with PTRACE_SYSCALL or PTRACE_SYSEMU). */
    long options = TRACE_OPTIONS | (s->fuchsia_ops != NULL ? PTRACE_O_TRACESYSGOOD : 0);
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)options) != 0) {
        /* No ptrace here (a seccomp or Yama policy, a container without CAP_SYS_PTRACE): nothing to drive the
         * program with, so it must not run. */
        fail_stage = STAGE_PTRACE;
        fail_errno = errno;
        kill(pid, SIGKILL);
        int st;
        while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR) {
        }
        goto fail;
    }
    k = lt_task_new(pid);
    if (k == NULL) {
        fail_stage = STAGE_FORK;
        fail_errno = ENOMEM;
        kill(pid, SIGKILL); /* traced: its exit comes through the event loop, unknown, and is ignored */
        goto fail;
    }
    lp->p = s->p;
    hk_lock();
    hk_object_ref(&lp->p->base);
    hk_unlock();
    lp->pid = pid;
    lp->phase = LP_STARTING;
    lp->spawn = s;
    hk_list_init(&lp->tasks);
    hk_list_add_tail(&lt_programs, &lp->link);
    k->owner = lp;
    k->announced = true;
    hk_list_add_tail(&lp->tasks, &k->owner_link);
    /* Traced now: let the child set itself up and exec (PTRACE_EVENT_EXEC then reports success). */
    if (write(s->go[1], "g", 1) != 1) kill(pid, SIGKILL);
    close(s->go[1]);
    s->go[1] = -1;
    return;
fail:
    if (lp != NULL && lp->fuchsia != NULL) s->fuchsia_ops->program_free(lp->fuchsia);
    free(lp);
    lt_spawn_finish(s, fail_errno == ENOMEM ? ZX_ERR_NO_MEMORY : fail_stage == STAGE_PTRACE ? ZX_ERR_NOT_SUPPORTED
                                                                                        : ZX_ERR_NO_RESOURCES,
                    fail_stage, fail_errno);
}


/* ------------------------------------------------------------------------------------------------ the request */

/* Does close_range(CLOSE_RANGE_CLOEXEC) work here?  Probed on an fd number nobody uses. */
static bool close_range_cloexec_works(void) {
    static int cached = -1;
    if (cached < 0) cached = syscall(SYS_close_range, INT_MAX - 1, INT_MAX - 1, CLOSE_RANGE_CLOEXEC) == 0;
    return cached == 1;
}

/* How far the child's CLOEXEC loop must go when close_range is missing (kernels before 5.11): every fd below the
 * open-file limit, capped so that a huge limit does not make each spawn slow. */
static int fd_limit_for_loop(void) {
    struct rlimit rl;
    int limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    return limit - 1;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static zx_status_t status_of_errno(int err) {
    switch (err) {
    case EACCES:
    case EPERM: return ZX_ERR_ACCESS_DENIED;
    case ENOMEM: return ZX_ERR_NO_MEMORY;
    case EMFILE:
    case ENFILE:
    case EAGAIN: return ZX_ERR_NO_RESOURCES;
    case E2BIG: return ZX_ERR_OUT_OF_RANGE;
    case EBADF: return ZX_ERR_INVALID_ARGS;
    case ETXTBSY: return ZX_ERR_BAD_STATE;
    /* ENOENT after the path was found means a missing interpreter or loader, and ENOEXEC a file that is no
     * program: fdio reports both as ZX_ERR_INTERNAL (it remaps the launcher's NOT_FOUND). */
    default: return ZX_ERR_INTERNAL;
    }
}

static void spawn_release(lt_spawn_t *s) {
    int fds[] = {s->go[0], s->go[1], s->err[0], s->err[1], s->devnull};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0) close(fds[i]);
    free(s->fd_src);
    free(s->fd_dst);
    free(s->keep);
    free((void *)s->envp);
}

zx_status_t hk_linux_spawn(hk_process_t *p, const hk_spawn_request_t *req, char *err_msg) {
    lt_spawn_t s;
    memset(&s, 0, sizeof(s));
    s.go[0] = s.go[1] = s.err[0] = s.err[1] = s.devnull = -1;
    s.p = p;
    s.path = req->path;
    s.argv = (char *const *)req->argv;
    s.fuchsia_ops = req->fuchsia_ops;
    s.fuchsia_start = req->fuchsia_start;
    s.parent_pid = getpid();
    zx_status_t status = ZX_OK;
    const char *what = "prepare";

    /* The environment: explicit, else the caller's with CLONE_ENVIRON, else empty.  The caller's array is copied
     * now: another thread's setenv may replace it before the monitor forks. */
    const char *const *env = req->environ;
    if (env == NULL && (req->flags & FDIO_SPAWN_CLONE_ENVIRON)) env = (const char *const *)environ;
    size_t nenv = 0;
    while (env != NULL && env[nenv] != NULL) nenv++;
    char **envp = calloc(nenv + 1, sizeof(*envp));
    if (envp == NULL) {
        status = ZX_ERR_NO_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < nenv; i++) envp[i] = (char *)env[i];
    s.envp = envp;

    /* The fd plan: each CLONE_FD / TRANSFER_FD action is a dup2 in the child (fdio_spawn.c validated them). */
    size_t nact = 0;
    for (size_t i = 0; i < req->action_count; i++) {
        uint32_t a = req->actions[i].action;
        if (a == FDIO_SPAWN_ACTION_CLONE_FD || a == FDIO_SPAWN_ACTION_TRANSFER_FD) nact++;
    }
    s.fd_src = calloc(nact ? nact : 1, sizeof(int));
    s.fd_dst = calloc(nact ? nact : 1, sizeof(int));
    s.keep = calloc(nact ? nact : 1, sizeof(int));
    if (s.fd_src == NULL || s.fd_dst == NULL || s.keep == NULL) {
        status = ZX_ERR_NO_MEMORY;
        goto out;
    }
    bool target_set[3] = {false, false, false};
    int stdio_candidate = -1; /* an action flagged FDIO_FLAG_USE_FOR_STDIO */
    s.base = 3;
    for (size_t i = 0; i < req->action_count; i++) {
        const fdio_spawn_action_t *a = &req->actions[i];
        if (a->action != FDIO_SPAWN_ACTION_CLONE_FD && a->action != FDIO_SPAWN_ACTION_TRANSFER_FD) continue;
        int dst = a->fd.target_fd & ~HK_FDIO_FLAG_USE_FOR_STDIO;
        if ((a->fd.target_fd & HK_FDIO_FLAG_USE_FOR_STDIO) && stdio_candidate < 0) stdio_candidate = (int)s.nfds;
        s.fd_src[s.nfds] = a->fd.local_fd;
        s.fd_dst[s.nfds] = dst;
        if (dst < 3) target_set[dst] = true;
        else s.keep[s.nkeep++] = dst;
        if (dst + 1 > s.base) s.base = dst + 1;
        s.nfds++;
    }
    qsort(s.keep, s.nkeep, sizeof(int), cmp_int);
    /* Standard fds not set by an action: the caller's with CLONE_STDIO; otherwise a USE_FOR_STDIO fd (fdio's
     * startup rule); otherwise /dev/null, the closest thing to Fuchsia's null fdio object. */
    bool need_null = false;
    for (int fd = 0; fd < 3; fd++) {
        if (target_set[fd] || (req->flags & FDIO_SPAWN_CLONE_STDIO)) s.stdio[fd] = STDIO_INHERIT;
        else if (stdio_candidate >= 0) s.stdio[fd] = stdio_candidate;
        else {
            s.stdio[fd] = STDIO_NULL;
            need_null = true;
        }
    }
    what = "open /dev/null";
    if (need_null && (s.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) goto errno_out;
    what = "create pipes";
    if (pipe2(s.go, O_CLOEXEC) != 0) goto errno_out;
    /* Non-blocking: another thread's fork may hold a copy of the write end, so EOF is not guaranteed. */
    if (pipe2(s.err, O_CLOEXEC | O_NONBLOCK) != 0) goto errno_out;
    s.fallback_max_fd = close_range_cloexec_works() ? 0 : fd_limit_for_loop();

    /* Hand it to the monitor and wait. */
    int err = lt_monitor_run_spawn(&s);
    if (err != 0) {
        errno = err;
        what = "start the spawn monitor thread";
        goto errno_out;
    }
    status = s.status;
    if (s.fail_stage == STAGE_EXEC || s.fail_stage == STAGE_SETUP) status = status_of_errno(s.fail_errno);
    else if (s.fail_stage == STAGE_SECCOMP) status = ZX_ERR_NOT_SUPPORTED;
    if (status != ZX_OK && err_msg != NULL) {
        switch (s.fail_stage) {
        case STAGE_EXEC:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "failed to execute %s: %s", s.path,
                     strerror(s.fail_errno));
            break;
        case STAGE_SETUP:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "failed to set up the fds of %s: %s", s.path,
                     strerror(s.fail_errno));
            break;
        case STAGE_PTRACE:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH,
                     "cannot trace %s (ptrace: %s): the host kernel needs ptrace to run programs", s.path,
                     strerror(s.fail_errno));
            break;
        case STAGE_SECCOMP:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH,
                     "cannot confine %s (seccomp: %s): the host kernel needs a seccomp filter so that nothing the "
                     "program starts escapes the tracer", s.path, strerror(s.fail_errno));
            break;
        case STAGE_FORK:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "failed to fork for %s: %s", s.path,
                     strerror(s.fail_errno));
            break;
        case STAGE_DIED:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "%s died before it could execute", s.path);
            break;
        default:
            snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "%s: %s", s.path,
                     status == ZX_ERR_BAD_STATE ? "the process was killed while it was starting"
                                                : "out of memory while starting it");
            break;
        }
    }
    goto out;

errno_out:
    status = status_of_errno(errno);
    if (err_msg != NULL)
        snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "failed to %s for %s: %s", what, s.path, strerror(errno));
out:
    spawn_release(&s);
    return status;
}
