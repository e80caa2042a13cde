/* Test helper: a program whose main thread blocks in one Linux system call, for ZX_INFO_THREAD's BLOCKED_* states.
 *
 * usage: blocker MODE
 *
 *   sleep   clock_nanosleep for a long time          futex   FUTEX_WAIT on a word nobody changes
 *   read    read from stdin (give it an empty pipe)  poll    poll stdin
 *   epoll   epoll_wait on stdin                      pause   pause()
 * A second thread of the process blocks in futex too (pthread_join on the main thread never returns), so a
 * program has threads in two different calls.  Writes "ready\n" to stdout before blocking.
 */
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static unsigned g_word;

static void *joiner(void *arg) {
    (void)arg;
    for (;;) syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s sleep|read|futex|poll|epoll|pause\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    pthread_t th;
    if (pthread_create(&th, NULL, joiner, NULL) != 0) return 1;
    if (write(1, "ready\n", 6) != 6) return 1;
    for (;;) {
        if (strcmp(mode, "sleep") == 0) {
            struct timespec ts = {1000, 0};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        } else if (strcmp(mode, "read") == 0) {
            char b;
            if (read(0, &b, 1) <= 0) return 0;
        } else if (strcmp(mode, "futex") == 0) {
            syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        } else if (strcmp(mode, "poll") == 0) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            if (poll(&p, 1, -1) > 0) return 0;
        } else if (strcmp(mode, "epoll") == 0) {
            int ep = epoll_create1(0);
            struct epoll_event ev = {.events = EPOLLIN};
            if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0) return 1;
            if (epoll_wait(ep, &ev, 1, -1) > 0) return 0;
        } else if (strcmp(mode, "pause") == 0) {
            pause();
        } else {
            return 2;
        }
    }
}
