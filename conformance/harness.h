/* Minimal self-contained test harness for the Zircon conformance scenarios.
 *
 * One scenario is a `void fn(void)`.  A failed check prints what was called, what was expected and what came
 * back, then leaves the scenario (longjmp) so that its deferred cleanups run: every handle, job, process and
 * thread a scenario makes is registered with the harness, which kills, joins and closes them in LIFO order
 * whether the scenario passed or not.  Cleanups act on private duplicates where that matters, so a scenario is
 * free to close its own handles.
 *
 * The same sources build for the Linux host kernel (gcc/clang) and for Fuchsia (clang --target=*-fuchsia).
 */
#ifndef ZXPY_CONFORMANCE_HARNESS_H_
#define ZXPY_CONFORMANCE_HARNESS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/fdio/spawn.h>
#include <zircon/process.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/exception.h>
#include <zircon/syscalls/object.h>
#include <zircon/syscalls/port.h>
#include <zircon/types.h>

#include "info_versions.h"
#include "tfuncs.h"

/* Generous limits: scenarios wait for signals, they never assert speed. */
#define T_LONG_NS ((zx_duration_t)20 * 1000 * 1000 * 1000)  /* "it must happen": 20 s */
#define T_QUIET_NS ((zx_duration_t)100 * 1000 * 1000)       /* "it must not happen": watch for 100 ms */

/* Job signal bit 6 (NO_CHILDREN) is not exported by Zircon's public headers; its core tests define it locally. */
#define T_JOB_NO_CHILDREN ((zx_signals_t)1u << 6)

/* ---------------------------------------------------------------------------------------------- failing */

_Noreturn void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *t_status_name(zx_status_t status);

#define T_FAIL(...) t_fail(__FILE__, __LINE__, __VA_ARGS__)

/* `expr` must return exactly `expected` (a zx_status_t). */
#define T_STATUS(expected, expr)                                                                       \
    do {                                                                                                 \
        zx_status_t t_got_ = (expr);                                                                     \
        zx_status_t t_exp_ = (expected);                                                                 \
        if (t_got_ != t_exp_)                                                                            \
            t_fail(__FILE__, __LINE__, "%s: expected %s, got %s", #expr, t_status_name(t_exp_),          \
                   t_status_name(t_got_));                                                               \
    } while (0)
#define T_OK(expr) T_STATUS(ZX_OK, expr)

/* Integer equality, printed in decimal and hex. */
#define T_EQ(expected, actual)                                                                         \
    do {                                                                                                 \
        long long t_e_ = (long long)(expected);                                                          \
        long long t_a_ = (long long)(actual);                                                            \
        if (t_e_ != t_a_)                                                                                \
            t_fail(__FILE__, __LINE__, "%s: expected %s = %lld (0x%llx), got %lld (0x%llx)", #actual,    \
                   #expected, t_e_, (unsigned long long)t_e_, t_a_, (unsigned long long)t_a_);           \
    } while (0)
#define T_NE(unexpected, actual)                                                                       \
    do {                                                                                                 \
        long long t_e_ = (long long)(unexpected);                                                        \
        long long t_a_ = (long long)(actual);                                                            \
        if (t_e_ == t_a_)                                                                                \
            t_fail(__FILE__, __LINE__, "%s: must differ from %s = %lld", #actual, #unexpected, t_e_);    \
    } while (0)
#define T_TRUE(cond)                                                                                   \
    do {                                                                                                 \
        if (!(cond))                                                                                     \
            t_fail(__FILE__, __LINE__, "expected true: %s", #cond);                                      \
    } while (0)

/* ---------------------------------------------------------------------------------------------- resources */

typedef void (*t_cleanup_fn)(uintptr_t arg);

/* Run fn(arg) when the scenario ends (LIFO), passed or failed. */
void t_defer(t_cleanup_fn fn, uintptr_t arg);

/* Register h to be closed at the end; returns h.  t_close closes it now (must succeed) and unregisters it;
 * t_disown unregisters it because something else consumed it (zx_handle_replace, close_many). */
zx_handle_t t_own(zx_handle_t h);
void t_close(zx_handle_t h);
void t_disown(zx_handle_t h);

/* A fresh child job of zx_job_default(), owned.  At the end it is killed and awaited through a private
 * duplicate, so nothing a scenario started in it survives the scenario. */
zx_handle_t t_job(void);
/* A child job of `parent` (owned, not killed at the end: killing `parent` takes care of it). */
zx_handle_t t_child_job(zx_handle_t parent);

zx_handle_t t_event(void);

/* A process made by zx_process_create in `job`, named "created" (owned, as is its root VMAR, returned through
 * vmar_out when that is not NULL).  It has no code to run: only its handle rules and signals are of use. */
zx_handle_t t_created_process(zx_handle_t job, zx_handle_t *vmar_out);

/* A thread of the calling process, created (owned) and not started. */
zx_handle_t t_thread_create(const char *name);
/* zx_thread_start with a freshly allocated stack; at the end the harness waits (through a duplicate) for the
 * thread to terminate.  Scenarios that leave a thread blocked must t_defer whatever releases it. */
void t_thread_start(zx_handle_t thread, tf_entry_t entry, tf_ctl_t *ctl);
/* The raw call, for scenarios that check its status themselves; on success the thread is joined as above. */
zx_status_t t_thread_start_raw(zx_handle_t thread, tf_entry_t entry, tf_ctl_t *ctl);
/* create + start. */
zx_handle_t t_thread_run(const char *name, tf_entry_t entry, tf_ctl_t *ctl);
/* A waiter: a thread running tf_wait on a fresh event (owned, left in ctl->handle; ctl->deadline as the caller set
 * it), returned once it is BLOCKED_WAIT_ONE.  USER_SIGNAL_0 on the event, which releases it, is deferred. */
zx_handle_t t_waiter_run(const char *name, tf_ctl_t *ctl);

/* Zeroed memory shared with started threads.  It lives until the end of the run (a scenario's stack frame is
 * gone while its cleanups still stop and join its threads), and is never freed if a thread was not joined. */
void *t_alloc(size_t size);
tf_ctl_t *t_ctl(void);

/* Deferred actions for tf_ctl_t users. */
void t_defer_stop(tf_ctl_t *ctl);           /* sets ctl->stop */
void t_defer_signal(zx_handle_t event);     /* zx_object_signal(event, 0, ZX_USER_SIGNAL_0) */

/* fdio_spawn the helper program into `job` with helper arguments args[] (NULL-terminated, without argv[0]).
 * The process handle is owned; at the end the process is killed and awaited through a duplicate. */
zx_handle_t t_spawn(zx_handle_t job, const char *const *args);
/* The same for any helper program.  With keep_alive_dup false no duplicate is kept for the cleanup (the scenario
 * needs its handle to be the only one); the job's own cleanup then kills the process. */
zx_handle_t t_spawn_program(zx_handle_t job, const char *program, const char *const *args, bool keep_alive_dup);
/* Path of the helper program (ZX_CONFORMANCE_HELPER or built-in default). */
const char *t_helper_path(const char *name);

/* A fresh, empty progress file the helper appends to (removed at the end), and its current size. */
const char *t_progress_file(void);
uint64_t t_progress(const char *path);
/* Wait until each of the first n helper threads wrote at least one byte ('a' + i). */
void t_wait_progress_threads(const char *path, unsigned n);
/* Wait until the file grew beyond `than`. */
void t_wait_progress_beyond(const char *path, uint64_t than);

/* ---------------------------------------------------------------------------------------------- queries */

/* Wait for any of `signals` with the generous deadline; fail otherwise.  Returns observed. */
zx_signals_t t_wait(zx_handle_t h, zx_signals_t signals);
/* Assert that none of `signals` becomes active within T_QUIET_NS.  Returns observed. */
zx_signals_t t_wait_quiet(zx_handle_t h, zx_signals_t signals);
/* Current signal state (wait_one with signals 0 and an infinite-past deadline, as the core tests do). */
zx_signals_t t_signals(zx_handle_t h);

zx_info_handle_basic_t t_basic(zx_handle_t h);
zx_koid_t t_koid(zx_handle_t h);
/* ZX_INFO_PROCESS in the v1 form (flags), read with the v1 topic where the kernel answers it, else with v0
 * (t_info_answered): then the flags come from the bools and has_start_time is false. */
typedef struct t_process_info {
    int64_t return_code;
    uint32_t flags;           /* T_INFO_PROCESS_FLAG_* */
    bool has_start_time;
    zx_time_t start_time;     /* when has_start_time */
} t_process_info_t;
t_process_info_t t_process_info(zx_handle_t h);
zx_info_thread_t t_thread_info(zx_handle_t h);
zx_info_job_t t_job_info(zx_handle_t h);
/* ZX_INFO_TASK_RUNTIME of a thread, process or job (one record). */
zx_info_task_runtime_t t_runtime(zx_handle_t h);
/* Wait until ZX_INFO_THREAD reports `state`. */
void t_wait_thread_state(zx_handle_t thread, zx_thread_state_t state);
/* Koids of a process's threads / a job's children (ZX_INFO_PROCESS_THREADS, _JOB_CHILDREN, _JOB_PROCESSES). */
size_t t_koids(zx_handle_t h, uint32_t topic, zx_koid_t *out, size_t max);
/* Handles (owned) of every thread of a process; returns the count. */
size_t t_process_threads(zx_handle_t process, zx_handle_t *out, size_t max);

zx_handle_t t_dup(zx_handle_t h, zx_rights_t rights); /* owned */

void t_sleep_ms(uint32_t ms);
/* Atomically read a 64/32-bit field written by a thread entry. */
uint64_t t_load64(const uint64_t *p);
uint32_t t_load32(const uint32_t *p);
int32_t t_load_s32(const int32_t *p);
/* Wait until *p becomes non-zero. */
void t_wait_flag(const uint32_t *p, const char *what);

/* ---------------------------------------------------------------------------------------------- call sites */

/* A helper that fails reports the scenario line that called it: scenario files call the helpers through these
 * macros, which record the call site first (harness.c defines T_HARNESS_IMPL and calls them directly). */
void t_at(const char *file, int line);
#ifndef T_HARNESS_IMPL
#define T_AT_(fn, ...) (t_at(__FILE__, __LINE__), fn(__VA_ARGS__))
#define t_close(...) T_AT_(t_close, __VA_ARGS__)
#define t_disown(...) T_AT_(t_disown, __VA_ARGS__)
#define t_dup(...) T_AT_(t_dup, __VA_ARGS__)
#define t_job(...) T_AT_(t_job, __VA_ARGS__)
#define t_child_job(...) T_AT_(t_child_job, __VA_ARGS__)
#define t_event(...) T_AT_(t_event, __VA_ARGS__)
#define t_created_process(...) T_AT_(t_created_process, __VA_ARGS__)
#define t_thread_create(...) T_AT_(t_thread_create, __VA_ARGS__)
#define t_thread_start(...) T_AT_(t_thread_start, __VA_ARGS__)
#define t_thread_run(...) T_AT_(t_thread_run, __VA_ARGS__)
#define t_waiter_run(...) T_AT_(t_waiter_run, __VA_ARGS__)
#define t_spawn(...) T_AT_(t_spawn, __VA_ARGS__)
#define t_spawn_program(...) T_AT_(t_spawn_program, __VA_ARGS__)
#define t_progress(...) T_AT_(t_progress, __VA_ARGS__)
#define t_wait_progress_threads(...) T_AT_(t_wait_progress_threads, __VA_ARGS__)
#define t_wait_progress_beyond(...) T_AT_(t_wait_progress_beyond, __VA_ARGS__)
#define t_wait(...) T_AT_(t_wait, __VA_ARGS__)
#define t_wait_quiet(...) T_AT_(t_wait_quiet, __VA_ARGS__)
#define t_signals(...) T_AT_(t_signals, __VA_ARGS__)
#define t_basic(...) T_AT_(t_basic, __VA_ARGS__)
#define t_koid(...) T_AT_(t_koid, __VA_ARGS__)
#define t_process_info(...) T_AT_(t_process_info, __VA_ARGS__)
#define t_thread_info(...) T_AT_(t_thread_info, __VA_ARGS__)
#define t_job_info(...) T_AT_(t_job_info, __VA_ARGS__)
#define t_runtime(...) T_AT_(t_runtime, __VA_ARGS__)
#define t_wait_thread_state(...) T_AT_(t_wait_thread_state, __VA_ARGS__)
#define t_koids(...) T_AT_(t_koids, __VA_ARGS__)
#define t_process_threads(...) T_AT_(t_process_threads, __VA_ARGS__)
#define t_wait_flag(...) T_AT_(t_wait_flag, __VA_ARGS__)
#endif

/* ---------------------------------------------------------------------------------------------- registry */

typedef void (*t_scenario_fn)(void);

typedef struct t_scenario {
    const char *id;          /* "s13": the suite's own numbering of core-test scenarios (scenarios.c); "r..": rules */
    const char *name;        /* the core test's name, or a short description */
    t_scenario_fn fn;        /* NULL: not run, see skip_reason */
    const char *skip_reason; /* why it cannot run from this suite */
} t_scenario;

extern const t_scenario t_scenarios[];
extern const size_t t_scenario_count;

#endif /* ZXPY_CONFORMANCE_HARNESS_H_ */
