/* fuchsia_run: drive host/fuchsia/runner.c (hk_fuchsia_spawn) from C, linked with the host kernel, and print one
 * JSON object for tests/test_fuchsia_first_light.py.
 *
 *   fuchsia_run exit IMAGE VDSO   run IMAGE to its end: its return code (ZX_INFO_PROCESS after TASK_TERMINATED),
 *                                 its debug_write output, the unserved syscalls counted by the runner
 *   fuchsia_run tick IMAGE VDSO   IMAGE prints "tick N" lines for ever: suspend the process (the lines stop),
 *                                 close the token (they resume), kill its job (TASK_TERMINATED, return code, the
 *                                 Linux pid is gone)
 *   fuchsia_run vmar IMAGE VDSO   IMAGE prints "vmar@0x<address>": a new handle to its root VMAR is written there
 *                                 (process_vm_writev: this program is its tracer's), then as exit
 *   fuchsia_run maps IMAGE VDSO   IMAGE prints "tick N" lines for ever: once it runs, its layout (hk_fuchsia_layout),
 *                                 /proc/PID/maps, its open fds and its Linux name; then kill its job.  This program
 *                                 holds an extra fd without close-on-exec meanwhile, which the image must not get.
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

#include "fuchsia/runner.h"
#include "kernel.h"

static char g_out[1 << 16];
static atomic_size_t g_out_len;
static atomic_int g_lines;
static int g_pipe[2];

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

static int64_t return_code(zx_handle_t proc, zx_status_t *status) {
    zx_info_process_t info;
    memset(&info, 0, sizeof info);
    *status = zx_object_get_info(proc, ZX_INFO_PROCESS, &info, sizeof info, NULL, NULL);
    return info.return_code;
}

int main(int argc, char **argv) {
    bool maps = argc == 4 && strcmp(argv[1], "maps") == 0;
    bool vmar = argc == 4 && strcmp(argv[1], "vmar") == 0;
    if (argc != 4 || (strcmp(argv[1], "exit") != 0 && strcmp(argv[1], "tick") != 0 && !maps && !vmar)) {
        fprintf(stderr, "usage: fuchsia_run exit|tick|maps|vmar IMAGE VDSO\n");
        return 2;
    }
    alarm(60); /* a hang fails the test instead of blocking it */
    if (pipe2(g_pipe, O_CLOEXEC) != 0) return perror("pipe"), 2;
    pthread_t rt;
    pthread_create(&rt, NULL, reader, NULL);

    zx_handle_t job;
    zx_status_t st = zx_job_create(zx_job_default(), 0, &job);
    if (st != ZX_OK) return fprintf(stderr, "zx_job_create: %d\n", st), 2;
    zx_handle_t proc = ZX_HANDLE_INVALID;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH];
    int extra = maps ? dup(STDIN_FILENO) : -1; /* inheritable: a forked copy of this program would keep it */
    st = hk_fuchsia_spawn(job, argv[2], argv[3], "first-light", g_pipe[1], &proc, err);
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
        bool gone = kill(pid, 0) != 0 && errno == ESRCH;
        printf(", \"before\": %d, \"suspend\": %d, \"held0\": %d, \"held1\": %d, \"close\": %d, \"resumed\": %d, "
               "\"kill\": %d, \"wait\": %d, \"terminated\": %s, \"info\": %d, \"return_code\": %" PRId64
               ", \"pid_gone\": %s",
               before, s_suspend, held0, held1, s_close, resumed, s_kill, s_wait,
               (seen & ZX_TASK_TERMINATED) ? "true" : "false", s_info, rc, gone ? "true" : "false");
    } else {
        if (vmar) {
            /* Wait for the address, then hand the program its root VMAR handle. */
            const char *tag = NULL;
            for (int i = 0; i < 1000 && tag == NULL; i++) {
                size_t n = atomic_load(&g_out_len);
                g_out[n] = '\0';
                tag = strstr(g_out, "vmar@0x");
                if (tag == NULL || strchr(tag, '\n') == NULL) {
                    tag = NULL;
                    sleep_ms(5);
                }
            }
            zx_handle_t root = ZX_HANDLE_INVALID;
            zx_status_t s_root = tag != NULL ? hk_fuchsia_root_vmar(proc, &root) : ZX_ERR_TIMED_OUT;
            unsigned long long where = tag != NULL ? strtoull(tag + 5, NULL, 16) : 0;
            struct iovec local = {&root, sizeof root}, remote = {(void *)(uintptr_t)where, sizeof root};
            ssize_t put = s_root == ZX_OK ? process_vm_writev(pid, &local, 1, &remote, 1, 0) : -1;
            printf(", \"root_vmar\": %d, \"handed\": %s", s_root, put == (ssize_t)sizeof root ? "true" : "false");
        }
        zx_signals_t seen = 0;
        zx_status_t s_wait = zx_object_wait_one(proc, ZX_TASK_TERMINATED, zx_deadline_after(20ll * 1000 * 1000 * 1000), &seen);
        zx_status_t s_info;
        int64_t rc = return_code(proc, &s_info);
        bool gone = kill(pid, 0) != 0 && errno == ESRCH;
        printf(", \"wait\": %d, \"terminated\": %s, \"info\": %d, \"return_code\": %" PRId64 ", \"pid_gone\": %s",
               s_wait, (seen & ZX_TASK_TERMINATED) ? "true" : "false", s_info, rc, gone ? "true" : "false");
        /* The VMO handles the program made live in this program's table until the runner releases them, just
         * after TASK_TERMINATED. */
        zx_info_process_handle_stats_t stats;
        for (int i = 0; i < 200; i++) {
            memset(&stats, 0, sizeof stats);
            zx_object_get_info(zx_process_self(), ZX_INFO_PROCESS_HANDLE_STATS, &stats, sizeof stats, NULL, NULL);
            if (stats.handle_count[ZX_OBJ_TYPE_VMO] == 0) break;
            sleep_ms(5);
        }
        printf(", \"vmo_handles_left\": %u", stats.handle_count[ZX_OBJ_TYPE_VMO]);
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
