#define _GNU_SOURCE /* ptrace requests */
/* Spawned programs: ptrace stop and resume of their tasks.  The core asks for a thread to stop or run (through
 * linux_ops, the hk_thread_ops_t of HK_THREAD_LINUX, under the kernel lock): the request is noted in the task record
 * and the monitor woken, since only the tracer thread may call ptrace.  The monitor then interrupts the task
 * (PTRACE_INTERRUPT) and, once waitpid shows it in a ptrace-stop, reports THREAD_SUSPENDED (lt_task_settle); a
 * resume ends the stop the way that matches what caused it (PTRACE_LISTEN for a job-control stop, PTRACE_CONT
 * re-injecting a signal otherwise). */
#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include "kernel.h"
#include "linux_task.h"

/* Lock held.  End the ptrace-stop of k the way that matches what stopped it. */
static void task_resume_locked(lt_task_t *k) {
    if (k->group_stop) {
        /* A job-control stop of the program itself: stay stopped as far as the program knows, but let a SIGCONT
         * end it (PTRACE_CONT here would silently override the program's own SIGSTOP). */
        ptrace(PTRACE_LISTEN, k->tid, 0, 0);
    } else {
        if (k->fx_fresh) {
            k->fx_fresh = false;
            if (k->owner != NULL && k->owner->fuchsia_ops->thread_first_run != NULL)
                k->owner->fuchsia_ops->thread_first_run(k->owner->fuchsia, k);
        }
        /* Re-inject the signal of a signal-delivery-stop so the program's own signals are never lost.  A Fuchsia
         * program's task goes on under PTRACE_SYSEMU (or PTRACE_SYSCALL while a real call runs for it). */
        int req = k->resume == LT_RESUME_SYSEMU ? PTRACE_SYSEMU : k->resume == LT_RESUME_SYSCALL ? PTRACE_SYSCALL
                                                                                              : PTRACE_CONT;
        /* ZX_THREAD_STATE_SINGLE_STEP set: one instruction, then the trap (linux_regs.c).  A Fuchsia program's task
         * steps under PTRACE_SYSEMU_SINGLESTEP, so a `syscall` it steps onto is still served, never run by Linux. */
        if (k->single_step && k->thread != NULL && (req == PTRACE_CONT || req == PTRACE_SYSEMU)) {
#if defined(__x86_64__)
            req = req == PTRACE_SYSEMU ? PTRACE_SYSEMU_SINGLESTEP : PTRACE_SINGLESTEP;
#else
            req = PTRACE_SINGLESTEP;
#endif
            k->stepping = true;
        }
        ptrace((enum __ptrace_request)req, k->tid, 0, (void *)(long)k->stop_sig);
    }
    /* ESRCH means the task died meanwhile; its exit comes through waitpid. */
    k->stopped = false;
    k->group_stop = false;
    k->stop_sig = 0;
}

/* Lock held.  Bring a stopped task in line with what the core wants: hold it (and report the stop) or let it run. */
static void task_settle_locked(lt_task_t *k) {
    if (!k->stopped || k->owner == NULL) return; /* tasks of unknown owner stay held until we know them */
    /* In an exception: held, and not shown SUSPENDED before the exception is over (linux_exception.c). */
    if (lt_task_exception_settle_locked(k)) return;
    if (k->thread != NULL && k->want_stop) {
        if (!k->reported) {
            k->thread->trap_held = false; /* a suspension takes over the hold of a single-step trap */
            hk_thread_report_stopped(k->thread); /* it is really in a ptrace-stop now */
            k->reported = true;
        }
        return;
    }
    if (k->thread != NULL && k->thread->trap_held) return; /* held at its single-step trap (linux_regs.c) */
    if (k->resume == LT_RESUME_HOLD) { /* in a call completed elsewhere: blocked, not suspended */
        if (k->reported) {
            hk_thread_report_running(k->thread);
            k->reported = false;
        }
        return;
    }
    task_resume_locked(k);
    if (k->reported) {
        hk_thread_report_running(k->thread);
        k->reported = false;
    }
}

void lt_task_settle(lt_task_t *k) {
    hk_lock();
    task_settle_locked(k);
    hk_unlock();
}

/* Lock held.  Ask for a stop if the core wants one and none is on its way. */
void lt_task_sync_locked(lt_task_t *k) {
    if (k->thread != NULL && k->want_stop && !k->stopped && !k->interrupting) {
        if (ptrace(PTRACE_INTERRUPT, k->tid, 0, 0) == 0) k->interrupting = true;
    } else {
        task_settle_locked(k);
    }
}

/* ------------------------------------------------------------------------------------------------ requests */

static void linux_request_stop(hk_thread_t *t) {
    lt_thread_link_t *link = t->backend;
    if (link == NULL || link->task == NULL) return;
    link->task->want_stop = true;
    lt_wake_monitor();
}

static void linux_request_resume(hk_thread_t *t) {
    lt_thread_link_t *link = t->backend;
    if (link == NULL || link->task == NULL) return;
    link->task->want_stop = false;
    lt_wake_monitor();
}

/* The system call the task's last stop interrupted, as the monitor read it at that stop (-1: none, or unknown). */
static long linux_interrupted_syscall(const hk_thread_t *t) {
    const lt_thread_link_t *link = t->backend;
    return link != NULL ? link->interrupted_nr : -1;
}

/* A spawned program's threads never run host-kernel code (no park_self), and are started by the program itself (no
 * start). */
static const hk_thread_ops_t linux_ops = {
    .request_stop = linux_request_stop,
    .request_resume = linux_request_resume,
    .park_self = NULL,
    .start = NULL,
    .interrupted_syscall = linux_interrupted_syscall,
    .read_state = lt_thread_read_state,
    .write_state = lt_thread_write_state,
    .exception_resolved = lt_exception_resolved,
};

__attribute__((constructor)) static void register_linux_ops(void) {
    hk_thread_register_ops(HK_THREAD_LINUX, &linux_ops);
}

