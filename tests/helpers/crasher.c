/* A program that takes one CPU exception, for the exception tests (tests/test_exception.py) and the debugger demo.
 *
 *   crasher null       read through a NULL pointer (a page fault at address 0), then exit 3 if it ever goes on
 *   crasher int3       a software breakpoint (int3 / brk #0), then exit 0 -- a handler that marks it HANDLED lets
 *                      it run on
 *   crasher ud         an undefined instruction (ud2 / udf #0)
 *   crasher thread     start a second thread that reads through NULL (the main thread waits for it)
 *   crasher child      fork a child that does `null` (a grandchild of the job it was spawned into), wait for it
 *   crasher spin       loop for ever (a thread to suspend)
 *
 * Before the fault it writes "ready\n" to stdout and flushes, so a test can bind a channel first if it wants.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int *volatile g_null;

static int do_null(void) {
    int v = *g_null; /* faults: g_null is NULL */
    return v == 0 ? 3 : 4;
}

static void do_int3(void) {
#if defined(__x86_64__)
    __asm__ volatile("int3");
#elif defined(__aarch64__)
    __asm__ volatile("brk #0");
#endif
}

static void do_ud(void) {
#if defined(__x86_64__)
    __asm__ volatile("ud2");
#elif defined(__aarch64__)
    __asm__ volatile("udf #0");
#endif
}

static void *thread_main(void *arg) {
    (void)arg;
    do_null();
    return NULL;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "null";
    if (argc > 2) {
        /* Wait for a line on stdin before the fault: the test binds its channel meanwhile. */
        char line[16];
        if (fgets(line, sizeof line, stdin) == NULL) return 9;
    }
    if (strcmp(what, "null") == 0) return do_null();
    if (strcmp(what, "int3") == 0) {
        do_int3();
        return 0;
    }
    if (strcmp(what, "ud") == 0) {
        do_ud();
        return 5;
    }
    if (strcmp(what, "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) != 0) return 6;
        pthread_join(t, NULL);
        return 7;
    }
    if (strcmp(what, "child") == 0) {
        pid_t pid = fork();
        if (pid == 0) _exit(do_null());
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    }
    if (strcmp(what, "spin") == 0) {
        for (volatile unsigned long i = 0;; i++) {
        }
    }
    return 8;
}
