/* Test helper: a program that creates short-lived threads without pause.
 *
 * usage: breeder PATH
 *
 * Four creator threads (the main thread among them) create threads as fast as they can.  PATH is created with 3
 * uint64 slots and mapped shared: slot 0 counts the threads created, slot 1 the created threads that ran (each adds
 * one, then ends), slot 2 holds the program's pid (written first).  At most 16 created threads exist at a time.
 */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define CREATORS 4 /* the main thread and three more */

static volatile uint64_t *slots;
static sem_t room;

static void bump(int i) { __atomic_fetch_add(&slots[i], 1, __ATOMIC_RELEASE); }

static void *born(void *arg) {
    bump(1);
    sem_post(&room);
    return arg;
}

static void *creator(void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        while (sem_wait(&room) != 0) {
        }
        pthread_t t;
        if (pthread_create(&t, &attr, born, NULL) != 0) {
            perror("pthread_create");
            _exit(1);
        }
        bump(0);
    }
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 3 * sizeof(uint64_t)) != 0) {
        perror(argv[1]);
        return 1;
    }
    slots = mmap(NULL, 3 * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    __atomic_store_n(&slots[2], (uint64_t)getpid(), __ATOMIC_RELEASE);
    if (sem_init(&room, 0, 16) != 0) return 1;
    for (int i = 0; i < CREATORS - 1; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, creator, NULL) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    creator(NULL);
}
