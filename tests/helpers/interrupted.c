/* Test helper: one blocking call, to be suspended in the middle of it.
 *
 * usage: interrupted MODE      (fd 3: the read end of a pipe)
 *
 * Writes "waiting PID\n" to stdout, then blocks without a timeout (sigtimedwait: one of a minute) in MODE's call on
 * fd 3: "epoll" (epoll_wait), "sigtimedwait" (for SIGUSR1, blocked), "poll" or "read".  Then writes
 * "RET ERRNO\n" (ERRNO 0 on success) and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s epoll|sigtimedwait|poll|read\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 3, &ev) != 0 || sigprocmask(SIG_BLOCK, &usr1, NULL) != 0) {
        perror("setup");
        return 1;
    }
    printf("waiting %d\n", (int)getpid());
    fflush(stdout);
    long ret;
    if (strcmp(mode, "epoll") == 0) {
        ret = epoll_wait(ep, &ev, 1, -1);
    } else if (strcmp(mode, "sigtimedwait") == 0) {
        struct timespec minute = {60, 0};
        ret = sigtimedwait(&usr1, NULL, &minute);
    } else if (strcmp(mode, "poll") == 0) {
        struct pollfd p = {.fd = 3, .events = POLLIN};
        ret = poll(&p, 1, -1);
    } else if (strcmp(mode, "read") == 0) {
        char c;
        ret = read(3, &c, 1);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%ld %d\n", ret, ret < 0 ? errno : 0);
    return 0;
}
