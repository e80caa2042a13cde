#define _GNU_SOURCE /* gettid, REG_RIP */
/* Real threads of the calling program: adoption (zx_thread_self), zx_thread_start, zx_thread_exit, and parking; and
 * the calling process's own ops (kill, pid: the hk_process_ops_t of HK_PROCESS_SELF).
 *
 * Parking: a suspend request sends the target OS thread a real-time signal whose handler sleeps on a futex until
 * the last token is closed.  The handler holds no lock while it sleeps, and a thread inside the kernel lock only
 * notes the request and parks when it leaves the kernel (hk_unlock), so the kernel never deadlocks on a parked
 * thread.  A thread blocked in a system call is interrupted, parks, and the call restarts afterwards (SA_RESTART;
 * zx_nanosleep keeps its absolute deadline).
 *
 * Threads of a language runtime with a global lock (the Python GIL): Zircon's suspension is asynchronous --
 * zx_task_suspend returns at once and ZX_THREAD_SUSPENDED is asserted when the thread has really stopped
 * (zircon/kernel/object/thread_dispatcher.cc, ThreadDispatcher::Suspend / SuspendingLocked).  Parking such a thread
 * where it holds the GIL, or is taking or dropping it, would stall every other thread of the runtime, including
 * the one that would resume it.  So when the binding registers runtime hooks (hk_self_runtime_hooks_t), the
 * handler parks a runtime thread only at a *safe point*, judged with async-signal-safe reads alone:
 *
 *   - inside the host kernel: deferred to hk_unlock, as for every thread (the binding calls the kernel without the
 *     GIL), and the kernel's own blocking waits (futex bitset HK_WAIT_FUTEX_BITSET) park inside;
 *   - blocked in (or about to enter) a system call other than a futex -- read, poll, nanosleep... -- while the
 *     park helper holds the GIL (so this thread cannot: the runtime's API has no async-signal-safe way to ask a
 *     thread whether it holds the lock, and the helper's signals are the ones that find runtime threads there).
 *
 * No other futex wait is safe.  Taking a mutex (FUTEX_WAIT) is what a thread dropping the GIL does while it still
 * holds it; and a thread parked inside a condition-variable wait -- which is where a thread waiting for the GIL
 * sits -- keeps a reference on its glibc waiter group, so a later pthread_cond_signal on that condition variable
 * (the next GIL hand-over) waits for it to leave (__condvar_quiesce_and_switch_g1): a deadlock.
 *
 * Anywhere else the handler defers: THREAD_SUSPENDED is not asserted, and the thread parks at its next safe point:
 * its next kernel entry (hk_unlock), its next bytecode (the runtime's event hooks, which the park helper turns on
 * while it holds the GIL, and for the main thread also a pending call), or a blocking call the helper's repeated
 * signals find it in while it holds the GIL.  The helper repeats that, backing off, until every deferred stop has
 * completed or been withdrawn.  A thread of no runtime (a C worker) parks wherever it is, as before.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel.h"
#include "signals.h"

typedef struct self_backend self_backend_t;
struct self_backend {
    _Atomic uint32_t park_word; /* 1 while a stop is wanted */
    _Atomic uint32_t parked;    /* 1 while the thread sleeps in hk_self_thread_park */
    _Atomic uint32_t deferred;  /* 1: a park signal found it at an unsafe point; it parks at its next safe point */
    hk_thread_t *thread;
    /* The list of threads signalled to stop and not yet resumed (lock held); the park helper scans it. */
    self_backend_t *next_wanted;
    bool listed;
    /* Registers (zx_thread_read_state): while the thread is parked by the park signal's handler, the context the
     * signal interrupted (sigreturn restores it, so a write there is what the thread resumes with), and its
     * thread-pointer registers, which the context lacks (x86-64 fs/gs base, arm64 tpidr_el0).  NULL when it
     * parked anywhere else (at hk_unlock, at a runtime safe point): its registers are then the kernel's own. */
    ucontext_t *_Atomic uctx;
    uint64_t tls[2];
};

typedef struct {
    hk_thread_t *thread;
    zx_vaddr_t entry;
    uintptr_t arg1, arg2;
} start_args_t;

static pthread_once_t g_setup_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_exit_key;
static int g_park_signal;

static _Atomic(const hk_self_runtime_hooks_t *) g_hooks;
static self_backend_t *g_wanted;              /* lock held */
static _Atomic uint32_t g_helper_word;        /* bumped to wake the park helper */
static _Atomic uint32_t g_handled;            /* park signals handled, for the helper to wait on */
static _Atomic uint32_t g_main_call_pending;  /* a main-thread park call is queued and has not run yet */
static _Atomic uint32_t g_helper_holds_lock;  /* 1 while the park helper holds the runtime lock (the GIL) */
static bool g_helper_started;                 /* lock held */

static self_backend_t *backend_of(hk_thread_t *t) {
    if (t->backend == NULL) {
        self_backend_t *b = calloc(1, sizeof(self_backend_t));
        if (b != NULL) b->thread = t;
        t->backend = b;
    }
    return t->backend;
}

void hk_self_thread_set_runtime_hooks(const hk_self_runtime_hooks_t *hooks) { atomic_store(&g_hooks, hooks); }

/* ------------------------------------------------------------------------------------------------ safe points */

/* A system call a runtime thread may be parked in: any but a futex, except the kernel's own waits. */
static int call_may_park(long nr, long futex_op, unsigned long futex_val3) {
    /* restart_syscall continues an interrupted call, which may be a timed futex wait (a condition variable's,
     * like the GIL's, is timed): the arguments no longer tell, so it is never a safe point. */
    if (nr == SYS_restart_syscall) return 0;
    if (nr != SYS_futex) return 1;
    return (futex_op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET && (uint32_t)futex_val3 == HK_WAIT_FUTEX_BITSET;
}

/* Where the signal found the thread: 1 if blocked in (or about to enter) a system call it may be parked in.
 * Reads only the interrupted registers and the instruction bytes around the program counter. */
static int in_parkable_call(const void *ctx) {
    const ucontext_t *uc = ctx;
#if defined(__x86_64__)
    const greg_t *r = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)r[REG_RIP];
    /* At `syscall` (0f 05): about to enter it, or restarting it after the handler (SA_RESTART rewinds rip and puts
     * the call number back in rax); the arguments (rdi, rsi, rdx, r10, r8, r9) are intact.  ip[1] is read only
     * when ip[0] starts a 2-byte instruction, so it is mapped. */
    if (ip[0] == 0x0f && ip[1] == 0x05) return call_may_park((long)r[REG_RAX], (long)r[REG_RSI], (unsigned long)r[REG_R9]);
    /* Just after `syscall` with -EINTR: a call that is not restarted -- a sleep, poll, or a timed futex wait.  The
     * call number is gone; a timed futex wait is told by its arguments (an address, then FUTEX_WAIT, _BITSET or
     * _REQUEUE_PI), and anything that looks like one is taken for one (clock_nanosleep passes a clock id first). */
    if (r[REG_RAX] == -EINTR && ip[-2] == 0x0f && ip[-1] == 0x05) {
        long cmd = (long)r[REG_RSI] & ~(long)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        bool futex_like = (unsigned long)r[REG_RDI] >= 4096 &&
                          (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_WAIT_REQUEUE_PI);
        return futex_like ? call_may_park(SYS_futex, (long)r[REG_RSI], (unsigned long)r[REG_R9]) : 1;
    }
    return 0;
#elif defined(__aarch64__)
    const uint32_t *pc = (const uint32_t *)uc->uc_mcontext.pc;
    const unsigned long long *x = uc->uc_mcontext.regs;
    const uint32_t svc0 = 0xd4000001;
    /* x8 keeps the call number either way; restarts rewind pc to the svc. */
    if (pc[0] == svc0) return call_may_park((long)x[8], (long)x[1], (unsigned long)x[5]);
    if ((long)x[0] == -EINTR && pc[-1] == svc0) return call_may_park((long)x[8], (long)x[1], (unsigned long)x[5]);
    return 0;
#else
    (void)uc;
    return 0; /* unknown machine: runtime threads park only at the kernel and bytecode safe points */
#endif
}

/* Handler side: may the calling thread (not inside the kernel) be parked where the signal found it? */
static int may_park_here(const void *ctx) {
    const hk_self_runtime_hooks_t *h = atomic_load(&g_hooks);
    if (h == NULL || !h->is_runtime_thread()) return 1; /* no runtime lock to hold: anywhere is safe */
    /* The helper sets the flag after taking the lock and clears it before giving it back, so while the flag reads
     * 1 this thread -- running this handler -- holds no runtime lock, and a system call is outside its machinery. */
    return atomic_load(&g_helper_holds_lock) && in_parkable_call(ctx);
}

static void wake_helper(void) {
    atomic_fetch_add(&g_helper_word, 1);
    hk_futex_wake_all(&g_helper_word);
}

/* Tell the park helper this thread has decided (parks, or deferred): it may give the GIL back. */
static void note_handled(void) {
    atomic_fetch_add(&g_handled, 1);
    hk_futex_wake_all(&g_handled);
}

/* The thread-pointer registers of the calling thread, which a signal context does not carry. */
static void save_tls(self_backend_t *b) {
#if defined(__x86_64__)
    unsigned long fs = 0, gs = 0;
    syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &fs);
    syscall(SYS_arch_prctl, 0x1004 /* ARCH_GET_GS */, &gs);
    b->tls[0] = fs;
    b->tls[1] = gs;
#elif defined(__aarch64__)
    uint64_t tpidr;
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tpidr));
    b->tls[0] = tpidr;
    b->tls[1] = 0;
#else
    b->tls[0] = b->tls[1] = 0;
#endif
}

static void park_handler(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)info;
    int saved_errno = errno;
    hk_thread_t *t = hk_cpu.thread;
    self_backend_t *b = t != NULL ? t->backend : NULL;
    if (b != NULL && atomic_load(&b->parked) == 0) {
        if (hk_cpu.in_kernel) {
            hk_cpu.park_pending = 1; /* parks at hk_unlock */
        } else if (may_park_here(ctx)) {
            note_handled();
            save_tls(b);
            atomic_store(&b->uctx, (ucontext_t *)ctx);
            hk_self_thread_park();
            atomic_store(&b->uctx, NULL);
            errno = saved_errno;
            return;
        } else if (atomic_load(&b->park_word) != 0) {
            hk_cpu.park_pending = 1; /* the next kernel entry parks it */
            if (atomic_exchange(&b->deferred, 1) == 0) wake_helper(); /* a new deferral: the helper starts now */
        }
    }
    note_handled();
    errno = saved_errno;
}

void hk_self_thread_park(void) {
    hk_cpu.park_pending = 0;
    hk_thread_t *t = hk_cpu.thread;
    if (t == NULL || t->backend == NULL) return;
    self_backend_t *b = t->backend;
    if (atomic_load(&b->park_word) == 0 || atomic_load(&b->parked) != 0) return; /* resumed, or nested */
    hk_lock();
    atomic_store(&b->parked, 1); /* park signals that land from now on are ignored: the loop below decides */
    atomic_store(&b->deferred, 0);
    hk_thread_report_stopped(t); /* THREAD_SUSPENDED only now that the thread really stopped */
    for (;;) {
        hk_unlock();
        while (atomic_load(&b->park_word) != 0) {
            syscall(SYS_futex, &b->park_word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
        }
        hk_lock();
        /* A stop requested again while we woke (request_stop sets park_word under the lock) keeps us here. */
        if (atomic_load(&b->park_word) == 0) break;
    }
    hk_thread_report_running(t);
    atomic_store(&b->parked, 0);
    hk_unlock();
}

int hk_self_thread_park_wanted(void) {
    hk_thread_t *t = hk_cpu.thread;
    self_backend_t *b = t != NULL ? t->backend : NULL;
    return b != NULL && atomic_load(&b->park_word) != 0 && atomic_load(&b->parked) == 0;
}

void hk_self_thread_main_park_ran(void) { atomic_store(&g_main_call_pending, 0); }

/* ------------------------------------------------------------------------------------------------ park helper */

static void unlist_locked(self_backend_t *b) {
    if (!b->listed) return;
    for (self_backend_t **p = &g_wanted; *p != NULL; p = &(*p)->next_wanted) {
        if (*p == b) {
            *p = b->next_wanted;
            break;
        }
    }
    b->next_wanted = NULL;
    b->listed = false;
}

#define HELPER_MAX_BATCH 64

typedef struct {
    pid_t tids[HELPER_MAX_BATCH];
    int n;
    bool main_too;
} targets_t;

/* Lock held.  The threads whose stop was deferred and is still wanted. */
static void deferred_targets_locked(targets_t *t) {
    t->n = 0;
    t->main_too = false;
    for (self_backend_t *b = g_wanted; b != NULL && t->n < HELPER_MAX_BATCH; b = b->next_wanted) {
        if (!atomic_load(&b->deferred) || !atomic_load(&b->park_word) || atomic_load(&b->parked)) continue;
        t->tids[t->n++] = b->thread->tid;
        if (b->thread->tid == getpid()) t->main_too = true;
    }
}

/* Signal the targets again and wait (briefly) until each handler has decided. */
static void resignal(const targets_t *t) {
    uint32_t handled = atomic_load(&g_handled);
    for (int i = 0; i < t->n; i++) syscall(SYS_tgkill, getpid(), t->tids[i], g_park_signal);
    struct timespec limit = {0, 1000000};
    uint32_t now;
    while ((now = atomic_load(&g_handled)) - handled < (uint32_t)t->n) {
        if (syscall(SYS_futex, &g_handled, FUTEX_WAIT_PRIVATE, now, &limit, NULL, 0) == -1 && errno == ETIMEDOUT) break;
    }
}

/* Completes deferred stops of runtime threads: see the top of this file. */
static void *park_helper(void *arg) {
    (void)arg;
    long backoff_ns = 0;
    bool bytecode_park_on = false;
    targets_t t;
    for (;;) {
        uint32_t word = atomic_load(&g_helper_word);
        hk_lock();
        deferred_targets_locked(&t);
        hk_unlock();
        const hk_self_runtime_hooks_t *h = atomic_load(&g_hooks);
        if (t.n == 0 || h == NULL) {
            if (bytecode_park_on && h != NULL) { /* nothing left to stop: no more events */
                int token = h->acquire_runtime_lock();
                if (token >= 0) {
                    h->arm_bytecode_park(0);
                    h->release_runtime_lock(token);
                }
                bytecode_park_on = false;
            }
            backoff_ns = 0;
            syscall(SYS_futex, &g_helper_word, FUTEX_WAIT_PRIVATE, word, NULL, NULL, 0);
            continue;
        }
        if (t.main_too && h->schedule_main_park != NULL && atomic_exchange(&g_main_call_pending, 1) == 0) {
            /* The main thread runs it at a bytecode boundary, holding the GIL, and parks without it. */
            if (h->schedule_main_park() != 0) atomic_store(&g_main_call_pending, 0);
        }
        /* Take the GIL -- from a thread busy in Python that takes one switch interval (sys.getswitchinterval()) --
         * and signal the targets again while holding it: a target in a blocking call now parks there.  A target
         * running Python parks at its next bytecode once the GIL is given back. */
        int token = h->acquire_runtime_lock();
        if (token >= 0) {
            if (!bytecode_park_on && h->arm_bytecode_park != NULL) {
                h->arm_bytecode_park(1);
                bytecode_park_on = true;
            }
            atomic_store(&g_helper_holds_lock, 1);
            resignal(&t);
            atomic_store(&g_helper_holds_lock, 0);
            h->release_runtime_lock(token);
        }
        /* Back off, but start over at once for a new deferral (the handler bumps g_helper_word). */
        backoff_ns = backoff_ns == 0 ? 20000 : (backoff_ns < 20000000 ? backoff_ns * 2 : backoff_ns);
        struct timespec pause = {0, backoff_ns};
        if (syscall(SYS_futex, &g_helper_word, FUTEX_WAIT_PRIVATE, word, &pause, NULL, 0) == 0 ||
            atomic_load(&g_helper_word) != word)
            backoff_ns = 0;
    }
    return NULL;
}

static void start_helper(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The helper must never take the park signal itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t pt;
    (void)pthread_create(&pt, &attr, park_helper, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

/* Runs when an adopted or started OS thread ends: the thread object dies with it. */
static void on_os_thread_exit(void *arg) {
    hk_thread_t *t = arg;
    hk_lock();
    if (t->backend != NULL) unlist_locked(t->backend); /* the helper never signals a tid that may be reused */
    hk_thread_freeze_runtime(t); /* the last moment its CPU clock can be read */
    hk_thread_report_exited(t);
    /* The runtime owned the handle zx_thread_self() handed out; it goes with the thread. */
    if (hk_cpu.self_handle != ZX_HANDLE_INVALID) hk_handle_close_locked(hk_cpu.self_handle);
    hk_cpu.self_handle = ZX_HANDLE_INVALID;
    hk_cpu.thread = NULL;
    hk_object_unref(&t->base);
    hk_unlock();
}

static bool g_exit_key_ready;

static void setup(void) {
    g_exit_key_ready = pthread_key_create(&g_exit_key, on_os_thread_exit) == 0;
    g_park_signal = HK_PARK_SIGNAL;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = park_handler;
    sa.sa_flags = SA_SIGINFO | (HK_TSAN ? 0 : SA_RESTART); /* see HK_TSAN in kernel.h */
    sigemptyset(&sa.sa_mask);
    sigaction(g_park_signal, &sa, NULL);
}

/* Bind the calling OS thread to t (whose reference the binding keeps until the thread ends). */
static void bind_os_thread(hk_thread_t *t) {
    hk_cpu.thread = t;
    pthread_setspecific(g_exit_key, t);
}

zx_handle_t zx_thread_self(void) {
    if (hk_cpu.self_handle != ZX_HANDLE_INVALID) return hk_cpu.self_handle;
    pthread_once(&g_setup_once, setup);
    char name[ZX_MAX_NAME_LEN];
    hk_proc_comm(HK_PROC_THREAD_SELF, name);
    hk_lock();
    if (hk_cpu.thread == NULL) {
        hk_thread_t *t = hk_thread_new(hk_self_process(), HK_THREAD_SELF, name);
        if (t != NULL && backend_of(t) != NULL) {
            t->tid = gettid();
            hk_thread_mark_started(t); /* the calling process never dies under a running thread */
            bind_os_thread(t);
        } else if (t != NULL) {
            hk_object_unref(&t->base);
        }
    }
    if (hk_cpu.thread != NULL && hk_handle_alloc(&hk_cpu.thread->base, ZX_DEFAULT_THREAD_RIGHTS,
                                                 &hk_cpu.self_handle) != ZX_OK)
        hk_cpu.self_handle = ZX_HANDLE_INVALID;
    zx_handle_t h = hk_cpu.self_handle;
    hk_unlock();
    return h;
}

static void self_request_stop(hk_thread_t *t) {
    self_backend_t *b = backend_of(t);
    if (b == NULL) return;
    atomic_store(&b->park_word, 1);
    /* Before the OS thread exists (tid 0) the start trampoline parks it before it runs any entry code. */
    if (t->tid == 0) return;
    if (!b->listed && atomic_load(&g_hooks) != NULL) {
        b->listed = true;
        b->next_wanted = g_wanted;
        g_wanted = b;
        if (!g_helper_started) {
            g_helper_started = true;
            start_helper();
        }
    }
    syscall(SYS_tgkill, getpid(), t->tid, g_park_signal);
}

static void self_request_resume(hk_thread_t *t) {
    self_backend_t *b = backend_of(t);
    if (b == NULL) return;
    unlist_locked(b);
    atomic_store(&b->deferred, 0);
    atomic_store(&b->park_word, 0);
    hk_futex_wake_all(&b->park_word);
}

static void *start_trampoline(void *arg) {
    start_args_t args = *(start_args_t *)arg;
    free(arg);
    bind_os_thread(args.thread);
    hk_lock();
    args.thread->tid = gettid();
    hk_unlock();
    hk_self_thread_park(); /* started suspended: stop before running any entry code (StartSuspendedThread) */
    ((void (*)(uintptr_t, uintptr_t))args.entry)(args.arg1, args.arg2);
    zx_thread_exit();
}

static zx_status_t self_start(hk_thread_t *t, zx_vaddr_t entry, uintptr_t arg1, uintptr_t arg2) {
    pthread_once(&g_setup_once, setup);
    start_args_t *args = malloc(sizeof(*args));
    if (args == NULL || backend_of(t) == NULL) {
        free(args);
        return ZX_ERR_NO_MEMORY;
    }
    *args = (start_args_t){.thread = t, .entry = entry, .arg1 = arg1, .arg2 = arg2};
    hk_object_ref(&t->base); /* kept by the OS thread until it ends */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t pt;
    int err = pthread_create(&pt, &attr, start_trampoline, args);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        free(args);
        hk_object_unref(&t->base);
        return ZX_ERR_NO_RESOURCES;
    }
    /* The new thread waits for the kernel lock we hold, so it is RUNNING (or parked) before it runs. */
    return hk_thread_mark_started(t);
}

/* Linux's clockid of a thread's CPU clock (CPUCLOCK_SCHED, per thread), as glibc's pthread_getcpuclockid builds it,
 * from the tid: t's pthread_t may already be gone.  Valid only for threads of the calling process. */
static clockid_t thread_cpu_clock(pid_t tid) { return (clockid_t)((~(unsigned)tid << 3) | 4u | 2u); }

/* The thread's CPU clock, exact to the nanosecond (schedstat can lag a running thread by a scheduler tick). */
static bool self_cpu_time(const hk_thread_t *t, zx_duration_t *out) {
    struct timespec ts;
    if (clock_gettime(thread_cpu_clock(t->tid), &ts) != 0) return false;
    *out = (zx_duration_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return true;
}

/* ------------------------------------------------------------------------------------------------ registers */

/* zx_thread_read_state / write_state of a thread of this program: its general registers, in the context its park
 * signal interrupted, while it is parked in the signal's handler.  Anything else -- another kind, a thread parked
 * elsewhere -- is NOT_SUPPORTED: its registers there are the kernel's own, not the thread's.  Single-step would
 * trap into this very program, and is NOT_SUPPORTED too. */
static zx_status_t self_state(hk_thread_t *t, uint32_t kind, void *out, const void *in) {
    zx_status_t status = ZX_ERR_NOT_SUPPORTED;
    hk_lock();
    self_backend_t *b = t->backend;
    ucontext_t *uc = b != NULL ? atomic_load(&b->uctx) : NULL;
    if (!hk_thread_regs_available(t)) {
        status = ZX_ERR_BAD_STATE; /* resumed meanwhile */
    } else if (uc != NULL && kind == ZX_THREAD_STATE_GENERAL_REGS) {
#if defined(__x86_64__)
        greg_t *g = uc->uc_mcontext.gregs;
        static const int k_order[] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
                                      REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
                                      REG_RIP, REG_EFL};
        uint64_t *regs = out != NULL ? out : (uint64_t *)(uintptr_t)in; /* the record is 20 uint64_t */
        if (out != NULL) {
            for (size_t i = 0; i < 18; i++) regs[i] = (uint64_t)g[k_order[i]];
            regs[18] = b->tls[0];
            regs[19] = b->tls[1];
            status = ZX_OK;
        } else if (regs[18] != b->tls[0] || regs[19] != b->tls[1]) {
            status = ZX_ERR_NOT_SUPPORTED; /* the thread pointer of a thread of this program stays */
        } else if (regs[16] >= ((uint64_t)1 << 47)) {
            status = ZX_ERR_INVALID_ARGS; /* not a user address (arch_set_general_regs) */
        } else {
            for (size_t i = 0; i < 17; i++) g[k_order[i]] = (greg_t)regs[i];
            /* Only the flags user code may change (sigreturn keeps the others, as Zircon does). */
            const uint64_t user_flags = 0x0cd5; /* CF PF AF ZF SF DF OF */
            g[REG_EFL] = (greg_t)(((uint64_t)g[REG_EFL] & ~user_flags) | (regs[17] & user_flags));
            status = ZX_OK;
        }
#elif defined(__aarch64__)
        zx_thread_state_general_regs_t *r = out != NULL ? out : (zx_thread_state_general_regs_t *)(uintptr_t)in;
        if (out != NULL) {
            memcpy(r->r, uc->uc_mcontext.regs, sizeof r->r);
            r->lr = uc->uc_mcontext.regs[30];
            r->sp = uc->uc_mcontext.sp;
            r->pc = uc->uc_mcontext.pc;
            r->cpsr = uc->uc_mcontext.pstate & 0xf0000000u;
            r->tpidr = b->tls[0];
            status = ZX_OK;
        } else if (r->tpidr != b->tls[0]) {
            status = ZX_ERR_NOT_SUPPORTED;
        } else {
            memcpy(uc->uc_mcontext.regs, r->r, sizeof r->r);
            uc->uc_mcontext.regs[30] = r->lr;
            uc->uc_mcontext.sp = r->sp;
            uc->uc_mcontext.pc = r->pc;
            uc->uc_mcontext.pstate = (uc->uc_mcontext.pstate & ~0xf0000000ull) | (r->cpsr & 0xf0000000u);
            status = ZX_OK;
        }
#endif
    }
    hk_unlock();
    return status;
}

static zx_status_t self_read_state(hk_thread_t *t, uint32_t kind, void *buf) { return self_state(t, kind, buf, NULL); }

static zx_status_t self_write_state(hk_thread_t *t, uint32_t kind, const void *buf) {
    return self_state(t, kind, NULL, buf);
}

static const hk_thread_ops_t self_ops = {
    .request_stop = self_request_stop,
    .request_resume = self_request_resume,
    .park_self = hk_self_thread_park,
    .start = self_start,
    .cpu_time = self_cpu_time,
    .read_state = self_read_state,
    .write_state = self_write_state,
};

/* The calling process itself: killing it does not return (task_kill.md: the program dies as if killed). */
static bool self_process_kill(hk_process_t *p) {
    (void)p;
    kill(getpid(), SIGKILL);
    for (;;) pause();
    return true; /* not reached */
}

static pid_t self_process_pid(const hk_process_t *p) {
    (void)p;
    return getpid();
}

static const hk_process_ops_t self_process_ops = {
    .kill = self_process_kill,
    .pid = self_process_pid,
};

__attribute__((constructor)) static void register_self_ops(void) {
    hk_thread_register_ops(HK_THREAD_SELF, &self_ops);
    hk_process_register_ops(HK_PROCESS_SELF, &self_process_ops);
}

void zx_thread_exit(void) {
    hk_thread_t *t = hk_cpu.thread;
    if (t != NULL) {
        pthread_setspecific(g_exit_key, NULL);
        on_os_thread_exit(t);
    }
    pthread_exit(NULL);
}

/* fork.c: the forking thread is the only thread of the child, and no thread object of the child's fresh kernel yet
 * (zx_thread_self makes one); its parent's thread object must not die with it. */
void hk_self_thread_after_fork(void) {
    if (g_exit_key_ready) pthread_setspecific(g_exit_key, NULL);
    hk_cpu.thread = NULL;
    hk_cpu.self_handle = ZX_HANDLE_INVALID;
    hk_cpu.park_pending = 0;
    hk_cpu.in_kernel = 0;
    /* The park helper is not copied into the child: the child starts its own at its first deferred stop, with none
     * of the parent's stops wanted and the parent helper's hold of the runtime lock gone with it. */
    g_wanted = NULL;
    g_helper_started = false;
    atomic_store(&g_helper_holds_lock, 0);
    atomic_store(&g_main_call_pending, 0);
}
