/* Reading Linux's /proc for tasks: the one place.
 *
 * The host kernel learns what Linux knows of a task -- its name, the system call it sleeps or stopped in, its
 * thread group and parent, its CPU figures -- from small /proc files.  The file reading and the formats shared by
 * more than one caller live here; the kind files (process.c, self_thread.c, task_stats.c, thread_state.c) and the
 * spawn backend (linux_*.c) call these, and nothing here names a backend.  None of it needs the kernel lock, none
 * of it blocks on anything the kernel holds, and a task that is gone simply gives nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"

bool hk_read_proc(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return len > 0;
}

void hk_proc_comm(pid_t tid, char name[ZX_MAX_NAME_LEN]) {
    char path[64];
    if (tid == HK_PROC_SELF)
        snprintf(path, sizeof(path), "/proc/self/comm");
    else if (tid == HK_PROC_THREAD_SELF)
        snprintf(path, sizeof(path), "/proc/thread-self/comm");
    else
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
    name[0] = '\0';
    if (hk_read_proc(path, name, ZX_MAX_NAME_LEN)) name[strcspn(name, "\n")] = '\0';
}

bool hk_proc_syscall(pid_t pid, pid_t tid, long *nr, unsigned long args[2]) {
    char path[96], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return false;
    if (args != NULL) args[0] = args[1] = 0;
    /* "nr arg0 .. arg5 sp pc" while in a call; "-1 sp pc" outside one; "running" if it runs (it woke meanwhile). */
    char *end;
    long n = strtol(buf, &end, 10);
    if (strncmp(buf, "running", 7) == 0 || end == buf) {
        *nr = HK_PROC_SYSCALL_RUNNING;
        return true;
    }
    *nr = n;
    if (n >= 0 && args != NULL)
        for (int i = 0; i < 2; i++) args[i] = strtoul(end, &end, 16);
    return true;
}

pid_t hk_proc_status_field(pid_t tid, const char *field) {
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return -1;
    size_t flen = strlen(field);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, field, flen) == 0) return (pid_t)strtol(line + flen, NULL, 10);
    }
    return -1;
}

bool hk_proc_maps(pid_t pid, hk_proc_map_fn fn, void *ctx) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re"); /* line by line: a process's maps can be far larger than one buffer */
    if (f == NULL) return false;
    char line[4096 + 128]; /* PATH_MAX and the fields before it */
    bool more = true;
    while (more && fgets(line, sizeof(line), f) != NULL) {
        uint64_t lo, hi;
        int name_at = 0;
        /* "lo-hi perms offset dev inode   name" */
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %*s %*s %*s %n", &lo, &hi, &name_at) < 2) continue;
        char *name = name_at > 0 ? line + name_at : line + strlen(line);
        name[strcspn(name, "\n")] = '\0';
        more = fn(ctx, lo, hi, name);
    }
    fclose(f);
    return true;
}
