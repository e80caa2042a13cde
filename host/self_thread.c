#define _GNU_SOURCE /* gettid */
/* Real threads of the calling program: adoption (zx_thread_self), zx_thread_start, zx_thread_exit, and parking.
 *
 * Parking: a suspend request sends the target OS thread a real-time signal whose handler sleeps on a futex until
 * the last token is closed.  The handler holds no lock while it sleeps, and a thread inside the kernel lock only
 * notes the request and parks when it leaves the kernel (hk_unlock), so the kernel never deadlocks on a parked
 * thread.  A thread blocked in a system call is interrupted, parks, and the call restarts afterwards (SA_RESTART;
 * zx_nanosleep keeps its absolute deadline).  What the host cannot protect is a lock the thread holds outside the
 * kernel — the Python GIL above all: parking a thread that holds the GIL stalls the interpreter until it resumes.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

typedef struct {
    _Atomic uint32_t park_word; /* 1 while a stop is wanted */
} self_backend_t;

typedef struct {
    hk_thread_t *thread;
    zx_vaddr_t entry;
    uintptr_t arg1, arg2;
} start_args_t;

static pthread_once_t g_setup_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_exit_key;
static int g_park_signal;



static self_backend_t *backend_of(hk_thread_t *t) {
    if (t->backend == NULL) t->backend = calloc(1, sizeof(self_backend_t));
    return t->backend;
}

static void park_handler(int sig) {
    (void)sig;
    int saved_errno = errno;
    if (hk_cpu.thread != NULL) {
        if (hk_cpu.in_kernel) hk_cpu.park_pending = 1; /* parks at hk_unlock */
        else hk_self_thread_park();
    }
    errno = saved_errno;
}

void hk_self_thread_park(void) {
    hk_cpu.park_pending = 0;
    hk_thread_t *t = hk_cpu.thread;
    if (t == NULL || t->backend == NULL) return;
    self_backend_t *b = t->backend;
    if (atomic_load(&b->park_word) == 0) return;
    hk_lock();
    hk_thread_report_stopped(t); /* THREAD_SUSPENDED only now that the thread really stopped */
    hk_unlock();
    while (atomic_load(&b->park_word) != 0) {
        syscall(SYS_futex, &b->park_word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
    }
    hk_lock();
    hk_thread_report_running(t);
    hk_unlock();
}

/* Runs when an adopted or started OS thread ends: the thread object dies with it. */
static void on_os_thread_exit(void *arg) {
    hk_thread_t *t = arg;
    hk_lock();
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
    g_park_signal = SIGRTMIN + 6;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = park_handler;
    sa.sa_flags = HK_TSAN ? 0 : SA_RESTART; /* see HK_TSAN in kernel.h */
    sigemptyset(&sa.sa_mask);
    sigaction(g_park_signal, &sa, NULL);
}

/* Bind the calling OS thread to t (whose reference the binding keeps until the thread ends). */
static void bind_os_thread(hk_thread_t *t) {
    hk_cpu.thread = t;
    pthread_setspecific(g_exit_key, t);
}

static void read_thread_name(char name[ZX_MAX_NAME_LEN]) {
    name[0] = '\0';
    FILE *f = fopen("/proc/thread-self/comm", "r");
    if (f == NULL) return;
    if (fgets(name, ZX_MAX_NAME_LEN, f) != NULL) name[strcspn(name, "\n")] = '\0';
    fclose(f);
}

zx_handle_t zx_thread_self(void) {
    if (hk_cpu.self_handle != ZX_HANDLE_INVALID) return hk_cpu.self_handle;
    pthread_once(&g_setup_once, setup);
    char name[ZX_MAX_NAME_LEN];
    read_thread_name(name);
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

void hk_self_thread_request_stop(hk_thread_t *t) {
    self_backend_t *b = backend_of(t);
    if (b == NULL) return;
    atomic_store(&b->park_word, 1);
    /* Before the OS thread exists (tid 0) the start trampoline parks it before it runs any entry code. */
    if (t->tid != 0) syscall(SYS_tgkill, getpid(), t->tid, g_park_signal);
}

void hk_self_thread_request_resume(hk_thread_t *t) {
    self_backend_t *b = backend_of(t);
    if (b == NULL) return;
    atomic_store(&b->park_word, 0);
    syscall(SYS_futex, &b->park_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
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

zx_status_t hk_self_thread_start(hk_thread_t *t, zx_vaddr_t entry, uintptr_t arg1, uintptr_t arg2) {
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
}
