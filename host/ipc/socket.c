/* Sockets: zx_socket_create, zx_socket_write, zx_socket_read, zx_socket_shutdown, and ZX_INFO_SOCKET.
 *
 * Zircon rules kept here (zircon/kernel/object/socket_dispatcher.cc, zircon/kernel/object/mbuf.cc and
 * zircon/kernel/lib/syscalls/socket.cc, as in the January 2021 SDK's kernel):
 * - Two peered endpoints, each with its own receive buffer (an MBufChain of at most kSizeMax = 257024 bytes); a write
 *   goes to the peer's buffer.  Both ends start WRITABLE.  Options: ZX_SOCKET_STREAM or ZX_SOCKET_DATAGRAM (others
 *   INVALID_ARGS).
 * - Write (sys_socket_write): a size with a NULL buffer, then options != 0 (INVALID_ARGS); the handle (WRITE right);
 *   PEER_CLOSED once the peer is gone; BAD_STATE once this end's writing is shut down; 0 bytes: OK with 0 written; a
 *   size above 32 bits INVALID_ARGS; then the peer's buffer: full SHOULD_WAIT.  A stream write takes what fits
 *   (a short write); a datagram goes in whole (OUT_OF_RANGE above kSizeMax, SHOULD_WAIT if it does not fit).
 *   The peer turns READABLE when its buffer was empty; the writer loses WRITABLE when the buffer is full.
 * - Read (sys_socket_read): a size with a NULL buffer, then options other than ZX_SOCKET_PEEK (INVALID_ARGS); the
 *   handle (READ right); a size above 32 bits INVALID_ARGS; an empty buffer gives PEER_CLOSED once the peer is gone,
 *   BAD_STATE once reading is shut down, else SHOULD_WAIT.  A stream read takes up to the size; a datagram read takes
 *   one datagram, cut to the size (the rest is dropped).  PEEK leaves the bytes.  The end stops being READABLE when
 *   empty; the peer is WRITABLE again when the buffer was full and bytes were read.
 * - Shutdown (sys_socket_shutdown): options outside ZX_SOCKET_SHUTDOWN_MASK INVALID_ARGS; the handle (WRITE right).
 *   SHUTDOWN_WRITE: this end loses WRITABLE and gets WRITE_DISABLED, the peer gets PEER_WRITE_DISABLED and may read
 *   what is buffered, then BAD_STATE.  SHUTDOWN_READ: this end gets PEER_WRITE_DISABLED, the peer loses WRITABLE and
 *   gets WRITE_DISABLED.  Nothing to do if the wanted signals are exactly those present (SocketDispatcher::Shutdown).
 * - When one end loses its last handle the other loses WRITABLE and gets PEER_CLOSED; its buffered bytes stay
 *   readable.  HANDLE_BASIC's related_koid is the peer's koid, also after it is gone.
 * - ZX_INFO_SOCKET: options, rx_buf_max/size/available (available: the first datagram's size for a datagram socket),
 *   tx_buf_max/size from the peer's buffer (0 once the peer is gone).
 *
 * Host limitations: the READ_THRESHOLD / WRITE_THRESHOLD properties and signals are not kept (the properties are not
 * served); the host kernel has no zx_object_signal_peer.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

/* One write's bytes: a datagram, or a stretch of the stream (read from off). */
typedef struct chunk {
    struct chunk *next;
    size_t len, off;
    uint8_t data[];
} chunk_t;

typedef struct hk_socket {
    hk_object_t base;
    struct hk_socket *peer; /* holds a reference; NULL once either end lost its last handle */
    zx_koid_t peer_koid;
    uint32_t options;
    chunk_t *head, *tail; /* the receive buffer: written by the peer */
    size_t size;          /* bytes in it */
    bool read_disabled;
} hk_socket_t;

static hk_socket_t *as_socket(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_socket_t, base); }
static bool is_datagram(const hk_socket_t *s) { return (s->options & ZX_SOCKET_DATAGRAM) != 0; }
static bool is_full(const hk_socket_t *s) { return s->size >= HK_SOCKET_SIZE_MAX; }

static void drain(hk_socket_t *s) {
    while (s->head != NULL) {
        chunk_t *c = s->head;
        s->head = c->next;
        free(c);
    }
    s->tail = NULL;
    s->size = 0;
}

static void socket_on_zero_handles(hk_object_t *obj) {
    hk_socket_t *s = as_socket(obj);
    hk_socket_t *peer = s->peer;
    if (peer == NULL) return;
    /* OnPeerZeroHandlesLocked: the survivor cannot write any more; what it holds stays readable. */
    s->peer = NULL;
    peer->peer = NULL;
    hk_signal_update(&peer->base, ZX_SOCKET_WRITABLE, ZX_SOCKET_PEER_CLOSED);
    hk_object_unref(&peer->base); /* s's reference to it */
    hk_object_unref(&s->base);    /* its reference to s (the caller holds another) */
}

static void socket_destroy(hk_object_t *obj) {
    hk_socket_t *s = as_socket(obj);
    drain(s);
    free(s);
}

static zx_koid_t socket_related_koid(const hk_object_t *obj) {
    return HK_CONTAINER_OF(obj, const hk_socket_t, base)->peer_koid;
}

static const hk_object_ops_t socket_ops = {
    .on_zero_handles = socket_on_zero_handles,
    .destroy = socket_destroy,
    .related_koid = socket_related_koid,
};

zx_status_t zx_socket_create(uint32_t options, zx_handle_t *out0, zx_handle_t *out1) {
    if (options & ~ZX_SOCKET_CREATE_MASK) return ZX_ERR_INVALID_ARGS;
    if (out0 == NULL || out1 == NULL) return ZX_ERR_INVALID_ARGS; /* user_out_handle: the copy-out fails */
    hk_socket_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return ZX_ERR_NO_MEMORY;
    }
    hk_lock();
    hk_socket_t *ends[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        hk_object_init(&ends[i]->base, ZX_OBJ_TYPE_SOCKET, &socket_ops);
        ends[i]->options = options;
    }
    for (int i = 0; i < 2; i++) {
        ends[i]->peer = ends[1 - i];
        ends[i]->peer_koid = ends[1 - i]->base.koid;
        hk_object_ref(&ends[1 - i]->base);
        hk_signal_update(&ends[i]->base, 0, ZX_SOCKET_WRITABLE);
    }
    zx_status_t status = hk_handle_alloc(&a->base, ZX_DEFAULT_SOCKET_RIGHTS, out0);
    if (status == ZX_OK) {
        status = hk_handle_alloc(&b->base, ZX_DEFAULT_SOCKET_RIGHTS, out1);
        if (status != ZX_OK) hk_handle_close_locked(*out0); /* a's last handle: unpeers */
    } else {
        socket_on_zero_handles(&a->base);
    }
    hk_object_unref(&a->base);
    hk_object_unref(&b->base);
    hk_unlock();
    return status;
}

/* Lock held.  WriteSelfLocked: the bytes arrive in s's buffer (s is the writer's peer). */
static zx_status_t write_self(hk_socket_t *s, const uint8_t *src, size_t len, size_t *written) {
    if (is_full(s)) return ZX_ERR_SHOULD_WAIT;
    size_t n = len;
    if (is_datagram(s)) {
        if (len > HK_SOCKET_SIZE_MAX) return ZX_ERR_OUT_OF_RANGE;        /* MBufChain::WriteDatagram */
        if (len + s->size > HK_SOCKET_SIZE_MAX) return ZX_ERR_SHOULD_WAIT;
    } else if (n > HK_SOCKET_SIZE_MAX - s->size) {
        n = HK_SOCKET_SIZE_MAX - s->size; /* WriteStream: what fits */
    }
    chunk_t *c = malloc(sizeof *c + n);
    if (c == NULL) return ZX_ERR_SHOULD_WAIT; /* AllocMBuf failing */
    c->next = NULL;
    c->len = n;
    c->off = 0;
    memcpy(c->data, src, n);
    bool was_empty = s->size == 0;
    if (s->tail != NULL) s->tail->next = c;
    else s->head = c;
    s->tail = c;
    s->size += n;
    if (was_empty) hk_signal_update(&s->base, 0, ZX_SOCKET_READABLE);
    if (s->peer != NULL && is_full(s)) hk_signal_update(&s->peer->base, ZX_SOCKET_WRITABLE, 0);
    *written = n;
    return ZX_OK;
}

zx_status_t zx_socket_write(zx_handle_t handle, uint32_t options, const void *buffer, size_t buffer_size,
                            size_t *actual) {
    if (buffer_size > 0 && buffer == NULL) return ZX_ERR_INVALID_ARGS;
    if (options != 0) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_SOCKET, ZX_RIGHT_WRITE, &obj, NULL);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_socket_t *s = as_socket(obj);
    size_t written = 0;
    if (s->peer == NULL) status = ZX_ERR_PEER_CLOSED;
    else if (s->base.signals & ZX_SOCKET_WRITE_DISABLED) status = ZX_ERR_BAD_STATE;
    else if (buffer_size == 0) status = ZX_OK;
    else if (buffer_size != (size_t)(uint32_t)buffer_size) status = ZX_ERR_INVALID_ARGS;
    else status = write_self(s->peer, buffer, buffer_size, &written);
    hk_unlock();
    if (status == ZX_OK && actual != NULL) *actual = written;
    return status;
}

/* Lock held.  MBufChain::Read / Peek: up to len bytes (one datagram at most, cut to len) into dst. */
static size_t take(hk_socket_t *s, uint8_t *dst, size_t len, bool consume) {
    if (s->size == 0) return 0;
    if (is_datagram(s)) {
        chunk_t *c = s->head;
        size_t n = len < c->len ? len : c->len;
        if (n > 0) memcpy(dst, c->data, n);
        /* A zero-length read leaves the datagram (ReadHelper's loop never runs). */
        if (consume && n > 0) {
            s->head = c->next;
            if (s->head == NULL) s->tail = NULL;
            s->size -= c->len;
            free(c);
        }
        return n;
    }
    size_t pos = 0;
    chunk_t *c = s->head;
    while (pos < len && c != NULL) {
        size_t n = c->len - c->off;
        if (n > len - pos) n = len - pos;
        memcpy(dst + pos, c->data + c->off, n);
        pos += n;
        if (!consume) {
            c = c->next;
            continue;
        }
        c->off += n;
        s->size -= n;
        if (c->off == c->len) {
            s->head = c->next;
            if (s->head == NULL) s->tail = NULL;
            free(c);
            c = s->head;
        }
    }
    return pos;
}

zx_status_t zx_socket_read(zx_handle_t handle, uint32_t options, void *buffer, size_t buffer_size, size_t *actual) {
    if (buffer == NULL && buffer_size > 0) return ZX_ERR_INVALID_ARGS;
    if (options & ~ZX_SOCKET_PEEK) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_SOCKET, ZX_RIGHT_READ, &obj, NULL);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_socket_t *s = as_socket(obj);
    size_t got = 0;
    if (buffer_size != (size_t)(uint32_t)buffer_size) {
        status = ZX_ERR_INVALID_ARGS;
    } else if (s->size == 0) {
        status = s->peer == NULL ? ZX_ERR_PEER_CLOSED : s->read_disabled ? ZX_ERR_BAD_STATE : ZX_ERR_SHOULD_WAIT;
    } else if (options & ZX_SOCKET_PEEK) {
        got = take(s, buffer, buffer_size, false);
    } else {
        bool was_full = is_full(s);
        got = take(s, buffer, buffer_size, true);
        if (s->size == 0) hk_signal_update(&s->base, ZX_SOCKET_READABLE, 0);
        if (s->peer != NULL && was_full && got > 0) hk_signal_update(&s->peer->base, 0, ZX_SOCKET_WRITABLE);
    }
    hk_unlock();
    if (status == ZX_OK && actual != NULL) *actual = got;
    return status;
}

zx_status_t zx_socket_shutdown(zx_handle_t handle, uint32_t options) {
    if (options & ~ZX_SOCKET_SHUTDOWN_MASK) return ZX_ERR_INVALID_ARGS;
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_SOCKET, ZX_RIGHT_WRITE, &obj, NULL);
    if (status != ZX_OK) {
        hk_unlock();
        return status;
    }
    hk_socket_t *s = as_socket(obj);
    bool rd = (options & ZX_SOCKET_SHUTDOWN_READ) != 0, wr = (options & ZX_SOCKET_SHUTDOWN_WRITE) != 0;
    zx_signals_t want = (rd ? ZX_SOCKET_PEER_WRITE_DISABLED : 0) | (wr ? ZX_SOCKET_WRITE_DISABLED : 0);
    zx_signals_t have = s->base.signals & (ZX_SOCKET_PEER_WRITE_DISABLED | ZX_SOCKET_WRITE_DISABLED);
    if (want != have) {
        if (rd) s->read_disabled = true;
        hk_signal_update(&s->base, wr ? ZX_SOCKET_WRITABLE : 0,
                         (rd ? ZX_SOCKET_PEER_WRITE_DISABLED : 0) | (wr ? ZX_SOCKET_WRITE_DISABLED : 0));
        hk_socket_t *peer = s->peer;
        if (peer != NULL) { /* ShutdownOtherLocked */
            if (wr) peer->read_disabled = true;
            hk_signal_update(&peer->base, rd ? ZX_SOCKET_WRITABLE : 0,
                             (rd ? ZX_SOCKET_WRITE_DISABLED : 0) | (wr ? ZX_SOCKET_PEER_WRITE_DISABLED : 0));
        }
    }
    hk_unlock();
    return ZX_OK;
}

void hk_socket_info_locked(const hk_object_t *obj, hk_info_socket_t *info) {
    const hk_socket_t *s = HK_CONTAINER_OF(obj, const hk_socket_t, base);
    memset(info, 0, sizeof *info);
    info->options = s->options;
    info->rx_buf_max = HK_SOCKET_SIZE_MAX;
    info->rx_buf_size = s->size;
    info->rx_buf_available = is_datagram(s) && s->head != NULL ? s->head->len : s->size;
    if (s->peer != NULL) {
        info->tx_buf_max = HK_SOCKET_SIZE_MAX;
        info->tx_buf_size = s->peer->size;
    }
}
