/* The spawn backend's internal interface: the records of spawned programs and their traced tasks, and the calls
 * between the files that make up the backend:
 *
 *   linux_spawn.c    the requesting side of hk_linux_spawn (the fd plan, errors), and the child: clone(CLONE_VM),
 *                    its fd set-up, the seccomp filter, exec (for a Fuchsia image, of lt_fuchsia_ops.exec_fd:
 *                    host/fuchsia/runner.c's trampoline);
 *                    the monitor's start-and-seize of it (lt_program_start)
 *   linux_monitor.c  the monitor thread: its wake signal, the wait loop, exit codes, reaping of orphans, acting on
 *                    requests; the spawn queue between requesters and the monitor
 *   linux_task.c     task bookkeeping: the traced tasks, the programs they belong to, their Zircon threads, and the
 *                    core's kill request and pid look-up (the hk_process_ops_t of HK_PROCESS_LINUX)
 *   linux_stop.c     ptrace stop and resume of tasks, and the core's stop/resume requests for their threads
 *   linux_exception.c  fault signals raised as Zircon exceptions, the task held while one is out
 *
 * fdio_spawn.c includes it for the fdio limits below.  Every declaration here is private to the backend (hidden:
 * none is exported from the Python module).
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
 *   - TRACEEXIT reports a thread's end while the thread still exists.  A main thread that calls pthread_exit while
 *     other threads run on would otherwise linger (a zombie no stop request can reach, whose exit Linux reports only
 *     when the whole program ends), so the main thread of a Linux program gets it from the moment the program
 *     makes its first thread or child (its creator's event stop); every other task ends unstopped and is seen at
 *     its exit (a traced thread stays a zombie until the tracer reaps it, so its figures are still in /proc then).
 *     An exit stop costs each exiting task a ptrace-stop and the monitor a wake, a wait and a PTRACE_CONT, which
 *     was a fifth of the monitor's work per killed program.  A Fuchsia program has it throughout.
 *   - Cost: one tracer thread, a ptrace-stop (microseconds) at each clone/fork/exec and each signal the program
 *     receives, and a program may not be traced by anyone else (no gdb/strace on it).
 *
 * Structure.  Every ptrace request must come from the tracer thread, so one long-lived monitor thread (started at
 * the first spawn, never exiting: tracees are killed when their tracer thread ends) does every fork, ptrace call
 * and wait.  Other threads only record what they want under the kernel lock (a stop, a resume, a kill) or queue a
 * spawn, then wake the monitor.  The monitor reports back into the core under the kernel lock and never holds it
 * across fork or wait.
 *
 * Descendants.  Processes the program forks are traced too (auto-attached), belong to it, are killed with it and
 * when its main process ends, and are not Zircon threads.  Suspending the process does not freeze them: Zircon
 * suspends a process's own threads, and a process it started is another process; freezing a vfork child would also
 * leave its parent, waiting uninterruptibly for the child, impossible to stop.
 */
#ifndef ZXPY_HOST_LINUX_TASK_H_
#define ZXPY_HOST_LINUX_TASK_H_

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "kernel.h"

#pragma GCC visibility push(hidden)

/* ------------------------------------------------------------------------------------------------ records */

/* The ptrace options of a spawned Linux program (PTRACE_SEIZE); PTRACE_O_TRACEEXIT is added where it is needed (see
 * above).  Needs <sys/ptrace.h> where it is used. */
#define LT_TRACE_OPTIONS                                                                                           \
    (PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

typedef struct lt_task lt_task_t;
typedef struct lt_spawn lt_spawn_t;

/* t->backend of a Linux thread.  The core frees it with the thread object, which may outlive the Linux task, so it
 * only points at the task record; the monitor clears the pointer (under the kernel lock) when the task is gone. */
typedef struct {
    lt_task_t *task;
    /* Lock: the system call a stop last interrupted (-1: none), for ZX_INFO_THREAD while the thread continues it
     * through restart_syscall (the interrupted_syscall op of HK_THREAD_LINUX). */
    long interrupted_nr;
} lt_thread_link_t;

typedef enum { LP_STARTING, LP_RUNNING } lp_phase_t;

/* How a stopped task is let go (lt_task_t.resume): PTRACE_CONT for Linux programs; a Fuchsia program's task
 * resumes with PTRACE_SYSEMU (every `syscall` stops before it runs, and none reaches Linux), or with PTRACE_SYSCALL
 * while the runner lets one real Linux call run for it (host/fuchsia/runner.c).  LT_RESUME_HOLD: not at all -- the
 * task stays in its syscall-stop while the runner completes its call elsewhere (a blocking call served on a worker
 * thread, host/fuchsia/serve_object.c) or while it dies (it killed itself); the runner sets another mode when the
 * call is done.  A held task is still reported SUSPENDED / RUNNING as the core asks (it is blocked in a call). */
typedef enum { LT_RESUME_CONT = 0, LT_RESUME_SYSEMU, LT_RESUME_SYSCALL, LT_RESUME_HOLD } lt_resume_t;

/* A program that is no Linux executable: a Fuchsia ELF image started by host/fuchsia/runner.c.  The backend
 * reaches the runner only through these ops (host/fuchsia/ is not part of the Python module), given with the spawn
 * (hk_spawn_request_t.fuchsia_ops).  All of them run on the monitor thread, except exec_fd. */
struct lt_fuchsia_ops {
    /* Before the fork: the program record (lp->fuchsia) from the request's start data; NULL when out of memory. */
    void *(*program_new)(const void *start);
    /* On the requesting thread: the fd the child execs instead of the request's path (the runner's trampoline). */
    int (*exec_fd)(const void *start);
    /* The main task k is in the exec stop of that fd: build the program in it and leave its registers at the
     * program's entry (it then goes on under PTRACE_SYSEMU); a failure status fails the spawn. */
    zx_status_t (*started)(void *program, lt_task_t *k);
    /* A syscall-stop of task k (PTRACE_O_TRACESYSGOOD): serve it; it leaves k->resume as the task must go on. */
    void (*syscall_stop)(void *program, lt_task_t *k);
    /* Lock held, never blocks; may be NULL.  At every pass of the monitor over its requests, before it syncs the
     * program's tasks: complete the calls finished elsewhere (set their result and k->resume). */
    void (*poll)(void *program);
    /* Without the lock; may be NULL.  Every task of the started program is reaped, and it is about to be reported
     * dead (TASK_TERMINATED): finish what must be done before a waiter wakes (its stdio copied out). */
    void (*exited)(void *program);
    void (*program_free)(void *program);
    /* Lock held; may be NULL.  Task k, a thread the program cloned (zx_thread_start), is being made a Zircon
     * thread: the NEW thread object zx_thread_create made for it (a reference for the caller), or NULL for a new
     * one. */
    hk_thread_t *(*thread_for)(void *program, lt_task_t *k);
    /* Lock held; may be NULL.  Before the first resume of a task the program cloned (lt_task_t.fx_fresh): set its
     * registers to zx_thread_start's entry state. */
    void (*thread_first_run)(void *program, lt_task_t *k);
};

/* One spawned program: its main Linux process and every descendant it forked.  Monitor-private, except the
 * fields marked "lock" which requesters write under the kernel lock. */
struct hk_linux_process {
    hk_link_t link;         /* in lt_programs */
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
    /* Lock: the main program is about to be reaped (set by the monitor before its wait), so its pid may name another
     * process from then on; until then a kill may signal it from the requesting thread (linux_kill). */
    bool main_reaping;
    /* Lock: the requesting thread sent SIGKILL to the main program's thread group itself. */
    bool main_signalled;
    /* A Fuchsia program (host/fuchsia/runner.c): its ops and record; NULL for a Linux program. */
    const struct lt_fuchsia_ops *fuchsia_ops;
    void *fuchsia;
    /* The return code is fixed (zx_process_exit's full 64-bit code, or a policy kill's), whatever the wait status
     * says; a kill's code, set by the core first, still wins. */
    bool code_fixed;
    int64_t fixed_code;
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
    lt_resume_t resume; /* how it is let go: PTRACE_CONT, or for a Fuchsia program SYSEMU / SYSCALL */
    /* Single-step (ZX_THREAD_STATE_SINGLE_STEP, linux_regs.c).  Lock: single_step is the thread's flag: every
     * resume is a PTRACE_SINGLESTEP while it is set.  Monitor: stepping, such a resume is under way; its trap
     * (SIGTRAP) raises ZX_EXCP_HW_BREAKPOINT (held in_exception), or with no channel holds the task
     * (thread->trap_held) until the thread is suspended and resumed again. */
    bool single_step;
    bool stepping;
    /* linux_exception.c.  in_exception: held in its stop while its Zircon thread is in an exception (monitor, under
     * the lock).  exc_resolution: how it ended (lock: written by the core's exception_resolved). */
    bool in_exception;
    int exc_resolution;
    /* Monitor: a thread a Fuchsia program cloned, not yet resumed (lt_fuchsia_ops.thread_first_run). */
    bool fx_fresh;
    /* Monitor: PTRACE_O_TRACEEXIT was added to its options (the main thread of a program that made a thread). */
    bool exit_traced;
};

enum { LT_EXC_NONE = 0, LT_EXC_PENDING, LT_EXC_HANDLED, LT_EXC_UNHANDLED, LT_EXC_THREAD_EXIT };

/* A queued fdio_spawn.  Prepared by the requesting thread, run by the monitor. */
struct lt_spawn {
    hk_link_t link; /* in g_spawn_queue */
    hk_process_t *p;
    /* What the child needs, prepared before fork so the child only makes async-signal-safe calls. */
    const char *path;
    char *const *argv;
    char *const *envp;
    const struct lt_fuchsia_ops *fuchsia_ops; /* a Fuchsia image instead of exec (NULL: exec path) */
    const void *fuchsia_start;
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
    int exec_fd;           /* >= 0: the child execs this fd (execveat AT_EMPTY_PATH) instead of path */
    void *child_mem;       /* the child's stack and its copy of this request (lt_program_start), until done */
    size_t child_mem_size;
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

/* ------------------------------------------------------------------------------------------------ linux_task.c */

/* Monitor-private: every program not yet over (struct hk_linux_process.link). */
extern hk_link_t lt_programs;
/* The record of a traced task, or NULL. */
lt_task_t *lt_task_find(pid_t tid);
/* A new record (owner unknown, tgid = tid), in the hash; NULL when out of memory. */
lt_task_t *lt_task_new(pid_t tid);
/* k, of unknown owner until now, belongs to lp (in lp->tasks). */
void lt_task_set_owner(lt_task_t *k, struct hk_linux_process *lp);
/* tid exited before its creator's clone/fork event was seen: that event must not resurrect it. */
void lt_graveyard_add(pid_t tid);
void lt_task_thread_gone(lt_task_t *k);        /* its Linux thread ended: the Zircon thread is dead */
void lt_task_free(lt_task_t *k);               /* its Linux task is gone: forget it */
void lt_review_unknown_tasks(void);            /* adopt or kill held tasks of unknown owner */
void lt_task_created(lt_task_t *k, pid_t child); /* k's clone/fork/vfork event named child */
void lt_task_first_stop(pid_t tid);            /* an unknown task stopped */
lt_task_t *lt_task_exec(lt_task_t *k, pid_t former); /* PTRACE_EVENT_EXEC; the record that stands for it now */
void lt_program_kill(struct hk_linux_process *lp);      /* SIGKILL every task of lp */
void lt_program_check_end(struct hk_linux_process *lp); /* lp is over once its main program and descendants are gone */
void lt_tasks_after_fork(void);             /* a forked child of this program forgets the parent's tasks */
/* The main task k of a STARTING program has started (its exec, or a Fuchsia image's start stop): its Zircon thread,
 * the process RUNNING, the spawn completed; false if the spawn fails instead (k is then killed). */
bool lt_program_started(struct hk_linux_process *lp, lt_task_t *k);

/* ------------------------------------------------------------------------------------------------ linux_stop.c */

/* Lock held.  Ask for a stop if the core wants one and none is on its way; else settle k (below). */
void lt_task_sync_locked(lt_task_t *k);
/* Bring a stopped task in line with what the core wants: hold it (and report the stop) or let it run.  Takes the
 * lock. */
void lt_task_settle(lt_task_t *k);

/* ------------------------------------------------------------------------------------------------ linux_regs.c */

/* The register ops of HK_THREAD_LINUX (hk_thread_ops_t.read_state / write_state): the request runs on the monitor
 * thread (lt_monitor_call), the tracer. */
zx_status_t lt_thread_read_state(hk_thread_t *t, uint32_t kind, void *buf);
zx_status_t lt_thread_write_state(hk_thread_t *t, uint32_t kind, const void *buf);
/* Monitor.  k stopped with SIGTRAP: true if that is the trap of its single-step (the task is then held). */
bool lt_task_step_trap(lt_task_t *k);
/* ------------------------------------------------------------------------------------------------ linux_exception.c */

/* Monitor, without the lock: k is in a signal-delivery-stop for sig.  A CPU fault of a Zircon thread is raised as
 * an exception; true when a handler has it (k is held, in_exception). */
bool lt_task_fault(lt_task_t *k, int sig);
/* Monitor, lock held: k's Zircon thread was just made (its first stop): ZX_EXCP_THREAD_STARTING to the debugger. */
void lt_task_thread_starting_locked(lt_task_t *k);
/* Monitor, without the lock: k is at its exit stop: ZX_EXCP_THREAD_EXITING to the debugger (k is not held). */
void lt_task_thread_exiting(lt_task_t *k);
/* The HK_THREAD_LINUX op exception_resolved (lock held). */
void lt_exception_resolved(hk_thread_t *t, int how);
/* Lock held, k stopped: true while k must stay held for its exception; once it is over, the stop is made ready to
 * end (a handled fault's signal dropped) and false. */
bool lt_task_exception_settle_locked(lt_task_t *k);

/* ------------------------------------------------------------------------------------------------ linux_monitor.c */

/* Run fn(arg) on the monitor thread and wait for it; false (fn not run) if this program has no monitor. */
bool lt_monitor_call(void (*fn)(void *arg), void *arg);

/* Wake the monitor to act on a request (from the monitor itself: make it look again before it sleeps). */
void lt_wake_monitor(void);
/* Hand s to the monitor (starting it if needed) and wait until it is done; an errno if the monitor cannot start. */
int lt_monitor_run_spawn(lt_spawn_t *s);
/* Monitor: complete the spawn s, waking its requester. */
void lt_spawn_finish(lt_spawn_t *s, zx_status_t status, int fail_stage, int fail_errno);
/* Reap the followed zombies that are ours now (a no-op when none is followed). */
void lt_orphans_reap(void);

/* ------------------------------------------------------------------------------------------------ linux_spawn.c */

/* Monitor: fork and trace one queued program. */
void lt_program_start(lt_spawn_t *s);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_LINUX_TASK_H_ */
