/* Channels: zx_channel_create, zx_channel_read, zx_channel_write, zx_channel_call.
 *
 * Zircon rules kept here (channel_dispatcher.cc and syscalls/channel.cc):
 * - Two peered endpoints, each with its own queue: a write goes to the peer's queue.  Signals: WRITABLE while
 *   the peer has handles, READABLE while the own queue is not empty, PEER_CLOSED (WRITABLE cleared) once the
 *   peer lost its last handle.  HANDLE_BASIC's related_koid is the peer's koid, also after it is gone.
 * - Read (READ right): options other than MAY_DISCARD are NOT_SUPPORTED; an empty queue gives SHOULD_WAIT, or
 *   PEER_CLOSED once the peer is gone; a message larger than the buffers gives BUFFER_TOO_SMALL with its sizes in
 *   actual_* and stays queued (with MAY_DISCARD it is dropped).
 * - Write (WRITE right): at most ZX_CHANNEL_MAX_MSG_BYTES / _HANDLES (OUT_OF_RANGE); the handles move: each
 *   leaves the writer's table (TRANSFER needed: ACCESS_DENIED; the channel itself: NOT_SUPPORTED), and all of
 *   them are consumed whatever the result; PEER_CLOSED once the peer is gone.
 * - Call (READ|WRITE): the request carries at least a txid (INVALID_ARGS); the kernel writes a fresh txid with
 *   the high bit set into its first 4 bytes; the message with that txid written back is the reply: it goes to
 *   the waiting caller, never to the queue, so the caller's end does not become READABLE for it.  The call
 *   ends CANCELED when the caller's end loses its last handle, PEER_CLOSED when the peer does, TIMED_OUT at the
 *   deadline; a reply larger than the read buffers is BUFFER_TOO_SMALL (and dropped).  A suspended caller keeps
 *   its reply (it is held in the caller's waiter) and returns it after the resume (SuspendChannelCall).
 *
 * Host limitations: ZX_CHANNEL_WRITE_USE_IOVEC is NOT_SUPPORTED; there is no pending-message limit (Zircon
 * raises a policy exception past 3500); waits made through a handle that is written into a channel are canceled
 * when it leaves the table (Zircon cancels them when the message is read or destroyed).
 *
 * In the Python module (build_ffi.py: zxpy.Channel, and the exception channels of ipc/exception.c), the conformance
 * suite (conformance/Makefile IPC_SRCS) and the core stress (tests/sanitize).  The core knows channels only through
 * their hk_object_ops_t; exception.c reaches the kernel's side (hk_channel_*_kernel, kernel.h) as Zircon's
 * Exceptionate holds a KernelHandle<ChannelDispatcher> and writes into it (exceptionate.cc SendException).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#define TXID_KERNEL_BIT 0x80000000u /* txids 1..0x7fffffff are userspace's */

typedef struct {
    hk_object_t *obj; /* a handle's share in flight (hk_handle_take), or NULL */
    zx_rights_t rights;
} msg_handle_t;

typedef struct hk_msg {
    struct hk_msg *next;
    uint32_t num_bytes;
    uint32_t num_handles;
    msg_handle_t *handles;
    uint8_t *bytes;
} hk_msg_t;

/* A thread inside zx_channel_call, on its stack; linked in the caller's endpoint while it waits. */
typedef struct {
    hk_link_t link;
    zx_txid_t txid;
    bool done;          /* delivered or canceled; the waker unlinked it */
    zx_status_t status; /* of a done waiter */
    hk_msg_t *reply;
    hk_sleeper_t sleeper;
} call_waiter_t;

typedef struct hk_channel {
    hk_object_t base;
    struct hk_channel *peer; /* holds a reference; NULL once either end lost its last handle */
    zx_koid_t peer_koid;
    hk_msg_t *head, *tail;   /* messages written by the peer */
    hk_link_t waiters;       /* call_waiter_t of calls made through this end */
    uint32_t txid_counter;
} hk_channel_t;

static hk_channel_t *as_channel(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_channel_t, base); }

/* ------------------------------------------------------------------------------------------------ messages */

static hk_msg_t *msg_alloc(uint32_t num_bytes, uint32_t num_handles) {
    hk_msg_t *m = calloc(1, sizeof(*m) + (size_t)num_handles * sizeof(msg_handle_t) + num_bytes);
    if (m == NULL) return NULL;
    m->num_bytes = num_bytes;
    m->num_handles = num_handles;
    m->handles = (msg_handle_t *)(m + 1);
    m->bytes = (uint8_t *)(m->handles + num_handles);
    return m;
}

/* Lock held.  Handles still in the message are closed (the objects may lose their last handle). */
static void msg_free(hk_msg_t *m) {
    for (uint32_t i = 0; i < m->num_handles; i++) {
        if (m->handles[i].obj != NULL) hk_handle_drop(m->handles[i].obj);
    }
    free(m);
}

/* Lock held.  Zircon removes every handle named in a failed write or call, valid or not (RemoveUserHandles). */
static void consume_handles(const zx_handle_t *handles, uint32_t num_handles) {
    if (handles == NULL) return;
    for (uint32_t i = 0; i < num_handles; i++) hk_handle_close_locked(handles[i]);
}

/* MessagePacket::Create: the sizes, then the bytes. */
static zx_status_t msg_create(const void *bytes, uint32_t num_bytes, uint32_t num_handles, hk_msg_t **out) {
    if (num_bytes > ZX_CHANNEL_MAX_MSG_BYTES || num_handles > ZX_CHANNEL_MAX_MSG_HANDLES) return ZX_ERR_OUT_OF_RANGE;
    if (bytes == NULL && num_bytes > 0) return ZX_ERR_INVALID_ARGS;
    hk_msg_t *m = msg_alloc(num_bytes, num_handles);
    if (m == NULL) return ZX_ERR_NO_MEMORY;
    if (num_bytes > 0) memcpy(m->bytes, bytes, num_bytes);
    *out = m;
    return ZX_OK;
}

/* Lock held.  msg_put_handles: every handle leaves the table; one that may not travel is closed; the first
 * failure is the result. */
static zx_status_t msg_put_handles(hk_channel_t *ch, hk_msg_t *m, const zx_handle_t *handles) {
    if (m->num_handles == 0) return ZX_OK;
    if (handles == NULL) return ZX_ERR_INVALID_ARGS;
    zx_status_t result = ZX_OK;
    for (uint32_t i = 0; i < m->num_handles; i++) {
        hk_object_t *obj = NULL;
        zx_rights_t rights = 0;
        zx_status_t status = hk_handle_take(handles[i], &obj, &rights);
        if (status == ZX_OK && (rights & ZX_RIGHT_TRANSFER) == 0) status = ZX_ERR_ACCESS_DENIED;
        else if (status == ZX_OK && obj == &ch->base) status = ZX_ERR_NOT_SUPPORTED;
        if (status == ZX_OK) {
            m->handles[i].obj = obj;
            m->handles[i].rights = rights;
            continue;
        }
        if (obj != NULL) hk_handle_drop(obj);
        if (result == ZX_OK) result = status;
    }
    return result;
}

/* Lock held.  Hand a read message to the caller: bytes, then handles into the table (values in handles[]).
 * The message is freed; whatever could not be handed over is closed. */
static zx_status_t msg_hand_over(hk_msg_t *m, void *bytes, zx_handle_t *handles) {
    zx_status_t status = ZX_OK;
    if (m->num_bytes > 0) {
        if (bytes == NULL) status = ZX_ERR_INVALID_ARGS;
        else memcpy(bytes, m->bytes, m->num_bytes);
    }
    if (status == ZX_OK && m->num_handles > 0) {
        if (handles == NULL) status = ZX_ERR_INVALID_ARGS;
        for (uint32_t i = 0; status == ZX_OK && i < m->num_handles; i++) {
            status = hk_handle_give(m->handles[i].obj, m->handles[i].rights, &handles[i]);
            if (status == ZX_OK) {
                m->handles[i].obj = NULL;
                continue;
            }
            for (uint32_t j = 0; j < i; j++) hk_handle_close_locked(handles[j]); /* the table is full: undo */
        }
    }
    msg_free(m);
    return status;
}

static zx_txid_t msg_txid(const hk_msg_t *m) {
    zx_txid_t txid = 0;
    if (m->num_bytes >= sizeof(txid)) memcpy(&txid, m->bytes, sizeof(txid));
    return txid;
}

/* ------------------------------------------------------------------------------------------------ endpoints */

static void waiter_finish(call_waiter_t *w, zx_status_t status, hk_msg_t *reply) {
    hk_list_remove(&w->link);
    w->done = true;
    w->status = status;
    w->reply = reply;
    hk_sleeper_wake(&w->sleeper);
}

static void cancel_waiters(hk_channel_t *ch, zx_status_t status) {
    while (!hk_list_empty(&ch->waiters))
        waiter_finish(HK_CONTAINER_OF(ch->waiters.next, call_waiter_t, link), status, NULL);
}

/* Lock held.  A message written by ch's peer arrives at ch: a waiting call with its txid takes it, else the
 * queue does. */
static void write_self(hk_channel_t *ch, hk_msg_t *m) {
    zx_txid_t txid = msg_txid(m);
    if (txid != 0) {
        HK_LIST_FOR_EACH(it, &ch->waiters) {
            call_waiter_t *w = HK_CONTAINER_OF(it, call_waiter_t, link);
            if (w->txid == txid) {
                waiter_finish(w, ZX_OK, m);
                return;
            }
        }
    }
    m->next = NULL;
    if (ch->tail != NULL) ch->tail->next = m;
    else ch->head = m;
    ch->tail = m;
    hk_signal_update(&ch->base, 0, ZX_CHANNEL_READABLE);
}

static hk_msg_t *pop(hk_channel_t *ch) {
    hk_msg_t *m = ch->head;
    ch->head = m->next;
    if (ch->head == NULL) {
        ch->tail = NULL;
        hk_signal_update(&ch->base, ZX_CHANNEL_READABLE, 0);
    }
    return m;
}

static void drain(hk_channel_t *ch) {
    hk_msg_t *m = ch->head;
    ch->head = ch->tail = NULL;
    hk_signal_update(&ch->base, ZX_CHANNEL_READABLE, 0);
    while (m != NULL) { /* closing the handles inside may run other objects' last-handle code */
        hk_msg_t *next = m->next;
        msg_free(m);
        m = next;
    }
}

/* Break the pair: the survivor sees PEER_CLOSED and its calls end with PEER_CLOSED; both cross references go. */
static void unpeer(hk_channel_t *ch) {
    hk_channel_t *peer = ch->peer;
    if (peer == NULL) return;
    ch->peer = NULL;
    peer->peer = NULL;
    hk_signal_update(&peer->base, ZX_CHANNEL_WRITABLE, ZX_CHANNEL_PEER_CLOSED);
    cancel_waiters(peer, ZX_ERR_PEER_CLOSED);
    hk_object_unref(&peer->base); /* ch's reference to it */
    hk_object_unref(&ch->base);   /* its reference to ch (the caller holds another) */
}

static void channel_on_zero_handles(hk_object_t *obj) {
    hk_channel_t *ch = as_channel(obj);
    cancel_waiters(ch, ZX_ERR_CANCELED);
    unpeer(ch);
    drain(ch); /* nobody can read them any more */
}

static void channel_destroy(hk_object_t *obj) {
    hk_channel_t *ch = as_channel(obj);
    drain(ch);
    free(ch);
}

static zx_koid_t channel_related_koid(const hk_object_t *obj) {
    return HK_CONTAINER_OF(obj, const hk_channel_t, base)->peer_koid;
}

static const hk_object_ops_t channel_ops = {
    .on_zero_handles = channel_on_zero_handles,
    .destroy = channel_destroy,
    .related_koid = channel_related_koid,
};

/* ------------------------------------------------------------------------------------------------ syscalls */

/* Lock held.  Two new peered ends, each with its creation reference and its peer's, both WRITABLE. */
static zx_status_t channel_pair_locked(hk_channel_t **out_a, hk_channel_t **out_b) {
    hk_channel_t *a = calloc(1, sizeof(*a));
    hk_channel_t *b = calloc(1, sizeof(*b));
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return ZX_ERR_NO_MEMORY;
    }
    hk_channel_t *ends[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        hk_object_init(&ends[i]->base, ZX_OBJ_TYPE_CHANNEL, &channel_ops);
        hk_list_init(&ends[i]->waiters);
    }
    for (int i = 0; i < 2; i++) {
        hk_channel_t *peer = ends[1 - i];
        ends[i]->peer = peer;
        ends[i]->peer_koid = peer->base.koid;
        hk_object_ref(&peer->base);
        hk_signal_update(&ends[i]->base, 0, ZX_CHANNEL_WRITABLE);
    }
    *out_a = a;
    *out_b = b;
    return ZX_OK;
}

zx_status_t zx_channel_create(uint32_t options, zx_handle_t *out0, zx_handle_t *out1) {
    if (options != 0 || out0 == NULL || out1 == NULL) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_channel_t *a, *b;
    zx_status_t status = channel_pair_locked(&a, &b);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    status = hk_handle_alloc(&a->base, ZX_DEFAULT_CHANNEL_RIGHTS, out0);
    if (status == ZX_OK) {
        status = hk_handle_alloc(&b->base, ZX_DEFAULT_CHANNEL_RIGHTS, out1);
        if (status != ZX_OK) hk_handle_close_locked(*out0); /* a's last handle: unpeers */
    } else {
        unpeer(a);
    }
    hk_object_unref(&a->base);
    hk_object_unref(&b->base);
    hk_unlock();
    return status;
}

zx_status_t zx_channel_write(zx_handle_t handle, uint32_t options, const void *bytes, uint32_t num_bytes,
                             const zx_handle_t *handles, uint32_t num_handles) {
    hk_lock();
    hk_object_t *obj = NULL;
    zx_status_t status = (options & ~ZX_CHANNEL_WRITE_USE_IOVEC) != 0
                             ? ZX_ERR_INVALID_ARGS
                             : hk_handle_get(handle, ZX_OBJ_TYPE_CHANNEL, ZX_RIGHT_WRITE, &obj, NULL);
    if (status == ZX_OK && (options & ZX_CHANNEL_WRITE_USE_IOVEC) != 0) status = ZX_ERR_NOT_SUPPORTED;
    hk_msg_t *m = NULL;
    if (status == ZX_OK) status = msg_create(bytes, num_bytes, num_handles, &m);
    if (status != ZX_OK) {
        consume_handles(handles, num_handles);
        hk_unlock();
        return status;
    }
    hk_channel_t *ch = as_channel(obj);
    hk_object_ref(&ch->base); /* a handle in the message might be ch's own last one */
    status = msg_put_handles(ch, m, handles);
    if (status == ZX_OK && ch->peer == NULL) status = ZX_ERR_PEER_CLOSED;
    if (status == ZX_OK) write_self(ch->peer, m);
    else msg_free(m);
    hk_object_unref(&ch->base);
    hk_unlock();
    return status;
}

zx_status_t zx_channel_read(zx_handle_t handle, uint32_t options, void *bytes, zx_handle_t *handles,
                            uint32_t num_bytes, uint32_t num_handles, uint32_t *actual_bytes,
                            uint32_t *actual_handles) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_CHANNEL, ZX_RIGHT_READ, &obj, NULL);
    if (status == ZX_OK && (options & ~ZX_CHANNEL_READ_MAY_DISCARD) != 0) status = ZX_ERR_NOT_SUPPORTED;
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_channel_t *ch = as_channel(obj);
    hk_msg_t *m = ch->head;
    if (m == NULL) {
        status = ch->peer != NULL ? ZX_ERR_SHOULD_WAIT : ZX_ERR_PEER_CLOSED;
        hk_unlock();
        return status;
    }
    /* The sizes are reported for a message read and for one too large for the buffers. */
    if (actual_bytes) *actual_bytes = m->num_bytes;
    if (actual_handles) *actual_handles = m->num_handles;
    bool too_small = m->num_bytes > num_bytes || m->num_handles > num_handles;
    if (too_small && (options & ZX_CHANNEL_READ_MAY_DISCARD) == 0) {
        hk_unlock();
        return ZX_ERR_BUFFER_TOO_SMALL; /* it stays queued */
    }
    hk_object_ref(&ch->base); /* freeing the message's handles runs arbitrary last-handle code */
    pop(ch);
    if (too_small) {
        msg_free(m);
        status = ZX_ERR_BUFFER_TOO_SMALL;
    } else {
        status = msg_hand_over(m, bytes, handles);
    }
    hk_object_unref(&ch->base);
    hk_unlock();
    return status;
}

/* Lock held.  A txid no call waiting on this end is using. */
static zx_txid_t new_txid(hk_channel_t *ch) {
    for (;;) {
        zx_txid_t txid = ++ch->txid_counter | TXID_KERNEL_BIT;
        bool used = false;
        HK_LIST_FOR_EACH(it, &ch->waiters) used = used || HK_CONTAINER_OF(it, call_waiter_t, link)->txid == txid;
        if (!used) return txid;
    }
}

/* Lock held.  The reply of a successful call into the caller's buffers (channel_call_epilogue). */
static zx_status_t call_epilogue(hk_msg_t *reply, const zx_channel_call_args_t *args, uint32_t *actual_bytes,
                                 uint32_t *actual_handles) {
    zx_status_t status = ZX_OK;
    if (reply->num_bytes > args->rd_num_bytes || reply->num_handles > args->rd_num_handles)
        status = ZX_ERR_BUFFER_TOO_SMALL;
    if (status == ZX_OK && actual_bytes == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) *actual_bytes = reply->num_bytes;
    if (status == ZX_OK && actual_handles == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) *actual_handles = reply->num_handles;
    if (status != ZX_OK) {
        msg_free(reply);
        return status;
    }
    return msg_hand_over(reply, args->rd_bytes, args->rd_handles);
}

zx_status_t zx_channel_call(zx_handle_t handle, uint32_t options, zx_time_t deadline,
                            const zx_channel_call_args_t *args, uint32_t *actual_bytes, uint32_t *actual_handles) {
    if (args == NULL) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj = NULL;
    zx_status_t status = (options & ~ZX_CHANNEL_WRITE_USE_IOVEC) != 0
                             ? ZX_ERR_INVALID_ARGS
                             : hk_handle_get(handle, ZX_OBJ_TYPE_CHANNEL, ZX_RIGHT_WRITE | ZX_RIGHT_READ, &obj,
                                             NULL);
    if (status == ZX_OK && (options & ZX_CHANNEL_WRITE_USE_IOVEC) != 0) status = ZX_ERR_NOT_SUPPORTED;
    hk_msg_t *m = NULL;
    if (status == ZX_OK) status = msg_create(args->wr_bytes, args->wr_num_bytes, args->wr_num_handles, &m);
    if (status == ZX_OK && m->num_bytes < sizeof(zx_txid_t)) {
        msg_free(m);
        status = ZX_ERR_INVALID_ARGS;
    }
    if (status != ZX_OK) {
        consume_handles(args->wr_handles, args->wr_num_handles);
        hk_unlock();
        return status;
    }
    hk_channel_t *ch = as_channel(obj);
    hk_object_ref(&ch->base); /* kept while the call waits, as Zircon's waiter keeps its channel */
    status = msg_put_handles(ch, m, args->wr_handles);
    if (status == ZX_OK && ch->peer == NULL) status = ZX_ERR_PEER_CLOSED;
    if (status != ZX_OK) {
        msg_free(m);
        hk_object_unref(&ch->base);
        hk_unlock();
        return status;
    }
    call_waiter_t w = {.txid = new_txid(ch), .done = false, .status = ZX_ERR_TIMED_OUT, .reply = NULL};
    memcpy(m->bytes, &w.txid, sizeof(w.txid));
    hk_list_add_tail(&ch->waiters, &w.link); /* before the request goes out, as in Zircon */
    write_self(ch->peer, m);
    /* A suspension parks the caller inside; its reply, if one comes meanwhile, waits in w. */
    while (!w.done && hk_now() < deadline)
        hk_sleep_locked(&w.sleeper, deadline, ZX_THREAD_STATE_BLOCKED_CHANNEL, false);
    if (!w.done) hk_list_remove(&w.link);
    status = w.status;
    if (status == ZX_OK) status = call_epilogue(w.reply, args, actual_bytes, actual_handles);
    hk_object_unref(&ch->base);
    hk_unlock();
    return status;
}

/* ------------------------------------------------------------------------------------------------ kernel side */

/* A handle share of obj, as a handle in a table holds one (hk_handle_give / hk_handle_drop). */
static void share(hk_object_t *obj) {
    hk_object_ref(obj);
    obj->handles++;
}

zx_status_t hk_channel_create_kernel(hk_object_t **kernel_end, hk_object_t **user_end) {
    hk_channel_t *a, *b;
    zx_status_t status = channel_pair_locked(&a, &b);
    if (status != ZX_OK) return status;
    /* Each end's creation reference becomes its share. */
    a->base.handles = 1;
    b->base.handles = 1;
    *kernel_end = &a->base;
    *user_end = &b->base;
    return ZX_OK;
}

bool hk_channel_peer_closed(const hk_object_t *obj) {
    return HK_CONTAINER_OF(obj, const hk_channel_t, base)->peer == NULL;
}

zx_status_t hk_channel_write_kernel(hk_object_t *obj, const void *bytes, uint32_t num_bytes, hk_object_t *handle_obj,
                                    zx_rights_t rights) {
    hk_channel_t *ch = as_channel(obj);
    if (ch->peer == NULL) return ZX_ERR_PEER_CLOSED;
    hk_msg_t *m = NULL;
    zx_status_t status = msg_create(bytes, num_bytes, 1, &m);
    if (status != ZX_OK) return status;
    share(handle_obj);
    m->handles[0].obj = handle_obj;
    m->handles[0].rights = rights;
    write_self(ch->peer, m);
    return ZX_OK;
}
