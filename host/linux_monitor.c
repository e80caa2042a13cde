#define _GNU_SOURCE /* waitid flags, ptrace events, pidfds */
/* Spawned programs: the monitor thread, which starts every child and makes every ptrace call and wait of the spawn
 * backend (see linux_task.h for why ptrace, and for the other files of the backend).
 *
 * Waking.  The monitor sleeps in a blocking waitid(WNOWAIT) over its own children and tracees (__WNOTHREAD: it
 * never sees, let alone reaps, children of other threads such as Python's subprocess), so ptrace-stops and exits
 * wake it at once and an idle monitor costs no CPU.  Requests interrupt that wait with a real-time signal aimed at
 * the monitor thread, which is unblocked only around the wait; its handler siglongjmps back to the top of the loop,
 * so a request that lands just before the wait is never lost.  WNOWAIT makes the interrupted wait harmless: events
 * are consumed only by the non-blocking waitpid loop that follows.  When nothing is traced the monitor pauses.
 *
 * Return code (exit_code_of): the exit status; a fault signal is an unhandled exception on Zircon
 * (ZX_TASK_RETCODE_EXCEPTION_KILL); any other fatal signal came from outside, which on Zircon only a zx_task_kill
 * can do (ZX_TASK_RETCODE_SYSCALL_KILL).  A kill's code, set by the core first, wins.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"
#include "signals.h"

/* Monitor startup and the spawn queue. */
static pthread_mutex_t g_mon_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_spawn_done = PTHREAD_COND_INITIALIZER;
static bool g_monitor_started;
static pthread_t g_monitor;
static pid_t g_monitor_tgid;
static _Atomic pid_t g_monitor_tid; /* 0 until the monitor has started (and again after fork, in the child) */
static hk_link_t g_spawn_queue = {&g_spawn_queue, &g_spawn_queue};
static hk_link_t g_call_queue = {&g_call_queue, &g_call_queue}; /* lt_monitor_call requests */
static atomic_int g_wake_pending;

/* Monitor-private. */
static size_t g_orphan_count; /* processes followed until reaped (the orphans below) */
static bool g_resync; /* the monitor woke itself (a report into the core asked for a stop) */
static sigjmp_buf g_wake_jmp;
static __thread volatile sig_atomic_t t_wake_armed __attribute__((tls_model("initial-exec")));
static __thread bool t_is_monitor __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------------------------------------------ small helpers */

static void wake_monitor_now(void) {
    if (atomic_exchange(&g_wake_pending, 1) != 0) return;
    /* tgkill straight to the monitor's task once it has said which it is: pthread_kill would add three system
     * calls (it blocks every signal around the send, and asks for the pid), and the monitor never exits. */
    pid_t tid = atomic_load(&g_monitor_tid);
    if (tid != 0) syscall(SYS_tgkill, g_monitor_tgid, tid, HK_WAKE_SIGNAL);
    else pthread_kill(g_monitor, HK_WAKE_SIGNAL);
}

void lt_wake_monitor(void) {
    if (t_is_monitor) {
        g_resync = true;
        return;
    }
    if (!g_monitor_started) return; /* a child of os.fork(): its parent's programs are out of reach */
    /* Under the kernel lock, wake it once the lock is dropped: woken now, the monitor would run (on this CPU, if
     * it is free) only to block on the lock, and need a second wake-up when it is released. */
    if (hk_cpu.in_kernel > 0) hk_cpu.after_unlock = wake_monitor_now;
    else wake_monitor_now();
}

static void wake_handler(int sig) {
    (void)sig;
    /* Only the monitor arms the jump, and only around its blocking wait. */
    if (t_wake_armed) {
        t_wake_armed = 0;
        siglongjmp(g_wake_jmp, 1);
    }
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

/* ------------------------------------------------------------------------------------------------ events */

/* The system call a stopped task was in when it stopped (-1: none, or unknown).  /proc/<tid>/syscall reads it from
 * the task's saved registers (syscall_get_nr: orig_ax on x86-64, -1 outside a call); on x86-64 the monitor, as the
 * tracer, reads the same register with one PTRACE_GETREGS, a few times cheaper than making and reading the /proc
 * file at every stop of every thread of a suspend (issue 11, goal 3). */
static long stopped_syscall(pid_t tid) {
#if defined(__x86_64__)
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) return (long)regs.orig_rax >= 0 ? (long)regs.orig_rax : -1;
#endif
    long nr;
    return hk_proc_syscall(tid, tid, &nr, NULL) && nr >= 0 ? nr : -1;
}

/* k, stopped at its clone/fork/vfork event, made a task.  The main thread of a Linux program gets
 * PTRACE_O_TRACEEXIT now (linux_task.h: why only it, and only from now): it may call pthread_exit while the new
 * thread runs on.  Its options can change only in a ptrace-stop, and before this event it was the program's only
 * thread. */
static void trace_exits_of_main(lt_task_t *k) {
    struct hk_linux_process *lp = k->owner;
    if (k->exit_traced || lp == NULL || lp->fuchsia != NULL || k->tid != lp->pid) return;
    if (ptrace(PTRACE_SETOPTIONS, k->tid, 0, (void *)(long)(LT_TRACE_OPTIONS | PTRACE_O_TRACEEXIT)) == 0)
        k->exit_traced = true;
}

static void handle_wait_status(pid_t pid, int status) {
    lt_task_t *k = lt_task_find(pid);
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        if (k == NULL) {
            lt_graveyard_add(pid);
            return;
        }
        if (!k->announced) lt_graveyard_add(pid); /* its creator's event is still to come */
        /* A task that ended without an exit stop: a debugger hears of its thread's end now (its figures were
         * sampled at the exit event, drain_events), and the thread dies with the record. */
        lt_task_thread_exiting(k);
        struct hk_linux_process *lp = k->owner;
        if (lp != NULL && pid == lp->pid) {
            /* The main program's leader is reported last, with the status of the whole thread group. */
            lp->main_gone = true;
            lp->exit_code = lp->code_fixed ? lp->fixed_code : exit_code_of(status);
        }
        lt_task_free(k);
        if (lp != NULL) lt_program_check_end(lp);
        lt_review_unknown_tasks();
        return;
    }
    if (!WIFSTOPPED(status)) return;
    if (k == NULL) {
        lt_task_first_stop(pid);
        return;
    }
    int sig = WSTOPSIG(status);
    int event = (unsigned)status >> 16;
    unsigned long msg = 0;
    k->interrupting = false; /* any stop answers a pending PTRACE_INTERRUPT (a late extra trap is harmless) */
    k->stopped = true;
    k->group_stop = false;
    k->stop_sig = 0;
    struct hk_linux_process *owner = k->owner;
    if (event == 0 && sig == (SIGTRAP | 0x80) && owner != NULL && owner->fuchsia != NULL) {
        /* A syscall-stop of a Fuchsia program (only those have PTRACE_O_TRACESYSGOOD): the runner serves it. */
        owner->fuchsia_ops->syscall_stop(owner->fuchsia, k);
        lt_task_settle(k);
        return;
    }
    if (event == 0 && sig == SIGTRAP && k->stepping && lt_task_step_trap(k)) {
        lt_task_settle(k); /* the trap of a single-step: an HW_BREAKPOINT exception or held, never delivered */
        return;
    }
    k->stepping = false;
    switch (event) {
    case 0:                                                        /* signal-delivery-stop */
        k->stop_sig = sig;
        lt_task_fault(k, sig); /* a CPU fault: an exception, the task held until it is over (linux_exception.c) */
        break;
    case PTRACE_EVENT_STOP: k->group_stop = is_stop_signal(sig); break; /* SIGTRAP: interrupt or first stop */
    case PTRACE_EVENT_CLONE:
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
        if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0) lt_task_created(k, (pid_t)msg);
        trace_exits_of_main(k);
        break;
    case PTRACE_EVENT_EXIT:
        /* The thread is on its way out (exit, exit_group, a fatal signal, or another thread's exec): only the main
         * thread of a program that made threads, and every thread of a Fuchsia program, stop here.  Its Zircon
         * thread is DEAD from now on and leaves PROCESS_THREADS, as on Zircon.  This matters for a main thread that
         * ends alone (pthread_exit): Linux keeps it as a zombie, which no PTRACE_INTERRUPT can stop, until the whole
         * program ends.  The record itself stays until the task is reaped (a main thread's id may yet be taken
         * over by a thread that execs), and the task is let go at once: an exit is never held (a debugger hears of
         * it first: ZX_EXCP_THREAD_EXITING, linux_exception.c). */
        lt_task_thread_exiting(k);
        lt_task_thread_gone(k);
        ptrace(PTRACE_CONT, pid, 0, 0); /* ESRCH: it died meanwhile; its exit comes through waitpid */
        k->stopped = false;
        return;
    case PTRACE_EVENT_EXEC:
        if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) != 0) msg = (unsigned long)pid;
        k = lt_task_exec(k, (pid_t)msg);
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
    lt_task_settle(k);
}

/* A task has exited and is about to be reaped: its last CPU figures are readable from /proc only until then, and a
 * main program's pid is no longer signalled by requesters from now (linux_kill). */
static void task_exiting(pid_t tid) {
    lt_task_t *k = lt_task_find(tid);
    bool main = k != NULL && k->owner != NULL && k->owner->pid == tid;
    if (k == NULL || (k->thread == NULL && !main)) return;
    hk_lock();
    if (k->thread != NULL) hk_thread_freeze_runtime(k->thread);
    if (main) k->owner->main_reaping = true;
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
static size_t g_orphan_cap;

static void orphan_forget(size_t i) {
    if (g_orphans[i].fd >= 0) close(g_orphans[i].fd);
    g_orphans[i] = g_orphans[--g_orphan_count];
}

/* A traced task exited and is not reaped yet (pinned).  Follow it if it is a process other than a program's main
 * one (those are the monitor's own children: the tracer's reap is their final one). */
static void orphan_watch(pid_t pid) {
    lt_task_t *k = lt_task_find(pid);
    if (k != NULL && k->owner != NULL && k->owner->pid == pid) return;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
        /* EINVAL: a thread, not a process (threads leave no zombie).  ENOSYS: an old kernel. */
        if (errno != ENOSYS || hk_proc_status_field(pid, "PPid:") != getpid()) return;
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
void lt_orphans_reap(void) {
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
            pid_t ppid = hk_proc_status_field(o->pid, "PPid:");
            if (ppid == getpid()) continue;
            if (ppid > 0 && lt_task_find(ppid) != NULL) {
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

/* ------------------------------------------------------------------------------------------------ the loop */

/* ------------------------------------------------------------------------------------------------ monitor calls
 *
 * Work that only the tracer may do for another thread (ptrace requests on a stopped task: linux_regs.c): queued
 * under g_mon_mutex, run by the monitor at its next pass, before it looks at stops and resumes. */

typedef struct {
    hk_link_t link;
    void (*fn)(void *arg);
    void *arg;
    bool done;
} lt_call_t;

static void run_calls(void) {
    for (;;) {
        pthread_mutex_lock(&g_mon_mutex);
        if (hk_list_empty(&g_call_queue)) {
            pthread_mutex_unlock(&g_mon_mutex);
            return;
        }
        lt_call_t *c = HK_CONTAINER_OF(g_call_queue.next, lt_call_t, link);
        hk_list_remove(&c->link);
        pthread_mutex_unlock(&g_mon_mutex);
        c->fn(c->arg);
        pthread_mutex_lock(&g_mon_mutex);
        c->done = true;
        pthread_cond_broadcast(&g_spawn_done);
        pthread_mutex_unlock(&g_mon_mutex);
    }
}

bool lt_monitor_call(void (*fn)(void *arg), void *arg) {
    if (t_is_monitor) {
        fn(arg);
        return true;
    }
    lt_call_t c = {.fn = fn, .arg = arg, .done = false};
    pthread_mutex_lock(&g_mon_mutex);
    if (!g_monitor_started) {
        pthread_mutex_unlock(&g_mon_mutex);
        return false; /* nothing is traced by this program (a child of os.fork) */
    }
    hk_list_add_tail(&g_call_queue, &c.link);
    wake_monitor_now(); /* now, not after an unlock: we wait for it below */
    while (!c.done) pthread_cond_wait(&g_spawn_done, &g_mon_mutex);
    pthread_mutex_unlock(&g_mon_mutex);
    return true;
}

/* Act on everything requested since the last pass: queued spawns and calls, kills, stops and resumes. */
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
        lt_program_start(HK_CONTAINER_OF(it, lt_spawn_t, link));
    }
    run_calls();

    /* ptrace and kill never block, so they may run under the kernel lock. */
    hk_lock();
    HK_LIST_FOR_EACH(it, &lt_programs) {
        struct hk_linux_process *lp = HK_CONTAINER_OF(it, struct hk_linux_process, link);
        if (lp->kill_requested && !lp->kill_sent) lt_program_kill(lp);
        if (lp->fuchsia != NULL && lp->fuchsia_ops->poll != NULL) lp->fuchsia_ops->poll(lp->fuchsia);
        HK_LIST_FOR_EACH(jt, &lp->tasks) lt_task_sync_locked(HK_CONTAINER_OF(jt, lt_task_t, owner_link));
    }
    hk_unlock();
}

#define MONITOR_WAIT_FLAGS (WEXITED | WSTOPPED | WNOWAIT | __WALL | __WNOTHREAD)

/* Block until a child or tracee has an event for us (WNOWAIT: it is not consumed).  -1/ECHILD: nothing traced.
 *
 * ThreadSanitizer runs a signal handler at once only inside a call it treats as blocking (nanosleep, pause); one
 * that lands anywhere else waits until an intercepted call returns.  Its waitid is not such a call: a wake signal
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
    g_monitor_tgid = getpid();
    atomic_store(&g_monitor_tid, gettid());
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, HK_WAKE_SIGNAL);
    for (;;) {
        /* Every signal stays blocked in this thread except HK_WAKE_SIGNAL inside the window below. */
        /* No mask saved (that would cost a system call each pass): the handler runs with HK_WAKE_SIGNAL blocked
         * on top of the window's mask, so a jump lands here with every signal blocked again. */
        if (sigsetjmp(g_wake_jmp, 0) != 0) continue;
        atomic_store(&g_wake_pending, 0);
        do {
            g_resync = false;
            drain_events();
            if (g_orphan_count != 0) lt_orphans_reap();
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
    atomic_store(&g_monitor_tid, 0);
    for (size_t i = 0; i < g_orphan_count; i++)
        if (g_orphans[i].fd >= 0) close(g_orphans[i].fd);
    g_orphan_count = 0;
    hk_list_init(&g_spawn_queue);
    hk_list_init(&g_call_queue);
    lt_tasks_after_fork();
    atomic_store(&g_wake_pending, 0);
    pthread_mutex_unlock(&g_mon_mutex);
}

/* Every ptrace-stop of a tracee sends SIGCHLD to the tracer's thread group unless SIGCHLD is ignored or has
 * SA_NOCLDSTOP (do_notify_parent_cldstop, kernel/signal.c), and the waitid of the monitor is woken either way.  The
 * monitor blocks every signal, so each one lands on another thread of the program -- the one waiting for
 * THREAD_SUSPENDED, say, or one on an idle CPU -- and wakes it for nothing: at its default disposition SIGCHLD is
 * discarded on delivery.  So while SIGCHLD is at that default, ask for no stop notifications.  Only a thread that
 * takes SIGCHLD with it blocked (sigwaitinfo, signalfd) could tell, and a program doing that blocks it before
 * making threads: if the calling thread blocks it (blocked_here), the disposition is left alone.  A handler
 * installed later (Python's signal.signal) replaces the flags, and stops notify again. */
static void quiet_stop_notifications(bool blocked_here) {
    struct sigaction cur;
    if (blocked_here || sigaction(SIGCHLD, NULL, &cur) != 0) return;
    if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_NOCLDSTOP)) return;
    cur.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &cur, NULL);
}

/* g_mon_mutex held. */
static int monitor_start(void) {
    if (g_monitor_started) return 0;
    /* The monitor blocks every signal, so the program's own signals (Python's SIGINT) never land on it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    static bool once;
    if (!once) {
        once = true;
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = wake_handler;
        /* The monitor leaves the handler by siglongjmp; SA_RESTART only spares another thread that a stray
         * process-directed HK_WAKE_SIGNAL happens to hit an EINTR. */
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(HK_WAKE_SIGNAL, &sa, NULL);
        quiet_stop_notifications(sigismember(&old, SIGCHLD) == 1);
    }
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


/* ------------------------------------------------------------------------------------------------ the spawn queue */

int lt_monitor_run_spawn(lt_spawn_t *s) {
    /* The caller holds no lock; the monitor completes s under g_mon_mutex (lt_spawn_finish). */
    pthread_mutex_lock(&g_mon_mutex);
    int err = monitor_start();
    if (err != 0) {
        pthread_mutex_unlock(&g_mon_mutex);
        return err;
    }
    hk_list_add_tail(&g_spawn_queue, &s->link);
    wake_monitor_now(); /* now, not after an unlock: we wait for it below */
    while (!s->done) pthread_cond_wait(&g_spawn_done, &g_mon_mutex);
    pthread_mutex_unlock(&g_mon_mutex);
    return 0;
}

void lt_spawn_finish(lt_spawn_t *s, zx_status_t status, int fail_stage, int fail_errno) {
    pthread_mutex_lock(&g_mon_mutex);
    s->status = status;
    s->fail_stage = fail_stage;
    s->fail_errno = fail_errno;
    s->done = true;
    pthread_cond_broadcast(&g_spawn_done);
    pthread_mutex_unlock(&g_mon_mutex);
}
