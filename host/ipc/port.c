/* Ports: zx_port_create, zx_port_queue (user packets), zx_port_wait.
 *
 * Zircon rules kept here (port_dispatcher.cc and syscalls/port.cc):
 * - Options 0 or ZX_PORT_BIND_TO_INTERRUPT, else INVALID_ARGS.  Default rights have no WAIT: a port is not a
 *   waitable object (wait_one on it is ACCESS_DENIED) and it asserts no signals.
 * - zx_port_queue (WRITE right): the packet is copied and its type forced to ZX_PKT_TYPE_USER (key, status and
 *   payload are kept); past 2048 queued user packets the port is full: SHOULD_WAIT.
 * - zx_port_wait (READ right): packets come out in FIFO order; a queued packet is returned even when the
 *   deadline has passed; with none, the wait ends TIMED_OUT at the deadline.  A NULL packet pointer still
 *   consumes the packet (INVALID_ARGS, as a failed copy-out does).
 * - A port that loses its last handle drops its packets.  Closing the port's handle does NOT end a wait in
 *   progress (the waiting thread holds the port, and nothing posts to it): the wait runs to its deadline.
 * - A suspended waiter takes nothing while suspended: queued packets stay in the port, and after the resume the
 *   wait takes the first one (SuspendPortCall) -- Zircon's wait returns INTR_RETRY, suspends, and is retried.
 *
 * Host limitations: no zx_object_wait_async (no signal packets), no zx_port_cancel, no interrupt binding (the
 * option is accepted and means nothing: the host has no interrupt objects).
 *
 * Built only where used (build_ffi.py compiles host's top-level .c files only, not host/ipc/): the
 * conformance suite (conformance/Makefile IPC_SRCS) and the core stress (tests/sanitize).  The core knows ports
 * only through their hk_object_ops_t.
 */
#include <stdlib.h>
#include <string.h>

#include <zircon/syscalls/port.h>

#include "kernel.h"

#define MAX_USER_PACKETS 2048u /* Zircon: kMaxAllocatedPacketCount / 8, checked before queueing one more */

typedef struct port_packet {
    struct port_packet *next;
    zx_port_packet_t packet;
} port_packet_t;

typedef struct {
    hk_link_t link; /* in the port's waiters while asleep */
    hk_sleeper_t sleeper;
} port_waiter_t;

typedef struct {
    hk_object_t base;
    uint32_t options;
    port_packet_t *head, *tail;
    uint32_t count;
    bool zero_handles;
    hk_link_t waiters;
} hk_port_t;

static hk_port_t *as_port(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_port_t, base); }

static void free_packets(hk_port_t *port) {
    port_packet_t *p = port->head;
    port->head = port->tail = NULL;
    port->count = 0;
    while (p != NULL) {
        port_packet_t *next = p->next;
        free(p);
        p = next;
    }
}

static void port_on_zero_handles(hk_object_t *obj) {
    hk_port_t *port = as_port(obj);
    port->zero_handles = true;
    free_packets(port); /* waiters, if any, keep waiting until their deadline (Zircon) */
}

static void port_destroy(hk_object_t *obj) {
    hk_port_t *port = as_port(obj);
    free_packets(port);
    free(port);
}

static zx_koid_t port_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t port_ops = {
    .on_zero_handles = port_on_zero_handles,
    .destroy = port_destroy,
    .related_koid = port_related_koid,
};

zx_status_t zx_port_create(uint32_t options, zx_handle_t *out) {
    if ((options != 0 && options != ZX_PORT_BIND_TO_INTERRUPT) || out == NULL) return ZX_ERR_INVALID_ARGS;
    hk_port_t *port = calloc(1, sizeof(*port));
    if (port == NULL) return ZX_ERR_NO_MEMORY;
    hk_lock();
    hk_object_init(&port->base, ZX_OBJ_TYPE_PORT, &port_ops);
    port->options = options;
    hk_list_init(&port->waiters);
    zx_status_t status = hk_handle_alloc(&port->base, ZX_DEFAULT_PORT_RIGHTS, out);
    hk_object_unref(&port->base);
    hk_unlock();
    return status;
}

zx_status_t zx_port_queue(zx_handle_t handle, const zx_port_packet_t *packet) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE, &obj, NULL);
    if (status == ZX_OK && packet == NULL) status = ZX_ERR_INVALID_ARGS;
    hk_port_t *port = status == ZX_OK ? as_port(obj) : NULL;
    if (status == ZX_OK && port->zero_handles) status = ZX_ERR_BAD_HANDLE;
    if (status == ZX_OK && port->count > MAX_USER_PACKETS) status = ZX_ERR_SHOULD_WAIT;
    port_packet_t *p = NULL;
    if (status == ZX_OK && (p = malloc(sizeof(*p))) == NULL) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK) {
        p->next = NULL;
        p->packet = *packet;
        p->packet.type = ZX_PKT_TYPE_USER;
        if (port->tail != NULL) port->tail->next = p;
        else port->head = p;
        port->tail = p;
        port->count++;
        /* Wake every waiter: each one looks again under the lock, and one that is being suspended leaves the
         * packet to the others (or to itself, after its resume). */
        HK_LIST_FOR_EACH(it, &port->waiters) hk_sleeper_wake(&HK_CONTAINER_OF(it, port_waiter_t, link)->sleeper);
    }
    hk_unlock();
    return status;
}

zx_status_t zx_port_wait(zx_handle_t handle, zx_time_t deadline, zx_port_packet_t *packet) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_PORT, ZX_RIGHT_READ, &obj, NULL);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_port_t *port = as_port(obj);
    hk_object_ref(&port->base); /* the wait holds the port, whatever happens to the handle */
    port_waiter_t w;
    hk_list_init(&w.link);
    for (;;) {
        hk_park_if_stopped_locked(); /* never take a packet while a suspension is pending */
        port_packet_t *p = port->head;
        if (p != NULL) {
            port->head = p->next;
            if (port->head == NULL) port->tail = NULL;
            port->count--;
            if (packet != NULL) *packet = p->packet;
            else status = ZX_ERR_INVALID_ARGS;
            free(p);
            break;
        }
        if (hk_now() >= deadline) {
            status = ZX_ERR_TIMED_OUT;
            break;
        }
        hk_list_add_tail(&port->waiters, &w.link);
        hk_sleep_locked(&w.sleeper, deadline, ZX_THREAD_STATE_BLOCKED_PORT);
        hk_list_remove(&w.link);
    }
    hk_object_unref(&port->base);
    hk_unlock();
    return status;
}
