/* Test helper: a main thread that ends with pthread_exit while a worker thread runs on.
 *
 * usage: pexit PATH TRIGGER
 *
 * PATH is created with 2 uint64 slots and mapped shared: the worker advances slot 0 about every millisecond; slot 1
 * holds the program's pid (written before the worker starts).  The main thread waits until TRIGGER exists, then
 * calls pthread_exit: Linux keeps the program (and its main thread's id, as a zombie) until the worker ends too.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t *slots;

static void *worker(void *arg) {
    const struct timespec ms = {0, 1000000};
    for (;;) {
        __atomic_store_n(&slots[0], __atomic_load_n(&slots[0], __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
        nanosleep(&ms, NULL);
    }
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATH TRIGGER\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 2 * sizeof(uint64_t)) != 0) {
        perror(argv[1]);
        return 1;
    }
    slots = mmap(NULL, 2 * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    __atomic_store_n(&slots[1], (uint64_t)getpid(), __ATOMIC_RELEASE);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    const struct timespec poll = {0, 2000000};
    while (access(argv[2], F_OK) != 0) nanosleep(&poll, NULL);
    pthread_exit(NULL);
}
