/* ZX_INFO_THREAD's state for a thread that is blocked in Linux rather than in the host kernel.
 *
 * Zircon reports a thread blocked in a syscall as ZX_THREAD_STATE_BLOCKED_<what it waits in> (thread_dispatcher.cc,
 * ThreadDispatcher::GetInfoForUserspace: the blocked reason the wait queue recorded).  The host kernel records its
 * own waits exactly (t->blocked: zx_object_wait_one, zx_port_wait, zx_channel_call, zx_nanosleep).  A thread that
 * blocks in Linux instead -- a spawned program in nanosleep, a Python thread in os.read -- is read from
 * /proc/<pid>/task/<tid>: the state letter of `stat` and, when it sleeps, the system call it sleeps in from
 * `syscall` (readable for threads of this process, and for spawned programs, which this process traces).  Each
 * call maps to the Zircon wait a Fuchsia program would be blocked in for the same work:
 *
 *   Linux system call                                   ZX_THREAD_STATE_          why
 *   nanosleep, clock_nanosleep; select/pselect6/poll/   BLOCKED_SLEEPING          a timed sleep is zx_nanosleep (waiting
 *     ppoll with no descriptor; pause, rt_sigsuspend,                            for nothing but time or a signal:
 *     rt_sigtimedwait                                                            zx_nanosleep(ZX_TIME_INFINITE))
 *   futex, futex_waitv                                  BLOCKED_FUTEX             zx_futex_wait
 *   read, write and their vector/positional forms,      BLOCKED_WAIT_ONE          fdio blocks on one descriptor by waiting
 *     recv*, send*, accept, accept4, connect,                                    on its object (fdio_wait_fd:
 *     wait4, waitid, flock, fcntl, openat                                        zx_object_wait_one); a process wait is
 *                                                                                a wait_one on TASK_TERMINATED
 *   select, pselect6, poll, ppoll (descriptors)         BLOCKED_WAIT_MANY         fdio's poll/select wait on all the
 *                                                                                objects at once: zx_object_wait_many
 *   epoll_wait, epoll_pwait, epoll_pwait2,              BLOCKED_PORT              an epoll set (or a completion queue) is
 *     io_getevents, io_pgetevents, io_uring_enter                                a port: readiness arrives as packets,
 *                                                                                read by zx_port_wait
 *   any other call, interruptible sleep ('S')           BLOCKED_WAIT_ONE          waiting for one event to happen
 *   any call, uninterruptible sleep ('D')               BLOCKED_CHANNEL           kernel I/O (disk, a filesystem) is a
 *                                                                                call to a server on Fuchsia:
 *                                                                                zx_channel_call
 *   vfork, clone, clone3 in 'D' (a vfork parent)        BLOCKED_WAIT_ONE          waiting for the child to exec or exit
 *   restart_syscall (a nanosleep, poll or timed futex   as the call it continues  the monitor saw the call at the stop
 *     wait continued after a stop)                                               (else: where it sleeps, wchan)
 *   no call (a fault, 'D' with syscall -1)              BLOCKED_PAGER             a page being brought in: the pager
 *
 * Running ('R'), stopped ('T', 't': a ptrace or job-control stop the core does not count as SUSPENDED), zombie or
 * dead give 0 (the core's own state stands).  Call numbers are the native ABI's: a thread in a compat-ABI call
 * (i386 on x86_64) is classified by its sleep letter alone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

/* The Zircon wait nearest to sleeping in system call nr; args are its first two arguments. */
static uint32_t state_of_syscall(long nr, const unsigned long args[2]) {
    switch (nr) {
#ifdef SYS_nanosleep
    case SYS_nanosleep:
#endif
    case SYS_clock_nanosleep:
#ifdef SYS_pause
    case SYS_pause:
#endif
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait: return ZX_THREAD_STATE_BLOCKED_SLEEPING;
    case SYS_futex:
#ifdef SYS_futex_waitv
    case SYS_futex_waitv:
#endif
        return ZX_THREAD_STATE_BLOCKED_FUTEX;
    /* No descriptor at all is a plain sleep (Python < 3.11's time.sleep is a select(0, ...)). */
#ifdef SYS_select
    case SYS_select:
#endif
    case SYS_pselect6: /* (nfds, ...) */
        return args[0] == 0 ? ZX_THREAD_STATE_BLOCKED_SLEEPING : ZX_THREAD_STATE_BLOCKED_WAIT_MANY;
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll: /* (fds, nfds, ...) */
        return args[1] == 0 ? ZX_THREAD_STATE_BLOCKED_SLEEPING : ZX_THREAD_STATE_BLOCKED_WAIT_MANY;
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_io_getevents:
#ifdef SYS_io_pgetevents
    case SYS_io_pgetevents:
#endif
#ifdef SYS_io_uring_enter
    case SYS_io_uring_enter:
#endif
        return ZX_THREAD_STATE_BLOCKED_PORT;
    default: return ZX_THREAD_STATE_BLOCKED_WAIT_ONE; /* read, write, recv, accept, wait4, ... (see the table) */
    }
}

uint32_t hk_thread_os_blocked_state(const hk_thread_t *t) {
    if (t->kind == HK_THREAD_UNBACKED) return 0;
    pid_t pid = t->process->ops->pid(t->process); /* a backed thread's process is of the same backend */
    if (pid <= 0 || t->tid <= 0) return 0;

    char path[96], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)t->tid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return 0;
    const char *close_paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    if (close_paren == NULL || close_paren[1] != ' ') return 0;
    char letter = close_paren[2];
    if (letter != 'S' && letter != 'D') return 0;

    long nr;
    unsigned long args[2];
    if (!hk_proc_syscall(pid, t->tid, &nr, args))
        return letter == 'D' ? ZX_THREAD_STATE_BLOCKED_CHANNEL : ZX_THREAD_STATE_BLOCKED_WAIT_ONE;
    if (nr == HK_PROC_SYSCALL_RUNNING) return 0; /* it woke meanwhile */
    if (nr < 0) return letter == 'D' ? ZX_THREAD_STATE_BLOCKED_PAGER : ZX_THREAD_STATE_BLOCKED_WAIT_ONE;
    if (letter == 'D') {
#ifdef SYS_vfork
        if (nr == SYS_vfork) return ZX_THREAD_STATE_BLOCKED_WAIT_ONE; /* waiting for the child to exec or exit */
#endif
        if (nr == SYS_clone || nr == SYS_clone3) return ZX_THREAD_STATE_BLOCKED_WAIT_ONE;
        return ZX_THREAD_STATE_BLOCKED_CHANNEL;
    }
    if (nr == SYS_restart_syscall) {
        /* A sleep that a stop interrupted (a suspension's ptrace-stop, a signal) continues through restart_syscall,
         * which hides the original call (only nanosleep, poll and timed futex waits restart so); its arguments are
         * still in the registers.  For a spawned program the monitor saw the call at the stop; otherwise where the
         * thread sleeps (wchan, a kernel function name) tells which, where the kernel shows it. */
        long orig = t->ops->interrupted_syscall != NULL ? t->ops->interrupted_syscall(t) : -1;
        if (orig >= 0 && orig != SYS_restart_syscall) return state_of_syscall(orig, args);
        snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid, (int)t->tid);
        if (!hk_read_proc(path, buf, sizeof(buf))) return ZX_THREAD_STATE_BLOCKED_WAIT_ONE;
        if (strstr(buf, "nanosleep") != NULL) return ZX_THREAD_STATE_BLOCKED_SLEEPING;
        if (strstr(buf, "futex") != NULL) return ZX_THREAD_STATE_BLOCKED_FUTEX;
        if (strstr(buf, "poll") != NULL) return ZX_THREAD_STATE_BLOCKED_WAIT_MANY;
        return ZX_THREAD_STATE_BLOCKED_WAIT_ONE;
    }
    return state_of_syscall(nr, args);
}
