/* Test helper: try to make a child that the host kernel's tracer cannot see, then check that the ordinary ways
 * of making threads and processes still work.
 *
 * usage: untraced DIR
 *
 * Tries clone(CLONE_UNTRACED | SIGCHLD) and clone3 with CLONE_UNTRACED (on x86_64 also through the i386 gate).
 * A child that does get made writes its pid to DIR/child-PID and sleeps forever (the parent waits for that file).
 * Then fork, vfork, pthread_create and posix_spawn are each tried once.  DIR/result gets, once everything is done,
 * one line per attempt: "NAME RET ERRNO" (RET is the call's result: a child pid or 0 for success, -1 for failure).
 * Then it sleeps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* The kernel's struct clone_args, version 0 (<linux/sched.h> clashes with <sched.h>). */
struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

extern char **environ;
static const char *dir;
static char results[4096];
static size_t used;

static void note(const char *name, long ret, int err) {
    used += (size_t)snprintf(results + used, sizeof(results) - used, "%s %ld %d\n", name, ret, err);
}

static _Noreturn void sleep_forever(void) {
    for (;;) pause();
}

/* In a child made by a raw clone: only async-signal-safe calls. */
static _Noreturn void escaped_child(void) {
    char path[4096], line[32];
    snprintf(path, sizeof(path), "%s/child-%d", dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
        if (write(fd, line, (size_t)len) != len) _exit(1);
        close(fd);
    }
    sleep_forever();
}

static void wait_for_child_file(long pid) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/child-%ld", dir, pid);
    const struct timespec ms = {0, 1000000};
    while (access(path, F_OK) != 0) nanosleep(&ms, NULL);
}

#if defined(__x86_64__)
/* A system call through the i386 gate (int 0x80 works from 64-bit code too, with i386 call numbers: clone is 120,
 * clone3 435): a filter that only knew x86_64 numbers would let clone(CLONE_UNTRACED) through there. */
static long syscall_i386(long nr, unsigned long a, unsigned long b) {
    long ret = nr;
    __asm__ volatile("int $0x80" : "+a"(ret) : "b"(a), "c"(b), "d"(0L), "S"(0L), "D"(0L)
                     : "memory", "r8", "r9", "r10", "r11");
    return ret;
}
#endif

static void try_untraced(void) {
    long ret = syscall(SYS_clone, (unsigned long)(CLONE_UNTRACED | SIGCHLD), 0L, 0L, 0L, 0L);
    if (ret == 0) escaped_child();
    note("clone-untraced", ret, ret < 0 ? errno : 0);
    if (ret > 0) wait_for_child_file(ret);

    struct clone_args_v0 args;
    memset(&args, 0, sizeof(args));
    args.flags = CLONE_UNTRACED;
    args.exit_signal = SIGCHLD;
    ret = syscall(SYS_clone3, &args, sizeof(args));
    if (ret == 0) escaped_child();
    note("clone3-untraced", ret, ret < 0 ? errno : 0);
    if (ret > 0) wait_for_child_file(ret);
#if defined(__x86_64__)
    ret = syscall_i386(120, (unsigned long)(CLONE_UNTRACED | SIGCHLD), 0);
    if (ret == 0) escaped_child();
    note("clone-untraced-i386", ret < 0 ? -1 : ret, ret < 0 ? (int)-ret : 0);
    if (ret > 0) wait_for_child_file(ret);

    /* clone3 (435 there too) needs its arguments below 4 GiB to be reachable through 32-bit registers. */
    struct clone_args_v0 *low =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        note("clone3-untraced-i386", -1, errno);
        return;
    }
    *low = args;
    ret = syscall_i386(435, (unsigned long)(uintptr_t)low, sizeof(*low));
    if (ret == 0) escaped_child();
    note("clone3-untraced-i386", ret < 0 ? -1 : ret, ret < 0 ? (int)-ret : 0);
    if (ret > 0) wait_for_child_file(ret);
#endif
}

static void *thread_main(void *arg) { return arg; }

static void reap(const char *name, pid_t pid) {
    int status = 0;
    if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        note(name, -1, ECHILD);
        return;
    }
    note(name, pid > 0 ? 0 : -1, pid > 0 ? 0 : errno);
}

static void try_ordinary(const char *self) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    reap("fork", pid);

    pid = vfork();
    if (pid == 0) _exit(0);
    reap("vfork", pid);

    pthread_t t;
    int err = pthread_create(&t, NULL, thread_main, NULL);
    if (err == 0) pthread_join(t, NULL);
    note("pthread_create", err ? -1 : 0, err);

    char *argv[] = {(char *)self, (char *)"--exit", NULL};
    err = posix_spawn(&pid, self, NULL, NULL, argv, environ);
    if (err != 0) {
        errno = err;
        pid = -1;
    }
    reap("posix_spawn", pid);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--exit") == 0) return 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    try_untraced();
    try_ordinary("/proc/self/exe");
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/result", dir);
    snprintf(tmp, sizeof(tmp), "%s/result.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(results, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) return 1;
    sleep_forever();
}
