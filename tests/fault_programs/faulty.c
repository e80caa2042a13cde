/* Programs that fail in the ways tests/test_faults.py needs, run by the host kernel's fdio_spawn.
 *
 * usage: faulty MODE [ARGS]
 *   segv | ill | fpe | abort | bus      die of that fault at once (an unhandled exception on Zircon)
 *   spin-then DIR WHAT [CODE]           start a spinning thread, write DIR/pid, wait for DIR/go, then WHAT:
 *                                       "exit" (exit(CODE) from the main thread while the spinner runs or is
 *                                       suspended) or "segv" (fault in the main thread)
 *   fork-sleep DIR                      fork a child that sleeps; write "PID CHILD_PID" to DIR/pid; sleep
 *   sleep                               sleep forever
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long spins;

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *spinner(void *arg) {
    (void)arg;
    for (;;) {
        spins++;
        pause_ms(1);
    }
    return NULL;
}

static void write_pid_file(const char *dir, pid_t a, pid_t b) {
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/pid", dir);
    snprintf(tmp, sizeof tmp, "%s/pid.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) exit(90);
    if (b) fprintf(f, "%d %d\n", (int)a, (int)b);
    else fprintf(f, "%d\n", (int)a);
    fclose(f);
    if (rename(tmp, path) != 0) exit(91);
}

static void wait_for(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    while (access(path, F_OK) != 0) pause_ms(1);
}

static void segv(void) {
    volatile int *volatile p = NULL;
    *p = 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "segv")) segv();
    if (!strcmp(mode, "ill")) __builtin_trap();
    if (!strcmp(mode, "fpe")) {
        volatile int zero = 0, one = 1; /* both volatile: gcc folds 1 / x into a comparison */
        volatile int x = one / zero;
        (void)x;
    }
    if (!strcmp(mode, "abort")) abort();
    if (!strcmp(mode, "bus")) {
        /* A page of a file past its end: SIGBUS on access. */
        FILE *f = tmpfile();
        if (f == NULL) return 3;
        volatile char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fileno(f), 0);
        if (m == MAP_FAILED) return 4;
        return m[0];
    }
    if (!strcmp(mode, "spin-then") && argc >= 4) {
        pthread_t t;
        pthread_create(&t, NULL, spinner, NULL);
        write_pid_file(argv[2], getpid(), 0);
        wait_for(argv[2], "go");
        if (!strcmp(argv[3], "exit")) exit(argc > 4 ? atoi(argv[4]) : 0);
        if (!strcmp(argv[3], "segv")) segv();
        return 5;
    }
    if (!strcmp(mode, "fork-sleep") && argc >= 3) {
        pid_t child = fork();
        if (child == 0) {
            for (;;) pause();
        }
        write_pid_file(argv[2], getpid(), child);
        for (;;) pause();
    }
    if (!strcmp(mode, "sleep")) {
        for (;;) pause();
    }
    return 2;
}
