#define _GNU_SOURCE /* tgkill */
/* Spawned programs: task bookkeeping.  The records of the programs (struct hk_linux_process) and of every Linux task
 * they are made of (lt_task_t), found by tid in a hash; which program a new task belongs to (its creator's event,
 * else /proc); the Zircon thread objects of the main program's threads (born, renamed by exec, dead); the end of a
 * program (hk_process_report_exited).  The monitor (linux_monitor.c) calls all of this as it sees events; the core
 * reaches it through the ops of HK_PROCESS_LINUX (kill, pid). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"

hk_link_t lt_programs = {&lt_programs, &lt_programs};
#define TASK_BUCKETS 256
static lt_task_t *g_task_hash[TASK_BUCKETS];
/* How many tasks in the hash have no owner yet (held until their creator's event or /proc names their program):
 * lt_review_unknown_tasks, run at every exit, walks the hash only when there is one, so that reaping N killed
 * programs costs O(N), not O(N^2). */
static size_t g_unowned;

/* Tids that exited before their creator's clone/fork event was seen (killed before their first stop, or adopted
 * early through /proc and already gone), so that the late event does not resurrect them. */
#define GRAVEYARD 256
static pid_t g_graveyard[GRAVEYARD];
static unsigned g_graveyard_next;

lt_task_t *lt_task_find(pid_t tid) {
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

lt_task_t *lt_task_new(pid_t tid) {
    lt_task_t *k = calloc(1, sizeof(*k));
    if (k == NULL) return NULL;
    k->tid = tid;
    k->tgid = tid;
    hk_list_init(&k->owner_link);
    task_hash_insert(k);
    g_unowned++;
    return k;
}

void lt_task_set_owner(lt_task_t *k, struct hk_linux_process *lp) {
    k->owner = lp;
    hk_list_add_tail(&lp->tasks, &k->owner_link);
    g_unowned--;
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

void lt_graveyard_add(pid_t tid) {
    g_graveyard[g_graveyard_next] = tid;
    g_graveyard_next = (g_graveyard_next + 1) % GRAVEYARD;
}

static void task_kill(lt_task_t *k) { syscall(SYS_tgkill, k->tgid, k->tid, SIGKILL); }

/* Give the Zircon thread object of a new thread of the main program.  Called without the lock. */
static void task_make_thread(lt_task_t *k) {
    struct hk_linux_process *lp = k->owner;
    char name[ZX_MAX_NAME_LEN];
    hk_proc_comm(k->tid, name);
    lt_thread_link_t *link = calloc(1, sizeof(*link));
    if (link == NULL) return; /* the task still runs and dies with the program; it just has no thread object */
    link->interrupted_nr = -1;
    hk_lock();
    hk_thread_t *t = NULL;
    if (lp->fuchsia_ops != NULL && lp->fuchsia_ops->thread_for != NULL) t = lp->fuchsia_ops->thread_for(lp->fuchsia, k);
    if (t == NULL) t = hk_thread_new(lp->p, HK_THREAD_LINUX, name);
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
    /* Starts it; when the process is suspended this asks linux_stop.c for a stop at once (want_stop), and the task,
     * still in its first ptrace-stop, is then held before running any instruction. */
    if (hk_thread_mark_started(t) != ZX_OK) {
        link->task = NULL;
        k->thread = NULL;
        k->tlink = NULL;
        hk_object_unref(&t->base);
    } else {
        lt_task_thread_starting_locked(k); /* held before its first instruction while a debugger looks */
    }
    hk_unlock();
}

/* Attach a task to its program once we know it. */
static void task_adopt(lt_task_t *k, struct hk_linux_process *lp) {
    pid_t tgid = hk_proc_status_field(k->tid, "Tgid:");
    k->tgid = tgid > 0 ? tgid : k->tid;
    lt_task_set_owner(k, lp);
    if (lp->fuchsia_ops != NULL && k->tid != lp->pid) {
        /* A thread a Fuchsia program cloned (zx_thread_start): under PTRACE_SYSEMU like its first thread, with its
         * entry registers set before it first runs. */
        k->resume = LT_RESUME_SYSEMU;
        k->fx_fresh = true;
    }
    if (lp->kill_sent || lp->main_gone) {
        /* Born into a dying program (or after its main program ended): it dies too. */
        task_kill(k);
    } else if (lp->phase == LP_RUNNING && k->tgid == lp->pid) {
        task_make_thread(k);
    }
}

/* k's thread has ended: its Zircon thread is dead, and the task record no longer stands for it. */
void lt_task_thread_gone(lt_task_t *k) {
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
void lt_task_free(lt_task_t *k) {
    lt_task_thread_gone(k);
    task_hash_remove(k);
    if (k->owner != NULL) hk_list_remove(&k->owner_link);
    else g_unowned--;
    free(k);
}

/* The program a new task belongs to, from /proc: a thread joins the program of its thread group, a process the
 * program of its parent.  NULL when neither is known (*ppid_out tells why). */
static struct hk_linux_process *find_owner(pid_t tid, pid_t *ppid_out) {
    pid_t tgid = hk_proc_status_field(tid, "Tgid:");
    lt_task_t *rel = (tgid > 0 && tgid != tid) ? lt_task_find(tgid) : NULL;
    pid_t ppid = hk_proc_status_field(tid, "PPid:");
    if (rel == NULL && ppid > 0) rel = lt_task_find(ppid);
    if (ppid_out != NULL) *ppid_out = ppid;
    return rel != NULL ? rel->owner : NULL;
}

/* A held task of unknown owner whose creator will never report it (killed while forking) is killed, so nothing is
 * left stopped forever.  A task created with CLONE_PARENT has our pid as its parent: its creator's event will come. */
void lt_review_unknown_tasks(void) {
    for (unsigned b = 0; b < TASK_BUCKETS && g_unowned != 0; b++) {
        for (lt_task_t *k = g_task_hash[b], *next; k; k = next) {
            next = k->hash_next;
            if (k->owner != NULL) continue;
            pid_t ppid;
            struct hk_linux_process *lp = find_owner(k->tid, &ppid);
            if (lp != NULL) {
                task_adopt(k, lp);
                lt_task_settle(k);
            } else if (ppid != getpid()) {
                task_kill(k);
            }
        }
    }
}

/* The creator k reported a new task (clone, fork or vfork event). */
void lt_task_created(lt_task_t *k, pid_t child) {
    lt_task_t *c = lt_task_find(child);
    if (c != NULL) {
        /* Its first stop came before this event. */
        c->announced = true;
        if (c->owner == NULL && k->owner != NULL) {
            task_adopt(c, k->owner);
            lt_task_settle(c);
        }
        return;
    }
    if (graveyard_take(child) || k->owner == NULL) return;
    c = lt_task_new(child);
    if (c == NULL) {
        syscall(SYS_tgkill, child, child, SIGKILL); /* cannot track it, so it must not outlive the program */
        return;
    }
    c->announced = true;
    task_adopt(c, k->owner); /* its first stop will follow */
}

/* An unknown task stopped: a new task whose creator's event we have not seen yet. */
void lt_task_first_stop(pid_t tid) {
    lt_task_t *k = lt_task_new(tid);
    if (k == NULL) {
        syscall(SYS_tgkill, tid, tid, SIGKILL);
        return;
    }
    k->stopped = true; /* its initial PTRACE_EVENT_STOP: nothing to re-inject */
    struct hk_linux_process *lp = find_owner(tid, NULL);
    if (lp != NULL) {
        task_adopt(k, lp);
        lt_task_settle(k);
    } /* else: held until its creator's event names it */
}

/* A program's exec completed (PTRACE_EVENT_EXEC, reported for the thread-group leader pid). */
lt_task_t *lt_task_exec(lt_task_t *k, pid_t former) {
    if (former > 0 && former != k->tid) {
        /* A non-leader thread exec'd: the old leader vanished without an exit report, and the exec'ing thread took
         * over its tid.  The exec'ing thread keeps its Zircon thread; the old leader's thread is dead. */
        lt_task_t *x = lt_task_find(former);
        struct hk_linux_process *lp = k->owner;
        pid_t pid = k->tid;
        lt_task_free(k);
        if (x == NULL) {
            x = lt_task_new(pid);
            if (x == NULL) return NULL;
            if (lp != NULL) task_adopt(x, lp);
        } else {
            /* Its creator's event may still name the old tid: that one must not come back. */
            if (!x->announced) lt_graveyard_add(former);
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
        if (lp->fuchsia != NULL) {
            /* A Fuchsia program exec'd the runner's trampoline: the runner builds the program in it now, before its
             * first instruction, and from here on the task runs under PTRACE_SYSEMU. */
            zx_status_t status = lp->fuchsia_ops->started(lp->fuchsia, k);
            if (status != ZX_OK) {
                lp->spawn_fail = status;
                lp->kill_sent = true;
                task_kill(k); /* the spawn completes with the failure once the child is reaped */
                return k;
            }
            k->resume = LT_RESUME_SYSEMU;
        }
        lt_program_started(lp, k);
    }
    return k;
}

/* ------------------------------------------------------------------------------------------------ programs */

/* The name Linux gave the task at the exec that started the program: fs/exec.c (begin_new_exec) sets the comm to
 * kbasename() of the path passed to execve, cut to TASK_COMM_LEN - 1 bytes.  Computed, which spares every spawn a
 * read of /proc/<pid>/comm (an open, and /proc inodes that the reap must invalidate again: proc_flush_pid).  A
 * Fuchsia image is exec'd from an fd (execveat AT_EMPTY_PATH), whose name Linux has taken from different places
 * over the years: that one is read. */
static void exec_name(const lt_spawn_t *s, pid_t tid, char name[ZX_MAX_NAME_LEN]) {
    enum { LINUX_TASK_COMM_LEN = 16 };
    if (s->exec_fd >= 0) {
        hk_proc_comm(tid, name);
        return;
    }
    const char *base = strrchr(s->path, '/');
    base = base != NULL ? base + 1 : s->path;
    size_t len = strnlen(base, LINUX_TASK_COMM_LEN - 1);
    memcpy(name, base, len);
    name[len] = '\0';
    name[strcspn(name, "\n")] = '\0'; /* as hk_proc_comm reads it: up to the line's end */
}

bool lt_program_started(struct hk_linux_process *lp, lt_task_t *k) {
    /* The spawn succeeded.  A kill of the job while we were starting left the process dead: then the program must
     * not run (the launcher's zx_process_start would have failed with BAD_STATE). */
    char name[ZX_MAX_NAME_LEN];
    exec_name(lp->spawn, k->tid, name);
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
        return false;
    }
    lt_spawn_finish(lp->spawn, ZX_OK, STAGE_NONE, 0);
    lp->spawn = NULL;
    return true;
}

void lt_program_kill(struct hk_linux_process *lp) {
    lp->kill_sent = true;
    HK_LIST_FOR_EACH(it, &lp->tasks) {
        lt_task_t *k = HK_CONTAINER_OF(it, lt_task_t, owner_link);
        if (!(lp->main_signalled && k->tgid == lp->pid)) task_kill(k); /* linux_kill already signalled its group */
    }
}

/* The program is over once its main program was reaped and every descendant is gone too. */
void lt_program_check_end(struct hk_linux_process *lp) {
    if (!lp->main_gone) return;
    if (!hk_list_empty(&lp->tasks)) {
        /* Descendants do not outlive the main program. */
        if (!lp->kill_sent) lt_program_kill(lp);
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
        lt_spawn_finish(s, lp->spawn_fail != ZX_OK ? lp->spawn_fail : ZX_ERR_INTERNAL,
                        lp->spawn_fail != ZX_OK ? STAGE_NONE : msg[0], msg[1]);
        hk_lock();
        hk_object_unref(&lp->p->base);
        hk_unlock();
    } else {
        /* Every task of the program is reaped, so every descendant's zombie has its final parent: the ones that are
         * ours are reaped before TASK_TERMINATED, so none is left when a waiter wakes. */
        lt_orphans_reap();
        if (lp->fuchsia != NULL && lp->fuchsia_ops->exited != NULL) lp->fuchsia_ops->exited(lp->fuchsia);
        hk_lock();
        hk_process_report_exited(lp->p, lp->exit_code); /* a kill's code, set earlier, wins */
        lp->p->program = NULL;
        hk_object_unref(&lp->p->base);
        hk_unlock();
    }
    if (lp->fuchsia != NULL) lp->fuchsia_ops->program_free(lp->fuchsia);
    free(lp);
}

/* After fork(2) in the host program (linux_monitor.c's atfork handler): the child forgets its parent's tasks. */
void lt_tasks_after_fork(void) {
    hk_list_init(&lt_programs);
    memset(g_task_hash, 0, sizeof(g_task_hash));
    g_unowned = 0;
}

/* ------------------------------------------------------------------------------------------------ requests */

/* The core's kill: SIGKILL everything that belongs to p (the monitor does it).  Once the spawn has failed, or the
 * program is over, p->program is NULL and nothing runs. */
static bool linux_kill(hk_process_t *p) {
    struct hk_linux_process *lp = p->program;
    if (lp == NULL) return false;
    if (!lp->kill_requested) {
        lp->kill_requested = true;
        /* The main program's thread group dies at once, from here: SIGKILL needs no tracer, and the monitor, woken
         * below, would first have to be scheduled (a cross-CPU wake-up) and then signal every task one by one.  It
         * still kills the descendants and anything born meanwhile (lt_program_kill).  The pid is the monitor's
         * unreaped child until main_reaping (both under the lock held here), so it names no other process. */
        if (!lp->main_reaping && kill(lp->pid, SIGKILL) == 0) lp->main_signalled = true;
        lt_wake_monitor();
    }
    return true;
}

static pid_t linux_pid(const hk_process_t *p) {
    /* lp->pid was written before p->program was published under the lock, and p->program is cleared (under the
     * lock) before lp is freed. */
    return p->program != NULL ? p->program->pid : 0;
}

static const hk_process_ops_t linux_process_ops = {
    .kill = linux_kill,
    .pid = linux_pid,
};

__attribute__((constructor)) static void register_linux_process_ops(void) {
    hk_process_register_ops(HK_PROCESS_LINUX, &linux_process_ops);
}
