/* The host kernel's internal interface.
 *
 * The host kernel implements Zircon's task and handle model inside the calling Linux process, so that the
 * same `zx_*` / `fdio_spawn` symbols exist on a Linux host.  Layout, as in a kernel:
 *
 *   object.c         kernel lock, per-thread kernel state, koids, object references
 *   handle_table.c   handle tables (the host program's; one per Fuchsia program: hk_cpu.table picks the current one),
 *                    handle values, rights, close / duplicate / replace
 *   wait.c           signals, waiters, zx_object_wait_one, zx_object_signal, clocks, zx_nanosleep
 *   job.c            job objects and the job tree, zx_job_create, zx_job_default
 *   process.c        process objects, zx_process_create, zx_process_self
 *   thread.c         thread objects, suspension bookkeeping, zx_thread_create / start / self / exit
 *   self_thread.c    real threads of the calling program: adoption, parking with a real-time signal; the calling
 *                    process's ops (kill, pid)
 *   suspend_token.c  suspend tokens, zx_task_suspend
 *   task.c           zx_task_kill
 *   property.c       zx_object_get_property / zx_object_set_property (ZX_PROP_NAME, the debugger's process properties)
 *   debugger.c       zx_thread_read_state / zx_thread_write_state (through the thread's backend),
 *                    zx_process_read_memory / zx_process_write_memory (/proc/<pid>/mem)
 *   object_info.c    zx_object_get_info (every version of each topic: info_topics.h), zx_object_get_child
 *   task_stats.c     CPU time and memory figures of tasks, read from Linux (runtime, thread and task stats)
 *   thread_state.c   ZX_INFO_THREAD's blocked state of a thread blocked in Linux rather than in the host kernel
 *   fork.c           fork(2) in the calling program: the child starts with a fresh, empty host kernel
 *   procfs.c         reading Linux's /proc for tasks, the one place: names, system calls, status fields
 *   event.c, vmar.c  the two small object kinds the task calls need
 *   ipc/channel.c    channels: messages, handle transfer, zx_channel_call
 *   ipc/exception.c  exceptions: exception channels of threads, processes and jobs, the exception object, its
 *                    handler chain and properties (through hk_exception_ops_t and the channel calls below)
 *   ipc/socket.c     sockets: zx_socket_create / write / read / shutdown, ZX_INFO_SOCKET
 *   ipc/port.c       ports: zx_port_create / queue / wait / cancel, zx_object_wait_async (signal packets, through
 *                    the core's asynchronous observers: hk_wait_async_*)
 *   ipc/timer.c      timers: zx_timer_create / set / cancel (ZX_TIMER_SIGNALED from a timer thread of its own)
 *                    (port.c, channel.c and exception.c are in the Python module and the conformance suite; the
 *                    helper programs that carry a host kernel of their own link the top-level host files only;
 *                    like every object kind they reach the core only through hk_object_ops_t and the calls
 *                    below, and nothing in the core names them)
 *   linux_*.c        spawned programs: real Linux processes driven by a ptrace monitor thread (linux_task.h):
 *     linux_spawn.c    the spawn: fd plan, fork, the child's set-up and seccomp filter, exec
 *     linux_monitor.c  the monitor thread: wake signal, waitpid loop, exit codes, reaping
 *     linux_task.c     task bookkeeping: traced tasks, their programs and Zircon threads; kill
 *     linux_stop.c     ptrace stop and resume of tasks
 *     linux_regs.c     registers of stopped tasks (ptrace, on the monitor thread), single-step
 *     linux_exception.c  fault signals as exceptions (through ipc/exception.c), the task held meanwhile
 *   fdio_spawn.c     fdio_spawn / fdio_spawn_etc
 *   signals.h        every signal number the host kernel uses (the park and wake signals)
 *   info_topics.h    the ZX_INFO_* records of every version the host kernel answers
 *   include/         zxpy's own zircon/ and lib/fdio/ headers (an SDK's replace them in an SDK build)
 *   fuchsia/         running Fuchsia ELF programs: vdso.c reads a Zircon vDSO (syscall numbers, constants) and
 *                    recognises Fuchsia executables, vdso_dump.c prints what it read as JSON, runner.c starts a
 *                    Fuchsia image as a spawned program under PTRACE_SYSEMU and serves its syscalls (reached by the
 *                    spawn backend through lt_fuchsia_ops only), inject.c runs Linux calls inside a stopped
 *                    program (how runner.c builds its address space), vm.c serves VMOs (memfds) and their mappings,
 *                    serve_object.c serves its object-model calls; both from the program's own handle table (with
 *                    ipc/channel.c); built into nothing but their tests
 *                    (tests/test_fuchsia_vdso.py, tests/test_fuchsia_first_light.py): neither the Python module nor
 *                    the conformance suite nor tests/sanitize compiles fuchsia/
 *
 * Concurrency: one kernel lock (hk_lock) guards every object.  Functions documented "lock held" must be called
 * with it held and never block.  Blocking happens only in the wait core, with the lock released.
 */
#ifndef ZXPY_HOST_KERNEL_H_
#define ZXPY_HOST_KERNEL_H_

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lib/fdio/spawn.h>
#include <zircon/process.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/debug.h>
#include <zircon/syscalls/exception.h>
#include <zircon/syscalls/object.h>
#include <zircon/types.h>

#include "info_topics.h"

/* ThreadSanitizer delivers signals only at calls it intercepts, never inside a raw syscall(SYS_futex): under it
 * the park signal must interrupt futex waits (no SA_RESTART) and the waiter must then make such a call. */
#if defined(__SANITIZE_THREAD__)
#define HK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HK_TSAN 1
#endif
#endif
#ifndef HK_TSAN
#define HK_TSAN 0
#endif

/* ------------------------------------------------------------------------------------------------ lock */

/* The kernel lock.  hk_lock marks the calling thread as "in the kernel" first, so a suspend request that lands
 * meanwhile is deferred until hk_unlock (a thread is never parked while it holds the lock), as Zircon suspends a
 * thread only on its way back to user mode. */
void hk_lock(void);
void hk_unlock(void);

/* pthread_create of a thread of the host kernel's own (a worker, a server, a pump) with every signal blocked in it:
 * the host program's signals (Python's SIGINT, the park signal) are not its business.  attr may be NULL. */
int hk_thread_spawn_quiet(pthread_t *out, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* Per-thread kernel state.  Initial-exec TLS so that the park signal handler can read it safely. */
typedef struct hk_thread hk_thread_t;
typedef struct hk_handle_table hk_handle_table_t;
typedef struct hk_cpu {
    volatile int in_kernel;     /* > 0 while inside hk_lock .. hk_unlock */
    volatile int park_pending;  /* a park request arrived while in the kernel: park at hk_unlock */
    hk_thread_t *thread;        /* this OS thread's thread object, once adopted or started; while it serves a
                                 * Fuchsia program's call (host/fuchsia/), the calling thread of that program */
    zx_handle_t self_handle;    /* the runtime-owned handle zx_thread_self() returns */
    /* The handle table every lookup uses: NULL, the host program's; while this OS thread serves a Fuchsia program's
     * call (host/fuchsia/serve_object.c), that program's.  Set and restored without the lock (it is this thread's). */
    hk_handle_table_t *table;
    /* This OS thread serves a Fuchsia program's blocking call: a suspension of the caller ends the wait with
     * ZX_ERR_INTERNAL_INTR_RETRY returned to it (the runner re-issues the call after the resume) rather than parking
     * this OS thread. */
    bool serving;
    /* Wake-ups decided under the lock, sent by hk_unlock once it is dropped (hk_wake_after_unlock): a thread woken
     * while the lock is still held runs only to block on it -- at once, when it shares this CPU -- and needs a
     * second wake-up. */
    void (*after_unlock)(void); /* the spawn backend's wake of its monitor thread (linux_monitor.c) */
    _Atomic uint32_t *wake_words[8]; /* futex words of waiters whose wait is over (wait.c) */
    int wake_count;
} hk_cpu_t;
extern __thread hk_cpu_t hk_cpu __attribute__((tls_model("initial-exec")));

/* object.c: FUTEX_WAKE every sleeper on *word now (a raw system call: safe in a signal handler). */
void hk_futex_wake_all(_Atomic uint32_t *word);

/* object.c: hk_futex_wake_all(word) once the kernel lock is dropped (at once if it is not held, or when
 * too many are pending).  The word's owner may be gone by then, so every futex sleeper must re-check its word after
 * waking: all of them here do, as futex(2) requires. */
void hk_wake_after_unlock(_Atomic uint32_t *word);

/* object.c: park the calling thread now, through its backend, if a stop is wanted for it (hk_thread_ops_t.park_self;
 * nothing for a thread no backend parks).  Called without the lock: by hk_unlock when a park was deferred, and by
 * the wait core's hk_park_if_stopped_locked. */
void hk_park_self(void);

/* self_thread.c: the SELF backend's park_self (also called directly by csrc/host_gil.c's safe points). */
void hk_self_thread_park(void);

/* self_thread.c: threads of a language runtime with a global lock (the Python GIL) park only at safe points.  The
 * binding registers these hooks once (csrc/host_gil.c); without them every thread parks wherever it is.
 *   is_runtime_thread: called in the park signal handler, so async-signal-safe (a plain read): the calling thread
 *     has a runtime thread state.
 *   acquire_runtime_lock / release_runtime_lock: take and give back the lock from the park helper thread (never
 *     under the kernel lock); acquire returns a token >= 0, or -1 if the runtime is shutting down.  While the helper
 *     holds it, no runtime thread does: that is how the handler knows one is safe to park in a system call.
 *   arm_bytecode_park (runtime lock held via acquire): on (1) or off (0), make every runtime thread call
 *     hk_self_thread_park, without the lock, at its next bytecode while a stop is wanted for it.  May be NULL.
 *   schedule_main_park: ask the main thread to call hk_self_thread_park at its next safe point, without holding
 *     the lock (Py_AddPendingCall), then hk_self_thread_main_park_ran; 0 if queued.  May be NULL. */
typedef struct hk_self_runtime_hooks {
    int (*is_runtime_thread)(void);
    int (*acquire_runtime_lock)(void);
    void (*release_runtime_lock)(int token);
    void (*arm_bytecode_park)(int on);
    int (*schedule_main_park)(void);
} hk_self_runtime_hooks_t;
void hk_self_thread_set_runtime_hooks(const hk_self_runtime_hooks_t *hooks);
int hk_self_thread_park_wanted(void);     /* a stop is wanted for the calling thread and it is not parked */
void hk_self_thread_main_park_ran(void);  /* the main thread ran its scheduled park call */
/* The futex bitset of the kernel's own blocking waits (wait.c): the park handler knows them by it. */
#define HK_WAIT_FUTEX_BITSET 0x7a787a78u

/* ------------------------------------------------------------------------------------------------ objects */

typedef struct hk_object hk_object_t;
typedef struct hk_waiter hk_waiter_t;

typedef struct hk_object_ops {
    /* Lock held.  The object lost its last handle (not its last reference). */
    void (*on_zero_handles)(hk_object_t *obj);
    /* Lock held.  The last reference is gone: release resources and free the object. */
    void (*destroy)(hk_object_t *obj);
    /* Lock held.  ZX_INFO_HANDLE_BASIC's related_koid (0 where Zircon gives none). */
    zx_koid_t (*related_koid)(const hk_object_t *obj);
} hk_object_ops_t;

struct hk_object {
    zx_obj_type_t type;
    zx_koid_t koid;
    uint32_t refs;       /* internal references plus one per handle */
    uint32_t handles;    /* handles that name this object */
    zx_signals_t signals;
    hk_waiter_t *waiters; /* doubly linked list of blocked waiters */
    const hk_object_ops_t *ops;
};

/* Lock held.  Give obj a fresh koid, refs = 1 (the caller's), no handles, no signals. */
void hk_object_init(hk_object_t *obj, zx_obj_type_t type, const hk_object_ops_t *ops);
void hk_object_ref(hk_object_t *obj);   /* lock held */
void hk_object_unref(hk_object_t *obj); /* lock held; destroys at zero */
/* A name passed to a create call, as Zircon takes it: NULL (whatever the size) INVALID_ARGS, longer than
 * ZX_MAX_NAME_LEN - 1 bytes cut to that length. */
zx_status_t hk_copy_name(char out[ZX_MAX_NAME_LEN], const char *name, size_t name_size);

/* ------------------------------------------------------------------------------------------------ handles */

/* Lock held.  Allocate a handle for obj with rights; takes a new reference.  ZX_ERR_NO_RESOURCES if full. */
zx_status_t hk_handle_alloc(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out);

/* Lock held.  Look a handle value up: BAD_HANDLE if invalid; then, if `type` is not ZX_OBJ_TYPE_NONE,
 * WRONG_TYPE if the object is of another type (typed lookups check type before rights); then ACCESS_DENIED if
 * the handle lacks any of `rights`.  The object is returned without a new reference. */
zx_status_t hk_handle_get(zx_handle_t h, zx_obj_type_t type, zx_rights_t rights, hk_object_t **obj,
                          zx_rights_t *handle_rights);

/* Lock held.  zx_handle_close under the lock (ZX_HANDLE_INVALID is OK; a bad value gives BAD_HANDLE). */
zx_status_t hk_handle_close_locked(zx_handle_t h);

/* Handle transfer (channel messages).  A taken handle leaves the table but keeps its share of the object (its
 * reference and its count in obj->handles), so the object sees no "last handle closed" while it is in flight.
 * All lock held.  hk_handle_take: BAD_HANDLE if invalid; cancels the waits made through h.  hk_handle_give:
 * install a taken share under a new value (NO_RESOURCES/NO_MEMORY leave it with the caller).  hk_handle_drop:
 * close a taken share (the object may see its last handle go). */
zx_status_t hk_handle_take(zx_handle_t h, hk_object_t **obj, zx_rights_t *rights);
zx_status_t hk_handle_give(hk_object_t *obj, zx_rights_t rights, zx_handle_t *out);
void hk_handle_drop(hk_object_t *obj);

/* Lock held.  Count the handles of table t (NULL: the host program's) by object type
 * (ZX_INFO_PROCESS_HANDLE_STATS). */
void hk_handle_count_by_type(const hk_handle_table_t *t, uint32_t counts[ZX_OBJ_TYPE_UPPER_BOUND]);

/* Per-process handle tables (a Fuchsia program's: hk_process_t.handle_table).  All lock held.
 *   hk_handle_table_new: an empty table (NULL: no memory).
 *   hk_handle_table_close: its process is dead: close every handle in it, as Zircon cleans a dead process's table
 *     (waits through them canceled, suspend tokens released...); it never takes a handle again (NO_RESOURCES).
 *   hk_handle_table_free: after close, when nothing can make it current any more.
 *   hk_handle_table_count: how many handles it holds (NULL: the host program's). */
hk_handle_table_t *hk_handle_table_new(void);
void hk_handle_table_close(hk_handle_table_t *t);
void hk_handle_table_free(hk_handle_table_t *t);
uint32_t hk_handle_table_count(const hk_handle_table_t *t);

/* ------------------------------------------------------------------------------------------------ signals, waits */

/* Lock held.  Clear then set signal bits and wake every waiter whose wanted signals are now active. */
void hk_signal_update(hk_object_t *obj, zx_signals_t clear, zx_signals_t set);

/* Lock held.  Cancel the waits made through handle value h (it is being closed): a blocked wait_one ends CANCELED,
 * an asynchronous observer is removed without firing (Zircon: closing the handle ends its async waits; packets
 * already queued stay). */
void hk_wait_cancel_handle(hk_object_t *obj, zx_handle_t h);

/* A waiter: a blocked zx_object_wait_one (on the waiting thread's stack, fire == NULL) or an asynchronous observer
 * (zx_object_wait_async: owned by the object kind that made it, fire != NULL).  Linked into obj->waiters while
 * armed.  The core calls an observer's fire hook (lock held, the observer already unlinked, never block) when a
 * wanted signal becomes active -- or, for a level-triggered one, already is when it is added -- or with canceled =
 * true when its handle is closed or hk_wait_async_cancel matches it; it fires at most once, and the owner may free
 * it in the hook.  The core never looks at owner or key beyond comparing them, so it names no object kind. */
struct hk_waiter {
    hk_waiter_t *prev, *next;
    zx_handle_t handle;        /* the handle value the wait was made through */
    const hk_handle_table_t *table; /* ...in this table (hk_cpu.table when it was made: NULL, the host's) */
    zx_signals_t wanted;
    zx_signals_t observed;
    _Atomic uint32_t word;     /* wait_one only */
    hk_object_t *obj;          /* the object waited on (an observer: NULL once unlinked) */
    hk_thread_t *thread;       /* wait_one: the waiting thread object, or NULL for a thread unknown to the kernel */
    hk_waiter_t *gprev, *gnext; /* wait_one: in the core's list of blocked waits */
    void (*fire)(hk_waiter_t *w, bool canceled, zx_signals_t observed); /* observers only */
    const void *owner;         /* observers: who made it (a port), for hk_wait_async_cancel */
    uint64_t key;              /* observers: the owner's key */
    bool edge;                 /* observers: fire only on a wanted signal's transition to active */
};

/* Lock held.  Arm the asynchronous observer w on obj (the caller has set handle, wanted, fire, owner, key, edge).
 * A level-triggered observer whose wanted signal is already active fires before this returns. */
void hk_wait_async_add(hk_object_t *obj, hk_waiter_t *w);
/* Lock held.  Disarm an observer that may still be linked (its owner is going away); never fires it. */
void hk_wait_async_remove(hk_waiter_t *w);
/* Lock held.  Cancel (fire with canceled = true) every armed observer on obj made through handle h by owner with
 * key; true if there was one. */
bool hk_wait_async_cancel(hk_object_t *obj, zx_handle_t h, const void *owner, uint64_t key);

/* Monotonic clock in nanoseconds (zx_clock_get_monotonic). */
zx_time_t hk_now(void);

/* Blocking calls other than wait_one (zx_channel_call, zx_port_wait).  A sleeper lives on the blocked thread's
 * stack; wakers set it under the lock.  hk_sleep_locked (lock held on entry and return, released while asleep)
 * sleeps until woken or the deadline passes, showing `blocked_state` in ZX_INFO_THREAD; a suspension parks the
 * thread inside, and it does not return while a stop is requested for it (hk_park_if_stopped_locked), so a
 * suspended thread never completes a call -- as Zircon's blocked syscalls return INTR_RETRY, suspend, and are
 * retried after the resume. */
typedef struct hk_sleeper {
    _Atomic uint32_t word; /* 0 while asleep */
    hk_thread_t *thread;   /* a Fuchsia program's call served on a worker: the thread it acts for (else NULL) */
    struct hk_sleeper *gnext, *gprev;
} hk_sleeper_t;
void hk_sleeper_wake(hk_sleeper_t *s); /* lock held */
/* Lock held (released while asleep).  An interruptible sleep of a call served for a Fuchsia program
 * (hk_cpu.serving) also ends when its thread is suspended or interrupted (hk_wait_interrupt_thread), or does not
 * begin if it already is: the caller then sees hk_serving_interrupted() and returns ZX_ERR_INTERNAL_INTR_RETRY, as
 * Zircon's blocked thread does. */
void hk_sleep_locked(hk_sleeper_t *s, zx_time_t deadline, uint32_t blocked_state, bool interruptible);
/* Lock held.  The calling OS thread serves a Fuchsia program's call whose thread must stop blocking: a suspension
 * is pending, or the thread is dying or dead (hk_wait_interrupt_thread woke it for its program's end). */
bool hk_serving_interrupted(void);
/* Lock held (released and retaken while parked).  Park the calling thread while a stop is requested for it. */
void hk_park_if_stopped_locked(void);
/* Lock held.  t is about to be suspended (or, for a Fuchsia program's thread, ends): end its zx_object_wait_one,
 * if any, with INTR_RETRY (it re-issues the wait once resumed), and wake a served call's sleep (hk_sleep_locked),
 * as Zircon interrupts a blocked thread it suspends. */
void hk_wait_interrupt_thread(hk_thread_t *t);

/* ------------------------------------------------------------------------------------------------ exceptions */

/* An exception channel slot of a task (Zircon's Exceptionate, zircon/kernel/object/exceptionate.cc): the kernel's end
 * of the channel (a handle share, hk_handle_drop'ped to unbind, so the user's end sees PEER_CLOSED) and the rights
 * the task handles of its exceptions get.  A thread has one; processes and jobs a standard and a debugger one. */
typedef struct hk_exceptionate {
    hk_object_t *channel;
    zx_rights_t thread_rights, process_rights;
    bool shutdown; /* the task is dead: nothing binds any more (BAD_STATE) */
} hk_exceptionate_t;
enum { HK_EXCEPTIONATE_STANDARD = 0, HK_EXCEPTIONATE_DEBUGGER = 1, HK_EXCEPTIONATE_KINDS = 2 };
/* Lock held.  The task is dead (or destroyed): unbind the channel for good.  Idempotent. */
void hk_exceptionate_shutdown(hk_exceptionate_t *e);

/* ------------------------------------------------------------------------------------------------ tasks */

typedef struct hk_job hk_job_t;
typedef struct hk_process hk_process_t;

/* The rights of a new VMAR handle as today's kernel hands them out, whatever header the host kernel is built with:
 * ZX_DEFAULT_VMAR_RIGHTS gained ZX_RIGHT_OP_CHILDREN (1 << 21) after the January 2021 SDK (zircon/rights.h), and
 * VmAddressRegionDispatcher's default rights are that macro (object/vm_address_region_dispatcher.h). */
#define HK_DEFAULT_VMAR_RIGHTS ((ZX_RIGHTS_BASIC & ~ZX_RIGHT_WAIT) | ((zx_rights_t)1u << 21))

/* Doubly linked intrusive list. */
typedef struct hk_link {
    struct hk_link *prev, *next;
} hk_link_t;

void hk_list_init(hk_link_t *head);
void hk_list_add_tail(hk_link_t *head, hk_link_t *node);
void hk_list_remove(hk_link_t *node); /* leaves node self-linked */
bool hk_list_empty(const hk_link_t *head);
#define HK_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define HK_LIST_FOR_EACH(it, head) for (hk_link_t *it = (head)->next; it != (head); it = it->next)

typedef enum { HK_JOB_READY, HK_JOB_KILLING, HK_JOB_DEAD } hk_job_state_t;

struct hk_job {
    hk_object_t base;
    hk_job_t *parent;        /* holds a reference; NULL for the root */
    hk_link_t sibling;       /* in parent->jobs while alive */
    hk_link_t jobs;          /* child jobs (each holds a reference from this list) */
    hk_link_t processes;     /* child processes (each holds a reference from this list) */
    hk_job_state_t state;
    int64_t return_code;
    uint32_t max_height;
    hk_info_task_runtime_v1_t exited_runtime; /* runtime of the child processes that left (dead) */
    char name[ZX_MAX_NAME_LEN]; /* ZX_PROP_NAME (property.c); "" until set */
    hk_exceptionate_t exceptionates[HK_EXCEPTIONATE_KINDS]; /* its exception channels (ipc/exception.c) */
};

typedef enum { HK_PROCESS_INITIAL, HK_PROCESS_RUNNING, HK_PROCESS_DYING, HK_PROCESS_DEAD } hk_process_state_t;

typedef enum {
    HK_PROCESS_PLAIN, /* made by zx_process_create: it can never run code on the host */
    HK_PROCESS_SELF,  /* the calling Linux process */
    HK_PROCESS_LINUX, /* a program started by fdio_spawn: a real Linux process driven by linux_*.c */
    HK_PROCESS_KIND_COUNT
} hk_process_kind_t;

/* What lies behind a process object: one table per hk_process_kind_t, registered by the backend that owns the kind
 * (self_thread.c: HK_PROCESS_SELF; linux_task.c: HK_PROCESS_LINUX), so that process.c and the /proc readers
 * (task_stats.c, thread_state.c) name no backend.  Both lock held, never block. */
typedef struct hk_process_ops {
    /* Kill everything p runs.  true: something runs, and the backend reports with hk_process_report_exited once it
     * is all gone and reaped; false: nothing runs (p dies at once).  Does not return for the calling process. */
    bool (*kill)(hk_process_t *p);
    /* The Linux pid whose /proc entries describe p, 0 when none. */
    pid_t (*pid)(const hk_process_t *p);
} hk_process_ops_t;

struct hk_process {
    hk_object_t base;
    hk_job_t *job;           /* holds a reference */
    hk_link_t sibling;       /* in job->processes while not DEAD */
    hk_link_t threads;       /* started, not yet dead threads (each holds a reference from this list) */
    hk_process_state_t state;
    hk_process_kind_t kind;
    const hk_process_ops_t *ops; /* its kind's backend (never NULL) */
    int64_t return_code;
    zx_time_t start_time;
    uint64_t start_ticks; /* x86-64: the TSC read with start_time (a Fuchsia program's clock counts those ticks) */
    uint32_t suspend_count;  /* open process-level suspend tokens */
    char name[ZX_MAX_NAME_LEN];
    struct hk_linux_process *program; /* HK_PROCESS_LINUX only; owned by linux_task.c ("linux" is a gcc macro) */
    hk_info_task_runtime_v1_t exited_runtime; /* runtime of the threads that died */
    hk_job_t *critical_job;  /* zx_job_set_critical: killed when p dies (holds a reference); set once */
    bool critical_retcode_nonzero; /* ...only when p's return code is not 0 */
    uintptr_t debug_addr;    /* ZX_PROP_PROCESS_DEBUG_ADDR (property.c): stored, never read by the host kernel */
    uintptr_t break_on_load; /* ZX_PROP_PROCESS_BREAK_ON_LOAD: likewise */
    hk_exceptionate_t exceptionates[HK_EXCEPTIONATE_KINDS]; /* its exception channels (ipc/exception.c) */
    /* Its own handle table (a Fuchsia program run by host/fuchsia/: owned, closed at DEAD, freed with p); NULL for
     * every other process (the calling program's handles live in the host table; other processes hold none). */
    hk_handle_table_t *handle_table;
};

/* Lock held.  p is the process the calling thread acts for: the calling program, or the Fuchsia program whose call
 * it serves (zx_task_suspend of it is NOT_SUPPORTED, as Zircon refuses suspending the current process). */
static inline bool hk_is_current_process(const hk_process_t *p) {
    return hk_cpu.table != NULL ? p->handle_table == hk_cpu.table : p->kind == HK_PROCESS_SELF;
}

typedef enum {
    HK_THREAD_NEW,       /* created, not started */
    HK_THREAD_RUNNING,   /* started; may be blocked; may have a stop requested but not yet reached */
    HK_THREAD_SUSPENDED, /* really stopped */
    HK_THREAD_DYING,
    HK_THREAD_DEAD,
} hk_thread_state_t;

typedef enum {
    HK_THREAD_UNBACKED, /* no OS thread (a new thread, or one of a process that cannot run on the host) */
    HK_THREAD_SELF,     /* an OS thread of the calling process (self_thread.c) */
    HK_THREAD_LINUX,    /* a thread of a spawned Linux process (linux_*.c) */
    HK_THREAD_KIND_COUNT
} hk_thread_kind_t;

/* How the kernel drives the OS thread behind a thread object: one table per hk_thread_kind_t, registered by the
 * backend that owns the kind, so that the core (object.c, wait.c), the thread object (thread.c) and the /proc
 * readers (task_stats.c, thread_state.c) name no backend
 * -- as Zircon's ThreadDispatcher leaves the mechanics of stopping a thread to the thread layer below it
 * (zircon/kernel/object/thread_dispatcher.cc Suspend -> zircon/kernel/kernel/thread.cc Thread::Suspend). */
/* How an exception ended, for hk_thread_ops_t.exception_resolved. */
enum { HK_EXC_UNHANDLED = 0, HK_EXC_HANDLED = 1, HK_EXC_THREAD_EXIT = 2 };

typedef struct hk_thread_ops {
    /* Lock held, never block.  Ask the OS thread to stop (the backend calls hk_thread_report_stopped once it has
     * really stopped) or to run again (hk_thread_report_running). */
    void (*request_stop)(hk_thread_t *t);
    void (*request_resume)(hk_thread_t *t);
    /* Without the lock.  Park the calling OS thread (one of this backend's) now if a stop is wanted for it, until it
     * is resumed.  NULL for backends whose threads never run host-kernel code. */
    void (*park_self)(void);
    /* Lock held.  zx_thread_start: run entry(arg1, arg2) on a new OS thread for t.  NULL: NOT_SUPPORTED. */
    zx_status_t (*start)(hk_thread_t *t, zx_vaddr_t entry, uintptr_t arg1, uintptr_t arg2);
    /* Lock held.  The system call a stop last interrupted in t (-1: none known), which its restart_syscall continues
     * (thread_state.c).  NULL: never known. */
    long (*interrupted_syscall)(const hk_thread_t *t);
    /* Lock held, never block.  The CPU time t's OS thread has used, exactly (task_stats.c); false if it cannot be
     * read.  NULL: the scheduler's figure in /proc stands (it can lag a running thread by a tick). */
    bool (*cpu_time)(const hk_thread_t *t, zx_duration_t *out);
    /* Without the lock (may block: a spawned program's registers are reached through its tracer).  Read or write
     * register set `kind` (ZX_THREAD_STATE_*: thread_debug.c has checked the kind, the size and that the registers
     * are available) of t, into or from buf (the set's exact size).  The backend checks hk_thread_regs_available
     * again, under the lock, where it touches the registers: BAD_STATE if t was resumed meanwhile.  NULL: the
     * backend cannot reach its threads' registers (NOT_SUPPORTED). */
    zx_status_t (*read_state)(hk_thread_t *t, uint32_t kind, void *buf);
    zx_status_t (*write_state)(hk_thread_t *t, uint32_t kind, const void *buf);
    /* Lock held, never block.  The exception t was held in is over and t may run again (when nothing else holds it):
     * HK_EXC_HANDLED (ZX_EXCEPTION_STATE_HANDLED: the cause of the exception is dropped, a Linux fault signal is
     * not delivered), HK_EXC_UNHANDLED (the backend lets the cause take its course) or HK_EXC_THREAD_EXIT
     * (ZX_EXCEPTION_STATE_THREAD_EXIT: the thread exits; a backend that cannot end one thread lets the cause take
     * its course).  NULL: no exception is ever raised. */
    void (*exception_resolved)(hk_thread_t *t, int how);
} hk_thread_ops_t;

struct hk_thread {
    hk_object_t base;
    hk_process_t *process;   /* holds a reference */
    hk_link_t sibling;       /* in process->threads while started and not dead */
    hk_thread_state_t state;
    hk_thread_kind_t kind;
    const hk_thread_ops_t *ops; /* its kind's backend (never NULL) */
    uint32_t blocked;        /* ZX_THREAD_STATE_BLOCKED_* while blocked in the kernel, else 0 */
    uint32_t suspend_count;  /* open thread-level suspend tokens */
    bool stop_requested;     /* the backend was asked to stop the OS thread and not yet to resume it */
    pid_t tid;               /* Linux thread id for SELF and LINUX threads */
    char name[ZX_MAX_NAME_LEN];
    void *backend;           /* per-kind data */
    hk_info_task_runtime_v1_t runtime; /* last sample of the OS thread's times; final once runtime_final */
    bool runtime_final;      /* the thread died: runtime no longer changes (task_stats.c) */
    bool trap_held;          /* held by its backend at a single-step trap (linux_regs.c): registers available */
    /* Exceptions (ipc/exception.c, through hk_exception_ops_t).  exception: the exception the thread is in (a
     * reference), NULL when none: hk_thread_in_exception.  exception_channel_type: the ZX_EXCEPTION_CHANNEL_TYPE_*
     * of the channel that holds it now (ZX_INFO_THREAD), NONE between handlers.  exception_report: its report
     * (ZX_INFO_THREAD_EXCEPTION_REPORT). */
    hk_exceptionate_t exceptionate;
    hk_object_t *exception;
    uint32_t exception_channel_type;
    zx_exception_report_t exception_report;
};

/* The root of everything: created at first use (job.c, process.c). */
hk_job_t *hk_root_job(void);            /* lock held */
hk_process_t *hk_self_process(void);    /* lock held */

/* job.c — lock held */
zx_status_t hk_job_add_process(hk_job_t *job, hk_process_t *p); /* BAD_STATE unless READY */
void hk_job_remove_process(hk_job_t *job, hk_process_t *p);     /* may finish a dying job chain */
void hk_job_kill(hk_job_t *job, int64_t return_code);
/* p is DEAD and has left its job: kill the job p is critical to, if any (with the return code condition). */
void hk_job_critical_process_died(hk_process_t *p);

/* process.c — lock held */
/* A new INITIAL process in job, with a reference for the caller.  NULL when the job is not READY (the caller
 * reports ZX_ERR_BAD_STATE after checking job->state) or memory ran out. */
hk_process_t *hk_process_new(hk_job_t *job, hk_process_kind_t kind, const char *name);
/* Zircon's process kill: DEAD at once when no thread was started (and, for a spawned program, nothing is left to
 * reap); otherwise DYING, and the threads are killed.  An earlier exit or kill code wins. */
void hk_process_kill(hk_process_t *p, int64_t return_code);
/* The backend's report that everything of p is gone and reaped: -> DEAD, ZX_TASK_TERMINATED, p leaves its job.
 * return_code is used unless a code was already set (a kill's code wins). */
void hk_process_report_exited(hk_process_t *p, int64_t return_code);
void hk_process_mark_running(hk_process_t *p); /* INITIAL -> RUNNING, start_time */

/* process.c.  As hk_thread_register_ops, for processes: once, from a constructor; a kind nobody registered acts as
 * HK_PROCESS_PLAIN (nothing runs, no pid). */
void hk_process_register_ops(hk_process_kind_t kind, const hk_process_ops_t *ops);

/* thread.c.  A backend registers the ops of its kind once, from a constructor (before any thread exists); a kind
 * nobody registered acts as HK_THREAD_UNBACKED (nothing executes: a stop or resume takes effect at once). */
void hk_thread_register_ops(hk_thread_kind_t kind, const hk_thread_ops_t *ops);

/* thread.c — lock held */
hk_thread_t *hk_thread_new(hk_process_t *p, hk_thread_kind_t kind, const char *name); /* NEW; ref for caller */
/* Start t (NEW -> RUNNING, THREAD_RUNNING, into the process's thread list); asks the backend to stop it at once
 * when a suspension is already pending.  BAD_STATE if the process is dying or dead. */
zx_status_t hk_thread_mark_started(hk_thread_t *t);
/* Re-evaluate whether t must be stopped: own tokens + (process tokens > 0).  Calls its ops' request_stop/_resume. */
void hk_thread_update_suspension(hk_thread_t *t);
/* Backend reports (lock held). */
void hk_thread_report_stopped(hk_thread_t *t); /* RUNNING -> SUSPENDED: THREAD_SUSPENDED asserted */
void hk_thread_report_running(hk_thread_t *t); /* SUSPENDED -> RUNNING: THREAD_RUNNING asserted */
void hk_thread_report_exited(hk_thread_t *t);  /* -> DEAD: THREAD_TERMINATED; leaves the thread list */
zx_thread_state_t hk_thread_info_state(const hk_thread_t *t);
/* Zircon's SuspendedOrInExceptionLocked (zircon/kernel/object/thread_dispatcher.cc): the one test of "t's registers
 * may be read and written" for zx_thread_read_state / write_state.  Today: really stopped by a suspension, or held
 * at a single-step trap, or in an exception (hk_thread_in_exception). */
bool hk_thread_regs_available(const hk_thread_t *t);

/* Exceptions: ipc/exception.c registers its ops from a constructor; without it (a program that links the top-level host files only)
 * no exception is ever raised and exception objects do not exist.  All lock held, never block.
 *   raise: t (stopped by its backend) takes an exception with this report: it goes down Zircon's handler chain; true
 *     when a handler got it (t stays held until its backend's exception_resolved), false when no channel is bound
 *     (the backend lets the cause take its course: a Linux fault signal is delivered, as before exceptions).
 *   get_property / set_property: ZX_PROP_EXCEPTION_STATE / _STRATEGY of an exception object (obj of type
 *     ZX_OBJ_TYPE_EXCEPTION), for property.c.
 *   thread_dead: t died while in an exception (killed): the exception is over without resuming it. */
typedef struct hk_exception_ops {
    bool (*raise)(hk_thread_t *t, const zx_exception_report_t *report);
    zx_status_t (*get_property)(hk_object_t *obj, uint32_t property, void *value, size_t value_size);
    zx_status_t (*set_property)(hk_object_t *obj, uint32_t property, const void *value, size_t value_size);
    void (*thread_dead)(hk_thread_t *t);
} hk_exception_ops_t;
void hk_exception_register_ops(const hk_exception_ops_t *ops); /* thread.c */
extern const hk_exception_ops_t *hk_exception_ops;             /* thread.c; NULL until registered */
/* thread.c — lock held.  hk_exception_ops->raise, or false when exceptions are not built in. */
bool hk_thread_raise_exception(hk_thread_t *t, const zx_exception_report_t *report);
/* Lock held.  t is in an exception (its registers are those of the exception: a debugger may read and write them,
 * as of a suspended thread). */
bool hk_thread_in_exception(const hk_thread_t *t);

/* ipc/channel.c — lock held.  The kernel's side of channels, for exception channels:
 *   hk_channel_create_kernel: a new pair, each end as a handle share (hk_handle_give installs one, hk_handle_drop
 *     closes one);
 *   hk_channel_peer_closed: obj's peer lost its last handle;
 *   hk_channel_write_kernel: queue a message of num_bytes bytes and one handle (a share of handle_obj with rights,
 *     taken here) at the peer of obj; PEER_CLOSED when it is gone, NO_MEMORY (the share is dropped either way on
 *     failure). */
zx_status_t hk_channel_create_kernel(hk_object_t **kernel_end, hk_object_t **user_end);
bool hk_channel_peer_closed(const hk_object_t *obj);
zx_status_t hk_channel_write_kernel(hk_object_t *obj, const void *bytes, uint32_t num_bytes, hk_object_t *handle_obj,
                                    zx_rights_t rights);

/* ipc/timer.c.  Timers (zircon/kernel/object/timer_dispatcher.cc, syscalls/timer.cc), exported like every host-kernel
 * call; zxpy's own headers do not declare them. */
zx_status_t zx_timer_create(uint32_t options, uint32_t clock_id, zx_handle_t *out);
zx_status_t zx_timer_set(zx_handle_t handle, zx_time_t deadline, zx_duration_t slack);
zx_status_t zx_timer_cancel(zx_handle_t handle);

/* ipc/socket.c.  Sockets (zircon/kernel/object/socket_dispatcher.cc, syscalls/socket.cc): zx_socket_create / write
 * / read / shutdown are exported like every host-kernel call; zxpy's own headers (today's) no longer declare
 * zx_socket_shutdown and none carries the option bits, so they are stated here with the 2021 SDK's values
 * (<zircon/types.h>). */
#ifndef ZX_SOCKET_STREAM
#define ZX_SOCKET_STREAM ((uint32_t)0u)
#define ZX_SOCKET_DATAGRAM ((uint32_t)1u << 0)
#define ZX_SOCKET_CREATE_MASK (ZX_SOCKET_DATAGRAM)
#endif
#ifndef ZX_SOCKET_PEEK
#define ZX_SOCKET_PEEK ((uint32_t)1u << 3)
#endif
#ifndef ZX_SOCKET_SHUTDOWN_WRITE
#define ZX_SOCKET_SHUTDOWN_WRITE ((uint32_t)1u << 0)
#define ZX_SOCKET_SHUTDOWN_READ ((uint32_t)1u << 1)
#define ZX_SOCKET_SHUTDOWN_MASK (ZX_SOCKET_SHUTDOWN_WRITE | ZX_SOCKET_SHUTDOWN_READ)
#endif
/* MBufChain::kSizeMax (zircon/kernel/object/include/object/mbuf.h): 128 MBufs of 2008 payload bytes. */
#define HK_SOCKET_SIZE_MAX ((size_t)128u * 2008u)
zx_status_t zx_socket_create(uint32_t options, zx_handle_t *out0, zx_handle_t *out1);
zx_status_t zx_socket_write(zx_handle_t handle, uint32_t options, const void *buffer, size_t buffer_size,
                            size_t *actual);
zx_status_t zx_socket_read(zx_handle_t handle, uint32_t options, void *buffer, size_t buffer_size, size_t *actual);
zx_status_t zx_socket_shutdown(zx_handle_t handle, uint32_t options);
/* Lock held.  obj is a socket (ZX_OBJ_TYPE_SOCKET): its ZX_INFO_SOCKET record (object_info.c). */
void hk_socket_info_locked(const hk_object_t *obj, hk_info_socket_t *info);

/* task_stats.c — lock held.  Runtime as Zircon aggregates it: a thread's own CPU and run-queue time (0 before start,
 * kept after death); a process's = its dead threads' + its live threads'; a job's = its dead child processes' + its
 * live child processes' (child jobs are not counted, as in Zircon).  Sampled from Linux where an OS thread exists. */
void hk_runtime_add(hk_info_task_runtime_v1_t *sum, const hk_info_task_runtime_v1_t *add);
void hk_thread_runtime(hk_thread_t *t, hk_info_task_runtime_v1_t *out);
/* Take a last sample (if the OS thread can still be read) and keep the figures from then on.  Backends call it
 * while the OS thread surely still exists; hk_thread_report_exited calls it too, a no-op if already done. */
void hk_thread_freeze_runtime(hk_thread_t *t);
uint32_t hk_thread_last_cpu(hk_thread_t *t); /* ZX_INFO_INVALID_CPU if unknown or never ran */
void hk_process_runtime(hk_process_t *p, hk_info_task_runtime_v1_t *out);
void hk_job_runtime(hk_job_t *job, hk_info_task_runtime_v1_t *out);
/* Memory figures of a process backed by a Linux process (zeros for the others). */
void hk_process_task_stats(hk_process_t *p, hk_info_task_stats_v1_t *out);

/* ------------------------------------------------------------------------------------------------ backends */

/* The backends register their hk_thread_ops_t (self_thread.c: HK_THREAD_SELF; linux_stop.c: HK_THREAD_LINUX) and
 * hk_process_ops_t (self_thread.c: HK_PROCESS_SELF; linux_task.c: HK_PROCESS_LINUX). */

/* linux_spawn.c, linux_monitor.c, linux_task.c, linux_stop.c — the backend of spawned programs (linux_task.h).
 *
 * A spawned program is a real Linux process (plus every process it forks itself: they belong to it, are killed
 * with it, and are killed when it exits), traced by one monitor thread with ptrace (PTRACE_SEIZE with EXITKILL so
 * nothing survives the owning program, TRACECLONE/FORK/VFORK/EXEC).  Its Linux threads are its Zircon threads.
 *
 * hk_linux_spawn is called WITHOUT the lock; it blocks until the program has exec'd (ZX_OK) or failed.  On success
 * the process is RUNNING with its initial thread started.  On failure a message goes to err_msg (may be NULL,
 * else FDIO_SPAWN_ERR_MSG_MAX_LENGTH bytes) and the process is left for the caller to kill.
 * On failure the failed child is already reaped and p->program is NULL (so a kill makes p DEAD at once).
 * Its ops (kill, stop, resume) are called with the lock held, never block, and act asynchronously; the monitor
 * reports back with hk_thread_report_* / hk_process_report_exited under the lock, and creates thread objects for new
 * threads with hk_thread_new + hk_thread_mark_started (which itself asks for a stop when the process is suspended). */
/* fdio's values that the spawn action rules depend on (fdio_spawn.c checks them, linux_spawn.c applies them): target
 * fds must be below FDIO_MAX_FD (<lib/fdio/limits.h>, 1024), and a target fd flagged FDIO_FLAG_USE_FOR_STDIO
 * (<lib/fdio/io.h>, 0x8000) also serves as stdio when fds 0-2 are not given.  Defined here, not taken from those
 * headers: zxpy's own headers (host/include) and the stand-in SDKs carry only <lib/fdio/spawn.h>. */
#define HK_FDIO_MAX_FD 1024
#define HK_FDIO_FLAG_USE_FOR_STDIO 0x8000
struct lt_fuchsia_ops; /* linux_task.h */
typedef struct hk_spawn_request {
    uint32_t flags;                  /* FDIO_SPAWN_* */
    const char *path;
    const char *const *argv;
    const char *const *environ;      /* NULL: empty, or the caller's when FDIO_SPAWN_CLONE_ENVIRON */
    size_t action_count;
    const fdio_spawn_action_t *actions;
    /* A Fuchsia ELF image instead of a Linux executable (host/fuchsia/runner.c; NULL: exec path). */
    const struct lt_fuchsia_ops *fuchsia_ops;
    const void *fuchsia_start;
} hk_spawn_request_t;

zx_status_t hk_linux_spawn(hk_process_t *p, const hk_spawn_request_t *req, char *err_msg); /* linux_spawn.c */

/* ------------------------------------------------------------------------------------------------ fork, OS states */

/* fork.c: after fork(2) the child gets a fresh, empty host kernel.  Each module forgets its parent's state; called in
 * the child only, single-threaded, without the lock.  handle_table.c: every value in use is quarantined (BAD_HANDLE
 * for ever, never reused).  job.c / process.c: a new root job, default job handle, self process at next use.
 * self_thread.c: the forking thread is no thread object any more. */
void hk_handle_table_after_fork(void);
void hk_job_after_fork(void);
void hk_process_after_fork(void);
void hk_self_thread_after_fork(void);

/* ------------------------------------------------------------------------------------------------ /proc */

/* procfs.c: reading Linux's /proc for tasks, for the kind files and the backends alike.  Without the lock or with
 * it (nothing here blocks on the kernel); a task that is gone gives nothing. */

/* Read a small /proc file into buf (NUL-terminated, retried on EINTR); false if it cannot be read (the task is
 * gone). */
bool hk_read_proc(const char *path, char *buf, size_t size);

/* A task's Linux name (comm, no newline), as the name of its Zircon object; "" if it cannot be read.  tid is a
 * Linux task id, or HK_PROC_SELF (the calling process: /proc/self) or HK_PROC_THREAD_SELF (the calling thread). */
#define HK_PROC_SELF 0
#define HK_PROC_THREAD_SELF (-1)
void hk_proc_comm(pid_t tid, char name[ZX_MAX_NAME_LEN]);

/* The system call task tid of process pid is in, from /proc/<pid>/task/<tid>/syscall; false if that cannot be
 * read.  *nr is the call's number (its first two arguments into args, unless NULL), -1 outside a call, or
 * HK_PROC_SYSCALL_RUNNING when the task runs (it is in no call /proc can show). */
#define HK_PROC_SYSCALL_RUNNING LONG_MIN
bool hk_proc_syscall(pid_t pid, pid_t tid, long *nr, unsigned long args[2]);

/* A numeric field ("Tgid:", "PPid:") of /proc/<tid>/status; -1 if the task is gone. */
pid_t hk_proc_status_field(pid_t tid, const char *field);

/* Walk /proc/<pid>/maps in address order: fn(ctx, lo, hi, name) for each mapping [lo, hi), name being its
 * pathname or pseudo-name ("[vdso]", "[stack]"; "" for an anonymous one) without the newline, until fn returns
 * false.  False if the file cannot be read (the task is gone). */
typedef bool (*hk_proc_map_fn)(void *ctx, uint64_t lo, uint64_t hi, const char *name);
bool hk_proc_maps(pid_t pid, hk_proc_map_fn fn, void *ctx);

/* thread_state.c — lock held, never blocks.  The ZX_THREAD_STATE_BLOCKED_* of a backed thread (SELF or LINUX)
 * that is blocked in a Linux system call, from /proc/<pid>/task/<tid>/{stat,syscall}; 0 when it is running, or
 * when nothing can be read. */
uint32_t hk_thread_os_blocked_state(const hk_thread_t *t);

#endif /* ZXPY_HOST_KERNEL_H_ */
