/* The conformance harness: runner, cleanup stack, and the helpers scenarios share.  See harness.h. */
#define _GNU_SOURCE
#define T_HARNESS_IMPL
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------- statuses */

const char *t_status_name(zx_status_t status) {
#define T_NAME(s) \
    if (status == (s)) \
        return #s;
    T_NAME(ZX_OK)
    T_NAME(ZX_ERR_INTERNAL)
    T_NAME(ZX_ERR_NOT_SUPPORTED)
    T_NAME(ZX_ERR_NO_RESOURCES)
    T_NAME(ZX_ERR_NO_MEMORY)
    T_NAME(ZX_ERR_INTERNAL_INTR_RETRY)
    T_NAME(ZX_ERR_INVALID_ARGS)
    T_NAME(ZX_ERR_BAD_HANDLE)
    T_NAME(ZX_ERR_WRONG_TYPE)
    T_NAME(ZX_ERR_BAD_SYSCALL)
    T_NAME(ZX_ERR_OUT_OF_RANGE)
    T_NAME(ZX_ERR_BUFFER_TOO_SMALL)
    T_NAME(ZX_ERR_BAD_STATE)
    T_NAME(ZX_ERR_TIMED_OUT)
    T_NAME(ZX_ERR_SHOULD_WAIT)
    T_NAME(ZX_ERR_CANCELED)
    T_NAME(ZX_ERR_PEER_CLOSED)
    T_NAME(ZX_ERR_NOT_FOUND)
    T_NAME(ZX_ERR_ALREADY_EXISTS)
    T_NAME(ZX_ERR_ALREADY_BOUND)
    T_NAME(ZX_ERR_UNAVAILABLE)
    T_NAME(ZX_ERR_ACCESS_DENIED)
    T_NAME(ZX_ERR_IO)
    T_NAME(ZX_ERR_NOT_FILE)
    T_NAME(ZX_ERR_NOT_DIR)
    T_NAME(ZX_ERR_STOP)
#undef T_NAME
    static char buf[8][32];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "status %d", (int)status);
    return b;
}

/* ---------------------------------------------------------------------------------------------- state */

#define T_MAX_CLEANUPS 512
#define T_STACK_SIZE ((size_t)64 * 1024)
#define T_MAX_STACKS 1024

typedef struct {
    t_cleanup_fn fn;
    uintptr_t arg;
    bool live;
} t_cleanup;

static t_cleanup cleanups[T_MAX_CLEANUPS];
static size_t cleanup_count;
static jmp_buf fail_jmp;
static bool in_scenario;
static char fail_msg[1024];
static char cleanup_msg[1024];

static void *stacks[T_MAX_STACKS]; /* thread stacks and t_alloc blocks */
static size_t stack_count;
static bool stacks_in_use; /* a thread was not seen to terminate: never free its stack */

static const char *helper_dir;

static const char *at_file;
static int at_line;

void t_at(const char *file, int line) {
    at_file = file;
    at_line = line;
}

static const char *basename_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void t_fail(const char *file, int line, const char *fmt, ...) {
    const char *base = basename_of(file);
    int n;
    if (strcmp(base, "harness.c") == 0 && at_file)
        n = snprintf(fail_msg, sizeof fail_msg, "%s:%d (harness.c:%d): ", basename_of(at_file), at_line, line);
    else
        n = snprintf(fail_msg, sizeof fail_msg, "%s:%d: ", base, line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof fail_msg)
        vsnprintf(fail_msg + n, sizeof fail_msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (in_scenario)
        longjmp(fail_jmp, 1);
    fprintf(stderr, "fatal outside a scenario: %s\n", fail_msg);
    exit(2);
}

static void cleanup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cleanup_error(const char *fmt, ...) {
    if (cleanup_msg[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cleanup_msg, sizeof cleanup_msg, fmt, ap);
    va_end(ap);
}

void t_defer(t_cleanup_fn fn, uintptr_t arg) {
    if (cleanup_count == T_MAX_CLEANUPS)
        T_FAIL("harness: too many deferred cleanups");
    cleanups[cleanup_count++] = (t_cleanup){fn, arg, true};
}

static void run_cleanups(void) {
    while (cleanup_count > 0) {
        t_cleanup c = cleanups[--cleanup_count];
        if (c.live)
            c.fn(c.arg);
    }
}

/* ---------------------------------------------------------------------------------------------- handles */

static void close_cleanup(uintptr_t h) {
    zx_status_t st = zx_handle_close((zx_handle_t)h);
    if (st != ZX_OK)
        cleanup_error("cleanup: zx_handle_close(%#x) gave %s", (unsigned)h, t_status_name(st));
}

zx_handle_t t_own(zx_handle_t h) {
    if (h != ZX_HANDLE_INVALID)
        t_defer(close_cleanup, h);
    return h;
}

static bool unregister(zx_handle_t h) {
    for (size_t i = cleanup_count; i-- > 0;) {
        if (cleanups[i].live && cleanups[i].fn == close_cleanup && cleanups[i].arg == h) {
            cleanups[i].live = false;
            return true;
        }
    }
    return false;
}

void t_close(zx_handle_t h) {
    if (!unregister(h))
        T_FAIL("harness: t_close(%#x) of a handle the scenario does not own", (unsigned)h);
    T_OK(zx_handle_close(h));
}

void t_disown(zx_handle_t h) {
    if (!unregister(h))
        T_FAIL("harness: t_disown(%#x) of a handle the scenario does not own", (unsigned)h);
}

zx_handle_t t_dup(zx_handle_t h, zx_rights_t rights) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_OK(zx_handle_duplicate(h, rights, &out));
    return t_own(out);
}

/* Kill a task through a private duplicate, wait for it to terminate, close the duplicate. */
static void kill_wait_close(uintptr_t arg) {
    zx_handle_t h = (zx_handle_t)arg;
    zx_status_t st = zx_task_kill(h);
    if (st != ZX_OK)
        cleanup_error("cleanup: zx_task_kill gave %s", t_status_name(st));
    zx_signals_t observed = 0;
    st = zx_object_wait_one(h, ZX_TASK_TERMINATED, zx_deadline_after(T_LONG_NS), &observed);
    if (st != ZX_OK)
        cleanup_error("cleanup: a killed task did not terminate (%s)", t_status_name(st));
    zx_handle_close(h);
}

static zx_handle_t cleanup_dup(zx_handle_t h) {
    zx_handle_t dup = ZX_HANDLE_INVALID;
    T_OK(zx_handle_duplicate(h, ZX_RIGHT_SAME_RIGHTS, &dup));
    return dup;
}

zx_handle_t t_job(void) {
    zx_handle_t job = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(zx_job_default(), 0, &job));
    t_own(job);
    t_defer(kill_wait_close, cleanup_dup(job));
    return job;
}

zx_handle_t t_child_job(zx_handle_t parent) {
    zx_handle_t job = ZX_HANDLE_INVALID;
    T_OK(zx_job_create(parent, 0, &job));
    return t_own(job);
}

zx_handle_t t_event(void) {
    zx_handle_t ev = ZX_HANDLE_INVALID;
    T_OK(zx_event_create(0, &ev));
    return t_own(ev);
}

zx_handle_t t_created_process(zx_handle_t job, zx_handle_t *vmar_out) {
    zx_handle_t proc = ZX_HANDLE_INVALID, vmar = ZX_HANDLE_INVALID;
    T_OK(zx_process_create(job, "created", 7, 0, &proc, &vmar));
    t_own(proc);
    t_own(vmar);
    if (vmar_out)
        *vmar_out = vmar;
    return proc;
}

/* ---------------------------------------------------------------------------------------------- threads */

zx_handle_t t_thread_create(const char *name) {
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(zx_process_self(), name, strlen(name), 0, &th));
    return t_own(th);
}

static void join_cleanup(uintptr_t arg) {
    zx_handle_t h = (zx_handle_t)arg;
    zx_signals_t observed = 0;
    zx_status_t st = zx_object_wait_one(h, ZX_THREAD_TERMINATED, zx_deadline_after(T_LONG_NS), &observed);
    if (st != ZX_OK) {
        stacks_in_use = true;
        cleanup_error("cleanup: a started thread did not terminate (%s, observed %#x)", t_status_name(st),
                      (unsigned)observed);
    }
    zx_handle_close(h);
}

static uintptr_t new_stack_top(void) {
    if (stack_count == T_MAX_STACKS)
        T_FAIL("harness: too many thread stacks");
    void *stack = malloc(T_STACK_SIZE);
    T_TRUE(stack != NULL);
    stacks[stack_count++] = stack;
    /* The stack grows down from its (16-byte aligned) top on every supported cpu. */
    return ((uintptr_t)stack + T_STACK_SIZE) & ~(uintptr_t)15;
}

void *t_alloc(size_t size) {
    if (stack_count == T_MAX_STACKS)
        T_FAIL("harness: too many allocations");
    void *p = calloc(1, size);
    T_TRUE(p != NULL);
    stacks[stack_count++] = p;
    return p;
}

tf_ctl_t *t_ctl(void) {
    return t_alloc(sizeof(tf_ctl_t));
}

zx_status_t t_thread_start_raw(zx_handle_t thread, tf_entry_t entry, tf_ctl_t *ctl) {
    zx_handle_t join = cleanup_dup(thread);
    zx_status_t st = zx_thread_start(thread, (zx_vaddr_t)entry, new_stack_top(), (uintptr_t)ctl, 0);
    if (st == ZX_OK)
        t_defer(join_cleanup, join);
    else
        zx_handle_close(join);
    return st;
}

void t_thread_start(zx_handle_t thread, tf_entry_t entry, tf_ctl_t *ctl) {
    T_OK(t_thread_start_raw(thread, entry, ctl));
}

zx_handle_t t_thread_run(const char *name, tf_entry_t entry, tf_ctl_t *ctl) {
    zx_handle_t th = t_thread_create(name);
    t_thread_start(th, entry, ctl);
    return th;
}

static void stop_cleanup(uintptr_t arg) {
    __atomic_store_n(&((tf_ctl_t *)arg)->stop, 1u, __ATOMIC_SEQ_CST);
}

void t_defer_stop(tf_ctl_t *ctl) {
    t_defer(stop_cleanup, (uintptr_t)ctl);
}

static void signal_cleanup(uintptr_t arg) {
    zx_object_signal((zx_handle_t)arg, 0, ZX_USER_SIGNAL_0);
}

void t_defer_signal(zx_handle_t event) {
    t_defer(signal_cleanup, event);
}

zx_handle_t t_waiter_run(const char *name, tf_ctl_t *ctl) {
    ctl->handle = t_event();
    zx_handle_t th = t_thread_run(name, tf_wait, ctl);
    t_defer_signal(ctl->handle);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    return th;
}

/* ---------------------------------------------------------------------------------------------- spawning */

const char *t_helper_path(const char *name) {
    static char paths[4][1024];
    static unsigned next;
    char *out = paths[next++ % 4];
    snprintf(out, sizeof paths[0], "%s/%s", helper_dir, name);
    return out;
}

zx_handle_t t_spawn(zx_handle_t job, const char *const *args) {
    return t_spawn_program(job, "conformance_helper", args, true);
}

zx_handle_t t_spawn_program(zx_handle_t job, const char *program, const char *const *args, bool keep_alive_dup) {
    const char *argv[16];
    size_t n = 0;
    const char *path = t_helper_path(program);
    argv[n++] = path;
    for (; args && args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    zx_handle_t proc = ZX_HANDLE_INVALID;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH] = "";
    zx_status_t st = fdio_spawn_etc(job, FDIO_SPAWN_CLONE_ALL, path, argv, NULL, 0, NULL, &proc, err);
    if (st != ZX_OK)
        T_FAIL("fdio_spawn_etc(%s %s): %s (%s)", path, args && args[0] ? args[0] : "", t_status_name(st), err);
    t_own(proc);
    if (keep_alive_dup)
        t_defer(kill_wait_close, cleanup_dup(proc));
    return proc;
}

/* ---------------------------------------------------------------------------------------------- progress files */

/* Progress files are made by mkstemp as $TMPDIR/zxconf-<pid>-XXXXXX (else under /tmp): unique to this run even
 * when several runs share the directory (two test sessions, tox beside a manual run), where a shared name would
 * let one run's helper grow another run's file.  Each is removed when its scenario ends; if the watchdog ends the
 * run, it removes the ones still listed here. */
#define T_MAX_PROGRESS 32
static pthread_mutex_t progress_mu = PTHREAD_MUTEX_INITIALIZER;
static char *progress_paths[T_MAX_PROGRESS];

static void remove_progress_files(void) {
    pthread_mutex_lock(&progress_mu);
    for (size_t i = 0; i < T_MAX_PROGRESS; i++)
        if (progress_paths[i])
            unlink(progress_paths[i]);
    pthread_mutex_unlock(&progress_mu);
}

static void unlink_cleanup(uintptr_t arg) {
    char *path = (char *)arg;
    pthread_mutex_lock(&progress_mu);
    for (size_t i = 0; i < T_MAX_PROGRESS; i++)
        if (progress_paths[i] == path)
            progress_paths[i] = NULL;
    pthread_mutex_unlock(&progress_mu);
    if (unlink(path) != 0)
        cleanup_error("cleanup: cannot remove progress file %s", path);
    free(path);
}

const char *t_progress_file(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s/zxconf-%ld-XXXXXX", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof buf)
        T_FAIL("progress file name too long (TMPDIR=%s)", dir);
    int fd = mkstemp(buf);
    if (fd < 0)
        T_FAIL("cannot create a progress file %s", buf);
    close(fd);
    char *path = strdup(buf);
    if (!path) {
        unlink(buf);
        T_FAIL("out of memory");
    }
    size_t slot = T_MAX_PROGRESS;
    pthread_mutex_lock(&progress_mu);
    for (size_t i = 0; i < T_MAX_PROGRESS && slot == T_MAX_PROGRESS; i++)
        if (!progress_paths[i])
            slot = i;
    if (slot < T_MAX_PROGRESS)
        progress_paths[slot] = path;
    pthread_mutex_unlock(&progress_mu);
    if (slot == T_MAX_PROGRESS) {
        unlink(path);
        free(path);
        T_FAIL("harness: too many progress files");
    }
    t_defer(unlink_cleanup, (uintptr_t)path);
    return path;
}

uint64_t t_progress(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        T_FAIL("stat(%s) failed", path);
    return (uint64_t)st.st_size;
}

static bool has_all_threads(const char *path, unsigned n) {
    bool seen[26] = {false};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        if (ch >= 'a' && ch < 'a' + 26)
            seen[ch - 'a'] = true;
    fclose(f);
    for (unsigned i = 0; i < n; i++)
        if (!seen[i])
            return false;
    return true;
}

void t_wait_progress_threads(const char *path, unsigned n) {
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    while (!has_all_threads(path, n)) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("the helper's %u threads did not all make progress in %s", n, path);
        t_sleep_ms(5);
    }
}

void t_wait_progress_beyond(const char *path, uint64_t than) {
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    while (t_progress(path) <= than) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("no progress beyond %llu bytes in %s", (unsigned long long)than, path);
        t_sleep_ms(5);
    }
}

/* ---------------------------------------------------------------------------------------------- queries */

zx_signals_t t_wait(zx_handle_t h, zx_signals_t signals) {
    zx_signals_t observed = 0;
    zx_status_t st = zx_object_wait_one(h, signals, zx_deadline_after(T_LONG_NS), &observed);
    if (st != ZX_OK)
        T_FAIL("waiting for signals %#x: %s (observed %#x)", (unsigned)signals, t_status_name(st),
               (unsigned)observed);
    return observed;
}

zx_signals_t t_wait_quiet(zx_handle_t h, zx_signals_t signals) {
    zx_signals_t observed = 0;
    zx_status_t st = zx_object_wait_one(h, signals, zx_deadline_after(T_QUIET_NS), &observed);
    if (st != ZX_ERR_TIMED_OUT)
        T_FAIL("signals %#x must stay inactive: wait gave %s (observed %#x)", (unsigned)signals,
               t_status_name(st), (unsigned)observed);
    return observed;
}

zx_signals_t t_signals(zx_handle_t h) {
    zx_signals_t observed = 0;
    T_STATUS(ZX_ERR_TIMED_OUT, zx_object_wait_one(h, 0, ZX_TIME_INFINITE_PAST, &observed));
    return observed;
}

zx_info_handle_basic_t t_basic(zx_handle_t h) {
    zx_info_handle_basic_t info;
    memset(&info, 0xa5, sizeof info);
    T_OK(zx_object_get_info(h, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL));
    return info;
}

zx_koid_t t_koid(zx_handle_t h) {
    return t_basic(h).koid;
}

bool t_info_answered(uint32_t topic) {
    zx_status_t status = zx_object_get_info(ZX_HANDLE_INVALID, topic, NULL, 0, NULL, NULL);
    bool required = true;
#if defined(__Fuchsia__)
    required = topic == ZX_INFO_PROCESS || topic == ZX_INFO_TASK_STATS || topic == ZX_INFO_TASK_RUNTIME;
#ifdef ZX_INFO_TASK_STATS_V1
    required = required || topic == ZX_INFO_TASK_STATS_V1;
#endif
#ifdef ZX_INFO_TASK_RUNTIME_V1
    required = required || topic == ZX_INFO_TASK_RUNTIME_V1;
#endif
#endif
    if (required || status != ZX_ERR_NOT_SUPPORTED) T_STATUS(ZX_ERR_BAD_HANDLE, status);
    return status != ZX_ERR_NOT_SUPPORTED;
}

t_process_info_t t_process_info(zx_handle_t h) {
    t_process_info_t out;
    memset(&out, 0, sizeof out);
    if (t_info_answered(T_INFO_PROCESS_V1)) {
        t_info_process_v1_t info;
        memset(&info, 0xa5, sizeof info);
        T_OK(zx_object_get_info(h, T_INFO_PROCESS_V1, &info, sizeof info, NULL, NULL));
        out.return_code = info.return_code;
        out.flags = info.flags;
        out.has_start_time = true;
        out.start_time = info.start_time;
    } else {
        t_info_process_v0_t info;
        memset(&info, 0xa5, sizeof info);
        T_OK(zx_object_get_info(h, T_INFO_PROCESS_V0, &info, sizeof info, NULL, NULL));
        out.return_code = info.return_code;
        out.flags = (info.started ? T_INFO_PROCESS_FLAG_STARTED : 0u) |
                    (info.exited ? T_INFO_PROCESS_FLAG_EXITED : 0u) |
                    (info.debugger_attached ? T_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED : 0u);
    }
    return out;
}

zx_info_thread_t t_thread_info(zx_handle_t h) {
    zx_info_thread_t info;
    memset(&info, 0xa5, sizeof info);
    T_OK(zx_object_get_info(h, ZX_INFO_THREAD, &info, sizeof info, NULL, NULL));
    return info;
}

zx_info_job_t t_job_info(zx_handle_t h) {
    zx_info_job_t info;
    memset(&info, 0xa5, sizeof info);
    T_OK(zx_object_get_info(h, ZX_INFO_JOB, &info, sizeof info, NULL, NULL));
    return info;
}

zx_info_task_runtime_t t_runtime(zx_handle_t h) {
    zx_info_task_runtime_t info;
    memset(&info, 0xa5, sizeof info);
    size_t actual = 0, avail = 0;
    T_OK(zx_object_get_info(h, ZX_INFO_TASK_RUNTIME, &info, sizeof info, &actual, &avail));
    T_EQ(1, actual);
    T_EQ(1, avail);
    return info;
}

void t_wait_thread_state(zx_handle_t thread, zx_thread_state_t state) {
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    zx_thread_state_t last;
    while ((last = t_thread_info(thread).state) != state) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("ZX_INFO_THREAD state stayed %#x, expected %#x", (unsigned)last, (unsigned)state);
        t_sleep_ms(1);
    }
}

size_t t_koids(zx_handle_t h, uint32_t topic, zx_koid_t *out, size_t max) {
    size_t actual = 0, avail = 0;
    T_OK(zx_object_get_info(h, topic, out, max * sizeof *out, &actual, &avail));
    T_TRUE(actual <= avail);
    if (avail > max)
        T_FAIL("more children (%zu) than room (%zu)", avail, max);
    return actual;
}

size_t t_process_threads(zx_handle_t process, zx_handle_t *out, size_t max) {
    zx_koid_t koids[64];
    size_t n = t_koids(process, ZX_INFO_PROCESS_THREADS, koids, 64);
    if (n > max)
        T_FAIL("process has %zu threads, room for %zu", n, max);
    for (size_t i = 0; i < n; i++) {
        out[i] = ZX_HANDLE_INVALID;
        T_OK(zx_object_get_child(process, koids[i], ZX_RIGHT_SAME_RIGHTS, &out[i]));
        t_own(out[i]);
    }
    return n;
}

void t_sleep_ms(uint32_t ms) {
    zx_nanosleep(zx_deadline_after((zx_duration_t)ms * 1000 * 1000));
}

uint64_t t_load64(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

uint32_t t_load32(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

int32_t t_load_s32(const int32_t *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

void t_wait_flag(const uint32_t *p, const char *what) {
    zx_time_t deadline = zx_deadline_after(T_LONG_NS);
    while (!t_load32(p)) {
        if (zx_clock_get_monotonic() > deadline)
            T_FAIL("timed out waiting for: %s", what);
        t_sleep_ms(1);
    }
}

/* ---------------------------------------------------------------------------------------------- watchdog */

/* A scenario that hangs is reported and ends the run instead of hanging CI. */
#define T_WATCHDOG_S 240

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv = PTHREAD_COND_INITIALIZER;
static const t_scenario *wd_current;
static unsigned wd_generation;
static int wd_passed, wd_failed, wd_skipped;

static void *watchdog_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wd_mu);
    for (;;) {
        unsigned gen = wd_generation;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += T_WATCHDOG_S;
        int rc = 0;
        while (gen == wd_generation && rc == 0)
            rc = pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
        if (gen == wd_generation && wd_current) {
            printf("FAIL %s %s: still running after %d s (watchdog)\n", wd_current->id, wd_current->name,
                   T_WATCHDOG_S);
            printf("%d passed, %d failed, %d skipped\n", wd_passed, wd_failed + 1, wd_skipped);
            fflush(stdout);
            remove_progress_files();
            _exit(3);
        }
    }
    return NULL;
}

static void watchdog_set(const t_scenario *s) {
    pthread_mutex_lock(&wd_mu);
    wd_current = s;
    wd_generation++;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

/* ---------------------------------------------------------------------------------------------- runner */

/* Handle counts of the kinds the scenarios make: a difference after a scenario means it leaked.  Channels only
 * on the host: on Fuchsia, libc and fdio open and cache channels of their own (fdio_spawn talks to the launcher
 * over channels). */
static const zx_obj_type_t tracked_types[] = {
    ZX_OBJ_TYPE_JOB,           ZX_OBJ_TYPE_PROCESS, ZX_OBJ_TYPE_THREAD, ZX_OBJ_TYPE_EVENT,
    ZX_OBJ_TYPE_SUSPEND_TOKEN, ZX_OBJ_TYPE_VMAR,    ZX_OBJ_TYPE_PORT,
#ifndef __Fuchsia__
    ZX_OBJ_TYPE_CHANNEL,
#endif
};
#define T_TRACKED (sizeof tracked_types / sizeof tracked_types[0])

static bool handle_counts(uint32_t out[T_TRACKED]) {
    zx_info_process_handle_stats_t stats;
    memset(&stats, 0, sizeof stats);
    if (zx_object_get_info(zx_process_self(), ZX_INFO_PROCESS_HANDLE_STATS, &stats, sizeof stats, NULL, NULL) !=
        ZX_OK)
        return false;
    for (size_t i = 0; i < T_TRACKED; i++)
        out[i] = stats.handle_count[tracked_types[i]];
    return true;
}

static void find_helper_dir(const char *argv0) {
    const char *env = getenv("ZX_CONFORMANCE_HELPER_DIR");
    if (env && *env) {
        helper_dir = env;
        return;
    }
#if defined(__Fuchsia__)
    (void)argv0;
    helper_dir = "/pkg/bin";
#else
    static char dir[1024];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        snprintf(dir, sizeof dir, "%s", argv0);
        n = (ssize_t)strlen(dir);
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    helper_dir = dir;
#endif
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--list] [-k SUBSTRING]...\n"
            "Runs the Zircon kill/suspend conformance scenarios; prints one line per scenario and\n"
            "'N passed, N failed, N skipped'.  Exit status 0 only when nothing failed.\n"
            "The helper programs are looked up in $ZX_CONFORMANCE_HELPER_DIR, else next to this program\n"
            "(on Fuchsia: /pkg/bin).\n",
            argv0);
}

static bool selected(const t_scenario *s, int nfilters, char **filters) {
    if (nfilters == 0)
        return true;
    for (int i = 0; i < nfilters; i++)
        if (strstr(s->id, filters[i]) || strstr(s->name, filters[i]))
            return true;
    return false;
}

int main(int argc, char **argv) {
    char *filters[64];
    int nfilters = 0;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc && nfilters < 64) {
            filters[nfilters++] = argv[++i];
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (list) {
        for (size_t i = 0; i < t_scenario_count; i++) {
            const t_scenario *s = &t_scenarios[i];
            printf("%-4s %-44s %s%s\n", s->id, s->name, s->fn ? "run" : "skip: ", s->fn ? "" : s->skip_reason);
        }
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    find_helper_dir(argv[0]);

    /* The runtime's own handles may be made on first use (the host kernel does): make them before counting. */
    (void)zx_job_default();
    (void)zx_process_self();
    (void)zx_thread_self();

    pthread_t wd;
    if (pthread_create(&wd, NULL, watchdog_main, NULL) != 0) {
        fprintf(stderr, "cannot start the watchdog thread\n");
        return 2;
    }
    pthread_detach(wd);

    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < t_scenario_count; i++) {
        const t_scenario *s = &t_scenarios[i];
        if (!selected(s, nfilters, filters))
            continue;
        if (!s->fn) {
            printf("SKIP %s %s: %s\n", s->id, s->name, s->skip_reason);
            pthread_mutex_lock(&wd_mu);
            wd_skipped = ++skipped;
            pthread_mutex_unlock(&wd_mu);
            continue;
        }
        uint32_t before[T_TRACKED], after[T_TRACKED];
        bool counted = handle_counts(before);
        fail_msg[0] = '\0';
        cleanup_msg[0] = '\0';
        at_file = NULL;
        cleanup_count = 0;
        watchdog_set(s);
        in_scenario = true;
        if (setjmp(fail_jmp) == 0)
            s->fn();
        in_scenario = false;
        /* A failing check inside a cleanup is reported, not re-entered. */
        if (setjmp(fail_jmp) == 0) {
            in_scenario = true;
            run_cleanups();
        } else if (!cleanup_msg[0]) {
            snprintf(cleanup_msg, sizeof cleanup_msg, "cleanup: %.900s", fail_msg);
            run_cleanups();
        }
        in_scenario = false;
        watchdog_set(NULL);
        if (!fail_msg[0] && cleanup_msg[0])
            snprintf(fail_msg, sizeof fail_msg, "%s", cleanup_msg);
        if (!fail_msg[0] && counted && handle_counts(after)) {
            for (size_t k = 0; k < T_TRACKED; k++) {
                if (after[k] != before[k]) {
                    snprintf(fail_msg, sizeof fail_msg,
                             "handle leak: %u handles of object type %u before the scenario, %u after",
                             (unsigned)before[k], (unsigned)tracked_types[k], (unsigned)after[k]);
                    break;
                }
            }
        }
        pthread_mutex_lock(&wd_mu);
        if (fail_msg[0]) {
            printf("FAIL %s %s: %s\n", s->id, s->name, fail_msg);
            wd_failed = ++failed;
        } else {
            printf("PASS %s %s\n", s->id, s->name);
            wd_passed = ++passed;
        }
        pthread_mutex_unlock(&wd_mu);
    }
    remove_progress_files(); /* none should be left: a cleanup that could not run */
    if (!stacks_in_use)
        for (size_t i = 0; i < stack_count; i++)
            free(stacks[i]);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    fflush(stdout);
    return failed ? 1 : 0;
}
