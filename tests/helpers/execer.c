/* Test helper: a worker thread that execs while the main thread runs (or is suspended).
 *
 * usage: execer PATH TRIGGER
 *
 * PATH is created with 5 uint64 slots and mapped shared.  Before the exec: the main thread advances slot 0, a
 * worker thread slot 1, about every millisecond; slot 2 holds the pid; slot 3 is 1.  Once TRIGGER exists the worker
 * execs this program again ("execer PATH --after"), which Linux does by ending every other thread and giving the
 * worker the main thread's id.  After the exec: slot 3 is 2, slot 2 the (same) pid, and the only thread advances
 * slot 4.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t *slots;
static const char *path, *trigger;

static void count(int i) {
    const struct timespec ms = {0, 1000000};
    __atomic_store_n(&slots[i], __atomic_load_n(&slots[i], __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
    nanosleep(&ms, NULL);
}

static void *worker(void *arg) {
    while (access(trigger, F_OK) != 0) count(1);
    char *args[] = {(char *)"execer", (char *)path, (char *)"--after", NULL};
    execv("/proc/self/exe", args);
    perror("execv");
    _exit(1);
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATH TRIGGER | PATH --after\n", argv[0]);
        return 2;
    }
    path = argv[1];
    trigger = argv[2];
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 5 * sizeof(uint64_t)) != 0) {
        perror(path);
        return 1;
    }
    slots = mmap(NULL, 5 * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    __atomic_store_n(&slots[2], (uint64_t)getpid(), __ATOMIC_RELEASE);
    if (strcmp(trigger, "--after") == 0) {
        __atomic_store_n(&slots[3], 2, __ATOMIC_RELEASE);
        for (;;) count(4);
    }
    __atomic_store_n(&slots[3], 1, __ATOMIC_RELEASE);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    for (;;) count(0);
}
