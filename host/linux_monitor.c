#define _GNU_SOURCE /* _Fork, pipe2, gettid, ptrace events, close_range */
/* Spawned programs: real Linux processes driven by one ptrace monitor thread.
 *
 * Why ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT) rather than SIGSTOP/SIGCONT or the cgroup freezer, all three tried and
 * measured on a Linux host:
 *   - Zircon suspends *threads*: a thread token stops exactly one thread, a process token stops all of them, and
 *     ZX_THREAD_SUSPENDED must mean the thread really stopped.  SIGSTOP/SIGCONT act on the whole thread group only,
 *     cannot stop one thread, and collide with the program's own job control (a program's SIGCONT would undo a
 *     suspension, and our SIGCONT would undo the program's own stop).  The cgroup freezer is whole-group too
 *     (v1 even leaves frozen tasks unkillable in state D, and cgroups may not be writable on CI machines).
 *   - PTRACE_INTERRUPT stops a single thread (6.6 us measured), the stop is observed through waitpid (so
 *     THREAD_SUSPENDED is reported only once the thread is really in a ptrace-stop), and resuming is exact:
 *     PTRACE_CONT re-injects a signal caught at a signal-delivery-stop, PTRACE_LISTEN keeps a job-control stop.
 *   - PTRACE_O_EXITKILL kills every tracee when the tracer dies, even by SIGKILL: nothing survives the owning
 *     program.  TRACECLONE/FORK/VFORK auto-attach new threads and descendants before they run, so a thread born
 *     while its process is suspended can be held before its first instruction, and descendants can be killed.
 *     Only clone(CLONE_UNTRACED) could create a task that is not attached: a seccomp filter, installed in the
 *     child before exec and inherited by everything it starts, refuses it (g_untraced_filter).
 *   - TRACEEXIT reports each thread's end while the thread still exists, so its Zircon thread dies then; without it
 *     a main thread that calls pthread_exit would linger (a zombie no stop request can reach) until the program
 *     ends.
 *   - Cost: one tracer thread, a ptrace-stop (microseconds) at each clone/fork/exec and each signal the program
 *     receives, and a program may not be traced by anyone else (no gdb/strace on it).
 *
 * Structure.  Every ptrace request must come from the tracer thread, so one long-lived monitor thread (started at
 * the first spawn, never exiting: tracees are killed when their tracer thread ends) does every fork, ptrace call
 * and wait.  Other threads only record what they want under the kernel lock (a stop, a resume, a kill) or queue a
 * spawn, then wake the monitor.  The monitor reports back into the core under the kernel lock and never holds it
 * across fork or wait.
 *
 * Waking.  The monitor sleeps in a blocking waitid(WNOWAIT) over its own children and tracees (__WNOTHREAD: it
 * never sees, let alone reaps, children of other threads such as Python's subprocess), so ptrace-stops and exits
 * wake it at once and an idle monitor costs no CPU.  Requests interrupt that wait with a real-time signal aimed at
 * the monitor thread, which is unblocked only around the wait; its handler siglongjmps back to the top of the loop,
 * so a request that lands just before the wait is never lost.  WNOWAIT makes the interrupted wait harmless: events
 * are consumed only by the non-blocking waitpid loop that follows.  When nothing is traced the monitor pauses.
 *
 * Descendants.  Processes the program forks are traced too (auto-attached), belong to it, are killed with it and
 * when its main process ends, and are not Zircon threads.  Suspending the process does not freeze them: Zircon
 * suspends a process's own threads, and a process it started is another process; freezing a vfork child would also
 * leave its parent, waiting uninterruptibly for the child, impossible to stop.
 *
 * Return code (exit_code_of): the exit status; a fault signal is an unhandled exception on Zircon
 * (ZX_TASK_RETCODE_EXCEPTION_KILL); any other fatal signal came from outside, which on Zircon only a zx_task_kill
 * can do (ZX_TASK_RETCODE_SYSCALL_KILL).  A kill's code, set by the core first, wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"

/* self_thread.c parks threads with SIGRTMIN+6; the monitor's wake-up signal must differ. */
#define WAKE_SIGNAL (SIGRTMIN + 7)

#define TRACE_OPTIONS                                                                                              \
    (PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |      \
     PTRACE_O_TRACEEXIT)

/* ------------------------------------------------------------------------------------------------ records */

typedef struct lt_task lt_task_t;
typedef struct lt_spawn lt_spawn_t;

/* t->backend of a Linux thread.  The core frees it with the thread object, which may outlive the Linux task, so it
 * only points at the task record; the monitor clears the pointer (under the kernel lock) when the task is gone. */
typedef struct {
    lt_task_t *task;
    /* Lock: the system call a stop last interrupted (-1: none), for ZX_INFO_THREAD while the thread continues it
     * through restart_syscall (hk_linux_thread_interrupted_syscall). */
    long interrupted_nr;
} lt_thread_link_t;

typedef enum { LP_STARTING, LP_RUNNING } lp_phase_t;

/* One spawned program: its main Linux process and every descendant it forked.  Monitor-private, except the
 * fields marked "lock" which requesters write under the kernel lock. */
struct hk_linux_process {
    hk_link_t link;         /* in g_programs */
    hk_process_t *p;        /* holds a reference until the program is over */
    pid_t pid;              /* the main program (our child) */
    lp_phase_t phase;
    hk_link_t tasks;        /* every live traced task of the program (lt_task_t.owner_link) */
    bool kill_sent;         /* SIGKILL went to everything known; later arrivals are killed on sight */
    bool main_gone;         /* the main program was reaped */
    int64_t exit_code;      /* from the main program's wait status */
    lt_spawn_t *spawn;      /* while STARTING: the request to complete */
    zx_status_t spawn_fail; /* STARTING: why the spawn must fail although exec succeeded */
    /* Lock: zx_task_kill asked for the kill.  Atomic and apart from the monitor's own flags, which the monitor
     * reads without the lock, so that no widened load of those can race with a requester's store. */
    atomic_bool kill_requested;
};

/* One traced Linux task (a thread of the main program or of a descendant). */
struct lt_task {
    lt_task_t *hash_next;
    /* Lock: the core asked for a stop.  Atomic and between pointers, apart from the monitor's own flags below
     * (which it touches without the lock), so that no widened access to those can race with a requester. */
    atomic_bool want_stop;
    hk_link_t owner_link;
    pid_t tid;
    pid_t tgid;
    struct hk_linux_process *owner; /* NULL until we know which program it belongs to (it is held meanwhile) */
    hk_thread_t *thread;            /* the Zircon thread (threads of the main program only); holds a reference */
    lt_thread_link_t *tlink;
    bool stopped;      /* in a ptrace-stop that we have not ended */
    bool group_stop;   /* ...which is a job-control group-stop: end it with PTRACE_LISTEN */
    int stop_sig;      /* ...which is a signal-delivery-stop for this signal: re-inject it */
    bool interrupting; /* PTRACE_INTERRUPT sent, stop not yet seen */
    bool reported;     /* the core was told THREAD_SUSPENDED */
    bool announced;    /* its creator's clone/fork event was seen (or we forked it ourselves) */
};

/* A queued fdio_spawn.  Prepared by the requesting thread, run by the monitor. */
struct lt_spawn {
    hk_link_t link; /* in g_spawn_queue */
    hk_process_t *p;
    /* What the child needs, prepared before fork so the child only makes async-signal-safe calls. */
    const char *path;
    char *const *argv;
    char *const *envp;
    size_t nfds;
    int *fd_src, *fd_dst;  /* dup2 fd_src[i] -> fd_dst[i] */
    int stdio[3];          /* STDIO_INHERIT, STDIO_NULL or an index into fd_src */
    int devnull;
    int base;              /* fds >= base are free for temporaries (above every target) */
    int *keep;             /* sorted targets >= 3: everything else >= 3 is closed at exec */
    size_t nkeep;
    int fallback_max_fd;   /* upper bound for the CLOEXEC loop when close_range is missing */
    pid_t parent_pid;
    int go[2];             /* the child waits on go[0] until it is traced */
    int err[2];            /* CLOEXEC: the child reports a failure before exec as {stage, errno} */
    /* Results (written by the monitor under g_mon_mutex). */
    bool done;
    zx_status_t status;
    int fail_stage, fail_errno;
};

enum { STDIO_INHERIT = -1, STDIO_NULL = -2 };
enum {
    STAGE_NONE = 0,
    STAGE_SETUP = 1,
    STAGE_EXEC = 2,
    STAGE_DIED = 3,
    STAGE_PTRACE = 4,
    STAGE_FORK = 5,
    STAGE_SECCOMP = 6,
};

/* Monitor startup and the spawn queue. */
static pthread_mutex_t g_mon_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_spawn_done = PTHREAD_COND_INITIALIZER;
static bool g_monitor_started;
static pthread_t g_monitor;
static hk_link_t g_spawn_queue = {&g_spawn_queue, &g_spawn_queue};
static atomic_int g_wake_pending;

/* Monitor-private. */
static hk_link_t g_programs = {&g_programs, &g_programs};
#define TASK_BUCKETS 256
static lt_task_t *g_task_hash[TASK_BUCKETS];
static bool g_resync; /* the monitor woke itself (a report into the core asked for a stop) */
static sigjmp_buf g_wake_jmp;
static __thread volatile sig_atomic_t t_wake_armed __attribute__((tls_model("initial-exec")));
static __thread bool t_is_monitor __attribute__((tls_model("initial-exec")));

/* Tids that exited before their creator's clone/fork event was seen (killed before their first stop, or adopted
 * early through /proc and already gone), so that the late event does not resurrect them. */
#define GRAVEYARD 256
static pid_t g_graveyard[GRAVEYARD];
static unsigned g_graveyard_next;

/* ------------------------------------------------------------------------------------------------ small helpers */

static void wake_monitor(void) {
    if (t_is_monitor) {
        g_resync = true;
        return;
    }
    if (!g_monitor_started) return; /* a child of os.fork(): its parent's programs are out of reach */
    if (atomic_exchange(&g_wake_pending, 1) == 0) pthread_kill(g_monitor, WAKE_SIGNAL);
}

static void wake_handler(int sig) {
    (void)sig;
    /* Only the monitor arms the jump, and only around its blocking wait. */
    if (t_wake_armed) {
        t_wake_armed = 0;
        siglongjmp(g_wake_jmp, 1);
    }
}

static lt_task_t *task_find(pid_t tid) {
    for (lt_task_t *k = g_task_hash[(unsigned)tid % TASK_BUCKETS]; k; k = k->hash_next)
        if (k->tid == tid) return k;
    return NULL;
}

static void task_hash_insert(lt_task_t *k) {
    lt_task_t **b = &g_task_hash[(unsigned)k->tid % TASK_BUCKETS];
    k->hash_next = *b;
    *b = k;
}

static void task_hash_remove(lt_task_t *k) {
    for (lt_task_t **pp = &g_task_hash[(unsigned)k->tid % TASK_BUCKETS]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == k) {
            *pp = k->hash_next;
            return;
        }
    }
}

static lt_task_t *task_new(pid_t tid) {
    lt_task_t *k = calloc(1, sizeof(*k));
    if (k == NULL) return NULL;
    k->tid = tid;
    k->tgid = tid;
    hk_list_init(&k->owner_link);
    task_hash_insert(k);
    return k;
}

static bool graveyard_take(pid_t tid) {
    for (unsigned i = 0; i < GRAVEYARD; i++) {
        if (g_graveyard[i] == tid) {
            g_graveyard[i] = 0;
            return true;
        }
    }
    return false;
}

static void graveyard_add(pid_t tid) {
    g_graveyard[g_graveyard_next] = tid;
    g_graveyard_next = (g_graveyard_next + 1) % GRAVEYARD;
}

/* Read a numeric field ("Tgid:", "PPid:") of /proc/<tid>/status; -1 if the task is gone. */
static pid_t proc_status_field(pid_t tid, const char *field) {
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return -1;
    size_t flen = strlen(field);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, field, flen) == 0) return (pid_t)strtol(line + flen, NULL, 10);
    }
    return -1;
}

/* The Linux name of a task (comm), as the name of its Zircon thread. */
static void read_comm(pid_t tid, char name[ZX_MAX_NAME_LEN]) {
    char path[64];
    name[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, name, ZX_MAX_NAME_LEN - 1);
    close(fd);
    if (n < 0) n = 0;
    name[n] = '\0';
    name[strcspn(name, "\n")] = '\0';
}

static bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

/* Zircon return code of the main program from its wait status.  An exit gives its status.  A fault signal is what
 * an unhandled exception is on Zircon (ZX_TASK_RETCODE_EXCEPTION_KILL).  Any other fatal signal came from outside
 * the program (a kill(1), the OOM killer, a hangup): on Zircon only another task's zx_task_kill ends a process
 * from outside, so it reads ZX_TASK_RETCODE_SYSCALL_KILL. */
static int64_t exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    switch (WTERMSIG(status)) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS: return ZX_TASK_RETCODE_EXCEPTION_KILL;
    default: return ZX_TASK_RETCODE_SYSCALL_KILL;
    }
}

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

    if (install_untraced_filter() != 0) child_fail(err_fd, STAGE_SECCOMP);
    execve(s->path, s->argv, s->envp);
    child_fail(err_fd, STAGE_EXEC);
}

/* ------------------------------------------------------------------------------------------------ monitor: tasks */

static void program_check_end(struct hk_linux_process *lp);
static void orphans_reap(void);
static size_t g_orphan_count;

/* Lock held.  End the ptrace-stop of k the way that matches what stopped it. */
static void task_resume_locked(lt_task_t *k) {
    if (k->group_stop) {
        /* A job-control stop of the program itself: stay stopped as far as the program knows, but let a SIGCONT
         * end it (PTRACE_CONT here would silently override the program's own SIGSTOP). */
        ptrace(PTRACE_LISTEN, k->tid, 0, 0);
    } else {
        /* Re-inject the signal of a signal-delivery-stop so the program's own signals are never lost. */
        ptrace(PTRACE_CONT, k->tid, 0, (void *)(long)k->stop_sig);
    }
    /* ESRCH means the task died meanwhile; its exit comes through waitpid. */
    k->stopped = false;
    k->group_stop = false;
    k->stop_sig = 0;
}

/* Lock held.  Bring a stopped task in line with what the core wants: hold it (and report the stop) or let it run. */
static void task_settle_locked(lt_task_t *k) {
    if (!k->stopped || k->owner == NULL) return; /* tasks of unknown owner stay held until we know them */
    if (k->thread != NULL && k->want_stop) {
        if (!k->reported) {
            hk_thread_report_stopped(k->thread); /* it is really in a ptrace-stop now */
            k->reported = true;
        }
        return;
    }
    task_resume_locked(k);
    if (k->reported) {
        hk_thread_report_running(k->thread);
        k->reported = false;
    }
}

static void task_settle(lt_task_t *k) {
    hk_lock();
    task_settle_locked(k);
    hk_unlock();
}

/* Lock held.  Ask for a stop if the core wants one and none is on its way. */
static void task_sync_locked(lt_task_t *k) {
    if (k->thread != NULL && k->want_stop && !k->stopped && !k->interrupting) {
        if (ptrace(PTRACE_INTERRUPT, k->tid, 0, 0) == 0) k->interrupting = true;
    } else {
        task_settle_locked(k);
    }
}

static void task_kill(lt_task_t *k) { syscall(SYS_tgkill, k->tgid, k->tid, SIGKILL); }

/* Give the Zircon thread object of a new thread of the main program.  Called without the lock. */
static void task_make_thread(lt_task_t *k) {
    struct hk_linux_process *lp = k->owner;
    char name[ZX_MAX_NAME_LEN];
    read_comm(k->tid, name);
    lt_thread_link_t *link = calloc(1, sizeof(*link));
    if (link == NULL) return; /* the task still runs and dies with the program; it just has no thread object */
    link->interrupted_nr = -1;
    hk_lock();
    hk_thread_t *t = hk_thread_new(lp->p, HK_THREAD_LINUX, name);
    if (t == NULL) {
        hk_unlock();
        free(link);
        return;
    }
    t->tid = k->tid;
    t->backend = link;
    link->task = k;
    k->thread = t;
    k->tlink = link;
    /* Starts it; when the process is suspended this calls hk_linux_thread_stop at once (want_stop), and the task,
     * still in its first ptrace-stop, is then held before running any instruction. */
    if (hk_thread_mark_started(t) != ZX_OK) {
        link->task = NULL;
        k->thread = NULL;
        k->tlink = NULL;
        hk_object_unref(&t->base);
    }
    hk_unlock();
}

/* Attach a task to its program once we know it. */
static void task_adopt(lt_task_t *k, struct hk_linux_process *lp) {
    pid_t tgid = proc_status_field(k->tid, "Tgid:");
    k->tgid = tgid > 0 ? tgid : k->tid;
    k->owner = lp;
    hk_list_add_tail(&lp->tasks, &k->owner_link);
    if (lp->kill_sent || lp->main_gone) {
        /* Born into a dying program (or after its main program ended): it dies too. */
        task_kill(k);
    } else if (lp->phase == LP_RUNNING && k->tgid == lp->pid) {
        task_make_thread(k);
    }
}

/* k's thread has ended: its Zircon thread is dead, and the task record no longer stands for it. */
static void task_thread_gone(lt_task_t *k) {
    if (k->thread == NULL) return;
    hk_lock();
    hk_thread_freeze_runtime(k->thread); /* its last CPU figures, while /proc still shows it (at its exit stop) */
    hk_thread_report_exited(k->thread);
    k->tlink->task = NULL;
    hk_object_unref(&k->thread->base);
    k->thread = NULL;
    k->tlink = NULL;
    k->reported = false;
    k->want_stop = false;
    hk_unlock();
}

/* Forget k (its Linux task is gone): its Zircon thread, if any, is dead. */
static void task_free(lt_task_t *k) {
    task_thread_gone(k);
    task_hash_remove(k);
    if (k->owner != NULL) hk_list_remove(&k->owner_link);
    free(k);
}

/* The program a new task belongs to, from /proc: a thread joins the program of its thread group, a process the
 * program of its parent.  NULL when neither is known (*ppid_out tells why). */
static struct hk_linux_process *find_owner(pid_t tid, pid_t *ppid_out) {
    pid_t tgid = proc_status_field(tid, "Tgid:");
    lt_task_t *rel = (tgid > 0 && tgid != tid) ? task_find(tgid) : NULL;
    pid_t ppid = proc_status_field(tid, "PPid:");
    if (rel == NULL && ppid > 0) rel = task_find(ppid);
    if (ppid_out != NULL) *ppid_out = ppid;
    return rel != NULL ? rel->owner : NULL;
}

/* A held task of unknown owner whose creator will never report it (killed while forking) is killed, so nothing is
 * left stopped forever.  A task created with CLONE_PARENT has our pid as its parent: its creator's event will come. */
static void review_unknown_tasks(void) {
    for (unsigned b = 0; b < TASK_BUCKETS; b++) {
        for (lt_task_t *k = g_task_hash[b], *next; k; k = next) {
            next = k->hash_next;
            if (k->owner != NULL) continue;
            pid_t ppid;
            struct hk_linux_process *lp = find_owner(k->tid, &ppid);
            if (lp != NULL) {
                task_adopt(k, lp);
                task_settle(k);
            } else if (ppid != getpid()) {
                task_kill(k);
            }
        }
    }
}

/* The creator k reported a new task (clone, fork or vfork event). */
static void task_created(lt_task_t *k, pid_t child) {
    lt_task_t *c = task_find(child);
    if (c != NULL) {
        /* Its first stop came before this event. */
        c->announced = true;
        if (c->owner == NULL && k->owner != NULL) {
            task_adopt(c, k->owner);
            task_settle(c);
        }
        return;
    }
    if (graveyard_take(child) || k->owner == NULL) return;
    c = task_new(child);
    if (c == NULL) {
        syscall(SYS_tgkill, child, child, SIGKILL); /* cannot track it, so it must not outlive the program */
        return;
    }
    c->announced = true;
    task_adopt(c, k->owner); /* its first stop will follow */
}

/* An unknown task stopped: a new task whose creator's event we have not seen yet. */
static void task_first_stop(pid_t tid) {
    lt_task_t *k = task_new(tid);
    if (k == NULL) {
        syscall(SYS_tgkill, tid, tid, SIGKILL);
        return;
    }
    k->stopped = true; /* its initial PTRACE_EVENT_STOP: nothing to re-inject */
    struct hk_linux_process *lp = find_owner(tid, NULL);
    if (lp != NULL) {
        task_adopt(k, lp);
        task_settle(k);
    } /* else: held until its creator's event names it */
}

/* A program's exec completed (PTRACE_EVENT_EXEC, reported for the thread-group leader pid). */
static lt_task_t *task_exec(lt_task_t *k, pid_t former) {
    if (former > 0 && former != k->tid) {
        /* A non-leader thread exec'd: the old leader vanished without an exit report, and the exec'ing thread took
         * over its tid.  The exec'ing thread keeps its Zircon thread; the old leader's thread is dead. */
        lt_task_t *x = task_find(former);
        struct hk_linux_process *lp = k->owner;
        pid_t pid = k->tid;
        task_free(k);
        if (x == NULL) {
            x = task_new(pid);
            if (x == NULL) return NULL;
            if (lp != NULL) task_adopt(x, lp);
        } else {
            /* Its creator's event may still name the old tid: that one must not come back. */
            if (!x->announced) graveyard_add(former);
            task_hash_remove(x);
            x->tid = pid;
            task_hash_insert(x);
            if (x->thread != NULL) {
                hk_lock();
                x->thread->tid = pid;
                hk_unlock();
            }
        }
        x->announced = true;
        k = x;
    }
    k->tgid = k->tid;
    struct hk_linux_process *lp = k->owner;
    if (lp != NULL && lp->phase == LP_STARTING && k->tid == lp->pid) {
        /* The spawn succeeded.  A kill of the job while we were starting left the process dead: then the program
         * must not run (the launcher's zx_process_start would have failed with BAD_STATE). */
        char name[ZX_MAX_NAME_LEN];
        read_comm(k->tid, name);
        lt_thread_link_t *link = calloc(1, sizeof(*link));
        if (link != NULL) link->interrupted_nr = -1;
        hk_lock();
        hk_process_t *p = lp->p;
        hk_thread_t *t = NULL;
        if (p->state != HK_PROCESS_INITIAL) lp->spawn_fail = ZX_ERR_BAD_STATE;
        else if (link == NULL || (t = hk_thread_new(p, HK_THREAD_LINUX, name)) == NULL) lp->spawn_fail = ZX_ERR_NO_MEMORY;
        if (t != NULL) {
            t->tid = k->tid;
            t->backend = link;
            link->task = k;
            k->thread = t;
            k->tlink = link;
            p->program = lp;
            lp->phase = LP_RUNNING;
            hk_process_mark_running(p);
            hk_thread_mark_started(t); /* asks for a stop at once if the process was suspended meanwhile */
        }
        hk_unlock();
        if (t == NULL) {
            free(link);
            lp->kill_sent = true;
            task_kill(k); /* the spawn completes with the failure once the child is reaped */
        } else {
            pthread_mutex_lock(&g_mon_mutex);
            lp->spawn->status = ZX_OK;
            lp->spawn->done = true;
            pthread_cond_broadcast(&g_spawn_done);
            pthread_mutex_unlock(&g_mon_mutex);
            lp->spawn = NULL;
        }
    }
    return k;
}

/* The system call a stopped task was in when it stopped (-1: none, or unknown). */
static long stopped_syscall(pid_t tid) {
    char path[64], buf[64];
    snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return -1;
    char *end;
    long nr = strtol(buf, &end, 10);
    return end == buf ? -1 : nr;
}

static void handle_wait_status(pid_t pid, int status) {
    lt_task_t *k = task_find(pid);
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        if (k == NULL) {
            graveyard_add(pid);
            return;
        }
        if (!k->announced) graveyard_add(pid); /* its creator's event is still to come */
        struct hk_linux_process *lp = k->owner;
        if (lp != NULL && pid == lp->pid) {
            /* The main program's leader is reported last, with the status of the whole thread group. */
            lp->main_gone = true;
            lp->exit_code = exit_code_of(status);
        }
        task_free(k);
        if (lp != NULL) program_check_end(lp);
        review_unknown_tasks();
        return;
    }
    if (!WIFSTOPPED(status)) return;
    if (k == NULL) {
        task_first_stop(pid);
        return;
    }
    int sig = WSTOPSIG(status);
    int event = (unsigned)status >> 16;
    unsigned long msg = 0;
    k->interrupting = false; /* any stop answers a pending PTRACE_INTERRUPT (a late extra trap is harmless) */
    k->stopped = true;
    k->group_stop = false;
    k->stop_sig = 0;
    switch (event) {
    case 0: k->stop_sig = sig; break;                              /* signal-delivery-stop */
    case PTRACE_EVENT_STOP: k->group_stop = is_stop_signal(sig); break; /* SIGTRAP: interrupt or first stop */
    case PTRACE_EVENT_CLONE:
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
        if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0) task_created(k, (pid_t)msg);
        break;
    case PTRACE_EVENT_EXIT:
        /* The thread is on its way out (exit, exit_group, a fatal signal, or another thread's exec).  Its Zircon
         * thread is DEAD from now on and leaves PROCESS_THREADS, as on Zircon.  This matters for a main thread that
         * ends alone (pthread_exit): Linux keeps it as a zombie, which no PTRACE_INTERRUPT can stop, until the whole
         * program ends.  The record itself stays until the task is reaped (a main thread's id may yet be taken
         * over by a thread that execs), and the task is let go at once: an exit is never held. */
        task_thread_gone(k);
        ptrace(PTRACE_CONT, pid, 0, 0); /* ESRCH: it died meanwhile; its exit comes through waitpid */
        k->stopped = false;
        return;
    case PTRACE_EVENT_EXEC:
        if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) != 0) msg = (unsigned long)pid;
        k = task_exec(k, (pid_t)msg);
        if (k == NULL) return;
        k->stopped = true; /* the exec stop (of the exec'ing thread, now under the leader's tid) */
        k->group_stop = false;
        k->stop_sig = 0;
        k->interrupting = false;
        break;
    default: break;
    }
    if (k->tlink != NULL && (event == 0 || event == PTRACE_EVENT_STOP)) {
        /* A signal or an interrupt stopped it, maybe inside a sleeping call that it will continue through
         * restart_syscall afterwards, which hides the call from /proc/.../syscall.  Now, at the stop, the call is
         * still shown: remember it for ZX_INFO_THREAD (thread_state.c). */
        long nr = stopped_syscall(pid);
        hk_lock();
        if (k->tlink != NULL) k->tlink->interrupted_nr = nr;
        hk_unlock();
    }
    task_settle(k);
}

/* A task has exited and is about to be reaped: its last CPU figures are readable from /proc only until then. */
static void task_exiting(pid_t tid) {
    lt_task_t *k = task_find(tid);
    if (k == NULL || k->thread == NULL) return;
    hk_lock();
    hk_thread_freeze_runtime(k->thread);
    hk_unlock();
}

/* ------------------------------------------------------------------------------------------------ monitor: orphans
 *
 * Zombies when this program is PID 1 (a container without an init) or a child subreaper (PR_SET_CHILD_SUBREAPER).
 * A descendant of a spawned program whose parent dies is reparented to the nearest subreaper, else to PID 1: here,
 * to this program.  The monitor, as its tracer, sees its exit first; the zombie then passes to its real parent,
 * which is now a thread of this program, and nobody here would ever reap it (README forbids waitpid(-1), and
 * __WNOTHREAD keeps the monitor off other threads' children).  So every descendant process whose exit the monitor
 * sees is followed until it is reaped by someone:
 *   - At its exit the monitor has not yet reaped it as tracer, so the zombie and its pid are pinned: a pidfd
 *     opened then names exactly that process, never a later one with a recycled pid.
 *   - After the tracer's reap, waitid(P_PIDFD, WNOHANG) without __WNOTHREAD reaps it if, and only if, it is a
 *     child of this program (of any thread).  That can only be a descendant we traced, so no child that other code
 *     owns (subprocess, os.fork) is ever reaped: those are never followed.
 *   - ECHILD: its parent is another process.  A parent that is itself a traced task may still die without reaping
 *     it (the zombie is then reparented, maybe to us): keep following, and look again whenever the monitor wakes
 *     (a tracee's exit always wakes it).  Any other parent (PID 1 of the machine, a process outside the program)
 *     is final: stop following.  Gone (ESRCH from pidfd_send_signal): someone reaped it; stop.
 * Kernels without pidfds (before 5.3) get the part that needs none: a descendant that is already our child when it
 * exits (pid pinned: only we can reap it) is reaped by pid. */

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct {
    int fd;    /* pidfd, or -1: follow by pid (no pidfds; only when it already was our child at its exit) */
    pid_t pid; /* for the /proc look-up of its parent, valid while the process exists */
} lt_orphan_t;

static lt_orphan_t *g_orphans;
static size_t g_orphan_cap; /* g_orphan_count is declared with the monitor's forward declarations */

static void orphan_forget(size_t i) {
    if (g_orphans[i].fd >= 0) close(g_orphans[i].fd);
    g_orphans[i] = g_orphans[--g_orphan_count];
}

/* A traced task exited and is not reaped yet (pinned).  Follow it if it is a process other than a program's main
 * one (those are the monitor's own children: the tracer's reap is their final one). */
static void orphan_watch(pid_t pid) {
    lt_task_t *k = task_find(pid);
    if (k != NULL && k->owner != NULL && k->owner->pid == pid) return;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
        /* EINVAL: a thread, not a process (threads leave no zombie).  ENOSYS: an old kernel. */
        if (errno != ENOSYS || proc_status_field(pid, "PPid:") != getpid()) return;
    }
    if (g_orphan_count == g_orphan_cap) {
        size_t cap = g_orphan_cap ? 2 * g_orphan_cap : 16;
        lt_orphan_t *grown = realloc(g_orphans, cap * sizeof(*grown));
        if (grown == NULL) {
            if (fd >= 0) close(fd);
            return;
        }
        g_orphans = grown;
        g_orphan_cap = cap;
    }
    g_orphans[g_orphan_count++] = (lt_orphan_t){.fd = fd, .pid = pid};
}

/* After the tracer's reaps: reap the followed zombies that are ours now; stop following those that never will be. */
static void orphans_reap(void) {
    for (size_t i = 0; i < g_orphan_count;) {
        lt_orphan_t *o = &g_orphans[i];
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r = o->fd >= 0 ? waitid(P_PIDFD, (id_t)o->fd, &si, WEXITED | WNOHANG | __WALL)
                           : waitid(P_PID, (id_t)o->pid, &si, WEXITED | WNOHANG | __WALL);
        if (r == 0 && si.si_pid != 0) {
            orphan_forget(i); /* reaped: it was ours */
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 || o->fd < 0) {
            /* Ours but not waitable yet, or followed by pid (ours at its exit: nothing else can reap it). */
            if (o->fd < 0 && r < 0) orphan_forget(i);
            else i++;
            continue;
        }
        /* ECHILD: not our child.  Still there, with a parent that is a traced task?  Then look again later.  Its
         * parent may have died since the waitid: if it is ours now, try again at once. */
        if (syscall(SYS_pidfd_send_signal, o->fd, 0, NULL, 0) == 0) {
            pid_t ppid = proc_status_field(o->pid, "PPid:");
            if (ppid == getpid()) continue;
            if (ppid > 0 && task_find(ppid) != NULL) {
                i++;
                continue;
            }
        }
        orphan_forget(i);
    }
}

#define DRAIN_WAIT_FLAGS (__WALL | __WNOTHREAD | WNOHANG | WUNTRACED)

/* Drain every pending wait event of our children and tracees (never another thread's children).  Each event is
 * looked at first (WNOWAIT), so that an exited task's runtime can be read before waitpid reaps it. */
static void drain_events(void) {
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOWAIT | DRAIN_WAIT_FLAGS) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (si.si_pid == 0) return;
        if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
            task_exiting(si.si_pid);
            orphan_watch(si.si_pid);
        }
        int status;
        pid_t pid = waitpid(si.si_pid, &status, DRAIN_WAIT_FLAGS);
        if (pid == 0) pid = waitpid(-1, &status, DRAIN_WAIT_FLAGS); /* that event went away: take any other */
        if (pid <= 0) {
            if (pid < 0 && errno == EINTR) continue;
            return;
        }
        handle_wait_status(pid, status);
    }
}

/* ------------------------------------------------------------------------------------------------ monitor: programs */

static void program_kill(struct hk_linux_process *lp) {
    lp->kill_sent = true;
    HK_LIST_FOR_EACH(it, &lp->tasks) task_kill(HK_CONTAINER_OF(it, lt_task_t, owner_link));
}

/* The program is over once its main program was reaped and every descendant is gone too. */
static void program_check_end(struct hk_linux_process *lp) {
    if (!lp->main_gone) return;
    if (!hk_list_empty(&lp->tasks)) {
        /* Descendants do not outlive the main program. */
        if (!lp->kill_sent) program_kill(lp);
        return;
    }
    hk_list_remove(&lp->link);
    if (lp->phase == LP_STARTING) {
        lt_spawn_t *s = lp->spawn;
        int msg[2] = {STAGE_DIED, 0};
        if (lp->spawn_fail == ZX_OK && read(s->err[0], msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
            msg[0] = STAGE_DIED;
            msg[1] = 0;
        }
        pthread_mutex_lock(&g_mon_mutex);
        s->status = lp->spawn_fail != ZX_OK ? lp->spawn_fail : ZX_ERR_INTERNAL;
        s->fail_stage = lp->spawn_fail != ZX_OK ? STAGE_NONE : msg[0];
        s->fail_errno = msg[1];
        s->done = true;
        pthread_cond_broadcast(&g_spawn_done);
        pthread_mutex_unlock(&g_mon_mutex);
        hk_lock();
        hk_object_unref(&lp->p->base);
        hk_unlock();
    } else {
        /* Every task of the program is reaped, so every descendant's zombie has its final parent: the ones that are
         * ours are reaped before TASK_TERMINATED, so none is left when a waiter wakes. */
        if (g_orphan_count != 0) orphans_reap();
        hk_lock();
        hk_process_report_exited(lp->p, lp->exit_code); /* a kill's code, set earlier, wins */
        lp->p->program = NULL;
        hk_object_unref(&lp->p->base);
        hk_unlock();
    }
    free(lp);
}

/* Fork and trace one queued program. */
static void program_start(lt_spawn_t *s) {
    int fail_stage = STAGE_NONE, fail_errno = 0;
    struct hk_linux_process *lp = calloc(1, sizeof(*lp));
    lt_task_t *k = NULL;
    pid_t pid = -1;
    if (lp == NULL) {
        fail_stage = STAGE_FORK;
        fail_errno = ENOMEM;
        goto fail;
    }
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
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)TRACE_OPTIONS) != 0) {
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
    k = task_new(pid);
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
    hk_list_add_tail(&g_programs, &lp->link);
    k->owner = lp;
    k->announced = true;
    hk_list_add_tail(&lp->tasks, &k->owner_link);
    /* Traced now: let the child set itself up and exec (PTRACE_EVENT_EXEC then reports success). */
    if (write(s->go[1], "g", 1) != 1) kill(pid, SIGKILL);
    close(s->go[1]);
    s->go[1] = -1;
    return;
fail:
    free(lp);
    pthread_mutex_lock(&g_mon_mutex);
    s->status = fail_errno == ENOMEM ? ZX_ERR_NO_MEMORY : fail_stage == STAGE_PTRACE ? ZX_ERR_NOT_SUPPORTED
                                                                                  : ZX_ERR_NO_RESOURCES;
    s->fail_stage = fail_stage;
    s->fail_errno = fail_errno;
    s->done = true;
    pthread_cond_broadcast(&g_spawn_done);
    pthread_mutex_unlock(&g_mon_mutex);
}

/* Act on everything requested since the last pass: queued spawns, kills, stops and resumes. */
static void sync_requests(void) {
    pthread_mutex_lock(&g_mon_mutex);
    hk_link_t queue;
    hk_list_init(&queue);
    while (!hk_list_empty(&g_spawn_queue)) {
        hk_link_t *it = g_spawn_queue.next;
        hk_list_remove(it);
        hk_list_add_tail(&queue, it);
    }
    pthread_mutex_unlock(&g_mon_mutex);
    while (!hk_list_empty(&queue)) {
        hk_link_t *it = queue.next;
        hk_list_remove(it);
        program_start(HK_CONTAINER_OF(it, lt_spawn_t, link));
    }

    /* ptrace and kill never block, so they may run under the kernel lock. */
    hk_lock();
    HK_LIST_FOR_EACH(it, &g_programs) {
        struct hk_linux_process *lp = HK_CONTAINER_OF(it, struct hk_linux_process, link);
        if (lp->kill_requested && !lp->kill_sent) program_kill(lp);
        HK_LIST_FOR_EACH(jt, &lp->tasks) task_sync_locked(HK_CONTAINER_OF(jt, lt_task_t, owner_link));
    }
    hk_unlock();
}

#define MONITOR_WAIT_FLAGS (WEXITED | WSTOPPED | WNOWAIT | __WALL | __WNOTHREAD)

/* Block until a child or tracee has an event for us (WNOWAIT: it is not consumed).  -1/ECHILD: nothing traced.
 *
 * ThreadSanitizer runs a signal handler at once only inside a call it treats as blocking (nanosleep, pause); one
 * that lands anywhere else waits until an intercepted call returns.  Its waitid is not such a call: a WAKE_SIGNAL
 * landing between the unblock and the wait would be held until some tracee happened to stop or exit (requests
 * coalesce in g_wake_pending, so later ones send nothing), and a suspend or kill would never be acted on.  Under
 * TSan the monitor therefore polls: a non-blocking waitid, then a 1 ms nanosleep, which runs a deferred handler
 * on entry and a new one at once. */
static int monitor_wait(siginfo_t *si) {
#if HK_TSAN
    for (;;) {
        memset(si, 0, sizeof(*si));
        if (waitid(P_ALL, 0, si, MONITOR_WAIT_FLAGS | WNOHANG) < 0) return -1;
        if (si->si_pid != 0) return 0;
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
#else
    return waitid(P_ALL, 0, si, MONITOR_WAIT_FLAGS);
#endif
}

static void *monitor_main(void *arg) {
    (void)arg;
    t_is_monitor = true;
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, WAKE_SIGNAL);
    for (;;) {
        /* Every signal stays blocked in this thread except WAKE_SIGNAL inside the window below. */
        if (sigsetjmp(g_wake_jmp, 1) != 0) continue; /* woken: the mask saved here (all blocked) is back */
        atomic_store(&g_wake_pending, 0);
        do {
            g_resync = false;
            drain_events();
            if (g_orphan_count != 0) orphans_reap();
            sync_requests();
        } while (g_resync);
        t_wake_armed = 1;
        pthread_sigmask(SIG_UNBLOCK, &wake, NULL); /* a request that came meanwhile jumps back now */
        siginfo_t si;
        if (monitor_wait(&si) < 0 && errno == ECHILD) {
            pause(); /* nothing is traced: only a request can wake us */
        }
        pthread_sigmask(SIG_BLOCK, &wake, NULL);
        t_wake_armed = 0;
    }
    return NULL;
}

/* After fork(2) in the host program (Python's os.fork), the child has no monitor: our tracees belong to the
 * parent.  The child forgets them and starts a monitor of its own if it spawns. */
static void atfork_prepare(void) { pthread_mutex_lock(&g_mon_mutex); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mon_mutex); }
static void atfork_child(void) {
    g_monitor_started = false;
    for (size_t i = 0; i < g_orphan_count; i++)
        if (g_orphans[i].fd >= 0) close(g_orphans[i].fd);
    g_orphan_count = 0;
    hk_list_init(&g_spawn_queue);
    hk_list_init(&g_programs);
    memset(g_task_hash, 0, sizeof(g_task_hash));
    atomic_store(&g_wake_pending, 0);
    pthread_mutex_unlock(&g_mon_mutex);
}

/* g_mon_mutex held. */
static int monitor_start(void) {
    if (g_monitor_started) return 0;
    static bool once;
    if (!once) {
        once = true;
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = wake_handler;
        /* The monitor leaves the handler by siglongjmp; SA_RESTART only spares another thread that a stray
         * process-directed WAKE_SIGNAL happens to hit an EINTR. */
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(WAKE_SIGNAL, &sa, NULL);
    }
    /* The monitor blocks every signal, so the program's own signals (Python's SIGINT) never land on it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&g_monitor, &attr, monitor_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) return err;
    g_monitor_started = true;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ requests */

void hk_linux_kill(hk_process_t *p) {
    struct hk_linux_process *lp = p->program;
    if (lp == NULL || lp->kill_requested) return;
    lp->kill_requested = true;
    wake_monitor();
}

void hk_linux_thread_stop(hk_thread_t *t) {
    lt_thread_link_t *link = t->backend;
    if (link == NULL || link->task == NULL) return;
    link->task->want_stop = true;
    wake_monitor();
}

void hk_linux_thread_resume(hk_thread_t *t) {
    lt_thread_link_t *link = t->backend;
    if (link == NULL || link->task == NULL) return;
    link->task->want_stop = false;
    wake_monitor();
}

long hk_linux_thread_interrupted_syscall(const hk_thread_t *t) {
    const lt_thread_link_t *link = t->backend;
    return link != NULL ? link->interrupted_nr : -1;
}

pid_t hk_linux_pid(const hk_process_t *p) {
    /* lp->pid was written before p->program was published under the lock, and p->program is cleared (under the
     * lock) before lp is freed. */
    return p->program != NULL ? p->program->pid : 0;
}

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

    /* Hand it to the monitor and wait.  The caller holds no lock; the monitor completes s under g_mon_mutex. */
    pthread_mutex_lock(&g_mon_mutex);
    int err = monitor_start();
    if (err != 0) {
        pthread_mutex_unlock(&g_mon_mutex);
        errno = err;
        what = "start the spawn monitor thread";
        goto errno_out;
    }
    hk_list_add_tail(&g_spawn_queue, &s.link);
    wake_monitor();
    while (!s.done) pthread_cond_wait(&g_spawn_done, &g_mon_mutex);
    pthread_mutex_unlock(&g_mon_mutex);
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
