/* fuchsia_run: drive host/fuchsia/runner.c (hk_fuchsia_spawn) from C, linked with the host kernel, and print one
 * JSON object for tests/test_fuchsia_first_light.py.
 *
 *   fuchsia_run exit IMAGE VDSO   run IMAGE to its end: its return code (ZX_INFO_PROCESS after TASK_TERMINATED),
 *                                 its debug_write output, the unserved syscalls counted by the runner
 *   fuchsia_run tick IMAGE VDSO   IMAGE prints "tick N" lines for ever: suspend the process (the lines stop),
 *                                 close the token (they resume), kill its job (TASK_TERMINATED, return code, the
 *                                 Linux pid is gone)
 *   fuchsia_run vmar IMAGE VDSO   as exit, and a host handle to IMAGE's root VMAR (hk_fuchsia_root_vmar) is
 *                                 checked to name a VMAR (IMAGE takes its own from its bootstrap message)
 *   fuchsia_run maps IMAGE VDSO   IMAGE prints "tick N" lines for ever: once it runs, its layout (hk_fuchsia_layout),
 *                                 /proc/PID/maps, its open fds and its Linux name; then kill its job.  This program
 *                                 holds an extra fd without close-on-exec meanwhile, which the image must not get.
 *   fuchsia_run handles IMAGE VDSO TICK   IMAGE is FL_HANDLES, started with argv {"handles", "full"}, environ
 *                                 {"ZXPY_TEST=1"}, an event as PA_USER0 and the process of a TICK program as
 *                                 PA_USER1.  While it suspends the tick program, the tick lines must hold; while it
 *                                 blocks on the event, this driver suspends it, signals the event (it must not
 *                                 wake), resumes it (it wakes), and it kills itself; then every handle it held is
 *                                 released (the tick program runs again, the event has one handle left)
 *   fuchsia_run blockkill IMAGE VDSO   IMAGE is FL_HANDLES with argv {"handles", "block"}: it blocks on the event;
 *                                 its job is killed: it dies, the worker thread that served its wait is gone, the
 *                                 event has one handle left
 *   fuchsia_run exitrelease IMAGE VDSO   IMAGE is FL_HANDLES with argv {"handles", "exit"}: it exits with 5 holding
 *                                 handles; its table is empty afterwards and the event has one handle left
 *   fuchsia_run vmroot IMAGE VDSO   IMAGE is FL_HANDLES with argv {"handles", "vm"}: it maps a VMO in the root
 *                                 VMAR of its bootstrap message and exits with 6 holding a VMO; its table is empty
 *                                 afterwards
 *   fuchsia_run futex IMAGE VDSO   IMAGE is FL_FUTEX: once it says "waiting" (blocked in a 400 ms futex wait), its
 *                                 thread is suspended (THREAD_SUSPENDED must be asserted), held 800 ms (past the
 *                                 deadline: no line may come), resumed; it must then time out and exit 0
 *   fuchsia_run interp EXE LDSO VDSO   EXE (PT_INTERP ld.so.1) started through the dynamic linker LDSO
 *                                 (hk_fuchsia_spawn_interp) with argv {"ldprog", "one", "two"} and environ
 *                                 {"ZXPY_TEST=1", "ZXPY_OTHER=2"}, run to its end as for exit
 *   fuchsia_run threads IMAGE VDSO   IMAGE is FL_THREADS: once its threads handed over and it says "handoff done",
 *                                 its worker thread (named "worker") is suspended: its lines must stop while the
 *                                 first thread's go on; resumed, they go on; then the process is killed: both
 *                                 threads are dead and their Linux tasks gone
 *   fuchsia_run stdio IMAGE VDSO SCENARIO   IMAGE is FL_STDIO with argv {"stdio", SCENARIO}, started with
 *                                 hk_fuchsia_spawn_stdio and pipes as its fds 0-2:
 *                                 "write": two lines go to its stdin pipe, which is then closed; its stdout and
 *                                   stderr are read to their ends once it is reported dead
 *                                 "loader": a loader (hk_fx_loader_new_for) connection as PA_LDSVC_LOADER; the
 *                                   loader is freed after the program ended and its threads are counted
 *                                 "callsuspend": a channel as PA_USER0; once the program blocks in zx_channel_call on
 *                                   it, it is suspended, the request read and answered ("pong") while it is
 *                                   suspended (no reply may show), then resumed: the call returns the reply
 *                                 "callkill": as callsuspend, but the job is killed while the call waits: the worker
 *                                   thread serving it is gone
 *
 * The image's debug_write output goes to a pipe that a reader thread drains and counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuchsia/loader.h"
#include "fuchsia/runner.h"
#include "kernel.h"

/* <zircon/processargs.h>: the tags of the handles this driver hands to the FL_HANDLES program. */
#define PA_HND(type, arg) (((type)&0xFF) | (((arg)&0xFFFF) << 16))
#define PA_USER0 0xF0u
#define PA_USER1 0xF1u

static char g_out[1 << 16];
static atomic_size_t g_out_len;
static atomic_int g_lines;
static int g_pipe[2];

/* The FL_HANDLES program's output, apart from the tick program's (g_out). */
static char g_hout[1 << 16];
static atomic_size_t g_hout_len;
static int g_hpipe[2];
static pthread_mutex_t g_hout_mutex = PTHREAD_MUTEX_INITIALIZER;

static void *hreader(void *arg) {
    (void)arg;
    char buf[512];
    for (;;) {
        ssize_t n = read(g_hpipe[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        pthread_mutex_lock(&g_hout_mutex);
        size_t at = atomic_load(&g_hout_len);
        for (ssize_t i = 0; i < n && at < sizeof g_hout - 1; i++) g_hout[at++] = buf[i];
        g_hout[at] = '\0';
        atomic_store(&g_hout_len, at);
        pthread_mutex_unlock(&g_hout_mutex);
    }
}

static void *reader(void *arg) {
    (void)arg;
    char buf[512];
    for (;;) {
        ssize_t n = read(g_pipe[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        size_t at = atomic_load(&g_out_len);
        for (ssize_t i = 0; i < n; i++) {
            if (at < sizeof g_out - 1) g_out[at++] = buf[i];
            if (buf[i] == '\n') atomic_fetch_add(&g_lines, 1);
        }
        atomic_store(&g_out_len, at);
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Wait until the tick count exceeds `than`, at most ms; the count. */
static int wait_lines_above(int than, long ms) {
    for (long waited = 0; waited < ms && atomic_load(&g_lines) <= than; waited += 5) sleep_ms(5);
    return atomic_load(&g_lines);
}

static void json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static pid_t process_pid(zx_handle_t proc) {
    hk_object_t *obj;
    pid_t pid = 0;
    hk_lock();
    if (hk_handle_get(proc, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_NONE, &obj, NULL) == ZX_OK) {
        hk_process_t *p = HK_CONTAINER_OF(obj, hk_process_t, base);
        pid = p->ops->pid(p);
    }
    hk_unlock();
    return pid;
}

/* How many handles name h's object (host-kernel internals: the driver is linked with the kernel). */
static uint32_t handle_count(zx_handle_t h) {
    hk_object_t *obj;
    uint32_t n = 0;
    hk_lock();
    if (hk_handle_get(h, ZX_OBJ_TYPE_NONE, ZX_RIGHT_NONE, &obj, NULL) == ZX_OK) n = obj->handles;
    hk_unlock();
    return n;
}

/* Handles left in the Fuchsia program's own table. */
static uint32_t table_count(zx_handle_t proc) {
    hk_object_t *obj;
    uint32_t n = UINT32_MAX;
    hk_lock();
    if (hk_handle_get(proc, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_NONE, &obj, NULL) == ZX_OK) {
        hk_process_t *p = HK_CONTAINER_OF(obj, hk_process_t, base);
        if (p->handle_table != NULL) n = hk_handle_table_count(p->handle_table);
    }
    hk_unlock();
    return n;
}

static bool hout_has(const char *text) {
    pthread_mutex_lock(&g_hout_mutex);
    bool found = strstr(g_hout, text) != NULL;
    pthread_mutex_unlock(&g_hout_mutex);
    return found;
}

static bool wait_hout(const char *text, long ms) {
    for (long waited = 0; waited < ms; waited += 5) {
        if (hout_has(text)) return true;
        sleep_ms(5);
    }
    return hout_has(text);
}

/* The process's first thread, and its ZX_INFO_THREAD state. */
static zx_handle_t first_thread(zx_handle_t proc) {
    zx_koid_t koids[4];
    size_t actual = 0, avail = 0;
    zx_handle_t t = ZX_HANDLE_INVALID;
    if (zx_object_get_info(proc, ZX_INFO_PROCESS_THREADS, koids, sizeof koids, &actual, &avail) == ZX_OK && actual > 0)
        zx_object_get_child(proc, koids[0], ZX_RIGHT_SAME_RIGHTS, &t);
    return t;
}

static uint32_t thread_state(zx_handle_t t) {
    zx_info_thread_t info;
    memset(&info, 0, sizeof info);
    if (zx_object_get_info(t, ZX_INFO_THREAD, &info, sizeof info, NULL, NULL) != ZX_OK) return UINT32_MAX;
    return info.state;
}

/* Wait (at most ms) until thread t shows state; the last state read. */
static uint32_t wait_state(zx_handle_t t, uint32_t state, long ms) {
    uint32_t now = thread_state(t);
    for (long waited = 0; waited < ms && now != state; waited += 5) {
        sleep_ms(5);
        now = thread_state(t);
    }
    return now;
}

static zx_koid_t koid_of(zx_handle_t h) {
    zx_info_handle_basic_t b;
    memset(&b, 0, sizeof b);
    zx_object_get_info(h, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL);
    return b.koid;
}

/* OS threads of this program (the worker that serves a blocked call is one). */
static int os_threads(void) {
    char buf[4096];
    if (!hk_read_proc("/proc/self/status", buf, sizeof buf)) return -1;
    const char *at = strstr(buf, "Threads:");
    return at != NULL ? atoi(at + 8) : -1;
}

static int64_t return_code(zx_handle_t proc, zx_status_t *status);

/* How many times text occurs in the image's output so far. */
static int out_count(const char *text) {
    static char copy[sizeof g_out];
    size_t n = atomic_load(&g_out_len);
    memcpy(copy, g_out, n);
    copy[n] = '\0';
    int count = 0;
    for (const char *at = copy; (at = strstr(at, text)) != NULL; at += strlen(text)) count++;
    return count;
}

/* The Linux tasks of process pid (/proc/PID/task), or -1. */
static int task_count(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL) return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static zx_status_t spawn_handles(zx_handle_t job, const char *image, const char *vdso, const char *scenario,
                                 zx_handle_t event, zx_handle_t other, zx_handle_t *proc, char *err) {
    const char *argv[] = {"handles", scenario, NULL};
    const char *envp[] = {"ZXPY_TEST=1", NULL};
    zx_handle_t hs[2];
    uint32_t infos[2] = {PA_HND(PA_USER0, 0), PA_HND(PA_USER1, 0)};
    size_t n = 0;
    zx_handle_duplicate(event, ZX_RIGHT_SAME_RIGHTS, &hs[n++]);
    if (other != ZX_HANDLE_INVALID) zx_handle_duplicate(other, ZX_RIGHT_SAME_RIGHTS, &hs[n++]);
    return hk_fuchsia_spawn_etc(job, image, vdso, "handles", argv, envp, infos, hs, n, NULL, 0, g_hpipe[1], proc, err);
}

#define DEADLINE_S(s) zx_deadline_after((s)*1000ll * 1000 * 1000)

/* The end of a handles or stdio run: close the write ends of both pipes, give the readers a moment, print what the
 * program wrote as the JSON object's last field, and exit at once (the reader threads may still hold the pipes). */
static _Noreturn void finish_with_host_output(void) {
    close(g_hpipe[1]);
    close(g_pipe[1]);
    sleep_ms(20);
    printf(", \"output\": ");
    pthread_mutex_lock(&g_hout_mutex);
    json_string(g_hout, atomic_load(&g_hout_len));
    pthread_mutex_unlock(&g_hout_mutex);
    printf("}\n");
    fflush(stdout);
    _exit(0);
}

static int run_handles(const char *mode, const char *image, const char *vdso, const char *tick_image) {
    if (pipe2(g_hpipe, O_CLOEXEC) != 0) return perror("pipe"), 2;
    pthread_t ht;
    pthread_create(&ht, NULL, hreader, NULL);
    zx_handle_t job, event;
    zx_status_t st = zx_job_create(zx_job_default(), 0, &job);
    if (st == ZX_OK) st = zx_event_create(0, &event);
    if (st != ZX_OK) return fprintf(stderr, "setup: %d\n", st), 2;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH] = "";
    zx_handle_t tick = ZX_HANDLE_INVALID, proc = ZX_HANDLE_INVALID;
    bool full = strcmp(mode, "handles") == 0;
    if (full) st = hk_fuchsia_spawn(job, tick_image, vdso, "tick", g_pipe[1], &tick, err);
    if (full && st == ZX_OK) wait_lines_above(2, 5000); /* the tick program is well under way */
    int threads_before = os_threads();
    bool vm_scenario = strcmp(mode, "vmroot") == 0;
    bool exit_scenario = strcmp(mode, "exitrelease") == 0 || vm_scenario;
    const char *scenario = full ? "full" : vm_scenario ? "vm" : exit_scenario ? "exit" : "block";
    if (st == ZX_OK) st = spawn_handles(job, image, vdso, scenario, event, tick, &proc, err);
    printf("{\"spawn\": %d, \"spawn_error\": ", st);
    json_string(err, strlen(err));
    if (st != ZX_OK) {
        printf("}\n");
        return 0;
    }
    printf(", \"proc_koid\": %" PRIu64 ", \"job_koid\": %" PRIu64, koid_of(proc), koid_of(job));
    if (full) {
        bool s1 = wait_hout("tick-suspended\n", 10000);
        sleep_ms(50);
        int held0 = atomic_load(&g_lines);
        bool s2 = wait_hout("tick-held\n", 5000);
        int held1 = atomic_load(&g_lines);
        bool s3 = wait_hout("holding-token\n", 5000);
        sleep_ms(50);
        int kept0 = atomic_load(&g_lines);
        bool s4 = wait_hout("waiting\n", 5000);
        zx_handle_t th = first_thread(proc);
        uint32_t blocked_state = wait_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE, 5000);
        uint32_t event_handles_running = handle_count(event); /* the driver's and the program's PA_USER0 */
        zx_handle_t token;
        zx_status_t s_suspend = zx_task_suspend(proc, &token);
        zx_signals_t seen = 0;
        zx_status_t s_suspended = zx_object_wait_one(th, ZX_THREAD_SUSPENDED, DEADLINE_S(5), &seen);
        uint32_t suspended_state = thread_state(th);
        zx_status_t s_signal = zx_object_signal(event, 0, ZX_USER_SIGNAL_0);
        sleep_ms(300);
        bool woke_while_suspended = hout_has("woke\n");
        uint32_t still_state = thread_state(th);
        int kept_mid = atomic_load(&g_lines); /* the tick program is still held by the token the program keeps */
        zx_status_t s_close = zx_handle_close(token);
        bool woke = wait_hout("woke\n", 5000);
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, DEADLINE_S(10), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        int kept1 = atomic_load(&g_lines);
        int resumed = wait_lines_above(kept1, 3000);
        sleep_ms(50);
        printf(", \"steps\": [%s, %s, %s, %s], \"held0\": %d, \"held1\": %d, \"kept0\": %d, \"kept1\": %d, "
               "\"kept_mid\": %d, \"tick_resumed\": %d, \"event_handles_running\": %u, \"blocked_state\": %u, "
               "\"suspend\": %d, \"suspended\": %d, "
               "\"suspended_state\": %u, \"still_state\": %u, \"signal\": %d, \"woke_while_suspended\": %s, "
               "\"close\": %d, \"woke\": %s, \"wait\": %d, \"info\": %d, \"return_code\": %" PRId64
               ", \"event_handles_after\": %u, \"tick_handles_after\": %u, \"table_after\": %u",
               s1 ? "true" : "false", s2 ? "true" : "false", s3 ? "true" : "false", s4 ? "true" : "false", held0,
               held1, kept0, kept1, kept_mid, resumed, event_handles_running, blocked_state, s_suspend, s_suspended,
               suspended_state, still_state,
               s_signal, woke_while_suspended ? "true" : "false", s_close, woke ? "true" : "false", s_wait, s_info,
               rc, handle_count(event), handle_count(tick), table_count(proc));
        zx_handle_close(th);
        zx_task_kill(job);
        zx_object_wait_one(tick, ZX_TASK_TERMINATED, DEADLINE_S(10), &seen);
        zx_handle_close(tick);
    } else if (exit_scenario) {
        zx_signals_t seen = 0;
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, DEADLINE_S(10), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        printf(", \"wait\": %d, \"info\": %d, \"return_code\": %" PRId64 ", \"event_handles_after\": %u, "
               "\"table_after\": %u",
               s_wait, s_info, rc, handle_count(event), table_count(proc));
    } else {
        bool blocking = wait_hout("blocking\n", 10000);
        zx_handle_t th = first_thread(proc);
        /* Blocked in the wait: the worker serving it exists. */
        uint32_t blocked_state = wait_state(th, ZX_THREAD_STATE_BLOCKED_WAIT_ONE, 5000);
        uint32_t event_handles_running = handle_count(event);
        int threads_blocked = os_threads();
        zx_status_t s_kill = zx_task_kill(job);
        zx_signals_t seen = 0;
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, DEADLINE_S(10), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        int threads_after = threads_blocked;
        for (int i = 0; i < 1000 && threads_after >= threads_blocked; i++, sleep_ms(5)) threads_after = os_threads();
        printf(", \"event_handles_running\": %u, \"blocking\": %s, \"blocked_state\": %u, \"threads_before\": %d, "
               "\"threads_blocked\": %d, "
               "\"threads_after\": %d, \"kill\": %d, \"wait\": %d, \"info\": %d, \"return_code\": %" PRId64
               ", \"event_handles_after\": %u, \"table_after\": %u",
               event_handles_running, blocking ? "true" : "false", blocked_state, threads_before, threads_blocked,
               threads_after, s_kill,
               s_wait, s_info, rc, handle_count(event), table_count(proc));
        zx_handle_close(th);
    }
    zx_handle_close(proc);
    zx_handle_close(event);
    zx_handle_close(job);
    finish_with_host_output();
}

static int64_t return_code(zx_handle_t proc, zx_status_t *status) {
    zx_info_process_t info;
    memset(&info, 0, sizeof info);
    *status = zx_object_get_info(proc, ZX_INFO_PROCESS, &info, sizeof info, NULL, NULL);
    return info.return_code;
}

/* Read fd to its end (the runner's duplicate is closed once the program is reported dead). */
static size_t read_all(int fd, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        n += (size_t)got;
        if (n == cap) { /* keep the tail: a large write's last bytes are what the test checks */
            memmove(buf, buf + cap / 2, cap - cap / 2);
            n = cap - cap / 2;
        }
    }
    return n;
}

typedef struct {
    int fd;
    char *buf;
    size_t cap, len, total;
} drain_t;

static void *drain_main(void *arg) {
    drain_t *d = arg;
    char chunk[65536];
    for (;;) {
        ssize_t got = read(d->fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        d->total += (size_t)got;
        size_t room = d->cap - d->len;
        size_t take = (size_t)got < room ? (size_t)got : room;
        memcpy(d->buf + d->len, chunk, take);
        d->len += take;
    }
    return NULL;
}

static int run_stdio(const char *image, const char *vdso, const char *scenario) {
    if (pipe2(g_hpipe, O_CLOEXEC) != 0) return perror("pipe"), 2;
    pthread_t ht;
    pthread_create(&ht, NULL, hreader, NULL);
    int in[2], out[2], errp[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
        return perror("pipe"), 2;
    zx_handle_t job;
    zx_status_t st = zx_job_create(zx_job_default(), 0, &job);
    if (st != ZX_OK) return fprintf(stderr, "setup: %d\n", st), 2;
    const char *argv[] = {"stdio", scenario, NULL};
    bool loader = strncmp(scenario, "loader", 6) == 0;
    bool call = strncmp(scenario, "call", 4) == 0;
    hk_fx_loader_t *ldr = NULL;
    zx_handle_t hs[1], mine = ZX_HANDLE_INVALID;
    uint32_t infos[1];
    size_t nh = 0;
    if (loader) {
        ldr = hk_fx_loader_new_for(vdso, image);
        if (ldr == NULL || hk_fx_loader_connect(ldr, &hs[0]) != ZX_OK) return fprintf(stderr, "loader\n"), 2;
        infos[nh++] = PA_HND(HK_PA_LDSVC_LOADER, 0);
    } else if (call) {
        if (zx_channel_create(0, &mine, &hs[0]) != ZX_OK) return 2;
        infos[nh++] = PA_HND(PA_USER0, 0);
    }
    int threads_before = os_threads();
    const int fds[3] = {in[0], out[1], errp[1]};
    zx_handle_t proc = ZX_HANDLE_INVALID;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH] = "";
    st = hk_fuchsia_spawn_stdio(job, image, vdso, "stdio", argv, NULL, infos, hs, nh, NULL, 0, fds, g_hpipe[1], &proc, err);
    /* The runner holds duplicates: these ends are closed here, so reads end when the program's pumps end. */
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    printf("{\"spawn\": %d, \"spawn_error\": ", st);
    json_string(err, strlen(err));
    if (st != ZX_OK) {
        printf("}\n");
        return 0;
    }
    static char obuf[1 << 20], ebuf[1 << 16];
    drain_t od = {out[0], obuf, sizeof obuf, 0, 0};
    pthread_t ot;
    pthread_create(&ot, NULL, drain_main, &od);
    int threads_running = os_threads();
    zx_signals_t seen = 0;
    if (strcmp(scenario, "write") == 0) {
        const char text[] = "line one\nline two\n";
        (void)!write(in[1], text, sizeof text - 1);
        close(in[1]);
        in[1] = -1;
    } else if (call) {
        bool calling = wait_hout("calling\n", 10000);
        zx_handle_t th = first_thread(proc);
        uint32_t blocked_state = wait_state(th, ZX_THREAD_STATE_BLOCKED_CHANNEL, 5000);
        int threads_blocked = os_threads();
        printf(", \"calling\": %s, \"blocked_state\": %u, \"threads_blocked\": %d", calling ? "true" : "false",
               blocked_state, threads_blocked);
        if (strcmp(scenario, "callsuspend") == 0) {
            zx_handle_t token;
            zx_status_t s_suspend = zx_task_suspend(proc, &token);
            zx_status_t s_suspended = zx_object_wait_one(th, ZX_THREAD_SUSPENDED, DEADLINE_S(5), &seen);
            uint8_t req[64];
            uint32_t nb = 0, nhh = 0;
            zx_status_t s_read = zx_channel_read(mine, 0, req, NULL, sizeof req, 0, &nb, &nhh);
            uint8_t rsp[8] = {0, 0, 0, 0, 'p', 'o', 'n', 'g'};
            memcpy(rsp, req, 4); /* the kernel's txid */
            zx_status_t s_write = zx_channel_write(mine, 0, rsp, sizeof rsp, NULL, 0);
            sleep_ms(300);
            bool replied_while_suspended = hout_has("replied pong\n");
            zx_status_t s_close = zx_handle_close(token);
            bool replied = wait_hout("replied pong\n", 5000);
            printf(", \"suspend\": %d, \"suspended\": %d, \"read\": %d, \"request\": ", s_suspend, s_suspended, s_read);
            json_string((const char *)req + 4, nb > 4 ? nb - 4 : 0);
            printf(", \"txid_kernel_bit\": %s, \"write\": %d, \"replied_while_suspended\": %s, \"close\": %d, "
                   "\"replied\": %s",
                   (req[3] & 0x80) ? "true" : "false", s_write, replied_while_suspended ? "true" : "false", s_close,
                   replied ? "true" : "false");
        } else {
            /* More input than the program's stdin socket holds, which it never reads: the input pump waits for
             * room in the socket when the program dies, and must still end at once (not after the 5 s fallback). */
            static char junk[300000];
            fcntl(in[1], F_SETFL, O_NONBLOCK);
            size_t fed = 0;
            for (int i = 0; i < 400 && fed < sizeof junk; i++) {
                ssize_t n = write(in[1], junk + fed, sizeof junk - fed);
                if (n > 0) fed += (size_t)n;
                else sleep_ms(5);
            }
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            printf(", \"stdin_fed\": %zu, \"kill\": %d", fed, zx_task_kill(job));
            zx_object_wait_one(proc, ZX_TASK_TERMINATED, DEADLINE_S(20), &seen);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            printf(", \"kill_to_dead_ms\": %ld",
                   (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
        }
        zx_handle_close(th);
    }
    zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, DEADLINE_S(20), &seen);
    /* Right after TASK_TERMINATED, every byte the program wrote is in the pipes (and their ends are closed). */
    size_t elen = read_all(errp[0], ebuf, sizeof ebuf);
    pthread_join(ot, NULL);
    zx_status_t s_info;
    int64_t rc = return_code(proc, &s_info);
    int threads_after = os_threads();
    for (int i = 0; i < 200 && threads_after > threads_before + 1; i++, sleep_ms(5)) threads_after = os_threads();
    if (ldr != NULL) hk_fx_loader_free(ldr);
    int threads_final = os_threads();
    printf(", \"wait\": %d, \"info\": %d, \"return_code\": %" PRId64 ", \"threads_before\": %d, "
           "\"threads_running\": %d, \"threads_after\": %d, \"threads_final\": %d, \"table_after\": %u, "
           "\"stdout_total\": %zu, \"stdout\": ",
           s_wait, s_info, rc, threads_before, threads_running, threads_after, threads_final, table_count(proc),
           od.total);
    json_string(obuf, od.len < 200 ? od.len : 200);
    printf(", \"stdout_tail\": ");
    json_string(obuf + (od.len > 64 ? od.len - 64 : 0), od.len > 64 ? 64 : od.len);
    printf(", \"stderr\": ");
    json_string(ebuf, elen);
    if (mine != ZX_HANDLE_INVALID) zx_handle_close(mine);
    zx_handle_close(proc);
    zx_handle_close(job);
    finish_with_host_output();
}

int main(int argc, char **argv) {
    bool maps = argc == 4 && strcmp(argv[1], "maps") == 0;
    bool vmar = argc == 4 && strcmp(argv[1], "vmar") == 0;
    bool futex = argc == 4 && strcmp(argv[1], "futex") == 0;
    bool threads = argc == 4 && strcmp(argv[1], "threads") == 0;
    bool handles = argc == 5 && strcmp(argv[1], "handles") == 0;
    if (argc == 5 && strcmp(argv[1], "stdio") == 0) {
        alarm(60);
        if (pipe2(g_pipe, O_CLOEXEC) != 0) return perror("pipe"), 2;
        return run_stdio(argv[2], argv[3], argv[4]);
    }
    bool interp = argc == 5 && strcmp(argv[1], "interp") == 0;
    bool blockkill = argc == 4 && (strcmp(argv[1], "blockkill") == 0 || strcmp(argv[1], "exitrelease") == 0 ||
                                   strcmp(argv[1], "vmroot") == 0);
    if (!handles && !blockkill && !interp &&
        (argc != 4 || (strcmp(argv[1], "exit") != 0 && strcmp(argv[1], "tick") != 0 && !maps && !vmar && !futex && !threads))) {
        fprintf(stderr, "usage: fuchsia_run exit|tick|maps|vmar|futex|threads|blockkill|exitrelease|vmroot IMAGE VDSO | "
                        "handles IMAGE VDSO TICK | interp EXE LDSO VDSO\n");
        return 2;
    }
    alarm(60); /* a hang fails the test instead of blocking it */
    if (pipe2(g_pipe, O_CLOEXEC) != 0) return perror("pipe"), 2;
    pthread_t rt;
    pthread_create(&rt, NULL, reader, NULL);
    if (handles || blockkill) return run_handles(argv[1], argv[2], argv[3], handles ? argv[4] : NULL);

    zx_handle_t job;
    zx_status_t st = zx_job_create(zx_job_default(), 0, &job);
    if (st != ZX_OK) return fprintf(stderr, "zx_job_create: %d\n", st), 2;
    zx_handle_t proc = ZX_HANDLE_INVALID;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH];
    int extra = maps ? dup(STDIN_FILENO) : -1; /* inheritable: a forked copy of this program would keep it */
    if (interp) {
        /* A dynamically linked executable started through its dynamic linker, with arguments and environ. */
        const char *pargv[] = {"ldprog", "one", "two", NULL};
        const char *penv[] = {"ZXPY_TEST=1", "ZXPY_OTHER=2", NULL};
        st = hk_fuchsia_spawn_interp(job, argv[2], argv[3], argv[4], "ldprog", pargv, penv, NULL, NULL, 0, NULL, 0,
                                     NULL, g_pipe[1], &proc, err);
    } else {
        st = hk_fuchsia_spawn(job, argv[2], argv[3], "first-light", g_pipe[1], &proc, err);
    }
    printf("{\"spawn\": %d, \"spawn_error\": ", st);
    json_string(err, strlen(err));
    if (st != ZX_OK) {
        printf("}\n");
        return 0;
    }
    pid_t pid = process_pid(proc);
    printf(", \"pid_positive\": %s", pid > 0 ? "true" : "false");

    if (maps) {
        int lines = wait_lines_above(0, 5000);
        hk_fuchsia_layout_t lay;
        memset(&lay, 0, sizeof lay);
        zx_status_t s_layout = hk_fuchsia_layout(proc, &lay);
        printf(", \"extra_fd\": %d, \"lines\": %d, \"layout\": %d, \"image\": [%" PRIu64 ", %" PRIu64
               "], \"vdso\": [%" PRIu64 ", %" PRIu64 "], \"stack\": [%" PRIu64 ", %" PRIu64 "]",
               extra, lines, s_layout, lay.image_base, lay.image_size, lay.vdso_base, lay.vdso_size, lay.stack_base,
               lay.stack_size);
        char path[64], text[16384];
        snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
        FILE *f = fopen(path, "r");
        size_t n = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f != NULL) fclose(f);
        printf(", \"maps\": ");
        json_string(text, n);
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        f = fopen(path, "r");
        n = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f != NULL) fclose(f);
        printf(", \"comm\": ");
        json_string(text, n);
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        printf(", \"fds\": {");
        DIR *d = opendir(path);
        const char *sep = "";
        for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            char link[PATH_MAX + 64], target[PATH_MAX];
            snprintf(link, sizeof link, "%s/%s", path, e->d_name);
            ssize_t len = readlink(link, target, sizeof target - 1);
            printf("%s\"%s\": ", sep, e->d_name);
            json_string(target, len > 0 ? (size_t)len : 0);
            sep = ", ";
        }
        if (d != NULL) closedir(d);
        printf("}");
        zx_task_kill(job);
        zx_signals_t seen = 0;
        zx_object_wait_one(proc, ZX_TASK_TERMINATED, zx_deadline_after(10ll * 1000 * 1000 * 1000), &seen);
        printf(", \"terminated\": %s", (seen & ZX_TASK_TERMINATED) ? "true" : "false");
        close(extra);
    } else if (strcmp(argv[1], "tick") == 0) {
        int before = wait_lines_above(2, 5000);
        zx_handle_t token;
        zx_status_t s_suspend = zx_task_suspend(proc, &token);
        sleep_ms(100); /* the stop takes effect; a line in flight lands */
        int held0 = atomic_load(&g_lines);
        sleep_ms(300);
        int held1 = atomic_load(&g_lines);
        zx_status_t s_close = zx_handle_close(token);
        int resumed = wait_lines_above(held1, 2000);
        zx_status_t s_kill = zx_task_kill(job);
        zx_signals_t seen = 0;
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, zx_deadline_after(10ll * 1000 * 1000 * 1000), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        bool gone = pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; /* pid 0: it ended before it was read */
        printf(", \"before\": %d, \"suspend\": %d, \"held0\": %d, \"held1\": %d, \"close\": %d, \"resumed\": %d, "
               "\"kill\": %d, \"wait\": %d, \"terminated\": %s, \"info\": %d, \"return_code\": %" PRId64
               ", \"pid_gone\": %s",
               before, s_suspend, held0, held1, s_close, resumed, s_kill, s_wait,
               (seen & ZX_TASK_TERMINATED) ? "true" : "false", s_info, rc, gone ? "true" : "false");
    } else if (threads) {
        bool done = false;
        for (long waited = 0; waited < 10000 && !(done = out_count("handoff done\n") > 0); waited += 5) sleep_ms(5);
        sleep_ms(100);
        zx_koid_t koids[8];
        size_t actual = 0, avail = 0;
        zx_object_get_info(proc, ZX_INFO_PROCESS_THREADS, koids, sizeof koids, &actual, &avail);
        int tasks_before = task_count(pid);
        zx_handle_t main_t = ZX_HANDLE_INVALID, worker = ZX_HANDLE_INVALID;
        char name[ZX_MAX_NAME_LEN] = "";
        if (actual == 2) {
            zx_object_get_child(proc, koids[0], ZX_RIGHT_SAME_RIGHTS, &main_t);
            zx_object_get_child(proc, koids[1], ZX_RIGHT_SAME_RIGHTS, &worker);
            zx_object_get_property(worker, ZX_PROP_NAME, name, sizeof name);
        }
        zx_handle_t token = ZX_HANDLE_INVALID;
        zx_status_t s_suspend = zx_task_suspend(worker, &token);
        zx_signals_t seen = 0;
        zx_status_t s_suspended = zx_object_wait_one(worker, ZX_THREAD_SUSPENDED, zx_deadline_after(5ll * 1000 * 1000 * 1000), &seen);
        sleep_ms(50);
        int w0 = out_count("w\n"), m0 = out_count("m\n");
        sleep_ms(300);
        int w1 = out_count("w\n"), m1 = out_count("m\n");
        uint32_t main_state = thread_state(main_t);
        zx_status_t s_close = zx_handle_close(token);
        sleep_ms(200);
        int w2 = out_count("w\n");
        zx_status_t s_kill = zx_task_kill(proc);
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, zx_deadline_after(10ll * 1000 * 1000 * 1000), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        uint32_t main_after = thread_state(main_t), worker_after = thread_state(worker);
        bool gone = pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
        printf(", \"done\": %s, \"threads\": %zu, \"tasks\": %d, \"name\": ", done ? "true" : "false", actual,
               tasks_before);
        json_string(name, strlen(name));
        printf(", \"suspend\": %d, \"suspended\": %d, \"w0\": %d, \"w1\": %d, \"m0\": %d, \"m1\": %d, "
               "\"main_state\": %u, \"close\": %d, \"w2\": %d, \"kill\": %d, \"wait\": %d, \"terminated\": %s, "
               "\"info\": %d, \"return_code\": %" PRId64 ", \"main_after\": %u, \"worker_after\": %u, "
               "\"pid_gone\": %s",
               s_suspend, s_suspended, w0, w1, m0, m1, main_state, s_close, w2, s_kill, s_wait,
               (seen & ZX_TASK_TERMINATED) ? "true" : "false", s_info, rc, main_after, worker_after,
               gone ? "true" : "false");
        zx_handle_close(main_t);
        zx_handle_close(worker);
    } else {
        if (futex) {
            /* The thread blocked in its futex wait: suspended, held past its deadline, resumed. */
            int lines = 0;
            for (long waited = 0; waited < 5000 && (lines = atomic_load(&g_lines)) < 1; waited += 5) sleep_ms(5);
            sleep_ms(50); /* into the wait */
            zx_handle_t th = first_thread(proc);
            zx_handle_t token = ZX_HANDLE_INVALID;
            zx_status_t s_suspend = zx_task_suspend(th, &token);
            zx_signals_t seen = 0;
            zx_status_t s_suspended = zx_object_wait_one(th, ZX_THREAD_SUSPENDED, zx_deadline_after(5ll * 1000 * 1000 * 1000), &seen);
            uint32_t suspended_state = thread_state(th);
            sleep_ms(800);
            int held = atomic_load(&g_lines);
            zx_status_t s_close = zx_handle_close(token);
            printf(", \"lines_before\": %d, \"suspend\": %d, \"suspended\": %d, \"suspended_state\": %u, "
                   "\"lines_held\": %d, \"close\": %d",
                   lines, s_suspend, s_suspended, suspended_state, held, s_close);
            zx_handle_close(th);
        }
        if (vmar) {
            /* The host's own handle to the program's root VMAR (the program has its own, from its bootstrap). */
            zx_handle_t root = ZX_HANDLE_INVALID;
            zx_status_t s_root = hk_fuchsia_root_vmar(proc, &root);
            zx_info_handle_basic_t b;
            memset(&b, 0, sizeof b);
            if (s_root == ZX_OK) zx_object_get_info(root, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL);
            printf(", \"root_vmar\": %d, \"root_vmar_type\": %u", s_root, b.type);
            zx_handle_close(root);
        }
        zx_signals_t seen = 0;
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, zx_deadline_after(20ll * 1000 * 1000 * 1000), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        bool gone = pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; /* pid 0: it ended before it was read */
        printf(", \"wait\": %d, \"terminated\": %s, \"info\": %d, \"return_code\": %" PRId64 ", \"pid_gone\": %s",
               s_wait, (seen & ZX_TASK_TERMINATED) ? "true" : "false", s_info, rc, gone ? "true" : "false");
        /* The VMO handles the program made live in its own table, closed as it dies (before TASK_TERMINATED). */
        zx_info_process_handle_stats_t stats;
        memset(&stats, 0, sizeof stats);
        zx_object_get_info(proc, ZX_INFO_PROCESS_HANDLE_STATS, &stats, sizeof stats, NULL, NULL);
        printf(", \"vmo_handles_left\": %u, \"table_after\": %u", stats.handle_count[ZX_OBJ_TYPE_VMO],
               table_count(proc));
    }
    zx_handle_close(proc);
    zx_handle_close(job);
    close(g_pipe[1]);
    sleep_ms(20);
    char list[4096];
    hk_fuchsia_unserved_list(list, sizeof list);
    printf(", \"unserved\": ");
    json_string(list, strlen(list));
    printf(", \"output\": ");
    size_t n = atomic_load(&g_out_len);
    json_string(g_out, n);
    printf("}\n");
    fflush(stdout);
    _exit(0); /* the reader thread may still hold the pipe */
}
