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
 * zx_object_wait_async (syscalls/object_wait.cc sys_object_wait_async, PortDispatcher::MakeObserver):
 * - Check order: options (only ZX_WAIT_ASYNC_TIMESTAMP and, where the headers have it, ZX_WAIT_ASYNC_EDGE;
 *   anything else INVALID_ARGS), then the port (BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED without WRITE), then the
 *   handle (BAD_HANDLE, ACCESS_DENIED without WAIT), then NOT_SUPPORTED for an object that is not waitable (a port).
 * - One shot: the observer queues one ZX_PKT_TYPE_SIGNAL_ONE packet (key, status OK, signal.trigger = the signals
 *   asked for, observed = every signal active then, count 1, timestamp only with ZX_WAIT_ASYNC_TIMESTAMP) when a
 *   wanted signal is active -- at once if it already is, unless ZX_WAIT_ASYNC_EDGE asks for a transition -- and is
 *   removed.  The packet lives in the observer: it does not count against the user packet limit.
 * - Closing the handle the wait was made through removes the observer; a packet already queued stays
 *   (docs/reference/syscalls/object_wait_async.md).  The port losing its last handle removes its observers.
 * zx_port_cancel (syscalls/port.cc sys_port_cancel): the port (WRITE), then the source handle (BAD_HANDLE,
 * ACCESS_DENIED without WAIT, NOT_SUPPORTED if not waitable); removes the armed observers and the queued packets
 * made through that handle with that key; NOT_FOUND when there was neither.
 *
 * count is 1 in every signal packet, channels included, as in every kernel that knows ZX_WAIT_ASYNC_EDGE: its
 * PortObserver::OnMatch has no count and PortDispatcher::Queue sets 1 (the field is deprecated; RFC-0009 dates
 * OnMatch before EDGE).  Only the older OnInitialize/CountInfo observers reported a channel's queued message
 * count for a wait armed while it was readable (docs/asyncio.md).
 *
 * Host limitations: no interrupt binding (the option is accepted and means nothing: the host has no interrupt
 * objects).
 *
 * Compiled into the Python module (build_ffi.py names it), the conformance suite (conformance/Makefile IPC_SRCS)
 * and the core stress (tests/sanitize).  The core knows ports only through their hk_object_ops_t and the observer
 * hook (hk_waiter_t.fire).
 */
#include <stdlib.h>
#include <string.h>

#include <zircon/syscalls/port.h>

#include "kernel.h"

#define MAX_USER_PACKETS 2048u /* Zircon: kMaxAllocatedPacketCount / 8, checked before queueing one more */

typedef struct port_observer port_observer_t;

typedef struct port_packet {
    struct port_packet *next;
    port_observer_t *observer; /* a signal packet: the observer it lives in; NULL: a user packet (malloc'd) */
    zx_port_packet_t packet;
} port_packet_t;

typedef struct hk_port hk_port_t;

/* Zircon's PortObserver: armed on an object (waiter linked in obj->waiters, link in port->observers), then, once
 * fired, its packet queued in the port; freed when the packet is taken, cancelled or dropped. */
struct port_observer {
    hk_waiter_t waiter;
    hk_link_t link; /* in port->observers while armed */
    hk_port_t *port;
    uint32_t options;
    port_packet_t pkt;
};

typedef struct {
    hk_link_t link; /* in the port's waiters while asleep */
    hk_sleeper_t sleeper;
} port_waiter_t;

struct hk_port {
    hk_object_t base;
    uint32_t options;
    port_packet_t *head, *tail;
    uint32_t count; /* queued user packets */
    bool zero_handles;
    hk_link_t waiters;
    hk_link_t observers; /* armed observers (port_observer_t.link) */
};

static hk_port_t *as_port(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_port_t, base); }

static void free_packet(port_packet_t *p) {
    if (p->observer != NULL) free(p->observer);
    else free(p);
}

static void free_packets(hk_port_t *port) {
    port_packet_t *p = port->head;
    port->head = port->tail = NULL;
    port->count = 0;
    while (p != NULL) {
        port_packet_t *next = p->next;
        free_packet(p);
        p = next;
    }
}

static void enqueue(hk_port_t *port, port_packet_t *p) {
    p->next = NULL;
    if (port->tail != NULL) port->tail->next = p;
    else port->head = p;
    port->tail = p;
    /* Wake every waiter: each one looks again under the lock, and one that is being suspended leaves the
     * packet to the others (or to itself, after its resume). */
    HK_LIST_FOR_EACH(it, &port->waiters) hk_sleeper_wake(&HK_CONTAINER_OF(it, port_waiter_t, link)->sleeper);
}

static void port_on_zero_handles(hk_object_t *obj) {
    hk_port_t *port = as_port(obj);
    port->zero_handles = true;
    /* PortDispatcher::on_zero_handles: its observers leave their objects, its packets are dropped. */
    while (!hk_list_empty(&port->observers)) {
        port_observer_t *o = HK_CONTAINER_OF(port->observers.next, port_observer_t, link);
        hk_list_remove(&o->link);
        hk_wait_async_remove(&o->waiter);
        free(o);
    }
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
    hk_list_init(&port->observers);
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
        p->observer = NULL;
        p->packet = *packet;
        p->packet.type = ZX_PKT_TYPE_USER;
        port->count++;
        enqueue(port, p);
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
        if (hk_serving_interrupted()) { /* a Fuchsia program's call: re-issued by the runner after the resume */
            status = ZX_ERR_INTERNAL_INTR_RETRY;
            break;
        }
        port_packet_t *p = port->head;
        if (p != NULL) {
            port->head = p->next;
            if (port->head == NULL) port->tail = NULL;
            if (p->observer == NULL) port->count--;
            if (packet != NULL) *packet = p->packet;
            else status = ZX_ERR_INVALID_ARGS;
            free_packet(p);
            break;
        }
        if (hk_now() >= deadline) {
            status = ZX_ERR_TIMED_OUT;
            break;
        }
        hk_list_add_tail(&port->waiters, &w.link);
        hk_sleep_locked(&w.sleeper, deadline, ZX_THREAD_STATE_BLOCKED_PORT, true);
        hk_list_remove(&w.link);
    }
    hk_object_unref(&port->base);
    hk_unlock();
    return status;
}

/* ------------------------------------------------------------------------------------------------ async waits */

#ifdef ZX_WAIT_ASYNC_EDGE
#define PORT_WAIT_ASYNC_EDGE ZX_WAIT_ASYNC_EDGE
#else
#define PORT_WAIT_ASYNC_EDGE 0u /* headers without it: the option is unknown, so INVALID_ARGS */
#endif

/* The core's hook (lock held, w already unlinked from its object): queue the packet, or drop the observer. */
static void observer_fire(hk_waiter_t *w, bool canceled, zx_signals_t observed) {
    port_observer_t *o = HK_CONTAINER_OF(w, port_observer_t, waiter);
    hk_list_remove(&o->link);
    if (canceled) {
        free(o);
        return;
    }
    zx_packet_signal_t *sig = &o->pkt.packet.signal;
    sig->observed = observed;
    sig->count = 1; /* PortDispatcher::Queue: always 1 (see the top of this file) */
    if (o->options & ZX_WAIT_ASYNC_TIMESTAMP) sig->timestamp = (uint64_t)hk_now();
    enqueue(o->port, &o->pkt);
}

zx_status_t zx_object_wait_async(zx_handle_t handle, zx_handle_t port_handle, uint64_t key, zx_signals_t signals,
                                 uint32_t options) {
    if ((options & ~(ZX_WAIT_ASYNC_TIMESTAMP | PORT_WAIT_ASYNC_EDGE)) != 0) return ZX_ERR_INVALID_ARGS;
    port_observer_t *o = calloc(1, sizeof(*o)); /* before any lock, as Zircon allocates its placeholder */
    if (o == NULL) return ZX_ERR_NO_MEMORY;
    hk_lock();
    hk_object_t *port_obj, *obj;
    zx_status_t status = hk_handle_get(port_handle, ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE, &port_obj, NULL);
    if (status == ZX_OK) status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_WAIT, &obj, NULL);
    if (status == ZX_OK && obj->type == ZX_OBJ_TYPE_PORT) status = ZX_ERR_NOT_SUPPORTED; /* !is_waitable() */
    if (status != ZX_OK) {
        hk_unlock();
        free(o);
        return status;
    }
    hk_port_t *port = as_port(port_obj);
    o->port = port;
    o->options = options;
    o->pkt.observer = o;
    o->pkt.packet.key = key;
    o->pkt.packet.type = ZX_PKT_TYPE_SIGNAL_ONE;
    o->pkt.packet.status = ZX_OK;
    o->pkt.packet.signal.trigger = signals;
    o->waiter.handle = handle;
    o->waiter.wanted = signals;
    o->waiter.fire = observer_fire;
    o->waiter.owner = port;
    o->waiter.key = key;
    o->waiter.edge = (options & PORT_WAIT_ASYNC_EDGE) != 0;
    hk_list_add_tail(&port->observers, &o->link);
    hk_wait_async_add(obj, &o->waiter); /* may fire (and queue) at once */
    hk_unlock();
    return ZX_OK;
}

zx_status_t zx_port_cancel(zx_handle_t handle, zx_handle_t source, uint64_t key) {
    hk_lock();
    hk_object_t *port_obj, *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE, &port_obj, NULL);
    if (status == ZX_OK) status = hk_handle_get(source, ZX_OBJ_TYPE_NONE, ZX_RIGHT_WAIT, &obj, NULL);
    if (status == ZX_OK && obj->type == ZX_OBJ_TYPE_PORT) status = ZX_ERR_NOT_SUPPORTED;
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_port_t *port = as_port(port_obj);
    bool had_observer = hk_wait_async_cancel(obj, source, port, key);
    bool packet_removed = false; /* PortDispatcher::CancelQueued(handle, key) */
    port_packet_t **link = &port->head, *prev = NULL;
    while (*link != NULL) {
        port_packet_t *p = *link;
        if (p->observer != NULL && p->observer->waiter.handle == source && p->packet.key == key) {
            *link = p->next;
            if (port->tail == p) port->tail = prev;
            free_packet(p);
            packet_removed = true;
        } else {
            prev = p;
            link = &p->next;
        }
    }
    hk_unlock();
    return had_observer || packet_removed ? ZX_OK : ZX_ERR_NOT_FOUND;
}
