/* Test helper: threads that each advance their own counter in a shared file, about every millisecond.
 *
 * usage: counter PATH NTHREADS [LATE_TRIGGER]
 *
 * PATH is created with NTHREADS + 2 uint64 slots and mapped shared: worker thread i advances slot i.  With
 * LATE_TRIGGER, the main thread starts one more worker (slot NTHREADS) once that file exists.  Slot NTHREADS + 1
 * holds the program's pid (written before any worker starts).  The main thread itself only sleeps.  Counters are
 * advanced with atomic stores so a reader of the file sees whole values.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t *slots;

static void *worker(void *arg) {
    uintptr_t i = (uintptr_t)arg;
    const struct timespec pause = {0, 1000000};
    for (;;) {
        __atomic_store_n(&slots[i], __atomic_load_n(&slots[i], __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int start_worker(uintptr_t i) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, (void *)i) != 0) {
        perror("pthread_create");
        return -1;
    }
    return pthread_detach(t);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH NTHREADS [LATE_TRIGGER]\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    if (n < 1 || n > 64) {
        fprintf(stderr, "NTHREADS must be 1..64\n");
        return 2;
    }
    size_t size = (size_t)(n + 2) * sizeof(uint64_t);
    int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        perror(argv[1]);
        return 1;
    }
    slots = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    __atomic_store_n(&slots[n + 1], (uint64_t)getpid(), __ATOMIC_RELEASE);
    for (long i = 0; i < n; i++) {
        if (start_worker((uintptr_t)i) != 0) return 1;
    }
    const struct timespec poll = {0, 5000000};
    if (argc > 3) {
        while (access(argv[3], F_OK) != 0) nanosleep(&poll, NULL);
        if (start_worker((uintptr_t)n) != 0) return 1;
    }
    for (;;) pause();
}
