#define _GNU_SOURCE /* pthread_timedjoin_np, F_DUPFD_CLOEXEC */
/* stdio of a Fuchsia program: see stdio.h.
 *
 * Each pump is a host thread holding one socket end (a handle of the host program's table) and a duplicate of a host
 * fd.  An output pump (fd 1, 2) reads the socket (zx_socket_read, SHOULD_WAIT: zx_object_wait_one for READABLE or
 * PEER_CLOSED) and writes everything to its fd; it ends at PEER_CLOSED once the socket is empty, as a reader of a
 * Zircon socket does.  The input pump (fd 0) polls its fd and an eventfd (its stop), writes what it read into the
 * socket, waiting for WRITABLE when the socket is full (MBufChain's 257024 bytes: SHOULD_WAIT), and closes its end at
 * EOF, so the program reads what is buffered and then PEER_CLOSED (fdio's end of file).  No pump ever runs on the
 * monitor thread, and none takes signals (a write to a closed pipe is EPIPE, not SIGPIPE).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../kernel.h"
#include "stdio.h"

#define PUMP_BUFFER 65536u
#define END_JOIN_SECONDS 5 /* how long hk_fx_stdio_end waits for a pump still writing to its fd */

typedef struct pump {
    int index;          /* 0, 1, 2 */
    int fd;             /* the host fd's duplicate, the pump's own */
    zx_handle_t socket; /* the host's end */
    int stop_fd;        /* input pump: an eventfd */
    atomic_bool stop;
    bool running;       /* a thread was started */
    pthread_t thread;
    pthread_mutex_t *mu; /* the input pump: guards socket, which it closes at end of file */
} pump_t;

struct hk_fx_stdio {
    pump_t pumps[3];
    pthread_mutex_t mu;
};

static bool write_all(int fd, const uint8_t *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static void *pump_out(void *arg) {
    pump_t *p = arg;
    uint8_t *buf = malloc(PUMP_BUFFER);
    bool ok = buf != NULL;
    while (ok) {
        size_t n = 0;
        zx_status_t st = zx_socket_read(p->socket, 0, buf, PUMP_BUFFER, &n);
        if (st == ZX_OK) {
            ok = write_all(p->fd, buf, n);
            continue;
        }
        if (st != ZX_ERR_SHOULD_WAIT || atomic_load(&p->stop)) break; /* PEER_CLOSED and empty, or told to stop */
        zx_signals_t observed = 0;
        st = zx_object_wait_one(p->socket, ZX_SOCKET_READABLE | ZX_SOCKET_PEER_CLOSED | ZX_USER_SIGNAL_0,
                                ZX_TIME_INFINITE, &observed);
        ok = st == ZX_OK;
    }
    free(buf);
    /* A reader gone (EPIPE): the program's writes fail from now on (WRITE_DISABLED on its end: BAD_STATE).  The
     * socket and the fd are closed by hk_fx_stdio_end, which signals the socket meanwhile. */
    if (!ok) zx_socket_shutdown(p->socket, ZX_SOCKET_SHUTDOWN_READ);
    return NULL;
}

/* Wait until the socket can take bytes; false when the pump is to end. */
static bool wait_writable(pump_t *p) {
    for (;;) {
        zx_signals_t observed = 0;
        zx_status_t st = zx_object_wait_one(p->socket, ZX_SOCKET_WRITABLE | ZX_SOCKET_PEER_CLOSED | ZX_USER_SIGNAL_0,
                                            ZX_TIME_INFINITE, &observed);
        if (st != ZX_OK || (observed & (ZX_SOCKET_PEER_CLOSED | ZX_USER_SIGNAL_0)) || atomic_load(&p->stop))
            return false;
        if (observed & ZX_SOCKET_WRITABLE) return true;
    }
}

static void *pump_in(void *arg) {
    pump_t *p = arg;
    uint8_t *buf = malloc(PUMP_BUFFER);
    bool ok = buf != NULL;
    while (ok && !atomic_load(&p->stop)) {
        struct pollfd pfd[2] = {{.fd = p->fd, .events = POLLIN}, {.fd = p->stop_fd, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0) {
            ok = errno == EINTR;
            continue;
        }
        if (pfd[1].revents != 0) break;
        if (pfd[0].revents == 0) continue;
        ssize_t got = read(p->fd, buf, PUMP_BUFFER);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break; /* EOF (or an error): the program sees PEER_CLOSED once it read what is buffered */
        size_t done = 0;
        while (ok && done < (size_t)got) {
            size_t n = 0;
            zx_status_t st = zx_socket_write(p->socket, 0, buf + done, (size_t)got - done, &n);
            if (st == ZX_OK) done += n;
            else if (st == ZX_ERR_SHOULD_WAIT) ok = wait_writable(p);
            else ok = false; /* PEER_CLOSED: the program closed its stdin */
        }
    }
    free(buf);
    pthread_mutex_lock(p->mu);
    zx_handle_close(p->socket);
    p->socket = ZX_HANDLE_INVALID;
    pthread_mutex_unlock(p->mu);
    close(p->fd);
    p->fd = -1;
    return NULL;
}

static void pumps_close(hk_fx_stdio_t *st) {
    for (int i = 0; i < 3; i++) {
        pump_t *p = &st->pumps[i];
        if (p->socket != ZX_HANDLE_INVALID) zx_handle_close(p->socket);
        if (p->fd >= 0) close(p->fd);
        if (p->stop_fd >= 0) close(p->stop_fd);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

hk_fx_stdio_t *hk_fx_stdio_new(const int fds[3], zx_handle_t ends[3], uint32_t infos[3], size_t *n,
                               zx_status_t *status) {
    *n = 0;
    hk_fx_stdio_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        *status = ZX_ERR_NO_MEMORY;
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    for (int i = 0; i < 3; i++) {
        st->pumps[i] = (pump_t){.index = i, .fd = -1, .socket = ZX_HANDLE_INVALID, .stop_fd = -1, .mu = &st->mu};
        atomic_init(&st->pumps[i].stop, false);
    }
    zx_status_t s = ZX_OK;
    zx_handle_t program_end[3] = {ZX_HANDLE_INVALID, ZX_HANDLE_INVALID, ZX_HANDLE_INVALID};
    for (int i = 0; i < 3 && s == ZX_OK; i++) {
        if (fds[i] < 0) continue;
        pump_t *p = &st->pumps[i];
        p->fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (p->fd < 0 && errno == EBADF) continue; /* not open: no handle for it, as fdio_spawn skips an fd it
                                                     * cannot clone for FDIO_SPAWN_CLONE_STDIO */
        if (p->fd < 0) s = ZX_ERR_NO_RESOURCES;
        if (s == ZX_OK && i == 0 && (p->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) s = ZX_ERR_NO_RESOURCES;
        if (s == ZX_OK) s = zx_socket_create(ZX_SOCKET_STREAM, &program_end[i], &p->socket);
    }
    for (int i = 0; i < 3 && s == ZX_OK; i++) {
        pump_t *p = &st->pumps[i];
        if (p->fd < 0) continue;
        if (hk_thread_spawn_quiet(&p->thread, NULL, i == 0 ? pump_in : pump_out, p) != 0) s = ZX_ERR_NO_RESOURCES;
        else p->running = true;
    }
    if (s != ZX_OK) {
        for (int i = 0; i < 3; i++) zx_handle_close(program_end[i]); /* the running pumps see PEER_CLOSED */
        hk_fx_stdio_end(st);
        *status = s;
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (program_end[i] == ZX_HANDLE_INVALID) continue;
        ends[*n] = program_end[i];
        infos[*n] = HK_PA_HND(HK_PA_FD, i);
        (*n)++;
    }
    *status = ZX_OK;
    return st;
}

void hk_fx_stdio_end(hk_fx_stdio_t *st) {
    if (st == NULL) return;
    bool detached = false;
    for (int i = 0; i < 3; i++) {
        pump_t *p = &st->pumps[i];
        if (!p->running) continue;
        atomic_store(&p->stop, true);
        if (p->stop_fd >= 0) { /* the input pump: in poll, or waiting for room in its socket (if still open) */
            uint64_t one = 1;
            (void)!write(p->stop_fd, &one, sizeof one);
            pthread_mutex_lock(&st->mu);
            if (p->socket != ZX_HANDLE_INVALID) zx_object_signal(p->socket, 0, ZX_USER_SIGNAL_0);
            pthread_mutex_unlock(&st->mu);
        } else {
            zx_object_signal(p->socket, 0, ZX_USER_SIGNAL_0); /* an output pump keeps its socket until joined */
        }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += END_JOIN_SECONDS;
    for (int i = 0; i < 3; i++) {
        pump_t *p = &st->pumps[i];
        if (!p->running) continue;
        if (pthread_timedjoin_np(p->thread, NULL, &until) != 0) {
            pthread_detach(p->thread); /* still writing to a full pipe: it ends on its own, owning its fd */
            detached = true;
        }
        p->running = false;
    }
    if (detached) return; /* a detached pump still uses its record: a few bytes left for the host program's life */
    pumps_close(st);
}
