#define _GNU_SOURCE /* pipe2, close_range, execveat */
/* Spawned programs, the spawn itself: hk_linux_spawn prepares what the child needs (environment, the fd plan) and
 * queues it for the monitor (linux_monitor.c), which starts the child and seizes it with ptrace (lt_program_start);
 * the child sets up its fds, installs the seccomp filter that keeps everything it starts traced, and execs.  Its
 * PTRACE_EVENT_EXEC (linux_task.c) completes the spawn; a child that dies first fails it with the stage and errno it
 * wrote to its error pipe.
 *
 * The child shares the host program's memory (clone(CLONE_VM) on a stack of its own), so a spawn costs the same
 * whatever the caller's heap: fork() copied the page tables of the whole caller (issue 11: 1.65 ms with nothing
 * extra, 19.9 ms with 1 GiB).  posix_spawn does the same with CLONE_VM|CLONE_VFORK; CLONE_VFORK is left out
 * because the parent (the monitor thread) must seize the child before the child runs anything, and a vfork parent
 * is blocked until the exec.  Without CLONE_VFORK the monitor runs on while the child does its set-up, in the same
 * memory and with the monitor's thread pointer, so the child (child_main and what it calls) writes nothing but its
 * own stack: raw system calls only (no libc wrapper: those set errno, a thread-local of the monitor), no sanitizer
 * instrumentation (its shadow and thread state are the monitor's), and it reads only its private copy of the
 * request (lt_child_t) and the arrays the requester keeps unchanged until the spawn is done. */
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
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"


/* ------------------------------------------------------------------------------------------------ the child */

/* What the child runs is compiled without sanitizer instrumentation: it shares the monitor's memory and thread
 * pointer, so a shadow-memory update or a ThreadSanitizer event there would be the monitor's. */
#define CHILD_CODE __attribute__((no_sanitize("address", "thread", "undefined")))

/* A Linux system call without libc: the result, or -errno (the caller's errno, the monitor's, is never touched). */
static inline CHILD_CODE long child_sys(long nr, long a0, long a1, long a2, long a3, long a4) {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a0;
    register long x1 __asm__("x1") = a1;
    register long x2 __asm__("x2") = a2;
    register long x3 __asm__("x3") = a3;
    register long x4 __asm__("x4") = a4;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
#else
#error "host kernel: spawned programs need x86_64 or aarch64"
#endif
}
#define SYS0(nr) child_sys(SYS_##nr, 0, 0, 0, 0, 0)
#define SYS1(nr, a) child_sys(SYS_##nr, (long)(a), 0, 0, 0, 0)
#define SYS2(nr, a, b) child_sys(SYS_##nr, (long)(a), (long)(b), 0, 0, 0)
#define SYS3(nr, a, b, c) child_sys(SYS_##nr, (long)(a), (long)(b), (long)(c), 0, 0)
#define SYS4(nr, a, b, c, d) child_sys(SYS_##nr, (long)(a), (long)(b), (long)(c), (long)(d), 0)
#define SYS5(nr, a, b, c, d, e) child_sys(SYS_##nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

/* The child's private copy of the request, with room for its temporaries, at the top of its stack mapping. */
typedef struct lt_child {
    lt_spawn_t s;
    int tmp[]; /* s.nfds */
} lt_child_t;

static CHILD_CODE _Noreturn void child_exit(void) {
    for (;;) SYS1(exit_group, 127);
}

/* Report {stage, errno} of a failed step (ret = -errno) and die. */
static CHILD_CODE _Noreturn void child_fail(int err_fd, int stage, long ret) {
    int msg[2] = {stage, (int)-ret};
    SYS3(write, err_fd, msg, sizeof(msg));
    child_exit();
}

/* Mark every fd in [lo, hi] close-on-exec.  close_range(CLOEXEC) needs Linux 5.11; older kernels get a loop up to
 * the open-file limit (fd_limit_for_loop). */
static CHILD_CODE void cloexec_range(const lt_spawn_t *s, unsigned lo, unsigned hi) {
    if (SYS3(close_range, lo, hi, CLOSE_RANGE_CLOEXEC) == 0) return;
    for (unsigned fd = lo; fd <= hi && fd <= (unsigned)s->fallback_max_fd; fd++) SYS3(fcntl, fd, F_SETFD, FD_CLOEXEC);
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

/* In the child, just before exec: no_new_privs (which an unprivileged filter needs), then the filter; 0 or -errno. */
static CHILD_CODE long install_untraced_filter(void) {
    struct sock_fprog prog;
    prog.len = (unsigned short)(sizeof(g_untraced_filter) / sizeof(g_untraced_filter[0]));
    prog.filter = (struct sock_filter *)g_untraced_filter;
    long r = SYS5(prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return r != 0 ? r : SYS3(prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* The child, started by clone(CLONE_VM) on its own stack: see the top of this file for what it may do. */
static CHILD_CODE int child_main(void *arg) {
    lt_child_t *c = arg;
    const lt_spawn_t *s = &c->s;
    long r;
    SYS1(close, s->go[1]);
    SYS1(close, s->err[0]);
    /* Die with the monitor thread (our parent thread), and do not start at all if it is already gone. */
    if (SYS2(prctl, PR_SET_PDEATHSIG, SIGKILL) != 0 || SYS0(getppid) != s->parent_pid) child_exit();
    /* Wait until the monitor has seized us, so that nothing we do escapes the tracer. */
    char b;
    do r = SYS3(read, s->go[0], &b, 1);
    while (r == -EINTR);
    if (r != 1) child_exit();
    SYS1(close, s->go[0]);

    /* Move everything we still need above every target fd, so the dup2s below cannot clobber a source. */
    int err_fd = (int)SYS3(fcntl, s->err[1], F_DUPFD_CLOEXEC, s->base);
    if (err_fd < 0) child_exit();
    int devnull = -1, exec_fd = -1;
    if (s->devnull >= 0 && (r = devnull = (int)SYS3(fcntl, s->devnull, F_DUPFD_CLOEXEC, s->base)) < 0)
        child_fail(err_fd, STAGE_SETUP, r);
    if (s->exec_fd >= 0 && (r = exec_fd = (int)SYS3(fcntl, s->exec_fd, F_DUPFD_CLOEXEC, s->base)) < 0)
        child_fail(err_fd, STAGE_SETUP, r);
    for (size_t i = 0; i < s->nfds; i++) {
        if ((r = c->tmp[i] = (int)SYS3(fcntl, s->fd_src[i], F_DUPFD_CLOEXEC, s->base)) < 0)
            child_fail(err_fd, STAGE_SETUP, r);
    }
    /* dup3 (dup2 is missing on arm64): every source is >= base, above every target, so never equal to it. */
    for (size_t i = 0; i < s->nfds; i++) {
        if ((r = SYS3(dup3, c->tmp[i], s->fd_dst[i], 0)) < 0) child_fail(err_fd, STAGE_SETUP, r);
    }
    for (int fd = 0; fd < 3; fd++) {
        int src = s->stdio[fd] == STDIO_NULL ? devnull : s->stdio[fd] >= 0 ? c->tmp[s->stdio[fd]] : -1;
        if (src >= 0 && (r = SYS3(dup3, src, fd, 0)) < 0) child_fail(err_fd, STAGE_SETUP, r);
    }
    /* A Fuchsia process gets only the handles it is given: nothing else above stdio and the targets survives. */
    unsigned lo = 3;
    for (size_t i = 0; i < s->nkeep; i++) {
        if ((unsigned)s->keep[i] > lo) cloexec_range(s, lo, (unsigned)s->keep[i] - 1);
        lo = (unsigned)s->keep[i] + 1;
    }
    cloexec_range(s, lo, ~0u);

    /* A fresh signal state: default dispositions (Python ignores SIGPIPE, for one), nothing blocked.  Every signal
     * is blocked until then (the monitor's mask, inherited), so no handler of the host program runs here.  The
     * kernel's struct sigaction, all zero: SIG_DFL, no flags, no restorer, an empty mask. */
    unsigned long dfl[4];
    dfl[0] = dfl[1] = dfl[2] = dfl[3] = 0;
    for (int sig = 1; sig <= 64; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) SYS4(rt_sigaction, sig, dfl, 0, 8);
    }
    SYS4(rt_sigprocmask, SIG_SETMASK, &dfl[3], 0, 8);

    if ((r = install_untraced_filter()) != 0) child_fail(err_fd, STAGE_SECCOMP, r);
    /* A Fuchsia image starts from the runner's trampoline (host/fuchsia/runner.c), an executable memfd. */
    if (exec_fd >= 0) r = SYS5(execveat, exec_fd, "", s->argv, s->envp, AT_EMPTY_PATH);
    else r = SYS3(execve, s->path, s->argv, s->envp);
    child_fail(err_fd, STAGE_EXEC, r);
}

/* ---------------------------------------------------------------------------------------------- the monitor's start */

/* clone(CLONE_VM | SIGCHLD) running fn(arg) on stack_top (16-byte aligned) in the child, which exits with fn's
 * result; the child's pid, or -errno.  Made here rather than through glibc's clone(): ThreadSanitizer intercepts
 * that as a fork of a multi-threaded program and kills the child. */
static pid_t clone_vm(int (*fn)(void *), void *arg, uint8_t *stack_top) {
    void **sp = (void **)stack_top - 2;
    sp[0] = (void *)fn;
    sp[1] = arg;
    long flags = CLONE_VM | SIGCHLD;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = 0; /* child_tid */
    register long r8 __asm__("r8") = 0;   /* tls */
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t" /* the child, on sp: fn(arg), then exit_group(result) */
                     "pop %%rax\n\t"
                     "pop %%rdi\n\t"
                     "call *%%rax\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[exit], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "a"((long)SYS_clone), "D"(flags), "S"(sp), "d"(0L), "r"(r10), "r"(r8),
                       [exit] "i"(SYS_exit_group)
                     : "rcx", "r11", "memory");
    return (pid_t)ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone;
    register long x0 __asm__("x0") = flags;
    register long x1 __asm__("x1") = (long)sp;
    register long x2 __asm__("x2") = 0; /* parent_tid */
    register long x3 __asm__("x3") = 0; /* tls */
    register long x4 __asm__("x4") = 0; /* child_tid */
    __asm__ volatile("svc 0\n\t"
                     "cbnz x0, 1f\n\t"
                     "mov x29, xzr\n\t" /* the child, on sp: fn(arg), then exit_group(result) */
                     "ldp x9, x0, [sp], #16\n\t"
                     "blr x9\n\t"
                     "mov x8, %[exit]\n\t"
                     "svc 0\n\t"
                     "brk #0\n"
                     "1:"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), [exit] "i"(SYS_exit_group)
                     : "x9", "x30", "memory");
    return (pid_t)x0;
#endif
}

#define CHILD_STACK_SIZE (64u * 1024u) /* child_main's frames: well under 1 KiB */

/* Start and trace one queued program. */
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
    /* The child's memory: a guard page, its stack, then its copy of the request and its temporaries.  Freed by the
     * requester (spawn_release) once the spawn is done: by then the child has exec'd (into memory of its own) or
     * died. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (page + CHILD_STACK_SIZE + sizeof(lt_child_t) + s->nfds * sizeof(int) + page - 1) & ~(page - 1);
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        fail_stage = STAGE_FORK;
        fail_errno = errno;
        goto fail;
    }
    s->child_mem = mem;
    s->child_mem_size = size;
    mprotect(mem, page, PROT_NONE); /* an overflow faults instead of writing below the stack */
    lt_child_t *c = (lt_child_t *)(mem + size - sizeof(lt_child_t) - s->nfds * sizeof(int));
    c->s = *s;
    uint8_t *stack_top = (uint8_t *)((uintptr_t)c & ~(uintptr_t)63);
    /* No CLONE_VFORK: see the top of this file. */
    pid = clone_vm(child_main, c, stack_top);
    if (pid < 0) {
        errno = -pid;
        pid = -1;
    }
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
    /* A Linux program starts without PTRACE_O_TRACEEXIT (LT_TRACE_OPTIONS): its main thread gets it once the
     * program makes a thread (lt_task_trace_exits); a Fuchsia program has it throughout. */
    long options = s->fuchsia_ops != NULL ? LT_TRACE_OPTIONS | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD
                                          : LT_TRACE_OPTIONS;
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
    lt_task_set_owner(k, lp);
    k->announced = true;
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
    if (s->child_mem != NULL) munmap(s->child_mem, s->child_mem_size);
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
    s.go[0] = s.go[1] = s.err[0] = s.err[1] = s.devnull = s.exec_fd = -1;
    s.p = p;
    s.path = req->path;
    s.argv = (char *const *)req->argv;
    s.fuchsia_ops = req->fuchsia_ops;
    s.fuchsia_start = req->fuchsia_start;
    if (s.fuchsia_ops != NULL) s.exec_fd = s.fuchsia_ops->exec_fd(s.fuchsia_start);
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
                     : status == ZX_ERR_NO_MEMORY ? "out of memory while starting it"
                                                  : "its address space could not be built (a Linux call failed)");
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
