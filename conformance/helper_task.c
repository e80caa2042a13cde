/* conformance_helper: the program the conformance scenarios start with fdio_spawn.
 *
 * Plain C and POSIX threads only, so the same source runs as a Linux program under the host kernel and as a
 * Fuchsia program (packaged next to the test binary as bin/conformance_helper).
 *
 *   exit CODE            exit at once with CODE
 *   sleep MS             sleep MS milliseconds, then exit 0
 *   block                sleep until killed
 *   spin PATH NTHREADS   NTHREADS threads (the main thread is one of them) each append one byte, 'a' + index,
 *                        to PATH about every millisecond, until killed: the file's size is observable progress
 *   churn PATH           like `spin PATH 1`, while a second thread keeps creating and joining short-lived
 *                        threads (threads are always dying while the process is suspended)
 *   crash                die of an unhandled fault (Zircon: ZX_TASK_RETCODE_EXCEPTION_KILL)
 *   spinreg              for a debugger (scen_debug.c): spin in two instructions ("cmp $0, R; branch back") until
 *                        register R (x86-64 r12, arm64 x19), zeroed first, is non-zero, while register A (x86-64
 *                        r13, arm64 x20) holds the address of a uint64 variable `poke` (0); then exit with
 *                        R + poke.  A debugger that writes R and *A sees its values come back as the exit code.
 *   fault PATH KIND      wait until PATH is not empty (the scenario bound its exception channels meanwhile), then
 *                        take one exception: KIND null (read through a NULL pointer: a page fault at 0) or trap (a
 *                        software breakpoint, int3 / brk #0); exit 0 if the thread is resumed after it
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const char *spin_path;

static void *spin_main(void *arg) {
    char ch = (char)('a' + (int)(intptr_t)arg);
    int fd = open(spin_path, O_WRONLY | O_APPEND);
    if (fd < 0) {
        perror("conformance_helper: open");
        exit(70);
    }
    for (;;) {
        if (write(fd, &ch, 1) != 1) {
            perror("conformance_helper: write");
            exit(71);
        }
        sleep_ms(1);
    }
    return NULL;
}

static void *noop_main(void *arg) {
    return arg;
}

static void *churn_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_t t;
        if (pthread_create(&t, NULL, noop_main, NULL) != 0) {
            fprintf(stderr, "conformance_helper: pthread_create failed\n");
            exit(73);
        }
        pthread_join(t, NULL);
    }
    return NULL;
}

static volatile uint64_t poke;

/* The spinreg loop; returns R + poke (see the comment at the top). */
static uint64_t spinreg(void) {
    uint64_t r;
#if defined(__x86_64__)
    __asm__ volatile("mov %1, %%r13\n"
                     "xor %%r12, %%r12\n"
                     "1: cmp $0, %%r12\n"
                     "je 1b\n"
                     "mov %%r12, %0\n"
                     : "=r"(r)
                     : "r"(&poke)
                     : "r12", "r13", "cc", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x20, %1\n"
                     "mov x19, #0\n"
                     "1: cmp x19, #0\n"
                     "b.eq 1b\n"
                     "mov %0, x19\n"
                     : "=r"(r)
                     : "r"(&poke)
                     : "x19", "x20", "cc", "memory");
#else
    r = 1;
#endif
    return r + poke;
}

static int usage(void);
static volatile int *volatile null_ptr;

static int fault_mode(const char *path, const char *kind) {
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > 0)
            break;
        sleep_ms(1);
    }
    if (strcmp(kind, "null") == 0)
        return *null_ptr == 0 ? 0 : 1;
    if (strcmp(kind, "trap") == 0) {
#if defined(__x86_64__)
        __asm__ volatile("int3");
#elif defined(__aarch64__)
        __asm__ volatile("brk #0");
#else
        __builtin_trap();
#endif
        return 0;
    }
    return usage();
}

static int usage(void) {
    fprintf(stderr, "usage: conformance_helper exit CODE | sleep MS | block | spin PATH NTHREADS | churn PATH | crash |"
                    " fault PATH null|trap | spinreg\n");
    return 64;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage();
    const char *mode = argv[1];
    if (strcmp(mode, "exit") == 0 && argc == 3)
        return atoi(argv[2]);
    if (strcmp(mode, "sleep") == 0 && argc == 3) {
        sleep_ms(atol(argv[2]));
        return 0;
    }
    if (strcmp(mode, "block") == 0 && argc == 2) {
        for (;;)
            sleep_ms(1000);
    }
    if (strcmp(mode, "spin") == 0 && argc == 4) {
        spin_path = argv[2];
        int n = atoi(argv[3]);
        if (n < 1 || n > 26)
            return usage();
        for (int i = 1; i < n; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, spin_main, (void *)(intptr_t)i) != 0) {
                fprintf(stderr, "conformance_helper: pthread_create failed\n");
                return 72;
            }
        }
        spin_main((void *)(intptr_t)0);
    }
    if (strcmp(mode, "churn") == 0 && argc == 3) {
        spin_path = argv[2];
        pthread_t t;
        if (pthread_create(&t, NULL, churn_main, NULL) != 0) {
            fprintf(stderr, "conformance_helper: pthread_create failed\n");
            return 72;
        }
        spin_main((void *)(intptr_t)0);
    }
    if (strcmp(mode, "crash") == 0 && argc == 2)
        __builtin_trap();
    if (strcmp(mode, "spinreg") == 0 && argc == 2)
        return (int)spinreg();
    if (strcmp(mode, "fault") == 0 && argc == 4)
        return fault_mode(argv[2], argv[3]);
    return usage();
}
